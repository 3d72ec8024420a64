//! Latency records of one load run and what the report prints from them: commands per second,
//! and the 50th and 99th percentile per command kind and over all commands.

use std::time::Duration;

/// The timed steps of a client session. `Connect` (TCP connect and greeting) is timed but is
/// not an IMAP command, so it does not count towards ops/s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Connect,
    Login,
    Select,
    FetchFlags,
    FetchBodies,
    SearchUnseen,
    SearchFrom,
    Store,
    Append,
    StoreDeleted,
    Expunge,
    Logout,
}

impl Op {
    pub const ALL: [Op; 12] = [
        Op::Connect,
        Op::Login,
        Op::Select,
        Op::FetchFlags,
        Op::FetchBodies,
        Op::SearchUnseen,
        Op::SearchFrom,
        Op::Store,
        Op::Append,
        Op::StoreDeleted,
        Op::Expunge,
        Op::Logout,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Op::Connect => "connect+greeting",
            Op::Login => "LOGIN",
            Op::Select => "SELECT INBOX",
            Op::FetchFlags => "FETCH 1:* (FLAGS)",
            Op::FetchBodies => "FETCH 3 x BODY.PEEK[]",
            Op::SearchUnseen => "SEARCH UNSEEN",
            Op::SearchFrom => "SEARCH FROM",
            Op::Store => "STORE +/-FLAGS \\Seen",
            Op::Append => "APPEND",
            Op::StoreDeleted => "UID STORE \\Deleted",
            Op::Expunge => "EXPUNGE",
            Op::Logout => "LOGOUT",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Latencies in microseconds, one vector per [`Op`]; plus failures.
#[derive(Default)]
pub struct Record {
    lat: [Vec<u32>; 12],
    /// Commands answered NO or BAD, and connections lost.
    pub errors: u64,
    /// The first few error lines, for the report.
    pub samples: Vec<String>,
}

impl Record {
    pub fn add(&mut self, op: Op, d: Duration) {
        let us = u32::try_from(d.as_micros()).unwrap_or(u32::MAX);
        self.lat[op.index()].push(us);
    }

    pub fn error(&mut self, what: String) {
        self.errors += 1;
        if self.samples.len() < 5 {
            self.samples.push(what);
        }
    }

    pub fn merge(&mut self, other: Record) {
        for (a, b) in self.lat.iter_mut().zip(other.lat) {
            a.extend(b);
        }
        self.errors += other.errors;
        for s in other.samples {
            if self.samples.len() < 5 {
                self.samples.push(s);
            }
        }
    }

    /// Sorts every vector, so percentiles can be read.
    pub fn finish(&mut self) {
        for v in &mut self.lat {
            v.sort_unstable();
        }
    }

    pub fn count(&self, op: Op) -> usize {
        self.lat[op.index()].len()
    }

    /// IMAP commands completed (everything but `Connect`).
    pub fn commands(&self) -> usize {
        Op::ALL
            .iter()
            .filter(|o| **o != Op::Connect)
            .map(|o| self.count(*o))
            .sum()
    }

    /// Percentile `p` (0..100) of `op`, in milliseconds; `None` without samples.
    pub fn pct(&self, op: Op, p: f64) -> Option<f64> {
        pct(&self.lat[op.index()], p)
    }

    /// Percentile `p` over all IMAP commands, in milliseconds.
    pub fn pct_all(&self, p: f64) -> Option<f64> {
        let mut all: Vec<u32> = Op::ALL
            .iter()
            .filter(|o| **o != Op::Connect)
            .flat_map(|o| self.lat[o.index()].iter().copied())
            .collect();
        all.sort_unstable();
        pct(&all, p)
    }
}

fn pct(sorted: &[u32], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    let i = rank.clamp(1, sorted.len()) - 1;
    Some(f64::from(sorted[i]) / 1000.0)
}

/// One finished run of one server.
pub struct Run {
    pub record: Record,
    pub seconds: f64,
}

impl Run {
    pub fn ops_per_sec(&self) -> f64 {
        self.record.commands() as f64 / self.seconds
    }
}

/// `x` as "12.3" or "-".
pub fn ms(x: Option<f64>) -> String {
    match x {
        Some(v) if v >= 100.0 => format!("{v:.0}"),
        Some(v) if v >= 10.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.2}"),
        None => "-".into(),
    }
}

/// Prints the per-command table of the two servers' chosen runs side by side.
pub fn print_table(ours: &Run, cyrus: &Run) {
    println!(
        "{:<24} {:>9} {:>9} {:>9} | {:>9} {:>9} {:>9}",
        "command (ms)", "ours n", "p50", "p99", "cyrus n", "p50", "p99"
    );
    for op in Op::ALL {
        let (a, b) = (&ours.record, &cyrus.record);
        println!(
            "{:<24} {:>9} {:>9} {:>9} | {:>9} {:>9} {:>9}",
            op.label(),
            a.count(op),
            ms(a.pct(op, 50.0)),
            ms(a.pct(op, 99.0)),
            b.count(op),
            ms(b.pct(op, 50.0)),
            ms(b.pct(op, 99.0)),
        );
    }
    println!(
        "{:<24} {:>9} {:>9} {:>9} | {:>9} {:>9} {:>9}",
        "all commands",
        ours.record.commands(),
        ms(ours.record.pct_all(50.0)),
        ms(ours.record.pct_all(99.0)),
        cyrus.record.commands(),
        ms(cyrus.record.pct_all(50.0)),
        ms(cyrus.record.pct_all(99.0)),
    );
}
