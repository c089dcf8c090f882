//! throng patch: the front door. The accept loop, the connection budget, and the refusal of
//! connections beyond it.
//!
//! Upstream's accept loop ends on the first accept error (for example EMFILE, too many open
//! files), leaving a live process with no listener, and it admits any number of connections.
//! Here the loop never ends but at shutdown: an error is logged (at most once every few
//! seconds) and retried after a short, growing pause, as Go's net/http and nginx do. The number
//! of open connections is bounded: at the budget, the connection idle the longest is closed to
//! make room (clients reopen idle keep-alive connections as a matter of course), and when none
//! is idle the newcomer gets a fast 503 and is closed. A spare file descriptor is kept so that
//! even at the open-file limit one waiting connection at a time can be told 503 instead of
//! being left in the backlog (libuv's and nginx's trick). See PATCHES.md.

use crate::connection::{Connection, Listener};
use crate::limits::{Limits, Refusal, RefusalRenderer};
use crate::request::Request;
use crate::util::{MessagesQueue, TaskPool};
use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A connection must have been idle this long before it may be closed to make room.
const MIN_EVICTABLE_IDLE: Duration = Duration::from_millis(250);

/// A head arriving for this long can be cut off to make room: real clients send a head in
/// one go, so one still trickling in after a second is slow or hostile (slowloris).
const MIN_EVICTABLE_HEAD: Duration = Duration::from_secs(1);

/// Between requests: may be closed to make room.
const IDLE: u8 = 0;
/// Reading a body, handling, answering: never closed to make room.
const BUSY: u8 = 1;
const CLOSED: u8 = 2;
/// Reading a head: may be closed to make room once it has taken `MIN_EVICTABLE_HEAD`.
const HEAD: u8 = 3;

/// One open connection, shared by its thread and the registry (which may close it).
pub(crate) struct ConnEntry {
    pub conn: Connection,
    pub remote: Option<SocketAddr>,
    state: AtomicU8,
    /// Microseconds since the server started, when it last became idle or began a head.
    idle_since: AtomicU64,
}

impl ConnEntry {
    /// Marks the connection idle (between requests), so it may be closed to make room.
    pub(crate) fn set_idle(&self, now_us: u64) {
        self.idle_since.store(now_us, Ordering::Relaxed);
        // SeqCst, paired with the shutdown flag: either a shutdown sees this connection idle
        // (and closes it) or the connection sees the flag (see `client::serve_one`).
        self.state.store(IDLE, Ordering::SeqCst);
    }

    /// The first byte of a head is in: from now its arrival is timed, and a head that takes
    /// too long may be cut off to make room.
    pub(crate) fn set_reading_head(&self, now_us: u64) {
        self.idle_since.store(now_us, Ordering::Relaxed);
        self.state.store(HEAD, Ordering::SeqCst);
    }

    /// The head is complete: the connection is no longer a candidate to make room. False if
    /// it was cut off first.
    pub(crate) fn set_reading_rest(&self) -> bool {
        self.state.compare_exchange(HEAD, BUSY, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    /// Claims the connection for a request that has begun to arrive; false if the registry
    /// closed it first.
    pub(crate) fn set_busy(&self) -> bool {
        self.state.compare_exchange(IDLE, BUSY, Ordering::SeqCst, Ordering::SeqCst).is_ok()
    }
}

/// Runs requests on the connection threads themselves, at most `concurrency` at once.
pub type Handler = Arc<dyn Fn(Request) + Send + Sync>;

/// A counting semaphore: how many more handlers may run now.
pub(crate) struct Permits {
    free: Mutex<usize>,
    freed: std::sync::Condvar,
}

impl Permits {
    fn new(n: usize) -> Permits {
        Permits { free: Mutex::new(n), freed: std::sync::Condvar::new() }
    }

    pub(crate) fn acquire(&self) -> Permit<'_> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= 1;
        Permit(self)
    }
}

/// One running handler; its permit returns when it is dropped (a panic included).
pub(crate) struct Permit<'a>(&'a Permits);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.0.freed.notify_one();
    }
}

