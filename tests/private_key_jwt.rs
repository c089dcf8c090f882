//! `private_key_jwt` (RFC 7523 §2.2) end to end over HTTP: service accounts that hold public
//! keys (a JWK set, or a JWKS URL), assertions signed RS256 and ES256 exchanged for tokens in
//! a form or Atlassian's JSON body, every rule an assertion is held to, replay, key rotation,
//! and what the audit log keeps.

mod common;

use common::fake::{Behaviour, FakeServer};
use common::jwt::{self, claims, form, Signer, ASSERTION_TYPE};
use common::*;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Creates an account whose keys are `keys` (`{"jwks":…}` or `{"jwksUri":…}`); returns its
/// id and client id.
fn key_account(ts: &TestServer, keys: Value, scopes: &[&str]) -> (u64, String) {
    let mut body = json!({"displayName": "idp", "scopes": scopes, "expiryDuration": 86_400});
    body.as_object_mut().unwrap().extend(keys.as_object().unwrap().clone());
    let r = ts.post(SA_PATH).admin().json(&body).send();
    assert_eq!(r.status, 201, "{}", r.text());
    let v = r.json();
    let m = &v["authMethods"][0];
    assert_eq!(m["tokenEndpointAuthMethod"], "private_key_jwt", "{v}");
    assert!(m.get("clientSecret").is_none(), "a key account has no secret: {v}");
    assert!(m.get("expiryDate").is_none(), "{v}");
    (v["id"].as_u64().unwrap(), m["clientId"].as_str().unwrap().to_string())
}

fn aud(ts: &TestServer) -> String {
    format!("{}{TOKEN_PATH}", ts.url())
}

fn exchange(ts: &TestServer, assertion: &str) -> throng::bench::client::ClientResponse {
    ts.post(TOKEN_PATH).form(&form(assertion)).send()
}

/// Asserts a refused assertion: 401 `invalid_client`, naming `rule`.
fn assert_refused(r: &throng::bench::client::ClientResponse, rule: &str) {
    assert_oauth_error(r, 401, "invalid_client");
    let why = r.json()["error_description"].as_str().unwrap_or_default().to_string();
    assert!(why.contains(rule), "expected '{rule}' in: {why}");
}

#[test]
fn an_rs256_assertion_without_client_id_gets_a_manage_directory_token() {
    let ts = TestServer::start();
    let rsa = Signer::rsa("rsa-1");
    let (_, client) = key_account(&ts, json!({"jwks": rsa.jwks()}), &["manage:directory"]);
    let r = exchange(&ts, &rsa.sign(&claims(&client, &aud(&ts), jwt::now())));
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["scope"], "manage:directory");
    assert_eq!(v["token_type"], "bearer");
    let token = v["access_token"].as_str().unwrap();
    let i =
        ts.post("/rest/oauth2/latest/introspect").admin().form(&format!("token={token}")).send();
    assert_eq!(i.json()["active"], true, "{}", i.text());
    assert_eq!(i.json()["client_id"], client.as_str());
    assert_eq!(i.json()["scope"], "manage:directory");
}

#[test]
fn atlassians_json_request_at_oauth_token_and_es256() {
    let ts = TestServer::start();
    let ec = Signer::ec("ec-1");
    let (_, client) = key_account(&ts, json!({"jwks": ec.jwks()}), &["manage:directory"]);
    // Part C's request: JSON, client_id given, the claims it lists and no jti or iat.
    let now = jwt::now();
    let assertion = ec.sign(&json!({
        "exp": now + 300, "aud": format!("{}/oauth/token", ts.url()), "iss": client, "sub": client,
    }));
    let body = json!({
        "client_id": client, "grant_type": "client_credentials", "scope": "manage:directory",
        "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion,
    });
    let r = ts.post("/oauth/token").json(&body).send();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["token_type"], "Bearer");
    assert_eq!(r.json()["scope"], "manage:directory");
    assert_eq!(r.json()["expires_in"], 3600);
    // Without a jti, the signed content itself is single-use.
    let again = ts.post("/oauth/token").json(&body).send();
    assert_refused(&again, "used before");
    // The issuer is an audience too.
    let by_issuer =
        ec.sign(&json!({"exp": now + 300, "aud": ts.url(), "iss": client, "sub": client}));
    assert_eq!(exchange(&ts, &by_issuer).status, 200);
}

