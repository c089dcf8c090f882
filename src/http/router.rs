//! Routing: which namespace a path belongs to (`api::NAMESPACES`, each with its own table),
//! and the one place a handler's error becomes a response in its API's own shape.
//!
//! Every path is served both at `/...` and under Crowd's default context path `/crowd/...`.

use super::body::Format;
use super::request::{split_context, Request};
use super::response::Response;
use crate::api::{self, Api};
use crate::app::App;
use crate::error::Error;

fn segments(path: &str) -> Vec<&str> {
    split_context(path).0.split('/').filter(|s| !s.is_empty()).collect()
}

pub fn route(app: &App, req: &Request) -> Response {
    let segs = segments(&req.path);
    let (which, result) = match api::namespace_of(&segs) {
        Some((ns, rest)) => (
            (ns.shape)(rest),
            (ns.authenticate)(app, req, rest).and_then(|who| (ns.dispatch)(app, req, &who, rest)),
        ),
        None => (Api::Crowd, Err(Error::RouteNotFound)),
    };
    let response =
        result.unwrap_or_else(|e| api::errors::render(which, which.reply_format(req), &e));
    api::finish(which, response)
}

/// An error response for a request that never reached a handler (a panic).
pub fn render_error(req: &Request, err: &Error) -> Response {
    let which = Api::of(&segments(&req.path));
    api::finish(which, api::errors::render(which, which.reply_format(req), err))
}

/// An error response for a path, in the shape of the API the path names: for requests the
/// front door refused, or whose path did not decode.
pub fn render_error_at(path: &str, err: &Error) -> Response {
    let which = Api::of(&segments(path));
    api::finish(which, api::errors::render(which, Format::Json, err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_path_has_one_namespace_and_shape() {
        let shape = |p: &str| Api::of(&segments(p));
        assert_eq!(shape("/rest/oauth2/latest/token"), Api::OAuth);
        assert_eq!(shape("/crowd/rest/oauth2/latest/revoke"), Api::OAuth);
        assert_eq!(shape("/rest/oauth2/latest/client/x"), Api::Crowd);
        assert_eq!(shape("/rest/usermanagement/latest/user"), Api::UserManagement);
        assert_eq!(shape("/rest/usermanagement/2/user"), Api::Crowd);
        assert_eq!(shape("/nowhere"), Api::Crowd);
        assert!(api::namespace_of(&segments("/status")).is_some());
        assert!(api::namespace_of(&segments("/rest/audit")).is_none());
    }

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
