//! `[database]`: the mapping store's URL, checked, with SQLite paths made absolute.
//!
//! The URL may hold a PostgreSQL password (often set with `KBBRIDGE__DATABASE__URL`), so no
//! message repeats it, and [`redact`] hides the password wherever the URL is shown.

use std::path::Path;

use url::Url;

use crate::{error::Problems, path::KeyPath};

/// The URL when the file sets none, resolved against the mapping file's folder.
pub(crate) const DEFAULT_URL: &str = "sqlite://kbbridge.db";

/// The store URL for `url` (or the default): a relative SQLite file becomes absolute against
/// `dir`; anything unusable is recorded in `problems` at `path`.
pub(crate) fn resolve(
    url: Option<&str>,
    dir: &Path,
    path: &KeyPath,
    problems: &mut Problems,
) -> String {
    let url = url.unwrap_or(DEFAULT_URL);
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let (file, params) = rest
            .split_once('?')
            .map_or((rest, None), |(f, p)| (f, Some(p)));
        let in_memory = file == ":memory:" || params.is_some_and(|p| p.contains("mode=memory"));
        if in_memory || Path::new(file).is_absolute() {
            return url.to_owned();
        }
        if file.is_empty() {
            problems.push(
                path.clone(),
                "names no database file (e.g. sqlite://kbbridge.db)",
            );
            return url.to_owned();
        }
        let Some(dir) = dir.to_str() else {
            problems.push(
                path.clone(),
                "the mapping file's folder is not UTF-8: use an absolute path",
            );
            return url.to_owned();
        };
        // sqlx percent-decodes the file name and cuts it at `?`.
        let dir = dir
            .trim_end_matches('/')
            .replace('%', "%25")
            .replace('?', "%3F")
            .replace('#', "%23");
        let params = params.map(|p| format!("?{p}")).unwrap_or_default();
        return format!("sqlite://{dir}/{file}{params}");
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        match Url::parse(url) {
            // Masked wherever text leaves the process, whatever quotes it.
            Ok(parsed) => {
                let in_query = parsed
                    .query_pairs()
                    .filter(|(key, _)| key.eq_ignore_ascii_case("password"))
                    .map(|(_, value)| value.into_owned());
                for password in passwords(url).into_iter().chain(in_query) {
                    bridge_core::secret::remember(&password);
                }
            }
            Err(why) => problems.push(
                path.clone(),
                format!("is not a valid PostgreSQL URL: {why}"),
            ),
        }
        return url.to_owned();
    }
    let scheme = url.split_once(':').map(|(s, _)| s).filter(|s| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    let message = match scheme {
        Some(scheme) => format!(
            "unsupported database {scheme:?}: use sqlite:, sqlite://, postgres:// or postgresql://"
        ),
        None => "is not a database URL: use sqlite://FILE or postgres://…".to_owned(),
    };
    problems.push(path.clone(), message);
    url.to_owned()
}

/// `shared = true` needs a PostgreSQL `url`: a SQLite file is one machine's, and its locks
/// are no way for instances to share the relay.
pub(crate) fn check_shared(shared: bool, url: &str, path: &KeyPath, problems: &mut Problems) {
    if shared && !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        problems.push(
            path.clone(),
            "needs a PostgreSQL database.url (postgres://…): instances share the relay through \
             the database; set database.url, or remove database.shared to run one instance",
        );
    }
}

/// `url` with its password, if any, replaced by `***`.
pub(crate) fn redact(url: &str) -> String {
    bridge_core::store::redact_url(url)
}

/// The password in `url`, as written and decoded, to keep it out of messages.
pub(crate) fn passwords(url: &str) -> Vec<String> {
    let Some(password) = Url::parse(url)
        .ok()
        .and_then(|u| u.password().map(str::to_owned))
    else {
        return Vec::new();
    };
    // Form decoding is percent decoding, once `+` (a space there) is escaped.
    let form = format!("p={}", password.replace('+', "%2B"));
    let decoded = url::form_urlencoded::parse(form.as_bytes())
        .next()
        .map(|(_, v)| v.into_owned());
    std::iter::once(password).chain(decoded).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(url: Option<&str>) -> (String, usize) {
        let mut problems = Problems::default();
        let url = resolve(
            url,
            Path::new("/etc/kb"),
            &KeyPath::root().key("database").key("url"),
            &mut problems,
        );
        (url, problems.0.len())
    }

    #[test]
    fn a_postgresql_password_is_masked_wherever_text_leaves() {
        let (url, problems) = resolved(Some(
            "postgres://kb:pg%2Fs3cret-pw@db.example/kb?sslmode=require&password=other-s3cret",
        ));
        assert_eq!(problems, 0, "{url}");
        let text = "failed: pg%2Fs3cret-pw, pg/s3cret-pw, other-s3cret";
        assert_eq!(bridge_core::secret::redact(text), "failed: ***, ***, ***");
    }

    #[test]
    fn relative_sqlite_files_resolve_against_the_folder() {
        assert_eq!(resolved(None), ("sqlite:///etc/kb/kbbridge.db".into(), 0));
        assert_eq!(
            resolved(Some("sqlite:data/x.db?mode=rwc")),
            ("sqlite:///etc/kb/data/x.db?mode=rwc".into(), 0)
        );
        assert_eq!(
            resolved(Some("sqlite:///var/x.db")),
            ("sqlite:///var/x.db".into(), 0)
        );
        assert_eq!(
            resolved(Some("sqlite::memory:")),
            ("sqlite::memory:".into(), 0)
        );
    }

    #[test]
    fn other_schemes_are_refused() {
        assert_eq!(resolved(Some("postgres://kb:pw@db/kb")).1, 0);
        assert_eq!(resolved(Some("postgresql://db:99999999/kb")).1, 1);
        assert_eq!(resolved(Some("mysql://db/kb")).1, 1);
        assert_eq!(resolved(Some("kbbridge.db")).1, 1);
        assert_eq!(resolved(Some("sqlite://")).1, 1);
    }

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            redact("postgres://kb:s%40cret@db/kb"),
            "postgres://kb@db/kb"
        );
        assert_eq!(redact("sqlite:///x.db"), "sqlite:///x.db");
        assert_eq!(
            passwords("postgres://kb:s%40cret@db/kb"),
            ["s%40cret", "s@cret"]
        );
    }
}