#[test]
fn every_rule_of_an_assertion_is_enforced_and_named() {
    let ts = TestServer::start_with(|c| c.auth_failure_limit = 1000);
    let rsa = Signer::rsa("rsa-1");
    let ec = Signer::ec("ec-1");
    let set = json!({"keys": [rsa.jwk(), ec.jwk()]});
    let (_, client) = key_account(&ts, json!({"jwks": set}), &["manage:directory", "APPLICATION"]);
    let aud = aud(&ts);
    let now = jwt::now();
    let ok = || claims(&client, &aud, now);
    let with = |k: &str, v: Value| {
        let mut c = ok();
        c[k] = v;
        c
    };
    let without = |k: &str| {
        let mut c = ok();
        c.as_object_mut().unwrap().remove(k);
        c
    };
    // Tampered: a claim changed after signing.
    let good = rsa.sign(&ok());
    let parts: Vec<&str> = good.split('.').collect();
    let forged = throng::crypto::b64url(with("exp", json!(now + 30)).to_string().as_bytes());
    let tampered = format!("{}.{forged}.{}", parts[0], parts[2]);
    let cases: Vec<(String, &str)> = vec![
        (tampered, "signature does not verify"),
        (rsa.sign_raw(&json!({"alg":"RS256","kid":"nope"}), &ok()), "no key with kid 'nope'"),
        (rsa.sign_raw(&json!({"alg":"ES256","kid":"rsa-1"}), &ok()), "is a key for RS256"),
        (rsa.sign_raw(&json!({"alg":"none","kid":"rsa-1"}), &ok()), "alg 'none' is not accepted"),
        (rsa.sign_raw(&json!({"alg":"HS256","kid":"rsa-1"}), &ok()), "alg 'HS256' is not accepted"),
        (rsa.sign(&with("exp", json!(now - 120))), "expired"),
        (rsa.sign(&without("exp")), "exp is required"),
        (rsa.sign(&with("exp", json!(now + 7200))), "valid for too long"),
        (rsa.sign(&with("nbf", json!(now + 600))), "not valid yet"),
        (rsa.sign(&with("iat", json!(now + 600))), "issued in the future"),
        (rsa.sign(&with("aud", json!("https://elsewhere.example/token"))), "aud must name"),
        (
            rsa.sign(&with("aud", json!(["https://a.example", "https://b.example"]))),
            "aud must name",
        ),
        (rsa.sign(&with("iss", json!("other"))), "iss and sub"),
        (ec.sign(&with("jti", json!(""))), "jti"),
        ("not-a-jws".to_string(), "three parts"),
        ("e30.e30.".to_string(), "no alg"),
    ];
    for (assertion, rule) in &cases {
        let r = exchange(&ts, assertion);
        assert_eq!(r.status, 401, "{rule}: {}", r.text());
        assert_refused(&r, rule);
    }
    // A sub naming another client (unknown or with a secret) reads the same either way, and
    // as a key client's answer for a key it does not hold.
    let secret_account = ts.create_account("secret");
    for other in [secret_account.client_id.as_str(), "0123456789abcdef0123456789abcdef"] {
        let mut c = ok();
        c["iss"] = json!(other);
        c["sub"] = json!(other);
        // As for a key client without the key: "no key with kid 'rsa-1' is registered".
        assert_refused(&exchange(&ts, &rsa.sign(&c)), "no key with kid 'rsa-1' is registered");
    }
    // client_id beside an assertion for another client.
    let r = ts
        .post(TOKEN_PATH)
        .form(&format!("{}&client_id={}", form(&rsa.sign(&ok())), secret_account.client_id))
        .send();
    assert_refused(&r, "");
    // And the key client's id with a secret is refused like a wrong secret.
    let r =
        ts.post(TOKEN_PATH).basic(&client, "guess").form("grant_type=client_credentials").send();
    assert_oauth_error(&r, 401, "invalid_client");
    // Each refusal was a failure for the audit log, and no assertion is in it.
    ts.flush();
    let audit = ts.get("/rest/audit/1.0/events?limit=1000").admin().send().text();
    assert!(audit.contains("CLIENT_AUTHENTICATION_FAILED"), "{audit}");
    assert!(!audit.contains(&cases[1].0[..40]), "an assertion reached the audit log");
    // Without a kid, the one key of the header's algorithm is used (authlib sends a kid only
    // when told to).
    assert_eq!(exchange(&ts, &rsa.sign_raw(&json!({"alg":"RS256"}), &ok())).status, 200);
    // After all that, the good one still works, once.
    assert_eq!(exchange(&ts, &good).status, 200);
    assert_refused(&exchange(&ts, &good), "used before");
    // A scope the client does not hold.
    let r = ts.post(TOKEN_PATH).form(&format!("{}&scope=SYSTEM", form(&ec.sign(&ok())))).send();
    assert_oauth_error(&r, 400, "invalid_scope");
}

