//! Caches of what the store holds, kept correct by one counter: the store's generation
//! ([`Store::generation`](super::Store::generation)), which every committed change to
//! directories, users, groups or memberships bumps (`Store::changed`).
//!
//! A [`Generational`] map belongs to one generation. A reader notes the generation before it
//! reads the store and fills the map with that number: a fill from an older generation than
//! the map's is dropped, a newer one starts the map over, and a lookup with any other
//! generation than the map's misses. So a value read from a snapshot older than the latest
//! change is never served, and writers never have to reach into caches they do not know of
//! (the user cache here, the admin password cache in `domain::admin`).

use super::records::{DirectoryRecord, UserRecord};
use crate::sync::RwLockExt;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, RwLock};

/// A user and the directory it lives in.
pub type CachedUser = Arc<(UserRecord, DirectoryRecord)>;

/// Past this many users the cache starts over; it refills with the names in use.
const MAX_USERS: usize = 100_000;

/// Decoded users by lower-cased name, for bearer calls that name a user and admin Basic checks,
/// so these do not open tables and decode JSON on every request.
pub type UserCache = Generational<String, CachedUser>;

impl Default for UserCache {
    fn default() -> Self {
        Generational::new(MAX_USERS)
    }
}

/// Decoded users by (directory id, folded name); `None` remembers that there is none, as an
/// application's lookup walks its directories in order and most names miss in all but one.
pub type DirectoryUserCache = Generational<(u64, String), Option<Arc<UserRecord>>>;

impl Default for DirectoryUserCache {
    fn default() -> Self {
        Generational::new(MAX_USERS)
    }
}

/// A bounded map whose entries are valid for one store generation only.
pub struct Generational<K, V> {
    max: usize,
    inner: RwLock<Entries<K, V>>,
}

struct Entries<K, V> {
    generation: u64,
    map: HashMap<K, V>,
}

impl<K: Eq + Hash, V: Clone> Generational<K, V> {
    /// An empty map that holds at most `max` entries (past that it starts over).
    pub fn new(max: usize) -> Self {
        Generational { max, inner: RwLock::new(Entries { generation: 0, map: HashMap::new() }) }
    }

    /// The value cached for `key`, if it was read in the store's current `generation`.
    pub fn get(&self, key: &K, generation: u64) -> Option<V> {
        let inner = self.inner.reading();
        if inner.generation != generation {
            return None;
        }
        inner.map.get(key).cloned()
    }

    /// Caches `value`, read from the store at `generation` (taken *before* the read).
    pub fn fill(&self, key: K, value: V, generation: u64) {
        let mut inner = self.inner.writing();
        if generation < inner.generation {
            return;
        }
        if generation > inner.generation || inner.map.len() >= self.max {
            inner.map.clear();
            inner.generation = generation;
        }
        inner.map.insert(key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> CachedUser {
        let u = UserRecord { directory_id: 1, name: name.into(), ..Default::default() };
        Arc::new((u, DirectoryRecord { id: 1, name: "d".into(), ..Default::default() }))
    }

    #[test]
    fn a_read_from_before_a_write_is_not_cached() {
        let c = UserCache::default();
        c.fill("bob".into(), user("bob"), 1);
        assert_eq!(c.get(&"bob".to_string(), 1).unwrap().0.name, "bob");
        // A write commits (generation 2): what generation 1 read is no longer served.
        assert!(c.get(&"bob".to_string(), 2).is_none());
        // A reader that started before that write fills late: dropped once 2 has filled.
        c.fill("ann".into(), user("ann"), 2);
        c.fill("bob".into(), user("bob"), 1);
        assert!(c.get(&"bob".to_string(), 2).is_none());
        assert!(c.get(&"ann".to_string(), 2).is_some());
    }

    #[test]
    fn a_full_map_starts_over() {
        let c: Generational<u32, u32> = Generational::new(2);
        c.fill(1, 1, 0);
        c.fill(2, 2, 0);
        c.fill(3, 3, 0);
        assert_eq!((c.get(&1, 0), c.get(&3, 0)), (None, Some(3)));
    }
}
