//! The application entity of `/rest/appmanagement/1`, read from and written to JSON or XML.
//!
//! XML is Crowd's (`ApplicationEntity`, `DirectoryMappingEntity`, `RemoteAddressEntitySet`
//! in the appmanagement REST plugin, since Crowd 2.2):
//!
//! ```xml
//! <application id="2"><name>jira</name><type>JIRA</type><description>Jira</description>
//!   <active>true</active><password><value>…</value></password>
//!   <directory-mappings><directory-mapping id="1"><authenticate-all>true</authenticate-all>
//!     <allowed-groups><allowed-group>g</allowed-group></allowed-groups>
//!     <allowed-operations><allowed-operation>CREATE_USER</allowed-operation></allowed-operations>
//!   </directory-mapping></directory-mappings>
//!   <remote-addresses><remote-address><value>127.0.0.1</value></remote-address></remote-addresses>
//!   <lowercase-output>false</lowercase-output><aliasing-enabled>false</aliasing-enabled>
//! </application>
//! ```
//!
//! Crowd's JSON spelling of the nested lists is not documented; throng's is fixed as
//! `{"id":2,"name":"jira","type":"JIRA",…,"directory-mappings":[{"directory-id":1,
//! "authenticate-all":true,"allowed-groups":[],"allowed-operations":["CREATE_USER"]}],
//! "remote-addresses":[{"value":"127.0.0.1"}],"lowercase-output":false,…}`. The password is
//! read from requests and never written (Crowd's EXCLUDE_PASSWORD mode).
//!
//! `trusted-proxies` (`[{"value":…}]`, XML `<trusted-proxies><trusted-proxy><value>…`) is a
//! throng extension: the proxies whose `X-Forwarded-For` this application's client address is
//! read through. Crowd has one global list instead (Administration → Trusted proxies).

use crate::domain::applications::{ApplicationDraft, MappingDraft};
use crate::error::Error;
use crate::http::body::{Fields, Node, Obj};
use crate::http::failure::Result;
use crate::http::Request;
use crate::store::applications::{ApplicationRecord, DirectoryMapping};

/// An application as the API shows it; `link` names the incoming application link it
/// authenticates with, if it does (a throng extension: `application-link`, left out for an
/// application with a password).
pub fn application<'a>(a: &'a ApplicationRecord, link: Option<&'a str>) -> Obj<'a> {
    let head = Obj::new()
        .attr("id", a.id)
        .elem("name", a.name.as_str())
        .elem("type", a.kind.as_str())
        .elem("description", a.description.as_str())
        .elem("active", a.active);
    // Only there when set: the §8 shape that clients and checks know stays as it is.
    let head = match link {
        Some(name) => head.elem("application-link", name),
        None => head,
    };
    head.wrapped(
        "directory-mappings",
        "directory-mapping",
        a.mappings.iter().map(mapping).collect(),
    )
    .wrapped("remote-addresses", "remote-address", values(&a.remote_addresses))
    .elem("lowercase-output", a.lowercase_output)
    .elem("aliasing-enabled", a.aliasing_enabled)
    .wrapped("trusted-proxies", "trusted-proxy", values(&a.trusted_proxies))
}

fn mapping(m: &DirectoryMapping) -> Node<'_> {
    fn strings<'a>(list: impl Iterator<Item = &'a str>) -> Vec<Node<'a>> {
        list.map(Node::from).collect()
    }
    Obj::new()
        .json_only("directory-id", m.directory_id)
        .xml_attr("id", m.directory_id)
        .elem("authenticate-all", m.authenticate_all)
        .wrapped(
            "allowed-groups",
            "allowed-group",
            strings(m.allowed_groups.iter().map(String::as_str)),
        )
        .wrapped(
            "allowed-operations",
            "allowed-operation",
            strings(m.allowed_operations.iter().map(|o| o.as_str())),
        )
        .into()
}

/// A remote address entity: `{"value":…}`, `<remote-address><value>…</value></remote-address>`.
pub fn remote_address(value: &str) -> Obj<'_> {
    Obj::new().elem("value", value)
}

