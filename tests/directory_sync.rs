//! Directory sync over OAuth 2.0 between two throngs on loopback, end to end: A is the Crowd
//! server (an incoming link and application `jira` taking it), B the syncing application (an
//! outgoing link to A's token endpoint and a `CROWD` directory using it). B's directory
//! becomes A's, follows each change incrementally through A's `/event`, falls back to a full
//! sync when A's log no longer reaches back, runs on its interval, and survives credentials
//! rotating and running out.

mod common;
use common::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const DIRS: &str = "/rest/admin/1.0/directory/detailed";

/// A Basic-authenticated application on `server` that may do everything in `directory`.
fn add_app(server: &TestServer, name: &str, directory: u64) {
    let body = json!({"name": name, "type": "GENERIC_APPLICATION", "active": true,
        "password": {"value": "pw"},
        "directory-mappings": [{"directory-id": directory, "authenticate-all": true,
            "allowed-operations": ["CREATE_USER", "CREATE_GROUP", "UPDATE_USER", "UPDATE_GROUP",
                "DELETE_USER", "DELETE_GROUP", "UPDATE_USER_ATTRIBUTE", "UPDATE_GROUP_ATTRIBUTE"]}],
        "remote-addresses": [{"value": "127.0.0.1"}]});
    let r = server.post(APPS).admin().json(&body).send();
    assert_eq!(r.status, 201, "{}", r.text());
}

/// A usermanagement call as application `app`, in JSON.
fn um(server: &TestServer, app: &str, method: &str, path: &str) -> Call {
    server
        .req(method, &format!("/rest/usermanagement/1{path}"))
        .basic(app, "pw")
        .header("Accept", "application/json")
}

fn ok(server: &TestServer, app: &str, method: &str, path: &str, body: Value) {
    let r = um(server, app, method, path).json(&body).send();
    assert!((200..300).contains(&r.status), "{method} {path}: {} {}", r.status, r.text());
}

fn names(v: &Value, list: &str) -> Vec<String> {
    let items = v[list].as_array().cloned().unwrap_or_default();
    let mut out: Vec<String> =
        items.iter().map(|i| i["name"].as_str().unwrap().to_lowercase()).collect();
    out.sort();
    out
}

/// What application `app` on `server` sees of its directory, as a comparable value: users and
/// groups with their fields and attributes, and every direct membership.
fn directory_view(server: &TestServer, app: &str) -> Value {
    let get = |path: &str| {
        let r = um(server, app, "GET", path).send();
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        r.json()
    };
    let attrs = |v: &Value| {
        let list = v["attributes"]["attributes"].as_array().cloned().unwrap_or_default();
        list.iter()
            .map(|a| (a["name"].as_str().unwrap().to_string(), a["values"].clone()))
            .collect::<BTreeMap<_, _>>()
    };
    let mut users = BTreeMap::new();
    for u in get("/search?entity-type=user&max-results=-1&expand=user,attributes")["users"]
        .as_array()
        .unwrap()
    {
        let name = u["name"].as_str().unwrap().to_lowercase();
        let groups = names(&get(&format!("/user/group/direct?username={name}")), "groups");
        users.insert(
            name,
            json!([
                u["first-name"],
                u["last-name"],
                u["display-name"],
                u["email"],
                u["active"],
                attrs(u),
                groups
            ]),
        );
    }
    let mut groups = BTreeMap::new();
    for g in get("/search?entity-type=group&max-results=-1&expand=group,attributes")["groups"]
        .as_array()
        .unwrap()
    {
        let name = g["name"].as_str().unwrap().to_lowercase();
        let children =
            names(&get(&format!("/group/child-group/direct?groupname={name}")), "groups");
        groups.insert(name, json!([g["description"], g["active"], attrs(g), children]));
    }
    json!({"users": users, "groups": groups})
}

