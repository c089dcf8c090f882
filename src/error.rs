//! The one error type of throng's domain and store layers.
//!
//! It says *what* went wrong, never how a particular API words it: `api::errors` turns an
//! [`Error`] into Crowd's `{"reason","message"}`, OAuth's `{"error","error_description"}` or
//! (later) SCIM's error schema, in one place. Internal causes are logged there and replaced
//! by a generic message on the wire. Refusals of HTTP itself (no route, wrong method, body
//! type, protocol) are not here but in `http::failure`, which wraps this type.

use std::fmt;

/// Kinds of stored things a lookup can fail to find; each API names them its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    User,
    Group,
    /// A user's or a group's membership of a group.
    Membership,
    Directory,
    Application,
    /// An SSO session (usermanagement `/session/{token}`).
    Session,
    ServiceAccount,
    OAuthClient,
    /// An application link (incoming or outgoing).
    ApplicationLink,
    /// A public key of a `private_key_jwt` client, by `kid`.
    Key,
}

/// Why a directory user could not be authenticated (Crowd's `INVALID_USER_AUTHENTICATION`,
/// `INACTIVE_ACCOUNT`, `EXPIRED_CREDENTIAL`, `APPLICATION_ACCESS_DENIED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginFailure {
    /// Wrong password, or no such user: the two are never told apart.
    BadCredentials,
    Inactive,
    ExpiredCredential,
    /// The user is fine but may not use the calling application.
    NotPermitted,
}

/// Why the token endpoint (or a client-authenticated OAuth endpoint) refused a request; the
/// codes of RFC 6749 §5.2 and RFC 7009 §2.2.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
}

impl OAuthCode {
    pub fn as_str(self) -> &'static str {
        match self {
            OAuthCode::InvalidRequest => "invalid_request",
            OAuthCode::InvalidClient => "invalid_client",
            OAuthCode::InvalidGrant => "invalid_grant",
            OAuthCode::UnauthorizedClient => "unauthorized_client",
            OAuthCode::UnsupportedGrantType => "unsupported_grant_type",
            OAuthCode::InvalidScope => "invalid_scope",
        }
    }
}

/// RFC 7644 §3.12's `scimType`: what kind of bad SCIM request it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
    InvalidVers,
}

impl ScimType {
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
        }
    }
}

#[derive(Debug)]
pub enum Error {
    /// The request is malformed or breaks a validation rule; the text says which.
    BadRequest(String),
    /// No such stored thing.
    NotFound(Resource, String),
    /// A thing named in the request body (not its path or query) does not exist: Crowd
    /// answers these 400 where the same thing missing from the query is 404.
    UnknownReference(Resource, String),
    /// A create or rename onto a name that is taken, or a membership that exists already.
    AlreadyExists(Resource, String),
    /// A value breaks a rule of the thing it is for (an empty user name, a membership that
    /// would make a cycle); the text says which rule.
    Invalid(Resource, String),
    /// The change would break what something else relies on (a link an application
    /// authenticates with, a link another application has): 409, the text says what.
    Conflict(String),
    /// A password that does not meet the policy.
    InvalidCredential(String),
    /// A user could not log in; the text says why, for the caller.
    Login(LoginFailure, String),
    /// An application may not do this write: the directory is not mapped to it or the mapping
    /// does not allow the operation (Crowd's `APPLICATION_PERMISSION_DENIED`).
    NotPermitted(String),
    /// The application is inactive, or the caller's address is not one it allows (Crowd's
    /// client validation: a 403 page rather than an entity).
    ClientRefused { address: String, application: String },
    /// An incremental-sync token older than the retained change log.
    EventTokenExpired,
    /// Something Crowd does that throng deliberately does not (send mail); the text says
    /// what to do instead.
    NotSupported(String),
    /// An SSO token that is malformed (an unknown or expired one is `NotFound(Session)`).
    InvalidSsoToken(String),
    /// No credentials, or wrong ones, for an API that needs a user (admin Basic auth) or an
    /// application.
    Unauthenticated,
    /// Authenticated, but not allowed to do this.
    Forbidden(String),
    /// A bearer token that is not live: unknown, expired, revoked, or its client archived.
    InvalidToken,
    /// A refusal at an OAuth protocol endpoint.
    OAuth { code: OAuthCode, description: String },
    /// A SCIM request that breaks RFC 7643/7644 (a filter throng cannot read, a read-only
    /// attribute written, …): 400, or 409 for `uniqueness`, with its `scimType`.
    Scim(ScimType, String),
    /// A conditional request whose `If-Match` names another version than the current one
    /// (RFC 7644 §3.14): 412.
    PreconditionFailed(String),
    /// Too many failed authentications from this source or for this identity: answered 429
    /// with `Retry-After` before any credential is checked, so the answer costs no hashing.
    TooManyRequests { retry_after_secs: u64 },
    /// The server will not take this request now (every KDF slot busy, the connection budget
    /// spent): 503 with `Retry-After`. The caller did nothing wrong; trying again later works.
    Unavailable { retry_after_secs: u64, message: String },
    /// Something broke inside; logged with its cause, answered 500 with a generic message.
    Internal(String),
    /// The server will not start on what it was given (a data directory whose key is missing
    /// or wrong, say). Never a request's error: the text is for the operator and says what to do.
    Startup(String),
}

impl Error {
    pub fn bad_request(msg: impl Into<String>) -> Error {
        Error::BadRequest(msg.into())
    }

    pub fn oauth(code: OAuthCode, description: impl Into<String>) -> Error {
        Error::OAuth { code, description: description.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BadRequest(m) | Error::Forbidden(m) => {
                f.write_str(m)
            }
            Error::NotFound(r, id) | Error::UnknownReference(r, id) => {
                write!(f, "{r:?} '{id}' not found")
            }
            Error::AlreadyExists(r, id) => write!(f, "{r:?} '{id}' already exists"),
            Error::Invalid(_, m)
            | Error::InvalidCredential(m)
            | Error::Login(_, m)
            | Error::Conflict(m) => f.write_str(m),
            Error::NotPermitted(m) | Error::NotSupported(m) => f.write_str(m),
            Error::ClientRefused { address, application } => write!(
                f,
                "Client with address \"{address}\" is forbidden from making requests to the application, {application}."
            ),
            Error::EventTokenExpired => f.write_str("event token expired"),
            Error::InvalidSsoToken(m) => f.write_str(m),
            Error::Unauthenticated => f.write_str("authentication required"),
            Error::InvalidToken => f.write_str("invalid token"),
            Error::OAuth { code, description, .. } => write!(f, "{}: {description}", code.as_str()),
            Error::Scim(_, m) | Error::PreconditionFailed(m) => f.write_str(m),
            Error::TooManyRequests { retry_after_secs } => write!(
                f,
                "too many failed authentication attempts; retry after {retry_after_secs} s"
            ),
            Error::Unavailable { message, .. } => f.write_str(message),
            Error::Internal(m) => write!(f, "internal error: {m}"),
            Error::Startup(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

macro_rules! internal_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Error {
                Error::Internal(format!("{}: {e}", stringify!($t)))
            }
        }
    )*};
}

internal_from!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    std::io::Error
);

impl From<serde_json::Error> for Error {
    /// A stored record that does not parse is corruption, not a client mistake; request bodies
    /// are parsed in `http::request`, which maps their errors to `BadRequest` itself.
    fn from(e: serde_json::Error) -> Error {
        Error::Internal(format!("stored record: {e}"))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
