//! SCIM 2.0 provisioning over HTTP (RFC 7643/7644, as Atlassian's API answers it): a SCIM
//! directory, a client with a key granted it, and users and groups created, read, listed,
//! filtered, replaced, patched and deleted, with what applications then see through
//! usermanagement, and every kind of bad request refused in SCIM's error shape with nothing
//! stored changing.

mod common;

use common::*;
use serde_json::{json, Value};
use throng::bench::client::ClientResponse;

const UM: &str = "/rest/usermanagement/1";
const APP_PW: &str = "app-secret";

/// An application that reads (and may try to write) directory `dir` through usermanagement.
fn application(ts: &TestServer, name: &str, dir: u64) {
    let body = json!({"name": name, "type": "GENERIC_APPLICATION", "active": true,
        "password": {"value": APP_PW},
        "directory-mappings": [{"directory-id": dir, "authenticate-all": true,
            "allowed-operations": ["CREATE_USER", "UPDATE_USER", "DELETE_USER", "CREATE_GROUP"]}],
        "remote-addresses": [{"value": "127.0.0.1"}]});
    let r = ts.post("/rest/appmanagement/1/application").admin().json(&body).send();
    assert_eq!(r.status, 201, "{}", r.text());
}

fn um(ts: &TestServer, app: &str, method: &str, path: &str) -> ClientResponse {
    ts.req(method, &format!("{UM}{path}"))
        .basic(app, APP_PW)
        .header("Accept", "application/json")
        .send()
}

/// Asserts a SCIM error: status, `scimType` (or none), and the error schema.
fn assert_scim_error(r: &ClientResponse, status: u16, scim_type: Option<&str>) {
    assert_eq!(r.status, status, "{}", r.text());
    let v = r.json();
    assert_eq!(v["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:Error"]), "{v}");
    assert_eq!(v["status"], status.to_string(), "{v}");
    assert_eq!(v.get("scimType").and_then(Value::as_str), scim_type, "{v}");
    assert!(r.header("Content-Type").unwrap_or("").starts_with("application/scim+json"));
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

#[test]
fn a_token_needs_the_scope_and_the_directory_and_says_so_in_rfc_6750_words() {
    let ts = TestServer::start();
    let scim = Scim::setup(&ts, false);
    let users = format!("{}/Users", scim.base);
    let r = ts.get(&users).send();
    assert_scim_error(&r, 401, None);
    assert_eq!(r.header("WWW-Authenticate"), Some("Bearer realm=\"scim\""));
    let r = ts.get(&users).bearer("not-a-token").send();
    assert_scim_error(&r, 401, None);
    assert!(r.header("WWW-Authenticate").unwrap().contains("error=\"invalid_token\""));
    // A Crowd-style account's token (APPLICATION only) has no business here.
    let crowd = ts.create_account("crowd");
    let r = ts.get(&users).bearer(&ts.token(&crowd.client_id, &crowd.secret)).send();
    assert_scim_error(&r, 403, None);
    assert!(r.header("WWW-Authenticate").unwrap().contains("insufficient_scope"));
    // The right token for another directory.
    let other = Scim::setup(&ts, false);
    let r = ts.get(&users).bearer(&other.token).send();
    assert_scim_error(&r, 403, None);
    assert!(r.text().contains("not granted"), "{}", r.text());
    assert_eq!(scim.call(&ts, "GET", "/Users").send().status, 200);
    // Only SCIM directories can be granted, only to manage:directory accounts.
    let grant = |account: u64, dirs: Value| {
        ts.put(&format!("{SA_PATH}/{account}/directories"))
            .admin()
            .json(&json!({"directories": dirs}))
            .send()
    };
    assert_crowd_error(&grant(scim.account, json!([1])), 400, "ILLEGAL_ARGUMENT");
    assert_crowd_error(&grant(scim.account, json!([999])), 400, "DIRECTORY_NOT_FOUND");
    assert_crowd_error(&grant(crowd.id, json!([scim.dir])), 400, "ILLEGAL_ARGUMENT");
    // Taking the grant away ends access at once, for the token already issued.
    assert_eq!(grant(scim.account, json!([])).status, 200);
    assert_scim_error(&scim.call(&ts, "GET", "/Users").send(), 403, None);
    let r = ts.get(&format!("{SA_PATH}/{}/directories", scim.account)).admin().send();
    assert_eq!(r.json(), json!({"directories": []}));
}

