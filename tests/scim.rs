//! SCIM 2.0 provisioning over HTTP (RFC 7643/7644, as Atlassian's API answers it): a SCIM
//! directory, a client with a key granted it, and users and groups created, read, listed,
//! filtered, replaced, patched and deleted, with what applications then see through
//! usermanagement.

mod common;

use common::*;
use serde_json::{json, Value};

#[test]
fn smoke() {
    let ts = TestServer::start();
    let scim = Scim::setup(&ts, false);
    let u = scim.user(&ts, "bjensen");
    println!("{u:#}");
    let r = scim.call(&ts, "GET", "/Users?filter=userName%20eq%20%22BJensen%22").send();
    println!("{}", r.text());
    assert_eq!(r.json()["totalResults"], 1);
    let _ = Value::Null;
    let _ = json!(1);
}
