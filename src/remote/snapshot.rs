//! A remote Crowd directory read whole, for a full synchronisation: its users and groups with
//! their attributes (`/search?…&max-results=-1&expand=…,attributes`, JSON, the entities throng
//! renders itself) and every membership (`/group/membership`, the XML-only document Crowd's
//! directory-sync client reads, taken with a streaming reader, since a large directory has
//! millions of elements). The result goes to `Store::apply_snapshot`.
//!
//! Every answer must be a 200 carrying `X-Embedded-Crowd-Version`; anything else stops the
//! read with the server's words ([`ReadFailure`]), and nothing is applied.

use super::client::Answer;
use super::crowd::{CrowdFailure, CrowdServer, CROWD_VERSION_HEADER};
use crate::store::directory::snapshot::Snapshot;
use crate::store::records::{GroupRecord, UserRecord};
use quick_xml::events::Event;
use quick_xml::Reader;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

/// Why a snapshot could not be read.
#[derive(Debug)]
pub enum ReadFailure {
    Remote(CrowdFailure),
    /// This server is shutting down.
    Stopped,
    /// The server answered, but not with what a full sync needs.
    Answer {
        path: &'static str,
        status: u16,
        message: String,
    },
}

impl fmt::Display for ReadFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadFailure::Remote(CrowdFailure::Call(e)) => write!(f, "no answer from {e}"),
            ReadFailure::Remote(CrowdFailure::Token(t)) => write!(f, "{t}"),
            ReadFailure::Stopped => f.write_str("stopped: this server was shutting down"),
            ReadFailure::Answer { path, status, message } => {
                write!(f, "{path}: {status}: {message}")
            }
        }
    }
}

const USERS: &str = "/search?entity-type=user&max-results=-1&expand=user,attributes";
const GROUPS: &str = "/search?entity-type=group&max-results=-1&expand=group,attributes";
const MEMBERSHIPS: &str = "/group/membership";

/// Reads the whole directory the server shows its application, as directory `dir` here.
pub fn read(server: &CrowdServer<'_>, dir: u64) -> Result<Snapshot, ReadFailure> {
    let users: UserList = json(server, USERS)?;
    let groups: GroupList = json(server, GROUPS)?;
    let mut snap = Snapshot {
        users: users.users.into_iter().map(|u| u.record(dir)).collect(),
        groups: groups.groups.into_iter().map(|g| g.record(dir)).collect(),
        ..Snapshot::default()
    };
    let memberships = fetch(server, MEMBERSHIPS, "application/xml")?;
    read_memberships(&memberships.body, &mut snap).map_err(|message| ReadFailure::Answer {
        path: MEMBERSHIPS,
        status: 200,
        message,
    })?;
    Ok(snap)
}

fn fetch(
    server: &CrowdServer<'_>,
    path: &'static str,
    accept: &str,
) -> Result<Answer, ReadFailure> {
    let answer = server.get(path, accept).map_err(ReadFailure::Remote)?;
    crowd_200(&answer, path)?;
    Ok(answer)
}

/// Whether `answer` is a Crowd server's 200; if not, what it is, in the server's words when
/// it is a Crowd error.
pub(super) fn crowd_200(answer: &Answer, path: &'static str) -> Result<(), ReadFailure> {
    let message = if answer.header(CROWD_VERSION_HEADER).is_none() {
        format!("not a Crowd answer (no {CROWD_VERSION_HEADER})")
    } else if answer.status != 200 {
        super::crowd::crowd_message(&answer.text(1000))
    } else {
        return Ok(());
    };
    Err(ReadFailure::Answer { path, status: answer.status, message })
}

/// A 200 Crowd answer's JSON body, read straight into `T` (no `Value` tree in between: a
/// large directory's list would take several times its size as one).
fn json<T: DeserializeOwned>(
    server: &CrowdServer<'_>,
    path: &'static str,
) -> Result<T, ReadFailure> {
    let answer = fetch(server, path, "application/json")?;
    serde_json::from_slice(&answer.body).map_err(|e| ReadFailure::Answer {
        path,
        status: 200,
        message: format!("not the JSON a Crowd server answers: {e}"),
    })
}

#[derive(Deserialize)]
struct UserList {
    users: Vec<UserEntity>,
}

#[derive(Deserialize)]
struct GroupList {
    groups: Vec<GroupEntity>,
}

/// A user as usermanagement renders it (crowd-rest-plugin `UserEntity`); what the sync does
/// not keep (links, key, password) is skipped unread, and a null reads as empty.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "kebab-case")]
pub(crate) struct UserEntity {
    pub(super) name: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    display_name: Option<String>,
    email: Option<String>,
    active: Option<bool>,
    pub(super) attributes: Option<AttributeList>,
}

/// A group (`GroupEntity`).
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct GroupEntity {
    pub(super) name: Option<String>,
    description: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    active: Option<bool>,
    pub(super) attributes: Option<AttributeList>,
}

