//! The front door's bounds, from the configuration: how many connections throng holds, how
//! long a client may take over a head, a body or an idle keep-alive connection, and how big a
//! head may be. The connection layer (`vendor/tiny_http`, `door.rs` and `client.rs`) enforces
//! them; this module only chooses the numbers.

use crate::config::Config;
use std::time::Duration;

/// File descriptors kept back from connections: the database, the key files, the log, the
/// listener, the accept loop's spare, up to 129 refused connections queued and being drained
/// by the rejecter, and room for the unexpected. A connection costs one descriptor.
const FD_RESERVE: u64 = 192;
/// Threads kept back from connections (each has one): workers of the store, the rejecter,
/// the accept loop, and room for the unexpected.
const THREAD_RESERVE: u64 = 64;

/// How many more threads this process may make, where the system says: the cgroup's
/// `pids.max` (systemd's `TasksMax`), which counts threads.
pub fn thread_limit() -> Option<u64> {
    for path in ["/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/pids/pids.max"] {
        if let Ok(text) = std::fs::read_to_string(path) {
            return text.trim().parse().ok();
        }
    }
    None
}

/// The soft limit on open files of this process (Linux: `/proc/self/limits`), if known.
pub fn open_file_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line["Max open files".len()..].split_whitespace().next()?;
    // "unlimited" means there is no limit to derive from.
    soft.parse().ok()
}

/// The connection budget for an open-file limit: the limit less a reserve (at most half of
/// it, so that small limits still leave room for connections).
pub fn connections_for(open_files: Option<u64>) -> usize {
    match open_files {
        Some(n) => n.saturating_sub(FD_RESERVE.min(n / 2)).clamp(8, 1 << 20) as usize,
        None => 4096,
    }
}

/// What the connection layer enforces, from the configuration.
pub fn from_config(config: &Config) -> tiny_http::Limits {
    // A connection costs a descriptor and a thread: the budget fits both limits.
    let max_connections = config.max_connections.unwrap_or_else(|| {
        let by_threads = thread_limit().map(|n| n.saturating_sub(THREAD_RESERVE).max(8) as usize);
        connections_for(open_file_limit()).min(by_threads.unwrap_or(usize::MAX))
    });
    tiny_http::Limits {
        max_connections,
        idle_timeout: config.idle_timeout,
        head_timeout: config.head_timeout,
        body_timeout: config.body_timeout,
        min_body_rate: config.min_body_rate,
        max_head_bytes: config.max_head_bytes,
        max_headers: config.max_headers,
        max_url_bytes: config.max_url_bytes,
        max_body_bytes: config.max_body_bytes,
        // Enough for a good number of maximal bodies at once, never less than 64 MiB.
        max_body_memory: (config.max_body_bytes.saturating_mul(32)).max(64 << 20),
        write_timeout: Duration::from_secs(30),
        linger: Duration::from_secs(2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_leaves_a_reserve_for_files() {
        assert_eq!(connections_for(Some(1024)), 832);
        assert_eq!(connections_for(Some(128)), 64);
        assert_eq!(connections_for(Some(20_000)), 19_808);
        assert_eq!(connections_for(Some(10)), 8);
        assert_eq!(connections_for(None), 4096);
        assert!(open_file_limit().is_some_and(|n| n > 0));
    }
}
