//! The OAuth 2.0 surface over real HTTP: the client-credentials token endpoint (RFC 6749
//! §2.3, §4.4, §5), bearer tokens on `/rest/usermanagement/1` (RFC 6750), introspection
//! (RFC 7662), revocation (RFC 7009), Crowd 7.0's credential rotation and client lookup
//! (Crowd 7.0's service-account documentation), and what restarts, audit and the write-behind token
//! records keep of it all.

mod common;
use common::*;

use serde_json::{json, Value};
use std::time::Duration;
use throng::bench::client::ClientResponse;

const INTROSPECT_PATH: &str = "/rest/oauth2/latest/introspect";
const REVOKE_PATH: &str = "/rest/oauth2/latest/revoke";
const CC_GRANT: &str = "client_credentials";
const CC: &str = "grant_type=client_credentials";
const UNKNOWN_CLIENT: &str = "0123456789abcdef0123456789abcdef";
const USER_PATH: &str = "/rest/usermanagement/1/user?username=admin";

fn creds_form(a: &Account) -> String {
    format!("{CC}&client_id={}&client_secret={}", a.client_id, a.secret)
}

/// A token request authenticated with client_secret_basic and this form body.
fn token_basic(ts: &TestServer, id: &str, secret: &str, form: &str) -> ClientResponse {
    ts.post(TOKEN_PATH).basic(id, secret).form(form).send()
}

/// Creates a service account whose credentials live `secs` seconds.
fn create_with_expiry(ts: &TestServer, secs: u64) -> Account {
    let r = ts
        .post(SA_PATH)
        .admin()
        .json(&json!({"displayName": "short", "scopes": ["APPLICATION"], "expiryDuration": secs}))
        .send();
    assert_eq!(r.status, 201, "{}", r.text());
    Account::from(r.json())
}

/// Introspects `token` as the client (id, secret) with client_secret_basic.
fn introspect(ts: &TestServer, id: &str, secret: &str, token: &str) -> ClientResponse {
    ts.post(INTROSPECT_PATH).basic(id, secret).form(&format!("token={token}")).send()
}

fn introspect_json(ts: &TestServer, a: &Account, token: &str) -> Value {
    let r = introspect(ts, &a.client_id, &a.secret, token);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

fn revoke(ts: &TestServer, id: &str, secret: &str, token: &str) -> ClientResponse {
    ts.post(REVOKE_PATH).basic(id, secret).form(&format!("token={token}")).send()
}

fn rotate(ts: &TestServer, client_id: &str) -> ClientResponse {
    ts.post(&format!("/rest/oauth2/latest/rotate/{client_id}")).admin().send()
}

fn get_client(ts: &TestServer, config_id: &str) -> ClientResponse {
    ts.get(&format!("/rest/oauth2/latest/client/{config_id}")).admin().send()
}

fn get_account(ts: &TestServer, id: u64) -> Value {
    let r = ts.get(&format!("{SA_PATH}/{id}")).admin().send();
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

fn inactive() -> Value {
    json!({"active": false})
}

fn assert_token_response(r: &ClientResponse, expires_in: u64) {
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert!(body["access_token"].as_str().is_some_and(|t| !t.is_empty()), "{body}");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], expires_in);
    assert_eq!(body["scope"], "APPLICATION");
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert_eq!(r.header("Cache-Control"), Some("no-store"));
    assert_eq!(r.header("Pragma"), Some("no-cache"));
}

fn assert_invalid_token(r: &ClientResponse) {
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(r.header("WWW-Authenticate"), Some("Bearer error=\"invalid_token\""));
    assert_eq!(r.header("X-Embedded-Crowd-Version"), Some("Crowd/7.0.0"));
}

// ---------------------------------------------------------------- A. token endpoint

#[test]
fn client_secret_basic_and_post_issue_bearer_tokens() {
    let ts = TestServer::start();
    let a = ts.create_account("basic and post");
    assert_token_response(&token_basic(&ts, &a.client_id, &a.secret, CC), 3600);
    assert_token_response(&ts.post(TOKEN_PATH).form(&creds_form(&a)).send(), 3600);
    let crowd = format!("/crowd{TOKEN_PATH}");
    let r = ts.post(&crowd).basic(&a.client_id, &a.secret).form(CC).send();
    assert_token_response(&r, 3600);
}

#[test]
fn form_with_charset_and_json_bodies_are_accepted() {
    let ts = TestServer::start();
    let a = ts.create_account("bodies");
    let r = ts
        .post(TOKEN_PATH)
        .header("Content-Type", "application/x-www-form-urlencoded;charset=UTF-8")
        .body(creds_form(&a))
        .send();
    assert_token_response(&r, 3600);
    let body = json!({"grant_type": CC_GRANT, "client_id": a.client_id, "client_secret": a.secret});
    assert_token_response(&ts.post(TOKEN_PATH).json(&body).send(), 3600);
}

