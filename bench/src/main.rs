//! Benchmark driver: our `cyr_dbtool` against Debian's Cyrus 3.6.1 `cyr_dbtool` on the same
//! twoskip workloads, run as whole processes the way admins and scripts run them.
//!
//! `cargo run --release -p bench -- [--keys N] [--fetches N] [--runs N]`
//! (build our tools first: `cargo build --release -p tools`). Prints one line per workload
//! with the best-of-runs time of each side and the throughput ratio; see bench/README.md.
//!
//! `bench imap [...]` runs the IMAP benchmark instead: see [`imap`].

mod imap;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DEBIAN: &str = "/usr/lib/cyrus/bin/cyr_dbtool";

struct Side {
    name: &'static str,
    bin: PathBuf,
    dir: PathBuf,
}

impl Side {
    fn db(&self) -> PathBuf {
        self.dir.join("bench.db")
    }
    fn conf(&self) -> PathBuf {
        self.dir.join("imapd.conf")
    }
    /// Runs `cyr_dbtool -C conf <args>` with `input` on stdin; returns the wall time.
    fn run(&self, args: &[&str], input: &[u8]) -> Duration {
        let start = Instant::now();
        let mut child = Command::new(&self.bin)
            .arg("-C")
            .arg(self.conf())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", self.bin.display()));
        let mut stdin = child.stdin.take().expect("stdin is piped");
        stdin.write_all(input).expect("write workload");
        drop(stdin);
        let status = child.wait().expect("wait");
        assert!(status.success(), "{} {:?} failed", self.name, args);
        start.elapsed()
    }
}

/// Deterministic keys: `user.<n>.<m>`-like names spread over many prefixes.
fn key(i: u64) -> String {
    let h = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    format!("p{:03}.user{:08x}.{}", h % 997, h >> 32, i)
}

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).is_some_and(|a| a == "imap") {
        imap::main(&args[2..]);
        return;
    }
    let keys = arg(&args, "--keys", 1_000_000);
    let fetches = arg(&args, "--fetches", 100_000);
    let runs = arg(&args, "--runs", 3);
    let ours = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/cyr_dbtool");
    if !ours.exists() || !Path::new(DEBIAN).exists() {
        eprintln!(
            "need {} (cargo build --release -p tools) and {DEBIAN}",
            ours.display()
        );
        std::process::exit(2);
    }
    let base = std::env::temp_dir().join(format!("cyrus-bench-{}", std::process::id()));
    let sides: Vec<Side> = [("ours", ours), ("cyrus", PathBuf::from(DEBIAN))]
        .into_iter()
        .map(|(name, bin)| {
            let dir = base.join(name);
            std::fs::create_dir_all(&dir).expect("scratch dir");
            std::fs::write(
                dir.join("imapd.conf"),
                format!("configdirectory: {}\n", dir.display()),
            )
            .expect("imapd.conf");
            Side { name, bin, dir }
        })
        .collect();
    // Debian's tool becomes the cyrus user when run as root.
    let _ = Command::new("chown")
        .args(["-R", "cyrus"])
        .arg(&base)
        .status();

    let mut insert = String::from("BEGIN\n");
    for i in 0..keys {
        insert.push_str(&format!("SET {} value-{}\n", key(i), i * 31));
    }
    insert.push_str("COMMIT\n");
    let mut fetch = String::new();
    let mut x = 88172645463325252u64;
    for _ in 0..fetches {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        fetch.push_str(&format!("GET {}\n", key(x % keys)));
    }

    println!(
        "workload                                   ours       cyrus   ratio (cyrus time / ours)"
    );
    let mut results = Vec::new();
    type Work<'a> = (&'a str, Vec<&'a str>, &'a [u8], bool);
    let prefixes: Vec<&str> = vec!["p000.", "p500.", "p996."];
    let work: Vec<Work> = vec![
        (
            "insert: {keys} keys, one transaction",
            vec!["batch"],
            insert.as_bytes(),
            true,
        ),
        (
            "fetch: {fetches} random keys",
            vec!["batch"],
            fetch.as_bytes(),
            false,
        ),
        ("foreach: prefix show x3", vec!["show"], b"", false),
    ];
    for (label, action, input, fresh) in work {
        let label = label
            .replace("{keys}", &keys.to_string())
            .replace("{fetches}", &fetches.to_string());
        let mut best = Vec::new();
        for side in &sides {
            let mut t_best = Duration::MAX;
            for _ in 0..runs {
                if fresh {
                    let _ = std::fs::remove_file(side.db());
                }
                let db = side.db();
                let db = db.to_str().expect("utf-8 path");
                let t = if action == ["show"] {
                    prefixes
                        .iter()
                        .map(|p| side.run(&[db, "twoskip", "show", p], b""))
                        .sum()
                } else {
                    let mut a = vec![];
                    if fresh {
                        a.push("-n");
                    }
                    a.extend([db, "twoskip"]);
                    a.extend(action.iter().copied());
                    side.run(&a, input)
                };
                t_best = t_best.min(t);
            }
            best.push(t_best);
        }
        let ratio = best[1].as_secs_f64() / best[0].as_secs_f64();
        println!(
            "{label:<40} {:>8.3}s {:>8.3}s   {ratio:.2}x",
            best[0].as_secs_f64(),
            best[1].as_secs_f64()
        );
        results.push(ratio);
    }
    let _ = std::fs::remove_dir_all(&base);
}
