//! Directories, users, groups and memberships: the model Crowd's usermanagement API serves.
//!
//! Names are case-insensitive and case-preserving, as in Crowd: keys hold the lower-cased
//! name, records keep it as written, and lists come sorted by the lower-cased name with the
//! names as written. Every change is one write transaction that also appends its change
//! event(s) to the log incremental sync reads ([`events`]) and, once committed, bumps the
//! store's generation ([`Store::changed`]) so that caches drop what they held. Every query is
//! one read transaction, so a walk over nested groups sees one snapshot.
//!
//! Each relation is kept in both directions (`GROUP_USERS`/`USER_GROUPS`,
//! `GROUP_CHILDREN`/`GROUP_PARENTS`), so every step of a walk, either way, is a key-range
//! scan over lower-cased names; JSON records are decoded only for what is returned, and then
//! only for their name. This module holds directories, the first-start bootstrap and the
//! pieces the others share; [`users`], [`groups`], [`memberships`] and [`events`] the rest.

pub mod bulk;
mod events;
mod groups;
pub mod incremental;
mod memberships;
pub mod scim;
pub mod snapshot;
#[cfg(test)]
mod tests;
mod users;

pub(crate) use users::migrate_to_schema_4;

use super::cache::CachedUser;
use super::records::{Change, DirectoryRecord, GroupRecord, Millis, UserRecord};
use super::tables::*;
use super::{decode, encode, Store};
use crate::error::{Error, Resource, Result};
use crate::store::Topic;
use redb::{ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The name of Crowd's built-in administrators group.
pub const ADMIN_GROUP: &str = "crowd-administrators";

/// The directory the first start creates (ids start at 1), holding the administrators: only
/// its `crowd-administrators` grants admin rights. A group of that name elsewhere is an
/// ordinary group, or any application allowed to create groups in some directory could make
/// its own administrators.
pub const ADMIN_DIRECTORY: u64 = 1;

/// What a first start puts into an empty store.
pub struct Bootstrap<'a> {
    pub directory_name: &'a str,
    pub admin_name: &'a str,
    pub admin_password_hash: String,
    pub now: Millis,
}

/// The form of a name that keys and comparisons use.
pub fn fold(name: &str) -> String {
    name.to_lowercase()
}

/// How an `Error::NotFound` / `AlreadyExists` of a membership names it.
fn membership(member: &str, group: &str) -> String {
    format!("<{member}> in <{group}>")
}

impl Store {
    /// On an empty store, creates the internal directory, the administrators group and the
    /// admin user in it, in one transaction. Returns false (and changes nothing) otherwise.
    pub fn bootstrap_if_empty(&self, b: Bootstrap<'_>) -> Result<bool> {
        self.change(Topic::Directory, |txn| {
            if !txn.open_table(DIRECTORIES)?.is_empty()? {
                return Ok(false);
            }
            let dir = insert_directory(txn, b.directory_name, "INTERNAL", "", b.now)?;
            let group = GroupRecord {
                directory_id: dir.id,
                name: ADMIN_GROUP.into(),
                description: "Crowd administrators".into(),
                kind: "GROUP".into(),
                active: true,
                created: b.now,
                updated: b.now,
                attributes: Default::default(),
            };
            let user = UserRecord {
                directory_id: dir.id,
                name: b.admin_name.to_string(),
                first_name: "Crowd".into(),
                last_name: "Administrator".into(),
                display_name: "Crowd Administrator".into(),
                active: true,
                created: b.now,
                updated: b.now,
                password_hash: Some(b.admin_password_hash),
                ..Default::default()
            };
            groups::insert_group(txn, &group)?;
            users::insert_user(txn, &user)?;
            memberships::insert_user_membership(txn, dir.id, &user.name, &group.name, b.now)?;
            Ok(true)
        })
    }

