//! `throng bench`: the load generator's command line, and the token suite it runs.
//!
//! Against any Crowd-compatible token endpoint (`--url`, with client credentials or an admin
//! who can create a service account), or, by default, against a throng it starts itself as a
//! child process on a temp data directory, so the server's peak RSS and start-up time can be
//! read too. The suite: the HTTP ceiling (`GET /status`), issue (client_secret_basic),
//! validate (bearer `GET …/usermanagement/1/user`), introspect, and a mixed load of one issue
//! to ten validations. Each row also shows its share of the ceiling, measured in the same run.
//!
//! This folder stands outside the server's layers: the load generator (`loadgen`) and the
//! small HTTP/1.1 client it and the integration tests use (`client`) take from the server only
//! its public start function and its one percent-encoder.

pub mod client;
pub mod directory;
pub mod jwt;
pub mod loadgen;
pub mod scim;
pub mod sync;

use client::Connection;
use loadgen::{form_encode, Request, Scenario, Stats};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

pub const TOKEN_PATH: &str = "/rest/oauth2/latest/token";
pub const INTROSPECT_PATH: &str = "/rest/oauth2/latest/introspect";
pub const USER_PATH: &str = "/rest/usermanagement/1/user?username=admin";
pub const SA_PATH: &str = "/rest/service-accounts/latest/service-accounts";
pub const APP_PATH: &str = "/rest/appmanagement/1/application";
pub const SCENARIOS: &[&str] =
    &["ceiling", "issue", "validate", "app-read", "introspect", "mixed", "jwt-rs256", "jwt-es256"];
/// What runs without `--scenarios`: the `private_key_jwt` ones sign their assertions first,
/// which takes a while for RS256, so they run when named.
pub const DEFAULT_SCENARIOS: &[&str] =
    &["ceiling", "issue", "validate", "app-read", "introspect", "mixed"];

/// Options of one run.
#[derive(Debug, Clone)]
pub struct Options {
    pub url: Option<String>,
    pub admin: Option<(String, String)>,
    pub client: Option<(String, String)>,
    pub token_path: String,
    pub connections: usize,
    pub duration: Duration,
    pub warmup: Duration,
    pub scenarios: Vec<String>,
    pub tsv: bool,
    /// Every scenario runs this many times, interleaved; rows add all rounds up.
    pub rounds: usize,
    pub name: String,
    /// Extra arguments for the `throng serve` child.
    pub serve_args: Vec<String>,
    /// Run the lifecycle measurement with this many tokens instead of the suite.
    pub lifecycle: Option<usize>,
    /// Also run each scenario with this many idle keep-alive connections held open.
    pub idle: usize,
    /// Instead of the suite: a directory of this many users (a tenth as many groups, ten
    /// memberships each) and the usermanagement calls that walk it.
    pub directory: Option<usize>,
    /// Instead of the suite: two servers, the second syncing a directory of this many users
    /// (a tenth as many groups, five memberships each) from the first.
    pub sync: Option<usize>,
    /// With `sync`: once measured, write the two servers' URLs and the directory id to this
    /// file and keep them running until it is removed, so another tool can measure them too.
    pub hold: Option<std::path::PathBuf>,
    /// Assertions signed before each `jwt-*` run.
    pub jwt_pool: usize,
    /// Instead of the suite: SCIM provisioning (`bench::scim`), then filters on a directory
    /// of this many SCIM users.
    pub scim: Option<usize>,
    /// Instead of the suite, with `url` and `admin`: set up a SCIM directory and a token as
    /// part C does, and print its base path and the token, for another load tool.
    pub scim_setup: bool,
    /// Idle time before each run, so that one run's aftermath (the kernel writing back what
    /// the last run wrote, say) does not slow the next.
    pub rest: Duration,
    /// Instead of the suite: sign `jwt_pool` assertions for a new key account on `url` and
    /// write them to this file as token request forms, one per line, for another load tool.
    pub jwt_out: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            url: None,
            admin: None,
            client: None,
            token_path: TOKEN_PATH.into(),
            connections: 8,
            duration: Duration::from_secs(5),
            warmup: Duration::from_secs(1),
            scenarios: DEFAULT_SCENARIOS.iter().map(|s| s.to_string()).collect(),
            tsv: false,
            rounds: 1,
            name: "throng".into(),
            serve_args: Vec::new(),
            lifecycle: None,
            idle: 0,
            directory: None,
            sync: None,
            hold: None,
            jwt_pool: 60_000,
            scim: None,
            scim_setup: false,
            jwt_out: None,
            rest: Duration::ZERO,
        }
    }
}

