//! Crowd applications: the records and the operations on them.
//!
//! An application is what calls `/rest/usermanagement/1` with HTTP Basic (its name and
//! password), from the addresses it allows, seeing the directories mapped to it (Crowd's
//! `ApplicationImpl`, `DirectoryMapping`, `RemoteAddress`). The records live here rather than
//! in `records.rs` because nothing else stores them.
//!
//! Names are unique case-insensitively: [`APPLICATION_NAMES`] maps the lower-cased name to
//! the id and follows every create, rename and delete in the same transaction. Each write is
//! one transaction with its audit record, and bumps [`Store::applications_generation`] after
//! it commits, so that caches of verified credentials (`domain::applications::auth`) drop
//! what they hold at once.

use super::audit;
use super::records::{AuditRecord, LinkDirection, Millis};
use super::tables::*;
use super::Topic;
use super::{decode, encode, next_id, Store};
use crate::error::{Error, Resource, Result};
use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

/// What kind of product an application is (Crowd's `ApplicationType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ApplicationType {
    GenericApplication,
    Jira,
    Confluence,
    Bitbucket,
    Bamboo,
    Fisheye,
    Crowd,
    Plugin,
}

impl ApplicationType {
    pub const ALL: [ApplicationType; 8] = [
        ApplicationType::GenericApplication,
        ApplicationType::Jira,
        ApplicationType::Confluence,
        ApplicationType::Bitbucket,
        ApplicationType::Bamboo,
        ApplicationType::Fisheye,
        ApplicationType::Crowd,
        ApplicationType::Plugin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ApplicationType::GenericApplication => "GENERIC_APPLICATION",
            ApplicationType::Jira => "JIRA",
            ApplicationType::Confluence => "CONFLUENCE",
            ApplicationType::Bitbucket => "BITBUCKET",
            ApplicationType::Bamboo => "BAMBOO",
            ApplicationType::Fisheye => "FISHEYE",
            ApplicationType::Crowd => "CROWD",
            ApplicationType::Plugin => "PLUGIN",
        }
    }

    /// The type a wire name spells, exactly as Crowd writes it.
    pub fn parse(s: &str) -> Option<ApplicationType> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// A write a directory mapping may allow the application (Crowd's `OperationType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Operation {
    CreateUser,
    CreateGroup,
    UpdateUser,
    UpdateGroup,
    DeleteUser,
    DeleteGroup,
    UpdateUserAttribute,
    UpdateGroupAttribute,
}

impl Operation {
    pub const ALL: [Operation; 8] = [
        Operation::CreateUser,
        Operation::CreateGroup,
        Operation::UpdateUser,
        Operation::UpdateGroup,
        Operation::DeleteUser,
        Operation::DeleteGroup,
        Operation::UpdateUserAttribute,
        Operation::UpdateGroupAttribute,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Operation::CreateUser => "CREATE_USER",
            Operation::CreateGroup => "CREATE_GROUP",
            Operation::UpdateUser => "UPDATE_USER",
            Operation::UpdateGroup => "UPDATE_GROUP",
            Operation::DeleteUser => "DELETE_USER",
            Operation::DeleteGroup => "DELETE_GROUP",
            Operation::UpdateUserAttribute => "UPDATE_USER_ATTRIBUTE",
            Operation::UpdateGroupAttribute => "UPDATE_GROUP_ATTRIBUTE",
        }
    }

    pub fn parse(s: &str) -> Option<Operation> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// How an application proves who it is. Tagged, so that more kinds join as variants without
/// a migration: the next is an application link's OAuth 2.0 client
/// (`OAuthClient { client_config_id }`), which authenticates with a bearer token, not Basic.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ApplicationAuth {
    /// HTTP Basic with the application's name and password; `hash` is
    /// `crypto::hash_password` output.
    Password { hash: String },
    /// Bearer tokens of the incoming application link `link`'s OAuth client (Crowd 7.0's
    /// directory sync over OAuth 2.0).
    Link { link: u64 },
}

impl ApplicationAuth {
    /// The password hash, for kinds that authenticate with Basic; `None` for kinds that do not
    /// (their Basic attempts fail like a wrong password).
    pub fn password_hash(&self) -> Option<&str> {
        match self {
            ApplicationAuth::Password { hash } => Some(hash),
            ApplicationAuth::Link { .. } => None,
        }
    }

