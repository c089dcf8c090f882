//! The admin API's entities, as crowd-rest-common's `entity/admin` classes write them:
//! `UserData` (null fields left out, `@JsonInclude(NON_NULL)`), `GroupData`, `DirectoryData`,
//! `GroupSearchResultEntity`, and the detailed directory of `/directory/detailed`.
//!
//! Dates are ISO strings, `yyyy-MM-dd'T'HH:mm:ss.SSSZ` (crowd-rest-common
//! `ISO8601DateSerializer`, through `SearchRestrictionEntityTranslator.asTimeString`), in UTC:
//! `2024-01-02T03:04:05.000+0000`.

use super::ids;
use crate::domain::clock::rfc3339_ms;
use crate::error::Error;
use crate::http::failure::Result;
use crate::store::records::{DirectoryRecord, GroupRecord, UserRecord};
use crate::store::Store;
use serde::Serialize;
use std::collections::HashMap;

/// `DirectoryData`: the directory a user or group belongs to.
#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryData {
    pub id: u64,
    pub display_name: String,
    /// Crowd's `DirectoryType`: `INTERNAL` for every directory throng holds so far.
    pub directory_type: String,
}

/// `UserData`. Crowd adds an `avatarUrl` when asked for one; throng keeps no avatars, and a
/// null field is left out.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserData {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub email: String,
    pub active: bool,
    pub directory: DirectoryData,
}

/// `GroupData`: Crowd calls the group's name its display name here.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupData {
    pub id: String,
    pub display_name: String,
    pub description: String,
    pub directory: DirectoryData,
}

/// `GroupSearchResultEntity`, what `/group/search/{directoryId}` lists.
#[derive(Serialize)]
pub struct GroupSearchResult {
    pub id: String,
    pub active: bool,
    pub name: String,
    pub description: String,
}

/// A directory with its counts, as `/directory/detailed` lists it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryDetail {
    pub id: u64,
    pub name: String,
    pub description: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub active: bool,
    pub created_date: String,
    pub user_count: u64,
    pub group_count: u64,
    /// A `CROWD` directory's server and application.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_name: Option<String>,
    /// How its last synchronisation went, or where the running one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub synchronisation: Option<SyncView>,
    /// A `SCIM` directory's base URL, for its identity provider (Atlassian's "SCIM base
    /// URL"), and whether users carry Atlassian's extension.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scim_base_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub atlassian_extension: Option<bool>,
}

/// A `SyncStatus` as the admin API shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncView {
    pub state: String,
    pub mode: String,
    pub started: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended: Option<String>,
    pub added: usize,
    pub updated: usize,
    pub removed: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub progress: String,
    /// Why a sync meant to be incremental was full.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl From<crate::store::records::SyncStatus> for SyncView {
    fn from(s: crate::store::records::SyncStatus) -> SyncView {
        SyncView {
            state: s.state,
            mode: s.mode,
            started: iso8601(s.started),
            ended: s.ended.map(iso8601),
            added: s.added,
            updated: s.updated,
            removed: s.removed,
            error: s.error,
            progress: s.progress,
            note: s.note,
        }
    }
}

/// An instant as the admin API writes it: `2024-01-02T03:04:05.000+0000`.
pub fn iso8601(ms: u64) -> String {
    let utc = rfc3339_ms(ms);
    match utc.strip_suffix('Z') {
        Some(local) => format!("{local}+0000"),
        None => utc,
    }
}

/// Every directory's `DirectoryData`, read once per request.
pub struct Directories(HashMap<u64, DirectoryData>);

impl Directories {
    pub fn load(store: &Store) -> Result<Directories> {
        let all = store.directories()?;
        Ok(Directories(all.iter().map(|d| (d.id, directory_data(d))).collect()))
    }

    fn of(&self, id: u64) -> crate::error::Result<DirectoryData> {
        self.0.get(&id).cloned().ok_or_else(|| {
            Error::Internal(format!("an entity names directory {id}, which does not exist"))
        })
    }

    pub fn user(&self, u: &UserRecord) -> Result<UserData> {
        Ok(UserData {
            id: ids::encode(u.directory_id, &u.name),
            username: u.name.clone(),
            display_name: u.display_name.clone(),
            email: u.email.clone(),
            active: u.active,
            directory: self.of(u.directory_id)?,
        })
    }

    pub fn group(&self, g: &GroupRecord) -> Result<GroupData> {
        Ok(GroupData {
            id: ids::encode(g.directory_id, &g.name),
            display_name: g.name.clone(),
            description: g.description.clone(),
            directory: self.of(g.directory_id)?,
        })
    }
}

fn directory_data(d: &DirectoryRecord) -> DirectoryData {
    DirectoryData { id: d.id, display_name: d.name.clone(), directory_type: d.kind.clone() }
}

pub fn group_search_result(g: &GroupRecord) -> GroupSearchResult {
    GroupSearchResult {
        id: ids::encode(g.directory_id, &g.name),
        active: g.active,
        name: g.name.clone(),
        description: g.description.clone(),
    }
}

/// `base` is the server's base URL, for a `SCIM` directory's.
pub fn directory_detail(store: &Store, base: &str, d: &DirectoryRecord) -> Result<DirectoryDetail> {
    // The status before the counts: a sync's outcome commits with its data, so counts read
    // after a SUCCEEDED include what it applied.
    let synchronisation = store.sync_status(d.id)?.map(SyncView::from);
    Ok(DirectoryDetail {
        id: d.id,
        name: d.name.clone(),
        description: d.description.clone(),
        kind: d.kind.clone(),
        active: d.active,
        created_date: iso8601(d.created),
        user_count: store.user_count(d.id)?,
        group_count: store.group_count(d.id)?,
        server_url: d.remote.as_ref().map(|r| r.server_url.clone()),
        application_name: d.remote.as_ref().map(|r| r.application.clone()),
        synchronisation,
        scim_base_url: d.scim.as_ref().map(|_| crate::api::scim::base_url(base, d.id)),
        atlassian_extension: d.scim.as_ref().map(|s| s.atlassian_extension),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_are_written_as_crowds_admin_api_writes_them() {
        assert_eq!(super::iso8601(1_753_966_297_500), "2025-07-31T12:51:37.500+0000");
        assert_eq!(super::iso8601(0), "1970-01-01T00:00:00.000+0000");
    }
}
