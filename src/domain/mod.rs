//! The rules of throng, free of HTTP: who may do what, what makes a token live, what a
//! service account may hold, what makes a valid user or group, how an application
//! authenticates and where it may call from. Handlers in `api/` call these; these call
//! `store/`.

pub mod access;
pub mod admin;
pub mod applications;
pub mod assertion;
pub mod audit;
pub mod client_keys;
pub mod clock;
pub mod directory;
pub mod jwks;
pub mod links;
pub mod login;
pub mod oauth;
pub mod registry;
pub mod scim;
pub mod search;
pub mod service_accounts;
pub mod sessions;
pub mod throttle;
pub mod tokens;
