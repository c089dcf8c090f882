//! A remote Crowd directory's connection test (`POST /rest/directorymanagement/1/directory/
//! testcrowd`) between two throngs on loopback: B tests the settings of a Crowd directory on A,
//! by an outgoing application link or by application password, and each failure comes back
//! in A's words with the fix.

mod common;
use common::*;
use serde_json::{json, Value};
use std::time::Duration;

const TEST: &str = "/rest/directorymanagement/1/directory/testcrowd";

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
    let jira = link_servers(&a, &b);
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
    link_servers(&a, &b);
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

/// The read of a full sync, between two throngs: B reads A's directory as A's application
/// `jira` (by its link's token, and by Basic as `basic-app`) and applies it to a directory of
/// its own, which then equals A's: users with their attributes, groups, user and nested
/// memberships. A change on A reaches B on the next read, each change once.
#[test]
fn a_full_read_of_a_remote_directory_applied_here_equals_it() {
    use throng::remote::crowd::{CrowdAuth, CrowdServer};
    use throng::store::directory::snapshot::Applied;
    let a = TestServer::start();
    let b = TestServer::start();
    link_servers(&a, &b);
    let um = |method: &str, path: &str, body: Value| {
        let r = a
            .req(method, &format!("/rest/usermanagement/1{path}"))
            .basic("basic-app", "app-pw")
            .json(&body)
            .send();
        assert!(r.status < 300, "{method} {path}: {}", r.text());
    };
    // basic-app may not write: give it every operation first.
    let apps = a
        .get(&format!("{APPS}?name=basic-app"))
        .admin()
        .header("Accept", "application/json")
        .send()
        .json();
    let id = &apps["applications"][0]["id"];
    let all_ops = json!([{"directory-id": 1, "authenticate-all": true, "allowed-operations":
        ["CREATE_USER", "CREATE_GROUP", "UPDATE_USER", "UPDATE_GROUP", "DELETE_USER", "UPDATE_USER_ATTRIBUTE"]}]);
    assert_eq!(
        a.put(&format!("{APPS}/{id}"))
            .admin()
            .json(&json!({"directory-mappings": all_ops}))
            .send()
            .status,
        204
    );
    for name in ["ann", "Bob", "cid"] {
        um(
            "POST",
            "/user",
            json!({"name": name, "email": format!("{name}@a.example"), "password": {"value": "pw"}}),
        );
    }
    um(
        "POST",
        "/user/attribute?username=ann",
        json!({"attributes": [{"name": "team", "values": ["blue", "green"]}]}),
    );
    for g in ["devs", "staff"] {
        um(
            "POST",
            "/group",
            json!({"name": g, "type": "GROUP", "active": true, "description": format!("the {g}")}),
        );
    }
    um("POST", "/group/user/direct?groupname=devs", json!({"name": "ann"}));
    um("POST", "/group/user/direct?groupname=devs", json!({"name": "Bob"}));
    um("POST", "/group/child-group/direct?groupname=staff", json!({"name": "devs"}));

    let app = b.running().app();
    let dir = app.store.create_directory("A", "CROWD", "", 1).unwrap().id;
    let server = |auth| CrowdServer {
        base: a.url(),
        auth,
        out: &app.outbound,
        tokens: &app.outgoing_tokens,
        links: throng::domain::links::Deps::of(app),
    };
    let link = app.store.app_link_by_name("to-a").unwrap().unwrap();
    let by_link = server(CrowdAuth::Link { application: "jira".into(), link });
    let snap = throng::remote::snapshot::read(&by_link, dir).unwrap();
    let applied = app.store.apply_snapshot(dir, &snap, None, None, 2).unwrap();
    // 4 users (admin too), 3 groups (crowd-administrators too), 4 memberships.
    assert_eq!(applied, Applied { added: 11, updated: 0, removed: 0 });
    let ann = app.store.user(dir, "ann").unwrap().unwrap();
    assert_eq!(
        (ann.email.as_str(), ann.attributes["team"].clone()),
        ("ann@a.example", vec!["blue".to_string(), "green".into()])
    );
    assert_eq!(app.store.direct_users_of_group(dir, "devs").unwrap(), ["ann", "Bob"]);
    assert_eq!(app.store.nested_groups_of_user(dir, "bob").unwrap(), ["devs", "staff"]);
    assert_eq!(app.store.group(dir, "staff").unwrap().unwrap().description, "the staff");
    assert!(ann.password_hash.is_none(), "synced users log in where they come from");

    // A change on A: Bob goes, cid joins staff. The next read, by Basic this time, applies
    // just that.
    um("DELETE", "/user?username=Bob", json!({}));
    um("POST", "/group/user/direct?groupname=staff", json!({"name": "cid"}));
    let by_password =
        server(CrowdAuth::Password { application: "basic-app".into(), password: "app-pw".into() });
    let snap = throng::remote::snapshot::read(&by_password, dir).unwrap();
    assert_eq!(
        app.store.apply_snapshot(dir, &snap, None, None, 3).unwrap(),
        Applied { added: 1, updated: 0, removed: 1 }
    );
    assert!(app.store.user(dir, "bob").unwrap().is_none());
    assert_eq!(app.store.direct_users_of_group(dir, "staff").unwrap(), ["cid"]);
}

