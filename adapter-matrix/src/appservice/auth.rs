//! The `hs_token` check on every request the homeserver makes.
//!
//! ruma extracts the token (the `Authorization: Bearer` header, or the `access_token` query
//! parameter, deprecated since Matrix 1.4) but does not compare it: this module does, in
//! constant time, so the answer's timing tells nothing about the token. The query form is
//! accepted with one warning per process: tokens in URLs end up in proxies' logs.

use std::sync::atomic::{AtomicBool, Ordering};

use bridge_core::Secret;
use ruma::api::{appservice::HomeserverToken, auth_scheme::AuthScheme};
use subtle::ConstantTimeEq;
use tracing::warn;

/// Why a request is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denied {
    /// It carried no token (401 `M_MISSING_TOKEN`).
    Missing,
    /// It carried another token (403 `M_FORBIDDEN`).
    Wrong,
}

/// The `hs_token` requests must carry.
pub struct TokenCheck {
    hs_token: Secret,
    warned_query: AtomicBool,
}

impl TokenCheck {
    /// Requests must carry `hs_token`.
    pub fn new(hs_token: Secret) -> Self {
        Self {
            hs_token,
            warned_query: AtomicBool::new(false),
        }
    }

    /// Whether `request` carries the `hs_token`. An empty configured token accepts nothing.
    ///
    /// # Errors
    /// [`Denied`] when it does not.
    pub fn check<T>(&self, request: &http::Request<T>) -> Result<(), Denied> {
        let token =
            HomeserverToken::extract_authentication(request).map_err(|_| Denied::Missing)?;
        let expected = self.hs_token.expose().as_bytes();
        if expected.is_empty() || !bool::from(token.as_bytes().ct_eq(expected)) {
            return Err(Denied::Wrong);
        }
        if !request.headers().contains_key(http::header::AUTHORIZATION)
            && !self.warned_query.swap(true, Ordering::Relaxed)
        {
            warn!(
                "the homeserver sends the hs_token in the URL (access_token=), which proxies may \
                 log; turn off use_appservice_legacy_authorization in its configuration"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(auth: Option<&str>, query: &str) -> http::Request<()> {
        let mut b = http::Request::put(format!("/_matrix/app/v1/transactions/1{query}"));
        if let Some(a) = auth {
            b = b.header(http::header::AUTHORIZATION, a);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn the_header_or_the_legacy_query_token_is_accepted() {
        let check = TokenCheck::new(Secret::new("s3cret"));
        assert_eq!(check.check(&request(Some("Bearer s3cret"), "")), Ok(()));
        assert_eq!(check.check(&request(None, "?access_token=s3cret")), Ok(()));
        assert!(check.warned_query.load(Ordering::Relaxed));
    }

    #[test]
    fn a_wrong_or_missing_token_is_refused() {
        let check = TokenCheck::new(Secret::new("s3cret"));
        assert_eq!(
            check.check(&request(Some("Bearer s3cre"), "")),
            Err(Denied::Wrong)
        );
        assert_eq!(
            check.check(&request(Some("Bearer s3cret2"), "")),
            Err(Denied::Wrong)
        );
        assert_eq!(
            check.check(&request(None, "?access_token=x")),
            Err(Denied::Wrong)
        );
        assert_eq!(check.check(&request(None, "")), Err(Denied::Missing));
        // No configured token: nothing passes, not even an empty one.
        let none = TokenCheck::new(Secret::new(""));
        assert_eq!(
            none.check(&request(None, "?access_token=")),
            Err(Denied::Wrong)
        );
        assert_eq!(
            none.check(&request(Some("Bearer x"), "")),
            Err(Denied::Wrong)
        );
    }
}
