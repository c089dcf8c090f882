//! PATCH (RFC 7644 §3.5.2) on a resource's document: `add`, `replace` and `remove`, in any
//! case (Microsoft Entra writes `Add`), with a path or without one (the value then holds the
//! attributes), paths with a value filter and a sub-attribute (`emails[type eq "work"].value`,
//! `members[value eq "…"]`), and extension paths, the bare URN included. The operations apply
//! in order to a copy; the caller then reads the result as a PUT body (`doc::clean`), so a
//! PATCH can never store what a PUT could not.

use super::doc::attribute;
use super::filter::{matches, parse_path, Filter, Op, Path};
use super::schema::{find, Attr, Mutability, ResourceType, Schema, EXTERNAL_ID};
use crate::error::{Error, Result, ScimType};
use serde_json::{Map, Value};

pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Most operations in one request.
pub const MAX_OPERATIONS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Add,
    Replace,
    Remove,
}

/// What a PATCH did beside the document.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Patched {
    /// It removed the password.
    pub password_removed: bool,
}

fn scim(t: ScimType, why: impl Into<String>) -> Error {
    Error::Scim(t, why.into())
}

/// Applies the PatchOp `body` to `doc` (the resource's attributes, canonical names, with
/// computed ones such as a group's `members` filled in).
pub fn apply(rt: &ResourceType, doc: &mut Map<String, Value>, body: &Value) -> Result<Patched> {
    let Some(obj) = body.as_object() else {
        return Err(scim(ScimType::InvalidSyntax, "the body must be a JSON object"));
    };
    let get = |name: &str| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v);
    let is_patch = get("schemas").and_then(Value::as_array).is_some_and(|s| {
        s.iter().any(|u| u.as_str().is_some_and(|u| u.eq_ignore_ascii_case(PATCH_OP)))
    });
    if !is_patch {
        return Err(scim(ScimType::InvalidValue, format!("schemas must be [\"{PATCH_OP}\"]")));
    }
    let Some(ops) = get("Operations").and_then(Value::as_array) else {
        return Err(scim(ScimType::InvalidValue, "Operations must be an array of operations"));
    };
    if ops.is_empty() || ops.len() > MAX_OPERATIONS {
        return Err(scim(
            ScimType::InvalidValue,
            format!("Operations holds 1 to {MAX_OPERATIONS} operations"),
        ));
    }
    let mut out = Patched::default();
    let urns: Vec<&str> =
        std::iter::once(rt.core.id).chain(rt.extensions.iter().map(|s| s.id)).collect();
    for op in ops {
        let Some(op) = op.as_object() else {
            return Err(scim(ScimType::InvalidSyntax, "each operation is an object"));
        };
        let field =
            |name: &str| op.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v);
        let kind = match field("op").and_then(Value::as_str).map(str::to_ascii_lowercase).as_deref()
        {
            Some("add") => Kind::Add,
            Some("replace") => Kind::Replace,
            Some("remove") => Kind::Remove,
            _ => return Err(scim(ScimType::InvalidValue, "op must be add, replace or remove")),
        };
        let value = field("value").filter(|v| !v.is_null());
        let path = match field("path") {
            None | Some(Value::Null) => None,
            Some(Value::String(p)) if p.trim().is_empty() => None,
            Some(Value::String(p)) => Some(parse_path(p, &urns)?),
            Some(_) => return Err(scim(ScimType::InvalidPath, "path must be a string")),
        };
        match (path, kind) {
            (None, Kind::Remove) => {
                return Err(scim(ScimType::NoTarget, "remove needs a path"));
            }
            (None, _) => {
                let Some(Value::Object(fields)) = value else {
                    return Err(scim(
                        ScimType::InvalidValue,
                        "without a path, value must be an object of attributes",
                    ));
                };
                for (key, v) in fields {
                    // Okta's rename sends the group's `id` beside its new `displayName`; what
                    // a client may not write is ignored here, as in a PUT body.
                    if ["schemas", "id", "meta"].iter().any(|k| key.eq_ignore_ascii_case(k)) {
                        continue;
                    }
                    let path = parse_path(key, &urns)?;
                    one(rt, doc, kind, &path, Some(v), &mut out)?;
                }
            }
            (Some(path), _) => one(rt, doc, kind, &path, value, &mut out)?,
        }
    }
    Ok(out)
}

