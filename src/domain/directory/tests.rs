//! The directory rules over a temporary store.

use super::validate::{self, MAX_LENGTH};
use super::*;
use crate::crypto;
use crate::error::{Error, Resource};
use crate::store::TempStore;

/// Few iterations: these tests check that a hash is made, not how slow it is.
const ITERATIONS: u32 = 10;

fn setup() -> (TempStore, Clock) {
    let store = TempStore::new();
    store.create_directory("Internal", "INTERNAL", "", 1).unwrap();
    (store, Clock::default())
}

fn bob() -> NewUser {
    NewUser {
        name: "Bob".into(),
        first_name: "Bob".into(),
        last_name: "Smith".into(),
        email: "bob@example.com".into(),
        active: true,
        password: Some("s3cret".into()),
        ..Default::default()
    }
}

fn assert_invalid<T: std::fmt::Debug>(r: Result<T>, resource: Resource) {
    match r {
        Err(Error::Invalid(got, _)) if got == resource => {}
        other => panic!("expected Invalid({resource:?}), got {other:?}"),
    }
}

#[test]
fn names_must_be_trimmed_printable_and_not_too_long() {
    let ok = |n: &str| validate::name(Resource::User, "user name", n).is_ok();
    assert!(ok("bob") && ok("Bob Smith") && ok("ünïcødé") && ok(&"x".repeat(MAX_LENGTH)));
    for bad in ["", " bob", "bob ", "\tbob", "b\u{0}ob", "bo\nb", &"x".repeat(MAX_LENGTH + 1)] {
        assert!(!ok(bad), "{bad:?}");
    }
    assert!(validate::text(Resource::Group, "description", "two\nlines\tand a tab").is_ok());
    assert!(validate::text(Resource::Group, "description", "bell\u{7}").is_err());
}

