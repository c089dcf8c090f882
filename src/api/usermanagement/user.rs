//! `/user`, `/user/rename`, `/user/password`, `/user/attribute`: Crowd's users
//! (crowd-rest-plugin UsersResource; status codes as python-crowd and the npm client need
//! them: 201 + the created user, 204 for PUT and the attribute and password writes).

use super::entities::{self, Expand};
use super::Call;
use crate::domain::access::Operation;
use crate::domain::directory::{NewUser, UserChanges};
use crate::error::Error;
use crate::http::body::Fields;
use crate::http::failure::Result;
use crate::http::Response;
use std::collections::BTreeMap;

/// The user entity of a request body (create or update). Read-only fields a client echoes back
/// from a GET (`link`, `key`, `expand`, dates, `directory-*`) are ignored, as python-crowd's
/// set_active PUTs the whole GET payload back.
struct UserBody {
    name: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    display_name: Option<String>,
    email: Option<String>,
    active: Option<bool>,
    password: Option<String>,
    /// Attributes sent with a create are stored with the user.
    attributes: BTreeMap<String, Vec<String>>,
}

fn read_user(f: Fields<'_>) -> Result<UserBody> {
    Ok(UserBody {
        name: f.str("name")?,
        first_name: f.str("first-name")?,
        last_name: f.str("last-name")?,
        display_name: f.str("display-name")?,
        email: f.str("email")?,
        active: f.bool("active")?,
        password: match f.obj("password")? {
            Some(p) => p.str("value")?,
            None => None,
        },
        attributes: match f.obj("attributes")? {
            Some(a) => read_attributes(a)?,
            None => BTreeMap::new(),
        },
    })
}

/// Reads `{"attributes":[{"name","values":[..]}]}` / `<attributes><attribute name=".."><values>
/// <value>..</value></values></attribute></attributes>`.
pub fn read_attributes(f: Fields<'_>) -> Result<BTreeMap<String, Vec<String>>> {
    let mut out = BTreeMap::new();
    for a in f.list("attributes", None, "attribute")? {
        let name = a.required("name")?;
        out.insert(name, a.str_list("values", Some("values"), "value")?);
    }
    Ok(out)
}

/// The `username` query parameter.
fn username<'c>(call: &'c Call) -> Result<&'c str> {
    call.required("username")
}

/// `GET /user?username=U[&expand=attributes]` or `?key=K`. The most frequent usermanagement
/// read (every login page, every bearer check of a user): answered from rendered entities
/// while the directory has not changed.
pub fn get(call: &Call) -> Result<Response> {
    let expand = Expand::parse(call.param("expand")?);
    if call.param("key")?.is_none() && call.access.cacheable {
        let store = &call.app.store;
        let name = username(call)?;
        // Everything the bytes depend on: the caller's view (which directory a name resolves
        // to), the name, format, expansion, and the base of the links. The records and the
        // view change only with the generations the view was read at (a view read before a
        // change fills under its older number, which the cache then drops).
        let variant = u8::from(call.format == crate::http::body::Format::Xml)
            | u8::from(expand.attributes) << 1
            | u8::from(call.req.context_path().is_empty()) << 2;
        let generation = call.access.generation;
        let key = (call.access.key, crate::store::directory::fold(name), variant);
        let body = match call.app.rendered_users.get_with(&key, generation, |b| b.to_vec()) {
            Some(hit) => hit,
            None => {
                let (user, dir) = call.access.find_user(store, name)?;
                let entity = entities::user(&call.links, &user, &dir.name, expand.attributes);
                let rendered = call.reply(200, "user", &entity).body;
                // Large entities (many attributes) are not kept: the cache is bounded in entries,
                // and its memory should be too.
                if rendered.len() <= 64 << 10 {
                    call.app.rendered_users.fill(key, rendered.clone().into(), generation);
                }
                rendered
            }
        };
        return Ok(Response::new(200)
            .header("Content-Type", call.format.content_type())
            .with_body(body));
    }
    let store = &call.app.store;
    let (user, dir) = match call.param("key")? {
        Some(key) if call.param("username")?.is_none() => {
            let user = store
                .user_by_key(key)?
                .filter(|u| {
                    call.access.find_user(store, &u.name).is_ok_and(|(f, _)| f.key == u.key)
                })
                .ok_or_else(|| Error::NotFound(crate::error::Resource::User, key.to_string()))?;
            let dir = call.access.directory(user.directory_id).expect("found through the view");
            (std::sync::Arc::new(user), dir)
        }
        _ => call.access.find_user(store, username(call)?)?,
    };
    Ok(call.reply(200, "user", &entities::user(&call.links, &user, &dir.name, expand.attributes)))
}

