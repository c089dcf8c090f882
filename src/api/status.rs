//! `GET /status`: Crowd's liveness answer, which tests and load balancers poll.

use crate::app::App;
use crate::error::Result;
use crate::http::Response;

pub fn get(_app: &App) -> Result<Response> {
    Ok(Response::json_bytes(200, br#"{"state":"RUNNING"}"#.to_vec()))
}
