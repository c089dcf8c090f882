//! `/search`: users or groups matching a restriction, given as CQL in the query
//! (`GET ?restriction=`) or as a SearchRestriction entity in the body (`POST`, JSON or XML, as
//! Atlassian's directory-sync client and python-crowd send it). crowd-rest-plugin
//! SearchResource: a missing `entity-type` is 400 "entity-type query parameter required.",
//! an unknown one "Unknown type: X"; results carry `Cache-Control: no-cache`.

use super::entities::{self, Expand};
use super::Call;
use crate::domain::search::{body, cql, EntityType, Restriction};
use crate::error::Error;
use crate::http::body::Node;
use crate::http::failure::Result;
use crate::http::{Method, Response};

fn entity_type(call: &Call) -> Result<EntityType> {
    match call.param("entity-type")? {
        None | Some("") => Err(Error::bad_request("entity-type query parameter required.").into()),
        Some(t) if t.eq_ignore_ascii_case("user") => Ok(EntityType::User),
        Some(t) if t.eq_ignore_ascii_case("group") => Ok(EntityType::Group),
        Some(t) => Err(Error::bad_request(format!("Unknown type: {t}")).into()),
    }
}

/// `GET /search?entity-type=user|group&restriction=CQL` and `POST /search?entity-type=…`.
pub fn search(call: &Call) -> Result<Response> {
    let kind = entity_type(call)?;
    let restriction =
        if call.req.method == Method::Post && !call.req.body.iter().all(u8::is_ascii_whitespace) {
            body::parse(call.body()?.fields(), kind)?
        } else {
            match call.param("restriction")? {
                Some(cql_text) => cql::parse(cql_text, kind)?,
                None => Restriction::All,
            }
        };
    let (start, max) = call.paging()?;
    let expand = Expand::parse(call.param("expand")?);
    let dirs: Vec<u64> = call.access.directories.iter().map(|d| d.id).collect();
    let store = &call.app.store;
    let response = match kind {
        EntityType::User => {
            let found = store.search_users_in(&dirs, &restriction, start, max)?;
            let items: Vec<Node> = found
                .iter()
                .map(|u| {
                    if expand.user {
                        let dir =
                            call.access.directory(u.directory_id).map_or("", |d| d.name.as_str());
                        entities::user(&call.links, u, dir, expand.attributes).into()
                    } else {
                        entities::minimal_user(&call.links, &u.name).into()
                    }
                })
                .collect();
            call.reply(200, "users", &entities::user_list(items))
        }
        EntityType::Group => {
            let found = store.search_groups_in(&dirs, &restriction, start, max)?;
            let items: Vec<Node> = found
                .iter()
                .map(|g| {
                    if expand.group {
                        entities::group(&call.links, g, expand.attributes).into()
                    } else {
                        entities::minimal_group(&call.links, &g.name).into()
                    }
                })
                .collect();
            call.reply(200, "groups", &entities::group_list(items))
        }
    };
    Ok(response.header("Cache-Control", "no-cache"))
}
