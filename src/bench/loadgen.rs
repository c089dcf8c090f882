//! A closed-loop HTTP load generator on plain threads: C connections, each owned by one thread
//! that sends a request, waits for the answer and sends the next, until a deadline.
//!
//! It drives any HTTP/1.1 server (throng itself, a real Crowd, a peer) through the keep-alive
//! [`Connection`] of [`crate::bench::client`], and is built to cost as little as possible per
//! request so that it measures the server: a request is prepared once and reused, latency goes
//! into a per-thread log-linear [`Histogram`] (two clock reads and one counter increment per
//! request, merged when the run ends), and nothing is shared between threads while they run.
//! A [`Scenario`] says what each connection sends: one fixed request, a cycle of requests (a
//! mixed "1 issue : 10 validations" load), or a closure per connection that prepares the next
//! request, seeing the previous response. [`run`] returns [`Stats`]; [`print_table`] prints
//! several runs side by side with their ratio to a baseline, the HTTP ceiling (`GET /status`).

use crate::bench::client::{ClientResponse, Connection};
use std::fmt::{self, Write as _};
use std::net::SocketAddr;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// One HTTP request as the generator sends it. `Host` and `Content-Length` are added when sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn new(method: &str, path: &str) -> Request {
        Request { method: method.into(), path: path.into(), ..Request::default() }
    }

    pub fn get(path: &str) -> Request {
        Request::new("GET", path)
    }

    pub fn post(path: &str) -> Request {
        Request::new("POST", path)
    }

    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// `Authorization: Basic` with `user:password`.
    pub fn basic(self, user: &str, password: &str) -> Request {
        use base64::Engine;
        let v = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.header("Authorization", &format!("Basic {v}"))
    }

    /// `Authorization: Bearer`.
    pub fn bearer(self, token: &str) -> Request {
        self.header("Authorization", &format!("Bearer {token}"))
    }

    /// An `application/x-www-form-urlencoded` body, given already encoded (see [`form_encode`]).
    pub fn form(mut self, body: &str) -> Request {
        self.body = body.as_bytes().to_vec();
        self.header("Content-Type", "application/x-www-form-urlencoded")
    }

    /// An `application/json` body.
    pub fn json(mut self, value: &serde_json::Value) -> Request {
        self.body = serde_json::to_vec(value).expect("a JSON value serializes");
        self.header("Content-Type", "application/json")
    }

    /// Sends this request on `conn` without allocating for the header list.
    pub fn send(&self, conn: &mut Connection) -> std::io::Result<ClientResponse> {
        const INLINE: usize = 16;
        if self.headers.len() <= INLINE {
            let mut refs = [("", ""); INLINE];
            for (slot, (n, v)) in refs.iter_mut().zip(&self.headers) {
                *slot = (n.as_str(), v.as_str());
            }
            let refs = &refs[..self.headers.len()];
            conn.send(&self.method, &self.path, refs, &self.body)
        } else {
            let refs: Vec<(&str, &str)> =
                self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            conn.send(&self.method, &self.path, &refs, &self.body)
        }
    }
}

/// Percent-encodes one form value (RFC 3986 unreserved characters kept as they are).
pub use crate::http::request::percent_encode as form_encode;

/// Prepares a connection's next request in place. It gets the previous response on this
/// connection (`None` first, and after an I/O error), so a load can chain requests, e.g.
/// validate the token it has just been issued.
pub type Step = Box<dyn FnMut(&mut Request, Option<&ClientResponse>) + Send>;

/// What every connection of a run sends: a factory called once per connection (with the
/// connection's index) that makes that connection's [`Step`].
#[derive(Clone)]
pub struct Scenario {
    make: Arc<dyn Fn(usize) -> Step + Send + Sync>,
}

impl Scenario {
    /// The same request, again and again; it is prepared once per connection, never copied.
    pub fn fixed(request: Request) -> Scenario {
        Scenario::per_connection(move |_| {
            let mut first = Some(request.clone());
            move |out: &mut Request, _: Option<&ClientResponse>| {
                if let Some(r) = first.take() {
                    *out = r;
                }
            }
        })
    }

