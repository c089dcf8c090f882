//! Memberships: changes and their errors, cycle refusal, nested walks, the bulk listing.

use super::*;

fn nest(s: &TempStore, child: &str, parent: &str) {
    s.add_group_to_group(1, child, parent, T0).unwrap();
}

fn assert_cycle(r: crate::error::Result<()>) {
    match r {
        Err(Error::Invalid(Resource::Membership, m)) if m.contains("cycle") => {}
        other => panic!("expected a cycle refusal, got {other:?}"),
    }
}

#[test]
fn user_memberships_are_added_and_removed_with_the_right_errors() {
    let s = store();
    add_users(&s, &["Bob"]);
    add_groups(&s, &["Devs"]);
    s.add_user_to_group(1, "bob", "DEVS", T0).unwrap();
    assert!(s.is_direct_member(1, "devs", "BOB").unwrap());
    assert_exists(s.add_user_to_group(1, "BOB", "devs", T0), Resource::Membership);
    assert_not_found(s.add_user_to_group(1, "nobody", "devs", T0), Resource::User);
    assert_not_found(s.add_user_to_group(1, "bob", "nogroup", T0), Resource::Group);
    // The user is looked for first.
    assert_not_found(s.add_user_to_group(1, "nobody", "nogroup", T0), Resource::User);
    s.remove_user_from_group(1, "BOB", "devs", T0).unwrap();
    assert!(!s.is_direct_member(1, "devs", "bob").unwrap());
    assert_not_found(s.remove_user_from_group(1, "bob", "devs", T0), Resource::Membership);
    assert_not_found(s.remove_user_from_group(1, "nobody", "devs", T0), Resource::User);
    assert_not_found(s.remove_user_from_group(1, "bob", "nogroup", T0), Resource::Group);
}

#[test]
fn group_memberships_are_added_and_removed_with_the_right_errors() {
    let s = store();
    add_groups(&s, &["Parent", "Child"]);
    nest(&s, "child", "PARENT");
    assert!(s.is_direct_group_member(1, "CHILD", "parent").unwrap());
    assert_eq!(s.direct_child_groups(1, "parent").unwrap(), ["Child"]);
    assert_eq!(s.direct_parent_groups(1, "child").unwrap(), ["Parent"]);
    assert_exists(s.add_group_to_group(1, "Child", "parent", T0), Resource::Membership);
    // The parent is looked for first.
    match s.add_group_to_group(1, "nochild", "noparent", T0) {
        Err(Error::NotFound(Resource::Group, name)) => assert_eq!(name, "noparent"),
        other => panic!("{other:?}"),
    }
    match s.add_group_to_group(1, "nochild", "parent", T0) {
        Err(Error::NotFound(Resource::Group, name)) => assert_eq!(name, "nochild"),
        other => panic!("{other:?}"),
    }
    s.remove_group_from_group(1, "CHILD", "parent", T0).unwrap();
    assert!(!s.is_direct_group_member(1, "child", "parent").unwrap());
    assert!(s.direct_parent_groups(1, "child").unwrap().is_empty());
    assert_not_found(s.remove_group_from_group(1, "child", "parent", T0), Resource::Membership);
    assert_not_found(s.remove_group_from_group(1, "child", "nope", T0), Resource::Group);
}

#[test]
fn a_membership_that_would_make_a_cycle_is_refused() {
    let s = store();
    add_groups(&s, &["a", "b", "c", "d"]);
    // Itself, in any case.
    assert_cycle(s.add_group_to_group(1, "a", "A", T0));
    // Two groups in each other.
    nest(&s, "a", "b");
    assert_cycle(s.add_group_to_group(1, "b", "a", T0));
    // A longer loop: a ⊂ b ⊂ c ⊂ d, then d ⊂ a.
    nest(&s, "b", "c");
    nest(&s, "c", "d");
    assert_cycle(s.add_group_to_group(1, "d", "a", T0));
    assert_cycle(s.add_group_to_group(1, "c", "b", T0));
    // Shortcuts down the chain are no cycle.
    nest(&s, "a", "d");
    nest(&s, "a", "c");
    assert!(s.direct_child_groups(1, "a").unwrap().is_empty());
    assert_eq!(s.direct_parent_groups(1, "a").unwrap(), ["b", "c", "d"]);
}

/// top has left and right; both have bottom; bob is in bottom, ann in left.
fn diamond() -> TempStore {
    let s = store();
    add_users(&s, &["bob", "Ann"]);
    add_groups(&s, &["Top", "left", "Right", "bottom"]);
    nest(&s, "left", "top");
    nest(&s, "right", "top");
    nest(&s, "bottom", "left");
    nest(&s, "bottom", "right");
    s.add_user_to_group(1, "bob", "bottom", T0).unwrap();
    s.add_user_to_group(1, "ann", "left", T0).unwrap();
    s
}

