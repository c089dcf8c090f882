//! Crowd applications over real HTTP: `/rest/appmanagement/1` (admins manage them, JSON and
//! XML, audited, refused bodies store nothing) and application Basic authentication on
//! `/rest/usermanagement/1` (Crowd's 401 text, the 403 page of client validation, trusted
//! proxies, a cache that never outlives a change, the throttle). Every request here comes from
//! 127.0.0.1.

mod common;
use common::*;

use serde_json::{json, Value};
use std::time::Duration;
use throng::bench::client::ClientResponse;

const UM_MISSING: &str = "/rest/usermanagement/1/non-existent/location";
const AUDIT_PATH: &str = "/rest/audit/1.0/events?limit=1000";
const FAILED: &str = "Application failed to authenticate";
const TOMCAT_403: &str = "The server understood the request but refuses to authorize it.";

fn jira(name: &str, password: &str, addresses: &[&str]) -> Value {
    json!({
        "name": name,
        "type": "JIRA",
        "description": "Jira",
        "active": true,
        "password": {"value": password},
        "directory-mappings": [{
            "directory-id": 1,
            "authenticate-all": true,
            "allowed-groups": [],
            "allowed-operations": ["CREATE_USER"]
        }],
        "remote-addresses": addresses.iter().map(|a| json!({"value": a})).collect::<Vec<_>>(),
        "lowercase-output": false,
        "aliasing-enabled": false
    })
}

/// Creates an application as admin; returns the created entity.
fn create(ts: &TestServer, body: &Value) -> Value {
    let r = ts.post(APPS).admin().json(body).send();
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

fn path_of(app: &Value) -> String {
    format!("{APPS}/{}", app["id"])
}

fn list(ts: &TestServer) -> Vec<Value> {
    let r = ts.get(APPS).admin().send();
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["applications"].as_array().unwrap().clone()
}

fn put(ts: &TestServer, app: &Value, body: &Value) -> ClientResponse {
    ts.put(&path_of(app)).admin().json(body).send()
}

/// A usermanagement call on a path that does not exist: 404 once the application passed.
/// In JSON, as python-crowd asks (usermanagement answers XML by default).
fn um(ts: &TestServer, name: &str, password: &str) -> ClientResponse {
    ts.get(UM_MISSING).basic(name, password).header("Accept", "application/json").send()
}

fn assert_refused_page(r: &ClientResponse, address: &str, name: &str) {
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.header("Content-Type").unwrap().starts_with("text/html"), "{:?}", r.headers);
    let text = r.text();
    let message = format!(
        "Client with address \"{address}\" is forbidden from making requests to the application, {name}."
    );
    assert!(text.contains(&message), "{text}");
    assert!(text.contains(TOMCAT_403), "{text}");
    assert!(r.header("X-Embedded-Crowd-Version").is_some());
}

fn assert_failed_to_authenticate(r: &ClientResponse) {
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(r.text(), FAILED);
    assert_eq!(r.header("WWW-Authenticate"), Some("BASIC realm=\"Crowd\""));
    assert!(r.header("Content-Type").unwrap().starts_with("text/plain"));
    assert!(r.header("X-Embedded-Crowd-Version").is_some());
}

fn audit_events(ts: &TestServer) -> Vec<Value> {
    ts.flush();
    let r = ts.get(AUDIT_PATH).admin().send();
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["values"].as_array().unwrap().clone()
}

