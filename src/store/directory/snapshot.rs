//! A remote directory's whole state applied in one transaction: what a full synchronisation
//! of a Crowd directory writes (issue: directory sync over OAuth 2.0). The directory becomes
//! exactly the snapshot: users, groups and memberships it lacks are added, those it has
//! differently are updated, those the snapshot lacks are removed, each change logged as its
//! own event (so this server's own syncing clients follow incrementally), all or nothing: a
//! directory is never half-synced, and a snapshot that contradicts itself (a membership naming
//! nobody) changes nothing.
//!
//! What a synced user keeps of its own: its key, its creation time, and no password (synced
//! users authenticate against the server they come from).

use super::groups::{insert_group, remove_group};
use super::users::{insert_user, remove_user};
use super::{events, fold};
use crate::error::{Error, Resource, Result};
use crate::store::records::{Change, GroupRecord, Millis, SyncStatus, UserRecord};
use crate::store::tables::*;
use crate::store::{decode, encode, Store, Topic};
use redb::{ReadableTable, WriteTransaction};
use std::collections::{BTreeMap, BTreeSet};

/// A directory's state as another server has it. Memberships name users and groups by name,
/// in any case; each must be in the snapshot.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    pub users: Vec<UserRecord>,
    pub groups: Vec<GroupRecord>,
    /// (user, group)
    pub user_memberships: Vec<(String, String)>,
    /// (child, parent)
    pub group_memberships: Vec<(String, String)>,
}

/// What applying a snapshot changed, entities and memberships together.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub added: usize,
    pub updated: usize,
    pub removed: usize,
}

/// What of a user the other server decides.
fn same_user(a: &UserRecord, b: &UserRecord) -> bool {
    (&a.name, &a.first_name, &a.last_name, &a.display_name, &a.email, a.active, &a.attributes)
        == (
            &b.name,
            &b.first_name,
            &b.last_name,
            &b.display_name,
            &b.email,
            b.active,
            &b.attributes,
        )
}

/// What of a group the other server decides.
fn same_group(a: &GroupRecord, b: &GroupRecord) -> bool {
    (&a.name, &a.description, &a.kind, a.active, &a.attributes)
        == (&b.name, &b.description, &b.kind, b.active, &b.attributes)
}

/// Every record of `dir` in `table`, by folded name.
fn all<T: serde::de::DeserializeOwned>(
    txn: &WriteTransaction,
    table: redb::TableDefinition<'static, (u64, &'static str), &'static [u8]>,
    dir: u64,
) -> Result<BTreeMap<String, T>> {
    let t = txn.open_table(table)?;
    let mut out = BTreeMap::new();
    for entry in t.range((dir, "")..)? {
        let (k, v) = entry?;
        if k.value().0 != dir {
            break;
        }
        out.insert(k.value().1.to_string(), decode(v.value())?);
    }
    Ok(out)
}

/// Every link of `dir` in `table` as (from, to), folded names.
fn links(
    txn: &WriteTransaction,
    table: redb::TableDefinition<'static, (u64, &'static str, &'static str), ()>,
    dir: u64,
) -> Result<BTreeSet<(String, String)>> {
    let t = txn.open_table(table)?;
    let mut out = BTreeSet::new();
    for entry in t.range((dir, "", "")..)? {
        let (k, _) = entry?;
        let (d, from, to) = k.value();
        if d != dir {
            break;
        }
        out.insert((from.to_string(), to.to_string()));
    }
    Ok(out)
}

/// What writing one entity from the other server did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Written {
    Added,
    Updated,
    Same,
}

impl Applied {
    pub fn counts(self) -> (usize, usize, usize) {
        (self.added, self.updated, self.removed)
    }

    pub(super) fn count(&mut self, written: Written) {
        match written {
            Written::Added => self.added += 1,
            Written::Updated => self.updated += 1,
            Written::Same => {}
        }
    }
}

