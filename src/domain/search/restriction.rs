//! Crowd's search restriction as a typed tree, and its evaluation against stored users and
//! groups.
//!
//! The model follows Crowd's own (`com.atlassian.crowd.search.query.entity.restriction`): a
//! restriction is *all* (`NullRestriction`), a property compared with a value under a
//! [`MatchMode`] (`TermRestriction`), or an AND / OR of restrictions (`BooleanRestriction`).
//! A property is a term of the entity type (`UserTermKeys`, `GroupTermKeys`) or, by any other
//! name, a custom attribute. Text compares case-insensitively, as Crowd's internal directory
//! does by matching lower-cased columns; dates compare as milliseconds.
//!
//! Both request forms, CQL (`cql.rs`) and the JSON/XML body (`body.rs`), build this tree;
//! `store::search` walks the tables with it.

use crate::error::{Error, Result};
use crate::store::records::{GroupRecord, UserRecord};
use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

/// How deep AND / OR may nest in one restriction, so that a hostile query cannot exhaust the
/// stack of the parser or of evaluation. Real clients nest two or three levels.
pub const MAX_DEPTH: usize = 32;
/// How many restrictions one search may hold. Evaluation costs this much per user scanned.
pub const MAX_TERMS: usize = 256;

/// Crowd answers a restriction it cannot read with `IllegalArgumentException("Search
/// restriction is invalid")`, which its REST layer renders as 400 `ILLEGAL_ARGUMENT`.
pub(crate) fn invalid(what: impl fmt::Display) -> Error {
    Error::BadRequest(format!("Search restriction is invalid: {what}"))
}

/// What is searched: it decides which property names are terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityType {
    User,
    Group,
}

impl EntityType {
    /// The `entity-type` query parameter, read as Crowd's `SearchResource` does: `user` or
    /// `group` in any case.
    pub fn from_param(param: Option<&str>) -> Result<EntityType> {
        match param {
            None => Err(Error::bad_request("entity-type query parameter required.")),
            Some(p) if p.eq_ignore_ascii_case("user") => Ok(EntityType::User),
            Some(p) if p.eq_ignore_ascii_case("group") => Ok(EntityType::Group),
            Some(p) => Err(Error::bad_request(format!("Unknown type: {p}"))),
        }
    }
}

/// The three value types Crowd's REST search knows
/// (`SearchRestrictionEntityTranslator.SupportedType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    String,
    Boolean,
    Date,
}

impl ValueType {
    /// `STRING`, `BOOLEAN` or `DATE`, in any case (Crowd upper-cases before `valueOf`).
    pub fn parse(text: &str) -> Option<ValueType> {
        [ValueType::String, ValueType::Boolean, ValueType::Date]
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(text.trim()))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::String => "STRING",
            ValueType::Boolean => "BOOLEAN",
            ValueType::Date => "DATE",
        }
    }
}

/// A property Crowd knows by name for users (`UserTermKeys`) or groups (`GroupTermKeys`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Term {
    Name,
    Email,
    FirstName,
    LastName,
    DisplayName,
    Description,
    Active,
    Local,
    ExternalId,
    CreatedDate,
    UpdatedDate,
}

const USER_TERMS: &[Term] = &[
    Term::Name,
    Term::Email,
    Term::FirstName,
    Term::LastName,
    Term::DisplayName,
    Term::Active,
    Term::ExternalId,
    Term::CreatedDate,
    Term::UpdatedDate,
];

const GROUP_TERMS: &[Term] = &[
    Term::Name,
    Term::Description,
    Term::Active,
    Term::Local,
    Term::CreatedDate,
    Term::UpdatedDate,
    Term::ExternalId,
];

impl Term {
    /// The term of `entity` spelled exactly `key` (Crowd's names are case-sensitive).
    pub fn of(entity: EntityType, key: &str) -> Option<Term> {
        let terms = match entity {
            EntityType::User => USER_TERMS,
            EntityType::Group => GROUP_TERMS,
        };
        terms.iter().copied().find(|t| t.key() == key)
    }

