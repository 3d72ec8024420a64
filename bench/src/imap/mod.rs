//! `bench imap`: our master and imapd against Debian's Cyrus 3.6 master and imapd, each on its
//! own copy of the reference spool on the same machine, under the same mixed IMAP load; and
//! the memory each needs per idle authenticated connection. See bench/README.md, "imapd".
//!
//! `bench imap [--clients 50] [--seconds 20] [--runs 3] [--idle 100] [--messages 50]
//! [--client-nodelay 1] [--only ours|cyrus]` (as root; build first with
//! `cargo build --release -p master -p imapd -p bench`).

mod conn;
mod instance;
mod load;
mod mem;
mod stats;

use std::path::{Path, PathBuf};
use std::time::Duration;

use conn::{Conn, Status};
use instance::{Instance, Spec, DEBIAN_BIN};
use stats::Run;

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn arg_str<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

/// Debian's imapd: installed, or taken out of the .deb by the e2e helper
/// `e2e::debian_imapd()` into `target/cyrus-debs/` (run `cargo test -p tests --test
/// master_debian` once to fetch it).
fn debian_imapd(target: &Path) -> Option<PathBuf> {
    let installed = Path::new(DEBIAN_BIN).join("imapd");
    if installed.exists() {
        return Some(installed);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(target.join("cyrus-debs"))
        .ok()?
        .flatten()
        .map(|e| e.path().join("imapd"))
        .filter(|p| p.exists())
        .collect();
    found.sort();
    found.pop()
}

/// The messages every INBOX is seeded with: the reference spool's message files, in path order.
fn seed_messages() -> Result<Vec<Vec<u8>>, String> {
    let mut files = Vec::new();
    let mut dirs = vec![instance::reference_dir().join("spool/partition-default")];
    while let Some(d) = dirs.pop() {
        let rd = std::fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))?;
        for e in rd.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().to_string();
            if p.is_dir() {
                dirs.push(p);
            } else if name.ends_with('.') && name[..name.len() - 1].parse::<u32>().is_ok() {
                files.push(p);
            }
        }
    }
    files.sort();
    files
        .iter()
        .map(|p| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display())))
        .collect()
}

/// Opens `k` connections as the benchmark users, each LOGIN and SELECT INBOX, and measures the
/// workers that hold them.
fn idle_memory(inst: &mut Instance, k: usize, users: usize) -> Result<mem::Mem, String> {
    let mut conns = Vec::new();
    for i in 0..k {
        let mut c = Conn::connect(inst.port, true).map_err(|e| format!("idle connect: {e}"))?;
        let login = format!("LOGIN {} {}", load::user(i % users), load::PASSWORD);
        if c.cmd(&login).map_err(|e| e.to_string())? != Status::Ok
            || c.cmd("SELECT INBOX").map_err(|e| e.to_string())? != Status::Ok
        {
            return Err(format!("idle session {i}: {}", c.tagged_text()));
        }
        conns.push(c);
    }
    std::thread::sleep(Duration::from_secs(2));
    let ports: Vec<u16> = conns.iter().map(Conn::local_port).collect();
    let workers = inst.workers();
    let m = mem::for_connections(inst.port, &ports, &workers);
    for mut c in conns {
        let _ = c.cmd("LOGOUT");
    }
    Ok(m)
}

/// Entry point of `bench imap`.
pub fn main(args: &[String]) {
    if let Err(e) = bench(args) {
        eprintln!("bench imap: {e}");
        std::process::exit(2);
    }
}

fn bench(args: &[String]) -> Result<(), String> {
    let clients = arg(args, "--clients", 50).max(1) as usize;
    let seconds = arg(args, "--seconds", 20).max(1) as f64;
    let runs = arg(args, "--runs", 3).max(1);
    let idle = arg(args, "--idle", 100) as usize;
    let messages = arg(args, "--messages", 50).max(1) as u32;
    let nodelay = arg(args, "--client-nodelay", 1) != 0;
    let only = arg_str(args, "--only");

    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err("run as root: both masters start as root and become `cyrus`".into());
    }
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
    let ours = Spec {
        name: "ours",
        master: target.join("release/master"),
        imapd: target.join("release/imapd"),
    };
    let cyrus = Spec {
        name: "cyrus",
        master: Path::new(DEBIAN_BIN).join("master"),
        imapd: debian_imapd(&target).ok_or(
            "Debian's imapd is neither installed nor in target/cyrus-debs/ \
             (cargo test -p tests --test master_debian fetches it)",
        )?,
    };
    let specs: Vec<&Spec> = [&ours, &cyrus]
        .into_iter()
        .filter(|s| !matches!(only, Some(o) if o != s.name))
        .collect();
    for s in &specs {
        for p in [&s.master, &s.imapd] {
            if !p.exists() {
                return Err(format!(
                    "missing {} (cargo build --release -p master -p imapd -p bench)",
                    p.display()
                ));
            }
        }
    }
    let seeds = seed_messages()?;
    let base = std::env::temp_dir().join(format!("cyrus-bench-imap-{}", std::process::id()));
    std::fs::create_dir_all(&base).map_err(|e| e.to_string())?;
    let result = with_base(
        &base, &specs, &seeds, clients, seconds, runs, idle, messages, nodelay,
    );
    let _ = std::fs::remove_dir_all(&base);
    result
}

