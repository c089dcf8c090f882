//! Audit events: the actions throng records, a builder for their records, and the bounded
//! aggregation of failed authentications ([`FailureLog`]), which keeps an attacker who fails
//! thousands of times a second from writing thousands of rows a second.
//!
//! Failed attempts are aggregated into one record per (action, source, identity) and window
//! of [`WINDOW_MS`]: `count` is how many attempts it stands for, `throttled` how many of those
//! the throttle refused without checking their credentials (`domain::throttle`). A failed
//! admin login is `ADMIN_AUTHENTICATION_FAILED`, a failed application login (usermanagement
//! Basic) `APPLICATION_AUTHENTICATION_FAILED`; no password is ever recorded, and a name that
//! does not exist only as a digest. Password checks count their failures here through
//! `domain::throttle::Guards`, which also wakes the writer.

use crate::crypto;
use crate::store::audit::AuditWrite;
use crate::store::records::{AuditRecord, Millis};
use crate::sync::MutexExt;
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// The actions throng writes to the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    ServiceAccountCreated,
    ServiceAccountUpdated,
    ServiceAccountArchived,
    ClientSecretRotated,
    ClientAuthenticationFailed,
    AdminAuthenticationFailed,
    UserAuthenticationFailed,
    TokenRevoked,
    ApplicationCreated,
    ApplicationUpdated,
    ApplicationDeleted,
    RemoteAddressAdded,
    RemoteAddressRemoved,
    ApplicationAuthenticationFailed,
    /// A batch of memberships added through the admin API, with its counts.
    MembershipsAdded,
    DirectoryCreated,
    /// A `CROWD` directory's settings changed.
    DirectoryUpdated,
    /// A batch of memberships removed through the admin API, with its counts.
    MembershipsRemoved,
    ApplicationLinkCreated,
    ApplicationLinkUpdated,
    ApplicationLinkDeleted,
    /// A `private_key_jwt` client's keys were added, removed or replaced.
    ClientKeysChanged,
    /// The `SCIM` directories a client may provision changed.
    ClientDirectoriesGranted,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::ServiceAccountCreated => "SERVICE_ACCOUNT_CREATED",
            Action::ServiceAccountUpdated => "SERVICE_ACCOUNT_UPDATED",
            Action::ServiceAccountArchived => "SERVICE_ACCOUNT_ARCHIVED",
            Action::ClientSecretRotated => "CLIENT_SECRET_ROTATED",
            Action::ClientAuthenticationFailed => "CLIENT_AUTHENTICATION_FAILED",
            Action::AdminAuthenticationFailed => "ADMIN_AUTHENTICATION_FAILED",
            Action::UserAuthenticationFailed => "USER_AUTHENTICATION_FAILED",
            Action::TokenRevoked => "TOKEN_REVOKED",
            Action::ApplicationCreated => "APPLICATION_CREATED",
            Action::ApplicationUpdated => "APPLICATION_UPDATED",
            Action::ApplicationDeleted => "APPLICATION_DELETED",
            Action::RemoteAddressAdded => "REMOTE_ADDRESS_ADDED",
            Action::RemoteAddressRemoved => "REMOTE_ADDRESS_REMOVED",
            Action::ApplicationAuthenticationFailed => "APPLICATION_AUTHENTICATION_FAILED",
            Action::MembershipsAdded => "MEMBERSHIPS_ADDED",
            Action::DirectoryCreated => "DIRECTORY_CREATED",
            Action::DirectoryUpdated => "DIRECTORY_UPDATED",
            Action::MembershipsRemoved => "MEMBERSHIPS_REMOVED",
            Action::ApplicationLinkCreated => "APPLICATION_LINK_CREATED",
            Action::ApplicationLinkUpdated => "APPLICATION_LINK_UPDATED",
            Action::ApplicationLinkDeleted => "APPLICATION_LINK_DELETED",
            Action::ClientKeysChanged => "CLIENT_KEYS_CHANGED",
            Action::ClientDirectoriesGranted => "CLIENT_DIRECTORIES_GRANTED",
        }
    }
}

