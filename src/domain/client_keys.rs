//! The public keys of a service account that authenticates with `private_key_jwt`: a JWK set
//! registered with throng, or the URL where the client publishes one. Keys rotate the way
//! RFC 7517 sets are meant to: add the new key (its own `kid`), move the client over, then
//! remove the old one.
//!
//! Removing or replacing keys ends every token the client holds, since a token does not say
//! which key obtained it and a key is removed most urgently when it leaked. Adding a key
//! ends nothing.

use crate::domain::audit::{Action, Actor};
use crate::domain::registry::Change;
use crate::domain::service_accounts::{get, registered_jwk_set, Deps};
use crate::error::{Error, Resource, Result};
use crate::store::records::{Credential, KeySource, OAuthClientRecord};
use serde_json::Value;

/// Replaces account `id`'s keys with `keys` (a set, or a URL).
pub fn replace(
    app: &Deps<'_>,
    actor: &Actor,
    id: u64,
    keys: KeySource,
) -> Result<OAuthClientRecord> {
    let detail = match &keys {
        KeySource::Inline { .. } => "keys replaced by a JWK set".to_string(),
        KeySource::Url { url } => format!("keys at {url}"),
    };
    change(app, actor, id, detail, true, |_| Ok(keys))
}

/// Adds one key (a JWK with a `kid` no key of the set has) to account `id`'s registered set.
pub fn add(app: &Deps<'_>, actor: &Actor, id: u64, jwk: &Value) -> Result<OAuthClientRecord> {
    let kid = jwk.get("kid").and_then(Value::as_str).unwrap_or_default().to_string();
    if kid.is_empty() {
        return Err(Error::bad_request("the key needs a kid, by which assertions name it"));
    }
    change(app, actor, id, format!("key {kid} added"), false, |source| {
        let mut keys = inline_keys(source)?;
        keys.push(jwk.clone());
        let set = registered_jwk_set(&serde_json::json!({ "keys": keys }))?;
        Ok(KeySource::Inline { jwks: set })
    })
}

/// Removes the key `kid` from account `id`'s registered set; the last key stays (archive the
/// account to end it).
pub fn remove(app: &Deps<'_>, actor: &Actor, id: u64, kid: &str) -> Result<OAuthClientRecord> {
    change(app, actor, id, format!("key {kid} removed"), true, |source| {
        let mut keys = inline_keys(source)?;
        let before = keys.len();
        keys.retain(|k| k.get("kid").and_then(Value::as_str) != Some(kid));
        if keys.len() == before {
            return Err(Error::NotFound(Resource::Key, kid.to_string()));
        }
        if keys.is_empty() {
            return Err(Error::bad_request(
                "this is the client's last key: add its successor first, or archive the account",
            ));
        }
        let set = registered_jwk_set(&serde_json::json!({ "keys": keys }))?;
        Ok(KeySource::Inline { jwks: set })
    })
}

/// The keys of a registered set, as JSON; a client whose keys are at a URL changes them there.
fn inline_keys(source: &KeySource) -> Result<Vec<Value>> {
    match source {
        KeySource::Inline { jwks } => {
            let set: Value = serde_json::from_str(jwks)
                .map_err(|e| Error::Internal(format!("a stored JWK set does not read: {e}")))?;
            Ok(set["keys"].as_array().cloned().unwrap_or_default())
        }
        KeySource::Url { .. } => Err(Error::bad_request(
            "this client's keys are at its jwksUri: change them there, or replace the URL with \
             a JWK set",
        )),
    }
}

/// Applies `edit` to the key source of account `id`'s client, in the store and the registry
/// at once, audited; `end_tokens` makes every token issued so far stop working.
fn change(
    app: &Deps<'_>,
    actor: &Actor,
    id: u64,
    detail: String,
    end_tokens: bool,
    edit: impl FnOnce(&KeySource) -> Result<KeySource>,
) -> Result<OAuthClientRecord> {
    let account = get(app, id)?;
    if !account.active {
        return Err(Error::bad_request(format!(
            "service account {id} is archived and cannot change"
        )));
    }
    let now = app.clock.now_ms();
    let mut old_url = None;
    let client = app.clients.mutate(
        || {
            app.store.update_oauth_client(
                &account.oauth_client_id,
                |c| {
                    let key = c.credentials.iter_mut().find_map(|cred| match cred {
                        Credential::PrivateKeyJwt(k) => Some(k),
                        Credential::ClientSecret(_) => None,
                    });
                    let Some(key) = key else {
                        return Err(Error::bad_request(format!(
                            "service account {id} authenticates with a client secret, not keys"
                        )));
                    };
                    let fresh = edit(&key.keys)?;
                    if let KeySource::Url { url } = &key.keys {
                        old_url = Some(url.clone());
                    }
                    key.keys = fresh;
                    if end_tokens {
                        c.tokens_not_before = now;
                    }
                    Ok(())
                },
                |c| actor.record(now, Action::ClientKeysChanged, &c.name, detail),
            )
        },
        |c| Change::Upsert(c.clone()),
    )?;
    if let Some(url) = old_url {
        app.jwks.forget(&url);
    }
    Ok(client)
}

/// Grants account `id`'s client exactly the `SCIM` directories `dirs` (Atlassian's grant of
/// a directory to an OAuth client, part C step 3): each must be a `SCIM` directory, and the
/// client must hold `manage:directory`. Takes effect at once, for tokens already issued too.
pub fn grant_directories(
    app: &Deps<'_>,
    actor: &Actor,
    id: u64,
    dirs: Vec<u64>,
) -> Result<OAuthClientRecord> {
    let account = get(app, id)?;
    if !account.active {
        return Err(Error::bad_request(format!(
            "service account {id} is archived and cannot change"
        )));
    }
    if !account.scopes.iter().any(|s| s == crate::domain::service_accounts::MANAGE_DIRECTORY_SCOPE)
    {
        return Err(Error::bad_request(format!(
            "service account {id} does not hold the manage:directory scope, which SCIM needs"
        )));
    }
    let mut dirs = dirs;
    dirs.sort_unstable();
    dirs.dedup();
    for d in &dirs {
        match app.store.directory(*d)? {
            Some(dir) if dir.scim.is_some() => {}
            Some(dir) => {
                return Err(Error::bad_request(format!(
                    "directory {d} ('{}') is {}, not a SCIM directory",
                    dir.name, dir.kind
                )))
            }
            None => return Err(Error::UnknownReference(Resource::Directory, d.to_string())),
        }
    }
    let now = app.clock.now_ms();
    let detail = format!("directories {dirs:?}");
    app.clients.mutate(
        || {
            app.store.update_oauth_client(
                &account.oauth_client_id,
                |c| {
                    c.scim_directories = dirs;
                    Ok(())
                },
                |c| actor.record(now, Action::ClientDirectoriesGranted, &c.name, detail),
            )
        },
        |c| Change::Upsert(c.clone()),
    )
}
