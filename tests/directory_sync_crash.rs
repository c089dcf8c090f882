//! A directory sync cut short by `kill -9`: B (the real `throng` binary) is killed while it
//! applies a large directory from A, restarted on the same data directory, and must show no
//! half-applied directory (the sync is one transaction: all of it or none), say that the sync
//! was interrupted, keep everything it had, and succeed on the next sync.
#![cfg(unix)]

mod common;
use common::*;
use serde_json::Value;
use std::time::{Duration, Instant};
use throng::bench::sync::{link, Server};

const USERS: usize = 20_000;
const DIRS: &str = "/rest/admin/1.0/directory/detailed";

fn admin_call(server: &ChildServer, method: &str, path: &str) -> (u16, Value) {
    let auth = basic_header(ADMIN, ADMIN_PASSWORD);
    let headers = [("Authorization", auth.as_str()), ("Accept", "application/json")];
    let r = server.connect().send(method, path, &headers, b"").expect("B answers");
    (r.status, r.json())
}

#[test]
fn a_sync_killed_half_way_applies_nothing_and_the_next_one_succeeds() {
    let mut a = TestServer::start();
    a.with_store(|store| {
        let shape = throng::bench::directory::Shape::scaled(USERS);
        let bulk = throng::bench::directory::generate(shape, 1_700_000_000_000);
        store.load_bulk(1, &bulk).unwrap();
    });
    let b_dir = TempDir::new("throng-sync-crash");
    let mut b = ChildServer::start(b_dir.path(), &[]);
    let dir = link(
        Server { addr: a.addr(), admin_password: ADMIN_PASSWORD },
        Server { addr: b.addr, admin_password: ADMIN_PASSWORD },
    )
    .unwrap();

    let (status, _) = admin_call(&b, "POST", &format!("{DIRS}/{dir}/synchronize"));
    assert_eq!(status, 202);
    // Kill it while it applies what it read: the one transaction that writes.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, detail) = admin_call(&b, "GET", &format!("{DIRS}/{dir}"));
        let sync = &detail["synchronisation"];
        if sync["progress"].as_str().is_some_and(|p| p.starts_with("applying")) {
            break;
        }
        assert_ne!(sync["state"], "SUCCEEDED", "the sync ended before the kill: {detail}");
        assert!(Instant::now() < deadline, "the sync never reached its write: {detail}");
    }
    b.kill9();

    let mut b = ChildServer::start(b_dir.path(), &[]);
    let (_, detail) = admin_call(&b, "GET", &format!("{DIRS}/{dir}"));
    assert_eq!(
        (detail["userCount"].as_u64(), detail["groupCount"].as_u64()),
        (Some(0), Some(0)),
        "nothing of the interrupted sync is applied: {detail}"
    );
    assert_eq!(detail["synchronisation"]["state"], "FAILED", "{detail}");
    let error = detail["synchronisation"]["error"].as_str().unwrap();
    assert!(error.contains("interrupted"), "{error}");
    let (_, internal) = admin_call(&b, "GET", &format!("{DIRS}/1"));
    assert_eq!(internal["userCount"], 1, "B's own directory keeps its admin: {internal}");

    let (status, sync) = admin_call(&b, "POST", &format!("{DIRS}/{dir}/synchronize?wait=true"));
    assert_eq!((status, sync["state"].as_str()), (200, Some("SUCCEEDED")), "{sync}");
    let (_, detail) = admin_call(&b, "GET", &format!("{DIRS}/{dir}"));
    assert_eq!(detail["userCount"].as_u64(), Some(USERS as u64 + 1), "{detail}");
    b.stop();
}
