//! `cargo bench`: the token suite of `throng bench`, against a throng started in-process.
//!
//! Same scenarios and table as `throng bench` (ceiling, issue, validate, introspect, mixed),
//! each row also as a share of the ceiling measured in the same run. The server runs in this
//! process on a fresh temp data directory; `throng bench` runs it as a separate process and
//! also reports its RSS. Set THRONG_BENCH_SECONDS, THRONG_BENCH_CONNECTIONS, THRONG_BENCH_ROUNDS.
//!
//! ```text
//! cargo bench
//! THRONG_BENCH_SECONDS=10 THRONG_BENCH_ROUNDS=3 cargo bench
//! ```

use std::time::Duration;
use throng::bench::{create_application, create_client, run_suite, Options, TempDir};
use throng::config::Config;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

fn main() {
    let options = Options {
        duration: Duration::from_secs_f64(env_or("THRONG_BENCH_SECONDS", 5.0)),
        connections: env_or("THRONG_BENCH_CONNECTIONS", 8),
        rounds: env_or("THRONG_BENCH_ROUNDS", 1),
        ..Options::default()
    };
    let dir = TempDir::new("throng-cargo-bench");
    let password = "bench-admin-password";
    let config = Config {
        data_dir: dir.0.clone(),
        listen: "127.0.0.1:0".parse().expect("an address"),
        admin_password: Some(password.into()),
        pbkdf2_iterations: 1000,
        ..Config::default()
    };
    let server = throng::start(config).expect("throng starts");
    let result = create_client(server.addr(), "", "admin", password).and_then(|(id, secret)| {
        let app = create_application(server.addr(), "", "admin", password)?;
        run_suite(server.addr(), "", (&id, &secret), Some((&app.0, &app.1)), None, &options)
    });
    match result {
        Ok(rows) => {
            println!(
                "throng in-process: {} connections, {:?} per scenario x {} round(s)\n",
                options.connections, options.duration, options.rounds
            );
            throng::bench::loadgen::print_table(&rows, Some("ceiling"));
        }
        Err(e) => {
            eprintln!("tokens bench failed: {e}");
            std::process::exit(1);
        }
    }
    server.shutdown();
}