pub const USAGE: &str = "Usage: throng bench [OPTIONS]

Drives a token endpoint with keep-alive connections and prints requests/s, share of the HTTP
ceiling (GET /status on the same server) and p50/p90/p99/max latency per scenario.

Without --url it starts `throng serve` on a temp data directory (a child process) and also
reports the server's peak RSS and its start-up time.

Options:
  --url URL                server to drive (e.g. http://127.0.0.1:8095 or http://host/crowd)
  --admin USER:PASSWORD    create a service account there (throng or Crowd 7.0)
  --client ID:SECRET       use these client credentials instead
  --token-path PATH        token endpoint path [default: /rest/oauth2/latest/token]
  --connections N          keep-alive connections [default: 8]
  --duration D             measured time per scenario [default: 5s]
  --warmup D               unmeasured time before each scenario [default: 1s]
  --scenarios LIST         comma-separated, of ceiling,issue,validate,app-read,introspect,mixed,
                           jwt-rs256,jwt-es256 [default: all but the jwt ones; app-read and
                           jwt-* need --admin or an own server]. jwt-*: private_key_jwt
                           issuance, each request a fresh assertion signed before the run
  --jwt-pool N             assertions signed before each jwt-* run [default: 60000]; a run
                           that uses them up signs the rest as it goes, and says so
  --scim USERS             instead of the suite: SCIM provisioning on an own server, set up
                           as Atlassian's part C (an ES256 client assertion): POST /Users
                           (users/s), then GET /Users?filter=userName eq NAME after USERS SCIM
                           users are loaded; e.g. 100000
  --scim-setup             instead of the suite, with --url and --admin: make a SCIM directory
                           and a manage:directory token as part C does, and print the SCIM
                           base path and the token (for wrk: benches/scim.sh)
  --rest D                 idle time before each run, so that the one before (its disk
                           writes, say) does not slow it [default: 0s]
  --jwt-out FILE           instead of the suite, with --url, --admin and one jwt-* scenario:
                           create a key account, write --jwt-pool token request forms for it
                           to FILE (one per line, for wrk), and print the account's id;
                           archive it after (an RS256 one holds the repository's test key)
  --rounds N               run the whole list N times, interleaved, and add the rounds up, so
                           noise on a small machine hits every row alike [default: 1]
  --name NAME              label for --tsv rows [default: throng]
  --tsv                    print tab-separated rows instead of a table
  --serve-arg ARG          pass ARG to the `throng serve` child (repeatable)
  --idle N                 also run each scenario with N idle keep-alive connections held
                           open (each made one request first), interleaved in the same run
                           as `NAME+idle`, so the two can be compared
  --directory USERS        instead of the suite: load a directory of USERS users (USERS/10
                           groups nested five deep, 10 memberships each) into an own server
                           and measure nested groups, CQL search, /group/membership (time,
                           peak RSS) and /event/{token} after 1,000 changes; e.g. 100000
  --sync USERS             instead of the suite: two own servers, B syncing A's directory of
                           USERS users (USERS/10 groups, 5 memberships each) over OAuth 2.0;
                           measures full and incremental syncs and B's peak RSS; e.g. 10000
  --hold FILE              with --sync: then write 'A_URL B_URL DIRECTORY_ID B_PID' to FILE, keep
                           both servers running until FILE is removed (benches/sync.sh)
  --lifecycle N            instead of the suite: issue N tokens to an own server and report
                           peak RSS, start-up time (empty, and with N live tokens) and the
                           database size before and after N expired tokens are purged
";

pub fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut o = Options::default();
    let mut it = args.iter();
    let duration = |v: &str| humantime::parse_duration(v).map_err(|e| format!("'{v}': {e}"));
    let pair = |v: &str, what: &str| {
        v.split_once(':')
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .ok_or_else(|| format!("{what} must be NAME:SECRET"))
    };
    while let Some(a) = it.next() {
        let mut val = || it.next().cloned().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--url" => o.url = Some(val()?.trim_end_matches('/').to_string()),
            "--admin" => o.admin = Some(pair(&val()?, "--admin")?),
            "--client" => o.client = Some(pair(&val()?, "--client")?),
            "--token-path" => o.token_path = val()?,
            "--connections" => {
                o.connections = val()?
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or("--connections: a positive number")?
            }
            "--duration" => o.duration = duration(&val()?)?,
            "--warmup" => o.warmup = duration(&val()?)?,
            "--scenarios" => {
                o.scenarios = val()?
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                if let Some(bad) = o.scenarios.iter().find(|s| !SCENARIOS.contains(&s.as_str())) {
                    return Err(format!("unknown scenario '{bad}' (have {})", SCENARIOS.join(",")));
                }
            }
            "--name" => o.name = val()?,
            "--rounds" => {
                o.rounds =
                    val()?.parse().ok().filter(|n| *n > 0).ok_or("--rounds: a positive number")?
            }
            "--tsv" => o.tsv = true,
            "--serve-arg" => o.serve_args.push(val()?),
            "--hold" => o.hold = Some(val()?.into()),
            "--sync" => {
                o.sync = Some(
                    val()?
                        .parse()
                        .ok()
                        .filter(|n| *n >= 100)
                        .ok_or("--sync: a number of users, at least 100")?,
                );
            }
            "--directory" => {
                o.directory = Some(
                    val()?
                        .parse()
                        .ok()
                        .filter(|n| *n >= 1000)
                        .ok_or("--directory: a number of users, at least 1000")?,
                );
            }
            "--lifecycle" => {
                o.lifecycle = Some(
                    val()?
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or("--lifecycle: a positive number")?,
                )
            }
            "--idle" => o.idle = val()?.parse().map_err(|_| "--idle: a number")?,
            "--jwt-out" => o.jwt_out = Some(val()?.into()),
            "--scim-setup" => o.scim_setup = true,
            "--scim" => {
                o.scim = Some(
                    val()?.parse().ok().filter(|n| *n > 0).ok_or("--scim: a positive number")?,
                )
            }
            "--rest" => o.rest = duration(&val()?)?,
            "--jwt-pool" => {
                o.jwt_pool =
                    val()?.parse().ok().filter(|n| *n > 0).ok_or("--jwt-pool: a positive number")?
            }
            "--bench" => {} // what `cargo bench` passes
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    if o.url.is_some() && o.admin.is_none() && o.client.is_none() {
        return Err("with --url, give --admin USER:PASSWORD or --client ID:SECRET".into());
    }
    Ok(o)
}

/// A `throng serve` child on a temp data directory, stopped (SIGTERM) and removed on drop.
pub struct ChildServer {
    pub child: Child,
    pub addr: SocketAddr,
    pub dir: PathBuf,
    pub admin_password: String,
    /// From spawn to the first answered `GET /status`.
    pub cold_start: Duration,
}

impl ChildServer {
    /// Starts `exe serve` on `dir` (created if missing) and polls until it answers.
    pub fn start(exe: &Path, dir: &Path, extra: &[String]) -> Result<ChildServer, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let admin_password = "bench-admin-password".to_string();
        let started = Instant::now();
        let mut child = Command::new(exe)
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(dir)
            .args(extra)
            .env("THRONG_ADMIN_PASSWORD", &admin_password)
            .env("RUST_LOG", "info")
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting {}: {e}", exe.display()))?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let mut lines = BufReader::new(stderr).lines();
        let addr = loop {
            let Some(Ok(line)) = lines.next() else {
                let _ = child.kill();
                return Err("the server exited before it was listening".into());
            };
            if let Some(u) = line.split("listening on http://").nth(1) {
                break u.trim().parse::<SocketAddr>().map_err(|e| format!("'{u}': {e}"))?;
            }
        };
        // Keep draining the log so the child never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        let cold_start = loop {
            if let Ok(mut c) = Connection::connect(addr) {
                if c.send("GET", "/status", &[], b"").map(|r| r.status == 200).unwrap_or(false) {
                    break started.elapsed();
                }
            }
            if started.elapsed() > Duration::from_secs(30) {
                return Err("the server did not answer /status within 30s".into());
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        Ok(ChildServer { child, addr, dir: dir.to_path_buf(), admin_password, cold_start })
    }

    /// The child's peak resident set size so far (Linux `VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// SIGTERM, then wait.
    pub fn stop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        let nonce: [u8; 8] = crate::crypto::random_bytes();
        let p = std::env::temp_dir().join(format!(
            "{prefix}-{}-{}",
            std::process::id(),
            crate::crypto::hex(&nonce)
        ));
        std::fs::create_dir_all(&p).expect("create a directory under the system temp dir");
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Sends one request on a fresh connection and checks its status.
pub fn call(addr: SocketAddr, req: &Request, want: u16) -> Result<Value, String> {
    let mut conn = Connection::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
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

/// Creates a service account with admin Basic credentials; returns (client id, secret).
pub fn create_client(
    addr: SocketAddr,
    prefix: &str,
    user: &str,
    password: &str,
) -> Result<(String, String), String> {
    let body =
        json!({"displayName": "bench", "scopes": ["APPLICATION"], "expiryDuration": 2_592_000});
    let account = call(
        addr,
        &Request::post(&format!("{prefix}{SA_PATH}")).basic(user, password).json(&body),
        201,
    )?;
    let m = &account["authMethods"][0];
    match (m["clientId"].as_str(), m["clientSecret"].as_str()) {
        (Some(id), Some(secret)) => Ok((id.to_string(), secret.to_string())),
        _ => Err(format!("service account without credentials: {account}")),
    }
}

/// Creates an application with a random name and password, mapped to directory 1 with every
/// operation and allowed from loopback, with admin Basic credentials; returns (name, password).
pub fn create_application(
    addr: SocketAddr,
    prefix: &str,
    user: &str,
    password: &str,
) -> Result<(String, String), String> {
    let suffix = crate::crypto::hex(&crate::crypto::random_bytes::<6>());
    let (name, secret) = (format!("bench-{suffix}"), format!("pw-{suffix}"));
    let body = json!({"name": name, "type": "GENERIC_APPLICATION", "active": true,
        "password": {"value": secret},
        "directory-mappings": [{"directory-id": 1, "authenticate-all": true,
            "allowed-operations": ["CREATE_USER", "CREATE_GROUP", "UPDATE_USER", "UPDATE_GROUP",
                "DELETE_USER", "DELETE_GROUP", "UPDATE_USER_ATTRIBUTE", "UPDATE_GROUP_ATTRIBUTE"]}],
        "remote-addresses": [{"value": "127.0.0.1"}, {"value": "::1"}]});
    let req = Request::post(&format!("{prefix}{APP_PATH}"))
        .basic(user, password)
        .header("Accept", "application/json")
        .json(&body);
    call(addr, &req, 201)?;
    Ok((name, secret))
}

/// Splits `http://host:port/prefix` into a socket address and the path prefix.
pub fn parse_url(url: &str) -> Result<(SocketAddr, String), String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| format!("'{url}': only http:// URLs"))?;
    let (hostport, prefix) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/').to_string()),
        None => (rest, String::new()),
    };
    let addr = hostport
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("'{hostport}' does not resolve"))?;
    Ok((addr, prefix))
}

