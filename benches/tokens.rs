//! Token issuance and validation over real HTTP, against the HTTP ceiling of the same server.
//!
//! Starts throng in-process on 127.0.0.1 with a fresh temp data directory, creates one service
//! account and one token, then drives each scenario with C keep-alive connections for D
//! seconds (after a short warm-up) and prints one table: ceiling (`GET /status`), issue
//! (client_credentials, client_secret_basic), validate (bearer `GET …/usermanagement/1/user`)
//! and introspect (RFC 7662 with the client's own credentials).
//!
//! ```text
//! cargo bench --bench tokens
//! THRONG_BENCH_SECONDS=10 THRONG_BENCH_CONNECTIONS=16 cargo bench --bench tokens
//! cargo bench --bench tokens -- issue        # only scenarios whose name contains "issue"
//! ```
//! The ceiling always runs: it is the row every ratio is against. Numbers are noisy on a small
//! machine, since the load generator shares its cores with the server; compare ratios within
//! one run rather than figures across runs.

use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;
use throng::config::Config;
use throng::http::client::Connection;
use throng::loadgen::{self, form_encode, Request, Scenario, Stats};

const ADMIN_PASSWORD: &str = "bench-admin-password";
const TOKEN_PATH: &str = "/rest/oauth2/latest/token";
const INTROSPECT_PATH: &str = "/rest/oauth2/latest/introspect";
const USER_PATH: &str = "/rest/usermanagement/1/user?username=admin";
const SA_PATH: &str = "/rest/service-accounts/latest/service-accounts";

/// A fresh directory under the system temp dir, removed on drop (also when the bench fails).
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let nonce: [u8; 8] = throng::crypto::random_bytes();
        let p = std::env::temp_dir().join(format!(
            "throng-bench-{}-{}",
            std::process::id(),
            throng::crypto::hex(&nonce)
        ));
        std::fs::create_dir_all(&p).expect("create the temp data directory");
        TempDir(p)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> Result<T, String> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => {
            v.trim().parse().map_err(|_| format!("{name}: '{v}' is not a valid number"))
        }
        _ => Ok(default),
    }
}

/// Sends one request on a fresh connection and checks its status.
fn call(addr: std::net::SocketAddr, req: &Request, want: u16) -> Result<serde_json::Value, String> {
    let mut conn = Connection::connect(addr).map_err(|e| format!("connect: {e}"))?;
    let r = req.send(&mut conn).map_err(|e| format!("{} {}: {e}", req.method, req.path))?;
    if r.status != want {
        return Err(format!(
            "{} {}: expected {want}, got {}: {}",
            req.method,
            req.path,
            r.status,
            r.text()
        ));
    }
    Ok(r.json())
}

fn main() {
    if let Err(e) = bench() {
        eprintln!("tokens bench failed: {e}");
        std::process::exit(1);
    }
}

fn bench() -> Result<(), String> {
    // cargo passes `--bench`; any other flag is ignored too, and plain words filter scenarios.
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let seconds: f64 = env_or("THRONG_BENCH_SECONDS", 5.0)?;
    let connections: usize = env_or("THRONG_BENCH_CONNECTIONS", 8)?;
    if !(seconds > 0.0 && seconds.is_finite()) || connections == 0 {
        return Err("THRONG_BENCH_SECONDS and THRONG_BENCH_CONNECTIONS must be positive".into());
    }
    let duration = Duration::from_secs_f64(seconds);
    let warmup = Duration::from_secs(1).min(duration);

    let dir = TempDir::new();
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().expect("a socket address"),
        admin_password: Some(ADMIN_PASSWORD.into()),
        pbkdf2_iterations: 1000,
        ..Config::default()
    };
    let workers = config.workers;
    let server = throng::start(config).map_err(|e| format!("starting throng: {e}"))?;
    let addr = server.addr();

    // One service account, one token.
    let account = call(
        addr,
        &Request::post(SA_PATH).basic("admin", ADMIN_PASSWORD).json(
            &json!({"displayName": "bench", "scopes": ["APPLICATION"], "expiryDuration": 2_592_000}),
        ),
        201,
    )?;
    let method = &account["authMethods"][0];
    let (Some(client_id), Some(secret)) =
        (method["clientId"].as_str(), method["clientSecret"].as_str())
    else {
        return Err(format!("service account without credentials: {account}"));
    };
    let issue =
        Request::post(TOKEN_PATH).basic(client_id, secret).form("grant_type=client_credentials");
    let token = call(addr, &issue, 200)?["access_token"]
        .as_str()
        .map(String::from)
        .ok_or("token response without access_token")?;
    let validate = Request::get(USER_PATH).bearer(&token);
    let introspect = Request::post(INTROSPECT_PATH)
        .basic(client_id, secret)
        .form(&format!("token={}", form_encode(&token)));

    // Each request must do what it says before it is timed.
    call(addr, &validate, 200)?;
    let active = call(addr, &introspect, 200)?;
    if active["active"] != true {
        return Err(format!("introspection says the token is not active: {active}"));
    }

    let scenarios = [
        ("ceiling", Request::get("/status")),
        ("issue", issue),
        ("validate", validate),
        ("introspect", introspect),
    ];
    println!(
        "throng tokens bench: {connections} connections, {seconds}s per scenario after {:.1}s \
         warm-up, {workers} server workers, {} CPUs",
        warmup.as_secs_f64(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let mut rows: Vec<(&str, Stats)> = Vec::new();
    for (name, req) in scenarios {
        if name != "ceiling" && !filters.is_empty() && !filters.iter().any(|f| name.contains(f)) {
            continue;
        }
        eprintln!("running {name}…");
        let stats = loadgen::run(addr, &Scenario::fixed(req), connections, duration, warmup);
        rows.push((name, stats));
    }
    println!();
    loadgen::print_table(&rows, Some("ceiling"));

    server.shutdown();
    drop(dir);
    Ok(())
}
