//! Token records, revocations and the purge.
//!
//! Records arrive in batches from the write-behind writer (`store::writer::Writer`) and are
//! stored the same way: one redb value per batch, keyed by the expiry of its last token. A
//! B-tree insert per token cost the writer ~12k instructions (redb rebuilds a leaf page on each
//! insert); appending a batch costs a copy per token. A token is valid without its record, so a
//! batch lost in a crash costs listing, never validity. Revocations are different: they are
//! committed durably before the revoke call answers.

use super::audit;
use super::next_id;
use super::records::{AuditRecord, TokenRecord};
use super::tables::*;
use super::Store;
use crate::crypto;
use crate::error::Result;
use redb::{ReadableTable, WriteTransaction};

const BATCH_VERSION: u8 = 1;

/// The records of one stored batch (a corrupt tail is ignored, never misread).
fn records(batch: &[u8]) -> impl Iterator<Item = TokenRecord> + '_ {
    let body = match batch.split_first() {
        Some((&BATCH_VERSION, body)) => body,
        _ => &[],
    };
    body.chunks_exact(TokenRecord::LEN)
        .map(|c| TokenRecord::read(c.try_into().expect("exact chunk")))
}

fn record_count(batch: &[u8]) -> usize {
    batch.len().saturating_sub(1) / TokenRecord::LEN
}

/// Deletes every token record of OAuth client `client` within `txn`, rewriting the batches
/// that hold any. Archive is rare, and the table holds only unexpired tokens.
pub(crate) fn delete_client_tokens(txn: &WriteTransaction, client: &str) -> Result<()> {
    let Some(client) = crypto::parse_hex16(client) else {
        return Ok(());
    };
    let mut table = txn.open_table(TOKEN_BATCHES)?;
    let mut rewrites: Vec<((u64, u64), Vec<u8>)> = Vec::new();
    for entry in table.iter()? {
        let (k, v) = entry?;
        if records(v.value()).any(|r| r.client == client) {
            let mut kept = vec![BATCH_VERSION];
            records(v.value()).filter(|r| r.client != client).for_each(|r| r.write_to(&mut kept));
            rewrites.push((k.value(), kept));
        }
    }
    for (key, kept) in rewrites {
        if kept.len() > 1 {
            table.insert(key, kept.as_slice())?;
        } else {
            table.remove(key)?;
        }
    }
    Ok(())
}

/// What the purge removed in one call.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub tokens: usize,
    pub revocations: usize,
}

impl Store {
    /// Appends a batch of token records and writes audit events in one durable transaction.
    /// Records of clients that no longer exist (archived while the batch was queued) are
    /// dropped.
    pub fn write_batch(&self, tokens: &[TokenRecord], audits: Vec<AuditRecord>) -> Result<()> {
        self.write_batch_with(tokens, audits, &[]).map(|_| ())
    }

    /// [`Store::write_batch`] plus the aggregated audit writes `counted`, in the same
    /// transaction; returns the ids of the records `counted` appended, in order.
    pub fn write_batch_with(
        &self,
        tokens: &[TokenRecord],
        audits: Vec<AuditRecord>,
        counted: &[audit::AuditWrite],
    ) -> Result<Vec<u64>> {
        let txn = self.write()?;
        if !tokens.is_empty() {
            let mut batch = Vec::with_capacity(1 + tokens.len() * TokenRecord::LEN);
            batch.push(BATCH_VERSION);
            let mut last_expiry = 0;
            {
                let clients = txn.open_table(OAUTH_CLIENTS)?;
                let mut known: Option<([u8; 16], bool)> = None;
                for t in tokens {
                    let exists = match known {
                        Some((c, e)) if c == t.client => e,
                        _ => {
                            let e = clients.get(crypto::uuid_text(&t.client).as_str())?.is_some();
                            known = Some((t.client, e));
                            e
                        }
                    };
                    if exists {
                        t.write_to(&mut batch);
                        last_expiry = last_expiry.max(t.expires);
                    }
                }
            }
            if batch.len() > 1 {
                let seq = next_id(&txn, "token_batch_seq")?;
                txn.open_table(TOKEN_BATCHES)?.insert((last_expiry, seq), batch.as_slice())?;
            }
        }
        for a in audits {
            audit::append(&txn, a)?;
        }
        let mut ids = Vec::new();
        for w in counted {
            ids.extend(audit::apply(&txn, w)?);
        }
        txn.commit()?;
        Ok(ids)
    }

