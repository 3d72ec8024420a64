//! The autologout timer workers share: a thread that ends the process, as Cyrus's
//! `shut_down` does, when the client has been silent longer than the service's timeout. A
//! blocking read then needs no socket option, and nothing is written on timeout.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::syslog::{self, Level};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Ends the process after `limit` seconds without [`Watchdog::touch`]; stops when dropped.
#[derive(Debug)]
pub struct Watchdog {
    last: Arc<AtomicU64>,
    active: Arc<AtomicBool>,
}

impl Watchdog {
    /// Starts the timer with `limit` seconds of allowed silence.
    pub fn start(limit: u64) -> Watchdog {
        let last = Arc::new(AtomicU64::new(now()));
        let active = Arc::new(AtomicBool::new(true));
        let (l, a) = (Arc::clone(&last), Arc::clone(&active));
        std::thread::spawn(move || {
            while a.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_secs(1));
                if a.load(Ordering::SeqCst)
                    && now().saturating_sub(l.load(Ordering::SeqCst)) > limit
                {
                    syslog::log(Level::Info, "autologout: client idle too long");
                    std::process::exit(0);
                }
            }
        });
        Watchdog { last, active }
    }

    /// The client did something: the silence starts over.
    pub fn touch(&self) {
        self.last.store(now(), Ordering::SeqCst);
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.active.store(false, Ordering::SeqCst);
    }
}

/// A session id as Cyrus forms it: `<servername>-<pid>-<n>-<random>`, unique per process
/// and connection, with a random part so ids do not repeat across restarts.
pub fn session_id(servername: &str, n: u32) -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut h = RandomState::new().build_hasher();
    h.write_u64(now());
    format!(
        "{servername}-{}-{}-{n}-{}",
        now(),
        std::process::id(),
        h.finish()
    )
}
