//! Synchronising a `CROWD` directory from its server. Incremental when the directory holds
//! the server's event token and the server still answers from it (`remote::events`, applied by
//! `Store::apply_changes`), full otherwise (`remote::snapshot`, applied by
//! `Store::apply_snapshot`); either way in one transaction with the token after it and the
//! sync's success, so the directory is never half-synced: a read that fails, or a server that
//! answers what a sync cannot use, changes nothing here. Its status (`SyncStatus`: running and
//! where, then the counts, or the error in the server's words) is recorded before, during and
//! after, so an admin can watch it.
//!
//! One sync of a directory at a time ([`Running`], whose turns are guards); the thread that
//! runs them is `remote::schedule`.

use super::crowd::{CrowdAuth, CrowdServer};
use super::events::Since;
use super::snapshot::ReadFailure;
use crate::app::App;
use crate::crypto;
use crate::domain::links;
use crate::error::{Error, Resource, Result};
use crate::store::directory::snapshot::Applied;
use crate::store::records::{LinkDirection, Millis, RemoteAuth, RemoteCrowd, SyncStatus};
use crate::sync::MutexExt;
use std::collections::HashSet;
use std::sync::{Condvar, Mutex};

/// Directories being synchronised now, or waiting their turn.
#[derive(Default)]
pub struct Running {
    dirs: Mutex<HashSet<u64>>,
    /// Signalled whenever a directory's sync ends.
    ended: Condvar,
}

/// A directory's turn: released when dropped, however its sync ends (a panic included).
#[must_use = "the turn ends when this is dropped"]
pub struct Turn<'a>(&'a Running, u64);

impl Turn<'_> {
    /// Gives the turn to another thread, which takes it up with [`Running::adopt`].
    pub fn hand_over(self) -> u64 {
        let dir = self.1;
        std::mem::forget(self);
        dir
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.0.release(self.1);
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
/// endpoint; `interval` as [`sync_interval`] reads it. What `POST …/directory/detailed`
/// stores and `testcrowd` tries.
pub fn settings(
    store: &crate::store::Store,
    keys: &crate::crypto::Keys,
    server_url: &str,
    application: String,
    password: Option<String>,
    link: Option<String>,
    interval: Option<&str>,
) -> Result<RemoteCrowd> {
    let interval = sync_interval(interval)?;
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
    Ok(RemoteCrowd { server_url, application, auth, interval })
}

/// What a change of a `CROWD` directory's settings gives; what is `None` stays.
pub struct SettingsChange {
    pub server_url: Option<String>,
    pub application: Option<String>,
    pub password: Option<String>,
    pub link: Option<String>,
    pub interval: Option<String>,
}

/// `old` with `change` applied, checked as [`settings`] checks new ones. Kept credentials are
/// checked again against a new server and application; a sealed password opens only for the
/// server and application it was given for, so a new one of those needs it again.
pub fn changed_settings(
    store: &crate::store::Store,
    keys: &crate::crypto::Keys,
    old: &RemoteCrowd,
    change: SettingsChange,
) -> Result<RemoteCrowd> {
    let server_url = change.server_url.unwrap_or_else(|| old.server_url.clone());
    let application = change.application.unwrap_or_else(|| old.application.clone());
    let mut remote = match (change.password, change.link, &old.auth) {
        (None, None, RemoteAuth::Link { link }) => {
            let name = store.app_link(*link)?.map(|l| l.name);
            settings(store, keys, &server_url, application, None, name, None)?
        }
        (None, None, RemoteAuth::Password { .. })
            if (&server_url, &application) == (&old.server_url, &old.application) =>
        {
            RemoteCrowd { server_url, application, ..old.clone() }
        }
        (None, None, RemoteAuth::Password { .. }) => {
            return Err(Error::bad_request(
                "a new serverUrl or applicationName needs its applicationPassword again",
            ))
        }
        (password, link, _) => {
            settings(store, keys, &server_url, application, password, link, None)?
        }
    };
    remote.interval = match change.interval {
        Some(given) => sync_interval(Some(&given))?,
        None => old.interval,
    };
    Ok(remote)
}

/// Crowd's default synchronisation interval: 60 minutes (also what a stored directory from
/// before intervals reads as).
pub use crate::store::records::DEFAULT_SYNC_INTERVAL_SECS as DEFAULT_INTERVAL_SECS;
/// The longest interval: a year.
const MAX_INTERVAL_SECS: u64 = 366 * 86_400;

/// `syncInterval`: a humantime span (`60m`, `30s`, `1h 30m`) of at least a second, or `off`
/// (only when asked); absent, Crowd's 60 minutes.
pub fn sync_interval(given: Option<&str>) -> Result<Option<u64>> {
    let Some(given) = given.map(str::trim) else { return Ok(Some(DEFAULT_INTERVAL_SECS)) };
    if given.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    match humantime::parse_duration(given) {
        Ok(d) if (1..=MAX_INTERVAL_SECS).contains(&d.as_secs()) => Ok(Some(d.as_secs())),
        _ => Err(Error::bad_request(format!(
            "syncInterval '{given}' is neither a span from a second to a year (60m, 30s, \
             1h 30m) nor off"
        ))),
    }
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
            // Again at each use: the link's token endpoint may have been changed since.
            if let LinkDirection::Outgoing { token_url, .. } = &link.direction {
                if origin(token_url) != origin(&remote.server_url) {
                    return Err(Error::bad_request(format!(
                        "link '{}' now gets its tokens from {}, not from {}: its tokens go only \
                         to the server that issues them",
                        link.name,
                        origin(token_url),
                        origin(&remote.server_url)
                    )));
                }
            }
            Ok(CrowdAuth::Link { application, link })
        }
    }
}

