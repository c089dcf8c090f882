//! Persistence: one redb file, `DATA/throng.redb`, behind a narrow set of typed operations.
//!
//! Each public function here is one whole operation in one transaction (create an account
//! with its client and audit record, archive with every token, write a batch of token
//! records), so the domain never sees a half-written state and a second backend could one
//! day implement the same functions. Write transactions are short: callers do slow work
//! (hashing, JSON parsing) before they get here.

pub mod accounts;
pub mod applications;
pub mod audit;
pub mod cache;
pub mod directory;
pub mod links;
pub mod records;
pub mod replay;
pub mod search;
pub mod sessions;
pub mod tables;
pub mod tokens;
pub mod writer;

use crate::error::{Error, Result};
use crate::sync::RwLockExt;
use redb::{Database, ReadTransaction, ReadableDatabase, ReadableTable, WriteTransaction};
use serde::{de::DeserializeOwned, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::Instant;
use tables::*;

/// redb page cache.
pub const CACHE_BYTES: usize = 16 << 20;
/// Files smaller than this are never worth compacting.
const COMPACT_MIN_BYTES: u64 = 256 << 10;

pub struct Store {
    /// Locked only to *begin* a transaction, and exclusively to compact: redb's `compact`
    /// needs `&mut Database`. Transactions themselves run unlocked.
    db: RwLock<Database>,
    path: PathBuf,
    /// The change notice: one counter per [`Topic`], bumped after every commit that touches
    /// it (see [`Store::changed`]); caches key off the topics they read.
    generations: [AtomicU64; Topic::COUNT],
    /// This file's [`STORE_ID`], read once at open.
    store_id: u64,
    pub(crate) users: cache::UserCache,
    /// Decoded users by (directory, folded name), absent ones included: the lookups of an
    /// application's view (`domain::access`) on every usermanagement call.
    pub(crate) users_by_directory: cache::DirectoryUserCache,
    /// Every directory record, in id order: read on every usermanagement call.
    pub(crate) directories: cache::Generational<(), std::sync::Arc<[records::DirectoryRecord]>>,
}

/// What a committed change touched. Each cache watches only what it read: a stream of user
/// writes from a directory sync must not empty the applications' credential cache (and make
/// every application call pay a PBKDF2 run), nor an application edit the user cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    /// Directories, users, groups and memberships.
    Directory = 0,
    /// Applications and their mappings, addresses and credentials.
    Applications = 1,
}

impl Topic {
    const COUNT: usize = 2;
}

impl Store {
    /// Opens (or creates) the database, creates every table in one transaction and checks
    /// the schema version, refusing a file written by a newer throng.
    pub fn open(path: &Path) -> Result<Store> {
        // redb's default page cache is 1 GiB; token records are written once and read by the
        // purge only, so a small cache keeps the resident size flat however many are issued.
        let db = Database::builder().set_cache_size(CACHE_BYTES).create(path)?;
        let mut txn = db.begin_write()?;
        txn.set_quick_repair(true);
        let store_id;
        {
            let mut meta = txn.open_table(META)?;
            let found = meta.get("schema_version")?.map(|v| v.value());
            match found {
                None => {
                    meta.insert("schema_version", SCHEMA_VERSION)?;
                }
                Some(v) if v == SCHEMA_VERSION => {}
                Some(v) if v > SCHEMA_VERSION => {
                    return Err(Error::Internal(format!(
                        "{} has schema version {v}, newer than this throng understands ({SCHEMA_VERSION})",
                        path.display()
                    )))
                }
                Some(v @ 1..=4) => {
                    if v < 3 {
                        migrate_token_records(&txn)?;
                    }
                    if v < 4 {
                        directory::migrate_to_schema_4(&txn)?;
                    }
                    sessions::migrate_to_schema_5(&txn)?;
                    meta.insert("schema_version", SCHEMA_VERSION)?;
                    log::info!("migrated the store from schema {v} to {SCHEMA_VERSION}");
                }
                Some(v) => {
                    return Err(Error::Internal(format!("no migration from schema version {v}")))
                }
            }
            let found = meta.get(STORE_ID)?.map(|v| v.value());
            store_id = match found {
                Some(id) => id,
                None => {
                    let id = u64::from_be_bytes(crate::crypto::random_bytes());
                    meta.insert(STORE_ID, id)?;
                    id
                }
            };
            txn.open_table(DIRECTORIES)?;
            txn.open_table(USERS)?;
            txn.open_table(GROUPS)?;
            txn.open_table(GROUP_USERS)?;
            txn.open_table(USER_GROUPS)?;
            txn.open_table(GROUP_CHILDREN)?;
            txn.open_table(GROUP_PARENTS)?;
            txn.open_table(USER_KEYS)?;
            txn.open_table(EVENTS)?;
            txn.open_table(SERVICE_ACCOUNTS)?;
            txn.open_table(OAUTH_CLIENTS)?;
            txn.open_table(CLIENT_IDS)?;
            txn.open_table(TOKEN_BATCHES)?;
            txn.open_table(REVOKED)?;
            txn.open_table(SESSIONS)?;
            txn.open_table(USER_SESSIONS)?;
            txn.open_table(SESSION_EXPIRY)?;
            txn.open_table(AUDIT)?;
            txn.open_table(APPLICATIONS)?;
            txn.open_table(APPLICATION_NAMES)?;
            txn.open_table(APP_LINKS)?;
            txn.open_table(APP_LINK_NAMES)?;
            txn.open_table(SYNC_STATUS)?;
            txn.open_table(SYNC_TOKENS)?;
            txn.open_table(SCIM_RESOURCES)?;
            txn.open_table(SCIM_KEYS)?;
            txn.open_table(SCIM_EXTERNAL_IDS)?;
        }
        txn.commit()?;
        Ok(Store {
            db: RwLock::new(db),
            path: path.to_path_buf(),
            generations: Default::default(),
            store_id,
            users: cache::UserCache::default(),
            users_by_directory: cache::DirectoryUserCache::default(),
            directories: cache::Generational::new(1),
        })
    }

