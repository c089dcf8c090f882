//! The service-account REST API (`/rest/service-accounts/latest/service-accounts`) over real
//! HTTP: create, get, update, search and archive with every field and rule of
//! Crowd 7.0's service-account documentation, each bad input and bad caller (and proof that it stored
//! nothing), `expirySoon`, persistence across a restart, and the audit events these calls
//! leave. Token-endpoint and rotation behaviour belongs in its own file; it appears here only
//! where archiving must kill credentials and tokens.

mod common;
use common::*;

use serde_json::{json, Value};
use std::time::{Duration, UNIX_EPOCH};
use throng::bench::client::ClientResponse;

const DAY: u64 = 86_400;
const TWO_YEARS: u64 = 63_072_000;
const AUDIT_PATH: &str = "/rest/audit/1.0/events";

fn body(name: &str) -> Value {
    json!({"displayName": name, "scopes": ["APPLICATION"], "expiryDuration": 2_592_000})
}

fn create(ts: &TestServer, v: &Value) -> ClientResponse {
    ts.post(SA_PATH).admin().json(v).send()
}

/// POST with a raw JSON body, for inputs `json!` cannot express.
fn create_raw(ts: &TestServer, raw: &str) -> ClientResponse {
    ts.post(SA_PATH).admin().header("Content-Type", "application/json").body(raw).send()
}

fn url(id: impl std::fmt::Display) -> String {
    format!("{SA_PATH}/{id}")
}

