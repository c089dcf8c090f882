//! The Crowd Query Language: `GET /search?restriction=email="bob@example.com" and active=true`.
//!
//! Crowd's grammar (`Cql.g`, evaluated by `CqlEval.g`, since Crowd 2.2;
//! https://developer.atlassian.com/server/crowd/crowd-query-language/):
//!
//! ```text
//! restriction := or ; or := and (OR and)* ; and := primary (AND primary)*
//! primary     := '(' or ')' | key ('=' | '<' | '>') value
//! ```
//!
//! `AND` and `OR` bind as usual (AND tighter) and are words in any case; a key or value named
//! `and` or `or` must be quoted. Keys and values are bare words (any character but
//! whitespace, quotes and `=!<>()[],|&`), or quoted with `"` or `'`, with the escapes `\t \n
//! \r \" \' \\ \␠ \uXXXX`. There is no negation (https://jira.atlassian.com/browse/CWD-5699),
//! no `<=`, `>=` or `!=`.
//!
//! `=` on text becomes CONTAINS for `*x*`, STARTS_WITH for `x*`, EXACTLY_MATCHES otherwise,
//! with the `*`s stripped from both ends (so `*x` is EXACTLY_MATCHES `x`: CQL has no
//! ENDS_WITH), quoted or not; `<` and `>` are LESS_THAN and GREATER_THAN. Booleans read as
//! Java's `Boolean.valueOf` (`true` in any case, anything else false), dates as `date::parse`.
//!
//! A key that is no term of the entity type names a custom attribute, compared as text.
//! Crowd's `SearchController` types only the terms (`PropertyTypeServiceImpl.newInstance(
//! UserTermKeys.ALL_USER_PROPERTIES)`), so it refuses such a key ("Unknown type for
//! property"); throng searches the attribute instead.
//!
//! Where Crowd's ANTLR parser is loose, this one is not: Cql.g has no end-of-input rule and
//! recovers from some errors, so Crowd may ignore text after a whole restriction, which is
//! refused here. Quoted text is unescaped, where `CqlEval.g` only strips the quote
//! characters from both ends and leaves the backslashes in.

use super::date;
use super::restriction::{
    invalid, EntityType, MatchMode, Property, PropertyRestriction, Restriction, Value, ValueType,
    MAX_DEPTH, MAX_TERMS,
};
use crate::error::Result;
use std::iter::Peekable;
use std::str::CharIndices;

/// Parses a CQL restriction about `entity`; an empty or blank one means all.
pub fn parse(text: &str, entity: EntityType) -> Result<Restriction> {
    if text.trim().is_empty() {
        return Ok(Restriction::All);
    }
    let mut parser = Parser { lexer: Lexer::new(text), next: None, entity, terms: 0 };
    let restriction = parser.or(0)?;
    match parser.advance()? {
        None => Ok(restriction),
        Some((at, token)) => Err(invalid(format_args!(
            "unexpected {} at character {}",
            token.describe(),
            column(text, at)
        ))),
    }
}

/// The 1-based character position of byte offset `at`, for messages: counted only when one
/// is written, so that lexing stays linear.
fn column(text: &str, at: usize) -> usize {
    text[..at].chars().count() + 1
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    Op(Op),
    And,
    Or,
    Word(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Equals,
    LessThan,
    GreaterThan,
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::Open => "'('".into(),
            Token::Close => "')'".into(),
            Token::Op(Op::Equals) => "'='".into(),
            Token::Op(Op::LessThan) => "'<'".into(),
            Token::Op(Op::GreaterThan) => "'>'".into(),
            Token::And => "AND".into(),
            Token::Or => "OR".into(),
            Token::Word(w) => format!("'{w}'"),
        }
    }
}

/// `Cql.g`'s `CONTROLCHARS`: refused in words and quoted text. Tab is one, but between
/// tokens it is whitespace, as are CR and LF.
fn is_control(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{9}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{7f}'..='\u{9f}')
        || matches!(c, '\u{fdd0}'..='\u{fdef}' | '\u{fffe}' | '\u{ffff}')
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// Characters that end a bare word (`Cql.g`'s `STRINGSTOP`).
fn ends_word(c: char) -> bool {
    is_space(c)
        || is_control(c)
        || matches!(c, '"' | '\'' | '=' | '!' | '<' | '>' | '(' | ')' | ',' | '[' | ']' | '|' | '&')
}

struct Lexer<'a> {
    text: &'a str,
    chars: Peekable<CharIndices<'a>>,
}

