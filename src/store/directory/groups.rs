//! Groups: create, read, update, delete (with every membership they take part in),
//! attributes, listing. Crowd has no group rename; SCIM has one ([`rename_group_in`]), which
//! the change log tells as the old group deleted and the new one created with its
//! memberships, the events Crowd's sync clients know.

use super::super::records::{Change, GroupRecord, Millis};
use super::super::tables::*;
use super::super::{decode, encode, Store};
use super::{events, fold, linked, load, Entity, EntityDef, LinkKey};
use crate::error::{Error, Resource, Result};
use crate::store::Topic;
use redb::{ReadableTable, TableDefinition, WriteTransaction};
use std::collections::BTreeMap;
use std::ops::ControlFlow;

impl Entity for GroupRecord {
    const TABLE: EntityDef = GROUPS;
    const RESOURCE: Resource = Resource::Group;

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
        self.created = before.created;
    }

    fn updated(name: String) -> Change {
        Change::GroupUpdated { name }
    }

    fn attributes_changed(name: String, stored: Vec<String>, deleted: Vec<String>) -> Change {
        Change::GroupAttributesChanged { name, stored, deleted }
    }
}

/// Adds `group` within `txn` and logs it. The directory must exist and the name be free.
pub(super) fn insert_group(txn: &WriteTransaction, group: &GroupRecord) -> Result<GroupRecord> {
    super::require_directory(txn, group.directory_id)?;
    let dir = group.directory_id;
    let name_lc = fold(&group.name);
    let mut groups = txn.open_table(GROUPS)?;
    if groups.get((dir, name_lc.as_str()))?.is_some() {
        return Err(Error::AlreadyExists(Resource::Group, group.name.clone()));
    }
    groups.insert((dir, name_lc.as_str()), encode(group).as_slice())?;
    drop(groups);
    events::append(txn, group.created, dir, Change::GroupCreated { name: group.name.clone() })?;
    Ok(group.clone())
}

/// Removes group `name` of `dir` within `txn`, with its user and group memberships both
/// ways, and returns it; the event is the caller's. `NotFound(Group)` if there is none.
pub(super) fn remove_group(txn: &WriteTransaction, dir: u64, name: &str) -> Result<GroupRecord> {
    let name_lc = fold(name);
    let group: GroupRecord = {
        let mut groups = txn.open_table(GROUPS)?;
        let group = load(&groups, dir, name)?;
        groups.remove((dir, name_lc.as_str()))?;
        group
    };
    unlink_all(txn, GROUP_USERS, USER_GROUPS, dir, &name_lc)?;
    unlink_all(txn, GROUP_CHILDREN, GROUP_PARENTS, dir, &name_lc)?;
    unlink_all(txn, GROUP_PARENTS, GROUP_CHILDREN, dir, &name_lc)?;
    Ok(group)
}

/// Removes every `(dir, from, _)` link of `forward` and its mirror `(dir, _, from)` in
/// `backward`.
fn unlink_all(
    txn: &WriteTransaction,
    forward: TableDefinition<'static, LinkKey, ()>,
    backward: TableDefinition<'static, LinkKey, ()>,
    dir: u64,
    from: &str,
) -> Result<()> {
    let mut fwd = txn.open_table(forward)?;
    let mut back = txn.open_table(backward)?;
    for to in linked(&fwd, dir, from)? {
        fwd.remove((dir, from, to.as_str()))?;
        back.remove((dir, to.as_str(), from))?;
    }
    Ok(())
}

/// Moves every `(dir, from, x)` link of `forward` to `(dir, to, x)`, with its mirror in
/// `backward`; returns the `x`s.
fn relink(
    txn: &WriteTransaction,
    forward: TableDefinition<'static, LinkKey, ()>,
    backward: TableDefinition<'static, LinkKey, ()>,
    dir: u64,
    from: &str,
    to: &str,
) -> Result<Vec<String>> {
    let mut fwd = txn.open_table(forward)?;
    let mut back = txn.open_table(backward)?;
    let others = linked(&fwd, dir, from)?;
    for x in &others {
        fwd.remove((dir, from, x.as_str()))?;
        fwd.insert((dir, to, x.as_str()), ())?;
        back.remove((dir, x.as_str(), from))?;
        back.insert((dir, x.as_str(), to), ())?;
    }
    Ok(others)
}

