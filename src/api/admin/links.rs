//! `/rest/admin/1.0/application-links[/{id}]`: application links, for administrators by
//! Basic (a service account's token may not make credentials). JSON, camelCase as Crowd 7's
//! newer REST resources are.
//!
//! Crowd configures links in its UI only; throng's fields are those the UI asks for
//! (https://confluence.atlassian.com/crowd/configuring-an-incoming-link-1540855078.html):
//!
//! ```json
//! {"name":"jira","direction":"INCOMING","redirectUrl":"https://jira.example.com","expiryDuration":31536000}
//! {"name":"crowd","direction":"OUTGOING","grantType":"client_credentials","serviceProvider":"Crowd",
//!  "tokenUrl":"https://crowd.example.com/rest/oauth2/latest/token","clientId":"…","clientSecret":"…",
//!  "scopes":["APPLICATION"]}
//! ```
//!
//! `POST …/{id}/test` asks an outgoing link's token endpoint for a token, now, and says what
//! came back: the token's type, lifetime and scope, or the other server's refusal verbatim.
//!
//! An incoming link shows its client (`oauthClient`, Crowd's client entity, secret included,
//! as `/rest/oauth2/latest/client/{id}` shows it to admins) and the application that
//! authenticates with it. An outgoing link's secret is never shown again: only its last four
//! characters.

use super::super::oauth::{client_view, ClientView};
use super::super::{only, Principal};
use crate::app::App;
use crate::domain::audit::Actor;
use crate::domain::clock::rfc3339_ms;
use crate::domain::links::{self, Deps, LinkChanges, NewLink};
use crate::error::{Error, Resource};
use crate::http::failure::{Failure, Result};
use crate::http::{Method, Request, Response};
use crate::store::records::{AppLinkRecord, LinkDirection};
use serde::{Deserialize, Serialize};

/// The only grant an outgoing link uses.
const CLIENT_CREDENTIALS: &str = "client_credentials";