#[test]
fn the_request_envelope_is_checked_before_the_assertion() {
    let ts = TestServer::start();
    let rsa = Signer::rsa("k");
    let (_, client) = key_account(&ts, json!({"jwks": rsa.jwks()}), &["manage:directory"]);
    let a = rsa.sign(&claims(&client, &aud(&ts), jwt::now()));
    let cases = [
        (format!("{}&client_secret=x&client_id={client}", form(&a)), "one client authentication"),
        (format!("grant_type=client_credentials&client_assertion={a}"), "client_assertion_type is required"),
        (format!("grant_type=client_credentials&client_assertion_type=urn%3Afoo&client_assertion={a}"), "must be urn"),
        (format!("grant_type=client_credentials&client_assertion_type={}", ASSERTION_TYPE), "client_assertion is required"),
    ];
    for (body, why) in cases {
        let r = ts.post(TOKEN_PATH).form(&body).send();
        assert_oauth_error(&r, 400, "invalid_request");
        assert!(r.text().contains(why), "{why}: {}", r.text());
    }
    let r = ts.post(TOKEN_PATH).basic(&client, "x").form(&form(&a)).send();
    assert_oauth_error(&r, 400, "invalid_request");
    // None of these used the assertion up.
    assert_eq!(exchange(&ts, &a).status, 200);
}

#[test]
fn registered_keys_are_checked_and_scopes_follow_the_method() {
    let ts = TestServer::start();
    let rsa = Signer::rsa("k");
    let mut private = rsa.jwk();
    private["d"] = json!("AQAB");
    let mut short = rsa.jwk();
    short["n"] = json!(throng::crypto::b64url(&[0xc5; 128]));
    let create = |extra: Value, scopes: Value| {
        let mut body = json!({"displayName": "x", "scopes": scopes, "expiryDuration": 100});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        ts.post(SA_PATH).admin().json(&body).send()
    };
    let md = json!(["manage:directory"]);
    for (extra, why) in [
        (json!({"jwks": {"keys": [private]}}), "private"),
        (json!({"jwks": {"keys": [short]}}), "1024 bits"),
        (json!({"jwks": {"keys": []}}), "1 to 20 keys"),
        (json!({"jwks": {"keys": [rsa.jwk(), rsa.jwk()]}}), "twice"),
        (json!({"jwks": rsa.jwks(), "jwksUri": "https://idp.example/jwks"}), "not both"),
        (json!({"jwksUri": "ftp://idp.example/jwks"}), "http(s)"),
    ] {
        let r = create(extra, md.clone());
        assert_crowd_error(&r, 400, "ILLEGAL_ARGUMENT");
        assert!(r.text().contains(why), "{why}: {}", r.text());
    }
    let r = create(json!({}), md.clone());
    assert!(r.text().contains("needs a key"), "{}", r.text());
    let r = create(json!({"jwks": rsa.jwks()}), json!(["SYSTEM"]));
    assert_crowd_error(&r, 400, "ILLEGAL_ARGUMENT");
    // The client view shows the keys and no secret; rotation is for secrets.
    let (_, client) = key_account(&ts, json!({"jwks": rsa.jwks()}), &["APPLICATION"]);
    let config = ts
        .get(&format!("/rest/oauth2/latest/client/{}", {
            let list = ts.get(&format!("{SA_PATH}/?active=true")).admin().send().json();
            list["values"][0]["authMethods"][0]["id"].as_str().unwrap().to_string()
        }))
        .admin()
        .send();
    assert_eq!(config.status, 200, "{}", config.text());
    assert_eq!(config.json()["tokenEndpointAuthMethod"], "private_key_jwt");
    assert_eq!(config.json()["jwks"]["keys"][0]["kid"], "k");
    assert!(config.json().get("clientSecret").is_none());
    let r = ts.post(&format!("/rest/oauth2/latest/rotate/{client}")).admin().send();
    assert_crowd_error(&r, 400, "ILLEGAL_ARGUMENT");
    assert!(r.text().contains("rotate its keys"), "{}", r.text());
}

