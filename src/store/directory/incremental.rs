//! A remote directory's changes applied in one transaction: what an incremental
//! synchronisation of a Crowd directory writes, from the server's `/event/{token}` answers
//! (issue: directory sync over OAuth 2.0). The changes and the token that follows them are
//! written together, so a sync interrupted anywhere leaves the directory and its token as they
//! were, and the next sync asks again from the same place.
//!
//! Each change says how an entity is *now* (Crowd renders an event's entity at the time it is
//! read), so applying one twice is harmless. A change that does not fit what is here (a
//! membership naming a user this directory does not have) fails the whole batch with
//! `UnknownReference`: the caller then synchronises in full, which is always correct.

use super::groups::remove_group;
use super::snapshot::{finish, write_group, write_user, Applied};
use super::users::remove_user;
use super::{events, fold};
use crate::error::{Error, Resource, Result};
use crate::store::records::{Change, GroupRecord, Millis, SyncStatus, UserRecord};
use crate::store::tables::*;
use crate::store::{decode, Store, Topic};
use redb::{ReadableTable, TableDefinition, WriteTransaction};
use std::collections::BTreeMap;

/// One change the other server reports, by entity name in any case.
#[derive(Debug, Clone, PartialEq)]
pub enum RemoteChange {
    /// A user created or updated: the user as it is now.
    User(UserRecord, AttributeUpdate),
    UserDeleted(String),
    /// A group created or updated: the group as it is now.
    Group(GroupRecord, AttributeUpdate),
    GroupDeleted(String),
    /// `user` is now a direct member of each of `groups`, or no longer (`added` false).
    UserMemberships {
        user: String,
        groups: Vec<String>,
        added: bool,
    },
    /// `user`'s direct groups are exactly `groups` (Crowd's "absolute" membership event,
    /// which follows a rename).
    UserGroupsExactly {
        user: String,
        groups: Vec<String>,
    },
    /// `child` is now a direct member of `parent`, or no longer.
    GroupMembership {
        child: String,
        parent: String,
        added: bool,
    },
}

/// How a changed entity's attributes are given.
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeUpdate {
    /// The entity carries all of them.
    Whole,
    /// `stored` are set (replacing their values) and `deleted` removed; the rest stay.
    Delta { stored: BTreeMap<String, Vec<String>>, deleted: Vec<String> },
}

impl AttributeUpdate {
    /// `new`'s attributes once this update is applied over `old`'s.
    fn over(
        &self,
        old: Option<&BTreeMap<String, Vec<String>>>,
        new: &BTreeMap<String, Vec<String>>,
    ) -> BTreeMap<String, Vec<String>> {
        match self {
            AttributeUpdate::Whole => new.clone(),
            AttributeUpdate::Delta { stored, deleted } => {
                let mut out = old.cloned().unwrap_or_default();
                out.retain(|k, _| !deleted.contains(k));
                out.extend(stored.iter().map(|(k, v)| (k.clone(), v.clone())));
                out
            }
        }
    }
}

impl Store {
    /// Applies `changes` to directory `dir` in one transaction, with `token` (the server's
    /// token after them) as where the next incremental sync starts, and `running` (the
    /// sync's status) recorded as succeeded; see the module.
    pub fn apply_changes(
        &self,
        dir: u64,
        changes: &[RemoteChange],
        token: &str,
        running: Option<&SyncStatus>,
        now: Millis,
    ) -> Result<Applied> {
        let apply_all = |txn: &WriteTransaction| {
            super::require_directory(txn, dir)?;
            let mut applied = Applied::default();
            for change in changes {
                apply(txn, dir, change, now, &mut applied)?;
            }
            finish(txn, dir, Some(token), running, applied, now)?;
            Ok(applied)
        };
        if !changes.is_empty() {
            return self.change(Topic::Directory, apply_all);
        }
        // Nothing changed: no change notice either, so that a quiet sync on every interval
        // does not empty the caches that key off it.
        let txn = self.write()?;
        let applied = apply_all(&txn)?;
        txn.commit()?;
        Ok(applied)
    }
}

fn stored<T: serde::de::DeserializeOwned>(
    txn: &WriteTransaction,
    table: TableDefinition<'static, (u64, &'static str), &'static [u8]>,
    dir: u64,
    name: &str,
) -> Result<Option<T>> {
    let t = txn.open_table(table)?;
    let found = t.get((dir, fold(name).as_str()))?;
    found.map(|v| decode(v.value())).transpose()
}

/// The stored name (as written) of user `name`, or `UnknownReference`.
fn user_name(txn: &WriteTransaction, dir: u64, name: &str) -> Result<String> {
    let user: Option<UserRecord> = stored(txn, USERS, dir, name)?;
    user.map(|u| u.name).ok_or_else(|| Error::UnknownReference(Resource::User, name.into()))
}

/// The stored name (as written) of group `name`, or `UnknownReference`.
fn group_name(txn: &WriteTransaction, dir: u64, name: &str) -> Result<String> {
    let group: Option<GroupRecord> = stored(txn, GROUPS, dir, name)?;
    group.map(|g| g.name).ok_or_else(|| Error::UnknownReference(Resource::Group, name.into()))
}

