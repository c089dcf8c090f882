//! A request as handlers see it: method, path, query, every header, the body (already read
//! under the size cap) and the caller's address, plus the format the caller reads and writes
//! (`http::body`). Only `http::server` knows tiny_http; everything else reads this type.

use super::body::{Format, Parsed};
use super::failure::Failure;
use crate::error::{Error, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::de::DeserializeOwned;
use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Other,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Other => "OTHER",
        }
    }

    pub fn parse(m: &str) -> Method {
        match m {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            _ => Method::Other,
        }
    }
}

#[derive(Debug)]
pub struct Request {
    pub method: Method,
    /// The path without the query string, as sent.
    pub path: String,
    /// The query string without `?`, as sent.
    pub query: String,
    /// Every header as sent, names as the client spelled them (look up with [`Request::header`]).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The peer address: the TCP peer, not `X-Forwarded-For` (whose trust is the business
    /// of whoever the caller claims to be; see `domain::applications`).
    pub remote: String,
}

const BASIC_INLINE: usize = 240;

/// `Authorization: Basic` credentials, decoded (RFC 7617): user and password split at the
/// first colon.
pub struct Basic {
    inline: [u8; BASIC_INLINE],
    heap: Vec<u8>,
    len: usize,
    colon: usize,
}

impl Basic {
    fn bytes(&self) -> &[u8] {
        if self.heap.is_empty() {
            &self.inline[..self.len]
        } else {
            &self.heap
        }
    }

    fn text(&self) -> &str {
        std::str::from_utf8(self.bytes()).expect("checked when decoded")
    }

    pub fn user(&self) -> &str {
        &self.text()[..self.colon]
    }

    pub fn password(&self) -> &str {
        &self.text()[self.colon + 1..]
    }

    /// Both, for callers that take a pair.
    pub fn pair(&self) -> (&str, &str) {
        (self.user(), self.password())
    }
}

impl std::fmt::Debug for Basic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        f.debug_struct("Basic").field("user", &self.user()).finish_non_exhaustive()
    }
}

/// Crowd's default context path; clients configured with `http://host:8095/crowd` use it.
pub const CONTEXT_PATH: &str = "/crowd";

/// The path with the context path removed, and the context path that was used.
pub fn split_context(path: &str) -> (&str, &'static str) {
    match path.strip_prefix(CONTEXT_PATH) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => (rest, CONTEXT_PATH),
        _ => (path, ""),
    }
}

/// Decodes one `application/x-www-form-urlencoded` component: `+` is a space, `%XX` a byte.
pub fn percent_decode(s: &str) -> Result<Cow<'_, str>> {
    unescape(s, Unescape::Form)
}

/// Decodes a request path once (RFC 3986 §2.1): each `%XX` becomes its byte and `+` stays a
/// `+` (it means a space only in forms). An encoded `/` or NUL is refused: decoded, it would
/// change which segments the router sees, or cut a name short.
pub fn decode_path(raw: &str) -> Result<Cow<'_, str>> {
    unescape(raw, Unescape::Path)
}

/// The two ways throng reads percent-encoding.
#[derive(Clone, Copy, PartialEq)]
enum Unescape {
    Form,
    Path,
}

fn unescape(s: &str, how: Unescape) -> Result<Cow<'_, str>> {
    let form = how == Unescape::Form;
    if !s.bytes().any(|b| b == b'%' || (form && b == b'+')) {
        return Ok(Cow::Borrowed(s));
    }
    let (malformed, not_utf8) = match how {
        Unescape::Form => ("malformed percent-encoding", "percent-encoding is not UTF-8"),
        Unescape::Path => {
            ("malformed percent-encoding in the path", "the decoded path is not UTF-8")
        }
    };
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' if form => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
                let byte = hex
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| Error::bad_request(malformed))?;
                if !form && (byte == b'/' || byte == 0) {
                    return Err(Error::bad_request(
                        "an encoded '/' or NUL is not allowed in a path segment",
                    ));
                }
                out.push(byte);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map(Cow::Owned).map_err(|_| Error::bad_request(not_utf8))
}

/// [`percent_encode`], borrowing `s` when it has nothing to encode (most names).
pub fn percent_encode_cow(s: &str) -> Cow<'_, str> {
    if s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(percent_encode(s))
    }
}

