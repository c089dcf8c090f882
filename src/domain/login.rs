//! A directory user logging in through an application (`/authentication`, `/session`).
//!
//! The user is the one the application sees under that name (`domain::access`: the first
//! mapped directory holding it). The order of checks follows Crowd: the password first (so an
//! inactive account is only revealed to someone who knows the password), then the account's
//! state, then whether the application lets this user in: its mapping authenticates everyone,
//! or the user is a member, directly or nested, of one of the mapping's allowed groups
//! (https://confluence.atlassian.com/crowd/specifying-which-groups-can-access-an-application-25788426.html).
//!
//! Guessing is bounded as for admins (`domain::throttle`, `Kind::User`): failures per user
//! name, counted per application (not per address: every login through an application comes
//! from the application's address), a KDF slot per check, and an aggregated
//! `USER_AUTHENTICATION_FAILED` audit row.

use crate::app::App;
use crate::crypto;
use crate::domain::access::{Access, MappedDirectory};
use crate::domain::audit::{self, Action, Attempt};
use crate::domain::clock::Clock;
use crate::domain::throttle::{Guards, Kind};
use crate::error::{Error, LoginFailure, Resource, Result};
use crate::store::records::UserRecord;
use crate::store::Store;
use std::sync::{Arc, OnceLock};

/// Hash verified against for unknown users, so timing does not tell which names exist.
static DECOY: OnceLock<String> = OnceLock::new();

/// What checking a user's password needs, and nothing more: the store, the clock and the
/// guards against guessing.
pub struct Deps<'a> {
    pub store: &'a Store,
    pub clock: &'a Clock,
    pub guards: Guards<'a>,
    /// For users of `CROWD` directories, whose passwords their server checks.
    pub remote: crate::remote::crowd::Deps<'a>,
}

impl<'a> Deps<'a> {
    pub fn of(app: &'a App) -> Deps<'a> {
        Deps {
            store: &app.store,
            clock: &app.clock,
            guards: Guards::of(app),
            remote: crate::remote::crowd::Deps::of(app),
        }
    }
}

/// How an unknown user is reported: `/authentication` says `USER_NOT_FOUND`
/// (AuthenticationResource catches UserNotFoundException), `/session` folds it into
/// `INVALID_USER_AUTHENTICATION` (TokenResource).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Unknown {
    UserNotFound,
    BadCredentials,
}

/// Checks `password` for `name` as the caller's application sees the user; returns the user
/// and its directory.
pub fn authenticate<'a>(
    app: &Deps<'_>,
    access: &'a Access,
    name: &str,
    password: Option<&str>,
    source: &str,
    unknown: Unknown,
) -> Result<(Arc<UserRecord>, &'a MappedDirectory)> {
    let now = app.clock.now_ms();
    let attempt = |throttled| Attempt {
        action: Action::UserAuthenticationFailed,
        source,
        identity: name,
        throttled,
        now,
    };
    let target = || format!("user (sha256 {})", audit::digest(&name.to_lowercase()));
    // Failures count per application and user, not per address: every login through an
    // application comes from the application's own address, and one shared bucket would let
    // fifty typos lock every user of it out.
    let bucket = format!("{}\u{1f}{}", access.name, crate::store::directory::fold(name));
    let source = bucket.as_str();
    if let Err(e) = app.guards.throttle.check(Kind::User, source, name, now) {
        app.guards.failed(&attempt(true), target);
        return Err(e);
    }
    let found = match access.find_user(app.store, name) {
        Ok(found) => Some(found),
        Err(Error::NotFound(..)) => None,
        Err(e) => return Err(e),
    };
    let bad = || {
        Error::Login(
            LoginFailure::BadCredentials,
            "Failed to authenticate principal, password was invalid".into(),
        )
    };
    // A user of a CROWD directory logs in where the directory comes from.
    let remote = match &found {
        Some((_, dir)) => app
            .store
            .directories_cached()?
            .iter()
            .find(|d| d.id == dir.id)
            .and_then(|d| d.remote.clone()),
        None => None,
    };
    if let (Some(remote), Some(password)) = (&remote, password) {
        let name_as_stored = found.as_ref().map_or(name, |(u, _)| u.name.as_str());
        match crate::remote::login::check(&app.remote, remote, name_as_stored, password)? {
            None => app.guards.throttle.succeeded(Kind::User, source, name, now),
            Some((failure, message)) => {
                if failure == LoginFailure::BadCredentials {
                    app.guards.throttle.failed(Kind::User, source, name, now);
                    app.guards.failed(&attempt(false), target);
                }
                return Err(Error::Login(failure, message));
            }
        }
    }
    // `None` is a session made without a password (validate-password=false): the application
    // vouches for the user, as Crowd's TokenResource allows.
    if let Some(password) = password.filter(|_| remote.is_none()) {
        let stored = found.as_ref().and_then(|(u, _)| u.password_hash.as_deref());
        let ok = {
            let Some(_slot) = app.guards.kdf.try_acquire() else {
                return Err(Error::Unavailable {
                    retry_after_secs: 1,
                    message: "too many password checks in progress; try again in a moment".into(),
                });
            };
            let hash = stored.unwrap_or_else(|| {
                DECOY.get_or_init(|| crypto::hash_password("decoy", app.guards.pbkdf2_iterations))
            });
            crypto::verify_password(password, hash) && stored.is_some()
        };
        if !ok {
            app.guards.throttle.failed(Kind::User, source, name, now);
            app.guards.failed(&attempt(false), target);
            return Err(match (&found, unknown) {
                (None, Unknown::UserNotFound) => {
                    Error::UnknownReference(Resource::User, name.to_string())
                }
                _ => bad(),
            });
        }
        app.guards.throttle.succeeded(Kind::User, source, name, now);
    }
    let Some((user, dir)) = found else {
        return Err(match unknown {
            Unknown::UserNotFound => Error::UnknownReference(Resource::User, name.to_string()),
            Unknown::BadCredentials => bad(),
        });
    };
    if !user.active {
        return Err(Error::Login(
            LoginFailure::Inactive,
            format!("Account with name <{}> is inactive", user.name),
        ));
    }
    if user.password_expired && password.is_some() {
        return Err(Error::Login(
            LoginFailure::ExpiredCredential,
            format!("The password of <{}> has expired and must be changed", user.name),
        ));
    }
    permitted(app.store, &user, dir)?;
    Ok((user, dir))
}

/// Whether the application lets `user` in through this mapping.
pub fn permitted(store: &Store, user: &UserRecord, dir: &MappedDirectory) -> Result<()> {
    if dir.authenticate_all {
        return Ok(());
    }
    let groups = store.nested_groups_of_user(dir.id, &user.name)?;
    let fold = crate::store::directory::fold;
    let allowed = groups.iter().any(|g| dir.allowed_groups.iter().any(|a| fold(a) == fold(g)));
    if allowed {
        Ok(())
    } else {
        Err(Error::Login(
            LoginFailure::NotPermitted,
            format!("User <{}> does not have access to the application", user.name),
        ))
    }
}
