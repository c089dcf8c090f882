//! A remote directory's snapshot applied whole: the directory becomes it, every change logged,
//! nothing changed by a snapshot that contradicts itself.

use super::*;
use crate::store::directory::snapshot::{Applied, Snapshot};

fn snapshot(
    users: &[&str],
    groups: &[&str],
    members: &[(&str, &str)],
    nested: &[(&str, &str)],
) -> Snapshot {
    let pairs =
        |l: &[(&str, &str)]| l.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    Snapshot {
        users: users.iter().map(|n| user(2, n)).collect(),
        groups: groups.iter().map(|n| group(2, n)).collect(),
        user_memberships: pairs(members),
        group_memberships: pairs(nested),
    }
}

fn remote(s: &TempStore) -> u64 {
    s.create_directory("Remote", "CROWD", "", T0).unwrap().id
}

#[test]
fn a_snapshot_makes_the_directory_equal_and_logs_each_change() {
    let s = store();
    let dir = remote(&s);
    let first = snapshot(
        &["ann", "Bob"],
        &["devs", "ops"],
        &[("ann", "devs"), ("BOB", "devs")],
        &[("devs", "ops")],
    );
    let token = s.event_token().unwrap();
    assert_eq!(
        s.apply_snapshot(dir, &first, None, None, T0 + 1).unwrap(),
        Applied { added: 7, updated: 0, removed: 0 }
    );
    assert_eq!(s.events_since(&token).unwrap().0.len(), 7);
    assert_eq!(s.direct_users_of_group(dir, "devs").unwrap(), ["ann", "Bob"]);
    assert_eq!(s.nested_groups_of_user(dir, "bob").unwrap(), ["devs", "ops"]);
    let ann_key = s.user(dir, "ann").unwrap().unwrap().key;

    // The same again changes nothing and logs nothing.
    let token = s.event_token().unwrap();
    assert_eq!(s.apply_snapshot(dir, &first, None, None, T0 + 2).unwrap(), Applied::default());
    assert!(s.events_since(&token).unwrap().0.is_empty());

    // Then: ann's mail changes, Bob goes (with his membership), cid comes into ops, devs
    // leaves ops, and a group is added.
    let mut next =
        snapshot(&["ann", "cid"], &["devs", "ops", "qa"], &[("ann", "devs"), ("cid", "ops")], &[]);
    next.users[0].email = "ann@new.example.com".into();
    let applied = s.apply_snapshot(dir, &next, None, None, T0 + 3).unwrap();
    // added: cid, qa, cid∈ops; updated: ann; removed: Bob (and his membership with him), devs⊂ops
    assert_eq!(applied, Applied { added: 3, updated: 1, removed: 2 });
    let ann = s.user(dir, "ann").unwrap().unwrap();
    assert_eq!(
        (ann.email.as_str(), ann.key.as_str(), ann.updated),
        ("ann@new.example.com", ann_key.as_str(), T0 + 3)
    );
    assert!(s.user(dir, "bob").unwrap().is_none());
    assert_eq!(s.direct_users_of_group(dir, "devs").unwrap(), ["ann"]);
    assert!(s.direct_child_groups(dir, "ops").unwrap().is_empty());
    assert_eq!(s.user_count(dir).unwrap(), 2);
    // The other directory is untouched.
    assert_eq!(s.user_count(1).unwrap(), 0);
}

#[test]
fn a_snapshot_that_names_nobody_changes_nothing() {
    let s = store();
    let dir = remote(&s);
    s.apply_snapshot(dir, &snapshot(&["ann"], &["devs"], &[("ann", "devs")], &[]), None, None, T0)
        .unwrap();
    let token = s.event_token().unwrap();
    for bad in [
        snapshot(&["bob"], &["devs"], &[("ghost", "devs")], &[]),
        snapshot(&["bob"], &["devs"], &[("bob", "nowhere")], &[]),
        snapshot(&["bob"], &["devs"], &[], &[("devs", "nowhere")]),
    ] {
        assert!(s.apply_snapshot(dir, &bad, None, None, T0 + 1).is_err());
    }
    assert!(s.user(dir, "ann").unwrap().is_some() && s.user(dir, "bob").unwrap().is_none());
    assert_eq!(s.direct_users_of_group(dir, "devs").unwrap(), ["ann"]);
    assert!(s.events_since(&token).unwrap().0.is_empty(), "all or nothing");
    assert!(matches!(
        s.apply_snapshot(99, &Snapshot::default(), None, None, T0),
        Err(Error::NotFound(Resource::Directory, _))
    ));
}

#[test]
fn changes_apply_all_or_nothing_with_their_token_and_again_harmlessly() {
    use crate::store::directory::incremental::{AttributeUpdate, RemoteChange};
    let s = store();
    let dir = remote(&s);
    s.apply_snapshot(dir, &snapshot(&["ann"], &["devs"], &[], &[]), Some("t1"), None, T0).unwrap();
    assert_eq!(s.sync_token(dir).unwrap().as_deref(), Some("t1"));
    let mut bob = user(dir, "bob");
    bob.attributes.insert("team".into(), vec!["core".into()]);
    let changes = [
        RemoteChange::User(bob.clone(), AttributeUpdate::Whole),
        RemoteChange::UserMemberships {
            user: "BOB".into(),
            groups: vec!["devs".into()],
            added: true,
        },
        RemoteChange::UserGroupsExactly { user: "ann".into(), groups: vec!["devs".into()] },
        RemoteChange::User(
            user(dir, "ann"),
            AttributeUpdate::Delta {
                stored: [("desk".to_string(), vec!["12".to_string()])].into(),
                deleted: vec![],
            },
        ),
    ];
    let applied = s.apply_changes(dir, &changes, "t2", None, T0 + 1).unwrap();
    assert_eq!(applied, Applied { added: 3, updated: 1, removed: 0 });
    assert_eq!(s.direct_users_of_group(dir, "devs").unwrap(), ["ann", "bob"]);
    assert_eq!(s.user(dir, "ann").unwrap().unwrap().attributes["desk"], ["12"]);
    assert_eq!(s.sync_token(dir).unwrap().as_deref(), Some("t2"));
    // The same changes again change nothing.
    assert_eq!(s.apply_changes(dir, &changes, "t3", None, T0 + 2).unwrap(), Applied::default());
    // No changes at all move the token only, and no change notice (caches stay warm).
    let generation = s.generation(Topic::Directory);
    s.apply_changes(dir, &[], "t3", None, T0 + 2).unwrap();
    assert_eq!(s.generation(Topic::Directory), generation);

    // A change that does not fit (a member nobody here is) fails the batch, token and all.
    let event = s.event_token().unwrap();
    let bad = [
        RemoteChange::UserDeleted("ann".into()),
        RemoteChange::UserMemberships {
            user: "ghost".into(),
            groups: vec!["devs".into()],
            added: true,
        },
    ];
    assert!(matches!(
        s.apply_changes(dir, &bad, "t4", None, T0 + 3),
        Err(Error::UnknownReference(Resource::User, _))
    ));
    assert!(s.user(dir, "ann").unwrap().is_some(), "all or nothing");
    assert_eq!(s.sync_token(dir).unwrap().as_deref(), Some("t3"));
    assert!(s.events_since(&event).unwrap().0.is_empty());
}