#[test]
fn users_are_created_read_found_and_paged_as_atlassian_answers() {
    let ts = TestServer::start();
    let scim = Scim::setup(&ts, false);
    let r = scim
        .call(&ts, "POST", "/Users")
        .header("Content-Type", "application/scim+json")
        .body(
            json!({"schemas": [SCIM_USER], "userName": "bjensen", "externalId": "ext-1",
            "displayName": "Babs", "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "b@example.com", "type": "work", "primary": true}],
            "title": "Tour Guide", "department": "Sales"})
            .to_string(),
        )
        .send();
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(r.header("Content-Type").unwrap().starts_with("application/scim+json"));
    let u = r.json();
    let uid = id(&u);
    let location = format!("{}{}/Users/{uid}", ts.url(), scim.base);
    assert_eq!(r.header("Location"), Some(location.as_str()));
    assert_eq!(r.header("ETag"), Some("W/\"1\""));
    assert_eq!(u["meta"]["location"], location.as_str());
    assert_eq!(u["meta"]["resourceType"], "User");
    assert_eq!(u["active"], true, "active by default, as Atlassian");
    assert_eq!(u["title"], "Tour Guide");
    // Taken in any case: 409 uniqueness.
    let dup = scim
        .call(&ts, "POST", "/Users")
        .json(&json!({"schemas": [SCIM_USER], "userName": "BJENSEN"}))
        .send();
    assert_scim_error(&dup, 409, Some("uniqueness"));
    for name in ["alice", "carol", "dave", "erin"] {
        scim.user(&ts, name);
    }
    let list = |q: &str| {
        let r = scim.call(&ts, "GET", &format!("/Users{q}")).send();
        assert_eq!(r.status, 200, "{q}: {}", r.text());
        r.json()
    };
    let found = list("?filter=userName%20eq%20%22BJensen%22");
    assert_eq!(
        (found["totalResults"].clone(), id(&found["Resources"][0])),
        (json!(1), uid.clone())
    );
    assert_eq!(found["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"]));
    assert_eq!(list("?filter=externalId%20eq%20%22ext-1%22")["totalResults"], 1);
    assert_eq!(
        list("?filter=externalId%20eq%20%22EXT-1%22")["totalResults"],
        0,
        "externalId is caseExact"
    );
    assert_eq!(list("?filter=displayName%20eq%20%22Babs%22")["totalResults"], 1);
    let none = list("?filter=userName%20eq%20%22nobody%22");
    assert_eq!((none["totalResults"].clone(), none["Resources"].clone()), (json!(0), json!([])));
    let page = list("?startIndex=2&count=2");
    assert_eq!(
        (page["totalResults"].clone(), page["startIndex"].clone(), page["itemsPerPage"].clone()),
        (json!(5), json!(2), json!(2))
    );
    assert_eq!(list("?count=1000")["itemsPerPage"], 5);
    assert_eq!(list("?startIndex=6")["Resources"], json!([]));
    for bad in [
        "userName%20sw%20%22b%22",
        "title%20eq%20%22x%22",
        "userName%20eq",
        "userName%20eq%20%22a%22%20and%20active%20eq%20true",
        "((((",
    ] {
        assert_scim_error(
            &scim.call(&ts, "GET", &format!("/Users?filter={bad}")).send(),
            400,
            Some("invalidFilter"),
        );
    }
    // attributes and excludedAttributes; id and schemas always come.
    let only = list("?filter=userName%20eq%20%22bjensen%22&attributes=userName,name.givenName")
        ["Resources"][0]
        .clone();
    assert_eq!(
        only,
        json!({"schemas": [SCIM_USER], "id": uid, "userName": "bjensen", "name": {"givenName": "Barbara"}})
    );
    let r =
        scim.call(&ts, "GET", &format!("/Users/{uid}?excludedAttributes=emails,meta,id")).send();
    assert!(
        r.json().get("emails").is_none()
            && r.json().get("meta").is_none()
            && r.json()["id"] == uid.as_str(),
        "{}",
        r.text()
    );
    // Applications see an ordinary user.
    application(&ts, "jira", scim.dir);
    let r = um(&ts, "jira", "GET", "/user?username=bjensen");
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(
        (
            v["first-name"].as_str(),
            v["last-name"].as_str(),
            v["display-name"].as_str(),
            v["email"].as_str(),
            v["active"].as_bool()
        ),
        (Some("Barbara"), Some("Jensen"), Some("Babs"), Some("b@example.com"), Some(true))
    );
    // The directory's detail counts them.
    let d =
        ts.get(&format!("/rest/admin/1.0/directory/detailed/{}", scim.dir)).admin().send().json();
    assert_eq!((d["type"].as_str(), d["userCount"].as_u64()), (Some("SCIM"), Some(5)));
}