/// Where a path points: the schema holding the attribute (the core's or an extension's), and
/// the attribute, or the whole extension when `attr` is `None`.
fn resolve<'a>(
    rt: &'a ResourceType,
    path: &Path,
) -> Result<(Option<&'a Schema>, Option<&'a Attr>)> {
    let ext = match &path.urn {
        Some(u) if !u.eq_ignore_ascii_case(rt.core.id) => rt.extension(u),
        _ => None,
    };
    if path.attr.is_empty() {
        return match ext {
            Some(schema) => Ok((Some(schema), None)),
            None => {
                Err(scim(ScimType::InvalidPath, "a path naming the core schema needs an attribute"))
            }
        };
    }
    if ext.is_none() && ["id", "meta", "schemas"].iter().any(|a| path.attr.eq_ignore_ascii_case(a))
    {
        return Err(scim(ScimType::Mutability, format!("{} is read-only", path.attr)));
    }
    if ext.is_none() && path.attr.eq_ignore_ascii_case("externalId") {
        return Ok((None, Some(&EXTERNAL_ID)));
    }
    let attrs = ext.map_or(rt.core.attrs, |s| s.attrs);
    let attr = find(attrs, &path.attr).ok_or_else(|| {
        scim(ScimType::InvalidPath, format!("'{}' is not an attribute of this resource", path.attr))
    })?;
    Ok((ext, Some(attr)))
}

fn one(
    rt: &ResourceType,
    doc: &mut Map<String, Value>,
    kind: Kind,
    path: &Path,
    value: Option<&Value>,
    out: &mut Patched,
) -> Result<()> {
    let (ext, attr) = resolve(rt, path)?;
    let Some(attr) = attr else {
        // The whole extension: its value is an object of its attributes.
        let ext = ext.expect("resolved to an extension");
        return match kind {
            Kind::Remove => {
                doc.remove(ext.id);
                Ok(())
            }
            _ => {
                let Some(Value::Object(fields)) = value else {
                    return Err(scim(
                        ScimType::InvalidValue,
                        format!("{} takes an object", ext.id),
                    ));
                };
                // RFC 7644 §3.5.2.3: sub-attributes the value leaves out stay as they are.
                for (k, v) in fields {
                    if k.eq_ignore_ascii_case("schemas") {
                        continue;
                    }
                    let sub =
                        Path { attr: k.clone(), urn: Some(ext.id.into()), filter: None, sub: None };
                    one(rt, doc, kind, &sub, Some(v), out)?;
                }
                Ok(())
            }
        };
    };
    if attr.mutability == Mutability::ReadOnly {
        return Err(scim(ScimType::Mutability, format!("{} is read-only", attr.name)));
    }
    let sub = match &path.sub {
        Some(s) => {
            let sub = find(attr.sub, s).ok_or_else(|| {
                scim(
                    ScimType::InvalidPath,
                    format!("'{s}' is not a sub-attribute of {}", attr.name),
                )
            })?;
            if sub.mutability == Mutability::ReadOnly {
                return Err(scim(
                    ScimType::Mutability,
                    format!("{}.{} is read-only", attr.name, sub.name),
                ));
            }
            Some(sub)
        }
        None => None,
    };
    if path.filter.is_some() && !attr.multi {
        return Err(scim(
            ScimType::InvalidPath,
            format!("{} has one value: it takes no filter", attr.name),
        ));
    }
    if attr.name == "password" {
        match kind {
            Kind::Remove => {
                out.password_removed = true;
                doc.remove("password");
            }
            _ => {
                doc.insert("password".into(), value.cloned().unwrap_or(Value::Null));
            }
        }
        return Ok(());
    }
    if kind == Kind::Remove && attr.required && path.filter.is_none() && sub.is_none() {
        return Err(scim(
            ScimType::Mutability,
            format!("{} is required and cannot be removed", attr.name),
        ));
    }
    // The object that holds the attribute: the document, or the extension's object in it.
    let holder: &mut Map<String, Value> = match ext {
        None => doc,
        Some(schema) => {
            let slot = doc.entry(schema.id).or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            slot.as_object_mut().expect("made an object")
        }
    };
    let result = change(holder, attr, sub, path.filter.as_ref(), kind, value);
    if let Some(schema) = ext {
        if doc.get(schema.id).and_then(Value::as_object).is_some_and(Map::is_empty) {
            doc.remove(schema.id);
        }
    }
    result
}