/// Who acted and from where: what every audit record carries besides the event.
#[derive(Debug, Clone)]
pub struct Actor {
    pub name: String,
    pub remote: String,
}

impl Actor {
    pub fn record(
        &self,
        now: u64,
        action: Action,
        target: &str,
        details: impl Into<String>,
    ) -> AuditRecord {
        AuditRecord {
            id: 0,
            timestamp: now,
            actor: self.name.clone(),
            action: action.as_str().to_string(),
            // Targets can come from callers (an unknown client id); bound what we keep.
            target: target.chars().take(128).collect(),
            details: details.into(),
            remote: self.remote.clone(),
            count: 1,
            throttled: 0,
        }
    }
}

/// How long one aggregated record of failed attempts gathers: the first failure for an
/// (action, source, identity) opens a record, and every failure for it in the next minute
/// counts into that record.
pub const WINDOW_MS: Millis = 60_000;
/// Most records open at once, across every source; past it, failures of new sources count
/// into one record per action for all sources.
pub const MAX_OPEN: usize = 4096;
/// Most identities one source gets records of in a window; past it, its failures for new
/// identities count into one per-source record.
pub const MAX_IDENTITIES_PER_SOURCE: usize = 16;
/// The target of a record that stands for identities past the per-source cap.
pub const MANY_IDENTITIES: &str = "(many identities)";
/// The address of the record that stands for every source past the global cap.
pub const MANY_SOURCES: &str = "(many sources)";

/// Whom an aggregated record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Who {
    /// One presented identity, by a keyed hash of its normalised (lower-cased) form.
    One(u64),
    /// Identities of one source past [`MAX_IDENTITIES_PER_SOURCE`].
    Many,
    /// Every source past [`MAX_OPEN`].
    Everyone,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct AggKey {
    action: Action,
    source: String,
    who: Who,
}

struct Open {
    key: AggKey,
    /// Counts kept current; `id` unused until the row exists.
    record: AuditRecord,
    closes: Millis,
    /// The window is over: counts are final, the entry goes once they are written.
    closed: bool,
    /// The audit row once written.
    row: Option<u64>,
    /// (count, throttled) as last committed.
    written: (u64, u64),
}

impl Open {
    fn counts(&self) -> (u64, u64) {
        (self.record.count, self.record.throttled)
    }
}

#[derive(Default)]
struct AggState {
    /// Every entry not yet finished with, by serial (open and closed).
    entries: HashMap<u64, Open>,
    /// The open entry of each key.
    open: HashMap<AggKey, u64>,
    /// Open one-identity entries per (action, source).
    per_source: HashMap<(Action, String), usize>,
    next_serial: u64,
}

impl AggState {
    /// Counts one attempt into the open entry of `key`; false if there is none (closing one
    /// whose window is over on the way).
    fn bump(&mut self, key: &AggKey, throttled: bool, now: Millis) -> bool {
        let Some(&serial) = self.open.get(key) else {
            return false;
        };
        let e = self.entries.get_mut(&serial).expect("open entries exist");
        if now >= e.closes {
            self.close(serial);
            return false;
        }
        e.record.count += 1;
        e.record.throttled += u64::from(throttled);
        true
    }

    fn close(&mut self, serial: u64) {
        let Some(e) = self.entries.get_mut(&serial) else {
            return;
        };
        if e.closed {
            return;
        }
        e.closed = true;
        self.open.remove(&e.key);
        if matches!(e.key.who, Who::One(_)) {
            let k = (e.key.action, e.key.source.clone());
            if let Some(n) = self.per_source.get_mut(&k) {
                *n -= 1;
                if *n == 0 {
                    self.per_source.remove(&k);
                }
            }
        }
    }

    fn insert(&mut self, key: AggKey, record: AuditRecord, now: Millis) {
        let serial = self.next_serial;
        self.next_serial += 1;
        if matches!(key.who, Who::One(_)) {
            *self.per_source.entry((key.action, key.source.clone())).or_default() += 1;
        }
        self.open.insert(key.clone(), serial);
        self.entries.insert(
            serial,
            Open {
                key,
                record,
                closes: now + WINDOW_MS,
                closed: false,
                row: None,
                written: (0, 0),
            },
        );
    }