/// `--jwt-out`: signed token requests for another load tool.
fn jwt_out(o: &Options, path: &Path) -> Result<(), String> {
    let (Some(url), Some((user, pw))) = (&o.url, &o.admin) else {
        return Err("--jwt-out needs --url and --admin".into());
    };
    let signer = match o.scenarios.as_slice() {
        [s] if s == "jwt-rs256" => jwt::Signer::rsa("bench"),
        [s] if s == "jwt-es256" => jwt::Signer::ec("bench"),
        _ => return Err("--jwt-out needs --scenarios jwt-rs256 or jwt-es256".into()),
    };
    let (addr, prefix) = parse_url(url)?;
    let client = jwt::create(addr, &prefix, (user, pw), signer)?;
    jwt::write_forms(&client, o.jwt_pool, path)?;
    println!("{}", client.account);
    Ok(())
}

/// Runs the chosen scenarios against `addr` and returns one row per scenario.
pub fn run_suite(
    addr: SocketAddr,
    prefix: &str,
    client: (&str, &str),
    app: Option<(&str, &str)>,
    admin: Option<(&str, &str)>,
    o: &Options,
) -> Result<Vec<(String, Stats)>, String> {
    let (id, secret) = client;
    let issue = Request::post(&format!("{prefix}{}", o.token_path))
        .basic(id, secret)
        .form("grant_type=client_credentials");
    let want = |s: &str| o.scenarios.iter().any(|x| x == s);
    let needs_token = want("validate") || want("introspect") || want("mixed");
    let token = if needs_token || want("issue") {
        call(addr, &issue, 200)?["access_token"]
            .as_str()
            .map(String::from)
            .ok_or("no access_token in the token response")?
    } else {
        String::new()
    };
    // Accept JSON, as the clients that call with a bearer token (python, dex) do.
    let validate = Request::get(&format!("{prefix}{USER_PATH}"))
        .bearer(&token)
        .header("Accept", "application/json");
    let introspect = Request::post(&format!("{prefix}{INTROSPECT_PATH}"))
        .basic(id, secret)
        .form(&format!("token={}", form_encode(&token)));
    if want("validate") || want("mixed") {
        call(addr, &validate, 200)?;
    }
    // The same read by an application with Basic credentials, as Jira and python-crowd call.
    let app_read = match app {
        Some((name, password)) => Request::get(&format!("{prefix}{USER_PATH}"))
            .basic(name, password)
            .header("Accept", "application/json"),
        None if want("app-read") => return Err("app-read needs an application (--admin)".into()),
        None => validate.clone(),
    };
    if want("app-read") {
        call(addr, &app_read, 200)?;
    }
    if want("introspect") && call(addr, &introspect, 200)?["active"] != true {
        return Err("introspection says the bench token is not active".into());
    }
    let mut jwt_clients = Vec::new();
    for name in ["jwt-rs256", "jwt-es256"].into_iter().filter(|n| want(n)) {
        let admin = admin.ok_or_else(|| format!("{name} needs an admin (--admin)"))?;
        let signer =
            if name == "jwt-rs256" { jwt::Signer::rsa("bench") } else { jwt::Signer::ec("bench") };
        jwt_clients.push((name, jwt::create(addr, prefix, admin, signer)?));
    }
    let result = rounds(addr, prefix, o, &jwt_clients, |name| match name {
        "ceiling" => Scenario::fixed(Request::get(&format!("{prefix}/status"))),
        "issue" => Scenario::fixed(issue.clone()),
        "validate" => Scenario::fixed(validate.clone()),
        "app-read" => Scenario::fixed(app_read.clone()),
        "introspect" => Scenario::fixed(introspect.clone()),
        _ => {
            let mut cycle = vec![issue.clone()];
            cycle.extend(std::iter::repeat_n(validate.clone(), 10));
            Scenario::cycle(cycle)
        }
    });
    if let Some(admin) = admin {
        for (_, c) in &jwt_clients {
            jwt::archive(addr, prefix, admin, c);
        }
    }
    result
}

