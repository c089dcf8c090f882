//! Users: `POST /users/search` and a user's groups, `POST`/`DELETE /users/{userId}/groups`.
//!
//! The search body is crowd-rest-common's `UserSearchParams`: `search` (text found in the
//! name, email or display name, in any case), `directoryIds` (none or an empty list: every
//! directory) and `active`; its `avatarSizeHint` is read and ignored, as throng keeps no
//! avatars, and so is any other field, since Crowd's clients send more than they need.

use super::views::Directories;
use super::{optional_json, page, path_entity, run_batch, DEFAULT_LIMIT};
use crate::api::paging;
use crate::app::App;
use crate::domain::directory::batch::Batch;
use crate::domain::directory::listing::{self, USER_TEXT_TERMS};
use crate::error::Resource;
use crate::http::failure::Result;
use crate::http::{Request, Response};
use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct SearchBody {
    search: Option<String>,
    directory_ids: Option<Vec<u64>>,
    active: Option<bool>,
}

/// `POST /users/search?start&limit` → a page of `UserData`, in (name, directory) order.
pub fn search(app: &App, req: &Request) -> Result<Response> {
    let (start, limit) = paging(req, DEFAULT_LIMIT)?;
    let body: SearchBody = optional_json(req)?;
    let dirs = match body.directory_ids {
        Some(mut ids) if !ids.is_empty() => {
            ids.sort_unstable();
            ids.dedup();
            ids
        }
        _ => app.store.directory_ids()?,
    };
    let r = listing::text_search(&USER_TEXT_TERMS, body.search.as_deref(), body.active)?;
    let found = listing::users(&app.store, &dirs, &r, start, limit + 1)?;
    let directories = Directories::load(&app.store)?;
    let values = found.iter().map(|u| directories.user(u)).collect::<Result<Vec<_>>>()?;
    Ok(Response::json(200, &page(values, start, limit)))
}

/// `POST` (`add`) or `DELETE /users/{userId}/groups` with `{"ids":[groupIds]}` → the batch
/// result. An unknown user is a 404 and changes nothing.
pub fn groups(
    app: &App,
    req: &Request,
    acting: &super::Acting,
    id: &str,
    add: bool,
) -> Result<Response> {
    let user = path_entity(id, Resource::User)?;
    let kind = if add { Batch::AddUserToGroups } else { Batch::RemoveUserFromGroups };
    run_batch(app, req, acting, kind, &user)
}
