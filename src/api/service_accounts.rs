//! `/rest/service-accounts/latest/service-accounts`: Crowd 7.0's service-account REST API.
//!
//! Shapes follow the Crowd 7.0 documentation example:
//! https://confluence.atlassian.com/enterprise/create-a-service-account-via-rest-api-1627556048.html
//! The plain secret appears only in the create response; `GET /rest/oauth2/latest/client/{id}`
//! shows it to admins again when they need it.

use super::{admins_only, only, paging, Api, Namespace, Page, Principal};
use crate::app::App;
use crate::domain::audit::Actor;
use crate::domain::client_keys;
use crate::domain::clock::rfc3339_ms;
use crate::domain::service_accounts::{self as accounts, NewAccount};
use crate::error::{Error, Resource};
use crate::http::failure::{Failure, Result};
use crate::http::{Method, Request, Response};
use crate::store::records::{KeySource, OAuthClientRecord, ServiceAccountRecord};
use serde::{Deserialize, Serialize};

/// `/rest/service-accounts/latest/service-accounts`.
pub const NAMESPACE: Namespace = Namespace {
    prefix: &[&["rest"], &["service-accounts"], &["latest"], &["service-accounts"]],
    shape: |_| Api::Crowd,
    authenticate: admins_only,
    dispatch,
};

fn dispatch(app: &App, req: &Request, who: &Principal, rest: &[&str]) -> Result<Response> {
    use Method::*;
    let actor = who.admin()?;
    match (rest, req.method) {
        ([], Get | Head) => search(app, req),
        ([], Post) => create(app, req, actor),
        ([], _) => Err(only(&["GET", "POST"])),
        ([id], Get | Head) => get(app, id),
        ([id], Put) => update(app, req, actor, id),
        ([id], Delete) => archive(app, actor, id),
        ([_], _) => Err(only(&["GET", "PUT", "DELETE"])),
        ([id, "keys"], Get | Head) => keys(app, id),
        ([id, "keys"], Put) => replace_keys(app, req, actor, id),
        ([id, "keys"], Post) => add_key(app, req, actor, id),
        ([_, "keys"], _) => Err(only(&["GET", "PUT", "POST"])),
        ([id, "keys", kid], Delete) => remove_key(app, actor, id, kid),
        ([id, "directories"], Get | Head) => directories(app, id),
        ([id, "directories"], Put) => grant_directories(app, req, actor, id),
        ([_, "directories"], _) => Err(only(&["GET", "PUT"])),
        ([_, "keys", _], _) => Err(only(&["DELETE"])),
        _ => Err(Failure::NoRoute),
    }
}

/// Create request. Unknown fields are refused so a misspelt field is an error, not a default;
/// `resourceRestrictions` is accepted and ignored, as Crowd does not enforce it. `jwks` or
/// `jwksUri` (throng's, named as in RFC 7591 §2) make an account that authenticates with
/// `private_key_jwt` instead of a client secret.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CreateBody {
    #[serde(default)]
    jwks: Option<serde_json::Value>,
    #[serde(default)]
    jwks_uri: Option<String>,
    display_name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    scopes: Option<Vec<String>>,
    expiry_duration: Option<serde_json::Number>,
    #[serde(default)]
    #[allow(dead_code)]
    resource_restrictions: Option<serde_json::Value>,
}

/// A client's keys: a JWK set, or the URL of one.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct KeysBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jwks: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jwks_uri: Option<String>,
}

impl KeysBody {
    /// The key source these name: exactly one of the two, checked.
    fn source(self) -> crate::error::Result<Option<KeySource>> {
        match (self.jwks, self.jwks_uri) {
            (None, None) => Ok(None),
            (Some(set), None) => {
                Ok(Some(KeySource::Inline { jwks: accounts::registered_jwk_set(&set)? }))
            }
            (None, Some(url)) => {
                Ok(Some(KeySource::Url { url: accounts::registered_jwks_uri(&url)? }))
            }
            (Some(_), Some(_)) => Err(Error::bad_request("send jwks or jwksUri, not both")),
        }
    }

    fn of(source: &KeySource) -> KeysBody {
        match source {
            KeySource::Inline { jwks } => KeysBody {
                jwks: Some(serde_json::from_str(jwks).unwrap_or_default()),
                jwks_uri: None,
            },
            KeySource::Url { url } => KeysBody { jwks: None, jwks_uri: Some(url.clone()) },
        }
    }
}