/// Every round of the chosen scenarios; `fixed` makes those that are not `jwt-*`.
fn rounds(
    addr: SocketAddr,
    prefix: &str,
    o: &Options,
    jwt_clients: &[(&str, jwt::JwtClient)],
    fixed: impl Fn(&str) -> Scenario,
) -> Result<Vec<(String, Stats)>, String> {
    let want = |s: &str| o.scenarios.iter().any(|x| x == s);
    let mut rows: Vec<(String, Stats)> = Vec::new();
    for round in 1..=o.rounds {
        for name in SCENARIOS.iter().filter(|s| want(s)) {
            let mut late = None;
            let scenario = match jwt_clients.iter().find(|(n, _)| n == name) {
                Some((_, client)) => {
                    eprintln!(
                        "{}: signing {} assertions for {name} (not timed)…",
                        o.name, o.jwt_pool
                    );
                    let path = format!("{prefix}{}", o.token_path);
                    let (scenario, signed_late) = jwt::scenario(client, &path, o.jwt_pool);
                    late = Some(signed_late);
                    scenario
                }
                None => fixed(name),
            };
            let variants: &[usize] = if o.idle > 0 { &[0, o.idle] } else { &[0] };
            for &idle in variants {
                let label = if idle > 0 { format!("{name}+idle") } else { name.to_string() };
                std::thread::sleep(o.rest);
                let held = hold_idle(addr, prefix, idle)?;
                eprintln!("{}: round {round}/{}: {label} for {:?}…", o.name, o.rounds, o.duration);
                let stats = loadgen::run(addr, &scenario, o.connections, o.duration, o.warmup);
                drop(held);
                let signed_late = late.as_ref().map_or(0, |l| l.swap(0, Ordering::Relaxed));
                if signed_late > 0 {
                    eprintln!(
                        "{}: {label} used up its {} assertions and signed {signed_late} more \
                         during the run, so its figure is partly the signer's: raise --jwt-pool",
                        o.name, o.jwt_pool
                    );
                }
                match rows.iter_mut().find(|(n, _)| *n == label) {
                    Some((_, total)) => add_round(total, &stats),
                    None => rows.push((label, stats)),
                }
            }
        }
    }
    Ok(rows)
}