    /// Removes batches whose every token expired at or before `now` (unix seconds), about
    /// `max` records' worth at most, and up to `max` expired revocations, in one short
    /// transaction.
    pub fn purge_expired(&self, now: u64, max: usize) -> Result<Purged> {
        let txn = self.write()?;
        let mut purged = Purged::default();
        {
            let mut batches = txn.open_table(TOKEN_BATCHES)?;
            let mut doomed = Vec::new();
            for entry in batches.range(..(now + 1, 0))? {
                if purged.tokens >= max {
                    break;
                }
                let (k, v) = entry?;
                purged.tokens += record_count(v.value());
                doomed.push(k.value());
            }
            for key in doomed {
                batches.remove(key)?;
            }

            let mut revoked = txn.open_table(REVOKED)?;
            let expired: Vec<String> = revoked
                .iter()?
                .filter_map(|e| e.ok())
                .filter(|(_, exp)| exp.value() <= now)
                .take(max)
                .map(|(k, _)| k.value().to_string())
                .collect();
            for jti in &expired {
                revoked.remove(jti.as_str())?;
            }
            purged.revocations = expired.len();
        }
        txn.commit()?;
        Ok(purged)
    }

    /// Durably records that token `jti` (expiring at `expires`) is revoked.
    pub fn revoke_token(&self, jti: &str, expires: u64, audit_record: AuditRecord) -> Result<()> {
        let txn = self.write()?;
        txn.open_table(REVOKED)?.insert(jti, expires)?;
        audit::append(&txn, audit_record)?;
        txn.commit()?;
        Ok(())
    }

    /// Revocations still inside their token's lifetime, for the in-memory revoked set.
    pub fn live_revocations(&self, now: u64) -> Result<Vec<(String, u64)>> {
        let txn = self.read()?;
        let table = txn.open_table(REVOKED)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (k, v) = entry?;
            if v.value() > now {
                out.push((k.value().to_string(), v.value()));
            }
        }
        Ok(out)
    }

    /// How many token records are stored.
    pub fn token_record_count(&self) -> Result<u64> {
        let txn = self.read()?;
        let table = txn.open_table(TOKEN_BATCHES)?;
        let mut n = 0u64;
        for entry in table.iter()? {
            n += record_count(entry?.1.value()) as u64;
        }
        Ok(n)
    }

    /// The stored records of OAuth client `client` (a UUID), oldest batch first.
    pub fn token_records_of(&self, client: &str) -> Result<Vec<TokenRecord>> {
        let Some(client) = crypto::parse_hex16(client) else {
            return Ok(Vec::new());
        };
        let txn = self.read()?;
        let table = txn.open_table(TOKEN_BATCHES)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            out.extend(records(entry?.1.value()).filter(|r| r.client == client));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_round_trip_and_ignore_a_torn_tail() {
        let r = TokenRecord {
            jti: [1; 16],
            client: [2; 16],
            client_id: [3; 16],
            issued: 1_795_434_296,
            expires: 1_795_437_896,
            scopes: 1,
        };
        let mut batch = vec![BATCH_VERSION];
        r.write_to(&mut batch);
        r.write_to(&mut batch);
        assert_eq!(batch.len(), 1 + 2 * TokenRecord::LEN);
        assert_eq!(records(&batch).collect::<Vec<_>>(), vec![r, r]);
        assert_eq!(record_count(&batch), 2);
        assert_eq!(records(&batch[..batch.len() - 3]).count(), 1);
        assert_eq!(records(&[9, 9, 9]).count(), 0);
    }
}

#[cfg(test)]
mod purge_tests {
    use super::*;
    use crate::store::records::{ClientOwner, Credential, OAuthClientRecord, SecretCredential};

