//! Crowd's user and group search (`/rest/usermanagement/1/search`): the restriction a caller
//! sends, read from either of its two spellings, and what it selects.
//!
//! - [`restriction`]: the typed tree (Crowd's `SearchRestriction`) and its evaluation;
//! - [`cql`]: the Crowd Query Language of `GET /search?restriction=…`
//!   (https://developer.atlassian.com/server/crowd/crowd-query-language/);
//! - [`body`]: the `SearchRestrictionEntity` of `POST /search`, in JSON or XML;
//! - [`date`]: the date forms both accept.
//!
//! `store::search` runs a restriction over the user and group tables, paged.

pub mod body;
pub mod cql;
pub mod date;
pub mod restriction;

pub use restriction::{
    EntityType, MatchMode, NameKeys, Property, PropertyRestriction, Restriction, Term, Value,
    ValueType,
};

#[cfg(test)]
mod tests;
