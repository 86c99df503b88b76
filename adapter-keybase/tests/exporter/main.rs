//! The Keybase client and exporter against the stand-in `keybase` (test equipment in
//! `tests/standins/keybase`, whose own tests check its fidelity).

use keybase_standin::samples::export as world;

mod client;
mod export;
mod incremental;
mod listen;
mod standin;
