//! `/rest/usermanagement/1` as applications call it: JSON as python-crowd and the npm client
//! send it, XML as Atlassian's Java client (Jira's Crowd directory) sends it, and the errors
//! Crowd answers for bad input. Each test makes its own server and application.

mod common;
use common::*;
use serde_json::{json, Value};
use throng::bench::client::ClientResponse;

const UM: &str = "/rest/usermanagement/1";
const APP: &str = "jira";
const APP_PW: &str = "app-secret";
const ALL_OPS: [&str; 8] = [
    "CREATE_USER",
    "CREATE_GROUP",
    "UPDATE_USER",
    "UPDATE_GROUP",
    "DELETE_USER",
    "DELETE_GROUP",
    "UPDATE_USER_ATTRIBUTE",
    "UPDATE_GROUP_ATTRIBUTE",
];

/// Creates an application mapped to the internal directory with `ops` allowed.
fn app_with(ts: &TestServer, name: &str, ops: &[&str], authenticate_all: bool, groups: &[&str]) {
    let body = json!({
        "name": name, "type": "JIRA", "description": "test", "active": true,
        "password": {"value": APP_PW},
        "directory-mappings": [{"directory-id": 1, "authenticate-all": authenticate_all,
                                "allowed-groups": groups, "allowed-operations": ops}],
        "remote-addresses": [{"value": "127.0.0.1"}],
    });
    let r = ts.post("/rest/appmanagement/1/application").admin().json(&body).send();
    assert_eq!(r.status, 201, "{}", r.text());
}

fn app(ts: &TestServer) {
    app_with(ts, APP, &ALL_OPS, true, &[]);
}

/// A JSON call as the application.
fn um(ts: &TestServer, method: &str, path: &str) -> Call {
    ts.req(method, &format!("{UM}{path}")).basic(APP, APP_PW).header("Accept", "application/json")
}

/// An XML call exactly as Atlassian's RestCrowdClient makes it (RestExecutor.configureHeaders).
fn um_xml(ts: &TestServer, method: &str, path: &str, body: &str) -> ClientResponse {
    let mut call = ts
        .req(method, &format!("{UM}{path}"))
        .basic(APP, APP_PW)
        .header("Accept", "application/xml")
        .header("X-Atlassian-Token", "no-check");
    if !body.is_empty() {
        call = call.header("Content-Type", "application/xml; charset=UTF-8").body(body);
    }
    call.send()
}

fn create_user(ts: &TestServer, name: &str, password: &str) -> ClientResponse {
    um(ts, "POST", "/user")
        .json(&json!({"name": name, "first-name": "F", "last-name": "L", "display-name": format!("{name} L"),
                      "email": email_of(name), "password": {"value": password}, "active": true}))
        .send()
}

/// An address for a test user, valid whatever characters the name has.
fn email_of(name: &str) -> String {
    let local: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    format!("{local}@example.com")
}

fn create_group(ts: &TestServer, name: &str) {
    let r = um(ts, "POST", "/group")
        .json(&json!({"name": name, "description": "", "type": "GROUP", "active": true}))
        .send();
    assert_eq!(r.status, 201, "{}", r.text());
}

fn names(v: &Value, list: &str) -> Vec<String> {
    let mut n: Vec<String> = v[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap().to_string())
        .collect();
    n.sort();
    n
}

#[test]
fn users_are_created_read_updated_renamed_and_deleted() {
    let ts = TestServer::start();
    app(&ts);
    let r = create_user(&ts, "Carol", "carol-pw");
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.header("Content-Type"), Some("application/json;charset=UTF-8"));
    assert!(r.header("Location").unwrap().ends_with("/rest/usermanagement/1/user?username=Carol"));
    let created = r.json();
    assert_eq!(created["name"], "Carol");
    assert_eq!(created["key"], "1:carol");
    assert!(created["created-date"].as_u64().unwrap() > 1_600_000_000_000, "epoch millis");
    assert_eq!(created["password"]["link"]["rel"], "edit");
    assert!(created.get("attributes").is_none());

    // Case-insensitive and case-preserving.
    let r = um(&ts, "GET", "/user?username=CAROL&expand=attributes").send();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["name"], "Carol");
    assert_eq!(r.json()["attributes"]["attributes"], json!([]));
    assert_crowd_error(&create_user(&ts, "carol", "x"), 400, "INVALID_USER");

    // PUT back what GET gave, as python-crowd's set_active does, with one field changed.
    let mut user = r.json();
    user["active"] = json!(false);
    user["email"] = json!("c@example.org");
    let r = um(&ts, "PUT", "/user?username=carol").json(&user).send();
    assert_eq!(r.status, 204, "{}", r.text());
    let got = um(&ts, "GET", "/user?username=carol").send().json();
    assert_eq!(
        (got["active"].clone(), got["email"].clone()),
        (json!(false), json!("c@example.org"))
    );
    let r = um(&ts, "PUT", "/user?username=carol").json(&json!({"name": "dave"})).send();
    assert_crowd_error(&r, 400, "ILLEGAL_ARGUMENT");

    // Rename keeps the key; the old name is gone.
    let r = um(&ts, "POST", "/user/rename?username=carol")
        .json(&json!({"new-name": "Caroline"}))
        .send();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        (r.json()["name"].clone(), r.json()["key"].clone()),
        (json!("Caroline"), json!("1:carol"))
    );
    assert_crowd_error(&um(&ts, "GET", "/user?username=carol").send(), 404, "USER_NOT_FOUND");
    let by_key = um(&ts, "GET", "/user?key=1:carol").send();
    assert_eq!(by_key.json()["name"], "Caroline");

    assert_eq!(um(&ts, "DELETE", "/user?username=caroline").send().status, 204);
    assert_crowd_error(&um(&ts, "DELETE", "/user?username=caroline").send(), 404, "USER_NOT_FOUND");
}