    /// The requests in turn, each connection starting at its own offset so that a mixed load
    /// (say one issue then ten validations) is spread evenly over time.
    pub fn cycle(requests: Vec<Request>) -> Scenario {
        assert!(!requests.is_empty(), "a cycle needs at least one request");
        if requests.len() == 1 {
            return Scenario::fixed(requests.into_iter().next().unwrap_or_default());
        }
        let requests = Arc::new(requests);
        Scenario::per_connection(move |conn| {
            let requests = requests.clone();
            let mut i = conn % requests.len();
            move |out: &mut Request, _: Option<&ClientResponse>| {
                // clone_from reuses the buffers already in `out`.
                out.clone_from(&requests[i]);
                i = (i + 1) % requests.len();
            }
        })
    }

    /// Any load: `make(connection_index)` returns the closure that prepares that connection's
    /// next request (in place, reusing its buffers) from the previous response.
    pub fn per_connection<F, G>(make: F) -> Scenario
    where
        F: Fn(usize) -> G + Send + Sync + 'static,
        G: FnMut(&mut Request, Option<&ClientResponse>) + Send + 'static,
    {
        Scenario { make: Arc::new(move |conn| Box::new(make(conn)) as Step) }
    }

    fn step(&self, conn: usize) -> Step {
        (self.make)(conn)
    }
}

impl fmt::Debug for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Scenario")
    }
}

/// Sub-buckets per power of two: values are kept within 1/128 (< 0.8%) of what was recorded,
/// exactly below 256.
const SUB_BITS: u32 = 7;
const SUB: usize = 1 << SUB_BITS;
const BUCKETS: usize = (64 - SUB_BITS as usize) * SUB + SUB;

/// A log-linear histogram of durations in nanoseconds (HdrHistogram's layout, fixed 0.8%
/// precision): ~58 KiB whatever the number of samples, O(1) to record, cheap to merge.
#[derive(Clone, PartialEq, Eq)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    min: u64,
    max: u64,
    sum: u128,
}

impl Default for Histogram {
    fn default() -> Histogram {
        Histogram::new()
    }
}

impl fmt::Debug for Histogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.total)
            .field("min", &self.min())
            .field("p50", &self.percentile(50.0))
            .field("p99", &self.percentile(99.0))
            .field("max", &self.max)
            .finish()
    }
}

fn bucket_of(v: u64) -> usize {
    if v < 2 * SUB as u64 {
        return v as usize;
    }
    let msb = 63 - v.leading_zeros();
    let shift = msb - SUB_BITS;
    shift as usize * SUB + (v >> shift) as usize
}

/// The largest value that falls in bucket `i`.
fn bucket_high(i: usize) -> u64 {
    if i < 2 * SUB {
        return i as u64;
    }
    let shift = (i / SUB - 1) as u32;
    let sub = (i % SUB + SUB) as u64;
    ((sub + 1) << shift).wrapping_sub(1)
}

impl Histogram {
    pub fn new() -> Histogram {
        Histogram { counts: vec![0; BUCKETS], total: 0, min: u64::MAX, max: 0, sum: 0 }
    }

    pub fn record(&mut self, nanos: u64) {
        self.counts[bucket_of(nanos)] += 1;
        self.total += 1;
        self.min = self.min.min(nanos);
        self.max = self.max.max(nanos);
        self.sum += nanos as u128;
    }

    pub fn record_duration(&mut self, d: Duration) {
        self.record(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.sum += other.sum;
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    /// Smallest value recorded; 0 when empty.
    pub fn min(&self) -> u64 {
        if self.total == 0 {
            0
        } else {
            self.min
        }
    }

    /// Largest value recorded, exactly; 0 when empty.
    pub fn max(&self) -> u64 {
        self.max
    }

    pub fn mean(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.sum as f64 / self.total as f64
        }
    }

    /// The `p`th percentile (0..=100) by nearest rank: the smallest recorded value such that at
    /// least `p`% of the samples are at or below it, reported as the top of its bucket (so never
    /// below the true value, and at most 0.8% above it) and never above the true maximum.
    /// 0 when empty.
    pub fn percentile(&self, p: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let p = p.clamp(0.0, 100.0);
        // The epsilon keeps p·n/100 from rounding just above a whole rank (99.9 × 1000).
        let rank = ((p * self.total as f64 / 100.0) - 1e-9).ceil();
        let rank = (rank.max(1.0) as u64).min(self.total);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return bucket_high(i).clamp(self.min, self.max);
            }
        }
        self.max
    }
}

