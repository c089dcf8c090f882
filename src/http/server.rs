//! The HTTP server: our fork of tiny_http (`vendor/tiny_http`) and the handler it runs.
//!
//! The connection layer reads each request whole, head and body, under the front door's
//! limits (`http::limits`), and answers what it refuses itself through [`render_refusal`], in
//! the shape of the API the path names. A complete request is then handled on its
//! connection's own thread, at most `--workers` at once: [`serve_one`] decodes the path,
//! routes inside `catch_unwind` (a panic is logged and answered 500) and answers; the
//! connection thread writes the answer. Handling in place rather than queueing for a worker
//! pool saves two thread hand-offs per request (measured: a quarter of the `/status` ceiling
//! on 2 cores), and the permits keep CPU work as bounded as a pool would.

use super::failure::Failure;
use super::request::{decode_path, Method, Request};
use super::response::Response;
use super::router;
use crate::app::App;
use crate::config::Config;
use crate::error::Error;
use std::net::{SocketAddr, TcpListener};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// How long a shutdown waits for requests in flight.
const DRAIN: Duration = Duration::from_secs(30);

pub struct HttpServer {
    server: tiny_http::Server,
}

/// Binds the configured address; returns the listener and the bound address (port 0
/// resolved), so that the base URL is known before the app opens.
pub fn bind(config: &Config) -> Result<(TcpListener, SocketAddr), Error> {
    let addr = config.listen;
    let listener = TcpListener::bind(addr).map_err(|e| Error::Startup(bind_error(addr, &e)))?;
    let bound = listener.local_addr()?;
    Ok((listener, bound))
}

impl HttpServer {
    /// Starts serving `app` on `listener`.
    pub fn start(listener: TcpListener, app: &Arc<App>) -> Result<HttpServer, Error> {
        let limits = super::limits::from_config(&app.config);
        log::debug!("front door: {limits:?}");
        // Weak: connection threads that outlive a shutdown must not keep the app (and with it
        // the writer thread, which ends when the app does) alive.
        let weak: Weak<App> = Arc::downgrade(app);
        let handler: tiny_http::Handler = Arc::new(move |rq| match weak.upgrade() {
            Some(app) => serve_one(&app, rq),
            None => drop(rq),
        });
        let server = tiny_http::Server::with_handler(
            listener,
            limits,
            Arc::new(render_refusal),
            handler,
            app.config.workers,
        )
        .map_err(|e| Error::Internal(format!("serving: {e}")))?;
        Ok(HttpServer { server })
    }

    /// Stops taking requests and waits for the ones in flight to be answered.
    pub fn stop(self) {
        if !self.server.shutdown(DRAIN) {
            log::warn!("requests still running after {DRAIN:?}; stopping anyway");
        }
    }
}

/// What went wrong binding `--listen`, in words that say what to do about it.
fn bind_error(addr: SocketAddr, e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        AddrInUse => format!(
            "cannot listen on {addr}: the address is already in use (is another throng running?); \
             stop that process or choose another --listen"
        ),
        PermissionDenied => format!(
            "cannot listen on {addr}: permission denied; ports below 1024 need root or \
             CAP_NET_BIND_SERVICE, so choose a port such as 8095"
        ),
        AddrNotAvailable => format!(
            "cannot listen on {addr}: {} is not an address of this machine; use 127.0.0.1, \
             0.0.0.0 or one of its own addresses",
            addr.ip()
        ),
        _ => format!("cannot listen on {addr}: {e}"),
    }
}

/// Answers a request the connection layer refused by itself, in the shape of the API its
/// path names (Crowd's `{"reason","message"}`, OAuth's `{"error",…}`), or Crowd's when the
/// path is unknown.
pub fn render_refusal(refusal: &tiny_http::Refusal) -> tiny_http::RefusalAnswer {
    let err = match refusal.status {
        503 => Failure::App(Error::Unavailable {
            retry_after_secs: refusal.retry_after.unwrap_or(1),
            message: refusal.message.clone(),
        }),
        status => Failure::Protocol { status, message: refusal.message.clone() },
    };
    let path = refusal.path.as_deref().unwrap_or("/");
    let path = path.split('?').next().unwrap_or(path);
    let response = router::render_error_at(path, &err);
    tiny_http::RefusalAnswer {
        headers: response.headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
        body: response.body,
    }
}

fn serve_one(app: &App, mut rq: tiny_http::Request) {
    let started = Instant::now();
    let (raw_path, query) = match rq.url().split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (rq.url().to_string(), String::new()),
    };
    let mut req = Request {
        method: Method::parse(rq.method().as_str()),
        path: String::new(),
        query,
        // Moved, not copied: tiny_http's header names and values are already owned ASCII.
        headers: rq
            .take_headers()
            .into_iter()
            .map(|h| (h.field.into_string(), h.value.into()))
            .collect(),
        // The connection layer read the body whole, under the size cap; this only moves it.
        body: rq.take_body(),
        remote: rq.remote_addr().map(|a| a.ip().to_string()).unwrap_or_default(),
    };
    let response = match decode_path(&raw_path) {
        Err(e) => router::render_error_at(&raw_path, &e.into()),
        Ok(path) => {
            req.path = path.into_owned();
            match catch_unwind(AssertUnwindSafe(|| router::route(app, &req))) {
                Ok(r) => r,
                Err(_) => {
                    log::error!("handler panicked on {:?} {}", req.method, loggable(&req.path));
                    router::render_error(&req, &Error::Internal("handler panicked".into()).into())
                }
            }
        }
    };
    let status = response.status;
    if let Err(e) = respond(rq, response) {
        log::debug!("writing response: {e}");
    }
    log::debug!("{:?} {} {} {:?}", req.method, loggable(&raw_path), status, started.elapsed());
}

/// A path as logs may show it: an SSO token in `/session/{token}` is a secret, so it is left
/// out.
fn loggable(path: &str) -> std::borrow::Cow<'_, str> {
    match path.find("/session/") {
        Some(i) => format!("{}/session/…", &path[..i]).into(),
        None => path.into(),
    }
}

/// Hands the response to the connection layer, body moved, not copied (a `/group/membership`
/// document can be tens of megabytes). For HEAD the connection layer keeps the body's length
/// and leaves the body out (RFC 9110 §9.3.2: the length the GET would have).
fn respond(rq: tiny_http::Request, mut r: Response) -> std::io::Result<()> {
    const INLINE: usize = 8;
    let fields = |r: &Response| -> Vec<(String, String)> {
        r.headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    };
    if let Some(hold) = r.hold.take() {
        // Rare (a token waiting for its replay record to reach the disk): plain vectors.
        let (main, other) = (fields(&r), fields(&hold.otherwise));
        let main: Vec<(&str, &str)> = main.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let other: Vec<(&str, &str)> =
            other.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let otherwise =
            (tiny_http::StatusCode(hold.otherwise.status), other.as_slice(), hold.otherwise.body);
        return rq.respond_bytes_held(
            tiny_http::StatusCode(r.status),
            &main,
            r.body,
            hold.until,
            otherwise,
        );
    }
    let mut inline = [("", ""); INLINE];
    let mut spilled = Vec::new();
    let headers: &[(&str, &str)] = if r.headers.len() <= INLINE {
        for (slot, (n, v)) in inline.iter_mut().zip(&r.headers) {
            *slot = (n, v.as_ref());
        }
        &inline[..r.headers.len()]
    } else {
        spilled.extend(r.headers.iter().map(|(n, v)| (*n, v.as_ref())));
        &spilled
    };
    rq.respond_bytes(tiny_http::StatusCode(r.status), headers, r.body)
}
