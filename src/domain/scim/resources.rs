//! Users and groups over SCIM: what each request does to a `SCIM` directory. A resource's
//! document (`doc::clean`) is kept as written; the user or group it provisions takes from it
//! what Crowd has (`userName` the name, `name.givenName` the first name, the primary email,
//! `externalId`, `active`), so applications see SCIM users as any others.
//!
//! Conditional requests (RFC 7644 §3.14): a write with `If-Match` applies only to the version
//! it names (`W/"n"`, or `*`), else 412.

use super::doc::{clean, Cleaned};
use super::filter::{self, Filter, Op};
use super::patch;
use super::schema::{ResourceType, GROUPS};
use crate::domain::clock::Clock;
use crate::domain::directory::validate;
use crate::error::{Error, Resource, Result, ScimType};
use crate::store::directory::scim::{GroupWrite, Password, Query, ScimGroup, ScimUser, UserWrite};
use crate::store::records::{ScimResourceRecord, UserRecord};
use crate::store::Store;
use serde_json::{Map, Value};

/// What SCIM requests need: the store, the clock, and how passwords are hashed (and how many
/// at once).
#[derive(Clone, Copy)]
pub struct Deps<'a> {
    pub store: &'a Store,
    pub clock: &'a Clock,
    pub pbkdf2_iterations: u32,
    pub kdf: &'a crate::domain::throttle::KdfSlots,
}

/// The version a resource's `meta.version` and `ETag` name.
pub fn version(res: &ScimResourceRecord) -> String {
    format!("W/\"{}\"", res.version)
}

/// Refuses a write whose `If-Match` names another version.
pub fn check_version(if_match: Option<&str>, res: &ScimResourceRecord) -> Result<()> {
    let Some(wanted) = if_match.map(str::trim) else {
        return Ok(());
    };
    let current = version(res);
    let strip = |v: &str| v.trim().trim_start_matches("W/").trim_matches('"').to_string();
    let matches = wanted == "*" || wanted.split(',').any(|v| strip(v) == strip(&current));
    if matches {
        Ok(())
    } else {
        Err(Error::PreconditionFailed(format!(
            "the resource is at version {current}, not {wanted}"
        )))
    }
}

fn invalid(e: Error) -> Error {
    match e {
        Error::Invalid(_, m) | Error::BadRequest(m) => Error::Scim(ScimType::InvalidValue, m),
        other => other,
    }
}

fn text_at<'a>(doc: &'a Map<String, Value>, path: &[&str]) -> Option<&'a str> {
    let mut v = doc.get(path[0])?;
    for p in &path[1..] {
        v = v.get(p)?;
    }
    v.as_str()
}

/// Free text as Crowd keeps it, or nothing when it would not fit.
fn crowd_text(value: Option<&str>) -> String {
    value.filter(|v| validate::text(Resource::User, "value", v).is_ok()).unwrap_or("").to_string()
}

/// The user a document provisions.
fn user_of(doc: &Map<String, Value>) -> Result<UserRecord> {
    let name = text_at(doc, &["userName"]).unwrap_or_default();
    validate::name(Resource::User, "userName", name).map_err(invalid)?;
    let given = crowd_text(text_at(doc, &["name", "givenName"]));
    let family = crowd_text(text_at(doc, &["name", "familyName"]));
    let display = text_at(doc, &["displayName"])
        .or(text_at(doc, &["name", "formatted"]))
        .map(|d| crowd_text(Some(d)))
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| format!("{given} {family}").trim().to_string());
    let emails = doc.get("emails").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let email = emails
        .iter()
        .find(|e| e.get("primary") == Some(&Value::Bool(true)))
        .or(emails.first())
        .and_then(|e| e.get("value").and_then(Value::as_str))
        .filter(|e| validate::email(e).is_ok())
        .unwrap_or("")
        .to_string();
    Ok(UserRecord {
        name: name.to_string(),
        first_name: given,
        last_name: family,
        display_name: display,
        email,
        external_id: crowd_text(text_at(doc, &["externalId"])),
        // Atlassian: "active" defaults to true when absent.
        active: doc.get("active").and_then(Value::as_bool).unwrap_or(true),
        ..UserRecord::default()
    })
}

/// A password's hash, computed before any transaction starts (the KDF takes a while, and the
/// store has one writer) and within the KDF slots, as every login's is.
fn hash(d: &Deps<'_>, password: &str) -> Result<String> {
    let Some(_slot) = d.kdf.try_acquire() else {
        return Err(Error::Unavailable {
            retry_after_secs: 1,
            message: "every password hashing slot is busy; try again".into(),
        });
    };
    Ok(crate::crypto::hash_password(password, d.pbkdf2_iterations))
}

