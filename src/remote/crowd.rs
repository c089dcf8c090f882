//! A remote Crowd server's usermanagement API (`/rest/usermanagement/1`), as throng calls it
//! when it is the syncing application: authenticated as an application, by Basic with the
//! application's name and password, or by a bearer token of an outgoing application link
//! (Crowd 7.0's directory sync over OAuth 2.0). A 401 with a link's token obtains a new token
//! and tries once more.
//!
//! [`test`] is the connection test of a remote directory's settings: one call, and what went
//! wrong in the server's own words with what to do about it, above all the 403 of an address
//! the server's application does not allow (the known problem of Crowd's part B set-up).

use super::client::{Answer, CallError, Outbound};
use super::tokens::{OutgoingTokens, TokenFailure};
use crate::domain::links;
use crate::store::records::AppLinkRecord;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// The header every Crowd usermanagement answer carries (crowd-rest-plugin); an answer
/// without it is not Crowd's.
pub const CROWD_VERSION_HEADER: &str = "X-Embedded-Crowd-Version";

/// How throng authenticates to the remote server.
pub enum CrowdAuth {
    /// The application's name (as the server knows it) and password.
    Password { application: String, password: String },
    /// An outgoing application link's tokens; `application` names, for messages, the
    /// application on the server that takes the link.
    Link { application: String, link: AppLinkRecord },
}

/// What calling a directory's server needs: the stored links and sealed secrets, the client,
/// and the outgoing links' tokens.
#[derive(Clone, Copy)]
pub struct Deps<'a> {
    pub store: &'a crate::store::Store,
    pub keys: &'a crate::crypto::Keys,
    pub out: &'a Outbound,
    pub tokens: &'a OutgoingTokens,
    pub links: links::Deps<'a>,
}

impl<'a> Deps<'a> {
    pub fn of(app: &'a crate::app::App) -> Deps<'a> {
        Deps {
            store: &app.store,
            keys: &app.keys,
            out: &app.outbound,
            tokens: &app.outgoing_tokens,
            links: links::Deps::of(app),
        }
    }
}

/// A remote Crowd server.
pub struct CrowdServer<'a> {
    /// Its base URL, without a trailing slash (`https://crowd.example.com/crowd`).
    pub base: String,
    pub auth: CrowdAuth,
    pub out: &'a Outbound,
    pub tokens: &'a OutgoingTokens,
    pub links: links::Deps<'a>,
}

/// Why a call to the server got no usable answer.
#[derive(Debug)]
pub enum CrowdFailure {
    Call(CallError),
    Token(TokenFailure),
}

impl<'a> CrowdServer<'a> {
    /// The server of a `CROWD` directory's settings, authenticated as they say.
    pub fn of(
        d: &Deps<'a>,
        remote: &crate::store::records::RemoteCrowd,
    ) -> crate::error::Result<Self> {
        Ok(CrowdServer {
            base: remote.server_url.clone(),
            auth: super::sync::auth_with(d.store, d.keys, remote)?,
            out: d.out,
            tokens: d.tokens,
            links: d.links,
        })
    }

    /// `GET {base}/rest/usermanagement/1{path}`, asking for `accept`.
    pub fn get(&self, path: &str, accept: &str) -> Result<Answer, CrowdFailure> {
        let url = format!("{}/rest/usermanagement/1{path}", self.base);
        self.authenticated(|auth| {
            self.out.get(&url, &[("Authorization", auth), ("Accept", accept)])
        })
    }

    /// `POST {base}/rest/usermanagement/1{path}` of a JSON body, asking for JSON.
    pub fn post_json(&self, path: &str, json: &str) -> Result<Answer, CrowdFailure> {
        let url = format!("{}/rest/usermanagement/1{path}", self.base);
        let accept = ("Accept", "application/json");
        self.authenticated(|auth| {
            self.out.post_json(&url, &[("Authorization", auth), accept], json)
        })
    }

    /// Runs `call` with the Authorization header value; with a link, once more with a new
    /// token after a 401 (the token may have been revoked, or the server restarted).
    fn authenticated(
        &self,
        call: impl Fn(&str) -> Result<Answer, CallError>,
    ) -> Result<Answer, CrowdFailure> {
        match &self.auth {
            CrowdAuth::Password { application, password } => {
                let pair = STANDARD.encode(format!("{application}:{password}"));
                call(&format!("Basic {pair}")).map_err(CrowdFailure::Call)
            }
            CrowdAuth::Link { link, .. } => {
                let bearer = || {
                    let token = self
                        .tokens
                        .token(&self.links, self.out, link)
                        .map_err(CrowdFailure::Token)?;
                    call(&format!("Bearer {token}")).map_err(CrowdFailure::Call)
                };
                let answer = bearer()?;
                if answer.status != 401 {
                    return Ok(answer);
                }
                self.tokens.forget(link.id);
                bearer()
            }
        }
    }