/// Synchronises B's directory `id` and waits for how it went.
fn sync(b: &TestServer, id: u64, query: &str) -> Value {
    let r = b.post(&format!("{DIRS}/{id}/synchronize?wait=true{query}")).admin().send();
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

/// User `name` on A, with password `{name}-password`.
fn add_user_on_a(a: &TestServer, name: &str) {
    let password = format!("{name}-password");
    ok(
        a,
        "admin-app",
        "POST",
        "/user",
        json!({"name": name, "active": true,
        "password": {"value": password}}),
    );
}

/// A sync's mode and its counts added, updated, removed.
fn mode_and_counts(status: &Value) -> (&str, [u64; 3]) {
    let count = |k: &str| status[k].as_u64().unwrap_or_else(|| panic!("no {k} in {status}"));
    (status["mode"].as_str().unwrap(), [count("added"), count("updated"), count("removed")])
}

fn create_directory(b: &TestServer, settings: Value) -> u64 {
    let r = b.post(DIRS).admin().json(&settings).send();
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_u64().unwrap()
}

/// A and B linked, A's directory populated, and B's `CROWD` directory of it with `interval`;
/// returns B's directory id.
fn synced_pair(a: &TestServer, b: &TestServer, interval: &str) -> u64 {
    link_servers(a, b);
    populate_a(a);
    create_directory(
        b,
        json!({"name": "From A", "type": "CROWD", "serverUrl": a.url(),
            "applicationName": "jira", "applicationLink": "to-a", "syncInterval": interval}),
    )
}

/// A's directory 1 as the tests start it: three users with attributes, three groups, nested.
fn populate_a(a: &TestServer) {
    add_app(a, "admin-app", 1);
    for (name, first) in [("ann", "Ann"), ("bob", "Bob"), ("carl", "Carl")] {
        ok(
            a,
            "admin-app",
            "POST",
            "/user",
            json!({"name": name, "first-name": first,
            "last-name": "Lee", "display-name": format!("{first} Lee"),
            "email": format!("{name}@example.com"), "active": true,
            "password": {"value": format!("{name}-password")}}),
        );
    }
    ok(
        a,
        "admin-app",
        "POST",
        "/user/attribute?username=ann",
        json!({"attributes": [{"name": "team", "values": ["core", "infra"]}]}),
    );
    for g in ["devs", "ops", "all"] {
        ok(
            a,
            "admin-app",
            "POST",
            "/group",
            json!({"name": g, "type": "GROUP",
            "description": format!("the {g}"), "active": true}),
        );
    }
    ok(
        a,
        "admin-app",
        "POST",
        "/group/attribute?groupname=devs",
        json!({"attributes": [{"name": "room", "values": ["4.2"]}]}),
    );
    for (user, group) in [("ann", "devs"), ("bob", "ops"), ("carl", "devs")] {
        ok(
            a,
            "admin-app",
            "POST",
            &format!("/group/user/direct?groupname={group}"),
            json!({"name": user}),
        );
    }
    for child in ["devs", "ops"] {
        ok(
            a,
            "admin-app",
            "POST",
            "/group/child-group/direct?groupname=all",
            json!({"name": child}),
        );
    }
}

#[test]
fn a_directory_synced_over_oauth_follows_every_change_on_a_incrementally() {
    let a = TestServer::start();
    let b = TestServer::start();
    let id = synced_pair(&a, &b, "off");
    add_app(&b, "reader", id);

    let first = sync(&b, id, "");
    assert_eq!(
        (first["state"].as_str(), first["mode"].as_str()),
        (Some("SUCCEEDED"), Some("FULL")),
        "{first}"
    );
    assert_eq!(directory_view(&b, "reader"), directory_view(&a, "admin-app"));

    // Every kind of change on A: add, rename, remove, attributes, memberships both ways,
    // nesting, a group's description.
    ok(
        &a,
        "admin-app",
        "POST",
        "/user",
        json!({"name": "dave", "first-name": "Dave",
        "last-name": "Ray", "display-name": "Dave Ray", "email": "dave@example.com",
        "active": true, "password": {"value": "dave-password"}}),
    );
    ok(&a, "admin-app", "POST", "/user/rename?username=bob", json!({"new-name": "robert"}));
    assert_eq!(um(&a, "admin-app", "DELETE", "/user?username=carl").send().status, 204);
    ok(
        &a,
        "admin-app",
        "POST",
        "/user/attribute?username=ann",
        json!({"attributes": [{"name": "team", "values": ["platform"]}, {"name": "desk", "values": ["12"]}]}),
    );
    assert_eq!(
        um(&a, "admin-app", "DELETE", "/group/attribute?groupname=devs&attributename=room")
            .send()
            .status,
        204
    );
    assert_eq!(
        um(&a, "admin-app", "DELETE", "/group/user/direct?groupname=devs&username=ann")
            .send()
            .status,
        204
    );
    ok(&a, "admin-app", "POST", "/group/user/direct?groupname=ops", json!({"name": "ann"}));
    ok(&a, "admin-app", "POST", "/group/user/direct?groupname=devs", json!({"name": "dave"}));
    assert_eq!(
        um(
            &a,
            "admin-app",
            "DELETE",
            "/group/child-group/direct?groupname=all&child-groupname=ops"
        )
        .send()
        .status,
        204
    );
    ok(
        &a,
        "admin-app",
        "PUT",
        "/group?groupname=ops",
        json!({"name": "ops", "type": "GROUP",
        "description": "operations", "active": true}),
    );
    ok(&a, "admin-app", "POST", "/group", json!({"name": "new", "type": "GROUP", "active": true}));
    ok(&a, "admin-app", "POST", "/group/child-group/direct?groupname=new", json!({"name": "all"}));

    let next = sync(&b, id, "");
    assert_eq!(
        (next["state"].as_str(), next["mode"].as_str(), next.get("note")),
        (Some("SUCCEEDED"), Some("INCREMENTAL"), None),
        "{next}"
    );
    assert!(next["added"].as_u64().unwrap() >= 4, "{next}");
    assert!(next["removed"].as_u64().unwrap() >= 3, "{next}");
    assert_eq!(directory_view(&b, "reader"), directory_view(&a, "admin-app"));
    assert_eq!(
        mode_and_counts(&sync(&b, id, "")),
        ("INCREMENTAL", [0, 0, 0]),
        "nothing changed on A"
    );

    // B's synced users log in through A, with A's passwords.
    let login = |user: &str, pw: &str| {
        um(&b, "reader", "POST", &format!("/authentication?username={user}"))
            .json(&json!({"value": pw}))
            .send()
    };
    assert_eq!(login("robert", "bob-password").status, 200);
    assert_eq!(login("dave", "dave-password").status, 200);
    assert_eq!(login("dave", "wrong").status, 400);
    assert_eq!(login("carl", "carl-password").status, 400, "carl is gone");

    // A full sync when asked finds nothing to change.
    assert_eq!(mode_and_counts(&sync(&b, id, "&mode=full")), ("FULL", [0, 0, 0]));
}

#[test]
fn an_expired_event_token_falls_back_to_a_full_sync_that_says_why() {
    let a = TestServer::start_with(|c| c.event_max_rows = 5);
    let b = TestServer::start();
    let id = synced_pair(&a, &b, "off");
    add_app(&b, "reader", id);
    assert_eq!(sync(&b, id, "")["state"], "SUCCEEDED");
    for i in 0..10 {
        ok(
            &a,
            "admin-app",
            "POST",
            "/group",
            json!({"name": format!("g{i}"), "type": "GROUP", "active": true}),
        );
    }
    a.running().purge();
    let next = sync(&b, id, "");
    assert_eq!(
        (next["state"].as_str(), next["mode"].as_str(), next["added"].as_u64()),
        (Some("SUCCEEDED"), Some("FULL"), Some(10)),
        "{next}"
    );
    assert!(next["note"].as_str().unwrap().contains("expired (410)"), "{next}");
    assert_eq!(directory_view(&b, "reader"), directory_view(&a, "admin-app"));
    assert_eq!(sync(&b, id, "")["mode"], "INCREMENTAL", "a full sync takes a fresh token");
}

/// Polls B's directory detail until `done` holds of its synchronisation.
fn wait_for(b: &TestServer, id: u64, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let detail = b.get(&format!("{DIRS}/{id}")).admin().send().json();
        if done(&detail["synchronisation"]) {
            return detail;
        }
        assert!(Instant::now() < deadline, "never came: {detail}");
        std::thread::yield_now();
    }
}

