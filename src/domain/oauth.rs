//! The OAuth 2.0 rules: client authentication, the client-credentials grant, and what makes
//! a bearer token live. RFC 6749 §2.3, §4.4, §5; RFC 7662; RFC 7009.
//!
//! This is the hot path. Issuing reads the in-memory registry, hashes the secret once, signs
//! once and hands the record to the write-behind writer; validating verifies a MAC and reads
//! two in-memory maps. Neither waits on the disk.

use crate::app::App;
use crate::crypto::Keys;
use crate::domain::admin::{self, AdminCache};
use crate::domain::assertion::{Assertion, Refusal, Rules};
use crate::domain::audit::{self, Action, Actor, Attempt};
use crate::domain::clock::Clock;
use crate::domain::jwks::{Fetching, JwksCache};
use crate::domain::registry::{ClientRegistry, CredentialEntry, Keys as ClientKeys, Proof};
use crate::domain::throttle::{Guards, Kind};
use crate::domain::tokens::{self, Claims, RevokedSet, VerifiedTokens};
use crate::error::{Error, OAuthCode, Result};
use crate::remote::client::Outbound;
use crate::store::replay::{Refused, ReplayGuard};
use crate::store::writer::Writer;
use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;

pub const GRANT_CLIENT_CREDENTIALS: &str = "client_credentials";
/// `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const ASSERTION_TYPE_JWT_BEARER: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// What client assertions are held to, fixed at start from the configuration and the
/// server's address.
#[derive(Debug, Clone)]
pub struct AssertionPolicy {
    /// What `aud` may name: the token endpoint URLs, the issuer, and the configured extras.
    pub audiences: Vec<String>,
    /// `--assertion-audience-mode issuer`: `aud` is the issuer, as one string, and nothing else.
    pub single_audience: bool,
    pub leeway_secs: u64,
    pub max_lifetime_secs: u64,
    pub jwks_ttl_ms: u64,
    pub jwks_refetch_ms: u64,
}

/// What `private_key_jwt` needs beside the registry: the policy, the replay guard, and the
/// JWKS cache with the client it fetches with.
#[derive(Clone, Copy)]
pub struct AssertionDeps<'a> {
    pub policy: &'a AssertionPolicy,
    pub replay: &'a ReplayGuard,
    pub jwks: &'a JwksCache,
    pub outbound: &'a Outbound,
}

/// What the OAuth rules need, and nothing more: the in-memory registry, revoked set and
/// verified tokens the hot path reads, the keys that sign and check tokens, the writer issued
/// tokens go to, the store a revocation is written to, the admin cache and guards that
/// authenticate callers, and the token lifetime.
pub struct Deps<'a> {
    pub store: &'a Store,
    pub keys: &'a Keys,
    pub clock: &'a Clock,
    pub clients: &'a ClientRegistry,
    pub revoked: &'a RevokedSet,
    pub verified_tokens: &'a VerifiedTokens,
    pub writer: &'a Writer,
    pub admins: &'a AdminCache,
    pub guards: Guards<'a>,
    pub token_ttl: Duration,
    pub assertions: AssertionDeps<'a>,
}

impl<'a> Deps<'a> {
    /// Built on every bearer request; inlined there with `validate`, so only the five parts
    /// it reads are ever loaded.
    #[inline]
    pub fn of(app: &'a App) -> Deps<'a> {
        Deps {
            store: &app.store,
            keys: &app.keys,
            clock: &app.clock,
            clients: &app.clients,
            revoked: &app.revoked,
            verified_tokens: &app.verified_tokens,
            writer: &app.writer,
            admins: &app.admins,
            guards: Guards::of(app),
            token_ttl: app.config.token_ttl,
            assertions: AssertionDeps {
                policy: &app.assertion_policy,
                replay: &app.replay,
                jwks: &app.jwks,
                outbound: &app.outbound,
            },
        }
    }

    /// The same parts, as the admin check takes them.
    fn admin(&self) -> admin::Deps<'a> {
        admin::Deps {
            store: self.store,
            keys: self.keys,
            clock: self.clock,
            admins: self.admins,
            guards: self.guards,
        }
    }
}

/// Client credentials as the request presented them.
#[derive(Debug, Clone, Copy)]
pub enum ClientCredentials<'a> {
    /// `client_secret_basic`: the Authorization header.
    Basic {
        id: &'a str,
        secret: &'a str,
    },
    /// `client_secret_post`: form or JSON fields.
    Post {
        id: &'a str,
        secret: &'a str,
    },
    /// `private_key_jwt`: a signed JWT (`client_assertion`), with the `client_id` it was
    /// sent with, if any.
    Assertion {
        id: Option<&'a str>,
        jws: &'a str,
    },
    None,
}

