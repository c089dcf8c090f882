//! Signing client assertions as an identity provider does (`throng::bench::jwt`: RS256 with
//! the test RSA key, ES256 with a P-256 key made per test), with the claims and request forms
//! the tests use.

use serde_json::Value;
#[allow(unused_imports)]
pub use throng::bench::jwt::{form, Signer, ASSERTION_TYPE};

/// Claims as part C signs them, plus `iat` and a fresh `jti`: `iss` = `sub` = the client,
/// `aud`, and `exp` a minute from `now`.
pub fn claims(client_id: &str, aud: &str, now: u64) -> Value {
    throng::bench::jwt::claims(client_id, aud, now, 60)
}

pub fn now() -> u64 {
    throng::bench::jwt::unix_now()
}