fn password(d: &Deps<'_>, given: Option<String>) -> Result<Password> {
    Ok(match given {
        Some(p) => Password::Set(hash(d, &p)?),
        None => Password::Keep,
    })
}

/// The password a PatchOp sets, if it sets one: its last `add`/`replace` of `password`, with
/// a path or inside a path-less value. Read before the transaction, so it is hashed outside.
fn patched_password(body: &Value) -> Option<String> {
    let ops = body.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case("Operations"))?.1;
    let mut found = None;
    for op in ops.as_array()? {
        let field = |name: &str| {
            op.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
        };
        let kind = field("op").and_then(Value::as_str).unwrap_or("").to_ascii_lowercase();
        if kind != "add" && kind != "replace" {
            continue;
        }
        let path = field("path").and_then(Value::as_str).unwrap_or("");
        let value = field("value");
        let named = |p: &str| {
            p.eq_ignore_ascii_case("password") || p.to_ascii_lowercase().ends_with(":password")
        };
        if named(path) {
            found = value.and_then(Value::as_str).map(String::from);
        } else if path.is_empty() {
            if let Some(p) = value
                .and_then(Value::as_object)
                .and_then(|o| o.iter().find(|(k, _)| named(k)).and_then(|(_, v)| v.as_str()))
            {
                found = Some(p.to_string());
            }
        }
    }
    found
}

/// `POST /Users`. A new user is active unless the body says otherwise, and its document
/// says so, as Atlassian answers.
pub fn create_user(d: &Deps<'_>, dir: u64, rt: &ResourceType, body: &Value) -> Result<ScimUser> {
    let Cleaned { mut doc, password: given } = clean(rt, body)?;
    doc.entry("active").or_insert(Value::Bool(true));
    let user = user_of(&doc)?;
    let w = UserWrite { user, password: password(d, given)?, doc };
    d.store.scim_create_user(dir, w, d.clock.now_ms()).map_err(uniqueness)
}

/// `PUT /Users/{id}`: every attribute as the body has it; those it leaves out are cleared.
pub fn replace_user(
    d: &Deps<'_>,
    dir: u64,
    rt: &ResourceType,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
) -> Result<ScimUser> {
    let Cleaned { mut doc, password: given } = clean(rt, body)?;
    // Absent, a user is active (Atlassian), and its document says so, as at creation.
    doc.entry("active").or_insert(Value::Bool(true));
    let user = user_of(&doc)?;
    let pw = password(d, given)?;
    d.store
        .scim_update_user(dir, id, d.clock.now_ms(), |current| {
            check_version(if_match, &current.res)?;
            Ok(UserWrite { user, password: pw, doc })
        })
        .map_err(uniqueness)
}

/// `PATCH /Users/{id}`.
pub fn patch_user(
    d: &Deps<'_>,
    dir: u64,
    rt: &ResourceType,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
) -> Result<ScimUser> {
    let plain = patched_password(body);
    let hashed = plain.as_deref().map(|p| hash(d, p)).transpose()?;
    d.store
        .scim_update_user(dir, id, d.clock.now_ms(), |current| {
            check_version(if_match, &current.res)?;
            let mut doc = current.res.doc.clone();
            let patched = patch::apply(rt, &mut doc, body)?;
            let Cleaned { doc, password: given } = clean(rt, &with_schemas(rt, doc))?;
            let user = user_of(&doc)?;
            let password = match (given, &hashed, patched.password_removed) {
                (Some(p), Some(h), _) if Some(&p) == plain.as_ref() => Password::Set(h.clone()),
                (Some(_), _, _) => {
                    return Err(Error::Scim(
                        ScimType::InvalidValue,
                        "password must be a string".into(),
                    ))
                }
                (None, _, true) => Password::Clear,
                (None, _, false) => Password::Keep,
            };
            Ok(UserWrite { user, password, doc })
        })
        .map_err(uniqueness)
}

/// `DELETE /Users/{id}`: deactivated and unlinked, as Atlassian does.
pub fn delete_user(d: &Deps<'_>, dir: u64, id: &str, if_match: Option<&str>) -> Result<()> {
    d.store.scim_delete_user(dir, id, d.clock.now_ms(), |res| check_version(if_match, res))
}

/// A document with the resource type's schemas, so it reads as a request body again.
fn with_schemas(rt: &ResourceType, mut doc: Map<String, Value>) -> Value {
    let mut schemas = vec![Value::from(rt.core.id)];
    schemas
        .extend(rt.extensions.iter().filter(|e| doc.contains_key(e.id)).map(|e| Value::from(e.id)));
    doc.insert("schemas".into(), Value::Array(schemas));
    Value::Object(doc)
}