    /// Whether a new one-identity entry for this source fits under both caps.
    fn has_room_for(&self, action: Action, source: &str) -> bool {
        self.entries.len() < MAX_OPEN
            && self.per_source.get(&(action, source.to_string())).copied().unwrap_or(0)
                < MAX_IDENTITIES_PER_SOURCE
    }
}

/// One failed (or throttled) authentication attempt, as [`FailureLog::record`] takes it.
pub struct Attempt<'a> {
    pub action: Action,
    /// The peer address.
    pub source: &'a str,
    /// The identity presented (a client id, a user name); compared case-insensitively.
    pub identity: &'a str,
    /// Refused by the throttle, credentials unchecked.
    pub throttled: bool,
    pub now: Millis,
}

/// What the writer should commit for aggregated failures: [`AuditWrite`]s, and for each the
/// serial of the entry it came from, to hand back to [`FailureLog::committed`].
pub use crate::store::writer::Pending;

/// Failed authentications, aggregated in a bounded map before they reach the audit log.
///
/// Request threads only count into the map. The writer thread (`store::writer::Writer`) commits: the
/// first attempt of a window becomes a row at the writer's next pass (a new entry wakes it, so
/// within ~100 ms); later attempts update that row's `count` when the window closes, or
/// earlier on a flush. So however fast an attacker fails, a source costs at most one row per
/// identity per window, at most [`MAX_IDENTITIES_PER_SOURCE`] + 1 rows per window, and all
/// sources together at most [`MAX_OPEN`] + 1 rows per window per action; memory is bounded by
/// the same caps.
#[derive(Default)]
pub struct FailureLog {
    state: Mutex<AggState>,
    /// Set when a new entry woke the writer, cleared when the writer takes its writes: at
    /// most one wake-up is queued at a time.
    wake_pending: AtomicBool,
    hasher: RandomState,
}

impl FailureLog {
    /// Counts an attempt. `target` names the identity for the record (a known name as is, an
    /// unknown one as a digest) and runs only when a new record opens. Returns whether the
    /// writer should be woken to write the new record.
    pub fn record(&self, a: &Attempt<'_>, target: impl FnOnce() -> String) -> bool {
        let source: String = a.source.chars().take(64).collect();
        let one =
            AggKey { action: a.action, source, who: Who::One(self.identity_hash(a.identity)) };
        let room = {
            let mut st = self.state.locked();
            if st.bump(&one, a.throttled, a.now) {
                return false;
            }
            st.has_room_for(a.action, &one.source)
        };
        // Naming the target may read the store: not under the lock.
        let target = if room { Some(target()) } else { None };
        let mut st = self.state.locked();
        if st.bump(&one, a.throttled, a.now) {
            return false;
        }
        let record = |remote: &str, target: &str| {
            let mut r = Actor { name: "anonymous".into(), remote: remote.into() }
                .record(a.now, a.action, target, "");
            r.throttled = u64::from(a.throttled);
            r
        };
        match target {
            Some(t) if st.has_room_for(a.action, &one.source) => {
                let r = record(&one.source, &t);
                st.insert(one, r, a.now);
            }
            _ => {
                let many = AggKey { who: Who::Many, ..one };
                if st.bump(&many, a.throttled, a.now) {
                    return false;
                }
                if st.entries.len() < MAX_OPEN {
                    let r = record(&many.source, MANY_IDENTITIES);
                    st.insert(many, r, a.now);
                } else {
                    let all =
                        AggKey { action: a.action, source: String::new(), who: Who::Everyone };
                    if st.bump(&all, a.throttled, a.now) {
                        return false;
                    }
                    // Past the cap by at most one entry per action.
                    st.insert(all, record(MANY_SOURCES, MANY_IDENTITIES), a.now);
                }
            }
        }
        !self.wake_pending.swap(true, Ordering::AcqRel)
    }

