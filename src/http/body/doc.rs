//! Response entities as one tree with two renderings, JSON and XML.
//!
//! Crowd's entities are JAXB/Jackson classes: the same fields render as JSON keys or as XML
//! elements and attributes (crowd-rest-common `UserEntity`, `GroupEntityList`, …). A handler
//! builds one [`Obj`] and says, per field, how XML shows it (element, attribute, a list of
//! items with or without a wrapper); [`Obj::to_json`] and [`Obj::to_xml`] do the rest, so JSON
//! and XML never drift apart. Dates are epoch milliseconds in JSON, as dex and the npm client
//! read them, and xs:dateTime in XML, as JAXB writes `java.util.Date`.

use std::borrow::Cow;
use std::io::Write;

/// A value in an entity.
#[derive(Debug, Clone)]
pub enum Node<'a> {
    /// Left out of XML; `null` in JSON.
    Null,
    Bool(bool),
    Int(i64),
    Str(Cow<'a, str>),
    /// Epoch milliseconds.
    Date(u64),
    Obj(Obj<'a>),
    List(Vec<Node<'a>>),
    /// Text made of three parts written one after the other (a link: the server's base, a
    /// path, an encoded name), so a link costs no string of its own.
    Join(Cow<'a, str>, &'static str, Cow<'a, str>),
    /// An item that names its own XML element, for lists of mixed kinds (the `events` of
    /// Crowd's EventEntityList are `userEvent`, `groupEvent`, … elements). JSON shows the
    /// inner value.
    Named(&'static str, Box<Node<'a>>),
}

impl Node<'_> {
    /// At most how many bytes this value renders to, in JSON or in XML, markup and escaping
    /// included: the bound `/event` keeps its answers under.
    pub fn size_hint(&self) -> usize {
        match self {
            Node::Null | Node::Bool(_) => 5,
            Node::Int(_) => 20,
            // xs:dateTime with milliseconds and an offset: 2023-11-14T22:13:20.123+00:00.
            Node::Date(_) => 32,
            Node::Str(s) => escaped_len(s) + 2,
            Node::Join(a, b, c) => escaped_len(a) + escaped_len(b) + escaped_len(c) + 2,
            Node::Obj(o) => {
                o.fields.iter().map(|(n, v, x)| field_size(n, v, *x)).sum::<usize>() + 2
            }
            Node::List(items) => items.iter().map(|i| i.size_hint() + 1).sum::<usize>() + 2,
            Node::Named(tag, inner) => markup(tag) + inner.size_hint(),
        }
    }

    /// The same value owning all its text.
    pub fn into_owned(self) -> Node<'static> {
        match self {
            Node::Null => Node::Null,
            Node::Bool(b) => Node::Bool(b),
            Node::Int(n) => Node::Int(n),
            Node::Date(ms) => Node::Date(ms),
            Node::Str(s) => Node::Str(Cow::Owned(s.into_owned())),
            Node::Obj(o) => Node::Obj(o.into_owned()),
            Node::List(items) => Node::List(items.into_iter().map(Node::into_owned).collect()),
            Node::Named(tag, inner) => Node::Named(tag, Box::new(inner.into_owned())),
            Node::Join(a, b, c) => {
                Node::Join(Cow::Owned(a.into_owned()), b, Cow::Owned(c.into_owned()))
            }
        }
    }
}

/// `<name></name>`: more than a JSON key (`"name":` and a comma) or an XML attribute
/// (` name=""`) take.
fn markup(name: &str) -> usize {
    2 * name.len() + 5
}

/// A field's bound: its markup, its value, and the elements that wrap each item of a list.
fn field_size(name: &str, value: &Node, xml: Xml) -> usize {
    let per_item = match (xml, value) {
        (Xml::Items(tag) | Xml::Wrapped(tag), Node::List(items)) => items.len() * markup(tag),
        _ => 0,
    };
    markup(name) + value.size_hint() + per_item
}

/// Text's length once escaped, by the longer of the two escapes of each byte: `&quot;` and
/// `&apos;` in XML, `\u001f` for a control character in JSON, `&amp;`, `&lt;`, `\\`.
fn escaped_len(s: &str) -> usize {
    s.len()
        + s.bytes()
            .map(|b| match b {
                b'"' | b'\'' | 0..=0x1f => 5,
                b'&' => 4,
                b'<' | b'>' => 3,
                b'\\' => 1,
                _ => 0,
            })
            .sum::<usize>()
}

/// How XML renders a field.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Xml {
    Element,
    Attribute,
    /// A list whose items are children of the parent, each named by the tag
    /// (`<users><user/><user/></users>` for the `users` field of a UserEntityList).
    Items(&'static str),
    /// A list in a wrapper element named after the field, items named by the tag
    /// (`<values><value>a</value></values>`).
    Wrapped(&'static str),
    /// JSON only.
    Skip,
    /// XML only, as an attribute: for entities whose JSON names a field differently
    /// (a directory mapping's `directory-id` is its `id` attribute in XML).
    OnlyAttribute,
}

/// An object: ordered fields, each with its JSON key (which is also its XML name).
#[derive(Debug, Clone, Default)]
pub struct Obj<'a> {
    fields: Vec<(&'static str, Node<'a>, Xml)>,
}

impl<'a> From<Obj<'a>> for Node<'a> {
    fn from(o: Obj<'a>) -> Node<'a> {
        Node::Obj(o)
    }
}

impl<'a> From<&'a str> for Node<'a> {
    fn from(s: &'a str) -> Node<'a> {
        Node::Str(Cow::Borrowed(s))
    }
}

impl From<String> for Node<'_> {
    fn from(s: String) -> Self {
        Node::Str(Cow::Owned(s))
    }
}

