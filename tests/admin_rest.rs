//! Crowd's admin REST API (`/rest/admin/1.0`) over real HTTP: user search, group queries and
//! search, group members and child groups, membership batches with their per-item failures,
//! detailed directories; each by an administrator's Basic credentials and by a service
//! account's bearer token. Entity ids round-trip names with spaces, `+` and non-ASCII
//! letters; pages end where they should; refused requests change nothing and leave no audit
//! record.

mod common;
use common::*;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use throng::bench::client::ClientResponse;
use throng::store::records::{GroupRecord, UserRecord};
use throng::store::Store;

const BASE: &str = "/rest/admin/1.0";

/// How a test calls: as the admin by Basic, or with a service account's token.
#[derive(Clone)]
enum Caller {
    Admin,
    Bearer(String),
}

/// Both kinds of caller, the token from a fresh service account.
fn callers(ts: &TestServer) -> [Caller; 2] {
    let account = ts.create_account("admin api");
    [Caller::Admin, Caller::Bearer(ts.token(&account.client_id, &account.secret))]
}

fn call(ts: &TestServer, who: &Caller, method: &str, path: &str) -> Call {
    let c = ts.req(method, &format!("{BASE}{path}"));
    match who {
        Caller::Admin => c.admin(),
        Caller::Bearer(token) => c.bearer(token),
    }
}

