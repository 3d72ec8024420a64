//! The load: N client threads, each logged in as its own user (`bench<i>`) on its own INBOX,
//! looping a mixed session until the deadline and timing every command.
//!
//! Even-numbered clients keep one session (LOGIN and SELECT once, then loop the mix); odd ones
//! reconnect for every round (connect, LOGIN, SELECT, the mix, LOGOUT). The mix of one round:
//! FETCH 1:* (FLAGS); FETCH of three random messages' BODY.PEEK[]; SEARCH UNSEEN; SEARCH FROM;
//! STORE +FLAGS or -FLAGS \Seen on a random message; APPEND of a 3 KB message; UID STORE of
//! \Deleted on it; EXPUNGE. A round always runs to its end, so each INBOX holds the seeded
//! messages again between rounds; only commands that finish before the deadline count.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use super::conn::{Conn, Status};
use super::stats::{Op, Record};

/// Password of every user in the scratch sasldb.
pub const PASSWORD: &str = "secret";

/// What every client of a run shares.
pub struct Plan {
    pub port: u16,
    pub clients: usize,
    pub seconds: f64,
    pub nodelay: bool,
    /// Messages in each INBOX (checked before the run starts).
    pub messages: u32,
}

pub fn user(i: usize) -> String {
    format!("bench{i}")
}

/// Runs the load; returns the merged record and the timed window in seconds.
pub fn run(plan: &Plan) -> (Record, f64) {
    let barrier = Arc::new(Barrier::new(plan.clients + 1));
    let start_at = Arc::new(std::sync::Mutex::new(None::<Instant>));
    let threads: Vec<_> = (0..plan.clients)
        .map(|i| {
            let barrier = Arc::clone(&barrier);
            let start_at = Arc::clone(&start_at);
            let port = plan.port;
            let nodelay = plan.nodelay;
            let messages = plan.messages;
            let seconds = plan.seconds;
            std::thread::spawn(move || {
                barrier.wait();
                let start = start_at
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .unwrap_or_else(Instant::now);
                let deadline = start + Duration::from_secs_f64(seconds);
                let mut c = Client {
                    id: i,
                    port,
                    nodelay,
                    messages,
                    deadline,
                    rng: 0x9e37_79b9_7f4a_7c15 ^ ((i as u64 + 1) << 17),
                    rec: Record::default(),
                    appended: 0,
                };
                c.work();
                c.rec
            })
        })
        .collect();
    *start_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    barrier.wait();
    let mut all = Record::default();
    for t in threads {
        match t.join() {
            Ok(r) => all.merge(r),
            Err(_) => all.error("a client thread panicked".into()),
        }
    }
    all.finish();
    (all, plan.seconds)
}

struct Client {
    id: usize,
    port: u16,
    nodelay: bool,
    messages: u32,
    deadline: Instant,
    rng: u64,
    rec: Record,
    appended: u64,
}

