//! The audit log: append inside the transaction of the change it records, list newest first,
//! update the counts of aggregated records, and purge by age and by row count.

use super::records::{AuditRecord, Millis};
use super::tables::AUDIT;
use super::{decode, encode, next_id, Store};
use crate::error::Result;
use redb::{ReadableTable, ReadableTableMetadata, WriteTransaction};

/// Appends `record` within `txn`, giving it the next sequence number.
pub(crate) fn append(txn: &WriteTransaction, mut record: AuditRecord) -> Result<u64> {
    record.id = next_id(txn, "audit_seq")?;
    txn.open_table(AUDIT)?.insert(record.id, encode(&record).as_slice())?;
    Ok(record.id)
}

/// A change to the audit log from the aggregation of failed attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditWrite {
    /// A new record.
    Append(AuditRecord),
    /// New counts for a record written before; nothing if it has been purged since.
    Counts { id: u64, count: u64, throttled: u64 },
}

/// Applies `w` within `txn`; an append returns the new record's id.
pub(crate) fn apply(txn: &WriteTransaction, w: &AuditWrite) -> Result<Option<u64>> {
    match w {
        AuditWrite::Append(r) => append(txn, r.clone()).map(Some),
        AuditWrite::Counts { id, count, throttled } => {
            let mut table = txn.open_table(AUDIT)?;
            let found: Option<AuditRecord> =
                table.get(*id)?.map(|v| decode(v.value())).transpose()?;
            if let Some(mut r) = found {
                r.count = *count;
                r.throttled = *throttled;
                table.insert(*id, encode(&r).as_slice())?;
            }
            Ok(None)
        }
    }
}

impl Store {
    /// Appends `record` in a transaction of its own: for a change made of several
    /// transactions (a batch of memberships), recorded once they are all done.
    pub fn append_audit(&self, record: AuditRecord) -> Result<u64> {
        let txn = self.write()?;
        let id = append(&txn, record)?;
        txn.commit()?;
        Ok(id)
    }

    /// One page of the audit log, newest first, and whether it is the last page.
    pub fn audit_page(&self, start: usize, limit: usize) -> Result<(Vec<AuditRecord>, bool)> {
        let txn = self.read()?;
        let table = txn.open_table(AUDIT)?;
        let total = table.len()? as usize;
        let mut out = Vec::with_capacity(limit.min(total));
        for entry in table.iter()?.rev().skip(start).take(limit) {
            let (_, v) = entry?;
            out.push(decode(v.value())?);
        }
        let is_last = start.saturating_add(out.len()) >= total;
        Ok((out, is_last))
    }

    /// How many audit records are stored.
    pub fn audit_count(&self) -> Result<u64> {
        let txn = self.read()?;
        Ok(txn.open_table(AUDIT)?.len()?)
    }

    /// Removes the oldest audit records while there are more than `max_rows` or they are older
    /// than `before` (ms), at most `max` of them, in one transaction; returns how many went.
    /// Records are in id order, which is the order they were written in, so the walk from the
    /// oldest stops at the first one young enough to keep.
    pub fn purge_audit(&self, before: Millis, max_rows: u64, max: usize) -> Result<usize> {
        let txn = self.write()?;
        let mut removed = 0;
        {
            let mut table = txn.open_table(AUDIT)?;
            let mut len = table.len()?;
            while removed < max {
                let (id, timestamp) = match table.first()? {
                    Some((k, v)) => (k.value(), decode::<AuditRecord>(v.value())?.timestamp),
                    None => break,
                };
                if len <= max_rows && timestamp >= before {
                    break;
                }
                table.remove(id)?;
                len -= 1;
                removed += 1;
            }
        }
        txn.commit()?;
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records::AuditRecord;

    fn record(timestamp: Millis) -> AuditRecord {
        AuditRecord {
            id: 0,
            timestamp,
            actor: "a".into(),
            action: "X".into(),
            target: "t".into(),
            details: String::new(),
            remote: String::new(),
            count: 1,
            throttled: 0,
        }
    }

    fn temp_store() -> (Store, std::path::PathBuf) {
        let path = std::env::temp_dir().join(format!(
            "throng-audit-{}.redb",
            crate::crypto::hex(&crate::crypto::random_bytes::<6>())
        ));
        (Store::open(&path).unwrap(), path)
    }

    #[test]
    fn purge_by_rows_by_age_and_in_chunks() {
        let (store, path) = temp_store();
        let txn = store.write().unwrap();
        for t in 1..=10 {
            append(&txn, record(t * 1000)).unwrap();
        }
        txn.commit().unwrap();
        // Nothing too old, not too many: nothing goes.
        assert_eq!(store.purge_audit(0, 10, 100).unwrap(), 0);
        // Rows: the oldest go first, in chunks.
        assert_eq!(store.purge_audit(0, 6, 3).unwrap(), 3);
        assert_eq!(store.purge_audit(0, 6, 3).unwrap(), 1);
        assert_eq!(store.audit_count().unwrap(), 6);
        // Age: everything before 8 s goes.
        assert_eq!(store.purge_audit(8000, 100, 100).unwrap(), 3);
        let (left, _) = store.audit_page(0, 100).unwrap();
        let times: Vec<Millis> = left.iter().map(|r| r.timestamp).collect();
        assert_eq!(times, vec![10_000, 9000, 8000]);
        drop(store);
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn counts_update_a_record_and_skip_a_purged_one() {
        let (store, path) = temp_store();
        let txn = store.write().unwrap();
        let id = apply(&txn, &AuditWrite::Append(record(5))).unwrap().unwrap();
        apply(&txn, &AuditWrite::Counts { id, count: 7, throttled: 4 }).unwrap();
        apply(&txn, &AuditWrite::Counts { id: 999, count: 7, throttled: 4 }).unwrap();
        txn.commit().unwrap();
        let (rows, _) = store.audit_page(0, 10).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].count, rows[0].throttled), (7, 4));
        drop(store);
        let _ = std::fs::remove_file(path);
    }
}
