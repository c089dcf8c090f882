//! Memberships: users in groups and groups in groups (nested groups), their changes, the
//! direct and nested queries Crowd's `/user/group`, `/group/user`, `/group/child-group` and
//! `/group/parent-group` answer, and the bulk listing of `/group/membership`.
//!
//! Nested group links never form a cycle: adding one that would is refused, so a walk is a
//! plain breadth-first search (which still tracks what it reached, so it ends whatever the
//! file holds). Each query runs in one read transaction and each step of a walk is a key-range
//! scan of `GROUP_PARENTS` or `GROUP_CHILDREN`; records are read only for the names returned.

use super::super::records::{Change, Millis};
use super::super::tables::*;
use super::super::{decode, Store};
use super::{events, fold, has_link, linked, membership, names_as_written, walk};
use super::{EntityDef, LinkKey, NameOnly};
use crate::error::{Error, Resource, Result};
use crate::store::Topic;
use redb::{ReadableTable, TableDefinition, WriteTransaction};
use std::collections::{BTreeSet, HashMap};

type LinkDef = TableDefinition<'static, LinkKey, ()>;

/// The name as written of `name` in `table`, or `NotFound(resource)`.
fn existing(
    table: &impl ReadableTable<(u64, &'static str), &'static [u8]>,
    dir: u64,
    name: &str,
    resource: Resource,
) -> Result<String> {
    match table.get((dir, fold(name).as_str()))? {
        Some(v) => Ok(decode::<NameOnly>(v.value())?.name),
        None => Err(Error::NotFound(resource, name.to_string())),
    }
}

/// Makes `user` a direct member of `group` within `txn`; the user is looked for first.
pub(super) fn insert_user_membership(
    txn: &WriteTransaction,
    dir: u64,
    user: &str,
    group: &str,
    now: Millis,
) -> Result<()> {
    let user_name = existing(&txn.open_table(USERS)?, dir, user, Resource::User)?;
    let group_name = existing(&txn.open_table(GROUPS)?, dir, group, Resource::Group)?;
    let (u, g) = (fold(user), fold(group));
    if txn.open_table(GROUP_USERS)?.insert((dir, g.as_str(), u.as_str()), ())?.is_some() {
        return Err(Error::AlreadyExists(Resource::Membership, membership(user, group)));
    }
    txn.open_table(USER_GROUPS)?.insert((dir, u.as_str(), g.as_str()), ())?;
    let change = Change::UserMembershipAdded { user: user_name, group: group_name };
    events::append(txn, now, dir, change)?;
    Ok(())
}

/// Ends `user`'s direct membership of `group` within `txn`, as
/// [`Store::remove_user_from_group`] does.
pub(super) fn delete_user_membership(
    txn: &WriteTransaction,
    dir: u64,
    user: &str,
    group: &str,
    now: Millis,
) -> Result<()> {
    let user_name = existing(&txn.open_table(USERS)?, dir, user, Resource::User)?;
    let group_name = existing(&txn.open_table(GROUPS)?, dir, group, Resource::Group)?;
    let (u, g) = (fold(user), fold(group));
    if txn.open_table(GROUP_USERS)?.remove((dir, g.as_str(), u.as_str()))?.is_none() {
        return Err(Error::NotFound(Resource::Membership, membership(user, group)));
    }
    txn.open_table(USER_GROUPS)?.remove((dir, u.as_str(), g.as_str()))?;
    let change = Change::UserMembershipRemoved { user: user_name, group: group_name };
    events::append(txn, now, dir, change)?;
    Ok(())
}

/// Makes group `child` a direct member of `parent` within `txn`, as
/// [`Store::add_group_to_group`] does: never into a cycle.
pub(super) fn insert_group_membership(
    txn: &WriteTransaction,
    dir: u64,
    child: &str,
    parent: &str,
    now: Millis,
) -> Result<()> {
    let (parent_name, child_name) = {
        let groups = txn.open_table(GROUPS)?;
        let parent_name = existing(&groups, dir, parent, Resource::Group)?;
        (parent_name, existing(&groups, dir, child, Resource::Group)?)
    };
    let (c, p) = (fold(child), fold(parent));
    let mut children = txn.open_table(GROUP_CHILDREN)?;
    let mut parents = txn.open_table(GROUP_PARENTS)?;
    if has_link(&children, dir, &p, &c)? {
        return Err(Error::AlreadyExists(Resource::Membership, membership(child, parent)));
    }
    // A cycle iff the child is the parent or one of the parent's nested parents.
    if walk(&parents, dir, vec![p.clone()], Some(&c))?.1 {
        return Err(Error::Invalid(
            Resource::Membership,
            format!(
                "Adding group <{child}> to group <{parent}> would create a cycle of nested groups"
            ),
        ));
    }
    children.insert((dir, p.as_str(), c.as_str()), ())?;
    parents.insert((dir, c.as_str(), p.as_str()), ())?;
    drop((children, parents));
    let change = Change::GroupMembershipAdded { child: child_name, parent: parent_name };
    events::append(txn, now, dir, change)?;
    Ok(())
}

/// Ends group `child`'s direct membership of `parent` within `txn`, as
/// [`Store::remove_group_from_group`] does.
pub(super) fn delete_group_membership(
    txn: &WriteTransaction,
    dir: u64,
    child: &str,
    parent: &str,
    now: Millis,
) -> Result<()> {
    let (parent_name, child_name) = {
        let groups = txn.open_table(GROUPS)?;
        let parent_name = existing(&groups, dir, parent, Resource::Group)?;
        (parent_name, existing(&groups, dir, child, Resource::Group)?)
    };
    let (c, p) = (fold(child), fold(parent));
    if txn.open_table(GROUP_CHILDREN)?.remove((dir, p.as_str(), c.as_str()))?.is_none() {
        return Err(Error::NotFound(Resource::Membership, membership(child, parent)));
    }
    txn.open_table(GROUP_PARENTS)?.remove((dir, c.as_str(), p.as_str()))?;
    let change = Change::GroupMembershipRemoved { child: child_name, parent: parent_name };
    events::append(txn, now, dir, change)?;
    Ok(())
}

impl Store {
    /// Makes `user` a direct member of `group`. `NotFound(User)` or `NotFound(Group)` for a
    /// missing one (the user is looked for first), `AlreadyExists(Membership)` if it is one.
    pub fn add_user_to_group(&self, dir: u64, user: &str, group: &str, now: Millis) -> Result<()> {
        self.change(Topic::Directory, |txn| insert_user_membership(txn, dir, user, group, now))
    }

    /// Ends `user`'s direct membership of `group`. `NotFound(User)` / `NotFound(Group)` for
    /// a missing one (the user is looked for first), `NotFound(Membership)` if it is none.
    pub fn remove_user_from_group(
        &self,
        dir: u64,
        user: &str,
        group: &str,
        now: Millis,
    ) -> Result<()> {
        self.change(Topic::Directory, |txn| delete_user_membership(txn, dir, user, group, now))
    }

    /// Makes `child` a direct member of `parent`. `NotFound(Group)` for a missing one (the
    /// parent is looked for first), `AlreadyExists(Membership)` if it is one, and
    /// `Invalid(Membership)` if it would make a cycle: a group in itself, or in one of its own
    /// nested members.
    pub fn add_group_to_group(
        &self,
        dir: u64,
        child: &str,
        parent: &str,
        now: Millis,
    ) -> Result<()> {
        self.change(Topic::Directory, |txn| insert_group_membership(txn, dir, child, parent, now))
    }

    /// Ends `child`'s direct membership of `parent`. `NotFound(Group)` for a missing one (the
    /// parent is looked for first), `NotFound(Membership)` if it is none.
    pub fn remove_group_from_group(
        &self,
        dir: u64,
        child: &str,
        parent: &str,
        now: Millis,
    ) -> Result<()> {
        self.change(Topic::Directory, |txn| delete_group_membership(txn, dir, child, parent, now))
    }

    /// Whether `user` is a direct member of `group` (false if either does not exist).
    pub fn is_direct_member(&self, dir: u64, group: &str, user: &str) -> Result<bool> {
        let txn = self.read()?;
        has_link(&txn.open_table(GROUP_USERS)?, dir, &fold(group), &fold(user))
    }

    /// Whether `user` is a member of `group` directly or through nested groups (false if
    /// either does not exist). Walks up from the user's groups, which are few, rather than
    /// down from the group, whose members may be many.
    pub fn is_nested_user_member(&self, dir: u64, user: &str, group: &str) -> Result<bool> {
        let txn = self.read()?;
        let seeds = linked(&txn.open_table(USER_GROUPS)?, dir, &fold(user))?;
        Ok(walk(&txn.open_table(GROUP_PARENTS)?, dir, seeds, Some(&fold(group)))?.1)
    }

    /// Whether `child` is a direct member of `parent` (false if either does not exist).
    pub fn is_direct_group_member(&self, dir: u64, child: &str, parent: &str) -> Result<bool> {
        let txn = self.read()?;
        has_link(&txn.open_table(GROUP_CHILDREN)?, dir, &fold(parent), &fold(child))
    }

    /// Whether `child` is a member of `parent` directly or through nested groups.
    pub fn is_nested_group_member(&self, dir: u64, child: &str, parent: &str) -> Result<bool> {
        let txn = self.read()?;
        let parents = txn.open_table(GROUP_PARENTS)?;
        let seeds = linked(&parents, dir, &fold(child))?;
        Ok(walk(&parents, dir, seeds, Some(&fold(parent)))?.1)
    }

    /// The groups `user` is a direct member of. `NotFound(User)` if there is no such user.
    pub fn direct_groups_of_user(&self, dir: u64, user: &str) -> Result<Vec<String>> {
        self.related(dir, user, (USERS, Resource::User), USER_GROUPS, None, GROUPS)
    }

    /// The groups `user` is a member of, directly or through nested groups.
    pub fn nested_groups_of_user(&self, dir: u64, user: &str) -> Result<Vec<String>> {
        self.related(dir, user, (USERS, Resource::User), USER_GROUPS, Some(GROUP_PARENTS), GROUPS)
    }

    /// The direct user members of `group`. `NotFound(Group)` if there is no such group.
    pub fn direct_users_of_group(&self, dir: u64, group: &str) -> Result<Vec<String>> {
        self.related(dir, group, (GROUPS, Resource::Group), GROUP_USERS, None, USERS)
    }

    /// The users of `group` and of every group nested in it, each once.
    pub fn nested_users_of_group(&self, dir: u64, group: &str) -> Result<Vec<String>> {
        let txn = self.read()?;
        let (groups, users) = (txn.open_table(GROUPS)?, txn.open_table(USERS)?);
        existing(&groups, dir, group, Resource::Group)?;
        let (nested, _) = walk(&txn.open_table(GROUP_CHILDREN)?, dir, vec![fold(group)], None)?;
        let group_users = txn.open_table(GROUP_USERS)?;
        let mut members = BTreeSet::new();
        for g in &nested {
            members.extend(linked(&group_users, dir, g)?);
        }
        names_as_written(&users, dir, members)
    }

    /// The groups directly nested in `group`. `NotFound(Group)` if there is no such group.
    pub fn direct_child_groups(&self, dir: u64, group: &str) -> Result<Vec<String>> {
        self.related(dir, group, (GROUPS, Resource::Group), GROUP_CHILDREN, None, GROUPS)
    }

    /// The groups nested in `group` at any depth.
    pub fn nested_child_groups(&self, dir: u64, group: &str) -> Result<Vec<String>> {
        let down = Some(GROUP_CHILDREN);
        self.related(dir, group, (GROUPS, Resource::Group), GROUP_CHILDREN, down, GROUPS)
    }

    /// The groups `group` is directly nested in. `NotFound(Group)` if there is no such group.
    pub fn direct_parent_groups(&self, dir: u64, group: &str) -> Result<Vec<String>> {
        self.related(dir, group, (GROUPS, Resource::Group), GROUP_PARENTS, None, GROUPS)
    }

    /// The groups `group` is nested in at any depth.
    pub fn nested_parent_groups(&self, dir: u64, group: &str) -> Result<Vec<String>> {
        let up = Some(GROUP_PARENTS);
        self.related(dir, group, (GROUPS, Resource::Group), GROUP_PARENTS, up, GROUPS)
    }

    /// What `name` (a record of `subject`) links to through `first`, then, if `then` is
    /// given, everything reached from there along `then`; as names written in `names`,
    /// sorted case-insensitively, without `name` itself. All in one read transaction.
    fn related(
        &self,
        dir: u64,
        name: &str,
        subject: (EntityDef, Resource),
        first: LinkDef,
        then: Option<LinkDef>,
        names: EntityDef,
    ) -> Result<Vec<String>> {
        let txn = self.read()?;
        existing(&txn.open_table(subject.0)?, dir, name, subject.1)?;
        let key = fold(name);
        let direct = linked(&txn.open_table(first)?, dir, &key)?;
        let mut found = match then {
            None => direct.into_iter().collect(),
            Some(links) => walk(&txn.open_table(links)?, dir, direct, None)?.0,
        };
        // Only a cycle, which the store refuses to make, could lead back to the start.
        found.remove(&key);
        names_as_written(&txn.open_table(names)?, dir, found)
    }

    /// Visits every group of `dir`, empty ones too, in name order, with the names of its
    /// direct user members and of its direct child groups (each sorted case-insensitively):
    /// `GET /group/membership`, which directory sync reads in full. One read transaction; each
    /// user's and group's name is decoded once however many groups it is in.
    pub fn for_each_group_memberships(
        &self,
        dir: u64,
        mut visit: impl FnMut(&str, &[String], &[String]),
    ) -> Result<()> {
        let txn = self.read()?;
        let groups = txn.open_table(GROUPS)?;
        let users = txn.open_table(USERS)?;
        let group_users = txn.open_table(GROUP_USERS)?;
        let group_children = txn.open_table(GROUP_CHILDREN)?;
        let (mut user_names, mut group_names) = (HashMap::new(), HashMap::new());
        for entry in groups.range((dir, "")..)? {
            let (key, value) = entry?;
            let (d, group) = key.value();
            if d != dir {
                break;
            }
            let name = decode::<NameOnly>(value.value())?.name;
            let members = linked(&group_users, dir, group)?
                .into_iter()
                .map(|u| written(&mut user_names, &users, dir, u))
                .collect::<Result<Vec<_>>>()?;
            let children = linked(&group_children, dir, group)?
                .into_iter()
                .map(|g| written(&mut group_names, &groups, dir, g))
                .collect::<Result<Vec<_>>>()?;
            visit(&name, &members, &children);
        }
        Ok(())
    }
}

/// The name as written of `key`, from `memo` or else from `table` (then remembered).
fn written(
    memo: &mut HashMap<String, String>,
    table: &impl ReadableTable<(u64, &'static str), &'static [u8]>,
    dir: u64,
    key: String,
) -> Result<String> {
    if let Some(name) = memo.get(&key) {
        return Ok(name.clone());
    }
    let name = names_as_written(table, dir, [&key])?.remove(0);
    memo.insert(key, name.clone());
    Ok(name)
}