#[test]
fn a_directory_syncs_at_once_then_on_its_interval_and_in_the_background_when_asked() {
    let a = TestServer::start();
    let b = TestServer::start();
    let id = synced_pair(&a, &b, "30m");
    let first = wait_for(&b, id, |s| s["state"] == "SUCCEEDED");
    assert_eq!(first["userCount"], 4, "admin and A's three: {first}");
    let started = first["synchronisation"]["started"].clone();

    add_user_on_a(&a, "dave");
    b.advance_clock(Duration::from_secs(31 * 60));
    let second = wait_for(&b, id, |s| s["started"] != started && s["state"] == "SUCCEEDED");
    assert_eq!(
        (second["userCount"].as_u64(), second["synchronisation"]["mode"].as_str()),
        (Some(5), Some("INCREMENTAL")),
        "{second}"
    );

    // Asked for without waiting: 202 with where to watch it.
    add_user_on_a(&a, "erin");
    let r = b.post(&format!("{DIRS}/{id}/synchronize")).admin().send();
    assert_eq!(r.status, 202, "{}", r.text());
    assert!(r.header("Location").unwrap().ends_with(&format!("{DIRS}/{id}")));
    assert!(["QUEUED", "RUNNING", "SUCCEEDED"].contains(&r.json()["state"].as_str().unwrap()));
    let third = wait_for(&b, id, |s| s["state"] == "SUCCEEDED" && s["added"] == 1);
    assert_eq!(third["userCount"], 6, "{third}");

    // The interval is the directory's to change; a bad one is the caller's mistake.
    let r = b.put(&format!("{DIRS}/{id}")).admin().json(&json!({"syncInterval": "off"})).send();
    assert_eq!(r.status, 200, "{}", r.text());
    for bad in ["soon", "0s", "500ms"] {
        let r = b.put(&format!("{DIRS}/{id}")).admin().json(&json!({"syncInterval": bad})).send();
        assert_crowd_error(&r, 400, "ILLEGAL_ARGUMENT");
    }
    let r = b.post(&format!("{DIRS}/{id}/synchronize?mode=sideways")).admin().send();
    assert_eq!(r.status, 400, "{}", r.text());
    let r = b.put(&format!("{DIRS}/1")).admin().json(&json!({"syncInterval": "1h"})).send();
    assert_eq!(r.status, 400, "the internal directory has no remote settings: {}", r.text());
}

