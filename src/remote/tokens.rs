//! The access tokens of outgoing application links: obtained from the other server's token
//! endpoint with the client credentials grant (RFC 6749 §4.4, the client authenticated by
//! HTTP Basic, §2.3.1), kept until shortly before `expires_in` runs out, and obtained again
//! once when a call with one gets 401 ([`OutgoingTokens::forget`]). A link that changed
//! (new URL, id or secret) gets a new token.

use super::client::{Answer, CallError, Outbound};
use crate::domain::links::{self, Deps};
use crate::store::records::{AppLinkRecord, LinkDirection};
use crate::sync::MutexExt;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Tokens by link id.
#[derive(Default)]
pub struct OutgoingTokens {
    held: Mutex<HashMap<u64, Held>>,
}

struct Held {
    token: String,
    /// The link as it was when the token was obtained (`updated`): a change makes it stale.
    link_updated: u64,
    until: Instant,
}

/// A token endpoint's answer, as RFC 6749 §5.1 has it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Granted {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: Option<u64>,
    #[serde(default)]
    pub scope: Option<String>,
}

/// Why no token: the other server's own answer when there was one, verbatim, or why there
/// was none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenFailure {
    /// No answer (unreachable, timeout, TLS…).
    Call(CallError),
    /// An answer that is not a token: its status, the RFC 6749 `error` if it has one, and its
    /// text (shortened).
    Refused { status: u16, error: Option<String>, text: String },
    /// The link is not one that can get tokens (incoming), or its secret does not open.
    Link(String),
}

impl fmt::Display for TokenFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenFailure::Call(e) => write!(f, "the token endpoint did not answer: {e}"),
            TokenFailure::Refused { status, error: Some(e), text } => {
                write!(f, "the token endpoint refused with {status} {e}: {text}")
            }
            TokenFailure::Refused { status, error: None, text } => {
                write!(f, "the token endpoint answered {status}, not a token: {text}")
            }
            TokenFailure::Link(m) => f.write_str(m),
        }
    }
}

/// How much of a remote answer's text a message keeps.
const TEXT_MAX: usize = 500;

impl OutgoingTokens {
    /// A token for `link`: the one held, or a new one.
    pub fn token(
        &self,
        d: &Deps<'_>,
        out: &Outbound,
        link: &AppLinkRecord,
    ) -> Result<String, TokenFailure> {
        if let Some(h) = self.held.locked().get(&link.id) {
            if h.link_updated == link.updated && Instant::now() < h.until {
                return Ok(h.token.clone());
            }
        }
        let granted = request(d, out, link)?;
        // Given back a little before it runs out, so a call started with it still lands in
        // time: a tenth of its life, at most a minute.
        // At most a day, whatever the server says (a huge `expires_in` would overflow).
        let life = Duration::from_secs(granted.expires_in.unwrap_or(3600).min(86_400));
        let until = Instant::now() + life - (life / 10).min(Duration::from_secs(60));
        self.held.locked().insert(
            link.id,
            Held { token: granted.access_token.clone(), link_updated: link.updated, until },
        );
        Ok(granted.access_token)
    }

    /// Drops the token held for `link` (the other server answered 401 with it): the next
    /// [`OutgoingTokens::token`] obtains a new one.
    pub fn forget(&self, link: u64) {
        self.held.locked().remove(&link);
    }
}

/// One token request for `link`, nothing held or reused: what a test of the link does.
pub fn request(
    d: &Deps<'_>,
    out: &Outbound,
    link: &AppLinkRecord,
) -> Result<Granted, TokenFailure> {
    let LinkDirection::Outgoing { token_url, client_id, scopes, .. } = &link.direction else {
        return Err(TokenFailure::Link(format!(
            "application link '{}' is incoming: it has no token endpoint to call",
            link.name
        )));
    };
    let secret = links::outgoing_secret(d, link).map_err(|e| TokenFailure::Link(e.to_string()))?;
    // RFC 6749 §2.3.1: the client id and secret form-encoded, then Basic.
    let pair = format!("{}:{}", form_encode(client_id), form_encode(&secret));
    let auth = format!("Basic {}", STANDARD.encode(pair));
    let form = format!("grant_type=client_credentials&scope={}", form_encode(&scopes.join(" ")));
    let answer = out
        .post_form(token_url, &[("Authorization", &auth), ("Accept", "application/json")], &form)
        .map_err(TokenFailure::Call)?;
    granted(&answer)
}

/// A token from an answer, or why it is none.
fn granted(a: &Answer) -> Result<Granted, TokenFailure> {
    let refused = |error: Option<String>| TokenFailure::Refused {
        status: a.status,
        error,
        text: a.text(TEXT_MAX),
    };
    if a.status != 200 {
        let error = serde_json::from_slice::<serde_json::Value>(&a.body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string));
        return Err(refused(error));
    }
    match serde_json::from_slice::<Granted>(&a.body) {
        Ok(g) if g.token_type.eq_ignore_ascii_case("bearer") && !g.access_token.is_empty() => Ok(g),
        _ => Err(refused(None)),
    }
}

/// `application/x-www-form-urlencoded` (RFC 6749 Appendix B): everything but unreserved
/// characters percent-encoded, space as `+`.
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_is_rfc_6749_appendix_b() {
        assert_eq!(form_encode("a b:c+d/é~"), "a+b%3Ac%2Bd%2F%C3%A9~");
    }

    #[test]
    fn only_a_bearer_token_is_a_token() {
        let answer = |status, body: &str| Answer { status, headers: Vec::new(), body: body.into() };
        let ok =
            granted(&answer(200, r#"{"access_token":"t","token_type":"bearer","expires_in":60}"#));
        assert_eq!(ok.unwrap().expires_in, Some(60));
        let refused =
            granted(&answer(401, r#"{"error":"invalid_client","error_description":"no"}"#));
        assert!(
            matches!(refused, Err(TokenFailure::Refused { status: 401, error: Some(ref e), .. }) if e == "invalid_client")
        );
        assert!(matches!(
            granted(&answer(200, r#"{"state":"RUNNING"}"#)),
            Err(TokenFailure::Refused { status: 200, error: None, .. })
        ));
        assert!(granted(&answer(200, r#"{"access_token":"t","token_type":"mac"}"#)).is_err());
    }
}
