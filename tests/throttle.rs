//! Throttled authentication over real HTTP (`domain::throttle`): failed client and admin
//! authentications per source and per identity, 429 with `Retry-After` in each API's shape,
//! forgiveness by the server clock, the known-pair exemption, and the KDF slots (503).
//!
//! Every request here comes from 127.0.0.1, so what needs several sources (a stranger
//! elsewhere cannot lock out a known pair) is tested on the table itself, in
//! `src/domain/throttle.rs`.

mod common;
use common::*;

use serde_json::json;
use std::sync::{Arc, Barrier};
use std::time::Duration;
use throng::bench::client::{ClientResponse, Connection};

const CC: &str = "grant_type=client_credentials";
const INTROSPECT_PATH: &str = "/rest/oauth2/latest/introspect";
const UNKNOWN_CLIENT: &str = "0123456789abcdef0123456789abcdef";
/// The default limit: failures per identity in a burst.
const LIMIT: usize = 10;
/// A source may fail five times as often.
const SOURCE_LIMIT: usize = 5 * LIMIT;

fn token_call(ts: &TestServer, id: &str, secret: &str) -> ClientResponse {
    ts.post(TOKEN_PATH).basic(id, secret).form(CC).send()
}

fn retry_after(r: &ClientResponse) -> u64 {
    r.header("Retry-After")
        .unwrap_or_else(|| panic!("no Retry-After: {}", r.text()))
        .parse()
        .unwrap()
}

/// A 429 in RFC 6749 shape, with a `Retry-After` within one period.
fn assert_oauth_429(r: &ClientResponse) {
    assert_oauth_error(r, 429, "temporarily_unavailable");
    let wait = retry_after(r);
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
}

fn assert_crowd_429(r: &ClientResponse) {
    assert_crowd_error(r, 429, "OPERATION_FAILED");
    let wait = retry_after(r);
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
}

fn sa_get(ts: &TestServer, user: &str, password: &str) -> ClientResponse {
    ts.get(SA_PATH).basic(user, password).send()
}

#[test]
fn the_eleventh_bad_secret_is_429_until_the_clock_forgives_it() {
    let ts = TestServer::start();
    let a = ts.create_account("target");
    for i in 0..LIMIT {
        let r = token_call(&ts, &a.client_id, "wrong");
        assert_eq!(r.status, 401, "attempt {i}: {}", r.text());
    }
    assert_oauth_429(&token_call(&ts, &a.client_id, "wrong"));
    // The right secret is refused too: this source has never authenticated as the client, and
    // the throttle answers before the secret is looked at.
    assert_oauth_429(&token_call(&ts, &a.client_id, &a.secret));
    // Body credentials are the same identity.
    let post = format!("{CC}&client_id={}&client_secret={}", a.client_id, a.secret);
    assert_oauth_429(&ts.post(TOKEN_PATH).form(&post).send());

    // One failure drains every period / limit = 6 s.
    ts.advance_clock(Duration::from_secs(6));
    assert_eq!(token_call(&ts, &a.client_id, "wrong").status, 401);
    assert_oauth_429(&token_call(&ts, &a.client_id, "wrong"));
    ts.advance_clock(Duration::from_secs(60));
    ts.token(&a.client_id, &a.secret);
}

#[test]
fn a_valid_client_still_gets_tokens_while_another_identity_is_throttled() {
    let ts = TestServer::start();
    let a = ts.create_account("innocent");
    for _ in 0..LIMIT {
        assert_eq!(token_call(&ts, UNKNOWN_CLIENT, "guess").status, 401);
    }
    assert_oauth_429(&token_call(&ts, UNKNOWN_CLIENT, "guess"));
    for _ in 0..5 {
        ts.token(&a.client_id, &a.secret);
    }
}

#[test]
fn a_client_known_from_this_source_is_not_locked_out_by_failures_for_its_id() {
    let ts = TestServer::start();
    let a = ts.create_account("holder");
    ts.token(&a.client_id, &a.secret);
    // Twice the per-identity limit of failures for its id, from the source it authenticated
    // from: still below the source limit, so never throttled.
    for i in 0..2 * LIMIT {
        let r = token_call(&ts, &a.client_id, "wrong");
        assert_eq!(r.status, 401, "attempt {i}: {}", r.text());
    }
    ts.token(&a.client_id, &a.secret);
}