/// What one run measured. Only requests started inside the measured window count (not the
/// warm-up); `elapsed` runs from the window's start to the last answer.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Answers received, whatever their status.
    pub requests: u64,
    /// Answers whose status was not 2xx (included in `requests`).
    pub non_2xx: u64,
    /// Requests that got no answer (connect, write or read failed; the connection is redone).
    pub io_errors: u64,
    /// Connections opened again after an I/O error or a `Connection: close`.
    pub reconnects: u64,
    pub elapsed: Duration,
    /// Latency of every answered request, in nanoseconds.
    pub latency: Histogram,
}

impl Stats {
    /// Answers with a 2xx status.
    pub fn ok(&self) -> u64 {
        self.requests - self.non_2xx
    }

    /// Non-2xx answers plus I/O errors.
    pub fn errors(&self) -> u64 {
        self.non_2xx + self.io_errors
    }

    /// Successful (2xx) requests per second: an error is not throughput.
    pub fn req_per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ok() as f64 / secs
        } else {
            0.0
        }
    }

    pub fn p50(&self) -> Duration {
        Duration::from_nanos(self.latency.percentile(50.0))
    }

    pub fn p90(&self) -> Duration {
        Duration::from_nanos(self.latency.percentile(90.0))
    }

    pub fn p99(&self) -> Duration {
        Duration::from_nanos(self.latency.percentile(99.0))
    }

    pub fn max(&self) -> Duration {
        Duration::from_nanos(self.latency.max())
    }

    fn merge(&mut self, other: &Stats) {
        self.requests += other.requests;
        self.non_2xx += other.non_2xx;
        self.io_errors += other.io_errors;
        self.reconnects += other.reconnects;
        self.latency.merge(&other.latency);
    }
}

/// Drives `addr` with `connections` keep-alive connections, each on its own thread, sending
/// `scenario`'s requests back to back: first for `warmup` (not measured), then for `duration`.
/// Connections are opened before the clock starts.
pub fn run(
    addr: SocketAddr,
    scenario: &Scenario,
    connections: usize,
    duration: Duration,
    warmup: Duration,
) -> Stats {
    let connections = connections.max(1);
    let barrier = Arc::new(Barrier::new(connections));
    let threads: Vec<_> = (0..connections)
        .map(|i| {
            let step = scenario.step(i);
            let barrier = barrier.clone();
            std::thread::Builder::new()
                .name(format!("loadgen-{i}"))
                .spawn(move || drive(addr, step, &barrier, duration, warmup))
                .expect("spawn a load generator thread")
        })
        .collect();
    let mut total = Stats::default();
    for t in threads {
        let (stats, elapsed) = t.join().expect("load generator thread panicked");
        total.merge(&stats);
        total.elapsed = total.elapsed.max(elapsed);
    }
    total
}

