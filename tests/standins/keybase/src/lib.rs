//! The Keybase stand-in as tests use it (test equipment, see `STANDIN.md`): where its
//! executable is ([`executable`], built first when needed), a state folder to run it on
//! ([`StandIn`]), and the worlds several suites share ([`samples`]).
//!
//! The executable itself is this package's binary, `src/main.rs` and the modules it lists; this
//! library is `lib.rs`, `locate.rs`, `folder.rs` and `samples/`.

#![warn(missing_docs)]

mod folder;
mod locate;
pub mod samples;

pub use folder::StandIn;
pub use locate::executable;
