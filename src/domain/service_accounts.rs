//! Service accounts (Crowd 7.0): accounts tied to no person that reach Crowd only through
//! OAuth 2.0 client credentials. Create, update, search, archive and credential rotation,
//! with every rule of Crowd 7.0's service-account documentation.
//!
//! Source: https://confluence.atlassian.com/enterprise/service-accounts-in-crowd-1573749299.html

use crate::app::App;
use crate::crypto::{self, Keys};
use crate::domain::assertion::parse_jwk_set;
use crate::domain::audit::{Action, Actor};
use crate::domain::clock::Clock;
use crate::domain::registry::{Change, ClientRegistry};
use crate::error::{Error, Resource, Result};
use crate::store::records::{
    ClientOwner, Credential, KeyCredential, KeySource, OAuthClientRecord, SecretCredential,
    ServiceAccountRecord,
};
use crate::store::Store;
use serde_json::Value;
use std::time::Duration;

/// The only scope Crowd 7.0 offers service accounts.
pub const APPLICATION_SCOPE: &str = "APPLICATION";
/// The scope of Atlassian's SCIM provisioning API, for accounts that authenticate by key.
pub const MANAGE_DIRECTORY_SCOPE: &str = "manage:directory";
/// Credentials live at most two years.
pub const MAX_EXPIRY_DURATION: u64 = 63_072_000;
pub const MAX_DISPLAY_NAME: usize = 255;
pub const MAX_DESCRIPTION: usize = 1000;

/// What service accounts need, and nothing more: the store, the keys that seal their secrets,
/// the clock, the client registry every change must reach at once, and how long a rotated-out
/// secret keeps working.
#[derive(Clone, Copy)]
pub struct Deps<'a> {
    pub store: &'a Store,
    pub keys: &'a Keys,
    pub clock: &'a Clock,
    pub clients: &'a ClientRegistry,
    pub rotation_grace: Duration,
    /// Key sets fetched from JWKS URLs, forgotten when a client's URL changes.
    pub jwks: &'a crate::domain::jwks::JwksCache,
}

