//! A remote Crowd directory's changes since a sync, for an incremental synchronisation:
//! `GET /event` for the token that marks "now", `GET /event/{token}` for what changed since,
//! page after page (a server may stop an answer early; its `newEventToken` then marks the last
//! event it carried). The events are read as the Java client reads them (crowd-rest-plugin
//! `EventEntityList`); in JSON an event's kind is told by its fields, which serves Crowd (that
//! writes no kind) and throng (that adds `"type"`) alike:
//! - `childUser` + `parentGroups`: a user's memberships (`absolute`: exactly these);
//! - `group` + `parentGroups`/`childGroups`: a group's memberships;
//! - `user` / `group`: the entity as it is now, or its name when `DELETED`; attributes whole
//!   when the entity carries them (throng), else as `storedAttributes`/`deletedAttributes`
//!   (Crowd's `UserEventEntity`).
//!
//! When the server cannot answer incrementally (410 `EVENT_TOKEN_EXPIRED`, 400
//! `INCREMENTAL_SYNC_NOT_AVAILABLE`, a 404 on `/event`, as Crowd's own client treats them:
//! <https://docs.atlassian.com/atlassian-crowd/latest/com/atlassian/crowd/integration/rest/service/RestCrowdClient.html>)
//! the sync is full instead.

use super::client::Answer;
use super::crowd::{CrowdServer, CROWD_VERSION_HEADER};
use super::snapshot::{AttributeList, GroupEntity, ReadFailure, UserEntity};
use crate::store::directory::incremental::{AttributeUpdate, RemoteChange};
use serde::Deserialize;
use serde_json::Value;

/// Most changes one incremental sync gathers (all are held until they are applied, in one
/// transaction); past that a full sync reads less and holds no more.
const MAX_CHANGES: usize = 50_000;
/// Most `/event/{token}` answers one incremental sync reads.
const MAX_PAGES: usize = 1_000;

/// What asking for changes found.
#[derive(Debug)]
pub enum Since {
    /// These changes, and the token to ask with next time.
    Changes(Vec<RemoteChange>, String),
    /// No incremental answer; why, in a few words. The caller synchronises in full.
    Unavailable(String),
}

/// `GET /event`: the token that marks "now" on the server, or `None` when it offers no
/// incremental sync.
pub fn current(server: &CrowdServer<'_>) -> Result<Option<String>, ReadFailure> {
    let answer = server.get("/event", "application/json").map_err(ReadFailure::Remote)?;
    if matches!(answer.status, 404 | 400) && answer.header(CROWD_VERSION_HEADER).is_some() {
        return Ok(None);
    }
    let page = page(&answer, "/event")?;
    Ok(page.available.then_some(page.token))
}

/// Every change since `token`, read as directory `dir`.
pub fn since(server: &CrowdServer<'_>, dir: u64, token: &str) -> Result<Since, ReadFailure> {
    let mut token = token.to_string();
    let mut changes = Vec::new();
    let mut empty_pages = 0;
    for _ in 0..MAX_PAGES {
        let path = format!("/event/{}", crate::http::request::percent_encode(&token));
        let answer = server.get(&path, "application/json").map_err(ReadFailure::Remote)?;
        if let Some(why) = unavailable(&answer) {
            return Ok(Since::Unavailable(why));
        }
        let page = page(&answer, "/event/{token}")?;
        if !page.available {
            return Ok(Since::Unavailable("the server offers no incremental sync".into()));
        }
        let unchanged = page.token == token;
        let count = page.events.len();
        for event in &page.events {
            changes.extend(change(dir, event).map_err(|message| ReadFailure::Answer {
                path: "/event/{token}",
                status: 200,
                message,
            })?);
        }
        if changes.len() > MAX_CHANGES {
            return Ok(Since::Unavailable(format!(
                "more than {MAX_CHANGES} changes: a full sync reads less"
            )));
        }
        token = page.token;
        // An empty page whose token moved may be one the server filtered whole (events of
        // directories this application does not see): ask once more from there.
        empty_pages = if count == 0 { empty_pages + 1 } else { 0 };
        if unchanged || empty_pages == 2 {
            return Ok(Since::Changes(changes, token));
        }
    }
    Ok(Since::Changes(changes, token))
}

