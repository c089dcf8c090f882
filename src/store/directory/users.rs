//! Users: create, read (by name or by key), update, rename, delete, attributes, listing.
//!
//! A user's key is given once, at creation, and never changes: renames move the record and
//! its memberships to the new name and repoint `USER_KEYS`, so `user_by_key` follows a user
//! across renames as Atlassian's directory-sync client expects.

use super::super::records::{Change, Millis, UserRecord};
use super::super::tables::*;
use super::super::{decode, encode, Store};
use super::{events, fold, linked, load, Entity, EntityDef};
use crate::error::{Error, Resource, Result};
use crate::store::Topic;
use redb::{ReadableTable, WriteTransaction};
use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::Arc;

impl Entity for UserRecord {
    const TABLE: EntityDef = USERS;
    const RESOURCE: Resource = Resource::User;

    fn name(&self) -> &str {
        &self.name
    }

    fn attributes_mut(&mut self) -> &mut BTreeMap<String, Vec<String>> {
        &mut self.attributes
    }

    fn set_updated(&mut self, now: Millis) {
        self.updated = now;
    }

    fn keep_identity(&mut self, before: &Self) {
        self.directory_id = before.directory_id;
        self.name.clone_from(&before.name);
        self.key.clone_from(&before.key);
        self.created = before.created;
    }

    fn updated(name: String) -> Change {
        Change::UserUpdated { name }
    }

    fn attributes_changed(name: String, stored: Vec<String>, deleted: Vec<String>) -> Change {
        Change::UserAttributesChanged { name, stored, deleted }
    }
}

/// The key a new user `name_lc` of `dir` gets: `"{dir}:{name_lc}"`, or, when a renamed user
/// took that one with it, the first free `"{dir}:{name_lc}-{n}"`.
fn free_key(
    keys: &impl ReadableTable<&'static str, (u64, &'static str)>,
    dir: u64,
    name_lc: &str,
) -> Result<String> {
    let natural = format!("{dir}:{name_lc}");
    if keys.get(natural.as_str())?.is_none() {
        return Ok(natural);
    }
    for n in 1.. {
        let key = format!("{natural}-{n}");
        if keys.get(key.as_str())?.is_none() {
            return Ok(key);
        }
    }
    unreachable!("some suffix is free")
}

/// Adds `user` within `txn`, with a key, and logs it. The directory must exist and the name
/// be free.
pub(super) fn insert_user(txn: &WriteTransaction, user: &UserRecord) -> Result<UserRecord> {
    super::require_directory(txn, user.directory_id)?;
    let dir = user.directory_id;
    let name_lc = fold(&user.name);
    let mut users = txn.open_table(USERS)?;
    if users.get((dir, name_lc.as_str()))?.is_some() {
        return Err(Error::AlreadyExists(Resource::User, user.name.clone()));
    }
    let mut keys = txn.open_table(USER_KEYS)?;
    let mut user = user.clone();
    user.key = free_key(&keys, dir, &name_lc)?;
    keys.insert(user.key.as_str(), (dir, name_lc.as_str()))?;
    users.insert((dir, name_lc.as_str()), encode(&user).as_slice())?;
    drop((users, keys));
    events::append(txn, user.created, dir, Change::UserCreated { name: user.name.clone() })?;
    Ok(user)
}

/// Removes user `name` of `dir` within `txn`, with its key, memberships and sessions, and
/// returns it; the event is the caller's. `NotFound(User)` if there is none.
pub(super) fn remove_user(txn: &WriteTransaction, dir: u64, name: &str) -> Result<UserRecord> {
    let name_lc = fold(name);
    let user: UserRecord = {
        let mut users = txn.open_table(USERS)?;
        let user = load(&users, dir, name)?;
        users.remove((dir, name_lc.as_str()))?;
        user
    };
    txn.open_table(USER_KEYS)?.remove(user.key.as_str())?;
    let mut user_groups = txn.open_table(USER_GROUPS)?;
    let mut group_users = txn.open_table(GROUP_USERS)?;
    for g in linked(&user_groups, dir, &name_lc)? {
        user_groups.remove((dir, name_lc.as_str(), g.as_str()))?;
        group_users.remove((dir, g.as_str(), name_lc.as_str()))?;
    }
    drop((user_groups, group_users));
    crate::store::sessions::end_user_sessions_in(txn, dir, &name_lc)?;
    Ok(user)
}

