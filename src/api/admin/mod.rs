//! `/rest/admin/1.0`: the part of Crowd's admin REST API that manages users, groups and their
//! memberships, and lists directories. JSON only, as Crowd's admin plugin is.
//!
//! Crowd 7.0 lets service accounts call these ("User Admin", "Group Admin", "Group
//! membership": https://confluence.atlassian.com/enterprise/service-accounts-in-crowd-1573749299.html),
//! so a caller is either a Crowd administrator by Basic, as on every other admin API, or a
//! bearer token with the APPLICATION scope, checked as usermanagement checks it. A bearer
//! caller is named in audit records by its client id.
//!
//! Users and groups are named by `DirectoryEntityId`s ([`ids`]); lists are Atlassian's
//! `RestPage`, cut as crowd-rest-common's `RestPage.fromListPlusOne` cuts them (one more
//! than the page is read, to tell whether it is the last); the entities are in [`views`].
//! One module per resource: [`users`], [`groups`], [`directories`].

pub mod directories;
pub mod groups;
pub mod ids;
pub mod links;
pub mod users;
pub mod views;

use super::{admins_only, only, Api, Namespace, Page, Principal};
use crate::app::App;
use crate::domain::audit::Actor;
use crate::domain::directory::batch::{self, Batch, DirectoryEntity};
use crate::domain::oauth;
use crate::domain::service_accounts::APPLICATION_SCOPE;
use crate::error::{Error, Resource};
use crate::http::failure::{Failure, Result};
use crate::http::{Method, Request, Response};
use crate::store::records::ClientOwner;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// `/rest/admin/1.0` (and `/latest`, as every Atlassian REST plugin answers).
pub const NAMESPACE: Namespace = Namespace {
    prefix: &[&["rest"], &["admin"], &["1.0", "latest"]],
    shape: |_| Api::Crowd,
    authenticate,
    dispatch,
};

/// A page's size when the caller names none.
pub const DEFAULT_LIMIT: usize = 50;

/// Most ids one batch may carry: each is a write transaction of its own.
pub const MAX_BATCH: usize = 1000;

/// A bearer token must be live and carry the APPLICATION scope (as on usermanagement); any
/// other caller must be an administrator by Basic. No credentials at all is a 401 with the
/// Basic challenge, a valid non-admin user a 403.
fn authenticate(app: &App, req: &Request, rest: &[&str]) -> Result<Principal> {
    if let Some(token) = req.bearer_scheme() {
        // `Bearer` with no token is an invalid token too (RFC 6750 §3.1), not a missing one.
        let claims = oauth::validate(&oauth::Deps::of(app), token)?;
        if !claims.has_scope(APPLICATION_SCOPE) {
            return Err(Error::Forbidden("the token lacks the APPLICATION scope".into()).into());
        }
        // Only service accounts' tokens act here (Crowd 7.0 opens these to them). An incoming
        // application link's token acts as its application, within that application's
        // mappings, and only on usermanagement: here it would reach every directory.
        let client = app.store.oauth_client(&crate::crypto::uuid_text(&claims.client))?;
        if !client.is_some_and(|c| matches!(c.owner, ClientOwner::ServiceAccount { .. })) {
            return Err(Error::Forbidden(
                "an application link's token acts as its application on \
                 /rest/usermanagement/1 only; the admin API takes service accounts' tokens"
                    .into(),
            )
            .into());
        }
        return Ok(Principal::Bearer(claims));
    }
    admins_only(app, req, rest)
}

/// Who is acting: named for audit records (the admin, or the token's client id), and whether
/// it is an administrator, who alone may change `crowd-administrators`.
pub struct Acting {
    pub actor: Actor,
    pub admin: bool,
}

fn actor(who: &Principal, req: &Request) -> Result<Acting> {
    match who {
        Principal::Admin(actor) => Ok(Acting { actor: actor.clone(), admin: true }),
        Principal::Bearer(claims) => Ok(Acting {
            actor: Actor { name: claims.client_id_text(), remote: req.remote.clone() },
            admin: false,
        }),
        _ => Err(Error::Unauthenticated.into()),
    }
}

/// Routes below `/rest/admin/1.0/`; `rest` excludes that prefix.
fn dispatch(app: &App, req: &Request, who: &Principal, rest: &[&str]) -> Result<Response> {
    use Method::*;
    let actor = || actor(who, req);
    match (rest, req.method) {
        (["users", "search"], Post) => users::search(app, req),
        (["users", "search"], _) => Err(only(&["POST"])),
        (["users", id, "groups"], Post) => users::groups(app, req, &actor()?, id, true),
        (["users", id, "groups"], Delete) => users::groups(app, req, &actor()?, id, false),
        (["users", _, "groups"], _) => Err(only(&["POST", "DELETE"])),
        (["groups", "query"], Post) => groups::query(app, req),
        (["groups", "query"], _) => Err(only(&["POST"])),
        (["groups", id], Get | Head) => groups::get(app, id),
        (["groups", _], _) => Err(only(&["GET"])),
        (["groups", id, "users"], Get | Head) => groups::users(app, req, id),
        (["groups", id, "users"], Post) => groups::change_users(app, req, &actor()?, id, true),
        (["groups", id, "users"], Delete) => groups::change_users(app, req, &actor()?, id, false),
        (["groups", _, "users"], _) => Err(only(&["GET", "POST", "DELETE"])),
        (["group", "search", dir], Get | Head) => groups::search(app, req, dir),
        (["group", "search", _], _) => Err(only(&["GET"])),
        (["group", id, "groups"], Get | Head) => groups::children(app, req, id),
        (["group", id, "groups"], Post) => groups::add_children(app, req, &actor()?, id),
        (["group", _, "groups"], _) => Err(only(&["GET", "POST"])),
        (["directory", "detailed"], Get | Head) => directories::list(app, req),
        (["directory", "detailed"], Post) => directories::create(app, req, who),
        (["directory", "detailed"], _) => Err(only(&["GET", "POST"])),
        (["directory", "detailed", id], Get | Head) => directories::get(app, id),
        (["directory", "detailed", id], Put) => directories::update(app, req, id, who),
        (["directory", "detailed", _], _) => Err(only(&["GET", "PUT"])),
        (["directory", "detailed", id, "synchronize"], Post) => {
            directories::synchronize(app, req, id, who)
        }
        (["directory", "detailed", _, "synchronize"], _) => Err(only(&["POST"])),
        (["application-links", rest @ ..], _) => links::dispatch(app, req, who, rest),
        _ => Err(Failure::NoRoute),
    }
}

