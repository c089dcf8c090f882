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

use super::sync::{self, Mode};
use crate::app::App;
use crate::error::{Error, Result};
use crate::store::records::SyncStatus;
use crate::sync::MutexExt;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the thread looks for directories whose interval has passed.
const TICK: Duration = Duration::from_secs(1);

/// Where a sync's outcome goes when its asker waits for it.
pub type Reply = Sender<Result<SyncStatus>>;

enum Ask {
    Sync { dir: u64, mode: Mode, reply: Option<Reply> },
    Stop,
}

/// The way to the sync thread, once it runs.
#[derive(Default)]
pub struct Scheduler(Mutex<Option<Sender<Ask>>>);

impl Scheduler {
    /// Hands a sync of directory `dir` (whose turn the caller holds) to the thread; `false`
    /// when there is no thread (the app runs without one), and the caller should run it.
    pub fn ask(&self, dir: u64, mode: Mode, reply: Option<Reply>) -> bool {
        let asks = self.0.locked();
        asks.as_ref().is_some_and(|tx| tx.send(Ask::Sync { dir, mode, reply }).is_ok())
    }
}

/// The running sync thread; [`SchedulerThread::stop`] ends it once its current sync ends.
pub struct SchedulerThread {
    tx: Sender<Ask>,
    handle: JoinHandle<()>,
}

impl SchedulerThread {
    pub fn stop(self) {
        let _ = self.tx.send(Ask::Stop);
        let _ = self.handle.join();
    }
}

/// Marks syncs a stopped server left running as failed, and starts the thread.
pub fn start(app: &Arc<App>) -> Result<SchedulerThread> {
    for dir in app.store.directory_ids()? {
        if let Some(mut status) = app.store.sync_status(dir)? {
            if matches!(status.state.as_str(), "RUNNING" | "QUEUED") {
                status.state = "FAILED".into();
                status.error = Some(
                    "interrupted: the server stopped during this sync; nothing of it was \
                     applied, and the next sync starts from the directory as it was"
                        .into(),
                );
                status.ended = Some(app.clock.now_ms());
                status.progress = String::new();
                app.store.set_sync_status(dir, &status)?;
            }
        }
    }
    let (tx, rx) = mpsc::channel();
    *app.scheduler.0.locked() = Some(tx.clone());
    let weak = Arc::downgrade(app);
    let handle = std::thread::Builder::new()
        .name("sync".into())
        .spawn(move || run(&weak, &rx))
        .map_err(|e| Error::Internal(format!("starting the sync thread: {e}")))?;
    Ok(SchedulerThread { tx, handle })
}

fn run(app: &Weak<App>, rx: &Receiver<Ask>) {
    let mut last_tick = Instant::now();
    loop {
        let ask = rx.recv_timeout(TICK.saturating_sub(last_tick.elapsed()));
        let Some(app) = app.upgrade() else { return };
        match ask {
            Ok(Ask::Stop) | Err(RecvTimeoutError::Disconnected) => return,
            Ok(Ask::Sync { dir, mode, reply }) => {
                let outcome = sync::run(&app, dir, mode);
                app.syncs.release(dir);
                match reply {
                    Some(reply) => drop(reply.send(outcome)),
                    None => log_failure(dir, outcome),
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        if last_tick.elapsed() >= TICK {
            last_tick = Instant::now();
            if let Err(e) = due(&app) {
                log::warn!("looking for directories to synchronise: {e}");
            }
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
        let Some(interval) = dir.remote.as_ref().and_then(|r| r.interval) else { continue };
        let last = app.store.sync_status(dir.id)?.map(|s| s.started);
        let is_due = last.is_none_or(|started| now >= started.saturating_add(interval * 1000));
        if is_due && app.syncs.take(dir.id, &dir.name).is_ok() {
            let outcome = sync::run(app, dir.id, Mode::Auto);
            app.syncs.release(dir.id);
            log_failure(dir.id, outcome);
        }
    }
    Ok(())
}
