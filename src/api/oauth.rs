//! `/rest/oauth2/latest/*`: the token endpoint (RFC 6749 §4.4), introspection (RFC 7662),
//! revocation (RFC 7009), and Crowd's client rotation and lookup.
//!
//! Token response as Crowd's OAuth 2.0 provider writes it (TokenResource/RestToken): lowercase
//! `"token_type":"bearer"`, `expires_in` in seconds, no refresh token for this grant.

use super::{admins_only, only, Api, Namespace, Principal};
use crate::app::App;
use crate::domain::audit::Actor;
use crate::domain::oauth::{self, Caller, ClientCredentials};
use crate::domain::service_accounts as accounts;
use crate::error::{Error, OAuthCode};
use crate::http::failure::{Failure, Result};
use crate::http::request::Params;
use crate::http::{Method, Request, Response};
use crate::store::records::{AppLinkRecord, ClientOwner, KeySource, LinkDirection};
use serde::Serialize;
use serde_json::json;

/// `/rest/oauth2/latest`: the protocol endpoints answer in RFC 6749's shape, Crowd's client
/// management in Crowd's.
pub const NAMESPACE: Namespace =
    Namespace { prefix: &[&["rest"], &["oauth2"], &["latest"]], shape, authenticate, dispatch };

/// `/oauth/token`: the token endpoint where Atlassian's SCIM set-up (part C) sends its
/// request, answered as `/rest/oauth2/latest/token` is, with Atlassian's `"Bearer"`.
pub const ATLASSIAN_NAMESPACE: Namespace = Namespace {
    prefix: &[&["oauth"]],
    shape: |_| Api::OAuth,
    authenticate: super::anyone,
    dispatch: |app, req, _, rest| match (rest, req.method) {
        (["token"], Method::Post) => token_as(app, req, "Bearer"),
        (["token"], _) => Err(only(&["POST"])),
        _ => Err(Failure::NoRoute),
    },
};

/// Client management is for administrators; the protocol endpoints authenticate clients (or
/// an administrator) themselves, from the body or Basic, as RFC 6749 §2.3 has it.
fn authenticate(app: &App, req: &Request, rest: &[&str]) -> Result<Principal> {
    match rest {
        ["rotate" | "client", _] => admins_only(app, req, rest),
        _ => Ok(Principal::Anonymous),
    }
}

fn shape(rest: &[&str]) -> Api {
    match rest {
        ["token" | "introspect" | "revoke"] => Api::OAuth,
        _ => Api::Crowd,
    }
}

fn dispatch(app: &App, req: &Request, who: &Principal, rest: &[&str]) -> Result<Response> {
    use Method::*;
    match (rest, req.method) {
        (["token"], Post) => token(app, req),
        (["introspect"], Post) => introspect(app, req),
        (["revoke"], Post) => revoke(app, req),
        (["token" | "introspect" | "revoke"], _) => Err(only(&["POST"])),
        (["rotate", client_id], Post) => rotate(app, who.admin()?, client_id),
        (["rotate", _], _) => Err(only(&["POST"])),
        (["client", id], Get | Head) => {
            who.admin()?;
            client(app, id)
        }
        (["client", _], _) => Err(only(&["GET"])),
        _ => Err(Failure::NoRoute),
    }
}

/// Reads client credentials from the Basic header or the body; both at once is
/// `invalid_request` (RFC 6749 §2.3: one method per request).
fn client_credentials<'a>(
    basic: &'a Option<crate::http::request::Basic>,
    req: &Request,
    params: &'a Params<'_>,
) -> Result<ClientCredentials<'a>> {
    let post_id = params.single("client_id")?;
    let post_secret = params.single("client_secret")?;
    if req.has_auth_scheme("basic") {
        // RFC 6749 §5.2: a failed attempt through the Authorization header is invalid_client.
        let Some((id, secret)) = basic.as_ref().map(|b| b.pair()) else {
            return Err(Error::oauth(
                OAuthCode::InvalidClient,
                "malformed Basic authorization header",
            )
            .into());
        };
        if post_secret.is_some() {
            return Err(Error::oauth(
                OAuthCode::InvalidRequest,
                "use one client authentication method, not both",
            )
            .into());
        }
        // RFC 7521 §4.2 allows client_id in the body too, as long as it names the same client.
        if post_id.is_some_and(|p| p != id) {
            return Err(Error::oauth(
                OAuthCode::InvalidRequest,
                "client_id does not match the Authorization header",
            )
            .into());
        }
        return Ok(ClientCredentials::Basic { id, secret });
    }
    match (post_id, post_secret) {
        (Some(id), Some(secret)) => Ok(ClientCredentials::Post { id, secret }),
        _ => Ok(ClientCredentials::None),
    }
}

