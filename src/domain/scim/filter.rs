//! SCIM filters (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2): parsed into a tree, and
//! evaluated against the elements of a multi-valued attribute (`emails[type eq "work"]`,
//! `members[value eq "…"]`). A listing (`GET /Users?filter=`) takes only what Atlassian's
//! API takes, one `eq` (`api::scim`); anything else is `invalidFilter`, never a silently
//! wider answer.

use crate::error::{Error, Result, ScimType};
use serde_json::Value;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `attr op value`; `attr` may be `sub.attr` or URN-qualified, as written.
    Compare(String, Op, Value),
    /// `attr pr`.
    Present(String),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
}

fn invalid(why: impl Into<String>) -> Error {
    Error::Scim(ScimType::InvalidFilter, why.into())
}

/// The longest filter read.
const MAX_FILTER: usize = 4096;
/// Deepest nesting of parentheses and `not`.
const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Literal(Value),
    Open,
    Close,
    OpenBracket,
    CloseBracket,
}

fn tokens(text: &str) -> Result<Vec<Token>> {
    if text.len() > MAX_FILTER {
        return Err(invalid(format!("a filter is at most {MAX_FILTER} bytes")));
    }
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' => i += 1,
            b'(' => {
                out.push(Token::Open);
                i += 1
            }
            b')' => {
                out.push(Token::Close);
                i += 1
            }
            b'[' => {
                out.push(Token::OpenBracket);
                i += 1
            }
            b']' => {
                out.push(Token::CloseBracket);
                i += 1
            }
            b'"' => {
                // A JSON string: find its end, honouring escapes, and let serde read it.
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                if i >= bytes.len() {
                    return Err(invalid("a string in the filter is not closed"));
                }
                i += 1;
                let s: String = serde_json::from_str(&text[start..i])
                    .map_err(|_| invalid("a string in the filter is not valid JSON"))?;
                out.push(Token::Literal(Value::String(s)));
            }
            _ => {
                let start = i;
                while i < bytes.len() && !b" \t()[]\"".contains(&bytes[i]) {
                    i += 1;
                }
                out.push(Token::Word(text[start..i].to_string()));
            }
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn or(&mut self) -> Result<Filter> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.at += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            self.at += 1;
            left = Filter::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(invalid("the filter nests too deeply"));
        }
        let f = if self.keyword("not") {
            self.at += 1;
            Filter::Not(Box::new(self.unary()?))
        } else if self.peek() == Some(&Token::Open) {
            self.at += 1;
            let inner = self.or()?;
            if self.next() != Some(Token::Close) {
                return Err(invalid("a parenthesis in the filter is not closed"));
            }
            inner
        } else {
            self.comparison()?
        };
        self.depth -= 1;
        Ok(f)
    }

    fn comparison(&mut self) -> Result<Filter> {
        let Some(Token::Word(attr)) = self.next() else {
            return Err(invalid("the filter needs an attribute name here"));
        };
        if self.peek() == Some(&Token::OpenBracket) {
            return Err(invalid("complex attribute filters (attr[...]) are not supported here"));
        }
        let Some(Token::Word(op)) = self.next() else {
            return Err(invalid(format!("the filter needs an operator after '{attr}'")));
        };
        let op = match op.to_ascii_lowercase().as_str() {
            "pr" => return Ok(Filter::Present(attr)),
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "co" => Op::Co,
            "sw" => Op::Sw,
            "ew" => Op::Ew,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            other => return Err(invalid(format!("'{other}' is not a filter operator"))),
        };
        let value = match self.next() {
            Some(Token::Literal(v)) => v,
            Some(Token::Word(w)) => match w.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                n => serde_json::from_str::<serde_json::Number>(n)
                    .map(Value::Number)
                    .map_err(|_| invalid(format!("'{n}' is not a value: quote strings")))?,
            },
            _ => return Err(invalid(format!("the filter needs a value after '{attr}'"))),
        };
        Ok(Filter::Compare(attr, op, value))
    }
}