#[test]
fn create_list_get_update_and_delete_in_json() {
    let ts = TestServer::start();
    let r = ts
        .post(APPS)
        .admin()
        .json(&jira("jira", "app-secret", &["127.0.0.1", "10.0.0.0/8"]))
        .send();
    assert_eq!(r.status, 201, "{}", r.text());
    let app = r.json();
    let id = app["id"].as_u64().unwrap();
    assert_eq!(r.header("Location").unwrap(), format!("{}{APPS}/{id}", ts.url()));
    assert!(r.header("Content-Type").unwrap().starts_with("application/json"));
    assert_eq!(
        app,
        json!({
            "id": id, "name": "jira", "type": "JIRA", "description": "Jira", "active": true,
            "directory-mappings": [{"directory-id": 1, "authenticate-all": true,
                "allowed-groups": [], "allowed-operations": ["CREATE_USER"]}],
            "remote-addresses": [{"value": "127.0.0.1"}, {"value": "10.0.0.0/8"}],
            "lowercase-output": false, "aliasing-enabled": false, "trusted-proxies": []
        })
    );
    assert!(!r.text().contains("app-secret"), "the password is never returned");

    assert_eq!(list(&ts), vec![app.clone()]);
    let by_name = ts.get(&format!("{APPS}?name=JIRA")).admin().send();
    assert_eq!(by_name.json()["applications"], json!([app.clone()]));
    let none = ts.get(&format!("{APPS}?name=confluence")).admin().send();
    assert_eq!(none.json(), json!({"applications": []}));
    let got = ts.get(&path_of(&app)).admin().send();
    assert_eq!((got.status, got.json()), (200, app.clone()));

    // PUT changes what it carries and keeps the rest.
    let r = put(
        &ts,
        &app,
        &json!({"id": id, "description": "Jira Software", "active": false,
        "remote-addresses": [{"value": "192.0.2.0/24"}], "trusted-proxies": [{"value": "127.0.0.1"}],
        "directory-mappings": [{"directory-id": 1, "allowed-groups": ["jira-users"],
            "allowed-operations": ["update_user", "DELETE_GROUP"]}]}),
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let got = ts.get(&path_of(&app)).admin().send().json();
    assert_eq!(got["name"], "jira");
    assert_eq!(got["type"], "JIRA");
    assert_eq!(got["description"], "Jira Software");
    assert_eq!(got["active"], false);
    assert_eq!(got["remote-addresses"], json!([{"value": "192.0.2.0/24"}]));
    assert_eq!(got["trusted-proxies"], json!([{"value": "127.0.0.1"}]));
    assert_eq!(
        got["directory-mappings"],
        json!([{"directory-id": 1, "authenticate-all": false, "allowed-groups": ["jira-users"],
            "allowed-operations": ["UPDATE_USER", "DELETE_GROUP"]}])
    );
    // A body id that is not the path's is refused, and changes nothing.
    let r = put(&ts, &app, &json!({"id": id + 1, "description": "other"}));
    assert_crowd_error(&r, 400, "ILLEGAL_ARGUMENT");
    assert_eq!(ts.get(&path_of(&app)).admin().send().json()["description"], "Jira Software");

    let r = ts.delete(&path_of(&app)).admin().send();
    assert_eq!(r.status, 204, "{}", r.text());
    assert_crowd_error(&ts.get(&path_of(&app)).admin().send(), 404, "APPLICATION_NOT_FOUND");
    assert_crowd_error(&ts.delete(&path_of(&app)).admin().send(), 404, "APPLICATION_NOT_FOUND");
    assert!(list(&ts).is_empty());
}

const XML_BODY: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<application>
  <name>confluence</name><type>CONFLUENCE</type><description>Wiki &amp; more</description>
  <active>true</active><password><value>xml-secret</value></password>
  <directory-mappings>
    <directory-mapping id="1"><authenticate-all>false</authenticate-all>
      <allowed-groups><allowed-group>confluence-users</allowed-group></allowed-groups>
      <allowed-operations><allowed-operation>CREATE_USER</allowed-operation>
        <allowed-operation>UPDATE_GROUP_ATTRIBUTE</allowed-operation></allowed-operations>
    </directory-mapping>
  </directory-mappings>
  <remote-addresses><remote-address><value>127.0.0.1</value></remote-address>
    <remote-address><value>wiki.example.com</value></remote-address></remote-addresses>
  <lowercase-output>true</lowercase-output><aliasing-enabled>false</aliasing-enabled>
</application>"#;

#[test]
fn the_same_in_xml() {
    let ts = TestServer::start();
    let r = ts
        .post(APPS)
        .admin()
        .header("Content-Type", "application/xml")
        .header("Accept", "application/xml")
        .body(XML_BODY)
        .send();
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(r.header("Content-Type").unwrap().starts_with("application/xml"));
    let id = r.header("Location").unwrap().rsplit('/').next().unwrap().to_string();
    let text = r.text();
    assert_eq!(
        text,
        format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><application id="{id}"><name>confluence</name><type>CONFLUENCE</type><description>Wiki &amp; more</description><active>true</active><directory-mappings><directory-mapping id="1"><authenticate-all>false</authenticate-all><allowed-groups><allowed-group>confluence-users</allowed-group></allowed-groups><allowed-operations><allowed-operation>CREATE_USER</allowed-operation><allowed-operation>UPDATE_GROUP_ATTRIBUTE</allowed-operation></allowed-operations></directory-mapping></directory-mappings><remote-addresses><remote-address><value>127.0.0.1</value></remote-address><remote-address><value>wiki.example.com</value></remote-address></remote-addresses><lowercase-output>true</lowercase-output><aliasing-enabled>false</aliasing-enabled><trusted-proxies></trusted-proxies></application>"#
        )
    );
    assert!(!text.contains("xml-secret"));

    let listed = ts.get(APPS).admin().header("Accept", "application/xml").send().text();
    assert!(listed.contains(&format!("<applications><application id=\"{id}\">")), "{listed}");
    assert!(listed.ends_with("</application></applications>"), "{listed}");

    // The JSON view of what XML created.
    let app = ts.get(&format!("{APPS}/{id}")).admin().send().json();
    assert_eq!(app["directory-mappings"][0]["directory-id"], 1);
    assert_eq!(app["lowercase-output"], true);

    // Update in XML: the new password works at once, and only what was sent changed.
    let r = ts
        .put(&format!("{APPS}/{id}"))
        .admin()
        .header("Content-Type", "application/xml; charset=UTF-8")
        .body(format!(
            r#"<application id="{id}"><password><value>new-secret</value></password><description>Wiki</description></application>"#
        ))
        .send();
    assert_eq!(r.status, 204, "{}", r.text());
    let app = ts.get(&format!("{APPS}/{id}")).admin().send().json();
    assert_eq!(app["description"], "Wiki");
    assert_eq!(app["remote-addresses"].as_array().unwrap().len(), 2);
    assert_eq!(um(&ts, "confluence", "new-secret").status, 404);
    assert_failed_to_authenticate(&um(&ts, "confluence", "xml-secret"));
}

