//! LMTP delivery benchmark: messages per second filed by our lmtpd against Debian's Cyrus
//! 3.6.1 lmtpd, each run by our master on its own copy of the reference spool with the same
//! 50 users, the same message mix and the same number of concurrent connections over the
//! unix socket (Postfix's `lmtp:unix:` setup, no AUTH). Both sides fsync as they always do;
//! neither has a switch to stop it.
//!
//! `cargo build --release -p lmtpd -p master -p bench` then, as root (master drops to the
//! `cyrus` user): `./target/release/bench-lmtp [--messages N] [--connections N] [--runs N] [--only ours|cyrus]`.
//! See bench/README.md.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cyrus::mailbox::header::Header;
use cyrus::mailbox::{LockMode, Mailbox};
use cyrus::mboxlist::paths::{self, Area};
use cyrus::mboxlist::{Acl, MailboxList, MboxEntry};
use cyrus::mboxname::InternalName;
use e2e::{reference_instance, wait_for, Master, Scratch, SOON};

const DEBIAN: &str = "/usr/lib/cyrus/bin/lmtpd";
const USERS: usize = 50;

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Adds `user.bench00`.. to the instance before master starts; their mailbox directories.
fn add_users(conf: &Path) -> Vec<PathBuf> {
    let config = cyrus::config::Config::load(conf, None).expect("imapd.conf");
    let mut list = MailboxList::open(&config, None).expect("mailboxes.db");
    (0..USERS)
        .map(|n| {
            let user = format!("bench{n:02}");
            let name = format!("user.{user}");
            let uniqueid = format!("benchuser{n:02}xxxxxxxxxxxxx");
            let acl = vec![(user, "lrswipkxtecdan".to_string())];
            let mut e = MboxEntry::new(InternalName::new(name.as_str()).expect("name"));
            e.uniqueid = Some(uniqueid.clone());
            e.partition = Some("default".into());
            e.uidvalidity = 1_800_000_000 + n as u32;
            e.createdmodseq = 1;
            e.foldermodseq = 1;
            e.acl = Some(Acl(acl.clone()));
            list.create(&mut e).expect("add the mailbox");
            let dir = paths::mailbox_dir(&config, &e, Area::Data).expect("mailbox dir");
            let mut h = Header::new("e", &name, &uniqueid);
            h.acl = Some(acl);
            drop(Mailbox::create(&dir, &h, e.uidvalidity, 1, 1_800_000_000).expect("create"));
            dir
        })
        .collect()
}

/// Message `k` of the mix: mostly small text, some mid-size, a few large attachments
/// (about 1.5 KB, 20 KB and 200 KB; 14.4 KB on average).
fn message(k: usize) -> Vec<u8> {
    let body_lines = match k % 20 {
        0 => 2600,
        1..=5 => 260,
        _ => 18,
    };
    let mut m = format!(
        "From: Bench <bench@example.org>\r\nTo: bench{:02}@example.org\r\nSubject: bench {k}\r\n\
         Date: Sat, 13 Jan 2024 08:00:00 +0000\r\nMessage-ID: <bench-{k}@example.org>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n",
        k % USERS
    )
    .into_bytes();
    for j in 0..body_lines {
        m.extend_from_slice(
            format!("{k:08} {j:05} the quick brown fox jumps over the lazy dog 0123456789\r\n")
                .as_bytes(),
        );
    }
    m
}

fn read_reply(r: &mut BufReader<UnixStream>) -> String {
    loop {
        let mut l = String::new();
        if r.read_line(&mut l).unwrap_or(0) == 0 {
            return String::new();
        }
        if l.as_bytes().get(3) != Some(&b'-') {
            return l;
        }
    }
}

