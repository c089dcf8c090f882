//! How an application authenticates to usermanagement: HTTP Basic with its name and password,
//! then Crowd's client validation (https://developer.atlassian.com/server/crowd/using-the-crowd-rest-apis/).
//!
//! The password check has the shape of the admin check (`domain::admin`):
//!
//! 1. the throttle first (`Kind::Application`, per source and per name), so a guesser past
//!    its limit is answered 429 before anything is looked at, a cache hit included;
//! 2. a cache of verified (name, password) pairs under a keyed digest of both, trusted while
//!    [`Store::applications_generation`] has not moved, so a new password, a deactivation or a
//!    deletion takes effect on the next request. There is no time limit besides: the result
//!    of PBKDF2 cannot change without a write, and re-running it every minute made a busy
//!    application's connections miss together and get 503 for want of KDF slots (measured:
//!    9,375 of 250,000 requests in one wrk run);
//! 3. otherwise PBKDF2 under a KDF slot (503 when none is free), against a decoy hash for a
//!    name that does not exist, so timing does not say which names do. Concurrent misses of
//!    the same pair wait for the first one's answer instead of each taking a slot.
//!
//! A failure is `Unauthenticated` (Crowd's 401 `Application failed to authenticate`),
//! counted by the throttle and audited as `APPLICATION_AUTHENTICATION_FAILED`, aggregated.
//!
//! Then, on every request, cached or not, Crowd's client validation in its order
//! (`ClientValidationManagerImpl.validate`): the application must be active, and the client
//! address (`address::effective_client`) must match one of its remote addresses. Either
//! failure is `ClientRefused`, Crowd's 403 page.
//!
//! [`Store::applications_generation`]: crate::store::Store::applications_generation

use super::{address, Deps};
use crate::crypto;
use crate::domain::audit::{self, Action, Attempt};
use crate::domain::throttle::{Kind, KNOWN_REFRESH_MS};
use crate::error::{Error, Result};
use crate::store::applications::{ApplicationRecord, ApplicationType, DirectoryMapping};
use crate::store::cache::{MixedState, PerThread};
use crate::store::records::{ClientOwner, Millis};
use crate::sync::{MutexExt, RwLockExt};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Condvar, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

const CACHE_MAX: usize = 1024;

/// The application a usermanagement request comes from, as its handlers receive it.
#[derive(Debug, Clone)]
pub struct AppPrincipal {
    pub id: u64,
    /// As stored (the caller may have written it in another case).
    pub name: Arc<str>,
    pub kind: ApplicationType,
    /// The directories it sees, in lookup order, and what it may do in each.
    pub mappings: Arc<[DirectoryMapping]>,
    pub lowercase_output: bool,
    pub aliasing_enabled: bool,
    /// The applications generation its record was read at: a view built from a record read
    /// before a change must not be cached as the current one (`domain::access`).
    pub generation: u64,
}

/// One verified (name, password) pair and the application as it was then.
#[derive(Clone)]
pub(crate) struct Verified {
    app: Arc<ApplicationRecord>,
    mappings: Arc<[DirectoryMapping]>,
    /// `app.remote_addresses`, parsed once.
    remote_rules: Arc<[address::Rule]>,
    /// `app.name`, for principals, which clone it on every call.
    name: Arc<str>,
    /// The store's application generation before the record was read.
    generation: u64,
}

impl Verified {
    fn of(app: ApplicationRecord, generation: u64) -> Verified {
        Verified {
            name: app.name.as_str().into(),
            mappings: app.mappings.clone().into(),
            remote_rules: address::parse_rules(&app.remote_addresses).into(),
            app: Arc::new(app),
            generation,
        }
    }
}

/// Verified credentials, keyed by `Keys::cache_key(name, password)`: the map never holds
/// anything a password could be recovered from.
pub struct VerifiedCache {
    map: RwLock<HashMap<[u8; 32], Verified>>,
    /// What `map` holds, copied into each worker's stripe on first use with nothing shared
    /// (`Local`): a steady stream of calls reads only its own core's lines.
    local: PerThread<[u8; 32], Local, MixedState>,
    /// Pairs being verified now, and the signal that one finished.
    pending: Mutex<HashSet<[u8; 32]>>,
    finished: Condvar,
    /// A hash of nothing, verified against when the name is unknown.
    decoy: OnceLock<String>,
    /// Per OAuth client (its 16-byte key, as tokens carry it): what its tokens act as.
    by_client: PerThread<[u8; 16], LinkCaller, MixedState>,
}

impl Default for VerifiedCache {
    fn default() -> Self {
        VerifiedCache {
            map: RwLock::default(),
            local: PerThread::new(CACHE_MAX),
            by_client: PerThread::new(CACHE_MAX),
            pending: Mutex::default(),
            finished: Condvar::new(),
            decoy: OnceLock::new(),
        }
    }
}

/// What a client's bearer tokens act as on usermanagement.
enum LinkCaller {
    /// The application that takes the client's incoming link.
    Application(Local),
    /// Itself: the client is no link's (a service account's).
    Itself,
    /// Nothing: the client is a link's that no application takes (the link's name).
    Unbound(String),
}