#[test]
fn include_request_address_adds_the_callers_address() {
    let ts = TestServer::start();
    let r = ts
        .post(&format!("{APPS}?include-request-address=true"))
        .admin()
        .json(&jira("jira", "pw", &["10.0.0.0/8"]))
        .send();
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        r.json()["remote-addresses"],
        json!([{"value": "10.0.0.0/8"}, {"value": "127.0.0.1"}])
    );
    // Already there: not twice.
    let r = ts
        .post(&format!("{APPS}?include-request-address=True"))
        .admin()
        .json(&jira("jira2", "pw", &["127.0.0.1"]))
        .send();
    assert_eq!(r.json()["remote-addresses"], json!([{"value": "127.0.0.1"}]));
    let r = ts
        .post(&format!("{APPS}?include-request-address=maybe"))
        .admin()
        .json(&jira("j3", "pw", &[]))
        .send();
    assert_crowd_error(&r, 400, "ILLEGAL_ARGUMENT");
    assert_eq!(list(&ts).len(), 2);
}

#[test]
fn remote_addresses_are_added_listed_and_removed() {
    let ts = TestServer::start();
    let app = create(&ts, &jira("jira", "pw", &["127.0.0.1"]));
    let ra = format!("{}/remote_address", path_of(&app));

    let r = ts.post(&ra).admin().json(&json!({"value": "10.0.0.0/8"})).send();
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json(), json!({"value": "10.0.0.0/8"}));
    assert!(r.header("Location").unwrap().ends_with("/remote_address?address=10.0.0.0%2F8"));
    let r = ts
        .post(&ra)
        .admin()
        .header("Content-Type", "application/xml")
        .body("<remote-address><value>Jira.Example.com</value></remote-address>")
        .send();
    assert_eq!(r.status, 201, "{}", r.text());
    // Adding one that is there changes nothing.
    assert_eq!(ts.post(&ra).admin().json(&json!({"value": "10.0.0.0/8"})).send().status, 201);

    let r = ts.get(&ra).admin().send();
    assert_eq!(
        r.json(),
        json!({"remote-addresses": [{"value": "127.0.0.1"}, {"value": "10.0.0.0/8"},
            {"value": "jira.example.com"}]})
    );
    let xml = ts.get(&ra).admin().header("Accept", "application/xml").send().text();
    assert!(
        xml.ends_with("<remote-addresses><remote-address><value>127.0.0.1</value></remote-address><remote-address><value>10.0.0.0/8</value></remote-address><remote-address><value>jira.example.com</value></remote-address></remote-addresses>"),
        "{xml}"
    );

    assert_eq!(ts.delete(&format!("{ra}?address=10.0.0.0%2F8")).admin().send().status, 204);
    assert_eq!(ts.delete(&format!("{ra}?address=127.0.0.1")).admin().send().status, 204);
    assert_eq!(ts.delete(&format!("{ra}?address=192.0.2.1")).admin().send().status, 204);
    assert_eq!(
        ts.get(&ra).admin().send().json(),
        json!({"remote-addresses": [{"value": "jira.example.com"}]})
    );

    assert_crowd_error(&ts.delete(&ra).admin().send(), 400, "ILLEGAL_ARGUMENT");
    assert_crowd_error(
        &ts.post(&ra).admin().json(&json!({"value": "10.0.0.0/99"})).send(),
        400,
        "ILLEGAL_ARGUMENT",
    );
    assert_crowd_error(
        &ts.post(&ra).admin().json(&json!({"address": "10.0.0.1"})).send(),
        400,
        "ILLEGAL_ARGUMENT",
    );
    assert_crowd_error(
        &ts.get(&format!("{APPS}/999/remote_address")).admin().send(),
        404,
        "APPLICATION_NOT_FOUND",
    );
    assert_crowd_error(
        &ts.post(&format!("{APPS}/999/remote_address"))
            .admin()
            .json(&json!({"value": "10.0.0.1"}))
            .send(),
        404,
        "APPLICATION_NOT_FOUND",
    );

    let events = audit_events(&ts);
    let count = |action: &str| events.iter().filter(|e| e["action"] == action).count();
    assert_eq!(count("REMOTE_ADDRESS_ADDED"), 2, "only real changes are audited");
    assert_eq!(count("REMOTE_ADDRESS_REMOVED"), 2);
}