#[test]
fn emails_are_checked_lightly_and_only_when_given() {
    for ok in ["", "a@b", "bob.smith+tag@example.co.uk"] {
        assert!(validate::email(ok).is_ok(), "{ok:?}");
    }
    for bad in ["bob", "@example.com", "bob@", "a@b@c", "bob smith@example.com"] {
        assert!(validate::email(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn a_user_is_created_with_a_hashed_password_or_none() {
    let (store, clock) = setup();
    let d = Directories::new(&store, &clock, ITERATIONS);
    let created = d.create_user(1, bob()).unwrap();
    assert_eq!((created.key.as_str(), created.display_name.as_str()), ("1:bob", "Bob Smith"));
    let hash = created.password_hash.as_deref().unwrap();
    assert!(hash.starts_with("pbkdf2-sha256$10$"), "{hash}");
    assert!(crypto::verify_password("s3cret", hash));
    let no_password =
        d.create_user(1, NewUser { name: "svc".into(), ..Default::default() }).unwrap();
    assert_eq!(no_password.password_hash, None);
    assert_eq!(no_password.display_name, "svc");
    assert!(matches!(d.create_user(1, bob()), Err(Error::AlreadyExists(Resource::User, _))));
    let empty_password = NewUser { name: "x".into(), password: Some(String::new()), ..bob() };
    assert!(matches!(d.create_user(1, empty_password), Err(Error::InvalidCredential(_))));
    assert_invalid(d.create_user(1, NewUser { name: " x".into(), ..bob() }), Resource::User);
    assert_invalid(d.create_user(1, NewUser { email: "nope".into(), ..bob() }), Resource::User);
    let bad_attribute = NewUser {
        name: "y".into(),
        attributes: [(String::new(), vec![])].into_iter().collect(),
        ..bob()
    };
    assert_invalid(d.create_user(1, bad_attribute), Resource::User);
    assert!(store.user(1, "x").unwrap().is_none() && store.user(1, "y").unwrap().is_none());
}

#[test]
fn changes_apply_only_the_fields_given() {
    let (store, clock) = setup();
    let d = Directories::new(&store, &clock, ITERATIONS);
    d.create_user(1, bob()).unwrap();
    let changes = UserChanges {
        email: Some("robert@example.com".into()),
        active: Some(false),
        ..Default::default()
    };
    let changed = d.update_user(1, "bob", changes).unwrap();
    assert_eq!((changed.email.as_str(), changed.active), ("robert@example.com", false));
    assert_eq!((changed.first_name.as_str(), changed.last_name.as_str()), ("Bob", "Smith"));
    assert!(changed.password_hash.is_some());
    let bad = UserChanges { email: Some("no-at-sign".into()), ..Default::default() };
    assert_invalid(d.update_user(1, "bob", bad), Resource::User);
    assert_invalid(d.rename_user(1, "bob", ""), Resource::User);
    assert_eq!(d.rename_user(1, "bob", "Robert").unwrap().key, "1:bob");
}

#[test]
fn passwords_are_changed_and_cleared() {
    let (store, clock) = setup();
    let d = Directories::new(&store, &clock, ITERATIONS);
    d.create_user(1, bob()).unwrap();
    d.set_password(1, "BOB", "n3w").unwrap();
    let hash = store.user(1, "bob").unwrap().unwrap().password_hash.unwrap();
    assert!(crypto::verify_password("n3w", &hash) && !crypto::verify_password("s3cret", &hash));
    assert!(matches!(d.set_password(1, "bob", ""), Err(Error::InvalidCredential(_))));
    assert!(matches!(d.set_password(1, "nobody", "x"), Err(Error::NotFound(Resource::User, _))));
    d.clear_password(1, "bob").unwrap();
    assert_eq!(store.user(1, "bob").unwrap().unwrap().password_hash, None);
}

#[test]
fn groups_need_a_known_type_and_valid_fields() {
    let (store, clock) = setup();
    let d = Directories::new(&store, &clock, ITERATIONS);
    let new = |name: &str, kind: &str| NewGroup {
        name: name.into(),
        kind: kind.into(),
        active: true,
        ..Default::default()
    };
    d.create_group(1, new("devs", "GROUP")).unwrap();
    d.create_group(1, new("role", "LEGACY_ROLE")).unwrap();
    assert_invalid(d.create_group(1, new("x", "group")), Resource::Group);
    assert_invalid(d.create_group(1, new("", "GROUP")), Resource::Group);
    let changes = GroupChanges { description: Some("developers".into()), ..Default::default() };
    let g = d.update_group(1, "DEVS", changes).unwrap();
    assert_eq!((g.description.as_str(), g.kind.as_str(), g.active), ("developers", "GROUP", true));
    let bad = GroupChanges { kind: Some("TEAM".into()), ..Default::default() };
    assert_invalid(d.update_group(1, "devs", bad), Resource::Group);
    // Memberships are dated by the clock and follow the store's rules.
    d.create_user(1, bob()).unwrap();
    d.add_user_to_group(1, "bob", "devs").unwrap();
    d.add_group_to_group(1, "role", "devs").unwrap();
    assert_invalid(d.add_group_to_group(1, "devs", "role"), Resource::Membership);
    assert_eq!(store.nested_groups_of_user(1, "bob").unwrap(), ["devs"]);
    d.remove_group_from_group(1, "role", "devs").unwrap();
    d.remove_user_from_group(1, "bob", "devs").unwrap();
    d.delete_group(1, "devs").unwrap();
    assert!(store.group(1, "devs").unwrap().is_none());
}

/// Two administrators removed at once, each the other's only fellow: one removal must fail,
/// however the two interleave (without one check-and-change at a time, both could pass
/// against the state before either and leave nobody to reach the admin APIs).
#[test]
fn concurrent_removals_of_the_last_two_administrators_leave_one() {
    for round in 0..20 {
        let (store, clock) = setup();
        let dirs = Directories::new(&store, &clock, ITERATIONS);
        let group = NewGroup {
            name: ADMIN_GROUP.into(),
            kind: "GROUP".into(),
            active: true,
            ..Default::default()
        };
        dirs.create_group(ADMIN_DIRECTORY, group).unwrap();
        for name in ["ann", "bob"] {
            dirs.create_user(ADMIN_DIRECTORY, NewUser { name: name.into(), ..bob() }).unwrap();
            dirs.add_user_to_group(ADMIN_DIRECTORY, name, ADMIN_GROUP).unwrap();
        }
        let start = std::sync::Barrier::new(2);
        let removed = std::thread::scope(|s| {
            let remove = |name: &'static str| {
                let (dirs, start) = (&dirs, &start);
                s.spawn(move || {
                    start.wait();
                    dirs.delete_user(ADMIN_DIRECTORY, name).is_ok()
                })
            };
            let (a, b) = (remove("ann"), remove("bob"));
            [a.join().unwrap(), b.join().unwrap()]
        });
        assert_eq!(removed.iter().filter(|r| **r).count(), 1, "round {round}: {removed:?}");
    }
}