/// A worker's own copy of a [`Verified`] pair.
struct Local {
    verified: Verified,
    /// The peer and time this worker last told the throttle of a success for the pair: it
    /// keeps that for [`KNOWN_REFRESH_MS`] anyway, so telling it again sooner changes nothing.
    told: RefCell<(String, Millis)>,
}

impl Local {
    fn of(v: &Verified) -> Local {
        let verified = Verified {
            name: Arc::from(&*v.name),
            app: Arc::new((*v.app).clone()),
            mappings: v.mappings.iter().cloned().collect(),
            remote_rules: v.remote_rules.iter().cloned().collect(),
            generation: v.generation,
        };
        Local { verified, told: RefCell::new((String::new(), 0)) }
    }

    /// Tells the throttle of a success unless this worker told it of the same one lately.
    fn succeeded(&self, d: &Deps<'_>, peer: &str, name: &str, now: Millis) {
        let mut told = self.told.borrow_mut();
        if told.0 != peer || now.saturating_sub(told.1) >= KNOWN_REFRESH_MS {
            d.guards.throttle.succeeded(Kind::Application, peer, name, now);
            peer.clone_into(&mut told.0);
            told.1 = now;
        }
    }
}

impl VerifiedCache {
    fn get(&self, key: &[u8; 32], generation: u64) -> Option<Verified> {
        let hit = self.map.reading().get(key).cloned()?;
        (hit.generation == generation).then_some(hit)
    }

    /// Waits (at most [`TURN_WAIT`]) while another request verifies the same pair, then takes
    /// the turn: one PBKDF2 run per pair, however many connections miss at once.
    fn turn(&self, key: [u8; 32]) -> Turn<'_> {
        let deadline = Instant::now() + TURN_WAIT;
        let mut pending = self.pending.locked();
        while pending.contains(&key) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            pending =
                self.finished.wait_timeout(pending, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        pending.insert(key);
        Turn { cache: self, key }
    }
}

/// How long a request waits for another's verification of the same pair.
const TURN_WAIT: Duration = Duration::from_secs(5);

/// A turn at verifying one pair; the next waiter goes when it ends.
struct Turn<'a> {
    cache: &'a VerifiedCache,
    key: [u8; 32],
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.cache.pending.locked().remove(&self.key);
        self.cache.finished.notify_all();
    }
}

impl VerifiedCache {
    fn put(&self, key: [u8; 32], v: Verified) {
        let mut map = self.map.writing();
        if map.len() >= CACHE_MAX {
            map.clear();
        }
        map.insert(key, v);
    }
}

/// Authenticates an application from Basic credentials and validates where it calls from.
/// `peer` is the TCP peer; `forwarded_for` every `X-Forwarded-For` value, believed only
/// from the application's trusted proxies.
///
/// Errors: no or wrong credentials `Unauthenticated`; too many failures `TooManyRequests`;
/// every KDF slot busy `Unavailable`; inactive or calling from elsewhere `ClientRefused`.
pub fn authenticate(
    d: &Deps<'_>,
    basic: Option<(&str, &str)>,
    peer: &str,
    forwarded_for: Vec<&str>,
) -> Result<AppPrincipal> {
    let Some((name, password)) = basic else {
        return Err(Error::Unauthenticated);
    };
    let now = d.clock.now_ms();
    let attempt = |throttled| Attempt {
        action: Action::ApplicationAuthenticationFailed,
        source: peer,
        identity: name,
        throttled,
        now,
    };
    // Failures count against the TCP peer: X-Forwarded-For is the caller's word until the
    // caller is known, and an application is not known yet.
    if let Err(e) = d.guards.throttle.check(Kind::Application, peer, name, now) {
        failed(d, &attempt(true), name);
        return Err(e);
    }
    let key = d.keys.cache_key(&[name.as_bytes(), password.as_bytes()]);
    let cache = &d.state.verified;
    let generation = d.store.applications_generation();
    let hit = cache.local.get_with(&key, generation, |local| {
        local.succeeded(d, peer, name, now);
        validate_client(d, &local.verified, peer, &forwarded_for)
    });
    if let Some(result) = hit {
        return result;
    }
    let verified = match cache.get(&key, generation) {
        Some(hit) => hit,
        None => {
            let _turn = cache.turn(key);
            if let Some(hit) = cache.get(&key, d.store.applications_generation()) {
                d.guards.throttle.succeeded(Kind::Application, peer, name, now);
                return validate_client(d, &hit, peer, &forwarded_for);
            }
            let v = verify(d, name, password).inspect_err(|e| {
                if matches!(e, Error::Unauthenticated) {
                    d.guards.throttle.failed(Kind::Application, peer, name, now);
                    failed(d, &attempt(false), name);
                }
            })?;
            cache.put(key, v.clone());
            v
        }
    };
    cache.local.fill(key, Local::of(&verified), verified.generation);
    d.guards.throttle.succeeded(Kind::Application, peer, name, now);
    validate_client(d, &verified, peer, &forwarded_for)
}