/// A `CROWD` directory on B synchronised from A through `…/directory/detailed/{id}/
/// synchronize`: it takes A's directory, shows how it went, and a sync that fails (A stops
/// allowing B's address) says why in A's words and changes nothing.
#[test]
fn a_crowd_directory_synchronises_from_another_throng_and_a_failed_sync_changes_nothing() {
    let a = TestServer::start();
    let b = TestServer::start();
    let jira = link_servers(&a, &b);
    let r = b
        .post("/rest/admin/1.0/directory/detailed")
        .admin()
        .json(&json!({"name": "From A", "type": "CROWD", "serverUrl": a.url(),
            "applicationName": "jira", "applicationLink": "to-a", "syncInterval": "off"}))
        .send();
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["id"].as_u64().unwrap();
    assert_eq!(
        (r.json()["type"].as_str(), r.json()["serverUrl"].as_str()),
        (Some("CROWD"), Some(a.url().as_str()))
    );
    let sync = || {
        let r = b
            .post(&format!("/rest/admin/1.0/directory/detailed/{id}/synchronize?wait=true"))
            .admin()
            .send();
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    };
    let first = sync();
    // admin, crowd-administrators and admin's membership of it.
    assert_eq!(
        (first["state"].as_str(), first["added"].as_u64()),
        (Some("SUCCEEDED"), Some(3)),
        "{first}"
    );
    let detail = b.get(&format!("/rest/admin/1.0/directory/detailed/{id}")).admin().send().json();
    assert_eq!(
        (detail["userCount"].as_u64(), detail["groupCount"].as_u64()),
        (Some(1), Some(1)),
        "{detail}"
    );
    assert_eq!(detail["synchronisation"]["state"], "SUCCEEDED");

    // B's applications read the synced directory, and may not change it.
    let body = json!({"name": "portal", "type": "GENERIC_APPLICATION", "active": true, "password": {"value": "pw"},
        "directory-mappings": [{"directory-id": id, "authenticate-all": true,
            "allowed-operations": ["CREATE_USER", "UPDATE_USER", "DELETE_USER", "UPDATE_GROUP"]}],
        "remote-addresses": [{"value": "127.0.0.1"}]});
    assert_eq!(b.post(APPS).admin().json(&body).send().status, 201);
    let um = |method: &str, path: &str| {
        b.req(method, &format!("/rest/usermanagement/1{path}"))
            .basic("portal", "pw")
            .header("Accept", "application/json")
    };
    assert_eq!(um("GET", "/user?username=admin").send().json()["directory-name"], "From A");
    let r = um("POST", "/user").json(&json!({"name": "local", "password": {"value": "pw"}})).send();
    assert_eq!(
        (r.status, r.json()["reason"].as_str()),
        (403, Some("APPLICATION_PERMISSION_DENIED")),
        "{}",
        r.text()
    );
    assert!(r.text().contains("is synchronised from"), "{}", r.text());
    assert_eq!(um("DELETE", "/user?username=admin").send().status, 403);
    // Its users log in through A: their passwords stay A's.
    let login =
        |pw: &str| um("POST", "/authentication?username=admin").json(&json!({"value": pw})).send();
    let ok = login(ADMIN_PASSWORD);
    assert_eq!((ok.status, ok.json()["name"].as_str()), (200, Some("admin")), "{}", ok.text());
    let wrong = login("not-the-password");
    assert_eq!(
        (wrong.status, wrong.json()["reason"].as_str()),
        (400, Some("INVALID_USER_AUTHENTICATION")),
        "{}",
        wrong.text()
    );
    let session = um("POST", "/session")
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send();
    assert_eq!(session.status, 201, "{}", session.text());
    assert_eq!(
        um("DELETE", "/group/user/direct?groupname=crowd-administrators&username=admin")
            .send()
            .status,
        403
    );

    let path = format!("{APPS}/{jira}/remote_address?address=127.0.0.1");
    assert_eq!(a.delete(&path).admin().send().status, 204);
    let refused = login(ADMIN_PASSWORD);
    assert_eq!(refused.status, 503, "A does not answer B's login check: {}", refused.text());
    assert!(refused.text().contains("could not check the password"), "{}", refused.text());
    let tested = b.post(&format!("{TEST}/{id}")).admin().send().json();
    assert_eq!(
        (tested["ok"].as_bool(), tested["status"].as_u64()),
        (Some(false), Some(403)),
        "{tested}"
    );
    assert!(tested["hint"].as_str().unwrap().contains("add 127.0.0.1"), "{tested}");
    assert_eq!(b.post(&format!("{TEST}/1")).admin().send().status, 400, "the internal directory");
    let failed = sync();
    assert_eq!(failed["state"], "FAILED", "{failed}");
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("forbidden from making requests to the application, jira"),
        "{failed}"
    );
    let detail = b.get(&format!("/rest/admin/1.0/directory/detailed/{id}")).admin().send().json();
    assert_eq!(detail["userCount"], 1, "a failed sync changes nothing");
    let add = a
        .post(&format!("{APPS}/{jira}/remote_address"))
        .admin()
        .json(&json!({"value": "127.0.0.1"}))
        .send();
    assert_eq!(add.status, 201);
    let again = sync();
    assert_eq!(
        (again["state"].as_str(), again["added"].as_u64(), again["removed"].as_u64()),
        (Some("SUCCEEDED"), Some(0), Some(0)),
        "{again}"
    );

    // Only CROWD directories synchronise; an unknown one is 404; a password that does not
    // open on A fails saying so.
    assert_eq!(
        b.post("/rest/admin/1.0/directory/detailed/1/synchronize").admin().send().status,
        400
    );
    assert_eq!(
        b.post("/rest/admin/1.0/directory/detailed/99/synchronize").admin().send().status,
        404
    );
    let r = b
        .post("/rest/admin/1.0/directory/detailed")
        .admin()
        .json(&json!({"name": "By password", "type": "CROWD", "serverUrl": a.url(),
            "applicationName": "basic-app", "applicationPassword": "wrong"}))
        .send();
    assert_eq!(r.status, 201, "{}", r.text());
    let wrong = b
        .post(&format!(
            "/rest/admin/1.0/directory/detailed/{}/synchronize?wait=true",
            r.json()["id"]
        ))
        .admin()
        .send()
        .json();
    assert_eq!(wrong["state"], "FAILED");
    assert!(wrong["error"].as_str().unwrap().contains("401"), "{wrong}");
    for bad in [
        json!({"name": "x", "type": "CROWD", "applicationName": "jira", "applicationLink": "to-a"}),
        json!({"name": "x", "type": "CROWD", "serverUrl": b.url(), "applicationName": "jira", "applicationLink": "to-a"}),
        json!({"name": "x", "type": "CROWD", "serverUrl": a.url(), "applicationName": "jira"}),
        json!({"name": "x", "type": "LDAP"}),
    ] {
        let r = b.post("/rest/admin/1.0/directory/detailed").admin().json(&bad).send();
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
    }
}