fn invalid_client() -> Error {
    Error::oauth(OAuthCode::InvalidClient, "client authentication failed")
}

/// Authenticates an OAuth client. Unknown ids, wrong secrets, refused assertions and expired
/// or archived credentials all fail as `invalid_client`; each failure counts against the
/// source and the client id (`domain::throttle`), and past their limits the attempt is
/// refused with 429 before the credential is looked at. Failed and refused attempts go to the
/// aggregated audit log, which never holds the secret or the assertion.
pub fn authenticate_client(
    app: &Deps<'_>,
    creds: ClientCredentials<'_>,
    remote: &str,
) -> Result<Arc<CredentialEntry>> {
    let (entry, pending) = authenticate_client_pending(app, creds, remote)?;
    if let Some(record) = pending {
        app.assertions
            .replay
            .wait(record)
            .map_err(|e| Error::Internal(format!("flushing the replay journal: {e}")))?;
    }
    Ok(entry)
}

/// A client, authenticated; with `--replay-durability disk`, the number of the replay record
/// that must be on the disk before the answer goes out ([`ReplayGuard::wait`]).
pub type Pending = Option<u64>;

/// [`authenticate_client`], leaving a client assertion's durable record to wait for to the
/// caller, who may wait outside its worker permit.
pub fn authenticate_client_pending(
    app: &Deps<'_>,
    creds: ClientCredentials<'_>,
    remote: &str,
) -> Result<(Arc<CredentialEntry>, Pending)> {
    // For an assertion, the client is the one `client_id` names or, without it, the one its
    // (not yet verified) `sub` names: RFC 7521 §4.2 makes `client_id` optional, and authlib
    // leaves it out. Verification then requires iss = sub = that client.
    let parsed;
    let (id, subject);
    match creds {
        ClientCredentials::Basic { id: i, secret } | ClientCredentials::Post { id: i, secret } => {
            return authenticated(app, i, remote, |now| {
                let entry = app.clients.verify(i, secret, now).ok_or(Rejected::Refused(None))?;
                Ok((entry, None))
            })
        }
        ClientCredentials::Assertion { id: given, jws } => {
            parsed = Assertion::parse(jws);
            subject = match (given, &parsed) {
                (Some(_), _) | (None, Err(_)) => None,
                (None, Ok(a)) => a.unverified_subject(),
            };
            id = given.or(subject.as_deref()).unwrap_or("");
        }
        ClientCredentials::None => {
            return Err(Error::oauth(OAuthCode::InvalidClient, "client authentication is required"))
        }
    }
    authenticated(app, id, remote, |now| match &parsed {
        Ok(assertion) => by_assertion(app, assertion, id, now),
        Err(refusal) => Err(Rejected::Refused(Some(refusal.clone()))),
    })
}

/// Why a client was not authenticated.
enum Rejected {
    /// Its credential is refused, for the reason given (an assertion's rule) or none (a
    /// secret: which of id and secret was wrong is not said).
    Refused(Option<Refusal>),
    /// It could not be checked now: the server's fault, not the client's, so not counted.
    Unavailable(Error),
}

/// Runs `check` for client `id` under the throttle, and counts and audits its outcome.
fn authenticated(
    app: &Deps<'_>,
    id: &str,
    remote: &str,
    check: impl FnOnce(u64) -> std::result::Result<(Arc<CredentialEntry>, Pending), Rejected>,
) -> Result<(Arc<CredentialEntry>, Pending)> {
    let now = app.clock.now_ms();
    let attempt = |throttled| Attempt {
        action: Action::ClientAuthenticationFailed,
        source: remote,
        identity: id,
        throttled,
        now,
    };
    if let Err(e) = app.guards.throttle.check(Kind::Client, remote, id, now) {
        app.guards.failed(&attempt(true), || audit_target(app, id));
        return Err(e);
    }
    match check(now) {
        Ok(entry) => {
            app.guards.throttle.succeeded(Kind::Client, remote, id, now);
            Ok(entry)
        }
        Err(Rejected::Unavailable(e)) => Err(e),
        Err(Rejected::Refused(why)) => {
            app.guards.throttle.failed(Kind::Client, remote, id, now);
            app.guards.failed(&attempt(false), || audit_target(app, id));
            Err(why.map_or_else(invalid_client, |Refusal(why)| {
                Error::oauth(OAuthCode::InvalidClient, why)
            }))
        }
    }
}