/// How a sync is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Incremental when the directory has the server's event token and the server still
    /// answers from it; full otherwise.
    Auto,
    Full,
}

/// The `CROWD` directory `dir`'s name and remote settings.
pub fn remote_directory(app: &App, dir: u64) -> Result<(String, RemoteCrowd)> {
    let record = app
        .store
        .directory(dir)?
        .ok_or_else(|| Error::NotFound(Resource::Directory, dir.to_string()))?;
    match record.remote {
        Some(remote) => Ok((record.name, remote)),
        None => Err(Error::bad_request(format!(
            "directory '{}' is {}: only CROWD directories are synchronised",
            record.name, record.kind
        ))),
    }
}

impl Running {
    /// Takes directory `dir`'s turn, or says that a sync of it is running or waiting.
    pub fn take(&self, dir: u64, name: &str) -> Result<Turn<'_>> {
        if self.dirs.locked().insert(dir) {
            return Ok(Turn(self, dir));
        }
        Err(Error::Conflict(format!("directory '{name}' is being synchronised; see its status")))
    }

    /// The turn of `dir` that another thread took and handed over ([`Turn::hand_over`]).
    pub fn adopt(&self, dir: u64) -> Turn<'_> {
        Turn(self, dir)
    }

    fn release(&self, dir: u64) {
        self.dirs.locked().remove(&dir);
        self.ended.notify_all();
    }

    /// [`Running::take`], after waiting a moment for a sync that is ending: one whose outcome
    /// is committed (its status reads `SUCCEEDED`) still holds its turn for its last write.
    pub fn take_soon(&self, dir: u64, name: &str) -> Result<Turn<'_>> {
        const ENDING: std::time::Duration = std::time::Duration::from_millis(200);
        self.take(dir, name).or_else(|_| {
            self.wait_idle(dir, ENDING);
            self.take(dir, name)
        })
    }

    /// Waits until no sync of directory `dir` runs or waits, at most `limit`; whether it
    /// came to that.
    pub fn wait_idle(&self, dir: u64, limit: std::time::Duration) -> bool {
        let dirs = self.dirs.locked();
        let (dirs, _) = self
            .ended
            .wait_timeout_while(dirs, limit, |d| d.contains(&dir))
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        !dirs.contains(&dir)
    }
}

/// Records that a sync of directory `dir` (whose turn the caller holds) waits to start.
pub fn queued(app: &App, dir: u64) -> Result<SyncStatus> {
    let status = SyncStatus {
        state: "QUEUED".into(),
        started: app.clock.now_ms(),
        progress: "waiting for the sync before it to end".into(),
        ..SyncStatus::default()
    };
    // Not durable: until it runs, nothing is done that a crash could cut short.
    app.store.set_sync_progress(dir, &status)?;
    Ok(status)
}

/// Synchronises directory `dir`, whose turn the caller holds, and returns how it went: a
/// failure of the remote side is a `FAILED` status, not an error (the error is for this
/// server's own troubles). Whatever stops it, its status ends `SUCCEEDED` or `FAILED` (only a
/// failure to write the status itself leaves it as it was, marked interrupted at the next
/// start).
pub(crate) fn run(app: &App, dir: u64, mode: Mode) -> Result<SyncStatus> {
    let started = app.clock.now_ms();
    let mut status = SyncStatus {
        state: "RUNNING".into(),
        mode: "FULL".into(),
        started,
        progress: "starting".into(),
        ..SyncStatus::default()
    };
    let outcome =
        remote_directory(app, dir).map_err(|e| e.to_string()).and_then(|(name, remote)| {
            // Durable, so that a server killed during the sync says at its next start that it
            // was interrupted; its progress after this is not (`set_sync_progress`).
            app.store.set_sync_status(dir, &status).map_err(|e| e.to_string())?;
            attempt(app, dir, &name, &remote, mode, &mut status)
                .inspect_err(|e| log::warn!("synchronising directory '{name}' failed: {e}"))
        });
    match outcome {
        // Recorded as succeeded with what it applied, durably, in the same transaction; here
        // again with the time it ended.
        Ok(applied) => {
            let done = status.succeeded(applied.counts(), app.clock.now_ms());
            app.store.set_sync_progress(dir, &done)?;
            Ok(done)
        }
        Err(e) => {
            let failed = failed(status, e, app.clock.now_ms());
            app.store.set_sync_status(dir, &failed)?;
            Ok(failed)
        }
    }
}

