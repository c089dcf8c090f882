//! `/rest/appmanagement/1/application[/{id}]`: list, create, read, update and delete
//! applications (Crowd's `ApplicationResource`).

use super::{entity, flag, format};
use crate::domain::applications::{self as apps, Deps};
use crate::domain::audit::Actor;
use crate::http::body::Obj;
use crate::http::failure::Result;
use crate::http::{Request, Response};
use crate::store::applications::ApplicationRecord;

/// `GET /application[?name=N]`: `{"applications":[…]}`, or only the one named N (an empty
/// list if none is). Crowd answers the single entity for `name` (404 when none); throng's
/// shape is fixed as the list, which its clients read either way.
pub fn list(d: &Deps<'_>, req: &Request) -> Result<Response> {
    let name = req.query_params()?.single("name")?.map(str::to_string);
    let found = apps::list(d, name.as_deref())?;
    let links = found.iter().map(|a| link_name(d, a)).collect::<Result<Vec<_>>>()?;
    let items = found
        .iter()
        .zip(&links)
        .map(|(a, l)| entity::application(a, l.as_deref()).into())
        .collect();
    let body = Obj::new().items("applications", "application", items);
    Ok(Response::entity(200, format(req), "applications", &body))
}

/// `POST /application[?include-request-address=true]`: 201 with `Location` and the new
/// application (without its password). With the flag, the caller's address is one of its
/// remote addresses, as Crowd's `addApplicationWithRequestAddress` does.
pub fn create(d: &Deps<'_>, req: &Request, actor: &Actor, base: &str) -> Result<Response> {
    let with_address = flag(req, "include-request-address")?;
    let draft = entity::read_application(req)?;
    let request_address = with_address.then_some(req.remote.as_str());
    let created = apps::create(d, actor, draft, request_address)?;
    let link = link_name(d, &created)?;
    let body = entity::application(&created, link.as_deref());
    Ok(Response::entity(201, format(req), "application", &body)
        .header("Location", format!("{base}/application/{}", created.id)))
}

pub fn get(d: &Deps<'_>, req: &Request, id: &str) -> Result<Response> {
    let found = apps::get(d, id)?;
    let link = link_name(d, &found)?;
    let body = entity::application(&found, link.as_deref());
    Ok(Response::entity(200, format(req), "application", &body))
}

/// `PUT /application/{id}`: 204. Crowd refuses a body without an `id` as well as one with
/// another id (`ApplicationResource.updateApplication`); throng takes a body without one, and
/// changes only the fields it carries.
pub fn update(d: &Deps<'_>, req: &Request, actor: &Actor, id: &str) -> Result<Response> {
    let draft = entity::read_application(req)?;
    apps::update(d, actor, id, draft)?;
    Ok(Response::no_content())
}

pub fn delete(d: &Deps<'_>, actor: &Actor, id: &str) -> Result<Response> {
    apps::delete(d, actor, id)?;
    Ok(Response::no_content())
}

/// The name of the application link `a` authenticates with, if it does.
fn link_name(d: &Deps<'_>, a: &ApplicationRecord) -> Result<Option<String>> {
    match a.auth.link() {
        Some(id) => Ok(d.store.app_link(id)?.map(|l| l.name)),
        None => Ok(None),
    }
}