/// Opens `n` keep-alive connections, makes one request on each, and keeps them open (idle)
/// until the returned value is dropped: what a fleet of pooled clients looks like to a server.
fn hold_idle(addr: SocketAddr, prefix: &str, n: usize) -> Result<Vec<Connection>, String> {
    let path = format!("{prefix}/status");
    (0..n)
        .map(|i| {
            let mut c =
                Connection::connect(addr).map_err(|e| format!("idle connection {i}: {e}"))?;
            let r =
                c.send("GET", &path, &[], b"").map_err(|e| format!("idle connection {i}: {e}"))?;
            if r.status != 200 {
                return Err(format!("idle connection {i}: /status answered {}", r.status));
            }
            Ok(c)
        })
        .collect()
}

/// Adds one round's stats to the running total: rounds run one after another, so their
/// times add up (unlike connections, which run side by side).
fn add_round(total: &mut Stats, round: &Stats) {
    total.requests += round.requests;
    total.non_2xx += round.non_2xx;
    total.io_errors += round.io_errors;
    total.reconnects += round.reconnects;
    total.elapsed += round.elapsed;
    total.latency.merge(&round.latency);
}

fn print_rows(o: &Options, rows: &[(String, Stats)]) {
    if o.tsv {
        for (name, s) in rows {
            println!(
                "{}\t{name}\t{:.0}\t{:.3}\t{:.3}\t{:.3}\t{:.3}\t{}",
                o.name,
                s.req_per_sec(),
                s.p50().as_secs_f64() * 1e3,
                s.p90().as_secs_f64() * 1e3,
                s.p99().as_secs_f64() * 1e3,
                s.max().as_secs_f64() * 1e3,
                s.errors()
            );
        }
    } else {
        let baseline = rows.iter().any(|(n, _)| n == "ceiling").then_some("ceiling");
        loadgen::print_table(rows, baseline);
    }
}