/// A `RestPage` from at most `limit + 1` values: the one past the page only says that
/// another page follows (crowd-rest-common `RestPage.fromListPlusOne`).
fn page<T>(mut values: Vec<T>, start: usize, limit: usize) -> Page<T> {
    let is_last_page = values.len() <= limit;
    values.truncate(limit);
    Page { start, limit, size: values.len(), is_last_page, values }
}

/// The page `[start, start + limit)` of `all`, mapped by `view` (which may drop an entry that
/// went away since `all` was read).
fn slice_page<N, T>(
    all: &[N],
    start: usize,
    limit: usize,
    view: impl FnMut(&N) -> Result<Option<T>>,
) -> Result<Page<T>> {
    let values: Vec<T> = all
        .iter()
        .skip(start)
        .take(limit)
        .map(view)
        .filter_map(Result::transpose)
        .collect::<Result<_>>()?;
    let is_last_page = start.saturating_add(limit) >= all.len();
    Ok(Page { start, limit, size: values.len(), is_last_page, values })
}

/// A body that may be left out: none (or only whitespace) is `T::default()`; one that is
/// there must be a JSON object of `T`'s shape.
fn optional_json<T: DeserializeOwned + Default>(req: &Request) -> Result<T> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    req.json()
}

/// A `true`/`false` query parameter; absent or empty is `None`.
fn optional_flag(req: &Request, name: &str) -> Result<Option<bool>> {
    match req.query_params()?.single(name)? {
        None | Some("") => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(v) => {
            Err(Error::bad_request(format!("{name} must be true or false, not '{v}'")).into())
        }
    }
}

/// The user or group a path id names; a malformed id names none, so it is `NotFound` too.
fn path_entity(id: &str, resource: Resource) -> crate::error::Result<DirectoryEntity> {
    ids::parse(id).ok_or_else(|| Error::NotFound(resource, id.to_string()))
}

/// A batch body: `{"ids":[…]}` (crowd-rest-common `UserIdentifiersEntityList`,
/// `GroupIdentifiersEntityList`).
#[derive(Deserialize)]
struct IdsBody {
    ids: Option<Vec<String>>,
}

/// Crowd's `BatchResultWithFailureReasonsRestDto`: the ids that succeeded, and for each that
/// failed, why (`FailedEntity`).
#[derive(Serialize)]
pub struct BatchResult {
    pub successes: Vec<String>,
    pub failures: Vec<Failed>,
}

#[derive(Serialize)]
pub struct Failed {
    pub entity: String,
    pub reason: &'static str,
}

/// Reads a batch body, runs `kind` for `fixed` over its ids and renders the outcome, 200.
///
/// Crowd reads the body's ids with `DirectoryEntityId.fromString` as Jackson parses it, so an
/// id that does not parse refuses the whole request (400) before anything changes. The
/// reason of a failed item is the Crowd error reason of what went wrong with it
/// (`GROUP_NOT_FOUND`, `MEMBERSHIP_ALREADY_EXISTS`, `INVALID_MEMBERSHIP`, …).
fn run_batch(
    app: &App,
    req: &Request,
    acting: &Acting,
    kind: Batch,
    fixed: &DirectoryEntity,
) -> Result<Response> {
    let body: IdsBody = req.json()?;
    let texts = body.ids.ok_or_else(|| Error::bad_request("ids is required"))?;
    if texts.len() > MAX_BATCH {
        return Err(Error::bad_request(format!("at most {MAX_BATCH} ids in one request")).into());
    }
    let items = texts
        .iter()
        .map(|t| {
            ids::parse(t).ok_or_else(|| {
                Error::bad_request(format!(
                    "'{t}' is not an entity id (directoryId-base64url(name))"
                ))
            })
        })
        .collect::<crate::error::Result<Vec<_>>>()?;
    let outcomes =
        batch::run(&app.directories(), &acting.actor, kind, fixed, &items, acting.admin)?;
    let mut result = BatchResult { successes: Vec::new(), failures: Vec::new() };
    for (item, outcome) in items.iter().zip(outcomes) {
        let entity = ids::encode(item.directory, &item.name);
        match outcome {
            Ok(()) => result.successes.push(entity),
            Err(e) => {
                result.failures.push(Failed { entity, reason: super::errors::crowd_parts(&e).1 })
            }
        }
    }
    Ok(Response::json(200, &result))
}
