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
use crate::error::{Error, Resource};
use crate::http::failure::{Failure, Result};
use crate::http::{Method, Request, Response};
use crate::remote::crowd::{self, CrowdServer};
use crate::remote::sync;
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
    let server_url = s.server_url.ok_or_else(|| Error::bad_request("serverUrl is required"))?;
    let application =
        s.application_name.ok_or_else(|| Error::bad_request("applicationName is required"))?;
    let remote = sync::settings(
        &app.store,
        &app.keys,
        &server_url,
        application,
        s.application_password,
        s.application_link,
        Some("off"),
    )?;
    outcome(&CrowdServer::of(&crowd::Deps::of(app), &remote)?)
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
    outcome(&CrowdServer::of(&crowd::Deps::of(app), remote)?)
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