/// Encodes a query-string or form value (RFC 3986 unreserved characters pass through).
pub fn percent_encode(s: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Decoded name/value pairs of a form body, a JSON object of strings, or a query string.
#[derive(Debug, Default)]
pub struct Params<'a> {
    pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Params<'a> {
    pub fn parse_urlencoded(s: &'a str) -> Result<Params<'a>> {
        let mut pairs = Vec::new();
        for part in s.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            pairs.push((percent_decode(k)?, percent_decode(v)?));
        }
        Ok(Params { pairs })
    }

    /// A flat JSON object whose values are strings (how the SCIM guide sends token requests).
    pub fn parse_json_object(body: &[u8]) -> Result<Params<'static>> {
        let value: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(body)
            .map_err(|e| Error::bad_request(format!("body is not a JSON object: {e}")))?;
        let mut pairs = Vec::with_capacity(value.len());
        for (k, v) in value {
            match v {
                serde_json::Value::String(s) => pairs.push((Cow::Owned(k), Cow::Owned(s))),
                serde_json::Value::Null => {}
                _ => return Err(Error::bad_request(format!("parameter '{k}' must be a string"))),
            }
        }
        Ok(Params { pairs })
    }

    /// The value of `name`, or an error if it was sent more than once (RFC 6749 §3.1).
    pub fn single(&self, name: &str) -> Result<Option<&str>> {
        let mut found = None;
        for (k, v) in &self.pairs {
            if k == name {
                if found.is_some() {
                    return Err(Error::bad_request(format!("parameter '{name}' is repeated")));
                }
                found = Some(v.as_ref());
            }
        }
        Ok(found)
    }
}

impl Request {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every value of a header, in the order sent (`X-Forwarded-For` may come more than once).
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn authorization(&self) -> Option<&str> {
        self.header("Authorization")
    }

