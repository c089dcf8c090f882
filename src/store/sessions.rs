//! SSO sessions (usermanagement `/session`): stored under the SHA-256 of their token, never the
//! token itself, with an index by user so that "end every session of bob" and the per-user
//! bound do not scan.

use super::directory::fold;
use super::records::{Millis, SessionRecord};
use super::tables::{SESSIONS, SESSION_EXPIRY, USER_SESSIONS};
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
        by_user.remove((dir, user_lc, d.as_slice()))?;
        remove_session(txn, d)?;
    }
    Ok(doomed.len())
}

/// Schema 5: indexes by expiry the sessions stored before the index existed (schema 4 files
/// written before it came), which the purge, reading only the index, would otherwise never
/// drop. Rows already indexed are written again unchanged.
pub(crate) fn migrate_to_schema_5(txn: &WriteTransaction) -> Result<usize> {
    let sessions = txn.open_table(SESSIONS)?;
    let mut expiry = txn.open_table(SESSION_EXPIRY)?;
    let mut indexed = 0;
    for entry in sessions.iter()? {
        let (digest, record) = entry?;
        let s: SessionRecord = decode(record.value())?;
        expiry.insert((s.expires, digest.value()), ())?;
        indexed += 1;
    }
    Ok(indexed)
}

/// Within `txn`: removes a session's record and its expiry row (not its per-user row).
fn remove_session(txn: &WriteTransaction, digest: &[u8]) -> Result<Option<SessionRecord>> {
    let old = txn.open_table(SESSIONS)?.remove(digest)?.map(|v| decode::<SessionRecord>(v.value()));
    let old = old.transpose()?;
    if let Some(s) = &old {
        txn.open_table(SESSION_EXPIRY)?.remove((s.expires, digest))?;
    }
    Ok(old)
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
        let user = fold(&s.user);
        let txn = self.write()?;
        {
            txn.open_table(SESSIONS)?.insert(digest.as_slice(), encode(s).as_slice())?;
            txn.open_table(SESSION_EXPIRY)?.insert((s.expires, digest.as_slice()), ())?;
            let mut by_user = txn.open_table(USER_SESSIONS)?;
            by_user.insert((s.directory_id, user.as_str(), digest.as_slice()), ())?;
            let sessions = txn.open_table(SESSIONS)?;
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
            drop(sessions);
            if held.len() > max_per_user {
                held.sort();
                for (_, d) in held.iter().take(held.len() - max_per_user) {
                    by_user.remove((s.directory_id, user.as_str(), d.as_slice()))?;
                    remove_session(&txn, d)?;
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
        if let Some(old) = remove_session(&txn, digest)? {
            txn.open_table(SESSIONS)?.insert(digest.as_slice(), encode(s).as_slice())?;
            txn.open_table(SESSION_EXPIRY)?.insert((s.expires, digest.as_slice()), ())?;
            debug_assert_eq!(fold(&old.user), fold(&s.user));
        }
        txn.commit()?;
        Ok(())
    }

    /// Ends a session; false if there was none.
    pub fn delete_session(&self, digest: &[u8; 32]) -> Result<bool> {
        let txn = self.write()?;
        let existed = match remove_session(&txn, digest)? {
            Some(s) => {
                let user = fold(&s.user);
                let key = (s.directory_id, user.as_str(), digest.as_slice());
                txn.open_table(USER_SESSIONS)?.remove(key)?;
                true
            }
            None => false,
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
        let user = fold(user);
        let txn = self.write()?;
        let ended = {
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
                by_user.remove((directory_id, user.as_str(), d.as_slice()))?;
                remove_session(&txn, d)?;
            }
            doomed.len()
        };
        txn.commit()?;
        Ok(ended)
    }

    /// Drops sessions that expired before `now`, at most `limit` per call (the purge runs
    /// often; a bound keeps each of its transactions short). Reads the expiry index from its
    /// start, so it touches only what it drops however many sessions are live.
    pub fn purge_sessions(&self, now: Millis, limit: usize) -> Result<usize> {
        let txn = self.write()?;
        let doomed: Vec<Vec<u8>> = {
            let expiry = txn.open_table(SESSION_EXPIRY)?;
            let mut found = Vec::new();
            for entry in expiry.range((0u64, [0u8; 0].as_slice())..(now, [0u8; 0].as_slice()))? {
                found.push(entry?.0.value().1.to_vec());
                if found.len() >= limit {
                    break;
                }
            }
            found
        };
        for d in &doomed {
            if let Some(s) = remove_session(&txn, d)? {
                let user = fold(&s.user);
                txn.open_table(USER_SESSIONS)?.remove((
                    s.directory_id,
                    user.as_str(),
                    d.as_slice(),
                ))?;
            }
        }
        txn.commit()?;
        Ok(doomed.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(user: &str, expires: Millis) -> SessionRecord {
        SessionRecord {
            directory_id: 1,
            user: user.into(),
            application: "app".into(),
            created: expires - 1000,
            expires,
            timeout: 1000,
            remote_address: None,
            user_key: String::new(),
            user_created: 0,
        }
    }

    #[test]
    fn purge_takes_only_expired_sessions_through_the_expiry_index() {
        let path = std::env::temp_dir().join(format!(
            "throng-sessions-{}.redb",
            crate::crypto::hex(&crate::crypto::random_bytes::<6>())
        ));
        let store = Store::open(&path).unwrap();
        let (a, b, c) = ([1u8; 32], [2u8; 32], [3u8; 32]);
        store.create_session(&a, &session("Ann", 5_000), 10).unwrap();
        store.create_session(&b, &session("ann", 9_000), 10).unwrap();
        store.create_session(&c, &session("bob", 20_000), 10).unwrap();
        // Extending moves a session's place in the index.
        store.update_session(&a, &session("Ann", 30_000)).unwrap();
        assert_eq!(store.purge_sessions(10_000, 100).unwrap(), 1);
        assert!(store.session(&b).unwrap().is_none());
        assert!(store.session(&a).unwrap().is_some() && store.session(&c).unwrap().is_some());
        assert_eq!(store.purge_sessions(10_000, 100).unwrap(), 0, "nothing left to purge");
        assert_eq!(store.delete_user_sessions(1, "ANN", None).unwrap(), 1);
        assert!(store.delete_session(&c).unwrap());
        assert_eq!(
            store.purge_sessions(u64::MAX, 100).unwrap(),
            0,
            "no index row outlives its session"
        );
        drop(store);
        let _ = std::fs::remove_file(&path);
    }
}
