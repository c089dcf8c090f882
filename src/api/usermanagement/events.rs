//! `/event` and `/event/{token}`: the change log for incremental directory sync
//! (crowd-rest-plugin EventsResource; entities EventEntityList, UserEventEntity,
//! GroupEventEntity, UserMembershipEventEntity, GroupMembershipEventEntity).
//!
//! In XML each event is an element named by its kind (`userEvent`, `groupEvent`,
//! `userMembershipEvent`, `groupMembershipEvent`) inside `<events newEventToken=".."
//! incrementalSynchronisationAvailable="true">`, as Atlassian's Java client reads them. JSON
//! has no element names, so each event there also carries `"type"` (a throng addition).
//!
//! Events render the entity as it is now: a user created and then updated shows its current
//! fields both times, and a user deleted since shows nothing for the earlier events (its
//! DELETED event follows). A rename is a DELETED of the old name, a CREATED of the new one,
//! and an absolute membership event with the user's groups, so a client that keys users by
//! name keeps them right.

use super::entities;
use super::Call;
use crate::http::body::{Node, Obj};
use crate::http::failure::Result;
use crate::http::Response;
use crate::store::records::{Change, EventRecord};

/// Most events one answer carries; its token then marks the last, and the client's next
/// incremental sync goes on from there. Each event renders its entity whole, so without a
/// bound one answer could grow with the log (`--event-max-rows`) times the entity size.
const MAX_EVENTS: usize = 5_000;

/// `GET /event`: the token to pass to `/event/{token}` next time.
pub fn current(call: &Call) -> Result<Response> {
    let token = call.app.store.event_token()?;
    Ok(call.reply(200, "events", &list(token, Vec::new())))
}

/// How many bytes of events one answer may reach before it stops early (its token then marks
/// the last event it carries), counted by `Node::size_hint`, which bounds JSON and XML alike:
/// an answer is at most this plus one event.
const MAX_BYTES: usize = 8 << 20;

/// `GET /event/{token}`: what changed since; 410 `EVENT_TOKEN_EXPIRED` when the log no longer
/// reaches back that far (the client then synchronises in full).
///
/// An entity updated several times in the range is rendered once, at its last update: every
/// rendering shows it as it is now, so the earlier ones would repeat the same entity.
pub fn since(call: &Call) -> Result<Response> {
    let store = &call.app.store;
    let (events, mut token) = store.events_since_at_most(call.arg.unwrap_or(""), MAX_EVENTS)?;
    let fold = crate::store::directory::fold;
    let updated = |e: &EventRecord| match &e.change {
        Change::UserUpdated { name } | Change::UserAttributesChanged { name, .. } => {
            Some((e.directory_id, 'u', fold(name)))
        }
        Change::GroupUpdated { name } | Change::GroupAttributesChanged { name, .. } => {
            Some((e.directory_id, 'g', fold(name)))
        }
        _ => None,
    };
    let mut last_update = std::collections::HashMap::new();
    for (i, e) in events.iter().enumerate() {
        if let Some(key) = updated(e) {
            last_update.insert(key, i);
        }
    }
    let mut items = Vec::new();
    let mut size = 0;
    for (i, e) in events.iter().enumerate() {
        if size > MAX_BYTES {
            // Stop here: the next ask goes on from the last event carried.
            token = store.event_token_at(events[i - 1].seq);
            break;
        }
        if call.access.directory(e.directory_id).is_none() {
            continue;
        }
        if updated(e).is_some_and(|key| last_update.get(&key) != Some(&i)) {
            continue;
        }
        let before = items.len();
        render(call, e, &mut items)?;
        size += items[before..].iter().map(Node::size_hint).sum::<usize>();
    }
    Ok(call.reply(200, "events", &list(token, items)))
}

fn list(token: String, events: Vec<Node<'static>>) -> Obj<'static> {
    Obj::new()
        .attr("newEventToken", token)
        .attr("incrementalSynchronisationAvailable", true)
        .items("events", "event", events)
}

/// One event, owning its text: events outlive the records they were rendered from.
fn event(
    kind: &'static str,
    json_type: &'static str,
    operation: &'static str,
    body: Obj<'_>,
) -> Node<'static> {
    let o = Obj::new().json_only("type", json_type).elem("operation", operation).merge(body);
    Node::Named(kind, Box::new(o.into_owned().into()))
}

