//! Regressions found by review of the usermanagement work, each named after what went wrong.

mod common;
use common::*;
use serde_json::json;
use throng::bench::client::ClientResponse;

const UM: &str = "/rest/usermanagement/1";
const PW: &str = "app-secret";

fn application(ts: &TestServer, name: &str, mappings: serde_json::Value) {
    let body = json!({"name": name, "type": "GENERIC_APPLICATION", "active": true,
        "password": {"value": PW}, "directory-mappings": mappings,
        "remote-addresses": [{"value": "127.0.0.1"}]});
    let r = ts.post("/rest/appmanagement/1/application").admin().json(&body).send();
    assert_eq!(r.status, 201, "{}", r.text());
}

fn all_ops(dir: u64) -> serde_json::Value {
    json!({"directory-id": dir, "authenticate-all": true, "allowed-operations":
        ["CREATE_USER", "CREATE_GROUP", "UPDATE_USER", "UPDATE_GROUP", "DELETE_USER", "DELETE_GROUP",
         "UPDATE_USER_ATTRIBUTE", "UPDATE_GROUP_ATTRIBUTE"]})
}

fn call(
    ts: &TestServer,
    app: &str,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> ClientResponse {
    let c =
        ts.req(method, &format!("{UM}{path}")).basic(app, PW).header("Accept", "application/json");
    match body {
        Some(b) => c.json(&b).send(),
        None => c.send(),
    }
}

fn user(name: &str) -> serde_json::Value {
    json!({"name": name, "email": format!("{name}@example.com"), "password": {"value": "pw"}})
}

#[test]
fn a_crowd_administrators_group_outside_the_first_directory_grants_nothing() {
    let ts = TestServer::start();
    let r =
        ts.post("/rest/admin/1.0/directory/detailed").admin().json(&json!({"name": "HR"})).send();
    let hr = r.json()["id"].as_u64().unwrap();
    application(&ts, "hr", json!([all_ops(hr)]));
    assert_eq!(call(&ts, "hr", "POST", "/user", Some(user("eve"))).status, 201);
    let g = json!({"name": "crowd-administrators", "type": "GROUP", "active": true});
    assert_eq!(call(&ts, "hr", "POST", "/group", Some(g)).status, 201);
    let r = call(
        &ts,
        "hr",
        "POST",
        "/group/user/direct?groupname=crowd-administrators",
        Some(json!({"name": "eve"})),
    );
    assert_eq!(r.status, 201);
    let r = ts.get("/rest/appmanagement/1/application").basic("eve", "pw").send();
    assert_eq!(r.status, 401, "eve is no administrator: {}", r.text());
}

#[test]
fn a_deleted_users_sessions_do_not_pass_to_the_next_holder_of_the_name() {
    let ts = TestServer::start();
    application(&ts, "app", json!([all_ops(1)]));
    call(&ts, "app", "POST", "/user", Some(user("alice")));
    let s =
        call(&ts, "app", "POST", "/session", Some(json!({"username": "alice", "password": "pw"})));
    let token = s.json()["token"].as_str().unwrap().to_string();
    assert_eq!(call(&ts, "app", "DELETE", "/user?username=alice", None).status, 204);
    call(&ts, "app", "POST", "/user", Some(user("ALICE")));
    assert_eq!(call(&ts, "app", "GET", &format!("/session/{token}"), None).status, 404);
    // Renamed away, too.
    let s =
        call(&ts, "app", "POST", "/session", Some(json!({"username": "ALICE", "password": "pw"})));
    let token = s.json()["token"].as_str().unwrap().to_string();
    call(&ts, "app", "POST", "/user/rename?username=alice", Some(json!({"new-name": "alicia"})));
    call(&ts, "app", "POST", "/user", Some(user("alice")));
    assert_eq!(call(&ts, "app", "GET", &format!("/session/{token}"), None).status, 404);
}

#[test]
fn a_read_only_token_tests_no_password_and_probes_no_session() {
    let ts = TestServer::start();
    let account = ts.create_account("reader");
    let bearer = ts.token(&account.client_id, &account.secret);
    let as_reader = |m: &str, p: &str, b: serde_json::Value| {
        ts.req(m, &format!("{UM}{p}"))
            .bearer(&bearer)
            .header("Accept", "application/json")
            .json(&b)
            .send()
    };
    for (m, p, b) in [
        ("POST", "/authentication?username=admin", json!({"value": ADMIN_PASSWORD})),
        ("POST", "/authentication?username=admin", json!({"value": "wrong"})),
        ("POST", "/session", json!({"username": "admin", "password": ADMIN_PASSWORD})),
        ("POST", "/authentication/notify?username=admin", json!({})),
        ("GET", "/session/abcdefghijklmnopqrstuvwx", json!({})),
    ] {
        assert_crowd_error(&as_reader(m, p, b), 403, "APPLICATION_PERMISSION_DENIED");
    }
}

#[test]
fn fifty_typos_through_one_application_lock_out_no_one_else() {
    let ts = TestServer::start();
    application(&ts, "app", json!([all_ops(1)]));
    call(&ts, "app", "POST", "/user", Some(user("carol")));
    for i in 0..60 {
        let r = call(
            &ts,
            "app",
            "POST",
            &format!("/authentication?username=u{i}"),
            Some(json!({"value": "x"})),
        );
        assert_eq!(r.status, 400, "{}", r.text());
    }
    let r =
        call(&ts, "app", "POST", "/authentication?username=carol", Some(json!({"value": "pw"})));
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn no_membership_event_names_a_user_deleted_since() {
    let ts = TestServer::start();
    application(&ts, "app", json!([all_ops(1)]));
    let token = call(&ts, "app", "GET", "/event", None).json()["newEventToken"]
        .as_str()
        .unwrap()
        .to_string();
    call(
        &ts,
        "app",
        "POST",
        "/group",
        Some(json!({"name": "devs", "type": "GROUP", "active": true})),
    );
    call(&ts, "app", "POST", "/user", Some(user("bob")));
    call(&ts, "app", "POST", "/group/user/direct?groupname=devs", Some(json!({"name": "bob"})));
    call(&ts, "app", "DELETE", "/user?username=bob", None);
    let events = call(&ts, "app", "GET", &format!("/event/{token}"), None).json();
    let kinds: Vec<String> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{} {}", e["type"].as_str().unwrap(), e["operation"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, ["GROUP CREATED", "USER DELETED"], "{events}");
}

#[test]
fn allowed_groups_compare_in_any_case_beyond_ascii() {
    let ts = TestServer::start();
    application(&ts, "app", json!([all_ops(1)]));
    application(
        &ts,
        "team",
        json!([{"directory-id": 1, "authenticate-all": false, "allowed-groups": ["ÉQUIPE"]}]),
    );
    call(&ts, "app", "POST", "/user", Some(user("carol")));
    call(
        &ts,
        "app",
        "POST",
        "/group",
        Some(json!({"name": "équipe", "type": "GROUP", "active": true})),
    );
    let path =
        format!("/group/user/direct?groupname={}", throng::http::request::percent_encode("équipe"));
    let r = call(&ts, "app", "POST", &path, Some(json!({"name": "carol"})));
    assert_eq!(r.status, 201, "{}", r.text());
    let r =
        call(&ts, "team", "POST", "/authentication?username=carol", Some(json!({"value": "pw"})));
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn a_service_account_token_makes_no_administrator() {
    let ts = TestServer::start();
    application(&ts, "app", json!([all_ops(1)]));
    call(&ts, "app", "POST", "/user", Some(user("mallory")));
    let account = ts.create_account("ops");
    let bearer = ts.token(&account.client_id, &account.secret);
    // 1-bWFsbG9yeQ is directory 1, user "mallory"; 1-Y3Jvd2QtYWRtaW5pc3RyYXRvcnM the admin group.
    let r = ts
        .post("/rest/admin/1.0/users/1-bWFsbG9yeQ/groups")
        .bearer(&bearer)
        .json(&json!({"ids": ["1-Y3Jvd2QtYWRtaW5pc3RyYXRvcnM"]}))
        .send();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["failures"][0]["reason"], "APPLICATION_PERMISSION_DENIED", "{}", r.text());
    assert_eq!(
        ts.get("/rest/appmanagement/1/application").basic("mallory", "pw").send().status,
        403
    );
    let r = ts
        .post("/rest/admin/1.0/users/1-bWFsbG9yeQ/groups")
        .admin()
        .json(&json!({"ids": ["1-Y3Jvd2QtYWRtaW5pc3RyYXRvcnM"]}))
        .send();
    assert_eq!(r.json()["successes"].as_array().unwrap().len(), 1, "an administrator may");
}

#[test]
fn attributes_are_bounded_in_number_and_size() {
    let ts = TestServer::start();
    application(&ts, "app", json!([all_ops(1)]));
    call(&ts, "app", "POST", "/user", Some(user("ann")));
    let attrs = |range: std::ops::Range<usize>, value: &str| {
        let list: Vec<_> =
            range.map(|i| json!({"name": format!("a{i}"), "values": [value]})).collect();
        json!({ "attributes": list })
    };
    let store = |body| call(&ts, "app", "POST", "/user/attribute?username=ann", Some(body));
    assert_crowd_error(&store(attrs(0..101, "v")), 400, "INVALID_USER");
    assert_crowd_error(&store(attrs(0..1, &"x".repeat(256))), 400, "INVALID_USER");
    assert_eq!(store(attrs(0..100, "v")).status, 204);
    assert_eq!(store(attrs(50..100, "w")).status, 204, "replacing is no growth");
    assert_crowd_error(&store(attrs(100..101, "v")), 400, "INVALID_USER");
}

#[test]
fn lowercase_output_gives_the_application_lower_case_names() {
    let ts = TestServer::start();
    application(&ts, "app", json!([all_ops(1)]));
    call(&ts, "app", "POST", "/user", Some(user("MixedCase")));
    call(
        &ts,
        "app",
        "POST",
        "/group",
        Some(json!({"name": "TeamA", "type": "GROUP", "active": true})),
    );
    call(
        &ts,
        "app",
        "POST",
        "/group/user/direct?groupname=TeamA",
        Some(json!({"name": "MixedCase"})),
    );
    let body = json!({"name": "lower", "type": "GENERIC_APPLICATION", "active": true, "lowercase-output": true,
        "password": {"value": PW}, "directory-mappings": [all_ops(1)], "remote-addresses": [{"value": "127.0.0.1"}]});
    assert_eq!(ts.post("/rest/appmanagement/1/application").admin().json(&body).send().status, 201);
    let u = call(&ts, "lower", "GET", "/user?username=MIXEDCASE", None).json();
    assert_eq!(u["name"], "mixedcase", "{u}");
    assert!(u["link"]["href"].as_str().unwrap().ends_with("username=mixedcase"));
    let groups = call(&ts, "lower", "GET", "/user/group/direct?username=mixedcase", None).json();
    assert_eq!(groups["groups"][0]["name"], "teama");
    let m = ts.get(&format!("{UM}/group/membership")).basic("lower", PW).send().text();
    assert!(m.contains(r#"<membership group="teama"><users><user name="mixedcase"/>"#), "{m}");
    assert_eq!(
        call(&ts, "app", "GET", "/user?username=mixedcase", None).json()["name"],
        "MixedCase"
    );
    // Locations name what the application created as it sees names, in lower case too.
    let r = call(&ts, "lower", "POST", "/user", Some(user("NewPerson")));
    assert_eq!(r.status, 201, "{}", r.text());
    let location = r.header("Location").unwrap_or_default().to_string();
    assert!(location.ends_with("/user?username=newperson"), "{location}");
    let r = call(
        &ts,
        "lower",
        "POST",
        "/group/user/direct?groupname=TeamA",
        Some(json!({"name": "NewPerson"})),
    );
    let location = r.header("Location").unwrap_or_default().to_string();
    assert!(
        location.ends_with("/group/user/direct?groupname=teama&username=newperson"),
        "{location}"
    );
    let r = call(
        &ts,
        "app",
        "POST",
        "/group/child-group/direct?groupname=TeamA",
        Some(json!({"name": "TeamA"})),
    );
    assert_eq!(r.status, 400, "a cycle: nothing created, no Location");
    assert_eq!(r.header("Location"), None);
}

#[test]
fn a_rename_onto_a_taken_name_is_refused_and_changes_nothing() {
    let ts = TestServer::start();
    application(&ts, "app", json!([all_ops(1)]));
    call(&ts, "app", "POST", "/user", Some(user("ann")));
    call(&ts, "app", "POST", "/user", Some(user("bob")));
    let r = call(&ts, "app", "POST", "/user/rename?username=ann", Some(json!({"new-name": "BOB"})));
    assert_crowd_error(&r, 400, "INVALID_USER");
    assert_eq!(call(&ts, "app", "GET", "/user?username=ann", None).json()["name"], "ann");
    assert_eq!(
        call(&ts, "app", "GET", "/user?username=bob", None).json()["email"],
        "bob@example.com"
    );
    // A rename to another case of the same name is allowed.
    let r = call(&ts, "app", "POST", "/user/rename?username=ann", Some(json!({"new-name": "Ann"})));
    assert_eq!((r.status, r.json()["name"].as_str()), (200, Some("Ann")), "{}", r.text());
}

#[test]
fn an_entity_updated_many_times_is_rendered_once_per_event_answer() {
    let ts = TestServer::start();
    application(&ts, "app", json!([all_ops(1)]));
    call(&ts, "app", "POST", "/user", Some(user("ann")));
    let token = call(&ts, "app", "GET", "/event", None).json()["newEventToken"]
        .as_str()
        .unwrap()
        .to_string();
    for i in 0..20 {
        let r = call(
            &ts,
            "app",
            "PUT",
            "/user?username=ann",
            Some(json!({"name": "ann", "display-name": format!("Ann {i}")})),
        );
        assert_eq!(r.status, 204);
    }
    let events = call(&ts, "app", "GET", &format!("/event/{token}"), None).json();
    let list = events["events"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{events}");
    assert_eq!(list[0]["user"]["display-name"], "Ann 19");
}

#[test]
fn expired_passwords_must_be_changed_before_the_next_login() {
    let ts = TestServer::start();
    application(&ts, "app", json!([all_ops(1)]));
    call(&ts, "app", "POST", "/user", Some(user("ann")));
    let login = |pw: &str| {
        call(&ts, "app", "POST", "/authentication?username=ann", Some(json!({"value": pw})))
    };
    assert_crowd_error(
        &call(&ts, "app", "POST", "/user/expire-all-passwords", None),
        400,
        "ILLEGAL_ARGUMENT",
    );
    assert_eq!(
        call(&ts, "app", "POST", "/user/expire-all-passwords?confirm=true", None).status,
        204
    );
    assert_crowd_error(&login("pw"), 400, "EXPIRED_CREDENTIAL");
    assert_crowd_error(&login("wrong"), 400, "INVALID_USER_AUTHENTICATION");
    let r = call(&ts, "app", "PUT", "/user/password?username=ann", Some(json!({"value": "fresh"})));
    assert_eq!(r.status, 204);
    assert_eq!(login("fresh").status, 200);
    // The administrator's own login (admin APIs) is not a directory login through an application.
    assert_eq!(ts.get("/rest/audit/1.0/events").admin().send().status, 200);
}

/// A `/group/membership` answer of megabytes (written after the head, not copied into it, and
/// taken by the socket in many writes) arrives whole and in order, every group and
/// membership once.
#[test]
fn a_group_membership_answer_of_megabytes_arrives_whole() {
    use throng::bench::directory::{generate, Shape};
    let mut ts = TestServer::start();
    application(&ts, "app", json!([all_ops(1)]));
    let bulk = generate(Shape::scaled(16_000), 1);
    ts.with_store(|s| s.load_bulk(1, &bulk).unwrap());
    let r = ts.get(&format!("{UM}/group/membership")).basic("app", PW).send();
    assert_eq!(r.status, 200);
    assert!(r.body.len() > 3 << 20, "{} bytes", r.body.len());
    let text = r.text();
    assert!(text.starts_with("<?xml") && text.ends_with("</groups></membership></memberships>"));
    // Every group once (with crowd-administrators), every membership once (with admin's).
    assert_eq!(text.matches("<membership group=").count(), bulk.groups.len() + 1);
    assert_eq!(text.matches("<user name=").count(), bulk.user_memberships.len() + 1);
    assert_eq!(text.matches("<group name=").count(), bulk.group_memberships.len());
    let mut last = "";
    for m in text.split("<membership group=\"").skip(1) {
        let name = &m[..m.find('"').unwrap()];
        assert!(name.to_lowercase() > last.to_lowercase(), "in order: {last} then {name}");
        last = name;
    }
}
