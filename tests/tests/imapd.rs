//! Our imapd under our master, checked against what real Cyrus 3.6 answered: the FETCH
//! goldens (golden/imap-fetch/) served from a copy of the reference spool, and the
//! transcripts, replayed command by command. Only what differs on every run is hidden
//! (session ids, timings, the kernel version in ID) plus the capabilities Cyrus advertises
//! that this server does not serve yet (`e2e::imap::NOT_SERVED`).
//! Skipped, with a note, without root, the cyrus user or Debian's Cyrus tools.

use std::path::PathBuf;

use e2e::imap::{replay, replay_skipping, Imap, Server};
use e2e::*;

#[test]
fn fetch_goldens_match_real_cyrus() {
    let Some(inst) = Server::start("imapd-golden") else {
        return;
    };
    let dir = reference_dir().join("golden/imap-fetch");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("golden dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut all = Vec::new();
    for f in &files {
        for d in replay(inst.port, f) {
            all.push(format!(
                "{}: {d}",
                f.file_name().unwrap_or_default().to_string_lossy()
            ));
        }
    }
    assert!(
        all.is_empty(),
        "{} differences:\n{}",
        all.len(),
        all.join("\n")
    );
}

#[test]
fn greeting_capability_and_login_match_real_cyrus() {
    let Some(inst) = Server::start("imapd-caps") else {
        return;
    };
    let diffs = replay(
        inst.port,
        &reference_dir().join("transcripts/imap-01-greeting-capability.txt"),
    );
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

/// Python's imaplib runs a whole client session (tests/clients/imaplib_session.py): folders,
/// APPEND, SEARCH, FETCH, STORE, COPY, MOVE, EXPUNGE, RENAME, DELETE.
#[test]
fn python_imaplib_session_works() {
    let Some(python) = python3() else {
        return;
    };
    let Some(inst) = Server::start("imapd-imaplib") else {
        return;
    };
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/imaplib_session.py");
    let out = std::process::Command::new(python)
        .arg(&script)
        .arg(inst.port.to_string())
        .arg("alice")
        .arg(REF_PASSWORD)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "imaplib session failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Commands of the transcripts whose answers we do not compare, and why. Everything else
/// must be answered exactly as Cyrus answered it.
const TRANSCRIPT_GAPS: &[(&str, &str, &str)] = &[
    ("imap-04-session", "a056", "SORT is not served yet"),
    ("imap-04-session", "a057", "SORT is not served yet"),
    ("imap-04-session", "a058", "SORT is not served yet"),
    ("imap-04-session", "a059", "SORT is not served yet"),
    ("imap-04-session", "a060", "SORT is not served yet"),
    ("imap-04-session", "a061", "SORT is not served yet"),
    ("imap-04-session", "a062", "THREAD is not served yet"),
    ("imap-04-session", "a063", "THREAD is not served yet"),
    ("imap-04-session", "a064", "THREAD is not served yet"),
    (
        "imap-04-session",
        "a098",
        "Cyrus reads the rest of the refused SETQUOTA line before it as a new command and \
         answers `* BAD Invalid tag`; RFC 3501 §2.2.1 makes that text part of SETQUOTA",
    ),
    (
        "imap-05-errors",
        "a022",
        "the `* BAD Invalid tag` of the refused SETQUOTA line before it, as for a098 above",
    ),
];

#[test]
fn transcripts_replay_as_real_cyrus_answered() {
    let Some(inst) = Server::start_on("imapd-transcripts", false) else {
        return;
    };
    // The recording instance began with the two users' INBOXes.
    let mut c = Imap::connect(inst.port);
    c.response();
    c.send(&format!("x1 LOGIN admin {REF_PASSWORD}"));
    c.until_tagged("x1");
    for (tag, user) in [("x2", "alice"), ("x3", "bob")] {
        c.send(&format!("{tag} CREATE user.{user}"));
        let r = c.until_tagged(tag);
        assert!(r.last().is_some_and(|l| l.contains(" OK ")), "{r:?}");
    }
    c.send("x4 LOGOUT");
    c.until_tagged("x4");
    let mut all = Vec::new();
    for name in [
        "imap-02-admin",
        "imap-03-namespace-list",
        "imap-04-session",
        "imap-05-errors",
    ] {
        let file = reference_dir().join(format!("transcripts/{name}.txt"));
        for d in replay_skipping(inst.port, &file, TRANSCRIPT_GAPS) {
            all.push(format!("{name}: {d}"));
        }
    }
    assert!(
        all.is_empty(),
        "{} differences:\n{}",
        all.len(),
        all.join("\n")
    );
}

/// STARTTLS and imaps with a self-signed certificate, through Python's imaplib and ssl.
#[test]
fn starttls_and_imaps_serve_a_real_client() {
    let Some(python) = python3() else {
        return;
    };
    if !is_root() || cyrus_ids().is_none() || debian_bin("ctl_cyrusdb").is_none() {
        eprintln!("skipped: needs root, the cyrus user and Debian's cyrus-common");
        return;
    }
    let dir = Scratch::new("imapd-tls");
    let Some(conf) = reference_instance(&dir) else {
        return;
    };
    let (cert, key) = e2e::tls::self_signed();
    let cert_path = dir.join("etc/server.crt");
    let key_path = dir.join("etc/server.key");
    std::fs::write(&cert_path, cert).expect("cert");
    std::fs::write(&key_path, key).expect("key");
    let mut text = std::fs::read_to_string(&conf).expect("conf");
    text.push_str(&format!(
        "tls_server_cert: {}\ntls_server_key: {}\n",
        cert_path.display(),
        key_path.display()
    ));
    std::fs::write(&conf, text).expect("conf");
    let (imap, imaps) = (free_port(), free_port());
    let services = format!(
        "SERVICES {{\n  imap cmd=\"{p} -C {c}\" listen=\"127.0.0.1:{imap}\" prefork=1\n  imaps cmd=\"{p} -s -C {c}\" listen=\"127.0.0.1:{imaps}\" prefork=1\n}}\n",
        c = conf.display(),
        p = our_bin("imapd").display()
    );
    let cyrus_conf = dir.write("etc/cyrus.conf", &services);
    dir.give_to_cyrus();
    let _master = Master::start(&our_bin("master"), &dir, &conf, &cyrus_conf);
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/imaplib_tls.py");
    let out = std::process::Command::new(python)
        .arg(&script)
        .args([imap.to_string(), imaps.to_string()])
        .args(["alice", REF_PASSWORD])
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "TLS session failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The python3 that runs the client scripts; `None` (with a note) when there is none.
fn python3() -> Option<&'static str> {
    let found = ["/usr/bin/python3", "/usr/local/bin/python3"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    if found.is_none() {
        eprintln!("skipped: python3 is not installed");
    }
    found
}

/// The resident size of the imapd worker serving us (the one our master started last).
fn worker_rss_kb(master: &mut Master) -> u64 {
    let pids = master.workers("imapd");
    pids.iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/status")).ok())
        .filter_map(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .max()
        .unwrap_or(0)
}

/// CVE-2024-34055's class: a huge literal announced, and one command of thousands of small
/// literals, are refused without the worker growing; the connection stays usable or ends
/// with a BYE, never with a crash.
#[test]
fn hostile_literals_are_refused_with_bounded_memory() {
    let Some(mut inst) = Server::start("imapd-hostile") else {
        return;
    };
    let mut c = Imap::connect(inst.port);
    c.response();
    c.send(&format!("a LOGIN alice {REF_PASSWORD}"));
    assert!(c
        .until_tagged("a")
        .last()
        .is_some_and(|l| l.starts_with("a OK")));
    let before = worker_rss_kb(&mut inst.master);

    // A 5 GB message announced (more than an IMAP number holds, as Cyrus reads it):
    // refused before any "+ go ahead", with a NO or (Cyrus's "num too big") a BYE.
    c.send("b APPEND INBOX {5000000000}");
    let r = c.until_tagged("b");
    assert!(!r.iter().any(|l| l.starts_with('+')), "{r:?}");
    let refused = r
        .last()
        .is_some_and(|l| l.starts_with("b NO") || l.starts_with("b BAD"))
        || r.first().is_some_and(|l| l.starts_with("* BYE"));
    assert!(refused, "{r:?}");
    if r.first().is_some_and(|l| l.starts_with("* BYE")) {
        c = Imap::connect(inst.port);
        c.response();
        c.send(&format!("a LOGIN alice {REF_PASSWORD}"));
        c.until_tagged("a");
    }

    // 20,000 non-synchronizing literals in one SEARCH: refused, the rest skipped.
    let mut cmd = b"d SEARCH".to_vec();
    for _ in 0..20_000 {
        cmd.extend_from_slice(b" TEXT {1+}\r\nx");
    }
    cmd.extend_from_slice(b"\r\n");
    c.send_raw(&cmd);
    let r = c.until_tagged("d");
    assert!(
        r.last()
            .is_some_and(|l| l.starts_with("d BAD") || l.starts_with("d NO")),
        "{:?}",
        r.last()
    );

    // A 1 GB non-synchronizing literal in a LOGIN-sized command, followed by 64 MB of it:
    // the worker must not keep what it is sent.
    c.send_raw(b"e NOOP {1000000000+}\r\n");
    let chunk = vec![b'x'; 1 << 20];
    let mut sent_all = true;
    for _ in 0..64 {
        if std::io::Write::write_all(c.stream(), &chunk).is_err() {
            sent_all = false;
            break;
        }
    }
    let after = worker_rss_kb(&mut inst.master);
    eprintln!("worker RSS: {before} kB before, {after} kB after (sent all: {sent_all})");
    assert!(
        after < before + 16 * 1024,
        "the worker grew from {before} kB to {after} kB"
    );
}

/// Proxy authorization as Cyrus allows it: an admin who authenticates with another user's
/// name as the SASL authorization identity works as that user; a plain user cannot.
#[test]
fn admins_may_act_as_another_user() {
    let Some(inst) = Server::start("imapd-proxy") else {
        return;
    };
    let auth = |authz: &str, authn: &str| -> Vec<String> {
        let mut c = Imap::connect(inst.port);
        c.response();
        let token =
            cyrus::auth::base64_encode(format!("{authz}\0{authn}\0{REF_PASSWORD}").as_bytes());
        c.send(&format!("a AUTHENTICATE PLAIN {token}"));
        let mut r = c.until_tagged("a");
        if r.last().is_some_and(|l| l.starts_with("a OK")) {
            c.send("b SELECT INBOX");
            r.extend(c.until_tagged("b"));
        }
        r
    };
    let r = auth("alice", "admin");
    assert!(r.iter().any(|l| l.starts_with("a OK")), "{r:?}");
    // alice's INBOX (16 messages in the reference), not an admin's view.
    assert!(r.iter().any(|l| l == "* 16 EXISTS"), "{r:?}");
    let r = auth("alice", "bob");
    assert!(r.last().is_some_and(|l| l.starts_with("a NO")), "{r:?}");
}
