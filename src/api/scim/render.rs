//! SCIM resources as JSON (RFC 7643 §4, §3.1 `meta`), the projection `attributes` and
//! `excludedAttributes` ask for (RFC 7644 §3.9), and list responses (§3.4.2).

use crate::domain::clock::rfc3339_ms;
use crate::domain::scim::resources::version;
use crate::domain::scim::schema::{self, ATLASSIAN, ENTERPRISE, GROUP, USER};
use crate::store::directory::scim::{Ref, ScimGroup, ScimUser};
use crate::store::records::{ScimKind, ScimResourceRecord};
use serde_json::{json, Map, Value};

pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// Where a directory's resources are: `{base}/scim/directory/{id}`.
pub struct Base<'a>(pub &'a str);

impl Base<'_> {
    pub fn location(&self, kind: ScimKind, id: &str) -> String {
        match kind {
            ScimKind::User => format!("{}/Users/{id}", self.0),
            ScimKind::Group => format!("{}/Groups/{id}", self.0),
        }
    }
}

fn meta(
    base: &Base<'_>,
    kind: ScimKind,
    id: &str,
    res: &ScimResourceRecord,
    updated: u64,
) -> Value {
    let resource_type = match kind {
        ScimKind::User => "User",
        ScimKind::Group => "Group",
    };
    json!({
        "resourceType": resource_type,
        "created": rfc3339_ms(res.created),
        "lastModified": rfc3339_ms(res.modified.max(updated)),
        "location": base.location(kind, id),
        "version": version(res),
    })
}

fn reference(base: &Base<'_>, r: &Ref) -> Value {
    match r.kind {
        ScimKind::User => {
            json!({ "value": r.id, "$ref": base.location(r.kind, &r.id), "type": "User" })
        }
        ScimKind::Group => {
            json!({ "value": r.id, "$ref": base.location(r.kind, &r.id), "type": "Group" })
        }
    }
}

/// Atlassian's account id for a user: stable (from its key, which follows renames), 24 hex
/// digits as Atlassian's are.
fn account_id(key: &str) -> String {
    crate::crypto::hex(&crate::crypto::sha256(key.as_bytes())[..12])
}

/// A user as SCIM answers it; `atlassian` adds Atlassian's extension.
pub fn user(base: &Base<'_>, u: &ScimUser, atlassian: bool) -> Value {
    let mut out = Map::new();
    let mut schemas = vec![json!(USER)];
    if u.res.doc.contains_key(ENTERPRISE) {
        schemas.push(json!(ENTERPRISE));
    }
    if atlassian {
        schemas.push(json!(ATLASSIAN));
    }
    out.insert("schemas".into(), Value::Array(schemas));
    out.insert("id".into(), json!(u.id));
    out.extend(u.res.doc.clone());
    if !u.groups.is_empty() {
        let groups = u.groups.iter().map(|g| {
            let mut r = reference(base, g);
            r["display"] = json!(g.name);
            r["type"] = json!("direct");
            r
        });
        out.insert("groups".into(), Value::Array(groups.collect()));
    }
    if atlassian {
        out.insert(ATLASSIAN.into(), json!({ "atlassianAccountId": account_id(&u.user.key) }));
    }
    out.insert("meta".into(), meta(base, ScimKind::User, &u.id, &u.res, u.user.updated));
    Value::Object(out)
}

/// A group as SCIM answers it, with its direct members.
pub fn group(base: &Base<'_>, g: &ScimGroup) -> Value {
    let mut out = Map::new();
    out.insert("schemas".into(), json!([GROUP]));
    out.insert("id".into(), json!(g.id));
    out.extend(g.res.doc.clone());
    if !g.members.is_empty() {
        out.insert("members".into(), g.members.iter().map(|m| reference(base, m)).collect());
    }
    out.insert("meta".into(), meta(base, ScimKind::Group, &g.id, &g.res, g.group.updated));
    Value::Object(out)
}

/// Which attributes an answer holds (RFC 7644 §3.9).
#[derive(Debug, Clone, Default)]
pub struct Projection {
    /// `attributes`: only these (and what is always returned).
    pub only: Vec<String>,
    /// `excludedAttributes`: all but these.
    pub except: Vec<String>,
}

impl Projection {
    pub fn parse(attributes: Option<&str>, excluded: Option<&str>) -> Projection {
        let list = |v: Option<&str>| -> Vec<String> {
            v.unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        };
        Projection { only: list(attributes), except: list(excluded) }
    }

    /// `resource` with only the attributes asked for: `schemas` and `id` always stay.
    pub fn apply(&self, mut resource: Value) -> Value {
        let Some(obj) = resource.as_object_mut() else {
            return resource;
        };
        let urns = [USER, GROUP, ENTERPRISE, ATLASSIAN];
        if !self.only.is_empty() {
            let mut kept = Map::new();
            for (k, v) in obj.iter() {
                if k == "schemas" || k == "id" {
                    kept.insert(k.clone(), v.clone());
                    continue;
                }
                if let Some(v) = pick(k, v, &self.only, &urns) {
                    kept.insert(k.clone(), v);
                }
            }
            *obj = kept;
        }
        for name in &self.except {
            drop_attr(obj, name, &urns);
        }
        resource
    }
}