    fn application(&self) -> &str {
        match &self.auth {
            CrowdAuth::Password { application, .. } | CrowdAuth::Link { application, .. } => {
                application
            }
        }
    }
}

/// What a connection test found: success, or the server's answer and the fix in plain words.
#[derive(Debug)]
pub struct TestOutcome {
    pub ok: bool,
    /// The server's status, when it answered.
    pub status: Option<u16>,
    /// The server's version (`X-Embedded-Crowd-Version`), when it is Crowd.
    pub server: Option<String>,
    /// What happened, the server's own words included.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

/// Tests the settings: one usermanagement read (the cookie configuration, which every
/// application may read), authenticated as the directory will be.
pub fn test(server: &CrowdServer<'_>) -> TestOutcome {
    let fail = |status, server: Option<String>, message: String, hint: String| TestOutcome {
        ok: false,
        status,
        server,
        message,
        hint: Some(hint),
    };
    let answer =
        match server.get("/config/cookie", "application/json") {
            Ok(a) => a,
            Err(CrowdFailure::Call(e)) => {
                return fail(
                    None,
                    None,
                    format!("no answer from {e}"),
                    "check the server URL, and that the server is up and reachable from this host"
                        .into(),
                )
            }
            Err(CrowdFailure::Token(t)) => return fail(
                None,
                None,
                t.to_string(),
                "check the outgoing application link: its token endpoint, and its client id and \
                 secret against the server's incoming link (rotated or expired credentials \
                 must be copied again)"
                    .into(),
            ),
        };
    let version = answer.header(CROWD_VERSION_HEADER).map(str::to_string);
    let text = answer.text(1000);
    let app = server.application();
    match (answer.status, &version) {
        (200, Some(_)) => TestOutcome {
            ok: true,
            status: Some(200),
            server: version,
            message: format!("connected to {} as application '{app}'", server.base),
            hint: None,
        },
        (403, _) if text.contains("is forbidden from making requests to the application") => {
            let address =
                quoted(&crowd_message(&text)).unwrap_or_else(|| "this host's address".into());
            fail(
                Some(403),
                version,
                crowd_message(&text),
                format!(
                    "on the server, add {address} to the remote addresses of application \
                     '{app}' (Applications → {app} → Remote addresses), then test again"
                ),
            )
        }
        (401, _) => fail(
            Some(401),
            version,
            crowd_message(&text),
            match &server.auth {
                CrowdAuth::Password { .. } => format!(
                    "the server does not accept application '{app}' with this password: check \
                     both against the application on the server"
                ),
                CrowdAuth::Link { .. } => format!(
                    "the server does not accept the link's token: check that application \
                     '{app}' on the server authenticates with the incoming link whose client \
                     id this outgoing link holds"
                ),
            },
        ),
        (status, None) => fail(
            Some(status),
            None,
            // Not Crowd: its content is the other server's business, so only its status and
            // type are repeated.
            format!(
                "{} answered {status} ({}) without {CROWD_VERSION_HEADER}",
                server.base,
                answer.header("Content-Type").unwrap_or("no Content-Type")
            ),
            "this is not a Crowd server's usermanagement API: the server URL should be Crowd's \
             base URL (e.g. https://crowd.example.com/crowd), without /rest/…"
                .into(),
        ),
        (status, Some(_)) => fail(
            Some(status),
            version,
            crowd_message(&text),
            "see the server's message above".into(),
        ),
    }
}

/// The first double-quoted text of a message (the address in Crowd's 403 page).
fn quoted(text: &str) -> Option<String> {
    let text = text.replace("&quot;", "\"");
    let start = text.find('"')? + 1;
    let len = text[start..].find('"')?;
    Some(text[start..start + len].to_string())
}

/// Crowd's message from an error answer: the `message` of `{"reason","message"}`, the
/// sentence of its 403 HTML page, or the text itself.
pub(crate) fn crowd_message(text: &str) -> String {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
        if let Some(m) = v.get("message").and_then(|m| m.as_str()) {
            return m.to_string();
        }
    }
    if let Some(i) = text.find("Client with address") {
        let sentence = &text[i..];
        let end = sentence.find('<').unwrap_or(sentence.len());
        return sentence[..end].replace("&quot;", "\"").trim().to_string();
    }
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crowds_403_page_gives_its_sentence_and_address() {
        let page = r#"<html><body><p><b>Message</b> Client with address &quot;10.227.176.150&quot; is forbidden from making requests to the application, jira oauth2 test.</p></body></html>"#;
        assert_eq!(
            crowd_message(page),
            r#"Client with address "10.227.176.150" is forbidden from making requests to the application, jira oauth2 test."#
        );
        assert_eq!(quoted(&crowd_message(page)).as_deref(), Some("10.227.176.150"));
        assert_eq!(crowd_message(r#"{"reason":"X","message":"nope"}"#), "nope");
    }
}