/// Why the server gave no incremental answer, when that is what it said.
fn unavailable(answer: &Answer) -> Option<String> {
    answer.header(CROWD_VERSION_HEADER)?;
    match answer.status {
        410 => Some("the event token has expired (410)".into()),
        404 => Some("the server offers no change events (404)".into()),
        400 if answer.text(2000).contains("INCREMENTAL_SYNC_NOT_AVAILABLE") => {
            Some("incremental sync is not available on the server (400)".into())
        }
        _ => None,
    }
}

struct Page {
    token: String,
    available: bool,
    events: Vec<Value>,
}

/// A 200 Crowd answer's `newEventToken`, `incrementalSynchronisationAvailable` and events.
fn page(answer: &Answer, path: &'static str) -> Result<Page, ReadFailure> {
    let fail = |status, message| ReadFailure::Answer { path, status, message };
    if answer.header(CROWD_VERSION_HEADER).is_none() {
        return Err(fail(answer.status, format!("not a Crowd answer (no {CROWD_VERSION_HEADER})")));
    }
    if answer.status != 200 {
        return Err(fail(answer.status, super::crowd::crowd_message(&answer.text(1000))));
    }
    let mut v: Value =
        serde_json::from_slice(&answer.body).map_err(|e| fail(200, format!("not JSON: {e}")))?;
    let token = v.get("newEventToken").and_then(Value::as_str).map(str::to_string);
    let token = token.ok_or_else(|| fail(200, "no newEventToken in the answer".into()))?;
    let available = v.get("incrementalSynchronisationAvailable").and_then(Value::as_bool);
    let events = match v.get_mut("events").map(Value::take) {
        Some(Value::Array(events)) => events,
        None | Some(Value::Null) => Vec::new(),
        Some(_) => return Err(fail(200, "'events' is not a list".into())),
    };
    Ok(Page { token, available: available.unwrap_or(true), events })
}

fn name(v: &Value, field: &str) -> Result<String, String> {
    v.pointer(&format!("/{field}/name"))
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .ok_or_else(|| format!("an event without {field}.name"))
}

/// The names in `{"groups":[{"name"},…]}` under `field`.
fn names(v: &Value, field: &str) -> Vec<String> {
    let list = v.pointer(&format!("/{field}/groups")).and_then(Value::as_array);
    let names = list.into_iter().flatten().filter_map(|g| g.get("name")?.as_str());
    names.map(str::to_string).collect()
}

/// How an event gives its entity's attributes: as a change beside it when it carries
/// `storedAttributes` or `deletedAttributes` (Crowd's `UserEventEntity`), whole when the
/// entity has an attribute list (throng), else not at all (they stay as they are).
fn attribute_update(event: &Value, entity: &Value) -> AttributeUpdate {
    let list = |v: Option<&Value>| {
        let list = v.and_then(|v| AttributeList::deserialize(v).ok());
        list.map(AttributeList::map).unwrap_or_default()
    };
    let (stored, deleted) = (event.get("storedAttributes"), event.get("deletedAttributes"));
    if stored.is_none()
        && deleted.is_none()
        && entity.get("attributes").is_some_and(Value::is_object)
    {
        return AttributeUpdate::Whole;
    }
    AttributeUpdate::Delta { stored: list(stored), deleted: list(deleted).into_keys().collect() }
}

