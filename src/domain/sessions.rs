//! SSO sessions: a user logs in once through an application and gets a token that any
//! application of the same server can validate (Crowd's TokenResource, `/session`).
//!
//! Tokens are 24 random alphanumerics, as Crowd's are; only their SHA-256 is stored. A session
//! lasts `--session-timeout` after its last validation, or less if the creator asked for a
//! shorter `duration` (the npm client sends one; Crowd lets it only shorten). Validation
//! refuses a `remote_address` factor that differs from the one given at creation, so a token
//! lifted from one client does not validate from another address. An ended, expired or
//! unknown token is `NotFound(Session)`: 404 for Crowd's clients, which only check for
//! success.

use crate::app::App;
use crate::crypto;
use crate::domain::access::{Access, MappedDirectory};
use crate::domain::clock::Clock;
use crate::domain::login;
use crate::error::{Error, Resource, Result};
use crate::store::records::{SessionRecord, UserRecord};
use crate::store::Store;
use std::sync::Arc;

/// Length of a token.
pub const TOKEN_LEN: usize = 24;
/// A validation that extends a session by less than this is not written back: validating
/// the same session many times a minute must not cost a durable write each time.
const EXTEND_GRANULARITY_MS: u64 = 60_000;

/// Validation factors as Crowd's clients send them (`remote_address`, `X-Forwarded-For`, …).
pub type Factors = Vec<(String, String)>;

fn remote_address(factors: &Factors) -> Option<&str> {
    factors.iter().find(|(n, _)| n == "remote_address").map(|(_, v)| v.as_str())
}

fn digest(token: &str) -> Result<[u8; 32]> {
    if token.is_empty() || token.len() > 256 || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::InvalidSsoToken("The SSO token is malformed".into()));
    }
    Ok(crypto::sha256(token.as_bytes()))
}

/// What sessions need: the store, the clock and the two bounds from the configuration.
pub struct Deps<'a> {
    pub store: &'a Store,
    pub clock: &'a Clock,
    pub timeout: std::time::Duration,
    pub max_per_user: usize,
}

impl<'a> Deps<'a> {
    pub fn of(app: &'a App) -> Deps<'a> {
        Deps {
            store: &app.store,
            clock: &app.clock,
            timeout: app.config.session_timeout,
            max_per_user: app.config.max_sessions_per_user,
        }
    }
}

/// A live session with its user, as the caller's application sees it.
pub struct Live<'a> {
    pub token: String,
    pub session: SessionRecord,
    pub user: Arc<UserRecord>,
    pub directory: &'a MappedDirectory,
}

/// Starts a session for a user who passed `login::authenticate` (or whom the application
/// vouches for, with `validate-password=false`). `duration_secs` may only shorten the timeout.
pub fn create<'a>(
    app: &Deps<'_>,
    access: &'a Access,
    user: Arc<UserRecord>,
    directory: &'a MappedDirectory,
    factors: &Factors,
    duration_secs: Option<u64>,
) -> Result<Live<'a>> {
    let now = app.clock.now_ms();
    let server = app.timeout.as_millis() as u64;
    let timeout = duration_secs.map_or(server, |d| d.saturating_mul(1000).min(server)).max(1000);
    let token = crypto::random_alphanumeric(TOKEN_LEN);
    let session = SessionRecord {
        directory_id: directory.id,
        user: user.name.clone(),
        application: access.name.clone(),
        created: now,
        expires: now + timeout,
        timeout,
        remote_address: remote_address(factors).map(str::to_string),
        user_key: user.key.clone(),
        user_created: user.created,
    };
    app.store.create_session(&digest(&token)?, &session, app.max_per_user)?;
    Ok(Live { token, session, user, directory })
}

/// Finds a live session and its user; with `factors`, checks them and extends the session.
pub fn validate<'a>(
    app: &Deps<'_>,
    access: &'a Access,
    token: &str,
    factors: Option<&Factors>,
) -> Result<Live<'a>> {
    let d = digest(token)?;
    let gone = || Error::NotFound(Resource::Session, String::new());
    let mut session = app.store.session(&d)?.ok_or_else(gone)?;
    let now = app.clock.now_ms();
    if session.expires <= now {
        return Err(gone());
    }
    if let (Some(given), Some(held)) = (factors.and_then(remote_address), &session.remote_address) {
        if given != held {
            return Err(Error::InvalidSsoToken(
                "The validation factors differ from the ones the session began with: the token \
                 was presented from another client address"
                    .into(),
            ));
        }
    }
    // The user must still be one the caller's application sees, active and let in.
    let directory = access.directory(session.directory_id).ok_or_else(gone)?;
    let user = app.store.user_cached(directory.id, &session.user)?.ok_or_else(gone)?;
    let same_user = session.user_key.is_empty()
        || (session.user_key == user.key && session.user_created == user.created);
    if !user.active || !same_user {
        return Err(gone());
    }
    login::permitted(app.store, &user, directory)?;
    if factors.is_some() && now + session.timeout >= session.expires + EXTEND_GRANULARITY_MS {
        session.expires = now + session.timeout;
        app.store.update_session(&d, &session)?;
    }
    Ok(Live { token: token.to_string(), session, user, directory })
}

/// Ends a session; ending one that does not exist is not an error (DELETE is idempotent).
/// A caller may end only sessions of users it sees, and a read-only caller (a bearer token)
/// none.
pub fn end(app: &Deps<'_>, access: &Access, token: &str) -> Result<()> {
    access.require_writer()?;
    let d = digest(token)?;
    if let Some(session) = app.store.session(&d)? {
        if access.directory(session.directory_id).is_some() {
            app.store.delete_session(&d)?;
        }
    }
    Ok(())
}

/// Ends every session of `user`, except the one whose token is `exclude`.
pub fn end_all(
    app: &Deps<'_>,
    access: &Access,
    user: &str,
    exclude: Option<&str>,
) -> Result<usize> {
    access.require_writer()?;
    let (user, dir) = access.find_user(app.store, user)?;
    let keep = exclude.map(digest).transpose()?;
    app.store.delete_user_sessions(dir.id, &user.name, keep.as_ref())
}