/// Update request: only these two fields may change (archive and recreate for the rest).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct UpdateBody {
    display_name: Option<String>,
    description: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountView {
    id: u64,
    active: bool,
    name: String,
    display_name: String,
    description: String,
    resource_restrictions: Vec<serde_json::Value>,
    auth_methods: Vec<AuthMethodView>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuthMethodView {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
    /// `private_key_jwt` for a client that authenticates by key; absent (Crowd's view) for
    /// one with a secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    token_endpoint_auth_method: Option<&'static str>,
    #[serde(flatten)]
    keys: Option<KeysBody>,
    last_rotated_at: String,
    expiry_duration: u64,
    /// A key credential does not expire.
    #[serde(skip_serializing_if = "Option::is_none")]
    expiry_date: Option<String>,
    expiry_soon: bool,
    author: String,
    scopes: Vec<String>,
}

fn view(
    app: &App,
    a: &ServiceAccountRecord,
    client: Option<&OAuthClientRecord>,
    secret: Option<String>,
) -> AccountView {
    let now = app.clock.now_ms();
    let method = |c: &OAuthClientRecord, client_id: &str| AuthMethodView {
        kind: "OAuth2",
        id: c.id.clone(),
        client_id: client_id.to_string(),
        client_secret: None,
        token_endpoint_auth_method: None,
        keys: None,
        last_rotated_at: rfc3339_ms(c.last_rotated),
        expiry_duration: c.expiry_duration,
        expiry_date: None,
        expiry_soon: false,
        author: a.author.clone(),
        scopes: c.scopes.clone(),
    };
    let auth_methods = client
        .and_then(|c| {
            if let Some(k) = accounts::key_credential(c) {
                return Some(AuthMethodView {
                    token_endpoint_auth_method: Some("private_key_jwt"),
                    keys: Some(KeysBody::of(&k.keys)),
                    ..method(c, &k.client_id)
                });
            }
            accounts::current_secret(c).map(|s| AuthMethodView {
                client_secret: secret,
                expiry_date: Some(rfc3339_ms(s.expires)),
                expiry_soon: accounts::expiry_soon(now, s.expires, c.expiry_duration),
                ..method(c, &s.client_id)
            })
        })
        .into_iter()
        .collect();
    AccountView {
        id: a.id,
        active: a.active,
        name: a.name.clone(),
        display_name: a.display_name.clone(),
        description: a.description.clone(),
        resource_restrictions: Vec::new(),
        auth_methods,
    }
}

fn account_view(app: &App, a: &ServiceAccountRecord) -> Result<AccountView> {
    let client = accounts::client_of(&accounts::Deps::of(app), a)?;
    Ok(view(app, a, client.as_ref(), None))
}

fn parse_id(id: &str) -> crate::error::Result<u64> {
    id.parse().map_err(|_| Error::NotFound(Resource::ServiceAccount, id.to_string()))
}

pub fn create(app: &App, req: &Request, actor: &Actor) -> Result<Response> {
    let body: CreateBody = req.json()?;
    let display_name = accounts::validate_display_name(
        body.display_name
            .as_deref()
            .ok_or_else(|| Error::bad_request("displayName is required"))?,
    )?;
    let description = accounts::validate_description(body.description.as_deref().unwrap_or(""))?;
    let keys = KeysBody { jwks: body.jwks, jwks_uri: body.jwks_uri }.source()?;
    let scopes = accounts::validate_scopes(
        &body.scopes.ok_or_else(|| Error::bad_request("scopes is required"))?,
        keys.is_some(),
    )?;
    let expiry =
        body.expiry_duration.ok_or_else(|| Error::bad_request("expiryDuration is required"))?;
    let expiry = accounts::validate_expiry(expiry.as_i128().unwrap_or(0))?;
    let created = accounts::create(
        &accounts::Deps::of(app),
        actor,
        NewAccount { display_name, description, scopes, expiry_duration: expiry, keys },
    )?;
    let v = view(app, &created.account, Some(&created.client), created.secret);
    Ok(Response::json(201, &v)
        .header(
            "Location",
            format!("{}/rest/service-accounts/latest/service-accounts/{}", app.base_url, v.id),
        )
        .no_store())
}

pub fn get(app: &App, id: &str) -> Result<Response> {
    let account = accounts::get(&accounts::Deps::of(app), parse_id(id)?)?;
    Ok(Response::json(200, &account_view(app, &account)?))
}

pub fn update(app: &App, req: &Request, actor: &Actor, id: &str) -> Result<Response> {
    let id = parse_id(id)?;
    let body: UpdateBody = req.json()?;
    let display_name =
        body.display_name.as_deref().map(accounts::validate_display_name).transpose()?;
    let description =
        body.description.as_deref().map(accounts::validate_description).transpose()?;
    let account = accounts::update(&accounts::Deps::of(app), actor, id, display_name, description)?;
    Ok(Response::json(200, &account_view(app, &account)?))
}

pub fn archive(app: &App, actor: &Actor, id: &str) -> Result<Response> {
    accounts::archive(&accounts::Deps::of(app), actor, parse_id(id)?)?;
    Ok(Response::no_content())
}

pub fn search(app: &App, req: &Request) -> Result<Response> {
    let (start, limit) = paging(req, 25)?;
    let active = match req.query_params()?.single("active")? {
        None | Some("") => true,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(v) => {
            return Err(
                Error::bad_request(format!("active must be true or false, not '{v}'")).into()
            )
        }
    };
    let (accounts_page, is_last_page) = app.store.service_accounts_page(active, start, limit)?;
    let values = accounts_page.iter().map(|a| account_view(app, a)).collect::<Result<Vec<_>>>()?;
    Ok(Response::json(200, &Page { start, limit, size: values.len(), is_last_page, values }))
}

/// The keys of account `id`'s client, as `{"jwks":…}` or `{"jwksUri":…}`.
fn key_view(client: &OAuthClientRecord) -> Result<Response> {
    let k = accounts::key_credential(client).ok_or_else(|| {
        Error::bad_request("this service account authenticates with a client secret, not keys")
    })?;
    Ok(Response::json(200, &KeysBody::of(&k.keys)))
}

pub fn keys(app: &App, id: &str) -> Result<Response> {
    let d = accounts::Deps::of(app);
    let account = accounts::get(&d, parse_id(id)?)?;
    let client = accounts::client_of(&d, &account)?.ok_or_else(|| {
        Error::bad_request(format!("service account {id} is archived and has no keys"))
    })?;
    key_view(&client)
}

pub fn replace_keys(app: &App, req: &Request, actor: &Actor, id: &str) -> Result<Response> {
    let id = parse_id(id)?;
    let body: KeysBody = req.json()?;
    let source = body.source()?.ok_or_else(|| Error::bad_request("send jwks or jwksUri"))?;
    let client = client_keys::replace(&accounts::Deps::of(app), actor, id, source)?;
    key_view(&client)
}

/// Adds one key: the body is the JWK itself, with its `kid`.
pub fn add_key(app: &App, req: &Request, actor: &Actor, id: &str) -> Result<Response> {
    let id = parse_id(id)?;
    let jwk: serde_json::Value = req.json()?;
    let client = client_keys::add(&accounts::Deps::of(app), actor, id, &jwk)?;
    Ok(Response { status: 201, ..key_view(&client)? })
}

pub fn remove_key(app: &App, actor: &Actor, id: &str, kid: &str) -> Result<Response> {
    client_keys::remove(&accounts::Deps::of(app), actor, parse_id(id)?, kid)?;
    Ok(Response::no_content())
}

/// `{"directories":[ids]}`: the `SCIM` directories a client may provision.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct DirectoriesBody {
    directories: Vec<u64>,
}

pub fn directories(app: &App, id: &str) -> Result<Response> {
    let d = accounts::Deps::of(app);
    let account = accounts::get(&d, parse_id(id)?)?;
    let directories =
        accounts::client_of(&d, &account)?.map(|c| c.scim_directories).unwrap_or_default();
    Ok(Response::json(200, &DirectoriesBody { directories }))
}

pub fn grant_directories(app: &App, req: &Request, actor: &Actor, id: &str) -> Result<Response> {
    let id = parse_id(id)?;
    let body: DirectoriesBody = req.json()?;
    let client =
        client_keys::grant_directories(&accounts::Deps::of(app), actor, id, body.directories)?;
    Ok(Response::json(200, &DirectoriesBody { directories: client.scim_directories }))
}