#[test]
fn nested_walks_over_a_diamond_reach_everything_once() {
    let s = diamond();
    assert_eq!(s.direct_groups_of_user(1, "BOB").unwrap(), ["bottom"]);
    assert_eq!(s.nested_groups_of_user(1, "bob").unwrap(), ["bottom", "left", "Right", "Top"]);
    assert_eq!(s.nested_groups_of_user(1, "ann").unwrap(), ["left", "Top"]);
    assert!(s.direct_users_of_group(1, "top").unwrap().is_empty());
    assert_eq!(s.nested_users_of_group(1, "top").unwrap(), ["Ann", "bob"]);
    assert_eq!(s.nested_users_of_group(1, "right").unwrap(), ["bob"]);
    assert_eq!(s.direct_child_groups(1, "top").unwrap(), ["left", "Right"]);
    assert_eq!(s.nested_child_groups(1, "TOP").unwrap(), ["bottom", "left", "Right"]);
    assert_eq!(s.direct_parent_groups(1, "bottom").unwrap(), ["left", "Right"]);
    assert_eq!(s.nested_parent_groups(1, "bottom").unwrap(), ["left", "Right", "Top"]);
    assert!(s.nested_child_groups(1, "bottom").unwrap().is_empty());
    assert!(s.nested_parent_groups(1, "top").unwrap().is_empty());
    assert!(s.is_nested_user_member(1, "bob", "TOP").unwrap());
    assert!(s.is_nested_user_member(1, "bob", "bottom").unwrap());
    assert!(!s.is_nested_user_member(1, "ann", "right").unwrap());
    assert!(!s.is_direct_member(1, "top", "bob").unwrap());
    assert!(s.is_nested_group_member(1, "bottom", "top").unwrap());
    assert!(!s.is_nested_group_member(1, "top", "bottom").unwrap());
    assert!(!s.is_nested_group_member(1, "left", "right").unwrap());
    assert!(!s.is_direct_group_member(1, "bottom", "top").unwrap());
    // Unknown names are no member of anything, and lists of them are NotFound.
    assert!(!s.is_nested_user_member(1, "nobody", "top").unwrap());
    assert!(!s.is_nested_group_member(1, "nothing", "top").unwrap());
    assert_not_found(s.nested_groups_of_user(1, "nobody"), Resource::User);
    assert_not_found(s.nested_users_of_group(1, "nothing"), Resource::Group);
    assert_not_found(s.nested_child_groups(1, "nothing"), Resource::Group);
    assert_not_found(s.direct_parent_groups(1, "nothing"), Resource::Group);
}

#[test]
fn nested_walks_follow_a_chain_six_deep() {
    let s = store();
    add_users(&s, &["bob"]);
    let names: Vec<String> = (0..=6).map(|i| format!("g{i}")).collect();
    for n in &names {
        add_groups(&s, &[n.as_str()]);
    }
    for pair in names.windows(2) {
        nest(&s, &pair[0], &pair[1]);
    }
    s.add_user_to_group(1, "bob", "g0", T0).unwrap();
    assert_eq!(s.nested_groups_of_user(1, "bob").unwrap(), names);
    assert!(s.is_nested_user_member(1, "bob", "g6").unwrap());
    assert_eq!(s.nested_users_of_group(1, "g6").unwrap(), ["bob"]);
    assert_eq!(s.nested_child_groups(1, "g6").unwrap(), names[..6]);
    assert_eq!(s.nested_parent_groups(1, "g0").unwrap(), names[1..]);
    assert!(s.is_nested_group_member(1, "g0", "g6").unwrap());
    assert_cycle(s.add_group_to_group(1, "g6", "g0", T0));
}

#[test]
fn the_bulk_listing_has_every_group_with_its_direct_members_only() {
    let s = diamond();
    add_groups(&s, &["Empty"]);
    let mut seen = Vec::new();
    s.for_each_group_memberships(1, |g, users, groups| {
        seen.push((g.to_string(), users.to_vec(), groups.to_vec()));
    })
    .unwrap();
    let row = |g: &str, u: &[&str], c: &[&str]| {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        (g.to_string(), strings(u), strings(c))
    };
    assert_eq!(
        seen,
        [
            row("bottom", &["bob"], &[]),
            row("Empty", &[], &[]),
            row("left", &["Ann"], &["bottom"]),
            row("Right", &[], &["bottom"]),
            row("Top", &[], &["left", "Right"]),
        ]
    );
}

#[test]
fn memberships_stay_inside_their_directory() {
    let s = store();
    s.create_directory("Two", "INTERNAL", "", T0).unwrap();
    add_users(&s, &["bob"]);
    add_groups(&s, &["devs"]);
    s.create_group(&group(2, "devs")).unwrap();
    s.create_user(&user(2, "bob")).unwrap();
    s.add_user_to_group(1, "bob", "devs", T0).unwrap();
    assert!(!s.is_direct_member(2, "devs", "bob").unwrap());
    assert!(s.direct_users_of_group(2, "devs").unwrap().is_empty());
    assert_eq!(s.user(2, "bob").unwrap().unwrap().key, "2:bob");
}
