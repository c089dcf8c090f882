//! Directory sync when the other side misbehaves: a server that is not Crowd, one that
//! answers garbage, too much, or nothing at all, one nobody runs. Each sync fails with a
//! status that says what happened, the directory keeps what it had, and once the settings
//! point at a real server again the next sync succeeds.

mod common;
use common::fake::{Behaviour, FakeServer, CROWD};
use common::*;
use serde_json::{json, Value};
use std::net::TcpListener;
use std::time::{Duration, Instant};

const DIRS: &str = "/rest/admin/1.0/directory/detailed";

fn sync(b: &TestServer, id: u64) -> Value {
    let r = b.post(&format!("{DIRS}/{id}/synchronize?wait=true")).admin().send();
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

fn point_at(b: &TestServer, id: u64, url: &str) {
    let r = b
        .put(&format!("{DIRS}/{id}"))
        .admin()
        .json(&json!({"serverUrl": url, "applicationPassword": "app-pw"}))
        .send();
    assert_eq!(r.status, 200, "{}", r.text());
}

fn users(b: &TestServer) -> Value {
    let r = b
        .get("/rest/usermanagement/1/search?entity-type=user&max-results=-1&expand=user,attributes")
        .basic("reader", "pw")
        .header("Accept", "application/json")
        .send();
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

#[test]
fn a_server_that_is_not_crowd_answers_garbage_too_much_or_nothing_changes_nothing() {
    let a = TestServer::start();
    let b = TestServer::start_with(|c| {
        c.outbound_timeout = Duration::from_millis(700);
        c.outbound_max_body = 64 << 10;
    });
    link_servers(&a, &b);
    let r = b
        .post(DIRS)
        .admin()
        .json(&json!({"name": "From A", "type": "CROWD", "serverUrl": a.url(),
            "applicationName": "basic-app", "applicationPassword": "app-pw", "syncInterval": "off"}))
        .send();
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["id"].as_u64().unwrap();
    let body = json!({"name": "reader", "type": "GENERIC_APPLICATION", "active": true,
        "password": {"value": "pw"}, "directory-mappings": [{"directory-id": id, "authenticate-all": true}],
        "remote-addresses": [{"value": "127.0.0.1"}]});
    assert_eq!(b.post(APPS).admin().json(&body).send().status, 201);
    assert_eq!(sync(&b, id)["state"], "SUCCEEDED");
    let before = users(&b);
    assert_eq!(before["users"].as_array().unwrap().len(), 1, "{before}");

    let fake = FakeServer::start();
    point_at(&b, id, &fake.url);
    let big = vec![b' '; 100 << 10];
    let cases: Vec<(Behaviour, &str)> = vec![
        // An empty list from a server that is not Crowd must not empty the directory.
        (
            Behaviour::Answer(200, vec![], br#"{"users":[],"groups":[]}"#.to_vec()),
            "not a Crowd answer",
        ),
        (
            Behaviour::Answer(200, vec![CROWD], b"{not json".to_vec()),
            "not the JSON a Crowd server answers",
        ),
        (
            Behaviour::Answer(200, vec![CROWD], b"[1,2,3]".to_vec()),
            "not the JSON a Crowd server answers",
        ),
        (Behaviour::Answer(200, vec![CROWD], big), "larger than the 65536 bytes allowed"),
        (Behaviour::Answer(500, vec![CROWD], b"<html>oops</html>".to_vec()), "500"),
        (Behaviour::Silent, "no answer in time"),
    ];
    for (behaviour, expected) in cases {
        fake.set(behaviour);
        let status = sync(&b, id);
        assert_eq!(status["state"], "FAILED", "{status}");
        let error = status["error"].as_str().unwrap();
        assert!(error.contains(expected), "{expected:?} in {error:?}");
        assert_eq!(users(&b), before, "a failed sync changes nothing");
    }

    // Nobody there at all.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    point_at(&b, id, &format!("http://{closed}"));
    let status = sync(&b, id);
    assert!(status["error"].as_str().unwrap().contains("nothing listens"), "{status}");

    // A slow sync runs in the background; a second ask meanwhile is refused, or waited for.
    point_at(&b, id, &fake.url);
    fake.set(Behaviour::Silent);
    let started = Instant::now();
    let r = b.post(&format!("{DIRS}/{id}/synchronize")).admin().send();
    assert_eq!(r.status, 202, "{}", r.text());
    let busy = b.post(&format!("{DIRS}/{id}/synchronize")).admin().send();
    assert_crowd_error(&busy, 409, "OPERATION_FAILED");
    // Nor do its settings change under it: it would commit what it read under them.
    let r = b.put(&format!("{DIRS}/{id}")).admin().json(&json!({"syncInterval": "2h"})).send();
    assert_crowd_error(&r, 409, "OPERATION_FAILED");
    let waited = sync(&b, id);
    assert_eq!(waited["state"], "FAILED", "the running one's outcome: {waited}");
    assert!(started.elapsed() < Duration::from_secs(10), "bounded by the outbound timeout");

    // Back to A: the next sync succeeds, in full (another server's token means nothing).
    point_at(&b, id, &a.url());
    let again = sync(&b, id);
    assert_eq!(
        (again["state"].as_str(), again["mode"].as_str(), again["added"].as_u64()),
        (Some("SUCCEEDED"), Some("FULL"), Some(0)),
        "{again}"
    );
    assert_eq!(users(&b), before);
}
