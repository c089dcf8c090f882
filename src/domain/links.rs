//! Application links (Crowd 7.0: Settings → Application links, type External application):
//! the OAuth 2.0 connection between throng and another server, one way or the other.
//!
//! - **Incoming**: the other server calls throng. Creating one makes an OAuth client owned by
//!   the link, with a client id and secret exactly as a service account has them: shown on
//!   creation and to admins, expiring after `expiryDuration`, rotated with
//!   `/rest/oauth2/latest/rotate/{clientId}` and shown by `/rest/oauth2/latest/client/{id}`.
//!   Its tokens are issued and checked on the same self-validating path as every client's.
//!   An application may take the link as its authentication method
//!   (`ApplicationAuth::Link`): a bearer token of the link's client then acts as that
//!   application on usermanagement, remote-address rules included
//!   (https://confluence.atlassian.com/crowd/configuring-an-incoming-link-1540855078.html).
//! - **Outgoing**: throng calls the other server's token endpoint with the client
//!   credentials grant, with a client id and secret it was given; the secret is sealed with
//!   the master key and never shown again in full.
//!
//! Every change is audited.

use super::audit::{Action, Actor};
use super::directory::validate;
use super::registry::Change;
pub use super::service_accounts::Deps;
use super::service_accounts::{new_secret_credential, validate_expiry, APPLICATION_SCOPE};
use crate::crypto;
use crate::error::{Error, Resource, Result};
use crate::store::records::{
    AppLinkRecord, ClientOwner, Credential, LinkDirection, OAuthClientRecord,
};

/// How long an incoming link's secret lasts when its creator names no `expiryDuration`.
pub const DEFAULT_EXPIRY_SECONDS: u64 = 365 * 24 * 3600;

/// The longest URL a link keeps.
const MAX_URL: usize = 2048;

/// What an admin asks for.
#[derive(Debug)]
pub enum NewLink {
    Incoming {
        name: String,
        redirect_url: String,
        expiry_duration: Option<i128>,
    },
    Outgoing {
        name: String,
        service_provider: String,
        token_url: String,
        client_id: String,
        client_secret: String,
        scopes: Vec<String>,
    },
}

/// Changes to a link: each `Some` replaces what is stored. Fields of the other direction are
/// refused.
#[derive(Debug, Default)]
pub struct LinkChanges {
    pub name: Option<String>,
    pub redirect_url: Option<String>,
    pub service_provider: Option<String>,
    pub token_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub scopes: Option<Vec<String>>,
}

/// A link just made; for an incoming one, its client and the secret in clear, this once.
pub struct Created {
    pub link: AppLinkRecord,
    pub client: Option<(OAuthClientRecord, String)>,
}

pub(crate) fn url(what: &str, value: &str) -> Result<()> {
    let rest = value.strip_prefix("https://").or_else(|| value.strip_prefix("http://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
    if host.is_none_or(str::is_empty)
        || value.len() > MAX_URL
        || value.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Error::bad_request(format!(
            "{what} must be an absolute http:// or https:// URL of at most {MAX_URL} characters, \
             not '{value}'"
        )));
    }
    Ok(())
}

fn text(what: &str, value: &str) -> Result<()> {
    validate::name(Resource::ApplicationLink, what, value)
}

fn scopes(list: &[String]) -> Result<()> {
    if list.is_empty() || list.iter().any(|s| s.is_empty() || s.contains(char::is_whitespace)) {
        return Err(Error::bad_request(
            "scopes must be one or more scope names, e.g. [\"APPLICATION\"]",
        ));
    }
    Ok(())
}

/// The shortest secret an outgoing link keeps: it is shown as its last four characters, which
/// must not be most of it.
const MIN_SECRET: usize = 8;

fn secret_rule(secret: &str) -> Result<()> {
    if secret.chars().count() < MIN_SECRET {
        return Err(Error::bad_request(format!(
            "clientSecret must be at least {MIN_SECRET} characters"
        )));
    }
    Ok(())
}

/// The sealing context of an outgoing link's secret: the secret opens only as that link's.
fn seal_context(link: u64) -> String {
    format!("app-link:{link}")
}

pub fn create(d: &Deps<'_>, actor: &Actor, new: NewLink) -> Result<Created> {
    let now = d.clock.now_ms();
    let audit = |l: &AppLinkRecord| {
        actor.record(now, Action::ApplicationLinkCreated, &l.name, format!("id={}", l.id))
    };
    let link = |id, name: String, direction| AppLinkRecord {
        id,
        name,
        author: actor.name.clone(),
        created: now,
        updated: now,
        direction,
    };
    match new {
        NewLink::Incoming { name, redirect_url, expiry_duration } => {
            text("link name", &name)?;
            url("redirectUrl", &redirect_url)?;
            let expiry = match expiry_duration {
                Some(s) => validate_expiry(s)?,
                None => DEFAULT_EXPIRY_SECONDS,
            };
            let (cred, secret) = new_secret_credential(d, now, expiry);
            let config = crypto::uuid_v4();
            let scopes = vec![APPLICATION_SCOPE.to_string()];
            let (link, client) = d.clients.mutate(
                || {
                    d.store.create_app_link(
                        |id| {
                            let client = OAuthClientRecord {
                                id: config.clone(),
                                name: name.clone(),
                                owner: ClientOwner::ApplicationLink { id },
                                user_key: actor.name.clone(),
                                scopes: scopes.clone(),
                                expiry_duration: expiry,
                                last_rotated: now,
                                tokens_not_before: 0,
                                credentials: vec![Credential::ClientSecret(cred)],
                                scim_directories: Vec::new(),
                            };
                            let direction = LinkDirection::Incoming {
                                redirect_url,
                                oauth_client: config.clone(),
                                scopes,
                            };
                            (link(id, name, direction), Some(client))
                        },
                        audit,
                    )
                },
                |(_, client)| client.clone().map_or(Change::None, Change::Upsert),
            )?;
            Ok(Created { link, client: client.map(|c| (c, secret)) })
        }
        NewLink::Outgoing {
            name,
            service_provider,
            token_url,
            client_id,
            client_secret,
            scopes: s,
        } => {
            text("link name", &name)?;
            text("serviceProvider", &service_provider)?;
            url("tokenUrl", &token_url)?;
            text("clientId", &client_id)?;
            secret_rule(&client_secret)?;
            scopes(&s)?;
            let (link, _) = d.store.create_app_link(
                |id| {
                    let sealed = d.keys.seal_secret(&client_secret, &seal_context(id));
                    let direction = LinkDirection::Outgoing {
                        service_provider,
                        token_url,
                        client_id,
                        secret_sealed: crypto::b64url(&sealed),
                        scopes: s,
                    };
                    (link(id, name, direction), None)
                },
                audit,
            )?;
            Ok(Created { link, client: None })
        }
    }
}

