//! What a usermanagement caller may see and change: the directories mapped to its
//! application, in order, each with the operations the mapping allows.
//!
//! Crowd aggregates an application's directories: a name is looked up in mapping order and the
//! first directory holding it wins, shadowing the same name further down
//! (https://confluence.atlassian.com/crowd/effective-memberships-with-multiple-directories-191851108.html).
//! Memberships are those of the directory the user or group was found in (Crowd's default,
//! membership aggregation off). A write needs the operation on the mapping of the directory it
//! lands in; a create lands in the first mapped directory that allows it.

use crate::domain::applications::auth::AppPrincipal;
use crate::error::{Error, Resource, Result};
use crate::store::cache::{MixedState, PerThread};
use crate::store::records::{GroupRecord, UserRecord};
use crate::store::{Store, Topic};
use std::sync::Arc;

pub use crate::store::applications::Operation;

fn bit(op: Operation) -> u16 {
    1 << (op as u16)
}

/// A set of operations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Operations(u16);

impl Operations {
    pub const NONE: Operations = Operations(0);

    pub fn all() -> Operations {
        Operation::ALL.into_iter().collect()
    }

    pub fn allows(self, op: Operation) -> bool {
        self.0 & bit(op) != 0
    }

    pub fn iter(self) -> impl Iterator<Item = Operation> {
        Operation::ALL.into_iter().filter(move |o| self.allows(*o))
    }
}

impl FromIterator<Operation> for Operations {
    fn from_iter<I: IntoIterator<Item = Operation>>(ops: I) -> Operations {
        Operations(ops.into_iter().fold(0, |bits, o| bits | bit(o)))
    }
}

/// One directory as the caller sees it.
#[derive(Debug, Clone)]
pub struct MappedDirectory {
    pub id: u64,
    pub name: String,
    /// Every user of the directory may authenticate to the application; otherwise only
    /// (nested) members of `allowed_groups`.
    pub authenticate_all: bool,
    pub allowed_groups: Vec<String>,
    pub operations: Operations,
}

/// The caller's view: who it is (for audit) and its directories in mapping order.
#[derive(Debug, Clone)]
pub struct Access {
    /// Names this view among the cached ones: equal keys, equal views.
    pub key: u64,
    /// The client id of a read-only view.
    pub reader: Option<[u8; 16]>,
    pub name: String,
    pub directories: Vec<MappedDirectory>,
    /// A service account's view: it reads, and changes nothing (sessions included).
    pub read_only: bool,
    /// The application wants every user and group name in lower case.
    pub lowercase_output: bool,
    /// Whether answers derived from this view may be cached under its key (false for a view
    /// built from an application record older than the latest change).
    pub cacheable: bool,
    /// The store's directory and applications generations, summed, as they were before the
    /// view was read: what an answer derived from it may be cached under, since a change after
    /// that may have changed the view itself.
    pub generation: u64,
}

fn denied(op: Operation, dir: &MappedDirectory) -> Error {
    Error::NotPermitted(format!(
        "The application may not {} in directory '{}' ({})",
        op.as_str().to_lowercase().replace('_', " "),
        dir.name,
        dir.id
    ))
}

/// Who a view is for.
#[derive(Clone, Copy)]
pub enum Caller<'a> {
    Application(&'a AppPrincipal),
    /// A service account's token, by its client id: reads only.
    Reader([u8; 16]),
}

/// Views already built, per application and per bearer caller,
/// good while neither the directories nor the applications changed: building one costs a few
/// allocations on every usermanagement call otherwise. Kept per worker (`PerThread`): each
/// builds its own view once per change, and then reads it without touching another core's.
pub struct AccessCache(PerThread<u64, Arc<Access>, MixedState>);

impl Default for AccessCache {
    fn default() -> Self {
        AccessCache(PerThread::new(4096))
    }
}

impl AccessCache {
    /// The view of `app`, or the read-only view when `None` (named `reader`).
    pub fn view(&self, store: &Store, caller: Caller<'_>) -> Result<Arc<Access>> {
        // Both counters only grow, so their sum moves whenever either does: a view read before
        // a change is never filled under the later number.
        let apps = store.generation(Topic::Applications);
        let generation = store.generation(Topic::Directory) + apps;
        // A principal read before the latest application change (its PBKDF2 run overlapped
        // the change) gets a view of its own, neither served from nor put in the cache.
        if let Caller::Application(a) = caller {
            if a.generation != apps {
                let mut fresh = Access::of_application(store, a, a.id)?;
                fresh.cacheable = false;
                fresh.generation = generation;
                return Ok(Arc::new(fresh));
            }
        }
        // Applications by id; readers by their client id, folded into the upper half of the
        // key space (application ids are small sequence numbers).
        let key = match caller {
            Caller::Application(a) => a.id,
            Caller::Reader(id) => {
                let (a, b) = id.split_at(8);
                let fold = u64::from_le_bytes(a.try_into().expect("8"))
                    ^ u64::from_le_bytes(b.try_into().expect("8"));
                fold | 1 << 63
            }
        };
        if let Some(hit) = self.0.get(&key, generation) {
            let same = match caller {
                Caller::Application(a) => a.id == key,
                Caller::Reader(id) => hit.reader == Some(id),
            };
            if same {
                return Ok(hit);
            }
        }
        let mut built = match caller {
            Caller::Application(a) => Access::of_application(store, a, key)?,
            Caller::Reader(id) => Access::read_only(store, id, key)?,
        };
        built.generation = generation;
        let built = Arc::new(built);
        self.0.fill(key, built.clone(), generation);
        Ok(built)
    }
}

