//! The upstream APIs throng speaks, one module per namespace. Handlers are thin: parse,
//! authenticate, call the domain, render. Each namespace renders errors in its own shape
//! (`errors`), and `finish` adds the headers a namespace puts on every response.

pub mod admin;
pub mod appmanagement;
pub mod audit;
pub mod directorymanagement;
pub mod discovery;
pub mod errors;
pub mod oauth;
pub mod scim;
pub mod service_accounts;
pub mod status;
pub mod usermanagement;

use crate::app::App;
use crate::domain::audit::Actor;
use crate::error::Error;
use crate::http::body::Format;
use crate::http::failure::{Failure, Result};
use crate::http::{Request, Response};
use serde::Serialize;

/// Which upstream API a path belongs to; decides the error shape and common headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// Crowd REST APIs answering `{"reason","message"}`: service accounts, OAuth client
    /// management, audit, status.
    Crowd,
    /// OAuth 2.0 protocol endpoints (token, introspect, revoke): RFC 6749 §5.2 errors.
    OAuth,
    /// `/rest/usermanagement/1`: Crowd errors plus `X-Embedded-Crowd-Version` on everything.
    UserManagement,
    /// `/scim/directory/{id}`: SCIM 2.0, RFC 7644 §3.12 errors, `application/scim+json`.
    Scim,
}

/// One upstream API namespace: the path it owns, the error shape of each of its paths, and
/// its own routing table. `http::router` only picks the namespace; everything below the
/// prefix is the namespace's business.
pub struct Namespace {
    /// The prefix's segments, each with its accepted spellings (`["1", "latest"]`).
    pub prefix: &'static [&'static [&'static str]],
    /// The error shape for a path below the prefix (the segments after it).
    pub shape: fn(&[&str]) -> Api,
    /// Authenticates the caller once, before routing, into the principal handlers receive.
    pub authenticate: fn(&App, &Request, &[&str]) -> Result<Principal>,
    /// Routes a request below the prefix (the segments after it).
    pub dispatch: fn(&App, &Request, &Principal, &[&str]) -> Result<Response>,
}

/// Who is calling, authenticated once by the namespace before any of its handlers runs.
pub enum Principal {
    /// Open endpoints, and the OAuth protocol endpoints, whose client authentication is part of
    /// the protocol (credentials in the body or in Basic, throttled there).
    Anonymous,
    /// A Crowd administrator, by Basic, named for audit records.
    Admin(Actor),
    /// The claims of an OAuth 2.0 access token (usermanagement, as a service account calls it).
    Bearer(crate::domain::tokens::Claims),
    /// A Crowd application, by Basic with its name and password (usermanagement), with the
    /// directories it sees and the client address it was validated at.
    Application(crate::domain::applications::auth::AppPrincipal),
    /// A SCIM client: a `manage:directory` token of a client granted the directory.
    Scim(scim::ScimCaller),
}

impl Principal {
    /// The administrator, for handlers that need one.
    pub fn admin(&self) -> Result<&Actor> {
        match self {
            Principal::Admin(actor) => Ok(actor),
            _ => Err(Error::Unauthenticated.into()),
        }
    }
}

/// For namespaces whose every route is open (or authenticates in its protocol).
pub fn anyone(_: &App, _: &Request, _: &[&str]) -> Result<Principal> {
    Ok(Principal::Anonymous)
}

/// For namespaces whose every route is for administrators.
pub fn admins_only(app: &App, req: &Request, _: &[&str]) -> Result<Principal> {
    admin_actor(app, req).map(Principal::Admin)
}

/// Every namespace throng serves. A path that none claims is a Crowd-shaped 404.
pub const NAMESPACES: &[&Namespace] = &[
    &status::NAMESPACE,
    &service_accounts::NAMESPACE,
    &oauth::NAMESPACE,
    &oauth::ATLASSIAN_NAMESPACE,
    &audit::NAMESPACE,
    &usermanagement::NAMESPACE,
    &appmanagement::NAMESPACE,
    &admin::NAMESPACE,
    &directorymanagement::NAMESPACE,
    &discovery::NAMESPACE,
    &scim::NAMESPACE,
];

/// The namespace that owns `segs`, with the segments below its prefix.
pub fn namespace_of<'s, 'p>(segs: &'s [&'p str]) -> Option<(&'static Namespace, &'s [&'p str])> {
    NAMESPACES.iter().find_map(|ns| {
        let n = ns.prefix.len();
        let owned = segs.len() >= n
            && ns.prefix.iter().zip(segs).all(|(spellings, seg)| spellings.contains(seg));
        owned.then(|| (*ns, &segs[n..]))
    })
}

impl Api {
    /// The format this API answers `req` in. usermanagement speaks JSON and XML and, like
    /// JAX-RS over Crowd's `@Produces({XML, JSON})`, answers XML when the caller names neither;
    /// the other Crowd APIs answer JSON unless XML is asked for; OAuth is JSON only.
    pub fn reply_format(self, req: &Request) -> Format {
        match self {
            Api::UserManagement => req.reply_format(Format::Xml),
            Api::Crowd => req.reply_format(Format::Json),
            Api::OAuth | Api::Scim => Format::Json,
        }
    }

    /// The error shape of a path (its segments, without the context path).
    pub fn of(segs: &[&str]) -> Api {
        namespace_of(segs).map_or(Api::Crowd, |(ns, rest)| (ns.shape)(rest))
    }
}

/// The error for a method a route does not take.
pub fn only(allowed: &'static [&'static str]) -> Failure {
    Failure::Method(allowed.to_vec())
}

