//! Synchronisation in the background: one thread that runs the syncs an administrator asks
//! for (`POST …/directory/detailed/{id}/synchronize`) and those a directory's interval makes
//! due (Crowd's "synchronisation interval", 60 minutes unless set), one at a time, so a
//! server syncing many directories holds one directory's worth of answers in memory.
//!
//! A directory never synchronised is due at once; after that, an interval after its last sync
//! started, whether that one succeeded or not (a failing server is asked again an interval
//! later, not on every tick). A sync the server was stopped in the middle of (`kill -9`) is
//! marked `FAILED` at the next start: nothing of it was applied, since each sync is one
//! transaction.

use super::sync::{self, Mode, Turn};
use crate::app::App;
use crate::error::{Error, Result};
use crate::store::records::SyncStatus;
use crate::sync::MutexExt;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the thread looks for directories whose interval has passed.
const TICK: Duration = Duration::from_secs(1);

/// Where a sync's outcome goes when its asker waits for it.
pub type Reply = Sender<Result<SyncStatus>>;

enum Ask {
    /// A sync of `dir`, whose turn the asker took and handed over.
    Sync {
        dir: u64,
        mode: Mode,
        reply: Option<Reply>,
    },
    Stop,
}

/// The way to the sync thread, once it runs, and whether the server is stopping.
#[derive(Default)]
pub struct Scheduler {
    asks: Mutex<Option<Sender<Ask>>>,
    stopping: Arc<AtomicBool>,
}

impl Scheduler {
    /// Hands a sync of directory `dir` (whose turn the caller took and hands over) to the
    /// thread; gives the turn back when there is no thread (the app runs without one), and
    /// the caller should run the sync itself.
    pub fn ask<'t>(&self, turn: Turn<'t>, mode: Mode, reply: Option<Reply>) -> Option<Turn<'t>> {
        let asks = self.asks.locked();
        let Some(tx) = asks.as_ref() else { return Some(turn) };
        let dir = turn.hand_over();
        // A thread gone (a panic it could not survive) drops the ask; the next start marks
        // the directory's queued sync as interrupted.
        let _ = tx.send(Ask::Sync { dir, mode, reply });
        None
    }

    /// Whether the server is shutting down: a sync stops at its next step.
    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }
}

/// The running sync thread; [`SchedulerThread::stop`] ends it once its current sync stops,
/// which it does at its next step (a remote call in flight ends within its timeout).
pub struct SchedulerThread {
    tx: Sender<Ask>,
    stopping: Arc<AtomicBool>,
    handle: JoinHandle<()>,
}

impl SchedulerThread {
    pub fn stop(self) {
        self.stopping.store(true, Ordering::Relaxed);
        let _ = self.tx.send(Ask::Stop);
        let _ = self.handle.join();
    }
}

/// Marks syncs a stopped server left running as failed, and starts the thread.
pub fn start(app: &Arc<App>) -> Result<SchedulerThread> {
    for dir in app.store.directory_ids()? {
        if let Some(status) = app.store.sync_status(dir)? {
            if matches!(status.state.as_str(), "RUNNING" | "QUEUED") {
                let why = "interrupted: the server stopped during this sync; nothing of it was \
                           applied, and the next sync starts from the directory as it was";
                app.store
                    .set_sync_status(dir, &sync::failed(status, why.into(), app.clock.now_ms()))?;
            }
        }
    }
    let (tx, rx) = mpsc::channel();
    *app.scheduler.asks.locked() = Some(tx.clone());
    let weak = Arc::downgrade(app);
    let handle = std::thread::Builder::new()
        .name("sync".into())
        .spawn(move || run(&weak, &rx))
        .map_err(|e| Error::Internal(format!("starting the sync thread: {e}")))?;
    Ok(SchedulerThread { tx, stopping: app.scheduler.stopping.clone(), handle })
}