impl<'a> Lexer<'a> {
    fn new(text: &'a str) -> Lexer<'a> {
        Lexer { text, chars: text.char_indices().peekable() }
    }

    /// The next token and the byte offset it starts at.
    fn next(&mut self) -> Result<Option<(usize, Token)>> {
        while self.chars.next_if(|&(_, c)| is_space(c)).is_some() {}
        let Some(&(at, c)) = self.chars.peek() else { return Ok(None) };
        let token = match c {
            '(' | ')' | '=' | '<' | '>' => {
                self.chars.next();
                match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    '=' => Token::Op(Op::Equals),
                    '<' => Token::Op(Op::LessThan),
                    _ => Token::Op(Op::GreaterThan),
                }
            }
            '"' | '\'' => {
                self.chars.next();
                Token::Word(self.quoted(c, at)?)
            }
            '!' => {
                return Err(invalid(format_args!(
                    "'!' at character {}: CQL has no negation; its operators are =, < and >",
                    column(self.text, at)
                )))
            }
            c if ends_word(c) => {
                let at = column(self.text, at);
                return Err(invalid(format_args!("unexpected {c:?} at character {at}")));
            }
            _ => {
                let word = self.bare(at)?;
                let raw = &self.text[at..self.chars.peek().map_or(self.text.len(), |&(i, _)| i)];
                if raw.eq_ignore_ascii_case("and") {
                    Token::And
                } else if raw.eq_ignore_ascii_case("or") {
                    Token::Or
                } else {
                    Token::Word(word)
                }
            }
        };
        Ok(Some((at, token)))
    }

    /// A word not in quotes; `at` is where it starts, for messages.
    fn bare(&mut self, at: usize) -> Result<String> {
        let mut word = String::new();
        while let Some(&(_, c)) = self.chars.peek() {
            if ends_word(c) {
                break;
            }
            self.chars.next();
            if c == '\\' {
                word.push(self.escape(at)?);
            } else {
                word.push(c);
            }
        }
        Ok(word)
    }

    /// The rest of a quoted word, whose opening quote at `at` is read.
    fn quoted(&mut self, quote: char, at: usize) -> Result<String> {
        let mut word = String::new();
        loop {
            match self.chars.next() {
                None => {
                    return Err(invalid(format_args!(
                        "the quote opened at character {} is not closed",
                        column(self.text, at)
                    )))
                }
                Some((_, c)) if c == quote => return Ok(word),
                Some((_, '\\')) => word.push(self.escape(at)?),
                Some((_, c)) if is_control(c) => {
                    return Err(invalid(format_args!(
                        "a control character in the text quoted at character {}",
                        column(self.text, at)
                    )))
                }
                Some((_, c)) => word.push(c),
            }
        }
    }

    /// The character a backslash stands for (`Cql.g`'s `ESCAPE`).
    fn escape(&mut self, at: usize) -> Result<char> {
        let text = self.text;
        let bad =
            || invalid(format_args!("a bad escape in the text at character {}", column(text, at)));
        let c = match self.chars.next().ok_or_else(bad)?.1 {
            't' => '\t',
            'n' => '\n',
            'r' => '\r',
            c @ ('"' | '\'' | '\\' | ' ') => c,
            'u' => {
                let mut code = 0u32;
                for _ in 0..4 {
                    let digit =
                        self.chars.next().and_then(|(_, c)| c.to_digit(16)).ok_or_else(bad)?;
                    code = code * 16 + digit;
                }
                char::from_u32(code).ok_or_else(bad)?
            }
            _ => return Err(bad()),
        };
        Ok(c)
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    next: Option<(usize, Token)>,
    entity: EntityType,
    terms: usize,
}

impl Parser<'_> {
    fn peek(&mut self) -> Result<Option<&Token>> {
        if self.next.is_none() {
            self.next = self.lexer.next()?;
        }
        Ok(self.next.as_ref().map(|(_, t)| t))
    }

    fn advance(&mut self) -> Result<Option<(usize, Token)>> {
        self.peek()?;
        Ok(self.next.take())
    }

