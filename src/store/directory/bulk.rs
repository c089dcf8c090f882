//! Loading a large directory at once: users, groups and memberships in one transaction, with
//! the tables opened once. For benchmarks (`throng bench --directory`) and imports, where a
//! transaction per entity would take minutes for a million memberships.
//!
//! It logs no change events (a client syncing incrementally would otherwise receive a million
//! of them, and the log keeps only `--event-max-rows`): the event token moves past the load,
//! so clients holding an older token synchronise in full, which is what a bulk load calls for.

use super::fold;
use crate::error::{Error, Resource, Result};
use crate::store::records::{GroupRecord, UserRecord};
use crate::store::tables::*;
use crate::store::{encode, Store, Topic};
use redb::ReadableTable;

/// What to load into one directory. Memberships name users and groups by name; both must be
/// in the load or already in the directory.
#[derive(Default)]
pub struct Bulk {
    pub users: Vec<UserRecord>,
    pub groups: Vec<GroupRecord>,
    /// (user, group)
    pub user_memberships: Vec<(String, String)>,
    /// (child, parent)
    pub group_memberships: Vec<(String, String)>,
}

impl Store {
    /// Loads `bulk` into directory `dir` in one transaction: all of it or, on any error (a
    /// taken name, a membership naming nobody), none of it. Nested memberships are not checked
    /// for cycles: the loader vouches for the shape.
    pub fn load_bulk(&self, dir: u64, bulk: &Bulk) -> Result<()> {
        self.change(Topic::Directory, |txn| {
            super::require_directory(txn, dir)?;
            let mut users = txn.open_table(USERS)?;
            let mut keys = txn.open_table(USER_KEYS)?;
            for u in &bulk.users {
                let name = fold(&u.name);
                if u.directory_id != dir || users.get((dir, name.as_str()))?.is_some() {
                    return Err(Error::AlreadyExists(Resource::User, u.name.clone()));
                }
                let mut u = u.clone();
                u.key = format!("{dir}:{name}");
                if keys.insert(u.key.as_str(), (dir, name.as_str()))?.is_some() {
                    return Err(Error::AlreadyExists(Resource::User, u.name.clone()));
                }
                users.insert((dir, name.as_str()), encode(&u).as_slice())?;
            }
            let mut groups = txn.open_table(GROUPS)?;
            for g in &bulk.groups {
                let name = fold(&g.name);
                if g.directory_id != dir || groups.get((dir, name.as_str()))?.is_some() {
                    return Err(Error::AlreadyExists(Resource::Group, g.name.clone()));
                }
                groups.insert((dir, name.as_str()), encode(g).as_slice())?;
            }
            let mut group_users = txn.open_table(GROUP_USERS)?;
            let mut user_groups = txn.open_table(USER_GROUPS)?;
            for (u, g) in &bulk.user_memberships {
                let (u, g) = (fold(u), fold(g));
                if users.get((dir, u.as_str()))?.is_none() {
                    return Err(Error::NotFound(Resource::User, u));
                }
                if groups.get((dir, g.as_str()))?.is_none() {
                    return Err(Error::NotFound(Resource::Group, g));
                }
                group_users.insert((dir, g.as_str(), u.as_str()), ())?;
                user_groups.insert((dir, u.as_str(), g.as_str()), ())?;
            }
            let mut children = txn.open_table(GROUP_CHILDREN)?;
            let mut parents = txn.open_table(GROUP_PARENTS)?;
            for (c, p) in &bulk.group_memberships {
                let (c, p) = (fold(c), fold(p));
                for g in [&c, &p] {
                    if groups.get((dir, g.as_str()))?.is_none() {
                        return Err(Error::NotFound(Resource::Group, g.clone()));
                    }
                }
                children.insert((dir, p.as_str(), c.as_str()), ())?;
                parents.insert((dir, c.as_str(), p.as_str()), ())?;
            }
            drop((users, keys, groups, group_users, user_groups, children, parents));
            super::events::skip_past(txn)?;
            Ok(())
        })
    }
}