pub fn get(d: &Deps<'_>, id: u64) -> Result<AppLinkRecord> {
    d.store.app_link(id)?.ok_or_else(|| Error::NotFound(Resource::ApplicationLink, id.to_string()))
}

/// An outgoing link's client secret, opened for use (never for display).
pub fn outgoing_secret(d: &Deps<'_>, link: &AppLinkRecord) -> Result<String> {
    let LinkDirection::Outgoing { secret_sealed, .. } = &link.direction else {
        return Err(Error::bad_request(format!(
            "application link '{}' is not outgoing",
            link.name
        )));
    };
    crypto::b64url_decode(secret_sealed)
        .and_then(|sealed| d.keys.open_secret(&sealed, &seal_context(link.id)))
        .ok_or_else(|| {
            Error::Internal(format!(
                "application link {}: its secret does not open with secret.key",
                link.id
            ))
        })
}

pub fn update(d: &Deps<'_>, actor: &Actor, id: u64, changes: LinkChanges) -> Result<AppLinkRecord> {
    let now = d.clock.now_ms();
    if let Some(n) = &changes.name {
        text("link name", n)?;
    }
    let sealed = changes
        .client_secret
        .as_deref()
        .map(|s| {
            secret_rule(s)?;
            Ok::<_, Error>(crypto::b64url(&d.keys.seal_secret(s, &seal_context(id))))
        })
        .transpose()?;
    let change = |link: &mut AppLinkRecord| {
        let mut changed = Vec::new();
        let mut set = |what: &'static str, field: &mut String, value: Option<String>| {
            if let Some(v) = value.filter(|v| v != field) {
                *field = v;
                changed.push(what);
            }
        };
        set("name", &mut link.name, changes.name);
        match &mut link.direction {
            LinkDirection::Incoming { redirect_url, .. } => {
                if changes.service_provider.is_some()
                    || changes.token_url.is_some()
                    || changes.client_id.is_some()
                    || sealed.is_some()
                    || changes.scopes.is_some()
                {
                    return Err(Error::bad_request(
                        "an incoming link has a name and a redirectUrl; its credentials are \
                         made by throng and rotated with /rest/oauth2/latest/rotate",
                    ));
                }
                if let Some(u) = &changes.redirect_url {
                    url("redirectUrl", u)?;
                }
                set("redirectUrl", redirect_url, changes.redirect_url);
            }
            LinkDirection::Outgoing {
                service_provider,
                token_url,
                client_id,
                secret_sealed,
                scopes: s,
            } => {
                if changes.redirect_url.is_some() {
                    return Err(Error::bad_request("an outgoing link has no redirectUrl"));
                }
                if let Some(v) = &changes.service_provider {
                    text("serviceProvider", v)?;
                }
                if let Some(v) = &changes.token_url {
                    url("tokenUrl", v)?;
                }
                if let Some(v) = &changes.client_id {
                    text("clientId", v)?;
                }
                set("serviceProvider", service_provider, changes.service_provider);
                set("tokenUrl", token_url, changes.token_url);
                set("clientId", client_id, changes.client_id);
                if let Some(sealed) = sealed {
                    *secret_sealed = sealed;
                    changed.push("clientSecret");
                }
                if let Some(list) = changes.scopes.filter(|l| l != s) {
                    scopes(&list)?;
                    *s = list;
                    changed.push("scopes");
                }
            }
        }
        if changed.is_empty() {
            return Ok(None);
        }
        link.updated = now;
        Ok(Some(actor.record(now, Action::ApplicationLinkUpdated, &link.name, changed.join(","))))
    };
    let (updated, _) = d.clients.mutate(
        || d.store.update_app_link(id, change),
        |(_, renamed)| renamed.clone().map_or(Change::None, Change::Upsert),
    )?;
    Ok(updated)
}

pub fn delete(d: &Deps<'_>, actor: &Actor, id: u64) -> Result<AppLinkRecord> {
    let now = d.clock.now_ms();
    let (link, _) = d.clients.mutate(
        || {
            d.store.delete_app_link(id, |l| {
                actor.record(now, Action::ApplicationLinkDeleted, &l.name, format!("id={}", l.id))
            })
        },
        |(_, removed)| removed.as_ref().map_or(Change::None, |c| Change::Remove(c.id.clone())),
    )?;
    Ok(link)
}
