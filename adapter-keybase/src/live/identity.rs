//! Who this Keybase client is: the logged-in user and this device's name (`keybase whoami
//! -json`, keybase.md §7.3), for telling this device's own messages in a catch-up, where `read`
//! has no `local` source.

use serde::Deserialize;

use crate::cli::{ClientError, KeybaseCli};

/// The logged-in user and the device kbbridge's `keybase` runs as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The username.
    pub username: String,
    /// This device's name (unique among the user's devices).
    pub device: String,
}

#[derive(Deserialize)]
struct WhoAmI {
    #[serde(default, rename = "loggedIn")]
    logged_in: bool,
    #[serde(default)]
    user: Option<WhoAmIUser>,
    #[serde(default, rename = "deviceName")]
    device_name: String,
}

#[derive(Deserialize)]
struct WhoAmIUser {
    #[serde(default)]
    username: String,
}

impl Identity {
    /// Asks the client (`keybase whoami -json`).
    ///
    /// # Errors
    /// The command failing, or a client that is not logged in ([`ClientError::Command`] saying
    /// so).
    pub async fn of(cli: &KeybaseCli) -> Result<Self, ClientError> {
        let out = cli.run(&["whoami", "-json"]).await?;
        let who: WhoAmI = serde_json::from_str(out.trim()).map_err(|e| ClientError::BadReply {
            method: "whoami -json".to_owned(),
            detail: e.to_string(),
            excerpt: out.chars().take(200).collect(),
        })?;
        match who.user {
            Some(user) if who.logged_in && !user.username.is_empty() => Ok(Self {
                username: user.username,
                device: who.device_name,
            }),
            _ => Err(ClientError::Command {
                command: "whoami -json".to_owned(),
                status: "not logged in".to_owned(),
                stderr: "log the keybase client in (`keybase login`) as the bridge account"
                    .to_owned(),
            }),
        }
    }

    /// Checks that this is the account `[keybase] username` names, when it names one.
    ///
    /// # Errors
    /// What differs, and what to do.
    pub fn expect(&self, username: Option<&str>) -> Result<(), String> {
        match username {
            Some(expected) if expected != self.username => Err(format!(
                "the keybase client is logged in as {} but `[keybase] username` is {expected}; \
                 log the client in as {expected}, or fix the setting",
                self.username
            )),
            _ => Ok(()),
        }
    }

    /// Whether a message from `username` on `device` was made on this device.
    pub fn is_own_device(&self, username: &str, device: &str) -> bool {
        username == self.username && device == self.device
    }
}
