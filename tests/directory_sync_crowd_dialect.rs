//! Directory sync from a server that speaks Crowd's own JSON dialect, not throng's: events
//! without a `"type"`, a changed user given with `storedAttributes`/`deletedAttributes` beside
//! it and no attribute list of its own, memberships as crowd-rest-plugin's
//! `UserMembershipEventEntity` and `GroupMembershipEventEntity` write them. A fake server on
//! loopback answers each path as Crowd would; B must apply a full sync and then the events.

mod common;
use common::fake::{Answer, Behaviour, FakeServer, CROWD};
use common::*;
use serde_json::{json, Value};
use std::sync::Arc;

const DIRS: &str = "/rest/admin/1.0/directory/detailed";

fn crowd_json(v: Value) -> Answer {
    (200, vec![CROWD, ("Content-Type", "application/json")], v.to_string().into_bytes())
}

/// Crowd 7.0 as an application sees it: one user, one group, then five changes.
fn crowd(path: &str) -> Answer {
    let base = "/rest/usermanagement/1";
    let Some(rest) = path.strip_prefix(base) else {
        return (404, vec![], Vec::new());
    };
    let link = json!({"href": "http://crowd/x", "rel": "self"});
    match rest.split('?').next().unwrap() {
        "/event" => crowd_json(json!({"newEventToken": "100", "incrementalSynchronisationAvailable": true, "events": []})),
        "/search" if rest.contains("entity-type=user") => crowd_json(json!({"expand": "user", "users": [
            {"link": link, "name": "ann", "key": "32769:ann", "first-name": "Ann", "last-name": "Lee",
             "display-name": "Ann Lee", "email": "ann@example.com", "active": true,
             "password": {"link": link}, "created-date": 1, "updated-date": 2,
             "attributes": {"link": link, "attributes": [{"link": link, "name": "team", "values": ["core"]}]}}]})),
        "/search" => crowd_json(json!({"expand": "group", "groups": [
            {"link": link, "name": "devs", "description": "Developers", "type": "GROUP", "active": true,
             "attributes": {"link": link, "attributes": []}}]})),
        "/group/membership" => (
            200,
            vec![CROWD, ("Content-Type", "application/xml")],
            br#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><memberships><membership group="devs"><users><user name="ann"/></users><groups></groups></membership></memberships>"#.to_vec(),
        ),
        "/event/100" => crowd_json(json!({"newEventToken": "105", "incrementalSynchronisationAvailable": true, "events": [
            // A user updated: its fields, no attribute list, the attribute changes beside it.
            {"operation": "UPDATED", "user": {"link": link, "name": "ann", "first-name": "Ann",
                "last-name": "Smith", "display-name": "Ann Smith", "email": "ann@example.com", "active": true},
             "storedAttributes": {"attributes": [{"name": "desk", "values": ["12"]}]},
             "deletedAttributes": {"attributes": [{"name": "team", "values": []}]}},
            {"operation": "CREATED", "user": {"link": link, "name": "bob", "first-name": "Bob",
                "last-name": "Ray", "display-name": "Bob Ray", "email": "bob@example.com", "active": true}},
            {"operation": "CREATED", "childUser": {"link": link, "name": "bob"},
             "parentGroups": {"groups": [{"link": link, "name": "devs"}]}},
            {"operation": "CREATED", "group": {"link": link, "name": "ops", "description": "",
                "type": "GROUP", "active": true}},
            {"operation": "CREATED", "group": {"link": link, "name": "ops"},
             "parentGroups": {"groups": [{"link": link, "name": "devs"}]}, "childGroups": {"groups": []}}
        ]})),
        "/event/105" => crowd_json(json!({"newEventToken": "105", "incrementalSynchronisationAvailable": true, "events": []})),
        _ => (404, vec![CROWD], br#"{"reason":"NOT_FOUND","message":"no"}"#.to_vec()),
    }
}

#[test]
fn crowds_own_events_are_applied_as_crowd_writes_them() {
    let fake = FakeServer::start();
    fake.set(Behaviour::Routes(Arc::new(crowd)));
    let b = TestServer::start();
    let r = b
        .post(DIRS)
        .admin()
        .json(&json!({"name": "Crowd", "type": "CROWD", "serverUrl": fake.url,
            "applicationName": "throng", "applicationPassword": "pw", "syncInterval": "off"}))
        .send();
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["id"].as_u64().unwrap();
    let app = json!({"name": "reader", "type": "GENERIC_APPLICATION", "active": true,
        "password": {"value": "pw"}, "directory-mappings": [{"directory-id": id, "authenticate-all": true}],
        "remote-addresses": [{"value": "127.0.0.1"}]});
    assert_eq!(b.post(APPS).admin().json(&app).send().status, 201);
    let sync = || {
        let r = b.post(&format!("{DIRS}/{id}/synchronize?wait=true")).admin().send();
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    };
    let get = |path: &str| {
        let r = b
            .get(&format!("/rest/usermanagement/1{path}"))
            .basic("reader", "pw")
            .header("Accept", "application/json")
            .send();
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        r.json()
    };
    let attributes = |user: &str| {
        let v = get(&format!("/user?username={user}&expand=attributes"));
        let list = v["attributes"]["attributes"].as_array().cloned().unwrap_or_default();
        list.iter().map(|a| (a["name"].clone(), a["values"].clone())).collect::<Vec<_>>()
    };

    let first = sync();
    assert_eq!(
        (first["state"].as_str(), first["mode"].as_str()),
        (Some("SUCCEEDED"), Some("FULL")),
        "{first}"
    );
    assert_eq!(attributes("ann"), [(json!("team"), json!(["core"]))]);

    let next = sync();
    assert_eq!(
        (next["state"].as_str(), next["mode"].as_str(), next.get("note")),
        (Some("SUCCEEDED"), Some("INCREMENTAL"), None),
        "{next}"
    );
    assert_eq!(get("/user?username=ann")["last-name"], "Smith");
    assert_eq!(attributes("ann"), [(json!("desk"), json!(["12"]))], "team deleted, desk stored");
    let members = get("/group/user/direct?groupname=devs")["users"].clone();
    let names: Vec<&str> =
        members.as_array().unwrap().iter().map(|u| u["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["ann", "bob"]);
    let children = get("/group/child-group/direct?groupname=devs")["groups"].clone();
    assert_eq!(children[0]["name"], "ops", "{children}");
    assert_eq!(sync()["mode"], "INCREMENTAL", "and again from token 105");
}
