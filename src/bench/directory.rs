//! `throng bench --directory`: a large directory (by default 100,000 users, 10,000 groups
//! nested five deep, 1,000,000 user memberships) and what usermanagement does with it:
//! nested groups of a user, a CQL search for a page of 100 users, the whole
//! `/group/membership` document, and `/event/{token}` after 1,000 changes.
//!
//! The directory is loaded straight into the data directory's store in one transaction
//! (`Store::load_bulk`) while no server runs, then a `throng serve` child serves it, so that
//! its peak resident size is the server's alone.

use super::client::Connection;
use super::loadgen::{self, Request, Scenario};
use super::{create_application, ChildServer, Options, TempDir};
use crate::store::directory::bulk::Bulk;
use crate::store::records::{GroupRecord, UserRecord};
use crate::store::Store;
use std::time::{Duration, Instant};

/// The directory's shape.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub users: usize,
    pub groups: usize,
    pub memberships: usize,
}

impl Shape {
    pub fn scaled(users: usize) -> Shape {
        Shape { users, groups: users / 10, memberships: users * 10 }
    }
}

/// Groups by level, leaves first: 80%, 16%, 3.2%, 0.64%, the rest; each group's parent is a
/// group of the next level, so a leaf has four ancestors (nesting five deep).
fn levels(groups: usize) -> Vec<std::ops::Range<usize>> {
    let mut sizes = Vec::new();
    let mut left = groups;
    for _ in 0..4 {
        let n = (left * 4 / 5).max(1).min(left.saturating_sub(1).max(1));
        sizes.push(n);
        left -= n;
    }
    sizes.push(left.max(1));
    let mut start = 0;
    sizes
        .into_iter()
        .map(|n| {
            let r = start..start + n;
            start += n;
            r
        })
        .collect()
}

pub(super) fn user_name(i: usize) -> String {
    format!("u{i:06}")
}

pub(super) fn group_name(i: usize) -> String {
    format!("g{i:05}")
}

/// The whole directory, deterministic.
pub fn generate(shape: Shape, now: u64) -> Bulk {
    let mut bulk = Bulk::default();
    for i in 0..shape.users {
        let name = user_name(i);
        bulk.users.push(UserRecord {
            directory_id: 1,
            first_name: format!("First{i}"),
            last_name: format!("Last{i}"),
            display_name: format!("First{i} Last{i}"),
            email: format!("{name}@example.com"),
            active: true,
            created: now,
            updated: now,
            name,
            ..Default::default()
        });
    }
    for i in 0..shape.groups {
        bulk.groups.push(GroupRecord {
            directory_id: 1,
            name: group_name(i),
            description: format!("group {i}"),
            kind: "GROUP".into(),
            active: true,
            created: now,
            updated: now,
            attributes: Default::default(),
        });
    }
    let levels = levels(shape.groups);
    for pair in levels.windows(2) {
        let (level, up) = (&pair[0], &pair[1]);
        for g in level.clone() {
            let parent = up.start + (g * 7) % up.len();
            bulk.group_memberships.push((group_name(g), group_name(parent)));
        }
    }
    let leaves = &levels[0];
    let per_user = shape.memberships / shape.users.max(1);
    for u in 0..shape.users {
        for k in 0..per_user {
            // Distinct leaves per user: steps of a stride coprime with most leaf counts.
            let g = leaves.start + (u * 31 + k * 997) % leaves.len();
            bulk.user_memberships.push((user_name(u), group_name(g)));
        }
    }
    bulk.user_memberships.sort();
    bulk.user_memberships.dedup();
    bulk
}

fn get(path: String, app: &(String, String)) -> Request {
    Request::get(&path).basic(&app.0, &app.1).header("Accept", "application/json")
}

fn row(name: &str, s: loadgen::Stats) -> (String, loadgen::Stats) {
    (name.to_string(), s)
}

