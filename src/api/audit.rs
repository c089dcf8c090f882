//! `GET /rest/audit/1.0/events?start&limit`: the audit log, newest first, for admins. Each
//! event carries `count` (and `throttled`): aggregated failed attempts stand for many events.

use super::{admins_only, only, paging, Api, Namespace, Page, Principal};
use crate::app::App;
use crate::domain::clock::rfc3339_ms;
use crate::http::failure::{Failure, Result};
use crate::http::{Method, Request, Response};
use serde::Serialize;

/// `/rest/audit/1.0`.
pub const NAMESPACE: Namespace = Namespace {
    prefix: &[&["rest"], &["audit"], &["1.0"]],
    shape: |_| Api::Crowd,
    authenticate: admins_only,
    dispatch,
};

fn dispatch(app: &App, req: &Request, who: &Principal, rest: &[&str]) -> Result<Response> {
    who.admin()?;
    match (rest, req.method) {
        (["events"], Method::Get | Method::Head) => events(app, req),
        (["events"], _) => Err(only(&["GET"])),
        _ => Err(Failure::NoRoute),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EventView {
    id: u64,
    timestamp: String,
    actor: String,
    action: String,
    target: String,
    details: String,
    remote_address: String,
    /// How many events the record stands for (failed attempts are aggregated per window).
    count: u64,
    /// Of those, how many the throttle refused without checking their credentials.
    throttled: u64,
}

pub fn events(app: &App, req: &Request) -> Result<Response> {
    let (start, limit) = paging(req, 50)?;
    let (records, is_last_page) = app.store.audit_page(start, limit)?;
    let values: Vec<EventView> = records
        .into_iter()
        .map(|r| EventView {
            id: r.id,
            timestamp: rfc3339_ms(r.timestamp),
            actor: r.actor,
            action: r.action,
            target: r.target,
            details: r.details,
            remote_address: r.remote,
            count: r.count,
            throttled: r.throttled,
        })
        .collect();
    Ok(Response::json(200, &Page { start, limit, size: values.len(), is_last_page, values }))
}
