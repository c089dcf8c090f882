//! The `throng` command: `throng serve` runs the server; `throng --help` explains.

use std::process::ExitCode;
use throng::config::{Config, SERVE_OPTIONS};

fn usage() -> String {
    "throng — a Crowd-compatible identity server in one binary over one database file\n\n\
     Usage:\n  throng serve [OPTIONS]    run the server\n  throng bench [OPTIONS]    load-test a token endpoint (throng bench --help)\n  \
     throng --help             this text\n  \
     throng serve --help       every server option\n\n\
     Logging: set RUST_LOG (e.g. RUST_LOG=debug for one line per request).\n"
        .to_string()
}

fn serve_usage() -> String {
    let mut s = String::from(
        "Usage: throng serve [OPTIONS]\n\nOptions (each also read from the environment):\n",
    );
    for o in SERVE_OPTIONS {
        s.push_str(&format!("  {} {:<10} {}\n      env {}\n", o.flag, o.value, o.help, o.env));
    }
    s.push_str(
        "\nOn first start with an empty data directory, user 'admin' is created in group\n\
         crowd-administrators with the password from THRONG_ADMIN_PASSWORD, or a generated one\n\
         that is logged once and written to DATA/initial-admin-password.\n",
    );
    s
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve") => {
            if args.iter().any(|a| a == "--help" || a == "-h") {
                print!("{}", serve_usage());
                return ExitCode::SUCCESS;
            }
            serve(&args[1..])
        }
        Some("bench") => ExitCode::from(throng::bench::main(&args[1..]) as u8),
        Some("--help" | "-h" | "help") => {
            print!("{}", usage());
            ExitCode::SUCCESS
        }
        Some("--version" | "-V") => {
            println!("throng {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprint!("throng: unknown command '{other}'\n\n{}", usage());
            ExitCode::from(2)
        }
        None => {
            eprint!("throng: no command given\n\n{}", usage());
            ExitCode::from(2)
        }
    }
}

fn serve(args: &[String]) -> ExitCode {
    let config = match Config::from_args_and_env(args, |k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("throng serve: {e}");
            return ExitCode::from(2);
        }
    };
    let mut signals = match signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("throng serve: cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let server = match throng::start(config) {
        Ok(s) => s,
        Err(e) => {
            log::error!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(sig) = signals.forever().next() {
        log::info!("signal {sig}: shutting down");
    }
    server.shutdown();
    log::info!("stopped");
    ExitCode::SUCCESS
}