#[test]
fn put_replaces_patch_changes_and_renames_follow_to_usermanagement_and_events() {
    let ts = TestServer::start();
    let scim = Scim::setup(&ts, false);
    application(&ts, "jira", scim.dir);
    let token =
        um(&ts, "jira", "GET", "/event").json()["newEventToken"].as_str().unwrap().to_string();
    let u = scim.user(&ts, "bjensen");
    let uid = id(&u);
    let path = format!("/Users/{uid}");
    // PUT: what it leaves out is cleared.
    let r = scim
        .call(&ts, "PUT", &path)
        .json(&json!({"schemas": [SCIM_USER], "userName": "bjensen", "nickName": "Babs"}))
        .send();
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json().get("emails").is_none() && r.json().get("name").is_none(), "{}", r.text());
    assert_eq!(r.header("ETag"), Some("W/\"2\""));
    // A stale If-Match changes nothing; the current one goes through.
    let stale = scim.call(&ts, "PATCH", &path).header("If-Match", "W/\"1\"")
        .json(&json!({"schemas": [SCIM_PATCH], "Operations": [{"op": "replace", "path": "active", "value": false}]})).send();
    assert_scim_error(&stale, 412, None);
    let r = scim.call(&ts, "PATCH", &path).header("If-Match", "W/\"2\"")
        .json(&json!({"schemas": [SCIM_PATCH], "Operations": [
            {"op": "Replace", "path": "userName", "value": "barbara"},
            {"op": "replace", "path": "active", "value": "False"},
            {"op": "add", "path": "emails[type eq \"work\"].value", "value": "barbara@example.com"},
            {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "R&D"},
        ]})).send();
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(
        (v["userName"].as_str(), v["active"].as_bool(), v["id"].as_str()),
        (Some("barbara"), Some(false), Some(uid.as_str()))
    );
    assert_eq!(v["emails"], json!([{"type": "work", "value": "barbara@example.com"}]));
    assert_eq!(v["schemas"][1], "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User");
    assert_eq!(um(&ts, "jira", "GET", "/user?username=bjensen").status, 404);
    let r = um(&ts, "jira", "GET", "/user?username=barbara");
    assert_eq!(
        (r.json()["active"].as_bool(), r.json()["email"].as_str()),
        (Some(false), Some("barbara@example.com"))
    );
    // Incremental sync sees the create, the rename and the updates.
    let events = um(&ts, "jira", "GET", &format!("/event/{token}")).json();
    let text = events.to_string();
    assert!(text.contains("bjensen") && text.contains("barbara"), "{text}");
}

