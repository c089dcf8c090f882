//! The rules of the directory model, free of HTTP: what makes a valid user, group or
//! attribute, passwords hashed before the store sees them, and every change dated by the
//! server's clock. Handlers fill in [`NewUser`], [`UserChanges`], [`NewGroup`] and
//! [`GroupChanges`] and call a [`Directories`]; queries go to the store directly, as they
//! need no rules.
//!
//! A [`Directories`] borrows only what it needs (the store, the clock, the PBKDF2 iteration
//! count), so it is made per request from the `App` (`App::directories`) or in a test from
//! a temporary store. User authentication is not here: it belongs with applications.

pub mod batch;
mod groups;
pub mod listing;
mod users;
pub mod validate;

pub use groups::{GroupChanges, NewGroup};
pub use users::{NewUser, UserChanges};

use crate::domain::clock::Clock;
use crate::error::{Resource, Result};
use crate::store::directory::{fold, ADMIN_DIRECTORY, ADMIN_GROUP};
use crate::store::records::DirectoryRecord;
use crate::store::Store;
use crate::sync::MutexExt;
use std::sync::{Mutex, MutexGuard};

/// Changes to the users, groups and memberships of the store's directories.
pub struct Directories<'a> {
    store: &'a Store,
    clock: &'a Clock,
    pbkdf2_iterations: u32,
}

impl<'a> Directories<'a> {
    /// `pbkdf2_iterations` is what new passwords are hashed with (`--pbkdf2-iterations`).
    pub fn new(store: &'a Store, clock: &'a Clock, pbkdf2_iterations: u32) -> Directories<'a> {
        Directories { store, clock, pbkdf2_iterations }
    }

    /// Adds an internal directory (throng keeps its users, groups and passwords), named
    /// uniquely in any case.
    pub fn create_directory(&self, name: &str, description: &str) -> Result<DirectoryRecord> {
        validate::name(Resource::Directory, "directory name", name)?;
        validate::text(Resource::Directory, "description", description)?;
        self.store.create_directory(name, "INTERNAL", description, self.clock.now_ms())
    }

    /// Makes `user` a direct member of `group` in directory `dir`; see
    /// `Store::add_user_to_group` for the errors.
    pub fn add_user_to_group(&self, dir: u64, user: &str, group: &str) -> Result<()> {
        self.writable(dir)?;
        self.store.add_user_to_group(dir, user, group, self.clock.now_ms())
    }

    /// Ends a direct membership; see `Store::remove_user_from_group`. The last active
    /// administrator stays one (see [`Directories::keep_an_administrator`]).
    pub fn remove_user_from_group(&self, dir: u64, user: &str, group: &str) -> Result<()> {
        self.writable(dir)?;
        let _checked = if fold(group) == ADMIN_GROUP {
            self.keep_an_administrator(dir, user, "leave crowd-administrators")?
        } else {
            None
        };
        self.store.remove_user_from_group(dir, user, group, self.clock.now_ms())
    }

    /// Refuses a change to a `CROWD` directory: its users, groups and memberships are the
    /// server's it is synchronised from, and a local change would be undone by the next sync
    /// (Crowd refuses them too, as a read-only remote directory). A `SCIM` directory is its
    /// identity provider's in the same way: it changes over SCIM only (`domain::scim`).
    fn writable(&self, dir: u64) -> Result<()> {
        match self.store.directory(dir)? {
            Some(d) if d.scim.is_some() => Err(crate::error::Error::NotPermitted(format!(
                "directory '{}' is provisioned over SCIM: its identity provider changes its \
                 users, groups and memberships",
                d.name
            ))),
            Some(d) if d.remote.is_some() => Err(crate::error::Error::NotPermitted(format!(
                "directory '{}' is synchronised from {}: change its users, groups and \
                 memberships there",
                d.name,
                d.remote.map(|r| r.server_url).unwrap_or_default()
            ))),
            _ => Ok(()),
        }
    }

    /// Refuses a change that would leave no active administrator: `user` of `dir` is about
    /// to lose admin rights (`what` says how), and is the last active member of
    /// `crowd-administrators` in the first-start directory, the one that grants them. Without one, nobody could reach the admin APIs
    /// again: the first-start password applies to an empty store only.
    ///
    /// Passing, it returns a guard to hold until the change has committed: checks and changes
    /// that could take admin rights away run one at a time, so two concurrent removals of the
    /// last two administrators cannot both pass against the state before either.
    pub(crate) fn keep_an_administrator(
        &self,
        dir: u64,
        user: &str,
        what: &str,
    ) -> Result<Option<MutexGuard<'static, ()>>> {
        // One lock for the process: there is one store per process in service, and in tests
        // the few changes that take it only wait for each other.
        static ADMIN_CHANGES: Mutex<()> = Mutex::new(());
        let target = (dir, fold(user));
        let mut others = 0;
        let mut is_admin = false;
        if dir != ADMIN_DIRECTORY {
            return Ok(None);
        }
        let guard = ADMIN_CHANGES.locked();
        for d in [ADMIN_DIRECTORY] {
            let members = match self.store.direct_users_of_group(d, ADMIN_GROUP) {
                Ok(m) => m,
                Err(crate::error::Error::NotFound(..)) => continue,
                Err(e) => return Err(e),
            };
            for name in members {
                let active = self
                    .store
                    .user(d, &name)?
                    .is_some_and(|u| u.active && u.password_hash.is_some());
                if (d, fold(&name)) == target {
                    is_admin = active;
                } else if active {
                    others += 1;
                }
            }
        }
        if is_admin && others == 0 {
            return Err(crate::error::Error::Invalid(
                Resource::Membership,
                format!(
                    "User <{user}> is the last active administrator and cannot {what}; make \
                     another user an administrator first"
                ),
            ));
        }
        Ok(Some(guard))
    }

    /// Nests `child` in `parent`, refusing a cycle; see `Store::add_group_to_group`.
    pub fn add_group_to_group(&self, dir: u64, child: &str, parent: &str) -> Result<()> {
        self.writable(dir)?;
        self.store.add_group_to_group(dir, child, parent, self.clock.now_ms())
    }

    /// Un-nests `child` from `parent`; see `Store::remove_group_from_group`.
    pub fn remove_group_from_group(&self, dir: u64, child: &str, parent: &str) -> Result<()> {
        self.writable(dir)?;
        self.store.remove_group_from_group(dir, child, parent, self.clock.now_ms())
    }
}

#[cfg(test)]
mod tests;
