//! Application links: incoming ones with the OAuth 2.0 client that holds their credentials,
//! outgoing ones with the sealed credentials throng presents elsewhere.
//!
//! An incoming link and its client are written in one transaction, with the client-id index
//! (`store::accounts`), so a link never exists without the credentials it shows, nor a client
//! without its link. Names are unique case-insensitively, through `APP_LINK_NAMES`.

use super::accounts::{client_ids, put_client};
use super::audit;
use super::records::{AppLinkRecord, AuditRecord, LinkDirection, OAuthClientRecord};
use super::tables::*;
use super::{decode, encode, next_id, Store};
use crate::error::{Error, Resource, Result};
use redb::{ReadableTable, WriteTransaction};

/// The link `id` as `txn` sees it.
pub(super) fn link_in(txn: &WriteTransaction, id: u64) -> Result<Option<AppLinkRecord>> {
    let table = txn.open_table(APP_LINKS)?;
    let found = table.get(id)?.map(|v| decode(v.value())).transpose();
    found
}

/// Writes `new` (replacing `old`, if any) and its name index; a name another link holds is
/// `AlreadyExists`.
fn put(txn: &WriteTransaction, old: Option<&AppLinkRecord>, new: &AppLinkRecord) -> Result<()> {
    let mut names = txn.open_table(APP_LINK_NAMES)?;
    let key = new.name.to_lowercase();
    let holder = names.get(key.as_str())?.map(|v| v.value());
    if holder.is_some_and(|h| h != new.id) {
        return Err(Error::AlreadyExists(Resource::ApplicationLink, new.name.clone()));
    }
    if let Some(old) = old.map(|o| o.name.to_lowercase()).filter(|o| *o != key) {
        names.remove(old.as_str())?;
    }
    names.insert(key.as_str(), new.id)?;
    txn.open_table(APP_LINKS)?.insert(new.id, encode(new).as_slice())?;
    Ok(())
}

impl Store {
    /// Creates a link. `build` receives the new id and returns the link and, for an incoming
    /// one, the OAuth client that holds its credentials.
    pub fn create_app_link(
        &self,
        build: impl FnOnce(u64) -> (AppLinkRecord, Option<OAuthClientRecord>),
        audit_record: impl FnOnce(&AppLinkRecord) -> AuditRecord,
    ) -> Result<(AppLinkRecord, Option<OAuthClientRecord>)> {
        let txn = self.write()?;
        let (link, client) = build(next_id(&txn, "app_link_seq")?);
        put(&txn, None, &link)?;
        if let Some(client) = &client {
            put_client(&txn, None, client)?;
        }
        audit::append(&txn, audit_record(&link))?;
        txn.commit()?;
        Ok((link, client))
    }

    pub fn app_link(&self, id: u64) -> Result<Option<AppLinkRecord>> {
        let txn = self.read()?;
        let table = txn.open_table(APP_LINKS)?;
        table.get(id)?.map(|v| decode(v.value())).transpose()
    }

    /// The link of that name, compared case-insensitively.
    pub fn app_link_by_name(&self, name: &str) -> Result<Option<AppLinkRecord>> {
        let txn = self.read()?;
        let names = txn.open_table(APP_LINK_NAMES)?;
        let Some(id) = names.get(name.to_lowercase().as_str())?.map(|v| v.value()) else {
            return Ok(None);
        };
        let table = txn.open_table(APP_LINKS)?;
        table.get(id)?.map(|v| decode(v.value())).transpose()
    }

    /// Every link, by id.
    pub fn app_links(&self) -> Result<Vec<AppLinkRecord>> {
        let txn = self.read()?;
        let table = txn.open_table(APP_LINKS)?;
        table.iter()?.map(|e| decode(e?.1.value())).collect()
    }

