//! The one place an error becomes text: its message and each cause of its chain once, on one
//! line, with every known secret masked.
//!
//! kbbridge's errors keep their cause in the chain ([`Error::source`]), not in their message,
//! so [`Report`] is how they are logged (`warn!(error = %Report::new(&e), …)`), printed and
//! recorded. A cause whose text is already in the line (third-party errors such as sqlx's embed
//! their cause *and* return it as the source) is not repeated.

use std::{error::Error, fmt};

use crate::secret::redact;

/// `message: cause: cause…` of an error, each cause once, secrets masked.
#[derive(Clone, Copy)]
pub struct Report<'a>(&'a (dyn Error + 'static));

impl<'a> Report<'a> {
    /// The report of `error` and its causes.
    pub fn new(error: &'a (dyn Error + 'static)) -> Self {
        Self(error)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = self.0.to_string();
        let mut cause = self.0.source();
        while let Some(c) = cause {
            let text = c.to_string();
            if !text.is_empty() && !line.contains(&text) {
                line.push_str(": ");
                line.push_str(&text);
            }
            cause = c.source();
        }
        f.write_str(&redact(&line))
    }
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    enum Outer {
        #[error("cannot open the database")]
        Open(#[source] Middle),
    }

    /// Like sqlx's errors: the cause is in the message *and* the chain.
    #[derive(Debug, thiserror::Error)]
    #[error("error returned from database: {0}")]
    struct Middle(#[source] std::io::Error);

    #[test]
    fn each_cause_is_printed_once() {
        let io = std::io::Error::from_raw_os_error(2);
        let io_text = io.to_string();
        let e = Outer::Open(Middle(io));
        let line = Report::new(&e).to_string();
        assert_eq!(line.matches(&io_text).count(), 1, "{line}");
        assert!(
            line.starts_with("cannot open the database: error returned"),
            "{line}"
        );
    }

    #[test]
    fn secrets_in_any_cause_are_masked() {
        crate::secret::remember("tok-in-a-cause-123");
        let e = Outer::Open(Middle(std::io::Error::other(
            "GET /x?access_token=tok-in-a-cause-123 failed",
        )));
        let line = Report::new(&e).to_string();
        assert!(!line.contains("tok-in-a-cause-123"), "{line}");
        assert!(line.contains("access_token=***"), "{line}");
    }
}