    pub fn key(self) -> &'static str {
        match self {
            Term::Name => "name",
            Term::Email => "email",
            Term::FirstName => "firstName",
            Term::LastName => "lastName",
            Term::DisplayName => "displayName",
            Term::Description => "description",
            Term::Active => "active",
            Term::Local => "local",
            Term::ExternalId => "externalId",
            Term::CreatedDate => "createdDate",
            Term::UpdatedDate => "updatedDate",
        }
    }

    pub fn value_type(self) -> ValueType {
        match self {
            Term::Active | Term::Local => ValueType::Boolean,
            Term::CreatedDate | Term::UpdatedDate => ValueType::Date,
            _ => ValueType::String,
        }
    }
}

/// What a restriction looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Property {
    Term(Term),
    /// A custom attribute, by its exact name.
    Attribute(String),
}

impl Property {
    /// The term of `entity` called `name`, or else the custom attribute of that name.
    pub fn named(entity: EntityType, name: &str) -> Property {
        Term::of(entity, name).map_or_else(|| Property::Attribute(name.to_string()), Property::Term)
    }

    pub fn name(&self) -> &str {
        match self {
            Property::Term(t) => t.key(),
            Property::Attribute(a) => a,
        }
    }

    /// The type a term's values have; `None` for an attribute, whose values are text that a
    /// restriction may read as any type.
    pub fn value_type(&self) -> Option<ValueType> {
        match self {
            Property::Term(t) => Some(t.value_type()),
            Property::Attribute(_) => None,
        }
    }
}

/// How a property is compared with the value (Crowd's
/// `com.atlassian.crowd.search.query.entity.restriction.MatchMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchMode {
    ExactlyMatches,
    StartsWith,
    EndsWith,
    Contains,
    LessThan,
    LessThanOrEqual,
    GreaterThan,
    GreaterThanOrEqual,
    /// The property is missing or empty; the value is ignored.
    Null,
}

const MODES: [MatchMode; 9] = [
    MatchMode::ExactlyMatches,
    MatchMode::StartsWith,
    MatchMode::EndsWith,
    MatchMode::Contains,
    MatchMode::LessThan,
    MatchMode::LessThanOrEqual,
    MatchMode::GreaterThan,
    MatchMode::GreaterThanOrEqual,
    MatchMode::Null,
];

impl MatchMode {
    /// Crowd's name for the mode, in any case (Crowd upper-cases before `valueOf`).
    pub fn parse(text: &str) -> Option<MatchMode> {
        MODES.into_iter().find(|m| m.as_str().eq_ignore_ascii_case(text.trim()))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MatchMode::ExactlyMatches => "EXACTLY_MATCHES",
            MatchMode::StartsWith => "STARTS_WITH",
            MatchMode::EndsWith => "ENDS_WITH",
            MatchMode::Contains => "CONTAINS",
            MatchMode::LessThan => "LESS_THAN",
            MatchMode::LessThanOrEqual => "LESS_THAN_OR_EQUAL",
            MatchMode::GreaterThan => "GREATER_THAN",
            MatchMode::GreaterThanOrEqual => "GREATER_THAN_OR_EQUAL",
            MatchMode::Null => "NULL",
        }
    }

    /// Modes that only make sense on text: Crowd turns them into SQL `LIKE`.
    fn is_textual(self) -> bool {
        matches!(self, MatchMode::StartsWith | MatchMode::EndsWith | MatchMode::Contains)
    }

    /// Whether an ordering of property against value satisfies this mode.
    fn accepts(self, ord: Ordering) -> bool {
        match self {
            MatchMode::ExactlyMatches => ord == Ordering::Equal,
            MatchMode::LessThan => ord == Ordering::Less,
            MatchMode::LessThanOrEqual => ord != Ordering::Greater,
            MatchMode::GreaterThan => ord == Ordering::Greater,
            MatchMode::GreaterThanOrEqual => ord != Ordering::Less,
            _ => false,
        }
    }
}

/// What a property is compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    String(String),
    Bool(bool),
    /// Milliseconds since the Unix epoch.
    Date(i64),
}

impl Value {
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::String(_) => ValueType::String,
            Value::Bool(_) => ValueType::Boolean,
            Value::Date(_) => ValueType::Date,
        }
    }
}

/// One comparison. Built by [`PropertyRestriction::new`], which checks that the parts fit
/// together and keeps text lower-cased, so evaluation never re-checks or re-folds the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyRestriction {
    property: Property,
    mode: MatchMode,
    value: Value,
}