/// `POST /user`: 201, `Location`, and the created user (Atlassian's Java client parses the
/// body; https://jira.atlassian.com/browse/CWD-4124).
pub fn create(call: &Call) -> Result<Response> {
    let body = call.body()?;
    let u = read_user(body.fields())?;
    let dir = call.access.directory_for(Operation::CreateUser)?;
    let name = u.name.ok_or_else(|| {
        Error::Invalid(crate::error::Resource::User, "The user's name is required".into())
    })?;
    let password = u.password.ok_or_else(|| {
        Error::InvalidCredential("A password is required to create a user".into())
    })?;
    let created = call.app.directories().create_user(
        dir.id,
        NewUser {
            name,
            first_name: u.first_name.unwrap_or_default(),
            last_name: u.last_name.unwrap_or_default(),
            display_name: u.display_name.unwrap_or_default(),
            email: u.email.unwrap_or_default(),
            active: u.active.unwrap_or(true),
            password: Some(password),
            external_id: String::new(),
            attributes: u.attributes,
        },
    )?;
    let location = call.links.location("/user", &[("username", &created.name)]);
    Ok(call
        .reply(201, "user", &entities::user(&call.links, &created, &dir.name, false))
        .header("Location", location))
}

/// `PUT /user?username=U`: the body's name must be U (case-insensitively), else 400
/// (UsersResource.updateUser: "The names of the resource location … and object … are not equal").
pub fn update(call: &Call) -> Result<Response> {
    let name = username(call)?;
    let body = call.body()?;
    let u = read_user(body.fields())?;
    if let Some(n) = &u.name {
        if !n.eq_ignore_ascii_case(name) && n.to_lowercase() != name.to_lowercase() {
            return Err(Error::bad_request(format!(
                "The names of the resource location <{name}> and object <{n}> are not equal"
            ))
            .into());
        }
    }
    let (user, dir) = call.access.find_user(&call.app.store, name)?;
    call.access.require(dir, Operation::UpdateUser)?;
    call.app.directories().update_user(
        dir.id,
        &user.name,
        UserChanges {
            first_name: u.first_name,
            last_name: u.last_name,
            display_name: u.display_name,
            email: u.email,
            active: u.active,
            external_id: None,
        },
    )?;
    Ok(Response::no_content())
}

/// `DELETE /user?username=U`: 204.
pub fn delete(call: &Call) -> Result<Response> {
    let (user, dir) = call.access.find_user(&call.app.store, username(call)?)?;
    call.access.require(dir, Operation::DeleteUser)?;
    call.app.directories().delete_user(dir.id, &user.name)?;
    Ok(Response::no_content())
}

/// `POST /user/rename?username=U` with `{"new-name":"V"}` / `<rename><new-name>`: 200 and the
/// renamed user.
pub fn rename(call: &Call) -> Result<Response> {
    let body = call.body()?;
    let new_name = body.fields().required("new-name")?;
    let (user, dir) = call.access.find_user(&call.app.store, username(call)?)?;
    call.access.require(dir, Operation::UpdateUser)?;
    let renamed = call.app.directories().rename_user(dir.id, &user.name, &new_name)?;
    Ok(call.reply(200, "user", &entities::user(&call.links, &renamed, &dir.name, false)))
}

