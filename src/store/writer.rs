//! The write-behind writer: one thread that commits what request threads hand it in batches
//! (issued tokens' records, audit records, aggregated failure rows), and between batches
//! runs the periodic purge (expired tokens and revocations, audit retention, the change log's
//! bound, expired SSO sessions).
//!
//! It lives with the store because all it does is write the store; what it needs from the
//! layers above (the clock, the aggregated failures, the in-memory revoked set to trim after
//! a purge) comes through [`Above`], which `App` implements over the domain's pieces.

use super::audit::AuditWrite;
use super::records::{AuditRecord, Millis, TokenRecord};
use super::Store;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Rows the layers above hold in memory and want written with the next batch (aggregated
/// failed authentications), each with a serial to hand back once committed.
#[derive(Default)]
pub struct Pending {
    pub serials: Vec<u64>,
    pub writes: Vec<AuditWrite>,
}

impl Pending {
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }
}

/// What the writer asks of the layers above.
pub trait Above: Send + Sync {
    /// Now, by the server's clock (tests move it).
    fn now_ms(&self) -> Millis;
    /// Whether rows wait in memory: the writer then comes back at least once a second.
    fn holding(&self) -> bool;
    /// The rows to write with this batch; `all` (at a flush or the end) takes every one.
    fn take(&self, now: Millis, all: bool) -> Pending;
    /// The rows were committed; `ids` are the audit ids of the appended ones, in order.
    fn committed(&self, pending: &Pending, ids: &[u64]);
    /// A purge round ran at `now_secs`: forget what it made stale (expired revocations).
    fn purged(&self, now_secs: u64);
}

enum Op {
    Token(TokenRecord),
    Audit(AuditRecord),
    Flush(SyncSender<()>),
    /// New aggregated rows are waiting above (`Above::take`).
    Wake,
    /// Run the periodic purge now, then answer.
    Purge(SyncSender<()>),
}

/// Largest batch one write transaction takes.
const MAX_BATCH: usize = 16_384;
/// How long the writer gathers records before it commits them. Measured on 2 cores under
/// full issuance: 10 ms cost the writer 9.9 µs of CPU per token, 100 ms 5.1 µs (fixed
/// per-commit costs: page writes, fdatasync, I/O completion).
const BATCH_WINDOW: Duration = Duration::from_millis(100);
/// Records that may wait for the writer; past this, issuing waits for it (back-pressure keeps
/// memory bounded if the disk falls behind).
const QUEUE_CAPACITY: usize = 65_536;
/// Largest number of expired records one purge transaction removes, so it never stalls.
pub const PURGE_CHUNK: usize = 5000;
/// While aggregated failures are held, the writer comes back at least this often to close
/// their windows.
const FAILURE_TICK: Duration = Duration::from_secs(1);

/// What the writer's periodic purge keeps.
#[derive(Debug, Clone, Copy)]
pub struct PurgePolicy {
    /// How often it runs.
    pub every: Duration,
    /// Audit records older than this go.
    pub audit_retention: Duration,
    /// Audit records past this many go, oldest first.
    pub audit_max_rows: u64,
    /// Directory change events past this many go, oldest first.
    pub event_max_rows: u64,
}

/// The write-behind writer: a thread that commits token records, audit events and the
/// aggregated failed attempts (`audit::FailureLog`) in batches, and between batches purges
/// expired tokens and the audit records that retention no longer keeps.
pub struct Writer {
    tx: SyncSender<Op>,
}

pub struct WriterThread {
    handle: JoinHandle<()>,
}

impl Writer {
    pub fn start(
        store: Arc<Store>,
        policy: PurgePolicy,
        above: Arc<dyn Above>,
    ) -> (Writer, WriterThread) {
        let (tx, rx) = mpsc::sync_channel(QUEUE_CAPACITY);
        let handle = std::thread::Builder::new()
            .name("throng-writer".into())
            .spawn(move || run(&store, &rx, policy, &*above))
            .expect("spawn writer thread");
        (Writer { tx }, WriterThread { handle })
    }

    /// Queues the record of an issued token; the writer turns it into text, off the hot path.
    pub fn token(&self, claims: TokenRecord) {
        // A send fails only after shutdown began; the token stays valid without its record.
        let _ = self.tx.send(Op::Token(claims));
    }

    pub fn audit(&self, record: AuditRecord) {
        let _ = self.tx.send(Op::Audit(record));
    }

    /// Tells the writer new aggregated failures wait. Never blocks: a full queue means the
    /// writer is busy and takes them on its next pass anyway.
    pub fn wake(&self) {
        let _ = self.tx.try_send(Op::Wake);
    }

    /// Waits until everything sent before this call is committed, aggregated failures with
    /// their counts so far included.
    pub fn flush(&self) {
        let (ack, done) = mpsc::sync_channel(1);
        if self.tx.send(Op::Flush(ack)).is_ok() {
            let _ = done.recv();
        }
    }