/// Reads client credentials as `client_credentials` does, plus a client assertion
/// (`private_key_jwt`, RFC 7521 §4.2): `client_assertion_type` naming a JWT and
/// `client_assertion` holding it, with or without `client_id`. An assertion beside a secret
/// or Basic is two methods at once (`invalid_request`).
fn client_auth<'a>(
    basic: &'a Option<crate::http::request::Basic>,
    req: &Request,
    params: &'a Params<'_>,
) -> Result<ClientCredentials<'a>> {
    let assertion = params.single("client_assertion")?;
    let assertion_type = params.single("client_assertion_type")?;
    if assertion.is_none() && assertion_type.is_none() {
        return client_credentials(basic, req, params);
    }
    let bad = |m: &str| -> Result<ClientCredentials<'a>> {
        Err(Error::oauth(OAuthCode::InvalidRequest, m.to_string()).into())
    };
    if req.has_auth_scheme("basic") || params.single("client_secret")?.is_some() {
        return bad("use one client authentication method, not both");
    }
    match (assertion_type, assertion) {
        (Some(oauth::ASSERTION_TYPE_JWT_BEARER), Some(jws)) if !jws.is_empty() => {
            Ok(ClientCredentials::Assertion { id: params.single("client_id")?, jws })
        }
        (Some(oauth::ASSERTION_TYPE_JWT_BEARER), _) => bad("client_assertion is required"),
        (None, _) => bad("client_assertion_type is required with client_assertion"),
        (Some(_), _) => bad(
            "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
    }
}

/// The token endpoint. Crowd writes `"token_type":"bearer"`; Atlassian's `/oauth/token` (the
/// part C request) writes `"Bearer"`: each path answers as its original does (the value is
/// case-insensitive, RFC 6749 §5.1).
pub fn token(app: &App, req: &Request) -> Result<Response> {
    token_as(app, req, "bearer")
}

fn token_as(app: &App, req: &Request, token_type: &str) -> Result<Response> {
    let params = req.oauth_params()?;
    let basic = req.basic();
    let creds = client_auth(&basic, req, &params)?;
    let issued = oauth::issue(
        &oauth::Deps::of(app),
        params.single("grant_type")?,
        creds,
        params.single("scope")?,
        &req.remote,
    )?;
    let body = format!(
        r#"{{"access_token":"{}","token_type":"{token_type}","expires_in":{},"scope":"{}"}}"#,
        issued.access_token, issued.expires_in, issued.scope
    );
    let response = Response::json_bytes(200, body.into_bytes()).no_store();
    Ok(match issued.pending {
        None => response,
        // The token goes out once its assertion's replay record is on the disk; should the
        // flush fail, the client is told to try again, and its assertion is used up.
        Some(record) => {
            let replay = app.replay.clone();
            let until = Box::new(move || match replay.wait(record) {
                Ok(()) => true,
                Err(e) => {
                    log::error!("flushing the replay journal: {e}");
                    false
                }
            });
            let unavailable = Error::Unavailable {
                retry_after_secs: 1,
                message: "the token could not be made durable; try again with a new assertion"
                    .into(),
            };
            let otherwise = crate::api::errors::render(
                Api::OAuth,
                crate::http::body::Format::Json,
                &Failure::App(unavailable),
            );
            response.held(until, otherwise)
        }
    })
}

/// The token a call is about: the `token` parameter, required.
fn token_param<'a>(params: &'a Params<'_>) -> crate::error::Result<&'a str> {
    params
        .single("token")?
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::oauth(OAuthCode::InvalidRequest, "token is required"))
}

fn caller(d: &oauth::Deps<'_>, req: &Request, params: &Params<'_>) -> Result<Caller> {
    let basic = req.basic();
    let creds = client_auth(&basic, req, params)?;
    Ok(oauth::authenticate_caller(d, creds, &req.remote)?)
}

