//! A read-through cache of decoded users, so bearer calls that name a user (and admin Basic
//! checks) do not open tables and decode JSON on every request.
//!
//! Correctness rests on one counter: every write to the directory tables bumps `generation`
//! after its commit and empties the map. A reader notes the generation before it opens its
//! read transaction and fills the cache only if no write committed since, so a value read
//! from an older snapshot is never cached.

use super::records::{DirectoryRecord, UserRecord};
use crate::sync::RwLockExt;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// A user and the directory it lives in.
pub type CachedUser = Arc<(UserRecord, DirectoryRecord)>;

/// Past this many entries the map starts over; it refills with the names in use.
const MAX_ENTRIES: usize = 100_000;

#[derive(Default)]
pub struct UserCache {
    generation: AtomicU64,
    map: RwLock<HashMap<String, CachedUser>>,
}

impl UserCache {
    /// The generation to pass to [`UserCache::fill`]; take it before reading the store.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn get(&self, key: &str) -> Option<CachedUser> {
        self.map.reading().get(key).cloned()
    }

    /// Caches `value` unless a directory write committed after `generation` was taken.
    pub fn fill(&self, key: String, value: CachedUser, generation: u64) {
        let mut map = self.map.writing();
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(key, value);
    }

    /// Call after every committed write to users, groups, memberships or directories.
    pub fn invalidate(&self) {
        let mut map = self.map.writing();
        self.generation.fetch_add(1, Ordering::AcqRel);
        map.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> CachedUser {
        let u = UserRecord {
            directory_id: 1,
            name: name.into(),
            first_name: String::new(),
            last_name: String::new(),
            display_name: String::new(),
            email: String::new(),
            active: true,
            created: 0,
            updated: 0,
            password_hash: None,
            attributes: Default::default(),
        };
        let d = DirectoryRecord {
            id: 1,
            name: "d".into(),
            kind: "INTERNAL".into(),
            active: true,
            created: 0,
        };
        Arc::new((u, d))
    }

    #[test]
    fn a_read_from_before_a_write_is_not_cached() {
        let c = UserCache::default();
        let g = c.generation();
        c.invalidate(); // a write commits while the reader is reading
        c.fill("bob".into(), user("bob"), g);
        assert!(c.get("bob").is_none());
        let g = c.generation();
        c.fill("bob".into(), user("bob"), g);
        assert_eq!(c.get("bob").unwrap().0.name, "bob");
        c.invalidate();
        assert!(c.get("bob").is_none());
    }
}
