//! Groups: `POST /groups/query`, `GET /groups/{groupId}`, a group's users
//! (`GET`/`POST`/`DELETE /groups/{groupId}/users`), `GET /group/search/{directoryId}`, and a
//! group's child groups (`GET`/`POST /group/{groupId}/groups`).
//!
//! `/groups/query` reads crowd-rest-common's `GroupsFilter` (`search`, in the name and in any
//! case; `directoryId`, none for every directory). Crowd lists there the groups the caller
//! administers; administrators and service accounts administer them all. Members and child
//! groups are the direct ones, in name order.

use super::views::{self, Directories};
use super::DEFAULT_LIMIT;
use super::{optional_flag, optional_json, page, path_entity, run_batch, slice_page};
use crate::api::paging;
use crate::app::App;
use crate::domain::directory::batch::{Batch, DirectoryEntity};
use crate::domain::directory::listing::{self, GROUP_TEXT_TERMS};
use crate::error::{Error, Resource};
use crate::http::failure::Result;
use crate::http::{Request, Response};
use crate::store::records::GroupRecord;
use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct QueryBody {
    search: Option<String>,
    directory_id: Option<u64>,
}

/// The group a path id names, or `NotFound(Group)`.
fn existing(app: &App, id: &str) -> Result<(DirectoryEntity, GroupRecord)> {
    let g = path_entity(id, Resource::Group)?;
    match app.store.group(g.directory, &g.name)? {
        Some(record) => Ok((g, record)),
        None => Err(Error::NotFound(Resource::Group, g.name).into()),
    }
}

/// `POST /groups/query?start&limit` → a page of `GroupData`, in (name, directory) order.
pub fn query(app: &App, req: &Request) -> Result<Response> {
    let (start, limit) = paging(req, DEFAULT_LIMIT)?;
    let body: QueryBody = optional_json(req)?;
    let dirs = match body.directory_id {
        Some(d) => vec![d],
        None => app.store.directory_ids()?,
    };
    let r = listing::text_search(&GROUP_TEXT_TERMS, body.search.as_deref(), None)?;
    let found = listing::groups(&app.store, &dirs, &r, start, limit + 1)?;
    let directories = Directories::load(&app.store)?;
    let values = found.iter().map(|g| directories.group(g)).collect::<Result<Vec<_>>>()?;
    Ok(Response::json(200, &page(values, start, limit)))
}

/// `GET /groups/{groupId}` → `GroupData`.
pub fn get(app: &App, id: &str) -> Result<Response> {
    let (_, group) = existing(app, id)?;
    Ok(Response::json(200, &Directories::load(&app.store)?.group(&group)?))
}

/// `GET /groups/{groupId}/users?start&limit` → a page of the direct members' `UserData`.
pub fn users(app: &App, req: &Request, id: &str) -> Result<Response> {
    let (start, limit) = paging(req, DEFAULT_LIMIT)?;
    let (g, _) = existing(app, id)?;
    let names = app.store.direct_users_of_group(g.directory, &g.name)?;
    let directories = Directories::load(&app.store)?;
    let page = slice_page(&names, start, limit, |name| {
        app.store.user(g.directory, name)?.map(|u| directories.user(&u)).transpose()
    })?;
    Ok(Response::json(200, &page))
}

/// `POST` (`add`) or `DELETE /groups/{groupId}/users` with `{"ids":[userIds]}` → the batch
/// result. An unknown group is a 404 and changes nothing.
pub fn change_users(
    app: &App,
    req: &Request,
    acting: &super::Acting,
    id: &str,
    add: bool,
) -> Result<Response> {
    let group = path_entity(id, Resource::Group)?;
    let kind = if add { Batch::AddUsersToGroup } else { Batch::RemoveUsersFromGroup };
    run_batch(app, req, acting, kind, &group)
}

/// `GET /group/search/{directoryId}?term&active&start&limit` → a page of
/// `GroupSearchResultEntity`: the directory's groups whose name holds `term` (in any case),
/// active or not as `active` says (either when it is left out). An unknown directory is 404.
pub fn search(app: &App, req: &Request, directory: &str) -> Result<Response> {
    let (start, limit) = paging(req, DEFAULT_LIMIT)?;
    let unknown = || Error::NotFound(Resource::Directory, directory.to_string());
    let dir: u64 = directory.parse().map_err(|_| unknown())?;
    app.store.directory(dir)?.ok_or_else(unknown)?;
    let q = req.query_params()?;
    let r =
        listing::text_search(&GROUP_TEXT_TERMS, q.single("term")?, optional_flag(req, "active")?)?;
    let found = listing::groups(&app.store, &[dir], &r, start, limit + 1)?;
    let values = found.iter().map(views::group_search_result).collect();
    Ok(Response::json(200, &page(values, start, limit)))
}

/// `GET /group/{groupId}/groups?start&limit` → a page of the direct child groups' `GroupData`.
pub fn children(app: &App, req: &Request, id: &str) -> Result<Response> {
    let (start, limit) = paging(req, DEFAULT_LIMIT)?;
    let (g, _) = existing(app, id)?;
    let names = app.store.direct_child_groups(g.directory, &g.name)?;
    let directories = Directories::load(&app.store)?;
    let page = slice_page(&names, start, limit, |name| {
        app.store.group(g.directory, name)?.map(|c| directories.group(&c)).transpose()
    })?;
    Ok(Response::json(200, &page))
}

/// `POST /group/{groupId}/groups` with `{"ids":[groupIds]}`: nests each in the group. A
/// group that would close a cycle (the group itself, or one it is nested in) fails with
/// `INVALID_MEMBERSHIP`.
pub fn add_children(
    app: &App,
    req: &Request,
    acting: &super::Acting,
    id: &str,
) -> Result<Response> {
    let group = path_entity(id, Resource::Group)?;
    run_batch(app, req, acting, Batch::AddChildGroups, &group)
}