impl<'a> Deps<'a> {
    pub fn of(app: &'a App) -> Deps<'a> {
        Deps {
            store: &app.store,
            keys: &app.keys,
            clock: &app.clock,
            clients: &app.clients,
            rotation_grace: app.config.rotation_grace,
            jwks: &app.jwks,
        }
    }
}

/// A validated request to create an account.
#[derive(Debug)]
pub struct NewAccount {
    pub display_name: String,
    pub description: String,
    pub scopes: Vec<String>,
    pub expiry_duration: u64,
    /// `None`: a client secret. `Some`: `private_key_jwt` with these keys.
    pub keys: Option<KeySource>,
}

/// A newly created account with the plain secret, shown this once (none for a client that
/// authenticates by key).
pub struct Created {
    pub account: ServiceAccountRecord,
    pub client: OAuthClientRecord,
    pub secret: Option<String>,
}

pub fn validate_display_name(v: &str) -> Result<String> {
    let v = v.trim();
    if v.is_empty() {
        return Err(Error::bad_request("displayName must not be blank"));
    }
    if v.chars().count() > MAX_DISPLAY_NAME {
        return Err(Error::bad_request(format!(
            "displayName must be at most {MAX_DISPLAY_NAME} characters"
        )));
    }
    Ok(v.to_string())
}

pub fn validate_description(v: &str) -> Result<String> {
    if v.chars().count() > MAX_DESCRIPTION {
        return Err(Error::bad_request(format!(
            "description must be at most {MAX_DESCRIPTION} characters"
        )));
    }
    Ok(v.to_string())
}

/// Crowd's accounts (a client secret) have `APPLICATION` alone. Accounts that authenticate by
/// key may also, or instead, have `manage:directory`, for SCIM provisioning.
pub fn validate_scopes(scopes: &[String], by_key: bool) -> Result<Vec<String>> {
    if !by_key {
        if scopes.len() != 1 || scopes[0] != APPLICATION_SCOPE {
            return Err(Error::bad_request(format!(
                "scopes must be [\"{APPLICATION_SCOPE}\"] (\"{MANAGE_DIRECTORY_SCOPE}\" needs a \
                 key: jwks or jwksUri)"
            )));
        }
        return Ok(scopes.to_vec());
    }
    let known = [APPLICATION_SCOPE, MANAGE_DIRECTORY_SCOPE];
    let mut out: Vec<String> = Vec::new();
    for s in scopes {
        if !known.contains(&s.as_str()) {
            return Err(Error::bad_request(format!(
                "scope '{s}' is not offered: \"{APPLICATION_SCOPE}\" and/or \"{MANAGE_DIRECTORY_SCOPE}\""
            )));
        }
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    if out.is_empty() {
        return Err(Error::bad_request("scopes must name at least one scope"));
    }
    Ok(out)
}

/// A JWK set as registered: valid for `private_key_jwt` (`assertion::parse_jwk_set`), and
/// with a `kid` on every key once it holds more than one, since the `kid` is how an assertion
/// names its key and how a key is removed. Returns the text stored.
pub fn registered_jwk_set(set: &Value) -> Result<String> {
    let keys = parse_jwk_set(set).map_err(|r| Error::bad_request(format!("jwks: {}", r.0)))?;
    if keys.len() > 1 && keys.iter().any(|k| k.kid.is_none()) {
        return Err(Error::bad_request("jwks: every key needs a kid when there are several"));
    }
    Ok(serde_json::json!({ "keys": set["keys"] }).to_string())
}

/// A JWK set URL as registered: http(s), of a sane length. Plain http is allowed for a
/// set on the same machine or network; the keys are public, what matters is that nobody
/// between can swap them, which the operator judges.
pub fn registered_jwks_uri(url: &str) -> Result<String> {
    let url = url.trim();
    if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 2048 {
        return Err(Error::bad_request(
            "jwksUri must be an http(s) URL of at most 2048 characters",
        ));
    }
    Ok(url.to_string())
}

pub fn validate_expiry(seconds: i128) -> Result<u64> {
    if !(1..=MAX_EXPIRY_DURATION as i128).contains(&seconds) {
        return Err(Error::bad_request(format!(
            "expiryDuration must be a whole number of seconds from 1 to {MAX_EXPIRY_DURATION} (2 years)"
        )));
    }
    Ok(seconds as u64)
}

/// A fresh client id (32 lowercase hex) and secret (64 lowercase hex, 256 bits), the shapes
/// Crowd shows; both are in the unreserved alphabet so Basic auth needs no URL-encoding.
pub(crate) fn new_secret_credential(
    app: &Deps<'_>,
    now: u64,
    expiry_duration: u64,
) -> (SecretCredential, String) {
    let client_id = crypto::hex(&crypto::random_bytes::<16>());
    let secret = crypto::hex(&crypto::random_bytes::<32>());
    let cred = SecretCredential {
        secret_sha256: crypto::hex(&crypto::sha256(secret.as_bytes())),
        secret_sealed: crypto::b64url(&app.keys.seal_secret(&secret, &client_id)),
        client_id,
        created: now,
        expires: now + expiry_duration * 1000,
        retired_until: None,
    };
    (cred, secret)
}

pub fn create(app: &Deps<'_>, actor: &Actor, new: NewAccount) -> Result<Created> {
    let now = app.clock.now_ms();
    let (cred, secret) = match new.keys {
        None => {
            let (cred, secret) = new_secret_credential(app, now, new.expiry_duration);
            (Credential::ClientSecret(cred), Some(secret))
        }
        Some(keys) => {
            let client_id = crypto::hex(&crypto::random_bytes::<16>());
            (Credential::PrivateKeyJwt(KeyCredential { client_id, created: now, keys }), None)
        }
    };
    let name = format!("service-account-{}", crypto::uuid_v4());
    let client_cfg_id = crypto::uuid_v4();
    let (account, client) = app.clients.mutate(
        || {
            app.store.create_service_account(
                |id| {
                    let account = ServiceAccountRecord {
                        id,
                        name: name.clone(),
                        display_name: new.display_name,
                        description: new.description,
                        active: true,
                        author: actor.name.clone(),
                        created: now,
                        archived: None,
                        oauth_client_id: client_cfg_id.clone(),
                        scopes: new.scopes.clone(),
                        expiry_duration: new.expiry_duration,
                    };
                    let client = OAuthClientRecord {
                        id: client_cfg_id.clone(),
                        name: name.clone(),
                        owner: ClientOwner::ServiceAccount { id },
                        user_key: actor.name.clone(),
                        scopes: new.scopes,
                        expiry_duration: new.expiry_duration,
                        last_rotated: now,
                        tokens_not_before: 0,
                        credentials: vec![cred],
                        scim_directories: Vec::new(),
                    };
                    (account, client)
                },
                |a| {
                    actor.record(
                        now,
                        Action::ServiceAccountCreated,
                        &a.name,
                        format!("id={}", a.id),
                    )
                },
            )
        },
        |(_, client)| Change::Upsert(client.clone()),
    )?;
    Ok(Created { account, client, secret })
}

pub fn get(app: &Deps<'_>, id: u64) -> Result<ServiceAccountRecord> {
    app.store
        .service_account(id)?
        .ok_or_else(|| Error::NotFound(Resource::ServiceAccount, id.to_string()))
}

/// Changes only the display name and description.
pub fn update(
    app: &Deps<'_>,
    actor: &Actor,
    id: u64,
    display_name: Option<String>,
    description: Option<String>,
) -> Result<ServiceAccountRecord> {
    if display_name.is_none() && description.is_none() {
        return Err(Error::bad_request("nothing to change: send displayName and/or description"));
    }
    let now = app.clock.now_ms();
    app.store.update_service_account(
        id,
        |a| {
            if !a.active {
                return Err(Error::bad_request(format!(
                    "service account {id} is archived and cannot change"
                )));
            }
            if let Some(d) = display_name {
                a.display_name = d;
            }
            if let Some(d) = description {
                a.description = d;
            }
            Ok(())
        },
        |a| actor.record(now, Action::ServiceAccountUpdated, &a.name, format!("id={}", a.id)),
    )
}

/// Archives an account for good: inactive, its OAuth client and every token gone at once.
pub fn archive(app: &Deps<'_>, actor: &Actor, id: u64) -> Result<ServiceAccountRecord> {
    let now = app.clock.now_ms();
    let (account, _) = app.clients.mutate(
        || {
            app.store.archive_service_account(id, now, |a| {
                actor.record(now, Action::ServiceAccountArchived, &a.name, format!("id={}", a.id))
            })
        },
        |(account, _)| Change::Remove(account.oauth_client_id.clone()),
    )?;
    Ok(account)
}

/// The account's OAuth client, while it is not archived.
pub fn client_of(
    app: &Deps<'_>,
    account: &ServiceAccountRecord,
) -> Result<Option<OAuthClientRecord>> {
    if !account.active {
        return Ok(None);
    }
    app.store.oauth_client(&account.oauth_client_id)
}

/// `expirySoon`: less than 10% of the duration, or 7 days, whichever is shorter, remains.
pub fn expiry_soon(now: u64, expires: u64, duration_secs: u64) -> bool {
    let window = (duration_secs * 1000 / 10).min(7 * 86_400_000);
    expires.saturating_sub(now) < window
}

fn secrets(client: &OAuthClientRecord) -> impl Iterator<Item = &SecretCredential> {
    client.credentials.iter().filter_map(|c| match c {
        Credential::ClientSecret(s) => Some(s),
        Credential::PrivateKeyJwt(_) => None,
    })
}

/// The current secret credential of a client (the first).
pub fn current_secret(client: &OAuthClientRecord) -> Option<&SecretCredential> {
    secrets(client).find(|s| s.retired_until.is_none())
}

/// The rotated-out secret credential still inside its grace period, if any.
pub fn rotated_secret(client: &OAuthClientRecord, now: u64) -> Option<&SecretCredential> {
    secrets(client).find(|s| s.retired_until.is_some() && now < s.usable_until())
}

/// The key credential of a client that authenticates with `private_key_jwt`.
pub fn key_credential(client: &OAuthClientRecord) -> Option<&KeyCredential> {
    client.credentials.iter().find_map(|c| match c {
        Credential::PrivateKeyJwt(k) => Some(k),
        Credential::ClientSecret(_) => None,
    })
}

/// Decrypts a stored secret for an admin who asks to see it.
pub fn reveal(app: &Deps<'_>, cred: &SecretCredential) -> Result<String> {
    crypto::b64url_decode(&cred.secret_sealed)
        .and_then(|sealed| app.keys.open_secret(&sealed, &cred.client_id))
        .ok_or_else(|| {
            Error::Internal(format!(
                "client {}: stored secret does not decrypt with secret.key",
                cred.client_id
            ))
        })
}

/// Rotates the credentials of the client whose *current* client id is `client_id`: a new
/// pair becomes current, the old one keeps working for the grace period, and any pair
/// rotated out earlier stops at once.
pub fn rotate(app: &Deps<'_>, actor: &Actor, client_id: &str) -> Result<OAuthClientRecord> {
    let now = app.clock.now_ms();
    let client = app
        .store
        .oauth_client_by_client_id(client_id)?
        .ok_or_else(|| Error::NotFound(Resource::OAuthClient, client_id.to_string()))?;
    if key_credential(&client).is_some() {
        return Err(Error::bad_request(format!(
            "client {client_id} authenticates with private_key_jwt and has no secret to rotate; \
             rotate its keys by adding the new key and removing the old one"
        )));
    }
    if current_secret(&client).map(|c| c.client_id.as_str()) != Some(client_id) {
        return Err(Error::bad_request(format!(
            "client id {client_id} was already rotated out; rotate with the current client id"
        )));
    }
    let grace = app.rotation_grace.as_millis() as u64;
    let (fresh, _) = new_secret_credential(app, now, client.expiry_duration);
    app.clients.mutate(
        || {
            app.store.update_oauth_client(
                &client.id,
                |c| {
                    let mut old: Vec<Credential> = Vec::new();
                    for cred in c.credentials.drain(..) {
                        let Credential::ClientSecret(mut s) = cred else {
                            continue;
                        };
                        if s.retired_until.is_none() && s.client_id == client_id {
                            s.retired_until = Some((now + grace).min(s.expires));
                            old.push(Credential::ClientSecret(s));
                        }
                    }
                    if old.is_empty() {
                        // Rotated concurrently by someone else since we looked.
                        return Err(Error::bad_request(format!(
                            "client id {client_id} was already rotated out"
                        )));
                    }
                    c.credentials = vec![Credential::ClientSecret(fresh)];
                    c.credentials.extend(old);
                    c.last_rotated = now;
                    Ok(())
                },
                |c| {
                    actor.record(
                        now,
                        Action::ClientSecretRotated,
                        &c.name,
                        format!("old client id {client_id}"),
                    )
                },
            )
        },
        |c| Change::Upsert(c.clone()),
    )
}

pub fn client(app: &Deps<'_>, id: &str) -> Result<OAuthClientRecord> {
    app.store
        .oauth_client(id)?
        .ok_or_else(|| Error::NotFound(Resource::OAuthClient, id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_soon_uses_the_shorter_window() {
        let day = 86_400_000;
        // 30 days: 10% is 3 days, shorter than 7.
        assert!(!expiry_soon(0, 4 * day, 30 * 86_400));
        assert!(expiry_soon(0, 3 * day - 1, 30 * 86_400));
        // 1 year: 10% is 36.5 days, so 7 days wins.
        assert!(!expiry_soon(0, 8 * day, 365 * 86_400));
        assert!(expiry_soon(0, 7 * day - 1, 365 * 86_400));
        assert!(expiry_soon(10, 5, 100));
    }

    #[test]
    fn validation_rules() {
        assert!(validate_display_name("  ").is_err());
        assert_eq!(validate_display_name(" bot ").unwrap(), "bot");
        assert!(validate_display_name(&"x".repeat(256)).is_err());
        assert!(validate_scopes(&["APPLICATION".into()], false).is_ok());
        assert!(validate_scopes(&["USER".into()], false).is_err());
        assert!(validate_scopes(&[], false).is_err());
        assert!(validate_scopes(&["manage:directory".into()], false).is_err());
        let both = ["manage:directory".into(), "APPLICATION".into(), "APPLICATION".into()];
        assert_eq!(validate_scopes(&both, true).unwrap(), ["manage:directory", "APPLICATION"]);
        assert!(validate_scopes(&["USER".into()], true).is_err());
        assert!(validate_scopes(&[], true).is_err());
        assert!(validate_expiry(0).is_err());
        assert!(validate_expiry(63_072_001).is_err());
        assert_eq!(validate_expiry(63_072_000).unwrap(), 63_072_000);
    }
}
