//! throng patch: the bounds every connection lives within, and the refusals the connection
//! layer answers by itself when a client oversteps them.
//!
//! Upstream tiny_http has no limits of its own: no timeouts, no cap on the request head, no
//! connection budget. A server that must survive hostile clients needs every one of them, and
//! it needs to *answer* a request it refuses (a status and a body in the application's own
//! error shape), never to hang or drop the connection silently. See PATCHES.md.

use std::sync::Arc;
use std::time::Duration;

/// What one client may hold of the server, and for how long.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections open at once. Past it, the longest-idle keep-alive connection is closed to
    /// make room; if none is idle, the new connection is answered 503 and closed.
    pub max_connections: usize,
    /// An idle connection (no byte of a next request yet) is closed after this, silently.
    pub idle_timeout: Duration,
    /// The whole request head must arrive within this time of its first byte (else 408).
    pub head_timeout: Duration,
    /// The body's allowance: it must arrive within this time after the head, plus one second
    /// for every `min_body_rate` bytes (Apache mod_reqtimeout's `body=…,MinRate=…`; else 408).
    pub body_timeout: Duration,
    /// Bytes per second a slow body must keep up, beyond `body_timeout`.
    pub min_body_rate: usize,
    /// Largest request head: request line and header fields together (else 431).
    pub max_head_bytes: usize,
    /// Most header fields in one request (else 431).
    pub max_headers: usize,
    /// Longest request target (else 414).
    pub max_url_bytes: usize,
    /// Largest request body (else 413, before any of it is read when the length is declared).
    pub max_body_bytes: usize,
    /// Request bodies held in memory by all connections together; past it a new body is
    /// refused with 503, so many large bodies at once cannot exhaust memory.
    pub max_body_memory: usize,
    /// A response must be taken by the client within this time.
    pub write_timeout: Duration,
    /// After a refusal, how long unread input is drained before closing, so that the client
    /// reads the answer instead of a reset (a "lingering close", as Apache and nginx do).
    pub linger: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 1000,
            idle_timeout: Duration::from_secs(60),
            head_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            min_body_rate: 4096,
            max_head_bytes: 32 * 1024,
            max_headers: 100,
            max_url_bytes: 8 * 1024,
            max_body_bytes: 1 << 20,
            max_body_memory: 64 << 20,
            write_timeout: Duration::from_secs(30),
            linger: Duration::from_secs(2),
        }
    }
}

/// A request the connection layer refused by itself; the connection is closed after the
/// answer.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// 400, 408, 413, 414, 417, 431, 501, 503 or 505.
    pub status: u16,
    /// What was wrong, in words for the client.
    pub message: String,
    /// The request target, when the request line was read: it tells the application which of
    /// its APIs the request was for, and so which error shape to answer in.
    pub path: Option<String>,
    /// For 503: seconds after which trying again makes sense.
    pub retry_after: Option<u64>,
}

impl Refusal {
    pub(crate) fn new(status: u16, message: impl Into<String>) -> Refusal {
        Refusal { status, message: message.into(), path: None, retry_after: None }
    }

    pub(crate) fn at(mut self, path: Option<&str>) -> Refusal {
        if self.path.is_none() {
            self.path = path.map(str::to_owned);
        }
        self
    }
}

/// The answer to a refusal: header fields (name, value) and a body. The status line,
/// `Content-Length`, `Date` and `Connection: close` are added by the connection layer.
pub struct RefusalAnswer {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Renders refusals in the application's error shape.
pub type RefusalRenderer = Arc<dyn Fn(&Refusal) -> RefusalAnswer + Send + Sync>;

/// A plain-text answer, for servers that install no renderer.
pub fn plain_text(refusal: &Refusal) -> RefusalAnswer {
    RefusalAnswer {
        headers: vec![("Content-Type".into(), "text/plain; charset=utf-8".into())],
        body: format!("{}\n", refusal.message).into_bytes(),
    }
}