#[test]
fn a_taken_name_is_409_and_unknown_ids_404() {
    let ts = TestServer::start();
    let app = create(&ts, &jira("Jira", "pw", &[]));
    let r = ts.post(APPS).admin().json(&jira("JIRA", "pw", &[])).send();
    assert_crowd_error(&r, 409, "APPLICATION_ALREADY_EXISTS");
    let other = create(&ts, &jira("confluence", "pw", &[]));
    assert_crowd_error(
        &put(&ts, &other, &json!({"name": "jira"})),
        409,
        "APPLICATION_ALREADY_EXISTS",
    );
    // Renaming to another case of its own name is fine.
    assert_eq!(put(&ts, &app, &json!({"name": "JIRA"})).status, 204);

    for path in [format!("{APPS}/999"), format!("{APPS}/abc"), format!("{APPS}/-1")] {
        assert_crowd_error(&ts.get(&path).admin().send(), 404, "APPLICATION_NOT_FOUND");
        assert_crowd_error(
            &ts.put(&path).admin().json(&json!({"description": "x"})).send(),
            404,
            "APPLICATION_NOT_FOUND",
        );
        assert_crowd_error(&ts.delete(&path).admin().send(), 404, "APPLICATION_NOT_FOUND");
    }
    assert_crowd_error(&ts.get(&format!("{APPS}/1/nothing")).admin().send(), 404, "NOT_FOUND");
    let r = ts.req("PATCH", &path_of(&app)).admin().send();
    assert_eq!(r.status, 405);
}

#[test]
fn only_admins_may_manage_applications() {
    let ts = TestServer::start();
    add_user(&ts, "bob", "bob-password");
    let app = create(&ts, &jira("jira", "pw", &["127.0.0.1"]));
    for r in [
        ts.get(APPS).send(),
        ts.get(APPS).basic(ADMIN, "wrong").send(),
        ts.post(APPS).json(&jira("x", "pw", &[])).send(),
        // An application's own credentials are no admin's.
        ts.get(APPS).basic("jira", "pw").send(),
    ] {
        assert_crowd_error(&r, 401, "PERMISSION_DENIED");
    }
    for r in [
        ts.get(APPS).basic("bob", "bob-password").send(),
        ts.delete(&path_of(&app)).basic("bob", "bob-password").send(),
    ] {
        assert_crowd_error(&r, 403, "PERMISSION_DENIED");
    }
    assert_eq!(list(&ts).len(), 1);
}

