//! Service accounts and the OAuth 2.0 clients that hold their credentials.
//!
//! The `CLIENT_IDS` index follows every credential change in the same transaction, so a client
//! id always resolves to exactly the client that holds it, current or in its rotation grace.

use super::audit;
use super::records::{AuditRecord, Credential, OAuthClientRecord, ServiceAccountRecord};
use super::tables::*;
use super::{decode, encode, next_id, Store};
use crate::error::{Error, Resource, Result};
use redb::{ReadableTable, WriteTransaction};

pub(super) fn client_ids(client: &OAuthClientRecord) -> Vec<&str> {
    client.credentials.iter().map(Credential::client_id).collect()
}

pub(super) fn put_client(
    txn: &WriteTransaction,
    old: Option<&OAuthClientRecord>,
    new: &OAuthClientRecord,
) -> Result<()> {
    let mut ids = txn.open_table(CLIENT_IDS)?;
    let new_ids = client_ids(new);
    if let Some(old) = old {
        for id in client_ids(old) {
            if !new_ids.contains(&id) {
                ids.remove(id)?;
            }
        }
    }
    for id in new_ids {
        ids.insert(id, new.id.as_str())?;
    }
    txn.open_table(OAUTH_CLIENTS)?.insert(new.id.as_str(), encode(new).as_slice())?;
    Ok(())
}

impl Store {
    /// Creates a service account and its OAuth client. `build` receives the new account id.
    pub fn create_service_account(
        &self,
        build: impl FnOnce(u64) -> (ServiceAccountRecord, OAuthClientRecord),
        audit_record: impl FnOnce(&ServiceAccountRecord) -> AuditRecord,
    ) -> Result<(ServiceAccountRecord, OAuthClientRecord)> {
        let txn = self.write()?;
        let (account, client) = build(next_id(&txn, "service_account_seq")?);
        txn.open_table(SERVICE_ACCOUNTS)?.insert(account.id, encode(&account).as_slice())?;
        put_client(&txn, None, &client)?;
        audit::append(&txn, audit_record(&account))?;
        txn.commit()?;
        Ok((account, client))
    }

    pub fn service_account(&self, id: u64) -> Result<Option<ServiceAccountRecord>> {
        let txn = self.read()?;
        let table = txn.open_table(SERVICE_ACCOUNTS)?;
        table.get(id)?.map(|v| decode(v.value())).transpose()
    }

    /// A page of accounts with the given `active` state, by id, and whether it is the last.
    pub fn service_accounts_page(
        &self,
        active: bool,
        start: usize,
        limit: usize,
    ) -> Result<(Vec<ServiceAccountRecord>, bool)> {
        let txn = self.read()?;
        let table = txn.open_table(SERVICE_ACCOUNTS)?;
        let mut out = Vec::new();
        let mut seen = 0usize;
        let mut more = false;
        for entry in table.iter()? {
            let (_, v) = entry?;
            let account: ServiceAccountRecord = decode(v.value())?;
            if account.active != active {
                continue;
            }
            if seen >= start {
                if out.len() == limit {
                    more = true;
                    break;
                }
                out.push(account);
            }
            seen += 1;
        }
        Ok((out, !more))
    }

    /// Applies `change` to an account and records `audit_record`, atomically.
    pub fn update_service_account(
        &self,
        id: u64,
        change: impl FnOnce(&mut ServiceAccountRecord) -> Result<()>,
        audit_record: impl FnOnce(&ServiceAccountRecord) -> AuditRecord,
    ) -> Result<ServiceAccountRecord> {
        let txn = self.write()?;
        let mut account: ServiceAccountRecord = {
            let table = txn.open_table(SERVICE_ACCOUNTS)?;
            let found = table.get(id)?.map(|v| decode(v.value())).transpose()?;
            found.ok_or_else(|| Error::NotFound(Resource::ServiceAccount, id.to_string()))?
        };
        change(&mut account)?;
        txn.open_table(SERVICE_ACCOUNTS)?.insert(id, encode(&account).as_slice())?;
        audit::append(&txn, audit_record(&account))?;
        txn.commit()?;
        Ok(account)
    }

