//! The Keybase live side against the stand-in `keybase`: the stand-in's relay rules (devices,
//! reaction toggle, delete lists, api-listen dying), the supervised api-listen and its events,
//! catching up after a restart, and the Keybase sink.

#[path = "../exporter/standin.rs"]
#[allow(dead_code)]
mod standin;

mod feed;
mod lines;
mod listen;
mod sink;
mod standin_rules;
mod world;