#[test]
fn text_plain_and_non_string_json_are_invalid_request() {
    let ts = TestServer::start();
    let a = ts.create_account("bad bodies");
    let r = ts.post(TOKEN_PATH).header("Content-Type", "text/plain").body(creds_form(&a)).send();
    assert_oauth_error(&r, 400, "invalid_request");
    let body = json!({"grant_type": CC_GRANT, "client_id": a.client_id, "client_secret": 42});
    assert_oauth_error(&ts.post(TOKEN_PATH).json(&body).send(), 400, "invalid_request");
}

#[test]
fn scope_defaults_to_the_clients_and_may_not_exceed_it() {
    let ts = TestServer::start();
    let a = ts.create_account("scope");
    let (id, secret) = (&a.client_id, &a.secret);
    assert_eq!(token_basic(&ts, id, secret, CC).json()["scope"], "APPLICATION");
    let asked = token_basic(&ts, id, secret, &format!("{CC}&scope=APPLICATION"));
    assert_token_response(&asked, 3600);
    let r = token_basic(&ts, id, secret, &format!("{CC}&scope=SYSTEM_ADMIN"));
    assert_oauth_error(&r, 400, "invalid_scope");
}

#[test]
fn malformed_token_requests_are_invalid_request() {
    let ts = TestServer::start();
    let a = ts.create_account("malformed");
    let (id, secret) = (&a.client_id, &a.secret);
    // Basic and a body secret at once (RFC 6749 §2.3: one method per request).
    let both = token_basic(&ts, id, secret, &creds_form(&a));
    assert_oauth_error(&both, 400, "invalid_request");
    // A repeated parameter (§3.1).
    let repeated = token_basic(&ts, id, secret, &format!("{CC}&{CC}"));
    assert_oauth_error(&repeated, 400, "invalid_request");
    let missing = token_basic(&ts, id, secret, "scope=APPLICATION");
    assert_oauth_error(&missing, 400, "invalid_request");
}

#[test]
fn other_grants_are_unsupported_grant_type() {
    let ts = TestServer::start();
    let a = ts.create_account("grants");
    for grant in
        ["grant_type=password&username=admin&password=x", "grant_type=authorization_code&code=abc"]
    {
        let r = token_basic(&ts, &a.client_id, &a.secret, grant);
        assert_oauth_error(&r, 400, "unsupported_grant_type");
    }
}

#[test]
fn bad_client_credentials_are_invalid_client() {
    let ts = TestServer::start();
    let a = ts.create_account("wrong");
    let r = token_basic(&ts, &a.client_id, &"0".repeat(64), CC);
    assert_oauth_error(&r, 401, "invalid_client");
    assert!(r.header("WWW-Authenticate").is_some());
    let r = token_basic(&ts, UNKNOWN_CLIENT, "secret", CC);
    assert_oauth_error(&r, 401, "invalid_client");
    assert!(r.header("WWW-Authenticate").is_some());
    let post = format!("{CC}&client_id={}&client_secret=nope", a.client_id);
    assert_oauth_error(&ts.post(TOKEN_PATH).form(&post).send(), 401, "invalid_client");
    let none = ts.post(TOKEN_PATH).form(CC).send();
    assert_oauth_error(&none, 401, "invalid_client");
}

#[test]
fn unknown_client_and_wrong_secret_answer_byte_identically() {
    let ts = TestServer::start();
    let a = ts.create_account("leak");
    let wrong = token_basic(&ts, &a.client_id, "bad-secret", CC);
    let unknown = token_basic(&ts, UNKNOWN_CLIENT, "bad-secret", CC);
    assert_eq!(wrong.status, unknown.status);
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(wrong.header("WWW-Authenticate"), unknown.header("WWW-Authenticate"));
}

#[test]
fn get_on_the_token_endpoint_is_405() {
    let ts = TestServer::start();
    let r = ts.get(TOKEN_PATH).send();
    assert_eq!(r.status, 405, "{}", r.text());
    assert_eq!(r.json()["error"], "invalid_request");
    assert_eq!(ts.req("HEAD", TOKEN_PATH).send().status, 405);
}

#[test]
fn body_over_one_mib_is_413_and_exactly_one_mib_is_not() {
    let ts = TestServer::start();
    let a = ts.create_account("big");
    let mut body = format!("{}&pad=", creds_form(&a));
    body.push_str(&"a".repeat((1 << 20) - body.len()));
    assert_eq!(body.len(), 1 << 20);
    assert_token_response(&ts.post(TOKEN_PATH).form(&body).send(), 3600);
    body.push('a');
    let r = ts.post(TOKEN_PATH).form(&body).send();
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(r.json()["error"], "invalid_request");
}