#[test]
fn bad_bodies_are_400_and_store_nothing() {
    let ts = TestServer::start();
    let xml = |body: &str| {
        ts.post(APPS)
            .admin()
            .header("Content-Type", "application/xml")
            .body(body.to_string())
            .send()
    };
    let with = |key: &str, value: Value| {
        let mut b = jira("jira", "pw", &["127.0.0.1"]);
        b[key] = value;
        ts.post(APPS).admin().json(&b).send()
    };
    let refusals = vec![
        (
            "malformed json",
            ts.post(APPS)
                .admin()
                .header("Content-Type", "application/json")
                .body("{\"name\":")
                .send(),
            "ILLEGAL_ARGUMENT",
        ),
        ("json array", ts.post(APPS).admin().json(&json!([1])).send(), "ILLEGAL_ARGUMENT"),
        ("malformed xml", xml("<application><name>x</application>"), "ILLEGAL_ARGUMENT"),
        (
            "doctype",
            xml(
                r#"<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><application><name>&x;</name></application>"#,
            ),
            "ILLEGAL_ARGUMENT",
        ),
        (
            "wrong root",
            xml(
                "<user><name>x</name><type>JIRA</type><password><value>p</value></password></user>",
            ),
            "ILLEGAL_ARGUMENT",
        ),
        ("active not a boolean", with("active", json!("maybe")), "ILLEGAL_ARGUMENT"),
        ("name not a string", with("name", json!(["x"])), "ILLEGAL_ARGUMENT"),
        ("password not an object", with("password", json!("pw")), "ILLEGAL_ARGUMENT"),
        ("addresses not a list", with("remote-addresses", json!("127.0.0.1")), "ILLEGAL_ARGUMENT"),
        ("address without value", with("remote-addresses", json!([{}])), "ILLEGAL_ARGUMENT"),
        (
            "bad address",
            with("remote-addresses", json!([{"value": "10.0.0.0/33"}])),
            "ILLEGAL_ARGUMENT",
        ),
        ("bad host", with("remote-addresses", json!([{"value": "bad_host!"}])), "ILLEGAL_ARGUMENT"),
        ("bad type", with("type", json!("SLACK")), "ILLEGAL_ARGUMENT"),
        ("no type", with("type", Value::Null), "ILLEGAL_ARGUMENT"),
        ("blank name", with("name", json!("  ")), "ILLEGAL_ARGUMENT"),
        ("colon in name", with("name", json!("a:b")), "ILLEGAL_ARGUMENT"),
        ("no name", with("name", Value::Null), "ILLEGAL_ARGUMENT"),
        ("no password", with("password", Value::Null), "ILLEGAL_ARGUMENT"),
        ("empty password", with("password", json!({"value": ""})), "ILLEGAL_ARGUMENT"),
        (
            "bad operation",
            with(
                "directory-mappings",
                json!([{"directory-id": 1, "allowed-operations": ["DROP"]}]),
            ),
            "ILLEGAL_ARGUMENT",
        ),
        (
            "mapping without id",
            with("directory-mappings", json!([{"authenticate-all": true}])),
            "ILLEGAL_ARGUMENT",
        ),
        (
            "unknown directory",
            with("directory-mappings", json!([{"directory-id": 99}])),
            "DIRECTORY_NOT_FOUND",
        ),
        ("id not a number", with("id", json!("x")), "ILLEGAL_ARGUMENT"),
    ];
    for (what, r, reason) in &refusals {
        assert_eq!(r.status, 400, "{what}: {}", r.text());
        assert_eq!(r.json()["reason"], *reason, "{what}: {}", r.text());
    }
    let r = ts.post(APPS).admin().body("{}").send();
    assert_crowd_error(&r, 415, "ILLEGAL_ARGUMENT");
    assert!(list(&ts).is_empty(), "a refused body stores nothing");

    // A refused update changes nothing either.
    let app = create(&ts, &jira("jira", "pw", &["127.0.0.1"]));
    let before = ts.get(&path_of(&app)).admin().send().json();
    for body in [
        json!({"description": "x", "remote-addresses": [{"value": "nope!"}]}),
        json!({"description": "x", "directory-mappings": [{"directory-id": 42}]}),
        json!({"description": "x", "password": {"value": ""}}),
    ] {
        assert_eq!(put(&ts, &app, &body).status, 400, "{body}");
    }
    assert_eq!(ts.get(&path_of(&app)).admin().send().json(), before);
    assert_eq!(um(&ts, "jira", "pw").status, 404, "the password is the old one still");
}