    /// Changes a link in one transaction: `change` edits it and returns the audit record, or
    /// `None` when nothing changed (nothing is written then). Its direction cannot change. A
    /// renamed incoming link's client takes the new name in the same transaction (it is
    /// introspection's `sub`); that client is returned too, for the registry.
    pub fn update_app_link(
        &self,
        id: u64,
        change: impl FnOnce(&mut AppLinkRecord) -> Result<Option<AuditRecord>>,
    ) -> Result<(AppLinkRecord, Option<OAuthClientRecord>)> {
        let txn = self.write()?;
        let old = link_in(&txn, id)?
            .ok_or_else(|| Error::NotFound(Resource::ApplicationLink, id.to_string()))?;
        let mut new = old.clone();
        let Some(record) = change(&mut new)? else {
            return Ok((old, None));
        };
        new.id = old.id;
        if std::mem::discriminant(&new.direction) != std::mem::discriminant(&old.direction) {
            return Err(Error::bad_request("a link's direction cannot change"));
        }
        put(&txn, Some(&old), &new)?;
        let mut renamed = None;
        if let LinkDirection::Incoming { oauth_client, .. } = &new.direction {
            if new.name != old.name {
                let found: Option<OAuthClientRecord> = {
                    let clients = txn.open_table(OAUTH_CLIENTS)?;
                    let found = clients.get(oauth_client.as_str())?;
                    found.map(|v| decode(v.value())).transpose()?
                };
                if let Some(mut client) = found {
                    let before = client.clone();
                    client.name = new.name.clone();
                    put_client(&txn, Some(&before), &client)?;
                    renamed = Some(client);
                }
            }
        }
        audit::append(&txn, record)?;
        txn.commit()?;
        Ok((new, renamed))
    }

