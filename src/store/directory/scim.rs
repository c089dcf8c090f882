//! A `SCIM` directory's users and groups as SCIM resources (`domain::scim`). Each resource is
//! an ordinary user or group, so applications see it through usermanagement and the change
//! log, plus a [`ScimResourceRecord`]: its SCIM id, and the document its identity provider
//! wrote, kept as written so that what is read back is what was sent.
//!
//! Every operation is one transaction over the user or group, its memberships and its SCIM
//! rows. Updates take a closure that sees the resource as stored and says what it becomes,
//! so a PATCH is read, changed and written without another write in between. Deleting a
//! user deactivates it and ends its memberships, as Atlassian's SCIM API does; the user
//! stays, unlinked, and a later create of the same `userName` links it again.

use super::super::records::{GroupRecord, Millis, ScimKind, ScimResourceRecord, UserRecord};
use super::super::tables::*;
use super::super::{decode, encode, Store};
use super::groups::{insert_group, remove_group, rename_group_in};
use super::memberships::{
    delete_group_membership, delete_user_membership, insert_group_membership,
    insert_user_membership,
};
use super::users::{insert_user, rename_in};
use super::{events, fold, linked, NameOnly};
use crate::error::{Error, Resource, Result};
use crate::store::records::Change;
use crate::store::Topic;
use redb::{ReadableTable, WriteTransaction};
use serde_json::{Map, Value};

/// Another resource a user or group names (a user's group, a group's member).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ref {
    pub id: String,
    pub kind: ScimKind,
    /// Its name as written.
    pub name: String,
}

/// A user as SCIM sees it.
#[derive(Debug, Clone)]
pub struct ScimUser {
    pub id: String,
    pub user: UserRecord,
    pub res: ScimResourceRecord,
    /// The groups it is a direct member of.
    pub groups: Vec<Ref>,
}

/// A group as SCIM sees it.
#[derive(Debug, Clone)]
pub struct ScimGroup {
    pub id: String,
    pub group: GroupRecord,
    pub res: ScimResourceRecord,
    /// Its direct members, users then groups.
    pub members: Vec<Ref>,
}

/// What a user becomes: its name, profile and state (`key`, `created` and the rest are the
/// store's), its password, and its document.
pub struct UserWrite {
    pub user: UserRecord,
    pub password: Password,
    pub doc: Map<String, Value>,
}

/// What happens to a user's password.
pub enum Password {
    Keep,
    /// Set to this hash (`crypto::hash_password`).
    Set(String),
    Clear,
}

/// What a group becomes; `members`, the SCIM ids of its direct members, or `None` to leave
/// them as they are.
pub struct GroupWrite {
    pub name: String,
    pub description: String,
    pub doc: Map<String, Value>,
    pub members: Option<Vec<String>>,
}

/// Which resources a listing is of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    All,
    /// The user named so (`userName eq`), or the group (`displayName eq`), in any case.
    Name(String),
    /// Those with this `externalId`, exactly.
    ExternalId(String),
    /// Those whose document holds this string at this top-level attribute, in any case (a
    /// user's `displayName eq`): a scan of the documents.
    Field(&'static str, String),
}

const USER: u8 = 0;
const GROUP: u8 = 1;

fn external_id(doc: &Map<String, Value>) -> Option<&str> {
    doc.get("externalId").and_then(Value::as_str)
}

