//! Logins of users of a `CROWD` directory, delegated to its server: their passwords are the
//! server's, never copied here. throng asks `POST /authentication?username=` as the
//! directory's application, and reads Crowd's answer (200, or 400 with
//! `INVALID_USER_AUTHENTICATION`, `INACTIVE_ACCOUNT`, `EXPIRED_CREDENTIAL`, `USER_NOT_FOUND`).
//! A server that does not answer, or answers something else, is 503 here: the user did
//! nothing wrong, and the login may work in a moment.

use super::crowd::{CrowdFailure, CrowdServer, Deps};
use crate::error::{Error, LoginFailure, Result};
use crate::http::request::percent_encode;
use crate::store::records::RemoteCrowd;

/// The server's verdict on `name` with `password`: `Ok(None)` accepted, `Ok(Some(..))`
/// refused as Crowd refuses logins.
pub fn check(
    d: &Deps<'_>,
    remote: &RemoteCrowd,
    name: &str,
    password: &str,
) -> Result<Option<(LoginFailure, String)>> {
    let server = CrowdServer::of(d, remote)?;
    let body = serde_json::json!({ "value": password }).to_string();
    let unavailable = |why: String| Error::Unavailable {
        retry_after_secs: 5,
        message: format!(
            "the directory's server ({}) could not check the password: {why}",
            remote.server_url
        ),
    };
    let answer = match server
        .post_json(&format!("/authentication?username={}", percent_encode(name)), &body)
    {
        Ok(a) => a,
        Err(CrowdFailure::Call(e)) => return Err(unavailable(e.to_string())),
        Err(CrowdFailure::Token(t)) => return Err(unavailable(t.to_string())),
    };
    if answer.status == 200 {
        return Ok(None);
    }
    let v: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
    let reason = v.get("reason").and_then(|r| r.as_str()).unwrap_or("");
    let message = v.get("message").and_then(|m| m.as_str()).unwrap_or("").to_string();
    match (answer.status, reason) {
        (400, "INVALID_USER_AUTHENTICATION" | "USER_NOT_FOUND") => {
            Ok(Some((LoginFailure::BadCredentials, message)))
        }
        (400, "INACTIVE_ACCOUNT") => Ok(Some((LoginFailure::Inactive, message))),
        (400, "EXPIRED_CREDENTIAL") => Ok(Some((LoginFailure::ExpiredCredential, message))),
        (status, _) => {
            Err(unavailable(format!("{status} {}", super::crowd::crowd_message(&answer.text(500)))))
        }
    }
}
