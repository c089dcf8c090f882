//! `/rest/appmanagement/1/application/{id}/remote_address`: an application's remote addresses
//! (Crowd's `ApplicationResource.getRemoteAddresses`, `addRemoteAddress`,
//! `removeRemoteAddress`). Both changes are idempotent, as on Crowd's set of addresses.

use super::{entity, format};
use crate::domain::applications::{self as apps, Deps};
use crate::domain::audit::Actor;
use crate::error::Error;
use crate::http::body::Obj;
use crate::http::failure::Result;
use crate::http::request::percent_encode;
use crate::http::{Request, Response};

/// `{"remote-addresses":[{"value":…}]}`, XML `<remote-addresses><remote-address>…`.
pub fn list(d: &Deps<'_>, req: &Request, id: &str) -> Result<Response> {
    let app = apps::get(d, id)?;
    let body = Obj::new().items(
        "remote-addresses",
        "remote-address",
        entity::values(&app.remote_addresses),
    );
    Ok(Response::entity(200, format(req), "remote-addresses", &body))
}

/// 201 with the address as stored (normalised) and, as Crowd, a `Location` naming it.
pub fn add(d: &Deps<'_>, req: &Request, actor: &Actor, id: &str, base: &str) -> Result<Response> {
    let value = entity::read_remote_address(req)?;
    let stored = apps::add_remote_address(d, actor, id, &value)?;
    let location =
        format!("{base}/application/{id}/remote_address?address={}", percent_encode(&stored));
    Ok(Response::entity(201, format(req), "remote-address", &entity::remote_address(&stored))
        .header("Location", location))
}

/// `DELETE …/remote_address?address=A`: 204, whether or not A was there.
pub fn remove(d: &Deps<'_>, req: &Request, actor: &Actor, id: &str) -> Result<Response> {
    let q = req.query_params()?;
    let address = q
        .single("address")?
        .filter(|a| !a.is_empty())
        .ok_or_else(|| Error::bad_request("the query parameter 'address' is required"))?;
    apps::remove_remote_address(d, actor, id, address)?;
    Ok(Response::no_content())
}
