//! The replay guard for client assertions: each accepted assertion is remembered until it
//! expires, so that it cannot be used twice (RFC 7523 §3 item 7), and a restart, `kill -9`
//! included, does not forget it.
//!
//! In memory it is a set of 16-byte digests (of the assertion's replay key, see
//! `domain::assertion::Verified`), each with the second its assertion stops being accepted,
//! sharded so that token requests seldom wait on each other. On disk it is an append-only
//! journal in the data directory, `replay.journal`: a header, then one 20-byte record per
//! accepted assertion (`[digest 16][until u32, big-endian seconds]`). The record is written
//! before the token is answered, so it reaches the operating system first, and a process
//! that dies in any way (`kill -9`, the OOM killer, an abort) leaves it behind. When the
//! record also reaches the disk is `--replay-durability`:
//! - `os` (the default): the journal is flushed to the disk every second in the background,
//!   so only a power loss or kernel crash in that second could forget an assertion;
//! - `disk`: each answer waits for a flush (`fdatasync`), shared by every request waiting at
//!   the time (group commit), which costs the flush's latency on every issuance.
//!
//! Records past their end are dropped at start and when the journal is rewritten (in a
//! temporary file renamed over it, so a crash mid-rewrite leaves the old one). The set holds
//! at most `--max-live-assertions` records; past that an assertion is refused, not
//! forgotten.

use crate::crypto;
use crate::sync::MutexExt;
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};

pub const FILE: &str = "replay.journal";
const MAGIC: &[u8; 8] = b"THRRPL01";
const RECORD: usize = 20;
const SHARDS: usize = 16;
/// A shard drops its ended records at most this often (seconds).
const SWEEP_EVERY: u64 = 10;

/// When an accepted assertion's record is on the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Written to the operating system before the answer; flushed every second.
    Os,
    /// Flushed before the answer.
    Disk,
}

/// Why an assertion was not admitted.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// It was admitted before and has not ended.
    Replayed,
    /// The guard holds as many live assertions as it may.
    Full,
    /// The journal cannot be written: the assertion is remembered in memory, and refused.
    Journal(String),
}

#[derive(Default)]
struct Shard {
    seen: HashMap<[u8; 16], u32>,
    next_sweep: u64,
}

struct Journal {
    file: File,
    /// The file's length after the last whole record: a failed append is cut back to it, so
    /// that no later record lands off the 20-byte grid.
    len: u64,
    /// Records in the file, live or not; decides when to rewrite it.
    records: usize,
    /// Records written, and of those how many a flush has reached the disk with.
    written: u64,
    flushed: u64,
    flushing: bool,
}

pub struct ReplayGuard {
    shards: [Mutex<Shard>; SHARDS],
    live: AtomicUsize,
    cap: usize,
    durability: Durability,
    path: PathBuf,
    journal: Mutex<Journal>,
    flushed: Condvar,
    /// Something was written since the last background flush.
    dirty: AtomicBool,
    /// When every shard was last swept because the guard was full (seconds).
    last_full_sweep: AtomicU64,
}

impl ReplayGuard {
    /// Opens the journal in `dir`, keeping the records still live at `now` (seconds) and
    /// rewriting it without the others.
    pub fn open(
        dir: &Path,
        now: u64,
        cap: usize,
        durability: Durability,
    ) -> std::io::Result<ReplayGuard> {
        let path = dir.join(FILE);
        let _ = fs::remove_file(path.with_extension("journal.tmp"));
        let mut kept = read(&path)?;
        kept.retain(|(_, until)| u64::from(*until) > now);
        let file = rewrite(&path, &kept)?;
        let len = (MAGIC.len() + kept.len() * RECORD) as u64;
        let guard = ReplayGuard {
            shards: Default::default(),
            live: AtomicUsize::new(0),
            cap,
            durability,
            journal: Mutex::new(Journal {
                file,
                len,
                records: kept.len(),
                written: 0,
                flushed: 0,
                flushing: false,
            }),
            path,
            flushed: Condvar::new(),
            dirty: AtomicBool::new(false),
            last_full_sweep: AtomicU64::new(u64::MAX),
        };
        // Every live record, whatever the cap (lowered since, say): the cap bounds new
        // admissions, never what was answered already.
        for (digest, until) in kept {
            guard.insert(digest, until);
        }
        Ok(guard)
    }