#[test]
fn expired_credentials_are_invalid_client() {
    let ts = TestServer::start();
    let a = create_with_expiry(&ts, 60);
    ts.token(&a.client_id, &a.secret);
    ts.advance_clock(Duration::from_secs(61));
    let r = token_basic(&ts, &a.client_id, &a.secret, CC);
    assert_oauth_error(&r, 401, "invalid_client");
}

#[test]
fn token_lifetime_is_configurable() {
    let ts = TestServer::start_with(|c| c.token_ttl = Duration::from_secs(120));
    let a = ts.create_account("ttl");
    let r = token_basic(&ts, &a.client_id, &a.secret, CC);
    assert_token_response(&r, 120);
    let tok = r.json()["access_token"].as_str().unwrap().to_string();
    let i = introspect_json(&ts, &a, &tok);
    assert_eq!(i["exp"].as_u64().unwrap() - i["iat"].as_u64().unwrap(), 120);
    ts.advance_clock(Duration::from_secs(121));
    assert_eq!(ts.bearer_status(&tok), 401);
}

// ---------------------------------------------------------------- B. bearer tokens

#[test]
fn bearer_token_reads_the_crowd_user_entity() {
    let ts = TestServer::start();
    add_user(&ts, "bob", "pw");
    let a = ts.create_account("reader");
    let tok = ts.token(&a.client_id, &a.secret);
    let r = ts
        .get("/rest/usermanagement/1/user?username=bob")
        .bearer(&tok)
        .header("Accept", "application/json")
        .send();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("X-Embedded-Crowd-Version"), Some("Crowd/7.0.0"));
    let u = r.json();
    assert_eq!(u["name"], "bob");
    assert_eq!(u["key"], "1:bob");
    assert_eq!(u["active"], true);
    assert_eq!(u["email"], "bob@example.com");
    assert_eq!(u["link"]["href"], format!("{}/rest/usermanagement/1/user?username=bob", ts.url()));
    let r = ts.get(USER_PATH).bearer(&tok).header("Accept", "application/json").send();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["name"], "admin");
    assert_eq!(r.json()["active"], true);
    assert!(r.json()["email"].is_string());
}

#[test]
fn unknown_user_is_user_not_found() {
    let ts = TestServer::start();
    let a = ts.create_account("reader");
    let tok = ts.token(&a.client_id, &a.secret);
    let path = "/rest/usermanagement/1/user?username=nobody";
    let r = ts.get(path).bearer(&tok).header("Accept", "application/json").send();
    assert_crowd_error(&r, 404, "USER_NOT_FOUND");
    assert_eq!(r.header("X-Embedded-Crowd-Version"), Some("Crowd/7.0.0"));
    // Without Accept, Crowd's usermanagement answers XML (JAX-RS picks the first of its
    // @Produces({XML, JSON})), and so does its error entity.
    let r = ts.get(path).bearer(&tok).send();
    assert_eq!(r.status, 404);
    assert!(r.header("Content-Type").unwrap().starts_with("application/xml"));
    assert!(r.text().contains("<error><reason>USER_NOT_FOUND</reason><message>"), "{}", r.text());
    assert_eq!(r.header("X-Embedded-Crowd-Version"), Some("Crowd/7.0.0"));
}

#[test]
fn garbage_and_tampered_tokens_are_invalid_token() {
    let ts = TestServer::start();
    let a = ts.create_account("tamper");
    let tok = ts.token(&a.client_id, &a.secret);
    let r = ts.get(USER_PATH).bearer("not-a-token").send();
    assert_invalid_token(&r);
    let mut bytes = tok.clone().into_bytes();
    let mid = bytes.len() / 2;
    bytes[mid] = if bytes[mid] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    assert_ne!(tampered, tok);
    assert_invalid_token(&ts.get(USER_PATH).bearer(&tampered).send());
    assert_eq!(ts.bearer_status(&tok), 200);
}

#[test]
fn expired_and_revoked_tokens_are_invalid_token() {
    let ts = TestServer::start();
    let a = ts.create_account("dying");
    let revoked = ts.token(&a.client_id, &a.secret);
    assert_eq!(revoke(&ts, &a.client_id, &a.secret, &revoked).status, 200);
    assert_invalid_token(&ts.get(USER_PATH).bearer(&revoked).send());
    let expiring = ts.token(&a.client_id, &a.secret);
    ts.advance_clock(Duration::from_secs(3601));
    assert_invalid_token(&ts.get(USER_PATH).bearer(&expiring).send());
}

#[test]
fn archiving_the_account_kills_its_tokens_for_good() {
    let mut ts = TestServer::start();
    let a = ts.create_account("archived");
    let tok = ts.token(&a.client_id, &a.secret);
    assert_eq!(ts.bearer_status(&tok), 200);
    let r = ts.delete(&format!("{SA_PATH}/{}", a.id)).admin().send();
    assert_eq!(r.status, 204, "{}", r.text());
    assert_invalid_token(&ts.get(USER_PATH).bearer(&tok).send());
    let r = token_basic(&ts, &a.client_id, &a.secret, CC);
    assert_oauth_error(&r, 401, "invalid_client");
    ts.restart();
    assert_invalid_token(&ts.get(USER_PATH).bearer(&tok).send());
    let i = introspect(&ts, ADMIN, ADMIN_PASSWORD, &tok);
    assert_eq!(i.json(), inactive());
    assert_crowd_error(&rotate(&ts, &a.client_id), 404, "OAUTH_CLIENT_NOT_FOUND");
}