impl From<bool> for Node<'_> {
    fn from(b: bool) -> Self {
        Node::Bool(b)
    }
}

impl From<i64> for Node<'_> {
    fn from(n: i64) -> Self {
        Node::Int(n)
    }
}

impl From<u64> for Node<'_> {
    fn from(n: u64) -> Self {
        Node::Int(n as i64)
    }
}

impl<'a, T: Into<Node<'a>>> From<Option<T>> for Node<'a> {
    fn from(v: Option<T>) -> Node<'a> {
        v.map_or(Node::Null, Into::into)
    }
}

impl<'a> Obj<'a> {
    pub fn new() -> Obj<'a> {
        Obj::default()
    }

    /// An empty object with room for `n` fields (an entity's field count: no regrowth).
    pub fn with_capacity(n: usize) -> Obj<'a> {
        Obj { fields: Vec::with_capacity(n) }
    }

    /// A field that XML shows as a child element.
    pub fn elem(mut self, name: &'static str, value: impl Into<Node<'a>>) -> Obj<'a> {
        self.fields.push((name, value.into(), Xml::Element));
        self
    }

    /// A field that XML shows as an attribute of this object's element.
    pub fn attr(mut self, name: &'static str, value: impl Into<Node<'a>>) -> Obj<'a> {
        self.fields.push((name, value.into(), Xml::Attribute));
        self
    }

    /// A date: epoch milliseconds in JSON, xs:dateTime in XML.
    pub fn date(mut self, name: &'static str, millis: u64) -> Obj<'a> {
        self.fields.push((name, Node::Date(millis), Xml::Element));
        self
    }

    /// A list whose XML items sit directly in this object's element, named `tag`.
    pub fn items(mut self, name: &'static str, tag: &'static str, items: Vec<Node<'a>>) -> Obj<'a> {
        self.fields.push((name, Node::List(items), Xml::Items(tag)));
        self
    }

    /// A list that XML wraps in an element named `name`, its items named `tag`.
    pub fn wrapped(
        mut self,
        name: &'static str,
        tag: &'static str,
        items: Vec<Node<'a>>,
    ) -> Obj<'a> {
        self.fields.push((name, Node::List(items), Xml::Wrapped(tag)));
        self
    }

    /// A field only JSON shows.
    pub fn json_only(mut self, name: &'static str, value: impl Into<Node<'a>>) -> Obj<'a> {
        self.fields.push((name, value.into(), Xml::Skip));
        self
    }

    /// A field only XML shows, as an attribute.
    pub fn xml_attr(mut self, name: &'static str, value: impl Into<Node<'a>>) -> Obj<'a> {
        self.fields.push((name, value.into(), Xml::OnlyAttribute));
        self
    }

    /// Adds a field when `value` is `Some`, as [`Obj::elem`] would.
    pub fn elem_opt(self, name: &'static str, value: Option<impl Into<Node<'a>>>) -> Obj<'a> {
        match value {
            Some(v) => self.elem(name, v),
            None => self,
        }
    }

    /// This object's fields followed by `other`'s.
    pub fn merge(mut self, other: Obj<'a>) -> Obj<'a> {
        self.fields.extend(other.fields);
        self
    }

    /// The same object owning all its text, for one built from values that do not outlive it.
    pub fn into_owned(self) -> Obj<'static> {
        Obj { fields: self.fields.into_iter().map(|(n, v, x)| (n, v.into_owned(), x)).collect() }
    }

    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        write_json_obj(&mut out, self);
        out
    }

    /// The document with `root` as its element, with the XML declaration JAXB writes.
    pub fn to_xml(&self, root: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        out.extend_from_slice(br#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#);
        write_xml_obj(&mut out, root, self);
        out
    }
}

