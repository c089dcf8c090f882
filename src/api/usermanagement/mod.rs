//! `/rest/usermanagement/1`: Crowd's directory API, as Jira's directory sync, python-crowd
//! and the npm client call it. One module per resource; this one authenticates the caller
//! before routing, as Crowd does.
//!
//! Callers authenticate with an OAuth 2.0 bearer token (Crowd 7.0 service accounts and
//! application links). Application Basic credentials arrive with the applications issue; until
//! then every Basic caller gets Crowd's 401, because no application can exist to match it.

pub mod user;

use super::{Api, Namespace, Principal};
use crate::app::App;
use crate::domain::applications::{self, Deps};
use crate::domain::oauth;
use crate::domain::service_accounts::APPLICATION_SCOPE;
use crate::error::{Error, Result};
use crate::http::{Method, Request, Response};

/// Authenticates the caller before routing, as Crowd does: a bad credential is 401 even on a
/// path that does not exist (python-crowd's auth_ping relies on it). Callers are applications
/// by Basic with their name and password, validated by address as Crowd does
/// (`domain::applications::auth`), and service accounts with a bearer token carrying the
/// APPLICATION scope. No credentials at all is Crowd's 401 `Application failed to authenticate`.
fn authenticate(app: &App, req: &Request, _: &[&str]) -> Result<Principal> {
    if req.has_auth_scheme("bearer") {
        // `Bearer` with no token is an invalid token too (RFC 6750 §3.1), not a missing one.
        let claims = oauth::validate(app, req.bearer().unwrap_or(""))?;
        if !claims.has_scope(APPLICATION_SCOPE) {
            return Err(Error::Forbidden("the token lacks the APPLICATION scope".into()));
        }
        return Ok(Principal::Bearer(claims));
    }
    let basic = req.basic();
    let basic = basic.as_ref().map(|(name, password)| (name.as_str(), password.as_str()));
    let forwarded_for = req.header_values("X-Forwarded-For").collect();
    applications::auth::authenticate(&Deps::of(app), basic, &req.remote, forwarded_for)
        .map(Principal::Application)
}

/// `/rest/usermanagement/1` (and `/latest`): everything answers in Crowd's shape with the
/// embedded-Crowd version header.
pub const NAMESPACE: Namespace = Namespace {
    prefix: &[&["rest"], &["usermanagement"], &["1", "latest"]],
    shape: |_| Api::UserManagement,
    authenticate,
    dispatch,
};

/// Routes below `/rest/usermanagement/1/`; `segs` excludes that prefix.
fn dispatch(app: &App, req: &Request, _: &Principal, segs: &[&str]) -> Result<Response> {
    // A legacy `.json` suffix (`/user.json`) asks for JSON (crowd4s, older clients).
    let first = segs.first().map(|s| s.strip_suffix(".json").unwrap_or(s));
    match (first, segs.len(), req.method) {
        (Some("user"), 1, Method::Get | Method::Head) => user::get(app, req),
        (Some("user"), 1, _) => Err(Error::MethodNotAllowed(&["GET"])),
        _ => Err(Error::RouteNotFound),
    }
}

/// The base of usermanagement links: the server's URL with the context path the caller used.
pub fn rest_base(app: &App, req: &Request) -> String {
    format!("{}{}/rest/usermanagement/1", app.base_url, req.context_path())
}
