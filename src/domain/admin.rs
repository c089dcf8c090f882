//! Who may call the admin APIs: active members of `crowd-administrators`, by HTTP Basic.
//!
//! Passwords are PBKDF2 hashes, deliberately slow, so a verified (name, password) pair is
//! cached for a short while under a keyed digest of both; the cache never holds anything a
//! password can be recovered from. An entry is good as it is in the store generation it was
//! verified in; after any change to users, groups or memberships (a sync of another
//! directory, say) it is checked again without the KDF: the admin must still be active, still
//! in `crowd-administrators`, and still have the very password hash the password was verified
//! against. A removed admin or a changed password so take effect at the next request, and
//! directories changing all the time do not make every admin call pay the KDF.
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
use crate::store::directory::{ADMIN_DIRECTORY, ADMIN_GROUP};
use crate::store::records::UserRecord;
use crate::store::{Store, Topic};
use crate::sync::MutexExt;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long a verified admin password is trusted without running the KDF again.
const CACHE_TTL: Duration = Duration::from_secs(60);
const CACHE_MAX: usize = 1024;

#[derive(Default)]
pub struct AdminCache {
    /// Keyed digest of (name, password) → what was verified.
    verified: Mutex<HashMap<[u8; 32], Verified>>,
    /// A hash of nothing, verified against when the user is unknown.
    decoy: OnceLock<String>,
}

#[derive(Clone)]
struct Verified {
    /// The admin's name as stored.
    name: String,
    /// A digest of the stored password hash the password was verified against.
    hash: [u8; 32],
    at: Instant,
    /// The store generation it was last known good in.
    generation: u64,
}

/// What an entry says for the store's current generation.
enum Cached {
    Good(String),
    /// Verified, but the store changed since: good if the admin still is as it was.
    Recheck(Verified),
    None,
}

impl AdminCache {
    fn lookup(&self, key: &[u8; 32], generation: u64) -> Cached {
        let verified = self.verified.locked();
        match verified.get(key) {
            Some(v) if v.at.elapsed() < CACHE_TTL && v.generation == generation => {
                Cached::Good(v.name.clone())
            }
            Some(v) if v.at.elapsed() < CACHE_TTL => Cached::Recheck(v.clone()),
            _ => Cached::None,
        }
    }

    /// Remembers a verification made from what the store held at `generation`, taken before
    /// the user and the membership were read.
    fn remember(&self, key: [u8; 32], v: Verified) {
        let mut verified = self.verified.locked();
        if verified.len() >= CACHE_MAX {
            verified.clear();
        }
        verified.insert(key, v);
    }

    fn forget(&self, key: &[u8; 32]) {
        self.verified.locked().remove(key);
    }
}

fn hash_digest(stored_hash: &str) -> [u8; 32] {
    crypto::sha256(stored_hash.as_bytes())
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
    match app.admins.lookup(&key, generation) {
        Cached::Good(user) => {
            app.guards.throttle.succeeded(Kind::Admin, remote, name, now);
            return Ok(user);
        }
        Cached::Recheck(v) => {
            if still_admin(app.store, &v)? {
                app.admins.remember(key, Verified { generation, ..v.clone() });
                app.guards.throttle.succeeded(Kind::Admin, remote, name, now);
                return Ok(v.name);
            }
            app.admins.forget(&key);
        }
        Cached::None => {}
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
    let hash = hash_digest(user.password_hash.as_deref().unwrap_or_default());
    let verified = Verified { name: user.name.clone(), hash, at: Instant::now(), generation };
    app.admins.remember(key, verified);
    Ok(user.name)
}

/// Whether the admin `v` verified is still one, with the same password hash, by what the
/// store holds now.
fn still_admin(store: &Store, v: &Verified) -> Result<bool> {
    let Some(user) = store.user(ADMIN_DIRECTORY, &v.name)? else { return Ok(false) };
    let same_hash =
        user.password_hash.as_deref().map(hash_digest).is_some_and(|h| crypto::ct_eq(&h, &v.hash));
    Ok(same_hash
        && user.active
        && store.is_direct_member(ADMIN_DIRECTORY, ADMIN_GROUP, &user.name)?)
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

    fn v_generation(cache: &AdminCache, key: &[u8; 32]) -> u64 {
        cache.verified.locked()[key].generation
    }

    /// Regression: the cache was never cleared, so a removed admin (or one whose password
    /// changed) kept access with the old password for up to a minute. Now an entry from an
    /// older generation is good only once the admin is checked again as it is.
    #[test]
    fn a_cached_admin_is_checked_again_once_users_or_memberships_change() {
        let store = TempStore::new();
        let bootstrap = Bootstrap {
            directory_name: "Internal",
            admin_name: "admin",
            admin_password_hash: "hash-1".into(),
            now: 1,
        };
        assert!(store.bootstrap_if_empty(bootstrap).unwrap());
        let cache = AdminCache::default();
        let key = [7u8; 32];
        let verified = |generation| Verified {
            name: "admin".into(),
            hash: hash_digest("hash-1"),
            at: Instant::now(),
            generation,
        };
        let now = || store.generation(Topic::Directory);
        cache.remember(key, verified(now()));
        assert!(matches!(cache.lookup(&key, now()), Cached::Good(n) if n == "admin"));

        // Another change: checked again, and still an admin with the same hash.
        store.create_directory("Other", "INTERNAL", "", 2).unwrap();
        assert_ne!(v_generation(&cache, &key), now());
        let Cached::Recheck(v) = cache.lookup(&key, now()) else { panic!("not rechecked") };
        assert!(still_admin(&store, &v).unwrap());
        // Out of the group: no longer.
        store.remove_user_from_group(1, "admin", ADMIN_GROUP, 2).unwrap();
        assert!(!still_admin(&store, &v).unwrap());
        store.add_user_to_group(1, "admin", ADMIN_GROUP, 3).unwrap();
        assert!(still_admin(&store, &v).unwrap());
        // Another password hash (the password changed): no longer either.
        let new_hash = |u: &mut UserRecord| {
            u.password_hash = Some("hash-2".into());
            Ok(())
        };
        store.update_user(1, "admin", new_hash, 4).unwrap();
        assert!(!still_admin(&store, &v).unwrap());
    }
}
