//! The tiny_http loop: a fixed pool of workers over one `Arc<tiny_http::Server>`.
//!
//! The connection layer (our fork of tiny_http, `vendor/tiny_http`) reads each request whole,
//! head and body, under the front door's limits (`http::limits`), and answers what it refuses
//! itself through [`render_refusal`], in the shape of the API the path names. A worker gets
//! only complete requests and never touches a socket. It decodes the path, routes inside
//! `catch_unwind` (a panic is logged and answered 500) and hands the response back. Shutdown
//! sets a flag and unblocks every worker once (rouille's pattern).

use super::request::{decode_path, Method, Request};
use super::response::Response;
use super::router;
use crate::app::App;
use crate::config::Config;
use crate::error::Error;
use std::io::Cursor;
use std::net::{SocketAddr, TcpListener};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

pub struct HttpServer {
    server: Arc<tiny_http::Server>,
    workers: Vec<JoinHandle<()>>,
    stopping: Arc<AtomicBool>,
}

/// Binds the configured address; returns the server and the bound address (port 0
/// resolved) before any worker starts.
pub fn bind(config: &Config) -> Result<(Arc<tiny_http::Server>, SocketAddr), Error> {
    let addr = config.listen;
    let listener = TcpListener::bind(addr).map_err(|e| Error::Internal(bind_error(addr, &e)))?;
    let bound = listener.local_addr()?;
    let limits = super::limits::from_config(config);
    log::debug!("front door: {limits:?}");
    let server = tiny_http::Server::with_limits(listener, limits, Arc::new(render_refusal))
        .map_err(|e| Error::Internal(format!("serving on {addr}: {e}")))?;
    Ok((Arc::new(server), bound))
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
        413 => Error::Protocol { status: 413, message: refusal.message.clone() },
        503 => Error::Unavailable {
            retry_after_secs: refusal.retry_after.unwrap_or(1),
            message: refusal.message.clone(),
        },
        status => Error::Protocol { status, message: refusal.message.clone() },
    };
    let path = refusal.path.as_deref().unwrap_or("/");
    let path = path.split('?').next().unwrap_or(path);
    let response = router::render_error_at(path, &err);
    tiny_http::RefusalAnswer {
        headers: response.headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
        body: response.body,
    }
}

impl HttpServer {
    pub fn start(server: Arc<tiny_http::Server>, app: Arc<App>, workers: usize) -> HttpServer {
        let stopping = Arc::new(AtomicBool::new(false));
        let workers = (0..workers)
            .map(|i| {
                let (server, app, stopping) = (server.clone(), app.clone(), stopping.clone());
                std::thread::Builder::new()
                    .name(format!("throng-http-{i}"))
                    .spawn(move || worker(&server, &app, &stopping))
                    .expect("spawn worker")
            })
            .collect();
        HttpServer { server, workers, stopping }
    }

    /// Stops taking requests and waits for every worker to finish the one it is serving.
    pub fn stop(self) {
        self.stopping.store(true, Ordering::SeqCst);
        for _ in &self.workers {
            self.server.unblock();
        }
        for w in self.workers {
            let _ = w.join();
        }
    }
}

fn worker(server: &tiny_http::Server, app: &App, stopping: &AtomicBool) {
    loop {
        match server.recv() {
            Ok(rq) => serve_one(app, rq),
            Err(_) if stopping.load(Ordering::SeqCst) => return,
            Err(e) => log::debug!("accept error: {e}"),
        }
    }
}

fn header<'a>(rq: &'a tiny_http::Request, name: &'static str) -> Option<&'a str> {
    rq.headers().iter().find(|h| h.field.equiv(name)).map(|h| h.value.as_str())
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
        authorization: header(&rq, "Authorization").map(String::from),
        content_type: header(&rq, "Content-Type").map(String::from),
        accept: header(&rq, "Accept").map(String::from),
        body: Vec::with_capacity(rq.body_length().unwrap_or(0)),
        remote: rq.remote_addr().map(|a| a.ip().to_string()).unwrap_or_default(),
    };
    // The connection layer read the body whole, under the size cap; this only moves it.
    let _ = rq.as_reader().read_to_end(&mut req.body);
    let response = match decode_path(&raw_path) {
        Err(e) => router::render_error_at(&raw_path, &e),
        Ok(path) => {
            req.path = path.into_owned();
            match catch_unwind(AssertUnwindSafe(|| router::route(app, &req))) {
                Ok(r) => r,
                Err(_) => {
                    log::error!("handler panicked on {:?} {}", req.method, req.path);
                    router::render_error(&req, &Error::Internal("handler panicked".into()))
                }
            }
        }
    };
    let status = response.status;
    if let Err(e) = respond(rq, response, req.method == Method::Head) {
        log::debug!("writing response: {e}");
    }
    log::debug!("{:?} {} {} {:?}", req.method, raw_path, status, started.elapsed());
}

fn respond(rq: tiny_http::Request, r: Response, head: bool) -> std::io::Result<()> {
    let mut headers = Vec::with_capacity(r.headers.len());
    for (name, value) in &r.headers {
        if let Ok(h) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            headers.push(h);
        }
    }
    let len = r.body.len();
    let body = if head { Vec::new() } else { r.body };
    let response = tiny_http::Response::new(
        tiny_http::StatusCode(r.status),
        headers,
        Cursor::new(body),
        Some(len),
        None,
    );
    rq.respond(response)
}