/// Adds or removes the link `(a, b)` of `forward` and its mirror in `backward`; whether it
/// changed anything.
fn set_link(
    txn: &WriteTransaction,
    (forward, backward): (LinkTable, LinkTable),
    dir: u64,
    (a, b): (&str, &str),
    present: bool,
) -> Result<bool> {
    let (a, b) = (fold(a), fold(b));
    let mut forward = txn.open_table(forward)?;
    let mut backward = txn.open_table(backward)?;
    let changed = if present {
        backward.insert((dir, b.as_str(), a.as_str()), ())?;
        forward.insert((dir, a.as_str(), b.as_str()), ())?.is_none()
    } else {
        backward.remove((dir, b.as_str(), a.as_str()))?;
        forward.remove((dir, a.as_str(), b.as_str()))?.is_some()
    };
    Ok(changed)
}

type LinkTable = TableDefinition<'static, (u64, &'static str, &'static str), ()>;

/// (group → user, user → group)
const USER_LINKS: (LinkTable, LinkTable) = (GROUP_USERS, USER_GROUPS);
/// (parent → child, child → parent)
const GROUP_LINKS: (LinkTable, LinkTable) = (GROUP_CHILDREN, GROUP_PARENTS);

fn apply(
    txn: &WriteTransaction,
    dir: u64,
    change: &RemoteChange,
    now: Millis,
    applied: &mut Applied,
) -> Result<()> {
    let log = |change| events::append(txn, now, dir, change).map(drop);
    match change {
        RemoteChange::User(new, update) => {
            let old: Option<UserRecord> = stored(txn, USERS, dir, &new.name)?;
            let attributes = update.over(old.as_ref().map(|u| &u.attributes), &new.attributes);
            let new = UserRecord { attributes, ..new.clone() };
            applied.count(write_user(txn, dir, old.as_ref(), &new, now)?);
        }
        RemoteChange::Group(new, update) => {
            let old: Option<GroupRecord> = stored(txn, GROUPS, dir, &new.name)?;
            let attributes = update.over(old.as_ref().map(|g| &g.attributes), &new.attributes);
            let new = GroupRecord { attributes, ..new.clone() };
            applied.count(write_group(txn, dir, old.as_ref(), &new, now)?);
        }
        RemoteChange::UserDeleted(name) => {
            if stored::<UserRecord>(txn, USERS, dir, name)?.is_some() {
                let user = remove_user(txn, dir, name)?;
                log(Change::UserDeleted { name: user.name })?;
                applied.removed += 1;
            }
        }
        RemoteChange::GroupDeleted(name) => {
            if stored::<GroupRecord>(txn, GROUPS, dir, name)?.is_some() {
                let group = remove_group(txn, dir, name)?;
                log(Change::GroupDeleted { name: group.name })?;
                applied.removed += 1;
            }
        }
        RemoteChange::UserMemberships { user, groups, added } => {
            let user = user_name(txn, dir, user)?;
            for group in groups {
                let group = group_name(txn, dir, group)?;
                if set_link(txn, USER_LINKS, dir, (&group, &user), *added)? {
                    let user = user.clone();
                    if *added {
                        log(Change::UserMembershipAdded { user, group })?;
                        applied.added += 1;
                    } else {
                        log(Change::UserMembershipRemoved { user, group })?;
                        applied.removed += 1;
                    }
                }
            }
        }
        RemoteChange::UserGroupsExactly { user, groups } => {
            let name = user_name(txn, dir, user)?;
            let mut wanted = Vec::new();
            for group in groups {
                wanted.push(group_name(txn, dir, group)?);
            }
            let lc = fold(&name);
            let have: Vec<String> = {
                let t = txn.open_table(USER_GROUPS)?;
                let range = t.range((dir, lc.as_str(), "")..)?;
                let mut have = Vec::new();
                for entry in range {
                    let (k, _) = entry?;
                    let (d, u, g) = k.value();
                    if d != dir || u != lc {
                        break;
                    }
                    have.push(g.to_string());
                }
                have
            };
            let wanted_lc: Vec<String> = wanted.iter().map(|g| fold(g)).collect();
            for g in have.iter().filter(|g| !wanted_lc.contains(g)) {
                let group = group_name(txn, dir, g)?;
                set_link(txn, USER_LINKS, dir, (g, &name), false)?;
                log(Change::UserMembershipRemoved { user: name.clone(), group })?;
                applied.removed += 1;
            }
            for group in wanted {
                if set_link(txn, USER_LINKS, dir, (&group, &name), true)? {
                    log(Change::UserMembershipAdded { user: name.clone(), group })?;
                    applied.added += 1;
                }
            }
        }
        RemoteChange::GroupMembership { child, parent, added } => {
            let child = group_name(txn, dir, child)?;
            let parent = group_name(txn, dir, parent)?;
            if set_link(txn, GROUP_LINKS, dir, (&parent, &child), *added)? {
                if *added {
                    log(Change::GroupMembershipAdded { child, parent })?;
                    applied.added += 1;
                } else {
                    log(Change::GroupMembershipRemoved { child, parent })?;
                    applied.removed += 1;
                }
            }
        }
    }
    Ok(())
}
