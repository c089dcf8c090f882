//! The whole README flow over real HTTP, and the binary itself started as an operator would.

mod common;
use common::*;
use std::process::Command;

#[test]
fn readme_flow_create_account_get_token_call_api() {
    let ts = TestServer::start();
    let r = ts.get("/status").send();
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), serde_json::json!({"state": "RUNNING"}));

    let acct = ts.create_account("ci bot");
    let r = ts
        .post(TOKEN_PATH)
        .form(&format!(
            "grant_type=client_credentials&client_id={}&client_secret={}&scope=APPLICATION",
            acct.client_id, acct.secret
        ))
        .send();
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "APPLICATION");
    let token = body["access_token"].as_str().unwrap();

    let r = ts
        .get("/crowd/rest/usermanagement/1/user?username=admin")
        .bearer(token)
        .header("Accept", "application/json")
        .send();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["name"], "admin");
    assert_eq!(r.header("X-Embedded-Crowd-Version"), Some("Crowd/7.0.0"));
}

/// Starts the real binary on port 0, reads the port from its one `listening on` line, polls
/// /status until it answers, then stops it with SIGTERM and expects a clean exit.
#[test]
fn binary_serves_and_stops_on_sigterm() {
    let dir = TempDir::new("throng-test");
    let launched = ChildServer::launch(dir.path(), &[], None, &[("THRONG_ADMIN_PASSWORD", None)]);
    let mut server = launched.unwrap_or_else(|r| panic!("exited: {r:?}"));
    let addr = server.addr;
    assert_ne!(addr.port(), 0);
    let start_log = server.log_text();
    let logged_password = start_log
        .lines()
        .find_map(|l| l.split("with password ").nth(1))
        .and_then(|p| p.split(' ').next())
        .map(String::from);

    // The generated password is logged once and written to a 0600 file.
    let file = dir.path().join("initial-admin-password");
    let password = std::fs::read_to_string(&file).unwrap().trim().to_string();
    assert_eq!(logged_password.as_deref(), Some(password.as_str()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(
            std::fs::metadata(dir.path().join("secret.key")).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let db = std::fs::metadata(dir.path().join("throng.redb")).unwrap();
        assert_eq!(db.permissions().mode() & 0o777, 0o600);
    }
    let mut conn = throng::bench::client::Connection::connect(addr).unwrap();
    let r = conn.send("GET", "/status", &[], b"").unwrap();
    assert_eq!(r.status, 200);
    let auth = basic_header("admin", &password);
    let r = conn.send("GET", SA_PATH, &[("Authorization", &auth)], b"").unwrap();
    assert_eq!(r.status, 200, "{}", r.text());

    let exit = server.stop();
    assert!(exit.success(), "exit status {exit:?}");
    let log = server.log_text();
    let rest = &log[start_log.len()..];
    assert!(rest.contains("stopped"), "{rest}");
    assert_eq!(log.matches(password.as_str()).count(), 1, "password logged again: {log}");
}

#[test]
fn help_explains_every_option() {
    let out =
        Command::new(env!("CARGO_BIN_EXE_throng")).args(["serve", "--help"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--data",
        "--listen",
        "--base-url",
        "--workers",
        "THRONG_DATA",
        "THRONG_LISTEN",
        "THRONG_BASE_URL",
    ] {
        assert!(text.contains(flag), "{flag} missing from help:\n{text}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_throng")).arg("--help").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8(out.stdout).unwrap().contains("serve"));
}

/// `throng bench` starts its own server, runs the suite and prints its table.
#[test]
fn bench_command_runs_a_short_suite() {
    let out = Command::new(env!("CARGO_BIN_EXE_throng"))
        .args(["bench", "--duration", "300ms", "--warmup", "0s", "--connections", "2"])
        .args(["--scenarios", "ceiling,issue,validate,introspect,mixed,jwt-es256"])
        .args(["--jwt-pool", "20000"])
        .args(["--serve-arg", "--pbkdf2-iterations", "--serve-arg", "1000"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let rows = ["ceiling", "issue", "validate", "introspect", "mixed", "jwt-es256", "% ceiling"];
    for row in rows.into_iter().chain(["peak RSS"]) {
        assert!(stdout.contains(row), "{row} missing:\n{stdout}");
    }
    // No scenario may have failed requests: the error columns are all zero.
    let checked = ["issue", "validate", "jwt-es256"];
    for line in stdout.lines().filter(|l| checked.iter().any(|c| l.starts_with(c))) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(&cols[cols.len() - 3..cols.len() - 1], ["0", "0"], "{line}");
    }
    let bad = Command::new(env!("CARGO_BIN_EXE_throng"))
        .args(["bench", "--scenarios", "nope"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