/// `throng bench ARGS`: returns the process exit code.
pub fn main(args: &[String]) -> i32 {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{USAGE}");
        return 0;
    }
    let o = match parse_args(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("throng bench: {e}");
            return 2;
        }
    };
    match run(&o) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("throng bench: {e}");
            1
        }
    }
}

fn run(o: &Options) -> Result<(), String> {
    if let Some(n) = o.lifecycle {
        return lifecycle(o, n);
    }
    if let Some(users) = o.directory {
        return directory::run(o, directory::Shape::scaled(users));
    }
    if let Some(users) = o.sync {
        return sync::run(o, users);
    }
    if let Some(users) = o.scim {
        return scim::run(o, users);
    }
    if o.scim_setup {
        let (Some(url), Some((user, pw))) = (&o.url, &o.admin) else {
            return Err("--scim-setup needs --url and --admin".into());
        };
        let (addr, prefix) = parse_url(url)?;
        if !prefix.is_empty() {
            return Err("--scim-setup takes a server at the root of its URL".into());
        }
        let signer = jwt::Signer::ec("bench-scim");
        let p = scim::setup(addr, (user, pw), "bench-scim", false, &signer)?;
        println!("{} {}", p.base, p.token);
        return Ok(());
    }
    if let Some(path) = &o.jwt_out {
        return jwt_out(o, path);
    }
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    if let Some(url) = &o.url {
        let (addr, prefix) = parse_url(url)?;
        let client = match (&o.client, &o.admin) {
            (Some((id, secret)), _) => (id.clone(), secret.clone()),
            (None, Some((user, pw))) => create_client(addr, &prefix, user, pw)?,
            (None, None) => unreachable!("checked in parse_args"),
        };
        if !o.tsv {
            println!(
                "{url}: {} connections, {:?} per scenario, {cpus} CPUs\n",
                o.connections, o.duration
            );
        }
        let mut o = o.clone();
        let app = match &o.admin {
            Some((user, pw)) if o.scenarios.iter().any(|s| s == "app-read") => {
                Some(create_application(addr, &prefix, user, pw)?)
            }
            _ => {
                o.scenarios.retain(|s| s != "app-read");
                None
            }
        };
        let app = app.as_ref().map(|(n, p)| (n.as_str(), p.as_str()));
        let admin = o.admin.clone();
        let admin = admin.as_ref().map(|(u, p)| (u.as_str(), p.as_str()));
        let rows = run_suite(addr, &prefix, (&client.0, &client.1), app, admin, &o)?;
        print_rows(&o, &rows);
        return Ok(());
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = TempDir::new("throng-bench");
    let mut server = ChildServer::start(&exe, &dir.0, &o.serve_args)?;
    let (id, secret) = create_client(server.addr, "", "admin", &server.admin_password)?;
    if !o.tsv {
        println!(
            "throng bench: own server at {} (started in {:.1} ms), {} connections, {:?} per scenario x {} round(s), {cpus} CPUs\n",
            server.addr,
            server.cold_start.as_secs_f64() * 1e3,
            o.connections,
            o.duration,
            o.rounds
        );
    }
    let app = create_application(server.addr, "", "admin", &server.admin_password)?;
    let admin = Some(("admin", server.admin_password.as_str()));
    let rows = run_suite(server.addr, "", (&id, &secret), Some((&app.0, &app.1)), admin, o)?;
    print_rows(o, &rows);
    if !o.tsv {
        if let Some(kib) = server.peak_rss_kib() {
            println!("\nserver peak RSS: {:.1} MiB", kib as f64 / 1024.0);
        }
    }
    server.stop();
    Ok(())
}

/// Issues `n` tokens over `connections` keep-alive connections as fast as the server answers;
/// returns the time taken and every 1000th token (for checking them later).
fn issue_many(
    addr: SocketAddr,
    client: (&str, &str),
    n: usize,
    connections: usize,
) -> Result<(Duration, Vec<String>), String> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    let issue =
        Request::post(TOKEN_PATH).basic(client.0, client.1).form("grant_type=client_credentials");
    let next = Arc::new(AtomicUsize::new(0));
    let sample = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let threads: Vec<_> = (0..connections)
        .map(|_| {
            let (issue, next, sample) = (issue.clone(), next.clone(), sample.clone());
            std::thread::spawn(move || -> Result<(), String> {
                let mut conn = Connection::connect(addr).map_err(|e| e.to_string())?;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return Ok(());
                    }
                    let r = issue.send(&mut conn).map_err(|e| format!("token {i}: {e}"))?;
                    if r.status != 200 {
                        return Err(format!("token {i}: status {}: {}", r.status, r.text()));
                    }
                    if i % 1000 == 0 {
                        if let Some(t) = r.json()["access_token"].as_str() {
                            sample.lock().expect("sample").push(t.to_string());
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().map_err(|_| "an issuing thread panicked")??;
    }
    let elapsed = started.elapsed();
    let sample = std::mem::take(&mut *sample.lock().expect("sample"));
    Ok((elapsed, sample))
}

fn file_size(dir: &Path) -> u64 {
    std::fs::metadata(dir.join(crate::app::DB_FILE)).map_or(0, |m| m.len())
}

/// The lifecycle figures of issue 3: peak RSS while issuing `n` tokens, start-up time on an
/// empty store and with `n` live tokens, and the database size once `n` tokens have expired
/// and been purged, each against its target.
fn lifecycle(o: &Options, n: usize) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mib = |kib: u64| kib as f64 / 1024.0;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;

    // A: live tokens. First start (creates the admin with the production KDF), then a restart
    // of the empty store, then n tokens, then a restart with them all live.
    let dir = TempDir::new("throng-lifecycle");
    let mut first = ChildServer::start(&exe, &dir.0, &o.serve_args)?;
    let client = create_client(first.addr, "", "admin", &first.admin_password)?;
    let first_start = first.cold_start;
    first.stop();
    let mut s = ChildServer::start(&exe, &dir.0, &o.serve_args)?;
    let cold_empty = s.cold_start;
    let empty_size = file_size(&dir.0);
    eprintln!("issuing {n} tokens…");
    let (took, sample) = issue_many(s.addr, (&client.0, &client.1), n, o.connections)?;
    let rss = s.peak_rss_kib().unwrap_or(0);
    s.stop();
    let full_size = file_size(&dir.0);
    let s = ChildServer::start(&exe, &dir.0, &o.serve_args)?;
    let cold_full = s.cold_start;
    let still_valid = sample
        .iter()
        .filter(|t| call(s.addr, &Request::get(USER_PATH).bearer(t), 200).is_ok())
        .count();
    drop(s);

    // B: expiry and purge, on a fresh store with a short token lifetime.
    let dir_b = TempDir::new("throng-lifecycle-purge");
    let mut args = o.serve_args.clone();
    args.extend(["--token-ttl", "5s", "--purge-interval", "250ms"].map(String::from));
    let s = ChildServer::start(&exe, &dir_b.0, &args)?;
    let client = create_client(s.addr, "", "admin", &s.admin_password)?;
    let empty_b = file_size(&dir_b.0);
    eprintln!("issuing {n} tokens that expire in 5 s…");
    issue_many(s.addr, (&client.0, &client.1), n, o.connections)?;
    let peak_b = file_size(&dir_b.0);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut purged = file_size(&dir_b.0);
    while purged > 2 * empty_b && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
        purged = file_size(&dir_b.0);
    }
    drop(s);

    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!(
        "throng lifecycle, {n} tokens over {} connections ({:.0} tokens/s)\n",
        o.connections,
        n as f64 / took.as_secs_f64()
    );
    println!("{:<44} {:>14} {:>12}", "measure", "value", "target");
    println!("{}", "-".repeat(80));
    println!(
        "{:<44} {:>11.1} MiB {:>12} {}",
        "peak RSS while issuing",
        mib(rss),
        "<= 64 MiB",
        verdict(mib(rss) <= 64.0)
    );
    println!(
        "{:<44} {:>12.1} ms {:>12}",
        "first start (creates admin, PBKDF2 600k)",
        ms(first_start),
        "-"
    );
    println!(
        "{:<44} {:>12.1} ms {:>12} {}",
        "start to first answer, empty store",
        ms(cold_empty),
        "<= 50 ms",
        verdict(ms(cold_empty) <= 50.0)
    );
    println!(
        "{:<44} {:>12.1} ms {:>12} {}",
        format!("start to first answer, {n} live tokens"),
        ms(cold_full),
        "<= 250 ms",
        verdict(ms(cold_full) <= 250.0)
    );
    println!(
        "{:<44} {:>8}/{:<5} {:>12} {}",
        "sampled tokens valid after restart",
        still_valid,
        sample.len(),
        "all",
        verdict(still_valid == sample.len())
    );
    println!("{:<44} {:>12} B {:>12}", "database, empty", empty_size, "");
    println!("{:<44} {:>12} B {:>12}", format!("database, {n} live tokens"), full_size, "");
    println!(
        "{:<44} {:>12} B {:>12}",
        format!("database, {n} short-lived tokens issued"),
        peak_b,
        ""
    );
    println!(
        "{:<44} {:>12} B {:>12} {}",
        "database, after they expired and were purged",
        purged,
        format!("<= {}", 2 * empty_b),
        verdict(purged <= 2 * empty_b)
    );
    Ok(())
}