/// `{"attributes":[{"name","values":[…]}]}` (`MultiValuedAttributeEntityList`); `None` when
/// the object has no list (Crowd's unexpanded `{"link":…}`).
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AttributeList {
    attributes: Option<Vec<AttributeEntity>>,
}

#[derive(Deserialize)]
struct AttributeEntity {
    name: String,
    #[serde(default)]
    values: Vec<Option<String>>,
}

impl AttributeList {
    pub(super) fn map(self) -> BTreeMap<String, Vec<String>> {
        let values = |a: AttributeEntity| a.values.into_iter().flatten().collect();
        let list = self.attributes.into_iter().flatten();
        list.map(|a| (a.name.clone(), values(a))).collect()
    }

    /// Whether it carries a list (possibly empty), not only a link.
    pub(super) fn is_list(&self) -> bool {
        self.attributes.is_some()
    }
}

impl UserEntity {
    pub(super) fn record(self, dir: u64) -> UserRecord {
        UserRecord {
            directory_id: dir,
            name: self.name.unwrap_or_default(),
            first_name: self.first_name.unwrap_or_default(),
            last_name: self.last_name.unwrap_or_default(),
            display_name: self.display_name.unwrap_or_default(),
            email: self.email.unwrap_or_default(),
            active: self.active.unwrap_or(true),
            attributes: self.attributes.map(AttributeList::map).unwrap_or_default(),
            ..UserRecord::default()
        }
    }
}

impl GroupEntity {
    pub(super) fn record(self, dir: u64) -> GroupRecord {
        GroupRecord {
            directory_id: dir,
            name: self.name.unwrap_or_default(),
            description: self.description.unwrap_or_default(),
            kind: self.kind.filter(|t| !t.is_empty()).unwrap_or_else(|| "GROUP".into()),
            active: self.active.unwrap_or(true),
            attributes: self.attributes.map(AttributeList::map).unwrap_or_default(),
            ..GroupRecord::default()
        }
    }
}

/// `<memberships><membership group="G"><users><user name="U"/></users><groups><group
/// name="C"/></groups></membership>…</memberships>`, streamed. A DOCTYPE is refused, as for
/// request bodies (no entity is ever expanded).
fn read_memberships(body: &[u8], snap: &mut Snapshot) -> Result<(), String> {
    let text = std::str::from_utf8(body).map_err(|_| "the document is not UTF-8".to_string())?;
    let mut reader = Reader::from_str(text);
    let mut group: Option<String> = None;
    loop {
        match reader.read_event().map_err(|e| format!("invalid XML: {e}"))? {
            Event::DocType(_) => return Err("a DOCTYPE is not accepted".into()),
            Event::Start(e) | Event::Empty(e) => {
                let name = e.local_name();
                let wanted = match name.as_ref() {
                    b"membership" => "group",
                    b"user" | b"group" => "name",
                    _ => continue,
                };
                let mut value = None;
                for a in e.attributes() {
                    let a = a.map_err(|e| format!("invalid XML: {e}"))?;
                    if a.key.local_name().as_ref() == wanted.as_bytes() {
                        let v = a
                            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .map_err(|e| format!("invalid XML: {e}"))?;
                        value = Some(v.into_owned());
                    }
                }
                let value = value.ok_or_else(|| {
                    format!("a <{}> without its {wanted}", String::from_utf8_lossy(name.as_ref()))
                })?;
                match (name.as_ref(), &group) {
                    (b"membership", _) => group = Some(value),
                    (b"user", Some(g)) => snap.user_memberships.push((value, g.clone())),
                    (b"group", Some(g)) => snap.group_memberships.push((value, g.clone())),
                    _ => return Err("a member outside any <membership>".into()),
                }
            }
            Event::End(e) if e.local_name().as_ref() == b"membership" => group = None,
            Event::Eof => return Ok(()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memberships_are_read_as_crowd_writes_them_and_a_doctype_is_refused() {
        let doc = br#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><memberships><membership group="devs"><users><user name="ann"/><user name="b&amp;b"/></users><groups><group name="rust"/></groups></membership><membership group="empty"><users></users><groups></groups></membership></memberships>"#;
        let mut snap = Snapshot::default();
        read_memberships(doc, &mut snap).unwrap();
        assert_eq!(
            snap.user_memberships,
            [("ann".into(), "devs".into()), ("b&b".into(), "devs".into())]
        );
        assert_eq!(snap.group_memberships, [("rust".to_string(), "devs".to_string())]);
        let evil = br#"<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x "y">]><memberships/>"#;
        assert!(read_memberships(evil, &mut Snapshot::default()).is_err());
        assert!(read_memberships(
            br#"<memberships><user name="x"/></memberships>"#,
            &mut Snapshot::default()
        )
        .is_err());
    }
}