/// Bytes a JSON string cannot carry as they are: `"`, `\\` and the C0 controls.
const NEEDS_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Writes `s` as a JSON string. Most text needs no escaping and is copied as it is.
fn json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    json_str_contents(out, s);
    out.push(b'"');
}

fn json_str_contents(out: &mut Vec<u8>, s: &str) {
    // One pass: runs of plain bytes are copied whole, the rare byte that needs escaping is
    // written as RFC 8259 §7 says.
    let bytes = s.as_bytes();
    if !bytes.iter().any(|&b| NEEDS_ESCAPE[b as usize]) {
        out.extend_from_slice(bytes);
        return;
    }
    let mut plain = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[plain..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{:04x}", b);
        } else {
            out.extend_from_slice(escape);
        }
        plain = i + 1;
    }
    out.extend_from_slice(&bytes[plain..]);
}

/// Writes a whole number without the formatting machinery (this is on every entity).
fn write_int(out: &mut Vec<u8>, n: i64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if n < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[i..]);
}

fn write_json(out: &mut Vec<u8>, node: &Node<'_>) {
    match node {
        Node::Null => out.extend_from_slice(b"null"),
        Node::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Node::Int(n) => write_int(out, *n),
        Node::Date(ms) => write_int(out, *ms as i64),
        Node::Str(s) => json_str(out, s),
        Node::Join(a, b, c) => {
            out.push(b'"');
            json_str_contents(out, a);
            json_str_contents(out, b);
            json_str_contents(out, c);
            out.push(b'"');
        }
        Node::Obj(o) => write_json_obj(out, o),
        Node::Named(_, inner) => write_json(out, inner),
        Node::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json(out, item);
            }
            out.push(b']');
        }
    }
}

fn write_json_obj(out: &mut Vec<u8>, o: &Obj<'_>) {
    out.push(b'{');
    let shown = o.fields.iter().filter(|(_, _, how)| *how != Xml::OnlyAttribute);
    for (i, (name, value, _)) in shown.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // Field names are this crate's own literals: plain ASCII, nothing to escape.
        out.push(b'"');
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
        write_json(out, value);
    }
    out.push(b'}');
}

/// Escapes text for an XML text node or a double-quoted attribute value. Characters XML 1.0
/// cannot carry at all (most C0 controls) are dropped rather than written as an unreadable
/// document.
pub fn escape_into(out: &mut Vec<u8>, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.extend_from_slice(b"&amp;"),
            '<' => out.extend_from_slice(b"&lt;"),
            '>' => out.extend_from_slice(b"&gt;"),
            '"' => out.extend_from_slice(b"&quot;"),
            '\t' | '\n' | '\r' => {
                let _ = write!(out, "&#{};", c as u32);
            }
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
}

fn scalar_text(out: &mut Vec<u8>, node: &Node<'_>) {
    match node {
        Node::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Node::Int(n) => write_int(out, *n),
        Node::Join(a, b, c) => {
            escape_into(out, a);
            escape_into(out, b);
            escape_into(out, c);
        }
        Node::Date(ms) => {
            let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(*ms);
            let _ = write!(out, "{}", humantime::format_rfc3339_millis(t));
        }
        Node::Str(s) => escape_into(out, s),
        Node::Null | Node::Obj(_) | Node::List(_) | Node::Named(..) => {}
    }
}

fn write_xml(out: &mut Vec<u8>, tag: &str, node: &Node<'_>) {
    match node {
        Node::Null => {}
        Node::Obj(o) => write_xml_obj(out, tag, o),
        Node::Named(name, inner) => write_xml(out, name, inner),
        Node::List(items) => items.iter().for_each(|item| write_xml(out, tag, item)),
        scalar => {
            let _ = write!(out, "<{tag}>");
            scalar_text(out, scalar);
            let _ = write!(out, "</{tag}>");
        }
    }
}

