//! `kbbridge matrix-registration`: prints the appservice registration for the homeserver.

use std::process::ExitCode;

use adapter_matrix::registration::{new_token, registration_yaml};
use anyhow::Context;
use bridge_config::Config;

use crate::output::out;

/// Prints the registration YAML of `[matrix]` on stdout. Tokens not set (in the file or the
/// environment) are made up, and stderr says how to give them to kbbridge.
///
/// # Errors
/// When the file has no `[matrix]` section or no `server_name`.
pub fn run(config: &Config) -> anyhow::Result<ExitCode> {
    let matrix = config
        .matrix
        .as_ref()
        .context("the mapping file has no [matrix] section (homeserver, server_name)")?;
    let mut made = Vec::new();
    let mut token = |given: &bridge_core::Secret, var: &'static str| {
        if given.is_empty() {
            made.push(var);
            new_token()
        } else {
            given.expose().to_owned()
        }
    };
    let as_token = token(&matrix.as_token, "KBBRIDGE__MATRIX__AS_TOKEN");
    let hs_token = token(&matrix.hs_token, "KBBRIDGE__MATRIX__HS_TOKEN");
    let yaml = registration_yaml(matrix, &as_token, &hs_token)?;
    out!("{yaml}")?;
    if !made.is_empty() {
        eprintln!(
            "kbbridge: new random tokens were made for {}: set them to the as_token and \
             hs_token values above when you run kbbridge",
            made.join(" and ")
        );
    }
    Ok(ExitCode::SUCCESS)
}
