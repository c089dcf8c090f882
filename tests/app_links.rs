//! Application links (`/rest/admin/1.0/application-links`) and applications that authenticate
//! with an incoming link's OAuth 2.0 client: Crowd 7.0's directory sync over OAuth 2.0, the
//! server side.

mod common;
use common::*;
use serde_json::{json, Value};

const UM: &str = "/rest/usermanagement/1";

fn incoming(ts: &TestServer, name: &str) -> Value {
    let r = ts
        .post(LINKS)
        .admin()
        .json(&json!({"name": name, "direction": "INCOMING", "redirectUrl": "https://jira.example.com"}))
        .send();
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

fn credentials(link: &Value) -> (String, String) {
    let c = &link["oauthClient"];
    (c["clientId"].as_str().unwrap().into(), c["clientSecret"].as_str().unwrap().into())
}

/// An application that authenticates with the link `link`, allowed from loopback, mapped to
/// the internal directory with every operation.
fn application(ts: &TestServer, name: &str, link: &str) -> Value {
    let body = json!({"name": name, "type": "JIRA", "active": true, "application-link": link,
        "directory-mappings": [{"directory-id": 1, "authenticate-all": true,
            "allowed-operations": ["CREATE_USER", "UPDATE_USER", "CREATE_GROUP", "UPDATE_GROUP"]}],
        "remote-addresses": [{"value": "127.0.0.1"}]});
    let r = ts.post(APPS).admin().json(&body).send();
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

#[test]
fn an_incoming_links_token_acts_as_the_application_that_takes_it() {
    let ts = TestServer::start();
    let link = incoming(&ts, "jira-link");
    assert_eq!(link["direction"], "INCOMING");
    assert_eq!(link["oauthClient"]["redirects"], json!(["https://jira.example.com"]));
    let (id, secret) = credentials(&link);
    assert_eq!((id.len(), secret.len()), (32, 64));
    let app = application(&ts, "jira", "jira-link");
    assert_eq!(app["application-link"], "jira-link");
    let shown = ts.get(&format!("{LINKS}/{}", link["id"])).admin().send().json();
    assert_eq!(
        (shown["application"].as_str(), shown["oauthClient"]["clientSecret"].as_str()),
        (Some("jira"), Some(secret.as_str()))
    );

    let token = ts.token(&id, &secret);
    let read = ts
        .get(&format!("{UM}/user?username=admin"))
        .bearer(&token)
        .header("Accept", "application/json")
        .send();
    assert_eq!(read.status, 200, "{}", read.text());
    // It writes as the application may, which a service account's token may not.
    let created = ts
        .post(&format!("{UM}/user"))
        .bearer(&token)
        .json(&json!({"name": "synced", "password": {"value": "pw"}, "email": "s@example.com"}))
        .send();
    assert_eq!(created.status, 201, "{}", created.text());
    let account = ts.create_account("reader");
    let reader = ts.token(&account.client_id, &account.secret);
    let refused = ts
        .post(&format!("{UM}/user"))
        .bearer(&reader)
        .json(&json!({"name": "other", "password": {"value": "pw"}}))
        .send();
    assert_eq!(refused.status, 403, "{}", refused.text());
    // On the admin API a link's token is no service account: it would reach every directory.
    let admin = ts.get("/rest/admin/1.0/directory/detailed").bearer(&token).send();
    assert_eq!(admin.status, 403, "{}", admin.text());
    assert!(admin.text().contains("acts as its application on /rest/usermanagement/1 only"));
    assert_eq!(ts.get("/rest/admin/1.0/directory/detailed").bearer(&reader).send().status, 200);

    // Crowd's known problem: the application's remote addresses leave the caller out.
    let path = format!("{APPS}/{}/remote_address?address=127.0.0.1", app["id"]);
    assert_eq!(ts.delete(&path).admin().send().status, 204);
    let r = ts.get(&format!("{UM}/user?username=admin")).bearer(&token).send();
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(
        r.text().contains(
            "Client with address &quot;127.0.0.1&quot; is forbidden from making requests to the application, jira."
        ) || r.text().contains(
            "Client with address \"127.0.0.1\" is forbidden from making requests to the application, jira."
        ),
        "{}",
        r.text()
    );
    let add = ts
        .post(&format!("{APPS}/{}/remote_address", app["id"]))
        .admin()
        .json(&json!({"value": "127.0.0.1"}))
        .send();
    assert_eq!(add.status, 201, "{}", add.text());
    assert_eq!(ts.bearer_status(&token), 200, "allowed again at once");
}

#[test]
fn a_link_no_application_takes_is_refused_with_a_hint() {
    let ts = TestServer::start();
    let (id, secret) = credentials(&incoming(&ts, "loose"));
    let token = ts.token(&id, &secret);
    let r = ts.get(&format!("{UM}/user?username=admin")).bearer(&token).send();
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(
        r.text().contains("'loose' is not the authentication method of any application"),
        "{}",
        r.text()
    );
}

#[test]
fn a_links_client_rotates_like_a_service_accounts_and_goes_with_the_link() {
    let ts = TestServer::start();
    let link = incoming(&ts, "jira-link");
    let (id, secret) = credentials(&link);
    application(&ts, "jira", "jira-link");
    let token = ts.token(&id, &secret);
    let r = ts.post(&format!("/rest/oauth2/latest/rotate/{id}")).admin().send();
    assert_eq!(r.status, 200, "{}", r.text());
    let (new_id, new_secret) = (
        r.json()["clientId"].as_str().unwrap().to_string(),
        r.json()["clientSecret"].as_str().unwrap().to_string(),
    );
    assert_ne!(new_id, id);
    // The old pair works through the grace period; the new one at once.
    ts.token(&id, &secret);
    let fresh = ts.token(&new_id, &new_secret);
    assert_eq!(ts.bearer_status(&fresh), 200);

    // The link stays while an application authenticates with it.
    let delete = ts.delete(&format!("{LINKS}/{}", link["id"])).admin().send();
    assert_eq!(delete.status, 409, "{}", delete.text());
    assert!(
        delete.text().contains("application 'jira' authenticates with this link"),
        "{}",
        delete.text()
    );
    let apps = ts
        .get(&format!("{APPS}?name=jira"))
        .admin()
        .header("Accept", "application/json")
        .send()
        .json();
    let app_id = &apps["applications"][0]["id"];
    let to_password = ts
        .put(&format!("{APPS}/{app_id}"))
        .admin()
        .json(&json!({"password": {"value": "pw"}}))
        .send();
    assert_eq!(to_password.status, 204, "{}", to_password.text());
    assert_eq!(ts.delete(&format!("{LINKS}/{}", link["id"])).admin().send().status, 204);
    // Its client went with it: its tokens and its credentials are dead.
    assert_eq!(ts.bearer_status(&token), 401);
    assert_eq!(ts.bearer_status(&fresh), 401);
    let r = ts
        .post("/rest/oauth2/latest/token")
        .basic(&new_id, &new_secret)
        .form("grant_type=client_credentials")
        .send();
    assert_eq!(r.status, 401, "{}", r.text());
}

#[test]
fn outgoing_links_keep_their_secret_sealed_and_shown_masked() {
    let ts = TestServer::start();
    let body = json!({"name": "crowd", "direction": "OUTGOING", "grantType": "client_credentials",
        "serviceProvider": "Crowd", "tokenUrl": "http://127.0.0.1:9/rest/oauth2/latest/token",
        "clientId": "abc", "clientSecret": "s3cret-value-1234", "scopes": ["APPLICATION"]});
    let r = ts.post(LINKS).admin().json(&body).send();
    assert_eq!(r.status, 201, "{}", r.text());
    let link = r.json();
    assert_eq!(
        (link["clientSecret"].as_str(), link["grantType"].as_str()),
        (Some("••••1234"), Some("client_credentials"))
    );
    assert!(!r.text().contains("s3cret"), "{}", r.text());
    let path = format!("{LINKS}/{}", link["id"]);
    let r = ts
        .put(&path)
        .admin()
        .json(&json!({"clientSecret": "another-9876", "name": "Crowd prod"}))
        .send();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        (r.json()["clientSecret"].as_str(), r.json()["name"].as_str()),
        (Some("••••9876"), Some("Crowd prod"))
    );
    // The data file holds no secret in the clear.
    ts.flush();
    let db = std::fs::read(ts.dir.path().join("throng.redb")).unwrap();
    assert!(!db.windows(12).any(|w| w == b"another-9876"));

    // Bad input: each a 400 in Crowd's shape, or 409 for a taken name; nothing changes.
    for (bad, why) in [
        (json!({"name": "x", "direction": "SIDEWAYS"}), "direction"),
        (
            json!({"name": "x", "direction": "OUTGOING", "serviceProvider": "C", "tokenUrl": "ftp://h/t", "clientId": "a", "clientSecret": "b"}),
            "tokenUrl",
        ),
        (
            json!({"name": "x", "direction": "OUTGOING", "serviceProvider": "C", "tokenUrl": "http://h/t", "clientId": "a"}),
            "clientSecret",
        ),
        (json!({"name": "x", "direction": "INCOMING"}), "redirectUrl"),
        (
            json!({"name": "x", "direction": "OUTGOING", "serviceProvider": "C", "tokenUrl": "http://h/t", "clientId": "a", "clientSecret": "short"}),
            "a secret too short to mask",
        ),
        (
            json!({"name": "x", "direction": "INCOMING", "redirectUrl": "https://h", "expiryDuration": 3600.5}),
            "fractional expiry",
        ),
        (
            json!({"name": "x", "direction": "INCOMING", "redirectUrl": "https://h", "clientSecret": "mine"}),
            "incoming",
        ),
        (json!({"name": " x", "direction": "INCOMING", "redirectUrl": "https://h"}), "whitespace"),
        (
            json!({"name": "x", "direction": "INCOMING", "redirectUrl": "https://h", "typo": 1}),
            "unknown field",
        ),
    ] {
        let r = ts.post(LINKS).admin().json(&bad).send();
        assert_eq!(r.status, 400, "{why}: {}", r.text());
        assert!(
            r.json()["reason"].is_string() && r.json()["message"].is_string(),
            "{why}: {}",
            r.text()
        );
    }
    let taken = ts
        .post(LINKS)
        .admin()
        .json(&json!({"name": "CROWD PROD", "direction": "INCOMING", "redirectUrl": "https://h"}))
        .send();
    assert_eq!(taken.status, 409, "{}", taken.text());
    let turn = ts.put(&path).admin().json(&json!({"redirectUrl": "https://h"})).send();
    assert_eq!(turn.status, 400, "{}", turn.text());
    let listed = ts.get(LINKS).admin().send().json();
    assert_eq!(listed["links"].as_array().unwrap().len(), 1);
    assert_eq!(ts.get(&format!("{LINKS}/999")).admin().send().status, 404);

    // Tokens may not manage links; an application may not take an outgoing link.
    let account = ts.create_account("ops");
    let bearer = ts.token(&account.client_id, &account.secret);
    assert_eq!(ts.get(LINKS).bearer(&bearer).send().status, 403);
    let r = ts
        .post(APPS)
        .admin()
        .json(&json!({"name": "jira", "type": "JIRA", "application-link": "crowd prod"}))
        .send();
    assert_eq!(r.status, 400, "{}", r.text());
    ts.flush();
    let audit = ts.get("/rest/audit/1.0/events?limit=1000").admin().send().json();
    let actions: Vec<&str> =
        audit["values"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(
        actions.contains(&"APPLICATION_LINK_CREATED")
            && actions.contains(&"APPLICATION_LINK_UPDATED"),
        "{actions:?}"
    );
}

/// An outgoing link from one throng to another's token endpoint: its test gets a token, and
/// each way it can fail says why in the other server's own words or in plain ones.
#[test]
fn an_outgoing_link_test_gets_a_token_from_another_throng_or_says_why_not() {
    let a = TestServer::start();
    let b = TestServer::start();
    let link = incoming(&a, "from-b");
    let (id, secret) = credentials(&link);
    let token_url = format!("{}/rest/oauth2/latest/token", a.url());
    let outgoing = |name: &str, url: &str, secret: &str| {
        let body = json!({"name": name, "direction": "OUTGOING", "serviceProvider": "throng A",
            "tokenUrl": url, "clientId": id, "clientSecret": secret});
        let r = b.post(LINKS).admin().json(&body).send();
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()["id"].as_u64().unwrap()
    };
    let test = |link: u64| {
        let r = b.post(&format!("{LINKS}/{link}/test")).admin().send();
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    };
    let good = test(outgoing("to-a", &token_url, &secret));
    assert_eq!(
        (
            good["ok"].as_bool(),
            good["tokenType"].as_str(),
            good["expiresIn"].as_u64(),
            good["scope"].as_str()
        ),
        (Some(true), Some("bearer"), Some(3600), Some("APPLICATION")),
        "{good}"
    );
    let wrong = test(outgoing("wrong-secret", &token_url, "not-the-secret"));
    assert_eq!(
        (wrong["ok"].as_bool(), wrong["status"].as_u64(), wrong["error"].as_str()),
        (Some(false), Some(401), Some("invalid_client")),
        "{wrong}"
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let nobody = test(outgoing("nobody", &format!("http://{closed}/token"), &secret));
    assert_eq!(nobody["ok"], false);
    assert!(nobody["message"].as_str().unwrap().contains("nothing listens"), "{nobody}");
    let not_oauth = test(outgoing("not-oauth", &format!("{}/status", a.url()), &secret));
    assert_eq!(
        (not_oauth["ok"].as_bool(), not_oauth["status"].as_u64()),
        (Some(false), Some(405)),
        "{not_oauth}"
    );
    // Testing an incoming link is a mistake, said so.
    let r = b.post(&format!("{LINKS}/{}/test", incoming(&b, "in")["id"])).admin().send();
    assert_eq!(r.status, 400, "{}", r.text());
}