/// A bearer token's caller, when its client is an incoming application link's: the
/// application that authenticates with that link, validated as a Basic caller is (active,
/// then the client address: Crowd's 403 for an address not allowed, the known problem of
/// directory sync over OAuth 2.0). `None` when the client is no link's (a service account
/// reads as itself). A link that no application takes is refused, saying so.
///
/// The token itself was checked before (`oauth::validate`); this is a per-worker lookup
/// while no application changes, so link callers stay on the token hot path.
pub fn by_link_token(
    d: &Deps<'_>,
    client: &[u8; 16],
    peer: &str,
    forwarded_for: &[&str],
) -> Result<Option<AppPrincipal>> {
    let cache = &d.state.verified;
    let generation = d.store.applications_generation();
    let act = |caller: &LinkCaller| match caller {
        LinkCaller::Application(local) => {
            validate_client(d, &local.verified, peer, forwarded_for).map(Some)
        }
        LinkCaller::Itself => Ok(None),
        LinkCaller::Unbound(link) => Err(Error::Forbidden(format!(
            "the application link '{link}' is not the authentication method of any \
             application; choose it as one application's authentication method"
        ))),
    };
    if let Some(result) = cache.by_client.get_with(client, generation, act) {
        return result;
    }
    let caller = link_caller(d, client, generation)?;
    let result = act(&caller);
    cache.by_client.fill(*client, caller, generation);
    result
}

/// What the client `key`'s tokens act as, read at `generation` (taken before). A client the
/// store no longer has (deleted since its token was checked) is an invalid token, never a
/// reader.
fn link_caller(d: &Deps<'_>, key: &[u8; 16], generation: u64) -> Result<LinkCaller> {
    let Some(client) = d.store.oauth_client(&crypto::uuid_text(key))? else {
        return Err(Error::InvalidToken);
    };
    let ClientOwner::ApplicationLink { id: link } = client.owner else {
        return Ok(LinkCaller::Itself);
    };
    let Some(app) = d.store.applications()?.into_iter().find(|a| a.auth.link() == Some(link))
    else {
        return Ok(LinkCaller::Unbound(client.name));
    };
    Ok(LinkCaller::Application(Local::of(&Verified::of(app, generation))))
}

/// Checks the password against the stored hash (or the decoy) under a KDF slot.
fn verify(d: &Deps<'_>, name: &str, password: &str) -> Result<Verified> {
    // Taken before the read: a write that commits after it makes this entry stale at once.
    let generation = d.store.applications_generation();
    let app = d.store.application_by_name(name)?;
    let stored = app.as_ref().and_then(|a| a.auth.password_hash());
    let password_ok = {
        let Some(_slot) = d.guards.kdf.try_acquire() else {
            return Err(Error::Unavailable {
                retry_after_secs: 1,
                message: "too many password checks in progress; try again in a moment".into(),
            });
        };
        // Run the KDF even for unknown names, so timing does not reveal which names exist.
        let hash = match stored {
            Some(h) => h,
            None => d
                .state
                .verified
                .decoy
                .get_or_init(|| crypto::hash_password("decoy", d.guards.pbkdf2_iterations)),
        };
        crypto::verify_password(password, hash) && stored.is_some()
    };
    match app {
        Some(app) if password_ok => Ok(Verified::of(app, generation)),
        _ => Err(Error::Unauthenticated),
    }
}

/// Crowd's client validation, in its order: active, then the remote address.
fn validate_client(
    d: &Deps<'_>,
    v: &Verified,
    peer: &str,
    forwarded_for: &[&str],
) -> Result<AppPrincipal> {
    let resolver = &d.state.resolver;
    let client = address::effective_client(peer, forwarded_for, &v.app.trusted_proxies, resolver);
    let allowed = v.app.active
        && client.ip.is_some_and(|ip| address::matches_rules(ip, &v.remote_rules, resolver));
    if !allowed {
        // Crowd logs the same refusal (ClientValidationManagerImpl); it names no secret. Info,
        // not warn: only holders of the password get this far, and a misplaced one may call
        // often.
        log::info!(
            "client with address '{}' is forbidden from making requests to application '{}'{}",
            client.text,
            v.app.name,
            if v.app.active { "" } else { " (inactive)" }
        );
        return Err(Error::ClientRefused {
            address: client.text.into_owned(),
            application: v.app.name.clone(),
        });
    }
    Ok(AppPrincipal {
        id: v.app.id,
        name: v.name.clone(),
        kind: v.app.kind,
        mappings: v.mappings.clone(),
        lowercase_output: v.app.lowercase_output,
        aliasing_enabled: v.app.aliasing_enabled,
        generation: v.generation,
    })
}

/// Counts a failed or throttled attempt into the aggregated audit log.
fn failed(d: &Deps<'_>, a: &Attempt<'_>, presented: &str) {
    let target = || match d.store.application_by_name(presented).ok().flatten() {
        Some(app) => app.name,
        // It may be a password typed into the wrong field: only a digest is kept.
        None => {
            format!("unknown application (sha256 {})", audit::digest(&presented.to_lowercase()))
        }
    };
    d.guards.failed(a, target);
}
