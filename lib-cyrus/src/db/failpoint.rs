//! A crash switch for the crash-safety tests: after a set number of file writes, syncs and
//! truncations, the process kills itself with SIGKILL, exactly as an admin's `kill -9` would.
//!
//! It is off unless a test arms it; when off it costs one relaxed atomic load per write.

use std::sync::atomic::{AtomicU64, Ordering};

static COUNTDOWN: AtomicU64 = AtomicU64::new(0);

/// Arms the switch: the `n`th file write from now (1-based) kills the process before it
/// happens. `0` disarms it.
pub fn arm(n: u64) {
    COUNTDOWN.store(n, Ordering::SeqCst);
}

/// Called before every write, sync and truncation of a database file.
pub fn hit() {
    if COUNTDOWN.load(Ordering::Relaxed) == 0 {
        return;
    }
    if COUNTDOWN.fetch_sub(1, Ordering::SeqCst) == 1 {
        // SAFETY: kill(2) on our own pid has no memory effects; SIGKILL cannot be caught, so
        // the process ends here with whatever the kernel already has of its writes.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}
