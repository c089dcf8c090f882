//! HTTP: the handler our tiny_http fork runs on each connection (`server`), the front door's
//! limits from the configuration (`limits`), the request and response types handlers see, and
//! the router, which picks the API namespace (`api::NAMESPACES`, each with its own table).
//! Nothing outside this module touches tiny_http.

pub mod body;
pub mod failure;
pub mod limits;
pub mod request;
pub mod response;
pub mod router;
pub mod server;

pub use request::{Method, Request};
pub use response::Response;
