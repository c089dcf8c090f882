//! What restrictions select: evaluation against users and groups, reached through CQL.

use super::{cql, EntityType, NameKeys, Restriction};
use crate::store::records::{GroupRecord, UserRecord};
use serde_json::json;

/// A user built from JSON, so that fields added to the record later take their defaults.
fn user(name: &str, email: &str, active: bool, created: u64) -> UserRecord {
    serde_json::from_value(json!({
        "directory_id": 1, "name": name, "email": email, "active": active,
        "first_name": "Bob", "last_name": "Smith", "display_name": format!("Bob {name}"),
        "created": created, "updated": created + 1000,
        "attributes": {
            "team": ["Blue", "Green"], "blank": [""], "since": ["2020-06-01"], "admin": ["True"],
        },
    }))
    .unwrap()
}

fn group(name: &str, description: &str) -> GroupRecord {
    serde_json::from_value(json!({
        "directory_id": 1, "name": name, "description": description, "kind": "GROUP",
        "active": true, "created": 0, "updated": 0, "attributes": {},
    }))
    .unwrap()
}

fn users(cql: &str) -> Restriction {
    cql::parse(cql, EntityType::User).unwrap_or_else(|e| panic!("{cql}: {e}"))
}

const DEC_2010: u64 = 1_291_161_600_000;

#[test]
fn text_matches_case_insensitively() {
    let bob = user("Bob", "Bob@Example.COM", true, DEC_2010);
    for (query, expected) in [
        ("name=bob", true),
        ("name=BOB", true),
        ("name=bo", false),
        ("name=bo*", true),
        ("name=*O*", true),
        ("name=*x*", false),
        ("name=*", true),
        ("email=*example.com*", true),
        ("email='bob@example.com'", true),
        ("email=example.com", false),
        ("firstName=bob", true),
        ("lastName=smith", true),
        ("displayName='bob bob'", true),
        ("name<c", true),
        ("name<b", false),
        ("name>bob", false),
        ("name>bo", true),
        ("externalId=x", false),
    ] {
        assert_eq!(users(query).matches_user(&bob), expected, "{query}");
    }
}

#[test]
fn booleans_dates_and_logic() {
    let bob = user("bob", "b@x", true, DEC_2010);
    let old = user("old", "", false, DEC_2010 - 86_400_000);
    for (query, bob_matches, old_matches) in [
        ("active=true", true, false),
        ("active=false", false, true),
        ("createdDate>2010-11-29T23:59:59.999Z", true, true),
        ("createdDate>2010-11-30", true, false),
        ("createdDate<2010-12-01", false, true),
        ("createdDate<'2010-12-01T00:00:01'", true, true),
        ("updatedDate>2010-12-01", true, false),
        ("active=true or name=old", true, true),
        ("active=true and name=old", false, false),
        ("(name=bob or name=old) and active=false", false, true),
        ("name=bob and (email=*x* or active=false)", true, false),
    ] {
        let r = users(query);
        assert_eq!(r.matches_user(&bob), bob_matches, "{query} on bob");
        assert_eq!(r.matches_user(&old), old_matches, "{query} on old");
    }
}

#[test]
fn null_mode_and_attributes() {
    use super::{MatchMode, Property, PropertyRestriction, Value};
    let bob = user("bob", "", true, 0);
    let null = |name: &str| {
        let p = Property::named(EntityType::User, name);
        Restriction::Property(
            PropertyRestriction::new(p, MatchMode::Null, Value::String(String::new())).unwrap(),
        )
    };
    assert!(null("email").matches_user(&bob), "an empty email is null");
    assert!(!null("name").matches_user(&bob));
    assert!(!null("active").matches_user(&bob), "a boolean is never null");
    assert!(null("missing").matches_user(&bob), "an absent attribute is null");
    assert!(null("blank").matches_user(&bob), "an attribute of empty values is null");
    assert!(!null("team").matches_user(&bob));

    // Any one value of an attribute matching selects the user.
    assert!(users("team=green").matches_user(&bob));
    assert!(users("team=bl*").matches_user(&bob));
    assert!(!users("team=red").matches_user(&bob));
    assert!(!users("missing=*").matches_user(&bob));
    // Attributes compared as other types read their text as that type.
    let typed = |ty: &str, mode: &str, value: &str| {
        let body = json!({"restriction-type": "property-search-restriction",
            "property": {"name": if ty == "DATE" { "since" } else { "admin" }, "type": ty},
            "match-mode": mode, "value": value});
        super::body::parse(
            crate::http::body::Fields::Json(body.as_object().unwrap()),
            EntityType::User,
        )
        .unwrap()
    };
    assert!(typed("BOOLEAN", "EXACTLY_MATCHES", "true").matches_user(&bob));
    assert!(!typed("BOOLEAN", "EXACTLY_MATCHES", "false").matches_user(&bob));
    assert!(typed("DATE", "GREATER_THAN", "2020-01-01").matches_user(&bob));
    assert!(!typed("DATE", "LESS_THAN", "2020-01-01").matches_user(&bob));
}

#[test]
fn groups_have_their_own_terms() {
    let admins = group("Crowd-Administrators", "Crowd administrators");
    let groups = |q: &str| cql::parse(q, EntityType::Group).unwrap();
    assert!(groups("name=crowd-*").matches_group(&admins));
    assert!(groups("description=*ADMIN*").matches_group(&admins));
    assert!(groups("active=true and local=false").matches_group(&admins));
    assert!(!groups("local=true").matches_group(&admins));
    assert!(!groups("externalId=*x*").matches_group(&admins));
    // `email` is no group term: a custom attribute, which this group lacks.
    assert!(!groups("email=*").matches_group(&admins));
}

#[test]
fn empty_booleans_and_all() {
    let bob = user("bob", "", true, 0);
    let and = Restriction::Boolean { and: true, parts: vec![] };
    let or = Restriction::Boolean { and: false, parts: vec![] };
    assert!(and.matches_user(&bob) && and.is_all());
    assert!(!or.matches_user(&bob) && !or.is_all());
    assert!(Restriction::All.matches_user(&bob));
    let any = Restriction::Boolean { and: false, parts: vec![users("name=x"), Restriction::All] };
    assert!(any.is_all());
    assert!(!users("name=x").is_all());
}

#[test]
fn name_prefix_narrows_the_scan() {
    let prefix = |q: &str| users(q).name_prefix();
    assert_eq!(prefix("name=Bob"), Some(NameKeys::Exact("bob".into())));
    assert_eq!(prefix("name=Bo*"), Some(NameKeys::Prefix("bo".into())));
    assert_eq!(prefix("name=*bo*"), None);
    assert_eq!(prefix("name<bo"), None);
    assert_eq!(prefix("email=bob"), None);
    assert_eq!(prefix("active=true and name=bo*"), Some(NameKeys::Prefix("bo".into())));
    assert_eq!(prefix("name=b* and name=bob* "), Some(NameKeys::Prefix("bob".into())));
    assert_eq!(prefix("name=bobby* and name=bob"), Some(NameKeys::Exact("bob".into())));
    assert_eq!(prefix("(name=b* and active=true) and email=x"), Some(NameKeys::Prefix("b".into())));
    assert_eq!(prefix("name=bob or name=alice"), None);
    assert_eq!(prefix("name=bob or active=true"), None);
    assert_eq!(prefix(""), None);
}