    /// The number of changes to `topic` committed since the store was opened. Anything cached
    /// from the store takes it before reading and is good only while it has not moved
    /// (`cache::Generational`).
    pub fn generation(&self, topic: Topic) -> u64 {
        self.generations[topic as usize].load(Ordering::Acquire)
    }

    /// Announces a committed change: call after every commit that changes what a cache keyed
    /// off [`Store::generation`] may hold, never before the commit (a reader could otherwise
    /// fill a cache from the old snapshot under the new generation).
    pub(crate) fn changed(&self, topic: Topic) {
        self.generations[topic as usize].fetch_add(1, Ordering::AcqRel);
    }

    /// Runs `op` in one write transaction, commits it, then announces the change
    /// ([`Store::changed`]). An error drops the transaction, which aborts it: nothing of a
    /// failed change is kept, and nothing is announced.
    pub(crate) fn change<T>(
        &self,
        topic: Topic,
        op: impl FnOnce(&WriteTransaction) -> Result<T>,
    ) -> Result<T> {
        let txn = self.write()?;
        let out = op(&txn)?;
        txn.commit()?;
        self.changed(topic);
        Ok(out)
    }

    pub(crate) fn read(&self) -> Result<ReadTransaction> {
        Ok(self.db.reading().begin_read()?)
    }

    /// A durable write transaction with quick-repair: each commit also saves the allocator
    /// state, so reopening after a crash (kill -9) is near-instant instead of a walk of the
    /// whole file. Measured: no visible cost once records are batched.
    pub(crate) fn write(&self) -> Result<WriteTransaction> {
        let mut txn = self.db.reading().begin_write()?;
        txn.set_quick_repair(true);
        Ok(txn)
    }

    /// Size of the database file, in bytes.
    pub fn file_size(&self) -> Result<u64> {
        Ok(std::fs::metadata(&self.path)?.len())
    }

    /// Gives free space back to the file system when the file is more than twice what it
    /// holds (after a purge of many tokens, say). redb reuses freed pages but never shrinks the
    /// file by itself. Returns whether it compacted; a transaction still in flight makes it
    /// return false, to be tried again after the next purge.
    pub fn compact_if_sparse(&self) -> Result<bool> {
        let live = {
            let txn = self.write()?;
            let stats = txn.stats()?;
            stats.allocated_pages() * stats.page_size() as u64
        };
        let size = self.file_size()?;
        if size < COMPACT_MIN_BYTES || size < 2 * live {
            return Ok(false);
        }
        let mut db = self.db.writing();
        let before = Instant::now();
        // Each call moves what it can; it answers true while more is possible.
        let mut outcome = db.compact();
        for _ in 0..64 {
            match outcome {
                Ok(true) => outcome = db.compact(),
                _ => break,
            }
        }
        match outcome {
            Ok(_) => {
                drop(db);
                log::info!(
                    "compacted {}: {} -> {} bytes in {:?}",
                    self.path.display(),
                    size,
                    self.file_size()?,
                    before.elapsed()
                );
                Ok(true)
            }
            Err(redb::CompactionError::TransactionInProgress) => Ok(false),
            Err(e) => Err(Error::Internal(format!("compacting {}: {e}", self.path.display()))),
        }
    }

