//! Who may call the admin APIs: active members of `crowd-administrators`, by HTTP Basic.
//!
//! Passwords are PBKDF2 hashes, deliberately slow, so a verified (name, password) pair is
//! cached for a short while under a keyed digest of both; the cache never holds anything a
//! password can be recovered from, and it is cleared whenever users or groups change.
//!
//! Guessing is bounded three ways (`domain::throttle`): failures count per source and per
//! (case-insensitive) name, and past the limit a login is answered 429 before the cache or the
//! KDF is touched; a KDF run needs one of a few slots, and with none free the login is answered
//! 503 at once, so guesses can never hold every worker. Each failed or refused login is
//! audited as `ADMIN_AUTHENTICATION_FAILED`, aggregated (`domain::audit::FailureLog`).

use crate::app::App;
use crate::crypto;
use crate::domain::audit::{self, Action, Attempt};
use crate::domain::throttle::Kind;
use crate::error::{Error, Result};
use crate::store::directory::ADMIN_GROUP;
use crate::store::records::UserRecord;
use crate::sync::MutexExt;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long a verified admin password is trusted without running the KDF again.
const CACHE_TTL: Duration = Duration::from_secs(60);
const CACHE_MAX: usize = 1024;

#[derive(Default)]
pub struct AdminCache {
    verified: Mutex<HashMap<[u8; 32], (String, Instant)>>,
    /// A hash of nothing, verified against when the user is unknown.
    decoy: OnceLock<String>,
}

impl AdminCache {
    /// Forgets every cached verification (call after any user or membership change).
    pub fn clear(&self) {
        self.verified.locked().clear();
    }
}

/// Authenticates an admin from Basic credentials presented from `remote` and returns the
/// user's name as stored. Wrong or missing credentials are `Unauthenticated`; a valid
/// non-admin user is `Forbidden`; too many failures are `TooManyRequests`; every KDF slot
/// busy is `Unavailable`.
pub fn authenticate(app: &App, basic: Option<(&str, &str)>, remote: &str) -> Result<String> {
    let Some((name, password)) = basic else {
        return Err(Error::Unauthenticated);
    };
    let now = app.clock.now_ms();
    let attempt = |throttled| Attempt {
        action: Action::AdminAuthenticationFailed,
        source: remote,
        identity: name,
        throttled,
        now,
    };
    // Before the cache too: otherwise a throttled guesser would still learn, from a cache hit,
    // when it guessed a password someone else just used.
    if let Err(e) = app.throttle.check(Kind::Admin, remote, name, now) {
        audit::failed_attempt(app, &attempt(true), || {
            audit_target(name, app.store.find_user(name).ok().flatten().as_ref())
        });
        return Err(e);
    }
    let key = app.keys.cache_key(&[name.as_bytes(), password.as_bytes()]);
    let cached = app.admins.verified.locked().get(&key).cloned();
    if let Some((user, at)) = cached {
        if at.elapsed() < CACHE_TTL {
            app.throttle.succeeded(Kind::Admin, remote, name, now);
            return Ok(user);
        }
    }
    let user = app.store.find_user(name)?;
    let stored = user.as_ref().and_then(|u| u.password_hash.as_deref());
    let password_ok = {
        let Some(_slot) = app.kdf.try_acquire() else {
            return Err(Error::Unavailable {
                retry_after_secs: 1,
                message: "too many password checks in progress; try again in a moment".into(),
            });
        };
        // Run the KDF even for unknown users, so timing does not reveal which names exist.
        let hash = match stored {
            Some(h) => h,
            None => app
                .admins
                .decoy
                .get_or_init(|| crypto::hash_password("decoy", app.config.pbkdf2_iterations)),
        };
        crypto::verify_password(password, hash) && stored.is_some()
    };
    let user = match user {
        Some(u) if password_ok && u.active => u,
        other => {
            app.throttle.failed(Kind::Admin, remote, name, now);
            audit::failed_attempt(app, &attempt(false), || audit_target(name, other.as_ref()));
            return Err(Error::Unauthenticated);
        }
    };
    // The password is right: whatever the membership check says, this pair is no stranger.
    app.throttle.succeeded(Kind::Admin, remote, name, now);
    if !app.store.is_direct_member(user.directory_id, ADMIN_GROUP, &user.name)? {
        return Err(Error::Forbidden(format!("user '{}' is not a Crowd administrator", user.name)));
    }
    let mut cache = app.admins.verified.locked();
    if cache.len() >= CACHE_MAX {
        cache.clear();
    }
    cache.insert(key, (user.name.clone(), Instant::now()));
    Ok(user.name)
}

/// How a failed admin login names the user: an existing user by name, anything else only as a
/// digest of the lower-cased name (it may be a password typed into the wrong field).
fn audit_target(presented: &str, user: Option<&UserRecord>) -> String {
    match user {
        Some(u) => u.name.clone(),
        None => format!("unknown user (sha256 {})", audit::digest(&presented.to_lowercase())),
    }
}