/// `PUT /user/password?username=U` with `{"value":"new"}`: 204.
pub fn set_password(call: &Call) -> Result<Response> {
    let body = call.body()?;
    let password = body
        .fields()
        .str("value")?
        .ok_or_else(|| Error::InvalidCredential("The new password is required".into()))?;
    let (user, dir) = call.access.find_user(&call.app.store, username(call)?)?;
    call.access.require(dir, Operation::UpdateUser)?;
    call.app.directories().set_password(dir.id, &user.name, &password)?;
    Ok(Response::no_content())
}

/// `DELETE /user/password?username=U`: the user has no password credential afterwards.
pub fn clear_password(call: &Call) -> Result<Response> {
    let (user, dir) = call.access.find_user(&call.app.store, username(call)?)?;
    call.access.require(dir, Operation::UpdateUser)?;
    call.app.directories().clear_password(dir.id, &user.name)?;
    Ok(Response::no_content())
}

/// `GET /user/attribute?username=U`.
pub fn get_attributes(call: &Call) -> Result<Response> {
    let (user, _) = call.access.find_user(&call.app.store, username(call)?)?;
    Ok(call.reply(200, "attributes", &entities::user_attributes(&call.links, &user)))
}

/// `POST /user/attribute?username=U`: stores or replaces the named attributes; 204 (python-crowd's
/// set_user_attribute checks for exactly 204).
pub fn store_attributes(call: &Call) -> Result<Response> {
    let body = call.body()?;
    let attributes = read_attributes(body.fields())?;
    let (user, dir) = call.access.find_user(&call.app.store, username(call)?)?;
    call.access.require(dir, Operation::UpdateUserAttribute)?;
    call.app.directories().store_user_attributes(dir.id, &user.name, attributes)?;
    Ok(Response::no_content())
}

/// `DELETE /user/attribute?username=U&attributename=K`: 204.
pub fn delete_attribute(call: &Call) -> Result<Response> {
    let attribute = call.required("attributename")?;
    let (user, dir) = call.access.find_user(&call.app.store, username(call)?)?;
    call.access.require(dir, Operation::UpdateUserAttribute)?;
    call.app.directories().delete_user_attribute(dir.id, &user.name, attribute)?;
    Ok(Response::no_content())
}

/// throng sends no mail, so the two mail endpoints say so, after the checks Crowd makes
/// (the user exists and has an address), rather than pretend a message went out.
fn no_mail(instead: &str) -> Error {
    Error::NotSupported(format!(
        "throng sends no e-mail: there is no mail server to send it with; {instead}"
    ))
}

/// `POST /user/mail/password?username=U`: Crowd mails a reset link.
pub fn mail_password(call: &Call) -> Result<Response> {
    let (user, _) = call.access.find_user(&call.app.store, username(call)?)?;
    if user.email.is_empty() {
        return Err(
            Error::bad_request(format!("User <{}> has no e-mail address", user.name)).into()
        );
    }
    Err(no_mail("set a new password with PUT /user/password instead").into())
}

/// `POST /user/mail/usernames?email=E`: Crowd mails the user names registered to an address.
pub fn mail_usernames(call: &Call) -> Result<Response> {
    call.required("email")?;
    Err(no_mail("find the user names with GET /search?entity-type=user&restriction=email%3D…")
        .into())
}

/// `POST /user/expire-all-passwords?confirm=true`: every user of the directories whose mapping
/// lets the application update users must set a new password before logging in again
/// (UsersResource.expireAllPasswords; logins then fail with `EXPIRED_CREDENTIAL`). Without
/// `confirm=true` it does nothing and says so. 204.
pub fn expire_all_passwords(call: &Call) -> Result<Response> {
    if call.param("confirm")? != Some("true") {
        return Err(Error::bad_request("confirm=true is required to expire every password").into());
    }
    let dirs: Vec<_> = call
        .access
        .directories
        .iter()
        .filter(|d| d.operations.allows(Operation::UpdateUser))
        .collect();
    if dirs.is_empty() {
        return Err(Error::NotPermitted(
            "No directory mapped to the application allows UPDATE_USER".into(),
        )
        .into());
    }
    for dir in dirs {
        call.app.directories().expire_all_passwords(dir.id)?;
    }
    Ok(Response::no_content())
}