/// State shared by the accept loop, every connection thread and the `Server` handle.
pub(crate) struct Shared {
    pub limits: Limits,
    pub renderer: RefusalRenderer,
    pub messages: Arc<MessagesQueue<Request>>,
    /// When set, requests run on their connection's thread under `permits` instead of going
    /// through `messages` to `Server::recv`.
    pub handler: Option<(Handler, Permits)>,
    pub closing: AtomicBool,
    pub active: AtomicUsize,
    /// Complete requests not yet answered, for a shutdown to wait on.
    in_flight: AtomicUsize,
    /// Bytes of request bodies held in memory right now (see `Limits::max_body_memory`).
    pub body_memory: Arc<AtomicUsize>,
    conns: Mutex<HashMap<u64, Arc<ConnEntry>>>,
    next_id: AtomicU64,
    epoch: Instant,
}

impl Shared {
    pub(crate) fn new(
        limits: Limits,
        renderer: RefusalRenderer,
        messages: Arc<MessagesQueue<Request>>,
        handler: Option<(Handler, usize)>,
    ) -> Shared {
        Shared {
            limits,
            renderer,
            messages,
            handler: handler.map(|(h, n)| (h, Permits::new(n.max(1)))),
            closing: AtomicBool::new(false),
            active: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            body_memory: Arc::new(AtomicUsize::new(0)),
            conns: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    /// Microseconds since the server started: idle times, ordered finely enough to tell
    /// connections apart.
    pub(crate) fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    /// Counts a complete request until the returned guard is dropped (its answer in hand).
    pub(crate) fn in_flight(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(self)
    }

    /// Stops taking requests and waits up to `wait` for those in flight; true if all ended.
    pub(crate) fn shutdown(&self, wait: Duration) -> bool {
        self.closing.store(true, Ordering::SeqCst);
        self.close_all_idle();
        let until = Instant::now() + wait;
        while self.in_flight.load(Ordering::SeqCst) > 0 {
            if Instant::now() >= until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        true
    }

    /// The bytes of a full answer to `refusal`, ready to write; the connection closes after.
    pub(crate) fn answer(&self, refusal: &Refusal) -> Vec<u8> {
        use std::fmt::Write as _;
        let rendered = (self.renderer)(refusal);
        let status = crate::StatusCode(refusal.status);
        let mut head = String::with_capacity(256);
        let _ = write!(head, "HTTP/1.1 {} {}\r\n", status.0, status.default_reason_phrase());
        for (name, value) in &rendered.headers {
            let _ = write!(head, "{name}: {value}\r\n");
        }
        if let Some(secs) = refusal.retry_after {
            if !rendered.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("Retry-After")) {
                let _ = write!(head, "Retry-After: {secs}\r\n");
            }
        }
        let _ = write!(
            head,
            "Date: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            httpdate::HttpDate::from(std::time::SystemTime::now()),
            rendered.body.len()
        );
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&rendered.body);
        bytes
    }

    fn register(&self, entry: &Arc<ConnEntry>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.conns.lock().unwrap_or_else(|e| e.into_inner()).insert(id, entry.clone());
        id
    }

    /// Called by a connection's thread as it ends.
    pub(crate) fn unregister(&self, id: u64) {
        self.conns.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
        self.active.fetch_sub(1, Ordering::AcqRel);
    }

    /// Makes room for a new connection: closes the connection idle the longest (for at least
    /// `MIN_EVICTABLE_IDLE`; one idle for less may have a request on its way), or else the one
    /// whose head has been trickling in the longest (for at least `MIN_EVICTABLE_HEAD`), so
    /// that neither idle sockets nor slowloris heads can hold the budget.
    fn evict_idle(&self) -> bool {
        let now = self.now_us();
        for (state, min_age) in [(IDLE, MIN_EVICTABLE_IDLE), (HEAD, MIN_EVICTABLE_HEAD)] {
            let newest = now.saturating_sub(min_age.as_micros() as u64);
            let conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
            let oldest = conns
                .values()
                .filter(|c| c.state.load(Ordering::Acquire) == state)
                .filter(|c| c.idle_since.load(Ordering::Relaxed) <= newest)
                .min_by_key(|c| c.idle_since.load(Ordering::Relaxed));
            if let Some(c) = oldest {
                if c.state
                    .compare_exchange(state, CLOSED, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
                {
                    // Its thread's blocked read returns at once and the thread ends.
                    let _ = c.conn.shutdown(Shutdown::Both);
                    return true;
                }
            }
        }
        false
    }

    /// At shutdown: closes every idle connection now. Busy ones finish their request (the
    /// queue is drained by the server's drop, so each gets an answer) and then close.
    pub(crate) fn close_all_idle(&self) {
        let conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        for c in conns.values() {
            if c.state.compare_exchange(IDLE, CLOSED, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
                let _ = c.conn.shutdown(Shutdown::Both);
            }
        }
    }

    pub(crate) fn open_connections(&self) -> usize {
        self.active.load(Ordering::Acquire)
    }
}

/// A warning that is logged at most once per interval, with a count of what it held back.
struct RateLimitedWarning {
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimitedWarning {
    const EVERY: Duration = Duration::from_secs(5);

    fn warn(&mut self, message: std::fmt::Arguments<'_>) {
        let now = Instant::now();
        if self.last.is_some_and(|t| now.duration_since(t) < Self::EVERY) {
            self.suppressed += 1;
            return;
        }
        if self.suppressed > 0 {
            log::warn!("{message} ({} more like it not shown)", self.suppressed);
        } else {
            log::warn!("{message}");
        }
        self.last = Some(now);
        self.suppressed = 0;
    }
}

/// EMFILE and ENFILE: this process's, or the system's, open-file limit.
fn is_fd_exhaustion(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(23 | 24))
}

/// Runs until the server closes: accepts, admits within the budget, refuses beyond it.
pub(crate) fn accept_loop(listener: Listener, shared: Arc<Shared>) {
    let pool = TaskPool::new();
    let rejecter = Rejecter::start(shared.clone());
    let mut warning = RateLimitedWarning { last: None, suppressed: 0 };
    let mut backoff = Duration::ZERO;
    let mut spare = std::fs::File::open("/dev/null").ok();
    while !shared.is_closing() {
        let (conn, remote) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) => {
                if shared.is_closing() {
                    break;
                }
                // A peer that gave up before we accepted it, or a signal: nothing is wrong.
                if matches!(e.kind(), ErrorKind::ConnectionAborted | ErrorKind::Interrupted) {
                    continue;
                }
                if is_fd_exhaustion(&e) {
                    if let Some(file) = spare.take() {
                        drop(file);
                        if let Ok((conn, _)) = listener.accept() {
                            rejecter.refuse(
                                conn,
                                Refusal::busy("the server is at its open-file limit"),
                            );
                        }
                        spare = std::fs::File::open("/dev/null").ok();
                    }
                }
                backoff = (backoff * 2).clamp(Duration::from_millis(5), Duration::from_secs(1));
                warning.warn(format_args!(
                    "accepting a connection failed: {e}; retrying in {backoff:?}"
                ));
                std::thread::sleep(backoff);
                continue;
            }
        };
        backoff = Duration::ZERO;
        if shared.is_closing() {
            break;
        }
        if spare.is_none() {
            spare = std::fs::File::open("/dev/null").ok();
        }
        admit(conn, remote, &shared, &pool, &rejecter, &mut warning);
    }
    log::debug!("accept loop ended");
}