    /// Whether any directory exists (false only before the first start completed).
    pub fn has_directories(&self) -> Result<bool> {
        let txn = self.read()?;
        Ok(!txn.open_table(DIRECTORIES)?.is_empty()?)
    }

    /// Every directory, by id (which is creation order).
    pub fn directories(&self) -> Result<Vec<DirectoryRecord>> {
        let txn = self.read()?;
        let table = txn.open_table(DIRECTORIES)?;
        table.iter()?.map(|e| decode(e?.1.value())).collect()
    }

    /// Creates a directory. Names are unique, case-insensitively: a taken one is
    /// `AlreadyExists(Directory)`. Directories are few, so the check reads them all.
    pub fn create_directory(
        &self,
        name: &str,
        kind: &str,
        description: &str,
        now: Millis,
    ) -> Result<DirectoryRecord> {
        self.change(Topic::Directory, |txn| insert_directory(txn, name, kind, description, now))
    }

    /// Adds a `CROWD` directory, synchronised from `remote`, named uniquely in any case.
    pub fn create_remote_directory(
        &self,
        name: &str,
        description: &str,
        remote: crate::store::records::RemoteCrowd,
        now: Millis,
    ) -> Result<DirectoryRecord> {
        self.change(Topic::Directory, |txn| {
            let mut dir = insert_directory(txn, name, "CROWD", description, now)?;
            dir.remote = Some(remote);
            txn.open_table(DIRECTORIES)?.insert(dir.id, encode(&dir).as_slice())?;
            Ok(dir)
        })
    }

    /// Adds a `SCIM` directory, named uniquely in any case.
    pub fn create_scim_directory(
        &self,
        name: &str,
        description: &str,
        settings: crate::store::records::ScimSettings,
        now: Millis,
    ) -> Result<DirectoryRecord> {
        self.change(Topic::Directory, |txn| {
            let mut dir = insert_directory(txn, name, "SCIM", description, now)?;
            dir.scim = Some(settings);
            txn.open_table(DIRECTORIES)?.insert(dir.id, encode(&dir).as_slice())?;
            Ok(dir)
        })
    }

    /// Changes a `CROWD` directory's description and remote settings. Another server or
    /// application there forgets the event token, so the next sync is full: a token names a
    /// place in one server's log only.
    pub fn update_remote_directory(
        &self,
        id: u64,
        description: &str,
        remote: crate::store::records::RemoteCrowd,
    ) -> Result<DirectoryRecord> {
        self.change(Topic::Directory, |txn| {
            let mut dir: DirectoryRecord = {
                let table = txn.open_table(DIRECTORIES)?;
                let found = table.get(id)?.map(|v| decode(v.value())).transpose()?;
                found.ok_or_else(|| Error::NotFound(Resource::Directory, id.to_string()))?
            };
            let Some(old) = &dir.remote else {
                return Err(Error::bad_request(format!(
                    "directory '{}' is {}: only a CROWD directory has remote settings",
                    dir.name, dir.kind
                )));
            };
            if (&old.server_url, &old.application) != (&remote.server_url, &remote.application) {
                snapshot::set_token(txn, id, None)?;
            }
            dir.description = description.to_string();
            dir.remote = Some(remote);
            txn.open_table(DIRECTORIES)?.insert(id, encode(&dir).as_slice())?;
            Ok(dir)
        })
    }

    /// Records how directory `dir`'s synchronisation is going (no change notice: no entity
    /// changed), durably: the first word of a sync, so that a server killed during it finds
    /// it running at the next start and says it was interrupted, and the word of one that
    /// failed.
    pub fn set_sync_status(
        &self,
        dir: u64,
        status: &crate::store::records::SyncStatus,
    ) -> Result<()> {
        self.write_sync_status(dir, status, redb::Durability::Immediate)
    }