#[test]
fn keys_rotate_by_adding_and_removing_and_removal_ends_tokens() {
    let ts = TestServer::start();
    let old = Signer::rsa("old");
    let new = Signer::ec("new");
    let (id, client) = key_account(&ts, json!({"jwks": old.jwks()}), &["APPLICATION"]);
    let aud = aud(&ts);
    let token = |s: &Signer| exchange(&ts, &s.sign(&claims(&client, &aud, jwt::now())));
    let r = token(&old);
    assert_eq!(r.status, 200);
    let old_token = r.json()["access_token"].as_str().unwrap().to_string();
    assert_eq!(ts.bearer_status(&old_token), 200);
    assert_refused(&token(&new), "no key with kid 'new'");

    let keys = format!("{SA_PATH}/{id}/keys");
    let mut no_kid = new.jwk();
    no_kid.as_object_mut().unwrap().remove("kid");
    assert_crowd_error(&ts.post(&keys).admin().json(&no_kid).send(), 400, "ILLEGAL_ARGUMENT");
    let r = ts.post(&keys).admin().json(&new.jwk()).send();
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["jwks"]["keys"].as_array().unwrap().len(), 2);
    assert_crowd_error(&ts.post(&keys).admin().json(&new.jwk()).send(), 400, "ILLEGAL_ARGUMENT");
    // Adding ends nothing; both keys work.
    assert_eq!(ts.bearer_status(&old_token), 200);
    assert_eq!(token(&new).status, 200);
    assert_eq!(token(&old).status, 200);

    assert_eq!(ts.delete(&format!("{keys}/old")).admin().send().status, 204);
    assert_refused(&token(&old), "no key with kid 'old'");
    assert_eq!(ts.bearer_status(&old_token), 401, "removing a key ends the tokens");
    assert_eq!(token(&new).status, 200);
    assert_crowd_error(&ts.delete(&format!("{keys}/old")).admin().send(), 404, "KEY_NOT_FOUND");
    let r = ts.delete(&format!("{keys}/new")).admin().send();
    assert_crowd_error(&r, 400, "ILLEGAL_ARGUMENT");
    assert!(r.text().contains("last key"), "{}", r.text());
    let audit = ts.get("/rest/audit/1.0/events?limit=100").admin().send().text();
    assert!(audit.contains("CLIENT_KEYS_CHANGED"), "{audit}");
    // Keys of a secret account are not a thing.
    let secret = ts.create_account("secret");
    let r = ts.get(&format!("{SA_PATH}/{}/keys", secret.id)).admin().send();
    assert_crowd_error(&r, 400, "ILLEGAL_ARGUMENT");
    // The keys survive a restart.
    let mut ts = ts;
    ts.restart();
    let r = ts.get(&keys).admin().send();
    assert_eq!(r.json()["jwks"]["keys"][0]["kid"], "new", "{}", r.text());
}