/// The SCIM resource `id` of `dir`, if it is one of `kind`.
fn resource(
    table: &impl ReadableTable<(u64, &'static str), &'static [u8]>,
    dir: u64,
    id: &str,
    kind: ScimKind,
) -> Result<Option<ScimResourceRecord>> {
    let Some(v) = table.get((dir, id))? else {
        return Ok(None);
    };
    let res: ScimResourceRecord = decode(v.value())?;
    Ok((res.kind == kind).then_some(res))
}

fn not_found(kind: ScimKind, id: &str) -> Error {
    match kind {
        ScimKind::User => Error::NotFound(Resource::User, id.to_string()),
        ScimKind::Group => Error::NotFound(Resource::Group, id.to_string()),
    }
}

/// Writes `res` under `id`, with its key and externalId rows; `old` is what it replaces.
fn put_resource(
    txn: &WriteTransaction,
    dir: u64,
    id: &str,
    res: &ScimResourceRecord,
    old: Option<&ScimResourceRecord>,
) -> Result<()> {
    let tag = res.kind.tag();
    let mut keys = txn.open_table(SCIM_KEYS)?;
    let mut externals = txn.open_table(SCIM_EXTERNAL_IDS)?;
    if let Some(old) = old {
        keys.remove((dir, tag, old.key.as_str()))?;
        if let Some(ext) = external_id(&old.doc) {
            externals.remove((dir, tag, ext, id))?;
        }
    }
    keys.insert((dir, tag, res.key.as_str()), id)?;
    if let Some(ext) = external_id(&res.doc) {
        externals.insert((dir, tag, ext, id), ())?;
    }
    txn.open_table(SCIM_RESOURCES)?.insert((dir, id), encode(res).as_slice())?;
    Ok(())
}

fn drop_resource(
    txn: &WriteTransaction,
    dir: u64,
    id: &str,
    res: &ScimResourceRecord,
) -> Result<()> {
    let tag = res.kind.tag();
    txn.open_table(SCIM_KEYS)?.remove((dir, tag, res.key.as_str()))?;
    if let Some(ext) = external_id(&res.doc) {
        txn.open_table(SCIM_EXTERNAL_IDS)?.remove((dir, tag, ext, id))?;
    }
    txn.open_table(SCIM_RESOURCES)?.remove((dir, id))?;
    Ok(())
}

/// Reads what SCIM reads, from a read or a write transaction alike.
struct Reader<R, K, U, G, L> {
    resources: R,
    keys: K,
    users: U,
    groups: G,
    user_keys: L,
}

macro_rules! reader {
    ($txn:expr) => {
        Reader {
            resources: $txn.open_table(SCIM_RESOURCES)?,
            keys: $txn.open_table(SCIM_KEYS)?,
            users: $txn.open_table(USERS)?,
            groups: $txn.open_table(GROUPS)?,
            user_keys: $txn.open_table(USER_KEYS)?,
        }
    };
}

impl<R, K, U, G, L> Reader<R, K, U, G, L>
where
    R: ReadableTable<(u64, &'static str), &'static [u8]>,
    K: ReadableTable<(u64, u8, &'static str), &'static str>,
    U: ReadableTable<(u64, &'static str), &'static [u8]>,
    G: ReadableTable<(u64, &'static str), &'static [u8]>,
    L: ReadableTable<&'static str, (u64, &'static str)>,
{
    fn id_of(&self, dir: u64, tag: u8, key: &str) -> Result<Option<String>> {
        Ok(self.keys.get((dir, tag, key))?.map(|v| v.value().to_string()))
    }

    /// The user holding `key`; a SCIM row naming a user that is gone is corruption.
    fn user_by_key(&self, key: &str) -> Result<UserRecord> {
        let found = self.user_keys.get(key)?.map(|v| {
            let (d, name) = v.value();
            (d, name.to_string())
        });
        let Some((d, name_lc)) = found else {
            return Err(Error::Internal(format!("a SCIM user names key {key}, which no user has")));
        };
        match self.users.get((d, name_lc.as_str()))? {
            Some(v) => decode(v.value()),
            None => Err(Error::Internal(format!("user key {key} names no user"))),
        }
    }

    fn group_by_name(&self, dir: u64, name_lc: &str) -> Result<GroupRecord> {
        match self.groups.get((dir, name_lc))? {
            Some(v) => decode(v.value()),
            None => Err(Error::Internal(format!("a SCIM group names '{name_lc}', which is gone"))),
        }
    }

    fn user(
        &self,
        dir: u64,
        id: &str,
        memberships: &impl ReadableTable<super::LinkKey, ()>,
    ) -> Result<Option<ScimUser>> {
        let Some(res) = resource(&self.resources, dir, id, ScimKind::User)? else {
            return Ok(None);
        };
        let user = self.user_by_key(&res.key)?;
        let mut groups = Vec::new();
        for g in linked(memberships, dir, &fold(&user.name))? {
            if let Some(gid) = self.id_of(dir, GROUP, &g)? {
                groups.push(Ref {
                    id: gid,
                    kind: ScimKind::Group,
                    name: self.name_of_group(dir, &g)?,
                });
            }
        }
        Ok(Some(ScimUser { id: id.to_string(), user, res, groups }))
    }

    fn name_of_group(&self, dir: u64, name_lc: &str) -> Result<String> {
        match self.groups.get((dir, name_lc))? {
            Some(v) => Ok(decode::<NameOnly>(v.value())?.name),
            None => Ok(name_lc.to_string()),
        }
    }

    fn group(
        &self,
        dir: u64,
        id: &str,
        user_members: &impl ReadableTable<super::LinkKey, ()>,
        child_groups: &impl ReadableTable<super::LinkKey, ()>,
    ) -> Result<Option<ScimGroup>> {
        let Some(res) = resource(&self.resources, dir, id, ScimKind::Group)? else {
            return Ok(None);
        };
        let group = self.group_by_name(dir, &res.key)?;
        let mut members = Vec::new();
        for u in linked(user_members, dir, &res.key)? {
            let Some(v) = self.users.get((dir, u.as_str()))? else { continue };
            let user: UserRecord = decode(v.value())?;
            if let Some(uid) = self.id_of(dir, USER, &user.key)? {
                members.push(Ref { id: uid, kind: ScimKind::User, name: user.name });
            }
        }
        for c in linked(child_groups, dir, &res.key)? {
            if let Some(cid) = self.id_of(dir, GROUP, &c)? {
                members.push(Ref {
                    id: cid,
                    kind: ScimKind::Group,
                    name: self.name_of_group(dir, &c)?,
                });
            }
        }
        Ok(Some(ScimGroup { id: id.to_string(), group, res, members }))
    }

    /// The ids of `kind` in `dir` that `query` selects, in name order (user key, group name).
    fn select(
        &self,
        dir: u64,
        kind: ScimKind,
        query: &Query,
        externals: &impl ReadableTable<(u64, u8, &'static str, &'static str), ()>,
    ) -> Result<Vec<String>> {
        let tag = kind.tag();
        match query {
            Query::Name(name) => {
                let key = match kind {
                    ScimKind::User => match self.users.get((dir, fold(name).as_str()))? {
                        Some(v) => decode::<UserRecord>(v.value())?.key,
                        None => return Ok(Vec::new()),
                    },
                    ScimKind::Group => fold(name),
                };
                Ok(self.id_of(dir, tag, &key)?.into_iter().collect())
            }
            Query::ExternalId(ext) => {
                let mut ids = Vec::new();
                for entry in externals.range((dir, tag, ext.as_str(), "")..)? {
                    let (k, _) = entry?;
                    let (d, t, e, id) = k.value();
                    if (d, t, e) != (dir, tag, ext.as_str()) {
                        break;
                    }
                    ids.push(id.to_string());
                }
                Ok(ids)
            }
            Query::All | Query::Field(..) => {
                // By the key index: one row per resource of this kind, in name order; only a
                // field filter reads documents.
                let mut ids = Vec::new();
                for entry in self.keys.range((dir, tag, "")..)? {
                    let (k, v) = entry?;
                    let (d, t, _) = k.value();
                    if (d, t) != (dir, tag) {
                        break;
                    }
                    let id = v.value().to_string();
                    if let Query::Field(attr, value) = query {
                        let Some(res) = resource(&self.resources, dir, &id, kind)? else {
                            continue;
                        };
                        let found = res.doc.get(*attr).and_then(Value::as_str);
                        if found.is_none_or(|f| f.to_lowercase() != value.to_lowercase()) {
                            continue;
                        }
                    }
                    ids.push(id);
                }
                Ok(ids)
            }
        }
    }
}

/// A user's profile and state as `w` has them, onto `user`.
fn apply_user(user: &mut UserRecord, w: &UserWrite, now: Millis) {
    let u = &w.user;
    user.first_name.clone_from(&u.first_name);
    user.last_name.clone_from(&u.last_name);
    user.display_name.clone_from(&u.display_name);
    user.email.clone_from(&u.email);
    user.external_id.clone_from(&u.external_id);
    user.active = u.active;
    match &w.password {
        Password::Keep => {}
        Password::Set(hash) => {
            user.password_hash = Some(hash.clone());
            user.password_expired = false;
        }
        Password::Clear => user.password_hash = None,
    }
    user.updated = now;
}

/// Writes `user` back under its name, logs the update, and ends its sessions if it is no
/// longer active.
fn write_user(txn: &WriteTransaction, user: &UserRecord, now: Millis) -> Result<()> {
    let name_lc = fold(&user.name);
    txn.open_table(USERS)?
        .insert((user.directory_id, name_lc.as_str()), encode(user).as_slice())?;
    events::append(txn, now, user.directory_id, Change::UserUpdated { name: user.name.clone() })?;
    if !user.active {
        crate::store::sessions::end_user_sessions_in(txn, user.directory_id, &name_lc)?;
    }
    Ok(())
}

/// The members `ids` resolve to in `dir`: each a user or a group of it, or
/// `UnknownReference`.
fn resolve_members(txn: &WriteTransaction, dir: u64, ids: &[String]) -> Result<Vec<Ref>> {
    let r = reader!(txn);
    let mut out: Vec<Ref> = Vec::new();
    for id in ids {
        if out.iter().any(|m| &m.id == id) {
            continue;
        }
        let Some(v) = r.resources.get((dir, id.as_str()))? else {
            return Err(Error::UnknownReference(Resource::User, id.clone()));
        };
        let res: ScimResourceRecord = decode(v.value())?;
        let name = match res.kind {
            ScimKind::User => r.user_by_key(&res.key)?.name,
            ScimKind::Group => r.group_by_name(dir, &res.key)?.name,
        };
        out.push(Ref { id: id.clone(), kind: res.kind, name });
    }
    Ok(out)
}

/// Points every application mapping of `dir` that lets members of group `old` in at `new`
/// instead, so a renamed group keeps its access (and a new group of the old name gets none).
/// Whether any changed.
fn rename_in_mappings(txn: &WriteTransaction, dir: u64, old: &str, new: &str) -> Result<bool> {
    let mut table = txn.open_table(APPLICATIONS)?;
    let mut changed = Vec::new();
    for entry in table.iter()? {
        let (_, v) = entry?;
        let mut app: crate::store::applications::ApplicationRecord = decode(v.value())?;
        let mut touched = false;
        for m in app.mappings.iter_mut().filter(|m| m.directory_id == dir) {
            for g in m.allowed_groups.iter_mut().filter(|g| fold(g) == fold(old)) {
                *g = new.to_string();
                touched = true;
            }
        }
        if touched {
            changed.push(app);
        }
    }
    for app in &changed {
        table.insert(app.id, encode(app).as_slice())?;
    }
    Ok(!changed.is_empty())
}

/// Makes `group`'s direct members exactly `wanted`, from `current`.
fn set_members(
    txn: &WriteTransaction,
    dir: u64,
    group: &str,
    current: &[Ref],
    wanted: &[Ref],
    now: Millis,
) -> Result<()> {
    for m in current.iter().filter(|m| !wanted.iter().any(|w| w.id == m.id)) {
        match m.kind {
            ScimKind::User => delete_user_membership(txn, dir, &m.name, group, now)?,
            ScimKind::Group => delete_group_membership(txn, dir, &m.name, group, now)?,
        }
    }
    for m in wanted.iter().filter(|w| !current.iter().any(|m| m.id == w.id)) {
        match m.kind {
            ScimKind::User => insert_user_membership(txn, dir, &m.name, group, now)?,
            ScimKind::Group => insert_group_membership(txn, dir, &m.name, group, now)?,
        }
    }
    Ok(())
}

impl Store {
    /// Creates a SCIM user. Its `userName` taken by a user that SCIM knows is
    /// `AlreadyExists(User)`; taken by one it unlinked (deleted over SCIM), that user is
    /// linked again, with the new profile.
    pub fn scim_create_user(&self, dir: u64, w: UserWrite, now: Millis) -> Result<ScimUser> {
        self.change(Topic::Directory, |txn| {
            super::require_directory(txn, dir)?;
            let name_lc = fold(&w.user.name);
            let existing: Option<UserRecord> = txn
                .open_table(USERS)?
                .get((dir, name_lc.as_str()))?
                .map(|v| decode(v.value()))
                .transpose()?;
            let user = match existing {
                Some(mut user) => {
                    if txn.open_table(SCIM_KEYS)?.get((dir, USER, user.key.as_str()))?.is_some() {
                        return Err(Error::AlreadyExists(Resource::User, w.user.name.clone()));
                    }
                    if user.name != w.user.name {
                        user = rename_in(txn, dir, &user.name, &w.user.name, now)?;
                    }
                    // A userName given again may be another person's now: nothing of the
                    // unlinked user's credentials or attributes carries over.
                    user.password_hash = None;
                    user.password_expired = false;
                    user.attributes.clear();
                    apply_user(&mut user, &w, now);
                    write_user(txn, &user, now)?;
                    user
                }
                None => {
                    let mut user = UserRecord {
                        directory_id: dir,
                        name: w.user.name.clone(),
                        created: now,
                        ..UserRecord::default()
                    };
                    apply_user(&mut user, &w, now);
                    insert_user(txn, &user)?
                }
            };
            let id = crate::crypto::uuid_v4();
            let res = ScimResourceRecord {
                kind: ScimKind::User,
                key: user.key.clone(),
                doc: w.doc,
                version: 1,
                created: now,
                modified: now,
            };
            put_resource(txn, dir, &id, &res, None)?;
            Ok(ScimUser { id, user, res, groups: Vec::new() })
        })
    }

    /// The SCIM user `id` of `dir`.
    pub fn scim_user(&self, dir: u64, id: &str) -> Result<Option<ScimUser>> {
        let txn = self.read()?;
        let r = reader!(txn);
        r.user(dir, id, &txn.open_table(USER_GROUPS)?)
    }

    /// Changes the SCIM user `id` of `dir` to what `edit` makes of it as stored: renamed,
    /// its profile, state, password and document replaced.
    pub fn scim_update_user(
        &self,
        dir: u64,
        id: &str,
        now: Millis,
        edit: impl FnOnce(&ScimUser) -> Result<UserWrite>,
    ) -> Result<ScimUser> {
        self.change(Topic::Directory, |txn| {
            let current = {
                let r = reader!(txn);
                r.user(dir, id, &txn.open_table(USER_GROUPS)?)?
            };
            let current = current.ok_or_else(|| not_found(ScimKind::User, id))?;
            let w = edit(&current)?;
            let mut user = current.user.clone();
            if user.name != w.user.name {
                user = rename_in(txn, dir, &user.name, &w.user.name, now)?;
            }
            apply_user(&mut user, &w, now);
            write_user(txn, &user, now)?;
            let res = ScimResourceRecord {
                doc: w.doc,
                version: current.res.version + 1,
                modified: now,
                ..current.res.clone()
            };
            put_resource(txn, dir, id, &res, Some(&current.res))?;
            Ok(ScimUser { user, res, ..current })
        })
    }

    /// Deletes the SCIM user `id` of `dir` as Atlassian does: deactivated, out of every
    /// group, and no longer a SCIM resource (its id is 404 from now on). `check` may refuse
    /// it first (a stale `If-Match`).
    pub fn scim_delete_user(
        &self,
        dir: u64,
        id: &str,
        now: Millis,
        check: impl FnOnce(&ScimResourceRecord) -> Result<()>,
    ) -> Result<()> {
        self.change(Topic::Directory, |txn| {
            let current = {
                let r = reader!(txn);
                r.user(dir, id, &txn.open_table(USER_GROUPS)?)?
            };
            let current = current.ok_or_else(|| not_found(ScimKind::User, id))?;
            check(&current.res)?;
            let mut user = current.user;
            for g in &current.groups {
                delete_user_membership(txn, dir, &user.name, &g.name, now)?;
            }
            // Groups SCIM does not know (none, in a directory only SCIM writes) go too.
            for g in linked(&txn.open_table(USER_GROUPS)?, dir, &fold(&user.name))? {
                delete_user_membership(txn, dir, &user.name, &g, now)?;
            }
            user.active = false;
            user.updated = now;
            write_user(txn, &user, now)?;
            drop_resource(txn, dir, id, &current.res)
        })
    }

    /// The SCIM users of `dir` that `query` selects: how many, and the `count` from the
    /// `start`th (0-based), in name order.
    pub fn scim_users(
        &self,
        dir: u64,
        query: &Query,
        start: usize,
        count: usize,
    ) -> Result<(usize, Vec<ScimUser>)> {
        let txn = self.read()?;
        let r = reader!(txn);
        let ids = r.select(dir, ScimKind::User, query, &txn.open_table(SCIM_EXTERNAL_IDS)?)?;
        let memberships = txn.open_table(USER_GROUPS)?;
        let mut page = Vec::new();
        for id in ids.iter().skip(start).take(count) {
            page.extend(r.user(dir, id, &memberships)?);
        }
        Ok((ids.len(), page))
    }

    /// Loads many new SCIM users into `dir` in one transaction (benchmarks and imports): each
    /// name must be free.
    pub fn scim_load_users(&self, dir: u64, users: Vec<UserWrite>, now: Millis) -> Result<usize> {
        self.change(Topic::Directory, |txn| {
            super::require_directory(txn, dir)?;
            let n = users.len();
            for w in users {
                let mut user = UserRecord {
                    directory_id: dir,
                    name: w.user.name.clone(),
                    created: now,
                    ..UserRecord::default()
                };
                apply_user(&mut user, &w, now);
                let user = insert_user(txn, &user)?;
                let res = ScimResourceRecord {
                    kind: ScimKind::User,
                    key: user.key,
                    doc: w.doc,
                    version: 1,
                    created: now,
                    modified: now,
                };
                put_resource(txn, dir, &crate::crypto::uuid_v4(), &res, None)?;
            }
            Ok(n)
        })
    }

    /// Creates a SCIM group with its members (SCIM ids of this directory's users and groups).
    pub fn scim_create_group(&self, dir: u64, w: GroupWrite, now: Millis) -> Result<ScimGroup> {
        self.change(Topic::Directory, |txn| {
            let group = insert_group(
                txn,
                &GroupRecord {
                    directory_id: dir,
                    name: w.name.clone(),
                    description: w.description.clone(),
                    kind: "GROUP".into(),
                    active: true,
                    created: now,
                    updated: now,
                    attributes: Default::default(),
                },
            )?;
            let members = resolve_members(txn, dir, w.members.as_deref().unwrap_or_default())?;
            set_members(txn, dir, &group.name, &[], &members, now)?;
            let id = crate::crypto::uuid_v4();
            let res = ScimResourceRecord {
                kind: ScimKind::Group,
                key: fold(&group.name),
                doc: w.doc,
                version: 1,
                created: now,
                modified: now,
            };
            put_resource(txn, dir, &id, &res, None)?;
            Ok(ScimGroup { id, group, res, members })
        })
    }

    /// The SCIM group `id` of `dir`, with its members.
    pub fn scim_group(&self, dir: u64, id: &str) -> Result<Option<ScimGroup>> {
        let txn = self.read()?;
        let r = reader!(txn);
        r.group(dir, id, &txn.open_table(GROUP_USERS)?, &txn.open_table(GROUP_CHILDREN)?)
    }

    /// Changes the SCIM group `id` of `dir` to what `edit` makes of it as stored: renamed,
    /// described, its members and document replaced.
    pub fn scim_update_group(
        &self,
        dir: u64,
        id: &str,
        now: Millis,
        edit: impl FnOnce(&ScimGroup) -> Result<GroupWrite>,
    ) -> Result<ScimGroup> {
        let mut mappings_changed = false;
        let updated = self.change(Topic::Directory, |txn| {
            let current = {
                let r = reader!(txn);
                r.group(dir, id, &txn.open_table(GROUP_USERS)?, &txn.open_table(GROUP_CHILDREN)?)?
            };
            let current = current.ok_or_else(|| not_found(ScimKind::Group, id))?;
            let w = edit(&current)?;
            let mut group = current.group.clone();
            if group.name != w.name {
                let old = group.name.clone();
                group = rename_group_in(txn, dir, &old, &w.name, now)?;
                mappings_changed = rename_in_mappings(txn, dir, &old, &group.name)?;
            }
            if group.description != w.description {
                group.description = w.description.clone();
                group.updated = now;
                txn.open_table(GROUPS)?
                    .insert((dir, fold(&group.name).as_str()), encode(&group).as_slice())?;
                events::append(txn, now, dir, Change::GroupUpdated { name: group.name.clone() })?;
            }
            let members = match &w.members {
                Some(ids) => {
                    let wanted = resolve_members(txn, dir, ids)?;
                    set_members(txn, dir, &group.name, &current.members, &wanted, now)?;
                    wanted
                }
                None => current.members.clone(),
            };
            let res = ScimResourceRecord {
                key: fold(&group.name),
                doc: w.doc,
                version: current.res.version + 1,
                modified: now,
                ..current.res.clone()
            };
            put_resource(txn, dir, id, &res, Some(&current.res))?;
            Ok(ScimGroup { id: id.to_string(), group, res, members })
        })?;
        if mappings_changed {
            self.changed(Topic::Applications);
        }
        Ok(updated)
    }

    /// Deletes the SCIM group `id` of `dir`, with every membership it takes part in.
    pub fn scim_delete_group(
        &self,
        dir: u64,
        id: &str,
        now: Millis,
        check: impl FnOnce(&ScimResourceRecord) -> Result<()>,
    ) -> Result<()> {
        self.change(Topic::Directory, |txn| {
            let res = resource(&txn.open_table(SCIM_RESOURCES)?, dir, id, ScimKind::Group)?
                .ok_or_else(|| not_found(ScimKind::Group, id))?;
            check(&res)?;
            let group = remove_group(txn, dir, &res.key)?;
            events::append(txn, now, dir, Change::GroupDeleted { name: group.name })?;
            drop_resource(txn, dir, id, &res)
        })
    }

    /// The SCIM groups of `dir` that `query` selects: how many, and the `count` from the
    /// `start`th (0-based), in name order.
    pub fn scim_groups(
        &self,
        dir: u64,
        query: &Query,
        start: usize,
        count: usize,
    ) -> Result<(usize, Vec<ScimGroup>)> {
        let txn = self.read()?;
        let r = reader!(txn);
        let ids = r.select(dir, ScimKind::Group, query, &txn.open_table(SCIM_EXTERNAL_IDS)?)?;
        let (users, children) = (txn.open_table(GROUP_USERS)?, txn.open_table(GROUP_CHILDREN)?);
        let mut page = Vec::new();
        for id in ids.iter().skip(start).take(count) {
            page.extend(r.group(dir, id, &users, &children)?);
        }
        Ok((ids.len(), page))
    }
}
