//! `throng bench --scim USERS`: SCIM provisioning against an own server, set up as part C
//! sets it up (a SCIM directory, a client with an ES256 key granted it, a `manage:directory`
//! token from a client assertion in Atlassian's JSON request).
//!
//! - `scim-create`: `POST /Users`, a new user each request, over `--connections`; every
//!   create is its own durable commit, so this is users per second as an IdP sees them.
//! - `scim-filter`: `GET /Users?filter=userName eq "…"` for random names, after `USERS`
//!   users are loaded straight into the store (one transaction, the server stopped), so
//!   that the directory's size, not the load's time, is what is measured.
//!
//! Both beside the HTTP ceiling (`GET /status`) of the same server.

use super::jwt::{claims, Signer};
use super::loadgen::{self, Request, Scenario};
use super::{call, ChildServer, Options, TempDir};
use crate::store::directory::scim::{Password, UserWrite};
use crate::store::records::UserRecord;
use crate::store::Store;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Instant;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// A SCIM directory, the key account granted it, and a token that may provision it.
pub struct Provisioning {
    pub dir: u64,
    /// `/scim/directory/{dir}`.
    pub base: String,
    pub account: u64,
    pub client_id: String,
    pub token: String,
}

/// Sets up what part C does, with admin Basic credentials: a SCIM directory named `name`
/// (with Atlassian's extension or not), an account holding `signer`'s key with
/// `manage:directory`, its grant, and a token from part C's JSON request.
pub fn setup(
    addr: SocketAddr,
    admin: (&str, &str),
    name: &str,
    atlassian_extension: bool,
    signer: &Signer,
) -> Result<Provisioning, String> {
    let created = call(
        addr,
        &Request::post("/rest/admin/1.0/directory/detailed").basic(admin.0, admin.1).json(
            &json!({"name": name, "type": "SCIM", "atlassianExtension": atlassian_extension}),
        ),
        201,
    )?;
    let dir = created["id"].as_u64().ok_or("no directory id")?;
    let account = call(
        addr,
        &Request::post(super::SA_PATH).basic(admin.0, admin.1).json(&json!({
            "displayName": "bench scim", "scopes": ["manage:directory"], "expiryDuration": 86_400,
            "jwks": signer.jwks()})),
        201,
    )?;
    let id = account["id"].as_u64().ok_or("no account id")?;
    let client = account["authMethods"][0]["clientId"].as_str().ok_or("no client id")?.to_string();
    call(
        addr,
        &Request::new("PUT", &format!("{}/{id}/directories", super::SA_PATH))
            .basic(admin.0, admin.1)
            .json(&json!({ "directories": [dir] })),
        200,
    )?;
    let meta = call(addr, &Request::get("/.well-known/oauth-authorization-server"), 200)?;
    let issuer = meta["issuer"].as_str().ok_or("no issuer")?;
    let aud = format!("{issuer}/oauth/token");
    let assertion = signer.sign(&claims(&client, &aud, super::jwt::unix_now(), 300));
    let token = call(
        addr,
        &Request::post("/oauth/token").json(&json!({
            "client_id": client, "grant_type": "client_credentials", "scope": "manage:directory",
            "client_assertion_type": super::jwt::ASSERTION_TYPE, "client_assertion": assertion})),
        200,
    )?;
    Ok(Provisioning {
        dir,
        base: format!("/scim/directory/{dir}"),
        account: id,
        client_id: client,
        token: token["access_token"].as_str().ok_or("no access_token")?.to_string(),
    })
}

fn user_doc(name: &str, i: usize) -> Value {
    json!({"schemas": [USER], "userName": name, "externalId": format!("ext-{name}"),
        "name": {"givenName": format!("First{i}"), "familyName": format!("Last{i}")},
        "emails": [{"value": format!("{name}@example.com"), "type": "work", "primary": true}],
        "active": true})
}

/// `POST /Users`, each connection making its own names.
fn create_scenario(p: &Provisioning) -> Scenario {
    let path = format!("{}/Users", p.base);
    let base =
        Request::post(&path).bearer(&p.token).header("Content-Type", "application/scim+json");
    let run = crate::crypto::hex(&crate::crypto::random_bytes::<4>());
    Scenario::per_connection(move |conn| {
        let base = base.clone();
        let run = run.clone();
        let mut i = 0usize;
        move |out: &mut Request, _| {
            if out.path.is_empty() {
                *out = base.clone();
            }
            i += 1;
            let name = format!("c{run}-{conn}-{i}");
            out.body = user_doc(&name, i).to_string().into_bytes();
        }
    })
}

fn loaded_name(i: usize) -> String {
    format!("s{i:07}")
}

/// Runs the measurement and prints it.
pub fn run(o: &Options, users: usize) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = TempDir::new("throng-bench-scim");
    let mut server = ChildServer::start(&exe, &dir.0, &o.serve_args)?;
    let signer = Signer::ec("bench-scim");
    let p = setup(server.addr, ("admin", &server.admin_password), "bench-scim", false, &signer)?;
    let ceiling = || Scenario::fixed(Request::get("/status"));
    let rows = vec![
        ("ceiling", loadgen::run(server.addr, &ceiling(), o.connections, o.duration, o.warmup)),
        (
            "scim-create",
            loadgen::run(server.addr, &create_scenario(&p), o.connections, o.duration, o.warmup),
        ),
    ];
    println!("throng bench --scim: {} connections, {:?} per scenario\n", o.connections, o.duration);
    loadgen::print_table(&rows, Some("ceiling"));
    server.stop();

    let started = Instant::now();
    let writes: Vec<UserWrite> = (0..users)
        .map(|i| {
            let name = loaded_name(i);
            let doc = user_doc(&name, i);
            let mut doc = doc.as_object().cloned().unwrap_or_default();
            doc.remove("schemas");
            UserWrite {
                user: UserRecord {
                    name,
                    first_name: format!("First{i}"),
                    last_name: format!("Last{i}"),
                    active: true,
                    ..UserRecord::default()
                },
                password: Password::Keep,
                doc,
            }
        })
        .collect();
    {
        let store = Store::open(&dir.0.join(crate::app::DB_FILE)).map_err(|e| e.to_string())?;
        store.scim_load_users(p.dir, writes, 1_700_000_000_000).map_err(|e| e.to_string())?;
    }
    let loaded = started.elapsed();
    let mut server = ChildServer::start(&exe, &dir.0, &o.serve_args)?;
    let addr = server.addr;
    let filters: Vec<Request> = (0..1000)
        .map(|k| {
            let name = loaded_name((k * 7919) % users.max(1));
            let filter = crate::http::request::percent_encode(&format!("userName eq \"{name}\""));
            Request::get(&format!("{}/Users?filter={filter}", p.base)).bearer(&p.token)
        })
        .collect();
    let check = call(addr, &filters[1], 200)?;
    if check["totalResults"] != 1 {
        return Err(format!("the filter found {} users, not 1", check["totalResults"]));
    }
    let rows = vec![
        ("ceiling", loadgen::run(addr, &ceiling(), o.connections, o.duration, o.warmup)),
        (
            "scim-filter userName",
            loadgen::run(addr, &Scenario::cycle(filters), o.connections, o.duration, o.warmup),
        ),
    ];
    println!(
        "\nafter loading {users} SCIM users into the directory ({:.1} s, server stopped):\n",
        loaded.as_secs_f64()
    );
    loadgen::print_table(&rows, Some("ceiling"));
    println!(
        "\nserver peak RSS (second start): {:.1} MiB",
        server.peak_rss_kib().unwrap_or(0) as f64 / 1024.0
    );
    server.stop();
    Ok(())
}
