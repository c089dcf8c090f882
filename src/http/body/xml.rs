//! Reading XML request bodies into a small element tree, safely.
//!
//! quick-xml does the lexing; this module refuses what a hostile body could use against the
//! server: a DOCTYPE (the door to entity expansion, "billion laughs", and external entities),
//! entity references other than XML's five predefined ones and character references, nesting
//! deeper than [`MAX_DEPTH`], and more than [`MAX_NODES`] elements. The body itself is already
//! size-capped by the front door.

use crate::error::{Error, Result};
use quick_xml::events::Event;
use quick_xml::Reader;

/// Deeper than any Crowd entity (a boolean search restriction nests a few levels).
pub const MAX_DEPTH: usize = 32;
/// More elements than a request needs; bounds the tree built from a body that is small in
/// bytes but dense in tags.
pub const MAX_NODES: usize = 100_000;

/// One element: its local name (any namespace prefix dropped), attributes, child elements and
/// the text directly inside it (trimmed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
}

fn bad(msg: impl std::fmt::Display) -> Error {
    Error::bad_request(format!("invalid XML body: {msg}"))
}

fn local(name: &[u8]) -> Result<String> {
    let name = std::str::from_utf8(name).map_err(|_| bad("a name is not UTF-8"))?;
    Ok(name.rsplit(':').next().unwrap_or(name).to_string())
}

fn open(e: &quick_xml::events::BytesStart<'_>) -> Result<Element> {
    let mut el = Element { name: local(e.name().as_ref())?, ..Element::default() };
    for a in e.attributes() {
        let a = a.map_err(bad)?;
        let key = local(a.key.as_ref())?;
        if a.key.as_ref().starts_with(b"xmlns") {
            continue;
        }
        let value = a.normalized_value(quick_xml::XmlVersion::Implicit1_0).map_err(bad)?;
        el.attrs.push((key, value.into_owned()));
    }
    Ok(el)
}

/// Parses a whole document; the root element is returned.
pub fn parse(body: &[u8]) -> Result<Element> {
    let text = std::str::from_utf8(body).map_err(|_| bad("the body is not UTF-8"))?;
    let mut reader = Reader::from_str(text);
    // Not trimmed per event: entity references split text into several events, and the
    // spaces around them are content. Whole texts are trimmed at the end.
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Element> = Vec::new();
    let mut nodes = 0usize;
    let mut root = None;
    loop {
        let event = reader.read_event().map_err(bad)?;
        let opened = match &event {
            Event::Start(e) | Event::Empty(e) => Some(open(e)?),
            _ => None,
        };
        match event {
            Event::DocType(_) => return Err(bad("a DOCTYPE is not accepted")),
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err(bad("content after the root element"))
            }
            Event::Start(_) => {
                nodes += 1;
                if stack.len() >= MAX_DEPTH || nodes > MAX_NODES {
                    return Err(bad("the document is nested too deep or has too many elements"));
                }
                stack.push(opened.expect("opened"));
            }
            Event::Empty(_) => {
                nodes += 1;
                if nodes > MAX_NODES {
                    return Err(bad("the document has too many elements"));
                }
                let el = opened.expect("opened");
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or_else(|| bad("unbalanced end tag"))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                if let Some(el) = stack.last_mut() {
                    el.text.push_str(&t.decode().map_err(bad)?);
                } else if !t.decode().map_err(bad)?.trim().is_empty() {
                    return Err(bad("text outside the root element"));
                }
            }
            Event::CData(t) => {
                let el = stack.last_mut().ok_or_else(|| bad("CDATA outside the root element"))?;
                el.text.push_str(&t.decode().map_err(bad)?);
            }
            Event::GeneralRef(r) => {
                let el = stack.last_mut().ok_or_else(|| bad("a reference outside the root"))?;
                if let Some(c) = r.resolve_char_ref().map_err(bad)? {
                    el.text.push(c);
                } else {
                    let name = r.decode().map_err(bad)?;
                    let value = quick_xml::escape::resolve_predefined_entity(&name)
                        .ok_or_else(|| bad(format!("unknown entity &{name};")))?;
                    el.text.push_str(value);
                }
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(bad("the document ends inside an element"));
    }
    let mut root = root.ok_or_else(|| bad("no root element"))?;
    trim_all(&mut root);
    Ok(root)
}

fn trim_all(el: &mut Element) {
    let trimmed = el.text.trim();
    if trimmed.len() != el.text.len() {
        el.text = trimmed.to_string();
    }
    el.children.iter_mut().for_each(trim_all);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_attributes_children_text_and_references() {
        let doc = br#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <user name="b&amp;b" expand="attributes"><first-name>Bob &lt;3 &#x263A;</first-name>
            <password><value><![CDATA[p&ss]]></value></password><active>true</active></user>"#;
        let u = parse(doc).unwrap();
        assert_eq!(u.name, "user");
        assert_eq!(u.attr("name"), Some("b&b"));
        assert_eq!(u.child("first-name").unwrap().text, "Bob <3 \u{263A}");
        assert_eq!(u.child("password").unwrap().child("value").unwrap().text, "p&ss");
        assert_eq!(u.child("active").unwrap().text, "true");
    }

    #[test]
    fn refuses_doctype_entities_and_junk() {
        let laughs = br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><a>&lol;</a>"#;
        assert!(parse(laughs).unwrap_err().to_string().contains("DOCTYPE"));
        assert!(parse(b"<a>&lol;</a>").is_err());
        assert!(parse(b"<a><b></a>").is_err());
        assert!(parse(b"<a>").is_err());
        assert!(parse(b"").is_err());
        assert!(parse(b"<a/><b/>").is_err());
        assert!(parse(b"\xff\xfe").is_err());
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert!(parse(deep.as_bytes()).is_err());
    }
}