    /// The incoming link whose tokens the application takes, if it authenticates so.
    pub fn link(&self) -> Option<u64> {
        match self {
            ApplicationAuth::Link { link } => Some(*link),
            ApplicationAuth::Password { .. } => None,
        }
    }
}

/// A directory an application sees, and what it may do there (Crowd's `DirectoryMapping`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DirectoryMapping {
    pub directory_id: u64,
    /// Every user of the directory may authenticate to the application; otherwise only
    /// members of `allowed_groups`.
    #[serde(default)]
    pub authenticate_all: bool,
    #[serde(default)]
    pub allowed_groups: Vec<String>,
    #[serde(default)]
    pub allowed_operations: Vec<Operation>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApplicationRecord {
    pub id: u64,
    /// As written; lookups use the lower-cased form.
    pub name: String,
    pub kind: ApplicationType,
    #[serde(default)]
    pub description: String,
    pub active: bool,
    pub auth: ApplicationAuth,
    /// Addresses, CIDR ranges and host names the application may call from, in their
    /// normalised form (`domain::applications::address`).
    #[serde(default)]
    pub remote_addresses: Vec<String>,
    /// Proxies whose `X-Forwarded-For` is believed for this application (same forms).
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// In lookup order.
    #[serde(default)]
    pub mappings: Vec<DirectoryMapping>,
    #[serde(default)]
    pub lowercase_output: bool,
    #[serde(default)]
    pub aliasing_enabled: bool,
    pub created: Millis,
    pub updated: Millis,
}

impl Store {
    /// How many application writes have committed since the store was opened. A cache of
    /// anything read from applications takes it before reading and trusts its entry only while
    /// it has not moved.
    pub fn applications_generation(&self) -> u64 {
        self.generation(Topic::Applications)
    }

    /// Runs one application write in one transaction, commits it, then bumps the generation
    /// (after the commit, never before: a reader could otherwise cache the old record under the
    /// new generation). An error aborts the transaction: nothing of it is kept.
    fn application_write<T>(&self, op: impl FnOnce(&WriteTransaction) -> Result<T>) -> Result<T> {
        self.change(Topic::Applications, op)
    }

    /// Creates an application; `build` receives its id. A taken name (case-insensitively) is
    /// `AlreadyExists`, a mapping to a missing directory `UnknownReference`.
    pub fn create_application(
        &self,
        build: impl FnOnce(u64) -> ApplicationRecord,
        audit_record: impl FnOnce(&ApplicationRecord) -> AuditRecord,
    ) -> Result<ApplicationRecord> {
        self.application_write(|txn| {
            let app = build(next_id(txn, "application_seq")?);
            put(txn, None, &app)?;
            audit::append(txn, audit_record(&app))?;
            Ok(app)
        })
    }

    pub fn application(&self, id: u64) -> Result<Option<ApplicationRecord>> {
        let txn = self.read()?;
        let table = txn.open_table(APPLICATIONS)?;
        table.get(id)?.map(|v| decode(v.value())).transpose()
    }

    /// The application of that name, compared case-insensitively.
    pub fn application_by_name(&self, name: &str) -> Result<Option<ApplicationRecord>> {
        let txn = self.read()?;
        let names = txn.open_table(APPLICATION_NAMES)?;
        let Some(id) = names.get(name.to_lowercase().as_str())?.map(|v| v.value()) else {
            return Ok(None);
        };
        let table = txn.open_table(APPLICATIONS)?;
        table.get(id)?.map(|v| decode(v.value())).transpose()
    }

    /// Every application, by id.
    pub fn applications(&self) -> Result<Vec<ApplicationRecord>> {
        let txn = self.read()?;
        let table = txn.open_table(APPLICATIONS)?;
        table.iter()?.map(|e| decode(e?.1.value())).collect()
    }

    /// Changes an application in one transaction. `change` edits the stored record and returns
    /// the audit record of what it did, or `None` when there was nothing to do (then nothing
    /// is written). The same rules as on create apply to the result.
    pub fn update_application(
        &self,
        id: u64,
        change: impl FnOnce(&mut ApplicationRecord) -> Result<Option<AuditRecord>>,
    ) -> Result<ApplicationRecord> {
        let txn = self.write()?;
        let old: ApplicationRecord = {
            let table = txn.open_table(APPLICATIONS)?;
            let found = table.get(id)?.map(|v| decode(v.value())).transpose()?;
            found.ok_or_else(|| Error::NotFound(Resource::Application, id.to_string()))?
        };
        let mut new = old.clone();
        let Some(record) = change(&mut new)? else {
            // Nothing changed: the transaction is dropped, which aborts it.
            return Ok(old);
        };
        new.id = old.id;
        put(&txn, Some(&old), &new)?;
        audit::append(&txn, record)?;
        txn.commit()?;
        self.changed(Topic::Applications);
        Ok(new)
    }