impl Access {
    /// A read-only view of every directory, in id order: what a service account's bearer token
    /// sees (Crowd 7.0 lets service-account tokens read, not write, usermanagement).
    pub fn read_only(store: &Store, client_id: [u8; 16], key: u64) -> Result<Access> {
        let name = crate::crypto::hex(&client_id);
        let directories = store
            .directories_cached()?
            .iter()
            .filter(|d| d.active)
            .map(|d| MappedDirectory {
                id: d.id,
                name: d.name.clone(),
                authenticate_all: false,
                allowed_groups: Vec::new(),
                operations: Operations::NONE,
            })
            .collect();
        Ok(Access {
            key,
            reader: Some(client_id),
            name,
            directories,
            read_only: true,
            lowercase_output: false,
            cacheable: true,
            generation: 0,
        })
    }

    /// An application's view: its mappings in order, each directory that still exists and is
    /// active (Crowd skips inactive directories in an application's lookups).
    pub fn of_application(store: &Store, app: &AppPrincipal, key: u64) -> Result<Access> {
        let all = store.directories_cached()?;
        let mut directories = Vec::with_capacity(app.mappings.len());
        for m in app.mappings.iter() {
            let Some(d) = all.iter().find(|d| d.id == m.directory_id) else { continue };
            if !d.active {
                continue;
            }
            directories.push(MappedDirectory {
                id: d.id,
                name: d.name.clone(),
                authenticate_all: m.authenticate_all,
                allowed_groups: m.allowed_groups.clone(),
                operations: m.allowed_operations.iter().copied().collect(),
            });
        }
        Ok(Access {
            key,
            reader: None,
            name: app.name.to_string(),
            directories,
            read_only: false,
            lowercase_output: app.lowercase_output,
            cacheable: true,
            generation: 0,
        })
    }

    pub fn directory(&self, id: u64) -> Option<&MappedDirectory> {
        self.directories.iter().find(|d| d.id == id)
    }

    /// The user of that name in the first mapped directory holding one.
    pub fn find_user(
        &self,
        store: &Store,
        name: &str,
    ) -> Result<(Arc<UserRecord>, &MappedDirectory)> {
        for dir in &self.directories {
            if let Some(u) = store.user_cached(dir.id, name)? {
                return Ok((u, dir));
            }
        }
        Err(Error::NotFound(Resource::User, name.to_string()))
    }

    /// The group of that name in the first mapped directory holding one.
    pub fn find_group(&self, store: &Store, name: &str) -> Result<(GroupRecord, &MappedDirectory)> {
        for dir in &self.directories {
            if let Some(g) = store.group(dir.id, name)? {
                return Ok((g, dir));
            }
        }
        Err(Error::NotFound(Resource::Group, name.to_string()))
    }

    /// Where a create lands: the first mapped directory whose mapping allows `op`.
    pub fn directory_for(&self, op: Operation) -> Result<&MappedDirectory> {
        self.directories.iter().find(|d| d.operations.allows(op)).ok_or_else(|| {
            Error::NotPermitted(format!(
                "No directory mapped to the application allows {}",
                op.as_str()
            ))
        })
    }

    /// `Ok` unless this is a read-only view: for changes no mapping operation names (ending
    /// SSO sessions).
    pub fn require_writer(&self) -> Result<()> {
        if self.read_only {
            Err(Error::NotPermitted(
                "A service account's token may read the directory, not change it".into(),
            ))
        } else {
            Ok(())
        }
    }

    /// `Ok` for an application: user logins and SSO sessions are an application's business,
    /// and a read-only token must not be able to test passwords or probe sessions.
    pub fn require_application(&self) -> Result<()> {
        if self.read_only {
            Err(Error::NotPermitted(
                "A service account's token may not authenticate users or use SSO sessions".into(),
            ))
        } else {
            Ok(())
        }
    }

    /// `Ok` if the mapping of `dir` allows `op`.
    pub fn require(&self, dir: &MappedDirectory, op: Operation) -> Result<()> {
        if dir.operations.allows(op) {
            Ok(())
        } else {
            Err(denied(op, dir))
        }
    }
}