/// What Crowd 7.0 reports as its version; Atlassian's REST client refuses responses
/// without `X-Embedded-Crowd-Version` (RestExecutor.isCrowdRestService).
pub const CROWD_VERSION: &str = "Crowd/7.0.0";

pub fn finish(which: Api, response: Response) -> Response {
    match which {
        Api::UserManagement => response.header("X-Embedded-Crowd-Version", CROWD_VERSION),
        _ => response,
    }
}

/// Authenticates an admin by Basic and names them for audit records.
fn admin_actor(app: &App, req: &Request) -> Result<Actor> {
    let basic = req.basic();
    let basic = basic.as_ref().map(|b| b.pair());
    let deps = crate::domain::admin::Deps::of(app);
    let name = crate::domain::admin::authenticate(&deps, basic, &req.remote)?;
    Ok(Actor { name, remote: req.remote.clone() })
}

/// Atlassian's paged collection: `{"start","limit","size","isLastPage","values"}`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub start: usize,
    pub limit: usize,
    pub size: usize,
    pub is_last_page: bool,
    pub values: Vec<T>,
}

/// The largest page any listing returns, whatever `limit` asks for.
pub const MAX_PAGE: usize = 1000;

/// Reads `start` (default 0, not negative) and `limit` (default `default_limit`, at least 1,
/// capped at [`MAX_PAGE`]) from the query.
pub fn paging(req: &Request, default_limit: usize) -> Result<(usize, usize)> {
    let q = req.query_params()?;
    let number = |name: &str, default: i64| -> Result<i64> {
        match q.single(name)? {
            None | Some("") => Ok(default),
            Some(v) => v.parse::<i64>().map_err(|_| {
                Error::bad_request(format!("{name} must be a whole number, not '{v}'")).into()
            }),
        }
    };
    let start = number("start", 0)?;
    if start < 0 {
        return Err(Error::bad_request("start must not be negative").into());
    }
    let limit = number("limit", default_limit as i64)?;
    if limit < 1 {
        return Err(Error::bad_request("limit must be at least 1").into());
    }
    Ok((start as usize, (limit as usize).min(MAX_PAGE)))
}
