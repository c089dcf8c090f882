//! The one place an [`Error`] becomes a response, in the shape of the API it happened in.
//!
//! - Crowd: `{"reason","message"}` with Crowd's reason codes (crowd-rest-common ErrorEntity
//!   and its exception mappers).
//! - usermanagement: the same, except that a failed application authentication is Crowd's
//!   plain-text 401 `Application failed to authenticate` (BasicAuthenticationHelper), which
//!   dex compares byte for byte.
//! - OAuth: RFC 6749 §5.2 `{"error","error_description"}`; `invalid_client` is 401 with a
//!   `WWW-Authenticate` challenge.
//! - SCIM: RFC 7644 §3.12 `{"schemas":[…Error],"status":"404","scimType","detail"}`, as
//!   `application/scim+json`; a missing or bad token is 401 and a token without the scope or
//!   the directory 403, each with an RFC 6750 §3 `WWW-Authenticate` challenge.
//!
//! Internal errors are logged with their cause and answered with a generic message. Refusals
//! of HTTP itself (`http::failure`) render here too, in the same shapes.

use super::Api;
use crate::error::{Error, LoginFailure, OAuthCode, Resource, ScimType};
use crate::http::body::{Format, Obj};
use crate::http::failure::Failure;
use crate::http::Response;
use serde_json::json;

const BASIC_CHALLENGE: &str = "Basic realm=\"Crowd\"";
const BEARER_INVALID: &str = "Bearer error=\"invalid_token\"";

pub fn render(which: Api, format: Format, failure: &Failure) -> Response {
    let err = match failure {
        Failure::App(e) => e,
        http => return render_http(which, format, http),
    };
    if let Error::Internal(cause) = err {
        log::error!("{cause}");
    }
    match which {
        Api::OAuth => oauth(err),
        Api::UserManagement => match err {
            Error::Unauthenticated => Response::text(401, "Application failed to authenticate")
                .header("WWW-Authenticate", "BASIC realm=\"Crowd\""),
            Error::ClientRefused { .. } => client_refused(err),
            _ => crowd(format, err),
        },
        Api::Crowd => crowd(format, err),
        Api::Scim => scim(err),
    }
}

/// A refusal of the request as HTTP, in the API's shape.
fn render_http(which: Api, format: Format, failure: &Failure) -> Response {
    let (status, crowd_reason, oauth_code, message) = match failure {
        Failure::App(_) => unreachable!("rendered as the domain error"),
        Failure::NoRoute => (404, "NOT_FOUND", "invalid_request", "No such resource".to_string()),
        Failure::Method(_) => {
            (405, "UNSUPPORTED_OPERATION", "invalid_request", "Method not allowed".to_string())
        }
        Failure::Media(m) => (415, "ILLEGAL_ARGUMENT", "invalid_request", m.clone()),
        Failure::Protocol { status, message } if *status < 500 => {
            (*status, "ILLEGAL_ARGUMENT", "invalid_request", message.clone())
        }
        Failure::Protocol { status, message } => {
            (*status, "OPERATION_FAILED", "server_error", message.clone())
        }
    };
    let response = match which {
        // RFC 6749 §5.2 has no 415; an unreadable body is an invalid request.
        Api::OAuth => {
            let status = if status == 415 { 400 } else { status };
            oauth_body(status, oauth_code, &message)
        }
        Api::Crowd | Api::UserManagement => {
            let entity = Obj::new().elem("reason", crowd_reason).elem("message", message);
            Response::entity(status, format, "error", &entity)
        }
        Api::Scim => {
            let scim_type = (status == 400).then_some(ScimType::InvalidSyntax);
            scim_body(status, scim_type, &message)
        }
    };
    match failure {
        Failure::Method(allowed) => response.header("Allow", allowed.join(", ")),
        _ => response,
    }
}

