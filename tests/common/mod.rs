//! Test support: a real throng on `127.0.0.1:0` with a fresh temp data directory, a request
//! builder over real HTTP, and helpers for the common set-up steps. Every test file starts
//! its own servers; nothing is shared between tests.
#![allow(dead_code)]

pub mod fake;
pub mod jwt;

use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use throng::bench::client::{ClientResponse, Connection};
use throng::config::Config;
use throng::RunningServer;

pub const ADMIN: &str = "admin";
pub const ADMIN_PASSWORD: &str = "admin-test-password";
pub const SA_PATH: &str = "/rest/service-accounts/latest/service-accounts";
pub const TOKEN_PATH: &str = "/rest/oauth2/latest/token";

/// A directory under the system temp dir, removed on drop.
pub use throng::bench::TempDir;

/// The configuration tests run with: loopback, port 0, a cheap KDF.
pub fn test_config(dir: &Path) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        admin_password: Some(ADMIN_PASSWORD.into()),
        pbkdf2_iterations: 1000,
        workers: 4,
        ..Config::default()
    }
}

pub struct TestServer {
    pub server: Option<RunningServer>,
    pub dir: TempDir,
    config: Config,
}

impl TestServer {
    pub fn start() -> TestServer {
        TestServer::start_with(|_| {})
    }

    pub fn start_with(adjust: impl FnOnce(&mut Config)) -> TestServer {
        let dir = TempDir::new("throng-test");
        let mut config = test_config(dir.path());
        adjust(&mut config);
        let server = throng::start(config.clone()).expect("server starts");
        TestServer { server: Some(server), dir, config }
    }

    /// Stops the server and starts a new one on the same data directory (a new port).
    pub fn restart(&mut self) {
        self.server.take().unwrap().shutdown();
        self.server = Some(throng::start(self.config.clone()).expect("server restarts"));
    }

    /// Stops the server, lets `change` write to its store directly (as a bulk load does), and
    /// starts it again on the same data directory (a new port).
    pub fn with_store(&mut self, change: impl FnOnce(&throng::store::Store)) {
        self.server.take().unwrap().shutdown();
        {
            let path = self.config.data_dir.join(throng::app::DB_FILE);
            change(&throng::store::Store::open(&path).expect("the store opens"));
        }
        self.server = Some(throng::start(self.config.clone()).expect("server restarts"));
    }

    pub fn running(&self) -> &RunningServer {
        self.server.as_ref().unwrap()
    }

    pub fn addr(&self) -> SocketAddr {
        self.running().addr()
    }

    pub fn url(&self) -> String {
        self.running().url()
    }

    pub fn advance_clock(&self, by: Duration) {
        self.running().advance_clock(by);
    }

    /// Waits until token records and audit events written behind are committed.
    pub fn flush(&self) {
        self.running().flush();
    }