/// Renames group `old` of `dir` to `new` within `txn`, memberships both ways included.
/// `AlreadyExists(Group)` if another group has the new name in any case. Logged as `old`
/// deleted and `new` created with every membership, as a sync client can apply it.
pub(super) fn rename_group_in(
    txn: &WriteTransaction,
    dir: u64,
    old: &str,
    new: &str,
    now: Millis,
) -> Result<GroupRecord> {
    let (old_lc, new_lc) = (fold(old), fold(new));
    let mut groups = txn.open_table(GROUPS)?;
    let mut group: GroupRecord = load(&groups, dir, old)?;
    if group.name == new {
        return Ok(group);
    }
    if old_lc != new_lc && groups.get((dir, new_lc.as_str()))?.is_some() {
        return Err(Error::AlreadyExists(Resource::Group, new.to_string()));
    }
    groups.remove((dir, old_lc.as_str()))?;
    let old_name = std::mem::replace(&mut group.name, new.to_string());
    group.updated = now;
    groups.insert((dir, new_lc.as_str()), encode(&group).as_slice())?;
    drop(groups);
    let users = relink(txn, GROUP_USERS, USER_GROUPS, dir, &old_lc, &new_lc)?;
    let children = relink(txn, GROUP_CHILDREN, GROUP_PARENTS, dir, &old_lc, &new_lc)?;
    let parents = relink(txn, GROUP_PARENTS, GROUP_CHILDREN, dir, &old_lc, &new_lc)?;
    let mut changes = vec![
        Change::GroupDeleted { name: old_name },
        Change::GroupCreated { name: group.name.clone() },
    ];
    let user_names = super::names_as_written(&txn.open_table(USERS)?, dir, &users)?;
    let groups = txn.open_table(GROUPS)?;
    let child_names = super::names_as_written(&groups, dir, &children)?;
    let parent_names = super::names_as_written(&groups, dir, &parents)?;
    drop(groups);
    let g = || group.name.clone();
    changes.extend(
        user_names.into_iter().map(|user| Change::UserMembershipAdded { user, group: g() }),
    );
    changes.extend(
        child_names.into_iter().map(|child| Change::GroupMembershipAdded { child, parent: g() }),
    );
    changes.extend(
        parent_names.into_iter().map(|parent| Change::GroupMembershipAdded { child: g(), parent }),
    );
    for change in changes {
        events::append(txn, now, dir, change)?;
    }
    Ok(group)
}

impl Store {
    /// The group `name` (any case) of directory `dir`.
    pub fn group(&self, dir: u64, name: &str) -> Result<Option<GroupRecord>> {
        let txn = self.read()?;
        let table = txn.open_table(GROUPS)?;
        table.get((dir, fold(name).as_str()))?.map(|v| decode(v.value())).transpose()
    }

    /// Adds a group and returns it as stored. A name taken in any case is
    /// `AlreadyExists(Group)`, an unknown directory `NotFound(Directory)`. `created` dates the
    /// event.
    pub fn create_group(&self, group: &GroupRecord) -> Result<GroupRecord> {
        self.change(Topic::Directory, |txn| insert_group(txn, group))
    }

    /// Applies `change` to the group and stamps it `updated = now`; name, directory and
    /// creation time stay as they were. `NotFound(Group)` if there is none.
    pub fn update_group(
        &self,
        dir: u64,
        name: &str,
        change: impl FnOnce(&mut GroupRecord) -> Result<()>,
        now: Millis,
    ) -> Result<GroupRecord> {
        self.change(Topic::Directory, |txn| super::update(txn, dir, name, now, change))
    }

    /// Deletes a group with its memberships: its users, its child groups and its places in
    /// parent groups. `NotFound(Group)` if there is none.
    pub fn delete_group(&self, dir: u64, name: &str, now: Millis) -> Result<()> {
        self.change(Topic::Directory, |txn| {
            let group = remove_group(txn, dir, name)?;
            events::append(txn, now, dir, Change::GroupDeleted { name: group.name })?;
            Ok(())
        })
    }

    /// Sets each of `attributes` on the group, replacing the values of a name it had.
    pub fn store_group_attributes(
        &self,
        dir: u64,
        name: &str,
        attributes: BTreeMap<String, Vec<String>>,
        check: super::AttributeCheck<'_>,
        now: Millis,
    ) -> Result<GroupRecord> {
        self.change(Topic::Directory, |txn| {
            super::store_attributes(txn, dir, name, attributes, check, now)
        })
    }

    /// Removes one attribute of the group; one it does not have is no change (and no event).
    pub fn delete_group_attribute(
        &self,
        dir: u64,
        name: &str,
        attribute: &str,
        now: Millis,
    ) -> Result<GroupRecord> {
        self.change(Topic::Directory, |txn| super::delete_attribute(txn, dir, name, attribute, now))
    }

    /// Visits the groups of `dir` in name order (case-insensitive), one decoded at a time,
    /// until `visit` breaks.
    pub fn for_each_group(
        &self,
        dir: u64,
        visit: impl FnMut(&GroupRecord) -> ControlFlow<()>,
    ) -> Result<()> {
        let txn = self.read()?;
        super::for_each(&txn.open_table(GROUPS)?, dir, visit)
    }

    /// How many groups `dir` has.
    pub fn group_count(&self, dir: u64) -> Result<u64> {
        let txn = self.read()?;
        super::count(&txn.open_table(GROUPS)?, dir)
    }
}