    /// Adds a remote address (already normalised) unless it is there; returns whether it was
    /// added. `audit_record` runs only when it was.
    pub fn add_remote_address(
        &self,
        id: u64,
        address: &str,
        audit_record: impl FnOnce(&ApplicationRecord) -> AuditRecord,
    ) -> Result<bool> {
        let mut added = false;
        self.update_application(id, |app| {
            if app.remote_addresses.iter().any(|a| a == address) {
                return Ok(None);
            }
            app.remote_addresses.push(address.to_string());
            added = true;
            Ok(Some(audit_record(app)))
        })?;
        Ok(added)
    }

    /// Removes a remote address (normalised) if it is there; returns whether it was.
    pub fn remove_remote_address(
        &self,
        id: u64,
        address: &str,
        audit_record: impl FnOnce(&ApplicationRecord) -> AuditRecord,
    ) -> Result<bool> {
        let mut removed = false;
        self.update_application(id, |app| {
            let before = app.remote_addresses.len();
            app.remote_addresses.retain(|a| a != address);
            if app.remote_addresses.len() == before {
                return Ok(None);
            }
            removed = true;
            Ok(Some(audit_record(app)))
        })?;
        Ok(removed)
    }

    /// Deletes an application and its name; returns what it was.
    pub fn delete_application(
        &self,
        id: u64,
        audit_record: impl FnOnce(&ApplicationRecord) -> AuditRecord,
    ) -> Result<ApplicationRecord> {
        self.application_write(|txn| {
            let mut table = txn.open_table(APPLICATIONS)?;
            let found: Option<ApplicationRecord> =
                table.remove(id)?.map(|v| decode(v.value())).transpose()?;
            let app =
                found.ok_or_else(|| Error::NotFound(Resource::Application, id.to_string()))?;
            txn.open_table(APPLICATION_NAMES)?.remove(app.name.to_lowercase().as_str())?;
            audit::append(txn, audit_record(&app))?;
            Ok(app)
        })
    }
}

/// Writes `new` (replacing `old`, if any) with its name index, after checking the rules that
/// need the store: the name is free and every mapped directory exists.
fn put(
    txn: &WriteTransaction,
    old: Option<&ApplicationRecord>,
    new: &ApplicationRecord,
) -> Result<()> {
    let mut names = txn.open_table(APPLICATION_NAMES)?;
    let key = new.name.to_lowercase();
    let holder = names.get(key.as_str())?.map(|v| v.value());
    if holder.is_some_and(|h| h != new.id) {
        return Err(Error::AlreadyExists(Resource::Application, new.name.clone()));
    }
    let dirs = txn.open_table(DIRECTORIES)?;
    for m in &new.mappings {
        if dirs.get(m.directory_id)?.is_none() {
            return Err(Error::UnknownReference(Resource::Directory, m.directory_id.to_string()));
        }
    }
    if let Some(link) = new.auth.link() {
        check_link(txn, new, link)?;
    }
    if let Some(old) = old {
        let old_key = old.name.to_lowercase();
        if old_key != key {
            names.remove(old_key.as_str())?;
        }
    }
    names.insert(key.as_str(), new.id)?;
    txn.open_table(APPLICATIONS)?.insert(new.id, encode(new).as_slice())?;
    Ok(())
}