impl PropertyRestriction {
    /// Refuses a value of another type than the term's (`active` compared with text), and a
    /// text-only mode (`CONTAINS`, …) on a boolean or a date, which Crowd would hand to SQL
    /// as a `LIKE` on a non-text column.
    pub fn new(property: Property, mode: MatchMode, value: Value) -> Result<PropertyRestriction> {
        if let Some(expected) = property.value_type() {
            if expected != value.value_type() && mode != MatchMode::Null {
                return Err(invalid(format_args!(
                    "'{}' is {}, not {}",
                    property.name(),
                    expected.as_str(),
                    value.value_type().as_str()
                )));
            }
        }
        if mode.is_textual() && !matches!(value, Value::String(_)) {
            return Err(invalid(format_args!(
                "{} applies to text only, not to the {} '{}'",
                mode.as_str(),
                value.value_type().as_str(),
                property.name()
            )));
        }
        let value = match value {
            Value::String(s) => Value::String(s.to_lowercase()),
            v => v,
        };
        Ok(PropertyRestriction { property, mode, value })
    }

    pub fn property(&self) -> &Property {
        &self.property
    }

    pub fn mode(&self) -> MatchMode {
        self.mode
    }

    /// The value; text is lower-cased.
    pub fn value(&self) -> &Value {
        &self.value
    }

    fn matches(&self, subject: &dyn Subject) -> bool {
        match &self.property {
            Property::Term(t) => self.matches_field(subject.field(*t)),
            Property::Attribute(name) => match subject.attribute(name) {
                None => self.mode == MatchMode::Null,
                Some(values) if self.mode == MatchMode::Null => values.iter().all(String::is_empty),
                // Crowd joins the attribute table: one matching value selects the entity.
                Some(values) => values.iter().any(|v| self.matches_attribute_value(v)),
            },
        }
    }

    fn matches_field(&self, field: Field<'_>) -> bool {
        match (field, &self.value) {
            (Field::Absent, _) => self.mode == MatchMode::Null,
            (Field::Text(t), _) if self.mode == MatchMode::Null => t.is_empty(),
            (_, _) if self.mode == MatchMode::Null => false,
            (Field::Text(t), Value::String(v)) => self.matches_text(t, v),
            (Field::Bool(b), Value::Bool(v)) => self.mode.accepts(b.cmp(v)),
            (Field::Date(d), Value::Date(v)) => self.mode.accepts(d.cmp(v)),
            _ => false,
        }
    }

    /// An attribute's values are text; a BOOLEAN or DATE restriction reads each as its type
    /// (`Boolean.valueOf`, the date forms of `date::parse`) and skips what does not read.
    fn matches_attribute_value(&self, text: &str) -> bool {
        match &self.value {
            Value::String(v) => self.matches_text(text, v),
            Value::Bool(v) => self.mode.accepts(text.eq_ignore_ascii_case("true").cmp(v)),
            Value::Date(v) => super::date::parse(text).is_some_and(|d| self.mode.accepts(d.cmp(v))),
        }
    }

    fn matches_text(&self, text: &str, value: &str) -> bool {
        let text = fold(text);
        match self.mode {
            MatchMode::StartsWith => text.starts_with(value),
            MatchMode::EndsWith => text.ends_with(value),
            MatchMode::Contains => text.contains(value),
            mode => mode.accepts(text.as_ref().cmp(value)),
        }
    }
}

/// Lower-cases as the value was (`str::to_lowercase`), without allocating when no character
/// would change: most stored names and emails are lower-case already.
fn fold(text: &str) -> Cow<'_, str> {
    let changes = |c: char| {
        let mut lower = c.to_lowercase();
        lower.next() != Some(c) || lower.next().is_some()
    };
    if text.chars().any(changes) {
        Cow::Owned(text.to_lowercase())
    } else {
        Cow::Borrowed(text)
    }
}

/// A search restriction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restriction {
    /// Everything: Crowd's `null-search-restriction`, or an empty CQL restriction.
    All,
    Property(PropertyRestriction),
    /// Every part (`and`) or any part (`!and`). An empty AND holds for all, an empty OR for
    /// none.
    Boolean {
        and: bool,
        parts: Vec<Restriction>,
    },
}

/// The stretch of a table's name keys (lower-cased names) a restriction can hold in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameKeys {
    /// Only this name.
    Exact(String),
    /// Names starting with this.
    Prefix(String),
}