#[derive(Serialize)]
struct Introspection<'a> {
    active: bool,
    scope: String,
    client_id: String,
    token_type: &'static str,
    exp: u64,
    iat: u64,
    nbf: u64,
    sub: &'a str,
    iss: &'a str,
    jti: String,
}

pub fn introspect(app: &App, req: &Request) -> Result<Response> {
    let params = req.oauth_params()?;
    let d = oauth::Deps::of(app);
    let caller = caller(&d, req, &params)?;
    let token = token_param(&params)?;
    let response = match oauth::introspect(&d, &caller, token) {
        Some((c, sub)) => Response::json(
            200,
            &Introspection {
                active: true,
                scope: c.scope_text(),
                client_id: c.client_id_text(),
                token_type: "bearer",
                exp: c.expires,
                iat: c.issued,
                nbf: c.issued,
                sub: &sub,
                iss: &app.base_url,
                jti: c.jti_text(),
            },
        ),
        None => Response::json(200, &json!({ "active": false })),
    };
    Ok(response.no_store())
}

pub fn revoke(app: &App, req: &Request) -> Result<Response> {
    let params = req.oauth_params()?;
    let d = oauth::Deps::of(app);
    let caller = caller(&d, req, &params)?;
    // RFC 7009 §2.1: an unknown token_type_hint is ignored; only access tokens exist here.
    oauth::revoke(&d, &caller, token_param(&params)?, &req.remote)?;
    Ok(Response::new(200).no_store())
}

/// Crowd's OAuth 2.0 client entity (oauth2-provider RestClientEntity, extended in 7.0 with
/// the rotated pair and the expiry duration).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientView {
    id: String,
    client_id: String,
    /// None for a client that authenticates by key.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_endpoint_auth_method: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jwks: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jwks_uri: Option<String>,
    name: String,
    redirects: Vec<String>,
    supported_grant_types: Vec<&'static str>,
    user_key: String,
    scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    rotated_client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rotated_client_secret: Option<String>,
    expiry_duration: u64,
}

pub fn client_view(app: &App, c: &crate::store::records::OAuthClientRecord) -> Result<ClientView> {
    let rotated = accounts::rotated_secret(c, app.clock.now_ms());
    let d = accounts::Deps::of(app);
    let (client_id, client_secret, method, jwks, jwks_uri) =
        match (accounts::current_secret(c), accounts::key_credential(c)) {
            (Some(s), _) => (s.client_id.clone(), Some(accounts::reveal(&d, s)?), None, None, None),
            (None, Some(k)) => {
                let (jwks, uri) = match &k.keys {
                    KeySource::Inline { jwks } => (serde_json::from_str(jwks).ok(), None),
                    KeySource::Url { url } => (None, Some(url.clone())),
                };
                (k.client_id.clone(), None, Some("private_key_jwt"), jwks, uri)
            }
            (None, None) => {
                return Err(
                    Error::Internal(format!("client {} has no current credential", c.id)).into()
                )
            }
        };
    Ok(ClientView {
        id: c.id.clone(),
        client_id,
        client_secret,
        token_endpoint_auth_method: method,
        jwks,
        jwks_uri,
        name: c.name.clone(),
        // An incoming application link's client redirects where the link says.
        redirects: match c.owner {
            ClientOwner::ApplicationLink { id } => match app.store.app_link(id)? {
                Some(AppLinkRecord {
                    direction: LinkDirection::Incoming { redirect_url, .. },
                    ..
                }) => vec![redirect_url],
                _ => Vec::new(),
            },
            ClientOwner::ServiceAccount { .. } => Vec::new(),
        },
        supported_grant_types: vec![oauth::GRANT_CLIENT_CREDENTIALS],
        user_key: c.user_key.clone(),
        scope: c.scopes.join(" "),
        rotated_client_id: rotated.map(|r| r.client_id.clone()),
        rotated_client_secret: rotated.map(|r| accounts::reveal(&d, r)).transpose()?,
        expiry_duration: c.expiry_duration,
    })
}

pub fn rotate(app: &App, actor: &Actor, client_id: &str) -> Result<Response> {
    let client = accounts::rotate(&accounts::Deps::of(app), actor, client_id)?;
    Ok(Response::json(200, &client_view(app, &client)?).no_store())
}

pub fn client(app: &App, id: &str) -> Result<Response> {
    let client = accounts::client(&accounts::Deps::of(app), id)?;
    Ok(Response::json(200, &client_view(app, &client)?).no_store())
}