/// The attribute `attr` of `holder` after `kind` with `value`.
fn change(
    holder: &mut Map<String, Value>,
    attr: &Attr,
    sub: Option<&Attr>,
    filter: Option<&Filter>,
    kind: Kind,
    value: Option<&Value>,
) -> Result<()> {
    let name = attr.name;
    let needs_value =
        || scim(ScimType::InvalidValue, format!("{kind:?} on {name} needs a value").to_lowercase());
    match (filter, sub) {
        (None, None) => match kind {
            Kind::Remove => {
                match (value, holder.get_mut(name)) {
                    // `remove members` with the members to remove as its value (Entra's way).
                    (Some(v), Some(Value::Array(items))) if attr.multi => {
                        let gone: Vec<Value> = match v {
                            Value::Array(a) => a.clone(),
                            one => vec![one.clone()],
                        };
                        items.retain(|item| !gone.iter().any(|g| same_value(g, item)));
                        if items.is_empty() {
                            holder.remove(name);
                        }
                    }
                    _ => {
                        holder.remove(name);
                    }
                }
                Ok(())
            }
            Kind::Replace => {
                match (attribute(attr, value.ok_or_else(needs_value)?)?, holder.get_mut(name)) {
                    // A complex attribute's sub-attributes left out of the value stay
                    // (RFC 7644 §3.5.2.3).
                    (Some(Value::Object(more)), Some(Value::Object(fields))) if !attr.multi => {
                        fields.extend(more)
                    }
                    (Some(v), _) => {
                        holder.insert(name.into(), v);
                    }
                    (None, _) => {
                        holder.remove(name);
                    }
                }
                Ok(())
            }
            Kind::Add => {
                let Some(new) = attribute(attr, value.ok_or_else(needs_value)?)? else {
                    return Ok(());
                };
                match (holder.get_mut(name), new) {
                    (Some(Value::Array(items)), Value::Array(more)) => {
                        // RFC 7643 §2.4: a new primary value makes the others not primary.
                        if more.iter().any(is_primary) {
                            demote(items, |_| false);
                        }
                        for m in more {
                            if !items.contains(&m) {
                                items.push(m);
                            }
                        }
                    }
                    (Some(Value::Object(fields)), Value::Object(more)) => fields.extend(more),
                    (_, new) => {
                        holder.insert(name.into(), new);
                    }
                }
                Ok(())
            }
        },
        (None, Some(sub)) => {
            if attr.multi {
                return Err(scim(
                    ScimType::InvalidPath,
                    format!("{name}.{} needs a filter to say which value", sub.name),
                ));
            }
            let object = holder.entry(name).or_insert_with(|| Value::Object(Map::new()));
            let fields = object
                .as_object_mut()
                .ok_or_else(|| scim(ScimType::InvalidPath, format!("{name} is not an object")))?;
            match kind {
                Kind::Remove => {
                    fields.remove(sub.name);
                }
                _ => match attribute(sub, value.ok_or_else(needs_value)?)? {
                    Some(v) => {
                        fields.insert(sub.name.into(), v);
                    }
                    None => {
                        fields.remove(sub.name);
                    }
                },
            }
            if fields.is_empty() {
                holder.remove(name);
            }
            Ok(())
        }
        (Some(filter), sub) => {
            let mut items = match holder.remove(name) {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            };
            let hits: Vec<usize> =
                (0..items.len()).filter(|&i| matches(filter, &items[i])).collect();
            let result = filtered(&mut items, &hits, attr, sub, filter, kind, value);
            if !items.is_empty() {
                holder.insert(name.into(), Value::Array(items));
            }
            result
        }
    }
}

