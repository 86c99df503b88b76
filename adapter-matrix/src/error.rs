//! [`MatrixError`], and its one conversion into [`AdapterError`], where the classification
//! decisions live.

use std::time::Duration;

use bridge_core::{AdapterError, Report, StoreError};

/// What went wrong talking to the homeserver (or preparing to).
#[derive(Debug, thiserror::Error)]
pub enum MatrixError {
    /// The request did not get an answer (refused connection, timeout, reset).
    #[error("cannot reach the homeserver")]
    Connection(#[source] reqwest::Error),
    /// The homeserver answered with an error.
    #[error("the homeserver answered {status} {errcode}: {message}")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The Matrix error code (`M_FORBIDDEN`), or `-` when the body had none.
        errcode: String,
        /// The homeserver's words.
        message: String,
        /// How long it asked us to wait (`retry_after_ms`, or a `Retry-After` header).
        retry_after: Option<Duration>,
    },
    /// The request could not be built from this data (an invalid ID, content ruma refuses).
    #[error("cannot build the request: {0}")]
    Request(String),
    /// A successful answer that does not say what the API promises.
    #[error("unexpected answer from the homeserver: {0}")]
    Response(String),
    /// An attachment's bytes could not be read.
    #[error("cannot read the attachment {what}")]
    Attachment {
        /// Where the bytes were.
        what: String,
        /// Why they could not be read.
        #[source]
        source: std::io::Error,
    },
    /// The configuration or the store holds something unusable (a missing homeserver, an ID
    /// that is not a Matrix ID).
    #[error("{0}")]
    Invalid(String),
    /// The mapping store failed.
    #[error("mapping store")]
    Store(#[from] StoreError),
}

impl MatrixError {
    /// The Matrix error code, when the homeserver gave one.
    pub fn errcode(&self) -> Option<&str> {
        match self {
            MatrixError::Api { errcode, .. } => Some(errcode),
            _ => None,
        }
    }

    /// Whether the homeserver answered with the error code `code`.
    pub fn is(&self, code: &str) -> bool {
        self.errcode() == Some(code)
    }

    /// The HTTP status, when the homeserver answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            MatrixError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// When the homeserver says "slow down" without saying for how long.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

impl From<MatrixError> for AdapterError {
    fn from(e: MatrixError) -> Self {
        match e {
            MatrixError::Api {
                status,
                ref errcode,
                retry_after,
                ..
            } => {
                if errcode == "M_LIMIT_EXCEEDED" || status == 429 {
                    return AdapterError::RateLimited {
                        retry_after: retry_after.unwrap_or(DEFAULT_RETRY_AFTER),
                    };
                }
                match (status, errcode.as_str()) {
                    (_, "M_TOO_LARGE") | (413, _) => {
                        AdapterError::rejected(Report::new(&e).to_string())
                    }
                    (_, "M_UNKNOWN_TOKEN" | "M_MISSING_TOKEN" | "M_FORBIDDEN" | "M_EXCLUSIVE")
                    | (401 | 403, _) => AdapterError::Fatal(Box::new(e)),
                    (408, _) | (500.., _) => AdapterError::Transient(Box::new(e)),
                    // A room or endpoint that is not there will not appear on a retry.
                    (404, _) => AdapterError::Fatal(Box::new(e)),
                    // Anything else is about this request's content (M_BAD_JSON, M_NOT_JSON,
                    // M_INVALID_PARAM, M_DUPLICATE_ANNOTATION…): skip it, record why.
                    _ => AdapterError::rejected(Report::new(&e).to_string()),
                }
            }
            MatrixError::Connection(ref source) if source.is_builder() => {
                AdapterError::Fatal(Box::new(e))
            }
            MatrixError::Connection(_) | MatrixError::Response(_) => {
                AdapterError::Transient(Box::new(e))
            }
            MatrixError::Request(_) | MatrixError::Attachment { .. } => {
                AdapterError::rejected(Report::new(&e).to_string())
            }
            MatrixError::Invalid(_) | MatrixError::Store(_) => AdapterError::Fatal(Box::new(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, errcode: &str, retry_after_ms: Option<u64>) -> MatrixError {
        MatrixError::Api {
            status,
            errcode: errcode.to_owned(),
            message: "m".to_owned(),
            retry_after: retry_after_ms.map(Duration::from_millis),
        }
    }

    #[test]
    fn limit_exceeded_waits_what_the_homeserver_asks() {
        let e = AdapterError::from(api(429, "M_LIMIT_EXCEEDED", Some(1500)));
        assert!(
            matches!(e, AdapterError::RateLimited { retry_after } if retry_after == Duration::from_millis(1500))
        );
        let e = AdapterError::from(api(429, "-", None));
        assert!(
            matches!(e, AdapterError::RateLimited { retry_after } if retry_after == DEFAULT_RETRY_AFTER)
        );
    }

    #[test]
    fn errors_are_classified_by_what_to_do_next() {
        let class = |e: MatrixError| match AdapterError::from(e) {
            AdapterError::RateLimited { .. } => "rate",
            AdapterError::Transient(_) => "transient",
            AdapterError::Rejected { .. } => "rejected",
            AdapterError::Unsupported(_) => "unsupported",
            AdapterError::Fatal(_) => "fatal",
        };
        assert_eq!(class(api(502, "-", None)), "transient");
        assert_eq!(class(api(500, "M_UNKNOWN", None)), "transient");
        assert_eq!(class(api(413, "M_TOO_LARGE", None)), "rejected");
        assert_eq!(class(api(400, "M_TOO_LARGE", None)), "rejected");
        assert_eq!(class(api(400, "M_BAD_JSON", None)), "rejected");
        assert_eq!(class(api(400, "M_DUPLICATE_ANNOTATION", None)), "rejected");
        assert_eq!(class(api(401, "M_UNKNOWN_TOKEN", None)), "fatal");
        assert_eq!(class(api(403, "M_FORBIDDEN", None)), "fatal");
        assert_eq!(class(api(404, "M_NOT_FOUND", None)), "fatal");
        assert_eq!(class(MatrixError::Response("x".into())), "transient");
        assert_eq!(class(MatrixError::Invalid("x".into())), "fatal");
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        assert_eq!(
            class(MatrixError::Attachment {
                what: "a.png".into(),
                source: io
            }),
            "rejected"
        );
    }
}
