//! Crowd applications: the rules for creating, changing and deleting them, and (in
//! [`auth`]) how one authenticates to usermanagement. [`address`] decides where an
//! application may call from.
//!
//! An application is a product (Jira, Confluence, …) that calls Crowd's usermanagement API
//! with its name and password, sees the directories mapped to it, and may do there what each
//! mapping allows (https://confluence.atlassian.com/crowd/adding-an-application-18579591.html).
//! Admins manage them through `/rest/appmanagement/1` (`api::appmanagement`).
//!
//! Everything here takes narrow dependencies ([`Deps`]), not the whole `App`. Bodies are
//! validated completely before the password is hashed, and hashed before any write
//! transaction starts, so a write transaction never waits on the KDF and a bad body costs no
//! hashing.

pub mod address;
pub mod auth;

use crate::app::App;
use crate::crypto::{self, Keys};
use crate::domain::audit::{Action, Actor};
use crate::domain::clock::Clock;
use crate::domain::directory::validate;
use crate::domain::throttle::Guards;
use crate::error::{Error, Resource, Result};
use crate::store::applications::{
    ApplicationAuth, ApplicationRecord, ApplicationType, DirectoryMapping, Operation,
};
use crate::store::records::LinkDirection;
use crate::store::Store;

/// Most remote addresses, trusted proxies, mappings or allowed groups in one application.
pub const MAX_ITEMS: usize = 1000;

/// What the rules and the authentication of applications need, and nothing more.
pub struct Deps<'a> {
    pub store: &'a Store,
    pub keys: &'a Keys,
    pub clock: &'a Clock,
    pub guards: Guards<'a>,
    pub state: &'a Applications,
}