    /// Archives an account: marks it inactive and deletes its OAuth client, every client id
    /// and every token record of that client, in one transaction. Returns the archived
    /// account and the client that was removed (if it still existed).
    pub fn archive_service_account(
        &self,
        id: u64,
        now: u64,
        audit_record: impl FnOnce(&ServiceAccountRecord) -> AuditRecord,
    ) -> Result<(ServiceAccountRecord, Option<OAuthClientRecord>)> {
        let txn = self.write()?;
        let mut account: ServiceAccountRecord = {
            let table = txn.open_table(SERVICE_ACCOUNTS)?;
            let found = table.get(id)?.map(|v| decode(v.value())).transpose()?;
            found.ok_or_else(|| Error::NotFound(Resource::ServiceAccount, id.to_string()))?
        };
        if !account.active {
            // Archived already: nothing more to delete, nothing new to audit.
            return Ok((account, None));
        }
        account.active = false;
        account.archived = Some(now);
        txn.open_table(SERVICE_ACCOUNTS)?.insert(id, encode(&account).as_slice())?;
        let removed: Option<OAuthClientRecord> = {
            let mut clients = txn.open_table(OAUTH_CLIENTS)?;
            let removed = clients.remove(account.oauth_client_id.as_str())?;
            removed.map(|v| decode(v.value())).transpose()?
        };
        if let Some(client) = &removed {
            let mut ids = txn.open_table(CLIENT_IDS)?;
            for cid in client_ids(client) {
                ids.remove(cid)?;
            }
            super::tokens::delete_client_tokens(&txn, &client.id)?;
        }
        audit::append(&txn, audit_record(&account))?;
        txn.commit()?;
        Ok((account, removed))
    }

    pub fn oauth_client(&self, id: &str) -> Result<Option<OAuthClientRecord>> {
        let txn = self.read()?;
        let table = txn.open_table(OAUTH_CLIENTS)?;
        table.get(id)?.map(|v| decode(v.value())).transpose()
    }

    /// The client holding `client_id`, current or rotated out.
    pub fn oauth_client_by_client_id(&self, client_id: &str) -> Result<Option<OAuthClientRecord>> {
        let txn = self.read()?;
        let ids = txn.open_table(CLIENT_IDS)?;
        let Some(cfg) = ids.get(client_id)?.map(|v| v.value().to_string()) else {
            return Ok(None);
        };
        let clients = txn.open_table(OAUTH_CLIENTS)?;
        clients.get(cfg.as_str())?.map(|v| decode(v.value())).transpose()
    }

    /// Every OAuth client, for building the in-memory registry at start.
    pub fn all_oauth_clients(&self) -> Result<Vec<OAuthClientRecord>> {
        let txn = self.read()?;
        let table = txn.open_table(OAUTH_CLIENTS)?;
        table.iter()?.map(|e| decode(e?.1.value())).collect()
    }

    /// Applies `change` to a client, keeps the client-id index in step, records the audit
    /// event, atomically. Returns the new record.
    pub fn update_oauth_client(
        &self,
        id: &str,
        change: impl FnOnce(&mut OAuthClientRecord) -> Result<()>,
        audit_record: impl FnOnce(&OAuthClientRecord) -> AuditRecord,
    ) -> Result<OAuthClientRecord> {
        let txn = self.write()?;
        let old: OAuthClientRecord = {
            let table = txn.open_table(OAUTH_CLIENTS)?;
            let found = table.get(id)?.map(|v| decode(v.value())).transpose()?;
            found.ok_or_else(|| Error::NotFound(Resource::OAuthClient, id.to_string()))?
        };
        let mut new = old.clone();
        change(&mut new)?;
        put_client(&txn, Some(&old), &new)?;
        audit::append(&txn, audit_record(&new))?;
        txn.commit()?;
        Ok(new)
    }
}