/// Renames user `old` of `dir` to `new` within `txn`, as [`Store::rename_user`] does.
pub(super) fn rename_in(
    txn: &WriteTransaction,
    dir: u64,
    old: &str,
    new: &str,
    now: Millis,
) -> Result<UserRecord> {
    let (old_lc, new_lc) = (fold(old), fold(new));
    let mut users = txn.open_table(USERS)?;
    let mut user: UserRecord = load(&users, dir, old)?;
    if user.name == new {
        return Ok(user);
    }
    if new_lc != old_lc {
        if users.get((dir, new_lc.as_str()))?.is_some() {
            return Err(Error::AlreadyExists(Resource::User, new.to_string()));
        }
        users.remove((dir, old_lc.as_str()))?;
        let mut user_groups = txn.open_table(USER_GROUPS)?;
        let mut group_users = txn.open_table(GROUP_USERS)?;
        for g in linked(&user_groups, dir, &old_lc)? {
            user_groups.remove((dir, old_lc.as_str(), g.as_str()))?;
            user_groups.insert((dir, new_lc.as_str(), g.as_str()), ())?;
            group_users.remove((dir, g.as_str(), old_lc.as_str()))?;
            group_users.insert((dir, g.as_str(), new_lc.as_str()), ())?;
        }
        txn.open_table(USER_KEYS)?.insert(user.key.as_str(), (dir, new_lc.as_str()))?;
        crate::store::sessions::end_user_sessions_in(txn, dir, &old_lc)?;
    }
    let old_name = std::mem::replace(&mut user.name, new.to_string());
    user.updated = now;
    users.insert((dir, new_lc.as_str()), encode(&user).as_slice())?;
    drop(users);
    let change = Change::UserRenamed { old: old_name, new: user.name.clone() };
    events::append(txn, now, dir, change)?;
    Ok(user)
}

/// Schema 3 → 4 (within the migration's transaction): every user gets the key it would have
/// got at creation. Schema 3 had no renames, so `"{dir}:{lower-cased name}"` is free for each.
pub(crate) fn migrate_to_schema_4(txn: &WriteTransaction) -> Result<()> {
    let mut users = txn.open_table(USERS)?;
    let mut keys = txn.open_table(USER_KEYS)?;
    let mut keyless = Vec::new();
    for entry in users.iter()? {
        let (k, v) = entry?;
        let user: UserRecord = decode(v.value())?;
        if user.key.is_empty() {
            let (dir, name_lc) = k.value();
            keyless.push((dir, name_lc.to_string(), user));
        }
    }
    let filled = keyless.len();
    for (dir, name_lc, mut user) in keyless {
        user.key = free_key(&keys, dir, &name_lc)?;
        keys.insert(user.key.as_str(), (dir, name_lc.as_str()))?;
        users.insert((dir, name_lc.as_str()), encode(&user).as_slice())?;
    }
    log::info!("gave {filled} users their keys (schema 4)");
    Ok(())
}

impl Store {
    /// The user `name` (any case) of directory `dir`.
    pub fn user(&self, dir: u64, name: &str) -> Result<Option<UserRecord>> {
        let txn = self.read()?;
        let table = txn.open_table(USERS)?;
        table.get((dir, fold(name).as_str()))?.map(|v| decode(v.value())).transpose()
    }

    /// [`Store::user`], served from a cache while no directory change committed: the lookup
    /// on every usermanagement call that names a user.
    pub fn user_cached(&self, dir: u64, name: &str) -> Result<Option<Arc<UserRecord>>> {
        let key = (dir, fold(name));
        let generation = self.generation(Topic::Directory);
        if let Some(hit) = self.users_by_directory.get(&key, generation) {
            return Ok(hit);
        }
        let found = {
            let txn = self.read()?;
            let table = txn.open_table(USERS)?;
            let found = table.get((dir, key.1.as_str()))?.map(|v| decode(v.value())).transpose()?;
            found.map(Arc::new)
        };
        self.users_by_directory.fill(key, found.clone(), generation);
        Ok(found)
    }

    /// The user holding `key` (`UserRecord::key`), whatever it is called now.
    pub fn user_by_key(&self, key: &str) -> Result<Option<UserRecord>> {
        let txn = self.read()?;
        let Some(found) = txn.open_table(USER_KEYS)?.get(key)? else {
            return Ok(None);
        };
        let (dir, name_lc) = found.value();
        let users = txn.open_table(USERS)?;
        users.get((dir, name_lc))?.map(|v| decode(v.value())).transpose()
    }

