//! A remote Crowd directory's connection test (`POST /rest/directorymanagement/1/directory/
//! testcrowd`) between two throngs on loopback: B tests the settings of a Crowd directory on A,
//! by an outgoing application link or by application password, and each failure comes back
//! in A's words with the fix.

mod common;
use common::*;
use serde_json::{json, Value};
use std::time::Duration;

const LINKS: &str = "/rest/admin/1.0/application-links";
const APPS: &str = "/rest/appmanagement/1/application";
const TEST: &str = "/rest/directorymanagement/1/directory/testcrowd";

/// On A: an incoming link and application `jira` taking it, and application `basic-app` with
/// a password, both allowed from loopback. On B: an outgoing link `to-a` with the link's
/// credentials. Returns A's jira application id.
fn set_up(a: &TestServer, b: &TestServer) -> u64 {
    let r = a
        .post(LINKS)
        .admin()
        .json(&json!({"name": "from-b", "direction": "INCOMING", "redirectUrl": b.url()}))
        .send();
    assert_eq!(r.status, 201, "{}", r.text());
    let client = r.json()["oauthClient"].clone();
    let mapping = json!([{"directory-id": 1, "authenticate-all": true}]);
    let loopback = json!([{"value": "127.0.0.1"}]);
    let jira = a
        .post(APPS)
        .admin()
        .json(&json!({"name": "jira", "type": "JIRA", "active": true, "application-link": "from-b",
            "directory-mappings": mapping, "remote-addresses": loopback}))
        .send();
    assert_eq!(jira.status, 201, "{}", jira.text());
    let basic = a
        .post(APPS)
        .admin()
        .json(&json!({"name": "basic-app", "type": "JIRA", "active": true, "password": {"value": "app-pw"},
            "directory-mappings": mapping, "remote-addresses": loopback}))
        .send();
    assert_eq!(basic.status, 201, "{}", basic.text());
    let r = b
        .post(LINKS)
        .admin()
        .json(&json!({"name": "to-a", "direction": "OUTGOING", "serviceProvider": "throng A",
            "tokenUrl": format!("{}/rest/oauth2/latest/token", a.url()),
            "clientId": client["clientId"], "clientSecret": client["clientSecret"]}))
        .send();
    assert_eq!(r.status, 201, "{}", r.text());
    jira.json()["id"].as_u64().unwrap()
}

fn test(b: &TestServer, settings: Value) -> Value {
    let r = b.post(TEST).admin().json(&settings).send();
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

fn by_link(a: &TestServer) -> Value {
    json!({"serverUrl": a.url(), "applicationName": "jira", "applicationLink": "to-a"})
}

#[test]
fn the_known_403_comes_back_with_its_fix_and_passes_once_the_address_is_added() {
    let a = TestServer::start();
    let b = TestServer::start();
    let jira = set_up(&a, &b);
    let ok = test(&b, by_link(&a));
    assert_eq!(
        (ok["ok"].as_bool(), ok["server"].as_str()),
        (Some(true), Some("Crowd/7.0.0")),
        "{ok}"
    );

    let path = format!("{APPS}/{jira}/remote_address?address=127.0.0.1");
    assert_eq!(a.delete(&path).admin().send().status, 204);
    let refused = test(&b, by_link(&a));
    assert_eq!(
        (refused["ok"].as_bool(), refused["status"].as_u64()),
        (Some(false), Some(403)),
        "{refused}"
    );
    assert_eq!(
        refused["message"],
        r#"Client with address "127.0.0.1" is forbidden from making requests to the application, jira."#
    );
    let hint = refused["hint"].as_str().unwrap();
    assert!(hint.contains("add 127.0.0.1 to the remote addresses of application 'jira'"), "{hint}");

    let add = a
        .post(&format!("{APPS}/{jira}/remote_address"))
        .admin()
        .json(&json!({"value": "127.0.0.1"}))
        .send();
    assert_eq!(add.status, 201);
    assert_eq!(test(&b, by_link(&a))["ok"], true, "passes once the address is added");
}

#[test]
fn password_settings_wrong_servers_and_dead_credentials_each_say_what_to_fix() {
    let a = TestServer::start();
    let b = TestServer::start();
    set_up(&a, &b);
    let password = |pw: &str| json!({"serverUrl": a.url(), "applicationName": "basic-app", "applicationPassword": pw});
    assert_eq!(test(&b, password("app-pw"))["ok"], true);
    let wrong = test(&b, password("nope"));
    assert_eq!(
        (wrong["ok"].as_bool(), wrong["status"].as_u64()),
        (Some(false), Some(401)),
        "{wrong}"
    );
    assert_eq!(wrong["message"], "Application failed to authenticate", "{wrong}");
    assert!(wrong["hint"].as_str().unwrap().contains("does not accept application 'basic-app'"));

    // Not Crowd's usermanagement there: the URL has a path too many.
    let elsewhere = test(
        &b,
        json!({"serverUrl": format!("{}/elsewhere", a.url()), "applicationName": "basic-app", "applicationPassword": "app-pw"}),
    );
    assert_eq!(elsewhere["ok"], false);
    assert!(elsewhere["hint"].as_str().unwrap().contains("not a Crowd server"), "{elsewhere}");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let nobody = test(
        &b,
        json!({"serverUrl": format!("http://{closed}"), "applicationName": "x", "applicationPassword": "y"}),
    );
    assert!(nobody["message"].as_str().unwrap().contains("nothing listens"), "{nobody}");

    // A's link credentials rotated, and the grace period and the old token run out: B's test
    // says the token endpoint refuses, and what to check.
    let link = a.get(LINKS).admin().send().json()["links"][0].clone();
    let old_id = link["oauthClient"]["clientId"].as_str().unwrap().to_string();
    assert_eq!(a.post(&format!("/rest/oauth2/latest/rotate/{old_id}")).admin().send().status, 200);
    assert_eq!(test(&b, by_link(&a))["ok"], true, "the old pair works through the grace period");
    a.running().advance_clock(Duration::from_secs(25 * 3600));
    let dead = test(&b, by_link(&a));
    assert_eq!(dead["ok"], false, "{dead}");
    assert!(dead["message"].as_str().unwrap().contains("401 invalid_client"), "{dead}");
    assert!(dead["hint"].as_str().unwrap().contains("outgoing application link"), "{dead}");

    // Bad settings are the caller's mistake: 400 in Crowd's shape.
    for bad in [
        json!({"applicationName": "x", "applicationPassword": "y"}),
        json!({"serverUrl": "ftp://h", "applicationName": "x", "applicationPassword": "y"}),
        json!({"serverUrl": a.url(), "applicationName": "x"}),
        json!({"serverUrl": a.url(), "applicationName": "x", "applicationLink": "no-such-link"}),
        // A link's token goes only to the server that issues it.
        json!({"serverUrl": b.url(), "applicationName": "jira", "applicationLink": "to-a"}),
        json!({"serverUrl": format!("{}?x=1", a.url()), "applicationName": "x", "applicationPassword": "y"}),
    ] {
        let r = b.post(TEST).admin().json(&bad).send();
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
    }
}