#[test]
fn changes_are_audited_without_the_password() {
    let ts = TestServer::start();
    let app = create(&ts, &jira("jira", "first-secret-value", &["127.0.0.1"]));
    put(&ts, &app, &json!({"password": {"value": "second-secret-value"}, "description": "d"}));
    ts.delete(&path_of(&app)).admin().send();
    let events = audit_events(&ts);
    for action in ["APPLICATION_CREATED", "APPLICATION_UPDATED", "APPLICATION_DELETED"] {
        let e = events
            .iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("{action}: {events:?}"));
        assert_eq!(e["target"], "jira");
        assert_eq!(e["actor"], ADMIN);
        assert_eq!(e["remoteAddress"], "127.0.0.1");
    }
    let updated = events.iter().find(|e| e["action"] == "APPLICATION_UPDATED").unwrap();
    assert_eq!(updated["details"], "changed: description, password");
    let all = serde_json::to_string(&events).unwrap();
    assert!(!all.contains("secret-value"), "{all}");
}

// ---- usermanagement: application Basic authentication ------------------------------------

#[test]
fn good_credentials_reach_routing_and_bad_ones_get_crowds_401() {
    let ts = TestServer::start();
    create(&ts, &jira("jira", "app-secret", &["127.0.0.1"]));
    let r = um(&ts, "jira", "app-secret");
    assert_crowd_error(&r, 404, "NOT_FOUND");
    assert_eq!(r.header("X-Embedded-Crowd-Version"), Some("Crowd/7.0.0"));
    // The name is case-insensitive, as Crowd's are; the /crowd context path works too.
    assert_eq!(um(&ts, "JIRA", "app-secret").status, 404);
    let r = ts
        .get("/crowd/rest/usermanagement/1/user?username=admin")
        .basic("jira", "app-secret")
        .send();
    assert_eq!(r.status, 200, "{}", r.text());

    assert_failed_to_authenticate(&um(&ts, "jira", "wrong"));
    assert_failed_to_authenticate(&um(&ts, "nobody", "app-secret"));
    assert_failed_to_authenticate(&ts.get(UM_MISSING).send());
    assert_failed_to_authenticate(&ts.get(UM_MISSING).header("Authorization", "Basic !!!").send());
    // An admin's credentials are not an application's.
    assert_failed_to_authenticate(&um(&ts, ADMIN, ADMIN_PASSWORD));

    let events = audit_events(&ts);
    let failed: Vec<&Value> =
        events.iter().filter(|e| e["action"] == "APPLICATION_AUTHENTICATION_FAILED").collect();
    assert!(failed.iter().any(|e| e["target"] == "jira"), "{failed:?}");
    assert!(
        failed
            .iter()
            .any(|e| e["target"].as_str().unwrap().starts_with("unknown application (sha256")),
        "{failed:?}"
    );
}

#[test]
fn an_inactive_application_or_a_foreign_address_gets_the_403_page() {
    let ts = TestServer::start();
    let mut inactive = jira("sleepy", "pw", &["127.0.0.1"]);
    inactive["active"] = json!(false);
    create(&ts, &inactive);
    assert_refused_page(&um(&ts, "sleepy", "pw"), "127.0.0.1", "sleepy");
    // The password is still checked first.
    assert_failed_to_authenticate(&um(&ts, "sleepy", "wrong"));

    create(&ts, &jira("elsewhere", "pw", &["10.0.0.0/8", "192.0.2.1"]));
    assert_refused_page(&um(&ts, "elsewhere", "pw"), "127.0.0.1", "elsewhere");
    // Refused again on a cache hit: the address is checked on every request.
    assert_refused_page(&um(&ts, "elsewhere", "pw"), "127.0.0.1", "elsewhere");

    // localhost by name is the loopback, without DNS.
    create(&ts, &jira("local", "pw", &["localhost"]));
    assert_eq!(um(&ts, "local", "pw").status, 404);
}

