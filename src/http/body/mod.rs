//! Request and response bodies in Crowd's two formats, JSON and XML.
//!
//! - [`Format`]: what the caller reads, negotiated from `Accept` (and the legacy `.json`
//!   suffix), and what it sent, from `Content-Type`.
//! - [`doc`]: response entities as one tree with a JSON and an XML rendering.
//! - [`xml`]: a safe XML reader (no DOCTYPE, bounded depth and size).
//! - [`fields`]: one view of a parsed JSON or XML body, so each request entity has one parser.

pub mod doc;
pub mod fields;
pub mod xml;

pub use doc::{Node, Obj};
pub use fields::Fields;

use super::failure::Failure;
use crate::error::{Error, Result};

/// A body format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    /// The `Content-Type` of a body in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json;charset=UTF-8",
            Format::Xml => "application/xml;charset=UTF-8",
        }
    }

    /// The format a media type names, if it names one of ours.
    pub fn of_media_type(media: &str) -> Option<Format> {
        let media = media.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match media.as_str() {
            "application/json" | "text/json" => Some(Format::Json),
            "application/xml" | "text/xml" => Some(Format::Xml),
            m if m.ends_with("+json") => Some(Format::Json),
            m if m.ends_with("+xml") => Some(Format::Xml),
            _ => None,
        }
    }

    /// The response format for an `Accept` header (RFC 9110 §12.5.1): the listed type with the
    /// highest `q`, a named type over a wildcard at equal `q`, and `default` for a wildcard or no
    /// header. Crowd's resources list XML first (`@Produces({XML, JSON})`), so JAX-RS answers
    /// a bare `*/*` in XML; throng's namespaces pass that default.
    pub fn negotiate(accept: Option<&str>, default: Format) -> Format {
        let Some(accept) = accept else { return default };
        // The common cases, without parsing (on every call).
        match accept {
            "application/json" => return Format::Json,
            "application/xml" => return Format::Xml,
            _ => {}
        }
        let mut best: Option<(u32, bool, Format)> = None;
        for range in accept.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .next()
                .and_then(|q| q.trim().parse::<f32>().ok())
                .map_or(1000, |q| (q.clamp(0.0, 1.0) * 1000.0) as u32);
            if q == 0 {
                continue;
            }
            let (format, named) = match Format::of_media_type(media) {
                Some(f) => (f, true),
                None if media == "*/*" || media.eq_ignore_ascii_case("application/*") => {
                    (default, false)
                }
                None => continue,
            };
            let better = match best {
                None => true,
                Some((bq, bnamed, _)) => q > bq || (q == bq && named && !bnamed),
            };
            if better {
                best = Some((q, named, format));
            }
        }
        best.map_or(default, |(_, _, f)| f)
    }
}

/// A parsed request body, JSON or XML.
pub enum Parsed {
    Json(serde_json::Map<String, serde_json::Value>),
    Xml(xml::Element),
}

impl Parsed {
    /// Parses `body` in the format its `Content-Type` names; a body with no usable type is 415.
    pub fn from_body(content_type: Option<&str>, body: &[u8]) -> Result<Parsed, Failure> {
        let format = content_type.and_then(Format::of_media_type).ok_or_else(|| {
            Failure::Media("send the body as application/json or application/xml".into())
        })?;
        match format {
            Format::Json => {
                let value: serde_json::Value = serde_json::from_slice(body)
                    .map_err(|e| Error::bad_request(format!("invalid JSON body: {e}")))?;
                match value {
                    serde_json::Value::Object(map) => Ok(Parsed::Json(map)),
                    _ => Err(Error::bad_request("the JSON body must be an object").into()),
                }
            }
            Format::Xml => Ok(xml::parse(body).map(Parsed::Xml)?),
        }
    }

    pub fn fields(&self) -> Fields<'_> {
        match self {
            Parsed::Json(m) => Fields::Json(m),
            Parsed::Xml(e) => Fields::Xml(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_follows_q_and_specificity() {
        use Format::*;
        assert_eq!(Format::negotiate(None, Xml), Xml);
        assert_eq!(Format::negotiate(Some("*/*"), Xml), Xml);
        assert_eq!(Format::negotiate(Some("application/json"), Xml), Json);
        assert_eq!(Format::negotiate(Some("application/json, */*"), Xml), Json);
        assert_eq!(Format::negotiate(Some("*/*, application/json"), Xml), Json);
        assert_eq!(Format::negotiate(Some("application/xml"), Json), Xml);
        assert_eq!(Format::negotiate(Some("application/json;q=0.5, application/xml"), Json), Xml);
        assert_eq!(Format::negotiate(Some("text/html"), Json), Json);
        assert_eq!(Format::negotiate(Some("application/json;q=0"), Xml), Xml);
        assert_eq!(Format::negotiate(Some("application/scim+json"), Xml), Json);
    }
}