    /// Adds a user and returns it as stored, with its key. The name is kept as written; one
    /// taken in any case is `AlreadyExists(User)`, an unknown directory `NotFound(Directory)`.
    /// The record's `key` is ignored: the store gives keys. `created` dates the event.
    pub fn create_user(&self, user: &UserRecord) -> Result<UserRecord> {
        self.change(Topic::Directory, |txn| insert_user(txn, user))
    }

    /// Applies `change` to the user and stamps it `updated = now`. Name, key, directory and
    /// creation time stay as they were whatever `change` does (see [`Store::rename_user`]); an
    /// error from `change` leaves the user untouched. `NotFound(User)` if there is none.
    pub fn update_user(
        &self,
        dir: u64,
        name: &str,
        change: impl FnOnce(&mut UserRecord) -> Result<()>,
        now: Millis,
    ) -> Result<UserRecord> {
        self.change(Topic::Directory, |txn| super::update(txn, dir, name, now, change))
    }

    /// Renames a user, keeping its key, attributes and memberships. `AlreadyExists(User)` if
    /// another user holds the new name in any case; a change of case only is a rename like
    /// any other. `NotFound(User)` if `old` does not exist.
    pub fn rename_user(&self, dir: u64, old: &str, new: &str, now: Millis) -> Result<UserRecord> {
        self.change(Topic::Directory, |txn| rename_in(txn, dir, old, new, now))
    }

    /// Deletes a user with its key and memberships. `NotFound(User)` if there is none.
    pub fn delete_user(&self, dir: u64, name: &str, now: Millis) -> Result<()> {
        self.change(Topic::Directory, |txn| {
            let user = remove_user(txn, dir, name)?;
            events::append(txn, now, dir, Change::UserDeleted { name: user.name })?;
            Ok(())
        })
    }

    /// Marks every user of `dir` who has a password as having to change it, in one
    /// transaction. No change events: the flag is a credential's state, which sync clients
    /// never see.
    pub fn expire_passwords(&self, dir: u64) -> Result<usize> {
        self.change(Topic::Directory, |txn| {
            let mut users = txn.open_table(USERS)?;
            let mut expired = Vec::new();
            for entry in users.range((dir, "")..)? {
                let (k, v) = entry?;
                if k.value().0 != dir {
                    break;
                }
                let mut u: UserRecord = decode(v.value())?;
                if u.password_hash.is_some() && !u.password_expired {
                    u.password_expired = true;
                    expired.push((k.value().1.to_string(), u));
                }
            }
            for (name, u) in &expired {
                users.insert((dir, name.as_str()), encode(u).as_slice())?;
            }
            Ok(expired.len())
        })
    }

    /// Sets each of `attributes` on the user, replacing the values of a name it had, and
    /// leaving its other attributes as they are. `NotFound(User)` if there is none.
    pub fn store_user_attributes(
        &self,
        dir: u64,
        name: &str,
        attributes: BTreeMap<String, Vec<String>>,
        check: super::AttributeCheck<'_>,
        now: Millis,
    ) -> Result<UserRecord> {
        self.change(Topic::Directory, |txn| {
            super::store_attributes(txn, dir, name, attributes, check, now)
        })
    }

    /// Removes one attribute of the user; one it does not have is no change (and no event).
    /// `NotFound(User)` if there is no such user.
    pub fn delete_user_attribute(
        &self,
        dir: u64,
        name: &str,
        attribute: &str,
        now: Millis,
    ) -> Result<UserRecord> {
        self.change(Topic::Directory, |txn| super::delete_attribute(txn, dir, name, attribute, now))
    }

    /// Visits the users of `dir` in name order (case-insensitive), one decoded at a time,
    /// until `visit` breaks: search filters and pages over this without loading them all.
    pub fn for_each_user(
        &self,
        dir: u64,
        visit: impl FnMut(&UserRecord) -> ControlFlow<()>,
    ) -> Result<()> {
        let txn = self.read()?;
        super::for_each(&txn.open_table(USERS)?, dir, visit)
    }

    /// How many users `dir` has.
    pub fn user_count(&self, dir: u64) -> Result<u64> {
        let txn = self.read()?;
        super::count(&txn.open_table(USERS)?, dir)
    }
}
