//! The outgoing HTTP client: ureq (see README "Dependencies"), synchronous like the rest of
//! throng, with every bound a call to a server we do not control needs.
//!
//! - Timeouts: connecting, and then each read and each write, at most `--outbound-timeout`,
//!   and the whole call at most four times that, so a server that trickles cannot hold a
//!   thread.
//! - Answers are read up to `--outbound-max-body` bytes; a longer one is an error, not a
//!   truncated document.
//! - TLS certificates are verified, against the bundled Mozilla roots or only the CA
//!   certificates of `--outbound-ca`.
//! - Redirects are not followed: a token endpoint or a directory that moved says so, and
//!   credentials are never sent on to wherever a redirect points. No proxy is taken from the
//!   environment, for the same reason.
//!
//! A call that got an answer returns it whatever its status ([`Answer`]); [`CallError`] is a
//! call that got none, in words an operator can act on.

use crate::config::Config;
use std::fmt;
use ureq::tls::{parse_pem, PemItem, RootCerts, TlsConfig};

/// The client, made once at start.
pub struct Outbound {
    agent: ureq::Agent,
    max_body: usize,
}

/// An answer, any status.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    /// The body as text for a message: lossy, at most `max` characters.
    pub fn text(&self, max: usize) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let text = text.trim();
        match text.char_indices().nth(max) {
            Some((cut, _)) => format!("{}…", &text[..cut]),
            None => text.to_string(),
        }
    }
}

/// Why a call got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    pub url: String,
    pub why: String,
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.url, self.why)
    }
}

impl Outbound {
    /// The client `config` describes; an unreadable `--outbound-ca` file, or one without a
    /// certificate, is refused at start.
    pub fn new(config: &Config) -> Result<Outbound, String> {
        let roots = match &config.outbound_ca {
            None => RootCerts::WebPki,
            Some(path) => {
                let pem = std::fs::read(path)
                    .map_err(|e| format!("--outbound-ca {}: {e}", path.display()))?;
                let mut certs = Vec::new();
                for item in parse_pem(&pem) {
                    match item {
                        Ok(PemItem::Certificate(c)) => certs.push(c),
                        Ok(_) => {}
                        Err(e) => return Err(format!("--outbound-ca {}: {e}", path.display())),
                    }
                }
                if certs.is_empty() {
                    return Err(format!("--outbound-ca {}: no certificate in it", path.display()));
                }
                RootCerts::new_with_certs(&certs)
            }
        };
        let t = config.outbound_timeout;
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            // No proxy from the environment (ureq reads ALL_PROXY and HTTPS_PROXY otherwise):
            // where throng's credentials go is the configured URL, and only that.
            .proxy(None)
            .timeout_connect(Some(t))
            .timeout_per_read(Some(t))
            .timeout_per_write(Some(t))
            .timeout_global(Some(t * 4))
            .user_agent(concat!("throng/", env!("CARGO_PKG_VERSION")))
            .tls_config(TlsConfig::builder().root_certs(roots).build())
            .build()
            .new_agent();
        Ok(Outbound { agent, max_body: config.outbound_max_body })
    }

    /// `GET url` with `headers`.
    pub fn get(&self, url: &str, headers: &[(&str, &str)]) -> Result<Answer, CallError> {
        let mut req = self.agent.get(url);
        for (n, v) in headers {
            req = req.header(*n, *v);
        }
        self.answer(url, req.call())
    }

    /// `POST url` of a JSON body, with `headers`.
    pub fn post_json(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        json: &str,
    ) -> Result<Answer, CallError> {
        self.post(url, headers, "application/json", json)
    }

    /// `POST url` of a form body, with `headers`.
    pub fn post_form(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        form: &str,
    ) -> Result<Answer, CallError> {
        self.post(url, headers, "application/x-www-form-urlencoded", form)
    }

    fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        content_type: &str,
        body: &str,
    ) -> Result<Answer, CallError> {
        let mut req = self.agent.post(url).content_type(content_type);
        for (n, v) in headers {
            req = req.header(*n, *v);
        }
        self.answer(url, req.send(body))
    }

    fn answer(
        &self,
        url: &str,
        sent: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Answer, CallError> {
        let fail = |e: ureq::Error| CallError { url: url.to_string(), why: describe(&e) };
        let mut response = sent.map_err(fail)?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
            .collect();
        let body = response
            .body_mut()
            .with_config()
            .limit(self.max_body as u64)
            .read_to_vec()
            .map_err(fail)?;
        Ok(Answer { status, headers, body })
    }
}

/// A call's failure in an operator's words.
fn describe(e: &ureq::Error) -> String {
    use ureq::Error::*;
    match e {
        HostNotFound => "the host name does not resolve".into(),
        ConnectionFailed => {
            "could not connect (nothing listens there, or a firewall drops it)".into()
        }
        Timeout(t) => format!("no answer in time ({t})"),
        BodyExceedsLimit(n) => {
            format!("the answer is larger than the {n} bytes allowed (--outbound-max-body)")
        }
        BadUri(u) => format!("not a URL throng can call: {u}"),
        Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused: nothing listens on that port".into()
        }
        Io(io) if io.kind() == std::io::ErrorKind::TimedOut => "no answer in time".into(),
        Io(io) => format!("connection failed: {io}"),
        Tls(m) => format!("TLS failed: {m}"),
        Rustls(r) => format!(
            "TLS failed: {r} (a private CA's certificates can be trusted with --outbound-ca)"
        ),
        other => other.to_string(),
    }
}
