//! The admin token check: `Authorization: Bearer <token>`, compared in constant time so the
//! answer's timing tells nothing about the token.

use axum::http::{HeaderMap, header};
use bridge_core::Secret;
use subtle::ConstantTimeEq;

/// The configured token.
pub(super) struct Token(Secret);

impl Token {
    pub(super) fn new(token: Secret) -> Self {
        Self(token)
    }

    /// Whether `headers` carry the token.
    pub(super) fn allows(&self, headers: &HeaderMap) -> bool {
        let expected = self.0.expose().as_bytes();
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::as_bytes);
        match given {
            // An empty configured token never matches (validation refuses one anyway).
            Some(given) if !expected.is_empty() => given.ct_eq(expected).into(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(auth).unwrap());
        h
    }

    #[test]
    fn only_the_exact_bearer_token_passes() {
        let token = Token::new(Secret::new("s3cret"));
        assert!(token.allows(&headers("Bearer s3cret")));
        for wrong in [
            "Bearer s3cre",
            "Bearer s3cret2",
            "bearer s3cret",
            "s3cret",
            "Bearer ",
        ] {
            assert!(!token.allows(&headers(wrong)), "{wrong}");
        }
        assert!(!token.allows(&HeaderMap::new()));
        assert!(!Token::new(Secret::new("")).allows(&headers("Bearer ")));
    }
}
