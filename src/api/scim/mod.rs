//! `/scim/directory/{directoryId}`: SCIM 2.0 (RFC 7643, RFC 7644) for a `SCIM` directory, as
//! Atlassian's user-provisioning API answers it
//! (https://developer.atlassian.com/cloud/admin/user-provisioning/rest/intro/).
//!
//! Every call needs a bearer token with the `manage:directory` scope, of a client granted
//! the directory (RFC 6750: 401 without a live token, 403 without the scope or the grant,
//! each with its `WWW-Authenticate` challenge). Bodies are read as `application/scim+json`
//! or `application/json` and answered as `application/scim+json`.

mod handlers;
pub mod render;

use super::{only, Api, Namespace, Principal};
use crate::app::App;
use crate::domain::oauth;
use crate::domain::service_accounts::MANAGE_DIRECTORY_SCOPE;
use crate::error::{Error, Resource};
use crate::http::failure::{Failure, Result};
use crate::http::{Method, Request, Response};

/// A `SCIM` directory's base URL, as its identity provider is told it.
pub fn base_url(server: &str, dir: u64) -> String {
    format!("{server}/scim/directory/{dir}")
}

/// `/scim/directory`.
pub const NAMESPACE: Namespace = Namespace {
    prefix: &[&["scim"], &["directory"]],
    shape: |_| Api::Scim,
    authenticate,
    dispatch,
};

/// The caller: a token of a client granted directory `dir`.
pub struct ScimCaller {
    pub dir: u64,
}

fn authenticate(app: &App, req: &Request, rest: &[&str]) -> Result<Principal> {
    let token = req.bearer().filter(|t| !t.is_empty()).ok_or(Error::Unauthenticated)?;
    let claims = oauth::validate(&oauth::Deps::of(app), token)?;
    if !claims.has_scope(MANAGE_DIRECTORY_SCOPE) {
        return Err(Error::Forbidden("the token lacks the manage:directory scope".into()).into());
    }
    let dir = rest.first().and_then(|d| d.parse::<u64>().ok());
    let granted = app
        .clients
        .client(&claims.client)
        .is_some_and(|c| dir.is_some_and(|d| c.scim_directories.contains(&d)));
    match dir {
        Some(dir) if granted => Ok(Principal::Scim(ScimCaller { dir })),
        _ => Err(Error::Forbidden(format!(
            "this client is not granted directory {}",
            rest.first().unwrap_or(&"")
        ))
        .into()),
    }
}

fn dispatch(app: &App, req: &Request, who: &Principal, rest: &[&str]) -> Result<Response> {
    use Method::*;
    let Principal::Scim(caller) = who else {
        return Err(Error::Unauthenticated.into());
    };
    let dir = app
        .store
        .directory(caller.dir)?
        .filter(|d| d.scim.is_some())
        .ok_or_else(|| Error::NotFound(Resource::Directory, caller.dir.to_string()))?;
    let ctx = handlers::Ctx::new(app, req, &dir);
    let read = |r: Result<Response>| match req.method {
        Head => r.map(|mut r| {
            r.body.clear();
            r
        }),
        _ => r,
    };
    match (&rest[1..], req.method) {
        (["ServiceProviderConfig"], Get | Head) => read(Ok(ctx.service_provider_config())),
        (["ServiceProviderConfig"], _) => Err(only(&["GET"])),
        (["Schemas"], Get | Head) => read(Ok(ctx.schemas())),
        (["Schemas", urn], Get | Head) => read(ctx.schema(urn)),
        (["Schemas", ..], _) => Err(only(&["GET"])),
        (["ResourceTypes"], Get | Head) => read(Ok(ctx.resource_types())),
        (["ResourceTypes", id], Get | Head) => read(ctx.resource_type(id)),
        (["ResourceTypes", ..], _) => Err(only(&["GET"])),
        ([".search"] | ["Users" | "Groups", ".search"], Post) => Err(handlers::not_supported(
            "searching with POST /.search is not supported; use GET with filter",
        )),
        (["Bulk"], _) => Err(handlers::not_supported("bulk operations are not supported")),
        (["Me"], _) => Err(handlers::not_supported("/Me is not supported: the caller is a client")),
        (["Users"], Get | Head) => read(ctx.list_users()),
        (["Users"], Post) => ctx.create_user(),
        (["Users"], _) => Err(only(&["GET", "POST"])),
        (["Users", id], Get | Head) => read(ctx.get_user(id)),
        (["Users", id], Put) => ctx.replace_user(id),
        (["Users", id], Patch) => ctx.patch_user(id),
        (["Users", id], Delete) => ctx.delete_user(id),
        (["Users", _], _) => Err(only(&["GET", "PUT", "PATCH", "DELETE"])),
        (["Groups"], Get | Head) => read(ctx.list_groups()),
        (["Groups"], Post) => ctx.create_group(),
        (["Groups"], _) => Err(only(&["GET", "POST"])),
        (["Groups", id], Get | Head) => read(ctx.get_group(id)),
        (["Groups", id], Put) => ctx.replace_group(id),
        (["Groups", id], Patch) => ctx.patch_group(id),
        (["Groups", id], Delete) => ctx.delete_group(id),
        (["Groups", _], _) => Err(only(&["GET", "PUT", "PATCH", "DELETE"])),
        _ => Err(Failure::NoRoute),
    }
}
