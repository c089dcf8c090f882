//! SCIM 2.0 provisioning (RFC 7643, RFC 7644) into a `SCIM` directory, as Atlassian's
//! user-provisioning API does it: the schemas ([`schema`]), reading what clients write
//! ([`doc`]), filters and PATCH paths ([`filter`]), PATCH ([`patch`]), and here the rules that
//! turn a SCIM resource into a throng user or group and back.

pub mod doc;
pub mod filter;
pub mod patch;
pub mod resources;
pub mod schema;