    /// The recorded schema version.
    pub fn schema_version(&self) -> Result<u64> {
        let txn = self.read()?;
        let meta = txn.open_table(META)?;
        Ok(meta.get("schema_version")?.map_or(0, |v| v.value()))
    }

    /// The key check value recorded in the file at `path`, read without opening the file for
    /// writing (which would change it), so that a wrong key is refused before anything, a
    /// schema migration say, touches the file. `None` when the file records none, or cannot be
    /// read without a repair (after a crash): then [`Store::key_check`], after the open, decides.
    pub fn peek_key_check(path: &Path) -> Option<u64> {
        let db = Database::builder().set_cache_size(CACHE_BYTES).open_read_only(path).ok()?;
        let txn = db.begin_read().ok()?;
        let meta = txn.open_table(META).ok()?;
        let value = meta.get(KEY_CHECK).ok()??.value();
        Some(value)
    }

    /// The check value of the master key this file was written with (`crypto::Keys`), if
    /// recorded: files written before throng recorded it have none.
    pub fn key_check(&self) -> Result<Option<u64>> {
        let txn = self.read()?;
        let meta = txn.open_table(META)?;
        Ok(meta.get(KEY_CHECK)?.map(|v| v.value()))
    }

    /// Records the master key's check value, unless one is recorded already; returns the one
    /// the file holds afterwards.
    pub fn record_key_check(&self, value: u64) -> Result<u64> {
        let txn = self.write()?;
        let held = {
            let mut meta = txn.open_table(META)?;
            let found = meta.get(KEY_CHECK)?.map(|v| v.value());
            match found {
                Some(v) => v,
                None => {
                    meta.insert(KEY_CHECK, value)?;
                    value
                }
            }
        };
        txn.commit()?;
        Ok(held)
    }
}

/// Schemas 1 and 2 → 3: token records moved to batches. The old record tables are dropped,
/// not converted: tokens are valid without their records, which expire within a token
/// lifetime anyway.
fn migrate_token_records(txn: &WriteTransaction) -> Result<()> {
    const V1_TOKENS: redb::TableDefinition<(u64, &str), &[u8]> =
        redb::TableDefinition::new("tokens");
    const V1_CLIENT_TOKENS: redb::TableDefinition<(&str, u64, &str), ()> =
        redb::TableDefinition::new("client_tokens");
    const V2_TOKENS: redb::TableDefinition<(u64, [u8; 16]), &[u8]> =
        redb::TableDefinition::new("token_records");
    txn.delete_table(V1_TOKENS)?;
    txn.delete_table(V1_CLIENT_TOKENS)?;
    txn.delete_table(V2_TOKENS)?;
    log::info!("token records are now kept in batches (schema 3)");
    Ok(())
}

/// Takes the next value of a named counter inside a write transaction (ids start at 1).
pub(crate) fn next_id(txn: &WriteTransaction, counter: &str) -> Result<u64> {
    let mut meta = txn.open_table(META)?;
    let next = meta.get(counter)?.map_or(1, |v| v.value() + 1);
    meta.insert(counter, next)?;
    Ok(next)
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("records serialise")
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    Ok(serde_json::from_slice(bytes)?)
}

/// A store on a fresh temporary file, removed when dropped, for unit tests of every layer.
#[cfg(test)]
pub(crate) struct TempStore {
    store: Store,
    path: PathBuf,
}

#[cfg(test)]
impl TempStore {
    pub(crate) fn new() -> TempStore {
        let path = std::env::temp_dir().join(format!(
            "throng-test-{}.redb",
            crate::crypto::hex(&crate::crypto::random_bytes::<6>())
        ));
        TempStore { store: Store::open(&path).unwrap(), path }
    }
}

#[cfg(test)]
impl std::ops::Deref for TempStore {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.store
    }
}

