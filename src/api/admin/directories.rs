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
use crate::domain::audit::Action;
use crate::error::{Error, Resource};
use crate::http::failure::Result;
use crate::http::{Request, Response};
use crate::remote::sync::{self, Mode};
use crate::store::directory::fold;
use crate::store::records::{RemoteAuth, RemoteCrowd};

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
    let _turn = app.syncs.take(dir.id, &dir.name)?;
    let body = req.entity()?;
    let f = body.fields();
    let description = f.str("description")?.unwrap_or_else(|| dir.description.clone());
    crate::domain::directory::validate::text(Resource::Directory, "description", &description)?;
    let server_url = f.str("serverUrl")?.unwrap_or_else(|| old.server_url.clone());
    let application = f.str("applicationName")?.unwrap_or_else(|| old.application.clone());
    let (password, link) = (f.str("applicationPassword")?, f.str("applicationLink")?);
    let mut remote = if password.is_none() && link.is_none() {
        // The same credentials, checked again against the new server and application (a
        // sealed password opens only for the server and application it was given for).
        let same_target = (&server_url, &application) == (&old.server_url, &old.application);
        match &old.auth {
            RemoteAuth::Link { link } => {
                let name = app.store.app_link(*link)?.map(|l| l.name);
                sync::settings(&app.store, &app.keys, &server_url, application, None, name, None)?
            }
            RemoteAuth::Password { .. } if same_target => {
                RemoteCrowd { server_url, application, ..old.clone() }
            }
            RemoteAuth::Password { .. } => {
                return Err(Error::bad_request(
                    "a new serverUrl or applicationName needs its applicationPassword again",
                )
                .into())
            }
        }
    } else {
        sync::settings(&app.store, &app.keys, &server_url, application, password, link, None)?
    };
    remote.interval = match f.str("syncInterval")? {
        Some(given) => sync::sync_interval(Some(&given))?,
        None => old.interval,
    };
    let dir = app.store.update_remote_directory(dir.id, &description, remote)?;
    let record = actor.record(
        app.clock.now_ms(),
        Action::DirectoryUpdated,
        &dir.name,
        format!("id {}", dir.id),
    );
    app.store.append_audit(record)?;
    Ok(Response::json(200, &directory_detail(&app.store, &dir)?))
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

/// How long `?wait=true` holds its request thread for a sync to end; past it, the answer is
/// 202, as without `wait`.
const WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// `POST /directory/detailed/{id}/synchronize[?mode=full][&wait=true]`: starts a sync of a
/// `CROWD` directory (Crowd's console starts the same from its directory screen):
/// incremental when the server allows, full when asked or when it does not. 202 with the
/// status and the directory's `Location`, where its progress shows; with `wait=true` (a
/// throng addition, for scripts) 200 with how it went, once it has, if within a minute. A
/// sync already running or waiting is 409, or with `wait=true` waited for.
pub fn synchronize(app: &App, req: &Request, id: &str, who: &Principal) -> Result<Response> {
    if !matches!(who, Principal::Admin(_)) {
        return Err(
            Error::Forbidden("only an administrator may synchronise a directory".into()).into()
        );
    }
    let unknown = || Error::NotFound(Resource::Directory, id.to_string());
    let dir: u64 = id.parse().map_err(|_| unknown())?;
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
    let name = sync::remote_directory(app, dir)?.0;
    let location =
        format!("{}{}/rest/admin/1.0/directory/detailed/{dir}", app.base_url, req.context_path());
    let status = |code| -> Result<Response> {
        let status = app.store.sync_status(dir)?.ok_or_else(unknown)?;
        Ok(Response::json(code, &SyncView::from(status)).header("Location", location.clone()))
    };
    let turn = match app.syncs.take(dir, &name) {
        Ok(turn) => turn,
        Err(busy) if !wait => return Err(busy.into()),
        // The one running, waited for; past the wait, where it is.
        Err(_) if app.syncs.wait_idle(dir, WAIT) => return status(200),
        Err(_) => return status(202),
    };
    sync::queued(app, dir)?;
    let (reply, outcome) = std::sync::mpsc::channel();
    if let Some(_turn) = app.scheduler.ask(turn, mode, wait.then_some(reply)) {
        // No sync thread (an app run without one): this thread runs it.
        return Ok(Response::json(200, &SyncView::from(sync::run(app, dir, mode)?)));
    }
    match wait.then(|| outcome.recv_timeout(WAIT)) {
        Some(Ok(done)) => Ok(Response::json(200, &SyncView::from(done?))),
        Some(Err(_)) | None => status(202),
    }
}