/// Within `txn`: makes user `new` of `dir` as the other server has it, over `old` (what is
/// stored under its name, if anything), logging the change. A new user gets a key here and no
/// password; a known one keeps its key, creation time and sessions.
pub(super) fn write_user(
    txn: &WriteTransaction,
    dir: u64,
    old: Option<&UserRecord>,
    new: &UserRecord,
    now: Millis,
) -> Result<Written> {
    match old {
        None => {
            let record = UserRecord {
                directory_id: dir,
                key: String::new(),
                password_hash: None,
                password_expired: false,
                created: if new.created == 0 { now } else { new.created },
                updated: now,
                ..new.clone()
            };
            insert_user(txn, &record)?;
            Ok(Written::Added)
        }
        Some(old) if !same_user(old, new) => {
            let record = UserRecord {
                name: new.name.clone(),
                first_name: new.first_name.clone(),
                last_name: new.last_name.clone(),
                display_name: new.display_name.clone(),
                email: new.email.clone(),
                active: new.active,
                attributes: new.attributes.clone(),
                updated: now,
                ..old.clone()
            };
            let lc = fold(&record.name);
            txn.open_table(USERS)?.insert((dir, lc.as_str()), encode(&record).as_slice())?;
            events::append(txn, now, dir, Change::UserUpdated { name: record.name })?;
            Ok(Written::Updated)
        }
        Some(_) => Ok(Written::Same),
    }
}

/// [`write_user`] for a group.
pub(super) fn write_group(
    txn: &WriteTransaction,
    dir: u64,
    old: Option<&GroupRecord>,
    new: &GroupRecord,
    now: Millis,
) -> Result<Written> {
    match old {
        None => {
            let record = GroupRecord {
                directory_id: dir,
                created: if new.created == 0 { now } else { new.created },
                updated: now,
                ..new.clone()
            };
            insert_group(txn, &record)?;
            Ok(Written::Added)
        }
        Some(old) if !same_group(old, new) => {
            let record = GroupRecord {
                name: new.name.clone(),
                description: new.description.clone(),
                kind: new.kind.clone(),
                active: new.active,
                attributes: new.attributes.clone(),
                updated: now,
                ..old.clone()
            };
            let lc = fold(&record.name);
            txn.open_table(GROUPS)?.insert((dir, lc.as_str()), encode(&record).as_slice())?;
            events::append(txn, now, dir, Change::GroupUpdated { name: record.name })?;
            Ok(Written::Updated)
        }
        Some(_) => Ok(Written::Same),
    }
}

/// Within the transaction that applies a sync: the server's event token after it, and the
/// sync's status once it has succeeded, so that neither can differ from what was applied
/// (a server killed after the commit does not call an applied sync interrupted).
pub(super) fn finish(
    txn: &WriteTransaction,
    dir: u64,
    token: Option<&str>,
    running: Option<&SyncStatus>,
    applied: Applied,
    now: Millis,
) -> Result<()> {
    set_token(txn, dir, token)?;
    if let Some(running) = running {
        let done = running.succeeded(applied.counts(), now);
        txn.open_table(SYNC_STATUS)?.insert(dir, encode(&done).as_slice())?;
    }
    Ok(())
}

/// Within `txn`: records the remote server's event token that marks what directory `dir` now
/// holds (none: the server offers no incremental sync, so the next sync is full).
pub(super) fn set_token(txn: &WriteTransaction, dir: u64, token: Option<&str>) -> Result<()> {
    let mut tokens = txn.open_table(SYNC_TOKENS)?;
    match token {
        Some(token) => tokens.insert(dir, token)?,
        None => tokens.remove(dir)?,
    };
    Ok(())
}

impl Store {
    /// Makes directory `dir` exactly `snapshot`, in one transaction, with `token` (the remote
    /// server's event token taken before the snapshot was read) as where the next
    /// incremental sync starts, and `running` (the sync's status) recorded as succeeded; see
    /// the module.
    pub fn apply_snapshot(
        &self,
        dir: u64,
        snapshot: &Snapshot,
        token: Option<&str>,
        running: Option<&SyncStatus>,
        now: Millis,
    ) -> Result<Applied> {
        self.change(Topic::Directory, |txn| {
            let applied = apply(txn, dir, snapshot, now)?;
            finish(txn, dir, token, running, applied, now)?;
            Ok(applied)
        })
    }

    /// The remote server's event token from which directory `dir`'s next incremental sync
    /// starts, if it has one.
    pub fn sync_token(&self, dir: u64) -> Result<Option<String>> {
        let txn = self.read()?;
        let table = txn.open_table(SYNC_TOKENS)?;
        Ok(table.get(dir)?.map(|v| v.value().to_string()))
    }
}