/// Parses a whole filter.
pub fn parse(text: &str) -> Result<Filter> {
    let mut p = Parser { tokens: tokens(text)?, at: 0, depth: 0 };
    if p.tokens.is_empty() {
        return Err(invalid("the filter is empty"));
    }
    let f = p.or()?;
    if p.at != p.tokens.len() {
        return Err(invalid("the filter has more after a complete expression"));
    }
    Ok(f)
}

/// A PATCH path (RFC 7644 §3.5.2): an attribute (perhaps URN-qualified), an optional filter
/// on its values, and an optional sub-attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    /// The attribute, as written (after any URN, which `urn` holds).
    pub attr: String,
    /// A URN written before the attribute (`urn:…:User:department`), or the whole path when
    /// it names an extension (`urn:…:enterprise:2.0:User`).
    pub urn: Option<String>,
    pub filter: Option<Filter>,
    pub sub: Option<String>,
}

fn invalid_path(why: impl Into<String>) -> Error {
    Error::Scim(ScimType::InvalidPath, why.into())
}

/// Reads a PATCH path; `urns` are the schema URNs of the resource, which a path may start
/// with (they contain `:` and `.`, so they are matched, not parsed).
pub fn parse_path(text: &str, urns: &[&str]) -> Result<Path> {
    let text = text.trim();
    if text.is_empty() || text.len() > MAX_FILTER {
        return Err(invalid_path("the path is empty or too long"));
    }
    let mut urn = None;
    let mut rest = text;
    if text.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:")) {
        let known = urns.iter().filter(|u| {
            text.get(..u.len()).is_some_and(|p| p.eq_ignore_ascii_case(u))
                && (text.len() == u.len() || text.as_bytes()[u.len()] == b':')
        });
        let Some(u) = known.max_by_key(|u| u.len()) else {
            return Err(invalid_path(format!("'{text}' names no schema of this resource")));
        };
        urn = Some(u.to_string());
        rest = text[u.len()..].strip_prefix(':').unwrap_or("");
        if rest.is_empty() {
            return Ok(Path { attr: String::new(), urn, filter: None, sub: None });
        }
    }
    let (attr, after) = match rest.find(['[', '.']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if attr.is_empty()
        || !attr.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
    {
        return Err(invalid_path(format!("'{text}' is not an attribute path")));
    }
    let (filter, after) = match after.strip_prefix('[') {
        Some(inner) => {
            let end = inner
                .rfind(']')
                .ok_or_else(|| invalid_path(format!("the filter in '{text}' is not closed")))?;
            let f = parse(&inner[..end])
                .map_err(|e| invalid_path(format!("the filter in '{text}': {e}")))?;
            (Some(f), &inner[end + 1..])
        }
        None => (None, after),
    };
    let sub = match after {
        "" => None,
        s => match s.strip_prefix('.') {
            Some(sub)
                if !sub.is_empty()
                    && sub.chars().all(|c| c.is_ascii_alphanumeric() || c == '$') =>
            {
                Some(sub.to_string())
            }
            _ => return Err(invalid_path(format!("'{text}' is not an attribute path"))),
        },
    };
    Ok(Path { attr: attr.to_string(), urn, filter, sub })
}

/// Whether `element` (one value of a multi-valued attribute, usually an object) matches
/// `filter`. Attribute names compare in any case; strings compare in any case too, but for
/// `value` (ids, caseExact in the schemas served here).
pub fn matches(filter: &Filter, element: &Value) -> bool {
    match filter {
        Filter::And(a, b) => matches(a, element) && matches(b, element),
        Filter::Or(a, b) => matches(a, element) || matches(b, element),
        Filter::Not(f) => !matches(f, element),
        Filter::Present(attr) => field(element, attr).is_some_and(|v| !v.is_null()),
        Filter::Compare(attr, op, want) => {
            let Some(have) = field(element, attr) else {
                return false;
            };
            let exact = attr.eq_ignore_ascii_case("value");
            compare(have, *op, want, exact)
        }
    }
}

/// The sub-attribute `attr` of an element (or, for a plain value, `value` is itself).
fn field<'a>(element: &'a Value, attr: &str) -> Option<&'a Value> {
    match element {
        Value::Object(map) => {
            map.iter().find(|(k, _)| k.eq_ignore_ascii_case(attr)).map(|(_, v)| v)
        }
        v if attr.eq_ignore_ascii_case("value") => Some(v),
        _ => None,
    }
}