    pub fn req(&self, method: &str, path: &str) -> Call {
        Call {
            addr: self.addr(),
            method: method.into(),
            path: path.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn get(&self, path: &str) -> Call {
        self.req("GET", path)
    }

    pub fn post(&self, path: &str) -> Call {
        self.req("POST", path)
    }

    pub fn put(&self, path: &str) -> Call {
        self.req("PUT", path)
    }

    pub fn delete(&self, path: &str) -> Call {
        self.req("DELETE", path)
    }

    /// Creates a service account as admin and returns its create response.
    pub fn create_account(&self, display_name: &str) -> Account {
        let r = self
            .post(SA_PATH)
            .admin()
            .json(&json!({"displayName": display_name, "scopes": ["APPLICATION"], "expiryDuration": 2_592_000}))
            .send();
        assert_eq!(r.status, 201, "create failed: {}", r.text());
        Account::from(r.json())
    }

    /// Obtains a token with client_secret_basic; panics unless it answers 200.
    pub fn token(&self, client_id: &str, secret: &str) -> String {
        let r = self
            .post(TOKEN_PATH)
            .basic(client_id, secret)
            .form("grant_type=client_credentials")
            .send();
        assert_eq!(r.status, 200, "token request failed: {}", r.text());
        r.json()["access_token"].as_str().unwrap().to_string()
    }

    /// Status of a bearer call to the usermanagement user resource.
    pub fn bearer_status(&self, token: &str) -> u16 {
        self.get("/rest/usermanagement/1/user?username=admin").bearer(token).send().status
    }
}

/// What a create call returned, with the fields tests use most.
#[derive(Debug, Clone)]
pub struct Account {
    pub json: Value,
    pub id: u64,
    pub config_id: String,
    pub client_id: String,
    pub secret: String,
}

impl From<Value> for Account {
    fn from(v: Value) -> Account {
        let m = &v["authMethods"][0];
        Account {
            id: v["id"].as_u64().unwrap(),
            config_id: m["id"].as_str().unwrap().into(),
            client_id: m["clientId"].as_str().unwrap().into(),
            secret: m["clientSecret"].as_str().unwrap().into(),
            json: v,
        }
    }
}

/// One request, built up and then sent on its own connection.
pub struct Call {
    addr: SocketAddr,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Call {
    pub fn header(mut self, name: &str, value: &str) -> Call {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn basic(self, user: &str, password: &str) -> Call {
        self.header("Authorization", &basic_header(user, password))
    }

    pub fn admin(self) -> Call {
        self.basic(ADMIN, ADMIN_PASSWORD)
    }

    pub fn bearer(self, token: &str) -> Call {
        self.header("Authorization", &format!("Bearer {token}"))
    }

    pub fn json(mut self, v: &Value) -> Call {
        self.body = serde_json::to_vec(v).unwrap();
        self.header("Content-Type", "application/json")
    }

    pub fn form(mut self, body: &str) -> Call {
        self.body = body.as_bytes().to_vec();
        self.header("Content-Type", "application/x-www-form-urlencoded")
    }

    /// A raw body with no Content-Type unless one is added with `header`.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Call {
        self.body = body.into();
        self
    }

    pub fn send(self) -> ClientResponse {
        let mut conn = Connection::connect(self.addr).expect("connect");
        let headers: Vec<(&str, &str)> =
            self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        conn.send(&self.method, &self.path, &headers, &self.body).expect("request")
    }
}

/// Asserts a Crowd-shaped error: status and `reason`.
pub fn assert_crowd_error(r: &ClientResponse, status: u16, reason: &str) {
    assert_eq!(r.status, status, "body: {}", r.text());
    assert_eq!(r.json()["reason"], reason, "body: {}", r.text());
    assert!(r.json()["message"].is_string(), "body: {}", r.text());
}

/// Asserts an RFC 6749 §5.2 error: status and `error`.
pub fn assert_oauth_error(r: &ClientResponse, status: u16, error: &str) {
    assert_eq!(r.status, status, "body: {}", r.text());
    assert_eq!(r.json()["error"], error, "body: {}", r.text());
    assert_eq!(r.header("Cache-Control"), Some("no-store"));
}

/// Adds an active user with a password to the internal directory (id 1), straight into the
/// store: the usermanagement API that creates users over HTTP comes in a later issue.
pub fn add_user(ts: &TestServer, name: &str, password: &str) {
    let now = 1_700_000_000_000;
    let user = throng::store::records::UserRecord {
        directory_id: 1,
        name: name.into(),
        first_name: "Test".into(),
        last_name: "User".into(),
        display_name: format!("Test {name}"),
        email: format!("{name}@example.com"),
        active: true,
        created: now,
        updated: now,
        password_hash: Some(throng::crypto::hash_password(password, 1000)),
        attributes: Default::default(),
        ..Default::default()
    };
    ts.running().store().unwrap().create_user(&user).unwrap();
}

/// An `Authorization: Basic` value for `user:password` (RFC 7617).
pub fn basic_header(user: &str, password: &str) -> String {
    use base64::Engine;
    let v = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {v}")
}

/// `throng serve` as a child process, for what an in-process server cannot show: start-up
/// refusals, signals, SIGKILL, its own descriptor limit and resident size. Its log lines are
/// collected as they come (a full pipe would block it); a test that leaves it running kills it
/// on drop. Nothing sleeps to wait for it: the launch reads the log until `listening on`.
pub struct ChildServer {
    pub child: std::process::Child,
    pub addr: SocketAddr,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

/// A launch that ended without listening: how the process exited, and all it logged.
#[derive(Debug)]
pub struct Refused {
    pub status: std::process::ExitStatus,
    pub log: String,
}

impl ChildServer {
    /// Starts `throng serve` on `dir` with the tests' settings (a cheap KDF, the test admin
    /// password, info logging) plus `args`; panics with its log unless it listens.
    pub fn start(dir: &Path, args: &[&str]) -> ChildServer {
        ChildServer::launch(dir, args, None, &[]).unwrap_or_else(|r| {
            panic!("throng exited ({:?}) instead of listening:\n{}", r.status, r.log)
        })
    }

    /// Starts it and returns how it went: listening, or refused. `open_files` runs it under
    /// that descriptor limit (through `sh -c ulimit`); `env` sets variables (`None` removes
    /// one) after the tests' defaults.
    pub fn launch(
        dir: &Path,
        args: &[&str],
        open_files: Option<u32>,
        env: &[(&str, Option<&str>)],
    ) -> Result<ChildServer, Refused> {
        use std::io::BufRead;
        use std::process::{Command, Stdio};
        let mut script = String::new();
        if let Some(n) = open_files {
            script.push_str(&format!("ulimit -n {n} || exit 99; "));
        }
        script.push_str("exec \"$0\" \"$@\"");
        let mut cmd = Command::new("sh");
        cmd.args(["-c", &script, env!("CARGO_BIN_EXE_throng"), "serve", "--listen", "127.0.0.1:0"])
            .arg("--data")
            .arg(dir)
            .args(args)
            .env("THRONG_PBKDF2_ITERATIONS", "1000")
            .env("THRONG_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        let mut child = cmd.spawn().expect("spawn throng");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let sink = log.clone();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(u) = line.split("listening on http://").nth(1) {
                        let addr = u.trim().parse().expect("listening address");
                        return Ok(ChildServer { child, addr, log, reader: Some(reader) });
                    }
                }
                // The pipe closed: the process has ended.
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    let status = child.wait().expect("wait");
                    let _ = reader.join();
                    let log = log.lock().unwrap().join("\n");
                    return Err(Refused { status, log });
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    panic!("no `listening on` line in 20 s:\n{}", log.lock().unwrap().join("\n"));
                }
            }
        }
    }