    /// [`Store::set_sync_status`] for where a running sync is, without waiting for the disk:
    /// a crash may lose it, and then the durable word before it stands.
    pub fn set_sync_progress(
        &self,
        dir: u64,
        status: &crate::store::records::SyncStatus,
    ) -> Result<()> {
        self.write_sync_status(dir, status, redb::Durability::None)
    }

    fn write_sync_status(
        &self,
        dir: u64,
        status: &crate::store::records::SyncStatus,
        durability: redb::Durability,
    ) -> Result<()> {
        let mut txn = self.write()?;
        txn.set_durability(durability)
            .map_err(|e| Error::Internal(format!("a sync status write: {e}")))?;
        txn.open_table(SYNC_STATUS)?.insert(dir, encode(status).as_slice())?;
        txn.commit()?;
        Ok(())
    }

    pub fn sync_status(&self, dir: u64) -> Result<Option<crate::store::records::SyncStatus>> {
        let txn = self.read()?;
        let table = txn.open_table(SYNC_STATUS)?;
        table.get(dir)?.map(|v| decode(v.value())).transpose()
    }

    /// The directory with that id.
    /// Every directory in id order, from a cache while no directory change committed.
    pub fn directories_cached(&self) -> Result<std::sync::Arc<[DirectoryRecord]>> {
        let generation = self.generation(Topic::Directory);
        if let Some(hit) = self.directories.get(&(), generation) {
            return Ok(hit);
        }
        let all: std::sync::Arc<[DirectoryRecord]> = self.directories()?.into();
        self.directories.fill((), all.clone(), generation);
        Ok(all)
    }

    pub fn directory(&self, id: u64) -> Result<Option<DirectoryRecord>> {
        let txn = self.read()?;
        let table = txn.open_table(DIRECTORIES)?;
        table.get(id)?.map(|v| decode(v.value())).transpose()
    }

    /// Directory ids in creation order: the order in which a name is looked up.
    pub fn directory_ids(&self) -> Result<Vec<u64>> {
        let txn = self.read()?;
        let table = txn.open_table(DIRECTORIES)?;
        table.iter()?.map(|e| Ok(e?.0.value())).collect()
    }

    /// The first user of that name across directories, in directory order.
    pub fn find_user(&self, name: &str) -> Result<Option<UserRecord>> {
        Ok(self.find_user_in_directory(name)?.map(|found| found.0.clone()))
    }

    /// The first user of that name across directories, with its directory. Served from the
    /// user cache when possible: this is on the bearer path of `GET /user` and on every admin
    /// Basic check.
    pub fn find_user_in_directory(&self, name: &str) -> Result<Option<CachedUser>> {
        let key = fold(name);
        let generation = self.generation(Topic::Directory);
        if let Some(hit) = self.users.get(&key, generation) {
            return Ok(Some(hit));
        }
        let txn = self.read()?;
        let dirs = txn.open_table(DIRECTORIES)?;
        let users = txn.open_table(USERS)?;
        for entry in dirs.iter()? {
            let (id, dir) = entry?;
            if let Some(u) = users.get((id.value(), key.as_str()))? {
                let found: CachedUser =
                    std::sync::Arc::new((decode(u.value())?, decode(dir.value())?));
                self.users.fill(key, found.clone(), generation);
                return Ok(Some(found));
            }
        }
        Ok(None)
    }
}

fn insert_directory(
    txn: &WriteTransaction,
    name: &str,
    kind: &str,
    description: &str,
    now: Millis,
) -> Result<DirectoryRecord> {
    let id = {
        let dirs = txn.open_table(DIRECTORIES)?;
        let folded = fold(name);
        for entry in dirs.iter()? {
            let existing: DirectoryRecord = decode(entry?.1.value())?;
            if fold(&existing.name) == folded {
                return Err(Error::AlreadyExists(Resource::Directory, name.to_string()));
            }
        }
        drop(dirs);
        super::next_id(txn, "directory_seq")?
    };
    let dir = DirectoryRecord {
        id,
        name: name.to_string(),
        kind: kind.to_string(),
        description: description.to_string(),
        active: true,
        created: now,
        remote: None,
        scim: None,
    };
    txn.open_table(DIRECTORIES)?.insert(dir.id, encode(&dir).as_slice())?;
    Ok(dir)
}