fn compare(have: &Value, op: Op, want: &Value, exact: bool) -> bool {
    match (have, want) {
        (Value::String(h), Value::String(w)) => {
            let (h, w) =
                if exact { (h.clone(), w.clone()) } else { (h.to_lowercase(), w.to_lowercase()) };
            match op {
                Op::Eq => h == w,
                Op::Ne => h != w,
                Op::Co => h.contains(&w),
                Op::Sw => h.starts_with(&w),
                Op::Ew => h.ends_with(&w),
                Op::Gt => h > w,
                Op::Ge => h >= w,
                Op::Lt => h < w,
                Op::Le => h <= w,
            }
        }
        (h, w) => match op {
            Op::Eq => h == w,
            Op::Ne => h != w,
            _ => match (h.as_f64(), w.as_f64()) {
                (Some(h), Some(w)) => match op {
                    Op::Gt => h > w,
                    Op::Ge => h >= w,
                    Op::Lt => h < w,
                    Op::Le => h <= w,
                    _ => false,
                },
                _ => false,
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filters_parse_as_rfc_7644_writes_them() {
        assert_eq!(
            parse(r#"userName eq "bjensen""#).unwrap(),
            Filter::Compare("userName".into(), Op::Eq, json!("bjensen"))
        );
        assert_eq!(
            parse(r#"UserName EQ "a\"b""#).unwrap(),
            Filter::Compare("UserName".into(), Op::Eq, json!("a\"b"))
        );
        let f = parse(r#"type eq "work" and (primary eq true or not (value pr))"#).unwrap();
        assert!(matches!(f, Filter::And(..)));
        for bad in [
            "",
            "userName",
            r#"userName eq"#,
            r#"userName zz "x""#,
            r#"a eq "x"#,
            "(a pr",
            "a eq x",
            r#"a eq "x" b"#,
            r#"emails[type eq "work"] pr"#,
        ] {
            let e = parse(bad).unwrap_err();
            assert!(matches!(e, Error::Scim(ScimType::InvalidFilter, _)), "{bad}: {e:?}");
        }
        assert!(parse(&"(".repeat(100)).is_err());
    }

    #[test]
    fn element_filters_match_values() {
        let f = parse(r#"type eq "WORK" and primary eq true"#).unwrap();
        assert!(matches(&f, &json!({"type": "work", "primary": true})));
        assert!(!matches(&f, &json!({"type": "work", "primary": false})));
        let by_id = parse(r#"value eq "AbC""#).unwrap();
        assert!(matches(&by_id, &json!({"value": "AbC"})));
        assert!(!matches(&by_id, &json!({"value": "abc"})), "ids compare exactly");
    }

    #[test]
    fn paths_read_urns_filters_and_sub_attributes() {
        let urns = [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        ];
        let p = parse_path(r#"emails[type eq "work"].value"#, &urns).unwrap();
        assert_eq!((p.attr.as_str(), p.sub.as_deref(), p.urn), ("emails", Some("value"), None));
        assert!(p.filter.is_some());
        let p = parse_path(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            &urns,
        )
        .unwrap();
        assert_eq!((p.attr.as_str(), p.sub.as_deref()), ("manager", Some("value")));
        assert_eq!(p.urn.as_deref(), Some(urns[1]));
        let p = parse_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", &urns)
            .unwrap();
        assert_eq!((p.attr.as_str(), p.urn.as_deref()), ("", Some(urns[1])));
        let p =
            parse_path("URN:IETF:params:scim:schemas:core:2.0:User:name.givenName", &urns).unwrap();
        assert_eq!((p.attr.as_str(), p.sub.as_deref()), ("name", Some("givenName")));
        // Multi-byte characters where a URN or a bracket is looked for: refused, not a panic.
        for bad in [
            "",
            "urn:x:y",
            "emails[type eq",
            "a..b",
            "a b",
            "emails[bad]",
            "ab€",
            "ur€",
            "urn:ietf:params:scim:schemas:core:2.0:Use€",
        ] {
            assert!(parse_path(bad, &urns).is_err(), "{bad}");
        }
    }
}
