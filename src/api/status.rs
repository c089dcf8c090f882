//! `GET /status`: Crowd's liveness answer, which tests and load balancers poll.

use super::{anyone, only, Api, Namespace, Principal};
use crate::app::App;
use crate::http::failure::{Failure, Result};
use crate::http::{Method, Request, Response};

/// `/status`.
pub const NAMESPACE: Namespace =
    Namespace { prefix: &[&["status"]], shape: |_| Api::Crowd, authenticate: anyone, dispatch };

fn dispatch(app: &App, req: &Request, _: &Principal, rest: &[&str]) -> Result<Response> {
    match (rest, req.method) {
        ([], Method::Get | Method::Head) => get(app),
        ([], _) => Err(only(&["GET"])),
        _ => Err(Failure::NoRoute),
    }
}

pub fn get(_app: &App) -> Result<Response> {
    Ok(Response::json_bytes(200, br#"{"state":"RUNNING"}"#.to_vec()))
}