fn run(app: &Weak<App>, rx: &Receiver<Ask>) {
    let mut last_tick = Instant::now();
    loop {
        let ask = rx.recv_timeout(TICK.saturating_sub(last_tick.elapsed()));
        let Some(app) = app.upgrade() else { return };
        match ask {
            Ok(Ask::Stop) | Err(RecvTimeoutError::Disconnected) => return,
            Ok(Ask::Sync { dir, mode, reply }) => {
                let turn = app.syncs.adopt(dir);
                let outcome = if app.scheduler.stopping() {
                    not_run(&app, dir)
                } else {
                    guarded(&app, dir, mode)
                };
                drop(turn);
                match reply {
                    Some(reply) => drop(reply.send(outcome)),
                    None => log_failure(dir, outcome),
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        if last_tick.elapsed() >= TICK && !app.scheduler.stopping() {
            last_tick = Instant::now();
            if let Err(e) = due(&app) {
                log::warn!("looking for directories to synchronise: {e}");
            }
        }
    }
}

/// A sync asked for and never started, the server stopping first.
fn not_run(app: &App, dir: u64) -> Result<SyncStatus> {
    let status = app.store.sync_status(dir)?.unwrap_or_default();
    let why = "the server stopped before this sync started".to_string();
    let failed = sync::failed(status, why, app.clock.now_ms());
    app.store.set_sync_status(dir, &failed)?;
    Ok(failed)
}

/// [`sync::run`], with a panic in it turned into a failed sync (and logged), so that the
/// thread, and every directory's syncs after it, go on.
fn guarded(app: &App, dir: u64, mode: Mode) -> Result<SyncStatus> {
    match std::panic::catch_unwind(AssertUnwindSafe(|| sync::run(app, dir, mode))) {
        Ok(outcome) => outcome,
        Err(_) => {
            log::error!("synchronising directory {dir} panicked; it is marked failed");
            let status = app.store.sync_status(dir)?.unwrap_or_default();
            let failed =
                sync::failed(status, "an internal error (see the log)".into(), app.clock.now_ms());
            app.store.set_sync_status(dir, &failed)?;
            Ok(failed)
        }
    }
}

fn log_failure(dir: u64, outcome: Result<SyncStatus>) {
    if let Err(e) = outcome {
        log::warn!("synchronising directory {dir}: {e}");
    }
}

/// Runs, one after another, the syncs whose interval has passed.
fn due(app: &App) -> Result<()> {
    let now = app.clock.now_ms();
    for dir in app.store.directories_cached()?.iter() {
        if app.scheduler.stopping() {
            return Ok(());
        }
        let Some(interval) = dir.remote.as_ref().and_then(|r| r.interval) else { continue };
        let last = app.store.sync_status(dir.id)?.map(|s| s.started);
        let every = interval.saturating_mul(1000);
        let is_due = last.is_none_or(|started| now >= started.saturating_add(every));
        if !is_due {
            continue;
        }
        if let Ok(_turn) = app.syncs.take(dir.id, &dir.name) {
            log_failure(dir.id, guarded(app, dir.id, Mode::Auto));
        }
    }
    Ok(())
}

/// How long a caller that waits for a sync holds its thread; past it, it is told the sync
/// started, as one that does not wait is.
const WAIT: Duration = Duration::from_secs(60);

/// What asking for a sync came to.
pub enum Requested {
    /// It ran (or the one running when asked did) and ended so.
    Done(SyncStatus),
    /// It runs, or waits its turn, in the background; this is where it is.
    Started(SyncStatus),
}

/// Asks for a sync of `CROWD` directory `dir`: handed to the sync thread, or run here when
/// the app runs without one. With `wait`, the outcome if it comes within a minute, that of a
/// sync already running included; without, a sync already running or waiting is a
/// `Conflict`.
pub fn request(app: &App, dir: u64, mode: Mode, wait: bool) -> Result<Requested> {
    let name = sync::remote_directory(app, dir)?.0;
    let status = || {
        let status = app.store.sync_status(dir)?;
        status.ok_or_else(|| Error::NotFound(crate::error::Resource::Directory, dir.to_string()))
    };
    let turn = match app.syncs.take_soon(dir, &name) {
        Ok(turn) => turn,
        Err(busy) if !wait => return Err(busy),
        // The one running, waited for; past the wait, where it is.
        Err(_) if app.syncs.wait_idle(dir, WAIT) => return Ok(Requested::Done(status()?)),
        Err(_) => return Ok(Requested::Started(status()?)),
    };
    let queued = sync::queued(app, dir)?;
    let (reply, outcome) = mpsc::channel();
    if let Some(_turn) = app.scheduler.ask(turn, mode, wait.then_some(reply)) {
        return Ok(Requested::Done(sync::run(app, dir, mode)?));
    }
    if !wait {
        return Ok(Requested::Started(queued));
    }
    match outcome.recv_timeout(WAIT) {
        Ok(done) => Ok(Requested::Done(done?)),
        Err(_) => Ok(Requested::Started(status()?)),
    }
}
