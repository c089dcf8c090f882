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

/// Most changes one incremental sync gathers (all are held until they are applied, in one
/// transaction); past that a full sync reads less and holds no more.
const MAX_CHANGES: usize = 50_000;
/// Most `/event/{token}` answers one incremental sync reads.
const MAX_PAGES: usize = 1_000;
/// The largest `/event/{token}` answer read (throng's own stop near 8 MiB); a larger one is
/// left for a full sync, which reads the directory in less than such a log.
const MAX_PAGE_BYTES: usize = 16 << 20;

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
    Ok(page.available().then_some(page.token))
}

/// Every change since `token`, read as directory `dir`; `stopping` is asked between pages
/// (the server is shutting down: what was read is dropped, and the next sync asks again).
pub fn since(
    server: &CrowdServer<'_>,
    dir: u64,
    token: &str,
    stopping: &dyn Fn() -> bool,
) -> Result<Since, ReadFailure> {
    let mut token = token.to_string();
    let mut changes = Vec::new();
    let mut empty_pages = 0;
    for _ in 0..MAX_PAGES {
        if stopping() {
            return Err(ReadFailure::Stopped);
        }
        let path = format!("/event/{}", crate::http::request::percent_encode(&token));
        let answer = server.get(&path, "application/json").map_err(ReadFailure::Remote)?;
        if let Some(why) = unavailable(&answer) {
            return Ok(Since::Unavailable(why));
        }
        if answer.status == 200 && answer.body.len() > MAX_PAGE_BYTES {
            let mib = answer.body.len() >> 20;
            return Ok(Since::Unavailable(format!("an answer of {mib} MiB of changes")));
        }
        let page = page(&answer, "/event/{token}")?;
        if !page.available() {
            return Ok(Since::Unavailable("the server offers no incremental sync".into()));
        }
        let unchanged = page.token == token;
        let count = page.events.len();
        for event in page.events {
            match event.changes(dir) {
                Ok(more) => changes.extend(more),
                // One event this server cannot read would stop every incremental sync at
                // the same place: a full sync reads the directory as it is instead.
                Err(why) => return Ok(Since::Unavailable(why)),
            }
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

/// `{"newEventToken","incrementalSynchronisationAvailable","events":[…]}` (`EventEntityList`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    new_event_token: Option<String>,
    incremental_synchronisation_available: Option<bool>,
    #[serde(default)]
    events: Option<Vec<Event>>,
}

struct ReadPage {
    token: String,
    available: Option<bool>,
    events: Vec<Event>,
}

impl ReadPage {
    fn available(&self) -> bool {
        self.available.unwrap_or(true)
    }
}

/// A 200 Crowd answer's `newEventToken`, `incrementalSynchronisationAvailable` and events,
/// read straight into typed events (a large page as a JSON tree would take several times
/// its size).
fn page(answer: &Answer, path: &'static str) -> Result<ReadPage, ReadFailure> {
    let fail = |status, message| ReadFailure::Answer { path, status, message };
    super::snapshot::crowd_200(answer, path)?;
    let page: Page = serde_json::from_slice(&answer.body)
        .map_err(|e| fail(200, format!("not JSON events: {e}")))?;
    let token =
        page.new_event_token.ok_or_else(|| fail(200, "no newEventToken in the answer".into()))?;
    Ok(ReadPage {
        token,
        available: page.incremental_synchronisation_available,
        events: page.events.unwrap_or_default(),
    })
}

/// A name-only entity (`childUser`, a group in a list).
#[derive(Deserialize, Default)]
#[serde(default)]
struct Named {
    name: Option<String>,
}

/// `{"groups":[{"name"},…]}` (`GroupEntityList`).
#[derive(Deserialize, Default)]
#[serde(default)]
struct NamedList {
    groups: Option<Vec<Named>>,
}

impl NamedList {
    fn names(self) -> Vec<String> {
        self.groups.into_iter().flatten().filter_map(|g| g.name).collect()
    }
}

/// One event, as any of the four kinds (`AbstractEventEntity` and its subclasses); a kind
/// is told by the fields it has. A writer that wraps each event in an object named by its
/// kind (`{"userEvent":{…}}`, as JAXB element names come out in some JSON) is read too.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Event {
    operation: Option<String>,
    user: Option<UserEntity>,
    group: Option<GroupEntity>,
    child_user: Option<Named>,
    parent_groups: Option<NamedList>,
    child_groups: Option<NamedList>,
    absolute: Option<bool>,
    stored_attributes: Option<AttributeList>,
    deleted_attributes: Option<AttributeList>,
    user_event: Option<Box<Event>>,
    group_event: Option<Box<Event>>,
    user_membership_event: Option<Box<Event>>,
    group_membership_event: Option<Box<Event>>,
}

impl Event {
    /// How the event gives its entity's attributes: as a change beside it when it carries
    /// `storedAttributes` or `deletedAttributes` (Crowd's `UserEventEntity`), whole when the
    /// entity has an attribute list (throng), else not at all (they stay as they are).
    fn attribute_update(
        stored: Option<AttributeList>,
        deleted: Option<AttributeList>,
        entity: Option<&AttributeList>,
    ) -> AttributeUpdate {
        if stored.is_none() && deleted.is_none() && entity.is_some_and(AttributeList::is_list) {
            return AttributeUpdate::Whole;
        }
        AttributeUpdate::Delta {
            stored: stored.map(AttributeList::map).unwrap_or_default(),
            deleted: deleted.map(AttributeList::map).unwrap_or_default().into_keys().collect(),
        }
    }

    /// The changes this event reports, or why it cannot be read.
    fn changes(self, dir: u64) -> Result<Vec<RemoteChange>, String> {
        let wrapped = [
            &self.user_event,
            &self.group_event,
            &self.user_membership_event,
            &self.group_membership_event,
        ];
        if self.operation.is_none() && wrapped.iter().any(|w| w.is_some()) {
            let inner = self
                .user_event
                .or(self.group_event)
                .or(self.user_membership_event)
                .or(self.group_membership_event);
            return inner.map_or_else(|| Ok(Vec::new()), |e| e.changes(dir));
        }
        let op = self.operation.unwrap_or_default();
        let (created, deleted) = (op == "CREATED", op == "DELETED");
        if !(created || deleted || op == "UPDATED") {
            return Err(format!("an event with operation '{op}'"));
        }
        let named = |n: Option<String>, what: &str| {
            n.filter(|n| !n.is_empty()).ok_or_else(|| format!("an event without {what}.name"))
        };
        Ok(if let Some(child) = self.child_user {
            let user = named(child.name, "childUser")?;
            let groups = self.parent_groups.unwrap_or_default().names();
            if self.absolute == Some(true) {
                vec![RemoteChange::UserGroupsExactly { user, groups }]
            } else {
                vec![RemoteChange::UserMemberships { user, groups, added: !deleted }]
            }
        } else if self.parent_groups.is_some() || self.child_groups.is_some() {
            let group = named(self.group.and_then(|g| g.name), "group")?;
            let added = !deleted;
            let up = self.parent_groups.unwrap_or_default().names().into_iter().map(|parent| {
                RemoteChange::GroupMembership { child: group.clone(), parent, added }
            });
            let down =
                self.child_groups.unwrap_or_default().names().into_iter().map(|child| {
                    RemoteChange::GroupMembership { child, parent: group.clone(), added }
                });
            up.chain(down).collect()
        } else if let Some(mut user) = self.user {
            let name = named(user.name.clone(), "user")?;
            if deleted {
                vec![RemoteChange::UserDeleted(name)]
            } else {
                let attributes = user.attributes.take();
                let update = Self::attribute_update(
                    self.stored_attributes,
                    self.deleted_attributes,
                    attributes.as_ref(),
                );
                user.attributes = attributes;
                vec![RemoteChange::User(user.record(dir), update)]
            }
        } else if let Some(mut group) = self.group {
            let name = named(group.name.clone(), "group")?;
            if deleted {
                vec![RemoteChange::GroupDeleted(name)]
            } else {
                let attributes = group.attributes.take();
                let update = Self::attribute_update(
                    self.stored_attributes,
                    self.deleted_attributes,
                    attributes.as_ref(),
                );
                group.attributes = attributes;
                vec![RemoteChange::Group(group.record(dir), update)]
            }
        } else {
            return Err("an event of no kind this server knows".into());
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn change(dir: u64, v: &serde_json::Value) -> Result<Vec<RemoteChange>, String> {
        Event::deserialize(v).map_err(|e| e.to_string())?.changes(dir)
    }

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
        // Crowd's UserEventEntity: the user without its attribute list, the change beside it.
        let crowd = json!({"operation":"UPDATED","user":{"name":"ann","attributes":{"link":{}}},
            "storedAttributes":{"attributes":[{"name":"a","values":["1"]}]},
            "deletedAttributes":{"attributes":[{"name":"b","values":[]}]}});
        let [RemoteChange::User(_, AttributeUpdate::Delta { stored, deleted })] =
            &change(2, &crowd).unwrap()[..]
        else {
            panic!()
        };
        assert_eq!((stored.len(), &deleted[..]), (1, &["b".to_string()][..]));
        // No attribute list at all (a link only, or null): they stay as they are.
        for bare in [json!({"link":{}}), serde_json::Value::Null] {
            let e = json!({"operation":"UPDATED","user":{"name":"ann","attributes":bare}});
            assert!(matches!(
                &change(2, &e).unwrap()[..],
                [RemoteChange::User(_, AttributeUpdate::Delta { stored, deleted })]
                    if stored.is_empty() && deleted.is_empty()
            ));
        }
        let gone = json!({"operation":"DELETED","user":{"name":"ann"}});
        assert_eq!(change(2, &gone).unwrap(), [RemoteChange::UserDeleted("ann".into())]);
        let m = json!({"operation":"CREATED","childUser":{"name":"ann"},
            "parentGroups":{"groups":[{"name":"devs"}]},"absolute":true});
        assert_eq!(
            change(2, &m).unwrap(),
            [RemoteChange::UserGroupsExactly { user: "ann".into(), groups: vec!["devs".into()] }]
        );
        // The same, wrapped in an object named by its kind.
        assert_eq!(change(2, &json!({"userMembershipEvent": m})).unwrap().len(), 1);
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
