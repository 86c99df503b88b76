//! Deserialization errors of the `config` crate, turned into a key path and a message for
//! people who write TOML (tables and arrays, not maps and sequences). String values are never
//! repeated in a type error: the string could be a token set at the wrong key.

use config::ConfigError;

use crate::{path::KeyPath, source::ENV_ORIGIN};

/// The path (relative to the value deserialized) and the message of `error`.
pub(crate) fn describe(error: ConfigError) -> (KeyPath, String) {
    match error {
        ConfigError::NotFound(key) => {
            (KeyPath::parse_config_key(&key), "missing (required)".into())
        }
        ConfigError::Type {
            origin,
            unexpected,
            expected,
            key,
        } => {
            let mut message = format!(
                "expected {}, found {}",
                expected_text(expected),
                found_text(&unexpected.to_string())
            );
            if origin.as_deref() == Some(ENV_ORIGIN) {
                message.push_str(" (set by the environment)");
            }
            (
                key.map(|k| KeyPath::parse_config_key(&k))
                    .unwrap_or_default(),
                message,
            )
        }
        ConfigError::At { error, key, .. } => {
            let (inner, message) = describe(*error);
            let outer = key
                .map(|k| KeyPath::parse_config_key(&k))
                .unwrap_or_default();
            (outer.join(&inner), message)
        }
        ConfigError::Message(message) => (KeyPath::root(), humanize(&message)),
        other => (KeyPath::root(), other.to_string()),
    }
}

/// Rewrites serde's `invalid type: …, expected …` and `invalid value: …, expected …`.
fn humanize(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        if let Some((found, expected)) = rest.rsplit_once(", expected ") {
            return format!(
                "expected {}, found {}",
                expected_text(expected),
                found_text(found)
            );
        }
    }
    if let Some(rest) = message.strip_prefix("invalid value: ") {
        if let Some((found, expected)) = rest.rsplit_once(", expected ") {
            let found = found.strip_prefix("string ").unwrap_or(found);
            return format!("invalid value {found}: {expected}");
        }
    }
    message.to_owned()
}

/// What was expected, in TOML words.
fn expected_text(expected: &str) -> String {
    if expected.starts_with("struct ") || expected.contains("map") {
        return "a table".into();
    }
    if expected.contains("sequence") {
        return "an array".into();
    }
    if expected.contains("unsigned") && expected.contains("integer") {
        return "a non-negative integer".into();
    }
    if expected.contains("integer") {
        return "an integer".into();
    }
    if expected.contains("floating point") {
        return "a number".into();
    }
    expected.to_owned()
}

/// What was found, in TOML words; a string's value is left out.
fn found_text(found: &str) -> String {
    match found {
        _ if found.starts_with("string ") => "a string".into(),
        "map" => "a table".into(),
        "sequence" => "an array".into(),
        "unit value" => "nothing".into(),
        other => other.replace('`', ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_errors_leave_strings_out() {
        assert_eq!(
            humanize(r#"invalid type: string "hunter2", expected struct DiscordConfig"#),
            "expected a table, found a string"
        );
        assert_eq!(
            humanize("invalid type: map, expected a sequence"),
            "expected an array, found a table"
        );
    }

    #[test]
    fn invalid_values_are_quoted() {
        assert_eq!(
            humanize(r#"invalid value: string "x y", expected relative URL without a base"#),
            r#"invalid value "x y": relative URL without a base"#
        );
        assert_eq!(humanize("anything else"), "anything else");
    }

    #[test]
    fn missing_fields_get_their_path() {
        let (path, message) = describe(ConfigError::NotFound("rate.discord.burst".into()));
        assert_eq!(path.to_string(), "rate.discord.burst");
        assert_eq!(message, "missing (required)");
    }
}