/// A change to the values of a multi-valued attribute that `filter` selects (`hits`).
fn filtered(
    items: &mut Vec<Value>,
    hits: &[usize],
    attr: &Attr,
    sub: Option<&Attr>,
    filter: &Filter,
    kind: Kind,
    value: Option<&Value>,
) -> Result<()> {
    let no_target =
        || scim(ScimType::NoTarget, format!("no value of {} matches the filter", attr.name));
    let needs_value = || scim(ScimType::InvalidValue, format!("{} needs a value", attr.name));
    match (kind, sub) {
        (Kind::Remove, None) => {
            let mut i = 0;
            items.retain(|_| {
                i += 1;
                !hits.contains(&(i - 1))
            });
            Ok(())
        }
        (Kind::Remove, Some(sub)) => {
            for &i in hits {
                if let Some(fields) = items[i].as_object_mut() {
                    fields.remove(sub.name);
                }
            }
            items.retain(|v| v.as_object().is_none_or(|f| !f.is_empty()));
            Ok(())
        }
        (_, Some(sub)) => {
            let v = attribute(sub, value.ok_or_else(needs_value)?)?;
            if hits.is_empty() {
                // `add emails[type eq "work"].value`: no work email yet, so one is made, from
                // the filter's own equalities and the value (Entra adds this way).
                let (Kind::Add, Some(mut made)) = (kind, equalities(filter)) else {
                    return Err(no_target());
                };
                if let Some(v) = v {
                    made.insert(sub.name.into(), v);
                }
                let made = attribute(attr, &Value::Array(vec![Value::Object(made)]))?;
                items.extend(made.and_then(|m| m.as_array().cloned()).unwrap_or_default());
                return Ok(());
            }
            if sub.name == "primary" && v == Some(Value::Bool(true)) {
                demote(items, |i| hits.contains(&i));
            }
            for &i in hits {
                if let Some(fields) = items[i].as_object_mut() {
                    match &v {
                        Some(v) => fields.insert(sub.name.into(), v.clone()),
                        None => fields.remove(sub.name),
                    };
                }
            }
            Ok(())
        }
        (_, None) => {
            if hits.is_empty() {
                return Err(no_target());
            }
            let v = attribute(attr, &Value::Array(vec![value.ok_or_else(needs_value)?.clone()]))?;
            let replacement = v.and_then(|v| v.as_array().and_then(|a| a.first().cloned()));
            if replacement.as_ref().is_some_and(is_primary) {
                demote(items, |i| hits.contains(&i));
            }
            for &i in hits.iter().rev() {
                match (&replacement, kind, items[i].as_object_mut()) {
                    (Some(Value::Object(more)), Kind::Add, Some(fields)) => {
                        fields.extend(more.clone())
                    }
                    (Some(r), _, _) => items[i] = r.clone(),
                    (None, _, _) => {
                        items.remove(i);
                    }
                }
            }
            Ok(())
        }
    }
}

fn is_primary(v: &Value) -> bool {
    v.get("primary") == Some(&Value::Bool(true))
}

/// Sets `primary` false on the values `keep` does not keep.
fn demote(items: &mut [Value], keep: impl Fn(usize) -> bool) {
    for (i, item) in items.iter_mut().enumerate() {
        if keep(i) {
            continue;
        }
        if let Some(fields) =
            item.as_object_mut().filter(|f| f.get("primary") == Some(&Value::Bool(true)))
        {
            fields.insert("primary".into(), Value::Bool(false));
        }
    }
}

/// The `attr eq value` parts of a filter made only of them (joined by `and`), as an object.
fn equalities(filter: &Filter) -> Option<Map<String, Value>> {
    match filter {
        Filter::Compare(a, Op::Eq, v) => Some(Map::from_iter([(a.clone(), v.clone())])),
        Filter::And(a, b) => {
            let mut m = equalities(a)?;
            m.extend(equalities(b)?);
            Some(m)
        }
        _ => None,
    }
}

/// Whether `gone` (a value to remove) names `item`: equal, or the same `value`.
fn same_value(gone: &Value, item: &Value) -> bool {
    gone == item || (gone.get("value").is_some() && gone.get("value") == item.get("value"))
}

#[cfg(test)]
mod tests;