/// `status`, ended at `now` by `error`.
pub fn failed(status: SyncStatus, error: String, now: Millis) -> SyncStatus {
    SyncStatus {
        state: "FAILED".into(),
        error: Some(error),
        ended: Some(now),
        progress: String::new(),
        ..status
    }
}

/// The sync itself: incremental from the stored token when there is one and the server
/// answers from it, full otherwise. `status` follows it (mode, progress, note). An error is
/// the status's, in words for an administrator.
fn attempt(
    app: &App,
    dir: u64,
    name: &str,
    remote: &RemoteCrowd,
    mode: Mode,
    status: &mut SyncStatus,
) -> std::result::Result<Applied, String> {
    let text = |e: Error| e.to_string();
    let token = match mode {
        Mode::Auto => app.store.sync_token(dir).map_err(text)?,
        Mode::Full => None,
    };
    let server = CrowdServer::of(&super::crowd::Deps::of(app), remote).map_err(text)?;
    if let Some(token) = token {
        status.mode = "INCREMENTAL".into();
        status.progress =
            format!("reading the changes since the last sync from {}", remote.server_url);
        app.store.set_sync_progress(dir, status).map_err(text)?;
        let stopping = || app.scheduler.stopping();
        match super::events::since(&server, dir, &token, &stopping).map_err(|e| e.to_string())? {
            Since::Unavailable(why) => status.note = Some(why),
            Since::Changes(changes, token) => {
                status.progress = format!("applying {} changes", changes.len());
                app.store.set_sync_progress(dir, status).map_err(text)?;
                let now = app.clock.now_ms();
                match app.store.apply_changes(dir, &changes, &token, Some(status), now) {
                    Ok(applied) => return Ok(applied),
                    // The changes do not fit what is here: only a full sync can mend that.
                    Err(e @ Error::UnknownReference(..)) => {
                        status.note = Some(format!("the changes did not fit this directory ({e})"))
                    }
                    Err(e) => return Err(e.to_string()),
                }
            }
        }
        log::info!(
            "directory '{name}': {}; synchronising in full",
            status.note.as_deref().unwrap_or("")
        );
        status.mode = "FULL".into();
    }
    status.progress = format!("reading users, groups and memberships from {}", remote.server_url);
    app.store.set_sync_progress(dir, status).map_err(text)?;
    full(app, dir, &server, status)
}

/// A full read, applied whole, from the server's event token taken first: changes made on the
/// server while it is read come again in the next incremental sync, which applies them over
/// what they changed.
fn full(
    app: &App,
    dir: u64,
    server: &CrowdServer<'_>,
    status: &mut SyncStatus,
) -> std::result::Result<Applied, String> {
    // A server that answers /event with something else (a proxy's 403, a 500) still gives
    // a whole sync without a token; only the next one is full again. One that does not answer
    // at all will not answer the rest either.
    let token = match super::events::current(server) {
        Ok(token) => token,
        Err(e @ ReadFailure::Answer { .. }) => {
            status.note = Some(format!("no event token ({e}): the next sync is full too"));
            None
        }
        Err(e) => return Err(e.to_string()),
    };
    if app.scheduler.stopping() {
        return Err(ReadFailure::Stopped.to_string());
    }
    let snap = super::snapshot::read(server, dir).map_err(|e| e.to_string())?;
    status.progress = format!(
        "applying {} users, {} groups, {} memberships",
        snap.users.len(),
        snap.groups.len(),
        snap.user_memberships.len() + snap.group_memberships.len()
    );
    let _ = app.store.set_sync_progress(dir, status);
    let now = app.clock.now_ms();
    let token = token.as_deref();
    app.store.apply_snapshot(dir, &snap, token, Some(status), now).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_read_as_humantime_or_off_and_stored_ones_keep_crowds_default() {
        assert_eq!(sync_interval(None).unwrap(), Some(3600));
        assert_eq!(sync_interval(Some("off")).unwrap(), None);
        assert_eq!(sync_interval(Some(" 1h 30m ")).unwrap(), Some(5400));
        for bad in ["", "soon", "500ms", "0s", "400days", "-5m"] {
            assert!(sync_interval(Some(bad)).is_err(), "{bad}");
        }
        let stored = |json: &str| serde_json::from_str::<RemoteCrowd>(json).unwrap().interval;
        let base =
            r#""server_url":"http://a","application":"jira","auth":{"type":"link","link":1}"#;
        assert_eq!(stored(&format!("{{{base}}}")), Some(3600), "from before intervals");
        assert_eq!(stored(&format!(r#"{{{base},"interval":null}}"#)), None, "off");
        assert_eq!(stored(&format!(r#"{{{base},"interval":60}}"#)), Some(60));
    }
}
