//! Unit tests of the directory model, each on a temporary store: users and groups here,
//! memberships and nested walks in [`memberships`], the change log in [`events`].

mod events;
mod memberships;
mod snapshot;

use super::super::records::{Change, DirectoryRecord, GroupRecord, Millis, UserRecord};
use super::super::TempStore;
use crate::error::{Error, Resource, Result};
use crate::store::Topic;
use std::collections::BTreeMap;
use std::ops::ControlFlow;

const T0: Millis = 1_700_000_000_000;

/// A store with one directory, id 1.
fn store() -> TempStore {
    let s = TempStore::new();
    let dir = s.create_directory("Internal", "INTERNAL", "the one", T0).unwrap();
    assert_eq!(dir.id, 1);
    s
}

fn user(dir: u64, name: &str) -> UserRecord {
    UserRecord {
        directory_id: dir,
        name: name.into(),
        first_name: "F".into(),
        last_name: "L".into(),
        display_name: format!("F L {name}"),
        email: format!("{name}@example.com"),
        active: true,
        created: T0,
        updated: T0,
        ..Default::default()
    }
}

fn group(dir: u64, name: &str) -> GroupRecord {
    GroupRecord {
        directory_id: dir,
        name: name.into(),
        kind: "GROUP".into(),
        active: true,
        created: T0,
        updated: T0,
        ..Default::default()
    }
}

fn add_users(s: &TempStore, names: &[&str]) {
    for n in names {
        s.create_user(&user(1, n)).unwrap();
    }
}

fn add_groups(s: &TempStore, names: &[&str]) {
    for n in names {
        s.create_group(&group(1, n)).unwrap();
    }
}

/// No rule on stored attributes.
fn any(_: &BTreeMap<String, Vec<String>>, _: &BTreeMap<String, Vec<String>>) -> Result<()> {
    Ok(())
}

fn attrs(pairs: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect())).collect()
}

fn assert_not_found<T: std::fmt::Debug>(r: crate::error::Result<T>, resource: Resource) {
    match r {
        Err(Error::NotFound(got, _)) if got == resource => {}
        other => panic!("expected NotFound({resource:?}), got {other:?}"),
    }
}

fn assert_exists<T: std::fmt::Debug>(r: crate::error::Result<T>, resource: Resource) {
    match r {
        Err(Error::AlreadyExists(got, _)) if got == resource => {}
        other => panic!("expected AlreadyExists({resource:?}), got {other:?}"),
    }
}

#[test]
fn directories_are_listed_by_id_and_unique_by_name_in_any_case() {
    let s = store();
    let second = s.create_directory("Remote", "CROWD", "", T0).unwrap();
    assert_eq!(second.id, 2);
    assert_exists(s.create_directory("REMOTE", "CROWD", "", T0), Resource::Directory);
    let names: Vec<String> = s.directories().unwrap().into_iter().map(|d| d.name).collect();
    assert_eq!(names, ["Internal", "Remote"]);
    assert_eq!(s.directory(1).unwrap().unwrap().description, "the one");
    assert!(s.directory(3).unwrap().is_none());
}

#[test]
fn a_directory_written_before_descriptions_reads_with_an_empty_one() {
    let old = br#"{"id":1,"name":"d","kind":"INTERNAL","active":true,"created":5}"#;
    let d: DirectoryRecord = serde_json::from_slice(old).unwrap();
    assert_eq!(d.description, "");
}

#[test]
fn users_are_found_in_any_case_and_keep_their_name_as_written() {
    let s = store();
    let created = s.create_user(&user(1, "Bob")).unwrap();
    assert_eq!(created.key, "1:bob");
    let found = s.user(1, "BOB").unwrap().unwrap();
    assert_eq!((found.name.as_str(), found.key.as_str()), ("Bob", "1:bob"));
    assert_eq!(s.user_by_key("1:bob").unwrap().unwrap().name, "Bob");
    assert!(s.user(2, "bob").unwrap().is_none());
    assert_exists(s.create_user(&user(1, "bOB")), Resource::User);
    assert_not_found(s.create_user(&user(9, "ann")), Resource::Directory);
}

