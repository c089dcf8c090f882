//! `/group` and `/group/attribute`: Crowd's groups (crowd-rest-plugin GroupsResource). PUT
//! answers 200 with the group, as python-crowd's update_group and the npm client expect.

use super::entities::{self, Expand};
use super::user::read_attributes;
use super::Call;
use crate::domain::access::Operation;
use crate::domain::directory::{GroupChanges, NewGroup};
use crate::error::{Error, Resource};
use crate::http::body::Fields;
use crate::http::failure::Result;
use crate::http::Response;

struct GroupBody {
    name: Option<String>,
    description: Option<String>,
    kind: Option<String>,
    active: Option<bool>,
}

fn read_group(f: Fields<'_>) -> Result<GroupBody> {
    Ok(GroupBody {
        name: f.str("name")?,
        description: f.str("description")?,
        kind: f.str("type")?,
        active: f.bool("active")?,
    })
}

fn groupname<'c>(call: &'c Call) -> Result<&'c str> {
    call.required("groupname")
}

/// `GET /group?groupname=G[&expand=attributes]`.
pub fn get(call: &Call) -> Result<Response> {
    let expand = Expand::parse(call.param("expand")?);
    let (group, _) = call.access.find_group(&call.app.store, groupname(call)?)?;
    Ok(call.reply(200, "group", &entities::group(&call.links, &group, expand.attributes)))
}

/// `POST /group`: 201 with `Location` and the created group.
pub fn create(call: &Call) -> Result<Response> {
    let body = call.body()?;
    let g = read_group(body.fields())?;
    let dir = call.access.directory_for(Operation::CreateGroup)?;
    let name = g
        .name
        .ok_or_else(|| Error::Invalid(Resource::Group, "The group's name is required".into()))?;
    let created = call.app.directories().create_group(
        dir.id,
        NewGroup {
            name,
            description: g.description.unwrap_or_default(),
            kind: g.kind.unwrap_or_else(|| "GROUP".into()),
            active: g.active.unwrap_or(true),
            attributes: Default::default(),
        },
    )?;
    let location = call.links.location("/group", &[("groupname", &created.name)]);
    Ok(call
        .reply(201, "group", &entities::group(&call.links, &created, false))
        .header("Location", location))
}

/// `PUT /group?groupname=G`: 200 and the updated group; a body naming another group is
/// `INVALID_GROUP`.
pub fn update(call: &Call) -> Result<Response> {
    let name = groupname(call)?;
    let body = call.body()?;
    let g = read_group(body.fields())?;
    if let Some(n) = &g.name {
        if n.to_lowercase() != name.to_lowercase() {
            return Err(Error::Invalid(
                Resource::Group,
                format!(
                    "The names of the resource location <{name}> and object <{n}> are not equal"
                ),
            )
            .into());
        }
    }
    let (group, dir) = call.access.find_group(&call.app.store, name)?;
    call.access.require(dir, Operation::UpdateGroup)?;
    let updated = call.app.directories().update_group(
        dir.id,
        &group.name,
        GroupChanges { description: g.description, kind: g.kind, active: g.active },
    )?;
    Ok(call.reply(200, "group", &entities::group(&call.links, &updated, false)))
}

/// `DELETE /group?groupname=G`: 204.
pub fn delete(call: &Call) -> Result<Response> {
    let (group, dir) = call.access.find_group(&call.app.store, groupname(call)?)?;
    call.access.require(dir, Operation::DeleteGroup)?;
    call.app.directories().delete_group(dir.id, &group.name)?;
    Ok(Response::no_content())
}

pub fn get_attributes(call: &Call) -> Result<Response> {
    let (group, _) = call.access.find_group(&call.app.store, groupname(call)?)?;
    Ok(call.reply(200, "attributes", &entities::group_attributes(&call.links, &group)))
}

/// `POST /group/attribute?groupname=G`: 204.
pub fn store_attributes(call: &Call) -> Result<Response> {
    let body = call.body()?;
    let attributes = read_attributes(body.fields())?;
    let (group, dir) = call.access.find_group(&call.app.store, groupname(call)?)?;
    call.access.require(dir, Operation::UpdateGroupAttribute)?;
    call.app.directories().store_group_attributes(dir.id, &group.name, attributes)?;
    Ok(Response::no_content())
}

/// `DELETE /group/attribute?groupname=G&attributename=K`: 204.
pub fn delete_attribute(call: &Call) -> Result<Response> {
    let attribute = call.required("attributename")?;
    let (group, dir) = call.access.find_group(&call.app.store, groupname(call)?)?;
    call.access.require(dir, Operation::UpdateGroupAttribute)?;
    call.app.directories().delete_group_attribute(dir.id, &group.name, attribute)?;
    Ok(Response::no_content())
}