    fn temp_store() -> (Store, std::path::PathBuf) {
        let path = std::env::temp_dir()
            .join(format!("throng-purge-{}.redb", crypto::hex(&crypto::random_bytes::<6>())));
        (Store::open(&path).unwrap(), path)
    }

    fn client(store: &Store) -> [u8; 16] {
        let id = crypto::uuid_v4();
        let record = OAuthClientRecord {
            id: id.clone(),
            name: "c".into(),
            owner: ClientOwner::ServiceAccount { id: 1 },
            user_key: "admin".into(),
            scopes: vec!["APPLICATION".into()],
            expiry_duration: 60,
            last_rotated: 0,
            tokens_not_before: 0,
            credentials: vec![Credential::ClientSecret(SecretCredential {
                client_id: "00".repeat(16),
                secret_sha256: "00".repeat(32),
                secret_sealed: String::new(),
                created: 0,
                expires: u64::MAX,
                retired_until: None,
            })],
            scim_directories: Vec::new(),
        };
        let txn = store.write().unwrap();
        txn.open_table(OAUTH_CLIENTS)
            .unwrap()
            .insert(id.as_str(), super::super::encode(&record).as_slice())
            .unwrap();
        txn.commit().unwrap();
        crypto::parse_hex16(&id).unwrap()
    }

    fn records(client: [u8; 16], n: usize, expires: u64) -> Vec<TokenRecord> {
        (0..n)
            .map(|i| TokenRecord {
                jti: crypto::random_id(),
                client,
                client_id: [0; 16],
                issued: expires - 60,
                expires: expires + (i as u64 % 2),
                scopes: 1,
            })
            .collect()
    }

    #[test]
    fn purge_drops_only_batches_whose_tokens_all_expired_then_compaction_shrinks_the_file() {
        let (store, path) = temp_store();
        let c = client(&store);
        let empty = store.file_size().unwrap();
        for _ in 0..20 {
            store.write_batch(&records(c, 2000, 1000), Vec::new()).unwrap();
        }
        store.write_batch(&records(c, 10, 5000), Vec::new()).unwrap();
        assert_eq!(store.token_record_count().unwrap(), 40_010);
        let grown = store.file_size().unwrap();
        assert!(grown > 2 * 1024 * 1024, "{grown}");

        // Not yet expired: nothing goes. At 1000 half of each batch has expired: still nothing.
        assert_eq!(store.purge_expired(999, 100_000).unwrap().tokens, 0);
        assert_eq!(store.purge_expired(1000, 100_000).unwrap().tokens, 0);
        // Bounded: a small `max` takes one batch at a time.
        assert_eq!(store.purge_expired(1001, 1).unwrap().tokens, 2000);
        assert_eq!(store.purge_expired(1001, 100_000).unwrap().tokens, 38_000);
        assert_eq!(store.token_record_count().unwrap(), 10);

        assert!(store.compact_if_sparse().unwrap());
        let after = store.file_size().unwrap();
        assert!(after <= 2 * empty, "{after} > 2 x {empty}");
        assert_eq!(store.token_record_count().unwrap(), 10, "compaction kept the live batch");
        // A file already small is left alone.
        assert!(!store.compact_if_sparse().unwrap());
        drop(store);
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn records_of_unknown_clients_are_dropped_and_archive_rewrites_batches() {
        let (store, path) = temp_store();
        let (a, b) = (client(&store), client(&store));
        let mut batch = records(a, 3, 1000);
        batch.extend(records(b, 2, 1000));
        batch.extend(records([9; 16], 4, 1000)); // no such client
        store.write_batch(&batch, Vec::new()).unwrap();
        assert_eq!(store.token_record_count().unwrap(), 5);
        let txn = store.write().unwrap();
        delete_client_tokens(&txn, &crypto::uuid_text(&a)).unwrap();
        txn.commit().unwrap();
        assert_eq!(store.token_records_of(&crypto::uuid_text(&a)).unwrap().len(), 0);
        assert_eq!(store.token_records_of(&crypto::uuid_text(&b)).unwrap().len(), 2);
        drop(store);
        let _ = std::fs::remove_file(path);
    }
}