#[test]
fn an_update_changes_fields_but_never_name_key_or_creation() {
    let s = store();
    add_users(&s, &["bob"]);
    let updated = s
        .update_user(
            1,
            "BOB",
            |u| {
                u.email = "new@example.com".into();
                u.active = false;
                u.name = "mallory".into();
                u.key = "1:mallory".into();
                u.created = 0;
                Ok(())
            },
            T0 + 5,
        )
        .unwrap();
    assert_eq!((updated.name.as_str(), updated.key.as_str()), ("bob", "1:bob"));
    assert_eq!((updated.created, updated.updated), (T0, T0 + 5));
    assert_eq!(s.user(1, "bob").unwrap().unwrap(), updated);
    assert!(!updated.active);
    // A refused change leaves the user as it was.
    let refused = s.update_user(1, "bob", |_| Err(Error::bad_request("no")), T0 + 9);
    assert!(matches!(refused, Err(Error::BadRequest(_))));
    assert_eq!(s.user(1, "bob").unwrap().unwrap().updated, T0 + 5);
    assert_not_found(s.update_user(1, "nobody", |_| Ok(()), T0), Resource::User);
}

#[test]
fn a_rename_keeps_the_key_and_the_memberships() {
    let s = store();
    add_users(&s, &["bob", "carol"]);
    add_groups(&s, &["devs", "ops"]);
    s.add_user_to_group(1, "bob", "devs", T0).unwrap();
    s.add_user_to_group(1, "bob", "ops", T0).unwrap();
    let renamed = s.rename_user(1, "BOB", "Robert", T0 + 1).unwrap();
    assert_eq!((renamed.name.as_str(), renamed.key.as_str()), ("Robert", "1:bob"));
    assert!(s.user(1, "bob").unwrap().is_none());
    assert_eq!(s.user_by_key("1:bob").unwrap().unwrap().name, "Robert");
    assert_eq!(s.direct_groups_of_user(1, "robert").unwrap(), ["devs", "ops"]);
    assert_eq!(s.direct_users_of_group(1, "devs").unwrap(), ["Robert"]);
    assert!(s.is_direct_member(1, "ops", "ROBERT").unwrap());
    assert!(!s.is_direct_member(1, "ops", "bob").unwrap());
    // The old name is free again; its natural key is not, so the newcomer gets the next one.
    let newcomer = s.create_user(&user(1, "bob")).unwrap();
    assert_eq!(newcomer.key, "1:bob-1");
    assert!(s.direct_groups_of_user(1, "bob").unwrap().is_empty());
    assert_eq!(s.user_by_key("1:bob-1").unwrap().unwrap().name, "bob");
    // Onto another user, in any case: refused, nothing moved.
    assert_exists(s.rename_user(1, "robert", "CAROL", T0 + 2), Resource::User);
    assert_eq!(s.user(1, "robert").unwrap().unwrap().name, "Robert");
    // A change of case only is a rename too.
    let recased = s.rename_user(1, "robert", "ROBERT", T0 + 3).unwrap();
    assert_eq!((recased.name.as_str(), recased.key.as_str()), ("ROBERT", "1:bob"));
    assert_eq!(s.direct_users_of_group(1, "devs").unwrap(), ["ROBERT"]);
    assert_not_found(s.rename_user(1, "nobody", "x", T0), Resource::User);
}

#[test]
fn deleting_a_user_removes_its_key_and_memberships() {
    let s = store();
    add_users(&s, &["bob", "ann"]);
    add_groups(&s, &["devs"]);
    s.add_user_to_group(1, "bob", "devs", T0).unwrap();
    s.add_user_to_group(1, "ann", "devs", T0).unwrap();
    s.delete_user(1, "BOB", T0).unwrap();
    assert!(s.user(1, "bob").unwrap().is_none());
    assert!(s.user_by_key("1:bob").unwrap().is_none());
    assert_eq!(s.direct_users_of_group(1, "devs").unwrap(), ["ann"]);
    assert_not_found(s.direct_groups_of_user(1, "bob"), Resource::User);
    assert_not_found(s.delete_user(1, "bob", T0), Resource::User);
    // Recreated, it has no memberships and its natural key again.
    assert_eq!(s.create_user(&user(1, "bob")).unwrap().key, "1:bob");
    assert!(s.direct_groups_of_user(1, "bob").unwrap().is_empty());
}

