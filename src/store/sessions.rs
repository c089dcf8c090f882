//! SSO sessions (usermanagement `/session`): stored under the SHA-256 of their token, never the
//! token itself, with an index by user so that "end every session of bob" and the per-user
//! bound do not scan.

use super::records::{Millis, SessionRecord};
use super::tables::{SESSIONS, USER_SESSIONS};
use super::{decode, encode, Store};
use crate::error::Result;
use redb::{ReadableTable, WriteTransaction};

/// Within `txn`: ends every session of user `user_lc` (folded) of `dir`. A deleted or renamed
/// user's sessions must not pass to whoever takes the name next.
pub(crate) fn end_user_sessions_in(
    txn: &WriteTransaction,
    dir: u64,
    user_lc: &str,
) -> Result<usize> {
    let mut sessions = txn.open_table(SESSIONS)?;
    let mut by_user = txn.open_table(USER_SESSIONS)?;
    let mut doomed = Vec::new();
    for entry in by_user.range((dir, user_lc, [0u8; 0].as_slice())..)? {
        let (k, _) = entry?;
        let (d, name, digest) = k.value();
        if d != dir || name != user_lc {
            break;
        }
        doomed.push(digest.to_vec());
    }
    for d in &doomed {
        sessions.remove(d.as_slice())?;
        by_user.remove((dir, user_lc, d.as_slice()))?;
    }
    Ok(doomed.len())
}

impl Store {
    /// Stores a new session; if the user then holds more than `max_per_user` live sessions,
    /// ends the oldest (they would otherwise pile up for a user whose client never logs out).
    pub fn create_session(
        &self,
        digest: &[u8; 32],
        s: &SessionRecord,
        max_per_user: usize,
    ) -> Result<()> {
        let user = s.user.to_lowercase();
        let txn = self.write()?;
        {
            let mut sessions = txn.open_table(SESSIONS)?;
            let mut by_user = txn.open_table(USER_SESSIONS)?;
            sessions.insert(digest.as_slice(), encode(s).as_slice())?;
            by_user.insert((s.directory_id, user.as_str(), digest.as_slice()), ())?;
            let mut held: Vec<(Millis, Vec<u8>)> = Vec::new();
            for entry in by_user.range((s.directory_id, user.as_str(), [0u8; 0].as_slice())..)? {
                let (k, _) = entry?;
                let (dir, name, d) = k.value();
                if dir != s.directory_id || name != user {
                    break;
                }
                let created = match sessions.get(d)? {
                    Some(v) => decode::<SessionRecord>(v.value())?.created,
                    None => 0,
                };
                held.push((created, d.to_vec()));
            }
            if held.len() > max_per_user {
                held.sort();
                for (_, d) in held.iter().take(held.len() - max_per_user) {
                    sessions.remove(d.as_slice())?;
                    by_user.remove((s.directory_id, user.as_str(), d.as_slice()))?;
                }
            }
        }
        txn.commit()?;
        Ok(())
    }

    pub fn session(&self, digest: &[u8; 32]) -> Result<Option<SessionRecord>> {
        let txn = self.read()?;
        let table = txn.open_table(SESSIONS)?;
        table.get(digest.as_slice())?.map(|v| decode(v.value())).transpose()
    }

    /// Replaces a session's record (a new expiry after validation).
    pub fn update_session(&self, digest: &[u8; 32], s: &SessionRecord) -> Result<()> {
        let txn = self.write()?;
        {
            let mut sessions = txn.open_table(SESSIONS)?;
            if sessions.get(digest.as_slice())?.is_some() {
                sessions.insert(digest.as_slice(), encode(s).as_slice())?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// Ends a session; false if there was none.
    pub fn delete_session(&self, digest: &[u8; 32]) -> Result<bool> {
        let txn = self.write()?;
        let existed = {
            let mut sessions = txn.open_table(SESSIONS)?;
            let old =
                sessions.remove(digest.as_slice())?.map(|v| decode::<SessionRecord>(v.value()));
            match old {
                Some(s) => {
                    let s = s?;
                    let user = s.user.to_lowercase();
                    txn.open_table(USER_SESSIONS)?.remove((
                        s.directory_id,
                        user.as_str(),
                        digest.as_slice(),
                    ))?;
                    true
                }
                None => false,
            }
        };
        txn.commit()?;
        Ok(existed)
    }

    /// Ends every session of a user except `keep`; returns how many ended.
    pub fn delete_user_sessions(
        &self,
        directory_id: u64,
        user: &str,
        keep: Option<&[u8; 32]>,
    ) -> Result<usize> {
        let user = user.to_lowercase();
        let txn = self.write()?;
        let ended = {
            let mut sessions = txn.open_table(SESSIONS)?;
            let mut by_user = txn.open_table(USER_SESSIONS)?;
            let mut doomed = Vec::new();
            for entry in by_user.range((directory_id, user.as_str(), [0u8; 0].as_slice())..)? {
                let (k, _) = entry?;
                let (dir, name, d) = k.value();
                if dir != directory_id || name != user {
                    break;
                }
                if keep.is_none_or(|k| k.as_slice() != d) {
                    doomed.push(d.to_vec());
                }
            }
            for d in &doomed {
                sessions.remove(d.as_slice())?;
                by_user.remove((directory_id, user.as_str(), d.as_slice()))?;
            }
            doomed.len()
        };
        txn.commit()?;
        Ok(ended)
    }

    /// Drops sessions that expired before `now`, at most `limit` per call (the purge runs
    /// often; a bound keeps each of its transactions short).
    pub fn purge_sessions(&self, now: Millis, limit: usize) -> Result<usize> {
        let txn = self.write()?;
        let purged = {
            let mut sessions = txn.open_table(SESSIONS)?;
            let mut by_user = txn.open_table(USER_SESSIONS)?;
            let mut doomed = Vec::new();
            for entry in sessions.iter()? {
                let (k, v) = entry?;
                let s: SessionRecord = decode(v.value())?;
                if s.expires <= now {
                    doomed.push((k.value().to_vec(), s));
                    if doomed.len() >= limit {
                        break;
                    }
                }
            }
            for (d, s) in &doomed {
                sessions.remove(d.as_slice())?;
                let user = s.user.to_lowercase();
                by_user.remove((s.directory_id, user.as_str(), d.as_slice()))?;
            }
            doomed.len()
        };
        txn.commit()?;
        Ok(purged)
    }
}