    /// The context path the caller used (`/crowd` or none), for links back to this server.
    pub fn context_path(&self) -> &'static str {
        split_context(&self.path).1
    }

    pub fn query_params(&self) -> Result<Params<'_>> {
        Params::parse_urlencoded(&self.query)
    }

    /// The media type of the body, lower-cased, without parameters such as `charset`.
    pub fn media_type(&self) -> Option<String> {
        let ct = self.header("Content-Type")?;
        Some(ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
    }

    /// Whether the caller asked for JSON responses.
    pub fn accepts(&self, media: &str) -> bool {
        self.header("Accept")
            .is_some_and(|a| a.split(',').any(|part| part.trim().starts_with(media)))
    }

    /// The format to answer in: JSON for a legacy `.json` path suffix (`/user.json`, as
    /// crowd4s calls Crowd), else what `Accept` prefers, else `default`.
    pub fn reply_format(&self, default: Format) -> Format {
        if self.path.rsplit('/').next().is_some_and(|last| last.ends_with(".json")) {
            return Format::Json;
        }
        Format::negotiate(self.header("Accept"), default)
    }

    /// The body as a JSON or XML entity, by its `Content-Type`. An empty body is `BadRequest`.
    pub fn entity(&self) -> Result<Parsed, Failure> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Err(Error::bad_request("a request body is required").into());
        }
        Parsed::from_body(self.header("Content-Type"), &self.body)
    }

    /// The body as OAuth parameters: a form, or a JSON object of strings.
    pub fn oauth_params(&self) -> Result<Params<'_>, Failure> {
        match self.media_type().as_deref() {
            Some("application/x-www-form-urlencoded") => {
                let text = std::str::from_utf8(&self.body)
                    .map_err(|_| Error::bad_request("form body is not UTF-8"))?;
                Ok(Params::parse_urlencoded(text)?)
            }
            Some("application/json") => Ok(Params::parse_json_object(&self.body)?),
            None if self.body.is_empty() => Ok(Params::default()),
            _ => Err(Failure::Media(
                "send application/x-www-form-urlencoded (or application/json)".into(),
            )),
        }
    }

    /// The body as JSON of type `T`; the Content-Type must say JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Failure> {
        match self.media_type().as_deref() {
            Some("application/json") => {}
            Some(other) => {
                return Err(Failure::Media(format!(
                    "Content-Type {other} is not supported; send application/json"
                )))
            }
            None => return Err(Failure::Media("Content-Type application/json is required".into())),
        }
        let value: serde_json::Value = serde_json::from_slice(&self.body)
            .map_err(|e| Error::bad_request(format!("invalid JSON body: {e}")))?;
        // serde's derived structs also read a JSON array, field by field; a body that is not
        // an object is never what the caller meant.
        if !value.is_object() {
            return Err(Error::bad_request("the JSON body must be an object").into());
        }
        Ok(serde_json::from_value(value)
            .map_err(|e| Error::bad_request(format!("invalid JSON body: {e}")))?)
    }

    /// `Authorization: Basic` credentials, split at the first colon (RFC 7617).
    pub fn basic(&self) -> Option<Basic> {
        let value = self.authorization()?;
        let (scheme, rest) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let encoded = rest.trim().as_bytes();
        let mut b = Basic { inline: [0; BASIC_INLINE], heap: Vec::new(), len: 0, colon: 0 };
        // Decoded in place on the stack for the usual sizes: this runs on every application
        // call and every token request.
        b.len = if encoded.len() / 4 * 3 <= BASIC_INLINE {
            STANDARD.decode_slice(encoded, &mut b.inline).ok()?
        } else {
            b.heap = STANDARD.decode(encoded).ok()?;
            b.heap.len()
        };
        let text = std::str::from_utf8(b.bytes()).ok()?;
        b.colon = text.find(':')?;
        Some(b)
    }

    /// Whether an `Authorization` header with the given scheme was sent at all.
    pub fn has_auth_scheme(&self, scheme: &str) -> bool {
        self.authorization()
            .and_then(|v| v.split(' ').next())
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
    }

    /// With `Authorization: Bearer`, its token, empty when there is none (RFC 6750 §3.1: that
    /// is an invalid token, not a missing one); `None` for any other scheme or no header.
    /// One look at the headers, for the paths every bearer call takes.
    pub fn bearer_scheme(&self) -> Option<&str> {
        let value = self.authorization()?;
        let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    }

    /// `Authorization: Bearer` token (RFC 6750 §2.1).
    pub fn bearer(&self) -> Option<&str> {
        let value = self.authorization()?;
        let (scheme, token) = value.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(auth: Option<&str>, ct: Option<&str>, body: &str) -> Request {
        Request {
            method: Method::Post,
            path: "/".into(),
            query: String::new(),
            headers: auth
                .map(|a| ("Authorization".to_string(), a.to_string()))
                .into_iter()
                .chain(ct.map(|c| ("content-type".to_string(), c.to_string())))
                .collect(),
            body: body.as_bytes().to_vec(),
            remote: String::new(),
        }
    }

    #[test]
    fn form_decoding_and_repeats() {
        let p = Params::parse_urlencoded("a=1+2&b=%2Fx&c").unwrap();
        assert_eq!(p.single("a").unwrap(), Some("1 2"));
        assert_eq!(p.single("b").unwrap(), Some("/x"));
        assert_eq!(p.single("c").unwrap(), Some(""));
        assert_eq!(p.single("d").unwrap(), None);
        assert!(Params::parse_urlencoded("a=1&a=2").unwrap().single("a").is_err());
        assert!(Params::parse_urlencoded("a=%zz").is_err());
        assert!(Params::parse_urlencoded("a=%ff").is_err());
    }

    #[test]
    fn paths_are_decoded_once() {
        assert_eq!(decode_path("/st%61tus").unwrap(), "/status");
        assert_eq!(decode_path("/a+b/%C3%BC").unwrap(), "/a+b/ü");
        assert_eq!(decode_path("/a%2525").unwrap(), "/a%25", "once, not twice");
        assert!(decode_path("/a%2Fb").is_err());
        assert!(decode_path("/a%2fb").is_err());
        assert!(decode_path("/a%00").is_err());
        assert!(decode_path("/a%zz").is_err());
        assert!(decode_path("/a%4").is_err());
        assert!(decode_path("/%ff").is_err());
    }

    #[test]
    fn basic_splits_at_first_colon() {
        let r = req(Some("Basic YTpiOmM="), None, ""); // a:b:c
        assert_eq!(r.basic().unwrap().pair(), ("a", "b:c"));
        let long = format!("{}:{}", "u".repeat(300), "p".repeat(300));
        let header = format!("Basic {}", STANDARD.encode(&long));
        let r = req(Some(&header), None, "");
        assert_eq!(r.basic().unwrap().pair(), ("u".repeat(300).as_str(), "p".repeat(300).as_str()));
        assert!(req(Some("Basic bm9jb2xvbg=="), None, "").basic().is_none(), "no colon");
        assert_eq!(req(Some("Bearer xyz"), None, "").bearer(), Some("xyz"));
        assert_eq!(req(Some("bearer  xyz "), None, "").bearer_scheme(), Some("xyz"));
        assert_eq!(req(Some("Bearer"), None, "").bearer_scheme(), Some(""));
        assert_eq!(req(Some("Basic eHl6"), None, "").bearer_scheme(), None);
        assert_eq!(req(None, None, "").bearer_scheme(), None);
        assert!(req(Some("Bearer xyz"), None, "").basic().is_none());
    }

    #[test]
    fn content_types() {
        let r = req(None, Some("application/x-www-form-urlencoded; charset=UTF-8"), "x=1");
        assert_eq!(r.oauth_params().unwrap().single("x").unwrap(), Some("1"));
        let r = req(None, Some("application/json"), r#"{"x":"1","n":null}"#);
        assert_eq!(r.oauth_params().unwrap().single("x").unwrap(), Some("1"));
        assert!(req(None, Some("application/json"), r#"{"x":1}"#).oauth_params().is_err());
        assert!(req(None, Some("text/plain"), "x=1").oauth_params().is_err());
        assert_eq!(percent_encode("a b/ü"), "a%20b%2F%C3%BC");
    }
}
