//! Token records, revocations and the purge.
//!
//! Records arrive in batches from the write-behind writer (`domain::tokens::Writer`); a token
//! is valid without its record, so a batch lost in a crash costs listing, never validity.
//! Revocations are different: they are committed durably before the revoke call answers.

use super::audit;
use super::records::{AuditRecord, TokenRecord};
use super::tables::*;
use super::Store;
use crate::error::Result;
use redb::{ReadableTable, ReadableTableMetadata, WriteTransaction};

/// Token records are the bulk of the file, so their values are compact bytes rather than JSON:
/// `[1][iat: u64 LE][len][client][len][client id][scope…]`; expiry and id are in the key.
fn encode_token(t: &TokenRecord, v: &mut Vec<u8>) {
    v.push(1u8);
    v.extend_from_slice(&t.issued.to_le_bytes());
    for field in [&t.client, &t.client_id] {
        v.push(field.len().min(255) as u8);
        v.extend_from_slice(&field.as_bytes()[..field.len().min(255)]);
    }
    v.extend_from_slice(t.scope.as_bytes());
}

fn decode_token(expires: u64, jti: &str, bytes: &[u8]) -> Result<TokenRecord> {
    let corrupt = || crate::error::Error::Internal(format!("token record {jti} is corrupt"));
    let (&version, rest) = bytes.split_first().ok_or_else(corrupt)?;
    if version != 1 || rest.len() < 8 {
        return Err(corrupt());
    }
    let issued = u64::from_le_bytes(rest[..8].try_into().map_err(|_| corrupt())?);
    let mut rest = &rest[8..];
    let mut field = || -> Result<String> {
        let (&n, tail) = rest.split_first().ok_or_else(corrupt)?;
        let (f, tail) = tail.split_at_checked(n as usize).ok_or_else(corrupt)?;
        rest = tail;
        String::from_utf8(f.to_vec()).map_err(|_| corrupt())
    };
    let (client, client_id) = (field()?, field()?);
    let scope = String::from_utf8(rest.to_vec()).map_err(|_| corrupt())?;
    Ok(TokenRecord { jti: jti.to_string(), client, client_id, scope, issued, expires })
}

/// The key form of a token id: the 16 random bytes its base64url text encodes.
fn jti_key(jti: &str) -> Option<[u8; 16]> {
    crate::crypto::b64url_decode(jti)?.try_into().ok()
}

/// The client a stored token record belongs to, read without decoding the rest.
fn record_client(bytes: &[u8]) -> &[u8] {
    let n = bytes.get(9).copied().unwrap_or(0) as usize;
    bytes.get(10..10 + n).unwrap_or(&[])
}

/// Deletes every token record of OAuth client `client` within `txn`. Archive is rare and the
/// table holds only unexpired tokens, so a scan beats keeping a second index on every issue.
pub(crate) fn delete_client_tokens(txn: &WriteTransaction, client: &str) -> Result<()> {
    txn.open_table(TOKENS)?.retain(|_, v| record_client(v) != client.as_bytes())?;
    Ok(())
}

/// What the purge removed in one call.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub tokens: usize,
    pub revocations: usize,
}

impl Store {
    /// Writes a batch of token records and audit events in one durable transaction. Records
    /// of clients that no longer exist (archived while the batch was queued) are dropped.
    pub fn write_batch(&self, tokens: &[TokenRecord], audits: Vec<AuditRecord>) -> Result<()> {
        let txn = self.write()?;
        {
            let clients = txn.open_table(OAUTH_CLIENTS)?;
            let mut table = txn.open_table(TOKENS)?;
            let mut known: Option<(&str, bool)> = None;
            let mut buf = Vec::with_capacity(128);
            for t in tokens {
                let exists = match known {
                    Some((c, e)) if c == t.client => e,
                    _ => {
                        let e = clients.get(t.client.as_str())?.is_some();
                        known = Some((t.client.as_str(), e));
                        e
                    }
                };
                let Some(key) = jti_key(&t.jti).filter(|_| exists) else {
                    continue;
                };
                buf.clear();
                encode_token(t, &mut buf);
                table.insert((t.expires, key), buf.as_slice())?;
            }
        }
        for a in audits {
            audit::append(&txn, a)?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Removes up to `max` token records and up to `max` revocations that expired at or
    /// before `now` (unix seconds), in one short transaction.
    pub fn purge_expired(&self, now: u64, max: usize) -> Result<Purged> {
        let txn = self.write()?;
        let mut purged = Purged::default();
        {
            let mut tokens = txn.open_table(TOKENS)?;
            let doomed: Vec<(u64, [u8; 16])> = tokens
                .range(..(now + 1, [0u8; 16]))?
                .take(max)
                .map(|e| e.map(|(k, _)| k.value()))
                .collect::<Result<_, _>>()?;
            for key in &doomed {
                tokens.remove(key)?;
            }
            purged.tokens = doomed.len();

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
        Ok(txn.open_table(TOKENS)?.len()?)
    }

    /// The stored record of token `jti` expiring at `expires`, if written yet.
    pub fn token_record(&self, expires: u64, jti: &str) -> Result<Option<TokenRecord>> {
        let txn = self.read()?;
        let table = txn.open_table(TOKENS)?;
        let Some(key) = jti_key(jti) else {
            return Ok(None);
        };
        table.get((expires, key))?.map(|v| decode_token(expires, jti, v.value())).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_records_round_trip() {
        let t = TokenRecord {
            jti: "abc".into(),
            client: "94f56193-187e-4199-b463-932b54f4c796".into(),
            client_id: "6a28cf1fc434162591d269f4ed62d093".into(),
            scope: "APPLICATION".into(),
            issued: 1_795_434_296,
            expires: 1_795_437_896,
        };
        let mut bytes = Vec::new();
        encode_token(&t, &mut bytes);
        assert!(bytes.len() < 100);
        assert_eq!(record_client(&bytes), t.client.as_bytes());
        assert_eq!(decode_token(t.expires, "abc", &bytes).unwrap(), t);
        assert!(decode_token(1, "x", &bytes[..20]).is_err());
        assert!(decode_token(1, "x", &[]).is_err());
    }
}