#[test]
fn passwords_attributes_and_authentication() {
    let ts = TestServer::start();
    app(&ts);
    create_user(&ts, "erin", "first");
    let auth = |pw: &str| {
        um(&ts, "POST", "/authentication?username=erin").json(&json!({"value": pw})).send()
    };
    assert_eq!(auth("first").status, 200);
    assert_crowd_error(&auth("wrong"), 400, "INVALID_USER_AUTHENTICATION");
    let r = um(&ts, "POST", "/authentication?username=nobody").json(&json!({"value": "x"})).send();
    assert_crowd_error(&r, 400, "USER_NOT_FOUND");

    let r = um(&ts, "PUT", "/user/password?username=erin").json(&json!({"value": "second"})).send();
    assert_eq!(r.status, 204);
    assert_crowd_error(&auth("first"), 400, "INVALID_USER_AUTHENTICATION");
    assert_eq!(auth("second").status, 200);
    assert_eq!(um(&ts, "DELETE", "/user/password?username=erin").send().status, 204);
    assert_crowd_error(&auth("second"), 400, "INVALID_USER_AUTHENTICATION");

    let attrs = json!({"attributes": [{"name": "team", "values": ["blue", "green"]}, {"name": "x", "values": ["1"]}]});
    assert_eq!(um(&ts, "POST", "/user/attribute?username=erin").json(&attrs).send().status, 204);
    let got = um(&ts, "GET", "/user/attribute?username=erin").send().json();
    assert_eq!(got["attributes"][0], json!({"name": "team", "values": ["blue", "green"]}));
    assert_eq!(
        um(&ts, "DELETE", "/user/attribute?username=erin&attributename=team").send().status,
        204
    );
    let got = um(&ts, "GET", "/user/attribute?username=erin").send().json();
    assert_eq!(names(&got, "attributes"), ["x"]);

    // Inactive accounts are told apart only for the right password.
    let r = um(&ts, "PUT", "/user?username=erin")
        .json(&json!({"name": "erin", "active": false}))
        .send();
    assert_eq!(r.status, 204);
    um(&ts, "PUT", "/user/password?username=erin").json(&json!({"value": "third"})).send();
    assert_crowd_error(&auth("third"), 400, "INACTIVE_ACCOUNT");
    assert_crowd_error(&auth("nope"), 400, "INVALID_USER_AUTHENTICATION");
}