/// Crowd's client validation refuses with the servlet container's 403 page, not an entity
/// (ClientValidationManagerImpl throws; Tomcat renders it). dex recognises a forbidden
/// application by the page's description sentence
/// (https://github.com/dexidp/dex/blob/master/connector/atlassiancrowd/atlassiancrowd.go), and
/// Atlassian's Java client reads any 403 body as plain text (RestExecutor.throwError).
fn client_refused(err: &Error) -> Response {
    // A text node: `&`, `<` and `>` are all that need escaping, so the message keeps its
    // quotes as clients search for it (`Client with address "…"`). The address may come from
    // X-Forwarded-For, so escaping is not optional.
    let message = html_text(&err.to_string());
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><title>HTTP Status 403 – Forbidden</title></head>\
         <body><h1>HTTP Status 403 – Forbidden</h1><hr/><p><b>Type</b> Status Report</p>\
         <p><b>Message</b> {message}</p><p><b>Description</b> The server understood the request \
         but refuses to authorize it.</p><hr/><h3>throng</h3></body></html>"
    );
    Response::new(403)
        .header("Content-Type", "text/html;charset=utf-8")
        .with_body(page.into_bytes())
}

/// Escapes text for an HTML text node (not an attribute value: see [`html_escape`]).
fn html_text(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Escapes text for an HTML or XML text node or attribute value.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn not_found_reason(r: Resource) -> &'static str {
    match r {
        Resource::User => "USER_NOT_FOUND",
        Resource::Group => "GROUP_NOT_FOUND",
        Resource::Membership => "MEMBERSHIP_NOT_FOUND",
        Resource::Directory => "DIRECTORY_NOT_FOUND",
        Resource::Application => "APPLICATION_NOT_FOUND",
        Resource::Session => "INVALID_SSO_TOKEN",
        Resource::ServiceAccount => "SERVICE_ACCOUNT_NOT_FOUND",
        Resource::OAuthClient => "OAUTH_CLIENT_NOT_FOUND",
        Resource::ApplicationLink => "APPLICATION_LINK_NOT_FOUND",
        Resource::Key => "KEY_NOT_FOUND",
    }
}

fn not_found_message(r: Resource, id: &str) -> String {
    match r {
        Resource::User => format!("User <{id}> does not exist"),
        Resource::Group => format!("Group <{id}> does not exist"),
        Resource::Membership => format!("Membership {id} does not exist"),
        Resource::Directory => format!("Directory <{id}> does not exist"),
        Resource::Application => format!("Application <{id}> does not exist"),
        Resource::Session => "Token does not validate or has expired".to_string(),
        Resource::ServiceAccount => format!("Service account <{id}> does not exist"),
        Resource::OAuthClient => format!("OAuth 2.0 client <{id}> does not exist"),
        Resource::ApplicationLink => format!("Application link <{id}> does not exist"),
        Resource::Key => format!("Key <{id}> does not exist"),
    }
}

/// Crowd's reason for a thing that is invalid or taken (ErrorEntity.ErrorReason).
fn invalid_reason(r: Resource) -> &'static str {
    match r {
        Resource::User => "INVALID_USER",
        Resource::Group => "INVALID_GROUP",
        Resource::Membership => "INVALID_MEMBERSHIP",
        Resource::Session => "INVALID_SSO_TOKEN",
        _ => "ILLEGAL_ARGUMENT",
    }
}

fn already_exists(r: Resource, id: &str) -> (u16, &'static str, String) {
    match r {
        // crowd-rest-common's MembershipAlreadyExistsExceptionMapper and
        // ApplicationAlreadyExists map to 409; a taken user or group name is InvalidUser /
        // InvalidGroup, 400 (UsersResource.addUser, GroupsResource.addGroup).
        Resource::Membership => {
            (409, "MEMBERSHIP_ALREADY_EXISTS", format!("Membership {id} already exists"))
        }
        Resource::Application => {
            (409, "APPLICATION_ALREADY_EXISTS", format!("Application <{id}> already exists"))
        }
        Resource::ApplicationLink => (
            409,
            "APPLICATION_LINK_ALREADY_EXISTS",
            format!("Application link <{id}> already exists"),
        ),
        Resource::User => (400, "INVALID_USER", format!("User <{id}> already exists")),
        Resource::Group => (400, "INVALID_GROUP", format!("Group <{id}> already exists")),
        r => (400, invalid_reason(r), format!("{r:?} <{id}> already exists")),
    }
}