fn get(ts: &TestServer, id: u64) -> Value {
    let r = ts.get(&url(id)).admin().send();
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

fn put(ts: &TestServer, id: u64, v: &Value) -> ClientResponse {
    ts.put(&url(id)).admin().json(v).send()
}

fn archive(ts: &TestServer, id: u64) {
    let r = ts.delete(&url(id)).admin().send();
    assert_eq!(r.status, 204, "{}", r.text());
}

fn search(ts: &TestServer, query: &str) -> Value {
    let r = ts.get(&format!("{SA_PATH}?{query}")).admin().send();
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

/// A page's `size` and `isLastPage`.
fn size_last(page: &Value) -> (u64, bool) {
    (page["size"].as_u64().unwrap(), page["isLastPage"].as_bool().unwrap())
}

fn ids(page: &Value) -> Vec<u64> {
    page["values"].as_array().unwrap().iter().map(|v| v["id"].as_u64().unwrap()).collect()
}

fn audit(ts: &TestServer) -> Value {
    let r = ts.get(&format!("{AUDIT_PATH}?limit=1000")).admin().send();
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

/// Everything a bad request could have changed: both listings and the audit log. The failed
/// authentication a refused request leaves in the audit log is the one change it may make.
fn snapshot(ts: &TestServer) -> Value {
    ts.flush();
    let log = audit(ts);
    let changes = log["values"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !e["action"].as_str().unwrap().ends_with("_AUTHENTICATION_FAILED"))
        .count();
    json!([search(ts, "active=true&limit=1000"), search(ts, "active=false&limit=1000"), changes])
}

/// The create response as GET must show it: the same, minus the secret.
fn without_secret(created: &Value) -> Value {
    let mut v = created.clone();
    v["authMethods"][0].as_object_mut().unwrap().remove("clientSecret");
    v
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn is_uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() == 36
        && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-')
        && is_lower_hex(&s.replace('-', ""), 32)
        && b[14] == b'4'
        && b"89ab".contains(&b[19])
}

/// Checks `2025-07-31T12:51:37.500Z` exactly and returns milliseconds since the epoch.
fn instant_ms(s: &str) -> u64 {
    let b = s.as_bytes();
    assert!(
        s.len() == 24 && b[10] == b'T' && b[19] == b'.' && b[23] == b'Z',
        "not RFC 3339 UTC with milliseconds: {s}"
    );
    let t = humantime::parse_rfc3339(s).unwrap_or_else(|e| panic!("{s}: {e}"));
    t.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

/// The object's keys, sorted, space-separated.
fn keys(v: &Value) -> String {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort_unstable();
    k.join(" ")
}

/// Cases written on one line, separated by ` ; ` (an empty case is allowed).
fn each(cases: &str) -> Vec<&str> {
    cases.split(" ; ").collect()
}

/// A client_credentials token request with Basic client authentication.
fn token_call(ts: &TestServer, id: &str, secret: &str) -> ClientResponse {
    ts.post(TOKEN_PATH).basic(id, secret).form("grant_type=client_credentials").send()
}

#[test]
fn create_answers_201_with_every_field_of_crowds_shape() {
    let ts = TestServer::start();
    let before = now_ms();
    let r = create(
        &ts,
        &json!({"displayName": "Brand new service account", "scopes": ["APPLICATION"],
                "expiryDuration": 2_592_000, "description": "for CI", "resourceRestrictions": []}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let v = r.json();
    assert_eq!(keys(&v), "active authMethods description displayName id name resourceRestrictions");
    let id = v["id"].as_u64().expect("id is a number");
    assert_eq!(v["active"], true);
    let name = v["name"].as_str().unwrap();
    assert!(is_uuid_v4(name.strip_prefix("service-account-").unwrap_or("")), "{name}");
    assert_eq!(v["displayName"], "Brand new service account");
    assert_eq!(v["description"], "for CI");
    assert_eq!(v["resourceRestrictions"], json!([]));
    assert_eq!(v["authMethods"].as_array().unwrap().len(), 1);
    let m = &v["authMethods"][0];
    let fields =
        "author clientId clientSecret expiryDate expiryDuration expirySoon id lastRotatedAt";
    assert_eq!(keys(m), format!("{fields} scopes type"));
    assert_eq!(m["type"], "OAuth2");
    assert!(is_uuid_v4(m["id"].as_str().unwrap()), "{}", m["id"]);
    assert!(is_lower_hex(m["clientId"].as_str().unwrap(), 32), "{}", m["clientId"]);
    assert!(is_lower_hex(m["clientSecret"].as_str().unwrap(), 64), "{}", m["clientSecret"]);
    assert_eq!(m["expiryDuration"], 2_592_000);
    let rotated = instant_ms(m["lastRotatedAt"].as_str().unwrap());
    let expiry = instant_ms(m["expiryDate"].as_str().unwrap());
    assert_eq!(expiry - rotated, 2_592_000 * 1000);
    assert!(rotated >= before && rotated < before + 60_000, "lastRotatedAt is not now");
    assert_eq!(m["expirySoon"], false);
    assert_eq!(m["author"], "admin");
    assert_eq!(m["scopes"], json!(["APPLICATION"]));
    let location = r.header("Location").unwrap_or("");
    assert!(location.ends_with(&url(id)), "Location: {location}");
}

#[test]
fn create_accepts_and_ignores_resource_restrictions() {
    let ts = TestServer::start();
    let mut b = body("restricted");
    b["resourceRestrictions"] = json!([{"type": "GROUP", "value": "x"}]);
    let r = create(&ts, &b);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["resourceRestrictions"], json!([]));
}

#[test]
fn created_accounts_never_share_ids_names_or_credentials() {
    let ts = TestServer::start();
    let (a, b) = (ts.create_account("a"), ts.create_account("b"));
    assert_ne!(a.id, b.id);
    assert_ne!(a.json["name"], b.json["name"]);
    assert_ne!(a.config_id, b.config_id);
    assert_ne!(a.client_id, b.client_id);
    assert_ne!(a.secret, b.secret);
}

#[test]
fn create_works_with_trailing_slash_and_under_crowd_context_path() {
    let ts = TestServer::start();
    for path in [format!("{SA_PATH}/"), format!("/crowd{SA_PATH}"), format!("/crowd{SA_PATH}/")] {
        let r = ts.post(&path).admin().json(&body(&path)).send();
        assert_eq!(r.status, 201, "{path}: {}", r.text());
        let id = r.json()["id"].as_u64().unwrap();
        let g = ts.get(&format!("/crowd{}", url(id))).admin().send();
        assert_eq!(g.status, 200, "{}", g.text());
        assert_eq!(g.json()["displayName"], path.as_str());
    }
    let page = ts.get(&format!("/crowd{SA_PATH}/?start=0&limit=25&active=true")).admin().send();
    assert_eq!(page.status, 200, "{}", page.text());
    assert_eq!(page.json()["size"], 3);
}

/// Sends each body, expects 400 ILLEGAL_ARGUMENT for all, and that nothing was stored.
fn assert_all_rejected(ts: &TestServer, bodies: &[String]) {
    let before = snapshot(ts);
    for raw in bodies {
        let r = create_raw(ts, raw);
        assert_crowd_error(&r, 400, "ILLEGAL_ARGUMENT");
        assert!(!r.json()["message"].as_str().unwrap().is_empty(), "{raw}");
    }
    assert_eq!(snapshot(ts), before, "a rejected create stored something");
}

fn with_field(field: &str, value: &str) -> String {
    let mut b = body("bot");
    b.as_object_mut().unwrap().remove(field);
    let rest = b.to_string();
    if value.is_empty() {
        return rest;
    }
    format!("{{\"{field}\":{value},{}", &rest[1..])
}

#[test]
fn create_rejects_missing_or_blank_display_name() {
    let ts = TestServer::start();
    let cases = each(r#" ; null ; "" ; "   " ; "\t\n ""#);
    assert_all_rejected(
        &ts,
        &cases.iter().map(|c| with_field("displayName", c)).collect::<Vec<_>>(),
    );
}

#[test]
fn display_name_may_have_255_characters_but_not_256() {
    let ts = TestServer::start();
    assert_all_rejected(&ts, &[with_field("displayName", &format!("\"{}\"", "x".repeat(256)))]);
    // Characters, not bytes: 255 two-byte characters are fine.
    let long = "é".repeat(255);
    let r = create(&ts, &body(&long));
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(get(&ts, r.json()["id"].as_u64().unwrap())["displayName"], long.as_str());
}

#[test]
fn create_rejects_scopes_other_than_exactly_application() {
    let ts = TestServer::start();
    let cases =
        each(r#" ; null ; [] ; ["USER"] ; ["application"] ; ["APPLICATION","APPLICATION"]"#);
    let more = each(r#"["APPLICATION","USER"] ; "APPLICATION" ; [1]"#);
    let all: Vec<String> = cases.iter().chain(&more).map(|c| with_field("scopes", c)).collect();
    assert_all_rejected(&ts, &all);
}

#[test]
fn create_rejects_expiry_duration_that_is_not_whole_seconds_up_to_two_years() {
    let ts = TestServer::start();
    let cases = each(
        r#" ; null ; 0 ; -1 ; 63072001 ; 1.5 ; "3600" ; true ; 99999999999999999999 ; [3600]"#,
    );
    let all: Vec<String> = cases.iter().map(|c| with_field("expiryDuration", c)).collect();
    assert_all_rejected(&ts, &all);
    for ok in [1, TWO_YEARS] {
        let r = create_raw(&ts, &with_field("expiryDuration", &ok.to_string()));
        assert_eq!(r.status, 201, "{ok}: {}", r.text());
        assert_eq!(r.json()["authMethods"][0]["expiryDuration"], ok);
    }
}

#[test]
fn create_rejects_malformed_json_wrong_types_unknown_fields_and_non_objects() {
    let ts = TestServer::start();
    let good = body("bot").to_string();
    let cases = [
        String::new(),
        "{".into(),
        good[..good.len() - 1].to_string(),
        good.replace('}', ",}"),
        with_field("displayName", "5"),
        with_field("displayName", r#"["x"]"#),
        with_field("displayName", r#"{"x":1}"#),
        with_field("description", "5"),
        with_field("name", "\"service-account-mine\""),
        with_field("active", "false"),
        with_field("displayname", "\"lower-case key\""),
        "[]".into(),
        "\"bot\"".into(),
        "null".into(),
        "42".into(),
        // A positional array must not be read as the object it resembles.
        r#"["bot","d",["APPLICATION"],3600,[]]"#.into(),
    ];
    assert_all_rejected(&ts, &cases);
}

#[test]
fn create_requires_a_json_content_type() {
    let ts = TestServer::start();
    let raw = body("bot").to_string();
    let r = ts.post(SA_PATH).admin().body(raw.clone()).send();
    assert_crowd_error(&r, 415, "ILLEGAL_ARGUMENT");
    for ct in ["text/plain", "application/x-www-form-urlencoded"] {
        let r = ts.post(SA_PATH).admin().header("Content-Type", ct).body(raw.clone()).send();
        assert_crowd_error(&r, 415, "ILLEGAL_ARGUMENT");
    }
    assert_eq!(search(&ts, "")["size"], 0, "a 415 stored an account");
    for ct in ["application/json; charset=UTF-8", "Application/JSON"] {
        let r = ts.post(SA_PATH).admin().header("Content-Type", ct).body(raw.clone()).send();
        assert_eq!(r.status, 201, "{ct}: {}", r.text());
    }
    assert_eq!(search(&ts, "")["size"], 2);
}

/// `body("bot")` padded with JSON whitespace to exactly `len` bytes.
fn padded(len: usize) -> Vec<u8> {
    let mut b = body("bot").to_string().into_bytes();
    b.resize(len, b' ');
    b
}

#[test]
fn create_body_over_one_mebibyte_is_413_and_stores_nothing() {
    let ts = TestServer::start();
    let json =
        |b: Vec<u8>| ts.post(SA_PATH).admin().header("Content-Type", "application/json").body(b);
    let r = json(padded((1 << 20) + 1)).send();
    assert_crowd_error(&r, 413, "ILLEGAL_ARGUMENT");
    assert_eq!(search(&ts, "")["size"], 0);
    let r = json(padded(1 << 20)).send();
    assert_eq!(r.status, 201, "exactly 1 MiB must be accepted: {}", r.text());
    assert_eq!(search(&ts, "")["size"], 1);
}

#[test]
fn update_with_bad_content_type_or_oversized_body_changes_nothing() {
    let ts = TestServer::start();
    let a = ts.create_account("bot");
    let before = snapshot(&ts);
    let raw = json!({"displayName": "renamed"}).to_string();
    let r = ts.put(&url(a.id)).admin().body(raw.clone()).send();
    assert_crowd_error(&r, 415, "ILLEGAL_ARGUMENT");
    let r = ts.put(&url(a.id)).admin().header("Content-Type", "text/plain").body(raw).send();
    assert_crowd_error(&r, 415, "ILLEGAL_ARGUMENT");
    let mut big = json!({"displayName": "renamed"}).to_string().into_bytes();
    big.resize((1 << 20) + 1, b' ');
    let r = ts.put(&url(a.id)).admin().header("Content-Type", "application/json").body(big).send();
    assert_crowd_error(&r, 413, "ILLEGAL_ARGUMENT");
    assert_eq!(snapshot(&ts), before);
}

/// Builds the same request afresh each time it is called.
type MakeCall<'a> = Box<dyn Fn() -> Call + 'a>;

#[test]
fn every_endpoint_refuses_missing_wrong_and_non_admin_credentials() {
    let ts = TestServer::start();
    add_user(&ts, "bob", "pw");
    let a = ts.create_account("bot");
    let token = ts.token(&a.client_id, &a.secret);
    let before = snapshot(&ts);
    let update = json!({"displayName": "hijacked"});
    let calls: Vec<(&str, MakeCall)> = vec![
        ("create", Box::new(|| ts.post(SA_PATH).json(&body("intruder")))),
        ("get", Box::new(|| ts.get(&url(a.id)))),
        ("update", Box::new(|| ts.put(&url(a.id)).json(&update))),
        ("archive", Box::new(|| ts.delete(&url(a.id)))),
        ("search", Box::new(|| ts.get(SA_PATH))),
    ];
    for (what, call) in &calls {
        let r = call().send();
        assert_crowd_error(&r, 401, "PERMISSION_DENIED");
        let challenge = r.header("WWW-Authenticate").unwrap_or("");
        assert!(challenge.starts_with("Basic"), "{what}: WWW-Authenticate {challenge:?}");
        for (user, pw) in [(ADMIN, "wrong"), ("nobody", "pw"), ("bob", "wrong"), (ADMIN, "")] {
            let r = call().basic(user, pw).send();
            assert_crowd_error(&r, 401, "PERMISSION_DENIED");
            assert!(r.header("WWW-Authenticate").is_some(), "{what} as {user}");
        }
        let r = call().header("Authorization", "Basic !!!not-base64").send();
        assert_eq!(r.status, 401, "{what}: {}", r.text());
        assert_crowd_error(&call().basic("bob", "pw").send(), 403, "PERMISSION_DENIED");
        // A service account's own token does not make it an administrator.
        let r = call().bearer(&token).send();
        assert!(matches!(r.status, 401 | 403), "{what} with bearer: {} {}", r.status, r.text());
    }
    assert_eq!(snapshot(&ts), before, "an unauthorised call changed something");
    assert_eq!(ts.bearer_status(&token), 200, "the account was archived by an intruder");
}

#[test]
fn get_answers_the_create_shape_without_the_secret() {
    let ts = TestServer::start();
    let a = ts.create_account("bot");
    let v = get(&ts, a.id);
    assert!(v["authMethods"][0].get("clientSecret").is_none(), "{v}");
    assert!(!v.to_string().contains(&a.secret));
    assert_eq!(v, without_secret(&a.json));
}

#[test]
fn unknown_or_non_numeric_ids_are_404_for_get_update_and_archive() {
    let ts = TestServer::start();
    let a = ts.create_account("bot");
    let before = snapshot(&ts);
    let rename = json!({"displayName": "renamed"});
    for id in [(a.id + 1000).to_string(), u64::MAX.to_string()] {
        for call in [ts.get(&url(&id)), ts.put(&url(&id)).json(&rename), ts.delete(&url(&id))] {
            assert_crowd_error(&call.admin().send(), 404, "SERVICE_ACCOUNT_NOT_FOUND");
        }
    }
    for id in ["abc", "-1", "1.0", "18446744073709551616", "%20"] {
        for call in [ts.get(&url(id)), ts.put(&url(id)).json(&rename), ts.delete(&url(id))] {
            let r = call.admin().send();
            assert_eq!(r.status, 404, "{id}: {}", r.text());
            assert!(r.json()["reason"].is_string(), "{id}: {}", r.text());
        }
    }
    assert_eq!(snapshot(&ts), before);
}

#[test]
fn update_changes_display_name_and_description_only() {
    let ts = TestServer::start();
    let a = ts.create_account("bot");
    let r = put(
        &ts,
        a.id,
        &json!({"displayName": "a new display name", "description": "a new description"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let mut expected = without_secret(&a.json);
    expected["displayName"] = json!("a new display name");
    expected["description"] = json!("a new description");
    assert_eq!(r.json(), expected);
    assert_eq!(get(&ts, a.id), expected);
    // The credentials are untouched.
    assert_eq!(ts.bearer_status(&ts.token(&a.client_id, &a.secret)), 200);
}

#[test]
fn update_of_one_field_keeps_the_other() {
    let ts = TestServer::start();
    let a = ts.create_account("bot");
    assert_eq!(put(&ts, a.id, &json!({"description": "only this"})).status, 200);
    let v = get(&ts, a.id);
    assert_eq!(json!([v["displayName"], v["description"]]), json!(["bot", "only this"]));
    assert_eq!(put(&ts, a.id, &json!({"displayName": "renamed"})).status, 200);
    let v = get(&ts, a.id);
    assert_eq!(json!([v["displayName"], v["description"]]), json!(["renamed", "only this"]));
}

#[test]
fn update_refuses_any_other_field_and_changes_nothing() {
    let ts = TestServer::start();
    let a = ts.create_account("bot");
    let before = snapshot(&ts);
    for (field, value) in [
        ("expiryDuration", json!(3600)),
        ("scopes", json!(["APPLICATION"])),
        ("name", json!("service-account-mine")),
        ("active", json!(false)),
        ("id", json!(a.id + 1)),
        ("authMethods", json!([])),
    ] {
        let mut b = json!({"displayName": "renamed", "description": "changed"});
        b[field] = value;
        assert_crowd_error(&put(&ts, a.id, &b), 400, "ILLEGAL_ARGUMENT");
    }
    assert_eq!(snapshot(&ts), before);
    assert_eq!(get(&ts, a.id), without_secret(&a.json));
}

#[test]
fn update_refuses_blank_long_or_mistyped_values() {
    let ts = TestServer::start();
    let a = ts.create_account("bot");
    let before = snapshot(&ts);
    let r = ts
        .put(&url(a.id))
        .admin()
        .header("Content-Type", "application/json")
        .body("{\"displayName\":")
        .send();
    assert_crowd_error(&r, 400, "ILLEGAL_ARGUMENT");
    for b in [
        json!({"displayName": ""}),
        json!({"displayName": "   "}),
        json!({"displayName": "x".repeat(256)}),
        json!({"displayName": 5}),
        json!({"description": ["x"]}),
        json!(null),
        // A positional array must not be read as the object it resembles.
        json!(["renamed", "d"]),
    ] {
        assert_crowd_error(&put(&ts, a.id, &b), 400, "ILLEGAL_ARGUMENT");
    }
    assert_eq!(snapshot(&ts), before);
}

#[test]
fn update_of_an_archived_account_is_400() {
    let ts = TestServer::start();
    let a = ts.create_account("bot");
    let rename = json!({"displayName": "renamed"});
    archive(&ts, a.id);
    let before = snapshot(&ts);
    assert_crowd_error(&put(&ts, a.id, &rename), 400, "ILLEGAL_ARGUMENT");
    assert_eq!(snapshot(&ts), before);
    assert_eq!(get(&ts, a.id)["displayName"], "bot");
}

#[test]
fn search_answers_an_atlassian_page_with_defaults() {
    let ts = TestServer::start();
    let (a, b, c) = (ts.create_account("a"), ts.create_account("b"), ts.create_account("c"));
    archive(&ts, b.id);
    for path in
        [SA_PATH.to_string(), format!("{SA_PATH}/"), format!("{SA_PATH}?start=&limit=&active=")]
    {
        let r = ts.get(&path).admin().send();
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        let page = r.json();
        assert_eq!(keys(&page), "isLastPage limit size start values", "{path}");
        assert_eq!((page["start"].as_u64(), page["limit"].as_u64()), (Some(0), Some(25)), "{path}");
        assert_eq!(size_last(&page), (2, true));
        assert_eq!(
            page["values"],
            json!([without_secret(&a.json), without_secret(&c.json)]),
            "{path}"
        );
    }
}

#[test]
fn search_pages_through_thirty_accounts() {
    let ts = TestServer::start();
    let all: Vec<u64> = (0..30).map(|i| ts.create_account(&format!("bot {i}")).id).collect();
    let first = search(&ts, "");
    assert_eq!(size_last(&first), (25, false));
    assert_eq!(ids(&first), all[..25]);
    let second = search(&ts, "start=25");
    assert_eq!((second["start"].as_u64(), size_last(&second)), (Some(25), (5, true)));
    assert_eq!(ids(&second), all[25..]);
    assert_eq!(search(&ts, "start=10&limit=10")["isLastPage"], false);
    assert_eq!(size_last(&search(&ts, "start=20&limit=10")), (10, true));
    let mut seen = Vec::new();
    let mut start = 0;
    loop {
        let page = search(&ts, &format!("start={start}&limit=7"));
        seen.extend(ids(&page));
        start += 7;
        if page["isLastPage"] == true {
            break;
        }
        assert!(start < 100, "paging never ends");
    }
    assert_eq!(seen, all);
    assert_eq!(size_last(&search(&ts, "start=30")), (0, true));
    assert_eq!(size_last(&search(&ts, "start=1000")), (0, true));
}

#[test]
fn search_active_false_lists_only_archived_accounts() {
    let ts = TestServer::start();
    let (a, b) = (ts.create_account("a"), ts.create_account("b"));
    assert_eq!(search(&ts, "active=false")["size"], 0);
    archive(&ts, a.id);
    let archived = search(&ts, "active=false");
    assert_eq!(ids(&archived), [a.id]);
    assert_eq!(archived["values"][0]["active"], false);
    assert_eq!(ids(&search(&ts, "active=true")), [b.id]);
    assert_eq!(ids(&search(&ts, "active=TRUE")), [b.id]);
}

#[test]
fn search_rejects_bad_paging_and_filters() {
    let ts = TestServer::start();
    ts.create_account("bot");
    for q in
        each("start=-1 ; start=abc ; start=1.5 ; limit=abc ; limit=0 ; limit=-5 ; active=maybe")
            .into_iter()
            .chain(["active=1", "start=1&start=2"])
    {
        let r = ts.get(&format!("{SA_PATH}?{q}")).admin().send();
        assert_crowd_error(&r, 400, "ILLEGAL_ARGUMENT");
    }
}

#[test]
fn search_caps_a_huge_limit_at_1000() {
    let ts = TestServer::start();
    ts.create_account("bot");
    let page = search(&ts, "limit=1000000");
    assert_eq!(page["limit"], 1000);
    assert_eq!(size_last(&page), (1, true));
}

#[test]
fn archive_answers_204_and_leaves_an_inactive_account_without_auth_methods() {
    let ts = TestServer::start();
    let a = ts.create_account("bot");
    let r = ts.delete(&url(a.id)).admin().send();
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(r.body.is_empty());
    let mut expected = without_secret(&a.json);
    expected["active"] = json!(false);
    expected["authMethods"] = json!([]);
    assert_eq!(get(&ts, a.id), expected);
    assert_eq!(ids(&search(&ts, "active=false")), [a.id]);
    assert!(ids(&search(&ts, "active=true")).is_empty());
}

#[test]
fn archiving_twice_is_204_and_changes_nothing_more() {
    let ts = TestServer::start();
    let a = ts.create_account("bot");
    archive(&ts, a.id);
    let after_first = get(&ts, a.id);
    let r = ts.delete(&url(a.id)).admin().send();
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(get(&ts, a.id), after_first);
}

#[test]
fn archive_kills_credentials_and_live_tokens_of_that_account_only() {
    let ts = TestServer::start();
    let (a, b) = (ts.create_account("doomed"), ts.create_account("survivor"));
    let (ta, tb) = (ts.token(&a.client_id, &a.secret), ts.token(&b.client_id, &b.secret));
    assert_eq!(ts.bearer_status(&ta), 200);
    archive(&ts, a.id);
    assert_eq!(ts.bearer_status(&ta), 401, "a live token outlived its archived account");
    let r = ts.get("/rest/usermanagement/1/user?username=admin").bearer(&ta).send();
    let challenge = r.header("WWW-Authenticate").unwrap_or("");
    assert!(challenge.contains("invalid_token"), "{challenge:?}");
    assert_oauth_error(&token_call(&ts, &a.client_id, &a.secret), 401, "invalid_client");
    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        a.client_id, a.secret
    );
    assert_oauth_error(&ts.post(TOKEN_PATH).form(&form).send(), 401, "invalid_client");
    // The other account is untouched.
    assert_eq!(ts.bearer_status(&tb), 200);
    assert_eq!(ts.bearer_status(&ts.token(&b.client_id, &b.secret)), 200);
}

fn expiry_soon(ts: &TestServer, id: u64) -> Value {
    get(ts, id)["authMethods"][0]["expirySoon"].clone()
}

/// Creates an account whose credentials live `secs` seconds; returns its id.
fn create_expiring(ts: &TestServer, secs: u64) -> u64 {
    let r =
        create(ts, &json!({"displayName": "x", "scopes": ["APPLICATION"], "expiryDuration": secs}));
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_u64().unwrap()
}

#[test]
fn expiry_soon_uses_ten_percent_of_a_short_duration() {
    let ts = TestServer::start();
    let id = create_expiring(&ts, 10 * DAY);
    assert_eq!(expiry_soon(&ts, id), false);
    ts.advance_clock(Duration::from_secs(9 * DAY - 60));
    assert_eq!(expiry_soon(&ts, id), false, "1 day + 1 minute left of 10 days");
    ts.advance_clock(Duration::from_secs(120));
    assert_eq!(expiry_soon(&ts, id), true, "1 day - 1 minute left of 10 days");
    assert_eq!(search(&ts, "")["values"][0]["authMethods"][0]["expirySoon"], true);
}

#[test]
fn expiry_soon_uses_seven_days_for_a_long_duration() {
    let ts = TestServer::start();
    let id = create_expiring(&ts, TWO_YEARS);
    ts.advance_clock(Duration::from_secs(TWO_YEARS - 7 * DAY - 60));
    assert_eq!(expiry_soon(&ts, id), false, "7 days + 1 minute left of 2 years");
    ts.advance_clock(Duration::from_secs(120));
    assert_eq!(expiry_soon(&ts, id), true, "7 days - 1 minute left of 2 years");
}

#[test]
fn accounts_updates_and_archives_survive_a_restart() {
    let mut ts = TestServer::start();
    let (a, b, c) = (ts.create_account("a"), ts.create_account("b"), ts.create_account("c"));
    assert_eq!(put(&ts, b.id, &json!({"displayName": "b2", "description": "d2"})).status, 200);
    let ta = ts.token(&a.client_id, &a.secret);
    let tc = ts.token(&c.client_id, &c.secret);
    archive(&ts, c.id);
    let before = snapshot(&ts);
    let views: Vec<Value> = [a.id, b.id, c.id].iter().map(|&id| get(&ts, id)).collect();
    ts.restart();
    assert_eq!(snapshot(&ts), before);
    let after: Vec<Value> = [a.id, b.id, c.id].iter().map(|&id| get(&ts, id)).collect();
    assert_eq!(after, views);
    assert_eq!(after[1]["displayName"], "b2");
    assert_eq!(ts.bearer_status(&ta), 200);
    assert_eq!(ts.bearer_status(&tc), 401, "an archived account's token came back");
    ts.token(&a.client_id, &a.secret);
    assert_oauth_error(&token_call(&ts, &c.client_id, &c.secret), 401, "invalid_client");
    let d = ts.create_account("d");
    assert!(![a.id, b.id, c.id].contains(&d.id), "id {} reused after restart", d.id);
}

#[test]
fn audit_lists_create_update_archive_newest_first() {
    let ts = TestServer::start();
    let a = ts.create_account("bot");
    assert_eq!(put(&ts, a.id, &json!({"description": "x"})).status, 200);
    archive(&ts, a.id);
    ts.flush();
    let log = audit(&ts);
    let events: Vec<&Value> = log["values"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap_or("").starts_with("SERVICE_ACCOUNT_"))
        .collect();
    let actions: Vec<&str> = events.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        ["SERVICE_ACCOUNT_ARCHIVED", "SERVICE_ACCOUNT_UPDATED", "SERVICE_ACCOUNT_CREATED"]
    );
    let mut last_id = u64::MAX;
    for e in &events {
        assert_eq!(e["actor"], "admin", "{e}");
        assert_eq!(e["target"], a.json["name"], "{e}");
        instant_ms(e["timestamp"].as_str().unwrap());
        let id = e["id"].as_u64().unwrap();
        assert!(id < last_id, "not newest first: {log}");
        last_id = id;
    }
}

#[test]
fn audit_log_never_contains_a_secret_or_token() {
    let ts = TestServer::start();
    let (a, b) = (ts.create_account("a"), ts.create_account("b"));
    let token = ts.token(&a.client_id, &a.secret);
    assert_eq!(token_call(&ts, &a.client_id, &"0".repeat(64)).status, 401);
    archive(&ts, b.id);
    // An archived account's real secret, sent again, is a failed authentication.
    assert_eq!(token_call(&ts, &b.client_id, &b.secret).status, 401);
    ts.flush();
    let text = ts.get(&format!("{AUDIT_PATH}?limit=1000")).admin().send().text();
    assert!(text.contains("SERVICE_ACCOUNT_ARCHIVED"), "{text}");
    assert_eq!(text.matches("CLIENT_AUTHENTICATION_FAILED").count(), 2, "{text}");
    for secret in [&a.secret, &b.secret, &token, &ADMIN_PASSWORD.to_string()] {
        assert!(!text.contains(secret.as_str()), "audit log leaks {secret}: {text}");
    }
}

#[test]
fn audit_log_does_not_record_a_secret_sent_as_the_client_id() {
    // Swapping id and secret is a common mistake; the failed attempt must not log the secret.
    let ts = TestServer::start();
    let a = ts.create_account("bot");
    let r = token_call(&ts, &a.secret, &a.client_id);
    assert_oauth_error(&r, 401, "invalid_client");
    ts.flush();
    let text = ts.get(&format!("{AUDIT_PATH}?limit=1000")).admin().send().text();
    assert!(!text.contains(&a.secret), "audit log leaks the secret: {text}");
}

#[test]
fn audit_log_is_for_admins_only() {
    let ts = TestServer::start();
    add_user(&ts, "bob", "pw");
    ts.create_account("bot");
    assert_crowd_error(&ts.get(AUDIT_PATH).send(), 401, "PERMISSION_DENIED");
    assert_crowd_error(&ts.get(AUDIT_PATH).basic(ADMIN, "wrong").send(), 401, "PERMISSION_DENIED");
    assert_crowd_error(&ts.get(AUDIT_PATH).basic("bob", "pw").send(), 403, "PERMISSION_DENIED");
}

// Regressions found in review.

fn audit_total(ts: &TestServer) -> usize {
    ts.flush();
    let r = ts.get("/rest/audit/1.0/events?limit=1000").admin().send();
    r.json()["values"].as_array().unwrap().len()
}

/// Archiving an archived account is a quiet 204: no second audit event.
#[test]
fn re_archiving_writes_no_second_audit_event() {
    let ts = TestServer::start();
    let a = ts.create_account("bot");
    let path = format!("{SA_PATH}/{}", a.id);
    assert_eq!(ts.delete(&path).admin().send().status, 204);
    let before = audit_total(&ts);
    assert_eq!(ts.delete(&path).admin().send().status, 204);
    assert_eq!(audit_total(&ts), before);
}

/// A PUT that names nothing to change is a 400, not a silent, audited no-op.
#[test]
fn empty_update_is_400_and_not_audited() {
    let ts = TestServer::start();
    let a = ts.create_account("bot");
    let before = audit_total(&ts);
    for body in [serde_json::json!({}), serde_json::json!({"displayName": null})] {
        let r = ts.put(&format!("{SA_PATH}/{}", a.id)).admin().json(&body).send();
        assert_crowd_error(&r, 400, "ILLEGAL_ARGUMENT");
    }
    assert_eq!(audit_total(&ts), before);
}