pub fn dispatch(app: &App, req: &Request, who: &Principal, rest: &[&str]) -> Result<Response> {
    use Method::*;
    let actor = match who {
        Principal::Admin(actor) => actor,
        Principal::Bearer(_) => {
            return Err(Error::Forbidden(
                "application links are managed by administrators, not by tokens".into(),
            )
            .into())
        }
        _ => return Err(Error::Unauthenticated.into()),
    };
    match (rest, req.method) {
        ([], Get | Head) => list(app),
        ([], Post) => create(app, req, actor),
        ([], _) => Err(only(&["GET", "POST"])),
        ([id], Get | Head) => get(app, id),
        ([id], Put) => update(app, req, actor, id),
        ([id], Delete) => delete(app, actor, id),
        ([_], _) => Err(only(&["GET", "PUT", "DELETE"])),
        ([id, "test"], Post) => test(app, id),
        ([_, "test"], _) => Err(only(&["POST"])),
        _ => Err(Failure::NoRoute),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Body {
    name: Option<String>,
    direction: Option<String>,
    redirect_url: Option<String>,
    expiry_duration: Option<serde_json::Number>,
    grant_type: Option<String>,
    service_provider: Option<String>,
    token_url: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scopes: Option<Vec<String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LinkView {
    id: u64,
    name: String,
    direction: &'static str,
    author: String,
    created: String,
    updated: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    redirect_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    oauth_client: Option<ClientView>,
    /// The application that authenticates with this incoming link, if one does.
    #[serde(skip_serializing_if = "Option::is_none")]
    application: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    grant_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    /// An outgoing link's secret, all but its last four characters hidden.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
    scopes: Vec<String>,
}

fn view(app: &App, link: &AppLinkRecord) -> Result<LinkView> {
    let mut v = LinkView {
        id: link.id,
        name: link.name.clone(),
        direction: "",
        author: link.author.clone(),
        created: rfc3339_ms(link.created),
        updated: rfc3339_ms(link.updated),
        redirect_url: None,
        oauth_client: None,
        application: None,
        grant_type: None,
        service_provider: None,
        token_url: None,
        client_id: None,
        client_secret: None,
        scopes: Vec::new(),
    };
    match &link.direction {
        LinkDirection::Incoming { redirect_url, oauth_client, scopes } => {
            v.direction = "INCOMING";
            v.redirect_url = Some(redirect_url.clone());
            v.scopes = scopes.clone();
            if let Some(client) = app.store.oauth_client(oauth_client)? {
                v.oauth_client = Some(client_view(app, &client)?);
            }
            v.application = app
                .store
                .applications()?
                .into_iter()
                .find(|a| a.auth.link() == Some(link.id))
                .map(|a| a.name);
        }
        LinkDirection::Outgoing { service_provider, token_url, client_id, scopes, .. } => {
            v.direction = "OUTGOING";
            v.grant_type = Some(CLIENT_CREDENTIALS);
            v.service_provider = Some(service_provider.clone());
            v.token_url = Some(token_url.clone());
            v.client_id = Some(client_id.clone());
            let secret = links::outgoing_secret(&Deps::of(app), link)?;
            let tail: String =
                secret.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
            v.client_secret = Some(format!("••••{tail}"));
            v.scopes = scopes.clone();
        }
    }
    Ok(v)
}

fn link_id(id: &str) -> crate::error::Result<u64> {
    id.parse().map_err(|_| Error::NotFound(Resource::ApplicationLink, id.to_string()))
}

fn list(app: &App) -> Result<Response> {
    let views = app.store.app_links()?.iter().map(|l| view(app, l)).collect::<Result<Vec<_>>>()?;
    Ok(Response::json(200, &serde_json::json!({ "links": views })).no_store())
}

fn get(app: &App, id: &str) -> Result<Response> {
    let link = links::get(&Deps::of(app), link_id(id)?)?;
    Ok(Response::json(200, &view(app, &link)?).no_store())
}

fn create(app: &App, req: &Request, actor: &Actor) -> Result<Response> {
    let b: Body = req.json()?;
    let name = b.name.ok_or_else(|| Error::bad_request("name is required"))?;
    let new = match b.direction.as_deref().map(str::to_ascii_uppercase).as_deref() {
        Some("INCOMING") => {
            if b.service_provider.is_some()
                || b.token_url.is_some()
                || b.client_id.is_some()
                || b.client_secret.is_some()
                || b.grant_type.is_some()
                || b.scopes.is_some()
            {
                return Err(Error::bad_request(
                    "an incoming link takes name, redirectUrl and expiryDuration; throng makes \
                     its client id and secret",
                )
                .into());
            }
            NewLink::Incoming {
                name,
                redirect_url: b
                    .redirect_url
                    .ok_or_else(|| Error::bad_request("redirectUrl is required"))?,
                expiry_duration: b
                    .expiry_duration
                    .map(|n| {
                        n.as_i128().ok_or_else(|| {
                            Error::bad_request(format!(
                                "expiryDuration must be a whole number of seconds, not {n}"
                            ))
                        })
                    })
                    .transpose()?,
            }
        }
        Some("OUTGOING") => {
            if b.redirect_url.is_some() || b.expiry_duration.is_some() {
                return Err(Error::bad_request(
                    "an outgoing link has no redirectUrl or expiryDuration",
                )
                .into());
            }
            if b.grant_type.as_deref().is_some_and(|g| g != CLIENT_CREDENTIALS) {
                return Err(Error::bad_request("grantType must be client_credentials").into());
            }
            let required = |v: Option<String>, what: &str| {
                v.ok_or_else(|| Error::bad_request(format!("{what} is required")))
            };
            NewLink::Outgoing {
                name,
                service_provider: required(b.service_provider, "serviceProvider")?,
                token_url: required(b.token_url, "tokenUrl")?,
                client_id: required(b.client_id, "clientId")?,
                client_secret: required(b.client_secret, "clientSecret")?,
                scopes: b.scopes.unwrap_or_else(|| vec!["APPLICATION".into()]),
            }
        }
        _ => return Err(Error::bad_request("direction must be INCOMING or OUTGOING").into()),
    };
    let created = links::create(&Deps::of(app), actor, new)?;
    let v = view(app, &created.link)?;
    Ok(Response::json(201, &v)
        .header(
            "Location",
            format!("{}/rest/admin/1.0/application-links/{}", app.base_url, created.link.id),
        )
        .no_store())
}

fn update(app: &App, req: &Request, actor: &Actor, id: &str) -> Result<Response> {
    let b: Body = req.json()?;
    if b.direction.is_some() || b.expiry_duration.is_some() {
        return Err(Error::bad_request(
            "a link's direction and expiryDuration are set when it is made",
        )
        .into());
    }
    if b.grant_type.as_deref().is_some_and(|g| g != CLIENT_CREDENTIALS) {
        return Err(Error::bad_request("grantType must be client_credentials").into());
    }
    let current = links::get(&Deps::of(app), link_id(id)?)?;
    if b.grant_type.is_some() && matches!(current.direction, LinkDirection::Incoming { .. }) {
        return Err(Error::bad_request("an incoming link has no grantType").into());
    }
    let changes = LinkChanges {
        name: b.name,
        redirect_url: b.redirect_url,
        service_provider: b.service_provider,
        token_url: b.token_url,
        client_id: b.client_id,
        client_secret: b.client_secret,
        scopes: b.scopes,
    };
    let link = links::update(&Deps::of(app), actor, link_id(id)?, changes)?;
    Ok(Response::json(200, &view(app, &link)?).no_store())
}

fn delete(app: &App, actor: &Actor, id: &str) -> Result<Response> {
    let link = links::delete(&Deps::of(app), actor, link_id(id)?)?;
    // A token held for a link that is gone is a credential nobody needs.
    app.outgoing_tokens.forget(link.id);
    Ok(Response::no_content())
}

/// What a test of an outgoing link found.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TestView {
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_in: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    /// The other server's status, when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    /// Its RFC 6749 `error`, when it gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

fn test(app: &App, id: &str) -> Result<Response> {
    use crate::remote::tokens::{self, TokenFailure};
    let d = Deps::of(app);
    let link = links::get(&d, link_id(id)?)?;
    if !matches!(link.direction, LinkDirection::Outgoing { .. }) {
        return Err(Error::bad_request(format!(
            "application link '{}' is incoming: the other server tests it by asking throng for a token",
            link.name
        ))
        .into());
    }
    let view = match tokens::request(&d, &app.outbound, &link) {
        Ok(g) => TestView {
            ok: true,
            token_type: Some(g.token_type),
            expires_in: g.expires_in,
            scope: g.scope,
            status: Some(200),
            error: None,
            message: None,
        },
        Err(failure) => {
            let (status, error) = match &failure {
                TokenFailure::Refused { status, error, .. } => (Some(*status), error.clone()),
                _ => (None, None),
            };
            TestView {
                ok: false,
                token_type: None,
                expires_in: None,
                scope: None,
                status,
                error,
                message: Some(failure.to_string()),
            }
        }
    };
    Ok(Response::json(200, &view).no_store())
}
