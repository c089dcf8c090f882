//! The routing table: one match from (method, path) to a handler, and the one place a
//! handler's error becomes a response in its API's own shape.
//!
//! Every path is served both at `/...` and under Crowd's default context path `/crowd/...`.

use super::request::{Method, Request};
use super::response::Response;
use crate::api::{self, audit, oauth, service_accounts, status, usermanagement, Api};
use crate::app::App;
use crate::error::{Error, Result};

/// Crowd's default context path; clients configured with `http://host:8095/crowd` use it.
pub const CONTEXT_PATH: &str = "/crowd";

/// The path with the context path removed, and the context path that was used.
pub fn split_context(path: &str) -> (&str, &'static str) {
    match path.strip_prefix(CONTEXT_PATH) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => (rest, CONTEXT_PATH),
        _ => (path, ""),
    }
}

fn segments(path: &str) -> Vec<&str> {
    split_context(path).0.split('/').filter(|s| !s.is_empty()).collect()
}

pub fn route(app: &App, req: &Request) -> Response {
    let segs = segments(&req.path);
    let which = Api::of(&segs);
    let response =
        dispatch(app, req, which, &segs).unwrap_or_else(|e| api::errors::render(which, &e));
    api::finish(which, response)
}

/// An error response for a request that never reached a handler (a panic).
pub fn render_error(req: &Request, err: &Error) -> Response {
    render_error_at(&req.path, err)
}

/// An error response for a path, in the shape of the API the path names: for requests the
/// front door refused, or whose path did not decode.
pub fn render_error_at(path: &str, err: &Error) -> Response {
    let which = Api::of(&segments(path));
    api::finish(which, api::errors::render(which, err))
}

fn only(allowed: &'static [&'static str]) -> Error {
    Error::MethodNotAllowed(allowed)
}

fn dispatch(app: &App, req: &Request, which: Api, segs: &[&str]) -> Result<Response> {
    use Method::*;
    let m = req.method;
    if which == Api::UserManagement {
        // Crowd authenticates the application before routing: a bad credential is 401 even on
        // a path that does not exist (python-crowd's auth_ping relies on it).
        return usermanagement::dispatch(app, req, &segs[3..]);
    }
    match segs {
        ["status"] => match m {
            Get | Head => status::get(app),
            _ => Err(only(&["GET"])),
        },
        ["rest", "service-accounts", "latest", "service-accounts"] => match m {
            Get | Head => service_accounts::search(app, req),
            Post => service_accounts::create(app, req),
            _ => Err(only(&["GET", "POST"])),
        },
        ["rest", "service-accounts", "latest", "service-accounts", id] => match m {
            Get | Head => service_accounts::get(app, req, id),
            Put => service_accounts::update(app, req, id),
            Delete => service_accounts::archive(app, req, id),
            _ => Err(only(&["GET", "PUT", "DELETE"])),
        },
        ["rest", "oauth2", "latest", "token"] => match m {
            Post => oauth::token(app, req),
            _ => Err(only(&["POST"])),
        },
        ["rest", "oauth2", "latest", "introspect"] => match m {
            Post => oauth::introspect(app, req),
            _ => Err(only(&["POST"])),
        },
        ["rest", "oauth2", "latest", "revoke"] => match m {
            Post => oauth::revoke(app, req),
            _ => Err(only(&["POST"])),
        },
        ["rest", "oauth2", "latest", "rotate", client_id] => match m {
            Post => oauth::rotate(app, req, client_id),
            _ => Err(only(&["POST"])),
        },
        ["rest", "oauth2", "latest", "client", id] => match m {
            Get | Head => oauth::client(app, req, id),
            _ => Err(only(&["GET"])),
        },
        ["rest", "audit", "1.0", "events"] => match m {
            Get | Head => audit::events(app, req),
            _ => Err(only(&["GET"])),
        },
        _ => Err(Error::RouteNotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_path_is_optional() {
        assert_eq!(split_context("/crowd/rest/x"), ("/rest/x", "/crowd"));
        assert_eq!(split_context("/rest/x"), ("/rest/x", ""));
        assert_eq!(split_context("/crowdsource"), ("/crowdsource", ""));
        assert_eq!(
            segments("/crowd/rest/service-accounts/latest/service-accounts/"),
            ["rest", "service-accounts", "latest", "service-accounts"]
        );
    }
}