fn write_xml_obj(out: &mut Vec<u8>, tag: &str, o: &Obj<'_>) {
    let _ = write!(out, "<{tag}");
    for (name, value, how) in &o.fields {
        if matches!(how, Xml::Attribute | Xml::OnlyAttribute) && !matches!(value, Node::Null) {
            let _ = write!(out, " {name}=\"");
            scalar_text(out, value);
            out.push(b'"');
        }
    }
    let mut body = false;
    for (name, value, how) in &o.fields {
        let opens = match how {
            Xml::Attribute | Xml::OnlyAttribute | Xml::Skip => false,
            Xml::Wrapped(_) => true,
            Xml::Element => !matches!(value, Node::Null),
            Xml::Items(_) => matches!(value, Node::List(items) if !items.is_empty()),
        };
        if opens && !body {
            out.push(b'>');
            body = true;
        }
        match (how, value) {
            (Xml::Element, v) => write_xml(out, name, v),
            (Xml::Items(item), v) => write_xml(out, item, v),
            (Xml::Wrapped(item), v) => {
                let _ = write!(out, "<{name}>");
                write_xml(out, item, v);
                let _ = write!(out, "</{name}>");
            }
            (Xml::Attribute | Xml::OnlyAttribute | Xml::Skip, _) => {}
        }
    }
    if body {
        let _ = write!(out, "</{tag}>");
    } else {
        out.extend_from_slice(b"/>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> Obj<'static> {
        Obj::new()
            .attr("expand", "attributes")
            .elem("link", Obj::new().attr("rel", "self").attr("href", "http://h/u?username=a&b"))
            .attr("name", "a&b")
            .elem("first-name", "Ann \"A\" <x>")
            .elem("active", true)
            .date("created-date", 1_700_000_000_123)
            .elem("email", None::<String>)
            .elem(
                "attributes",
                Obj::new().items(
                    "attributes",
                    "attribute",
                    vec![Obj::new()
                        .attr("name", "k")
                        .wrapped("values", "value", vec!["v1".into(), "v2".into()])
                        .into()],
                ),
            )
    }

    #[test]
    fn the_size_hint_bounds_both_renderings_escapes_included() {
        let nasty = "\"&<>'\\\u{1}".repeat(50);
        for entity in [user(), Obj::new().attr("name", nasty.as_str()).elem("d", nasty.as_str())] {
            let node = Node::Obj(entity.clone());
            let (json, xml) = (entity.to_json().len(), entity.to_xml("user").len());
            let hint = node.size_hint() + markup("user");
            assert!(hint >= json && hint >= xml, "hint {hint}, json {json}, xml {xml}");
        }
        let events = Obj::new().items(
            "events",
            "event",
            vec![Node::Named("userEvent", Box::new(Node::Obj(user()))); 20],
        );
        let hint = Node::Obj(events.clone()).size_hint() + markup("events");
        assert!(hint >= events.to_xml("events").len() && hint >= events.to_json().len());
    }

    #[test]
    fn one_entity_two_renderings() {
        let json: serde_json::Value = serde_json::from_slice(&user().to_json()).unwrap();
        assert_eq!(json["name"], "a&b");
        assert_eq!(json["link"]["rel"], "self");
        assert_eq!(json["created-date"], 1_700_000_000_123u64);
        assert_eq!(json["email"], serde_json::Value::Null);
        assert_eq!(json["attributes"]["attributes"][0]["values"][1], "v2");
        let xml = String::from_utf8(user().to_xml("user")).unwrap();
        assert_eq!(
            xml,
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><user expand="attributes" name="a&amp;b"><link rel="self" href="http://h/u?username=a&amp;b"/><first-name>Ann &quot;A&quot; &lt;x&gt;</first-name><active>true</active><created-date>2023-11-14T22:13:20.123Z</created-date><attributes><attribute name="k"><values><value>v1</value><value>v2</value></values></attribute></attributes></user>"#
        );
        let back = super::super::xml::parse(xml.as_bytes()).unwrap();
        assert_eq!(back.attr("name"), Some("a&b"));
        assert_eq!(back.child("first-name").unwrap().text, "Ann \"A\" <x>");
    }

    #[test]
    fn a_field_can_be_named_apart_in_each_rendering() {
        let o = Obj::new().json_only("directory-id", 1u64).xml_attr("id", 1u64).elem("a", true);
        assert_eq!(String::from_utf8(o.to_json()).unwrap(), r#"{"directory-id":1,"a":true}"#);
        assert_eq!(
            String::from_utf8(o.to_xml("m")).unwrap(),
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><m id="1"><a>true</a></m>"#
        );
    }

    #[test]
    fn json_text_is_escaped_as_serde_json_does() {
        for s in
            ["plain", "quo\"te", "back\\slash", "nl\ncr\rtab\t", "\u{1}\u{1f}x", "ünï 日本", ""]
        {
            let mut out = Vec::new();
            json_str(&mut out, s);
            assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(s).unwrap());
        }
    }

    #[test]
    fn empty_lists_and_controls() {
        let o = Obj::new().attr("group", "g").wrapped("users", "user", vec![]).items(
            "groups",
            "group",
            vec![],
        );
        assert_eq!(
            String::from_utf8(o.to_xml("membership")).unwrap(),
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><membership group="g"><users></users></membership>"#
        );
        let mut out = Vec::new();
        escape_into(&mut out, "a\u{1}b\nc");
        assert_eq!(out, b"ab&#10;c");
    }
}
