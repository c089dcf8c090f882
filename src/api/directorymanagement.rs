//! `/rest/directorymanagement/1`: the connection test of a remote Crowd directory's settings
//! (`POST /directory/testcrowd`, the path Crowd's own console calls), for administrators by
//! Basic.
//!
//! The body names the server and how throng authenticates to it, as a Crowd directory of
//! Jira's does:
//!
//! ```json
//! {"serverUrl":"https://crowd.example.com/crowd","applicationName":"jira",
//!  "applicationPassword":"…"}                       (or "applicationLink":"<outgoing link>")
//! ```
//!
//! `POST /directory/testcrowd/{id}` tests a stored `CROWD` directory's settings the same way.
//!
//! The answer is 200 whatever the server said: `{"ok":true,"server":"Crowd/7.0.0",…}`, or
//! `{"ok":false,"status":403,"message":"Client with address \"10.0.0.7\" is forbidden …",
//! "hint":"on the server, add 10.0.0.7 to the remote addresses of application 'jira' …"}`.

use super::{admins_only, only, Api, Namespace, Principal};
use crate::app::App;
use crate::domain::links;
use crate::error::{Error, Resource};
use crate::http::failure::{Failure, Result};
use crate::http::{Method, Request, Response};
use crate::remote::crowd::{self, CrowdAuth, CrowdServer};
use crate::store::records::LinkDirection;
use serde::{Deserialize, Serialize};

pub const NAMESPACE: Namespace = Namespace {
    prefix: &[&["rest"], &["directorymanagement"], &["1", "latest"]],
    shape: |_| Api::Crowd,
    authenticate: admins_only,
    dispatch,
};

fn dispatch(app: &App, req: &Request, who: &Principal, rest: &[&str]) -> Result<Response> {
    who.admin()?;
    match (rest, req.method) {
        (["directory", "testcrowd"], Method::Post) => test_crowd(app, req),
        (["directory", "testcrowd"], _) => Err(only(&["POST"])),
        (["directory", "testcrowd", id], Method::Post) => test_stored(app, id),
        (["directory", "testcrowd", _], _) => Err(only(&["POST"])),
        _ => Err(Failure::NoRoute),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Settings {
    server_url: Option<String>,
    application_name: Option<String>,
    application_password: Option<String>,
    application_link: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutcomeView {
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    server: Option<String>,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<String>,
}

fn test_crowd(app: &App, req: &Request) -> Result<Response> {
    let s: Settings = req.json()?;
    let base = s.server_url.ok_or_else(|| Error::bad_request("serverUrl is required"))?;
    let base = base.trim_end_matches('/').to_string();
    links::url("serverUrl", &base)?;
    if base.contains(['?', '#']) || origin(&base).contains('@') {
        return Err(Error::bad_request(
            "serverUrl is the server's base URL: no query, fragment or user in it",
        )
        .into());
    }
    let application =
        s.application_name.ok_or_else(|| Error::bad_request("applicationName is required"))?;
    let auth = match (s.application_password, s.application_link) {
        (Some(password), None) => CrowdAuth::Password { application, password },
        (None, Some(name)) => {
            let link = app
                .store
                .app_link_by_name(&name)?
                .ok_or(Error::UnknownReference(Resource::ApplicationLink, name))?;
            let LinkDirection::Outgoing { token_url, .. } = &link.direction else {
                return Err(Error::UnknownReference(Resource::ApplicationLink, link.name).into());
            };
            // The link's token is for the server that issues it: it goes nowhere else.
            if origin(token_url) != origin(&base) {
                return Err(Error::bad_request(format!(
                    "the link's token endpoint ({}) is on another server than serverUrl: its \
                     tokens go only to the server that issues them",
                    origin(token_url)
                ))
                .into());
            }
            CrowdAuth::Link { application, link }
        }
        _ => {
            return Err(Error::bad_request(
                "give applicationPassword or applicationLink (an outgoing link), one of them",
            )
            .into())
        }
    };
    let server = CrowdServer {
        base,
        auth,
        out: &app.outbound,
        tokens: &app.outgoing_tokens,
        links: links::Deps::of(app),
    };
    outcome(&server)
}

/// `POST /directory/testcrowd/{id}`: a stored CROWD directory's settings, tested.
fn test_stored(app: &App, id: &str) -> Result<Response> {
    let unknown = || Error::NotFound(Resource::Directory, id.to_string());
    let dir = app.store.directory(id.parse().map_err(|_| unknown())?)?.ok_or_else(unknown)?;
    let Some(remote) = &dir.remote else {
        return Err(Error::bad_request(format!(
            "directory '{}' is {}: only CROWD directories have a server to test",
            dir.name, dir.kind
        ))
        .into());
    };
    let server = CrowdServer {
        base: remote.server_url.clone(),
        auth: crate::remote::sync::auth(app, remote)?,
        out: &app.outbound,
        tokens: &app.outgoing_tokens,
        links: links::Deps::of(app),
    };
    outcome(&server)
}

fn outcome(server: &CrowdServer<'_>) -> Result<Response> {
    let o = crowd::test(server);
    let view = OutcomeView {
        ok: o.ok,
        status: o.status,
        server: o.server,
        message: o.message,
        hint: o.hint,
    };
    Ok(Response::json(200, &view).no_store())
}

/// `scheme://authority` of a URL.
fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[after_scheme..].find('/').map_or(url.len(), |i| after_scheme + i);
    &url[..end]
}