/// Delivers messages `k = c, c + conns, ...` below `n` over one connection.
fn client(sock: &Path, c: usize, conns: usize, n: usize) {
    let s = UnixStream::connect(sock).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(120))).ok();
    let mut r = BufReader::new(s.try_clone().expect("clone"));
    let mut w = std::io::BufWriter::new(s);
    assert!(read_reply(&mut r).starts_with("220"));
    w.write_all(b"LHLO bench\r\n").expect("send");
    w.flush().expect("send");
    assert!(read_reply(&mut r).starts_with("250"));
    for k in (c..n).step_by(conns) {
        // Pipelined as Postfix does: envelope and DATA in one go, then the message.
        write!(
            w,
            "MAIL FROM:<bench@example.org>\r\nRCPT TO:<bench{:02}>\r\nDATA\r\n",
            k % USERS
        )
        .expect("send");
        w.flush().expect("send");
        for what in ["MAIL", "RCPT"] {
            let l = read_reply(&mut r);
            assert!(l.starts_with("250"), "{what} for {k}: {l}");
        }
        assert!(read_reply(&mut r).starts_with("354"));
        w.write_all(&message(k)).expect("send");
        w.write_all(b".\r\n").expect("send");
        w.flush().expect("send");
        let l = read_reply(&mut r);
        assert!(l.starts_with("250"), "message {k}: {l}");
    }
    let _ = w.write_all(b"QUIT\r\n");
    let _ = w.flush();
}

/// One timed run of `lmtpd` on a fresh instance; seconds for `n` messages.
fn run(master: &Path, lmtpd: &Path, n: usize, conns: usize) -> f64 {
    let dir = Scratch::new("bench-lmtp");
    let conf = reference_instance(&dir).expect("a reference instance");
    let dirs = add_users(&conf);
    let sock = dir.join("conf/socket/lmtp");
    let text = format!(
        "SERVICES {{\n  lmtpunix cmd=\"{l} -C {c}\" listen=\"{s}\" prefork={conns} maxchild={m}\n}}\n",
        l = lmtpd.display(),
        c = conf.display(),
        s = sock.display(),
        m = conns + 2
    );
    let cyrus_conf = dir.write("etc/cyrus.conf", &text);
    dir.give_to_cyrus();
    let _m = Master::start(master, &dir, &conf, &cyrus_conf);
    wait_for("the lmtp socket", SOON, || UnixStream::connect(&sock).ok());
    let start = Instant::now();
    std::thread::scope(|s| {
        for c in 0..conns {
            let sock = &sock;
            s.spawn(move || client(sock, c, conns, n));
        }
    });
    let secs = start.elapsed().as_secs_f64();
    let filed: usize = dirs
        .iter()
        .map(|d| {
            Mailbox::open(d, LockMode::Read)
                .map(|m| m.index_header().exists as usize)
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(filed, n, "every message filed");
    secs
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n = arg(&args, "--messages", 2000);
    let conns = arg(&args, "--connections", 8);
    let runs = arg(&args, "--runs", 3);
    let release = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release");
    let (master, ours) = (release.join("master"), release.join("lmtpd"));
    for p in [&master, &ours, &PathBuf::from(DEBIAN)] {
        if !p.exists() {
            eprintln!(
                "need {} (cargo build --release -p lmtpd -p master)",
                p.display()
            );
            std::process::exit(2);
        }
    }
    if !e2e::is_root() {
        eprintln!("run as root: master starts the workers as the cyrus user");
        std::process::exit(2);
    }
    let avg: usize = (0..n).map(|k| message(k).len()).sum::<usize>() / n.max(1);
    println!("{n} messages (average {avg} bytes) to {USERS} users over {conns} connections, best of {runs}");
    let mut best = Vec::new();
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    for (name, lmtpd) in [("ours", &ours), ("cyrus", &PathBuf::from(DEBIAN))] {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let times: Vec<f64> = (0..runs).map(|_| run(&master, lmtpd, n, conns)).collect();
        let b = times.iter().copied().fold(f64::INFINITY, f64::min);
        println!(
            "{name:6} best {b:7.2} s  {:8.0} msg/s   runs {:?}",
            n as f64 / b,
            times.iter().map(|t| format!("{t:.2}")).collect::<Vec<_>>()
        );
        best.push(b);
    }
    if let [ours, cyrus] = best[..] {
        println!("ratio (cyrus time / ours): {:.2}x", cyrus / ours);
    }
}
