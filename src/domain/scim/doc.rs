//! Reading a resource a client wrote (a POST or PUT body, or the result of a PATCH) against
//! the schemas (`schema`): names put in their schema's case, each value of its declared type,
//! read-only attributes dropped (RFC 7643 §7: the server ignores them), unknown attributes
//! ignored, unknown schema URNs refused, and the password taken out (it becomes the user's
//! password, and is never kept in the document nor returned).

use super::schema::{find, Attr, Mutability, ResourceType, Type};
use crate::error::{Error, Result, ScimType};
use serde_json::{Map, Value};

/// A resource as read: the document to keep, and the password it set, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Cleaned {
    pub doc: Map<String, Value>,
    pub password: Option<String>,
}

fn invalid(why: impl Into<String>) -> Error {
    Error::Scim(ScimType::InvalidValue, why.into())
}

/// The longest string value kept; names and ids are far shorter, a certificate is longer.
const MAX_STRING: usize = 64 * 1024;
/// Most values of one multi-valued attribute.
const MAX_VALUES: usize = 1000;
/// Most members a group's request may list: members are memberships, not document, and a
/// group such as "all employees" is large. The body limit (`--max-body`) bounds it too.
const MAX_MEMBERS: usize = 1_000_000;

/// Reads `input` as a resource of `rt`. `schemas` must be there, name the core schema, and
/// name nothing this resource type does not have.
pub fn clean(rt: &ResourceType, input: &Value) -> Result<Cleaned> {
    let Some(obj) = input.as_object() else {
        return Err(Error::Scim(ScimType::InvalidSyntax, "the body must be a JSON object".into()));
    };
    let schemas = obj
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("schemas"))
        .map(|(_, v)| v)
        .ok_or_else(|| invalid(format!("schemas is required, naming {}", rt.core.id)))?;
    let schemas = schemas
        .as_array()
        .filter(|a| a.iter().all(Value::is_string))
        .ok_or_else(|| invalid("schemas must be an array of URNs"))?;
    let mut has_core = false;
    for urn in schemas.iter().filter_map(Value::as_str) {
        if urn.eq_ignore_ascii_case(rt.core.id) {
            has_core = true;
        } else if rt.extension(urn).is_none() {
            return Err(invalid(format!("schema '{urn}' is not one of this resource type")));
        }
    }
    if !has_core {
        return Err(invalid(format!("schemas must name {}", rt.core.id)));
    }
    let mut out = Cleaned { doc: Map::new(), password: None };
    for (key, value) in obj {
        if ["schemas", "id", "meta"].iter().any(|k| key.eq_ignore_ascii_case(k)) {
            continue;
        }
        if key.eq_ignore_ascii_case("externalId") {
            match value {
                Value::Null => {}
                Value::String(s) if s.len() <= MAX_STRING => {
                    out.doc.insert("externalId".into(), Value::String(s.clone()));
                }
                _ => return Err(invalid("externalId must be a string")),
            }
            continue;
        }
        if let Some(ext) = rt.extension(key) {
            let Some(fields) = value.as_object() else {
                if value.is_null() {
                    continue;
                }
                return Err(invalid(format!("{} must be an object", ext.id)));
            };
            let mut cleaned = Map::new();
            for (k, v) in fields {
                if k.eq_ignore_ascii_case("schemas") {
                    continue;
                }
                if let Some(attr) = find(ext.attrs, k) {
                    if let Some(v) = attribute(attr, v)? {
                        cleaned.insert(attr.name.into(), v);
                    }
                }
            }
            if !cleaned.is_empty() {
                out.doc.insert(ext.id.into(), Value::Object(cleaned));
            }
            continue;
        }
        // A core attribute may be written with the core URN before it (RFC 7644 §3.10).
        let core = rt.core.id.len();
        let name = match key.get(..core) {
            Some(p)
                if p.eq_ignore_ascii_case(rt.core.id)
                    && key.as_bytes().get(core) == Some(&b':') =>
            {
                &key[core + 1..]
            }
            _ => key.as_str(),
        };
        let Some(attr) = find(rt.core.attrs, name) else {
            continue;
        };
        if attr.mutability == Mutability::WriteOnly && attr.name == "password" {
            match value {
                Value::Null => {}
                Value::String(p) if !p.is_empty() && p.len() <= 1024 => {
                    out.password = Some(p.clone())
                }
                _ => return Err(invalid("password must be a string of 1 to 1024 bytes")),
            }
            continue;
        }
        if let Some(v) = attribute(attr, value)? {
            out.doc.insert(attr.name.into(), v);
        }
    }
    for attr in rt.core.attrs.iter().filter(|a| a.required) {
        if !out.doc.contains_key(attr.name) {
            return Err(invalid(format!("{} is required", attr.name)));
        }
    }
    Ok(out)
}

