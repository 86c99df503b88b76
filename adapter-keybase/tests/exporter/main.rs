//! The Keybase client and exporter against the stand-in `keybase` (test equipment in
//! `src/bin/keybase-standin`), and the stand-in's own fidelity.

mod client;
mod export;
mod incremental;
mod listen;
mod standin;
mod standin_api;
mod world;