#[test]
fn no_authorization_is_crowds_plain_text_401() {
    let ts = TestServer::start();
    let r = ts.get(USER_PATH).send();
    assert_eq!(r.status, 401);
    assert_eq!(r.text(), "Application failed to authenticate");
    assert!(r.header("Content-Type").unwrap().starts_with("text/plain"));
    assert_eq!(r.header("X-Embedded-Crowd-Version"), Some("Crowd/7.0.0"));
}

#[test]
fn usermanagement_authenticates_before_routing() {
    let ts = TestServer::start();
    let a = ts.create_account("routing");
    let tok = ts.token(&a.client_id, &a.secret);
    let r = ts.get("/rest/usermanagement/1/no-such-thing").bearer(&tok).send();
    assert_eq!(r.status, 404, "{}", r.text());
    let r = ts.get("/rest/usermanagement/1/no-such-thing").send();
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(r.text(), "Application failed to authenticate");
}

// ---------------------------------------------------------------- C. introspection

#[test]
fn introspection_describes_a_live_token_to_its_client() {
    let ts = TestServer::start();
    let a = ts.create_account("intro");
    let tok = ts.token(&a.client_id, &a.secret);
    let r = introspect(&ts, &a.client_id, &a.secret, &tok);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("Cache-Control"), Some("no-store"));
    let i = r.json();
    assert_eq!(i["active"], true);
    assert_eq!(i["scope"], "APPLICATION");
    assert_eq!(i["client_id"], a.client_id.as_str());
    assert!(i["token_type"].as_str().unwrap().eq_ignore_ascii_case("bearer"));
    assert_eq!(i["sub"], a.json["name"]);
    assert!(i["jti"].as_str().is_some_and(|j| !j.is_empty()));
    let (exp, iat) = (i["exp"].as_u64().unwrap(), i["iat"].as_u64().unwrap());
    assert_eq!(exp - iat, 3600);
    // client_secret_post works too.
    let r = ts
        .post(INTROSPECT_PATH)
        .form(&format!("token={tok}&client_id={}&client_secret={}", a.client_id, a.secret))
        .send();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), i);
}

#[test]
fn introspection_of_dead_or_unknown_tokens_is_just_inactive() {
    let ts = TestServer::start();
    let a = ts.create_account("dead");
    assert_eq!(introspect_json(&ts, &a, "garbage"), inactive());
    let fake = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.AAAA";
    assert_eq!(introspect_json(&ts, &a, fake), inactive());
    let revoked = ts.token(&a.client_id, &a.secret);
    assert_eq!(revoke(&ts, &a.client_id, &a.secret, &revoked).status, 200);
    assert_eq!(introspect_json(&ts, &a, &revoked), inactive());
    let expiring = ts.token(&a.client_id, &a.secret);
    ts.advance_clock(Duration::from_secs(3601));
    assert_eq!(introspect_json(&ts, &a, &expiring), inactive());
}

#[test]
fn introspection_hides_another_clients_token() {
    let ts = TestServer::start();
    let a = ts.create_account("a");
    let b = ts.create_account("b");
    let tok_b = ts.token(&b.client_id, &b.secret);
    assert_eq!(introspect_json(&ts, &a, &tok_b), inactive());
    assert_eq!(introspect_json(&ts, &b, &tok_b)["active"], true);
}

#[test]
fn admin_may_introspect_any_token() {
    let ts = TestServer::start();
    let a = ts.create_account("any");
    let tok = ts.token(&a.client_id, &a.secret);
    let r = introspect(&ts, ADMIN, ADMIN_PASSWORD, &tok);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["active"], true);
    assert_eq!(r.json()["client_id"], a.client_id.as_str());
}

#[test]
fn introspection_with_bad_caller_credentials_is_invalid_client() {
    let ts = TestServer::start();
    let a = ts.create_account("badcaller");
    let tok = ts.token(&a.client_id, &a.secret);
    let r = introspect(&ts, &a.client_id, "wrong", &tok);
    assert_oauth_error(&r, 401, "invalid_client");
    let r = introspect(&ts, ADMIN, "wrong-password", &tok);
    assert_oauth_error(&r, 401, "invalid_client");
    let r = ts.post(INTROSPECT_PATH).form(&format!("token={tok}")).send();
    assert_oauth_error(&r, 401, "invalid_client");
}