#[test]
fn x_forwarded_for_is_believed_only_from_trusted_proxies() {
    let ts = TestServer::start();
    let mut behind = jira("behind", "pw", &["203.0.113.7"]);
    behind["trusted-proxies"] = json!([{"value": "127.0.0.1"}]);
    create(&ts, &behind);
    let call = |name: &str, xff: &str| {
        ts.get(UM_MISSING).basic(name, "pw").header("X-Forwarded-For", xff).send()
    };
    assert_eq!(call("behind", "203.0.113.7").status, 404);
    assert_eq!(call("behind", "198.51.100.9, 203.0.113.7").status, 404, "right-most is the client");
    // A client cannot forge its way in by writing the allowed address first.
    assert_refused_page(&call("behind", "203.0.113.7, 198.51.100.9"), "198.51.100.9", "behind");
    // No header: the proxy itself is the client.
    assert_refused_page(&um(&ts, "behind", "pw"), "127.0.0.1", "behind");
    // Something that is not an address matches nothing, and the page escapes it.
    let r = call("behind", "<b>x</b>");
    assert_eq!(r.status, 403);
    assert!(
        r.text().contains("&lt;b&gt;x&lt;/b&gt;") && !r.text().contains("<b>x"),
        "{}",
        r.text()
    );

    // Without trusted proxies the header is ignored.
    create(&ts, &jira("direct", "pw", &["203.0.113.7"]));
    assert_refused_page(&call("direct", "203.0.113.7"), "127.0.0.1", "direct");
}

#[test]
fn changes_take_effect_at_once_despite_the_cache() {
    let ts = TestServer::start();
    let app = create(&ts, &jira("jira", "old-password", &["127.0.0.1"]));
    assert_eq!(um(&ts, "jira", "old-password").status, 404);
    assert_eq!(um(&ts, "jira", "old-password").status, 404, "now from the cache");
    let kdf_before = ts.running().kdf_runs();
    assert_eq!(um(&ts, "jira", "old-password").status, 404);
    assert_eq!(ts.running().kdf_runs(), kdf_before, "a cached pair costs no KDF run");

    assert_eq!(put(&ts, &app, &json!({"password": {"value": "new-password"}})).status, 204);
    assert_failed_to_authenticate(&um(&ts, "jira", "old-password"));
    assert_eq!(um(&ts, "jira", "new-password").status, 404);

    assert_eq!(put(&ts, &app, &json!({"active": false})).status, 204);
    assert_refused_page(&um(&ts, "jira", "new-password"), "127.0.0.1", "jira");
    assert_eq!(put(&ts, &app, &json!({"active": true})).status, 204);
    assert_eq!(um(&ts, "jira", "new-password").status, 404);

    let ra = format!("{}/remote_address?address=127.0.0.1", path_of(&app));
    assert_eq!(ts.delete(&ra).admin().send().status, 204);
    assert_refused_page(&um(&ts, "jira", "new-password"), "127.0.0.1", "jira");

    assert_eq!(ts.delete(&path_of(&app)).admin().send().status, 204);
    assert_failed_to_authenticate(&um(&ts, "jira", "new-password"));
}

#[test]
fn repeated_failures_are_throttled() {
    let ts = TestServer::start();
    create(&ts, &jira("jira", "pw", &["127.0.0.1"]));
    for i in 0..10 {
        assert_eq!(um(&ts, "jira", "guess").status, 401, "attempt {i}");
    }
    let r = um(&ts, "jira", "guess");
    assert_crowd_error(&r, 429, "OPERATION_FAILED");
    assert!(r.header("Retry-After").is_some());
    assert!(r.header("X-Embedded-Crowd-Version").is_some());
    // Before the password is looked at: the right one waits too, and costs no KDF run.
    let kdf = ts.running().kdf_runs();
    assert_eq!(um(&ts, "jira", "pw").status, 429);
    assert_eq!(ts.running().kdf_runs(), kdf);
    // Another application from the same address is not affected.
    create(&ts, &jira("confluence", "pw", &["127.0.0.1"]));
    assert_eq!(um(&ts, "confluence", "pw").status, 404);
    // The server clock forgives.
    ts.advance_clock(Duration::from_secs(61));
    assert_eq!(um(&ts, "jira", "pw").status, 404);

    let events = audit_events(&ts);
    let e = events
        .iter()
        .find(|e| e["action"] == "APPLICATION_AUTHENTICATION_FAILED" && e["target"] == "jira")
        .unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(e["count"], 12, "{e}");
    assert_eq!(e["throttled"], 2, "{e}");
}

#[test]
fn bearer_tokens_keep_working() {
    let ts = TestServer::start();
    let account = ts.create_account("sync");
    let token = ts.token(&account.client_id, &account.secret);
    assert_eq!(ts.bearer_status(&token), 200);
    let r = ts.get(UM_MISSING).bearer("not-a-token").send();
    assert_eq!(r.status, 401);
    assert_eq!(r.header("WWW-Authenticate"), Some("Bearer error=\"invalid_token\""));
}