/// Status, Crowd reason and message of an error, for the JSON and the XML ErrorEntity alike.
pub fn crowd_parts(err: &Error) -> (u16, &'static str, String) {
    match err {
        Error::BadRequest(m) => (400, "ILLEGAL_ARGUMENT", m.clone()),
        Error::NotFound(r, id) => (404, not_found_reason(*r), not_found_message(*r, id)),
        Error::UnknownReference(r, id) => (400, not_found_reason(*r), not_found_message(*r, id)),
        Error::AlreadyExists(r, id) => already_exists(*r, id),
        Error::Invalid(r, m) => (400, invalid_reason(*r), m.clone()),
        Error::Conflict(m) => (409, "OPERATION_FAILED", m.clone()),
        Error::InvalidCredential(m) => (400, "INVALID_CREDENTIAL", m.clone()),
        Error::Login(failure, m) => match failure {
            LoginFailure::BadCredentials => (400, "INVALID_USER_AUTHENTICATION", m.clone()),
            LoginFailure::Inactive => (400, "INACTIVE_ACCOUNT", m.clone()),
            LoginFailure::ExpiredCredential => (400, "EXPIRED_CREDENTIAL", m.clone()),
            LoginFailure::NotPermitted => (403, "APPLICATION_ACCESS_DENIED", m.clone()),
        },
        Error::NotPermitted(m) => (403, "APPLICATION_PERMISSION_DENIED", m.clone()),
        Error::NotSupported(m) => (501, "UNSUPPORTED_OPERATION", m.clone()),
        Error::ClientRefused { .. } => (403, "APPLICATION_ACCESS_DENIED", err.to_string()),
        Error::EventTokenExpired => (
            410,
            "EVENT_TOKEN_EXPIRED",
            "The event token has expired; synchronise in full and start again from /event".into(),
        ),
        Error::InvalidSsoToken(m) => (400, "INVALID_SSO_TOKEN", m.clone()),
        Error::Unauthenticated => (
            401,
            "PERMISSION_DENIED",
            "Authentication required: send the credentials of a Crowd administrator".into(),
        ),
        Error::Forbidden(m) => (403, "PERMISSION_DENIED", m.clone()),
        Error::InvalidToken => {
            (401, "PERMISSION_DENIED", "The access token is invalid, expired or revoked".into())
        }
        Error::OAuth { description, .. } => (400, "ILLEGAL_ARGUMENT", description.clone()),
        Error::Scim(_, m) => (400, "ILLEGAL_ARGUMENT", m.clone()),
        Error::PreconditionFailed(m) => (412, "OPERATION_FAILED", m.clone()),
        // Crowd has no reason for these; Atlassian's client maps any reason it does not know
        // to OperationFailedException (RestExecutor.throwError), so OPERATION_FAILED it is.
        Error::TooManyRequests { .. } => (429, "OPERATION_FAILED", err.to_string()),
        Error::Unavailable { message, .. } => (503, "OPERATION_FAILED", message.clone()),
        Error::Internal(_) | Error::Startup(_) => {
            (500, "OPERATION_FAILED", "Internal server error".into())
        }
    }
}

/// The headers an error carries whatever its body's shape.
fn crowd_headers(err: &Error, response: Response) -> Response {
    match err {
        Error::Unauthenticated => response.header("WWW-Authenticate", BASIC_CHALLENGE),
        Error::InvalidToken => response.header("WWW-Authenticate", BEARER_INVALID),
        Error::TooManyRequests { retry_after_secs }
        | Error::Unavailable { retry_after_secs, .. } => {
            response.header("Retry-After", retry_after_secs.to_string())
        }
        _ => response,
    }
}