#[test]
fn a_rotated_secret_keeps_b_syncing_through_the_grace_period_then_fails_clearly() {
    let a = TestServer::start();
    let b = TestServer::start();
    let id = synced_pair(&a, &b, "off");
    assert_eq!(sync(&b, id, "")["state"], "SUCCEEDED");
    // B's token has run out by A's clock, not by B's: A answers 401, and B gets a new one
    // and goes on (once; the next call would fail as the server says).
    a.advance_clock(Duration::from_secs(2 * 3600));
    let again = sync(&b, id, "");
    assert_eq!(again["state"], "SUCCEEDED", "a new token after the 401: {again}");
    let link = a.get(LINKS).admin().send().json()["links"][0].clone();
    let client_id = link["oauthClient"]["clientId"].as_str().unwrap().to_string();
    assert_eq!(
        a.post(&format!("/rest/oauth2/latest/rotate/{client_id}")).admin().send().status,
        200
    );

    add_user_on_a(&a, "dave");
    let during = sync(&b, id, "");
    assert_eq!(
        (during["state"].as_str(), during["added"].as_u64()),
        (Some("SUCCEEDED"), Some(1)),
        "the old secret works through the grace period: {during}"
    );

    // Past the grace period (and the life of B's token): A refuses B's link, and B says so.
    a.advance_clock(Duration::from_secs(25 * 3600));
    let after = sync(&b, id, "");
    assert_eq!(after["state"], "FAILED", "{after}");
    let error = after["error"].as_str().unwrap();
    assert!(error.contains("invalid_client") && error.contains("token endpoint"), "{error}");
    let detail = b.get(&format!("{DIRS}/{id}")).admin().send().json();
    assert_eq!(detail["userCount"], 5, "a failed sync changes nothing: {detail}");

    // A link whose token endpoint moves to another server sends its tokens nowhere else.
    let r = b
        .put(&format!("{LINKS}/1"))
        .admin()
        .json(&json!({"tokenUrl": format!("{}/rest/oauth2/latest/token", b.url())}))
        .send();
    assert_eq!(r.status, 200, "{}", r.text());
    let moved = sync(&b, id, "");
    assert!(moved["error"].as_str().unwrap().contains("now gets its tokens from"), "{moved}");

    // The link stays while the directory syncs through it.
    let r = b.delete(&format!("{LINKS}/1")).admin().send();
    assert_crowd_error(&r, 409, "OPERATION_FAILED");
    assert!(r.text().contains("directory 'From A' synchronises through this link"), "{}", r.text());
}
