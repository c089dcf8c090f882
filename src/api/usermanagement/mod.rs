//! `/rest/usermanagement/1`: Crowd's directory API, as Jira's directory sync, python-crowd
//! and the npm client call it. One module per resource, one routing table ([`ROUTES`]) for
//! all of them; the caller is authenticated before routing, as Crowd does.
//!
//! Every answer is JSON or XML, as the caller's `Accept` asks (XML when it names neither, as
//! JAX-RS does over Crowd's `@Produces({XML, JSON})`), and carries
//! `X-Embedded-Crowd-Version` (added by `api::finish`).

pub mod entities;
pub mod events;
pub mod groups;
pub mod memberships;
pub mod search;
pub mod session;
pub mod user;

use super::{Api, Namespace, Principal};
use crate::app::App;
use crate::domain::access::{Access, Caller};
use crate::domain::applications::{self, Deps};
use crate::domain::oauth;
use crate::domain::service_accounts::APPLICATION_SCOPE;
use crate::error::Error;
use crate::http::body::{Format, Obj, Parsed};
use crate::http::failure::{Failure, Result};
use crate::http::request::Params;
use crate::http::{Method, Request, Response};
use entities::Links;
use std::sync::Arc;

/// Authenticates the caller before routing, as Crowd does: a bad credential is 401 even on a
/// path that does not exist (python-crowd's auth_ping relies on it). Callers are applications
/// by Basic with their name and password, validated by address as Crowd does
/// (`domain::applications::auth`), and OAuth 2.0 clients with a bearer token carrying the
/// APPLICATION scope: an incoming application link's client acts as the application that
/// takes the link as its authentication method (same mappings and address rules, Crowd 7.0's
/// directory sync over OAuth 2.0); a service account's reads as itself. No credentials at
/// all is Crowd's 401 `Application failed to authenticate`.
fn authenticate(app: &App, req: &Request, _: &[&str]) -> Result<Principal> {
    let forwarded_for: Vec<&str> = req.header_values("X-Forwarded-For").collect();
    if let Some(token) = req.bearer_scheme() {
        // `Bearer` with no token is an invalid token too (RFC 6750 §3.1), not a missing one.
        let claims = oauth::validate(&oauth::Deps::of(app), token)?;
        if !claims.has_scope(APPLICATION_SCOPE) {
            return Err(Error::Forbidden("the token lacks the APPLICATION scope".into()).into());
        }
        let d = Deps::of(app);
        return Ok(
            match applications::auth::by_link_token(
                &d,
                &claims.client,
                &req.remote,
                &forwarded_for,
            )? {
                Some(application) => Principal::Application(application),
                None => Principal::Bearer(claims),
            },
        );
    }
    let basic = req.basic();
    let basic = basic.as_ref().map(|b| b.pair());
    Ok(applications::auth::authenticate(&Deps::of(app), basic, &req.remote, forwarded_for)
        .map(Principal::Application)?)
}

/// `/rest/usermanagement/1` (and `/latest`): everything answers in Crowd's shape with the
/// embedded-Crowd version header.
pub const NAMESPACE: Namespace = Namespace {
    prefix: &[&["rest"], &["usermanagement"], &["1", "latest"]],
    shape: |_| Api::UserManagement,
    authenticate,
    dispatch,
};

/// Everything a handler gets: the app, the request with its parsed query, the caller's view
/// of the directories, and how to answer.
pub struct Call<'a> {
    pub app: &'a App,
    pub req: &'a Request,
    pub query: Params<'a>,
    pub access: Arc<Access>,
    pub format: Format,
    pub links: Links<'a>,
    /// The variable path segment of routes that have one (`/session/{token}`).
    pub arg: Option<&'a str>,
}

impl Call<'_> {
    /// A query parameter; repeated is an error.
    pub fn param(&self, name: &str) -> Result<Option<&str>> {
        Ok(self.query.single(name)?)
    }

    /// A required, non-empty query parameter, with Crowd's wording when it is missing.
    pub fn required(&self, name: &str) -> Result<&str> {
        self.param(name)?
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Error::bad_request(format!("{name} query parameter required.")).into())
    }

    /// The request body as a JSON or XML entity.
    pub fn body(&self) -> Result<Parsed> {
        self.req.entity()
    }

    /// An entity in the caller's format.
    pub fn reply(&self, status: u16, root: &str, entity: &Obj) -> Response {
        Response::entity(status, self.format, root, entity)
    }

    /// `201 Created` with a Location and an empty body that still says its type: the npm
    /// client refuses a 201 without `Content-Type: application/json` (atlassian-crowd-client
    /// lib/api.js).
    pub fn created(&self, location: String) -> Response {
        Response::new(201)
            .header("Content-Type", self.format.content_type())
            .header("Location", location)
    }

    /// `start-index` (default 0) and `max-results` (default 1000, Crowd's
    /// DEFAULT_SEARCH_RESULT_SIZE; -1 means all, EntityQuery.ALL_RESULTS, which the directory
    /// sync client sends).
    pub fn paging(&self) -> Result<(usize, Option<usize>)> {
        let number = |name: &str, default: i64| -> Result<i64> {
            match self.param(name)? {
                None | Some("") => Ok(default),
                Some(v) => v.trim().parse::<i64>().map_err(|_| {
                    Error::bad_request(format!("{name} must be a whole number, not '{v}'")).into()
                }),
            }
        };
        let start = number("start-index", 0)?;
        if start < 0 {
            return Err(Error::bad_request("start-index must not be negative").into());
        }
        let max = number("max-results", 1000)?;
        let max = match max {
            -1 => None,
            m if m < 0 => {
                return Err(Error::bad_request("max-results must be -1 (all) or more").into())
            }
            m => Some(m as usize),
        };
        Ok((start as usize, max))
    }
}

