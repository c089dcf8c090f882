//! `throng bench --sync USERS`: directory sync over OAuth 2.0 between two `throng serve`
//! children on loopback. A holds a directory of USERS users, a tenth as many groups and five
//! memberships per user, loaded straight into its store; B syncs it as application `jira`
//! through an outgoing application link to A's token endpoint. Measured: B's first full sync,
//! a full re-sync that finds nothing to change, incremental syncs after 100 changes on A
//! (rounds of them), and B's peak resident size, which is the syncing side's cost.
//!
//! [`link`] is the part B set-up of the README as calls, for the tests too.

use super::client::Connection;
use super::loadgen::Request;
use super::{call, create_application, ChildServer, Options, TempDir};
use crate::store::directory::bulk::Bulk;
use crate::store::Store;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const LINKS: &str = "/rest/admin/1.0/application-links";
const DIRS: &str = "/rest/admin/1.0/directory/detailed";

/// One server and its administrator's password.
#[derive(Clone, Copy)]
pub struct Server<'a> {
    pub addr: SocketAddr,
    pub admin_password: &'a str,
}

impl Server<'_> {
    fn admin(&self, req: Request) -> Request {
        req.basic("admin", self.admin_password).header("Accept", "application/json")
    }

    fn call(&self, req: Request, want: u16) -> Result<Value, String> {
        call(self.addr, &self.admin(req), want)
    }
}

/// Part B between two servers: on A an incoming link `from-b` and application `jira` taking
/// it (directory 1, loopback allowed); on B an outgoing link `to-a` with its credentials and a
/// `CROWD` directory `From A` using it, synchronised only when asked. Returns B's directory id.
pub fn link(a: Server<'_>, b: Server<'_>) -> Result<u64, String> {
    let incoming = json!({"name": "from-b", "direction": "INCOMING",
        "redirectUrl": format!("http://{}", b.addr)});
    let created = a.call(Request::post(LINKS).json(&incoming), 201)?;
    let client = &created["oauthClient"];
    let jira = json!({"name": "jira", "type": "JIRA", "active": true, "application-link": "from-b",
        "directory-mappings": [{"directory-id": 1, "authenticate-all": true}],
        "remote-addresses": [{"value": "127.0.0.1"}]});
    a.call(Request::post(super::APP_PATH).json(&jira), 201)?;
    let outgoing = json!({"name": "to-a", "direction": "OUTGOING", "serviceProvider": "throng A",
        "tokenUrl": format!("http://{}{}", a.addr, super::TOKEN_PATH),
        "clientId": client["clientId"], "clientSecret": client["clientSecret"]});
    b.call(Request::post(LINKS).json(&outgoing), 201)?;
    let dir = json!({"name": "From A", "type": "CROWD", "serverUrl": format!("http://{}", a.addr),
        "applicationName": "jira", "applicationLink": "to-a", "syncInterval": "off"});
    let created = b.call(Request::post(DIRS).json(&dir), 201)?;
    created["id"].as_u64().ok_or_else(|| format!("no directory id in {created}"))
}

/// Synchronises B's directory `dir` and waits; how it went and how long the call took.
pub fn sync(b: Server<'_>, dir: u64, mode: &str) -> Result<(Value, Duration), String> {
    let started = Instant::now();
    let path = format!("{DIRS}/{dir}/synchronize?wait=true&mode={mode}");
    let status = b.call(Request::post(&path), 200)?;
    if status["state"] != "SUCCEEDED" {
        return Err(format!("the sync did not succeed: {status}"));
    }
    Ok((status, started.elapsed()))
}

