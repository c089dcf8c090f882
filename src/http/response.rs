//! Responses as handlers build them: a status, headers and a body, converted to tiny_http's
//! type only in `http::server`.

use super::body::{Format, Obj};
use serde::Serialize;
use std::borrow::Cow;

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(&'static str, Cow<'static, str>)>,
    pub body: Vec<u8>,
    /// Written only once this holds (`Response::held`).
    pub hold: Option<Hold>,
}

/// What a response waits for before it is written: `until` runs on the connection's thread
/// once the handler's worker permit is back (tiny_http's held replies), and `otherwise` is
/// written instead if it returns false.
pub struct Hold {
    pub until: Box<dyn FnOnce() -> bool + Send>,
    pub otherwise: Box<Response>,
}

impl std::fmt::Debug for Hold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hold").field("otherwise", &self.otherwise).finish_non_exhaustive()
    }
}

pub const JSON: &str = "application/json;charset=UTF-8";

impl Response {
    pub fn new(status: u16) -> Response {
        Response { status, headers: Vec::new(), body: Vec::new(), hold: None }
    }

    /// A JSON body from any serialisable value.
    pub fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Response {
        let mut body = Vec::with_capacity(1024);
        serde_json::to_writer(&mut body, value).expect("responses serialise");
        Response::json_bytes(status, body)
    }

    /// A JSON body from any serialisable value, under another JSON media type
    /// (`application/scim+json`).
    pub fn json_as<T: Serialize + ?Sized>(status: u16, value: &T, media: &'static str) -> Response {
        let mut r = Response::json(status, value);
        r.headers[0].1 = Cow::Borrowed(media);
        r
    }

    /// A JSON body already rendered.
    pub fn json_bytes(status: u16, body: Vec<u8>) -> Response {
        Response { status, headers: vec![("Content-Type", Cow::Borrowed(JSON))], body, hold: None }
    }

    /// An entity in the caller's format; `root` names the XML document element.
    pub fn entity(status: u16, format: Format, root: &str, entity: &Obj) -> Response {
        let body = match format {
            Format::Json => entity.to_json(),
            Format::Xml => entity.to_xml(root),
        };
        // Room for the headers `api::finish` and handlers add, without regrowing.
        let mut headers = Vec::with_capacity(4);
        headers.push(("Content-Type", Cow::Borrowed(format.content_type())));
        Response { status, headers, body, hold: None }
    }

    pub fn text(status: u16, text: &str) -> Response {
        Response {
            status,
            headers: vec![("Content-Type", Cow::Borrowed("text/plain;charset=UTF-8"))],
            body: text.as_bytes().to_vec(),
            hold: None,
        }
    }

    /// This response, written only once `until` returns true, `otherwise` if it returns
    /// false; the wait holds the connection, not a worker permit.
    pub fn held(
        mut self,
        until: Box<dyn FnOnce() -> bool + Send>,
        otherwise: Response,
    ) -> Response {
        self.hold = Some(Hold { until, otherwise: Box::new(otherwise) });
        self
    }

    pub fn with_body(mut self, body: Vec<u8>) -> Response {
        self.body = body;
        self
    }

    pub fn no_content() -> Response {
        Response::new(204)
    }

    pub fn header(mut self, name: &'static str, value: impl Into<Cow<'static, str>>) -> Response {
        self.headers.push((name, value.into()));
        self
    }

    /// `Cache-Control: no-store` and `Pragma: no-cache`, as RFC 6749 §5.1 requires of anything
    /// carrying a token or a secret.
    pub fn no_store(self) -> Response {
        self.header("Cache-Control", "no-store").header("Pragma", "no-cache")
    }

    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_ref())
    }
}
