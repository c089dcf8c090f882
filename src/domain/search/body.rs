//! The search restriction of `POST /search`, in JSON or XML (crowd-rest-common's
//! `SearchRestrictionEntity` and its three kinds, read by `SearchRestrictionEntityTranslator`).
//!
//! In XML the element names the kind; in JSON the `restriction-type` member does
//! (`@JsonTypeInfo(property = "restriction-type")`):
//!
//! ```text
//! <property-search-restriction><property><name>email</name><type>STRING</type></property>
//!   <match-mode>CONTAINS</match-mode><value>bob</value></property-search-restriction>
//! {"restriction-type": "property-search-restriction",
//!   "property": {"name": "email", "type": "STRING"}, "match-mode": "CONTAINS", "value": "bob"}
//!
//! <null-search-restriction/>
//! {"restriction-type": "null-search-restriction"}
//!
//! <boolean-search-restriction boolean-logic="or">
//!   <restrictions>…each element named by its kind…</restrictions></boolean-search-restriction>
//! {"restriction-type": "boolean-search-restriction", "boolean-logic": "or", "restrictions": […]}
//! ```
//!
//! `type` is STRING, BOOLEAN or DATE and says how `value` reads: as is, as Java's
//! `Boolean.valueOf`, or as a date (`2024-01-02T03:04:05.000+0000`, the
//! `yyyy-MM-dd'T'HH:mm:ss.SSSZ` Atlassian's client writes, or the ISO forms of
//! `date::parse`). Names of types, match modes and logic are read in any case, as Crowd
//! upper-cases them before `valueOf`. Where Crowd would fail with a null pointer (no
//! `match-mode`, no `boolean-logic`, no value), this answers 400 naming what is missing; a
//! missing `type` is taken to be the term's own (STRING for a custom attribute).

use super::date;
use super::restriction::{
    invalid, EntityType, MatchMode, Property, PropertyRestriction, Restriction, Value, ValueType,
    MAX_DEPTH, MAX_TERMS,
};
use crate::error::{Error, Result};
use crate::http::body::Fields;

const PROPERTY: &str = "property-search-restriction";
const NULL: &str = "null-search-restriction";
const BOOLEAN: &str = "boolean-search-restriction";

/// Reads the restriction a body holds, about `entity`.
pub fn parse(body: Fields<'_>, entity: EntityType) -> Result<Restriction> {
    Reader { entity, seen: 0 }.restriction(body, 0)
}

struct Reader {
    entity: EntityType,
    /// Restrictions read so far, of every kind: an OR of ten thousand empty ORs costs as
    /// much to hold as ten thousand comparisons.
    seen: usize,
}

/// `Fields` names a field of the wrong type in its own words; say which request it was.
fn in_restriction(e: Error) -> Error {
    match e {
        Error::BadRequest(m) => invalid(m),
        e => e,
    }
}

impl Reader {
    fn restriction(&mut self, f: Fields<'_>, depth: usize) -> Result<Restriction> {
        self.seen += 1;
        if self.seen > MAX_TERMS {
            return Err(invalid(format_args!("more than {MAX_TERMS} restrictions")));
        }
        let kind = match f.tag() {
            Some(tag) => tag.to_string(),
            None => f
                .str("restriction-type")
                .map_err(in_restriction)?
                .ok_or_else(|| invalid("'restriction-type' is required"))?,
        };
        match kind.as_str() {
            NULL => Ok(Restriction::All),
            PROPERTY => self.property(f).map(Restriction::Property),
            BOOLEAN => self.boolean(f, depth),
            other => Err(invalid(format_args!(
                "unknown restriction type '{other}' (expected {PROPERTY}, {BOOLEAN} or {NULL})"
            ))),
        }
    }

    fn boolean(&mut self, f: Fields<'_>, depth: usize) -> Result<Restriction> {
        if depth >= MAX_DEPTH {
            return Err(invalid(format_args!("restrictions nested deeper than {MAX_DEPTH}")));
        }
        let logic = f.str("boolean-logic").map_err(in_restriction)?;
        let and = match logic.as_deref().map(str::trim) {
            Some(l) if l.eq_ignore_ascii_case("and") => true,
            Some(l) if l.eq_ignore_ascii_case("or") => false,
            Some(l) => return Err(invalid(format_args!("unknown boolean-logic '{l}' (and, or)"))),
            None => return Err(invalid("'boolean-logic' (and, or) is required")),
        };
        let parts = f
            .any_list("restrictions", "restrictions")
            .map_err(in_restriction)?
            .into_iter()
            .map(|part| self.restriction(part, depth + 1))
            .collect::<Result<Vec<_>>>()?;
        Ok(Restriction::Boolean { and, parts })
    }

