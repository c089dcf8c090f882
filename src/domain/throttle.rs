//! Throttled authentication: how many failed attempts a source address and a presented
//! identity may make before they are answered 429 without any secret being checked, and how
//! many password KDF runs may be in flight at once.
//!
//! **Leaky buckets.** Each key holds a level of failures that drains continuously: an
//! identity (a client id, an admin or application name — case-insensitive) may fail `limit`
//! times in a burst and is forgiven the whole burst over `period`; a source may fail
//! [`SOURCE_MULTIPLE`] times as often, because one address (a NAT, a Jira with several service
//! accounts) carries several identities, and one misconfigured client there must not lock the
//! others out. [`check`] runs before any verification and refuses while a bucket has no room
//! for one more failure, so a refused attempt costs a map lookup, never a hash. Refused attempts do not fill the
//! buckets further (they cost nothing to answer), so the wait never grows past `period`.
//! Concurrent attempts that all passed `check` may overshoot a limit by the number of workers.
//!
//! **Sources.** An IPv4 address is a source; an IPv6 address counts by its /64, since one
//! host is routinely given a whole /64 and could otherwise rotate through it.
//!
//! **No lockout by a stranger (OWASP "known device").** Anyone who knows a client id or an
//! admin name could fill that identity's bucket and lock its holder out. So pairs of (identity,
//! source) that authenticated successfully within [`KNOWN_FOR`] are remembered, and the
//! per-identity limit does not apply to them; the per-source limit still does. An attacker
//! elsewhere then locks out only other strangers. The memory is bounded: at most
//! [`KNOWN_SOURCES`] sources per identity (the least recently seen goes) and
//! [`KNOWN_IDENTITIES`] identities (the one seen least recently goes); only a correct
//! credential can add to it, so an attacker can only displace pairs of identities it holds.
//!
//! **Bounded memory, fast when quiet.** The bucket table holds at most [`MAX_BUCKETS`] keys.
//! When full, drained buckets go first, then the ones closest to drained, an eighth of the
//! table at a time so that eviction stays cheap under attack; it never grows. While it is empty
//! (no failure within a period) [`Throttle::check`] reads one atomic and returns, so the token
//! hot path takes no lock; recording a success reads a sharded map under a read lock and
//! writes only when a pair is new or has not been refreshed for [`KNOWN_REFRESH_MS`].
//!
//! All times are the app's clock in milliseconds, so tests move them without sleeping.
//!
//! A password check takes all of this, with the aggregated failure log (`domain::audit`), as
//! one [`Guards`].
//!
//! [`check`]: Throttle::check

use crate::app::App;
use crate::domain::audit::{Attempt, FailureLog};
use crate::error::Error;
use crate::store::records::Millis;
use crate::store::writer::Writer;
use crate::sync::{MutexExt, RwLockExt};
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::Duration;

/// What kind of credential an attempt presented. Each kind has its own buckets: a source
/// guessing client secrets does not spend its budget for admin logins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// OAuth client authentication (token, introspection, revocation).
    Client,
    /// Admin Basic authentication.
    Admin,
    /// Application Basic authentication (usermanagement: an application's name and password).
    Application,
    /// A directory user's login through an application (`/authentication`, `/session`).
    User,
}

/// A source may fail this many times as often as one identity.
pub const SOURCE_MULTIPLE: u64 = 5;
/// Most buckets held at once.
pub const MAX_BUCKETS: usize = 16_384;
/// How long a successful (identity, source) pair stays known.
pub const KNOWN_FOR: Duration = Duration::from_secs(7 * 86_400);
/// Most known sources per identity.
pub const KNOWN_SOURCES: usize = 8;
/// Most identities with known sources.
pub const KNOWN_IDENTITIES: usize = 8192;
/// A known pair seen again within this long is not written again.
pub const KNOWN_REFRESH_MS: Millis = 60_000;
const KNOWN_SHARDS: usize = 16;
/// Drained buckets are swept out at most this often (and whenever the table is full).
const SWEEP_EVERY_MS: Millis = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Source(Kind, u128),
    /// A keyed hash of the kind and the normalised identity: fixed size however long the
    /// presented name, and not steerable into collisions by a caller.
    Identity(u64),
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Failures held, in units of `period_ms` per failure; a bucket holding a burst of `n`
    /// failures drains by `n` units a ms, so any full bucket is empty after one period.
    level: u64,
    at: Millis,
}