    /// Whether any entry is held (the writer then comes back at least once a second to
    /// close windows).
    pub fn is_empty(&self) -> bool {
        self.state.locked().entries.is_empty()
    }

    /// Entries held, open and closed.
    pub fn len(&self) -> usize {
        self.state.locked().entries.len()
    }

    /// For the writer: closes windows that are over, then returns new records to append and,
    /// for closed windows (or every entry when `flush`), counts to update.
    pub fn take_writes(&self, now: Millis, flush: bool) -> Pending {
        self.wake_pending.store(false, Ordering::Release);
        let mut st = self.state.locked();
        let over: Vec<u64> = st
            .entries
            .iter()
            .filter(|(_, e)| !e.closed && now >= e.closes)
            .map(|(s, _)| *s)
            .collect();
        for s in over {
            st.close(s);
        }
        st.entries.retain(|_, e| !(e.closed && e.row.is_some() && e.written == e.counts()));
        // In the order the entries opened, so record ids follow the first attempts in time.
        let mut serials: Vec<u64> = st.entries.keys().copied().collect();
        serials.sort_unstable();
        let mut p = Pending::default();
        for serial in serials {
            let e = &st.entries[&serial];
            match e.row {
                None => {
                    p.serials.push(serial);
                    p.writes.push(AuditWrite::Append(e.record.clone()));
                }
                Some(id) if (e.closed || flush) && e.written != e.counts() => {
                    p.serials.push(serial);
                    p.writes.push(AuditWrite::Counts {
                        id,
                        count: e.record.count,
                        throttled: e.record.throttled,
                    });
                }
                Some(_) => {}
            }
        }
        p
    }

    /// For the writer, after `p` committed: `ids` are the rows its appends became, in order.
    pub fn committed(&self, p: &Pending, ids: &[u64]) {
        let mut st = self.state.locked();
        let mut ids = ids.iter();
        for (serial, w) in p.serials.iter().zip(&p.writes) {
            let (row, counts) = match w {
                AuditWrite::Append(r) => (ids.next().copied(), (r.count, r.throttled)),
                AuditWrite::Counts { id, count, throttled } => (Some(*id), (*count, *throttled)),
            };
            let Some(e) = st.entries.get_mut(serial) else {
                continue;
            };
            e.row = row;
            e.written = counts;
            if e.closed && e.written == e.counts() {
                st.entries.remove(serial);
            }
        }
    }

    fn identity_hash(&self, identity: &str) -> u64 {
        let mut h = self.hasher.build_hasher();
        crate::domain::throttle::hash_folded(&mut h, identity);
        h.finish()
    }
}