    /// Everything logged so far.
    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    pub fn connect(&self) -> Connection {
        Connection::connect(self.addr).expect("connect")
    }

    /// `GET /status` on a new connection: its status, or `None` if it does not answer.
    pub fn status(&self) -> Option<u16> {
        let mut c = Connection::connect(self.addr).ok()?;
        c.send("GET", "/status", &[("Connection", "close")], b"").ok().map(|r| r.status)
    }

    /// Polls `/status` until it answers 200, for at most `limit`.
    pub fn answers_within(&self, limit: Duration) -> bool {
        let until = std::time::Instant::now() + limit;
        while std::time::Instant::now() < until {
            if self.status() == Some(200) {
                return true;
            }
        }
        false
    }

    /// A field of `/proc/PID/status`, such as `VmRSS:` (KiB) or `Threads:`.
    pub fn proc_status(&self, field: &str) -> u64 {
        let text = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = text.lines().find(|l| l.starts_with(field)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// SIGKILL and reap; asserts it died of the signal.
    pub fn kill9(&mut self) -> std::process::ExitStatus {
        use std::os::unix::process::ExitStatusExt;
        self.child.kill().expect("SIGKILL");
        let status = self.child.wait().expect("wait");
        assert_eq!(status.signal(), Some(9), "not killed by SIGKILL: {status}");
        self.finish_log();
        status
    }

    /// SIGTERM; waits for it to exit and for its log to be complete, and returns how it exited.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        if let Ok(Some(status)) = self.child.try_wait() {
            self.finish_log();
            return status;
        }
        let pid = self.child.id().to_string();
        let _ = std::process::Command::new("kill").args(["-TERM", &pid]).status();
        let status = self.child.wait().expect("wait");
        self.finish_log();
        status
    }

