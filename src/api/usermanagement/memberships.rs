//! Memberships: `/user/group/…`, `/group/user/…`, `/group/child-group/…`,
//! `/group/parent-group/…` and the bulk `/group/membership` (crowd-rest-plugin GroupsResource
//! and UsersResource).
//!
//! Crowd's quirks kept here: a group named in the body that does not exist is 400
//! `GROUP_NOT_FOUND` while one named in the query is 404; a membership check for one entity
//! answers it or 404 `MEMBERSHIP_NOT_FOUND` (Atlassian's Java client reads 404 as "not a
//! member", RestCrowdClient.isUserDirectGroupMember); membership changes need the mapping's
//! UPDATE_GROUP, as Crowd's ApplicationServiceGeneric.addUserToGroup requires.

use super::entities::{self, Expand};
use super::Call;
use crate::domain::access::{MappedDirectory, Operation};
use crate::error::{Error, Resource};
use crate::http::body::doc::escape_into;
use crate::http::body::{Format, Node};
use crate::http::failure::Result;
use crate::http::Response;
use crate::store::Store;

/// Applies `start-index`/`max-results` to a list of names.
fn page(call: &Call, names: Vec<String>) -> Result<Vec<String>> {
    let (start, max) = call.paging()?;
    Ok(names.into_iter().skip(start).take(max.unwrap_or(usize::MAX)).collect())
}

/// The kind of entity named in a query (`username`, `groupname`) or listed in an answer.
#[derive(Clone, Copy)]
enum Kind {
    User,
    Group,
}

/// How the store lists the members or memberships of one entity.
type Related = fn(&Store, u64, &str) -> crate::error::Result<Vec<String>>;

/// A membership listing (Crowd's `/user/group/…`, `/group/user/…`, `/group/child-group/…`,
/// `/group/parent-group/…`): the `of` entity named by the query, the names `related` reads,
/// `listed` their kind. One of the `filter` parameters asks about a single one instead: it is
/// answered alone, or 404 MEMBERSHIP_NOT_FOUND.
fn listing(
    call: &Call,
    of: Kind,
    related: Related,
    listed: Kind,
    filter: &[&str],
) -> Result<Response> {
    let store = &call.app.store;
    let (name, dir) = match of {
        Kind::User => {
            let (user, dir) = call.access.find_user(store, call.required("username")?)?;
            (user.name.clone(), dir)
        }
        Kind::Group => {
            let (group, dir) = call.access.find_group(store, call.required("groupname")?)?;
            (group.name, dir)
        }
    };
    let names = related(store, dir.id, &name)?;
    let mut wanted = None;
    for f in filter {
        wanted = wanted.or(call.param(f)?);
    }
    let expand = Expand::parse(call.param("expand")?);
    match wanted {
        Some(w) => {
            let item = items(call, dir, vec![one_of(&names, w, &name)?], listed, expand)?;
            let entity = match item.into_iter().next() {
                Some(Node::Obj(o)) => o,
                _ => crate::http::body::Obj::new(),
            };
            Ok(call.reply(200, listed.root(), &entity))
        }
        None => {
            let items = items(call, dir, page(call, names)?, listed, expand)?;
            let list = match listed {
                Kind::User => entities::user_list(items),
                Kind::Group => entities::group_list(items),
            };
            Ok(call.reply(200, listed.list_root(), &list))
        }
    }
}

impl Kind {
    fn root(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::Group => "group",
        }
    }

    fn list_root(self) -> &'static str {
        match self {
            Kind::User => "users",
            Kind::Group => "groups",
        }
    }
}

/// The entities of `names`, whole when the expansion asks for them, else name and link.
fn items(
    call: &Call,
    dir: &MappedDirectory,
    names: Vec<String>,
    kind: Kind,
    expand: Expand,
) -> Result<Vec<Node<'static>>> {
    // Owned: these lists are small pages, and the records they are read from live here only.
    let store = &call.app.store;
    let links = &call.links;
    names
        .into_iter()
        .map(|n| {
            let node: Node<'static> = match kind {
                Kind::User if expand.user => {
                    let u = store
                        .user(dir.id, &n)?
                        .ok_or_else(|| Error::NotFound(Resource::User, n.clone()))?;
                    entities::user(links, &u, &dir.name, expand.attributes).into_owned().into()
                }
                Kind::User => entities::minimal_user(links, &n).into_owned().into(),
                Kind::Group if expand.group => {
                    let g = store
                        .group(dir.id, &n)?
                        .ok_or_else(|| Error::NotFound(Resource::Group, n.clone()))?;
                    entities::group(links, &g, expand.attributes).into_owned().into()
                }
                Kind::Group => entities::minimal_group(links, &n).into_owned().into(),
            };
            Ok(node)
        })
        .collect()
}