/// The changes one event reports.
fn change(dir: u64, e: &Value) -> Result<Vec<RemoteChange>, String> {
    let op = e.get("operation").and_then(Value::as_str).unwrap_or_default();
    let (created, deleted) = (op == "CREATED", op == "DELETED");
    if !(created || deleted || op == "UPDATED") {
        return Err(format!("an event with operation '{op}'"));
    }
    Ok(if e.get("childUser").is_some() {
        let user = name(e, "childUser")?;
        let groups = names(e, "parentGroups");
        if e.get("absolute").and_then(Value::as_bool) == Some(true) {
            vec![RemoteChange::UserGroupsExactly { user, groups }]
        } else {
            vec![RemoteChange::UserMemberships { user, groups, added: !deleted }]
        }
    } else if e.get("parentGroups").is_some() || e.get("childGroups").is_some() {
        let group = name(e, "group")?;
        let added = !deleted;
        let up = names(e, "parentGroups").into_iter().map(|parent| RemoteChange::GroupMembership {
            child: group.clone(),
            parent,
            added,
        });
        let down = names(e, "childGroups").into_iter().map(|child| RemoteChange::GroupMembership {
            child,
            parent: group.clone(),
            added,
        });
        up.chain(down).collect()
    } else if let Some(entity) = e.get("user") {
        let name = name(e, "user")?;
        if deleted {
            vec![RemoteChange::UserDeleted(name)]
        } else {
            let user = UserEntity::deserialize(entity).map_err(|e| format!("a user event: {e}"))?;
            vec![RemoteChange::User(user.record(dir), attribute_update(e, entity))]
        }
    } else if let Some(entity) = e.get("group") {
        let name = name(e, "group")?;
        if deleted {
            vec![RemoteChange::GroupDeleted(name)]
        } else {
            let group =
                GroupEntity::deserialize(entity).map_err(|e| format!("a group event: {e}"))?;
            vec![RemoteChange::Group(group.record(dir), attribute_update(e, entity))]
        }
    } else {
        return Err("an event of no kind this server knows".into());
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_are_told_apart_by_their_fields_as_crowd_and_throng_write_them() {
        let user = json!({"operation":"CREATED","user":{"name":"ann","first-name":"Ann",
            "attributes":{"attributes":[{"name":"k","values":["v"]}]}}});
        let [RemoteChange::User(u, AttributeUpdate::Whole)] = &change(2, &user).unwrap()[..] else {
            panic!()
        };
        assert_eq!(
            (u.name.as_str(), u.directory_id, &u.attributes["k"][..]),
            ("ann", 2, &["v".to_string()][..])
        );
        // Crowd's UserEventEntity: the user without attributes, the change beside it.
        let crowd = json!({"operation":"UPDATED","user":{"name":"ann"},
            "storedAttributes":{"attributes":[{"name":"a","values":["1"]}]},
            "deletedAttributes":{"attributes":[{"name":"b","values":[]}]}});
        let [RemoteChange::User(_, AttributeUpdate::Delta { stored, deleted })] =
            &change(2, &crowd).unwrap()[..]
        else {
            panic!()
        };
        assert_eq!((stored.len(), &deleted[..]), (1, &["b".to_string()][..]));
        // No attributes at all (a null list, say): they stay as they are.
        let bare = json!({"operation":"UPDATED","user":{"name":"ann","attributes":null}});
        assert!(matches!(
            &change(2, &bare).unwrap()[..],
            [RemoteChange::User(_, AttributeUpdate::Delta { stored, deleted })]
                if stored.is_empty() && deleted.is_empty()
        ));
        let gone = json!({"operation":"DELETED","user":{"name":"ann"}});
        assert_eq!(change(2, &gone).unwrap(), [RemoteChange::UserDeleted("ann".into())]);
        let m = json!({"operation":"CREATED","childUser":{"name":"ann"},
            "parentGroups":{"groups":[{"name":"devs"}]},"absolute":true});
        assert_eq!(
            change(2, &m).unwrap(),
            [RemoteChange::UserGroupsExactly { user: "ann".into(), groups: vec!["devs".into()] }]
        );
        let g = json!({"operation":"DELETED","group":{"name":"devs"},
            "parentGroups":{"groups":[{"name":"all"}]},"childGroups":{"groups":[{"name":"rust"}]}});
        assert_eq!(
            change(2, &g).unwrap(),
            [
                RemoteChange::GroupMembership {
                    child: "devs".into(),
                    parent: "all".into(),
                    added: false
                },
                RemoteChange::GroupMembership {
                    child: "rust".into(),
                    parent: "devs".into(),
                    added: false
                },
            ]
        );
        assert!(change(2, &json!({"operation":"EXPLODED","user":{"name":"a"}})).is_err());
        assert!(change(2, &json!({"operation":"CREATED","user":{}})).is_err());
        assert!(change(2, &json!({"operation":"CREATED"})).is_err());
    }
}
