//! Directory sync when the other side misbehaves: a server that is not Crowd, one that
//! answers garbage, too much, or nothing at all, one nobody runs. Each sync fails with a
//! status that says what happened, the directory keeps what it had, and once the settings
//! point at a real server again the next sync succeeds.

mod common;
use common::*;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const DIRS: &str = "/rest/admin/1.0/directory/detailed";

/// What the fake server does with each request.
#[derive(Clone)]
enum Behaviour {
    /// Answers with this status, these extra headers and this body.
    Answer(u16, Vec<(&'static str, &'static str)>, Vec<u8>),
    /// Reads the request and says nothing until the client gives up.
    Silent,
}

/// A loopback HTTP server that answers as told, whatever is asked.
struct FakeServer {
    url: String,
    behaviour: Arc<Mutex<Behaviour>>,
}

impl FakeServer {
    fn start() -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let behaviour = Arc::new(Mutex::new(Behaviour::Silent));
        let shared = behaviour.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let behaviour = shared.lock().unwrap().clone();
                std::thread::spawn(move || serve(stream, behaviour));
            }
        });
        FakeServer { url, behaviour }
    }

    fn set(&self, behaviour: Behaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }
}

fn serve(mut stream: TcpStream, behaviour: Behaviour) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    match behaviour {
        Behaviour::Answer(status, headers, body) => {
            let mut out = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\n", body.len());
            for (n, v) in headers {
                out.push_str(&format!("{n}: {v}\r\n"));
            }
            out.push_str("Connection: close\r\n\r\n");
            let _ = stream.write_all(out.as_bytes());
            let _ = stream.write_all(&body);
        }
        // Until the client closes its end.
        Behaviour::Silent => while stream.read(&mut byte).is_ok_and(|n| n > 0) {},
    }
}

const CROWD: (&str, &str) = ("X-Embedded-Crowd-Version", "Crowd/7.0.0");

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
