//! Key paths into the mapping file (`link[2].matrix`), as problems name them.

use std::fmt;

/// One step of a [`KeyPath`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Seg {
    /// A key of a table.
    Key(String),
    /// An element of an array (`[[link]]` tables are one).
    Index(usize),
}

/// Where a value sits in the file: `backfill.rate.matrix`, `link[1].discord`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct KeyPath(pub(crate) Vec<Seg>);

impl KeyPath {
    /// The path of the whole file.
    pub(crate) fn root() -> Self {
        Self(Vec::new())
    }

    /// This path, then the key `key`.
    pub(crate) fn key(&self, key: impl Into<String>) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Key(key.into()));
        Self(segs)
    }

    /// This path, then the array element `index`.
    pub(crate) fn index(&self, index: usize) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Index(index));
        Self(segs)
    }

    /// This path, then `rest`.
    pub(crate) fn join(&self, rest: &KeyPath) -> Self {
        Self(self.0.iter().chain(&rest.0).cloned().collect())
    }

    /// The path without its last step (the root stays the root).
    pub(crate) fn parent(&self) -> Self {
        Self(self.0[..self.0.len().saturating_sub(1)].to_vec())
    }

    /// The last key, if the path ends with one.
    pub(crate) fn last_key(&self) -> Option<&str> {
        match self.0.last() {
            Some(Seg::Key(key)) => Some(key),
            _ => None,
        }
    }

    /// Parses a key as the `config` crate writes it in its errors (`rate.discord`, `a[0].b`).
    pub(crate) fn parse_config_key(key: &str) -> Self {
        let mut segs = Vec::new();
        for part in key.split('.').filter(|p| !p.is_empty()) {
            let (name, mut indexes) = part.split_once('[').map_or((part, ""), |(n, i)| (n, i));
            if !name.is_empty() {
                segs.push(Seg::Key(name.to_owned()));
            }
            while let Some((index, rest)) = indexes.split_once(']') {
                match index.parse() {
                    Ok(i) => segs.push(Seg::Index(i)),
                    Err(_) => segs.push(Seg::Key(format!("[{index}]"))),
                }
                indexes = rest.strip_prefix('[').unwrap_or(rest);
            }
        }
        Self(segs)
    }

    /// The environment variable that sets this key (`KBBRIDGE__DISCORD__TOKEN`).
    pub(crate) fn env_var(&self) -> String {
        let mut name = crate::source::ENV_PREFIX.to_owned();
        for seg in &self.0 {
            name.push_str(crate::source::ENV_SEPARATOR);
            match seg {
                Seg::Key(key) => name.push_str(&key.to_ascii_uppercase()),
                Seg::Index(i) => name.push_str(&i.to_string()),
            }
        }
        name
    }
}

impl fmt::Display for KeyPath {
    /// TOML-like: keys joined by `.`, indexes in brackets, odd keys quoted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Index(index) => write!(f, "[{index}]")?,
                Seg::Key(key) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    let bare = !key.is_empty()
                        && key
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                    if bare {
                        f.write_str(key)?
                    } else {
                        write!(f, "{key:?}")?
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_toml_keys() {
        let path = KeyPath::root().key("link").index(1).key("discrod");
        assert_eq!(path.to_string(), "link[1].discrod");
        assert_eq!(
            KeyPath::root()
                .key("matrix")
                .key("users")
                .key("a.b")
                .to_string(),
            r#"matrix.users."a.b""#
        );
        assert_eq!(path.parent().to_string(), "link[1]");
    }

    #[test]
    fn parses_config_crate_keys() {
        let path = KeyPath::parse_config_key("rate.discord[0][2].burst");
        assert_eq!(path.to_string(), "rate.discord[0][2].burst");
        assert_eq!(
            KeyPath::parse_config_key("[3].name").to_string(),
            "[3].name"
        );
    }

    #[test]
    fn names_the_environment_variable() {
        let path = KeyPath::root().key("matrix").key("as_token");
        assert_eq!(path.env_var(), "KBBRIDGE__MATRIX__AS_TOKEN");
    }
}
