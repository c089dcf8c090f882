//! Directories, as Crowd's admin screens list them: `GET /directory/detailed` and
//! `GET /directory/detailed/{id}` (the paths Atlassian's clients call,
//! atlassian-python-api `get_detailed_directories`), each with its user and group counts.
//!
//! The list takes `search` (text in the name, in any case) and `active` besides the paging,
//! as those clients send them; directories come in id order, which is creation order.

use super::views::directory_detail;
use super::{optional_flag, slice_page, DEFAULT_LIMIT};
use crate::api::{paging, Principal};
use crate::app::App;
use crate::domain::audit::Action;
use crate::error::{Error, Resource};
use crate::http::failure::Result;
use crate::http::{Request, Response};
use crate::store::directory::fold;
use crate::store::records::{LinkDirection, RemoteAuth, RemoteCrowd};

/// `GET /directory/detailed?search&active&start&limit` → a page of directories.
pub fn list(app: &App, req: &Request) -> Result<Response> {
    let (start, limit) = paging(req, DEFAULT_LIMIT)?;
    let search = req.query_params()?.single("search")?.map(fold).unwrap_or_default();
    let active = optional_flag(req, "active")?;
    let matching: Vec<_> = app
        .store
        .directories()?
        .into_iter()
        .filter(|d| fold(&d.name).contains(&search) && active.is_none_or(|a| d.active == a))
        .collect();
    let page = slice_page(&matching, start, limit, |d| directory_detail(&app.store, d).map(Some))?;
    Ok(Response::json(200, &page))
}

/// `POST /directory/detailed` with `{"name","description"}`: adds an internal directory; 201
/// with `Location` and the directory. A throng addition (Crowd adds directories in its
/// console): administrators only, by Basic; a service account's token may not.
pub fn create(app: &App, req: &Request, who: &Principal) -> Result<Response> {
    let Principal::Admin(actor) = who else {
        return Err(Error::Forbidden("only an administrator may add a directory".into()).into());
    };
    let body = req.entity()?;
    let f = body.fields();
    let name = f.str("name")?.unwrap_or_default();
    let description = f.str("description")?.unwrap_or_default();
    let dir = match f.str("type")?.map(|k| k.to_ascii_uppercase()).as_deref() {
        None | Some("INTERNAL") => app.directories().create_directory(&name, &description)?,
        Some("CROWD") => {
            let remote = remote_settings(app, &f)?;
            crate::domain::directory::validate::name(Resource::Directory, "directory name", &name)?;
            crate::domain::directory::validate::text(
                Resource::Directory,
                "description",
                &description,
            )?;
            app.store.create_remote_directory(&name, &description, remote, app.clock.now_ms())?
        }
        Some(kind) => {
            return Err(Error::bad_request(format!(
                "type {kind} is not supported: INTERNAL (throng keeps it) or CROWD (synchronised \
                 from a Crowd server)"
            ))
            .into())
        }
    };
    let record = actor.record(
        app.clock.now_ms(),
        Action::DirectoryCreated,
        &dir.name,
        format!("id {}", dir.id),
    );
    app.store.append_audit(record)?;
    let location = format!(
        "{}{}/rest/admin/1.0/directory/detailed/{}",
        app.base_url,
        req.context_path(),
        dir.id
    );
    Ok(Response::json(201, &directory_detail(&app.store, &dir)?).header("Location", location))
}

/// `GET /directory/detailed/{id}` → one directory; an unknown or malformed id is 404.
pub fn get(app: &App, id: &str) -> Result<Response> {
    let unknown = || Error::NotFound(Resource::Directory, id.to_string());
    let dir = app.store.directory(id.parse().map_err(|_| unknown())?)?.ok_or_else(unknown)?;
    Ok(Response::json(200, &directory_detail(&app.store, &dir)?))
}

/// A `CROWD` directory's settings: `serverUrl` (the server's base URL), `applicationName`,
/// and `applicationPassword` or `applicationLink` (an outgoing link, whose tokens go only to
/// the server of its token endpoint). The password is sealed at once.
fn remote_settings(app: &App, f: &crate::http::body::Fields) -> Result<RemoteCrowd> {
    let server_url = f.required("serverUrl")?.trim_end_matches('/').to_string();
    crate::domain::links::url("serverUrl", &server_url)?;
    if server_url.contains(['?', '#', '@']) {
        return Err(Error::bad_request(
            "serverUrl is the server's base URL: no query, fragment or user in it",
        )
        .into());
    }
    let application = f.required("applicationName")?;
    let auth = match (f.str("applicationPassword")?, f.str("applicationLink")?) {
        (Some(password), None) if !password.is_empty() => {
            let context = crate::remote::sync::password_context(&server_url, &application);
            RemoteAuth::Password {
                sealed: crate::crypto::b64url(&app.keys.seal_secret(&password, &context)),
            }
        }
        (None, Some(name)) => {
            let link = app
                .store
                .app_link_by_name(&name)?
                .ok_or(Error::UnknownReference(Resource::ApplicationLink, name))?;
            let LinkDirection::Outgoing { token_url, .. } = &link.direction else {
                return Err(Error::UnknownReference(Resource::ApplicationLink, link.name).into());
            };
            let origin = |u: &str| {
                let start = u.find("://").map_or(0, |i| i + 3);
                u[..u[start..].find('/').map_or(u.len(), |i| start + i)].to_string()
            };
            if origin(token_url) != origin(&server_url) {
                return Err(Error::bad_request(
                    "the link's token endpoint is on another server than serverUrl: its tokens \
                     go only to the server that issues them",
                )
                .into());
            }
            RemoteAuth::Link { link: link.id }
        }
        _ => {
            return Err(Error::bad_request(
                "a CROWD directory needs applicationPassword or applicationLink, one of them",
            )
            .into())
        }
    };
    Ok(RemoteCrowd { server_url, application, auth })
}

/// `POST /directory/detailed/{id}/synchronize`: synchronises a `CROWD` directory in full, now,
/// and answers how it went (Crowd's console starts the same from its directory screen).
pub fn synchronize(app: &App, id: &str, who: &Principal) -> Result<Response> {
    if !matches!(who, Principal::Admin(_)) {
        return Err(
            Error::Forbidden("only an administrator may synchronise a directory".into()).into()
        );
    }
    let unknown = || Error::NotFound(Resource::Directory, id.to_string());
    let dir: u64 = id.parse().map_err(|_| unknown())?;
    let status = crate::remote::sync::full(app, dir)?;
    Ok(Response::json(200, &super::views::SyncView::from(status)))
}