impl<'a> Deps<'a> {
    pub fn of(app: &'a App) -> Deps<'a> {
        Deps {
            store: &app.store,
            keys: &app.keys,
            clock: &app.clock,
            guards: Guards::of(app),
            state: &app.applications,
        }
    }
}

/// What the server keeps in memory for applications: verified credentials and resolved
/// host names.
#[derive(Default)]
pub struct Applications {
    pub(crate) verified: auth::VerifiedCache,
    pub resolver: address::Resolver,
}

/// An application as a request body describes it, before validation. Every field is
/// optional: a create requires some, an update changes only those present.
#[derive(Debug, Default)]
pub struct ApplicationDraft {
    /// The body's own id; an update refuses one that is not the path's.
    pub id: Option<i64>,
    pub name: Option<String>,
    pub kind: Option<String>,
    pub description: Option<String>,
    pub active: Option<bool>,
    pub password: Option<String>,
    /// The name of an incoming application link to authenticate with instead of a password.
    pub application_link: Option<String>,
    pub mappings: Option<Vec<MappingDraft>>,
    pub remote_addresses: Option<Vec<String>>,
    pub trusted_proxies: Option<Vec<String>>,
    pub lowercase_output: Option<bool>,
    pub aliasing_enabled: Option<bool>,
}

/// A directory mapping as a body describes it.
#[derive(Debug, Default)]
pub struct MappingDraft {
    pub directory_id: i64,
    pub authenticate_all: bool,
    pub allowed_groups: Vec<String>,
    pub allowed_operations: Vec<String>,
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::Invalid(Resource::Application, msg.into())
}

/// An application name: the rules of user and group names (`directory::validate::name`: not
/// empty, no surrounding whitespace or control characters, at most 255 characters), and no
/// `:`, which HTTP Basic cannot carry in a user id (RFC 7617 §2: the credentials split at the
/// first colon).
pub fn validate_name(name: &str) -> Result<String> {
    validate::name(Resource::Application, "application name", name)?;
    if name.contains(':') {
        return Err(invalid("the application name must not contain ':' (HTTP Basic splits on it)"));
    }
    Ok(name.to_string())
}

/// An application type, in any case: Crowd upper-cases it before `ApplicationType.valueOf`
/// (ApplicationEntityTranslator.toApplicationType).
pub fn validate_kind(kind: &str) -> Result<ApplicationType> {
    ApplicationType::parse(&kind.trim().to_uppercase()).ok_or_else(|| {
        let all: Vec<&str> = ApplicationType::ALL.iter().map(|t| t.as_str()).collect();
        invalid(format!("type '{kind}' is not one of {}", all.join(", ")))
    })
}

/// Free text, as a user's or group's description (`directory::validate::text`).
fn validate_description(d: &str) -> Result<String> {
    validate::text(Resource::Application, "description", d)?;
    Ok(d.to_string())
}

fn validate_password(p: &str) -> Result<&str> {
    if p.is_empty() {
        return Err(invalid("the application password must not be empty"));
    }
    Ok(p)
}

fn at_most<T>(what: &str, items: &[T]) -> Result<()> {
    if items.len() > MAX_ITEMS {
        return Err(invalid(format!("at most {MAX_ITEMS} {what} are allowed")));
    }
    Ok(())
}

/// Remote addresses or trusted proxies, normalised, without repeats, in the order given.
pub fn validate_addresses(what: &str, list: &[String]) -> Result<Vec<String>> {
    at_most(what, list)?;
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for a in list {
        let a = address::normalize(a)?;
        if !out.contains(&a) {
            out.push(a);
        }
    }
    Ok(out)
}

fn validate_mappings(list: &[MappingDraft]) -> Result<Vec<DirectoryMapping>> {
    at_most("directory mappings", list)?;
    let mut out: Vec<DirectoryMapping> = Vec::with_capacity(list.len());
    for m in list {
        // A negative id names no directory, as a missing one does not.
        let directory_id = u64::try_from(m.directory_id).map_err(|_| {
            Error::UnknownReference(Resource::Directory, m.directory_id.to_string())
        })?;
        if out.iter().any(|o| o.directory_id == directory_id) {
            return Err(invalid(format!("directory {directory_id} is mapped twice")));
        }
        at_most("allowed groups", &m.allowed_groups)?;
        let mut groups: Vec<String> = Vec::new();
        for g in &m.allowed_groups {
            if g.trim().is_empty() {
                return Err(invalid("an allowed group name must not be blank"));
            }
            if !groups.iter().any(|h| h.to_lowercase() == g.to_lowercase()) {
                groups.push(g.clone());
            }
        }
        let mut ops: Vec<Operation> = Vec::new();
        for o in &m.allowed_operations {
            // In any case, as Crowd reads them (ApplicationEntityTranslator.toOperationType).
            let op = Operation::parse(&o.trim().to_uppercase()).ok_or_else(|| {
                let all: Vec<&str> = Operation::ALL.iter().map(|o| o.as_str()).collect();
                invalid(format!("allowed operation '{o}' is not one of {}", all.join(", ")))
            })?;
            if !ops.contains(&op) {
                ops.push(op);
            }
        }
        out.push(DirectoryMapping {
            directory_id,
            authenticate_all: m.authenticate_all,
            allowed_groups: groups,
            allowed_operations: ops,
        });
    }
    Ok(out)
}

/// A validated draft: what a create sets or an update changes, password already hashed.
#[derive(Default)]
struct Patch {
    name: Option<String>,
    kind: Option<ApplicationType>,
    description: Option<String>,
    active: Option<bool>,
    password_hash: Option<String>,
    /// An incoming link to authenticate with (its id), instead of a password.
    link: Option<u64>,
    mappings: Option<Vec<DirectoryMapping>>,
    remote_addresses: Option<Vec<String>>,
    trusted_proxies: Option<Vec<String>>,
    lowercase_output: Option<bool>,
    aliasing_enabled: Option<bool>,
}

impl Patch {
    /// Checks every field, then (only then) hashes the password.
    fn validate(store: &Store, d: ApplicationDraft, iterations: u32) -> Result<Patch> {
        let password = d.password.as_deref().map(validate_password).transpose()?;
        if password.is_some() && d.application_link.is_some() {
            return Err(invalid(
                "an application authenticates with a password or with an application link, \
                 not both",
            ));
        }
        let link = d.application_link.as_deref().map(|n| incoming_link(store, n)).transpose()?;
        let patch = Patch {
            link,
            name: d.name.as_deref().map(validate_name).transpose()?,
            kind: d.kind.as_deref().map(validate_kind).transpose()?,
            description: d.description.as_deref().map(validate_description).transpose()?,
            active: d.active,
            password_hash: None,
            mappings: d.mappings.as_deref().map(validate_mappings).transpose()?,
            remote_addresses: d
                .remote_addresses
                .as_deref()
                .map(|l| validate_addresses("remote addresses", l))
                .transpose()?,
            trusted_proxies: d
                .trusted_proxies
                .as_deref()
                .map(|l| validate_addresses("trusted proxies", l))
                .transpose()?,
            lowercase_output: d.lowercase_output,
            aliasing_enabled: d.aliasing_enabled,
        };
        Ok(Patch { password_hash: password.map(|p| crypto::hash_password(p, iterations)), ..patch })
    }