struct Buckets {
    map: HashMap<Key, Bucket>,
    next_sweep: Millis,
}

struct Known {
    /// (source, last success), most `KNOWN_SOURCES`.
    sources: Vec<(u128, AtomicU64)>,
}

impl Known {
    fn newest(&self) -> Millis {
        self.sources.iter().map(|s| s.1.load(Ordering::Relaxed)).max().unwrap_or(0)
    }
}

pub struct Throttle {
    /// Failures in a burst per identity.
    limit: u64,
    period_ms: u64,
    buckets: Mutex<Buckets>,
    /// `buckets.map.len()`, readable without the lock: zero means nothing to check.
    live: AtomicUsize,
    known: Vec<RwLock<HashMap<u64, Known>>>,
    hasher: RandomState,
}

impl Throttle {
    pub fn new(limit: u32, period: Duration) -> Throttle {
        Throttle {
            limit: u64::from(limit.max(1)),
            period_ms: (period.as_millis() as u64).max(1),
            buckets: Mutex::new(Buckets { map: HashMap::new(), next_sweep: 0 }),
            live: AtomicUsize::new(0),
            known: (0..KNOWN_SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
        }
    }

    /// `Ok` if an attempt by `identity` from `source` may be verified now; otherwise
    /// `TooManyRequests` with the seconds until it may. Costs one atomic read while no failure
    /// is on record.
    pub fn check(
        &self,
        kind: Kind,
        source: &str,
        identity: &str,
        now: Millis,
    ) -> Result<(), Error> {
        if self.live.load(Ordering::Acquire) == 0 {
            return Ok(());
        }
        let (src, id) = (source_key(source), self.identity_key(kind, identity));
        let wait_ms = {
            let mut b = self.buckets.locked();
            self.sweep_if_due(&mut b, now);
            let source_wait = self.wait_ms(&b, Key::Source(kind, src), now);
            let identity_wait = self.wait_ms(&b, Key::Identity(id), now);
            if source_wait > 0 {
                source_wait
            } else if identity_wait > 0 && !self.is_known(id, src, now) {
                identity_wait
            } else {
                0
            }
        };
        if wait_ms == 0 {
            Ok(())
        } else {
            Err(Error::TooManyRequests { retry_after_secs: wait_ms.div_ceil(1000).max(1) })
        }
    }

    /// Records a failed verification against the source and the identity.
    pub fn failed(&self, kind: Kind, source: &str, identity: &str, now: Millis) {
        let (src, id) = (source_key(source), self.identity_key(kind, identity));
        let mut b = self.buckets.locked();
        self.sweep_if_due(&mut b, now);
        for key in [Key::Source(kind, src), Key::Identity(id)] {
            if !b.map.contains_key(&key) && b.map.len() >= MAX_BUCKETS {
                self.evict(&mut b, now);
            }
            let capacity = self.burst(key) * self.period_ms;
            let bucket = b.map.entry(key).or_insert(Bucket { level: 0, at: now });
            let level = self.drained(key, bucket, now);
            *bucket = Bucket { level: (level + self.period_ms).min(capacity), at: now };
        }
        self.live.store(b.map.len(), Ordering::Release);
    }

    /// Remembers that `identity` authenticated from `source`, so failures by others for the
    /// same identity do not lock this pair out.
    pub fn succeeded(&self, kind: Kind, source: &str, identity: &str, now: Millis) {
        let (src, id) = (source_key(source), self.identity_key(kind, identity));
        let shard = &self.known[(id as usize) % KNOWN_SHARDS];
        {
            let map = shard.reading();
            if let Some(seen) = map.get(&id).and_then(|k| k.sources.iter().find(|s| s.0 == src)) {
                // A relaxed store under the read lock: the value is a hint, and it is written
                // at most once a minute per pair, so readers do not fight over the line.
                if now.saturating_sub(seen.1.load(Ordering::Relaxed)) >= KNOWN_REFRESH_MS {
                    seen.1.store(now, Ordering::Relaxed);
                }
                return;
            }
        }
        let mut map = shard.writing();
        if !map.contains_key(&id) && map.len() >= KNOWN_IDENTITIES / KNOWN_SHARDS {
            let forget = known_for_ms();
            map.retain(|_, k| now.saturating_sub(k.newest()) < forget);
            if map.len() >= KNOWN_IDENTITIES / KNOWN_SHARDS {
                if let Some(oldest) = map.iter().min_by_key(|(_, k)| k.newest()).map(|(i, _)| *i) {
                    map.remove(&oldest);
                }
            }
        }
        let known = map.entry(id).or_insert_with(|| Known { sources: Vec::new() });
        if let Some(seen) = known.sources.iter().find(|s| s.0 == src) {
            seen.1.store(now, Ordering::Relaxed);
            return;
        }
        if known.sources.len() >= KNOWN_SOURCES {
            let oldest = (0..known.sources.len())
                .min_by_key(|&i| known.sources[i].1.load(Ordering::Relaxed))
                .expect("not empty");
            known.sources.swap_remove(oldest);
        }
        known.sources.push((src, AtomicU64::new(now)));
    }

    /// Buckets held now (for tests and diagnostics).
    pub fn len(&self) -> usize {
        self.live.load(Ordering::Acquire)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Failures a key may make in a burst; its bucket drains that many per period.
    fn burst(&self, key: Key) -> u64 {
        match key {
            Key::Source(..) => self.limit * SOURCE_MULTIPLE,
            Key::Identity(_) => self.limit,
        }
    }

    /// The bucket's level at `now`.
    fn drained(&self, key: Key, b: &Bucket, now: Millis) -> u64 {
        b.level.saturating_sub(now.saturating_sub(b.at).saturating_mul(self.burst(key)))
    }

    /// Milliseconds until `key` has room for one more failure; 0 if it has now.
    fn wait_ms(&self, b: &Buckets, key: Key, now: Millis) -> u64 {
        let level = b.map.get(&key).map_or(0, |bucket| self.drained(key, bucket, now));
        let burst = self.burst(key);
        (level + self.period_ms).saturating_sub(burst * self.period_ms).div_ceil(burst)
    }

    fn sweep_if_due(&self, b: &mut Buckets, now: Millis) {
        if now >= b.next_sweep {
            b.map.retain(|k, bucket| self.drained(*k, bucket, now) > 0);
            b.next_sweep = now + SWEEP_EVERY_MS;
            self.live.store(b.map.len(), Ordering::Release);
        }
    }

    /// Makes room: drops drained buckets, then those closest to drained, down to 7/8 full.
    fn evict(&self, b: &mut Buckets, now: Millis) {
        b.map.retain(|k, bucket| self.drained(*k, bucket, now) > 0);
        let target = MAX_BUCKETS - MAX_BUCKETS / 8;
        if b.map.len() > target {
            // Closest to drained: least time left until empty.
            let mut levels: Vec<(u64, Key)> = b
                .map
                .iter()
                .map(|(k, bucket)| (self.drained(*k, bucket, now) / self.burst(*k), *k))
                .collect();
            let excess = levels.len() - target;
            levels.select_nth_unstable_by_key(excess - 1, |(level, _)| *level);
            for (_, key) in &levels[..excess] {
                b.map.remove(key);
            }
        }
    }

    fn is_known(&self, id: u64, src: u128, now: Millis) -> bool {
        let map = self.known[(id as usize) % KNOWN_SHARDS].reading();
        map.get(&id).is_some_and(|k| {
            k.sources.iter().any(|s| {
                s.0 == src && now.saturating_sub(s.1.load(Ordering::Relaxed)) < known_for_ms()
            })
        })
    }

    fn identity_key(&self, kind: Kind, identity: &str) -> u64 {
        let mut h = self.hasher.build_hasher();
        kind.hash(&mut h);
        hash_folded(&mut h, identity);
        h.finish()
    }
}

/// Feeds the lower-cased form of `identity` to `h`: names compare case-insensitively. Client
/// ids and most names are lower-case ASCII already and are hashed without a copy.
pub(crate) fn hash_folded(h: &mut impl Hasher, identity: &str) {
    if identity.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()) {
        h.write(identity.to_lowercase().as_bytes());
    } else {
        h.write(identity.as_bytes());
    }
    h.write_u8(0xff);
}

fn known_for_ms() -> Millis {
    KNOWN_FOR.as_millis() as Millis
}

/// An address as a source: IPv4 (plain or mapped into IPv6) as itself, IPv6 by its /64.
/// Anything that is not an address (no peer address known) is hashed into the top of the
/// space, away from both.
fn source_key(source: &str) -> u128 {
    match source.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => u128::from(u32::from(v4)),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => u128::from(u32::from(v4)),
            None => u128::from(v6) & !u128::from(u64::MAX),
        },
        Err(_) => {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            source.hash(&mut h);
            (1u128 << 127) | u128::from(h.finish())
        }
    }
}