fn admit(
    conn: Connection,
    remote: Option<SocketAddr>,
    shared: &Arc<Shared>,
    pool: &TaskPool,
    rejecter: &Rejecter,
    warning: &mut RateLimitedWarning,
) {
    if shared.active.load(Ordering::Acquire) >= shared.limits.max_connections
        && !shared.evict_idle()
    {
        warning.warn(format_args!(
            "connection budget of {} spent and none idle: answering 503",
            shared.limits.max_connections
        ));
        rejecter.refuse(conn, Refusal::busy("the server is at its connection limit"));
        return;
    }
    shared.active.fetch_add(1, Ordering::AcqRel);
    let entry = Arc::new(ConnEntry {
        conn,
        remote,
        // Not evictable until its own thread waits for a request: until then a request may be
        // sitting unread in its socket (a loaded machine can take a while to schedule it).
        state: AtomicU8::new(BUSY),
        idle_since: AtomicU64::new(shared.now_us()),
    });
    let id = shared.register(&entry);
    let (task_entry, task_shared) = (entry.clone(), shared.clone());
    let mut task = Some(move || crate::client::serve(id, task_entry, task_shared));
    let spawned = pool.spawn(Box::new(move || {
        if let Some(task) = task.take() {
            task();
        }
    }));
    if let Err(e) = spawned {
        warning.warn(format_args!("cannot start a connection thread: {e}; answering 503"));
        let answer = shared.answer(&Refusal::busy("the server cannot take more connections"));
        let _ = entry.conn.set_nonblocking(true);
        let _ = (&entry.conn).write_all(&answer);
        let _ = entry.conn.shutdown(Shutdown::Both);
        shared.unregister(id);
    }
}

