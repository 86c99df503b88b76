//! The Keybase stand-in (test equipment, `tests/standins/keybase`) as these tests use it: its
//! state folders, its executable, and a client of it.

pub use keybase_standin::{StandIn, executable as binary};

use adapter_keybase::cli::KeybaseCli;

/// A client of a stand-in state folder.
pub trait Client {
    /// The `keybase` client running the stand-in on this folder.
    fn cli(&self) -> KeybaseCli;
}

impl Client for StandIn {
    fn cli(&self) -> KeybaseCli {
        KeybaseCli {
            binary: binary(),
            home: Some(self.home().to_owned()),
            ..KeybaseCli::default()
        }
    }
}
