//! Request entities read the same way from JSON and from XML.
//!
//! A Crowd request entity is one JAXB/Jackson class with two spellings: `{"name":"bob",
//! "password":{"value":"x"}}` and `<user name="bob"><password><value>x</value></password></user>`.
//! [`Fields`] gives a parser one view of either, so each entity is read by one function, not
//! two: a scalar is a JSON key or, in XML, an attribute or a child element's text; a list is a
//! JSON array or, in XML, repeated child elements, optionally inside a wrapper element.

use super::xml::Element;
use crate::error::{Error, Result};
use serde_json::{Map, Value};

/// One object of a parsed body.
#[derive(Clone, Copy)]
pub enum Fields<'a> {
    Json(&'a Map<String, Value>),
    Xml(&'a Element),
}

fn wrong_type(name: &str, what: &str) -> Error {
    Error::bad_request(format!("'{name}' must be {what}"))
}

impl<'a> Fields<'a> {
    /// The XML element's name (`None` for JSON), for bodies whose root names their kind.
    pub fn tag(&self) -> Option<&'a str> {
        match self {
            Fields::Json(_) => None,
            Fields::Xml(e) => Some(e.name.as_str()),
        }
    }

    /// Whether the field is present at all (even empty or null).
    pub fn has(&self, name: &str) -> bool {
        match self {
            Fields::Json(m) => m.contains_key(name),
            Fields::Xml(e) => e.attr(name).is_some() || e.child(name).is_some(),
        }
    }

    /// A string field; `null` or absent is `None`. A JSON number or boolean is taken as its
    /// text, as Jackson does for String fields.
    pub fn str(&self, name: &str) -> Result<Option<String>> {
        match self {
            Fields::Json(m) => match m.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Number(n)) => Ok(Some(n.to_string())),
                Some(Value::Bool(b)) => Ok(Some(b.to_string())),
                Some(_) => Err(wrong_type(name, "a string")),
            },
            Fields::Xml(e) => Ok(e
                .attr(name)
                .map(str::to_string)
                .or_else(|| e.child(name).map(|c| c.text.clone()))),
        }
    }

    /// A boolean field: JSON `true`/`false` (or their text), XML text `true`/`false` in any case.
    pub fn bool(&self, name: &str) -> Result<Option<bool>> {
        let text = match self {
            Fields::Json(m) => match m.get(name) {
                None | Some(Value::Null) => return Ok(None),
                Some(Value::Bool(b)) => return Ok(Some(*b)),
                Some(Value::String(s)) => s.clone(),
                Some(_) => return Err(wrong_type(name, "true or false")),
            },
            Fields::Xml(_) => match self.str(name)? {
                None => return Ok(None),
                Some(s) => s,
            },
        };
        match text.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            "" => Ok(None),
            _ => Err(wrong_type(name, "true or false")),
        }
    }

    /// A whole number.
    pub fn int(&self, name: &str) -> Result<Option<i64>> {
        match self {
            Fields::Json(m) => match m.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(n)) => {
                    n.as_i64().map(Some).ok_or_else(|| wrong_type(name, "a whole number"))
                }
                Some(Value::String(s)) => {
                    s.trim().parse().map(Some).map_err(|_| wrong_type(name, "a whole number"))
                }
                Some(_) => Err(wrong_type(name, "a whole number")),
            },
            Fields::Xml(_) => match self.str(name)? {
                None => Ok(None),
                Some(s) if s.trim().is_empty() => Ok(None),
                Some(s) => {
                    s.trim().parse().map(Some).map_err(|_| wrong_type(name, "a whole number"))
                }
            },
        }
    }

    /// A nested object.
    pub fn obj(&self, name: &str) -> Result<Option<Fields<'a>>> {
        match self {
            Fields::Json(m) => match m.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Object(o)) => Ok(Some(Fields::Json(o))),
                Some(_) => Err(wrong_type(name, "an object")),
            },
            Fields::Xml(e) => Ok(e.child(name).map(Fields::Xml)),
        }
    }

    /// A list of objects: the JSON array `json`, or in XML the `item` children of the
    /// `wrapper` child (of this element itself when `wrapper` is `None`).
    pub fn list(&self, json: &str, wrapper: Option<&str>, item: &str) -> Result<Vec<Fields<'a>>> {
        match self {
            Fields::Json(m) => match m.get(json) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|v| {
                        v.as_object()
                            .map(Fields::Json)
                            .ok_or_else(|| wrong_type(json, "a list of objects"))
                    })
                    .collect(),
                Some(_) => Err(wrong_type(json, "a list")),
            },
            Fields::Xml(e) => {
                let holder = match wrapper {
                    Some(w) => match e.child(w) {
                        Some(h) => h,
                        None => return Ok(Vec::new()),
                    },
                    None => e,
                };
                Ok(holder.children.iter().filter(|c| c.name == item).map(Fields::Xml).collect())
            }
        }
    }

    /// Every child object in order, whatever its name (XML), or the array's objects (JSON):
    /// for lists whose items say their own kind, such as nested search restrictions.
    pub fn any_list(&self, json: &str, wrapper: &str) -> Result<Vec<Fields<'a>>> {
        match self {
            Fields::Json(_) => self.list(json, None, ""),
            Fields::Xml(e) => Ok(e
                .child(wrapper)
                .map_or(Vec::new(), |h| h.children.iter().map(Fields::Xml).collect())),
        }
    }

    /// A list of strings: a JSON array of strings, or the texts of XML `item` elements in the
    /// `wrapper` child.
    pub fn str_list(&self, json: &str, wrapper: Option<&str>, item: &str) -> Result<Vec<String>> {
        match self {
            Fields::Json(m) => match m.get(json) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|v| match v {
                        Value::String(s) => Ok(s.clone()),
                        Value::Number(n) => Ok(n.to_string()),
                        Value::Bool(b) => Ok(b.to_string()),
                        _ => Err(wrong_type(json, "a list of strings")),
                    })
                    .collect(),
                Some(_) => Err(wrong_type(json, "a list of strings")),
            },
            Fields::Xml(e) => {
                let holder = match wrapper {
                    Some(w) => match e.child(w) {
                        Some(h) => h,
                        None => return Ok(Vec::new()),
                    },
                    None => e,
                };
                Ok(holder.children_named(item).map(|c| c.text.clone()).collect())
            }
        }
    }

    /// A required string field, non-empty.
    pub fn required(&self, name: &str) -> Result<String> {
        match self.str(name)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(Error::bad_request(format!("'{name}' is required"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::xml;
    use super::*;

    type Attributes = Vec<(String, Vec<String>)>;

    /// The same reader over both spellings of a Crowd user.
    fn read(f: Fields<'_>) -> (String, Option<String>, Option<bool>, Attributes) {
        let name = f.required("name").unwrap();
        let password = f.obj("password").unwrap().and_then(|p| p.str("value").unwrap());
        let active = f.bool("active").unwrap();
        let attrs = f
            .obj("attributes")
            .unwrap()
            .map(|a| {
                a.list("attributes", None, "attribute")
                    .unwrap()
                    .into_iter()
                    .map(|x| {
                        (
                            x.required("name").unwrap(),
                            x.str_list("values", Some("values"), "value").unwrap(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        (name, password, active, attrs)
    }

    #[test]
    fn json_and_xml_read_alike() {
        let json: Value = serde_json::from_str(
            r#"{"name":"bob","password":{"value":"pw"},"active":true,
                "attributes":{"attributes":[{"name":"k","values":["a","b"]}]}}"#,
        )
        .unwrap();
        let from_json = read(Fields::Json(json.as_object().unwrap()));
        let el = xml::parse(
            br#"<user name="bob"><password><value>pw</value></password><active>TRUE</active>
                <attributes><attribute name="k"><values><value>a</value><value>b</value></values></attribute></attributes></user>"#,
        )
        .unwrap();
        let from_xml = read(Fields::Xml(&el));
        assert_eq!(from_json, from_xml);
        assert_eq!(from_json.0, "bob");
        assert_eq!(from_json.3, vec![("k".to_string(), vec!["a".to_string(), "b".to_string()])]);
    }

    #[test]
    fn wrong_types_are_named() {
        let json: Value = serde_json::from_str(r#"{"name":["x"],"active":"maybe"}"#).unwrap();
        let f = Fields::Json(json.as_object().unwrap());
        assert!(f.str("name").unwrap_err().to_string().contains("'name'"));
        assert!(f.bool("active").is_err());
        assert!(f.required("missing").is_err());
    }
}
