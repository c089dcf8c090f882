//! `/user`: Crowd's user entity (crowd-rest-common UserEntity; `spec/crowd-rest.md` §1.1).
//! JSON dates are epoch milliseconds, as dex and the npm client decode them.

use super::rest_base;
use crate::app::App;
use crate::error::{Error, Resource, Result};
use crate::http::request::percent_encode;
use crate::http::{Request, Response};
use crate::store::records::UserRecord;
use serde_json::{json, Value};

pub fn entity(app: &App, req: &Request, u: &UserRecord, with_attributes: bool) -> Result<Value> {
    let base = rest_base(app, req);
    let name_q = percent_encode(&u.name);
    let directory_name = app.store.directory(u.directory_id)?.map(|d| d.name).unwrap_or_default();
    let mut v = json!({
        "expand": "attributes",
        "link": { "href": format!("{base}/user?username={name_q}"), "rel": "self" },
        "name": u.name,
        "key": format!("{}:{}", u.directory_id, u.name.to_lowercase()),
        "first-name": u.first_name,
        "last-name": u.last_name,
        "display-name": u.display_name,
        "email": u.email,
        "password": { "link": { "href": format!("{base}/user/password?username={name_q}"), "rel": "edit" } },
        "active": u.active,
        "created-date": u.created,
        "updated-date": u.updated,
        "directory-id": u.directory_id,
        "directory-name": directory_name,
    });
    if with_attributes {
        let attributes: Vec<Value> = u
            .attributes
            .iter()
            .map(|(name, values)| json!({ "name": name, "values": values }))
            .collect();
        v["attributes"] = json!({
            "attributes": attributes,
            "link": { "href": format!("{base}/user/attribute?username={name_q}"), "rel": "self" },
        });
    }
    Ok(v)
}

/// `GET /user?username=U[&expand=attributes]`.
pub fn get(app: &App, req: &Request) -> Result<Response> {
    let q = req.query_params()?;
    let name = q
        .single("username")?
        .filter(|n| !n.is_empty())
        .ok_or_else(|| Error::bad_request("username query parameter required"))?;
    let expand = q.single("expand")?.unwrap_or("");
    let user = app
        .store
        .find_user(name)?
        .ok_or_else(|| Error::NotFound(Resource::User, name.to_string()))?;
    let body = entity(app, req, &user, expand.split(',').any(|e| e.trim() == "attributes"))?;
    Ok(Response::json(200, &body))
}
