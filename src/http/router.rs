//! Routing: which namespace a path belongs to (`api::NAMESPACES`, each with its own table),
//! and the one place a handler's error becomes a response in its API's own shape.
//!
//! Every path is served both at `/...` and under Crowd's default context path `/crowd/...`.

use super::body::Format;
use super::failure::Failure;
use super::request::{split_context, Request};
use super::response::Response;
use crate::api::{self, Api};
use crate::app::App;

/// More path segments than any route has; a deeper path is no route's.
const MAX_SEGMENTS: usize = 16;

/// A path's non-empty segments, without the context path, held on the stack (routing runs
/// on every request).
struct Segments<'p> {
    buf: [&'p str; MAX_SEGMENTS],
    len: usize,
    /// More than [`MAX_SEGMENTS`]: no namespace owns the path.
    too_deep: bool,
}

impl<'p> Segments<'p> {
    fn of(path: &'p str) -> Segments<'p> {
        let mut s = Segments { buf: [""; MAX_SEGMENTS], len: 0, too_deep: false };
        for seg in split_context(path).0.split('/').filter(|s| !s.is_empty()) {
            if s.len == MAX_SEGMENTS {
                s.too_deep = true;
                break;
            }
            s.buf[s.len] = seg;
            s.len += 1;
        }
        s
    }

    fn as_slice(&self) -> &[&'p str] {
        if self.too_deep {
            &[]
        } else {
            &self.buf[..self.len]
        }
    }
}

fn segments(path: &str) -> Vec<&str> {
    Segments::of(path).as_slice().to_vec()
}

pub fn route(app: &App, req: &Request) -> Response {
    let segments = Segments::of(&req.path);
    let found = if segments.too_deep { None } else { api::namespace_of(segments.as_slice()) };
    let (which, result) = match found {
        Some((ns, rest)) => (
            (ns.shape)(rest),
            (ns.authenticate)(app, req, rest).and_then(|who| (ns.dispatch)(app, req, &who, rest)),
        ),
        None => (Api::Crowd, Err(Failure::NoRoute)),
    };
    let response =
        result.unwrap_or_else(|e| api::errors::render(which, which.reply_format(req), &e));
    api::finish(which, response)
}

/// An error response for a request that never reached a handler (a panic).
pub fn render_error(req: &Request, err: &Failure) -> Response {
    let which = Api::of(&segments(&req.path));
    api::finish(which, api::errors::render(which, which.reply_format(req), err))
}

/// An error response for a path, in the shape of the API the path names: for requests the
/// front door refused, or whose path did not decode.
pub fn render_error_at(path: &str, err: &Failure) -> Response {
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