#[test]
fn a_source_rotating_identities_hits_the_source_limit() {
    let ts = TestServer::start();
    let a = ts.create_account("bystander");
    ts.token(&a.client_id, &a.secret);
    for i in 0..SOURCE_LIMIT {
        let r = token_call(&ts, &format!("{i:032x}"), "guess");
        assert_eq!(r.status, 401, "attempt {i}: {}", r.text());
    }
    assert_oauth_429(&token_call(&ts, "ffffffffffffffffffffffffffffffff", "guess"));
    // The source limit applies to everyone from this address, a known pair included.
    assert_oauth_429(&token_call(&ts, &a.client_id, &a.secret));
    ts.advance_clock(Duration::from_secs(60));
    ts.token(&a.client_id, &a.secret);
}

#[test]
fn introspection_callers_are_throttled_in_oauth_shape() {
    let ts = TestServer::start();
    let a = ts.create_account("introspector");
    let call = |id: &str, secret: &str| {
        ts.post(INTROSPECT_PATH).basic(id, secret).form("token=whatever").send()
    };
    for _ in 0..LIMIT {
        assert_oauth_error(&call(&a.client_id, "wrong"), 401, "invalid_client");
    }
    assert_oauth_429(&call(&a.client_id, "wrong"));
    // An admin name through introspection is an admin login: its own buckets, its own limit.
    for _ in 0..LIMIT {
        assert_oauth_error(&call("nobody", "wrong"), 401, "invalid_client");
    }
    assert_oauth_429(&call("nobody", "wrong"));
}

#[test]
fn bad_admin_passwords_are_429_in_crowd_shape_and_the_refusal_costs_no_hashing() {
    let ts = TestServer::start();
    let before = ts.running().kdf_runs();
    // Names are case-insensitive: these are all one identity.
    for (i, name) in ["admin", "ADMIN", "Admin"].iter().cycle().take(LIMIT).enumerate() {
        let r = sa_get(&ts, name, "wrong");
        assert_crowd_error(&r, 401, "PERMISSION_DENIED");
        assert_eq!(ts.running().kdf_runs(), before + i as u64 + 1, "each failure hashes once");
    }
    let hashed = ts.running().kdf_runs();
    for _ in 0..20 {
        assert_crowd_429(&sa_get(&ts, "aDmIn", "wrong"));
    }
    // The right password too: the throttle answers before the password is looked at.
    assert_crowd_429(&sa_get(&ts, ADMIN, ADMIN_PASSWORD));
    assert_eq!(ts.running().kdf_runs(), hashed, "a throttled answer ran the KDF");

    ts.advance_clock(Duration::from_secs(60));
    assert_eq!(sa_get(&ts, ADMIN, ADMIN_PASSWORD).status, 200);
}

#[test]
fn an_admin_known_from_this_source_keeps_working_through_failures_for_its_name() {
    let ts = TestServer::start();
    assert_eq!(sa_get(&ts, ADMIN, ADMIN_PASSWORD).status, 200);
    for _ in 0..LIMIT + 5 {
        assert_crowd_error(&sa_get(&ts, ADMIN, "wrong"), 401, "PERMISSION_DENIED");
    }
    assert_eq!(sa_get(&ts, ADMIN, ADMIN_PASSWORD).status, 200);
}

