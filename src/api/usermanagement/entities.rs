//! Crowd's usermanagement entities, each built once as a [`Obj`] and rendered as JSON or XML
//! (crowd-rest-common `UserEntity`, `GroupEntity`, `UserEntityList`, `GroupEntityList`,
//! `MultiValuedAttributeEntityList`, `SessionEntity`, `CookieConfigEntity`).
//!
//! Field order is Crowd's. In XML `name` and `expand` are attributes of the entity's element
//! and `link` is `<link rel=".." href=".."/>`; lists put their items straight into the list's
//! element (`<users><user name="a"/></users>`), as JAXB's `@XmlElement(name = "user")` does.

use crate::http::body::{Node, Obj};
use crate::http::request::percent_encode_cow;
use crate::store::records::{GroupRecord, UserRecord};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Builds links back into `/rest/usermanagement/1` for the base URL the caller used, and
/// writes names as the caller's application wants them.
pub struct Links<'a> {
    pub base: &'a str,
    /// The application's "lowercase output": every user and group name it is given is lower
    /// case (https://confluence.atlassian.com/crowd/configuring-the-application-options-229740229.html).
    pub lowercase: bool,
}

impl<'a> Links<'a> {
    /// A user or group name as the application sees it.
    pub fn name(&self, name: &'a str) -> Cow<'a, str> {
        if self.lowercase && name.chars().any(char::is_uppercase) {
            Cow::Owned(crate::store::directory::fold(name))
        } else {
            Cow::Borrowed(name)
        }
    }

    /// `{base}{path}{encoded name}`, written out only when rendered.
    pub fn to(&self, path: &'static str, name: &'a str, rel: &'static str) -> Obj<'a> {
        let encoded = match self.name(name) {
            Cow::Borrowed(n) => percent_encode_cow(n),
            Cow::Owned(n) => Cow::Owned(crate::http::request::percent_encode(&n)),
        };
        let href = Node::Join(Cow::Borrowed(self.base), path, encoded);
        Obj::with_capacity(2).attr("rel", rel).attr("href", href)
    }

    pub fn user(&self, name: &'a str) -> Obj<'a> {
        self.to("/user?username=", name, "self")
    }

    /// A `Location`: `{base}{path}?k=v&…`, each value a name as the application sees it
    /// (lower case under "lowercase output", like every name it is given), percent-encoded.
    pub fn location(&self, path: &str, names: &[(&str, &str)]) -> String {
        let mut out = format!("{}{path}", self.base);
        for (i, (key, name)) in names.iter().enumerate() {
            out.push(if i == 0 { '?' } else { '&' });
            out.push_str(key);
            out.push('=');
            out.push_str(&crate::http::request::percent_encode(&self.name(name)));
        }
        out
    }

    pub fn group(&self, name: &'a str) -> Obj<'a> {
        self.to("/group?groupname=", name, "self")
    }
}

/// `{"attributes":[{"name","values":[..]}],"link":..}`; XML `<attributes><link/><attribute
/// name="k"><values><value>v</value></values></attribute></attributes>`.
pub fn attributes<'a>(
    self_link: Obj<'a>,
    attributes: &'a BTreeMap<String, Vec<String>>,
) -> Obj<'a> {
    let items = attributes
        .iter()
        .map(|(name, values)| {
            Obj::new()
                .attr("name", name.as_str())
                .wrapped("values", "value", values.iter().map(|v| v.as_str().into()).collect())
                .into()
        })
        .collect();
    Obj::new().elem("link", self_link).items("attributes", "attribute", items)
}

/// The user's attribute list, with its link.
pub fn user_attributes<'a>(links: &Links<'a>, u: &'a UserRecord) -> Obj<'a> {
    attributes(links.to("/user/attribute?username=", &u.name, "self"), &u.attributes)
}

pub fn group_attributes<'a>(links: &Links<'a>, g: &'a GroupRecord) -> Obj<'a> {
    attributes(links.to("/group/attribute?groupname=", &g.name, "self"), &g.attributes)
}

/// A whole UserEntity. Crowd fills `directory-id`/`directory-name` in 5.x and later; the
/// password is only ever a link.
pub fn user<'a>(
    links: &Links<'a>,
    u: &'a UserRecord,
    directory_name: &'a str,
    with_attributes: bool,
) -> Obj<'a> {
    let password =
        Obj::with_capacity(1).elem("link", links.to("/user/password?username=", &u.name, "edit"));
    Obj::with_capacity(16)
        .attr("expand", "attributes")
        .elem("link", links.user(&u.name))
        .attr("name", Node::Str(links.name(&u.name)))
        .elem("key", u.key.as_str())
        .elem("first-name", u.first_name.as_str())
        .elem("last-name", u.last_name.as_str())
        .elem("display-name", u.display_name.as_str())
        .elem("email", u.email.as_str())
        .elem("password", password)
        .elem("active", u.active)
        .date("created-date", u.created)
        .date("updated-date", u.updated)
        .elem("directory-id", u.directory_id)
        .elem("directory-name", directory_name)
        .elem_opt("attributes", with_attributes.then(|| user_attributes(links, u)))
}

/// A list item without expansion: only the link and the name (UserEntity.newMinimalUserEntity).
pub fn minimal_user<'a>(links: &Links<'a>, name: &'a str) -> Obj<'a> {
    Obj::new().elem("link", links.user(name)).attr("name", Node::Str(links.name(name)))
}

pub fn group<'a>(links: &Links<'a>, g: &'a GroupRecord, with_attributes: bool) -> Obj<'a> {
    Obj::with_capacity(7)
        .attr("expand", "attributes")
        .elem("link", links.group(&g.name))
        .attr("name", Node::Str(links.name(&g.name)))
        .elem("description", g.description.as_str())
        .elem("type", g.kind.as_str())
        .elem("active", g.active)
        .elem_opt("attributes", with_attributes.then(|| group_attributes(links, g)))
}

pub fn minimal_group<'a>(links: &Links<'a>, name: &'a str) -> Obj<'a> {
    Obj::new().elem("link", links.group(name)).attr("name", Node::Str(links.name(name)))
}

/// `{"expand":"user","users":[..]}`; XML `<users expand="user"><user ../></users>`.
pub fn user_list(items: Vec<Node<'_>>) -> Obj<'_> {
    Obj::new().attr("expand", "user").items("users", "user", items)
}

pub fn group_list(items: Vec<Node<'_>>) -> Obj<'_> {
    Obj::new().attr("expand", "group").items("groups", "group", items)
}

/// The `expand` query parameter, comma separated (`user`, `group`, `attributes`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Expand {
    pub user: bool,
    pub group: bool,
    pub attributes: bool,
}

impl Expand {
    pub fn parse(v: Option<&str>) -> Expand {
        let mut e = Expand::default();
        for part in v.unwrap_or("").split(',').map(str::trim) {
            match part {
                "user" => e.user = true,
                "group" => e.group = true,
                "attributes" => e.attributes = true,
                _ => {}
            }
        }
        e
    }
}
