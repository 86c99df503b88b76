//! Walking the loaded tree of `config::Value`s: lookups, file order, and where values came from.

use config::{Value, ValueKind};

use crate::{
    path::{KeyPath, Seg},
    source::ENV_ORIGIN,
};

/// The value at `path`, if there is one.
pub(crate) fn lookup<'a>(root: &'a Value, path: &KeyPath) -> Option<&'a Value> {
    path.0
        .iter()
        .try_fold(root, |value, seg| match (&value.kind, seg) {
            (ValueKind::Table(table), Seg::Key(key)) => table.get(key),
            (ValueKind::Array(array), Seg::Index(i)) => array.get(*i),
            _ => None,
        })
}

/// The string at `path`, if there is one.
pub(crate) fn string_at(root: &Value, path: &KeyPath) -> Option<String> {
    match &lookup(root, path)?.kind {
        ValueKind::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// Where `path` sits in the file, as the position of each step among its siblings, so problems
/// can be sorted in file order (the `config` crate keeps key order with `preserve_order`). Keys
/// that are not in the file (a missing required key) sort after those that are.
pub(crate) fn file_order(root: &Value, path: &KeyPath) -> Vec<usize> {
    let mut value = Some(root);
    path.0
        .iter()
        .map(|seg| {
            let (position, next) = match (value.map(|v| &v.kind), seg) {
                (Some(ValueKind::Table(table)), Seg::Key(key)) => match table.get_full(key) {
                    Some((i, _, v)) => (i, Some(v)),
                    None => (usize::MAX, None),
                },
                (Some(ValueKind::Array(array)), Seg::Index(i)) => (*i, array.get(*i)),
                (_, Seg::Index(i)) => (*i, None),
                _ => (usize::MAX, None),
            };
            value = next;
            position
        })
        .collect()
}

/// Whether every value under `value` was set by an environment variable (none in the file).
pub(crate) fn only_from_env(value: &Value) -> bool {
    match &value.kind {
        ValueKind::Table(table) => !table.is_empty() && table.values().all(only_from_env),
        ValueKind::Array(array) => !array.is_empty() && array.iter().all(only_from_env),
        _ => value.origin() == Some(ENV_ORIGIN),
    }
}

/// The first value under `value` (at `path`) set by an environment variable, for messages.
pub(crate) fn first_env_leaf(value: &Value, path: &KeyPath) -> Option<KeyPath> {
    match &value.kind {
        ValueKind::Table(table) => table
            .iter()
            .find_map(|(key, v)| first_env_leaf(v, &path.key(key.as_str()))),
        ValueKind::Array(array) => array
            .iter()
            .enumerate()
            .find_map(|(i, v)| first_env_leaf(v, &path.index(i))),
        _ => (value.origin() == Some(ENV_ORIGIN)).then(|| path.clone()),
    }
}
