//! `/scim/directory/{directoryId}`: SCIM 2.0 (RFC 7643, RFC 7644) for a `SCIM` directory, as
//! Atlassian's user-provisioning API answers it
//! (https://developer.atlassian.com/cloud/admin/user-provisioning/rest/intro/).
//!
//! Every call needs a bearer token with the `manage:directory` scope, of a client granted
//! the directory. Bodies are read as `application/scim+json` or `application/json` and
//! answered as `application/scim+json`.

use super::{Api, Namespace, Principal};
use crate::app::App;
use crate::error::Error;
use crate::http::failure::{Failure, Result};
use crate::http::{Request, Response};

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

fn authenticate(app: &App, req: &Request, rest: &[&str]) -> Result<Principal> {
    let _ = (app, req, rest);
    Err(Error::Unauthenticated.into())
}

fn dispatch(app: &App, req: &Request, who: &Principal, rest: &[&str]) -> Result<Response> {
    let _ = (app, req, who, rest);
    Err(Failure::NoRoute)
}