    /// Runs one round of the periodic purge now (one chunk of each kind) and waits for it.
    pub fn purge_now(&self) {
        let (ack, done) = mpsc::sync_channel(1);
        if self.tx.send(Op::Purge(ack)).is_ok() {
            let _ = done.recv();
        }
    }
}

impl WriterThread {
    /// Waits for the writer to commit what it holds and stop; every `Writer` must be dropped.
    pub fn join(self) {
        let _ = self.handle.join();
    }
}

fn run(store: &Store, rx: &Receiver<Op>, policy: PurgePolicy, above: &dyn Above) {
    let mut next_purge = Instant::now() + policy.every;
    let mut tokens = Vec::new();
    let mut audits = Vec::new();
    let mut acks = Vec::new();
    let mut purge_acks = Vec::new();
    loop {
        let mut wait = next_purge.saturating_duration_since(Instant::now());
        if above.holding() {
            wait = wait.min(FAILURE_TICK);
        }
        let first = match rx.recv_timeout(wait) {
            Ok(op) => Some(op),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let mut disconnected = false;
        if let Some(op) = first {
            // Sleep through a window, then take everything queued: one durable commit carries
            // thousands of records, and the writer wakes a few times a second instead of once
            // per token (a blocking receive per record cost a context switch each). A flush
            // or purge request (tests, shutdown) skips the wait.
            if !matches!(op, Op::Flush(_) | Op::Purge(_)) {
                std::thread::sleep(BATCH_WINDOW);
            }
            let mut next = Some(op);
            while let Some(op) = next.take() {
                match op {
                    Op::Token(c) => tokens.push(c),
                    Op::Audit(a) => audits.push(a),
                    Op::Flush(ack) => acks.push(ack),
                    Op::Purge(ack) => purge_acks.push(ack),
                    Op::Wake => {}
                }
                if tokens.len() + audits.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(op) => next = Some(op),
                        Err(TryRecvError::Empty) => {}
                        Err(TryRecvError::Disconnected) => disconnected = true,
                    }
                }
            }
        }
        // Aggregated failures: new records at once, final counts of closed windows, and on a
        // flush every count so far.
        let counted = above.take(above.now_ms(), !acks.is_empty() || disconnected);
        if !(tokens.is_empty() && audits.is_empty() && counted.is_empty()) {
            match store.write_batch_with(&tokens, std::mem::take(&mut audits), &counted.writes) {
                Ok(ids) => above.committed(&counted, &ids),
                Err(e) => log::error!(
                    "writing {} token records and {} audit changes failed: {e}",
                    tokens.len(),
                    counted.writes.len()
                ),
            }
            tokens.clear();
        }
        for ack in acks.drain(..) {
            let _ = ack.send(());
        }
        if disconnected {
            return;
        }
        if Instant::now() >= next_purge || !purge_acks.is_empty() {
            next_purge = purge(store, policy, above);
            for ack in purge_acks.drain(..) {
                let _ = ack.send(());
            }
        }
    }
}

/// One round of the periodic purge: a chunk of expired tokens and revocations, a chunk of the
/// audit records retention no longer keeps. Returns when the next round is due: at once when
/// a chunk came back full (more are waiting), else after `policy.every`.
fn purge(store: &Store, policy: PurgePolicy, above: &dyn Above) -> Instant {
    let now_ms = above.now_ms();
    let now = now_ms / 1000;
    let mut more = false;
    let mut freed = false;
    match store.purge_expired(now, PURGE_CHUNK) {
        Ok(p) => {
            more |= p.tokens == PURGE_CHUNK || p.revocations == PURGE_CHUNK;
            freed |= p.tokens > 0;
            if p.tokens + p.revocations > 0 {
                log::debug!("purged {} expired tokens, {} revocations", p.tokens, p.revocations);
            }
        }
        Err(e) => log::error!("purging expired tokens failed: {e}"),
    }
    let before = now_ms.saturating_sub(policy.audit_retention.as_millis() as u64);
    match store.purge_audit(before, policy.audit_max_rows, PURGE_CHUNK) {
        Ok(n) => {
            more |= n == PURGE_CHUNK;
            freed |= n > 0;
            if n > 0 {
                log::debug!("purged {n} audit records past retention");
            }
        }
        Err(e) => log::error!("purging the audit log failed: {e}"),
    }
    match store.trim_events(policy.event_max_rows) {
        Ok(n) if n > 0 => log::debug!("trimmed {n} change events past --event-max-rows"),
        Ok(_) => {}
        Err(e) => log::error!("trimming the change log failed: {e}"),
    }
    match store.purge_sessions(now_ms, PURGE_CHUNK) {
        Ok(n) => {
            more |= n == PURGE_CHUNK;
            if n > 0 {
                log::debug!("purged {n} expired SSO sessions");
            }
        }
        Err(e) => log::error!("purging expired SSO sessions failed: {e}"),
    }
    above.purged(now);
    if more {
        // Come back right after the next batch.
        return Instant::now();
    }
    if freed {
        if let Err(e) = store.compact_if_sparse() {
            log::error!("compacting after the purge failed: {e}");
        }
    }
    Instant::now() + policy.every
}