#[test]
fn groups_carry_members_both_ways_and_rename() {
    let ts = TestServer::start();
    let scim = Scim::setup(&ts, false);
    application(&ts, "jira", scim.dir);
    let (a, b) = (id(&scim.user(&ts, "ann")), id(&scim.user(&ts, "bob")));
    let r = scim
        .call(&ts, "POST", "/Groups")
        .json(&json!({"schemas": [SCIM_GROUP], "displayName": "devs",
        "members": [{"value": a, "display": "Ann"}]}))
        .send();
    assert_eq!(r.status, 201, "{}", r.text());
    let g = r.json();
    let gid = id(&g);
    // Atlassian's answer adds type and $ref.
    assert_eq!(
        g["members"],
        json!([{"value": a, "type": "User", "$ref": format!("{}{}/Users/{a}", ts.url(), scim.base)}])
    );
    let ann = scim.call(&ts, "GET", &format!("/Users/{a}")).send().json();
    assert_eq!(
        (ann["groups"][0]["value"].as_str(), ann["groups"][0]["display"].as_str()),
        (Some(gid.as_str()), Some("devs"))
    );
    let patch = |ops: Value| {
        scim.call(&ts, "PATCH", &format!("/Groups/{gid}"))
            .json(&json!({"schemas": [SCIM_PATCH], "Operations": ops}))
            .send()
    };
    let r = patch(
        json!([{"op": "add", "path": "members", "value": [{"value": b}]}, {"op": "remove", "path": format!("members[value eq \"{a}\"]")}]),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["members"].as_array().unwrap().len(), 1);
    let names = |r: ClientResponse| {
        r.json()["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["name"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(um(&ts, "jira", "GET", "/group/user/direct?groupname=devs")), ["bob"]);
    // Rename: memberships move with it.
    let r = patch(json!([{"op": "replace", "path": "displayName", "value": "engineers"}]));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(um(&ts, "jira", "GET", "/group?groupname=devs").status, 404);
    assert_eq!(names(um(&ts, "jira", "GET", "/group/user/direct?groupname=engineers")), ["bob"]);
    // A member that is nobody, and a group in itself, are refused, and change nothing.
    let before = scim.call(&ts, "GET", &format!("/Groups/{gid}")).send().json();
    assert_scim_error(
        &patch(json!([{"op": "add", "path": "members", "value": [{"value": "nobody"}]}])),
        400,
        Some("invalidValue"),
    );
    assert_scim_error(
        &patch(json!([{"op": "add", "path": "members", "value": [{"value": gid}]}])),
        400,
        Some("invalidValue"),
    );
    assert_eq!(scim.call(&ts, "GET", &format!("/Groups/{gid}")).send().json(), before);
    // Filters on groups; a taken name is 409.
    let r = scim.call(&ts, "GET", "/Groups?filter=displayName%20eq%20%22ENGINEERS%22").send();
    assert_eq!(r.json()["totalResults"], 1);
    let dup = scim
        .call(&ts, "POST", "/Groups")
        .json(&json!({"schemas": [SCIM_GROUP], "displayName": "Engineers"}))
        .send();
    assert_scim_error(&dup, 409, Some("uniqueness"));
    assert_eq!(scim.call(&ts, "DELETE", &format!("/Groups/{gid}")).send().status, 204);
    assert_scim_error(&scim.call(&ts, "GET", &format!("/Groups/{gid}")).send(), 404, None);
    assert_eq!(um(&ts, "jira", "GET", "/group?groupname=engineers").status, 404);
}

#[test]
fn delete_deactivates_and_unlinks_and_a_new_create_links_the_user_again() {
    let ts = TestServer::start();
    let scim = Scim::setup(&ts, false);
    application(&ts, "jira", scim.dir);
    let u = scim.user(&ts, "bjensen");
    let uid = id(&u);
    let g = scim
        .call(&ts, "POST", "/Groups")
        .json(&json!({"schemas": [SCIM_GROUP], "displayName": "devs", "members": [{"value": uid}]}))
        .send();
    assert_eq!(g.status, 201);
    let stale =
        scim.call(&ts, "DELETE", &format!("/Users/{uid}")).header("If-Match", "W/\"9\"").send();
    assert_scim_error(&stale, 412, None);
    assert_eq!(scim.call(&ts, "DELETE", &format!("/Users/{uid}")).send().status, 204);
    assert_scim_error(&scim.call(&ts, "GET", &format!("/Users/{uid}")).send(), 404, None);
    assert_scim_error(&scim.call(&ts, "DELETE", &format!("/Users/{uid}")).send(), 404, None);
    assert_eq!(scim.call(&ts, "GET", "/Users").send().json()["totalResults"], 0);
    // Still there for applications, inactive, in no group.
    let r = um(&ts, "jira", "GET", "/user?username=bjensen");
    assert_eq!(r.json()["active"], false, "{}", r.text());
    assert_eq!(
        um(&ts, "jira", "GET", "/user/group/direct?username=bjensen").json()["groups"],
        json!([])
    );
    let again = scim.user(&ts, "bjensen");
    assert_ne!(id(&again), uid);
    assert_eq!(again["active"], true);
    assert_eq!(um(&ts, "jira", "GET", "/user?username=bjensen").json()["active"], true);
}

#[test]
fn bad_requests_get_scim_errors_and_change_nothing() {
    let ts = TestServer::start();
    let scim = Scim::setup(&ts, false);
    let u = scim.user(&ts, "bjensen");
    let uid = id(&u);
    let path = format!("/Users/{uid}");
    let get = || scim.call(&ts, "GET", &path).send().json();
    let before = get();
    let send = |method: &str, p: &str, body: &str| {
        scim.call(&ts, method, p)
            .header("Content-Type", "application/scim+json")
            .body(body.to_string())
            .send()
    };
    let user = |extra: Value| {
        let mut v = json!({"schemas": [SCIM_USER], "userName": "bjensen"});
        v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        v.to_string()
    };
    let cases: Vec<(&str, String, u16, Option<&str>)> = vec![
        ("PUT", "{not json".into(), 400, Some("invalidSyntax")),
        ("PUT", "[1,2]".into(), 400, Some("invalidSyntax")),
        ("PUT", json!({"userName": "x"}).to_string(), 400, Some("invalidValue")),
        ("PUT", json!({"schemas": [SCIM_USER, "urn:example:nope"], "userName": "x"}).to_string(), 400, Some("invalidValue")),
        ("PUT", user(json!({"active": 3})), 400, Some("invalidValue")),
        ("PUT", user(json!({"emails": "b@example.com"})), 400, Some("invalidValue")),
        ("PUT", user(json!({"name": ["x"]})), 400, Some("invalidValue")),
        ("PUT", user(json!({"userName": ""})), 400, Some("invalidValue")),
        ("PUT", user(json!({"userName": " padded "})), 400, Some("invalidValue")),
        ("PATCH", json!({"schemas": [SCIM_PATCH], "Operations": [{"op": "replace", "path": "groups", "value": []}]}).to_string(), 400, Some("mutability")),
        ("PATCH", json!({"schemas": [SCIM_PATCH], "Operations": [{"op": "replace", "path": "id", "value": "x"}]}).to_string(), 400, Some("mutability")),
        ("PATCH", json!({"schemas": [SCIM_PATCH], "Operations": [{"op": "replace", "path": "nosuch", "value": 1}]}).to_string(), 400, Some("invalidPath")),
        ("PATCH", json!({"schemas": [SCIM_PATCH], "Operations": [{"op": "remove", "path": "userName"}]}).to_string(), 400, Some("mutability")),
        ("PATCH", json!({"schemas": [SCIM_PATCH], "Operations": [{"op": "remove"}]}).to_string(), 400, Some("noTarget")),
        ("PATCH", json!({"Operations": []}).to_string(), 400, Some("invalidValue")),
        // The second operation fails: the first must not stay applied.
        ("PATCH", json!({"schemas": [SCIM_PATCH], "Operations": [{"op": "replace", "path": "nickName", "value": "x"}, {"op": "replace", "path": "active", "value": "maybe"}]}).to_string(), 400, Some("invalidValue")),
    ];
    for (method, body, status, scim_type) in cases {
        let r = send(method, &path, &body);
        assert_scim_error(&r, status, scim_type);
    }
    let r = scim.call(&ts, "PUT", &path).header("Content-Type", "text/plain").body("x").send();
    assert_scim_error(&r, 415, None);
    assert_eq!(get(), before, "nothing changed");
    // Unknown ids and paths; methods a path does not take; what is not supported.
    assert_scim_error(&scim.call(&ts, "GET", "/Users/nope").send(), 404, None);
    assert_scim_error(&scim.call(&ts, "GET", "/Elsewhere").send(), 404, None);
    assert_scim_error(&scim.call(&ts, "DELETE", "/ServiceProviderConfig").send(), 405, None);
    assert_scim_error(&scim.call(&ts, "POST", "/.search").json(&json!({})).send(), 501, None);
    assert_scim_error(&scim.call(&ts, "POST", "/Bulk").json(&json!({})).send(), 501, None);
    // A directory the client is not granted (the internal one): 403, before anything is read.
    assert_scim_error(&ts.get("/scim/directory/1/Users").bearer(&scim.token).send(), 403, None);
}

#[test]
fn discovery_describes_what_is_served_and_the_atlassian_extension_is_a_directory_option() {
    let ts = TestServer::start();
    let plain = Scim::setup(&ts, false);
    let atl = Scim::setup(&ts, true);
    let spc = plain.call(&ts, "GET", "/ServiceProviderConfig").send().json();
    assert_eq!(
        (
            spc["patch"]["supported"].as_bool(),
            spc["etag"]["supported"].as_bool(),
            spc["bulk"]["supported"].as_bool()
        ),
        (Some(true), Some(true), Some(false))
    );
    assert_eq!(spc["authenticationSchemes"][0]["type"], "oauthbearertoken");
    let types = plain.call(&ts, "GET", "/ResourceTypes").send().json();
    assert_eq!(types["totalResults"], 2);
    let schemas = |s: &Scim| {
        s.call(&ts, "GET", "/Schemas").send().json()["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let atlassian = "urn:scim:schemas:extension:atlassian-external:1.0";
    assert!(!schemas(&plain).iter().any(|s| s == atlassian));
    assert!(schemas(&atl).iter().any(|s| s == atlassian));
    let r = plain.call(&ts, "GET", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User").send();
    let attrs = r.json()["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_string())
        .collect::<Vec<_>>();
    for a in ["userName", "emails", "department", "organization", "password"] {
        assert!(attrs.iter().any(|x| x == a), "{a}");
    }
    let u = atl.user(&ts, "bjensen");
    assert_eq!(u["schemas"][1], atlassian);
    let account = u[atlassian]["atlassianAccountId"].as_str().unwrap();
    assert_eq!(account.len(), 24);
    // Read-only: writing it does nothing, and it stays the same through a rename.
    let r = atl.call(&ts, "PUT", &format!("/Users/{}", id(&u)))
        .json(&json!({"schemas": [SCIM_USER, atlassian], "userName": "babs", atlassian: {"atlassianAccountId": "x"}})).send();
    assert_eq!(r.json()[atlassian]["atlassianAccountId"], account, "{}", r.text());
    assert!(plain.user(&ts, "bjensen").get(atlassian).is_none());
}

#[test]
fn a_provisioned_password_signs_in_and_the_directory_is_read_only_to_others() {
    let ts = TestServer::start();
    let scim = Scim::setup(&ts, false);
    application(&ts, "jira", scim.dir);
    let r = scim
        .call(&ts, "POST", "/Users")
        .json(&json!({"schemas": [SCIM_USER], "userName": "pat", "password": "Secret-1"}))
        .send();
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(r.json().get("password").is_none(), "never returned");
    let auth = |pw: &str| {
        ts.post(&format!("{UM}/authentication?username=pat"))
            .basic("jira", APP_PW)
            .header("Accept", "application/json")
            .json(&json!({"value": pw}))
            .send()
            .status
    };
    assert_eq!(auth("Secret-1"), 200);
    assert_eq!(auth("wrong"), 400);
    let r = scim
        .call(&ts, "PATCH", &format!("/Users/{}", id(&r.json())))
        .json(
            &json!({"schemas": [SCIM_PATCH], "Operations": [{"op": "remove", "path": "password"}]}),
        )
        .send();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(auth("Secret-1"), 400);
    // An application may not change a directory SCIM provisions, whatever its mapping allows.
    let r = ts
        .post(&format!("{UM}/user"))
        .basic("jira", APP_PW)
        .header("Accept", "application/json")
        .json(&json!({"name": "mallory", "password": {"value": "x"}}))
        .send();
    assert_crowd_error(&r, 403, "APPLICATION_PERMISSION_DENIED");
    assert!(r.text().contains("SCIM"), "{}", r.text());
}

/// Found in review: each of these was a defect before its fix.
#[test]
fn review_findings_stay_fixed() {
    let ts = TestServer::start();
    let scim = Scim::setup(&ts, false);
    // A re-created userName does not inherit the unlinked user's password.
    let r = scim
        .call(&ts, "POST", "/Users")
        .json(&json!({"schemas": [SCIM_USER], "userName": "pat", "password": "Secret-1"}))
        .send();
    assert_eq!(scim.call(&ts, "DELETE", &format!("/Users/{}", id(&r.json()))).send().status, 204);
    scim.user(&ts, "pat");
    application(&ts, "jira", scim.dir);
    let login = |name: &str, pw: &str, app: &str| {
        ts.post(&format!("{UM}/authentication?username={name}"))
            .basic(app, APP_PW)
            .header("Accept", "application/json")
            .json(&json!({"value": pw}))
            .send()
            .status
    };
    assert_eq!(login("pat", "Secret-1", "jira"), 400);
    // Multi-byte characters in a PATCH path or a projection: an error, never a panic.
    let pid = id(&scim.call(&ts, "GET", "/Users?filter=userName%20eq%20%22pat%22").send().json()
        ["Resources"][0]);
    let r = scim.call(&ts, "PATCH", &format!("/Users/{pid}")).json(&json!({"schemas": [SCIM_PATCH], "Operations": [{"op": "replace", "path": "ab€", "value": "x"}]})).send();
    assert_scim_error(&r, 400, Some("invalidPath"));
    let attrs = throng::http::request::percent_encode(&format!("{}{}", "x".repeat(41), "€€"));
    assert_eq!(
        scim.call(&ts, "GET", &format!("/Users/{pid}?attributes={attrs}")).send().status,
        200
    );
    // A group of more than 1,000 members.
    let ids: Vec<Value> =
        (0..1001).map(|i| json!({"value": id(&scim.user(&ts, &format!("m{i}")))})).collect();
    let r = scim
        .call(&ts, "POST", "/Groups")
        .json(&json!({"schemas": [SCIM_GROUP], "displayName": "everyone", "members": ids}))
        .send();
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["members"].as_array().unwrap().len(), 1001);
    // A renamed group keeps the application access it gave: the mapping follows the name.
    let body = json!({"name": "confluence", "type": "CONFLUENCE", "active": true, "password": {"value": APP_PW},
        "directory-mappings": [{"directory-id": scim.dir, "allowed-groups": ["everyone"]}],
        "remote-addresses": [{"value": "127.0.0.1"}]});
    let app = ts.post("/rest/appmanagement/1/application").admin().json(&body).send();
    assert_eq!(app.status, 201, "{}", app.text());
    let m7 = scim.call(&ts, "GET", "/Users?filter=userName%20eq%20%22m7%22").send().json()
        ["Resources"][0]
        .clone();
    let r = scim.call(&ts, "PATCH", &format!("/Users/{}", id(&m7))).json(&json!({"schemas": [SCIM_PATCH], "Operations": [{"op": "add", "path": "password", "value": "m7-pw"}]})).send();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(login("m7", "m7-pw", "confluence"), 200);
    let gid = id(&scim
        .call(&ts, "GET", "/Groups?filter=displayName%20eq%20%22everyone%22")
        .send()
        .json()["Resources"][0]);
    // Okta renames with the id beside the new name.
    let r = scim.call(&ts, "PATCH", &format!("/Groups/{gid}")).json(&json!({"schemas": [SCIM_PATCH], "Operations": [{"op": "replace", "value": {"id": gid, "displayName": "all-staff"}}]})).send();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(login("m7", "m7-pw", "confluence"), 200, "the mapping follows the rename");
    let mapped = ts
        .get(&format!("/rest/appmanagement/1/application/{}", app.json()["id"]))
        .admin()
        .send()
        .json();
    assert_eq!(mapped["directory-mappings"][0]["allowed-groups"], json!(["all-staff"]));
}