    /// Applies the patch; returns the names of the fields whose value changed.
    fn apply(self, app: &mut ApplicationRecord) -> Vec<&'static str> {
        let mut changed = Vec::new();
        fn set<T: PartialEq>(
            changed: &mut Vec<&'static str>,
            name: &'static str,
            field: &mut T,
            value: Option<T>,
        ) {
            if let Some(v) = value {
                if *field != v {
                    *field = v;
                    changed.push(name);
                }
            }
        }
        set(&mut changed, "name", &mut app.name, self.name);
        set(&mut changed, "type", &mut app.kind, self.kind);
        set(&mut changed, "description", &mut app.description, self.description);
        set(&mut changed, "active", &mut app.active, self.active);
        if let Some(hash) = self.password_hash {
            // A new hash has a new salt: setting the same password again is still a change.
            app.auth = ApplicationAuth::Password { hash };
            changed.push("password");
        }
        if let Some(link) = self.link {
            set(
                &mut changed,
                "application-link",
                &mut app.auth,
                Some(ApplicationAuth::Link { link }),
            );
        }
        set(&mut changed, "directory-mappings", &mut app.mappings, self.mappings);
        set(&mut changed, "remote-addresses", &mut app.remote_addresses, self.remote_addresses);
        set(&mut changed, "trusted-proxies", &mut app.trusted_proxies, self.trusted_proxies);
        set(&mut changed, "lowercase-output", &mut app.lowercase_output, self.lowercase_output);
        set(&mut changed, "aliasing-enabled", &mut app.aliasing_enabled, self.aliasing_enabled);
        changed
    }
}

/// The incoming application link of that name (its id): what an application may take as its
/// authentication method.
fn incoming_link(store: &Store, name: &str) -> Result<u64> {
    match store.app_link_by_name(name)? {
        Some(l) if matches!(l.direction, LinkDirection::Incoming { .. }) => Ok(l.id),
        _ => Err(Error::UnknownReference(Resource::ApplicationLink, name.to_string())),
    }
}

fn parse_id(id: &str) -> Result<u64> {
    id.parse().map_err(|_| Error::NotFound(Resource::Application, id.to_string()))
}

/// Creates an application. `name`, `type` and `password` are required; a missing boolean is
/// false, `active` included, as in Crowd (ApplicationEntityTranslator.getBoolean).
/// `request_address` (Crowd's `include-request-address=true`) is added to the remote
/// addresses.
pub fn create(
    d: &Deps<'_>,
    actor: &Actor,
    draft: ApplicationDraft,
    request_address: Option<&str>,
) -> Result<ApplicationRecord> {
    if draft.name.is_none() {
        return Err(Error::bad_request("'name' is required"));
    }
    if draft.kind.is_none() {
        return Err(Error::bad_request("'type' is required"));
    }
    if draft.password.as_deref().is_none_or(str::is_empty) && draft.application_link.is_none() {
        return Err(Error::bad_request(
            "'password' (with its 'value') or 'application-link' is required",
        ));
    }
    let mut patch = Patch::validate(d.store, draft, d.guards.pbkdf2_iterations)?;
    if let Some(addr) = request_address {
        let addr = address_of_request(addr)?;
        let list = patch.remote_addresses.get_or_insert_with(Vec::new);
        if !list.contains(&addr) {
            list.push(addr);
        }
    }
    let now = d.clock.now_ms();
    let auth = match (patch.password_hash.take(), patch.link.take()) {
        (Some(hash), _) => ApplicationAuth::Password { hash },
        (None, Some(link)) => ApplicationAuth::Link { link },
        (None, None) => unreachable!("required above"),
    };
    let mut app = ApplicationRecord {
        id: 0,
        name: String::new(),
        kind: ApplicationType::GenericApplication,
        description: String::new(),
        active: false,
        auth,
        remote_addresses: Vec::new(),
        trusted_proxies: Vec::new(),
        mappings: Vec::new(),
        lowercase_output: false,
        aliasing_enabled: false,
        created: now,
        updated: now,
    };
    patch.apply(&mut app);
    d.store.create_application(
        |id| ApplicationRecord { id, ..app },
        |a| {
            let details = format!(
                "type {}, active {}, {} directory mappings, remote addresses [{}]",
                a.kind.as_str(),
                a.active,
                a.mappings.len(),
                a.remote_addresses.join(", ")
            );
            actor.record(now, Action::ApplicationCreated, &a.name, details)
        },
    )
}

/// The caller's own address, as `include-request-address` adds it: IPv4-mapped IPv6 as IPv4.
fn address_of_request(peer: &str) -> Result<String> {
    match peer.parse() {
        Ok(ip) => Ok(address::canonical(ip).to_string()),
        Err(_) => address::normalize(peer),
    }
}

pub fn get(d: &Deps<'_>, id: &str) -> Result<ApplicationRecord> {
    let id = parse_id(id)?;
    d.store.application(id)?.ok_or_else(|| Error::NotFound(Resource::Application, id.to_string()))
}

/// Every application, or only the one named `name` (case-insensitively), by id.
pub fn list(d: &Deps<'_>, name: Option<&str>) -> Result<Vec<ApplicationRecord>> {
    match name {
        Some(n) => Ok(d.store.application_by_name(n)?.into_iter().collect()),
        None => d.store.applications(),
    }
}

