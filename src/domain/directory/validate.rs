//! What a name, a text field, an e-mail address, a group type or an attribute must be.
//!
//! Every field ends up in Crowd's JSON and XML entities, and XML 1.0 cannot carry most
//! control characters at all, so none are accepted (but tab and line breaks in free text).
//! Lengths are counted in characters, like Crowd's 255-character columns.

use crate::error::{Error, Resource, Result};
use std::collections::BTreeMap;

/// The longest name, text field, attribute name or attribute value.
pub const MAX_LENGTH: usize = 255;
/// Crowd's two group types.
pub const GROUP_TYPES: [&str; 2] = ["GROUP", "LEGACY_ROLE"];

fn invalid(resource: Resource, message: String) -> Error {
    Error::Invalid(resource, message)
}

fn too_long(value: &str) -> bool {
    value.chars().nth(MAX_LENGTH).is_some()
}

/// A user, group or attribute name: not empty, no leading or trailing whitespace, no control
/// characters, at most [`MAX_LENGTH`] characters. `what` names the field in the message.
pub fn name(resource: Resource, what: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(invalid(resource, format!("The {what} must not be empty")));
    }
    if value.trim() != value {
        return Err(invalid(
            resource,
            format!("The {what} <{value}> must not start or end with whitespace"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(resource, format!("The {what} must not contain control characters")));
    }
    if too_long(value) {
        return Err(invalid(
            resource,
            format!("The {what} must be at most {MAX_LENGTH} characters"),
        ));
    }
    Ok(())
}

/// Free text (a first name, a description, an attribute value): at most [`MAX_LENGTH`]
/// characters, no control characters but tab and line breaks. Empty is fine.
pub fn text(resource: Resource, what: &str, value: &str) -> Result<()> {
    if value.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
        return Err(invalid(resource, format!("The {what} must not contain control characters")));
    }
    if too_long(value) {
        return Err(invalid(
            resource,
            format!("The {what} must be at most {MAX_LENGTH} characters"),
        ));
    }
    Ok(())
}

/// An e-mail address, lightly: empty, or one `@` between a local part and a domain, without
/// whitespace. Deliverability is the mail server's business, not ours.
pub fn email(value: &str) -> Result<()> {
    if value.is_empty() {
        return Ok(());
    }
    text(Resource::User, "email address", value)?;
    let well_formed = match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !value.chars().any(char::is_whitespace)
        }
        None => false,
    };
    if !well_formed {
        return Err(invalid(Resource::User, format!("<{value}> is not a valid email address")));
    }
    Ok(())
}

/// A group type: `GROUP` or `LEGACY_ROLE`, as Crowd spells them.
pub fn group_type(value: &str) -> Result<()> {
    if !GROUP_TYPES.contains(&value) {
        return Err(invalid(
            Resource::Group,
            format!("The group type must be GROUP or LEGACY_ROLE, not <{value}>"),
        ));
    }
    Ok(())
}

/// Most attributes an entity keeps; every event about it and every expanded read carries
/// them all, so they are bounded like everything else a client can store.
pub const MAX_ATTRIBUTES: usize = 100;
/// Most values of one attribute.
pub const MAX_VALUES: usize = 100;
/// Longest value, in characters: Crowd's own column is 255 wide (the npm client documents the
/// same limit).
pub const MAX_VALUE_CHARS: usize = 255;

/// Attribute names are names, their values free text, all within the bounds above.
pub fn attributes(resource: Resource, attributes: &BTreeMap<String, Vec<String>>) -> Result<()> {
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(Error::Invalid(
            resource,
            format!("at most {MAX_ATTRIBUTES} attributes, not {}", attributes.len()),
        ));
    }
    for (key, values) in attributes {
        name(resource, "attribute name", key)?;
        if values.len() > MAX_VALUES {
            return Err(Error::Invalid(
                resource,
                format!("attribute <{key}> may have at most {MAX_VALUES} values"),
            ));
        }
        for value in values {
            text(resource, "attribute value", value)?;
            if value.chars().count() > MAX_VALUE_CHARS {
                return Err(Error::Invalid(
                    resource,
                    format!(
                        "a value of attribute <{key}> is longer than {MAX_VALUE_CHARS} characters"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Whether `existing` with `added` merged in stays within [`MAX_ATTRIBUTES`].
pub fn merged_attributes(
    resource: Resource,
    existing: &BTreeMap<String, Vec<String>>,
    added: &BTreeMap<String, Vec<String>>,
) -> Result<()> {
    let total = existing.len() + added.keys().filter(|k| !existing.contains_key(*k)).count();
    if total > MAX_ATTRIBUTES {
        return Err(Error::Invalid(
            resource,
            format!("at most {MAX_ATTRIBUTES} attributes; this would make {total}"),
        ));
    }
    Ok(())
}

/// A new password: anything but empty (an empty one is no credential; clear it instead).
pub fn password(value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(Error::InvalidCredential("The password must not be empty".into()));
    }
    Ok(())
}