/// A handler.
type Handler = fn(&Call) -> Result<Response>;

/// One path: its segments (`*` stands for one variable segment) and its handler per method.
struct Route {
    path: &'static [&'static str],
    methods: &'static [(Method, Handler)],
}

macro_rules! routes {
    ($($path:expr => [$($method:ident: $handler:expr),* $(,)?]),* $(,)?) => {
        &[$(Route { path: $path, methods: &[$((Method::$method, $handler)),*] }),*]
    };
}

/// Every usermanagement route (crowd-rest-plugin's UsersResource, GroupsResource,
/// SearchResource, TokenResource, CookieConfigResource, EventsResource).
const ROUTES: &[Route] = routes![
    &["user"] => [Get: user::get, Post: user::create, Put: user::update, Delete: user::delete],
    &["user", "rename"] => [Post: user::rename],
    &["user", "password"] => [Put: user::set_password, Delete: user::clear_password],
    &["user", "attribute"] => [Get: user::get_attributes, Post: user::store_attributes, Delete: user::delete_attribute],
    &["user", "group", "direct"] => [Get: memberships::user_groups_direct, Post: memberships::add_user_to_group, Delete: memberships::remove_user_from_group],
    &["user", "group", "nested"] => [Get: memberships::user_groups_nested],
    &["group"] => [Get: groups::get, Post: groups::create, Put: groups::update, Delete: groups::delete],
    &["group", "attribute"] => [Get: groups::get_attributes, Post: groups::store_attributes, Delete: groups::delete_attribute],
    &["group", "user", "direct"] => [Get: memberships::group_users_direct, Post: memberships::add_group_user, Delete: memberships::remove_group_user],
    &["group", "user", "nested"] => [Get: memberships::group_users_nested],
    &["group", "child-group", "direct"] => [Get: memberships::children_direct, Post: memberships::add_child, Delete: memberships::remove_child],
    &["group", "child-group", "nested"] => [Get: memberships::children_nested],
    &["group", "parent-group", "direct"] => [Get: memberships::parents_direct, Post: memberships::add_parent],
    &["group", "parent-group", "nested"] => [Get: memberships::parents_nested],
    &["group", "membership"] => [Get: memberships::all],
    &["authentication"] => [Post: session::authenticate],
    &["authentication", "notify"] => [Post: session::notify],
    &["session"] => [Post: session::create, Delete: session::delete_for_user],
    &["session", "*"] => [Get: session::get, Post: session::validate, Delete: session::delete],
    &["config", "cookie"] => [Get: session::cookie_config],
    &["search"] => [Get: search::search, Post: search::search],
    &["event"] => [Get: events::current],
    &["event", "*"] => [Get: events::since],
    &["user", "mail", "password"] => [Post: user::mail_password],
    &["user", "expire-all-passwords"] => [Post: user::expire_all_passwords],
    &["user", "mail", "usernames"] => [Post: user::mail_usernames],
];

/// Whether `segs` is the route `pattern`; a legacy `.json` suffix on the last segment
/// (`/user.json`, as crowd4s calls Crowd) is ignored here and asks for JSON in `reply_format`.
fn matches(pattern: &[&str], segs: &[&str]) -> bool {
    let last = segs.len().wrapping_sub(1);
    pattern.len() == segs.len()
        && pattern.iter().zip(segs).enumerate().all(|(i, (p, s))| {
            let s = if i == last { s.strip_suffix(".json").unwrap_or(s) } else { s };
            *p == "*" || *p == s
        })
}

/// Routes below `/rest/usermanagement/1/`; `segs` excludes that prefix.
fn dispatch(app: &App, req: &Request, who: &Principal, segs: &[&str]) -> Result<Response> {
    let route = ROUTES.iter().find(|r| matches(r.path, segs)).ok_or(Failure::NoRoute)?;
    let method = match req.method {
        Method::Head => Method::Get,
        m => m,
    };
    let Some((_, handler)) = route.methods.iter().find(|(m, _)| *m == method) else {
        return Err(Failure::Method(route.methods.iter().map(|(m, _)| m.as_str()).collect()));
    };
    let access = match who {
        Principal::Application(a) => app.views.view(&app.store, Caller::Application(a))?,
        Principal::Bearer(claims) => {
            app.views.view(&app.store, Caller::Reader(claims.client_id))?
        }
        _ => return Err(Error::Unauthenticated.into()),
    };
    let last = segs.len().saturating_sub(1);
    let arg = route.path.iter().position(|p| *p == "*").map(|i| {
        if i == last {
            segs[i].strip_suffix(".json").unwrap_or(segs[i])
        } else {
            segs[i]
        }
    });
    let links = Links {
        base: app.usermanagement_base(req.context_path()),
        lowercase: access.lowercase_output,
    };
    let call = Call {
        app,
        req,
        query: req.query_params()?,
        access,
        format: Api::UserManagement.reply_format(req),
        links,
        arg,
    };
    handler(&call)
}