/// RFC 7523 §3: the client's keys (registered, or from its JWKS URL), the assertion checked
/// against them and the policy, then admitted once by the replay guard.
fn by_assertion(
    app: &Deps<'_>,
    assertion: &Assertion<'_>,
    id: &str,
    now_ms: u64,
) -> std::result::Result<(Arc<CredentialEntry>, Pending), Rejected> {
    let refused = |why: &str| Rejected::Refused(Some(Refusal(why.to_string())));
    let d = &app.assertions;
    let now = now_ms / 1000;
    let rules = Rules {
        audiences: &d.policy.audiences,
        single_audience: d.policy.single_audience,
        leeway_secs: d.policy.leeway_secs,
        max_lifetime_secs: d.policy.max_lifetime_secs,
        now_secs: now,
    };
    let entry = app.clients.credential(id);
    let Some(Proof::Keys(keys)) = entry.as_deref().map(|e| &e.proof) else {
        // An unknown id, or a client with a secret, is checked against no keys: the answer is
        // the one a key client gets for a key it does not hold, so which ids exist is not told.
        let why = assertion.verify(id, &[], &rules).err();
        return Err(Rejected::Refused(
            why.or_else(|| Some(Refusal("client authentication failed".into()))),
        ));
    };
    let fetched;
    let keys = match keys {
        ClientKeys::Inline(keys) => keys.as_slice(),
        ClientKeys::Url(url) => {
            let f = Fetching {
                outbound: d.outbound,
                ttl_ms: d.policy.jwks_ttl_ms,
                refetch_ms: d.policy.jwks_refetch_ms,
                now: now_ms,
            };
            fetched =
                d.jwks.keys(&f, url, assertion.kid()).map_err(|r| Rejected::Refused(Some(r)))?;
            fetched.as_slice()
        }
    };
    let verified = assertion.verify(id, keys, &rules).map_err(|r| Rejected::Refused(Some(r)))?;
    match d.replay.admit(&verified.replay_key, verified.replay_until, now) {
        Ok(pending) => Ok((entry.expect("matched above"), pending)),
        Err(Refused::Replayed) => {
            Err(refused("the assertion was used before: each assertion is accepted once"))
        }
        Err(Refused::Full) => Err(Rejected::Unavailable(Error::Unavailable {
            retry_after_secs: 60,
            message: "too many client assertions are live; try again later".into(),
        })),
        Err(Refused::Journal(e)) => {
            Err(Rejected::Unavailable(Error::Internal(format!("writing the replay journal: {e}"))))
        }
    }
}

/// How a failed authentication names the client id it was given. A known id is recorded as
/// is; anything else may be a secret pasted into the wrong field, so only a short digest of it
/// is kept, enough to tell repeated attempts apart.
fn audit_target(app: &Deps<'_>, presented: &str) -> String {
    if app.clients.credential(presented).is_some() {
        presented.to_string()
    } else {
        format!("unknown client id (sha256 {})", audit::digest(presented))
    }
}

/// An issued access token, ready to render.
pub struct Issued {
    pub access_token: String,
    pub expires_in: u64,
    pub scope: String,
    /// The replay record to wait for before answering (`--replay-durability disk`).
    pub pending: Pending,
}

/// The client-credentials grant, after parsing: checks the grant, the client and the scope.
pub fn issue(
    app: &Deps<'_>,
    grant_type: Option<&str>,
    creds: ClientCredentials<'_>,
    scope: Option<&str>,
    remote: &str,
) -> Result<Issued> {
    match grant_type {
        None | Some("") => {
            return Err(Error::oauth(OAuthCode::InvalidRequest, "grant_type is required"))
        }
        Some(GRANT_CLIENT_CREDENTIALS) => {}
        Some(_) => {
            return Err(Error::oauth(
                OAuthCode::UnsupportedGrantType,
                "only the client_credentials grant is supported",
            ))
        }
    }
    let (entry, pending) = authenticate_client_pending(app, creds, remote)?;
    let granted = grant_scope(&entry.client.scopes, scope)?;
    // A token never outlives the credential that obtained it: its expiry, or for a rotated-out
    // pair its grace end. Whole seconds, rounded down; under a second left is no credential.
    let now = app.clock.now_secs();
    let ttl = app.token_ttl.as_secs().min((entry.usable_until / 1000).saturating_sub(now));
    if ttl == 0 {
        return Err(invalid_client());
    }
    let (access_token, claims) =
        tokens::mint(app.keys, entry.client.key, entry.client_id_bytes, granted, now, ttl);
    app.writer.token(claims);
    Ok(Issued { access_token, expires_in: ttl, scope: tokens::scope_text(granted), pending })
}

/// RFC 6749 §3.3: a space-delimited list, each within the client's scopes; none requested
/// means all of the client's.
fn grant_scope(allowed: &[String], requested: Option<&str>) -> Result<u8> {
    let requested = requested.map(str::trim).filter(|s| !s.is_empty());
    let Some(requested) = requested else {
        return Ok(tokens::scope_bits(allowed.iter().map(String::as_str)).unwrap_or(0));
    };
    let mut granted: Vec<&str> = Vec::new();
    for s in requested.split(' ').filter(|s| !s.is_empty()) {
        if !allowed.iter().any(|a| a == s) {
            return Err(Error::oauth(
                OAuthCode::InvalidScope,
                format!("scope '{s}' is not granted to this client"),
            ));
        }
        if !granted.contains(&s) {
            granted.push(s);
        }
    }
    tokens::scope_bits(granted).ok_or_else(|| {
        Error::oauth(OAuthCode::InvalidScope, "the client holds a scope tokens cannot carry")
    })
}

