//! The server's notion of now. Wall-clock time plus an offset that only in-process callers
//! (tests) can move, so expiry rules are tested without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        let real = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        (real + self.offset_ms.load(Ordering::Relaxed)).max(0) as u64
    }

    /// Seconds since the Unix epoch.
    pub fn now_secs(&self) -> u64 {
        self.now_ms() / 1000
    }

    /// Moves this clock forward (tests only reach it through `RunningServer`).
    pub fn advance(&self, by: Duration) {
        self.offset_ms.fetch_add(by.as_millis() as i64, Ordering::Relaxed);
    }
}

/// RFC 3339 UTC with milliseconds, as Atlassian's REST APIs write instants:
/// `2025-07-31T12:51:37.500Z`.
pub fn rfc3339_ms(ms: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_atlassian() {
        assert_eq!(rfc3339_ms(1_753_966_297_500), "2025-07-31T12:51:37.500Z");
    }

    #[test]
    fn advance_moves_now() {
        let c = Clock::default();
        let before = c.now_ms();
        c.advance(Duration::from_secs(3600));
        assert!(c.now_ms() >= before + 3_600_000);
    }
}