/// An application that authenticates with link `link`: the link must be an incoming one, and
/// no other application's, since a token from its client must name one application.
fn check_link(txn: &WriteTransaction, app: &ApplicationRecord, link: u64) -> Result<()> {
    let found = super::links::link_in(txn, link)?;
    if !matches!(found.map(|l| l.direction), Some(LinkDirection::Incoming { .. })) {
        return Err(Error::UnknownReference(Resource::ApplicationLink, link.to_string()));
    }
    for entry in txn.open_table(APPLICATIONS)?.iter()? {
        let other: ApplicationRecord = decode(entry?.1.value())?;
        if other.id != app.id && other.auth.link() == Some(link) {
            return Err(Error::Conflict(format!(
                "the application link is already how application '{}' authenticates; a \
                 link's tokens must name one application",
                other.name
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::directory::Bootstrap;

    fn store() -> (Store, std::path::PathBuf) {
        let path = std::env::temp_dir().join(format!(
            "throng-apps-{}.redb",
            crate::crypto::hex(&crate::crypto::random_bytes::<6>())
        ));
        let store = Store::open(&path).unwrap();
        store
            .bootstrap_if_empty(Bootstrap {
                directory_name: "d",
                admin_name: "admin",
                admin_password_hash: "x".into(),
                now: 0,
            })
            .unwrap();
        (store, path)
    }

    fn record(id: u64, name: &str) -> ApplicationRecord {
        ApplicationRecord {
            id,
            name: name.into(),
            kind: ApplicationType::Jira,
            description: String::new(),
            active: true,
            auth: ApplicationAuth::Password { hash: "h".into() },
            remote_addresses: vec!["127.0.0.1".into()],
            trusted_proxies: Vec::new(),
            mappings: vec![DirectoryMapping {
                directory_id: 1,
                authenticate_all: true,
                allowed_groups: Vec::new(),
                allowed_operations: vec![Operation::CreateUser],
            }],
            lowercase_output: false,
            aliasing_enabled: false,
            created: 0,
            updated: 0,
        }
    }

    fn audit(app: &ApplicationRecord) -> AuditRecord {
        crate::domain::audit::Actor { name: "admin".into(), remote: "127.0.0.1".into() }.record(
            0,
            crate::domain::audit::Action::ApplicationCreated,
            &app.name,
            "",
        )
    }

    #[test]
    fn names_are_unique_case_insensitively_and_follow_renames() {
        let (s, path) = store();
        let g0 = s.applications_generation();
        let jira = s.create_application(|id| record(id, "Jira"), audit).unwrap();
        assert_eq!(s.applications_generation(), g0 + 1);
        assert!(matches!(
            s.create_application(|id| record(id, "JIRA"), audit),
            Err(Error::AlreadyExists(Resource::Application, _))
        ));
        assert_eq!(s.applications_generation(), g0 + 1, "a failed write bumps nothing");
        assert_eq!(s.application_by_name("jIrA").unwrap().unwrap().id, jira.id);
        let conf = s.create_application(|id| record(id, "confluence"), audit).unwrap();
        // Renaming onto a taken name is refused; onto a new one moves the index.
        let taken = s.update_application(conf.id, |a| {
            a.name = "jira".into();
            Ok(Some(audit(a)))
        });
        assert!(matches!(taken, Err(Error::AlreadyExists(..))));
        s.update_application(jira.id, |a| {
            a.name = "jira-sw".into();
            Ok(Some(audit(a)))
        })
        .unwrap();
        assert!(s.application_by_name("jira").unwrap().is_none());
        assert_eq!(s.application_by_name("JIRA-SW").unwrap().unwrap().id, jira.id);
        // The old name is free again.
        s.create_application(|id| record(id, "Jira"), audit).unwrap();
        assert_eq!(s.applications().unwrap().len(), 3);
        drop(s);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn mappings_must_name_directories_and_deletes_free_the_name() {
        let (s, path) = store();
        let mut bad = record(0, "x");
        bad.mappings[0].directory_id = 99;
        let r = s.create_application(|id| ApplicationRecord { id, ..bad }, audit);
        assert!(matches!(r, Err(Error::UnknownReference(Resource::Directory, ref d)) if d == "99"));
        assert!(s.applications().unwrap().is_empty(), "nothing stored");

        let app = s.create_application(|id| record(id, "x"), audit).unwrap();
        assert!(s.add_remote_address(app.id, "10.0.0.0/8", audit).unwrap());
        assert!(!s.add_remote_address(app.id, "10.0.0.0/8", audit).unwrap());
        let g = s.applications_generation();
        assert!(!s.remove_remote_address(app.id, "10.9.9.9", audit).unwrap());
        assert_eq!(s.applications_generation(), g, "no change, no write");
        assert!(s.remove_remote_address(app.id, "127.0.0.1", audit).unwrap());
        assert_eq!(s.application(app.id).unwrap().unwrap().remote_addresses, ["10.0.0.0/8"]);

        s.delete_application(app.id, audit).unwrap();
        assert!(s.application(app.id).unwrap().is_none());
        assert!(matches!(
            s.delete_application(app.id, audit),
            Err(Error::NotFound(Resource::Application, _))
        ));
        s.create_application(|id| record(id, "X"), audit).unwrap();
        drop(s);
        let _ = std::fs::remove_file(&path);
    }
}