/// A live token's claims, or `InvalidToken`: bad MAC, expired, revoked, client archived, or
/// issued before the client's `tokens_not_before`.
#[inline]
pub fn validate(app: &Deps<'_>, token: &str) -> Result<Claims> {
    live_claims(app, token).ok_or(Error::InvalidToken)
}

#[inline]
fn live_claims(app: &Deps<'_>, token: &str) -> Option<Claims> {
    let claims = app.verified_tokens.verify(app.keys, token)?;
    let now_ms = app.clock.now_ms();
    if claims.expires * 1000 <= now_ms {
        return None;
    }
    let not_before = app.clients.tokens_not_before(&claims.client)?;
    if claims.issued * 1000 < not_before || app.revoked.contains(&claims.jti) {
        return None;
    }
    Some(claims)
}

/// Who is calling introspection or revocation.
pub enum Caller {
    Client(Arc<CredentialEntry>),
    Admin(String),
}

impl Caller {
    fn may_see(&self, claims: &Claims) -> bool {
        match self {
            Caller::Admin(_) => true,
            Caller::Client(entry) => entry.client.key == claims.client,
        }
    }

    fn name(&self) -> &str {
        match self {
            Caller::Admin(n) => n,
            Caller::Client(e) => &e.client_id,
        }
    }
}

/// Authenticates the caller of introspection or revocation: a client by its credentials, or
/// an admin by Basic. A Basic user name shaped like a client id (32 hex) is always treated as
/// a client, so which path runs reveals nothing about which names exist.
pub fn authenticate_caller(
    app: &Deps<'_>,
    creds: ClientCredentials<'_>,
    remote: &str,
) -> Result<Caller> {
    if let ClientCredentials::Basic { id, secret } = creds {
        if !is_client_id_shaped(id) {
            return match admin::authenticate(&app.admin(), Some((id, secret)), remote) {
                Ok(name) => Ok(Caller::Admin(name)),
                Err(Error::Forbidden(_) | Error::Unauthenticated) => Err(invalid_client()),
                Err(e) => Err(e),
            };
        }
    }
    authenticate_client(app, creds, remote).map(Caller::Client)
}

fn is_client_id_shaped(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// RFC 7662: the claims of a live token the caller may see, else `None` (`{"active":false}`).
pub fn introspect(app: &Deps<'_>, caller: &Caller, token: &str) -> Option<(Claims, String)> {
    let claims = live_claims(app, token)?;
    if !caller.may_see(&claims) {
        return None;
    }
    let subject = app.clients.client(&claims.client).map(|c| c.subject.clone()).unwrap_or_default();
    Some((claims, subject))
}

/// RFC 7009: revokes a live token the caller may revoke, durably. Anything else is a silent
/// success, so the answer never tells whether a token exists.
pub fn revoke(app: &Deps<'_>, caller: &Caller, token: &str, remote: &str) -> Result<()> {
    let Some(claims) = live_claims(app, token) else {
        return Ok(());
    };
    if !caller.may_see(&claims) {
        return Ok(());
    }
    let actor = Actor { name: caller.name().to_string(), remote: remote.into() };
    let record = actor.record(
        app.clock.now_ms(),
        Action::TokenRevoked,
        &claims.client_id_text(),
        format!("jti={}", claims.jti_text()),
    );
    app.store.revoke_token(&claims.jti_text(), claims.expires, record)?;
    app.revoked.insert(claims.jti, claims.expires);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_rules() {
        let allowed = vec!["APPLICATION".to_string()];
        assert_eq!(grant_scope(&allowed, None).unwrap(), 1);
        assert_eq!(grant_scope(&allowed, Some("")).unwrap(), 1);
        assert_eq!(grant_scope(&allowed, Some("APPLICATION APPLICATION")).unwrap(), 1);
        assert!(grant_scope(&allowed, Some("SYSTEM_ADMIN")).is_err());
        assert!(grant_scope(&allowed, Some("application")).is_err());
    }

    #[test]
    fn client_id_shape() {
        assert!(is_client_id_shaped("de2782fd6ff6dbd09bf8ed4082cf203c"));
        assert!(!is_client_id_shaped("admin"));
        assert!(!is_client_id_shaped("DE2782FD6FF6DBD09BF8ED4082CF203C"));
    }
}