/// Splits `urn:…:attr.sub` into the schema it names (if any), the attribute and the
/// sub-attribute.
fn split<'a>(name: &'a str, urns: &[&'a str]) -> (Option<&'a str>, &'a str, Option<&'a str>) {
    let (urn, rest) = match urns.iter().find(|u| {
        name.len() > u.len()
            && name.get(..u.len()).is_some_and(|p| p.eq_ignore_ascii_case(u))
            && name.as_bytes()[u.len()] == b':'
    }) {
        Some(u) => (Some(*u), &name[u.len() + 1..]),
        None => match urns.iter().find(|u| name.eq_ignore_ascii_case(u)) {
            Some(u) => return (Some(u), "", None),
            None => (None, name),
        },
    };
    match rest.split_once('.') {
        Some((a, s)) => (urn, a, Some(s)),
        None => (urn, rest, None),
    }
}

/// What of attribute `key` (value `v`) the `only` list keeps.
fn pick(key: &str, v: &Value, only: &[String], urns: &[&str]) -> Option<Value> {
    let is_ext = urns[2..].iter().any(|u| u.eq_ignore_ascii_case(key));
    let mut whole = false;
    let mut subs: Vec<&str> = Vec::new();
    for name in only {
        let (urn, attr, sub) = split(name, urns);
        let core_urn = urn.is_none_or(|u| u == USER || u == GROUP);
        if is_ext {
            match urn {
                Some(u) if u.eq_ignore_ascii_case(key) && attr.is_empty() => whole = true,
                Some(u) if u.eq_ignore_ascii_case(key) => subs.push(attr),
                _ => {}
            }
        } else if core_urn && attr.eq_ignore_ascii_case(key) {
            match sub {
                None => whole = true,
                Some(s) => subs.push(s),
            }
        }
    }
    if whole {
        return Some(v.clone());
    }
    if subs.is_empty() {
        return None;
    }
    let keep = |o: &Map<String, Value>| -> Map<String, Value> {
        o.iter()
            .filter(|(k, _)| subs.iter().any(|s| s.eq_ignore_ascii_case(k)))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    match v {
        Value::Object(o) => Some(Value::Object(keep(o))),
        Value::Array(items) => Some(Value::Array(
            items
                .iter()
                .map(|i| i.as_object().map_or(i.clone(), |o| Value::Object(keep(o))))
                .collect(),
        )),
        other => Some(other.clone()),
    }
}

fn drop_attr(obj: &mut Map<String, Value>, name: &str, urns: &[&str]) {
    let (urn, attr, sub) = split(name, urns);
    let holder = match urn {
        Some(u) if u != USER && u != GROUP => {
            if attr.is_empty() {
                obj.retain(|k, _| !k.eq_ignore_ascii_case(u));
                return;
            }
            match obj
                .iter_mut()
                .find(|(k, _)| k.eq_ignore_ascii_case(u))
                .and_then(|(_, v)| v.as_object_mut())
            {
                Some(h) => h,
                None => return,
            }
        }
        _ => obj,
    };
    if ["id", "schemas"].iter().any(|k| attr.eq_ignore_ascii_case(k)) {
        return;
    }
    match sub {
        None => holder.retain(|k, _| !k.eq_ignore_ascii_case(attr)),
        Some(s) => {
            if let Some((_, v)) = holder.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(attr)) {
                match v {
                    Value::Object(o) => o.retain(|k, _| !k.eq_ignore_ascii_case(s)),
                    Value::Array(items) => {
                        for i in items.iter_mut().filter_map(Value::as_object_mut) {
                            i.retain(|k, _| !k.eq_ignore_ascii_case(s));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

/// A ListResponse of `resources`, the page from `start_index` (1-based) of `total`.
pub fn list(total: usize, start_index: usize, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

/// A schema as `/Schemas` answers it (RFC 7643 §7).
pub fn schema_resource(base: &str, s: &schema::Schema) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": s.id,
        "name": s.name,
        "description": s.description,
        "attributes": s.attrs.iter().map(attribute).collect::<Vec<_>>(),
        "meta": { "resourceType": "Schema", "location": format!("{base}/Schemas/{}", s.id) },
    })
}

fn attribute(a: &schema::Attr) -> Value {
    use schema::{Mutability, Returned, Type};
    let kind = match a.kind {
        Type::String => "string",
        Type::Boolean => "boolean",
        Type::Integer => "integer",
        Type::Complex => "complex",
        Type::Reference => "reference",
        Type::Binary => "binary",
    };
    let mut out = json!({
        "name": a.name,
        "type": kind,
        "multiValued": a.multi,
        "description": a.description,
        "required": a.required,
        "caseExact": a.case_exact,
        "mutability": match a.mutability {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        },
        "returned": match a.returned {
            Returned::Always => "always",
            Returned::Default => "default",
            Returned::Never => "never",
        },
        "uniqueness": if a.unique { "server" } else { "none" },
    });
    if !a.sub.is_empty() {
        out["subAttributes"] = a.sub.iter().map(attribute).collect();
    }
    if !a.canonical.is_empty() {
        out["canonicalValues"] = json!(a.canonical);
    }
    if !a.refs.is_empty() {
        out["referenceTypes"] = json!(a.refs);
    }
    out
}

/// A resource type as `/ResourceTypes` answers it (RFC 7643 §6).
pub fn resource_type(base: &str, rt: &schema::ResourceType) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": rt.id,
        "name": rt.id,
        "endpoint": rt.endpoint,
        "description": rt.core.description,
        "schema": rt.core.id,
        "schemaExtensions": rt.extensions.iter().map(|e| json!({"schema": e.id, "required": false})).collect::<Vec<_>>(),
        "meta": { "resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{}", rt.id) },
    })
}
