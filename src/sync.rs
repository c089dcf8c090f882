//! Locks that one panic cannot turn against every request after it.
//!
//! std poisons a `Mutex` or `RwLock` whose holder panicked, and `lock().expect(..)` then panics
//! in every later caller: one request that panics while holding the client registry's lock (a
//! bug, caught and answered 500 on its own) would make every later token request fail too, a
//! server made deaf by one bad request. The state these locks guard is each changed in single
//! steps (a map insert, a counter) and the store is the source of truth, so throng takes the
//! guard back, as parking_lot's locks do by design, and logs that it happened.

use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

fn recovered<G>(e: PoisonError<G>) -> G {
    log::warn!("a lock was held by a thread that panicked; carrying on with its state");
    e.into_inner()
}

pub trait MutexExt<T> {
    /// The guard, whether or not an earlier holder panicked.
    fn locked(&self) -> MutexGuard<'_, T>;
}

impl<T> MutexExt<T> for Mutex<T> {
    fn locked(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(recovered)
    }
}

pub trait RwLockExt<T> {
    /// A read guard, whether or not an earlier writer panicked.
    fn reading(&self) -> RwLockReadGuard<'_, T>;
    /// A write guard, whether or not an earlier writer panicked.
    fn writing(&self) -> RwLockWriteGuard<'_, T>;
}

impl<T> RwLockExt<T> for RwLock<T> {
    fn reading(&self) -> RwLockReadGuard<'_, T> {
        self.read().unwrap_or_else(recovered)
    }

    fn writing(&self) -> RwLockWriteGuard<'_, T> {
        self.write().unwrap_or_else(recovered)
    }
}

/// This thread's place among `stripes` (a power of two): threads are numbered as they first
/// ask, so a server's workers, started together, each get a stripe of their own.
///
/// A shared lock, even one only read, is a line that every core writes (its reader count);
/// with two cores serving the same hot entry, that line moving between them cost more than
/// the work it guarded (measured: a cached usermanagement read went from 0.6 µs on one
/// thread to 1.0 µs per request on each of two). Striped state keeps each worker on its own.
pub fn stripe(stripes: usize) -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    debug_assert!(stripes.is_power_of_two());
    INDEX.with(|i| *i) & (stripes - 1)
}

/// A lock on a line of its own, so that neighbouring stripes do not share one (128 bytes:
/// adjacent-line prefetch pairs 64-byte lines on x86).
#[repr(align(128))]
#[derive(Default)]
pub struct Padded<T>(pub T);

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_panic_while_holding_a_lock_does_not_disable_it() {
        let m = Arc::new(Mutex::new(1));
        let l = Arc::new(RwLock::new(1));
        let (m2, l2) = (m.clone(), l.clone());
        let _ = std::thread::spawn(move || {
            let _g = m2.lock().unwrap();
            let _w = l2.write().unwrap();
            panic!("a handler bug");
        })
        .join();
        assert!(m.is_poisoned() && l.is_poisoned());
        *m.locked() += 1;
        *l.writing() += 1;
        assert_eq!((*m.locked(), *l.reading()), (2, 2));
    }
}