#[test]
fn introspection_without_token_is_invalid_request() {
    let ts = TestServer::start();
    let a = ts.create_account("notoken");
    let r = ts
        .post(INTROSPECT_PATH)
        .basic(&a.client_id, &a.secret)
        .form("token_type_hint=access_token")
        .send();
    assert_oauth_error(&r, 400, "invalid_request");
}

// ---------------------------------------------------------------- D. revocation

#[test]
fn revoking_own_token_kills_it() {
    let ts = TestServer::start();
    let a = ts.create_account("rev");
    let tok = ts.token(&a.client_id, &a.secret);
    let other = ts.token(&a.client_id, &a.secret);
    let r = revoke(&ts, &a.client_id, &a.secret, &tok);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("Cache-Control"), Some("no-store"));
    assert_eq!(ts.bearer_status(&tok), 401);
    assert_eq!(introspect_json(&ts, &a, &tok), inactive());
    assert_eq!(ts.bearer_status(&other), 200, "only the one token dies");
}

#[test]
fn revoking_garbage_is_a_silent_success() {
    let ts = TestServer::start();
    let a = ts.create_account("garbage");
    let r = revoke(&ts, &a.client_id, &a.secret, "not-a-token");
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn revoking_another_clients_token_answers_200_but_does_nothing() {
    let ts = TestServer::start();
    let a = ts.create_account("a");
    let b = ts.create_account("b");
    let tok_b = ts.token(&b.client_id, &b.secret);
    assert_eq!(revoke(&ts, &a.client_id, &a.secret, &tok_b).status, 200);
    assert_eq!(ts.bearer_status(&tok_b), 200);
    assert_eq!(introspect_json(&ts, &b, &tok_b)["active"], true);
}

#[test]
fn admin_may_revoke_any_token() {
    let ts = TestServer::start();
    let a = ts.create_account("adminrev");
    let tok = ts.token(&a.client_id, &a.secret);
    assert_eq!(revoke(&ts, ADMIN, ADMIN_PASSWORD, &tok).status, 200);
    assert_eq!(ts.bearer_status(&tok), 401);
}

#[test]
fn revocation_survives_a_restart() {
    let mut ts = TestServer::start();
    let a = ts.create_account("durable");
    let tok = ts.token(&a.client_id, &a.secret);
    assert_eq!(revoke(&ts, &a.client_id, &a.secret, &tok).status, 200);
    ts.restart();
    assert_eq!(ts.bearer_status(&tok), 401);
    assert_eq!(introspect_json(&ts, &a, &tok), inactive());
}

#[test]
fn revocation_with_bad_caller_credentials_is_invalid_client() {
    let ts = TestServer::start();
    let a = ts.create_account("badrev");
    let tok = ts.token(&a.client_id, &a.secret);
    let r = revoke(&ts, &a.client_id, "wrong", &tok);
    assert_oauth_error(&r, 401, "invalid_client");
    assert_eq!(ts.bearer_status(&tok), 200);
}

// ---------------------------------------------------------------- E. rotation

#[test]
fn rotation_returns_the_client_entity_with_both_pairs() {
    let ts = TestServer::start();
    let a = ts.create_account("rot");
    let r = rotate(&ts, &a.client_id);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("Cache-Control"), Some("no-store"));
    let c = r.json();
    assert_eq!(c["id"], a.config_id.as_str());
    let new_id = c["clientId"].as_str().unwrap();
    let new_secret = c["clientSecret"].as_str().unwrap();
    assert_ne!(new_id, a.client_id);
    assert_ne!(new_secret, a.secret);
    assert_eq!(new_id.len(), 32);
    assert_eq!(new_secret.len(), 64);
    assert_eq!(c["name"], a.json["name"]);
    assert_eq!(c["redirects"], json!([]));
    assert_eq!(c["supportedGrantTypes"], json!(["client_credentials"]));
    assert_eq!(c["userKey"], "admin");
    assert_eq!(c["scope"], "APPLICATION");
    assert_eq!(c["rotatedClientId"], a.client_id.as_str());
    assert_eq!(c["rotatedClientSecret"], a.secret.as_str());
    assert_eq!(c["expiryDuration"], 2_592_000);
    let g = get_client(&ts, &a.config_id);
    assert_eq!(g.status, 200, "{}", g.text());
    assert_eq!(g.json(), c);
}

#[test]
fn rotation_and_client_lookup_are_for_admins_only() {
    let ts = TestServer::start();
    add_user(&ts, "bob", "bob-pw");
    let a = ts.create_account("guarded");
    let path = format!("/rest/oauth2/latest/rotate/{}", a.client_id);
    let r = ts.post(&path).basic("bob", "bob-pw").send();
    assert_crowd_error(&r, 403, "PERMISSION_DENIED");
    let r = ts.post(&path).send();
    assert_eq!(r.status, 401, "{}", r.text());
    let client_path = format!("/rest/oauth2/latest/client/{}", a.config_id);
    assert_eq!(ts.get(&client_path).basic("bob", "bob-pw").send().status, 403);
    assert_eq!(ts.get(&client_path).send().status, 401);
    // Nothing rotated.
    assert!(get_client(&ts, &a.config_id).json().get("rotatedClientId").is_none());
    ts.token(&a.client_id, &a.secret);
}

