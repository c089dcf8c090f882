//! Directories, as Crowd's admin screens list them: `GET /directory/detailed` and
//! `GET /directory/detailed/{id}` (the paths Atlassian's clients call,
//! atlassian-python-api `get_detailed_directories`), each with its user and group counts.
//!
//! The list takes `search` (text in the name, in any case) and `active` besides the paging,
//! as those clients send them; directories come in id order, which is creation order.

use super::views::directory_detail;
use super::views::SyncView;
use super::{optional_flag, slice_page, DEFAULT_LIMIT};
use crate::api::{paging, Principal};
use crate::app::App;
use crate::domain::audit::{Action, Actor};
use crate::error::{Error, Resource};
use crate::http::failure::Result;
use crate::http::{Request, Response};
use crate::remote::schedule::{self, Requested};
use crate::remote::sync::{self, Mode};
use crate::store::directory::fold;
use crate::store::records::{DirectoryRecord, RemoteCrowd};

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
    let page = slice_page(&matching, start, limit, |d| {
        directory_detail(&app.store, &app.base_url, d).map(Some)
    })?;
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
            validate_named(&name, &description)?;
            app.store.create_remote_directory(&name, &description, remote, app.clock.now_ms())?
        }
        Some("SCIM") => {
            let settings = crate::store::records::ScimSettings {
                atlassian_extension: f.bool("atlassianExtension")?.unwrap_or(false),
            };
            validate_named(&name, &description)?;
            app.store.create_scim_directory(&name, &description, settings, app.clock.now_ms())?
        }
        Some(kind) => {
            return Err(Error::bad_request(format!(
                "type {kind} is not supported: INTERNAL (throng keeps it), CROWD (synchronised \
                 from a Crowd server) or SCIM (provisioned by an identity provider)"
            ))
            .into())
        }
    };
    audit(app, actor, Action::DirectoryCreated, &dir)?;
    let location = format!(
        "{}{}/rest/admin/1.0/directory/detailed/{}",
        app.base_url,
        req.context_path(),
        dir.id
    );
    Ok(Response::json(201, &directory_detail(&app.store, &app.base_url, &dir)?)
        .header("Location", location))
}

/// A new directory's name and description, as `Directories::create_directory` checks an
/// internal one's.
fn validate_named(name: &str, description: &str) -> crate::error::Result<()> {
    use crate::domain::directory::validate;
    validate::name(Resource::Directory, "directory name", name)?;
    validate::text(Resource::Directory, "description", description)
}

/// Records `action` on directory `dir` by `actor`.
fn audit(app: &App, actor: &Actor, action: Action, dir: &DirectoryRecord) -> Result<()> {
    let record = actor.record(app.clock.now_ms(), action, &dir.name, format!("id {}", dir.id));
    app.store.append_audit(record)?;
    Ok(())
}

/// `GET /directory/detailed/{id}` → one directory; an unknown or malformed id is 404.
pub fn get(app: &App, id: &str) -> Result<Response> {
    let unknown = || Error::NotFound(Resource::Directory, id.to_string());
    let dir = app.store.directory(id.parse().map_err(|_| unknown())?)?.ok_or_else(unknown)?;
    Ok(Response::json(200, &directory_detail(&app.store, &app.base_url, &dir)?))
}

/// `PUT /directory/detailed/{id}` of a `CROWD` directory's settings, each optional (what is
/// left out stays): `description`, `serverUrl`, `applicationName`, `applicationPassword` or
/// `applicationLink`, `syncInterval`. Administrators only; audited. A throng addition, as
/// Crowd edits a directory in its console.
pub fn update(app: &App, req: &Request, id: &str, who: &Principal) -> Result<Response> {
    let Principal::Admin(actor) = who else {
        return Err(Error::Forbidden("only an administrator may change a directory".into()).into());
    };
    let unknown = || Error::NotFound(Resource::Directory, id.to_string());
    let dir = app.store.directory(id.parse().map_err(|_| unknown())?)?.ok_or_else(unknown)?;
    let Some(old) = &dir.remote else {
        return Err(Error::bad_request(format!(
            "directory '{}' is {}: only a CROWD directory's settings change here",
            dir.name, dir.kind
        ))
        .into());
    };
    // A sync running now would commit what it read, and its token, under the new settings.
    let _turn = app.syncs.take_soon(dir.id, &dir.name)?;
    let body = req.entity()?;
    let f = body.fields();
    let description = f.str("description")?.unwrap_or_else(|| dir.description.clone());
    crate::domain::directory::validate::text(Resource::Directory, "description", &description)?;
    let changes = sync::SettingsChange {
        server_url: f.str("serverUrl")?,
        application: f.str("applicationName")?,
        password: f.str("applicationPassword")?,
        link: f.str("applicationLink")?,
        interval: f.str("syncInterval")?,
    };
    let remote = sync::changed_settings(&app.store, &app.keys, old, changes)?;
    let dir = app.store.update_remote_directory(dir.id, &description, remote)?;
    audit(app, actor, Action::DirectoryUpdated, &dir)?;
    Ok(Response::json(200, &directory_detail(&app.store, &app.base_url, &dir)?))
}

/// A `CROWD` directory's settings from the body (`serverUrl`, `applicationName`, and
/// `applicationPassword` or `applicationLink`), checked by `remote::sync::settings`.
fn remote_settings(app: &App, f: &crate::http::body::Fields) -> Result<RemoteCrowd> {
    Ok(crate::remote::sync::settings(
        &app.store,
        &app.keys,
        &f.required("serverUrl")?,
        f.required("applicationName")?,
        f.str("applicationPassword")?,
        f.str("applicationLink")?,
        f.str("syncInterval")?.as_deref(),
    )?)
}

/// `POST /directory/detailed/{id}/synchronize[?mode=full][&wait=true]`: starts a sync of a
/// `CROWD` directory (Crowd's console starts the same from its directory screen):
/// incremental when the server allows, full when asked or when it does not. 202 with the
/// status and the directory's `Location`, where its progress shows; with `wait=true` (a
/// throng addition, for scripts) 200 with how it went, once it has, if within a minute. A
/// sync already running or waiting is 409, or with `wait=true` waited for
/// (`remote::schedule::request`).
pub fn synchronize(app: &App, req: &Request, id: &str, who: &Principal) -> Result<Response> {
    if !matches!(who, Principal::Admin(_)) {
        return Err(
            Error::Forbidden("only an administrator may synchronise a directory".into()).into()
        );
    }
    let dir: u64 = id.parse().map_err(|_| Error::NotFound(Resource::Directory, id.into()))?;
    let params = req.query_params()?;
    let mode = match params.single("mode")? {
        None | Some("auto") => Mode::Auto,
        Some("full") => Mode::Full,
        Some(other) => {
            return Err(Error::bad_request(format!(
                "mode '{other}' is not one of auto (incremental when the server allows) or full"
            ))
            .into())
        }
    };
    let wait = optional_flag(req, "wait")?.unwrap_or(false);
    match schedule::request(app, dir, mode, wait)? {
        Requested::Done(status) => Ok(Response::json(200, &SyncView::from(status))),
        Requested::Started(status) => {
            let base = format!("{}{}", app.base_url, req.context_path());
            let location = format!("{base}/rest/admin/1.0/directory/detailed/{dir}");
            Ok(Response::json(202, &SyncView::from(status)).header("Location", location))
        }
    }
}