#[allow(clippy::too_many_arguments)]
fn with_base(
    base: &Path,
    specs: &[&Spec],
    seeds: &[Vec<u8>],
    clients: usize,
    seconds: f64,
    runs: u64,
    idle: usize,
    messages: u32,
    nodelay: bool,
) -> Result<(), String> {
    let users: Vec<String> = (0..clients).map(load::user).collect();
    let sasldb = base.join("sasldb2");
    let mut all_users: Vec<String> = ["admin", "alice", "bob"].map(String::from).to_vec();
    all_users.extend(users.iter().cloned());
    instance::make_sasldb(&sasldb, &all_users)?;

    println!(
        "imap: {clients} clients, {seconds} s x {runs} runs, {messages} messages per INBOX, \
         {idle} idle connections, client TCP_NODELAY {}",
        if nodelay { "on" } else { "off" }
    );
    let mut insts = Vec::new();
    for s in specs {
        let inst = Instance::start(s, &base.join(s.name), &sasldb, clients, clients + idle + 10)?;
        inst.create_users(&users)?;
        let port = inst.port;
        let counts: Vec<Result<u32, String>> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..clients)
                .map(|i| sc.spawn(move || load::seed(port, i, seeds, messages)))
                .collect();
            hs.into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err("seed thread panicked".into()))
                })
                .collect()
        });
        for (i, c) in counts.into_iter().enumerate() {
            let n = c.map_err(|e| format!("{}: seeding bench{i}: {e}", s.name))?;
            if n != messages {
                return Err(format!("{}: bench{i} holds {n} messages", s.name));
            }
        }
        println!(
            "{}: master {} + {} on port {}, seeded",
            s.name,
            s.master.display(),
            s.imapd.display(),
            port
        );
        insts.push(inst);
    }

    let mut mems = Vec::new();
    for inst in &mut insts {
        if idle == 0 {
            mems.push(mem::Mem::default());
            continue;
        }
        let m = idle_memory(inst, idle, clients)?;
        println!(
            "{}: {idle} idle connections on {} workers: RSS {} KiB, PSS {} KiB \
             (anon {} KiB) per connection",
            inst.name,
            m.procs,
            m.rss_kb / idle as u64,
            m.pss_kb / idle as u64,
            m.anon_kb / idle as u64
        );
        mems.push(m);
    }

    let mut results: Vec<Vec<Run>> = insts.iter().map(|_| Vec::new()).collect();
    for r in 1..=runs {
        for (inst, res) in insts.iter().zip(results.iter_mut()) {
            std::thread::sleep(Duration::from_secs(1));
            let plan = load::Plan {
                port: inst.port,
                clients,
                seconds,
                nodelay,
                messages,
            };
            let (record, secs) = load::run(&plan);
            let run = Run {
                record,
                seconds: secs,
            };
            println!(
                "run {r} {:<6} {:>9.1} ops/s  p50 {:>6} ms  p99 {:>6} ms  errors {}",
                inst.name,
                run.ops_per_sec(),
                stats::ms(run.record.pct_all(50.0)),
                stats::ms(run.record.pct_all(99.0)),
                run.record.errors
            );
            for s in &run.record.samples {
                println!("    error: {s}");
            }
            res.push(run);
        }
    }

    if let [o, c] = &results[..] {
        let per_run: Vec<String> = o
            .iter()
            .zip(c)
            .map(|(a, b)| format!("{:.2}x", a.ops_per_sec() / b.ops_per_sec()))
            .collect();
        println!("ops/s ratio per run: {}", per_run.join(" "));
    }
    // The best run of each side (highest ops/s), as the twoskip benchmark takes the best time.
    let best: Vec<Run> = results
        .into_iter()
        .map(|mut v| {
            v.sort_by(|a, b| b.ops_per_sec().total_cmp(&a.ops_per_sec()));
            v.swap_remove(0)
        })
        .collect();
    if let [o, c] = &best[..] {
        println!();
        stats::print_table(o, c);
        println!();
        println!(
            "ops/s: ours {:.1}, cyrus {:.1}: {:.2}x (target >= 2x)",
            o.ops_per_sec(),
            c.ops_per_sec(),
            o.ops_per_sec() / c.ops_per_sec()
        );
        let ratio = |a: u64, b: u64| if a == 0 { 0.0 } else { b as f64 / a as f64 };
        if idle > 0 {
            let (mo, mc) = (mems[0], mems[1]);
            println!(
                "per idle connection: RSS ours {} KiB, cyrus {} KiB: {:.2}x less; \
                 PSS ours {} KiB, cyrus {} KiB: {:.2}x less (target >= 2x less)",
                mo.rss_kb / idle as u64,
                mc.rss_kb / idle as u64,
                ratio(mo.rss_kb, mc.rss_kb),
                mo.pss_kb / idle as u64,
                mc.pss_kb / idle as u64,
                ratio(mo.pss_kb, mc.pss_kb),
            );
        }
    }
    drop(insts);
    Ok(())
}