/// Password KDF runs allowed at once. A login that finds every slot taken is answered 503 at
/// once rather than waiting, so guessing can hold at most `slots` workers however many
/// connections it opens; the rest keep serving tokens and status.
pub struct KdfSlots {
    slots: usize,
    busy: AtomicUsize,
    runs: AtomicU64,
}

/// One KDF slot, given back on drop.
pub struct KdfPermit<'a>(&'a KdfSlots);

impl KdfSlots {
    pub fn new(slots: usize) -> KdfSlots {
        KdfSlots { slots: slots.max(1), busy: AtomicUsize::new(0), runs: AtomicU64::new(0) }
    }

    /// A slot if one is free now; never waits.
    pub fn try_acquire(&self) -> Option<KdfPermit<'_>> {
        self.busy
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| {
                (b < self.slots).then_some(b + 1)
            })
            .ok()?;
        self.runs.fetch_add(1, Ordering::Relaxed);
        Some(KdfPermit(self))
    }

    /// How many KDF runs were started since the server started (each permit is one run).
    pub fn runs(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }
}

impl Drop for KdfPermit<'_> {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::Release);
    }
}

/// What a password check needs against guessing, whoever checks (an admin, an application, a
/// user through an application, an OAuth client): the throttle that refuses a guesser before
/// anything is looked at, the KDF slots that bound the checks in flight, the PBKDF2 iteration
/// count the decoy hash for an unknown name is made with, and the aggregated failure log with
/// the writer that commits it. Borrowed from the `App`: copying one costs five words.
#[derive(Clone, Copy)]
pub struct Guards<'a> {
    pub throttle: &'a Throttle,
    pub kdf: &'a KdfSlots,
    failures: &'a FailureLog,
    writer: &'a Writer,
    pub pbkdf2_iterations: u32,
}