/// One attribute's value, checked; `None` when there is nothing to keep (null, empty, or an
/// attribute the client may not write).
pub fn attribute(attr: &Attr, value: &Value) -> Result<Option<Value>> {
    if attr.mutability == Mutability::ReadOnly || value.is_null() {
        return Ok(None);
    }
    if !attr.multi {
        return single(attr, value);
    }
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        // One value where a list belongs: some clients send it so.
        other => vec![other],
    };
    let most = if attr.name == "members" { MAX_MEMBERS } else { MAX_VALUES };
    if items.len() > most {
        return Err(invalid(format!("{} holds at most {most} values", attr.name)));
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if let Some(v) = single(attr, item)? {
            out.push(v);
        }
    }
    let primaries = out.iter().filter(|v| v.get("primary") == Some(&Value::Bool(true))).count();
    if primaries > 1 {
        return Err(invalid(format!("{} may have one primary value, not {primaries}", attr.name)));
    }
    Ok((!out.is_empty()).then_some(Value::Array(out)))
}

fn single(attr: &Attr, value: &Value) -> Result<Option<Value>> {
    let wrong = || invalid(format!("{} must be {}", attr.name, type_name(attr.kind)));
    Ok(match attr.kind {
        Type::String | Type::Reference | Type::Binary => match value {
            Value::String(s) if s.len() <= MAX_STRING => Some(value.clone()),
            Value::String(_) => return Err(invalid(format!("{} is too long", attr.name))),
            Value::Null => None,
            _ => return Err(wrong()),
        },
        Type::Boolean => match value {
            Value::Bool(_) => Some(value.clone()),
            // Microsoft Entra sends "True"/"False" as strings in PATCH requests.
            Value::String(s) if s.eq_ignore_ascii_case("true") => Some(Value::Bool(true)),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Some(Value::Bool(false)),
            Value::Null => None,
            _ => return Err(wrong()),
        },
        Type::Integer => match value {
            Value::Number(n) if n.is_i64() => Some(value.clone()),
            Value::Null => None,
            _ => return Err(wrong()),
        },
        Type::Complex => {
            let Some(fields) = value.as_object() else {
                return Err(wrong());
            };
            let mut out = Map::new();
            for (k, v) in fields {
                if let Some(sub) = find(attr.sub, k) {
                    if let Some(v) =
                        single(sub, v)?.filter(|_| sub.mutability != Mutability::ReadOnly)
                    {
                        out.insert(sub.name.into(), v);
                    }
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
    })
}

fn type_name(t: Type) -> &'static str {
    match t {
        Type::String => "a string",
        Type::Reference => "a URI string",
        Type::Binary => "a base64 string",
        Type::Boolean => "true or false",
        Type::Integer => "a whole number",
        Type::Complex => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::super::schema::{ENTERPRISE, GROUPS, USER, USERS};
    use super::*;
    use serde_json::json;

    #[test]
    fn a_user_is_read_in_the_schemas_case_without_read_only_or_unknown_attributes() {
        let input = json!({
            "schemas": [USER, ENTERPRISE],
            "id": "x", "meta": {"created": "now"}, "USERNAME": "bjensen", "externalId": "e-1",
            "name": {"GivenName": "Barbara", "bogus": 1}, "active": "False",
            "emails": [{"value": "b@example.com", "primary": true, "type": "work"}],
            "groups": [{"value": "g"}], "password": "s3cret", "nonsense": true,
            ENTERPRISE: {"schemas": [ENTERPRISE], "employeeNumber": "7", "manager": {"value": "m", "displayName": "ro"}},
        });
        let c = clean(&USERS, &input).unwrap();
        assert_eq!(c.password.as_deref(), Some("s3cret"));
        assert_eq!(
            Value::Object(c.doc),
            json!({
                "userName": "bjensen", "externalId": "e-1", "name": {"givenName": "Barbara"},
                "active": false,
                "emails": [{"value": "b@example.com", "primary": true, "type": "work"}],
                ENTERPRISE: {"employeeNumber": "7", "manager": {"value": "m"}},
            })
        );
    }

    #[test]
    fn bad_resources_are_refused_with_their_scim_type() {
        let cases = [
            json!([1]),
            json!({"userName": "a"}),
            json!({"schemas": [USER, "urn:example:unknown"], "userName": "a"}),
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "userName": "a"}),
            json!({"schemas": [USER]}),
            json!({"schemas": [USER], "userName": 7}),
            json!({"schemas": [USER], "userName": "a", "active": "maybe"}),
            json!({"schemas": [USER], "userName": "a", "name": "Barbara"}),
            json!({"schemas": [USER], "userName": "a", "emails": [{"value": "x", "primary": true}, {"value": "y", "primary": true}]}),
        ];
        for input in cases {
            let e = clean(&USERS, &input).unwrap_err();
            assert!(matches!(e, Error::Scim(..)), "{input}: {e:?}");
        }
        let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "g", "members": [{"value": "u", "display": "dropped"}]});
        assert_eq!(clean(&GROUPS, &group).unwrap().doc["members"], json!([{"value": "u"}]));
    }
}