/// A fake IdP publishing a JWK set, counting its fetches.
fn jwks_host(set: Arc<std::sync::Mutex<Value>>, hits: Arc<AtomicUsize>) -> FakeServer {
    let idp = FakeServer::start();
    idp.set(Behaviour::Routes(Arc::new(move |_| {
        hits.fetch_add(1, Ordering::SeqCst);
        (
            200,
            vec![("Content-Type", "application/json")],
            set.lock().unwrap().to_string().into_bytes(),
        )
    })));
    idp
}

#[test]
fn a_jwks_url_is_fetched_cached_and_refetched_for_a_new_kid_at_most_once_per_interval() {
    let ts = TestServer::start_with(|c| {
        c.jwks_refetch_interval = Duration::from_secs(30);
        c.jwks_cache_ttl = Duration::from_secs(300);
    });
    let first = Signer::rsa("first");
    let second = Signer::ec("second");
    let set = Arc::new(std::sync::Mutex::new(first.jwks()));
    let hits = Arc::new(AtomicUsize::new(0));
    let idp = jwks_host(set.clone(), hits.clone());
    let url = format!("{}/jwks.json", idp.url);
    let (id, client) = key_account(&ts, json!({"jwksUri": url}), &["manage:directory"]);
    let now = || jwt::now() + ts_offset(&ts);
    let aud = aud(&ts);
    let token = |s: &Signer| exchange(&ts, &s.sign(&claims(&client, &aud, now())));
    assert_eq!(token(&first).status, 200);
    assert_eq!(token(&first).status, 200);
    assert_eq!(hits.load(Ordering::SeqCst), 1, "cached");
    // The IdP rotates: a new kid within the refetch interval of the last fetch is not
    // fetched...
    *set.lock().unwrap() = json!({"keys": [first.jwk(), second.jwk()]});
    assert_refused(&token(&second), "no key with kid 'second'");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    // ...and after it, at once, although the cached set is still fresh.
    ts.advance_clock(Duration::from_secs(31));
    assert_eq!(token(&second).status, 200);
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    // ...but made-up kids do not make throng fetch again within the interval.
    let stranger = Signer::ec("made-up");
    for _ in 0..5 {
        assert_refused(&token(&stranger), "no key with kid 'made-up'");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    // After the TTL the set is fetched again: a key the IdP dropped stops working.
    *set.lock().unwrap() = second.jwks();
    ts.advance_clock(Duration::from_secs(300));
    assert_refused(&token(&first), "no key with kid 'first'");
    assert_eq!(token(&second).status, 200);
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    // The view shows the URL.
    let r = ts.get(&format!("{SA_PATH}/{id}/keys")).admin().send();
    assert_eq!(r.json(), json!({"jwksUri": url}));
    // A set of keys added by kid is for registered sets only.
    let r = ts.post(&format!("{SA_PATH}/{id}/keys")).admin().json(&stranger.jwk()).send();
    assert_crowd_error(&r, 400, "ILLEGAL_ARGUMENT");
}

/// How far the test has moved the server's clock, in seconds (assertions are signed at the
/// server's now).
fn ts_offset(ts: &TestServer) -> u64 {
    ts.running().app().clock.now_secs().saturating_sub(jwt::now())
}

#[test]
fn a_jwks_url_that_is_down_slow_or_garbage_refuses_the_assertion_in_bounded_time() {
    let ts = TestServer::start_with(|c| {
        c.outbound_timeout = Duration::from_millis(300);
        c.jwks_refetch_interval = Duration::from_secs(10);
        c.auth_failure_limit = 1000;
    });
    let rsa = Signer::rsa("k");
    let idp = FakeServer::start();
    let (_, client) =
        key_account(&ts, json!({"jwksUri": format!("{}/keys", idp.url)}), &["manage:directory"]);
    let aud = aud(&ts);
    let mut offset = 0;
    let mut attempt = |ts: &TestServer| {
        // Each case after the refetch interval, so that the URL is asked again.
        ts.advance_clock(Duration::from_secs(11));
        offset += 11;
        exchange(ts, &rsa.sign(&claims(&client, &aud, jwt::now() + offset)))
    };
    let cases: Vec<(Behaviour, &str)> = vec![
        (Behaviour::Silent, "could not be used"),
        (Behaviour::Answer(500, vec![], b"oops".to_vec()), "HTTP 500"),
        (Behaviour::Answer(200, vec![], b"<html>".to_vec()), "not JSON"),
        (
            Behaviour::Answer(200, vec![], br#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#.to_vec()),
            "refused",
        ),
    ];
    for (behaviour, why) in cases {
        idp.set(behaviour);
        let started = std::time::Instant::now();
        let r = attempt(&ts);
        assert_refused(&r, why);
        assert!(started.elapsed() < Duration::from_secs(5), "{why}: {:?}", started.elapsed());
    }
    // Nowhere at all.
    drop(idp);
    let dead = format!("http://127.0.0.1:{}/keys", free_port());
    let (_, client2) = key_account(&ts, json!({"jwksUri": dead}), &["manage:directory"]);
    let r = exchange(&ts, &rsa.sign(&claims(&client2, &aud, jwt::now() + offset)));
    assert_refused(&r, "could not be used");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn replay_protection_survives_a_restart_and_the_metadata_lists_the_method() {
    let mut ts = TestServer::start_with(|c| {
        c.assertion_audiences = vec!["https://throng.example/token".into()];
        c.replay_durability = throng::store::replay::Durability::Disk;
    });
    let rsa = Signer::rsa("k");
    let (_, client) = key_account(&ts, json!({"jwks": rsa.jwks()}), &["manage:directory"]);
    let used = rsa.sign(&claims(&client, "https://throng.example/token", jwt::now()));
    assert_eq!(exchange(&ts, &used).status, 200);
    ts.restart();
    assert_refused(&exchange(&ts, &used), "used before");
    let fresh = rsa.sign(&claims(&client, "https://throng.example/token", jwt::now()));
    assert_eq!(exchange(&ts, &fresh).status, 200);

    let m = ts.get("/.well-known/oauth-authorization-server").send().json();
    assert_eq!(
        m["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post", "private_key_jwt"])
    );
    assert_eq!(m["token_endpoint_auth_signing_alg_values_supported"], json!(["RS256", "ES256"]));
    assert!(m["scopes_supported"].as_array().unwrap().contains(&json!("manage:directory")));
}

#[test]
fn the_replay_guard_is_bounded() {
    let ts = TestServer::start_with(|c| c.max_live_assertions = 3);
    let ec = Signer::ec("k");
    let (_, client) = key_account(&ts, json!({"jwks": ec.jwks()}), &["manage:directory"]);
    let aud = aud(&ts);
    for _ in 0..3 {
        assert_eq!(exchange(&ts, &ec.sign(&claims(&client, &aud, jwt::now()))).status, 200);
    }
    let r = exchange(&ts, &ec.sign(&claims(&client, &aud, jwt::now())));
    assert_oauth_error(&r, 503, "temporarily_unavailable");
    assert!(r.header("Retry-After").is_some());
}

/// `--assertion-audience-mode issuer`: the issuer alone, as one string
/// (draft-ietf-oauth-rfc7523bis); the token endpoint URL and arrays are refused.
#[test]
fn the_issuer_only_audience_mode_takes_the_issuer_as_one_string() {
    let ts = TestServer::start_with(|c| {
        c.assertion_issuer_only = true;
        c.assertion_audiences = vec!["https://extra.example".into()];
    });
    let ec = Signer::ec("k");
    let (_, client) = key_account(&ts, json!({"jwks": ec.jwks()}), &["manage:directory"]);
    let now = jwt::now();
    let ok = exchange(&ts, &ec.sign(&claims(&client, &ts.url(), now)));
    assert_eq!(ok.status, 200, "{}", ok.text());
    for aud in [json!(aud(&ts)), json!("https://extra.example"), json!([ts.url()])] {
        let mut c = claims(&client, "", now);
        c["aud"] = aud.clone();
        let r = exchange(&ts, &ec.sign(&c));
        assert_oauth_error(&r, 401, "invalid_client");
        assert!(r.text().contains("aud"), "{aud}: {}", r.text());
    }
}