impl<'a> Guards<'a> {
    pub fn of(app: &'a App) -> Guards<'a> {
        Guards {
            throttle: &app.throttle,
            kdf: &app.kdf,
            failures: &app.failures,
            writer: &app.writer,
            pbkdf2_iterations: app.config.pbkdf2_iterations,
        }
    }

    /// Counts a failed or throttled attempt into the aggregated audit log, and wakes the
    /// writer when that opened a new record (`FailureLog::record`).
    pub fn failed(&self, a: &Attempt<'_>, target: impl FnOnce() -> String) {
        if self.failures.record(a, target) {
            self.writer.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Millis = 60_000;

    fn throttle() -> Throttle {
        Throttle::new(10, Duration::from_secs(60))
    }

    fn fail_n(t: &Throttle, kind: Kind, source: &str, identity: &str, n: usize, now: Millis) {
        for i in 0..n {
            assert!(t.check(kind, source, identity, now).is_ok(), "attempt {i} refused");
            t.failed(kind, source, identity, now);
        }
    }

    fn retry_after(r: Result<(), Error>) -> u64 {
        match r {
            Err(Error::TooManyRequests { retry_after_secs }) => retry_after_secs,
            other => panic!("expected 429, got {other:?}"),
        }
    }

    #[test]
    fn an_identity_gets_limit_failures_then_waits_and_drains_over_the_period() {
        let t = throttle();
        let now = 1_000_000;
        assert!(t.is_empty());
        fail_n(&t, Kind::Client, "10.0.0.1", "c", 10, now);
        assert_eq!(retry_after(t.check(Kind::Client, "10.0.0.1", "c", now)), 6);
        // One failure drains every period/limit = 6 s.
        assert!(t.check(Kind::Client, "10.0.0.1", "c", now + 5_999).is_err());
        assert!(t.check(Kind::Client, "10.0.0.1", "c", now + 6_000).is_ok());
        // Other identities from the same source are not affected (the source has 5x room).
        assert!(t.check(Kind::Client, "10.0.0.1", "other", now).is_ok());
        // Nor is the same name of another kind.
        assert!(t.check(Kind::Admin, "10.0.0.1", "c", now).is_ok());
        // After a full period everything is drained and swept: the fast path is back.
        assert!(t.check(Kind::Client, "10.0.0.1", "c", now + MIN).is_ok());
        assert!(t.is_empty());
    }

    #[test]
    fn a_source_rotating_identities_hits_the_source_limit() {
        let t = throttle();
        let now = 5_000_000;
        for i in 0..50 {
            fail_n(&t, Kind::Admin, "10.0.0.9", &format!("user{i}"), 1, now);
        }
        // One failure drains every period / (5 x limit) = 1.2 s.
        assert_eq!(retry_after(t.check(Kind::Admin, "10.0.0.9", "fresh-name", now)), 2);
        assert!(t.check(Kind::Admin, "10.0.0.9", "fresh-name", now + 1_199).is_err());
        assert!(t.check(Kind::Admin, "10.0.0.9", "fresh-name", now + 1_200).is_ok());
        // Even a pair known from before is refused: the source limit applies to everyone.
        t.succeeded(Kind::Admin, "10.0.0.9", "admin", now);
        assert!(t.check(Kind::Admin, "10.0.0.9", "admin", now).is_err());
        // Another source is untouched.
        assert!(t.check(Kind::Admin, "10.0.0.10", "fresh-name", now).is_ok());
        // One period forgives the whole burst.
        for i in 50..100 {
            fail_n(&t, Kind::Admin, "10.0.0.9", &format!("user{i}"), 1, now + MIN);
        }
    }

    #[test]
    fn names_are_case_insensitive() {
        let t = throttle();
        let now = 1;
        fail_n(&t, Kind::Admin, "10.0.0.1", "Admin", 5, now);
        fail_n(&t, Kind::Admin, "10.0.0.2", "ADMIN", 5, now);
        assert!(t.check(Kind::Admin, "10.0.0.3", "admin", now).is_err());
    }

    #[test]
    fn a_stranger_cannot_lock_out_a_known_pair() {
        let t = throttle();
        let now = 9_000_000;
        // The holder authenticated from 10.1.1.1 an hour ago.
        t.succeeded(Kind::Client, "10.1.1.1", "victim", now - 3_600_000);
        // Attackers at other addresses fill the identity's bucket.
        fail_n(&t, Kind::Client, "10.2.2.2", "victim", 6, now);
        fail_n(&t, Kind::Client, "10.3.3.3", "victim", 4, now);
        assert!(t.check(Kind::Client, "10.4.4.4", "victim", now).is_err(), "a stranger waits");
        assert!(t.check(Kind::Client, "10.2.2.2", "victim", now).is_err(), "so does the attacker");
        assert!(t.check(Kind::Client, "10.1.1.1", "victim", now).is_ok(), "the holder does not");
        // Known is per pair: the holder's source does not vouch for another identity.
        fail_n(&t, Kind::Client, "10.2.2.2", "other", 10, now);
        assert!(t.check(Kind::Client, "10.1.1.1", "other", now).is_err());
        // And it expires.
        let later = now - 3_600_000 + known_for_ms();
        fail_n(&t, Kind::Client, "10.2.2.2", "victim", 10, later);
        assert!(t.check(Kind::Client, "10.1.1.1", "victim", later).is_err());
    }

    #[test]
    fn ipv6_sources_count_by_their_64() {
        let t = throttle();
        let now = 1;
        for i in 0..50 {
            let addr = format!("2001:db8:1:2::{i:x}");
            fail_n(&t, Kind::Client, &addr, &format!("id{i}"), 1, now);
        }
        assert!(t.check(Kind::Client, "2001:db8:1:2:ffff::1", "new", now).is_err());
        assert!(t.check(Kind::Client, "2001:db8:1:3::1", "new", now).is_ok());
        assert_eq!(source_key("::ffff:10.0.0.1"), source_key("10.0.0.1"));
    }

    #[test]
    fn the_bucket_table_never_grows_past_its_cap_and_keeps_the_fullest() {
        let t = Throttle::new(1_000_000, Duration::from_secs(60));
        let now = 1_000;
        // A heavy hitter first: its source bucket is the fullest in the table.
        fail_n(&t, Kind::Client, "10.9.9.9", "x", 100, now);
        for i in 0..(MAX_BUCKETS as u32 * 2) {
            let src = std::net::Ipv4Addr::from(0x0a00_0000 + i).to_string();
            t.failed(Kind::Client, &src, &format!("id{i}"), now);
            assert!(t.len() <= MAX_BUCKETS);
        }
        let b = t.buckets.locked();
        let heavy = Key::Source(Kind::Client, source_key("10.9.9.9"));
        assert!(b.map.contains_key(&heavy), "the fullest bucket was evicted");
    }

    #[test]
    fn known_pairs_are_bounded() {
        let t = throttle();
        for i in 0..(KNOWN_IDENTITIES * 2) {
            t.succeeded(Kind::Client, "10.0.0.1", &format!("id{i}"), i as Millis);
        }
        for s in 0..(KNOWN_SOURCES * 3) {
            t.succeeded(Kind::Client, &format!("10.0.1.{s}"), "busy", 1_000_000 + s as Millis);
        }
        let total: usize = t.known.iter().map(|s| s.reading().len()).sum();
        assert!(total <= KNOWN_IDENTITIES, "{total}");
        let id = t.identity_key(Kind::Client, "busy");
        let shard = t.known[(id as usize) % KNOWN_SHARDS].reading();
        assert_eq!(shard[&id].sources.len(), KNOWN_SOURCES);
    }

    #[test]
    fn kdf_slots_are_never_over_given_and_come_back_on_drop() {
        let k = KdfSlots::new(2);
        let a = k.try_acquire().unwrap();
        let b = k.try_acquire().unwrap();
        assert!(k.try_acquire().is_none());
        drop(a);
        let c = k.try_acquire().unwrap();
        drop((b, c));
        assert_eq!(k.runs(), 3);
    }
}