impl NameKeys {
    /// How much of a table this leaves to scan: an exact name least, a longer prefix less.
    fn narrowness(&self) -> (bool, usize) {
        match self {
            NameKeys::Exact(n) => (true, n.len()),
            NameKeys::Prefix(p) => (false, p.len()),
        }
    }
}

impl Restriction {
    pub fn matches_user(&self, user: &UserRecord) -> bool {
        self.matches(user)
    }

    pub fn matches_group(&self, group: &GroupRecord) -> bool {
        self.matches(group)
    }

    fn matches(&self, subject: &dyn Subject) -> bool {
        match self {
            Restriction::All => true,
            Restriction::Property(p) => p.matches(subject),
            Restriction::Boolean { and: true, parts } => parts.iter().all(|p| p.matches(subject)),
            Restriction::Boolean { and: false, parts } => parts.iter().any(|p| p.matches(subject)),
        }
    }

    /// Whether this holds for every entity, so that a scan need not read the records.
    pub fn is_all(&self) -> bool {
        match self {
            Restriction::All => true,
            Restriction::Property(_) => false,
            Restriction::Boolean { and: true, parts } => parts.iter().all(Restriction::is_all),
            Restriction::Boolean { and: false, parts } => parts.iter().any(Restriction::is_all),
        }
    }

    /// The name keys every match lies in, when the restriction (or one part of an AND) is
    /// `name` EXACTLY_MATCHES or STARTS_WITH: the store then reads that stretch of the table,
    /// not all of it. Matches inside it are still checked against the whole restriction.
    pub fn name_prefix(&self) -> Option<NameKeys> {
        match self {
            Restriction::Property(p) if p.property == Property::Term(Term::Name) => {
                match (p.mode, &p.value) {
                    (MatchMode::ExactlyMatches, Value::String(s)) => {
                        Some(NameKeys::Exact(s.clone()))
                    }
                    (MatchMode::StartsWith, Value::String(s)) => Some(NameKeys::Prefix(s.clone())),
                    _ => None,
                }
            }
            Restriction::Boolean { and: true, parts } => {
                parts.iter().filter_map(Restriction::name_prefix).max_by_key(|k| k.narrowness())
            }
            Restriction::Boolean { and: false, parts } if parts.len() == 1 => {
                parts[0].name_prefix()
            }
            _ => None,
        }
    }
}

/// A property's value on one entity.
enum Field<'a> {
    Text(&'a str),
    Bool(bool),
    Date(i64),
    /// The entity type has no such term.
    Absent,
}

/// What a restriction can be evaluated against.
trait Subject {
    fn field(&self, term: Term) -> Field<'_>;
    fn attribute(&self, name: &str) -> Option<&[String]>;
}

impl Subject for UserRecord {
    fn field(&self, term: Term) -> Field<'_> {
        match term {
            Term::Name => Field::Text(&self.name),
            Term::Email => Field::Text(&self.email),
            Term::FirstName => Field::Text(&self.first_name),
            Term::LastName => Field::Text(&self.last_name),
            Term::DisplayName => Field::Text(&self.display_name),
            Term::Active => Field::Bool(self.active),
            // Users carry no external id yet: every user's is empty.
            Term::ExternalId => Field::Text(""),
            Term::CreatedDate => Field::Date(self.created as i64),
            Term::UpdatedDate => Field::Date(self.updated as i64),
            Term::Description | Term::Local => Field::Absent,
        }
    }

    fn attribute(&self, name: &str) -> Option<&[String]> {
        self.attributes.get(name).map(Vec::as_slice)
    }
}

impl Subject for GroupRecord {
    fn field(&self, term: Term) -> Field<'_> {
        match term {
            Term::Name => Field::Text(&self.name),
            Term::Description => Field::Text(&self.description),
            Term::Active => Field::Bool(self.active),
            // Crowd's `local` marks a group kept beside a delegating LDAP directory; every
            // group throng holds belongs to its own directory.
            Term::Local => Field::Bool(false),
            // Groups carry no external id: every group's is empty.
            Term::ExternalId => Field::Text(""),
            Term::CreatedDate => Field::Date(self.created as i64),
            Term::UpdatedDate => Field::Date(self.updated as i64),
            Term::Email | Term::FirstName | Term::LastName | Term::DisplayName => Field::Absent,
        }
    }

    fn attribute(&self, name: &str) -> Option<&[String]> {
        self.attributes.get(name).map(Vec::as_slice)
    }
}
