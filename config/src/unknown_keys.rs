//! Unknown keys (typos): their paths from `serde_ignored`, and a "did you mean" from the keys
//! the table at that place accepts.

use std::fmt;

use adapter_discord::config::DiscordConfig;
use adapter_keybase::config::KeybaseConfig;
use adapter_matrix::config::MatrixConfig;
use config::Value;
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};

use crate::{
    path::{KeyPath, Seg},
    raw::{RawAdmin, RawBackfill, RawDatabase, RawLink, RawRate, RawRates, SECTIONS},
    suggest::did_you_mean,
    tree,
};

/// The path `serde_ignored` reports, relative to the value it was given.
pub(crate) fn to_key_path(path: &serde_ignored::Path<'_>) -> KeyPath {
    use serde_ignored::Path;
    match path {
        Path::Root => KeyPath::root(),
        Path::Seq { parent, index } => to_key_path(parent).index(*index),
        Path::Map { parent, key } => to_key_path(parent).key(key.as_str()),
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => to_key_path(parent),
    }
}

/// The message for the unknown key at `path` (a full path): a suggestion, or the keys that are
/// accepted there, and the environment variable that set it, if one did.
pub(crate) fn message(path: &KeyPath, root: &Value) -> String {
    let known = known_keys(&path.parent());
    let mut message = "unknown key".to_owned();
    if let (Some(key), Some(known)) = (path.last_key(), known) {
        match did_you_mean(key, known.iter().copied()) {
            Some(suggestion) => message.push_str(&format!(" (did you mean {suggestion:?}?)")),
            None => message.push_str(&format!(" (expected one of: {})", known.join(", "))),
        }
    }
    if let Some(var) = tree::lookup(root, path).and_then(|v| tree::first_env_leaf(v, path)) {
        message.push_str(&format!(
            ", set by the environment variable {}",
            var.env_var()
        ));
    }
    message
}

/// The keys the table at `parent` accepts, when it is a table of known shape.
fn known_keys(parent: &KeyPath) -> Option<&'static [&'static str]> {
    let keys: Vec<&str> = parent
        .0
        .iter()
        .map(|seg| match seg {
            Seg::Key(key) => key.as_str(),
            Seg::Index(_) => "[]",
        })
        .collect();
    Some(match keys.as_slice() {
        [] => &SECTIONS,
        ["database"] => fields_of::<RawDatabase>(),
        ["keybase"] => fields_of::<KeybaseConfig>(),
        ["discord"] => fields_of::<DiscordConfig>(),
        ["matrix"] => fields_of::<MatrixConfig>(),
        ["backfill"] => fields_of::<RawBackfill>(),
        ["admin"] => fields_of::<RawAdmin>(),
        ["backfill", "rate"] => fields_of::<RawRates>(),
        ["backfill", "rate", _] => fields_of::<RawRate>(),
        ["link", "[]"] => fields_of::<RawLink>(),
        _ => return None,
    })
}

/// The keys a serde-derived struct accepts, as its `Deserialize` impl announces them; so the
/// suggestions follow the adapters' structs without a second list to keep up to date.
fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(FieldProbe(&mut fields));
    fields
}

/// A deserializer that only records the field names of the struct asked of it.
struct FieldProbe<'a>(&'a mut &'static [&'static str]);

/// The probe's way of stopping the deserialization once it has what it wants.
#[derive(Debug)]
struct Stop;

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("field probe")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Stop
    }
}

impl<'de> Deserializer<'de> for FieldProbe<'_> {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Stop> {
        *self.0 = fields;
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_the_fields_of_adapter_sections() {
        assert!(fields_of::<DiscordConfig>().contains(&"guild_id"));
        assert!(fields_of::<MatrixConfig>().contains(&"as_token"));
        assert_eq!(fields_of::<RawRate>(), ["messages_per_second", "burst"]);
    }

    #[test]
    fn suggests_from_the_table_at_that_place() {
        let root = Value::from(config::Map::<String, Value>::new());
        let path = KeyPath::root().key("link").index(1).key("discrod");
        assert_eq!(
            message(&path, &root),
            r#"unknown key (did you mean "discord"?)"#
        );
        let path = KeyPath::root()
            .key("backfill")
            .key("rate")
            .key("matrix")
            .key("per_sec");
        assert_eq!(
            message(&path, &root),
            r#"unknown key (did you mean "messages_per_second"?)"#
        );
        let path = KeyPath::root().key("backfill").key("rate").key("slack");
        assert_eq!(
            message(&path, &root),
            "unknown key (expected one of: discord, matrix, keybase)"
        );
    }
}