/// Crowd's ErrorEntity, `{"reason","message"}` or `<error><reason/><message/></error>`
/// (crowd-rest-common ErrorEntity, `@XmlRootElement(name = "error")`).
fn crowd(format: Format, err: &Error) -> Response {
    let (status, reason, message) = crowd_parts(err);
    let entity = Obj::new().elem("reason", reason).elem("message", message);
    crowd_headers(err, Response::entity(status, format, "error", &entity))
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
        Error::BadRequest(m) => oauth_body(400, "invalid_request", m),
        Error::Unauthenticated | Error::Forbidden(_) => {
            oauth_body(401, "invalid_client", "client authentication failed")
                .header("WWW-Authenticate", "Basic realm=\"oauth2\"")
        }
        Error::NotFound(..) => oauth_body(404, "invalid_request", "no such endpoint"),
        // The directory's kinds never arise at the OAuth endpoints; should one, it is the
        // request's fault, in Crowd's words.
        Error::UnknownReference(..)
        | Error::AlreadyExists(..)
        | Error::Conflict(_)
        | Error::Invalid(..)
        | Error::InvalidCredential(_)
        | Error::Login(..)
        | Error::NotPermitted(_)
        | Error::NotSupported(_)
        | Error::ClientRefused { .. }
        | Error::EventTokenExpired
        | Error::Scim(..)
        | Error::PreconditionFailed(_)
        | Error::InvalidSsoToken(_) => oauth_body(400, "invalid_request", &err.to_string()),
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
        Error::Internal(_) | Error::Startup(_) => {
            oauth_body(500, "server_error", "internal server error")
        }
    }
}

/// SCIM's media type (RFC 7644 §3.1).
pub const SCIM_JSON: &str = "application/scim+json;charset=UTF-8";
const SCIM_ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// RFC 6750 §3: the challenge of a resource server whose tokens need `manage:directory`.
const SCIM_REALM: &str = "Bearer realm=\"scim\"";

/// RFC 7644 §3.12's error body; `status` is a string there.
pub fn scim_body(status: u16, scim_type: Option<ScimType>, detail: &str) -> Response {
    let mut body =
        json!({ "schemas": [SCIM_ERROR], "status": status.to_string(), "detail": detail });
    if let Some(t) = scim_type {
        body["scimType"] = json!(t.as_str());
    }
    Response::json_as(status, &body, SCIM_JSON)
}

fn scim(err: &Error) -> Response {
    use ScimType::*;
    let (status, scim_type, detail) =
        match err {
            Error::Scim(t, m) => (if *t == Uniqueness { 409 } else { 400 }, Some(*t), m.clone()),
            Error::AlreadyExists(r, id) => {
                (409, Some(Uniqueness), format!("{r:?} '{id}' already exists"))
            }
            Error::NotFound(r, id) => (404, None, format!("{r:?} '{id}' not found")),
            Error::UnknownReference(..) | Error::Invalid(..) | Error::BadRequest(_) => {
                (400, Some(InvalidValue), err.to_string())
            }
            Error::PreconditionFailed(m) => (412, None, m.clone()),
            Error::Conflict(m) => (409, None, m.clone()),
            Error::Unauthenticated => {
                return scim_body(401, None, "a bearer token is required")
                    .header("WWW-Authenticate", SCIM_REALM)
            }
            Error::InvalidToken => {
                return scim_body(401, None, "the access token is invalid, expired or revoked")
                    .header("WWW-Authenticate", "Bearer realm=\"scim\", error=\"invalid_token\"")
            }
            Error::Forbidden(m) => return scim_body(403, None, m).header(
                "WWW-Authenticate",
                "Bearer realm=\"scim\", error=\"insufficient_scope\", scope=\"manage:directory\"",
            ),
            Error::TooManyRequests { retry_after_secs }
            | Error::Unavailable { retry_after_secs, .. } => {
                let status = if matches!(err, Error::TooManyRequests { .. }) { 429 } else { 503 };
                return scim_body(status, None, &err.to_string())
                    .header("Retry-After", retry_after_secs.to_string());
            }
            Error::NotSupported(m) => (501, None, m.clone()),
            Error::NotPermitted(m) => (403, None, m.clone()),
            Error::Internal(_) | Error::Startup(_) => (500, None, "internal server error".into()),
            other => (400, None, other.to_string()),
        };
    scim_body(status, scim_type, &detail)
}