impl Client {
    fn rand(&mut self, n: u32) -> u32 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng % u64::from(n.max(1))) as u32 + 1
    }

    fn work(&mut self) {
        let keep = self.id.is_multiple_of(2);
        let mut session: Option<Conn> = None;
        while Instant::now() < self.deadline {
            if session.is_none() {
                session = self.open();
                if session.is_none() {
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
            }
            let Some(c) = session.as_mut() else { continue };
            let ok = self.round(c);
            if !ok || !keep {
                if ok {
                    let _ = self.timed(c, Op::Logout, "LOGOUT");
                }
                session = None;
            }
        }
        if let Some(mut c) = session {
            let _ = c.cmd("LOGOUT");
        }
    }

    /// Records `d` for `op` if the command finished before the deadline.
    fn note(&mut self, op: Op, started: Instant) {
        let now = Instant::now();
        if now <= self.deadline {
            self.rec.add(op, now - started);
        }
    }

    /// Runs one command and times it; false when the connection is gone.
    fn timed(&mut self, c: &mut Conn, op: Op, command: &str) -> bool {
        let t = Instant::now();
        match c.cmd(command) {
            Ok(Status::Ok) => {
                self.note(op, t);
                true
            }
            Ok(_) => {
                self.rec.error(format!("{command}: {}", c.tagged_text()));
                true
            }
            Err(e) => {
                self.rec.error(format!("{command}: {e}"));
                false
            }
        }
    }

    /// Connects, logs in and selects INBOX.
    fn open(&mut self) -> Option<Conn> {
        let t = Instant::now();
        let mut c = match Conn::connect(self.port, self.nodelay) {
            Ok(c) => c,
            Err(e) => {
                self.rec.error(format!("connect: {e}"));
                return None;
            }
        };
        self.note(Op::Connect, t);
        let login = format!("LOGIN {} {PASSWORD}", user(self.id));
        if !self.timed(&mut c, Op::Login, &login) || !self.timed(&mut c, Op::Select, "SELECT INBOX")
        {
            return None;
        }
        Some(c)
    }

    /// One round of the mix; false when the connection was lost.
    fn round(&mut self, c: &mut Conn) -> bool {
        let n = self.messages;
        if !self.timed(c, Op::FetchFlags, "FETCH 1:* (FLAGS)") {
            return false;
        }
        let (a, b, d) = (self.rand(n), self.rand(n), self.rand(n));
        if !self.timed(
            c,
            Op::FetchBodies,
            &format!("FETCH {a},{b},{d} (BODY.PEEK[])"),
        ) {
            return false;
        }
        if !self.timed(c, Op::SearchUnseen, "SEARCH UNSEEN") {
            return false;
        }
        if !self.timed(c, Op::SearchFrom, "SEARCH FROM \"bob\"") {
            return false;
        }
        let m = self.rand(n);
        let sign = if self.rand(2) == 1 { '+' } else { '-' };
        if !self.timed(c, Op::Store, &format!("STORE {m} {sign}FLAGS (\\Seen)")) {
            return false;
        }
        self.appended += 1;
        let msg = message(self.id, self.appended);
        let t = Instant::now();
        match c.cmd_literal("APPEND INBOX (\\Seen)", &msg) {
            Ok(Status::Ok) => self.note(Op::Append, t),
            Ok(_) => {
                self.rec.error(format!("APPEND: {}", c.tagged_text()));
                return true;
            }
            Err(e) => {
                self.rec.error(format!("APPEND: {e}"));
                return false;
            }
        }
        let store = match c.append_uid() {
            Some(uid) => format!("UID STORE {uid} +FLAGS.SILENT (\\Deleted)"),
            // Without UIDPLUS: the newest message is the one just appended (own mailbox).
            None => "STORE * +FLAGS.SILENT (\\Deleted)".into(),
        };
        self.timed(c, Op::StoreDeleted, &store) && self.timed(c, Op::Expunge, "EXPUNGE")
    }
}

/// The message a client appends: about 3 KB of plain text, unique Message-ID.
pub fn message(client: usize, n: u64) -> Vec<u8> {
    let mut m = format!(
        "From: Load Client <load{client}@example.com>\r\n\
         To: bench{client}@example.org\r\n\
         Subject: load test message {n}\r\n\
         Date: Sun, 22 Nov 2026 08:00:00 +0000\r\n\
         Message-ID: <load.{client}.{n}@bench.example>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=us-ascii\r\n\r\n"
    )
    .into_bytes();
    let line = b"The quick brown fox jumps over the lazy dog, and the lazy dog sleeps on.\r\n";
    while m.len() < 3000 {
        m.extend_from_slice(line);
    }
    m
}

/// Logs in as client `i`'s user and fills its INBOX with `seeds` (in order, cycling) up to
/// `count` messages. Returns the number of messages the INBOX holds.
pub fn seed(port: u16, i: usize, seeds: &[Vec<u8>], count: u32) -> Result<u32, String> {
    let mut c = Conn::connect(port, true).map_err(|e| format!("connect: {e}"))?;
    let login = format!("LOGIN {} {PASSWORD}", user(i));
    if c.cmd(&login).map_err(|e| e.to_string())? != Status::Ok {
        return Err(format!("{login}: {}", c.tagged_text()));
    }
    if c.cmd("SELECT INBOX").map_err(|e| e.to_string())? != Status::Ok {
        return Err(format!("SELECT: {}", c.tagged_text()));
    }
    let mut have = c.untagged_number(b"EXISTS").unwrap_or(0);
    while have < count {
        let m = &seeds[have as usize % seeds.len()];
        // Every third message arrives already read, so SEARCH UNSEEN has work both ways.
        let command = if have.is_multiple_of(3) {
            "APPEND INBOX (\\Seen)"
        } else {
            "APPEND INBOX"
        };
        let st = c.cmd_literal(command, m).map_err(|e| e.to_string())?;
        if st != Status::Ok {
            return Err(format!("APPEND: {}", c.tagged_text()));
        }
        have += 1;
    }
    c.cmd("NOOP").map_err(|e| e.to_string())?;
    let have = c.untagged_number(b"EXISTS").unwrap_or(have);
    let _ = c.cmd("LOGOUT");
    Ok(have)
}