    fn finish_log(&mut self) {
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub const LINKS: &str = "/rest/admin/1.0/application-links";
pub const APPS: &str = "/rest/appmanagement/1/application";

/// On A: an incoming link and application `jira` taking it, and application `basic-app` with
/// a password, both allowed from loopback. On B: an outgoing link `to-a` with the link's
/// credentials. Returns A's jira application id.
pub fn link_servers(a: &TestServer, b: &TestServer) -> u64 {
    let r = a
        .post(LINKS)
        .admin()
        .json(&json!({"name": "from-b", "direction": "INCOMING", "redirectUrl": b.url()}))
        .send();
    assert_eq!(r.status, 201, "{}", r.text());
    let client = r.json()["oauthClient"].clone();
    let mapping = json!([{"directory-id": 1, "authenticate-all": true}]);
    let loopback = json!([{"value": "127.0.0.1"}]);
    let jira = a
        .post(APPS)
        .admin()
        .json(&json!({"name": "jira", "type": "JIRA", "active": true, "application-link": "from-b",
            "directory-mappings": mapping, "remote-addresses": loopback}))
        .send();
    assert_eq!(jira.status, 201, "{}", jira.text());
    let basic = a
        .post(APPS)
        .admin()
        .json(&json!({"name": "basic-app", "type": "JIRA", "active": true, "password": {"value": "app-pw"},
            "directory-mappings": mapping, "remote-addresses": loopback}))
        .send();
    assert_eq!(basic.status, 201, "{}", basic.text());
    let r = b
        .post(LINKS)
        .admin()
        .json(&json!({"name": "to-a", "direction": "OUTGOING", "serviceProvider": "throng A",
            "tokenUrl": format!("{}/rest/oauth2/latest/token", a.url()),
            "clientId": client["clientId"], "clientSecret": client["clientSecret"]}))
        .send();
    assert_eq!(r.status, 201, "{}", r.text());
    jira.json()["id"].as_u64().unwrap()
}

pub const SCIM_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const SCIM_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const SCIM_PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A SCIM directory on `ts`, provisioned by a client that authenticates with an ES256 key
/// and is granted it: what part C sets up.
pub struct Scim {
    pub dir: u64,
    /// `/scim/directory/{dir}`.
    pub base: String,
    pub account: u64,
    pub token: String,
}

impl Scim {
    pub fn setup(ts: &TestServer, atlassian_extension: bool) -> Scim {
        let signer = jwt::Signer::ec("idp-key");
        let name = format!("scim-{}", throng::crypto::hex(&throng::crypto::random_bytes::<3>()));
        let admin = (ADMIN, ADMIN_PASSWORD);
        let p = throng::bench::scim::setup(ts.addr(), admin, &name, atlassian_extension, &signer)
            .unwrap_or_else(|e| panic!("SCIM set-up: {e}"));
        let detail =
            ts.get(&format!("/rest/admin/1.0/directory/detailed/{}", p.dir)).admin().send();
        assert_eq!(detail.json()["scimBaseUrl"], format!("{}/scim/directory/{}", ts.url(), p.dir));
        Scim { dir: p.dir, base: p.base, account: p.account, token: p.token }
    }

    pub fn call(&self, ts: &TestServer, method: &str, path: &str) -> Call {
        ts.req(method, &format!("{}{path}", self.base)).bearer(&self.token)
    }

    /// Creates a user named `name`; returns its resource.
    pub fn user(&self, ts: &TestServer, name: &str) -> Value {
        let r = self
            .call(ts, "POST", "/Users")
            .json(&json!({"schemas": [SCIM_USER], "userName": name,
                "name": {"givenName": "Given", "familyName": name},
                "emails": [{"value": format!("{name}@example.com"), "primary": true, "type": "work"}]}))
            .send();
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()
    }
}