/// A request counted as in flight; dropping it ends the count.
pub(crate) struct InFlight<'a>(&'a Shared);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Refusal {
    pub(crate) fn busy(message: &str) -> Refusal {
        Refusal {
            status: 503,
            message: format!("{message}; try again shortly"),
            path: None,
            retry_after: Some(1),
        }
    }
}

/// Answers refused connections with a 503 and closes them gracefully, off the accept loop:
/// the answer is written, the write side shut, and whatever the client still sends is drained
/// for a moment, so that it reads the answer instead of a connection reset.
struct Rejecter {
    tx: SyncSender<(Connection, Refusal)>,
}

/// Refused connections being drained at once; beyond it the oldest is closed outright.
const MAX_LINGERING: usize = 64;

impl Rejecter {
    fn start(shared: Arc<Shared>) -> Rejecter {
        let (tx, rx) = sync_channel(MAX_LINGERING);
        let spawned = std::thread::Builder::new()
            .name("tiny-http-rejecter".into())
            .stack_size(128 * 1024)
            .spawn(move || rejecter_loop(&rx, &shared));
        if let Err(e) = spawned {
            log::error!("cannot start the connection rejecter: {e}");
        }
        Rejecter { tx }
    }

    fn refuse(&self, conn: Connection, refusal: Refusal) {
        // Full (a flood): close at once; the budget matters more than this one answer.
        if let Err(TrySendError::Full((conn, _)) | TrySendError::Disconnected((conn, _))) =
            self.tx.try_send((conn, refusal))
        {
            let _ = conn.shutdown(Shutdown::Both);
        }
    }
}

fn rejecter_loop(rx: &Receiver<(Connection, Refusal)>, shared: &Shared) {
    let mut lingering: Vec<(Connection, Instant)> = Vec::new();
    let mut scratch = [0u8; 4096];
    let linger = shared.limits.linger.min(Duration::from_secs(1));
    loop {
        let next = if lingering.is_empty() {
            rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
        } else {
            rx.recv_timeout(Duration::from_millis(20))
        };
        match next {
            Ok((conn, refusal)) => {
                let answer = shared.answer(&refusal);
                let _ = conn.set_nonblocking(true);
                // Whatever the client sent already (a bounded amount), so the close below is
                // not a reset.
                for _ in 0..16 {
                    if !matches!((&conn).read(&mut scratch), Ok(n) if n > 0) {
                        break;
                    }
                }
                let _ = (&conn).write_all(&answer);
                let _ = conn.shutdown(Shutdown::Write);
                if lingering.len() >= MAX_LINGERING {
                    lingering.remove(0);
                }
                lingering.push((conn, Instant::now() + linger));
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) if lingering.is_empty() => return,
            Err(RecvTimeoutError::Disconnected) => std::thread::sleep(Duration::from_millis(20)),
        }
        let now = Instant::now();
        lingering.retain(|(conn, deadline)| {
            if now >= *deadline {
                return false;
            }
            // At most 64 KiB a pass, so one fast sender cannot hold this thread.
            for _ in 0..16 {
                match (&*conn).read(&mut scratch) {
                    Ok(0) => return false,
                    Ok(_) => continue,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
                    Err(_) => return false,
                }
            }
            true
        });
    }
}