fn apply(txn: &WriteTransaction, dir: u64, snap: &Snapshot, now: Millis) -> Result<Applied> {
    super::require_directory(txn, dir)?;
    let mut applied = Applied::default();
    let log = |change| events::append(txn, now, dir, change);

    // Users.
    let wanted: BTreeMap<String, &UserRecord> =
        snap.users.iter().map(|u| (fold(&u.name), u)).collect();
    let users: BTreeMap<String, UserRecord> = all(txn, USERS, dir)?;
    for (lc, user) in &users {
        if !wanted.contains_key(lc) {
            remove_user(txn, dir, lc)?;
            log(Change::UserDeleted { name: user.name.clone() })?;
            applied.removed += 1;
        }
    }
    for (lc, new) in &wanted {
        applied.count(write_user(txn, dir, users.get(lc), new, now)?);
    }

    // Groups.
    let wanted_groups: BTreeMap<String, &GroupRecord> =
        snap.groups.iter().map(|g| (fold(&g.name), g)).collect();
    let groups: BTreeMap<String, GroupRecord> = all(txn, GROUPS, dir)?;
    for (lc, group) in &groups {
        if !wanted_groups.contains_key(lc) {
            remove_group(txn, dir, lc)?;
            log(Change::GroupDeleted { name: group.name.clone() })?;
            applied.removed += 1;
        }
    }
    for (lc, new) in &wanted_groups {
        applied.count(write_group(txn, dir, groups.get(lc), new, now)?);
    }

    // Memberships: names as the snapshot writes them, for the events.
    let user_name = |lc: &str| wanted.get(lc).map_or_else(|| lc.to_string(), |u| u.name.clone());
    let group_name =
        |lc: &str| wanted_groups.get(lc).map_or_else(|| lc.to_string(), |g| g.name.clone());
    let mut want_users = BTreeSet::new();
    for (u, g) in &snap.user_memberships {
        let (u, g) = (fold(u), fold(g));
        if !wanted.contains_key(&u) {
            return Err(Error::UnknownReference(Resource::User, u));
        }
        if !wanted_groups.contains_key(&g) {
            return Err(Error::UnknownReference(Resource::Group, g));
        }
        want_users.insert((g, u));
    }
    let have_users = links(txn, GROUP_USERS, dir)?;
    {
        let mut group_users = txn.open_table(GROUP_USERS)?;
        let mut user_groups = txn.open_table(USER_GROUPS)?;
        for (g, u) in have_users.difference(&want_users) {
            group_users.remove((dir, g.as_str(), u.as_str()))?;
            user_groups.remove((dir, u.as_str(), g.as_str()))?;
        }
        for (g, u) in want_users.difference(&have_users) {
            group_users.insert((dir, g.as_str(), u.as_str()), ())?;
            user_groups.insert((dir, u.as_str(), g.as_str()), ())?;
        }
    }
    for (g, u) in have_users.difference(&want_users) {
        log(Change::UserMembershipRemoved { user: user_name(u), group: group_name(g) })?;
        applied.removed += 1;
    }
    for (g, u) in want_users.difference(&have_users) {
        log(Change::UserMembershipAdded { user: user_name(u), group: group_name(g) })?;
        applied.added += 1;
    }

    let mut want_groups = BTreeSet::new();
    for (c, p) in &snap.group_memberships {
        let (c, p) = (fold(c), fold(p));
        for g in [&c, &p] {
            if !wanted_groups.contains_key(g) {
                return Err(Error::UnknownReference(Resource::Group, g.clone()));
            }
        }
        want_groups.insert((p, c));
    }
    let have_groups = links(txn, GROUP_CHILDREN, dir)?;
    {
        let mut children = txn.open_table(GROUP_CHILDREN)?;
        let mut parents = txn.open_table(GROUP_PARENTS)?;
        for (p, c) in have_groups.difference(&want_groups) {
            children.remove((dir, p.as_str(), c.as_str()))?;
            parents.remove((dir, c.as_str(), p.as_str()))?;
        }
        for (p, c) in want_groups.difference(&have_groups) {
            children.insert((dir, p.as_str(), c.as_str()), ())?;
            parents.insert((dir, c.as_str(), p.as_str()), ())?;
        }
    }
    for (p, c) in have_groups.difference(&want_groups) {
        log(Change::GroupMembershipRemoved { child: group_name(c), parent: group_name(p) })?;
        applied.removed += 1;
    }
    for (p, c) in want_groups.difference(&have_groups) {
        log(Change::GroupMembershipAdded { child: group_name(c), parent: group_name(p) })?;
        applied.added += 1;
    }
    Ok(applied)
}
