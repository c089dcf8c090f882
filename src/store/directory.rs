//! Directories, users, groups and memberships: the model Crowd's usermanagement API serves.
//!
//! Names are case-insensitive as in Crowd: keys hold the lower-cased name, records keep the
//! name as written.

use super::cache::CachedUser;
use super::records::{DirectoryRecord, GroupRecord, Millis, UserRecord};
use super::tables::*;
use super::{decode, encode, Store};
use crate::error::Result;
use redb::{ReadableTable, ReadableTableMetadata};
use std::sync::Arc;

/// The name of Crowd's built-in administrators group.
pub const ADMIN_GROUP: &str = "crowd-administrators";

/// What a first start puts into an empty store.
pub struct Bootstrap<'a> {
    pub directory_name: &'a str,
    pub admin_name: &'a str,
    pub admin_password_hash: String,
    pub now: Millis,
}

impl Store {
    /// On an empty store, creates the internal directory, the administrators group and the
    /// admin user in it, in one transaction. Returns false (and changes nothing) otherwise.
    pub fn bootstrap_if_empty(&self, b: Bootstrap<'_>) -> Result<bool> {
        let txn = self.write()?;
        {
            let mut dirs = txn.open_table(DIRECTORIES)?;
            if !dirs.is_empty()? {
                return Ok(false);
            }
            let dir = DirectoryRecord {
                id: super::next_id(&txn, "directory_seq")?,
                name: b.directory_name.to_string(),
                kind: "INTERNAL".into(),
                active: true,
                created: b.now,
            };
            dirs.insert(dir.id, encode(&dir).as_slice())?;
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
                email: String::new(),
                active: true,
                created: b.now,
                updated: b.now,
                password_hash: Some(b.admin_password_hash),
                attributes: Default::default(),
            };
            let (g, u) = (group.name.to_lowercase(), user.name.to_lowercase());
            txn.open_table(GROUPS)?.insert((dir.id, g.as_str()), encode(&group).as_slice())?;
            txn.open_table(USERS)?.insert((dir.id, u.as_str()), encode(&user).as_slice())?;
            txn.open_table(GROUP_USERS)?.insert((dir.id, g.as_str(), u.as_str()), ())?;
            txn.open_table(USER_GROUPS)?.insert((dir.id, u.as_str(), g.as_str()), ())?;
        }
        txn.commit()?;
        self.users.invalidate();
        Ok(true)
    }

    /// Whether any directory exists (false only before the first start completed).
    pub fn has_directories(&self) -> Result<bool> {
        let txn = self.read()?;
        Ok(!txn.open_table(DIRECTORIES)?.is_empty()?)
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

    pub fn user(&self, directory_id: u64, name: &str) -> Result<Option<UserRecord>> {
        let txn = self.read()?;
        let table = txn.open_table(USERS)?;
        let key = name.to_lowercase();
        table.get((directory_id, key.as_str()))?.map(|v| decode(v.value())).transpose()
    }

    /// The first user of that name across directories, in directory order.
    pub fn find_user(&self, name: &str) -> Result<Option<UserRecord>> {
        Ok(self.find_user_in_directory(name)?.map(|found| found.0.clone()))
    }

    /// The first user of that name across directories, with its directory. Served from the
    /// user cache when possible: this is on the bearer path of `GET /user` and on every admin
    /// Basic check.
    pub fn find_user_in_directory(&self, name: &str) -> Result<Option<CachedUser>> {
        let key = name.to_lowercase();
        if let Some(hit) = self.users.get(&key) {
            return Ok(Some(hit));
        }
        let generation = self.users.generation();
        let txn = self.read()?;
        let dirs = txn.open_table(DIRECTORIES)?;
        let users = txn.open_table(USERS)?;
        for entry in dirs.iter()? {
            let (id, dir) = entry?;
            if let Some(u) = users.get((id.value(), key.as_str()))? {
                let found: CachedUser = Arc::new((decode(u.value())?, decode(dir.value())?));
                self.users.fill(key, found.clone(), generation);
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// Adds a user to a directory; an existing name (case-insensitively) is `BadRequest`.
    pub fn create_user(&self, user: &UserRecord) -> Result<()> {
        let txn = self.write()?;
        {
            let mut users = txn.open_table(USERS)?;
            let key = user.name.to_lowercase();
            if users.get((user.directory_id, key.as_str()))?.is_some() {
                return Err(crate::error::Error::bad_request(format!(
                    "user '{}' already exists",
                    user.name
                )));
            }
            users.insert((user.directory_id, key.as_str()), encode(user).as_slice())?;
        }
        txn.commit()?;
        self.users.invalidate();
        Ok(())
    }

    /// Makes `user` a direct member of `group` (both in `directory_id`, both existing).
    pub fn add_user_to_group(&self, directory_id: u64, user: &str, group: &str) -> Result<()> {
        let (u, g) = (user.to_lowercase(), group.to_lowercase());
        let txn = self.write()?;
        {
            let not_found = |r, n: &str| crate::error::Error::NotFound(r, n.to_string());
            if txn.open_table(USERS)?.get((directory_id, u.as_str()))?.is_none() {
                return Err(not_found(crate::error::Resource::User, user));
            }
            if txn.open_table(GROUPS)?.get((directory_id, g.as_str()))?.is_none() {
                return Err(not_found(crate::error::Resource::Group, group));
            }
            txn.open_table(GROUP_USERS)?.insert((directory_id, g.as_str(), u.as_str()), ())?;
            txn.open_table(USER_GROUPS)?.insert((directory_id, u.as_str(), g.as_str()), ())?;
        }
        txn.commit()?;
        self.users.invalidate();
        Ok(())
    }

    pub fn is_direct_member(&self, directory_id: u64, group: &str, user: &str) -> Result<bool> {
        let txn = self.read()?;
        let table = txn.open_table(GROUP_USERS)?;
        let (g, u) = (group.to_lowercase(), user.to_lowercase());
        Ok(table.get((directory_id, g.as_str(), u.as_str()))?.is_some())
    }
}
