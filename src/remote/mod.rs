//! Calls to other servers: the one HTTP client throng has ([`client`]), and the access
//! tokens its outgoing application links hold ([`tokens`]). Nothing here serves requests;
//! `domain` and `api` reach other servers only through these.

pub mod client;
pub mod crowd;
pub mod events;
pub mod login;
pub mod schedule;
pub mod snapshot;
pub mod sync;
pub mod tokens;
