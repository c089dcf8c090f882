//! The data directory as an operator meets it: what throng does when `secret.key` is lost,
//! replaced or too open, the modes it gives what it creates, how long a token may live next
//! to the credential that obtained it, and how the command line refuses what it does not know.
//!
//! Most tests start the real binary (`CARGO_BIN_EXE_throng`) on a fresh temp directory and
//! read its log; none sleeps to wait for it: each reads the log until `listening on` or the
//! end of the output.

mod common;
use common::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Lines};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStderr, Command, ExitStatus, Stdio};
use std::time::{Duration, UNIX_EPOCH};

#[cfg(unix)]
use std::os::unix::fs::PermissionsExt;

/// A `throng serve` child, killed on drop if a test leaves it running.
struct Serve {
    child: Child,
    lines: Lines<BufReader<ChildStderr>>,
}

/// How a start ended: listening (with the log up to that line), or exited (with all of it).
enum Outcome {
    Listening { server: Serve, addr: SocketAddr, log: String },
    Exited { status: ExitStatus, log: String },
}

impl Serve {
    fn start(dir: &Path) -> Outcome {
        let mut child = Command::new(env!("CARGO_BIN_EXE_throng"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(dir)
            .env("THRONG_PBKDF2_ITERATIONS", "1000")
            .env("THRONG_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("RUST_LOG", "info")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut server = Serve { child, lines };
        let mut log = String::new();
        while let Some(Ok(line)) = server.lines.next() {
            log.push_str(&line);
            log.push('\n');
            if let Some(u) = line.split("listening on http://").nth(1) {
                let addr = u.trim().parse().unwrap();
                return Outcome::Listening { server, addr, log };
            }
        }
        let status = server.child.wait().unwrap();
        Outcome::Exited { status, log }
    }

    /// SIGTERM, and the log from here to the end, once it has exited cleanly.
    fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let rest: Vec<String> = self.lines.by_ref().map_while(Result::ok).collect();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "exit {status:?}: {rest:?}");
        rest.join("\n")
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn listening(outcome: Outcome) -> (Serve, SocketAddr, String) {
    match outcome {
        Outcome::Listening { server, addr, log } => (server, addr, log),
        Outcome::Exited { status, log } => panic!("throng exited ({status:?}):\n{log}"),
    }
}

fn refused(outcome: Outcome) -> (ExitStatus, String) {
    match outcome {
        Outcome::Exited { status, log } => (status, log),
        Outcome::Listening { log, .. } => panic!("throng started where it must refuse:\n{log}"),
    }
}

/// First start of a fresh data directory, with one service account, then a clean stop.
fn first_start(dir: &Path) -> String {
    let (server, addr, _) = listening(Serve::start(dir));
    let mut conn = throng::http::client::Connection::connect(addr).unwrap();
    let auth = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{ADMIN}:{ADMIN_PASSWORD}")
        )
    );
    let body = json!({"displayName": "keys", "scopes": ["APPLICATION"], "expiryDuration": 86_400});
    let r = conn
        .send(
            "POST",
            SA_PATH,
            &[("Authorization", &auth), ("Content-Type", "application/json")],
            &serde_json::to_vec(&body).unwrap(),
        )
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    server.stop();
    r.json()["authMethods"][0]["id"].as_str().unwrap().to_string()
}

fn write_key(path: &Path, key: &[u8]) {
    std::fs::write(path, key).unwrap();
    #[cfg(unix)]
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// SHA-256 of a file, to tell whether it changed.
fn digest(path: &Path) -> String {
    throng::crypto::hex(&throng::crypto::sha256(&std::fs::read(path).unwrap()))
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

// --- secret.key lost or replaced ---------------------------------------------------------

/// The bug: a database whose secret.key was deleted started with a fresh key, so every live
/// token was silently invalid and the stored client secrets could not be read (500s).
#[test]
fn a_database_without_its_secret_key_refuses_to_start_and_is_left_untouched() {
    let dir = TempDir::new("throng-keys");
    first_start(dir.path());
    let db = dir.path().join("throng.redb");
    let key = dir.path().join("secret.key");
    let before = digest(&db);
    std::fs::remove_file(&key).unwrap();

    let (status, log) = refused(Serve::start(dir.path()));
    let log = log.to_lowercase();
    assert!(!status.success(), "{status:?}");
    assert_ne!(status.code(), Some(0));
    assert!(log.contains("secret.key"), "{log}");
    assert!(log.contains("restore"), "{log}");
    assert!(log.contains("backup"), "{log}");
    // It says how to start over, for an operator who really means to.
    assert!(log.contains("start over"), "{log}");
    assert_eq!(digest(&db), before, "the database was written to");
    assert!(!key.exists(), "a new key was made");
}

#[test]
fn a_key_from_another_installation_is_refused() {
    let dir = TempDir::new("throng-keys");
    first_start(dir.path());
    let key = dir.path().join("secret.key");
    let db = dir.path().join("throng.redb");
    let ours = std::fs::read(&key).unwrap();
    let other = TempDir::new("throng-keys-other");
    first_start(other.path());
    let theirs = std::fs::read(other.path().join("secret.key")).unwrap();
    assert_ne!(ours, theirs);
    write_key(&key, &theirs);
    let before = digest(&db);

    let (status, log) = refused(Serve::start(dir.path()));
    let log = log.to_lowercase();
    assert!(!status.success(), "{status:?}");
    assert!(log.contains("secret.key"), "{log}");
    assert!(log.contains("not the key"), "{log}");
    assert!(log.contains("backup"), "{log}");
    assert_eq!(digest(&db), before, "the database was written to");

    // With its own key back, it starts and everything is as it was.
    write_key(&key, &ours);
    let (server, _, _) = listening(Serve::start(dir.path()));
    server.stop();
}

/// A database written before key check values existed gets one on its first open; a wrong
/// key is caught even then, by a stored client secret that does not decrypt.
#[test]
fn a_database_without_a_key_check_gets_one_but_not_for_a_wrong_key() {
    use redb::ReadableDatabase;
    const META: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("meta");
    let key_check = |db: &Path| -> Option<u64> {
        let db = redb::Database::open(db).unwrap();
        let txn = db.begin_read().unwrap();
        let meta = txn.open_table(META).unwrap();
        meta.get("key_check").unwrap().map(|v| v.value())
    };
    let forget_key_check = |db: &Path| {
        let db = redb::Database::open(db).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(META).unwrap().remove("key_check").unwrap();
        txn.commit().unwrap();
    };

    let dir = TempDir::new("throng-keys");
    first_start(dir.path());
    let db = dir.path().join("throng.redb");
    let key = dir.path().join("secret.key");
    let recorded = key_check(&db).expect("a first start records the key check value");
    forget_key_check(&db);
    assert_eq!(key_check(&db), None);

    let ours = std::fs::read(&key).unwrap();
    write_key(&key, &[0x5a; 32]);
    let (status, log) = refused(Serve::start(dir.path()));
    assert!(!status.success());
    assert!(log.contains("not the key"), "{log}");
    assert_eq!(key_check(&db), None, "a wrong key's check value was recorded");

    write_key(&key, &ours);
    let (server, _, log) = listening(Serve::start(dir.path()));
    assert!(log.contains("recorded the check value"), "{log}");
    server.stop();
    assert_eq!(key_check(&db), Some(recorded));
}

// --- file and directory modes ----------------------------------------------------------

/// A key file readable by others (a restore with a loose umask, say) is made owner-only again,
/// and the log says so.
#[cfg(unix)]
#[test]
fn a_key_file_readable_by_others_is_made_0600_with_a_warning() {
    let dir = TempDir::new("throng-keys");
    first_start(dir.path());
    let key = dir.path().join("secret.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();

    let (server, _, log) = listening(Serve::start(dir.path()));
    assert_eq!(mode(&key), 0o600);
    let warning = log.lines().find(|l| l.contains("WARN") && l.contains("secret.key"));
    assert!(warning.is_some_and(|l| l.contains("0644")), "{log}");
    server.stop();
}

#[cfg(unix)]
#[test]
fn the_data_directory_is_created_owner_only() {
    let parent = TempDir::new("throng-keys");
    let dir = parent.path().join("nested").join("data");
    let (server, _, log) = listening(Serve::start(&dir));
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("secret.key")), 0o600);
    assert_eq!(mode(&dir.join("throng.redb")), 0o600);
    assert!(!log.contains("WARN"), "{log}");
    server.stop();
}

/// An existing directory that others may enter is left as it is (the operator chose it), with
/// a warning; the files in it are owner-only whatever the directory's mode.
#[cfg(unix)]
#[test]
fn an_existing_data_directory_open_to_others_gets_a_warning() {
    let dir = TempDir::new("throng-keys");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let (server, _, log) = listening(Serve::start(dir.path()));
    let warning = log.lines().find(|l| l.contains("WARN") && l.contains("0755"));
    assert!(warning.is_some(), "{log}");
    assert_eq!(mode(dir.path()), 0o755);
    assert_eq!(mode(&dir.path().join("secret.key")), 0o600);
    server.stop();
}

// --- token lifetime and the credential's -------------------------------------------------

fn millis(rfc3339: &str) -> u64 {
    let t = humantime::parse_rfc3339(rfc3339).unwrap();
    t.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

fn issue(ts: &TestServer, id: &str, secret: &str) -> Value {
    let r = ts.post(TOKEN_PATH).basic(id, secret).form("grant_type=client_credentials").send();
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

fn introspect(ts: &TestServer, token: &str) -> Value {
    let r =
        ts.post("/rest/oauth2/latest/introspect").admin().form(&format!("token={token}")).send();
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["active"], true, "{v}");
    v
}

/// Checks that a token answer and its introspection agree and end no later than `until`
/// (milliseconds).
fn assert_capped(ts: &TestServer, answer: &Value, until: u64) -> u64 {
    let expires_in = answer["expires_in"].as_u64().unwrap();
    let i = introspect(ts, answer["access_token"].as_str().unwrap());
    let (exp, iat) = (i["exp"].as_u64().unwrap(), i["iat"].as_u64().unwrap());
    assert_eq!(exp - iat, expires_in, "{i} vs {answer}");
    assert!(exp * 1000 <= until, "token exp {exp} outlives its credential ({until} ms)");
    expires_in
}

/// The bug: a credential that expired in 2 seconds obtained tokens that lived an hour.
#[test]
fn a_token_never_outlives_a_short_credential() {
    let ts = TestServer::start();
    let r = ts
        .post(SA_PATH)
        .admin()
        .json(&json!({"displayName": "brief", "scopes": ["APPLICATION"], "expiryDuration": 2}))
        .send();
    assert_eq!(r.status, 201, "{}", r.text());
    let a = Account::from(r.json());
    let until = millis(a.json["authMethods"][0]["expiryDate"].as_str().unwrap());
    let answer = issue(&ts, &a.client_id, &a.secret);
    let expires_in = assert_capped(&ts, &answer, until);
    assert!((1..=2).contains(&expires_in), "{answer}");
}

#[test]
fn a_token_ends_with_its_credential_late_in_the_credentials_life() {
    let ts = TestServer::start();
    let r = ts
        .post(SA_PATH)
        .admin()
        .json(&json!({"displayName": "late", "scopes": ["APPLICATION"], "expiryDuration": 7200}))
        .send();
    assert_eq!(r.status, 201, "{}", r.text());
    let a = Account::from(r.json());
    let until = millis(a.json["authMethods"][0]["expiryDate"].as_str().unwrap());
    // Early on the configured lifetime (1 h) fits inside the credential's two hours.
    assert_eq!(assert_capped(&ts, &issue(&ts, &a.client_id, &a.secret), until), 3600);
    ts.advance_clock(Duration::from_secs(7100));
    let answer = issue(&ts, &a.client_id, &a.secret);
    let expires_in = assert_capped(&ts, &answer, until);
    assert!((98..=100).contains(&expires_in), "{answer}");
    let token = answer["access_token"].as_str().unwrap();
    assert_eq!(ts.bearer_status(token), 200);
    ts.advance_clock(Duration::from_secs(101));
    assert_eq!(ts.bearer_status(token), 401);
}

/// A rotated-out pair works until its grace ends, and so do the tokens it obtains.
#[test]
fn a_token_from_a_rotated_out_pair_ends_with_the_grace_period() {
    let ts = TestServer::start_with(|c| c.rotation_grace = Duration::from_secs(90));
    let a = ts.create_account("rotated");
    let before = issue(&ts, &a.client_id, &a.secret);
    let r = ts.post(&format!("/rest/oauth2/latest/rotate/{}", a.client_id)).admin().send();
    assert_eq!(r.status, 200, "{}", r.text());
    let fresh = r.json();
    // The old pair's grace end, as stored.
    let client = ts.running().store().unwrap().oauth_client(&a.config_id).unwrap().unwrap();
    let grace_end = client
        .credentials
        .iter()
        .find_map(|c| {
            let throng::store::records::Credential::ClientSecret(s) = c;
            (s.client_id == a.client_id).then_some(s.retired_until).flatten()
        })
        .unwrap();

    let answer = issue(&ts, &a.client_id, &a.secret);
    let expires_in = assert_capped(&ts, &answer, grace_end);
    assert!((89..=90).contains(&expires_in), "{answer}");
    // The new pair's tokens get the full lifetime.
    let new =
        issue(&ts, fresh["clientId"].as_str().unwrap(), fresh["clientSecret"].as_str().unwrap());
    assert_eq!(new["expires_in"], 3600);

    // Past the grace end: the old pair's late token is dead; one issued before the rotation
    // lives on to its own expiry, as the README says.
    ts.advance_clock(Duration::from_secs(91));
    assert_eq!(ts.bearer_status(answer["access_token"].as_str().unwrap()), 401);
    assert_eq!(ts.bearer_status(before["access_token"].as_str().unwrap()), 200);
    assert_eq!(ts.bearer_status(new["access_token"].as_str().unwrap()), 200);
}

// --- the command line --------------------------------------------------------------------

#[test]
fn an_unknown_command_is_named_and_exits_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_throng")).arg("frob").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown command"), "{err}");
    assert!(err.contains("frob"), "{err}");
    assert!(err.contains("throng serve"), "the usage should follow: {err}");
}
