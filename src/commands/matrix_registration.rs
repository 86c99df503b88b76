//! `kbbridge matrix-registration`: prints the appservice registration for the homeserver,
//! making up the tokens that are not configured yet.

use std::{path::Path, process::ExitCode};

use adapter_matrix::registration::{new_token, registration_yaml};
use anyhow::Context;
use bridge_config::Config;

use crate::output::out;

/// The tokens, each with the key that configures it and its environment variable.
const TOKENS: [(&str, &str); 2] = [
    ("matrix.as_token", "KBBRIDGE__MATRIX__AS_TOKEN"),
    ("matrix.hs_token", "KBBRIDGE__MATRIX__HS_TOKEN"),
];

/// Prints the registration YAML of `[matrix]` on stdout. Tokens not set (in the file or the
/// environment) are made up (64 random letters and digits), and stderr says where to give
/// them to kbbridge, so that kbbridge and the homeserver hold the same ones.
///
/// # Errors
/// When the mapping file has a problem other than missing tokens, no `[matrix]` section or no
/// `server_name`.
pub fn run(config_path: &Path) -> anyhow::Result<ExitCode> {
    let (config, made) = load_making_tokens(config_path)?;
    let matrix = config
        .matrix
        .as_ref()
        .context("the mapping file has no [matrix] section (homeserver, server_name)")?;
    // With no link to Matrix the file may leave the tokens out without a complaint.
    let mut made = made;
    let mut token = |given: &bridge_core::Secret, var: &'static str| {
        if given.is_empty() {
            made.push(var);
            new_token()
        } else {
            given.expose().to_owned()
        }
    };
    let as_token = token(&matrix.as_token, TOKENS[0].1);
    let hs_token = token(&matrix.hs_token, TOKENS[1].1);
    let yaml = registration_yaml(matrix, &as_token, &hs_token)?;
    out!("{yaml}")?;
    if !made.is_empty() {
        made.sort_unstable();
        made.dedup();
        // The values are in the registration only: stderr may end up in a log.
        let settings: Vec<String> = made
            .iter()
            .map(|var| {
                let field = if *var == TOKENS[0].1 {
                    "as_token"
                } else {
                    "hs_token"
                };
                format!("{var} to the {field} above")
            })
            .collect();
        eprintln!(
            "kbbridge: the registration above holds new random tokens. Give kbbridge the same \
             ones: set {} (or the same keys in [matrix] of {}); then give the registration to \
             the homeserver (Synapse: app_service_config_files in homeserver.yaml, then restart \
             it).",
            settings.join(" and "),
            config_path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Loads the mapping file. When the only thing wrong with it is missing Matrix tokens (which
/// this command is there to make), loads it again with new tokens in their environment
/// variables; returns the config and those variables.
fn load_making_tokens(path: &Path) -> anyhow::Result<(Config, Vec<&'static str>)> {
    let error = match bridge_config::load(path) {
        Ok(config) => return Ok((config, Vec::new())),
        Err(e) => e,
    };
    let problems = error.problems();
    let is_token = |key: &str| TOKENS.iter().any(|(k, _)| *k == key);
    if problems.is_empty() || !problems.iter().all(|p| is_token(&p.path)) {
        return Err(anyhow::anyhow!("{error}"));
    }
    let made: Vec<&'static str> = TOKENS
        .iter()
        .filter(|(key, _)| problems.iter().any(|p| p.path == *key))
        .map(|(_, var)| *var)
        .collect();
    // The process's own overrides stay; only the missing tokens are added.
    let mut env: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| k.to_ascii_uppercase().starts_with("KBBRIDGE__"))
        .collect();
    env.extend(made.iter().map(|var| ((*var).to_owned(), new_token())));
    let config = bridge_config::load_with_env(path, env).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((config, made))
}
