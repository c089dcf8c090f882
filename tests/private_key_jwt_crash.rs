//! Replay protection across `kill -9`: the real `throng` binary takes a stream of fresh
//! client assertions from several connections and is killed with SIGKILL in the middle of
//! it. After a restart on the same data directory, every assertion it had answered 200 must
//! be refused as used, and a fresh one must work. The replay journal is written before each
//! answer, so nothing answered can be missing from it, whatever the kill interrupts.
//!
//! No fixed sleeps: the test polls the count of answers with a bounded deadline.
#![cfg(unix)]

mod common;
use common::jwt::{self, Signer};
use common::*;

use serde_json::json;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use throng::bench::client::Connection;

const AUD: &str = "https://throng.example/oauth/token";
const MIN_ANSWERED: usize = 1500;
const SENDERS: usize = 4;
const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

fn start(dir: &Path, durability: &str) -> ChildServer {
    // Replaying every answered assertion is a run of failures: the throttle must not stop it.
    let args = [
        "--assertion-audience",
        AUD,
        "--auth-failure-limit",
        "1000000",
        "--replay-durability",
        durability,
    ];
    let server = ChildServer::start(dir, &args);
    assert!(server.answers_within(Duration::from_secs(10)), "no /status:\n{}", server.log_text());
    server
}

fn exchange(conn: &mut Connection, assertion: &str) -> std::io::Result<u16> {
    conn.send("POST", TOKEN_PATH, &[FORM], jwt::form(assertion).as_bytes()).map(|r| r.status)
}

#[test]
fn assertions_answered_before_kill_9_stay_used_after_it() {
    killed_mid_stream("os");
}

/// The same with `disk` durability, where each answer waits for its record's flush outside
/// the worker permit (a held reply).
#[test]
fn with_disk_durability_too() {
    killed_mid_stream("disk");
}

fn killed_mid_stream(durability: &str) {
    let dir = TempDir::new("throng-pkjwt-crash");
    let mut server = start(dir.path(), durability);
    let signer = Arc::new(Signer::ec("crash"));
    let body = json!({"displayName": "idp", "scopes": ["manage:directory"],
        "expiryDuration": 86_400, "jwks": signer.jwks()});
    let auth = basic_header(ADMIN, ADMIN_PASSWORD);
    let r = server
        .connect()
        .send(
            "POST",
            SA_PATH,
            &[("Authorization", &auth), ("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    let client: String = r.json()["authMethods"][0]["clientId"].as_str().unwrap().into();

    let answered = Arc::new(Mutex::new(Vec::<String>::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(Mutex::new(Vec::<u16>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = (0..SENDERS)
        .map(|_| {
            let (addr, signer, client) = (server.addr, signer.clone(), client.clone());
            let (answered, count, refused, stop) =
                (answered.clone(), count.clone(), refused.clone(), stop.clone());
            std::thread::spawn(move || {
                let Ok(mut conn) = Connection::connect(addr) else { return };
                while !stop.load(Ordering::SeqCst) {
                    let a = signer.sign(&jwt::claims(&client, AUD, jwt::now()));
                    match exchange(&mut conn, &a) {
                        Ok(200) => {
                            answered.lock().unwrap().push(a);
                            count.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(status) => refused.lock().unwrap().push(status),
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while count.load(Ordering::SeqCst) < MIN_ANSWERED {
        assert!(
            Instant::now() < deadline,
            "only {} answered in 60 s",
            count.load(Ordering::SeqCst)
        );
        std::thread::yield_now();
    }
    // Killed while the senders are still sending.
    server.kill9();
    stop.store(true, Ordering::SeqCst);
    senders.into_iter().for_each(|t| t.join().unwrap());
    assert!(
        refused.lock().unwrap().is_empty(),
        "refused before the kill: {:?}",
        refused.lock().unwrap()
    );
    let answered = answered.lock().unwrap().clone();

    let server = start(dir.path(), durability);
    let mut conn = server.connect();
    let mut accepted_again = 0;
    for a in &answered {
        let r = conn.send("POST", TOKEN_PATH, &[FORM], jwt::form(a).as_bytes()).unwrap();
        if r.status != 401 || !r.text().contains("used before") {
            accepted_again += 1;
        }
    }
    assert_eq!(accepted_again, 0, "of {} assertions answered before the kill", answered.len());
    let fresh = signer.sign(&jwt::claims(&client, AUD, jwt::now()));
    assert_eq!(exchange(&mut conn, &fresh).unwrap(), 200, "{}", server.log_text());
}