    fn or(&mut self, depth: usize) -> Result<Restriction> {
        let mut parts = vec![self.and(depth)?];
        while self.peek()? == Some(&Token::Or) {
            self.advance()?;
            parts.push(self.and(depth)?);
        }
        Ok(combine(false, parts))
    }

    fn and(&mut self, depth: usize) -> Result<Restriction> {
        let mut parts = vec![self.primary(depth)?];
        while self.peek()? == Some(&Token::And) {
            self.advance()?;
            parts.push(self.primary(depth)?);
        }
        Ok(combine(true, parts))
    }

    fn primary(&mut self, depth: usize) -> Result<Restriction> {
        match self.advance()? {
            Some((at, Token::Open)) => {
                if depth >= MAX_DEPTH {
                    return Err(invalid(format_args!(
                        "parentheses nested deeper than {MAX_DEPTH} at character {}",
                        column(self.lexer.text, at)
                    )));
                }
                let inner = self.or(depth + 1)?;
                match self.advance()? {
                    Some((_, Token::Close)) => Ok(inner),
                    Some((at, t)) => Err(invalid(format_args!(
                        "expected ')' at character {}, found {}",
                        column(self.lexer.text, at),
                        t.describe()
                    ))),
                    None => Err(invalid(format_args!(
                        "the parenthesis opened at character {} is not closed",
                        column(self.lexer.text, at)
                    ))),
                }
            }
            Some((_, Token::Word(key))) => self.comparison(key),
            Some((at, t)) => Err(invalid(format_args!(
                "expected a property name at character {}, found {}",
                column(self.lexer.text, at),
                t.describe()
            ))),
            None => Err(invalid("the restriction ends where a property name was expected")),
        }
    }

    fn comparison(&mut self, key: String) -> Result<Restriction> {
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(invalid(format_args!("more than {MAX_TERMS} comparisons")));
        }
        let op = match self.advance()? {
            Some((_, Token::Op(op))) => op,
            Some((at, t)) => {
                return Err(invalid(format_args!(
                    "expected =, < or > after '{key}' at character {}, found {}",
                    column(self.lexer.text, at),
                    t.describe()
                )))
            }
            None => return Err(invalid(format_args!("expected =, < or > after '{key}'"))),
        };
        let value = match self.advance()? {
            Some((_, Token::Word(v))) => v,
            Some((at, t)) => {
                return Err(invalid(format_args!(
                    "expected a value for '{key}' at character {}, found {}",
                    column(self.lexer.text, at),
                    t.describe()
                )))
            }
            None => return Err(invalid(format_args!("expected a value for '{key}'"))),
        };
        let property = Property::named(self.entity, &key);
        let mode = match_mode(op, &value);
        let value = match property.value_type().unwrap_or(ValueType::String) {
            ValueType::String => Value::String(value.trim_matches('*').to_string()),
            ValueType::Boolean => Value::Bool(value.eq_ignore_ascii_case("true")),
            ValueType::Date => Value::Date(date::parse(&value).ok_or_else(|| {
                invalid(format_args!(
                    "'{value}' is not a date (2010-12-01 or 2010-12-01T10:00:00Z)"
                ))
            })?),
        };
        PropertyRestriction::new(property, mode, value).map(Restriction::Property)
    }
}

/// Crowd's `CqlEval.getMatchMode`: the wildcards are read off the value whatever the
/// property's type, so `active=true*` is STARTS_WITH, which a boolean then refuses.
fn match_mode(op: Op, value: &str) -> MatchMode {
    match op {
        Op::LessThan => MatchMode::LessThan,
        Op::GreaterThan => MatchMode::GreaterThan,
        Op::Equals if value.trim().is_empty() => MatchMode::ExactlyMatches,
        Op::Equals if value.starts_with('*') && value.ends_with('*') => MatchMode::Contains,
        Op::Equals if value.ends_with('*') => MatchMode::StartsWith,
        Op::Equals => MatchMode::ExactlyMatches,
    }
}