    fn property(&mut self, f: Fields<'_>) -> Result<PropertyRestriction> {
        let p = f
            .obj("property")
            .map_err(in_restriction)?
            .ok_or_else(|| invalid("'property' is required"))?;
        let name = p
            .str("name")
            .map_err(in_restriction)?
            .filter(|n| !n.is_empty())
            .ok_or_else(|| invalid("the property's 'name' is required"))?;
        let property = Property::named(self.entity, &name);
        let value_type = match p.str("type").map_err(in_restriction)? {
            Some(t) if !t.trim().is_empty() => ValueType::parse(&t).ok_or_else(|| {
                invalid(format_args!("unknown property type '{t}' (STRING, BOOLEAN, DATE)"))
            })?,
            _ => property.value_type().unwrap_or(ValueType::String),
        };
        let mode_text = f
            .str("match-mode")
            .map_err(in_restriction)?
            .ok_or_else(|| invalid("'match-mode' is required"))?;
        let mode = MatchMode::parse(&mode_text)
            .ok_or_else(|| invalid(format_args!("unknown match-mode '{mode_text}'")))?;
        let text = f.str("value").map_err(in_restriction)?;
        let value = match (text, value_type) {
            // Crowd sends no value with NULL; any given is ignored.
            (_, _) if mode == MatchMode::Null => match value_type {
                ValueType::String => Value::String(String::new()),
                ValueType::Boolean => Value::Bool(false),
                ValueType::Date => Value::Date(0),
            },
            (None, _) => return Err(invalid(format_args!("'value' is required with {mode_text}"))),
            (Some(t), ValueType::String) => Value::String(t),
            (Some(t), ValueType::Boolean) => Value::Bool(t.eq_ignore_ascii_case("true")),
            (Some(t), ValueType::Date) => Value::Date(date::parse(t.trim()).ok_or_else(|| {
                invalid(format_args!(
                    "'{t}' is not a date (2024-01-02T03:04:05.000+0000 or 2024-01-02)"
                ))
            })?),
        };
        PropertyRestriction::new(property, mode, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::body::Parsed;

    const X: &str = "application/xml";
    const J: &str = "application/json";

    fn read(content_type: &str, body: &str) -> Result<Restriction> {
        let parsed =
            Parsed::from_body(Some(content_type), body.as_bytes()).expect("a test body parses");
        parse(parsed.fields(), EntityType::User)
    }

    fn ok(content_type: &str, body: &str) -> Restriction {
        read(content_type, body).unwrap_or_else(|e| panic!("{body}: {e}"))
    }

    fn error(content_type: &str, body: &str) -> String {
        match read(content_type, body) {
            Err(Error::BadRequest(m)) => m,
            other => panic!("{body}: {other:?}"),
        }
    }

    /// A JSON property restriction, `members` after its type.
    fn jp(members: &str) -> String {
        format!(r#"{{"restriction-type":"{PROPERTY}",{members}}}"#)
    }

    /// A JSON property restriction with every member given.
    fn jprop(name: &str, ty: &str, mode: &str, value: &str) -> String {
        let property = format!(r#""property":{{"name":"{name}","type":"{ty}"}}"#);
        jp(&format!(r#"{property},"match-mode":"{mode}","value":"{value}""#))
    }

    /// A JSON boolean restriction, `members` after its type.
    fn jb(members: &str) -> String {
        format!(r#"{{"restriction-type":"{BOOLEAN}",{members}}}"#)
    }

    /// An XML property restriction; an empty `ty` leaves `<type>` out, `value` is the
    /// element's own XML.
    fn xprop(name: &str, ty: &str, mode: &str, value: &str) -> String {
        let ty = if ty.is_empty() { String::new() } else { format!("<type>{ty}</type>") };
        format!(
            "<{PROPERTY}><property><name>{name}</name>{ty}</property>\
             <match-mode>{mode}</match-mode>{value}</{PROPERTY}>"
        )
    }

    /// An XML boolean restriction.
    fn xb(logic: &str, parts: &[String]) -> String {
        let parts = parts.concat();
        format!(
            r#"<{BOOLEAN} boolean-logic="{logic}"><restrictions>{parts}</restrictions></{BOOLEAN}>"#
        )
    }

    fn term(name: &str, mode: MatchMode, value: Value) -> Restriction {
        let p = Property::named(EntityType::User, name);
        Restriction::Property(PropertyRestriction::new(p, mode, value).unwrap())
    }

    #[test]
    fn python_crowds_search_body_reads() {
        // crowd 3.1.0 (`CrowdServer.search`) sends exactly this, as application/xml.
        let body = "<property-search-restriction><property><name>email</name><type>STRING</type>\
                    </property><match-mode>CONTAINS</match-mode><value>bob</value>\
                    </property-search-restriction>";
        let expected = term("email", MatchMode::Contains, Value::String("bob".into()));
        assert_eq!(ok(X, body), expected);
        let with_declaration = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{body}");
        assert_eq!(ok(X, &with_declaration), expected);
    }

    #[test]
    fn json_and_xml_read_alike() {
        let x = ok(
            X,
            &xb(
                "AND",
                &[
                    xprop("active", "BOOLEAN", "exactly_matches", "<value>true</value>"),
                    xb(
                        "or",
                        &[
                            xprop("name", "STRING", "STARTS_WITH", "<value>Bo</value>"),
                            xprop(
                                "createdDate",
                                "DATE",
                                "GREATER_THAN",
                                "<value>2024-01-02T03:04:05.000+0000</value>",
                            ),
                            format!("<{NULL}/>"),
                        ],
                    ),
                ],
            ),
        );
        let nested = [
            jp(concat!(
                r#""property":{"name":"name","type":"STRING"},"#,
                r#""match-mode":"STARTS_WITH","value":"Bo""#
            )),
            jprop("createdDate", "date", "GREATER_THAN", "2024-01-02T03:04:05.000Z"),
            format!(r#"{{"restriction-type":"{NULL}"}}"#),
        ];
        let active = jp(concat!(
            r#""property":{"name":"active","type":"BOOLEAN"},"#,
            r#""match-mode":"EXACTLY_MATCHES","value":true"#
        ));
        let or = jb(&format!(r#""boolean-logic":"Or","restrictions":[{}]"#, nested.join(",")));
        let j = ok(J, &jb(&format!(r#""boolean-logic":"and","restrictions":[{active},{or}]"#)));
        assert_eq!(x, j);
        let since = date::parse("2024-01-02T03:04:05Z").unwrap();
        let expected = Restriction::Boolean {
            and: true,
            parts: vec![
                term("active", MatchMode::ExactlyMatches, Value::Bool(true)),
                Restriction::Boolean {
                    and: false,
                    parts: vec![
                        term("name", MatchMode::StartsWith, Value::String("bo".into())),
                        term("createdDate", MatchMode::GreaterThan, Value::Date(since)),
                        Restriction::All,
                    ],
                },
            ],
        };
        assert_eq!(x, expected);
    }

    #[test]
    fn null_restrictions_and_null_mode() {
        assert_eq!(ok(X, "<null-search-restriction/>"), Restriction::All);
        assert_eq!(ok(J, r#"{"restriction-type":"null-search-restriction"}"#), Restriction::All);
        // NULL needs no value, and ignores one given.
        let r = ok(J, &jp(r#""property":{"name":"email","type":"STRING"},"match-mode":"NULL""#));
        assert_eq!(r, term("email", MatchMode::Null, Value::String(String::new())));
        let r = ok(X, &xprop("createdDate", "DATE", "NULL", "<value>junk</value>"));
        assert_eq!(r, term("createdDate", MatchMode::Null, Value::Date(0)));
    }

    #[test]
    fn types_and_custom_attributes() {
        // No type: the term's own.
        let r = ok(X, &xprop("active", "", "EXACTLY_MATCHES", "<value>TRUE</value>"));
        assert_eq!(r, term("active", MatchMode::ExactlyMatches, Value::Bool(true)));
        // A custom attribute may be read as any type.
        let r = ok(J, &jprop("logins", "DATE", "LESS_THAN", "2020-01-01"));
        let Restriction::Property(p) = r else { panic!("{r:?}") };
        assert_eq!(p.property(), &Property::Attribute("logins".into()));
        assert_eq!(p.value(), &Value::Date(date::parse("2020-01-01").unwrap()));
        // Booleans read like Java's Boolean.valueOf.
        let r = ok(J, &jprop("active", "BOOLEAN", "EXACTLY_MATCHES", "yes"));
        assert_eq!(r, term("active", MatchMode::ExactlyMatches, Value::Bool(false)));
        // An empty text value is a value.
        let r = ok(X, &xprop("email", "STRING", "EXACTLY_MATCHES", "<value/>"));
        assert_eq!(r, term("email", MatchMode::ExactlyMatches, Value::String(String::new())));
    }

    #[test]
    fn every_error_is_a_bad_request_saying_what() {
        let email = r#""property":{"name":"email"}"#;
        for (ct, body, says) in [
            (J, "{}".to_string(), "'restriction-type' is required"),
            (J, r#"{"restriction-type":"search-restriction"}"#.into(), "unknown restriction type"),
            (X, "<search-restriction/>".into(), "unknown restriction type 'search-restriction'"),
            (J, r#"{"restriction-type":["x"]}"#.into(), "'restriction-type' must be a string"),
            (J, jp(r#""value":"x""#), "'property' is required"),
            (J, jp(r#""property":{},"match-mode":"NULL""#), "'name' is required"),
            (J, jp(email), "'match-mode' is required"),
            (J, jp(&format!(r#"{email},"match-mode":"LIKE""#)), "unknown match-mode 'LIKE'"),
            (J, jp(&format!(r#"{email},"match-mode":"CONTAINS""#)), "'value' is required with"),
            (J, jprop("email", "NUMBER", "CONTAINS", "x"), "unknown property type 'NUMBER'"),
            (J, jprop("createdDate", "DATE", "LESS_THAN", "now"), "'now' is not a date"),
            (
                J,
                jprop("active", "STRING", "EXACTLY_MATCHES", "x"),
                "'active' is BOOLEAN, not STRING",
            ),
            (
                J,
                jprop("email", "BOOLEAN", "EXACTLY_MATCHES", "x"),
                "'email' is STRING, not BOOLEAN",
            ),
            (J, jprop("active", "BOOLEAN", "CONTAINS", "true"), "CONTAINS applies to text only"),
            (J, jprop("createdDate", "DATE", "STARTS_WITH", "2020"), "STARTS_WITH applies to text"),
            (J, jb(r#""restrictions":[]"#), "'boolean-logic' (and, or) is required"),
            (J, jb(r#""boolean-logic":"xor""#), "unknown boolean-logic 'xor'"),
            (J, jb(r#""boolean-logic":"and","restrictions":{}"#), "'restrictions' must be a list"),
            (
                J,
                jb(r#""boolean-logic":"and","restrictions":[{}]"#),
                "'restriction-type' is required",
            ),
            (X, xb("and", &["<user/>".into()]), "unknown restriction type 'user'"),
            (X, xprop("email", "STRING", "EXACTLY_MATCHES", ""), "'value' is required"),
        ] {
            let message = error(ct, &body);
            assert!(message.starts_with("Search restriction is invalid: "), "{body}: {message}");
            assert!(message.contains(says), "{body}: {message}");
        }
    }

    #[test]
    fn hostile_bodies_are_bounded() {
        let null = format!(r#"{{"restriction-type":"{NULL}"}}"#);
        let nest = |depth: usize| {
            (0..depth).fold(null.clone(), |inner, _| {
                jb(&format!(r#""boolean-logic":"and","restrictions":[{inner}]"#))
            })
        };
        assert!(read(J, &nest(MAX_DEPTH)).is_ok());
        assert!(error(J, &nest(MAX_DEPTH + 1)).contains("nested deeper"));
        let many = |n: usize| {
            let parts = vec![null.as_str(); n].join(",");
            jb(&format!(r#""boolean-logic":"or","restrictions":[{parts}]"#))
        };
        assert!(read(J, &many(MAX_TERMS - 1)).is_ok());
        assert!(error(J, &many(MAX_TERMS)).contains("more than 256"));
        let xml_many = xb("or", &vec![format!("<{NULL}/>"); 10_000]);
        assert!(error(X, &xml_many).contains("more than 256"));
    }
}