fn require_directory(txn: &WriteTransaction, dir: u64) -> Result<()> {
    match txn.open_table(DIRECTORIES)?.get(dir)? {
        Some(_) => Ok(()),
        None => Err(Error::NotFound(Resource::Directory, dir.to_string())),
    }
}

/// `USERS` or `GROUPS`: (directory id, lower-cased name) → JSON record.
type EntityDef = TableDefinition<'static, (u64, &'static str), &'static [u8]>;
/// A relation table: (directory id, from, to) → (), lower-cased names.
type LinkKey = (u64, &'static str, &'static str);

/// What users and groups have in common, so that updates and attributes are written once.
trait Entity: Serialize + DeserializeOwned {
    const TABLE: EntityDef;
    const RESOURCE: Resource;
    fn name(&self) -> &str;
    fn attributes_mut(&mut self) -> &mut BTreeMap<String, Vec<String>>;
    fn set_updated(&mut self, now: Millis);
    /// Puts back what an update may not change: identity and creation.
    fn keep_identity(&mut self, before: &Self);
    fn updated(name: String) -> Change;
    fn attributes_changed(name: String, stored: Vec<String>, deleted: Vec<String>) -> Change;
}

/// The record of `name` in `dir`, or `NotFound`.
fn load<E: Entity>(
    table: &impl ReadableTable<(u64, &'static str), &'static [u8]>,
    dir: u64,
    name: &str,
) -> Result<E> {
    match table.get((dir, fold(name).as_str()))? {
        Some(v) => decode(v.value()),
        None => Err(Error::NotFound(E::RESOURCE, name.to_string())),
    }
}

/// Reads `name`, lets `edit` change it (returning the event to log, if any), stamps it
/// `now` and writes it back under the same key.
fn modify<E: Entity>(
    txn: &WriteTransaction,
    dir: u64,
    name: &str,
    now: Millis,
    edit: impl FnOnce(&mut E) -> Result<Option<Change>>,
) -> Result<E> {
    let mut table = txn.open_table(E::TABLE)?;
    let mut record: E = load(&table, dir, name)?;
    let Some(change) = edit(&mut record)? else {
        return Ok(record);
    };
    record.set_updated(now);
    table.insert((dir, fold(record.name()).as_str()), encode(&record).as_slice())?;
    drop(table);
    events::append(txn, now, dir, change)?;
    Ok(record)
}

fn update<E: Entity + Clone>(
    txn: &WriteTransaction,
    dir: u64,
    name: &str,
    now: Millis,
    change: impl FnOnce(&mut E) -> Result<()>,
) -> Result<E> {
    modify(txn, dir, name, now, |record: &mut E| {
        let before = record.clone();
        change(record)?;
        record.keep_identity(&before);
        Ok(Some(E::updated(record.name().to_string())))
    })
}

/// A rule on attributes being stored, given the entity's own and the new ones; it runs in the
/// write transaction, so two concurrent stores cannot both pass it against the same old state.
pub type AttributeCheck<'a> =
    &'a dyn Fn(&BTreeMap<String, Vec<String>>, &BTreeMap<String, Vec<String>>) -> Result<()>;

fn store_attributes<E: Entity>(
    txn: &WriteTransaction,
    dir: u64,
    name: &str,
    attributes: BTreeMap<String, Vec<String>>,
    check: AttributeCheck<'_>,
    now: Millis,
) -> Result<E> {
    modify(txn, dir, name, now, |record: &mut E| {
        check(record.attributes_mut(), &attributes)?;
        let stored: Vec<String> = attributes.keys().cloned().collect();
        record.attributes_mut().extend(attributes);
        Ok(Some(E::attributes_changed(record.name().to_string(), stored, Vec::new())))
    })
}

fn delete_attribute<E: Entity>(
    txn: &WriteTransaction,
    dir: u64,
    name: &str,
    attribute: &str,
    now: Millis,
) -> Result<E> {
    modify(txn, dir, name, now, |record: &mut E| {
        // Deleting an attribute the entity does not have changes nothing, and logs nothing.
        Ok(record.attributes_mut().remove(attribute).map(|_| {
            E::attributes_changed(record.name().to_string(), Vec::new(), vec![attribute.into()])
        }))
    })
}

/// Every record of `dir` in `table`, in name order, one at a time, until `visit` breaks.
fn for_each<E: Entity>(
    table: &impl ReadableTable<(u64, &'static str), &'static [u8]>,
    dir: u64,
    mut visit: impl FnMut(&E) -> std::ops::ControlFlow<()>,
) -> Result<()> {
    for entry in table.range((dir, "")..)? {
        let (key, value) = entry?;
        if key.value().0 != dir {
            break;
        }
        if visit(&decode(value.value())?).is_break() {
            break;
        }
    }
    Ok(())
}

/// How many rows of `dir` `table` holds: a scan of keys, no record decoded.
fn count(table: &impl ReadableTable<(u64, &'static str), &'static [u8]>, dir: u64) -> Result<u64> {
    let mut n = 0;
    for entry in table.range((dir, "")..)? {
        if entry?.0.value().0 != dir {
            break;
        }
        n += 1;
    }
    Ok(n)
}

/// The `to` names of every `(dir, from, to)` link, in key order.
fn linked(table: &impl ReadableTable<LinkKey, ()>, dir: u64, from: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for entry in table.range((dir, from, "")..)? {
        let (key, _) = entry?;
        let (d, f, to) = key.value();
        if d != dir || f != from {
            break;
        }
        out.push(to.to_string());
    }
    Ok(out)
}

fn has_link(
    table: &impl ReadableTable<LinkKey, ()>,
    dir: u64,
    from: &str,
    to: &str,
) -> Result<bool> {
    Ok(table.get((dir, from, to))?.is_some())
}

/// Breadth-first along `links` from `seeds` (which count as reached): every name reached, and
/// whether `target` was among them (the walk stops once it is). A name is expanded once, so
/// the walk ends even on a cyclic graph.
fn walk(
    links: &impl ReadableTable<LinkKey, ()>,
    dir: u64,
    seeds: Vec<String>,
    target: Option<&str>,
) -> Result<(BTreeSet<String>, bool)> {
    let mut reached = BTreeSet::new();
    let mut queue = std::collections::VecDeque::from(seeds);
    while let Some(name) = queue.pop_front() {
        if target == Some(name.as_str()) {
            reached.insert(name);
            return Ok((reached, true));
        }
        if !reached.insert(name.clone()) {
            continue;
        }
        queue.extend(linked(links, dir, &name)?.into_iter().filter(|n| !reached.contains(n)));
    }
    Ok((reached, false))
}

/// Only the name of a record: lists need nothing else, and skipping the rest is cheaper.
#[derive(Deserialize)]
struct NameOnly {
    name: String,
}

/// The names as written of `keys` (lower-cased names) in `table`, in the order given.
fn names_as_written<S: AsRef<str>>(
    table: &impl ReadableTable<(u64, &'static str), &'static [u8]>,
    dir: u64,
    keys: impl IntoIterator<Item = S>,
) -> Result<Vec<String>> {
    keys.into_iter()
        .map(|key| match table.get((dir, key.as_ref()))? {
            Some(v) => Ok(decode::<NameOnly>(v.value())?.name),
            None => Err(Error::Internal(format!(
                "a membership names '{}' in directory {dir}, which does not exist",
                key.as_ref()
            ))),
        })
        .collect()
}