fn combine(and: bool, mut parts: Vec<Restriction>) -> Restriction {
    if parts.len() == 1 {
        parts.pop().expect("one part")
    } else {
        Restriction::Boolean { and, parts }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::search::restriction::Term;

    fn user(text: &str) -> Restriction {
        parse(text, EntityType::User).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn error(text: &str) -> String {
        match parse(text, EntityType::User) {
            Ok(r) => panic!("{text} parsed as {r:?}"),
            Err(crate::error::Error::BadRequest(m)) => m,
            Err(e) => panic!("{text}: not a bad request: {e:?}"),
        }
    }

    fn term(key: &str, mode: MatchMode, value: Value) -> Restriction {
        let property = Property::named(EntityType::User, key);
        Restriction::Property(PropertyRestriction::new(property, mode, value).unwrap())
    }

    fn text(key: &str, mode: MatchMode, value: &str) -> Restriction {
        term(key, mode, Value::String(value.into()))
    }

    fn all(and: bool, parts: Vec<Restriction>) -> Restriction {
        Restriction::Boolean { and, parts }
    }

    #[test]
    fn blank_means_all() {
        assert_eq!(user(""), Restriction::All);
        assert_eq!(user("  \t\n"), Restriction::All);
    }

    #[test]
    fn and_binds_tighter_than_or() {
        use MatchMode::ExactlyMatches as Eq;
        let (a, b, c) = (text("name", Eq, "a"), text("email", Eq, "b"), text("lastName", Eq, "c"));
        assert_eq!(
            user("name=a OR email=b AND lastName=c"),
            all(false, vec![a.clone(), all(true, vec![b.clone(), c.clone()])])
        );
        assert_eq!(
            user("name=a and email=b or lastName=c"),
            all(false, vec![all(true, vec![a.clone(), b.clone()]), c.clone()])
        );
        assert_eq!(
            user("(name=a Or email=b) AnD lastName=c"),
            all(true, vec![all(false, vec![a.clone(), b.clone()]), c.clone()])
        );
        assert_eq!(user("name=a or email=b or lastName=c"), all(false, vec![a.clone(), b, c]));
        assert_eq!(user("((name=a))"), a);
    }

    #[test]
    fn quoting_and_escapes() {
        use MatchMode::ExactlyMatches as Eq;
        assert_eq!(user(r#"email="bob smith@x""#), text("email", Eq, "bob smith@x"));
        assert_eq!(user(r#"email='o\'brien'"#), text("email", Eq, "o'brien"));
        assert_eq!(user(r#"email="a\"b\\c\tz""#), text("email", Eq, "a\"b\\c\tz"));
        assert_eq!(user(r"email=bob\ smith"), text("email", Eq, "bob smith"));
        assert_eq!(user(r"email=\u00e9t\u00C9"), text("email", Eq, "été"));
        assert_eq!(user(r#""email"=x"#), text("email", Eq, "x"));
        assert_eq!(user("email='a=b (c) <d>'"), text("email", Eq, "a=b (c) <d>"));
        // A quoted AND is a value; a bare one is the operator.
        assert_eq!(user("name='and'"), text("name", Eq, "and"));
        assert_eq!(user("name=android"), text("name", Eq, "android"));
        assert_eq!(user("name=ÖRJAN"), text("name", Eq, "örjan"));
    }

    #[test]
    fn wildcards_choose_the_match_mode() {
        use MatchMode::*;
        assert_eq!(user("name=*bob*"), text("name", Contains, "bob"));
        assert_eq!(user("name=bob*"), text("name", StartsWith, "bob"));
        assert_eq!(user("name=*bob"), text("name", ExactlyMatches, "bob"));
        assert_eq!(user("name=b*b"), text("name", ExactlyMatches, "b*b"));
        assert_eq!(user("name=*"), text("name", Contains, ""));
        assert_eq!(user("name=\"bob*\""), text("name", StartsWith, "bob"));
        assert_eq!(user("name<m"), text("name", LessThan, "m"));
        assert_eq!(user("name>m*"), text("name", GreaterThan, "m"));
        assert_eq!(user("department=eng*"), text("department", StartsWith, "eng"));
        assert!(matches!(
            user("department=x"),
            Restriction::Property(p) if p.property() == &Property::Attribute("department".into())
        ));
    }

    #[test]
    fn booleans_read_like_java() {
        use MatchMode::ExactlyMatches as Eq;
        assert_eq!(user("active=true"), term("active", Eq, Value::Bool(true)));
        assert_eq!(user("active=TRUE"), term("active", Eq, Value::Bool(true)));
        assert_eq!(user("active=false"), term("active", Eq, Value::Bool(false)));
        assert_eq!(user("active=yes"), term("active", Eq, Value::Bool(false)));
        assert_eq!(user("active=1"), term("active", Eq, Value::Bool(false)));
        assert!(error("active=true*").contains("text only"));
    }

    #[test]
    fn dates_read_as_iso() {
        let d = date::parse("2010-12-01").unwrap();
        assert_eq!(
            user("createdDate>2010-12-01"),
            term("createdDate", MatchMode::GreaterThan, Value::Date(d))
        );
        let t = date::parse("2010-12-01T10:00:00Z").unwrap();
        assert_eq!(
            user("updatedDate<'2010-12-01T10:00:00Z'"),
            term("updatedDate", MatchMode::LessThan, Value::Date(t))
        );
        assert!(error("createdDate>yesterday").contains("not a date"));
        assert!(error("createdDate=2010*").contains("not a date"));
    }

    #[test]
    fn the_entity_type_decides_the_terms() {
        let group = parse("description=*x* and local=false", EntityType::Group).unwrap();
        let Restriction::Boolean { parts, .. } = group else { panic!() };
        assert_eq!(parts[0], {
            let p = Property::Term(Term::Description);
            Restriction::Property(
                PropertyRestriction::new(p, MatchMode::Contains, Value::String("x".into()))
                    .unwrap(),
            )
        });
        // For users, `description` is a custom attribute and `local` a text one.
        let r = user("description=x and local=false");
        let Restriction::Boolean { parts, .. } = r else { panic!() };
        assert_eq!(parts[1], text("local", MatchMode::ExactlyMatches, "false"));
    }

    #[test]
    fn every_error_is_a_bad_request_saying_what() {
        for (input, says) in [
            ("name", "expected =, < or > after 'name'"),
            ("name=", "expected a value for 'name'"),
            ("name bob", "expected =, < or > after 'name' at character 6"),
            ("name!=bob", "no negation"),
            ("name<=bob", "expected a value for 'name' at character 6"),
            ("name>=bob", "expected a value"),
            ("name==bob", "expected a value"),
            ("name=bob and", "ends where a property name was expected"),
            ("name=bob or or email=x", "expected a property name at character 13, found OR"),
            ("and name=bob", "found AND"),
            ("(name=bob", "not closed"),
            ("name=bob)", "unexpected ')' at character 9"),
            ("name=bob email=x", "unexpected 'email'"),
            ("()", "expected a property name"),
            ("name='bob", "quote opened at character 6 is not closed"),
            ("name=\"b\u{1}b\"", "control character"),
            ("name=b\u{1}b", "unexpected"),
            ("name=[bob]", "unexpected '['"),
            ("name=a,b", "unexpected ','"),
            ("name=a|b", "unexpected '|'"),
            ("name=a&b", "unexpected '&'"),
            (r"name=a\qb", "bad escape"),
            (r"name=a\u12", "bad escape"),
            (r"name=a\ud800", "bad escape"),
            ("name=a\\", "bad escape"),
            ("'it''s'=x", "expected =, < or >"),
            ("email='it''s'", "unexpected 's' at character 11"),
        ] {
            let message = error(input);
            assert!(message.starts_with("Search restriction is invalid: "), "{input}: {message}");
            assert!(message.contains(says), "{input}: {message}");
        }
    }

    #[test]
    fn hostile_queries_are_bounded() {
        let deep = "(".repeat(MAX_DEPTH) + "name=a" + &")".repeat(MAX_DEPTH);
        assert!(parse(&deep, EntityType::User).is_ok());
        let deeper = "(".repeat(MAX_DEPTH + 1) + "name=a" + &")".repeat(MAX_DEPTH + 1);
        assert!(error(&deeper).contains("nested deeper"));
        let very_deep = "(".repeat(100_000);
        assert!(error(&very_deep).contains("nested deeper"));
        let wide = vec!["name=a"; MAX_TERMS].join(" or ");
        assert!(parse(&wide, EntityType::User).is_ok());
        let wider = vec!["name=a"; MAX_TERMS + 1].join(" or ");
        assert!(error(&wider).contains("more than 256 comparisons"));
    }
}