#[cfg(test)]
impl Drop for TempStore {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_a_schema_1_file_migrates_it_to_the_current_one() {
        let path = std::env::temp_dir().join(format!(
            "throng-migrate-{}.redb",
            crate::crypto::hex(&crate::crypto::random_bytes::<6>())
        ));
        {
            let db = Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            txn.open_table(META).unwrap().insert("schema_version", 1u64).unwrap();
            let old: redb::TableDefinition<(u64, &str), &[u8]> =
                redb::TableDefinition::new("tokens");
            txn.open_table(old).unwrap().insert((1, "x"), b"{}".as_slice()).unwrap();
            txn.commit().unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        let txn = store.read().unwrap();
        let names: Vec<String> =
            txn.list_tables().unwrap().map(|t| redb::TableHandle::name(&t).to_string()).collect();
        assert!(!names.contains(&"tokens".to_string()), "{names:?}");
        assert!(names.contains(&"token_batches".to_string()), "{names:?}");
        drop(txn);
        drop(store);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn opening_a_schema_3_file_gives_every_user_its_key_and_the_store_an_id() {
        let path = std::env::temp_dir().join(format!(
            "throng-migrate-{}.redb",
            crate::crypto::hex(&crate::crypto::random_bytes::<6>())
        ));
        {
            let db = Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            txn.open_table(META).unwrap().insert("schema_version", 3u64).unwrap();
            let dir = br#"{"id":1,"name":"Internal Directory","kind":"INTERNAL","active":true,"created":1}"#;
            txn.open_table(DIRECTORIES).unwrap().insert(1, dir.as_slice()).unwrap();
            let mut users = txn.open_table(USERS).unwrap();
            for name in ["Bob", "ann"] {
                let record = serde_json::json!({
                    "directory_id": 1, "name": name, "active": true, "created": 1, "updated": 1
                });
                let key = name.to_lowercase();
                users.insert((1, key.as_str()), encode(&record).as_slice()).unwrap();
            }
            drop(users);
            txn.open_table(GROUPS)
                .unwrap()
                .insert((1, "devs"), br#"{"directory_id":1,"name":"devs","kind":"GROUP","active":true,"created":1,"updated":1}"#.as_slice())
                .unwrap();
            txn.open_table(GROUP_USERS).unwrap().insert((1, "devs", "bob"), ()).unwrap();
            txn.open_table(USER_GROUPS).unwrap().insert((1, "bob", "devs"), ()).unwrap();
            txn.commit().unwrap();
        }
        let token = {
            let store = Store::open(&path).unwrap();
            assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
            let bob = store.user(1, "bob").unwrap().unwrap();
            assert_eq!((bob.name.as_str(), bob.key.as_str()), ("Bob", "1:bob"));
            assert_eq!(store.user_by_key("1:ann").unwrap().unwrap().name, "ann");
            // What schema 3 held works as before, and renames now keep the key.
            assert_eq!(store.direct_groups_of_user(1, "bob").unwrap(), ["devs"]);
            store.rename_user(1, "bob", "robert", 2).unwrap();
            assert_eq!(store.user_by_key("1:bob").unwrap().unwrap().name, "robert");
            store.event_token().unwrap()
        };
        // The store id is made once: a token from before a reopen is still this store's.
        let store = Store::open(&path).unwrap();
        assert!(store.events_since(&token).unwrap().0.is_empty());
        drop(store);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn opening_a_schema_4_file_indexes_its_sessions_by_expiry_so_the_purge_drops_them() {
        let path = std::env::temp_dir().join(format!(
            "throng-migrate-{}.redb",
            crate::crypto::hex(&crate::crypto::random_bytes::<6>())
        ));
        let session = |expires| records::SessionRecord {
            directory_id: 1,
            user: "bob".into(),
            application: "app".into(),
            created: 1,
            expires,
            timeout: 1000,
            user_key: "1:bob".into(),
            user_created: 1,
            remote_address: None,
        };
        {
            // Two sessions as a schema 4 store written before the expiry index held them.
            let store = Store::open(&path).unwrap();
            store.create_session(&[1; 32], &session(10), 100).unwrap();
            store.create_session(&[2; 32], &session(1_000_000), 100).unwrap();
            let txn = store.write().unwrap();
            {
                let mut expiry = txn.open_table(SESSION_EXPIRY).unwrap();
                expiry.retain(|_, _| false).unwrap();
                txn.open_table(META).unwrap().insert("schema_version", 4u64).unwrap();
            }
            txn.commit().unwrap();
            assert_eq!(store.purge_sessions(100, 10).unwrap(), 0, "unindexed: never purged");
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(store.purge_sessions(100, 10).unwrap(), 1, "the expired one goes");
        assert!(store.session(&[1; 32]).unwrap().is_none());
        assert!(store.session(&[2; 32]).unwrap().is_some(), "the live one stays");
        assert_eq!(store.delete_user_sessions(1, "bob", None).unwrap(), 1);
        drop(store);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let path = std::env::temp_dir().join(format!(
            "throng-newer-{}.redb",
            crate::crypto::hex(&crate::crypto::random_bytes::<6>())
        ));
        {
            let db = Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            txn.open_table(META).unwrap().insert("schema_version", SCHEMA_VERSION + 1).unwrap();
            txn.commit().unwrap();
        }
        assert!(Store::open(&path).is_err());
        let _ = std::fs::remove_file(&path);
    }
}
