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
use std::path::Path;
use std::process::{Command, ExitStatus};
use std::time::{Duration, UNIX_EPOCH};

#[cfg(unix)]
use std::os::unix::fs::PermissionsExt;

/// Starts the binary on `dir`; panics with its log unless it listens. Returns the server and
/// what it logged by then.
fn listening(dir: &Path) -> (ChildServer, String) {
    let server = ChildServer::start(dir, &[]);
    let log = server.log_text();
    (server, log)
}

/// Starts the binary on `dir` where it must refuse; returns how it exited and its whole log.
fn refused(dir: &Path) -> (ExitStatus, String) {
    match ChildServer::launch(dir, &[], None, &[]) {
        Err(r) => (r.status, r.log),
        Ok(s) => panic!("throng started where it must refuse:\n{}", s.log_text()),
    }
}

/// SIGTERM, and a clean exit.
fn stopped(mut server: ChildServer) {
    let status = server.stop();
    assert!(status.success(), "exit {status:?}:\n{}", server.log_text());
}

/// First start of a fresh data directory, with one service account, then a clean stop.
fn first_start(dir: &Path) -> String {
    let (server, _) = listening(dir);
    let addr = server.addr;
    let mut conn = throng::bench::client::Connection::connect(addr).unwrap();
    let auth = basic_header(ADMIN, ADMIN_PASSWORD);
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
    stopped(server);
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

    let (status, log) = refused(dir.path());
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

    let (status, log) = refused(dir.path());
    let log = log.to_lowercase();
    assert!(!status.success(), "{status:?}");
    assert!(log.contains("secret.key"), "{log}");
    assert!(log.contains("not the key"), "{log}");
    assert!(log.contains("backup"), "{log}");
    assert_eq!(digest(&db), before, "the database was written to");

    // With its own key back, it starts and everything is as it was.
    write_key(&key, &ours);
    let (server, _) = listening(dir.path());
    stopped(server);
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
    let (status, log) = refused(dir.path());
    assert!(!status.success());
    assert!(log.contains("not the key"), "{log}");
    assert_eq!(key_check(&db), None, "a wrong key's check value was recorded");

    write_key(&key, &ours);
    let (server, log) = listening(dir.path());
    assert!(log.contains("recorded the check value"), "{log}");
    stopped(server);
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

    let (server, log) = listening(dir.path());
    assert_eq!(mode(&key), 0o600);
    let warning = log.lines().find(|l| l.contains("WARN") && l.contains("secret.key"));
    assert!(warning.is_some_and(|l| l.contains("0644")), "{log}");
    stopped(server);
}

#[cfg(unix)]
#[test]
fn the_data_directory_is_created_owner_only() {
    let parent = TempDir::new("throng-keys");
    let dir = parent.path().join("nested").join("data");
    let (server, log) = listening(&dir);
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("secret.key")), 0o600);
    assert_eq!(mode(&dir.join("throng.redb")), 0o600);
    assert!(!log.contains("WARN"), "{log}");
    stopped(server);
}

/// An existing directory that others may enter is left as it is (the operator chose it), with
/// a warning; the files in it are owner-only whatever the directory's mode.
#[cfg(unix)]
#[test]
fn an_existing_data_directory_open_to_others_gets_a_warning() {
    let dir = TempDir::new("throng-keys");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let (server, log) = listening(dir.path());
    let warning = log.lines().find(|l| l.contains("WARN") && l.contains("0755"));
    assert!(warning.is_some(), "{log}");
    assert_eq!(mode(dir.path()), 0o755);
    assert_eq!(mode(&dir.path().join("secret.key")), 0o600);
    stopped(server);
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
            let throng::store::records::Credential::ClientSecret(s) = c else {
                return None;
            };
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
