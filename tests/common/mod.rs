//! Test support: a real throng on `127.0.0.1:0` with a fresh temp data directory, a request
//! builder over real HTTP, and helpers for the common set-up steps. Every test file starts
//! its own servers; nothing is shared between tests.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use throng::config::Config;
use throng::http::client::{ClientResponse, Connection};
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
        use base64::Engine;
        let v = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.header("Authorization", &format!("Basic {v}"))
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
    };
    ts.running().store().unwrap().create_user(&user).unwrap();
}