fn names<'a>(
    tag: &'static str,
    names: &'a [String],
    links: impl Fn(&'a str) -> Obj<'a>,
) -> Obj<'a> {
    let items = names.iter().map(|n| links(n).into()).collect();
    Obj::new().items(if tag == "user" { "users" } else { "groups" }, tag, items)
}

/// Appends the events `e` renders as; they own their text (they outlive the records read here).
fn render(call: &Call, e: &EventRecord, out: &mut Vec<Node<'static>>) -> Result<()> {
    let store = &call.app.store;
    let dir = e.directory_id;
    let dir_name = call.access.directory(dir).map_or("", |d| d.name.as_str());
    let links = &call.links;
    let user_event = |op, name: &str| -> Result<Option<Node>> {
        Ok(store.user(dir, name)?.map(|u| {
            event(
                "userEvent",
                "USER",
                op,
                Obj::new().elem("user", entities::user(links, &u, dir_name, true)),
            )
        }))
    };
    let group_event = |op, name: &str| -> Result<Option<Node>> {
        Ok(store.group(dir, name)?.map(|g| {
            event(
                "groupEvent",
                "GROUP",
                op,
                Obj::new().elem("group", entities::group(links, &g, true)),
            )
        }))
    };
    let deleted_user = |name: &str| {
        event(
            "userEvent",
            "USER",
            "DELETED",
            Obj::new().elem("user", entities::minimal_user(links, name)),
        )
    };
    let user_membership = |op, user: &str, groups: &[String], absolute: bool| {
        let mut body = Obj::new()
            .elem("childUser", entities::minimal_user(links, user))
            .elem("parentGroups", names("group", groups, |g| entities::minimal_group(links, g)));
        if absolute {
            body = body.attr("absolute", true);
        }
        event("userMembershipEvent", "USER_MEMBERSHIP", op, body)
    };
    let group_membership = |op, child: &str, parent: &str| {
        let parents = [parent.to_string()];
        let body = Obj::new()
            .elem("group", entities::minimal_group(links, child))
            .elem("parentGroups", names("group", &parents, |g| entities::minimal_group(links, g)))
            .elem("childGroups", names("group", &[], |g| entities::minimal_group(links, g)));
        event("groupMembershipEvent", "GROUP_MEMBERSHIP", op, body)
    };
    match &e.change {
        Change::UserCreated { name } => out.extend(user_event("CREATED", name)?),
        Change::UserUpdated { name } | Change::UserAttributesChanged { name, .. } => {
            out.extend(user_event("UPDATED", name)?)
        }
        Change::UserRenamed { old, new } => {
            out.push(deleted_user(old));
            if let Some(created) = user_event("CREATED", new)? {
                out.push(created);
                let groups = store.direct_groups_of_user(dir, new)?;
                out.push(user_membership("CREATED", new, &groups, true));
            }
        }
        Change::UserDeleted { name } => out.push(deleted_user(name)),
        Change::GroupCreated { name } => out.extend(group_event("CREATED", name)?),
        Change::GroupUpdated { name } | Change::GroupAttributesChanged { name, .. } => {
            out.extend(group_event("UPDATED", name)?)
        }
        Change::GroupDeleted { name } => out.push(event(
            "groupEvent",
            "GROUP",
            "DELETED",
            Obj::new().elem("group", entities::minimal_group(links, name)),
        )),
        // A membership of a user or group deleted since is left out, as the entity's own
        // events are: the client would be told of a member it never saw.
        Change::UserMembershipAdded { user, group }
        | Change::UserMembershipRemoved { user, group }
            if store.user(dir, user)?.is_none() || store.group(dir, group)?.is_none() => {}
        Change::GroupMembershipAdded { child, parent }
        | Change::GroupMembershipRemoved { child, parent }
            if store.group(dir, child)?.is_none() || store.group(dir, parent)?.is_none() => {}
        Change::UserMembershipAdded { user, group } => {
            out.push(user_membership("CREATED", user, std::slice::from_ref(group), false))
        }
        Change::UserMembershipRemoved { user, group } => {
            out.push(user_membership("DELETED", user, std::slice::from_ref(group), false))
        }
        Change::GroupMembershipAdded { child, parent } => {
            out.push(group_membership("CREATED", child, parent))
        }
        Change::GroupMembershipRemoved { child, parent } => {
            out.push(group_membership("DELETED", child, parent))
        }
    }
    Ok(())
}