/// Changes the fields `draft` has; the others keep their values, so a body that leaves the
/// remote addresses out cannot wipe them by omission. An `id` in the body must be the path's.
pub fn update(
    d: &Deps<'_>,
    actor: &Actor,
    id: &str,
    draft: ApplicationDraft,
) -> Result<ApplicationRecord> {
    let id = parse_id(id)?;
    if let Some(body_id) = draft.id {
        if u64::try_from(body_id).ok() != Some(id) {
            return Err(Error::bad_request(format!(
                "the body's id {body_id} is not the id in the path, {id}"
            )));
        }
    }
    if draft.password.as_deref() == Some("") {
        return Err(invalid("the application password must not be empty"));
    }
    let patch = Patch::validate(d.store, draft, d.guards.pbkdf2_iterations)?;
    let now = d.clock.now_ms();
    d.store.update_application(id, |app| {
        let changed = patch.apply(app);
        if changed.is_empty() {
            return Ok(None);
        }
        app.updated = now;
        let details = format!("changed: {}", changed.join(", "));
        Ok(Some(actor.record(now, Action::ApplicationUpdated, &app.name, details)))
    })
}

pub fn delete(d: &Deps<'_>, actor: &Actor, id: &str) -> Result<()> {
    let id = parse_id(id)?;
    let now = d.clock.now_ms();
    d.store.delete_application(id, |a| {
        actor.record(now, Action::ApplicationDeleted, &a.name, format!("id {}", a.id))
    })?;
    Ok(())
}

/// Adds a remote address; returns it normalised. Adding one that is there changes nothing.
pub fn add_remote_address(d: &Deps<'_>, actor: &Actor, id: &str, text: &str) -> Result<String> {
    let id = parse_id(id)?;
    let addr = address::normalize(text)?;
    let now = d.clock.now_ms();
    d.store.add_remote_address(id, &addr, |a| {
        actor.record(now, Action::RemoteAddressAdded, &a.name, addr.clone())
    })?;
    Ok(addr)
}

/// Removes a remote address; removing one that is not there changes nothing.
pub fn remove_remote_address(d: &Deps<'_>, actor: &Actor, id: &str, text: &str) -> Result<()> {
    let id = parse_id(id)?;
    let addr = address::normalize(text)?;
    let now = d.clock.now_ms();
    d.store.remove_remote_address(id, &addr, |a| {
        actor.record(now, Action::RemoteAddressRemoved, &a.name, addr.clone())
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_rules() {
        assert_eq!(validate_name("jira").unwrap(), "jira");
        assert_eq!(validate_name("Jira Software 9").unwrap(), "Jira Software 9");
        for bad in ["", "  ", " jira", "jira ", "ji\nra", "app:x", &"x".repeat(256)] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
        assert!(validate_name(&"é".repeat(255)).is_ok(), "characters, not bytes");
    }

    #[test]
    fn kinds_and_operations_come_from_the_lists() {
        assert_eq!(validate_kind("JIRA").unwrap(), ApplicationType::Jira);
        assert_eq!(
            validate_kind("generic_application").unwrap(),
            ApplicationType::GenericApplication
        );
        assert!(validate_kind("SLACK").is_err());
        let m = |ops: &[&str]| MappingDraft {
            directory_id: 1,
            allowed_operations: ops.iter().map(|s| s.to_string()).collect(),
            ..MappingDraft::default()
        };
        let ok = validate_mappings(&[m(&["CREATE_USER", "update_group_attribute", "create_user"])])
            .unwrap();
        assert_eq!(
            ok[0].allowed_operations,
            [Operation::CreateUser, Operation::UpdateGroupAttribute]
        );
        assert!(validate_mappings(&[m(&["DROP_TABLES"])]).is_err());
        assert!(validate_mappings(&[m(&[]), m(&[])]).is_err(), "a directory mapped twice");
        let neg = MappingDraft { directory_id: -1, ..MappingDraft::default() };
        assert!(matches!(
            validate_mappings(&[neg]),
            Err(Error::UnknownReference(Resource::Directory, _))
        ));
    }

    #[test]
    fn a_bad_body_is_refused_before_any_hashing() {
        let draft = ApplicationDraft {
            password: Some("secret".into()),
            remote_addresses: Some(vec!["not an address!".into()]),
            ..ApplicationDraft::default()
        };
        // u32::MAX iterations would take minutes: the error must come first.
        let store = crate::store::TempStore::new();
        assert!(Patch::validate(&store, draft, u32::MAX).is_err());
        let addrs = validate_addresses("x", &["10.0.0.1".into(), " 10.0.0.1".into()]).unwrap();
        assert_eq!(addrs, ["10.0.0.1"]);
    }
}
