//! Real clients: Python's authlib, requests and python-crowd drive a real throng, as operators'
//! scripts and applications do.
//!
//! The test makes its own virtual environment under `target/py-venv` from
//! `tests/python/requirements.txt` when it is missing (`.ci/run` makes it up front), so
//! `cargo test` alone sets everything up on a fresh machine.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

fn venv_python() -> PathBuf {
    // Tests run in parallel threads; one of them builds the venv, the others wait for it.
    static BUILD: Mutex<()> = Mutex::new(());
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = root.join("target/py-venv");
    let python = venv.join("bin/python");
    let stamp = venv.join("requirements.installed");
    let wanted = std::fs::read_to_string(root.join("tests/python/requirements.txt")).unwrap();
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return python;
    }
    let ok =
        Command::new("python3").arg("-m").arg("venv").arg(&venv).status().expect("python3 runs");
    assert!(ok.success(), "python3 -m venv failed");
    let ok = Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"])
        .arg(root.join("tests/python/requirements.txt"))
        .status()
        .expect("pip runs");
    assert!(ok.success(), "pip install -r tests/python/requirements.txt failed");
    std::fs::write(&stamp, wanted).unwrap();
    python
}

/// Runs `tests/python/{script}` against a fresh throng; it must pass every check.
fn run_python(script: &str) {
    let python = venv_python();
    let ts = TestServer::start();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python").join(script);
    let out = Command::new(python)
        .arg(&script)
        .args([&ts.url(), ADMIN, ADMIN_PASSWORD])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{} failed:\n{stdout}\n{stderr}", script.display());
    assert!(stdout.contains("checks passed"), "{stdout}");
}

#[test]
fn authlib_and_requests_work_unchanged() {
    run_python("real_clients.py");
}

/// python-crowd 3.1.0, every method it has, against a live throng (`tests/python/crowd_client.py`).
#[test]
fn python_crowd_works_unchanged() {
    run_python("crowd_client.py");
}

/// authlib's `private_key_jwt` (RS256 + kid, ES256 from a JWKS URL) and Atlassian's part C
/// JSON request signed with joserfc (`tests/python/private_key_jwt.py`).
#[test]
fn authlib_private_key_jwt_works_unchanged() {
    run_python("private_key_jwt.py");
}

/// scim2-tester 0.5.2, every check, against a live SCIM directory with a token obtained by
/// an ES256 client assertion (`tests/python/scim_conformance.py`): none may fail; only its
/// `POST /.search` check may be skipped.
#[test]
fn scim2_tester_finds_no_failure() {
    run_python("scim_conformance.py");
}
