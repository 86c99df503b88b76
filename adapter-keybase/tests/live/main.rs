//! The Keybase live side against the stand-in `keybase` (test equipment in
//! `tests/standins/keybase`, whose own tests check the relay rules it keeps): the supervised
//! api-listen and its events, catching up after a restart, and the Keybase sink.

use keybase_standin::samples::relay as world;

#[path = "../exporter/standin.rs"]
mod standin;

mod feed;
mod lines;
mod listen;
mod sink;