/// 100 changes on A through application `app`: 40 users' names and attributes, 20 new users,
/// 10 users removed, 30 memberships added. `round` keeps each round's changes its own.
fn hundred_changes(
    a: SocketAddr,
    app: &(String, String),
    round: usize,
    users: usize,
) -> Result<(), String> {
    let mut conn = Connection::connect(a).map_err(|e| e.to_string())?;
    let mut send = |method: &str, path: String, body: Value, want: u16| -> Result<(), String> {
        let mut req = Request::new(method, &format!("/rest/usermanagement/1{path}"))
            .basic(&app.0, &app.1)
            .header("Accept", "application/json");
        if !body.is_null() {
            req = req.json(&body);
        }
        let r = req.send(&mut conn).map_err(|e| e.to_string())?;
        if r.status != want {
            return Err(format!("{method} {path}: {} {}", r.status, r.text()));
        }
        Ok(())
    };
    let user = |k: usize| super::directory::user_name((round * 997 + k * 7919) % users);
    for k in 0..40 {
        let name = user(k);
        send(
            "PUT",
            format!("/user?username={name}"),
            json!({"name": name, "first-name": format!("R{round}"),
            "last-name": "Changed", "display-name": format!("R{round} Changed"), "email": format!("{name}@example.com"), "active": true}),
            204,
        )?;
    }
    for k in 0..20 {
        let name = format!("new-{round}-{k}");
        send(
            "POST",
            "/user".into(),
            json!({"name": name, "active": true, "password": {"value": "pw-new-user"}}),
            201,
        )?;
    }
    for k in 0..10 {
        send("DELETE", format!("/user?username=new-{round}-{k}"), Value::Null, 204)?;
    }
    for k in 0..30 {
        let group = super::directory::group_name(k);
        send(
            "POST",
            format!("/group/user/direct?groupname={group}"),
            json!({"name": format!("new-{round}-{}", 10 + k % 10)}),
            201,
        )
        .or_else(|e| if e.contains(" 409 ") { Ok(()) } else { Err(e) })?;
    }
    Ok(())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

pub fn run(o: &Options, users: usize) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let shape = super::directory::Shape { users, groups: users / 10, memberships: users * 5 };
    let a_dir = TempDir::new("throng-bench-sync-a");
    ChildServer::start(&exe, &a_dir.0, &o.serve_args)?.stop();
    let bulk: Bulk = super::directory::generate(shape, 1_700_000_000_000);
    let memberships = bulk.user_memberships.len() + bulk.group_memberships.len();
    {
        let store = Store::open(&a_dir.0.join(crate::app::DB_FILE)).map_err(|e| e.to_string())?;
        store.load_bulk(1, &bulk).map_err(|e| e.to_string())?;
    }
    drop(bulk);
    let a = ChildServer::start(&exe, &a_dir.0, &o.serve_args)?;
    let b_dir = TempDir::new("throng-bench-sync-b");
    let b = ChildServer::start(&exe, &b_dir.0, &o.serve_args)?;
    let (sa, sb) = (
        Server { addr: a.addr, admin_password: &a.admin_password },
        Server { addr: b.addr, admin_password: &b.admin_password },
    );
    let dir = link(sa, sb)?;
    let app = create_application(a.addr, "", "admin", &a.admin_password)?;
    println!(
        "throng bench --sync: A holds {} users, {} groups, {memberships} memberships; B syncs them over OAuth 2.0 (an outgoing application link)\n",
        shape.users, shape.groups
    );

    let (first, full) = sync(sb, dir, "full")?;
    let (again, refull) = sync(sb, dir, "full")?;
    let mut incremental = Vec::new();
    let mut last = Value::Null;
    for round in 0..o.rounds.max(3) {
        hundred_changes(a.addr, &app, round, shape.users)?;
        let (status, took) = sync(sb, dir, "auto")?;
        if status["mode"] != "INCREMENTAL" {
            return Err(format!("expected an incremental sync: {status}"));
        }
        incremental.push(took);
        last = status;
    }
    let rss = b.peak_rss_kib().unwrap_or(0) as f64 / 1024.0;
    let counts = |s: &Value| format!("+{} ~{} -{}", s["added"], s["updated"], s["removed"]);
    println!("{:<44} {:>10} {:>16} {:>10}", "measurement", "result", "changes", "target");
    println!(
        "{:<44} {:>8.2} s {:>16} {:>10}",
        "full sync, first",
        full.as_secs_f64(),
        counts(&first),
        "≤ 10 s"
    );
    println!(
        "{:<44} {:>8.2} s {:>16} {:>10}",
        "full sync, nothing changed",
        refull.as_secs_f64(),
        counts(&again),
        ""
    );
    println!(
        "{:<44} {:>7.0} ms {:>16} {:>10}",
        format!("incremental after 100 changes (median of {})", incremental.len()),
        median(incremental).as_secs_f64() * 1e3,
        counts(&last),
        "≤ 1 s"
    );
    println!("{:<44} {:>7.1} MiB {:>16} {:>10}", "B (syncing side) peak RSS", rss, "", "≤ 128 MiB");
    if let Some(file) = &o.hold {
        let line = format!("http://{} http://{} {dir} {}\n", a.addr, b.addr, b.child.id());
        std::fs::write(file, line).map_err(|e| format!("{}: {e}", file.display()))?;
        while file.exists() {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(())
}