    /// Deletes a link and, for an incoming one, its client, every client id and every token
    /// record of it, in one transaction. Refused while an application authenticates with it.
    /// Returns the link and the client removed.
    pub fn delete_app_link(
        &self,
        id: u64,
        audit_record: impl FnOnce(&AppLinkRecord) -> AuditRecord,
    ) -> Result<(AppLinkRecord, Option<OAuthClientRecord>)> {
        let txn = self.write()?;
        let link = link_in(&txn, id)?
            .ok_or_else(|| Error::NotFound(Resource::ApplicationLink, id.to_string()))?;
        for entry in txn.open_table(APPLICATIONS)?.iter()? {
            let app: super::applications::ApplicationRecord = decode(entry?.1.value())?;
            if app.auth.link() == Some(id) {
                return Err(Error::Conflict(format!(
                    "application '{}' authenticates with this link; give it another \
                     authentication method first",
                    app.name
                )));
            }
        }
        for entry in txn.open_table(DIRECTORIES)?.iter()? {
            let dir: super::records::DirectoryRecord = decode(entry?.1.value())?;
            let auth = dir.remote.as_ref().map(|r| &r.auth);
            if auth == Some(&super::records::RemoteAuth::Link { link: id }) {
                return Err(Error::Conflict(format!(
                    "directory '{}' synchronises through this link; give it an application \
                     password or another link first",
                    dir.name
                )));
            }
        }
        txn.open_table(APP_LINKS)?.remove(id)?;
        txn.open_table(APP_LINK_NAMES)?.remove(link.name.to_lowercase().as_str())?;
        let mut removed = None;
        if let LinkDirection::Incoming { oauth_client, .. } = &link.direction {
            let client: Option<OAuthClientRecord> = {
                let mut clients = txn.open_table(OAUTH_CLIENTS)?;
                let found = clients.remove(oauth_client.as_str())?;
                found.map(|v| decode(v.value())).transpose()?
            };
            if let Some(client) = &client {
                let mut ids = txn.open_table(CLIENT_IDS)?;
                for cid in client_ids(client) {
                    ids.remove(cid)?;
                }
                super::tokens::delete_client_tokens(&txn, &client.id)?;
            }
            removed = client;
        }
        audit::append(&txn, audit_record(&link))?;
        txn.commit()?;
        // No application changes (one that takes the link refuses the delete), so no change
        // notice: the registry drops the client, and with it every way its tokens had in.
        Ok((link, removed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::audit::{Action, Actor};
    use crate::store::applications::{ApplicationAuth, ApplicationRecord, ApplicationType};
    use crate::store::records::{ClientOwner, Credential, SecretCredential};
    use crate::store::TempStore;

    fn audit(link: &AppLinkRecord) -> AuditRecord {
        let actor = Actor { name: "admin".into(), remote: "127.0.0.1".into() };
        actor.record(0, Action::ApplicationLinkCreated, &link.name, "")
    }

    fn incoming(id: u64, name: &str) -> (AppLinkRecord, Option<OAuthClientRecord>) {
        let client = OAuthClientRecord {
            id: format!("cfg-{id}"),
            name: name.into(),
            owner: ClientOwner::ApplicationLink { id },
            user_key: "admin".into(),
            scopes: vec!["APPLICATION".into()],
            expiry_duration: 60,
            last_rotated: 0,
            tokens_not_before: 0,
            credentials: vec![Credential::ClientSecret(SecretCredential {
                client_id: format!("{id:032x}"),
                secret_sha256: "00".repeat(32),
                secret_sealed: String::new(),
                created: 0,
                expires: u64::MAX,
                retired_until: None,
            })],
            scim_directories: Vec::new(),
        };
        let link = AppLinkRecord {
            id,
            name: name.into(),
            author: "admin".into(),
            created: 0,
            updated: 0,
            direction: LinkDirection::Incoming {
                redirect_url: "https://jira.example.com".into(),
                oauth_client: client.id.clone(),
                scopes: vec!["APPLICATION".into()],
            },
        };
        (link, Some(client))
    }

    fn outgoing(id: u64, name: &str) -> (AppLinkRecord, Option<OAuthClientRecord>) {
        let link = AppLinkRecord {
            id,
            name: name.into(),
            author: "admin".into(),
            created: 0,
            updated: 0,
            direction: LinkDirection::Outgoing {
                service_provider: "Crowd".into(),
                token_url: "https://crowd.example.com/rest/oauth2/latest/token".into(),
                client_id: "c".into(),
                secret_sealed: "s".into(),
                scopes: vec!["APPLICATION".into()],
            },
        };
        (link, None)
    }

    fn app(id: u64, link: u64) -> ApplicationRecord {
        ApplicationRecord {
            id,
            name: format!("app{id}"),
            kind: ApplicationType::Jira,
            description: String::new(),
            active: true,
            auth: ApplicationAuth::Link { link },
            remote_addresses: Vec::new(),
            trusted_proxies: Vec::new(),
            mappings: Vec::new(),
            lowercase_output: false,
            aliasing_enabled: false,
            created: 0,
            updated: 0,
        }
    }

    fn app_audit(a: &ApplicationRecord) -> AuditRecord {
        let actor = Actor { name: "admin".into(), remote: "127.0.0.1".into() };
        actor.record(0, Action::ApplicationCreated, &a.name, "")
    }

    #[test]
    fn an_incoming_link_comes_and_goes_with_its_client() {
        let s = TempStore::new();
        let (link, client) = s.create_app_link(|id| incoming(id, "Jira"), audit).unwrap();
        let client = client.unwrap();
        assert_eq!(
            s.oauth_client_by_client_id(&format!("{:032x}", link.id)).unwrap().unwrap().id,
            client.id
        );
        assert!(matches!(
            s.create_app_link(|id| outgoing(id, "JIRA"), audit),
            Err(Error::AlreadyExists(Resource::ApplicationLink, _))
        ));
        assert_eq!(s.app_link_by_name("jira").unwrap().unwrap(), link);
        let (renamed, client_renamed) = s
            .update_app_link(link.id, |l| {
                l.name = "Jira prod".into();
                Ok(Some(audit(l)))
            })
            .unwrap();
        assert_eq!(client_renamed.unwrap().name, "Jira prod", "its client in the same write");
        assert_eq!(s.oauth_client(&client.id).unwrap().unwrap().name, "Jira prod");
        assert!(s.app_link_by_name("jira").unwrap().is_none());
        assert_eq!(s.app_link_by_name("JIRA PROD").unwrap().unwrap(), renamed);
        let (gone, removed) = s.delete_app_link(link.id, audit).unwrap();
        assert_eq!((gone.id, removed.unwrap().id), (link.id, client.id.clone()));
        assert!(s.oauth_client(&client.id).unwrap().is_none());
        assert!(s.oauth_client_by_client_id(&format!("{:032x}", link.id)).unwrap().is_none());
        assert!(s.app_links().unwrap().is_empty());
        assert!(matches!(
            s.delete_app_link(link.id, audit),
            Err(Error::NotFound(Resource::ApplicationLink, _))
        ));
    }

    #[test]
    fn an_application_takes_one_incoming_link_of_its_own_which_stays_while_it_does() {
        let s = TempStore::new();
        let (jira, _) = s.create_app_link(|id| incoming(id, "jira"), audit).unwrap();
        let (out, _) = s.create_app_link(|id| outgoing(id, "crowd"), audit).unwrap();
        for link in [out.id, 99] {
            assert!(matches!(
                s.create_application(|id| app(id, link), app_audit),
                Err(Error::UnknownReference(Resource::ApplicationLink, _))
            ));
        }
        s.create_application(|id| app(id, jira.id), app_audit).unwrap();
        assert!(matches!(
            s.create_application(|id| app(id, jira.id), app_audit),
            Err(Error::Conflict(_))
        ));
        assert!(matches!(s.delete_app_link(jira.id, audit), Err(Error::Conflict(_))));
        assert!(s.app_link(jira.id).unwrap().is_some(), "refused: nothing removed");
    }
}
