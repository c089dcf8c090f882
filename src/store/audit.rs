//! The audit log: append inside the transaction of the change it records, list newest first.

use super::records::AuditRecord;
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

impl Store {
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
}