#[test]
fn attributes_are_stored_replaced_and_deleted_by_name() {
    let s = store();
    add_users(&s, &["bob"]);
    add_groups(&s, &["devs"]);
    s.store_user_attributes(1, "bob", attrs(&[("a", &["1"]), ("b", &["2", "3"])]), &any, T0 + 1)
        .unwrap();
    let u = s.store_user_attributes(1, "BOB", attrs(&[("b", &["4"])]), &any, T0 + 2).unwrap();
    assert_eq!(u.attributes, attrs(&[("a", &["1"]), ("b", &["4"])]));
    assert_eq!(u.updated, T0 + 2);
    let u = s.delete_user_attribute(1, "bob", "a", T0 + 3).unwrap();
    assert_eq!(u.attributes, attrs(&[("b", &["4"])]));
    // Deleting one it does not have changes nothing.
    let same = s.delete_user_attribute(1, "bob", "zzz", T0 + 4).unwrap();
    assert_eq!(same, u);
    assert_eq!(s.user(1, "bob").unwrap().unwrap(), u);
    assert_not_found(s.store_user_attributes(1, "x", attrs(&[]), &any, T0), Resource::User);
    assert_not_found(s.delete_user_attribute(1, "x", "a", T0), Resource::User);

    let g = s.store_group_attributes(1, "DEVS", attrs(&[("k", &["v"])]), &any, T0 + 5).unwrap();
    assert_eq!((g.attributes.len(), g.updated), (1, T0 + 5));
    let g = s.delete_group_attribute(1, "devs", "k", T0 + 6).unwrap();
    assert!(g.attributes.is_empty());
    assert_eq!(s.group(1, "devs").unwrap().unwrap(), g);
    assert_not_found(s.store_group_attributes(1, "x", attrs(&[]), &any, T0), Resource::Group);
}

#[test]
fn an_attribute_rule_sees_the_stored_attributes_and_its_refusal_changes_nothing() {
    let s = store();
    add_users(&s, &["bob"]);
    s.store_user_attributes(1, "bob", attrs(&[("a", &["1"])]), &any, T0 + 1).unwrap();
    let token = s.event_token().unwrap();
    let seen = std::cell::RefCell::new(Vec::new());
    let refuse = |own: &BTreeMap<String, Vec<String>>, added: &BTreeMap<String, Vec<String>>| {
        seen.borrow_mut().push((own.len(), added.len()));
        Err(Error::Invalid(Resource::User, "too many".into()))
    };
    let refused = s.store_user_attributes(1, "bob", attrs(&[("b", &["2"])]), &refuse, T0 + 2);
    assert!(matches!(refused, Err(Error::Invalid(Resource::User, _))), "{refused:?}");
    assert_eq!(*seen.borrow(), [(1, 1)], "the rule saw the record as stored");
    let u = s.user(1, "bob").unwrap().unwrap();
    assert_eq!((u.attributes, u.updated), (attrs(&[("a", &["1"])]), T0 + 1));
    assert!(s.events_since(&token).unwrap().0.is_empty(), "no event for a refused change");
}

#[test]
fn groups_are_created_updated_and_found_in_any_case() {
    let s = store();
    let g = s.create_group(&group(1, "Devs")).unwrap();
    assert_eq!(s.group(1, "DEVS").unwrap().unwrap(), g);
    assert_exists(s.create_group(&group(1, "devs")), Resource::Group);
    assert_not_found(s.create_group(&group(7, "x")), Resource::Directory);
    let updated = s
        .update_group(
            1,
            "devs",
            |g| {
                g.description = "developers".into();
                g.name = "other".into();
                Ok(())
            },
            T0 + 1,
        )
        .unwrap();
    assert_eq!((updated.name.as_str(), updated.description.as_str()), ("Devs", "developers"));
    assert_eq!(updated.updated, T0 + 1);
    assert_not_found(s.update_group(1, "nope", |_| Ok(()), T0), Resource::Group);
}