#[test]
fn groups_memberships_and_nesting() {
    let ts = TestServer::start();
    app(&ts);
    for u in ["ann", "ben"] {
        create_user(&ts, u, "pw");
    }
    for g in ["staff", "devs", "rust"] {
        create_group(&ts, g);
    }
    let r = um(&ts, "POST", "/group").json(&json!({"name": "STAFF", "type": "GROUP"})).send();
    assert_crowd_error(&r, 400, "INVALID_GROUP");
    let r = um(&ts, "PUT", "/group?groupname=staff")
        .json(&json!({"name": "staff", "description": "Everyone", "type": "GROUP", "active": true}))
        .send();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["description"], "Everyone");

    // rust ⊂ devs ⊂ staff; ann in rust, ben in devs.
    let add_child = |p: &str, c: &str| {
        um(&ts, "POST", &format!("/group/child-group/direct?groupname={p}"))
            .json(&json!({"name": c}))
            .send()
    };
    assert_eq!(add_child("staff", "devs").status, 201);
    assert_eq!(add_child("devs", "rust").status, 201);
    assert_crowd_error(&add_child("rust", "staff"), 400, "INVALID_MEMBERSHIP");
    assert_crowd_error(&add_child("rust", "rust"), 400, "INVALID_MEMBERSHIP");
    assert_crowd_error(&add_child("devs", "rust"), 409, "MEMBERSHIP_ALREADY_EXISTS");
    assert_crowd_error(&add_child("devs", "nope"), 400, "GROUP_NOT_FOUND");
    assert_crowd_error(&add_child("nope", "devs"), 404, "GROUP_NOT_FOUND");

    let r =
        um(&ts, "POST", "/user/group/direct?username=ann").json(&json!({"name": "rust"})).send();
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        r.header("Content-Type"),
        Some("application/json;charset=UTF-8"),
        "npm needs a type on 201"
    );
    assert!(r
        .header("Location")
        .unwrap()
        .contains("/user/group/direct?username=ann&groupname=rust"));
    let r =
        um(&ts, "POST", "/user/group/direct?username=ann").json(&json!({"name": "rust"})).send();
    assert_crowd_error(&r, 409, "MEMBERSHIP_ALREADY_EXISTS");
    let r =
        um(&ts, "POST", "/user/group/direct?username=ann").json(&json!({"name": "nope"})).send();
    assert_crowd_error(&r, 400, "GROUP_NOT_FOUND");
    let r =
        um(&ts, "POST", "/user/group/direct?username=nobody").json(&json!({"name": "rust"})).send();
    assert_crowd_error(&r, 404, "USER_NOT_FOUND");
    let r =
        um(&ts, "POST", "/group/user/direct?groupname=devs").json(&json!({"name": "ben"})).send();
    assert_eq!(r.status, 201);
    let r = um(&ts, "POST", "/group/user/direct?groupname=devs")
        .json(&json!({"name": "nobody"}))
        .send();
    assert_crowd_error(&r, 400, "USER_NOT_FOUND");

    let get = |p: &str| um(&ts, "GET", p).send().json();
    assert_eq!(names(&get("/user/group/direct?username=ann"), "groups"), ["rust"]);
    assert_eq!(names(&get("/user/group/nested?username=ann"), "groups"), ["devs", "rust", "staff"]);
    assert_eq!(names(&get("/group/user/direct?groupname=devs"), "users"), ["ben"]);
    assert_eq!(names(&get("/group/user/nested?groupname=staff"), "users"), ["ann", "ben"]);
    assert_eq!(
        names(&get("/group/child-group/nested?groupname=staff"), "groups"),
        ["devs", "rust"]
    );
    assert_eq!(
        names(&get("/group/parent-group/nested?groupname=rust"), "groups"),
        ["devs", "staff"]
    );
    assert_eq!(names(&get("/group/parent-group/direct?groupname=rust"), "groups"), ["devs"]);
    let expanded = get("/group/user/nested?groupname=staff&expand=user");
    assert_eq!(expanded["users"][0]["email"], "ann@example.com");
    let paged = get("/group/user/nested?groupname=staff&start-index=1&max-results=1");
    assert_eq!(names(&paged, "users"), ["ben"]);

    // Membership checks as the Java client makes them: no Accept, 2xx or 404.
    let check = |p: &str| ts.get(&format!("{UM}{p}")).basic(APP, APP_PW).send();
    assert_eq!(check("/group/user/direct?groupname=devs&username=ben").status, 200);
    assert_eq!(check("/group/user/direct?groupname=devs&username=ann").status, 404);
    assert_eq!(check("/group/user/nested?groupname=devs&username=ann").status, 200);
    assert_eq!(check("/user/group/nested?username=ann&groupname=staff").status, 200);

    let r = um(&ts, "DELETE", "/group/user/direct?groupname=devs&username=ben").send();
    assert_eq!(r.status, 204);
    let r = um(&ts, "DELETE", "/group/user/direct?groupname=devs&username=ben").send();
    assert_crowd_error(&r, 404, "MEMBERSHIP_NOT_FOUND");
    assert_eq!(
        um(&ts, "DELETE", "/group/child-group/direct?groupname=devs&child-groupname=rust")
            .send()
            .status,
        204
    );
    assert_eq!(names(&get("/user/group/nested?username=ann"), "groups"), ["rust"]);
    assert_eq!(um(&ts, "DELETE", "/group?groupname=rust").send().status, 204);
    assert_eq!(get("/user/group/direct?username=ann")["groups"], json!([]));
}

