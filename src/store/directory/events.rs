//! The directory change log that Crowd's incremental sync (`/event`) reads: one
//! [`EventRecord`] per change, appended in the change's own transaction, so the log never
//! misses a committed change nor records one that was rolled back.
//!
//! An event token is `"{store id}:{last seq seen}"`. The store id ([`STORE_ID`]) is random per
//! store file, so a token from another server, or from this one before its data was wiped,
//! names the wrong log and is refused. Trimming keeps the log bounded and records the oldest
//! sequence number kept, so a token older than that is refused too: a client then falls back
//! to a full synchronisation, which is always correct.

use super::super::records::{Change, EventRecord, Millis};
use super::super::tables::*;
use super::super::{decode, encode, next_id, Store};
use crate::error::{Error, Result};
use redb::{ReadableTable, ReadableTableMetadata, WriteTransaction};

/// The `META` counter of the last sequence number given (absent: none yet).
const SEQ: &str = "event_seq";
/// The `META` row holding the oldest sequence number still in the log (absent: 1, nothing
/// trimmed yet).
const OLDEST: &str = "event_oldest";

/// Appends `change` within `txn`; returns its sequence number.
pub(super) fn append(
    txn: &WriteTransaction,
    at: Millis,
    directory_id: u64,
    change: Change,
) -> Result<u64> {
    let seq = next_id(txn, SEQ)?;
    let record = EventRecord { seq, at, directory_id, change };
    txn.open_table(EVENTS)?.insert(seq, encode(&record).as_slice())?;
    Ok(seq)
}

/// Within `txn`: takes a sequence number for a change the log does not describe (a bulk
/// load) and expires every token from before it, so their holders synchronise in full.
pub(super) fn skip_past(txn: &WriteTransaction) -> Result<()> {
    let seq = next_id(txn, SEQ)?;
    txn.open_table(META)?.insert(OLDEST, seq + 1)?;
    Ok(())
}

impl Store {
    /// The token that marks the event numbered `seq`: asking with it returns what follows.
    pub fn event_token_at(&self, seq: u64) -> String {
        self.token(seq)
    }

    fn token(&self, last: u64) -> String {
        format!("{:016x}:{last}", self.store_id)
    }

    /// A token for "now": reading [`Store::events_since`] with it later returns the changes
    /// committed after this call.
    pub fn event_token(&self) -> Result<String> {
        let txn = self.read()?;
        let meta = txn.open_table(META)?;
        let last = meta.get(SEQ)?.map_or(0, |v| v.value());
        Ok(self.token(last))
    }

    /// Every event after the one `token` marks, oldest first, with the token to ask with next
    /// time. `Error::EventTokenExpired` when the token is malformed, from another store, from
    /// the future, or older than the oldest event kept: the caller must synchronise in full.
    pub fn events_since(&self, token: &str) -> Result<(Vec<EventRecord>, String)> {
        self.events_since_at_most(token, usize::MAX)
    }

    /// [`Store::events_since`], at most `max` events: the token returned then marks the last
    /// one returned, so the next call goes on from there.
    pub fn events_since_at_most(
        &self,
        token: &str,
        max: usize,
    ) -> Result<(Vec<EventRecord>, String)> {
        let (store_id, seen) = parse_token(token).ok_or(Error::EventTokenExpired)?;
        if store_id != self.store_id {
            return Err(Error::EventTokenExpired);
        }
        let txn = self.read()?;
        let (last, oldest) = {
            let meta = txn.open_table(META)?;
            let last = meta.get(SEQ)?.map_or(0, |v| v.value());
            (last, meta.get(OLDEST)?.map_or(1, |v| v.value()))
        };
        // `seen` must be followed by the events after it, all of them still kept.
        if seen > last || seen + 1 < oldest {
            return Err(Error::EventTokenExpired);
        }
        let table = txn.open_table(EVENTS)?;
        let events = table
            .range(seen + 1..)?
            .take(max)
            .map(|e| decode(e?.1.value()))
            .collect::<Result<Vec<EventRecord>>>()?;
        let upto = if events.len() == max { events.last().map_or(last, |e| e.seq) } else { last };
        Ok((events, self.token(upto)))
    }

    /// Deletes the oldest events beyond the newest `max_rows`; returns how many went. Tokens
    /// that pointed before the first event kept are expired from then on.
    pub fn trim_events(&self, max_rows: u64) -> Result<usize> {
        let txn = self.write()?;
        let mut removed = 0;
        {
            let mut table = txn.open_table(EVENTS)?;
            let mut len = table.len()?;
            while len > max_rows {
                if table.pop_first()?.is_none() {
                    break;
                }
                len -= 1;
                removed += 1;
            }
            if removed > 0 {
                let first = table.first()?.map(|(k, _)| k.value());
                drop(table);
                let mut meta = txn.open_table(META)?;
                let last = meta.get(SEQ)?.map_or(0, |v| v.value());
                // Never backwards: a bulk load may have expired tokens past events still kept.
                let held = meta.get(OLDEST)?.map_or(1, |v| v.value());
                meta.insert(OLDEST, first.unwrap_or(last + 1).max(held))?;
            }
        }
        txn.commit()?;
        Ok(removed)
    }

    /// How many events the log holds.
    pub fn event_count(&self) -> Result<u64> {
        let txn = self.read()?;
        Ok(txn.open_table(EVENTS)?.len()?)
    }
}

fn parse_token(token: &str) -> Option<(u64, u64)> {
    let (id, seq) = token.split_once(':')?;
    if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    if seq.is_empty() || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((u64::from_str_radix(id, 16).ok()?, seq.parse().ok()?))
}