fn membership_missing(child: &str, parent: &str) -> Error {
    Error::NotFound(Resource::Membership, format!("<{child}> of <{parent}>"))
}

/// One member found among `names`, or 404 MEMBERSHIP_NOT_FOUND.
fn one_of(names: &[String], wanted: &str, parent: &str) -> crate::error::Result<String> {
    let lc = wanted.to_lowercase();
    names
        .iter()
        .find(|n| n.to_lowercase() == lc)
        .cloned()
        .ok_or_else(|| membership_missing(wanted, parent))
}

/// The name in a membership POST body: `{"name":"G"}` / `<group name="G"/>`.
fn body_name(call: &Call) -> Result<String> {
    Ok(call.body()?.fields().required("name")?)
}

// ---- /user/group/{direct,nested} ----

pub fn user_groups_direct(call: &Call) -> Result<Response> {
    listing(call, Kind::User, Store::direct_groups_of_user, Kind::Group, &["groupname"])
}

pub fn user_groups_nested(call: &Call) -> Result<Response> {
    listing(call, Kind::User, Store::nested_groups_of_user, Kind::Group, &["groupname"])
}

/// `POST /user/group/direct?username=U` `{"name":"G"}`: 201 (python-crowd's add_user_to_group
/// checks for it); a missing group is 400 `GROUP_NOT_FOUND` (UsersResource.addUserToGroup).
pub fn add_user_to_group(call: &Call) -> Result<Response> {
    let group = body_name(call)?;
    let (user, dir) = call.access.find_user(&call.app.store, call.required("username")?)?;
    add_user(call, dir, &user.name, &group, MissingIs::Group)?;
    Ok(call.created(
        call.links
            .location("/user/group/direct", &[("username", &user.name), ("groupname", &group)]),
    ))
}

pub fn remove_user_from_group(call: &Call) -> Result<Response> {
    let (user, dir) = call.access.find_user(&call.app.store, call.required("username")?)?;
    let group = call.required("groupname")?;
    call.access.require(dir, Operation::UpdateGroup)?;
    call.app.directories().remove_user_from_group(dir.id, &user.name, group)?;
    Ok(Response::no_content())
}

/// Which side of a membership came from the body, and so is 400 rather than 404 when missing.
enum MissingIs {
    User,
    Group,
}

fn add_user(
    call: &Call,
    dir: &MappedDirectory,
    user: &str,
    group: &str,
    body: MissingIs,
) -> Result<()> {
    call.access.require(dir, Operation::UpdateGroup)?;
    Ok(call.app.directories().add_user_to_group(dir.id, user, group).map_err(|e| {
        match (e, &body) {
            (Error::NotFound(Resource::User, n), MissingIs::User) => {
                Error::UnknownReference(Resource::User, n)
            }
            (Error::NotFound(Resource::Group, n), MissingIs::Group) => {
                Error::UnknownReference(Resource::Group, n)
            }
            (e, _) => e,
        }
    })?)
}

// ---- /group/user/{direct,nested} ----

pub fn group_users_direct(call: &Call) -> Result<Response> {
    listing(call, Kind::Group, Store::direct_users_of_group, Kind::User, &["username"])
}

pub fn group_users_nested(call: &Call) -> Result<Response> {
    listing(call, Kind::Group, Store::nested_users_of_group, Kind::User, &["username"])
}

/// `POST /group/user/direct?groupname=G` `{"name":"U"}`: 201; a missing user is 400
/// `USER_NOT_FOUND` (GroupsResource.addDirectUserToGroup).
pub fn add_group_user(call: &Call) -> Result<Response> {
    let user = body_name(call)?;
    let (group, dir) = call.access.find_group(&call.app.store, call.required("groupname")?)?;
    add_user(call, dir, &user, &group.name, MissingIs::User)?;
    Ok(call.created(
        call.links
            .location("/group/user/direct", &[("groupname", &group.name), ("username", &user)]),
    ))
}

/// `DELETE /group/user/direct?groupname=G&username=U`: 204 (python-crowd's
/// remove_user_from_group needs exactly that).
pub fn remove_group_user(call: &Call) -> Result<Response> {
    let (group, dir) = call.access.find_group(&call.app.store, call.required("groupname")?)?;
    let user = call.required("username")?;
    call.access.require(dir, Operation::UpdateGroup)?;
    call.app.directories().remove_user_from_group(dir.id, user, &group.name)?;
    Ok(Response::no_content())
}

// ---- /group/child-group and /group/parent-group ----

pub fn children_direct(call: &Call) -> Result<Response> {
    listing(call, Kind::Group, Store::direct_child_groups, Kind::Group, &["child-groupname"])
}