#[test]
fn both_pairs_work_during_the_grace_and_old_tokens_stay_valid() {
    let ts = TestServer::start();
    let a = ts.create_account("grace");
    let before = ts.token(&a.client_id, &a.secret);
    let c = rotate(&ts, &a.client_id).json();
    let (new_id, new_secret) =
        (c["clientId"].as_str().unwrap(), c["clientSecret"].as_str().unwrap());
    assert_eq!(ts.bearer_status(&before), 200);
    let old_tok = ts.token(&a.client_id, &a.secret);
    let new_tok = ts.token(new_id, new_secret);
    assert_eq!(ts.bearer_status(&old_tok), 200);
    assert_eq!(ts.bearer_status(&new_tok), 200);
    ts.advance_clock(Duration::from_secs(23 * 3600));
    ts.token(&a.client_id, &a.secret);
}

#[test]
fn old_pair_stops_after_the_default_grace() {
    let ts = TestServer::start();
    let a = ts.create_account("grace24");
    let c = rotate(&ts, &a.client_id).json();
    let (new_id, new_secret) =
        (c["clientId"].as_str().unwrap(), c["clientSecret"].as_str().unwrap());
    ts.advance_clock(Duration::from_secs(24 * 3600 + 1));
    let r = token_basic(&ts, &a.client_id, &a.secret, CC);
    assert_oauth_error(&r, 401, "invalid_client");
    ts.token(new_id, new_secret);
    let g = get_client(&ts, &a.config_id).json();
    assert_eq!(g["clientId"], new_id);
    assert!(g.get("rotatedClientId").is_none(), "{g}");
    assert!(g.get("rotatedClientSecret").is_none(), "{g}");
}

#[test]
fn rotation_grace_is_configurable() {
    let ts = TestServer::start_with(|c| c.rotation_grace = Duration::from_secs(60));
    let a = ts.create_account("grace60");
    let c = rotate(&ts, &a.client_id).json();
    ts.advance_clock(Duration::from_secs(30));
    ts.token(&a.client_id, &a.secret);
    ts.advance_clock(Duration::from_secs(31));
    let r = token_basic(&ts, &a.client_id, &a.secret, CC);
    assert_oauth_error(&r, 401, "invalid_client");
    ts.token(c["clientId"].as_str().unwrap(), c["clientSecret"].as_str().unwrap());
    assert!(get_client(&ts, &a.config_id).json().get("rotatedClientId").is_none());
}

#[test]
fn second_rotation_ends_the_first_old_pair_at_once() {
    let ts = TestServer::start();
    let a = ts.create_account("twice");
    let first = rotate(&ts, &a.client_id).json();
    let mid_id = first["clientId"].as_str().unwrap();
    let mid_secret = first["clientSecret"].as_str().unwrap();
    let second = rotate(&ts, mid_id);
    assert_eq!(second.status, 200, "{}", second.text());
    let second = second.json();
    assert_eq!(second["rotatedClientId"], mid_id);
    let r = token_basic(&ts, &a.client_id, &a.secret, CC);
    assert_oauth_error(&r, 401, "invalid_client");
    ts.token(mid_id, mid_secret);
    ts.token(second["clientId"].as_str().unwrap(), second["clientSecret"].as_str().unwrap());
}

#[test]
fn rotating_a_rotated_out_or_unknown_id_fails() {
    let ts = TestServer::start();
    let a = ts.create_account("stale");
    assert_eq!(rotate(&ts, &a.client_id).status, 200);
    let r = rotate(&ts, &a.client_id);
    assert_crowd_error(&r, 400, "ILLEGAL_ARGUMENT");
    let r = rotate(&ts, UNKNOWN_CLIENT);
    assert_crowd_error(&r, 404, "OAUTH_CLIENT_NOT_FOUND");
    let r = get_client(&ts, "00000000-0000-4000-8000-000000000000");
    assert_crowd_error(&r, 404, "OAUTH_CLIENT_NOT_FOUND");
}