/// Runs the whole measurement and prints it.
pub fn run(o: &Options, shape: Shape) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = TempDir::new("throng-bench-directory");
    // A first start makes the data directory, its key and the internal directory.
    ChildServer::start(&exe, &dir.0, &o.serve_args)?.stop();
    let started = Instant::now();
    let bulk = generate(shape, 1_700_000_000_000);
    let generated = started.elapsed();
    {
        let store = Store::open(&dir.0.join(crate::app::DB_FILE)).map_err(|e| e.to_string())?;
        store.load_bulk(1, &bulk).map_err(|e| e.to_string())?;
    }
    let loaded = started.elapsed() - generated;
    let file = std::fs::metadata(dir.0.join(crate::app::DB_FILE)).map_or(0, |m| m.len());
    drop(bulk);
    let mut server = ChildServer::start(&exe, &dir.0, &o.serve_args)?;
    let addr = server.addr;
    let app = create_application(addr, "", "admin", &server.admin_password)?;
    println!(
        "throng bench --directory: {} users, {} groups ({} nested), {} user memberships; loaded in {:.1} s, file {:.0} MiB; server started in {:.0} ms\n",
        shape.users,
        shape.groups,
        shape.groups - levels(shape.groups).last().map_or(0, |l| l.len()),
        shape.users * (shape.memberships / shape.users.max(1)),
        loaded.as_secs_f64(),
        file as f64 / (1 << 20) as f64,
        server.cold_start.as_secs_f64() * 1e3
    );
    let mut rows = Vec::new();
    let pick = |k: usize| (k * 7919) % shape.users;

    let nested: Vec<Request> = (0..1000)
        .map(|k| {
            get(
                format!("/rest/usermanagement/1/user/group/nested?username={}", user_name(pick(k))),
                &app,
            )
        })
        .collect();
    let stats = loadgen::run(addr, &Scenario::cycle(nested), o.connections, o.duration, o.warmup);
    rows.push(row("nested groups of a user", stats));

    // Names u000100..u000199 and the like: exactly 100 users per prefix.
    let prefixes = shape.users / 100;
    let search: Vec<Request> = (0..prefixes.min(1000))
        .map(|k| {
            let cql = crate::http::request::percent_encode(&format!("name = \"u{:04}*\"", (k * 37) % prefixes));
            get(format!("/rest/usermanagement/1/search?entity-type=user&restriction={cql}&max-results=100"), &app)
        })
        .collect();
    let stats = loadgen::run(addr, &Scenario::cycle(search), o.connections, o.duration, o.warmup);
    rows.push(row("CQL search, 100 users", stats));

    // The same without the name index: a filter on e-mail, the first 100 of many matches.
    let cql = crate::http::request::percent_encode("email = \"*example*\" and active = true");
    let unindexed = get(format!("/rest/usermanagement/1/search?entity-type=user&restriction={cql}&max-results=100&expand=user"), &app);
    let stats =
        loadgen::run(addr, &Scenario::fixed(unindexed), o.connections, o.duration, o.warmup);
    rows.push(row("CQL e-mail search, 100 users", stats));
    loadgen::print_table(&rows, None);

    // The bulk memberships document, once, on its own.
    let before = server.peak_rss_kib().unwrap_or(0);
    let mut conn = Connection::connect(addr).map_err(|e| e.to_string())?;
    let t = Instant::now();
    let all = Request::get("/rest/usermanagement/1/group/membership")
        .basic(&app.0, &app.1)
        .header("Accept", "application/xml");
    let r = all.send(&mut conn).map_err(|e| e.to_string())?;
    let took = t.elapsed();
    if r.status != 200 {
        return Err(format!("/group/membership answered {}", r.status));
    }
    let users_listed = r.body.windows(7).filter(|w| w == b"<user n").count();
    println!(
        "\n/group/membership: {:.2} s, {:.1} MiB, {} user memberships listed; server peak RSS {:.1} → {:.1} MiB",
        took.as_secs_f64(),
        r.body.len() as f64 / (1 << 20) as f64,
        users_listed,
        before as f64 / 1024.0,
        server.peak_rss_kib().unwrap_or(0) as f64 / 1024.0
    );
    drop(r);

    // Incremental sync: a token, 1,000 changes, then what changed since the token.
    let token_json = super::call(addr, &get("/rest/usermanagement/1/event".into(), &app), 200)?;
    let token = token_json["newEventToken"].as_str().ok_or("no event token")?.to_string();
    let t = Instant::now();
    for k in 0..1000 {
        let (u, g) = (user_name(pick(k + 5000)), group_name(shape.groups - 1 - k % 16));
        let req = Request::post(&format!("/rest/usermanagement/1/group/user/direct?groupname={g}"))
            .basic(&app.0, &app.1)
            .header("Accept", "application/json")
            .json(&serde_json::json!({ "name": u }));
        let resp = req.send(&mut conn).map_err(|e| e.to_string())?;
        if resp.status != 201 && resp.status != 409 {
            return Err(format!("adding a membership answered {}: {}", resp.status, resp.text()));
        }
    }
    let writes = t.elapsed();
    let mut times = Vec::new();
    let mut events = 0;
    for _ in 0..20 {
        let t = Instant::now();
        let r = get(format!("/rest/usermanagement/1/event/{token}"), &app)
            .send(&mut conn)
            .map_err(|e| e.to_string())?;
        times.push(t.elapsed());
        if r.status != 200 {
            return Err(format!("/event/{{token}} answered {}", r.status));
        }
        events = r.json()["events"].as_array().map_or(0, Vec::len);
    }
    times.sort();
    println!(
        "/event/{{token}} after 1,000 changes ({:.0} writes/s, one connection): {} events, median {:.1} ms, max {:.1} ms",
        1000.0 / writes.as_secs_f64(),
        events,
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1])
    );
    println!(
        "\nserver peak RSS over the whole run: {:.1} MiB",
        server.peak_rss_kib().unwrap_or(0) as f64 / 1024.0
    );
    server.stop();
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