    /// Admits the assertion whose replay key is `key`, accepted until `until` (seconds), or
    /// refuses it: seen before and not ended, the guard full, or the journal unwritable.
    /// Admitted, its record is in the journal on return; with `disk` durability the record's
    /// number comes back too, for [`ReplayGuard::wait`] before the answer goes out (the token
    /// endpoint waits outside its worker permit, `http::response::Hold`).
    pub fn admit(&self, key: &str, until: u64, now: u64) -> Result<Option<u64>, Refused> {
        let hash = crypto::sha256(key.as_bytes());
        let digest: [u8; 16] = hash[..16].try_into().expect("16 bytes");
        let until = u32::try_from(until).unwrap_or(u32::MAX);
        self.remember(digest, until, now)?;
        let mut rec = [0u8; RECORD];
        rec[..16].copy_from_slice(&digest);
        rec[16..].copy_from_slice(&until.to_be_bytes());
        let seq = {
            let mut j = self.journal.locked();
            if let Err(e) = j.file.write_all(&rec) {
                // A part of the record may be in the file: cut it off, or every record after
                // it would read as garbage at the next start.
                let len = j.len;
                if let Err(cut) = j.file.set_len(len) {
                    log::error!(
                        "cutting {} back after a failed append: {cut}",
                        self.path.display()
                    );
                }
                return Err(Refused::Journal(e.to_string()));
            }
            j.len += RECORD as u64;
            j.records += 1;
            j.written += 1;
            j.written
        };
        match self.durability {
            Durability::Os => {
                self.dirty.store(true, Ordering::Relaxed);
                Ok(None)
            }
            Durability::Disk => Ok(Some(seq)),
        }
    }

    /// Waits until record `seq` (from [`ReplayGuard::admit`]) is on the disk.
    pub fn wait(&self, seq: u64) -> std::io::Result<()> {
        self.flushed_past(seq)
    }

