//! The front door as a hostile client meets it: malformed and oversized requests get answers
//! in the API's own shape (never silence or a hang), slow clients are timed out without
//! starving anyone, the connection budget holds, and refused requests change nothing.
//! Each test drives a real server over raw sockets on 127.0.0.1.

mod common;
use common::*;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// A response read off a raw socket, and whether the server closed the connection after it.
#[derive(Debug)]
struct Raw {
    status: u16,
    head: String,
    body: String,
    closed: bool,
}

impl Raw {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Reads one response (Content-Length framed) and then checks whether the connection closes.
fn read_response(s: &mut TcpStream) -> Raw {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).expect("a response, not a hang");
        assert!(
            n > 0,
            "connection closed without a response; got {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let raw = Raw { status, head, body: String::new(), closed: false };
    let len: usize = raw.header("Content-Length").map_or(0, |v| v.parse().unwrap());
    while buf.len() < head_end + len {
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "body cut short");
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..head_end + len]).into_owned();
    let closed =
        raw.header("Connection").is_some_and(|v| v.eq_ignore_ascii_case("close")) && closes(s);
    Raw { body, closed, ..raw }
}

/// True when the server closes its side within a few seconds.
fn closes(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut b = [0u8; 1024];
    loop {
        match s.read(&mut b) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

/// Sends `bytes` on a new connection and reads the one response.
fn raw(addr: SocketAddr, bytes: &[u8]) -> Raw {
    let mut s = connect(addr);
    // The server may answer and close before all of an oversized request is written.
    let _ = s.write_all(bytes);
    read_response(&mut s)
}

fn fast_timeouts(c: &mut throng::config::Config) {
    c.head_timeout = Duration::from_millis(800);
    c.body_timeout = Duration::from_millis(800);
    c.min_body_rate = 1024;
    c.idle_timeout = Duration::from_millis(1500);
}

#[test]
fn malformed_requests_get_answers_in_the_api_shape_and_a_close() {
    let ts = TestServer::start_with(fast_timeouts);
    let a = ts.addr();
    let token = "POST /rest/oauth2/latest/token HTTP/1.1\r\nHost: x\r\n";

    let r = raw(a, format!("{token}Transfer-Encoding: gzip\r\n\r\n").as_bytes());
    assert_eq!((r.status, r.json()["error"].as_str()), (501, Some("server_error")), "{r:?}");
    assert!(r.closed);
    assert_eq!(r.header("Cache-Control"), Some("no-store"), "OAuth errors are no-store");

    let r = raw(a, b"GET /rest/oauth2/latest/token HTTP/2.0\r\nHost: x\r\n\r\n");
    assert_eq!((r.status, r.json()["error"].as_str()), (505, Some("server_error")), "{r:?}");
    assert!(r.closed);

    let sa = "POST /rest/service-accounts/latest/service-accounts HTTP/1.1\r\nHost: x\r\n";
    let r = raw(a, format!("{sa}Content-Length: 2\r\nContent-Length: 2\r\n\r\n{{}}").as_bytes());
    assert_crowd(&r, 400, "ILLEGAL_ARGUMENT");
    let r = raw(
        a,
        format!("{sa}Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n").as_bytes(),
    );
    assert_crowd(&r, 400, "ILLEGAL_ARGUMENT");
    let r = raw(a, format!("{sa}Content-Length: +2\r\n\r\n{{}}").as_bytes());
    assert_crowd(&r, 400, "ILLEGAL_ARGUMENT");

    let r = raw(a, b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n");
    assert_crowd(&r, 400, "ILLEGAL_ARGUMENT");
    let r = raw(a, b"GET /status\r\n\r\n");
    assert_crowd(&r, 400, "ILLEGAL_ARGUMENT");
    let r = raw(a, b"GET /status HTTP/1.1\r\n\r\n");
    assert_crowd(&r, 400, "ILLEGAL_ARGUMENT");
    assert!(r.json()["message"].as_str().unwrap().contains("Host"));
    let r = raw(a, b"GET /status HTTP/1.1\r\nHost : x\r\n\r\n");
    assert_crowd(&r, 400, "ILLEGAL_ARGUMENT");

    // Smuggling vectors: an empty Transfer-Encoding beside Content-Length, chunked framing
    // lines ending in a bare LF, a control character in a chunk extension, a bad trailer.
    let r = raw(a, format!("{sa}Transfer-Encoding: ,\r\nContent-Length: 2\r\n\r\n{{}}").as_bytes());
    assert_crowd(&r, 400, "ILLEGAL_ARGUMENT");
    for chunked in [
        "2;a\n{}\r\n0\r\n\r\n",
        "2\r\n{}\n0\r\n\r\n",
        "2;a\rb\r\n{}\r\n0\r\n\r\n",
        "2\r\n{}\r\n0\r\nBad Trailer: x\r\n\r\n",
    ] {
        let r = raw(a, format!("{sa}Transfer-Encoding: chunked\r\n\r\n{chunked}").as_bytes());
        assert_crowd(&r, 400, "ILLEGAL_ARGUMENT");
    }

    // A body shorter than its Content-Length: 408 when the body deadline passes, not a hang.
    let started = Instant::now();
    let r = raw(a, format!("{token}Content-Length: 100\r\n\r\ngrant_type=").as_bytes());
    assert_eq!((r.status, r.json()["error"].as_str()), (408, Some("invalid_request")), "{r:?}");
    assert!(r.closed);
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());

    // ... and one whose sender closed its side early: 400 at once.
    let mut s = connect(a);
    s.write_all(format!("{token}Content-Length: 100\r\n\r\ngrant").as_bytes()).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let r = read_response(&mut s);
    assert_eq!(r.status, 400, "{r:?}");
}

fn assert_crowd(r: &Raw, status: u16, reason: &str) {
    assert_eq!(r.status, status, "{r:?}");
    assert_eq!(r.json()["reason"], reason, "{r:?}");
    assert!(r.json()["message"].is_string(), "{r:?}");
    assert!(r.closed, "the connection must close after a refusal: {r:?}");
}

#[test]
fn oversized_heads_urls_and_bodies_are_refused_with_their_status() {
    let ts = TestServer::start();
    let a = ts.addr();
    let big = "a".repeat(100_000);

    let r = raw(a, format!("GET /status HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n").as_bytes());
    assert_crowd(&r, 431, "ILLEGAL_ARGUMENT");
    let many: String = (0..150).map(|i| format!("X-{i}: v\r\n")).collect();
    let r = raw(a, format!("GET /status HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes());
    assert_crowd(&r, 431, "ILLEGAL_ARGUMENT");
    let r = raw(
        a,
        format!("GET /rest/oauth2/latest/token?{big} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
    );
    assert_eq!((r.status, r.json()["error"].as_str()), (414, Some("invalid_request")), "{r:?}");
    assert!(r.closed);
    // A 100 MB head of 100,000 headers, the attack of the issue, answered long before its end.
    let mut s = connect(a);
    s.write_all(b"GET /status HTTP/1.1\r\nHost: x\r\n").unwrap();
    let line = b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    let mut sent = 0;
    while sent < 100_000 {
        if s.write_all(line).is_err() {
            break;
        }
        sent += 1;
    }
    assert!(sent < 100_000, "the server kept reading a 100,000-header head");
    // Declared too large: refused before a byte of it is read.
    let r = raw(
        a,
        b"POST /rest/oauth2/latest/token HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n",
    );
    assert_eq!((r.status, r.json()["error"].as_str()), (413, Some("invalid_request")), "{r:?}");
    assert!(r.closed);
    // Chunked past the cap: refused as it grows.
    let mut s = connect(a);
    let _ = s.write_all(b"POST /rest/service-accounts/latest/service-accounts HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    let chunk = format!("{:x}\r\n{}\r\n", 65536, "b".repeat(65536));
    for _ in 0..20 {
        if s.write_all(chunk.as_bytes()).is_err() {
            break;
        }
    }
    let r = read_response(&mut s);
    assert_crowd(&r, 413, "ILLEGAL_ARGUMENT");
}

#[test]
fn lenient_where_the_rfc_allows_and_decoded_paths() {
    let ts = TestServer::start();
    let a = ts.addr();
    // Bare LF line ends (RFC 9112 §2.2), a leading empty line, HTTP/1.0, absolute form.
    let r = raw(a, b"GET /status HTTP/1.1\nHost: x\nConnection: close\n\n");
    assert_eq!(r.status, 200, "{r:?}");
    let r = raw(a, b"\r\nGET /status HTTP/1.0\r\n\r\n");
    assert_eq!((r.status, r.closed), (200, true), "{r:?}");
    assert!(r.head.starts_with("HTTP/1.0 200"));
    let r =
        raw(a, b"GET http://localhost:1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(r.status, 200, "{r:?}");

    // Paths are percent-decoded once before routing; an encoded '/' or NUL is refused.
    assert_eq!(ts.get("/st%61tus").send().status, 200);
    let r = ts.get("/rest/service-accounts/latest/service-accounts%2F1").admin().send();
    assert_crowd_error(&r, 400, "ILLEGAL_ARGUMENT");
    let r = ts.get("/rest/audit/1.0/events%00").admin().send();
    assert_crowd_error(&r, 400, "ILLEGAL_ARGUMENT");
    let r = ts.post("/rest/oauth2/latest/tok%65n").form("grant_type=client_credentials").send();
    assert_oauth_error(&r, 401, "invalid_client");

    // Chunked bodies and Expect: 100-continue work.
    let acct = ts.create_account("chunky");
    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        acct.client_id, acct.secret
    );
    let (a1, a2) = form.split_at(20);
    let chunked = format!(
        "POST /rest/oauth2/latest/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{a1}\r\n{:x};ext=1\r\n{a2}\r\n0\r\nTrailer: x\r\n\r\n",
        a1.len(),
        a2.len()
    );
    let r = raw(a, chunked.as_bytes());
    assert_eq!(r.status, 200, "{r:?}");
    let mut s = connect(a);
    s.write_all(format!("POST /rest/oauth2/latest/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n", form.len()).as_bytes()).unwrap();
    let mut interim = [0u8; 25];
    s.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    s.write_all(form.as_bytes()).unwrap();
    assert_eq!(read_response(&mut s).status, 200);

    // Pipelined requests are answered in order on one connection.
    let mut s = connect(a);
    s.write_all(b"GET /status HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut all = String::new();
    s.read_to_string(&mut all).unwrap();
    let statuses: Vec<&str> = all.split("HTTP/1.1 ").skip(1).map(|r| &r[..3]).collect();
    assert_eq!(statuses, ["200", "404", "200"], "{all}");
}

#[test]
fn refused_requests_change_nothing() {
    let ts = TestServer::start();
    let a = ts.addr();
    let auth = basic_header(ADMIN, ADMIN_PASSWORD);
    let body = r#"{"displayName":"x","scopes":["APPLICATION"],"expiryDuration":60}"#;
    let create = |extra: &str| {
        format!(
            "POST {SA_PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\n{extra}\r\n{body}"
        )
    };
    for extra in [
        format!("Content-Length: {0}\r\nContent-Length: {0}\r\n", body.len()),
        format!("Content-Length: {}\r\nTransfer-Encoding: chunked\r\n", body.len()),
        "Transfer-Encoding: gzip, chunked\r\n".to_string(),
        format!("Content-Length: {}\r\nExpect: something\r\n", body.len()),
    ] {
        let r = raw(a, create(&extra).as_bytes());
        assert!(r.status >= 400 && r.closed, "{extra}: {r:?}");
    }
    let r = ts.get(&format!("{SA_PATH}?active=true")).admin().send();
    assert_eq!(r.json()["size"], 0, "{}", r.text());
    // The well-formed request is accepted, to show the refusals above were about framing.
    let r = raw(
        a,
        create(&format!("Content-Length: {}\r\nConnection: close\r\n", body.len())).as_bytes(),
    );
    assert_eq!(r.status, 201, "{r:?}");
}

/// Slowloris (heads a byte at a time) and slow bodies, a few hundred of each, against short
/// timeouts: `/status` and the token endpoint keep answering throughout, and every slow
/// connection is answered 408 and closed within its timeout (plus scheduling slack).
#[test]
fn hundreds_of_slow_clients_neither_starve_the_server_nor_outstay_the_timeouts() {
    let ts = TestServer::start_with(|c| {
        fast_timeouts(c);
        c.max_connections = Some(2000);
    });
    let addr = ts.addr();
    let acct = ts.create_account("steady");
    let each = slow_client_count();
    // Each slow client sends a beginning at once, then one byte every 50 ms: 20 bytes/s,
    // far below the minimum rate, for longer than any timeout.
    let mut slow: Vec<(TcpStream, Vec<u8>)> = Vec::new();
    for i in 0..2 * each {
        let mut s = TcpStream::connect(addr).unwrap();
        let (start, filler) = if i % 2 == 0 {
            ("GET /status HTTP/1.1\r\nHost: x\r\nX-Slow: ", "a")
        } else {
            ("POST /rest/oauth2/latest/token HTTP/1.1\r\nHost: x\r\nContent-Length: 10000\r\n\r\ngrant_type=client_credentials&pad=", "a")
        };
        s.write_all(start.as_bytes()).unwrap();
        s.set_nonblocking(true).unwrap();
        slow.push((s, filler.repeat(2000).into_bytes()));
    }
    let started = Instant::now();
    // The longest a slow client may stay: its timeout (the body allowance grows a second per
    // min_body_rate bytes, which a trickle never earns) plus 1.5 s for a loaded machine.
    let limit = Duration::from_millis(800 + 1500);
    let mut answered = vec![None; slow.len()];
    let mut sent = vec![0usize; slow.len()];
    let mut good = 0;
    let mut buf = [0u8; 2048];
    let mut next_byte = Instant::now();
    while answered.iter().any(Option::is_none) && started.elapsed() < Duration::from_secs(20) {
        let trickle = Instant::now() >= next_byte;
        if trickle {
            next_byte += Duration::from_millis(50);
        }
        for (i, (s, rest)) in slow.iter_mut().enumerate() {
            if answered[i].is_some() {
                continue;
            }
            if trickle && sent[i] < rest.len() {
                if let Ok(n) = s.write(&rest[sent[i]..sent[i] + 1]) {
                    sent[i] += n;
                }
            }
            match s.read(&mut buf) {
                Ok(n) => {
                    let text = String::from_utf8_lossy(&buf[..n]);
                    answered[i] = Some((started.elapsed(), text.starts_with("HTTP/1.1 408")));
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => answered[i] = Some((started.elapsed(), false)),
            }
        }
        // Meanwhile, real traffic is served.
        assert_eq!(ts.get("/status").send().status, 200);
        ts.token(&acct.client_id, &acct.secret);
        good += 2;
        // Paces this loop (it polls hundreds of sockets) so it leaves the CPU to the server.
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(good >= 4, "real requests were served while the slow clients held on");
    let late: Vec<_> = answered
        .iter()
        .enumerate()
        .filter(|(_, a)| a.is_none_or(|(t, _)| t > limit))
        .map(|(i, a)| (i, *a))
        .collect();
    assert!(late.is_empty(), "{} slow clients outstayed {limit:?}: {late:?}", late.len());
    let not_408 = answered.iter().filter(|a| !a.unwrap().1).count();
    assert_eq!(not_408, 0, "every slow client gets a 408");
    eprintln!("{} slow clients answered 408; {good} real requests served meanwhile", slow.len());
}

/// A few hundred of each kind when the open-file limit allows it (the test process holds both
/// ends of every connection).
fn slow_client_count() -> usize {
    match throng::http::limits::open_file_limit() {
        Some(n) if n >= 4096 => 200,
        Some(n) => ((n as usize).saturating_sub(200) / 8).max(20),
        None => 100,
    }
}

#[test]
fn idle_keep_alive_connections_are_closed_after_the_idle_timeout() {
    let ts = TestServer::start_with(fast_timeouts);
    let mut s = connect(ts.addr());
    s.write_all(b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut s).status, 200);
    let idle = Instant::now();
    let mut b = [0u8; 16];
    assert_eq!(s.read(&mut b).unwrap(), 0, "closed, silently");
    assert!(idle.elapsed() >= Duration::from_millis(1400), "{:?}", idle.elapsed());
    assert!(idle.elapsed() < Duration::from_secs(5), "{:?}", idle.elapsed());
}

/// With every connection in the budget busy, a newcomer gets a fast 503 with Retry-After and
/// is closed, and the connections already held are still served.
#[test]
fn beyond_the_connection_budget_a_newcomer_gets_503_and_the_rest_are_served() {
    let ts = TestServer::start_with(|c| c.max_connections = Some(10));
    let addr = ts.addr();
    // Ten connections in the middle of a body: busy, so none can be closed to make room.
    let form = "grant_type=client_credentials";
    let mut held: Vec<TcpStream> = (0..10)
        .map(|_| {
            let mut s = connect(addr);
            let head = format!("POST /rest/oauth2/latest/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n", form.len());
            s.write_all(head.as_bytes()).unwrap();
            s.write_all(&form.as_bytes()[..10]).unwrap();
            s
        })
        .collect();
    wait_until(|| raw_status_or_none(addr) == Some(503));
    let r = raw(addr, b"GET /rest/oauth2/latest/token HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!(r.header("Retry-After"), Some("1"));
    assert!(r.json()["message"].is_string(), "{r:?}");
    assert!(r.closed);
    // The held connections finish their requests and are answered.
    for s in &mut held {
        s.write_all(&form.as_bytes()[10..]).unwrap();
        let r = read_response(s);
        assert_eq!(r.status, 401, "{r:?}");
    }
}

/// At the budget with idle connections, the one idle the longest is closed to make room: a
/// client holding idle sockets cannot lock others out.
#[test]
fn at_the_budget_the_longest_idle_connection_makes_room() {
    let ts = TestServer::start_with(|c| c.max_connections = Some(10));
    let addr = ts.addr();
    let mut idle: Vec<TcpStream> = (0..10).map(|_| connect(addr)).collect();
    // Make sure all ten are admitted before the newcomer arrives.
    for s in &mut idle {
        s.write_all(b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert_eq!(read_response(s).status, 200);
    }
    // Five newcomers that stay connected. Connections idle for only a moment are spared (a
    // request may be on its way), so a newcomer may be told 503 at first; it gets in once the
    // ten have been idle a little while.
    let mut newcomers = Vec::new();
    while newcomers.len() < 5 {
        let mut s = connect(addr);
        s.write_all(b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        if read_response(&mut s).status == 200 {
            newcomers.push(s);
        }
    }
    let closed: Vec<bool> = idle
        .iter_mut()
        .map(|s| {
            s.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
            let mut b = [0u8; 1];
            matches!(s.read(&mut b), Ok(0))
        })
        .collect();
    assert_eq!(
        closed.iter().filter(|c| **c).count(),
        5,
        "five idle connections made room: {closed:?}"
    );
}

fn raw_status_or_none(addr: SocketAddr) -> Option<u16> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_millis(500))).ok()?;
    s.write_all(b"GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").ok()?;
    let mut b = [0u8; 12];
    s.read_exact(&mut b).ok()?;
    std::str::from_utf8(&b[9..12]).ok()?.parse().ok()
}

fn wait_until(mut ok: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(10);
    while !ok() {
        assert!(Instant::now() < until, "condition not reached in 10 s");
        std::thread::yield_now();
    }
}

/// The body-memory budget is spent by bytes that arrive, not by lengths declared: seventy
/// heads promising 1 MiB each (more than the 64 MiB budget together) and sending nothing leave
/// room for everyone else's bodies.
#[test]
fn declared_lengths_do_not_spend_the_body_budget() {
    let ts = TestServer::start_with(|c| c.max_connections = Some(200));
    let addr = ts.addr();
    let promises: Vec<TcpStream> = (0..70)
        .map(|_| {
            let mut s = connect(addr);
            s.write_all(b"POST /rest/oauth2/latest/token HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n").unwrap();
            s
        })
        .collect();
    // Every promise is being read by now once a request after them all is answered.
    assert_eq!(ts.get("/status").send().status, 200);
    let r = ts.post(TOKEN_PATH).form("grant_type=client_credentials").send();
    assert_oauth_error(&r, 401, "invalid_client");
    drop(promises);
}

/// Heads trickling in a byte at a time cannot hold the connection budget: at the budget, one
/// whose head has taken over a second is cut off to make room.
#[test]
fn slowloris_heads_cannot_hold_the_connection_budget() {
    let ts = TestServer::start_with(|c| {
        c.max_connections = Some(10);
        // Far longer than this test: only eviction can let a newcomer in.
        c.head_timeout = Duration::from_secs(60);
    });
    let addr = ts.addr();
    let _slow: Vec<TcpStream> = (0..10)
        .map(|_| {
            let mut s = connect(addr);
            s.write_all(b"G").unwrap();
            s
        })
        .collect();
    wait_until(|| raw_status_or_none(addr) == Some(200));
}

#[test]
fn a_head_answer_carries_the_length_of_the_get() {
    let ts = TestServer::start();
    let get = ts.get("/status").send();
    let head = ts.req("HEAD", "/status").send();
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.header("Content-Length"), get.header("Content-Length"));
    assert_ne!(head.header("Content-Length"), Some("0"));
}

/// A stray CRLF after a body (RFC 9112 §2.2: to be ignored) does not start a head deadline:
/// a client that pauses longer than the head timeout before its next request is served, not
/// greeted by a 408 it never asked for.
#[test]
fn a_stray_crlf_after_a_body_is_ignored_while_idle() {
    let ts = TestServer::start_with(fast_timeouts);
    let mut s = connect(ts.addr());
    s.write_all(b"POST /rest/oauth2/latest/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 4\r\n\r\na=b\n\r\n").unwrap();
    assert_eq!(read_response(&mut s).status, 400);
    // The client's own pause, longer than the head timeout (800 ms), shorter than the idle one.
    std::thread::sleep(Duration::from_millis(1100));
    s.write_all(b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut s).status, 200);
}