#[test]
fn rotation_resets_last_rotated_and_expiry_and_shows_the_new_client_id() {
    let ts = TestServer::start();
    let a = ts.create_account("dates");
    let m0 = a.json["authMethods"][0].clone();
    ts.advance_clock(Duration::from_secs(2 * 86_400));
    let c = rotate(&ts, &a.client_id).json();
    let m1 = get_account(&ts, a.id)["authMethods"][0].clone();
    assert_eq!(m1["clientId"], c["clientId"]);
    assert!(m1.get("clientSecret").is_none(), "{m1}");
    let ms = |v: &Value| {
        humantime::parse_rfc3339(v.as_str().unwrap())
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let rotated_by = ms(&m1["lastRotatedAt"]) - ms(&m0["lastRotatedAt"]);
    assert!((2 * 86_400..2 * 86_400 + 60).contains(&rotated_by), "{m0} {m1}");
    let expiry_by = ms(&m1["expiryDate"]) - ms(&m0["expiryDate"]);
    assert!((2 * 86_400..2 * 86_400 + 60).contains(&expiry_by), "{m0} {m1}");
    assert_eq!(ms(&m1["expiryDate"]) - ms(&m1["lastRotatedAt"]), 2_592_000);
}

// ---------------------------------------------------------------- F. restart

#[test]
fn restart_keeps_accounts_clients_and_live_tokens() {
    let mut ts = TestServer::start();
    let a = ts.create_account("one");
    let b = ts.create_account("two");
    let ta = ts.token(&a.client_id, &a.secret);
    let tb = ts.token(&b.client_id, &b.secret);
    ts.restart();
    for (acct, tok) in [(&a, &ta), (&b, &tb)] {
        let r = ts.get(USER_PATH).bearer(tok).send();
        assert_eq!(r.status, 200, "{}", r.text());
        let i = introspect_json(&ts, acct, tok);
        assert_eq!(i["active"], true);
        assert_eq!(i["sub"], acct.json["name"]);
        ts.token(&acct.client_id, &acct.secret);
        assert_eq!(
            get_account(&ts, acct.id)["authMethods"][0]["clientId"],
            acct.client_id.as_str()
        );
        assert_eq!(get_client(&ts, &acct.config_id).json()["clientSecret"], acct.secret.as_str());
    }
}

#[test]
fn restart_keeps_a_rotation_in_grace() {
    let mut ts = TestServer::start();
    let a = ts.create_account("rot-restart");
    let c = rotate(&ts, &a.client_id).json();
    ts.restart();
    ts.token(&a.client_id, &a.secret);
    ts.token(c["clientId"].as_str().unwrap(), c["clientSecret"].as_str().unwrap());
    assert_eq!(get_client(&ts, &a.config_id).json(), c);
}

// ---------------------------------------------------------------- G. audit

#[test]
fn audit_records_credential_events_and_never_a_secret() {
    let ts = TestServer::start();
    let a = ts.create_account("audited");
    let presented = "feedfacefeedfacefeedfacefeedface";
    let wrong_secret = "this-wrong-secret-must-not-be-logged";
    let r = token_basic(&ts, presented, wrong_secret, CC);
    assert_oauth_error(&r, 401, "invalid_client");
    let r = token_basic(&ts, &a.client_id, wrong_secret, CC);
    assert_oauth_error(&r, 401, "invalid_client");
    let tok = ts.token(&a.client_id, &a.secret);
    let kept = ts.token(&a.client_id, &a.secret);
    let c = rotate(&ts, &a.client_id).json();
    assert_eq!(revoke(&ts, &a.client_id, &a.secret, &tok).status, 200);
    ts.flush();

    let r = ts.get("/rest/audit/1.0/events?limit=100").admin().send();
    assert_eq!(r.status, 200, "{}", r.text());
    let events = r.json()["values"].as_array().unwrap().clone();
    let find = |action: &str| {
        events
            .iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("no {action} in {events:?}"))
            .clone()
    };
    // A known client id with a wrong secret is recorded as is; an unknown one (which may be a
    // secret pasted into the wrong field) only as a digest.
    let failed: Vec<_> =
        events.iter().filter(|e| e["action"] == "CLIENT_AUTHENTICATION_FAILED").collect();
    assert_eq!(failed.len(), 2, "{events:?}");
    assert!(failed.iter().all(|e| e["actor"] == "anonymous"));
    assert!(failed.iter().any(|e| e["target"] == a.client_id.as_str()));
    let unknown = failed.iter().find(|e| e["target"] != a.client_id.as_str()).unwrap();
    assert!(unknown["target"].as_str().unwrap().starts_with("unknown client id (sha256 "));
    assert!(!r.text().contains(presented));
    let rotated = find("CLIENT_SECRET_ROTATED");
    assert_eq!(rotated["actor"], ADMIN);
    assert_eq!(rotated["target"], a.json["name"]);
    let revoked = find("TOKEN_REVOKED");
    assert_eq!(revoked["target"], a.client_id.as_str());

    let text = r.text();
    for secret in [
        a.secret.as_str(),
        wrong_secret,
        c["clientSecret"].as_str().unwrap(),
        tok.as_str(),
        kept.as_str(),
        ADMIN_PASSWORD,
    ] {
        assert!(!text.contains(secret), "audit leaks {secret}: {text}");
    }
    // Not even a piece of a token: no 16-character window of it appears.
    for i in 0..=tok.len() - 16 {
        assert!(!text.contains(&tok[i..i + 16]), "audit leaks part of a token: {text}");
    }
}