/// A taken name is SCIM's `uniqueness` (409).
fn uniqueness(e: Error) -> Error {
    match e {
        Error::AlreadyExists(Resource::User, name) => {
            Error::Scim(ScimType::Uniqueness, format!("userName '{name}' is taken"))
        }
        Error::AlreadyExists(Resource::Group, name) => {
            Error::Scim(ScimType::Uniqueness, format!("displayName '{name}' is taken"))
        }
        Error::UnknownReference(_, id) => Error::Scim(
            ScimType::InvalidValue,
            format!("member '{id}' is no user or group of this directory"),
        ),
        Error::Invalid(Resource::Membership, m) => Error::Scim(ScimType::InvalidValue, m),
        other => other,
    }
}

/// A group document's members, as the SCIM ids they name, taken out of it (members are
/// memberships, not document).
fn take_members(doc: &mut Map<String, Value>) -> Vec<String> {
    let members = doc.remove("members");
    members
        .and_then(|m| m.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|m| m.get("value").and_then(Value::as_str).map(String::from))
        .collect()
}

fn group_write(doc: Map<String, Value>, members: Vec<String>) -> Result<GroupWrite> {
    let name = text_at(&doc, &["displayName"]).unwrap_or_default().to_string();
    validate::name(Resource::Group, "displayName", &name).map_err(invalid)?;
    Ok(GroupWrite { name, description: String::new(), doc, members: Some(members) })
}

/// `POST /Groups`, with its members.
pub fn create_group(d: &Deps<'_>, dir: u64, body: &Value) -> Result<ScimGroup> {
    let Cleaned { mut doc, .. } = clean(&GROUPS, body)?;
    let members = take_members(&mut doc);
    let w = group_write(doc, members)?;
    d.store.scim_create_group(dir, w, d.clock.now_ms()).map_err(uniqueness)
}

/// `PUT /Groups/{id}`: its members become exactly those the body lists.
pub fn replace_group(
    d: &Deps<'_>,
    dir: u64,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
) -> Result<ScimGroup> {
    let Cleaned { mut doc, .. } = clean(&GROUPS, body)?;
    let members = take_members(&mut doc);
    let w = group_write(doc, members)?;
    d.store
        .scim_update_group(dir, id, d.clock.now_ms(), |current| {
            check_version(if_match, &current.res)?;
            Ok(w)
        })
        .map_err(uniqueness)
}

/// `PATCH /Groups/{id}`: on the document with its members in it.
pub fn patch_group(
    d: &Deps<'_>,
    dir: u64,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
) -> Result<ScimGroup> {
    d.store
        .scim_update_group(dir, id, d.clock.now_ms(), |current| {
            check_version(if_match, &current.res)?;
            let mut doc = current.res.doc.clone();
            let members: Vec<Value> =
                current.members.iter().map(|m| serde_json::json!({ "value": m.id })).collect();
            if !members.is_empty() {
                doc.insert("members".into(), Value::Array(members));
            }
            patch::apply(&GROUPS, &mut doc, body)?;
            let Cleaned { mut doc, .. } = clean(&GROUPS, &with_schemas(&GROUPS, doc))?;
            let members = take_members(&mut doc);
            group_write(doc, members)
        })
        .map_err(uniqueness)
}

/// `DELETE /Groups/{id}`.
pub fn delete_group(d: &Deps<'_>, dir: u64, id: &str, if_match: Option<&str>) -> Result<()> {
    d.store.scim_delete_group(dir, id, d.clock.now_ms(), |res| check_version(if_match, res))
}

/// A listing's `filter`, as Atlassian's API takes it: one `eq` on `userName`, `externalId`
/// or `displayName` (users), or on `displayName` or `externalId` (groups).
pub fn query(filter: Option<&str>, users: bool) -> Result<Query> {
    let Some(text) = filter.map(str::trim).filter(|f| !f.is_empty()) else {
        return Ok(Query::All);
    };
    let unsupported = || {
        Error::Scim(
            ScimType::InvalidFilter,
            if users {
                "filter supports one eq on userName, externalId or displayName".to_string()
            } else {
                "filter supports one eq on displayName or externalId".to_string()
            },
        )
    };
    let Filter::Compare(attr, Op::Eq, Value::String(value)) = filter::parse(text)? else {
        return Err(unsupported());
    };
    let attr = attr.rsplit(':').next().unwrap_or(&attr).to_ascii_lowercase();
    match (attr.as_str(), users) {
        ("username", true) | ("displayname", false) => Ok(Query::Name(value)),
        ("externalid", _) => Ok(Query::ExternalId(value)),
        ("displayname", true) => Ok(Query::Field("displayName", value)),
        _ => Err(unsupported()),
    }
}