/// Sends and expects 200; the JSON body.
fn ok(c: Call) -> Value {
    let r = c.send();
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

/// `DirectoryEntityId`: directory id, `-`, the name in unpadded base64url.
fn id(dir: u64, name: &str) -> String {
    format!("{dir}-{}", URL_SAFE_NO_PAD.encode(name))
}

fn store(ts: &TestServer) -> &Store {
    ts.running().store().unwrap()
}

fn user(ts: &TestServer, dir: u64, name: &str, active: bool) {
    let u = UserRecord {
        directory_id: dir,
        name: name.into(),
        display_name: format!("{name} Person"),
        email: format!("{}@d{dir}.example", name.replace(' ', ".")),
        active,
        ..Default::default()
    };
    store(ts).create_user(&u).unwrap();
}

fn group(ts: &TestServer, dir: u64, name: &str, description: &str) {
    let g = GroupRecord {
        directory_id: dir,
        name: name.into(),
        description: description.into(),
        kind: "GROUP".into(),
        active: true,
        ..Default::default()
    };
    store(ts).create_group(&g).unwrap();
}

/// A server with a second directory and, beside `admin` and `crowd-administrators`:
/// directory 1: users alice, bob, `carol smith`, `dan+ops`, zoë, eve (inactive); groups devs,
/// `ops team`, `naïve+group`. Directory 2: user bob; group devs.
fn setup() -> TestServer {
    let ts = TestServer::start();
    store(&ts).create_directory("Second", "INTERNAL", "the other one", 1).unwrap();
    for name in ["alice", "bob", "carol smith", "dan+ops", "zoë"] {
        user(&ts, 1, name, true);
    }
    user(&ts, 1, "eve", false);
    user(&ts, 2, "bob", true);
    group(&ts, 1, "devs", "Developers");
    group(&ts, 1, "ops team", "Operations");
    group(&ts, 1, "naïve+group", "");
    group(&ts, 2, "devs", "Developers elsewhere");
    ts
}

/// `username@directory` of each value of a page of `UserData`.
fn users_of(page: &Value) -> Vec<String> {
    let values = page["values"].as_array().unwrap();
    values
        .iter()
        .map(|u| format!("{}@{}", u["username"].as_str().unwrap(), u["directory"]["id"]))
        .collect()
}

/// `displayName@directory` of each value of a page of `GroupData`.
fn groups_of(page: &Value) -> Vec<String> {
    let values = page["values"].as_array().unwrap();
    values
        .iter()
        .map(|g| format!("{}@{}", g["displayName"].as_str().unwrap(), g["directory"]["id"]))
        .collect()
}

/// A page's `start`, `limit`, `size` and `isLastPage`.
fn shape(page: &Value) -> (u64, u64, u64, bool) {
    let n = |k: &str| page[k].as_u64().unwrap();
    (n("start"), n("limit"), n("size"), page["isLastPage"].as_bool().unwrap())
}

fn ids(names: &[(u64, &str)]) -> Value {
    json!({ "ids": names.iter().map(|(d, n)| id(*d, n)).collect::<Vec<_>>() })
}

#[test]
fn user_search_finds_text_in_name_email_or_display_name_per_directory() {
    let ts = setup();
    for who in callers(&ts) {
        let search = |body: Value| ok(call(&ts, &who, "POST", "/users/search").json(&body));
        let page = search(json!({"search": "BOB"}));
        assert_eq!(users_of(&page), ["bob@1", "bob@2"]);
        assert_eq!(shape(&page), (0, 50, 2, true));
        assert_eq!(
            page["values"][1],
            json!({"id": id(2, "bob"), "username": "bob", "displayName": "bob Person",
                   "email": "bob@d2.example", "active": true,
                   "directory": {"id": 2, "displayName": "Second", "directoryType": "INTERNAL"}})
        );
        let page = search(json!({"search": "bob", "directoryIds": [2], "avatarSizeHint": 48}));
        assert_eq!(users_of(&page), ["bob@2"]);
        assert_eq!(users_of(&search(json!({"search": "d2.EXAMPLE"}))), ["bob@2"], "by email");
        assert_eq!(users_of(&search(json!({"search": "h pers"}))), ["carol smith@1"], "display");
        assert_eq!(users_of(&search(json!({"active": false}))), ["eve@1"]);
        let active_in_one = search(json!({"search": null, "directoryIds": [1], "active": true}));
        assert_eq!(
            users_of(&active_in_one),
            ["admin@1", "alice@1", "bob@1", "carol smith@1", "dan+ops@1", "zoë@1"]
        );
        assert!(search(json!({"directoryIds": [99]}))["values"].as_array().unwrap().is_empty());
        // No body at all searches everything; so does an empty directory list.
        let all = ok(call(&ts, &who, "POST", "/users/search"));
        assert_eq!(all["size"], 8);
        assert_eq!(search(json!({"directoryIds": []}))["size"], 8);
    }
}

#[test]
fn pages_end_where_they_should() {
    let ts = setup();
    let page =
        |query: &str| ok(ts.post(&format!("{BASE}/users/search?{query}")).admin().json(&json!({})));
    // 8 users: admin, alice, bob, bob, carol smith, dan+ops, eve, zoë.
    let first = page("limit=1");
    assert_eq!((users_of(&first), shape(&first)), (vec!["admin@1".into()], (0, 1, 1, false)));
    let second = page("start=1&limit=1");
    assert_eq!(users_of(&second), ["alice@1"]);
    let exact = page("start=5&limit=3");
    assert_eq!(users_of(&exact), ["dan+ops@1", "eve@1", "zoë@1"]);
    assert_eq!(shape(&exact), (5, 3, 3, true), "a full last page is the last");
    assert_eq!(shape(&page("start=4&limit=3")), (4, 3, 3, false));
    assert_eq!(shape(&page("start=8")), (8, 50, 0, true), "just past the end");
    assert_eq!(shape(&page("start=1000")), (1000, 50, 0, true));
    assert_eq!(shape(&page("limit=100000")).1, 1000, "limit is capped");
    for bad in ["start=-1", "limit=0", "limit=x"] {
        let r = ts.post(&format!("{BASE}/users/search?{bad}")).admin().json(&json!({})).send();
        assert_crowd_error(&r, 400, "ILLEGAL_ARGUMENT");
    }
    // Members and child groups page alike.
    for name in ["alice", "bob", "carol smith"] {
        store(&ts).add_user_to_group(1, name, "devs", 1).unwrap();
    }
    let members =
        |q: &str| ok(ts.get(&format!("{BASE}/groups/{}/users?{q}", id(1, "devs"))).admin());
    assert_eq!(shape(&members("limit=2")), (0, 2, 2, false));
    let last = members("start=2&limit=2");
    assert_eq!((users_of(&last), shape(&last)), (vec!["carol smith@1".into()], (2, 2, 1, true)));
    assert_eq!(shape(&members("start=3")), (3, 50, 0, true));
}

#[test]
fn ids_round_trip_names_with_spaces_plus_and_unicode() {
    let ts = setup();
    for name in ["ops team", "naïve+group"] {
        let g = ok(ts.get(&format!("{BASE}/groups/{}", id(1, name))).admin());
        assert_eq!(
            (g["id"].as_str().unwrap(), g["displayName"].as_str().unwrap()),
            (&*id(1, name), name)
        );
    }
    // Padding is optional, as for Java's URL decoder, and names match in any case.
    assert_eq!(id(1, "ops team"), "1-b3BzIHRlYW0");
    let padded = ok(ts.get(&format!("{BASE}/groups/1-b3BzIHRlYW0=")).admin());
    assert_eq!(padded["id"], "1-b3BzIHRlYW0", "answered with Crowd's unpadded id");
    let any_case = ok(ts.get(&format!("{BASE}/groups/{}", id(1, "OPS TEAM"))).admin());
    assert_eq!(any_case["displayName"], "ops team");
    // User ids from a search lead back to the same users.
    let found =
        ok(ts.post(&format!("{BASE}/users/search")).admin().json(&json!({"directoryIds": [1]})));
    for u in found["values"].as_array().unwrap() {
        let name = u["username"].as_str().unwrap();
        assert_eq!(u["id"], id(1, name), "{name}");
    }
    let names: Vec<_> = ["carol smith", "dan+ops", "zoë"].iter().map(|n| (1, *n)).collect();
    let r = ok(ts
        .post(&format!("{BASE}/groups/{}/users", id(1, "naïve+group")))
        .admin()
        .json(&ids(&names)));
    assert_eq!(r["successes"], json!(names.iter().map(|(d, n)| id(*d, n)).collect::<Vec<_>>()));
    let members = ok(ts.get(&format!("{BASE}/groups/{}/users", id(1, "naïve+group"))).admin());
    assert_eq!(users_of(&members), ["carol smith@1", "dan+ops@1", "zoë@1"]);
    assert_eq!(members["values"][2]["id"], id(1, "zoë"));
}

#[test]
fn unknown_and_malformed_ids_are_not_found() {
    let ts = setup();
    for who in callers(&ts) {
        let get = |path: &str| call(&ts, &who, "GET", path).send();
        for bad in
            [id(1, "nobody"), id(3, "devs"), "devs".into(), "x-ZGV2cw".into(), "1-%21%21".into()]
        {
            assert_crowd_error(&get(&format!("/groups/{bad}")), 404, "GROUP_NOT_FOUND");
            assert_crowd_error(&get(&format!("/groups/{bad}/users")), 404, "GROUP_NOT_FOUND");
            assert_crowd_error(&get(&format!("/group/{bad}/groups")), 404, "GROUP_NOT_FOUND");
            let r = call(&ts, &who, "POST", &format!("/users/{bad}/groups"))
                .json(&ids(&[(1, "devs")]))
                .send();
            assert_crowd_error(&r, 404, "USER_NOT_FOUND");
            let r = call(&ts, &who, "DELETE", &format!("/groups/{bad}/users"))
                .json(&ids(&[(1, "alice")]))
                .send();
            assert_crowd_error(&r, 404, "GROUP_NOT_FOUND");
        }
        for dir in ["3", "one", "-1"] {
            assert_crowd_error(&get(&format!("/group/search/{dir}")), 404, "DIRECTORY_NOT_FOUND");
            assert_crowd_error(
                &get(&format!("/directory/detailed/{dir}")),
                404,
                "DIRECTORY_NOT_FOUND",
            );
        }
    }
}

#[test]
fn groups_are_queried_read_and_searched_by_directory() {
    let ts = setup();
    for who in callers(&ts) {
        let query = |body: Value| ok(call(&ts, &who, "POST", "/groups/query").json(&body));
        assert_eq!(groups_of(&query(json!({"search": "DEV"}))), ["devs@1", "devs@2"]);
        assert_eq!(groups_of(&query(json!({"search": "dev", "directoryId": 2}))), ["devs@2"]);
        let all = ok(call(&ts, &who, "POST", "/groups/query?limit=2"));
        assert_eq!(groups_of(&all), ["crowd-administrators@1", "devs@1"]);
        assert_eq!(shape(&all), (0, 2, 2, false));
        let g = ok(call(&ts, &who, "GET", &format!("/groups/{}", id(2, "devs"))));
        assert_eq!(
            g,
            json!({"id": id(2, "devs"), "displayName": "devs", "description": "Developers elsewhere",
                   "directory": {"id": 2, "displayName": "Second", "directoryType": "INTERNAL"}})
        );
        let found = ok(call(&ts, &who, "GET", "/group/search/1?term=OPS"));
        assert_eq!(
            found["values"],
            json!([{"id": id(1, "ops team"), "active": true, "name": "ops team", "description": "Operations"}])
        );
        let everything = ok(call(&ts, &who, "GET", "/group/search/1?start=1&limit=2"));
        let names: Vec<_> =
            everything["values"].as_array().unwrap().iter().map(|g| g["name"].clone()).collect();
        assert_eq!(names, [json!("devs"), json!("naïve+group")]);
        assert_eq!(shape(&everything), (1, 2, 2, false));
        let inactive = ok(call(&ts, &who, "GET", "/group/search/1?active=false"));
        assert_eq!(shape(&inactive), (0, 50, 0, true));
        let r = call(&ts, &who, "GET", "/group/search/1?active=maybe").send();
        assert_crowd_error(&r, 400, "ILLEGAL_ARGUMENT");
    }
}

#[test]
fn membership_batches_report_each_item_and_keep_going() {
    let ts = setup();
    for (round, who) in callers(&ts).iter().enumerate() {
        let alice = id(1, "alice");
        let body = ids(&[(1, "devs"), (1, "ops team"), (1, "no such group"), (2, "devs")]);
        let r = ok(call(&ts, who, "POST", &format!("/users/{alice}/groups")).json(&body));
        assert_eq!(
            r,
            json!({"successes": [id(1, "devs"), id(1, "ops team")],
                   "failures": [{"entity": id(1, "no such group"), "reason": "GROUP_NOT_FOUND"},
                                {"entity": id(2, "devs"), "reason": "INVALID_MEMBERSHIP"}]}),
            "round {round}"
        );
        assert_eq!(store(&ts).direct_groups_of_user(1, "alice").unwrap(), ["devs", "ops team"]);
        assert!(store(&ts).direct_users_of_group(2, "devs").unwrap().is_empty());
        let again =
            ok(call(&ts, who, "POST", &format!("/users/{alice}/groups"))
                .json(&ids(&[(1, "DEVS")])));
        assert_eq!(
            again["failures"],
            json!([{"entity": id(1, "DEVS"), "reason": "MEMBERSHIP_ALREADY_EXISTS"}])
        );

        let devs = id(1, "devs");
        let body = ids(&[(1, "bob"), (1, "nobody"), (2, "bob"), (1, "eve")]);
        let r = ok(call(&ts, who, "POST", &format!("/groups/{devs}/users")).json(&body));
        assert_eq!(r["successes"], json!([id(1, "bob"), id(1, "eve")]));
        let reasons: Vec<_> =
            r["failures"].as_array().unwrap().iter().map(|f| f["reason"].clone()).collect();
        assert_eq!(reasons, [json!("USER_NOT_FOUND"), json!("INVALID_MEMBERSHIP")]);
        let members = ok(call(&ts, who, "GET", &format!("/groups/{devs}/users")));
        assert_eq!(users_of(&members), ["alice@1", "bob@1", "eve@1"]);
        assert_eq!(members["values"][2]["active"], false, "inactive members are listed too");

        let body = ids(&[(1, "bob"), (1, "bob"), (1, "carol smith")]);
        let r = ok(call(&ts, who, "DELETE", &format!("/groups/{devs}/users")).json(&body));
        assert_eq!(r["successes"], json!([id(1, "bob")]));
        let reasons: Vec<_> =
            r["failures"].as_array().unwrap().iter().map(|f| f["reason"].clone()).collect();
        assert_eq!(reasons, [json!("MEMBERSHIP_NOT_FOUND"), json!("MEMBERSHIP_NOT_FOUND")]);
        let body = ids(&[(1, "devs"), (1, "ops team"), (1, "naïve+group")]);
        let r = ok(call(&ts, who, "DELETE", &format!("/users/{alice}/groups")).json(&body));
        assert_eq!(r["successes"].as_array().unwrap().len(), 2);
        assert_eq!(r["failures"][0]["reason"], "MEMBERSHIP_NOT_FOUND");
        ok(call(&ts, who, "DELETE", &format!("/groups/{devs}/users")).json(&ids(&[(1, "eve")])));
        assert!(store(&ts).direct_users_of_group(1, "devs").unwrap().is_empty());
        // An empty batch is an empty answer.
        let none =
            ok(call(&ts, who, "POST", &format!("/groups/{devs}/users")).json(&json!({"ids": []})));
        assert_eq!(none, json!({"successes": [], "failures": []}));
    }
}

#[test]
fn child_groups_are_nested_without_cycles() {
    let ts = setup();
    for who in callers(&ts) {
        let devs = id(1, "devs");
        let body = ids(&[(1, "ops team"), (1, "naïve+group"), (1, "devs"), (2, "devs")]);
        let r = ok(call(&ts, &who, "POST", &format!("/group/{devs}/groups")).json(&body));
        assert_eq!(r["successes"], json!([id(1, "ops team"), id(1, "naïve+group")]));
        let reasons: Vec<_> =
            r["failures"].as_array().unwrap().iter().map(|f| f["reason"].clone()).collect();
        assert_eq!(
            reasons,
            [json!("INVALID_MEMBERSHIP"), json!("INVALID_MEMBERSHIP")],
            "itself; elsewhere"
        );
        let children = ok(call(&ts, &who, "GET", &format!("/group/{devs}/groups")));
        assert_eq!(groups_of(&children), ["naïve+group@1", "ops team@1"]);
        assert_eq!(children["values"][0]["description"], "");
        let limited = ok(call(&ts, &who, "GET", &format!("/group/{devs}/groups?limit=1")));
        assert_eq!(shape(&limited), (0, 1, 1, false));
        // devs holds ops team, so ops team cannot hold devs.
        let ops = id(1, "ops team");
        let r =
            ok(call(&ts, &who, "POST", &format!("/group/{ops}/groups")).json(&ids(&[(1, "devs")])));
        assert_eq!(r["failures"][0]["reason"], "INVALID_MEMBERSHIP");
        let again = ok(call(&ts, &who, "POST", &format!("/group/{devs}/groups"))
            .json(&ids(&[(1, "ops team")])));
        assert_eq!(again["failures"][0]["reason"], "MEMBERSHIP_ALREADY_EXISTS");
        for child in ["ops team", "naïve+group"] {
            store(&ts).remove_group_from_group(1, child, "devs", 1).unwrap();
        }
    }
}

#[test]
fn batches_are_audited_once_with_their_counts_and_caller() {
    let ts = setup();
    let [admin, bearer] = callers(&ts);
    let alice = id(1, "alice");
    ok(call(&ts, &admin, "POST", &format!("/users/{alice}/groups"))
        .json(&ids(&[(1, "devs"), (1, "nope")])));
    ok(call(&ts, &bearer, "DELETE", &format!("/users/{alice}/groups")).json(&ids(&[(1, "devs")])));
    ok(call(&ts, &bearer, "POST", &format!("/group/{}/groups", id(1, "devs")))
        .json(&ids(&[(1, "ops team")])));
    ts.flush();
    let events = ok(ts.get("/rest/audit/1.0/events?limit=1000").admin());
    let ours: Vec<_> = events["values"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("MEMBERSHIPS_"))
        .map(|e| {
            (e["action"].clone(), e["actor"].clone(), e["target"].clone(), e["details"].clone())
        })
        .collect();
    let Caller::Bearer(token) = &bearer else { unreachable!() };
    let intro =
        ts.post("/rest/oauth2/latest/introspect").admin().form(&format!("token={token}")).send();
    let client_id = intro.json()["client_id"].clone();
    assert_eq!(
        ours,
        [
            (
                json!("MEMBERSHIPS_ADDED"),
                client_id.clone(),
                json!("devs"),
                json!("group of directory 1; child groups: 1 succeeded, 0 failed")
            ),
            (
                json!("MEMBERSHIPS_REMOVED"),
                client_id,
                json!("alice"),
                json!("user of directory 1; groups: 1 succeeded, 0 failed")
            ),
            (
                json!("MEMBERSHIPS_ADDED"),
                json!("admin"),
                json!("alice"),
                json!("user of directory 1; groups: 1 succeeded, 1 failed")
            ),
        ]
    );
}

#[test]
fn directories_are_listed_with_their_counts() {
    let ts = setup();
    for who in callers(&ts) {
        let list = ok(call(&ts, &who, "GET", "/directory/detailed"));
        assert_eq!(shape(&list), (0, 50, 2, true));
        let internal = &list["values"][0];
        assert_eq!(
            (
                internal["id"].clone(),
                internal["name"].clone(),
                internal["type"].clone(),
                internal["active"].clone()
            ),
            (json!(1), json!("Internal Directory"), json!("INTERNAL"), json!(true))
        );
        // admin, alice, bob, carol smith, dan+ops, zoë, eve; crowd-administrators and three.
        assert_eq!(
            (internal["userCount"].clone(), internal["groupCount"].clone()),
            (json!(7), json!(4))
        );
        let created = internal["createdDate"].as_str().unwrap();
        assert_eq!(created.len(), "2024-01-02T03:04:05.000+0000".len(), "{created}");
        assert!(created.ends_with("+0000") && created.as_bytes()[10] == b'T', "{created}");
        let second = ok(call(&ts, &who, "GET", "/directory/detailed/2"));
        assert_eq!(
            second,
            json!({"id": 2, "name": "Second", "description": "the other one", "type": "INTERNAL",
                   "active": true, "createdDate": "1970-01-01T00:00:00.001+0000",
                   "userCount": 1, "groupCount": 1})
        );
        let searched = ok(call(&ts, &who, "GET", "/directory/detailed?search=SEC&active=true"));
        assert_eq!(searched["values"], json!([second]));
        let paged = ok(call(&ts, &who, "GET", "/directory/detailed?start=1&limit=1"));
        assert_eq!((paged["values"][0]["id"].clone(), shape(&paged)), (json!(2), (1, 1, 1, true)));
        assert_eq!(shape(&ok(call(&ts, &who, "GET", "/directory/detailed?active=false"))).2, 0);
    }
}

/// What the refusals must leave as it was: the memberships they asked for.
fn snapshot(ts: &TestServer) -> [Vec<String>; 3] {
    let s = store(ts);
    [
        s.direct_groups_of_user(1, "alice").unwrap(),
        s.direct_users_of_group(1, "devs").unwrap(),
        s.direct_child_groups(1, "devs").unwrap(),
    ]
}

#[test]
fn refused_requests_change_nothing() {
    let ts = setup();
    add_user(&ts, "mallory", "mallory-password");
    let account = ts.create_account("to be archived");
    let token = ts.token(&account.client_id, &account.secret);
    let before = snapshot(&ts);
    let path = format!("{BASE}/users/{}/groups", id(1, "alice"));
    let body = ids(&[(1, "devs")]);
    let refusals: Vec<(ClientResponse, u16, &str)> = vec![
        (ts.post(&path).json(&body).send(), 401, "PERMISSION_DENIED"),
        (
            ts.post(&path).basic("mallory", "mallory-password").json(&body).send(),
            403,
            "PERMISSION_DENIED",
        ),
        (ts.post(&path).basic("admin", "wrong").json(&body).send(), 401, "PERMISSION_DENIED"),
        (ts.post(&path).bearer("not-a-token").json(&body).send(), 401, "PERMISSION_DENIED"),
        (
            ts.post(&path).header("Authorization", "Bearer").json(&body).send(),
            401,
            "PERMISSION_DENIED",
        ),
        (
            ts.post(&path)
                .admin()
                .header("Content-Type", "application/json")
                .body("{\"ids\":[")
                .send(),
            400,
            "ILLEGAL_ARGUMENT",
        ),
        (
            ts.post(&path).admin().json(&json!({"ids": [id(1, "devs"), "not-an-id"]})).send(),
            400,
            "ILLEGAL_ARGUMENT",
        ),
        (
            ts.post(&path).admin().json(&json!({"ids": [id(1, "devs"), 7]})).send(),
            400,
            "ILLEGAL_ARGUMENT",
        ),
        (
            ts.post(&path).admin().json(&json!({"groups": [id(1, "devs")]})).send(),
            400,
            "ILLEGAL_ARGUMENT",
        ),
        (ts.post(&path).admin().json(&json!([id(1, "devs")])).send(), 400, "ILLEGAL_ARGUMENT"),
        (
            ts.post(&path).admin().body(serde_json::to_vec(&body).unwrap()).send(),
            415,
            "ILLEGAL_ARGUMENT",
        ),
        (
            ts.post(&format!("{BASE}/users/{}/groups", id(1, "ghost"))).admin().json(&body).send(),
            404,
            "USER_NOT_FOUND",
        ),
        (
            ts.post(&format!("{BASE}/group/{}/groups", id(1, "ghosts"))).admin().json(&body).send(),
            404,
            "GROUP_NOT_FOUND",
        ),
        (ts.put(&path).admin().json(&body).send(), 405, "UNSUPPORTED_OPERATION"),
        (
            ts.post(&format!("{BASE}/users/{}", id(1, "alice"))).admin().json(&body).send(),
            404,
            "NOT_FOUND",
        ),
    ];
    for (i, (r, status, reason)) in refusals.iter().enumerate() {
        assert_eq!(r.status, *status, "refusal {i}: {}", r.text());
        assert_crowd_error(r, *status, reason);
    }
    assert_eq!(refusals[0].0.header("WWW-Authenticate"), Some("Basic realm=\"Crowd\""));
    assert!(refusals[3].0.header("WWW-Authenticate").unwrap().starts_with("Bearer"));
    assert_eq!(refusals[13].0.header("Allow"), Some("POST, DELETE"));
    let oversized = json!({"ids": vec![id(1, "devs"); 1001]});
    assert_crowd_error(&ts.post(&path).admin().json(&oversized).send(), 400, "ILLEGAL_ARGUMENT");
    // An archived account's token stops at once.
    assert_eq!(ok(ts.post(&format!("{BASE}/users/search")).bearer(&token))["size"], 9);
    ts.delete(&format!("{SA_PATH}/{}", account.id)).admin().send();
    assert_eq!(ts.post(&path).bearer(&token).json(&body).send().status, 401);
    assert_eq!(snapshot(&ts), before);
    // The failed logins and the archive are audited; no membership batch is.
    ts.flush();
    let events = ok(ts.get("/rest/audit/1.0/events?limit=1000").admin());
    assert!(!events.to_string().contains("MEMBERSHIPS_"), "{events}");
}

#[test]
fn routes_answer_wrong_methods_unknown_paths_and_aliases() {
    let ts = setup();
    let allow = |method: &str, path: &str| {
        let r = ts.req(method, &format!("{BASE}{path}")).admin().json(&json!({})).send();
        assert_crowd_error(&r, 405, "UNSUPPORTED_OPERATION");
        r.header("Allow").unwrap().to_string()
    };
    let devs = id(1, "devs");
    assert_eq!(allow("GET", "/users/search"), "POST");
    assert_eq!(allow("GET", "/groups/query"), "POST");
    assert_eq!(allow("DELETE", &format!("/groups/{devs}")), "GET");
    assert_eq!(allow("PUT", &format!("/groups/{devs}/users")), "GET, POST, DELETE");
    assert_eq!(allow("DELETE", &format!("/group/{devs}/groups")), "GET, POST");
    assert_eq!(allow("POST", "/group/search/1"), "GET");
    assert_eq!(allow("PUT", "/directory/detailed"), "GET, POST");
    assert_eq!(allow("DELETE", "/directory/detailed/1"), "GET, PUT");
    for path in ["", "/users", "/users/x/y/z", "/group", "/directory", "/directory/managed"] {
        assert_crowd_error(&ts.get(&format!("{BASE}{path}")).admin().send(), 404, "NOT_FOUND");
    }
    // Crowd's context path, `latest`, and a trailing slash reach the same resources.
    for prefix in ["/crowd/rest/admin/1.0", "/rest/admin/latest"] {
        let g = ok(ts.get(&format!("{prefix}/groups/{devs}/")).admin());
        assert_eq!(g["id"], devs);
    }
    // Bad credentials are refused before routing, on paths that do not exist too.
    assert_eq!(ts.get(&format!("{BASE}/nowhere")).send().status, 401);
}
