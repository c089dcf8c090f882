//! Who may call the admin APIs: active members of `crowd-administrators`, by HTTP Basic.
//!
//! Passwords are PBKDF2 hashes, deliberately slow, so a verified (name, password) pair is
//! cached for a short while under a keyed digest of both; the cache never holds anything a
//! password can be recovered from, and an entry is good only in the store generation it was
//! verified in (`store::cache::Generational`): any change to users, groups or memberships,
//! a removed admin or a changed password say, takes effect at the next request.
//!
//! Guessing is bounded three ways (`domain::throttle`): failures count per source and per
//! (case-insensitive) name, and past the limit a login is answered 429 before the cache or the
//! KDF is touched; a KDF run needs one of a few slots, and with none free the login is answered
//! 503 at once, so guesses can never hold every worker. Each failed or refused login is
//! audited as `ADMIN_AUTHENTICATION_FAILED`, aggregated (`domain::audit::FailureLog`).

use crate::app::App;
use crate::crypto::{self, Keys};
use crate::domain::audit::{self, Action, Attempt};
use crate::domain::clock::Clock;
use crate::domain::throttle::{Guards, Kind};
use crate::error::{Error, Result};
use crate::store::cache::Generational;
use crate::store::directory::{ADMIN_DIRECTORY, ADMIN_GROUP};
use crate::store::records::UserRecord;
use crate::store::{Store, Topic};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long a verified admin password is trusted without running the KDF again.
const CACHE_TTL: Duration = Duration::from_secs(60);
const CACHE_MAX: usize = 1024;

pub struct AdminCache {
    /// Keyed digest of (name, password) → the admin's name as stored, and when verified.
    verified: Generational<[u8; 32], (String, Instant)>,
    /// A hash of nothing, verified against when the user is unknown.
    decoy: OnceLock<String>,
}

impl Default for AdminCache {
    fn default() -> Self {
        AdminCache { verified: Generational::new(CACHE_MAX), decoy: OnceLock::new() }
    }
}

impl AdminCache {
    /// The admin a digest was verified as, if that was within [`CACHE_TTL`] and in the
    /// store's current `generation`.
    fn lookup(&self, key: &[u8; 32], generation: u64) -> Option<String> {
        let (name, at) = self.verified.get(key, generation)?;
        (at.elapsed() < CACHE_TTL).then_some(name)
    }

    /// Remembers a verification made from what the store held at `generation`, taken before
    /// the user and the membership were read.
    fn remember(&self, key: [u8; 32], name: String, generation: u64) {
        self.verified.fill(key, (name, Instant::now()), generation);
    }
}

/// What authenticating an admin needs, and nothing more: the store, the key of the cache's
/// digests, the clock, the cache itself and the guards against guessing.
pub struct Deps<'a> {
    pub store: &'a Store,
    pub keys: &'a Keys,
    pub clock: &'a Clock,
    pub admins: &'a AdminCache,
    pub guards: Guards<'a>,
}

impl<'a> Deps<'a> {
    pub fn of(app: &'a App) -> Deps<'a> {
        Deps {
            store: &app.store,
            keys: &app.keys,
            clock: &app.clock,
            admins: &app.admins,
            guards: Guards::of(app),
        }
    }
}

/// Authenticates an admin from Basic credentials presented from `remote` and returns the
/// user's name as stored. Wrong or missing credentials are `Unauthenticated`; a valid
/// non-admin user is `Forbidden`; too many failures are `TooManyRequests`; every KDF slot
/// busy is `Unavailable`.
pub fn authenticate(app: &Deps<'_>, basic: Option<(&str, &str)>, remote: &str) -> Result<String> {
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
    if let Err(e) = app.guards.throttle.check(Kind::Admin, remote, name, now) {
        app.guards.failed(&attempt(true), || {
            audit_target(name, app.store.find_user(name).ok().flatten().as_ref())
        });
        return Err(e);
    }
    let key = app.keys.cache_key(&[name.as_bytes(), password.as_bytes()]);
    let generation = app.store.generation(Topic::Directory);
    if let Some(user) = app.admins.lookup(&key, generation) {
        app.guards.throttle.succeeded(Kind::Admin, remote, name, now);
        return Ok(user);
    }
    // Administrators live in the first-start directory only (ADMIN_DIRECTORY's comment).
    let user = app.store.user(ADMIN_DIRECTORY, name)?;
    let stored = user.as_ref().and_then(|u| u.password_hash.as_deref());
    let password_ok = {
        let Some(_slot) = app.guards.kdf.try_acquire() else {
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
                .get_or_init(|| crypto::hash_password("decoy", app.guards.pbkdf2_iterations)),
        };
        crypto::verify_password(password, hash) && stored.is_some()
    };
    let user = match user {
        Some(u) if password_ok && u.active => u,
        other => {
            app.guards.throttle.failed(Kind::Admin, remote, name, now);
            app.guards.failed(&attempt(false), || audit_target(name, other.as_ref()));
            return Err(Error::Unauthenticated);
        }
    };
    // The password is right: whatever the membership check says, this pair is no stranger.
    app.guards.throttle.succeeded(Kind::Admin, remote, name, now);
    if !app.store.is_direct_member(ADMIN_DIRECTORY, ADMIN_GROUP, &user.name)? {
        return Err(Error::Forbidden(format!("user '{}' is not a Crowd administrator", user.name)));
    }
    app.admins.remember(key, user.name.clone(), generation);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::directory::Bootstrap;
    use crate::store::TempStore;

    /// Regression: the cache was never cleared, so a removed admin (or one whose password
    /// changed) kept access with the old password for up to a minute.
    #[test]
    fn a_cached_admin_is_forgotten_once_users_or_memberships_change() {
        let store = TempStore::new();
        let bootstrap = Bootstrap {
            directory_name: "Internal",
            admin_name: "admin",
            admin_password_hash: "unused".into(),
            now: 1,
        };
        assert!(store.bootstrap_if_empty(bootstrap).unwrap());
        let cache = AdminCache::default();
        let key = [7u8; 32];
        cache.remember(key, "admin".into(), store.generation(Topic::Directory));
        assert_eq!(
            cache.lookup(&key, store.generation(Topic::Directory)).as_deref(),
            Some("admin")
        );
        store.remove_user_from_group(1, "admin", ADMIN_GROUP, 2).unwrap();
        assert_eq!(cache.lookup(&key, store.generation(Topic::Directory)), None);
        // A verification that began before the change is not cached under the new generation.
        let before = store.generation(Topic::Directory);
        store.add_user_to_group(1, "admin", ADMIN_GROUP, 3).unwrap();
        cache.remember(key, "admin".into(), before);
        assert_eq!(cache.lookup(&key, store.generation(Topic::Directory)), None);
    }
}