#[test]
fn deleting_a_group_removes_it_from_every_membership() {
    let s = store();
    add_users(&s, &["bob"]);
    add_groups(&s, &["top", "mid", "leaf"]);
    s.add_user_to_group(1, "bob", "mid", T0).unwrap();
    s.add_group_to_group(1, "mid", "top", T0).unwrap();
    s.add_group_to_group(1, "leaf", "mid", T0).unwrap();
    s.delete_group(1, "MID", T0).unwrap();
    assert!(s.group(1, "mid").unwrap().is_none());
    assert!(s.direct_groups_of_user(1, "bob").unwrap().is_empty());
    assert!(s.direct_child_groups(1, "top").unwrap().is_empty());
    assert!(s.direct_parent_groups(1, "leaf").unwrap().is_empty());
    // Recreated, it starts empty.
    add_groups(&s, &["mid"]);
    assert!(s.direct_users_of_group(1, "mid").unwrap().is_empty());
    assert!(s.direct_child_groups(1, "mid").unwrap().is_empty());
    assert!(s.direct_parent_groups(1, "mid").unwrap().is_empty());
    assert_not_found(s.delete_group(1, "gone", T0), Resource::Group);
}

#[test]
fn listing_visits_one_directory_in_case_insensitive_order_and_can_stop() {
    let s = store();
    s.create_directory("Other", "INTERNAL", "", T0).unwrap();
    add_users(&s, &["carol", "Bob", "alice", "Dave"]);
    s.create_user(&user(2, "aaron")).unwrap();
    add_groups(&s, &["b", "A"]);
    let mut seen = Vec::new();
    s.for_each_user(1, |u| {
        seen.push(u.name.clone());
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(seen, ["alice", "Bob", "carol", "Dave"]);
    let mut first_two = Vec::new();
    s.for_each_user(1, |u| {
        first_two.push(u.name.clone());
        if first_two.len() == 2 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .unwrap();
    assert_eq!(first_two, ["alice", "Bob"]);
    let mut groups = Vec::new();
    s.for_each_group(1, |g| {
        groups.push(g.name.clone());
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(groups, ["A", "b"]);
    assert_eq!((s.user_count(1).unwrap(), s.user_count(2).unwrap()), (4, 1));
    assert_eq!((s.group_count(1).unwrap(), s.group_count(2).unwrap()), (2, 0));
}

#[test]
fn every_committed_change_moves_the_generation_and_a_refused_one_does_not() {
    let s = store();
    let g0 = s.generation(Topic::Directory);
    add_users(&s, &["bob"]);
    let g1 = s.generation(Topic::Directory);
    assert!(g1 > g0);
    assert!(s.create_user(&user(1, "bob")).is_err());
    assert_eq!(s.generation(Topic::Directory), g1);
    s.user(1, "bob").unwrap();
    assert_eq!(s.generation(Topic::Directory), g1);
}

#[test]
fn the_user_cache_never_serves_a_user_from_before_a_change() {
    let s = store();
    add_users(&s, &["bob"]);
    assert!(s.find_user_in_directory("BOB").unwrap().unwrap().0.active);
    s.update_user(
        1,
        "bob",
        |u| {
            u.active = false;
            Ok(())
        },
        T0,
    )
    .unwrap();
    assert!(!s.find_user_in_directory("bob").unwrap().unwrap().0.active);
    s.delete_user(1, "bob", T0).unwrap();
    assert!(s.find_user_in_directory("bob").unwrap().is_none());
}

/// The events logged since `token`, as changes.
fn changes_since(s: &TempStore, token: &str) -> Vec<Change> {
    s.events_since(token).unwrap().0.into_iter().map(|e| e.change).collect()
}