    /// Puts a record read from the journal in memory, counted but never refused.
    fn insert(&self, digest: [u8; 16], until: u32) {
        let mut shard = self.shards[usize::from(digest[0]) % SHARDS].locked();
        if shard.seen.insert(digest, until).is_none() {
            self.live.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Puts `digest` in its shard unless it is there and live. Shards drop their ended
    /// records as they are used; when the cap is reached, every shard is swept (at most once
    /// a second) before an assertion is refused.
    fn remember(&self, digest: [u8; 16], until: u32, now: u64) -> Result<(), Refused> {
        for attempt in 0..2 {
            let mut shard = self.shards[usize::from(digest[0]) % SHARDS].locked();
            if now >= shard.next_sweep {
                self.sweep(&mut shard, now);
            }
            match shard.seen.get(&digest) {
                Some(u) if u64::from(*u) > now => return Err(Refused::Replayed),
                Some(_) => {
                    shard.seen.insert(digest, until);
                    return Ok(());
                }
                None => {}
            }
            if self.live.load(Ordering::Relaxed) < self.cap {
                shard.seen.insert(digest, until);
                self.live.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
            drop(shard);
            if attempt == 0 && self.last_full_sweep.swap(now, Ordering::Relaxed) != now {
                for shard in &self.shards {
                    self.sweep(&mut shard.locked(), now);
                }
            }
        }
        Err(Refused::Full)
    }

    fn sweep(&self, shard: &mut Shard, now: u64) {
        let before = shard.seen.len();
        shard.seen.retain(|_, u| u64::from(*u) > now);
        self.live.fetch_sub(before - shard.seen.len(), Ordering::Relaxed);
        shard.next_sweep = now + SWEEP_EVERY;
    }

    /// Waits until a flush has covered record `seq`; the first waiter with no flush under
    /// way does the flush, for itself and everyone who wrote before it.
    fn flushed_past(&self, seq: u64) -> std::io::Result<()> {
        let mut j = self.journal.locked();
        loop {
            if j.flushed >= seq {
                return Ok(());
            }
            if !j.flushing {
                j.flushing = true;
                let target = j.written;
                let file = j.file.try_clone();
                drop(j);
                let result = file.and_then(|f| f.sync_data());
                j = self.journal.locked();
                j.flushing = false;
                if result.is_ok() {
                    j.flushed = j.flushed.max(target);
                }
                self.flushed.notify_all();
                result?;
                continue;
            }
            j = self.flushed.wait(j).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// The background step, once a second: flush what `os` durability wrote, and rewrite the
    /// journal when most of its records have ended.
    pub fn tick(&self, now: u64) {
        if self.dirty.swap(false, Ordering::Relaxed) {
            let file = self.journal.locked().file.try_clone();
            if let Err(e) = file.and_then(|f| f.sync_data()) {
                log::error!("flushing {}: {e}", self.path.display());
            }
        }
        let records = self.journal.locked().records;
        if records > 2 * self.live() + 65_536 {
            if let Err(e) = self.compact(now) {
                log::error!("rewriting {}: {e}", self.path.display());
            }
        }
    }

    /// Rewrites the journal with the live records only. Appends wait meanwhile; anything
    /// admitted is in memory already, so it is in the new file.
    fn compact(&self, now: u64) -> std::io::Result<()> {
        let mut j = self.journal.locked();
        while j.flushing {
            j = self.flushed.wait(j).unwrap_or_else(|e| e.into_inner());
        }
        let mut kept = Vec::with_capacity(self.live());
        for shard in &self.shards {
            let shard = shard.locked();
            kept.extend(
                shard.seen.iter().filter(|(_, u)| u64::from(**u) > now).map(|(d, u)| (*d, *u)),
            );
        }
        j.file = rewrite(&self.path, &kept)?;
        j.len = (MAGIC.len() + kept.len() * RECORD) as u64;
        j.records = kept.len();
        j.flushed = j.written;
        Ok(())
    }

    /// Assertions remembered now (some may have ended since their shard's last sweep).
    pub fn live(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }
}

/// The records of the journal at `path` (none if there is no file). A file that does not
/// start with the header is not a journal and is refused rather than overwritten; a trailing
/// partial record (a power loss mid-write) is dropped.
fn read(path: &Path) -> std::io::Result<Vec<([u8; 16], u32)>> {
    let mut bytes = Vec::new();
    match File::open(path) {
        Ok(mut f) => f.read_to_end(&mut bytes).map(drop)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    }
    let body = match bytes.strip_prefix(MAGIC.as_slice()) {
        Some(body) => body,
        None if bytes.is_empty() => &[],
        None => {
            return Err(std::io::Error::other(format!(
                "{} is not a throng replay journal; move it away",
                path.display()
            )))
        }
    };
    Ok(body
        .chunks_exact(RECORD)
        .map(|rec| {
            let digest: [u8; 16] = rec[..16].try_into().expect("16 bytes");
            (digest, u32::from_be_bytes(rec[16..].try_into().expect("4 bytes")))
        })
        .collect())
}

/// Runs [`ReplayGuard::tick`] once a second on a thread of its own, until the guard is
/// dropped.
pub fn start_ticks(guard: &Arc<ReplayGuard>, clock: Arc<crate::domain::clock::Clock>) {
    let weak: Weak<ReplayGuard> = Arc::downgrade(guard);
    let spawned = std::thread::Builder::new().name("throng-replay".into()).spawn(move || loop {
        std::thread::sleep(std::time::Duration::from_secs(1));
        match weak.upgrade() {
            Some(guard) => guard.tick(clock.now_secs()),
            None => return,
        }
    });
    if let Err(e) = spawned {
        log::error!("starting the replay journal's flush thread: {e}");
    }
}

/// Writes a journal holding `records` beside `path`, flushes it, renames it over `path`, and
/// returns it open for appending.
fn rewrite(path: &Path, records: &[([u8; 16], u32)]) -> std::io::Result<File> {
    let tmp = path.with_extension("journal.tmp");
    let mut bytes = Vec::with_capacity(MAGIC.len() + records.len() * RECORD);
    bytes.extend_from_slice(MAGIC);
    for (digest, until) in records {
        bytes.extend_from_slice(digest);
        bytes.extend_from_slice(&until.to_be_bytes());
    }
    let mut f = private_file(&tmp)?;
    f.write_all(&bytes)?;
    f.sync_all()?;
    // The handle is taken before the rename and follows the file through it: once renamed,
    // appends go to the journal whatever happens next.
    let appending = OpenOptions::new().append(true).open(&tmp)?;
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        // The rename itself must reach the disk, or a power loss could bring back the old
        // file; failing that, the new one is still the one in use.
        if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
            log::error!("flushing the directory of {}: {e}", path.display());
        }
    }
    Ok(appending)
}

fn private_file(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(test)]
mod tests;
