use super::super::schema::{ENTERPRISE, GROUPS, USERS};
use super::*;
use serde_json::json;

fn patch(doc: Value, ops: Value) -> Result<Value> {
    let mut doc = doc.as_object().unwrap().clone();
    apply(&USERS, &mut doc, &json!({"schemas": [PATCH_OP], "Operations": ops}))?;
    Ok(Value::Object(doc))
}

#[test]
fn add_replace_and_remove_as_rfc_7644_and_entra_write_them() {
    let doc = json!({"userName": "a", "emails": [{"value": "w@x", "type": "work"}]});
    let out = patch(
        doc.clone(),
        json!([
            {"op": "Add", "path": "emails", "value": [{"value": "h@x", "type": "home"}]},
            {"op": "Replace", "path": "name.givenName", "value": "Ann"},
            {"op": "replace", "value": {"displayName": "Ann A", "active": "False"}},
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "w2@x"},
            {"op": "add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "123"},
            {"op": "add", "path": ENTERPRISE.to_string() + ":department", "value": "R&D"},
            {"op": "add", "path": "externalId", "value": "e-9"},
        ]),
    )
    .unwrap();
    assert_eq!(
        out,
        json!({
            "userName": "a", "displayName": "Ann A", "active": false, "name": {"givenName": "Ann"},
            "emails": [{"value": "w2@x", "type": "work"}, {"value": "h@x", "type": "home"}],
            "phoneNumbers": [{"type": "mobile", "value": "123"}],
            ENTERPRISE: {"department": "R&D"}, "externalId": "e-9",
        })
    );
    let out = patch(
        out,
        json!([
            {"op": "remove", "path": "emails[type eq \"home\"]"},
            {"op": "remove", "path": "name.givenName"},
            {"op": "remove", "path": ENTERPRISE},
            {"op": "remove", "path": ENTERPRISE.to_string() + ":employeeNumber"},
            {"op": "remove", "path": "nickName"},
            {"op": "remove", "path": "externalId"},
        ]),
    )
    .unwrap();
    assert_eq!(
        out,
        json!({"userName": "a", "displayName": "Ann A", "active": false, "emails": [{"value": "w2@x", "type": "work"}], "phoneNumbers": [{"type": "mobile", "value": "123"}]})
    );
}

#[test]
fn a_bare_extension_urn_takes_an_object_with_its_schemas() {
    let out = patch(
        json!({"userName": "a"}),
        json!([{"op": "add", "path": ENTERPRISE, "value": {"schemas": [ENTERPRISE], "employeeNumber": "7", "manager": {"value": "m", "$ref": "https://x/Users/m"}}}]),
    )
    .unwrap();
    assert_eq!(
        out[ENTERPRISE],
        json!({"employeeNumber": "7", "manager": {"value": "m", "$ref": "https://x/Users/m"}})
    );
}

#[test]
fn members_are_added_and_removed_by_value() {
    let mut doc = json!({"displayName": "g", "members": [{"value": "u1"}, {"value": "u2"}]})
        .as_object()
        .unwrap()
        .clone();
    let ops = json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": "u3", "display": "ignored"}]},
        {"op": "remove", "path": "members[value eq \"u1\"]"},
        {"op": "Remove", "path": "members", "value": [{"value": "u2"}]},
    ]});
    apply(&GROUPS, &mut doc, &ops).unwrap();
    assert_eq!(Value::Object(doc), json!({"displayName": "g", "members": [{"value": "u3"}]}));
}

#[test]
fn bad_patches_get_their_scim_type() {
    let doc = json!({"userName": "a"});
    let cases = [
        (json!([{"op": "move", "path": "userName", "value": "b"}]), ScimType::InvalidValue),
        (json!([{"op": "remove"}]), ScimType::NoTarget),
        (json!([{"op": "replace", "path": "groups", "value": []}]), ScimType::Mutability),
        (json!([{"op": "replace", "path": "id", "value": "x"}]), ScimType::Mutability),
        (json!([{"op": "replace", "path": "externalId", "value": 5}]), ScimType::InvalidValue),
        (json!([{"op": "remove", "path": "userName"}]), ScimType::Mutability),
        (json!([{"op": "replace", "path": "nosuch", "value": 1}]), ScimType::InvalidPath),
        (
            json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "x"}]),
            ScimType::NoTarget,
        ),
        (json!([{"op": "replace", "path": "active", "value": 3}]), ScimType::InvalidValue),
        (
            json!([{"op": "replace", "path": "userName[value eq \"a\"]", "value": "b"}]),
            ScimType::InvalidPath,
        ),
        (json!([{"op": "replace", "path": "emails[type eq", "value": "b"}]), ScimType::InvalidPath),
    ];
    for (ops, want) in cases {
        match patch(doc.clone(), ops.clone()) {
            Err(Error::Scim(t, _)) => assert_eq!(t, want, "{ops}"),
            other => panic!("{ops}: {other:?}"),
        }
    }
    let mut d = doc.as_object().unwrap().clone();
    assert!(apply(&USERS, &mut d, &json!({"Operations": []})).is_err());
    assert!(apply(&USERS, &mut d, &json!({"schemas": [PATCH_OP], "Operations": []})).is_err());
}

#[test]
fn a_new_primary_demotes_the_old_and_replace_keeps_what_it_leaves_out() {
    let doc = json!({"userName": "a", "name": {"givenName": "A", "familyName": "Z"},
        "emails": [{"value": "old@x", "primary": true}],
        ENTERPRISE: {"department": "D", "costCenter": "C"}});
    let out = patch(
        doc,
        json!([
            {"op": "add", "path": "emails", "value": [{"value": "new@x", "primary": true}]},
            {"op": "replace", "path": "name", "value": {"givenName": "B"}},
            {"op": "replace", "path": ENTERPRISE, "value": {"department": "E"}},
            // Okta's group rename carries the id; it is ignored, not refused.
            {"op": "replace", "value": {"id": "x", "meta": {}, "displayName": "Babs"}},
        ]),
    )
    .unwrap();
    assert_eq!(
        out["emails"],
        json!([{"value": "old@x", "primary": false}, {"value": "new@x", "primary": true}])
    );
    assert_eq!(out["name"], json!({"givenName": "B", "familyName": "Z"}));
    assert_eq!(out[ENTERPRISE], json!({"department": "E", "costCenter": "C"}));
    assert_eq!(out["displayName"], "Babs");
    let out = patch(
        out,
        json!([{"op": "replace", "path": "emails[value eq \"old@x\"].primary", "value": true}]),
    )
    .unwrap();
    assert_eq!(
        out["emails"],
        json!([{"value": "old@x", "primary": true}, {"value": "new@x", "primary": false}])
    );
}
