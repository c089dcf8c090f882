//! `/user`: Crowd's user entity (crowd-rest-common UserEntity; `spec/crowd-rest.md` §1.1).
//! JSON dates are epoch milliseconds, as dex and the npm client decode them.

use super::rest_base;
use crate::app::App;
use crate::error::{Error, Resource, Result};
use crate::http::request::percent_encode;
use crate::http::{Request, Response};
use crate::store::records::UserRecord;
use serde::Serialize;

#[derive(Serialize)]
pub struct Link {
    pub href: String,
    pub rel: &'static str,
}

#[derive(Serialize)]
pub struct PasswordLink {
    pub link: Link,
}

#[derive(Serialize)]
pub struct Attribute<'a> {
    pub name: &'a str,
    pub values: &'a [String],
}

#[derive(Serialize)]
pub struct Attributes<'a> {
    pub attributes: Vec<Attribute<'a>>,
    pub link: Link,
}

/// Crowd's UserEntity, field for field, in Crowd's order.
#[derive(Serialize)]
pub struct UserEntity<'a> {
    pub expand: &'static str,
    pub link: Link,
    pub name: &'a str,
    pub key: String,
    #[serde(rename = "first-name")]
    pub first_name: &'a str,
    #[serde(rename = "last-name")]
    pub last_name: &'a str,
    #[serde(rename = "display-name")]
    pub display_name: &'a str,
    pub email: &'a str,
    pub password: PasswordLink,
    pub active: bool,
    #[serde(rename = "created-date")]
    pub created_date: u64,
    #[serde(rename = "updated-date")]
    pub updated_date: u64,
    #[serde(rename = "directory-id")]
    pub directory_id: u64,
    #[serde(rename = "directory-name")]
    pub directory_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Attributes<'a>>,
}

pub fn entity<'a>(
    base: &str,
    u: &'a UserRecord,
    directory_name: &'a str,
    with_attributes: bool,
) -> UserEntity<'a> {
    let name_q = percent_encode(&u.name);
    UserEntity {
        expand: "attributes",
        link: Link { href: format!("{base}/user?username={name_q}"), rel: "self" },
        name: &u.name,
        key: format!("{}:{}", u.directory_id, u.name.to_lowercase()),
        first_name: &u.first_name,
        last_name: &u.last_name,
        display_name: &u.display_name,
        email: &u.email,
        password: PasswordLink {
            link: Link { href: format!("{base}/user/password?username={name_q}"), rel: "edit" },
        },
        active: u.active,
        created_date: u.created,
        updated_date: u.updated,
        directory_id: u.directory_id,
        directory_name,
        attributes: with_attributes.then(|| Attributes {
            attributes: u
                .attributes
                .iter()
                .map(|(name, values)| Attribute { name, values })
                .collect(),
            link: Link { href: format!("{base}/user/attribute?username={name_q}"), rel: "self" },
        }),
    }
}

/// `GET /user?username=U[&expand=attributes]`.
pub fn get(app: &App, req: &Request) -> Result<Response> {
    let q = req.query_params()?;
    let name = q
        .single("username")?
        .filter(|n| !n.is_empty())
        .ok_or_else(|| Error::bad_request("username query parameter required"))?;
    let expand = q.single("expand")?.unwrap_or("");
    let found = app
        .store
        .find_user_in_directory(name)?
        .ok_or_else(|| Error::NotFound(Resource::User, name.to_string()))?;
    let (user, directory) = &*found;
    let with_attributes = expand.split(',').any(|e| e.trim() == "attributes");
    Ok(Response::json(200, &entity(&rest_base(app, req), user, &directory.name, with_attributes)))
}
