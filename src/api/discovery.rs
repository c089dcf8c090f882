//! `GET /.well-known/oauth-authorization-server`: the token endpoint's metadata (RFC 8414),
//! so that an OAuth library configured with the issuer alone finds the endpoints and how to
//! authenticate at them: the client-credentials grant, with the client's secret by Basic or
//! in the body, or a JWT the client signs (`private_key_jwt`, RS256 or ES256).
//!
//! The issuer is the server's base URL (`--base-url`, or the address it listens on), the
//! endpoints below it. There is no authorization endpoint, so no response type
//! (`response_types_supported` is required, and empty).

use super::{anyone, only, Api, Namespace, Principal};
use crate::app::App;
use crate::http::failure::{Failure, Result};
use crate::http::{Method, Request, Response};
use serde_json::json;

/// `/.well-known`.
pub const NAMESPACE: Namespace = Namespace {
    prefix: &[&[".well-known"]],
    shape: |_| Api::OAuth,
    authenticate: anyone,
    dispatch,
};

fn dispatch(app: &App, req: &Request, _: &Principal, rest: &[&str]) -> Result<Response> {
    match (rest, req.method) {
        (["oauth-authorization-server"], Method::Get | Method::Head) => Ok(metadata(app)),
        (["oauth-authorization-server"], _) => Err(only(&["GET"])),
        _ => Err(Failure::NoRoute),
    }
}

fn metadata(app: &App) -> Response {
    let base = &app.base_url;
    let oauth = format!("{base}/rest/oauth2/latest");
    let methods = ["client_secret_basic", "client_secret_post", "private_key_jwt"];
    let algs = ["RS256", "ES256"];
    let body = json!({
        "issuer": base,
        "token_endpoint": format!("{oauth}/token"),
        "token_endpoint_auth_methods_supported": methods,
        "token_endpoint_auth_signing_alg_values_supported": algs,
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": [],
        "scopes_supported": crate::domain::tokens::KNOWN_SCOPES,
        "introspection_endpoint": format!("{oauth}/introspect"),
        "introspection_endpoint_auth_methods_supported": methods,
        "introspection_endpoint_auth_signing_alg_values_supported": algs,
        "revocation_endpoint": format!("{oauth}/revoke"),
        "revocation_endpoint_auth_methods_supported": methods,
        "revocation_endpoint_auth_signing_alg_values_supported": algs,
    });
    Response::json(200, &body)
}
