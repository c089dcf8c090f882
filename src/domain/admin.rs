//! Who may call the admin APIs: active members of `crowd-administrators`, by HTTP Basic.
//!
//! Passwords are PBKDF2 hashes, deliberately slow, so a verified (name, password) pair is
//! cached for a short while under a keyed digest of both; the cache never holds anything a
//! password can be recovered from, and it is cleared whenever users or groups change.

use crate::app::App;
use crate::crypto;
use crate::error::{Error, Result};
use crate::store::directory::ADMIN_GROUP;
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
        self.verified.lock().expect("admin cache").clear();
    }
}

/// Authenticates an admin from Basic credentials and returns the user's name as stored.
/// Wrong or missing credentials are `Unauthenticated`; a valid non-admin user is `Forbidden`.
pub fn authenticate(app: &App, basic: Option<(&str, &str)>) -> Result<String> {
    let Some((name, password)) = basic else {
        return Err(Error::Unauthenticated);
    };
    let key = app.keys.cache_key(&[name.as_bytes(), password.as_bytes()]);
    if let Some((user, at)) = app.admins.verified.lock().expect("admin cache").get(&key) {
        if at.elapsed() < CACHE_TTL {
            return Ok(user.clone());
        }
    }
    let user = app.store.find_user(name)?;
    let stored = user.as_ref().and_then(|u| u.password_hash.as_deref());
    // Run the KDF even for unknown users, so timing does not reveal which names exist.
    let hash = match stored {
        Some(h) => h,
        None => app
            .admins
            .decoy
            .get_or_init(|| crypto::hash_password("decoy", app.config.pbkdf2_iterations)),
    };
    let password_ok = crypto::verify_password(password, hash) && stored.is_some();
    let user = match user {
        Some(u) if password_ok && u.active => u,
        _ => return Err(Error::Unauthenticated),
    };
    if !app.store.is_direct_member(user.directory_id, ADMIN_GROUP, &user.name)? {
        return Err(Error::Forbidden(format!("user '{}' is not a Crowd administrator", user.name)));
    }
    let mut cache = app.admins.verified.lock().expect("admin cache");
    if cache.len() >= CACHE_MAX {
        cache.clear();
    }
    cache.insert(key, (user.name.clone(), Instant::now()));
    Ok(user.name)
}