#[test]
fn the_java_clients_xml_dialect_for_a_full_and_an_incremental_sync() {
    let ts = TestServer::start();
    app(&ts);
    let r = um_xml(
        &ts,
        "POST",
        "/user",
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><user name="xavier" expand="attributes"><first-name>Xavier</first-name><last-name>X</last-name><display-name>Xavier X</display-name><email>x@example.com</email><password><value>x-pw</value></password><active>true</active><attributes><attribute name="colour"><values><value>red</value></values></attribute></attributes></user>"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(r.header("Content-Type").unwrap().starts_with("application/xml"));
    let body = r.text();
    assert!(body.starts_with(r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><user expand="attributes" name="xavier">"#), "{body}");
    assert!(
        body.contains("<key>1:xavier</key>") && body.contains("<active>true</active>"),
        "{body}"
    );
    assert!(
        body.contains("<created-date>20") && body.contains("Z</created-date>"),
        "xs:dateTime: {body}"
    );
    let r = um_xml(
        &ts,
        "POST",
        "/group",
        r#"<group name="empty-group"><description>nobody here</description><type>GROUP</type><active>true</active></group>"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    um_xml(
        &ts,
        "POST",
        "/group",
        r#"<group name="g1"><type>GROUP</type><active>true</active></group>"#,
    );
    let r = um_xml(&ts, "POST", "/group/user/direct?groupname=g1", r#"<user name="xavier"/>"#);
    assert_eq!(r.status, 201, "{}", r.text());

    // The event token is taken before the full sync, as the client does.
    let r = um_xml(&ts, "GET", "/event", "");
    assert_eq!(r.status, 200, "{}", r.text());
    let token = attr(&r.text(), "newEventToken");
    assert!(r.text().contains(r#"incrementalSynchronisationAvailable="true""#), "{}", r.text());

    // Full sync: every search with max-results=-1, then the bulk memberships.
    let r = um_xml(
        &ts,
        "POST",
        "/search?entity-type=user&start-index=0&max-results=-1&expand=user,attributes",
        "<null-search-restriction/>",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let users = r.text();
    assert!(
        users.contains(r#"<users expand="user">"#) && users.contains(r#"name="xavier""#),
        "{users}"
    );
    assert!(
        users.contains(
            r#"<attribute name="colour"><values><value>red</value></values></attribute>"#
        ),
        "{users}"
    );
    let r = um_xml(
        &ts,
        "POST",
        "/search?entity-type=group&start-index=0&max-results=-1&expand=group",
        "<null-search-restriction/>",
    );
    assert!(r.text().contains(r#"name="empty-group""#), "{}", r.text());
    let r = ts
        .get(&format!("{UM}/group/membership"))
        .basic(APP, APP_PW)
        .header("Accept", "application/json")
        .send();
    assert_eq!(r.status, 200);
    assert!(r.header("Content-Type").unwrap().starts_with("application/xml"), "always XML");
    let m = r.text();
    assert!(
        m.contains(
            r#"<membership group="empty-group"><users></users><groups></groups></membership>"#
        ),
        "{m}"
    );
    assert!(m.contains(r#"<membership group="g1"><users><user name="xavier"/></users><groups></groups></membership>"#), "{m}");

    // Changes, then the incremental sync sees them.
    um_xml(
        &ts,
        "PUT",
        "/user?username=xavier",
        r#"<user name="xavier"><first-name>Xav</first-name><active>true</active></user>"#,
    );
    um_xml(&ts, "POST", "/user/group/direct?username=xavier", r#"<group name="empty-group"/>"#);
    assert_eq!(um_xml(&ts, "DELETE", "/group?groupname=g1", "").status, 204);
    let r = um_xml(&ts, "GET", &format!("/event/{token}"), "");
    assert_eq!(r.status, 200, "{}", r.text());
    let events = r.text();
    assert!(
        events.contains(
            "<userEvent><operation>UPDATED</operation><user expand=\"attributes\" name=\"xavier\">"
        ),
        "{events}"
    );
    assert!(events.contains("<first-name>Xav</first-name>"), "{events}");
    assert!(
        events.contains(
            r#"<userMembershipEvent><operation>CREATED</operation><childUser name="xavier">"#
        ),
        "{events}"
    );
    assert!(
        events.contains(r#"<groupEvent><operation>DELETED</operation><group name="g1">"#),
        "{events}"
    );
    let next = attr(&events, "newEventToken");
    assert_ne!(next, token);
    let r = um_xml(&ts, "GET", &format!("/event/{next}"), "");
    assert!(!r.text().contains("Event>"), "nothing new: {}", r.text());
    let r = um_xml(&ts, "GET", "/event/not-a-token", "");
    assert_eq!(r.status, 410);
    assert!(r.text().contains("<error><reason>EVENT_TOKEN_EXPIRED</reason>"), "{}", r.text());

    // Login as the client does it: the password entity, then notify.
    let r = um_xml(
        &ts,
        "POST",
        "/authentication?username=xavier",
        "<password><value>x-pw</value></password>",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = um_xml(&ts, "POST", "/authentication/notify?username=xavier", "<password/>");
    assert_eq!(r.status, 200, "{}", r.text());
    let r = um_xml(
        &ts,
        "POST",
        "/authentication?username=xavier",
        "<password><value>no</value></password>",
    );
    assert_eq!(r.status, 400);
    assert!(r.text().contains("<reason>INVALID_USER_AUTHENTICATION</reason>"), "{}", r.text());
}

/// The value of the first `name="…"` attribute in an XML text.
fn attr(xml: &str, name: &str) -> String {
    let start = xml.find(&format!("{name}=\"")).unwrap_or_else(|| panic!("{name} in {xml}"))
        + name.len()
        + 2;
    xml[start..].split('"').next().unwrap().to_string()
}

#[test]
fn search_by_cql_and_by_restriction_entity() {
    let ts = TestServer::start();
    app(&ts);
    for u in ["sam", "sue", "tom"] {
        create_user(&ts, u, "pw");
    }
    um(&ts, "PUT", "/user?username=tom").json(&json!({"name": "tom", "active": false})).send();
    let q = |cql: &str| {
        let path = format!(
            "/search?entity-type=user&restriction={}",
            throng::http::request::percent_encode(cql)
        );
        um(&ts, "GET", &path).send()
    };
    assert_eq!(names(&q("name = \"s*\"").json(), "users"), ["sam", "sue"]);
    assert_eq!(names(&q("active = false").json(), "users"), ["tom"]);
    assert_eq!(names(&q("email = \"*example*\" and name = t*").json(), "users"), ["tom"]);
    assert_eq!(names(&q("name = sam or name = tom").json(), "users"), ["sam", "tom"]);
    assert_eq!(q("").json()["users"].as_array().unwrap().len(), 4, "with admin");
    assert_eq!(q("name = sam").header("Cache-Control"), Some("no-cache"));
    assert_crowd_error(&q("name = "), 400, "ILLEGAL_ARGUMENT");
    assert_crowd_error(&q("name != sam"), 400, "ILLEGAL_ARGUMENT");
    assert_crowd_error(&um(&ts, "GET", "/search?restriction=x").send(), 400, "ILLEGAL_ARGUMENT");
    assert_crowd_error(
        &um(&ts, "GET", "/search?entity-type=banana").send(),
        400,
        "ILLEGAL_ARGUMENT",
    );
    let body = json!({"restriction-type": "boolean-search-restriction", "boolean-logic": "or", "restrictions": [
        {"restriction-type": "property-search-restriction", "property": {"name": "name", "type": "STRING"}, "match-mode": "EXACTLY_MATCHES", "value": "SUE"},
        {"restriction-type": "property-search-restriction", "property": {"name": "active", "type": "BOOLEAN"}, "match-mode": "EXACTLY_MATCHES", "value": "false"}]});
    let r = um(&ts, "POST", "/search?entity-type=user&expand=user").json(&body).send();
    assert_eq!(names(&r.json(), "users"), ["sue", "tom"]);
    assert_eq!(r.json()["users"][0]["email"], "sue@example.com");
    let r = um(&ts, "GET", "/search?entity-type=user&start-index=-1").send();
    assert_crowd_error(&r, 400, "ILLEGAL_ARGUMENT");
}

#[test]
fn sso_sessions() {
    let ts = TestServer::start();
    app(&ts);
    create_user(&ts, "sid", "sid-pw");
    let ctx = json!({"username": "sid", "password": "sid-pw",
                     "validation-factors": {"validationFactors": [{"name": "remote_address", "value": "10.0.0.7"}]}});
    let r = um(&ts, "POST", "/session?expand=user").json(&ctx).send();
    assert_eq!(r.status, 201, "{}", r.text());
    let s = r.json();
    let token = s["token"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 24);
    assert!(token.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(s["user"]["name"], "sid");
    assert!(s["expiry-date"].as_u64().unwrap() > s["created-date"].as_u64().unwrap());
    assert!(r.header("Location").unwrap().ends_with(&format!("/session/{token}")));

    let bad = json!({"username": "sid", "password": "nope"});
    assert_crowd_error(
        &um(&ts, "POST", "/session").json(&bad).send(),
        400,
        "INVALID_USER_AUTHENTICATION",
    );
    let nobody = json!({"username": "nobody", "password": "nope"});
    assert_crowd_error(
        &um(&ts, "POST", "/session").json(&nobody).send(),
        400,
        "INVALID_USER_AUTHENTICATION",
    );
    let trusted = json!({"username": "sid"});
    assert_eq!(
        um(&ts, "POST", "/session?validate-password=false").json(&trusted).send().status,
        201
    );

    let r = um(&ts, "GET", &format!("/session/{token}")).send();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["user"]["email"], "sid@example.com");
    let same = json!({"validationFactors": [{"name": "remote_address", "value": "10.0.0.7"}]});
    assert_eq!(um(&ts, "POST", &format!("/session/{token}")).json(&same).send().status, 200);
    let other = json!({"validationFactors": [{"name": "remote_address", "value": "10.6.6.6"}]});
    assert_eq!(um(&ts, "POST", &format!("/session/{token}")).json(&other).send().status, 400);
    assert_eq!(
        um(&ts, "POST", &format!("/session/{token}")).json(&json!({})).send().status,
        200,
        "npm sends {{}}"
    );

    // Expiry, without sleeping: the server's clock moves.
    ts.advance_clock(std::time::Duration::from_secs(31 * 60));
    assert_crowd_error(
        &um(&ts, "GET", &format!("/session/{token}")).send(),
        404,
        "INVALID_SSO_TOKEN",
    );

    let r = um(&ts, "POST", "/session").json(&ctx).send();
    let t2 = r.json()["token"].as_str().unwrap().to_string();
    // A service account's token reads, and ends no one's session.
    let account = ts.create_account("reader");
    let bearer = ts.token(&account.client_id, &account.secret);
    for path in [format!("{UM}/session/{t2}"), format!("{UM}/session?username=sid")] {
        let r = ts.delete(&path).bearer(&bearer).header("Accept", "application/json").send();
        assert_crowd_error(&r, 403, "APPLICATION_PERMISSION_DENIED");
    }
    assert_eq!(um(&ts, "GET", &format!("/session/{t2}")).send().status, 200, "still live");
    assert_eq!(um(&ts, "DELETE", &format!("/session/{t2}")).send().status, 204);
    assert_eq!(um(&ts, "GET", &format!("/session/{t2}")).send().status, 404);
    let t3 =
        um(&ts, "POST", "/session").json(&ctx).send().json()["token"].as_str().unwrap().to_string();
    assert_eq!(um(&ts, "DELETE", "/session?username=sid").send().status, 204);
    assert_eq!(um(&ts, "GET", &format!("/session/{t3}")).send().status, 404);

    let conf = um(&ts, "GET", "/config/cookie").send();
    assert_eq!(conf.status, 200);
    assert_eq!(conf.json()["name"], "crowd.token_key");
}

#[test]
fn mappings_decide_what_an_application_may_change_and_who_may_log_in() {
    let ts = TestServer::start();
    app(&ts);
    app_with(&ts, "reader", &[], false, &["insiders"]);
    create_user(&ts, "ian", "pw");
    create_user(&ts, "ola", "pw");
    create_group(&ts, "insiders");
    um(&ts, "POST", "/group/user/direct?groupname=insiders").json(&json!({"name": "ian"})).send();

    let reader = |m: &str, p: &str| {
        ts.req(m, &format!("{UM}{p}")).basic("reader", APP_PW).header("Accept", "application/json")
    };
    let r =
        reader("POST", "/user").json(&json!({"name": "eve", "password": {"value": "x"}})).send();
    assert_crowd_error(&r, 403, "APPLICATION_PERMISSION_DENIED");
    assert_eq!(um(&ts, "GET", "/user?username=eve").send().status, 404, "nothing stored");
    let r = reader("DELETE", "/user?username=ola").send();
    assert_crowd_error(&r, 403, "APPLICATION_PERMISSION_DENIED");
    assert_eq!(reader("GET", "/user?username=ola").send().status, 200, "reads are allowed");

    // Only members of the allowed group may log in through `reader`.
    let login = |u: &str| {
        reader("POST", &format!("/authentication?username={u}"))
            .json(&json!({"value": "pw"}))
            .send()
    };
    assert_eq!(login("ian").status, 200);
    assert_crowd_error(&login("ola"), 403, "APPLICATION_ACCESS_DENIED");
    let r = reader("POST", "/session").json(&json!({"username": "ola", "password": "pw"})).send();
    assert_crowd_error(&r, 403, "APPLICATION_ACCESS_DENIED");
}

#[test]
fn bad_input_gets_crowds_errors_and_changes_nothing() {
    let ts = TestServer::start();
    app(&ts);
    let xml = |path: &str, body: &str| um_xml(&ts, "POST", path, body);
    let r = xml("/user", "<user name=\"a\"><first-name>x</first-name>");
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("<reason>ILLEGAL_ARGUMENT</reason>"));
    let bomb = r#"<?xml version="1.0"?><!DOCTYPE u [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><user name="&b;"><password><value>x</value></password></user>"#;
    assert_eq!(xml("/user", bomb).status, 400);
    let external = r#"<?xml version="1.0"?><!DOCTYPE u [<!ENTITY x SYSTEM "file:///etc/passwd">]><user name="&x;"/>"#;
    assert_eq!(xml("/user", external).status, 400);
    let r =
        um(&ts, "POST", "/user").json(&json!({"name": ["x"], "password": {"value": "x"}})).send();
    assert_crowd_error(&r, 400, "ILLEGAL_ARGUMENT");
    let r = um(&ts, "POST", "/user")
        .header("Content-Type", "application/json")
        .body("{not json")
        .send();
    assert_crowd_error(&r, 400, "ILLEGAL_ARGUMENT");
    let r = um(&ts, "POST", "/user").header("Content-Type", "text/plain").body("name=x").send();
    assert_crowd_error(&r, 415, "ILLEGAL_ARGUMENT");
    assert_crowd_error(
        &um(&ts, "POST", "/user").json(&json!({"name": "nopw"})).send(),
        400,
        "INVALID_CREDENTIAL",
    );
    assert_crowd_error(
        &um(&ts, "POST", "/user").json(&json!({"name": " pad", "password": {"value": "x"}})).send(),
        400,
        "INVALID_USER",
    );
    let r = um(&ts, "GET", "/search?entity-type=user").send();
    assert_eq!(r.json()["users"].as_array().unwrap().len(), 1, "only admin: nothing was stored");

    // Awkward names travel intact through queries and bodies.
    for name in ["with space", "plus+sign", "per%cent", "ünïcødé", "日本"] {
        let r = create_user(&ts, name, "pw");
        assert_eq!(r.status, 201, "{name}: {}", r.text());
        let q = throng::http::request::percent_encode(name);
        let got = um(&ts, "GET", &format!("/user?username={q}")).send();
        assert_eq!(got.json()["name"], name);
    }
    // A query `+` is a space, as the Java client's URLEncoder writes it.
    assert_eq!(um(&ts, "GET", "/user?username=with+space").send().json()["name"], "with space");

    for p in ["/user?username=nobody", "/nowhere", "/user/group/direct?username=nobody"] {
        let r = um(&ts, "GET", p).send();
        assert_eq!(r.header("X-Embedded-Crowd-Version"), Some("Crowd/7.0.0"), "{p}");
    }
    let r = um(&ts, "PATCH", "/user?username=x").send();
    assert_eq!(r.status, 405);
    assert!(r.header("Allow").unwrap().contains("GET"));
    let r = ts.get(&format!("{UM}/user?username=x")).basic(APP, "wrong").send();
    assert_eq!((r.status, r.text().as_str()), (401, "Application failed to authenticate"));
    assert_eq!(r.header("X-Embedded-Crowd-Version"), Some("Crowd/7.0.0"));
    let r = um(&ts, "GET", "/group/user/nested?groupname=nobody&max-results=999999999").send();
    assert_crowd_error(&r, 404, "GROUP_NOT_FOUND");
    let r = um(&ts, "GET", "/user.json?username=admin").header("Accept", "application/xml").send();
    assert_eq!(r.json()["name"], "admin", ".json suffix means JSON");
}

/// Answers served from the caller's cached view and rendered entities follow every change at
/// once: to the user, and to the application's mappings.
#[test]
fn cached_reads_follow_changes_at_once() {
    let ts = TestServer::start();
    app(&ts);
    create_user(&ts, "cat", "pw");
    let read = || um(&ts, "GET", "/user?username=cat").send();
    assert_eq!(read().json()["display-name"], "cat L");
    let r = um(&ts, "PUT", "/user?username=cat")
        .json(&json!({"name": "cat", "display-name": "Cat Stevens"}))
        .send();
    assert_eq!(r.status, 204);
    assert_eq!(read().json()["display-name"], "Cat Stevens");
    let apps = ts
        .get("/rest/appmanagement/1/application?name=jira")
        .admin()
        .header("Accept", "application/json")
        .send();
    let id = apps.json()["applications"][0]["id"].as_u64().unwrap();
    let r = ts
        .put(&format!("/rest/appmanagement/1/application/{id}"))
        .admin()
        .json(&json!({"directory-mappings": []}))
        .send();
    assert_eq!(r.status, 204, "{}", r.text());
    assert_crowd_error(&read(), 404, "USER_NOT_FOUND");
}

/// The change log is in the store: a token taken before a restart still reads the changes
/// made before and after it.
#[test]
fn events_survive_a_restart() {
    let mut ts = TestServer::start();
    app(&ts);
    let token =
        um(&ts, "GET", "/event").send().json()["newEventToken"].as_str().unwrap().to_string();
    create_user(&ts, "before", "pw");
    ts.restart();
    create_user(&ts, "after", "pw");
    let r = um(&ts, "GET", &format!("/event/{token}")).send();
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    let users: Vec<String> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "USER" && e["operation"] == "CREATED")
        .map(|e| e["user"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(users, ["before", "after"], "{body}");
}

/// An application over two directories sees them in mapping order: a name in the first
/// shadows the same name in the second, and creates land in the first that allows them.
#[test]
fn two_directories_in_mapping_order() {
    let ts = TestServer::start();
    let r = ts
        .post("/rest/admin/1.0/directory/detailed")
        .admin()
        .json(&json!({"name": "Partners", "description": "external people"}))
        .send();
    assert_eq!(r.status, 201, "{}", r.text());
    let partners = r.json()["id"].as_u64().unwrap();
    let dup = ts
        .post("/rest/admin/1.0/directory/detailed")
        .admin()
        .json(&json!({"name": "PARTNERS"}))
        .send();
    assert_eq!(dup.status, 400, "{}", dup.text());
    let account = ts.create_account("reader");
    let bearer = ts.token(&account.client_id, &account.secret);
    let r = ts
        .post("/rest/admin/1.0/directory/detailed")
        .bearer(&bearer)
        .json(&json!({"name": "X"}))
        .send();
    assert_eq!(r.status, 403, "a service account adds no directory");

    // `jira` writes into the internal directory; `portal` reads partners first.
    app(&ts);
    let body = json!({
        "name": "portal", "type": "GENERIC_APPLICATION", "active": true, "password": {"value": APP_PW},
        "directory-mappings": [
            {"directory-id": partners, "authenticate-all": true, "allowed-operations": ["CREATE_USER"]},
            {"directory-id": 1, "authenticate-all": true, "allowed-operations": []}],
        "remote-addresses": [{"value": "127.0.0.1"}]});
    assert_eq!(ts.post("/rest/appmanagement/1/application").admin().json(&body).send().status, 201);
    let portal = |m: &str, p: &str| {
        ts.req(m, &format!("{UM}{p}")).basic("portal", APP_PW).header("Accept", "application/json")
    };

    create_user(&ts, "pat", "internal-pw");
    let r = portal("POST", "/user")
        .json(&json!({"name": "pat", "email": "pat@partner.example", "password": {"value": "partner-pw"}}))
        .send();
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["directory-id"], partners);
    let got = portal("GET", "/user?username=pat").send().json();
    assert_eq!(
        (got["directory-id"].as_u64(), got["email"].as_str()),
        (Some(partners), Some("pat@partner.example"))
    );
    let internal = um(&ts, "GET", "/user?username=pat").send().json();
    assert_eq!(internal["directory-id"], 1, "jira sees only the internal pat");
    let login = |pw: &str| {
        portal("POST", "/authentication?username=pat").json(&json!({"value": pw})).send().status
    };
    assert_eq!(
        (login("partner-pw"), login("internal-pw")),
        (200, 400),
        "the shadowing pat logs in"
    );
    assert_eq!(
        portal("GET", "/user?username=admin").send().status,
        200,
        "names only in the second are seen"
    );
    let r = portal("DELETE", "/user?username=admin").send();
    assert_crowd_error(&r, 403, "APPLICATION_PERMISSION_DENIED");
}

/// No call may leave the server without an active administrator: nobody could reach the
/// admin APIs again (the first-start password applies to an empty store only).
#[test]
fn the_last_administrator_stays() {
    let ts = TestServer::start();
    app(&ts);
    let refused = |r: ClientResponse| {
        assert_eq!(r.status, 400, "{}", r.text());
        assert!(r.text().contains("last active administrator"), "{}", r.text());
    };
    refused(
        um(&ts, "DELETE", "/group/user/direct?groupname=crowd-administrators&username=admin")
            .send(),
    );
    refused(um(&ts, "DELETE", "/user?username=admin").send());
    refused(
        um(&ts, "PUT", "/user?username=admin")
            .json(&json!({"name": "admin", "active": false}))
            .send(),
    );
    refused(um(&ts, "DELETE", "/user/password?username=admin").send());
    let r = um(&ts, "DELETE", "/group?groupname=crowd-administrators").send();
    assert_crowd_error(&r, 400, "INVALID_GROUP");
    assert!(r.text().contains("cannot be deleted"), "{}", r.text());
    let account = ts.create_account("ops");
    let bearer = ts.token(&account.client_id, &account.secret);
    let r = ts
        .req("DELETE", "/rest/admin/1.0/groups/1-Y3Jvd2QtYWRtaW5pc3RyYXRvcnM/users")
        .bearer(&bearer)
        .json(&json!({"ids": ["1-YWRtaW4"]}))
        .send();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["successes"], json!([]), "{}", r.text());
    assert_eq!(ts.get("/rest/audit/1.0/events").admin().send().status, 200, "admin still in");

    // With a second administrator, the first may go.
    create_user(&ts, "root2", "pw");
    um(&ts, "POST", "/group/user/direct?groupname=crowd-administrators")
        .json(&json!({"name": "root2"}))
        .send();
    let r = um(&ts, "DELETE", "/group/user/direct?groupname=crowd-administrators&username=admin")
        .send();
    assert_eq!(r.status, 204, "{}", r.text());
}