/// With one KDF slot, a burst of uncached admin logins gets 503 + Retry-After for the ones
/// that find the slot taken (at once: none hangs), and those cost no hashing and change
/// nothing; cached logins go around the slot and all succeed.
#[test]
fn kdf_slots_turn_a_burst_of_uncached_logins_into_fast_503s() {
    let ts = TestServer::start_with(|c| {
        c.kdf_concurrency = Some(1);
        c.workers = 6;
    });
    let admins: Vec<String> = (0..8).map(|i| format!("admin{i}")).collect();
    for name in &admins {
        add_slow_admin(&ts, name, "pw");
    }
    // Cache the main admin's login.
    assert_eq!(sa_get(&ts, ADMIN, ADMIN_PASSWORD).status, 200);
    let runs_before = ts.running().kdf_runs();

    let start = Arc::new(Barrier::new(admins.len() + 1));
    let addr = ts.addr();
    let creates: Vec<_> = admins
        .iter()
        .map(|name| {
            let (start, name) = (start.clone(), name.clone());
            std::thread::spawn(move || {
                start.wait();
                // Each admin logs in for the first time: uncached, so it needs the slot.
                let auth = basic_header(&name, "pw");
                let body =
                    json!({"displayName": name, "scopes": ["APPLICATION"], "expiryDuration": 3600});
                let mut c = Connection::connect(addr).unwrap();
                c.send(
                    "POST",
                    SA_PATH,
                    &[("Authorization", &auth), ("Content-Type", "application/json")],
                    body.to_string().as_bytes(),
                )
                .unwrap()
            })
        })
        .collect();
    let cached = {
        let start = start.clone();
        std::thread::spawn(move || {
            start.wait();
            let auth = basic_header(ADMIN, ADMIN_PASSWORD);
            let mut c = Connection::connect(addr).unwrap();
            (0..20)
                .map(|_| c.send("GET", SA_PATH, &[("Authorization", &auth)], b"").unwrap().status)
                .collect::<Vec<_>>()
        })
    };
    let answers: Vec<ClientResponse> = creates.into_iter().map(|h| h.join().unwrap()).collect();
    let cached = cached.join().unwrap();

    assert!(cached.iter().all(|s| *s == 200), "cached logins: {cached:?}");
    let statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
    let created = statuses.iter().filter(|s| **s == 201).count();
    let refused: Vec<&ClientResponse> = answers.iter().filter(|r| r.status == 503).collect();
    assert_eq!(created + refused.len(), answers.len(), "{statuses:?}");
    assert!(!refused.is_empty(), "no login found the slot busy: {statuses:?}");
    assert!(created >= 1, "{statuses:?}");
    for r in &refused {
        assert_crowd_error(r, 503, "OPERATION_FAILED");
        assert_eq!(r.header("Retry-After"), Some("1"));
    }
    assert_eq!(ts.running().kdf_runs() - runs_before, created as u64, "a 503 ran the KDF");
    // A refused create changed nothing: exactly the answered creates exist.
    let listed = ts.get(&format!("{SA_PATH}?limit=100")).admin().send().json();
    assert_eq!(listed["size"], created, "{listed}");
    // Nothing was held against the refused: they log in fine once the slot is free.
    for r in answers.iter().zip(&admins).filter(|(r, _)| r.status == 503) {
        assert_eq!(sa_get(&ts, r.1, "pw").status, 200);
    }
}

#[test]
fn a_throttled_request_changes_nothing() {
    let ts = TestServer::start();
    let a = ts.create_account("kept");
    ts.flush();
    let store = ts.running().store().unwrap();
    let records = store.token_record_count().unwrap();
    // Throttle this source for admin logins: five names, ten failures each.
    for i in 0..SOURCE_LIMIT {
        sa_get(&ts, &format!("user{}", i % 5), "wrong");
    }
    let create =
        json!({"displayName": "intruder", "scopes": ["APPLICATION"], "expiryDuration": 3600});
    assert_crowd_429(&ts.post(SA_PATH).admin().json(&create).send());
    assert_crowd_429(&ts.delete(&format!("{SA_PATH}/{}", a.id)).admin().send());
    assert_crowd_429(
        &ts.post(&format!("/rest/oauth2/latest/rotate/{}", a.client_id)).admin().send(),
    );
    // And for this client id.
    for _ in 0..LIMIT {
        token_call(&ts, &a.client_id, "wrong");
    }
    assert_oauth_429(&token_call(&ts, &a.client_id, &a.secret));
    ts.flush();
    assert_eq!(
        store.token_record_count().unwrap(),
        records,
        "a refused token request was recorded"
    );

    ts.advance_clock(Duration::from_secs(60));
    let listed = ts.get(SA_PATH).admin().send().json();
    assert_eq!(listed["size"], 1, "{listed}");
    assert_eq!(listed["values"][0]["id"], a.id);
    // Neither archived nor rotated: the original secret still works.
    ts.token(&a.client_id, &a.secret);
}

/// An administrator whose password takes ~40 ms to check in a debug build (10,000 PBKDF2
/// iterations), so that concurrent first logins overlap.
fn add_slow_admin(ts: &TestServer, name: &str, password: &str) {
    let store = ts.running().store().unwrap();
    let user = throng::store::records::UserRecord {
        directory_id: 1,
        name: name.into(),
        first_name: "Slow".into(),
        last_name: "Admin".into(),
        display_name: name.into(),
        email: format!("{name}@example.com"),
        active: true,
        created: 0,
        updated: 0,
        password_hash: Some(throng::crypto::hash_password(password, 10_000)),
        attributes: Default::default(),
        ..Default::default()
    };
    store.create_user(&user).unwrap();
    store.add_user_to_group(1, name, "crowd-administrators", 0).unwrap();
}
