//! The tiny_http loop: a fixed pool of workers over one `Arc<tiny_http::Server>`.
//!
//! Each worker takes a request, reads its body under the size cap, routes it inside
//! `catch_unwind` (a panic is logged and answered 500 instead of tiny_http's silent drop) and
//! answers. Shutdown sets a flag and unblocks every worker once (rouille's pattern).

use super::request::{Method, Request};
use super::response::Response;
use super::router;
use crate::app::App;
use crate::error::Error;
use std::io::{Cursor, Read};
use std::net::SocketAddr;
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

/// Binds `addr`; returns the bound address (port 0 resolved) before any worker starts.
pub fn bind(addr: SocketAddr) -> Result<(Arc<tiny_http::Server>, SocketAddr), Error> {
    let server = tiny_http::Server::http(addr)
        .map_err(|e| Error::Internal(format!("listening on {addr}: {e}")))?;
    let bound = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| Error::Internal("listener has no IP address".into()))?;
    Ok((Arc::new(server), bound))
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
    let max = app.config.max_body_bytes;
    let (path, query) = match rq.url().split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (rq.url().to_string(), String::new()),
    };
    let mut req = Request {
        method: Method::parse(rq.method().as_str()),
        path,
        query,
        authorization: header(&rq, "Authorization").map(String::from),
        content_type: header(&rq, "Content-Type").map(String::from),
        accept: header(&rq, "Accept").map(String::from),
        body: Vec::new(),
        remote: rq.remote_addr().map(|a| a.ip().to_string()).unwrap_or_default(),
    };
    let too_large = match rq.body_length() {
        Some(n) if n > max => true,
        _ => {
            let mut limited = rq.as_reader().take(max as u64 + 1);
            match limited.read_to_end(&mut req.body) {
                Ok(_) => req.body.len() > max,
                Err(e) => {
                    log::debug!("reading request body: {e}");
                    return;
                }
            }
        }
    };
    let response = if too_large {
        // The rest of the body is unread, so the connection cannot be reused.
        router::render_error(&req, &Error::PayloadTooLarge(max)).header("Connection", "close")
    } else {
        match catch_unwind(AssertUnwindSafe(|| router::route(app, &req))) {
            Ok(r) => r,
            Err(_) => {
                log::error!("handler panicked on {:?} {}", req.method, req.path);
                router::render_error(&req, &Error::Internal("handler panicked".into()))
            }
        }
    };
    let status = response.status;
    if let Err(e) = respond(rq, response, req.method == Method::Head) {
        log::debug!("writing response: {e}");
    }
    log::debug!("{:?} {} {} {:?}", req.method, req.path, status, started.elapsed());
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
