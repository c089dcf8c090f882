//! throng: a Crowd-compatible identity server in one small binary over one redb file.
//!
//! Layers, outside in (see `docs/architecture.md`):
//! - [`http`]: the handler our tiny_http fork runs, request and response types, and the
//!   router, which picks the API namespace (each namespace in [`api`] owns its route table);
//! - [`api`]: one module per upstream API namespace; thin handlers and each API's error shape;
//! - [`domain`]: the rules (service accounts, OAuth clients and tokens, admins, applications,
//!   audit);
//! - [`store`]: every redb table and the operations on them;
//! - [`crypto`]: everything cryptographic, through ring.
//!
//! Beside them, [`bench`] (with its load generator and HTTP client) is `throng bench`, outside
//! the server's layers.
//!
//! [`start`] is what `throng serve`, the tests and the benchmarks all call.

pub mod api;
pub mod app;
pub mod bench;
pub mod config;
pub mod crypto;
pub mod datadir;
pub mod domain;
pub mod error;
pub mod http;
pub mod remote;
pub mod store;
pub mod sync;

use app::App;
use config::Config;
use domain::clock::Clock;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// A server that is listening. Dropping it without [`RunningServer::shutdown`] stops it too.
pub struct RunningServer {
    addr: SocketAddr,
    app: Option<Arc<App>>,
    http: Option<http::server::HttpServer>,
    scheduler: Option<remote::schedule::SchedulerThread>,
    writer: Option<store::writer::WriterThread>,
}

/// Opens the data directory, binds, and starts serving. Returns once the socket accepts.
pub fn start(config: Config) -> error::Result<RunningServer> {
    let (listener, addr) = http::server::bind(&config)?;
    let base_url = config.base_url.clone().unwrap_or_else(|| format!("http://{addr}"));
    let (app, writer) = App::open(config, base_url, Arc::new(Clock::default()))?;
    let app = Arc::new(app);
    let scheduler = remote::schedule::start(&app)?;
    let http = http::server::HttpServer::start(listener, &app)?;
    log::info!("listening on http://{addr}");
    Ok(RunningServer {
        addr,
        app: Some(app),
        http: Some(http),
        scheduler: Some(scheduler),
        writer: Some(writer),
    })
}

impl RunningServer {
    /// The bound address, with the real port when 0 was asked for.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The server's state, for tests and benchmarks that drive the layers below HTTP (a
    /// remote directory read into this server's store, say).
    pub fn app(&self) -> &App {
        self.app.as_ref().expect("a running server has its app")
    }

    /// Moves the server's clock forward, so expiry can be tested without sleeping.
    pub fn advance_clock(&self, by: Duration) {
        if let Some(app) = &self.app {
            app.clock.advance(by);
        }
    }

    /// Waits until every token record and audit event handed to the writer is committed.
    pub fn flush(&self) {
        if let Some(app) = &self.app {
            app.writer.flush();
        }
    }

    /// Runs one round of the background purge (expired tokens, audit retention) now.
    pub fn purge(&self) {
        if let Some(app) = &self.app {
            app.writer.purge_now();
        }
    }

    /// How many password KDF runs have started, for tests that check a refusal cost none.
    pub fn kdf_runs(&self) -> u64 {
        self.app.as_ref().map_or(0, |a| a.kdf.runs())
    }

    /// The store, for tests that check what was written.
    pub fn store(&self) -> Option<&store::Store> {
        self.app.as_deref().map(|a| &*a.store)
    }

    /// Stops accepting, finishes in-flight requests, commits pending records, closes the file.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(http) = self.http.take() {
            http.stop();
        }
        // A sync in progress ends first (each remote call is bounded by the outbound
        // timeouts); one cut short would change nothing anyway.
        if let Some(scheduler) = self.scheduler.take() {
            scheduler.stop();
        }
        // Dropping the last App drops the writer's sender; the thread then commits and exits.
        if let Some(app) = self.app.take() {
            app.writer.flush();
            drop(app);
        }
        if let Some(writer) = self.writer.take() {
            writer.join();
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.stop();
    }
}
