//! The change log: one event per change, in the change's transaction; tokens and expiry.

use super::*;

#[test]
fn every_change_logs_its_event_and_a_refused_one_logs_nothing() {
    let s = store();
    let start = s.event_token().unwrap();
    add_users(&s, &["Bob"]);
    add_groups(&s, &["Devs", "All"]);
    s.update_user(1, "bob", |_| Ok(()), T0).unwrap();
    s.rename_user(1, "bob", "Robert", T0).unwrap();
    s.store_user_attributes(1, "robert", attrs(&[("a", &["1"])]), &any, T0).unwrap();
    s.delete_user_attribute(1, "robert", "a", T0).unwrap();
    s.delete_user_attribute(1, "robert", "a", T0).unwrap(); // nothing to delete: no event
    s.update_group(1, "devs", |_| Ok(()), T0).unwrap();
    s.store_group_attributes(1, "devs", attrs(&[("k", &["v"])]), &any, T0).unwrap();
    s.delete_group_attribute(1, "devs", "k", T0).unwrap();
    s.add_user_to_group(1, "robert", "devs", T0).unwrap();
    s.add_group_to_group(1, "devs", "all", T0).unwrap();
    assert!(s.add_group_to_group(1, "all", "devs", T0).is_err()); // a cycle: no event
    assert!(s.create_user(&user(1, "robert")).is_err()); // taken: no event
    s.remove_group_from_group(1, "devs", "all", T0).unwrap();
    s.remove_user_from_group(1, "robert", "devs", T0).unwrap();
    s.delete_user(1, "robert", T0).unwrap();
    s.delete_group(1, "devs", T0).unwrap();
    let name = |n: &str| n.to_string();
    let none = Vec::<String>::new;
    assert_eq!(
        changes_since(&s, &start),
        [
            Change::UserCreated { name: name("Bob") },
            Change::GroupCreated { name: name("Devs") },
            Change::GroupCreated { name: name("All") },
            Change::UserUpdated { name: name("Bob") },
            Change::UserRenamed { old: name("Bob"), new: name("Robert") },
            Change::UserAttributesChanged {
                name: name("Robert"),
                stored: vec![name("a")],
                deleted: none()
            },
            Change::UserAttributesChanged {
                name: name("Robert"),
                stored: none(),
                deleted: vec![name("a")]
            },
            Change::GroupUpdated { name: name("Devs") },
            Change::GroupAttributesChanged {
                name: name("Devs"),
                stored: vec![name("k")],
                deleted: none()
            },
            Change::GroupAttributesChanged {
                name: name("Devs"),
                stored: none(),
                deleted: vec![name("k")]
            },
            Change::UserMembershipAdded { user: name("Robert"), group: name("Devs") },
            Change::GroupMembershipAdded { child: name("Devs"), parent: name("All") },
            Change::GroupMembershipRemoved { child: name("Devs"), parent: name("All") },
            Change::UserMembershipRemoved { user: name("Robert"), group: name("Devs") },
            Change::UserDeleted { name: name("Robert") },
            Change::GroupDeleted { name: name("Devs") },
        ]
    );
}

#[test]
fn a_token_round_trips_and_events_carry_their_directory_time_and_order() {
    let s = store();
    let t0 = s.event_token().unwrap();
    let (none, same) = s.events_since(&t0).unwrap();
    assert!(none.is_empty());
    assert_eq!(same, t0);
    s.create_user(&UserRecord { created: T0 + 7, ..user(1, "bob") }).unwrap();
    add_groups(&s, &["devs"]);
    let (events, t1) = s.events_since(&t0).unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!((events[0].directory_id, events[0].at), (1, T0 + 7));
    assert_eq!(events[1].seq, events[0].seq + 1);
    assert_eq!(t1, s.event_token().unwrap());
    s.add_user_to_group(1, "bob", "devs", T0 + 9).unwrap();
    let (events, t2) = s.events_since(&t1).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].at, T0 + 9);
    assert!(s.events_since(&t2).unwrap().0.is_empty());
    // Asking again with an older token repeats what came after it.
    assert_eq!(s.events_since(&t0).unwrap().0.len(), 3);
}

#[test]
fn a_token_older_than_the_log_kept_is_expired_after_a_trim() {
    let s = store();
    let t0 = s.event_token().unwrap();
    add_users(&s, &["a", "b", "c"]);
    let t3 = s.event_token().unwrap();
    add_users(&s, &["d", "e"]);
    assert_eq!(s.trim_events(10).unwrap(), 0);
    assert_eq!(s.trim_events(2).unwrap(), 3);
    assert_eq!(s.event_count().unwrap(), 2);
    assert!(matches!(s.events_since(&t0), Err(Error::EventTokenExpired)));
    // Exactly at the boundary: everything after it is still kept.
    assert_eq!(s.events_since(&t3).unwrap().0.len(), 2);
    // Trimmed to nothing, the latest token still works and the rest are expired.
    let latest = s.event_token().unwrap();
    assert_eq!(s.trim_events(0).unwrap(), 2);
    assert!(s.events_since(&latest).unwrap().0.is_empty());
    assert!(matches!(s.events_since(&t3), Err(Error::EventTokenExpired)));
    add_users(&s, &["f"]);
    assert_eq!(s.events_since(&latest).unwrap().0.len(), 1);
}

#[test]
fn tokens_from_another_store_the_future_or_nowhere_are_expired() {
    let s = store();
    let other = store();
    add_users(&s, &["bob"]);
    let foreign = other.event_token().unwrap();
    assert!(matches!(s.events_since(&foreign), Err(Error::EventTokenExpired)));
    let ours = s.event_token().unwrap();
    let (id, seq) = ours.split_once(':').unwrap();
    let future = format!("{id}:{}", seq.parse::<u64>().unwrap() + 1);
    assert!(matches!(s.events_since(&future), Err(Error::EventTokenExpired)));
    for malformed in
        ["", "x", ":", "abc:1", &format!("{id}:"), &format!("{id}:-1"), &format!("{id}:1:2")]
    {
        assert!(
            matches!(s.events_since(malformed), Err(Error::EventTokenExpired)),
            "{malformed:?}"
        );
    }
}