/// A short digest naming something that must not be recorded as typed (an unknown client id
/// or user name may be a secret pasted into the wrong field): enough to tell repeated
/// attempts apart.
pub fn digest(presented: &str) -> String {
    crypto::hex(&crypto::sha256(presented.as_bytes()))[..12].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt<'a>(
        source: &'a str,
        identity: &'a str,
        throttled: bool,
        now: Millis,
    ) -> Attempt<'a> {
        Attempt { action: Action::ClientAuthenticationFailed, source, identity, throttled, now }
    }

    /// Commits `p` as a store would, numbering appended rows from `next`.
    fn commit(log: &FailureLog, p: &Pending, next: &mut u64) -> Vec<AuditWrite> {
        let ids: Vec<u64> = p
            .writes
            .iter()
            .filter(|w| matches!(w, AuditWrite::Append(_)))
            .map(|_| {
                *next += 1;
                *next
            })
            .collect();
        log.committed(p, &ids);
        p.writes.clone()
    }

    #[test]
    fn a_window_is_one_row_appended_at_once_then_counted_when_it_closes() {
        let log = FailureLog::default();
        let mut next = 0;
        assert!(log.record(&attempt("10.0.0.1", "c", false, 1000), || "c".into()));
        let w = commit(&log, &log.take_writes(1000, false), &mut next);
        assert!(matches!(&w[..], [AuditWrite::Append(r)] if r.count == 1 && r.target == "c"));
        for i in 0..999 {
            // A second new entry would wake the writer again; counting into one does not.
            assert!(!log.record(&attempt("10.0.0.1", "C", i >= 9, 2000), || unreachable!()));
        }
        assert!(log.take_writes(2000, false).is_empty(), "nothing to write mid-window");
        let w = commit(&log, &log.take_writes(1000 + WINDOW_MS, false), &mut next);
        assert!(
            matches!(&w[..], [AuditWrite::Counts { id: 1, count: 1000, throttled: 990 }]),
            "{w:?}"
        );
        assert!(log.is_empty());
    }

    #[test]
    fn a_flush_writes_the_counts_so_far() {
        let log = FailureLog::default();
        let mut next = 0;
        log.record(&attempt("10.0.0.1", "c", false, 0), || "c".into());
        log.record(&attempt("10.0.0.1", "c", false, 0), || "c".into());
        let w = commit(&log, &log.take_writes(0, true), &mut next);
        assert!(matches!(&w[..], [AuditWrite::Append(r)] if r.count == 2));
        log.record(&attempt("10.0.0.1", "c", true, 0), || "c".into());
        let w = commit(&log, &log.take_writes(0, true), &mut next);
        assert!(matches!(&w[..], [AuditWrite::Counts { count: 3, throttled: 1, .. }]), "{w:?}");
        assert!(log.take_writes(0, true).is_empty());
    }

    #[test]
    fn a_failed_commit_is_tried_again() {
        let log = FailureLog::default();
        log.record(&attempt("10.0.0.1", "c", false, 0), || "c".into());
        let first = log.take_writes(0, false);
        assert_eq!(first.writes.len(), 1);
        // Not committed: the next pass offers the same record again, with the newer count.
        log.record(&attempt("10.0.0.1", "c", false, 0), || "c".into());
        let again = log.take_writes(WINDOW_MS, false);
        assert!(matches!(&again.writes[..], [AuditWrite::Append(r)] if r.count == 2));
        log.committed(&again, &[5]);
        assert!(log.is_empty(), "closed and written: done");
    }

    #[test]
    fn rotating_identities_overflows_into_one_row_per_source_then_one_for_all() {
        let log = FailureLog::default();
        for i in 0..100 {
            log.record(&attempt("10.0.0.1", &format!("id{i}"), false, 0), || format!("id{i}"));
        }
        let p = log.take_writes(0, true);
        assert_eq!(p.writes.len(), MAX_IDENTITIES_PER_SOURCE + 1);
        let many: Vec<_> = p
            .writes
            .iter()
            .filter_map(|w| match w {
                AuditWrite::Append(r) if r.target == MANY_IDENTITIES => Some(r.count),
                _ => None,
            })
            .collect();
        assert_eq!(many, vec![100 - MAX_IDENTITIES_PER_SOURCE as u64]);

        // Thousands of sources: never more than MAX_OPEN + 1 entries.
        let log = FailureLog::default();
        for i in 0..(MAX_OPEN * 3) {
            let src = format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255);
            log.record(&attempt(&src, "x", false, 0), || "x".into());
        }
        assert_eq!(log.len(), MAX_OPEN + 1);
        let p = log.take_writes(0, true);
        let all = p.writes.iter().find_map(|w| match w {
            AuditWrite::Append(r) if r.remote == MANY_SOURCES => Some(r.count),
            _ => None,
        });
        assert_eq!(all, Some((MAX_OPEN * 2) as u64));
    }

    #[test]
    fn a_new_window_opens_a_new_record() {
        let log = FailureLog::default();
        let mut next = 0;
        log.record(&attempt("10.0.0.1", "c", false, 0), || "c".into());
        commit(&log, &log.take_writes(0, false), &mut next);
        assert!(log.record(&attempt("10.0.0.1", "c", false, WINDOW_MS), || "c".into()));
        let w = commit(&log, &log.take_writes(WINDOW_MS, false), &mut next);
        assert_eq!(w.len(), 1, "the old row is final at one; only the new one is appended");
        assert!(matches!(&w[0], AuditWrite::Append(r) if r.timestamp == WINDOW_MS));
    }
}