// ---------------------------------------------------------------- H. write-behind records

#[test]
fn token_records_are_written_behind_and_deleted_on_archive() {
    let ts = TestServer::start();
    let a = ts.create_account("records");
    let other = ts.create_account("bystander");
    for _ in 0..3 {
        ts.token(&a.client_id, &a.secret);
    }
    ts.flush();
    let store = || ts.running().store().unwrap();
    assert_eq!(store().token_record_count().unwrap(), 3);
    let r = ts.delete(&format!("{SA_PATH}/{}", a.id)).admin().send();
    assert_eq!(r.status, 204, "{}", r.text());
    ts.flush();
    assert_eq!(store().token_record_count().unwrap(), 0);
    let tok = ts.token(&other.client_id, &other.secret);
    ts.flush();
    assert_eq!(store().token_record_count().unwrap(), 1);
    assert_eq!(ts.bearer_status(&tok), 200);
}

// Regressions found in review.

/// RFC 6749 §5.2: a client that tried the Authorization header and failed gets 401
/// invalid_client, even when the header itself is malformed.
#[test]
fn malformed_basic_header_is_invalid_client() {
    let ts = TestServer::start();
    for header in ["Basic !!!notbase64", "Basic bm9jb2xvbg=="] {
        let r = ts
            .post(TOKEN_PATH)
            .header("Authorization", header)
            .form("grant_type=client_credentials")
            .send();
        assert_oauth_error(&r, 401, "invalid_client");
        assert!(r.header("WWW-Authenticate").is_some());
    }
}

/// RFC 6750 §3.1: `Bearer` with no token is an invalid token, not a missing credential.
#[test]
fn empty_bearer_is_invalid_token() {
    let ts = TestServer::start();
    for header in ["Bearer", "Bearer "] {
        let r = ts
            .get("/rest/usermanagement/1/user?username=admin")
            .header("Authorization", header)
            .send();
        assert_eq!(r.status, 401, "{header:?}");
        assert_eq!(
            r.header("WWW-Authenticate"),
            Some("Bearer error=\"invalid_token\""),
            "{header:?}"
        );
    }
}

/// The background purge removes the records of expired tokens, driven by the server's clock.
#[test]
fn expired_token_records_are_purged_in_the_background() {
    let ts = TestServer::start_with(|c| c.purge_interval = Duration::from_millis(20));
    let a = ts.create_account("purged");
    for _ in 0..3 {
        ts.token(&a.client_id, &a.secret);
    }
    ts.flush();
    let store = || ts.running().store().unwrap();
    assert_eq!(store().token_record_count().unwrap(), 3);
    ts.advance_clock(Duration::from_secs(3601));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while store().token_record_count().unwrap() > 0 {
        assert!(std::time::Instant::now() < deadline, "records were not purged");
        std::thread::sleep(Duration::from_millis(5));
    }
    // A fresh token is recorded again afterwards.
    ts.token(&a.client_id, &a.secret);
    ts.flush();
    assert_eq!(store().token_record_count().unwrap(), 1);
}

/// RFC 8414 metadata: an OAuth library given only the issuer finds the token, introspection
/// and revocation endpoints there, and each one it names answers as the metadata says.
#[test]
fn the_authorization_server_metadata_names_endpoints_that_work() {
    let ts = TestServer::start();
    let r = ts.get("/.well-known/oauth-authorization-server").send();
    assert_eq!(r.status, 200, "{}", r.text());
    let m = r.json();
    assert_eq!(m["issuer"], ts.url());
    assert_eq!(m["grant_types_supported"], serde_json::json!(["client_credentials"]));
    assert_eq!(
        m["token_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post", "private_key_jwt"])
    );
    assert_eq!(m["response_types_supported"], serde_json::json!([]));
    let a = ts.create_account("meta");
    let path =
        |field: &str| m[field].as_str().unwrap().strip_prefix(&ts.url()).unwrap().to_string();
    let token = ts
        .post(&path("token_endpoint"))
        .basic(&a.client_id, &a.secret)
        .form("grant_type=client_credentials")
        .send();
    assert_eq!(token.status, 200, "{}", token.text());
    let access = token.json()["access_token"].as_str().unwrap().to_string();
    let introspected = ts
        .post(&path("introspection_endpoint"))
        .basic(&a.client_id, &a.secret)
        .form(&format!("token={access}"))
        .send();
    assert_eq!(introspected.json()["active"], true);
    let revoked = ts
        .post(&path("revocation_endpoint"))
        .basic(&a.client_id, &a.secret)
        .form(&format!("token={access}"))
        .send();
    assert_eq!(revoked.status, 200);
    assert_eq!(ts.post("/.well-known/oauth-authorization-server").send().status, 405);
    assert_eq!(ts.get("/.well-known/openid-configuration").send().status, 404);
}
