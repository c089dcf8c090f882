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
use crate::sync::{stripe, MutexExt, Padded, RwLockExt};
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::sync::{Arc, Mutex, RwLock};

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

struct Entries<K, V, S = RandomState> {
    generation: u64,
    map: HashMap<K, V, S>,
}

impl<K: Eq + Hash, V, S: BuildHasher + Default> Entries<K, V, S> {
    fn new() -> Self {
        Entries { generation: 0, map: HashMap::default() }
    }

    fn get(&self, key: &K, generation: u64) -> Option<&V> {
        if self.generation != generation {
            return None;
        }
        self.map.get(key)
    }

    fn fill(&mut self, max: usize, key: K, value: V, generation: u64) {
        if generation < self.generation {
            return;
        }
        if generation > self.generation || self.map.len() >= max {
            self.map.clear();
            self.generation = generation;
        }
        self.map.insert(key, value);
    }
}

impl<K: Eq + Hash, V: Clone> Generational<K, V> {
    /// An empty map that holds at most `max` entries (past that it starts over).
    pub fn new(max: usize) -> Self {
        Generational { max, inner: RwLock::new(Entries::new()) }
    }

    /// The value cached for `key`, if it was read in the store's current `generation`.
    pub fn get(&self, key: &K, generation: u64) -> Option<V> {
        self.inner.reading().get(key, generation).cloned()
    }

    /// Caches `value`, read from the store at `generation` (taken *before* the read).
    pub fn fill(&self, key: K, value: V, generation: u64) {
        self.inner.writing().fill(self.max, key, value, generation);
    }
}

/// Stripes of a [`PerThread`] map: at least the workers of a small machine.
const STRIPES: usize = 16;

/// A [`Generational`] map per thread stripe (`sync::stripe`), for the few small caches that
/// every request of the hot path reads: a hit locks and reads only the calling worker's own
/// stripe, so cores do not pass the lock's line back and forth. Each stripe fills itself,
/// and a value stored in one is never handed to another thread's stripe, so reference counts
/// of what it holds stay on one core too. The bound is `max` entries over all stripes.
///
/// `S` hashes the keys: SipHash by default; [`Mixed`] for keys nobody outside chooses.
pub struct PerThread<K, V, S = RandomState> {
    per_stripe: usize,
    stripes: Box<[Stripe<K, V, S>]>,
}

type Stripe<K, V, S> = Padded<Mutex<Entries<K, V, S>>>;

/// A hasher for keys that are digests, MAC tags or ids the server gave out: nobody can choose
/// them to collide, so SipHash's defence against that buys nothing, and it cost a sixth of a
/// cached usermanagement read. A multiply-rotate mix, as rustc's FxHasher.
#[derive(Default, Clone, Copy)]
pub struct Mixed(u64);

impl Hasher for Mixed {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn finish(&self) -> u64 {
        // The product's high bits are the well-mixed ones; the table indexes by the low.
        self.0 ^ (self.0 >> 32)
    }
}

/// Builds [`Mixed`] hashers.
pub type MixedState = BuildHasherDefault<Mixed>;

impl<K: Eq + Hash, V, S: BuildHasher + Default> PerThread<K, V, S> {
    /// An empty map of at most `max` entries in all (each stripe starts over past its share).
    pub fn new(max: usize) -> Self {
        PerThread {
            per_stripe: max.div_ceil(STRIPES).max(1),
            stripes: (0..STRIPES).map(|_| Padded(Mutex::new(Entries::new()))).collect(),
        }
    }

    fn local(&self) -> std::sync::MutexGuard<'_, Entries<K, V, S>> {
        self.stripes[stripe(STRIPES)].0.locked()
    }

    /// `read` of the value this thread's stripe holds for `key` at `generation`.
    pub fn get_with<R>(&self, key: &K, generation: u64, read: impl FnOnce(&V) -> R) -> Option<R> {
        self.local().get(key, generation).map(read)
    }

    /// Caches `value`, read from the store at `generation` (taken *before* the read), in this
    /// thread's stripe.
    pub fn fill(&self, key: K, value: V, generation: u64) {
        self.local().fill(self.per_stripe, key, value, generation);
    }
}

impl<K: Eq + Hash, V: Clone, S: BuildHasher + Default> PerThread<K, V, S> {
    /// The value cached for `key` in this thread's stripe at `generation`.
    pub fn get(&self, key: &K, generation: u64) -> Option<V> {
        self.get_with(key, generation, V::clone)
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

    #[test]
    fn each_thread_fills_its_own_stripe_under_the_same_rules() {
        let c: Arc<PerThread<u32, u32>> = Arc::new(PerThread::new(STRIPES * 2));
        c.fill(1, 10, 5);
        assert_eq!(c.get(&1, 5), Some(10));
        assert_eq!(c.get(&1, 6), None, "another generation misses");
        c.fill(1, 11, 4);
        assert_eq!(c.get(&1, 5), Some(10), "a fill read before the latest one is dropped");
        // A thread whose stripe is another one's sees nothing of this one's.
        let (c2, mine) = (c.clone(), crate::sync::stripe(STRIPES));
        let other = std::thread::spawn(move || (crate::sync::stripe(STRIPES), c2.get(&1, 5)))
            .join()
            .unwrap();
        if other.0 != mine {
            assert_eq!(other.1, None);
        }
        // Past its share (2 per stripe here), a stripe starts over.
        c.fill(2, 20, 5);
        c.fill(3, 30, 5);
        assert_eq!((c.get(&1, 5), c.get(&3, 5)), (None, Some(30)));
    }
}
