use super::*;

/// Admits and, with `disk` durability, waits for the flush, as the token endpoint does.
trait AdmitDurably {
    fn admit_durably(&self, key: &str, until: u64, now: u64) -> Result<(), Refused>;
}

impl AdmitDurably for ReplayGuard {
    fn admit_durably(&self, key: &str, until: u64, now: u64) -> Result<(), Refused> {
        match self.admit(key, until, now)? {
            Some(record) => self.wait(record).map_err(|e| Refused::Journal(e.to_string())),
            None => Ok(()),
        }
    }
}

fn dir() -> tempdir::Dir {
    tempdir::Dir::new()
}

/// A private temp directory, removed on drop (std only; the crate has no tempfile).
mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new() -> Dir {
            let p = std::env::temp_dir().join(format!(
                "throng-replay-{}",
                crate::crypto::hex(&crate::crypto::random_bytes::<8>())
            ));
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[test]
fn an_assertion_is_admitted_once_until_it_ends() {
    let d = dir();
    let g = ReplayGuard::open(&d.0, 1000, 100, Durability::Os).unwrap();
    assert_eq!(g.admit_durably("jti:c:1", 1100, 1000), Ok(()));
    assert_eq!(g.admit_durably("jti:c:1", 1100, 1050), Err(Refused::Replayed));
    assert_eq!(g.admit_durably("jti:c:2", 1100, 1050), Ok(()));
    // Ended: the key may come again (a new assertion that happens to reuse a jti).
    assert_eq!(g.admit_durably("jti:c:1", 1300, 1100), Ok(()));
    assert_eq!(g.admit_durably("jti:c:1", 1300, 1200), Err(Refused::Replayed));
}

#[test]
fn a_reopened_journal_remembers_live_assertions_and_drops_ended_ones() {
    let d = dir();
    {
        let g = ReplayGuard::open(&d.0, 1000, 100, Durability::Os).unwrap();
        g.admit_durably("jti:c:short", 1010, 1000).unwrap();
        g.admit_durably("jti:c:long", 5000, 1000).unwrap();
        // Dropped without a flush or a clean stop, as a killed process leaves it.
    }
    let len = fs::metadata(d.0.join(FILE)).unwrap().len();
    assert_eq!(len as usize, MAGIC.len() + 2 * RECORD);
    let g = ReplayGuard::open(&d.0, 2000, 100, Durability::Disk).unwrap();
    assert_eq!(g.admit_durably("jti:c:long", 5000, 2000), Err(Refused::Replayed));
    assert_eq!(g.admit_durably("jti:c:short", 3000, 2000), Ok(()));
    let len = fs::metadata(d.0.join(FILE)).unwrap().len();
    assert_eq!(len as usize, MAGIC.len() + 2 * RECORD, "the ended record was not rewritten");
}

#[test]
fn a_full_guard_refuses_until_records_end() {
    let d = dir();
    let g = ReplayGuard::open(&d.0, 0, 2, Durability::Os).unwrap();
    g.admit_durably("a", 100, 0).unwrap();
    g.admit_durably("b", 100, 0).unwrap();
    assert_eq!(g.admit_durably("c", 100, 0), Err(Refused::Full));
    // A replay is still a replay when full.
    assert_eq!(g.admit_durably("a", 100, 0), Err(Refused::Replayed));
    // After the sweep interval and the records' end, room again.
    for key in ["c", "d"] {
        assert_eq!(g.admit_durably(key, 500, 200), Ok(()), "{key}");
    }
}

#[test]
fn a_torn_last_record_is_dropped_and_a_foreign_file_refused() {
    let d = dir();
    {
        let g = ReplayGuard::open(&d.0, 0, 10, Durability::Os).unwrap();
        g.admit_durably("a", 100, 0).unwrap();
    }
    let path = d.0.join(FILE);
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(&[7u8; RECORD / 2]).unwrap();
    drop(f);
    let g = ReplayGuard::open(&d.0, 0, 10, Durability::Os).unwrap();
    assert_eq!(g.admit_durably("a", 100, 0), Err(Refused::Replayed));
    drop(g);
    fs::write(&path, b"not a journal at all").unwrap();
    let err = ReplayGuard::open(&d.0, 0, 10, Durability::Os).err().unwrap();
    assert!(err.to_string().contains("not a throng replay journal"), "{err}");
    assert_eq!(fs::read(&path).unwrap(), b"not a journal at all", "left as it was");
}

#[test]
fn concurrent_disk_admissions_share_flushes_and_all_land() {
    let d = dir();
    let g = std::sync::Arc::new(ReplayGuard::open(&d.0, 0, 10_000, Durability::Disk).unwrap());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let g = g.clone();
            std::thread::spawn(move || {
                for i in 0..50 {
                    g.admit_durably(&format!("jti:{t}:{i}"), 100, 0).unwrap();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert_eq!(g.live(), 400);
    let j = g.journal.locked();
    assert_eq!((j.written, j.flushed, j.records), (400, 400, 400));
}

#[test]
fn compaction_keeps_exactly_the_live_records() {
    let d = dir();
    let g = ReplayGuard::open(&d.0, 0, 1000, Durability::Os).unwrap();
    for i in 0..100 {
        g.admit_durably(&format!("ended:{i}"), 10, 0).unwrap();
    }
    for i in 0..5 {
        g.admit_durably(&format!("live:{i}"), 1000, 0).unwrap();
    }
    g.compact(20).unwrap();
    let len = fs::metadata(d.0.join(FILE)).unwrap().len() as usize;
    assert_eq!(len, MAGIC.len() + 5 * RECORD);
    g.admit_durably("after", 1000, 20).unwrap();
    drop(g);
    let g = ReplayGuard::open(&d.0, 30, 1000, Durability::Os).unwrap();
    for key in ["live:0", "live:4", "after"] {
        assert_eq!(g.admit_durably(key, 1000, 30), Err(Refused::Replayed), "{key}");
    }
    assert_eq!(g.admit_durably("ended:3", 1000, 30), Ok(()));
}

#[test]
fn a_lowered_cap_keeps_every_answered_assertion() {
    let d = dir();
    {
        let g = ReplayGuard::open(&d.0, 0, 10, Durability::Os).unwrap();
        for key in ["a", "b", "c"] {
            g.admit_durably(key, 100, 0).unwrap();
        }
    }
    let g = ReplayGuard::open(&d.0, 1, 1, Durability::Os).unwrap();
    for key in ["a", "b", "c"] {
        assert_eq!(g.admit_durably(key, 100, 1), Err(Refused::Replayed), "{key}");
    }
    assert_eq!(g.admit_durably("d", 100, 1), Err(Refused::Full));
    g.compact(1).unwrap();
    drop(g);
    let g = ReplayGuard::open(&d.0, 2, 10, Durability::Os).unwrap();
    assert_eq!(g.admit_durably("b", 100, 2), Err(Refused::Replayed), "kept through a rewrite");
}
