//! The one place an [`Error`] becomes a response, in the shape of the API it happened in.
//!
//! - Crowd: `{"reason","message"}` with Crowd's reason codes (crowd-rest-common ErrorEntity;
//!   `spec/crowd-rest.md` §2.10).
//! - usermanagement: the same, except that a failed application authentication is Crowd's
//!   plain-text 401 `Application failed to authenticate` (BasicAuthenticationHelper), which
//!   dex compares byte for byte.
//! - OAuth: RFC 6749 §5.2 `{"error","error_description"}`; `invalid_client` is 401 with a
//!   `WWW-Authenticate` challenge.
//!
//! Internal errors are logged with their cause and answered with a generic message.

use super::Api;
use crate::error::{Error, OAuthCode, Resource};
use crate::http::Response;
use serde_json::json;

const BASIC_CHALLENGE: &str = "Basic realm=\"Crowd\"";
const BEARER_INVALID: &str = "Bearer error=\"invalid_token\"";

pub fn render(which: Api, err: &Error) -> Response {
    if let Error::Internal(cause) = err {
        log::error!("{cause}");
    }
    match which {
        Api::OAuth => oauth(err),
        Api::UserManagement => match err {
            Error::Unauthenticated => Response::text(401, "Application failed to authenticate")
                .header("WWW-Authenticate", "BASIC realm=\"Crowd\""),
            _ => crowd(err),
        },
        Api::Crowd => crowd(err),
    }
}

fn crowd_body(status: u16, reason: &str, message: &str) -> Response {
    Response::json(status, &json!({ "reason": reason, "message": message }))
}

fn not_found_reason(r: Resource) -> &'static str {
    match r {
        Resource::User => "USER_NOT_FOUND",
        Resource::Group => "GROUP_NOT_FOUND",
        Resource::ServiceAccount => "SERVICE_ACCOUNT_NOT_FOUND",
        Resource::OAuthClient => "OAUTH_CLIENT_NOT_FOUND",
    }
}

fn not_found_message(r: Resource, id: &str) -> String {
    match r {
        Resource::User => format!("User <{id}> does not exist"),
        Resource::Group => format!("Group <{id}> does not exist"),
        Resource::ServiceAccount => format!("Service account <{id}> does not exist"),
        Resource::OAuthClient => format!("OAuth 2.0 client <{id}> does not exist"),
    }
}

fn crowd(err: &Error) -> Response {
    match err {
        Error::BadRequest(m) => crowd_body(400, "ILLEGAL_ARGUMENT", m),
        Error::UnsupportedMediaType(m) => crowd_body(415, "ILLEGAL_ARGUMENT", m),
        Error::NotFound(r, id) => crowd_body(404, not_found_reason(*r), &not_found_message(*r, id)),
        Error::RouteNotFound => crowd_body(404, "NOT_FOUND", "No such resource"),
        Error::MethodNotAllowed(allowed) => {
            crowd_body(405, "UNSUPPORTED_OPERATION", "Method not allowed")
                .header("Allow", allowed.join(", "))
        }
        Error::Unauthenticated => crowd_body(
            401,
            "PERMISSION_DENIED",
            "Authentication required: send the credentials of a Crowd administrator",
        )
        .header("WWW-Authenticate", BASIC_CHALLENGE),
        Error::Forbidden(m) => crowd_body(403, "PERMISSION_DENIED", m),
        Error::InvalidToken => {
            crowd_body(401, "PERMISSION_DENIED", "The access token is invalid, expired or revoked")
                .header("WWW-Authenticate", BEARER_INVALID)
        }
        Error::OAuth { description, .. } => crowd_body(400, "ILLEGAL_ARGUMENT", description),
        // Crowd has no reason for these; Atlassian's client maps any reason it does not know
        // to OperationFailedException (RestExecutor.throwError), so OPERATION_FAILED it is.
        Error::TooManyRequests { retry_after_secs } => {
            crowd_body(429, "OPERATION_FAILED", &err.to_string())
                .header("Retry-After", retry_after_secs.to_string())
        }
        Error::Unavailable { retry_after_secs, message } => {
            crowd_body(503, "OPERATION_FAILED", message)
                .header("Retry-After", retry_after_secs.to_string())
        }
        Error::Protocol { status, message } => crowd_body(
            *status,
            if *status < 500 { "ILLEGAL_ARGUMENT" } else { "OPERATION_FAILED" },
            message,
        ),
        Error::Internal(_) | Error::Startup(_) => {
            crowd_body(500, "OPERATION_FAILED", "Internal server error")
        }
    }
}

fn oauth_body(status: u16, code: &str, description: &str) -> Response {
    Response::json(status, &json!({ "error": code, "error_description": description })).no_store()
}

fn oauth(err: &Error) -> Response {
    match err {
        Error::OAuth { code: OAuthCode::InvalidClient, description } => {
            // RFC 6749 §5.2: 401 with a challenge when the client used Basic. A 401 must carry
            // some challenge (RFC 9110 §15.5.2), so Basic is offered to form clients too.
            oauth_body(401, OAuthCode::InvalidClient.as_str(), description)
                .header("WWW-Authenticate", "Basic realm=\"oauth2\"")
        }
        Error::OAuth { code, description } => oauth_body(400, code.as_str(), description),
        Error::BadRequest(m) | Error::UnsupportedMediaType(m) => {
            oauth_body(400, "invalid_request", m)
        }
        Error::Unauthenticated | Error::Forbidden(_) => {
            oauth_body(401, "invalid_client", "client authentication failed")
                .header("WWW-Authenticate", "Basic realm=\"oauth2\"")
        }
        Error::MethodNotAllowed(allowed) => {
            oauth_body(405, "invalid_request", "this endpoint accepts POST only")
                .header("Allow", allowed.join(", "))
        }
        Error::NotFound(..) | Error::RouteNotFound => {
            oauth_body(404, "invalid_request", "no such endpoint")
        }
        Error::InvalidToken => {
            oauth_body(401, "invalid_token", "The access token is invalid, expired or revoked")
                .header("WWW-Authenticate", BEARER_INVALID)
        }
        // RFC 6749 §4.1.2.1's code for an overloaded server is the closest registered one to
        // both: the client should wait and retry, not change its request.
        Error::TooManyRequests { retry_after_secs } => {
            oauth_body(429, "temporarily_unavailable", &err.to_string())
                .header("Retry-After", retry_after_secs.to_string())
        }
        Error::Unavailable { retry_after_secs, message } => {
            oauth_body(503, "temporarily_unavailable", message)
                .header("Retry-After", retry_after_secs.to_string())
        }
        Error::Protocol { status, message } => oauth_body(
            *status,
            if *status < 500 { "invalid_request" } else { "server_error" },
            message,
        ),
        Error::Internal(_) | Error::Startup(_) => {
            oauth_body(500, "server_error", "internal server error")
        }
    }
}