/// One connection's loop. Returns its stats and the time from its window's start to its last
/// answer (or the deadline, if later).
fn drive(
    addr: SocketAddr,
    mut step: Step,
    barrier: &Barrier,
    duration: Duration,
    warmup: Duration,
) -> (Stats, Duration) {
    let mut stats = Stats::default();
    let mut conn = Connection::connect(addr).ok();
    barrier.wait();
    let measure_from = Instant::now() + warmup;
    let deadline = measure_from + duration;
    let mut last_end = deadline;
    let mut req = Request::default();
    let mut last: Option<ClientResponse> = None;
    loop {
        let c = match conn.as_mut() {
            Some(c) => c,
            None => {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                match Connection::connect(addr) {
                    Ok(c) => {
                        stats.reconnects += 1;
                        conn.insert(c)
                    }
                    Err(_) => {
                        if now >= measure_from {
                            stats.io_errors += 1;
                        }
                        // The server is not there: do not spin.
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    }
                }
            }
        };
        step(&mut req, last.as_ref());
        let t0 = Instant::now();
        if t0 >= deadline {
            break;
        }
        let measured = t0 >= measure_from;
        match req.send(c) {
            Ok(resp) => {
                let t1 = Instant::now();
                if measured {
                    stats.latency.record_duration(t1 - t0);
                    stats.requests += 1;
                    if !(200..300).contains(&resp.status) {
                        stats.non_2xx += 1;
                    }
                    last_end = last_end.max(t1);
                }
                if resp.header("Connection").is_some_and(|v| v.eq_ignore_ascii_case("close")) {
                    conn = None;
                }
                last = Some(resp);
            }
            Err(_) => {
                if measured {
                    stats.io_errors += 1;
                }
                conn = None;
                last = None;
            }
        }
    }
    (stats, last_end - measure_from)
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

/// The rows as an aligned text table: req/s (2xx only), the percentage of the baseline row's
/// req/s (the row named `baseline`, when given), latency percentiles in milliseconds, errors.
pub fn format_table<S: AsRef<str>>(rows: &[(S, Stats)], baseline: Option<&str>) -> String {
    let base = baseline.and_then(|b| {
        rows.iter()
            .find(|(n, _)| n.as_ref() == b)
            .map(|(_, s)| s.req_per_sec())
            .filter(|r| *r > 0.0)
    });
    let ratio_header = format!("% {}", baseline.unwrap_or("baseline"));
    let header: Vec<String> = [
        "scenario",
        "req/s",
        ratio_header.as_str(),
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "non-2xx",
        "io err",
        "reconn",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut table = vec![header];
    for (name, s) in rows {
        table.push(vec![
            name.as_ref().to_string(),
            format!("{:.0}", s.req_per_sec()),
            match base {
                Some(b) => format!("{:.1}%", 100.0 * s.req_per_sec() / b),
                None => "-".into(),
            },
            ms(s.p50()),
            ms(s.p90()),
            ms(s.p99()),
            ms(s.max()),
            s.non_2xx.to_string(),
            s.io_errors.to_string(),
            s.reconnects.to_string(),
        ]);
    }
    let widths: Vec<usize> = (0..table[0].len())
        .map(|c| table.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (i, row) in table.iter().enumerate() {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c == 0 {
                let _ = write!(line, "{cell:<w$}", w = widths[c]);
            } else {
                let _ = write!(line, "  {cell:>w$}", w = widths[c]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
        if i == 0 {
            let width = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
            out.push_str(&"-".repeat(width));
            out.push('\n');
        }
    }
    out
}

/// Prints [`format_table`] to standard output.
pub fn print_table<S: AsRef<str>>(rows: &[(S, Stats)], baseline: Option<&str>) {
    print!("{}", format_table(rows, baseline));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(values: impl IntoIterator<Item = u64>) -> Histogram {
        let mut h = Histogram::new();
        for v in values {
            h.record(v);
        }
        h
    }

    #[test]
    fn empty_histogram_answers_zero() {
        let h = Histogram::new();
        assert_eq!(h.count(), 0);
        assert_eq!(h.percentile(50.0), 0);
        assert_eq!(h.percentile(100.0), 0);
        assert_eq!((h.min(), h.max(), h.mean()), (0, 0, 0.0));
    }

    #[test]
    fn nearest_rank_on_exact_values() {
        // 1..=100 in a shuffled order: the pth percentile of 100 values is the value p.
        let h = hist((1..=100).map(|i| (i * 37) % 100 + 1));
        assert_eq!(h.count(), 100);
        assert_eq!(h.percentile(50.0), 50);
        assert_eq!(h.percentile(90.0), 90);
        assert_eq!(h.percentile(99.0), 99);
        assert_eq!(h.percentile(100.0), 100);
        assert_eq!(h.percentile(0.0), 1);
        assert_eq!(h.percentile(0.5), 1);
        assert_eq!(h.percentile(50.5), 51);
        assert_eq!(h.mean(), 50.5);
    }

    #[test]
    fn fractional_percentiles_do_not_round_up_a_rank() {
        // 99.9 × 1000 / 100 is 999.000…1 in floating point: the rank is still 999, not 1000.
        let h = hist(1..=1000);
        assert_eq!(h.percentile(99.9), 999);
        assert_eq!(h.percentile(100.0), 1000);
        // Above 255 values share buckets of 2^k: 990 is reported as the top of [988, 991].
        assert_eq!(h.percentile(99.0), bucket_high(bucket_of(990)));
        assert_eq!(h.percentile(99.0), 991);
        assert_eq!(h.percentile(10.0), 100);
    }

    #[test]
    fn small_samples_and_single_values() {
        let h = hist([7]);
        for p in [0.0, 50.0, 99.0, 100.0] {
            assert_eq!(h.percentile(p), 7);
        }
        // Two values: p50 is the lower one (rank 1), anything above the upper one.
        let h = hist([10, 20]);
        assert_eq!(h.percentile(50.0), 10);
        assert_eq!(h.percentile(50.1), 20);
        assert_eq!(h.percentile(99.0), 20);
        // A long tail: one slow request in a hundred shows in p99's neighbour, not in p50.
        let h = hist((0..99).map(|_| 100).chain([200]));
        assert_eq!(h.percentile(50.0), 100);
        assert_eq!(h.percentile(99.0), 100);
        assert_eq!(h.percentile(99.5), 200);
        assert_eq!(h.max(), 200);
    }

    #[test]
    fn buckets_tile_the_range_and_hold_their_values() {
        let mut prev_high = None;
        for i in 0..BUCKETS {
            let high = bucket_high(i);
            if let Some(p) = prev_high {
                assert_eq!(bucket_of(p + 1), i, "bucket {i} starts right after {p}");
            }
            assert_eq!(bucket_of(high), i);
            prev_high = Some(high);
        }
        assert_eq!(prev_high, Some(u64::MAX));
        for v in [0, 1, 255, 256, 257, 1000, 123_456, 10_000_000_000, u64::MAX] {
            assert!(bucket_high(bucket_of(v)) >= v);
        }
    }

    #[test]
    fn large_values_stay_within_the_precision() {
        // Microsecond-scale latencies in nanoseconds.
        let values: Vec<u64> = (1..=10_000u64).map(|i| i * 1_013).collect();
        let h = hist(values.iter().copied());
        for (p, rank) in [(50.0, 5_000), (90.0, 9_000), (99.0, 9_900), (99.9, 9_990)] {
            let exact = values[rank - 1];
            let got = h.percentile(p);
            assert!(got >= exact, "p{p}: {got} < {exact}");
            assert!(
                (got - exact) as f64 <= exact as f64 / SUB as f64,
                "p{p}: {got} too far above {exact}"
            );
        }
        assert_eq!(h.percentile(100.0), 10_000 * 1_013);
        assert_eq!(h.min(), 1_013);
    }

    #[test]
    fn merged_histograms_equal_one_recording_everything() {
        let a = hist((0..500).map(|i| i * 997));
        let b = hist((500..1000).map(|i| i * 997));
        let mut merged = a.clone();
        merged.merge(&b);
        assert_eq!(merged, hist((0..1000).map(|i| i * 997)));
        let mut with_empty = Histogram::new();
        with_empty.merge(&a);
        assert_eq!(with_empty, a);
    }

    #[test]
    fn stats_rate_counts_only_successes() {
        let s = Stats {
            requests: 1000,
            non_2xx: 200,
            io_errors: 5,
            elapsed: Duration::from_secs(2),
            ..Stats::default()
        };
        assert_eq!(s.ok(), 800);
        assert_eq!(s.errors(), 205);
        assert_eq!(s.req_per_sec(), 400.0);
        assert_eq!(Stats::default().req_per_sec(), 0.0);
    }

    #[test]
    fn table_is_aligned_with_ratios_to_the_baseline() {
        let stats = |ok: u64, lat: u64| Stats {
            requests: ok,
            elapsed: Duration::from_secs(1),
            latency: hist([lat]),
            ..Stats::default()
        };
        let rows = [("ceiling", stats(40_000, 150_000)), ("issue", stats(28_000, 1_250_000))];
        let t = format_table(&rows, Some("ceiling"));
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4, "{t}");
        assert!(lines[0].starts_with("scenario") && lines[0].contains("% ceiling"));
        assert!(lines[2].contains("40000") && lines[2].contains("100.0%"));
        assert!(lines[3].contains("28000") && lines[3].contains("70.0%"));
        assert!(lines[3].contains("1.250"));
        // Right-aligned columns: every row ends at the same place.
        assert_eq!(lines[0].len(), lines[2].len());
        assert_eq!(lines[2].len(), lines[3].len());
        assert!(format_table(&rows, None).contains(" -  "));
    }

    #[test]
    fn form_values_are_percent_encoded() {
        assert_eq!(form_encode("a.B-c_~9"), "a.B-c_~9");
        assert_eq!(form_encode("a b+c/=&"), "a%20b%2Bc%2F%3D%26");
    }
}
