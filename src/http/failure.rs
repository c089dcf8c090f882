//! What handling a request can fail with: the domain's [`Error`], which says what went wrong
//! in the directory, the token endpoint or the store, or a refusal of the request as HTTP
//! (no such route, not this method, a body type the route does not read, a broken message).
//! The second kind never arises below `api/`; keeping it out of [`Error`] keeps the domain
//! free of HTTP. `api::errors` renders both, once, in each API's shape.

use crate::error::Error;
use std::fmt;

#[derive(Debug)]
pub enum Failure {
    /// What the domain or the store refused or could not do.
    App(Error),
    /// No such endpoint.
    NoRoute,
    /// The endpoint exists, but not for this method; the ones it takes.
    Method(Vec<&'static str>),
    /// The body's Content-Type is missing or not one this endpoint reads.
    Media(String),
    /// The request broke HTTP/1.1 itself (RFC 9112) and was refused by the front door before
    /// any handler saw it: 400, 408, 414, 431, 501 or 505. The connection is closed after.
    Protocol { status: u16, message: String },
}

pub type Result<T, E = Failure> = std::result::Result<T, E>;

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::App(e)
    }
}

impl Failure {
    /// The domain error inside, if this is one.
    pub fn app(&self) -> Option<&Error> {
        match self {
            Failure::App(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::App(e) => e.fmt(f),
            Failure::NoRoute => f.write_str("no such resource"),
            Failure::Method(_) => f.write_str("method not allowed"),
            Failure::Media(m) | Failure::Protocol { message: m, .. } => f.write_str(m),
        }
    }
}

impl std::error::Error for Failure {}
