//! Crowd's user and group search (`/rest/usermanagement/1/search`): the restriction a caller
//! sends, read from either of its two spellings, and what it selects.
//!
//! - [`restriction`]: the typed tree (Crowd's `SearchRestriction`) and its evaluation;
//! - [`date`]: the date forms restrictions compare with.
//!
//! `store::search` runs a restriction over the user and group tables, paged.

pub mod date;
pub mod restriction;

pub use restriction::{
    EntityType, MatchMode, NameKeys, Property, PropertyRestriction, Restriction, Term, Value,
    ValueType,
};
