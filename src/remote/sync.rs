//! Synchronising a `CROWD` directory from its server: a full read (`remote::snapshot`)
//! applied in one transaction (`Store::apply_snapshot`), so the directory is never
//! half-synced: a read that fails, or a server that answers what a sync cannot use, changes
//! nothing here. Its status (`SyncStatus`: running and where, then the counts or the error in
//! the server's words) is recorded before, during and after, so an admin can watch it.
//!
//! One synchronisation of a directory at a time; a second ask while one runs is refused.

use super::crowd::{CrowdAuth, CrowdServer};
use crate::app::App;
use crate::crypto;
use crate::domain::links;
use crate::error::{Error, Resource, Result};
use crate::store::records::{LinkDirection, RemoteAuth, RemoteCrowd, SyncStatus};
use crate::sync::MutexExt;
use std::collections::HashSet;
use std::sync::Mutex;

/// Directories being synchronised now.
#[derive(Default)]
pub struct Running(Mutex<HashSet<u64>>);

/// Releases a directory's turn when its sync ends, however it ends.
struct Turn<'a>(&'a Running, u64);

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.0 .0.locked().remove(&self.1);
    }
}

/// The sealing context of a remote directory's application password: it opens only as the
/// password of that application on that server.
pub fn password_context(remote_server: &str, application: &str) -> String {
    format!("crowd-directory:{application}@{remote_server}")
}

/// A `CROWD` directory's settings, checked: `server_url` is the server's base URL (no query,
/// fragment or user); the application authenticates by `password` (sealed here at once) or by
/// the outgoing `link` (by name), one of them, whose tokens go only to the server of its token
/// endpoint. What `POST …/directory/detailed` stores and `testcrowd` tries.
pub fn settings(
    store: &crate::store::Store,
    keys: &crate::crypto::Keys,
    server_url: &str,
    application: String,
    password: Option<String>,
    link: Option<String>,
) -> Result<RemoteCrowd> {
    let server_url = server_url.trim_end_matches('/').to_string();
    links::url("serverUrl", &server_url)?;
    if server_url.contains(['?', '#']) || origin(&server_url).contains('@') {
        return Err(Error::bad_request(
            "serverUrl is the server's base URL: no query, fragment or user in it",
        ));
    }
    let auth = match (password, link) {
        (Some(password), None) if !password.is_empty() => {
            let context = password_context(&server_url, &application);
            RemoteAuth::Password { sealed: crypto::b64url(&keys.seal_secret(&password, &context)) }
        }
        (None, Some(name)) => {
            let link = store
                .app_link_by_name(&name)?
                .ok_or(Error::UnknownReference(Resource::ApplicationLink, name))?;
            let LinkDirection::Outgoing { token_url, .. } = &link.direction else {
                return Err(Error::UnknownReference(Resource::ApplicationLink, link.name));
            };
            // The link's token is for the server that issues it: it goes nowhere else.
            if origin(token_url) != origin(&server_url) {
                return Err(Error::bad_request(format!(
                    "the link's token endpoint ({}) is on another server than serverUrl: its \
                     tokens go only to the server that issues them",
                    origin(token_url)
                )));
            }
            RemoteAuth::Link { link: link.id }
        }
        _ => {
            return Err(Error::bad_request(
                "give applicationPassword or applicationLink (an outgoing link), one of them",
            ))
        }
    };
    Ok(RemoteCrowd { server_url, application, auth })
}

/// `scheme://authority` of a URL.
fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[after_scheme..].find('/').map_or(url.len(), |i| after_scheme + i);
    &url[..end]
}

/// How throng authenticates to `remote`'s server.
pub fn auth_with(
    store: &crate::store::Store,
    keys: &crate::crypto::Keys,
    remote: &RemoteCrowd,
) -> Result<CrowdAuth> {
    let application = remote.application.clone();
    match &remote.auth {
        RemoteAuth::Password { sealed } => {
            let context = password_context(&remote.server_url, &application);
            let password = crypto::b64url_decode(sealed)
                .and_then(|s| keys.open_secret(&s, &context))
                .ok_or_else(|| {
                    Error::Internal("a remote directory's password does not open".into())
                })?;
            Ok(CrowdAuth::Password { application, password })
        }
        RemoteAuth::Link { link } => {
            let link = store
                .app_link(*link)?
                .filter(|l| matches!(l.direction, LinkDirection::Outgoing { .. }))
                .ok_or_else(|| Error::NotFound(Resource::ApplicationLink, link.to_string()))?;
            Ok(CrowdAuth::Link { application, link })
        }
    }
}

/// Synchronises directory `dir` in full, now; returns how it went (a failure of the remote
/// side is a `FAILED` status, not an error: the error is for this server's own troubles).
pub fn full(app: &App, dir: u64) -> Result<SyncStatus> {
    let record = app
        .store
        .directory(dir)?
        .ok_or_else(|| Error::NotFound(Resource::Directory, dir.to_string()))?;
    let Some(remote) = &record.remote else {
        return Err(Error::bad_request(format!(
            "directory '{}' is {}: only CROWD directories are synchronised",
            record.name, record.kind
        )));
    };
    if !app.syncs.0.locked().insert(dir) {
        return Err(Error::Conflict(format!(
            "directory '{}' is being synchronised; see its status",
            record.name
        )));
    }
    let _turn = Turn(&app.syncs, dir);
    let mut status = SyncStatus {
        state: "RUNNING".into(),
        mode: "FULL".into(),
        started: app.clock.now_ms(),
        progress: format!("reading users, groups and memberships from {}", remote.server_url),
        ..SyncStatus::default()
    };
    app.store.set_sync_status(dir, &status)?;
    let server = CrowdServer::of(&super::crowd::Deps::of(app), remote)?;
    let outcome = super::snapshot::read(&server, dir).map_err(|e| e.to_string()).and_then(|snap| {
        status.progress = format!(
            "applying {} users, {} groups, {} memberships",
            snap.users.len(),
            snap.groups.len(),
            snap.user_memberships.len() + snap.group_memberships.len()
        );
        let _ = app.store.set_sync_status(dir, &status);
        app.store.apply_snapshot(dir, &snap, app.clock.now_ms()).map_err(|e| e.to_string())
    });
    match outcome {
        Ok(applied) => {
            status.state = "SUCCEEDED".into();
            (status.added, status.updated, status.removed) =
                (applied.added, applied.updated, applied.removed);
        }
        Err(e) => {
            log::warn!("synchronising directory '{}' failed: {e}", record.name);
            status.state = "FAILED".into();
            status.error = Some(e);
        }
    }
    status.ended = Some(app.clock.now_ms());
    status.progress = String::new();
    app.store.set_sync_status(dir, &status)?;
    Ok(status)
}
