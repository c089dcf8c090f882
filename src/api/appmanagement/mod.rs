//! `/rest/appmanagement/1`: Crowd's application management API, for administrators (Basic,
//! members of `crowd-administrators`), in JSON or XML by `Accept` and `Content-Type`.
//!
//! Crowd's resource (`ApplicationResource` in the appmanagement REST plugin, since Crowd 2.2;
//! https://developer.atlassian.com/server/crowd/crowd-rest-resources/) serves:
//!
//! - `GET /application[?name=N]`, `POST /application[?include-request-address=true]`;
//! - `GET`, `PUT`, `DELETE /application/{id}`;
//! - `GET`, `POST /application/{id}/remote_address`, `DELETE …/remote_address?address=A`.
//!
//! The entity's shape is in [`entity`]; one module per resource holds its handlers.

pub mod application;
pub mod entity;
pub mod remote_address;

use super::{admins_only, only, Api, Namespace, Principal};
use crate::app::App;
use crate::domain::applications::Deps;
use crate::error::Error;
use crate::http::failure::{Failure, Result};
use crate::http::{Method, Request, Response};

/// `/rest/appmanagement/1` (and `/latest`).
pub const NAMESPACE: Namespace = Namespace {
    prefix: &[&["rest"], &["appmanagement"], &["1", "latest"]],
    shape: |_| Api::Crowd,
    authenticate: admins_only,
    dispatch,
};

/// Routes below `/rest/appmanagement/1/`; `rest` excludes that prefix.
fn dispatch(app: &App, req: &Request, who: &Principal, rest: &[&str]) -> Result<Response> {
    use Method::*;
    let actor = who.admin()?;
    let d = Deps::of(app);
    let base = format!("{}{}/rest/appmanagement/1", app.base_url, req.context_path());
    match (rest, req.method) {
        (["application"], Get | Head) => application::list(&d, req),
        (["application"], Post) => application::create(&d, req, actor, &base),
        (["application"], _) => Err(only(&["GET", "POST"])),
        (["application", id], Get | Head) => application::get(&d, req, id),
        (["application", id], Put) => application::update(&d, req, actor, id),
        (["application", id], Delete) => application::delete(&d, actor, id),
        (["application", _], _) => Err(only(&["GET", "PUT", "DELETE"])),
        (["application", id, "remote_address"], Get | Head) => remote_address::list(&d, req, id),
        (["application", id, "remote_address"], Post) => {
            remote_address::add(&d, req, actor, id, &base)
        }
        (["application", id, "remote_address"], Delete) => {
            remote_address::remove(&d, req, actor, id)
        }
        (["application", _, "remote_address"], _) => Err(only(&["GET", "POST", "DELETE"])),
        _ => Err(Failure::NoRoute),
    }
}

/// A `true`/`false` query parameter; absent or empty is false.
fn flag(req: &Request, name: &str) -> Result<bool> {
    match req.query_params()?.single(name)? {
        None | Some("") => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => {
            Err(Error::bad_request(format!("{name} must be true or false, not '{v}'")).into())
        }
    }
}

/// The format the caller reads: JSON unless it asks for XML.
fn format(req: &Request) -> crate::http::body::Format {
    Api::Crowd.reply_format(req)
}