/// Remote addresses (or trusted proxies) as entities.
pub fn values(list: &[String]) -> Vec<Node<'_>> {
    list.iter().map(|v| remote_address(v).into()).collect()
}

/// Refuses an XML body whose document element is not `expected`.
fn root_is(f: &Fields<'_>, expected: &str) -> Result<()> {
    match f.tag() {
        Some(tag) if tag != expected => {
            Err(Error::bad_request(format!("the XML body must be <{expected}>, not <{tag}>"))
                .into())
        }
        _ => Ok(()),
    }
}

/// Whether a field was sent: present and, in JSON, not `null`. An update changes exactly the
/// fields sent, so an empty list clears one and a missing one keeps it.
fn sent(f: &Fields<'_>, name: &str) -> bool {
    match f {
        Fields::Json(m) => m.get(name).is_some_and(|v| !v.is_null()),
        Fields::Xml(_) => f.has(name),
    }
}

/// The values of a list of `{"value":…}` entities (`<wrapper><item><value>…`).
fn read_values(f: &Fields<'_>, wrapper: &str, item: &str) -> crate::error::Result<Vec<String>> {
    f.list(wrapper, Some(wrapper), item)?
        .iter()
        .map(|e| {
            e.required("value")
                .map_err(|_| Error::bad_request(format!("each {item} needs a 'value'")))
        })
        .collect()
}

fn read_mapping(m: &Fields<'_>) -> Result<MappingDraft> {
    // `directory-id` in JSON, the `id` attribute in XML; either is read from both.
    let directory_id = match m.int("directory-id")? {
        Some(id) => id,
        None => m
            .int("id")?
            .ok_or_else(|| Error::bad_request("each directory mapping needs a 'directory-id'"))?,
    };
    Ok(MappingDraft {
        directory_id,
        authenticate_all: m.bool("authenticate-all")?.unwrap_or(false),
        allowed_groups: m.str_list("allowed-groups", Some("allowed-groups"), "allowed-group")?,
        allowed_operations: m.str_list(
            "allowed-operations",
            Some("allowed-operations"),
            "allowed-operation",
        )?,
    })
}

/// Reads an application body (JSON or XML by its `Content-Type`). Fields throng does not know
/// (Crowd's `link`, `attributes`) are ignored, so an entity read from Crowd can be sent back.
pub fn read_application(req: &Request) -> Result<ApplicationDraft> {
    let parsed = req.entity()?;
    let f = parsed.fields();
    root_is(&f, "application")?;
    let password = match f.obj("password")? {
        Some(p) => p.str("value")?,
        None => None,
    };
    let mappings = if sent(&f, "directory-mappings") {
        let list = f.list("directory-mappings", Some("directory-mappings"), "directory-mapping")?;
        Some(list.iter().map(read_mapping).collect::<Result<Vec<_>>>()?)
    } else {
        None
    };
    let list_of = |wrapper: &str, item: &str| -> Result<Option<Vec<String>>> {
        if sent(&f, wrapper) {
            Ok(read_values(&f, wrapper, item).map(Some)?)
        } else {
            Ok(None)
        }
    };
    Ok(ApplicationDraft {
        id: f.int("id")?,
        name: f.str("name")?,
        kind: f.str("type")?,
        description: f.str("description")?,
        active: f.bool("active")?,
        password,
        application_link: f.str("application-link")?,
        mappings,
        remote_addresses: list_of("remote-addresses", "remote-address")?,
        trusted_proxies: list_of("trusted-proxies", "trusted-proxy")?,
        lowercase_output: f.bool("lowercase-output")?,
        aliasing_enabled: f.bool("aliasing-enabled")?,
    })
}

/// Reads a remote address body: `{"value":…}` or `<remote-address><value>…</value></remote-address>`.
pub fn read_remote_address(req: &Request) -> Result<String> {
    let parsed = req.entity()?;
    let f = parsed.fields();
    root_is(&f, "remote-address")?;
    Ok(f.required("value")?)
}