pub fn children_nested(call: &Call) -> Result<Response> {
    listing(call, Kind::Group, Store::nested_child_groups, Kind::Group, &["child-groupname"])
}

/// `POST /group/child-group/direct?groupname=P` `{"name":"C"}`: 201; a missing parent is 404,
/// a missing child 400 (both GROUP_NOT_FOUND); a cycle is 400 INVALID_MEMBERSHIP.
pub fn add_child(call: &Call) -> Result<Response> {
    let child = body_name(call)?;
    let (parent, dir) = call.access.find_group(&call.app.store, call.required("groupname")?)?;
    add_group(call, dir, &child, &parent.name, &child)?;
    Ok(call.created(call.links.location(
        "/group/child-group/direct",
        &[("groupname", &parent.name), ("child-groupname", &child)],
    )))
}

pub fn remove_child(call: &Call) -> Result<Response> {
    let (parent, dir) = call.access.find_group(&call.app.store, call.required("groupname")?)?;
    let child = call.required("child-groupname")?;
    call.access.require(dir, Operation::UpdateGroup)?;
    call.app.directories().remove_group_from_group(dir.id, child, &parent.name)?;
    Ok(Response::no_content())
}

fn add_group(
    call: &Call,
    dir: &MappedDirectory,
    child: &str,
    parent: &str,
    from_body: &str,
) -> Result<()> {
    call.access.require(dir, Operation::UpdateGroup)?;
    Ok(call.app.directories().add_group_to_group(dir.id, child, parent).map_err(|e| match e {
        Error::NotFound(Resource::Group, n) if n.to_lowercase() == from_body.to_lowercase() => {
            Error::UnknownReference(Resource::Group, n)
        }
        e => e,
    })?)
}

/// `GET /group/parent-group/direct?groupname=G[&parent-groupname=P]`. Crowd's own resource
/// names the filter `child-groupname` (GroupsResource.getDirectParentGroups); the npm client
/// sends `parent-groupname`: both are read.
pub fn parents_direct(call: &Call) -> Result<Response> {
    listing(
        call,
        Kind::Group,
        Store::direct_parent_groups,
        Kind::Group,
        &["parent-groupname", "child-groupname"],
    )
}

pub fn parents_nested(call: &Call) -> Result<Response> {
    listing(
        call,
        Kind::Group,
        Store::nested_parent_groups,
        Kind::Group,
        &["parent-groupname", "child-groupname"],
    )
}

/// `POST /group/parent-group/direct?groupname=C` `{"name":"P"}`: 201; 404 for C, 400 for P.
pub fn add_parent(call: &Call) -> Result<Response> {
    let parent = body_name(call)?;
    let (child, dir) = call.access.find_group(&call.app.store, call.required("groupname")?)?;
    add_group(call, dir, &child.name, &parent, &parent)?;
    Ok(call.created(call.links.location(
        "/group/parent-group/direct",
        &[("groupname", &child.name), ("parent-groupname", &parent)],
    )))
}

// ---- /group/membership ----

/// `GET /group/membership`: every group of the caller's directories with its direct users and
/// child groups, empty groups included, always XML (GroupsResource.getMemberships: "This method
/// will only return XML, not JSON"; python-crowd reads `<users>` and `<groups>` of every
/// `<membership>` without a None check). Written straight to bytes: it is the largest answer
/// Crowd gives, and a tree per membership would cost several times the output.
pub fn all(call: &Call) -> Result<Response> {
    let mut out = Vec::with_capacity(64 << 10);
    out.extend_from_slice(
        br#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><memberships>"#,
    );
    let mut seen = std::collections::HashSet::new();
    for dir in &call.access.directories {
        call.app.store.for_each_group_memberships(dir.id, |group, users, groups| {
            if !seen.insert(group.to_lowercase()) {
                return;
            }
            out.extend_from_slice(b"<membership group=\"");
            escape_into(&mut out, &call.links.name(group));
            out.extend_from_slice(b"\"><users>");
            for u in users {
                out.extend_from_slice(b"<user name=\"");
                escape_into(&mut out, &call.links.name(u));
                out.extend_from_slice(b"\"/>");
            }
            out.extend_from_slice(b"</users><groups>");
            for g in groups {
                out.extend_from_slice(b"<group name=\"");
                escape_into(&mut out, &call.links.name(g));
                out.extend_from_slice(b"\"/>");
            }
            out.extend_from_slice(b"</groups></membership>");
        })?;
    }
    out.extend_from_slice(b"</memberships>");
    Ok(Response::new(200).header("Content-Type", Format::Xml.content_type()).with_body(out))
}
