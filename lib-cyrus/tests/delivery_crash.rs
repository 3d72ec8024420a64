//! Crash safety of local delivery (`cyrus::delivery`, the path lmtpd's DATA takes): a child
//! process delivers messages to bob and alice of a copy of the reference spool, and says
//! "acked N" only after `Deliverer::deliver` returned, where lmtpd would send its 250. It is
//! killed with SIGKILL at each of its file write points in turn (message file, cache, index,
//! header, deliver.db). After every kill:
//! - both mailboxes open, and every index record has its message file, complete (the size the
//!   record says) and byte-identical to a message the child was delivering;
//! - every acknowledged message is in its mailbox, and no message is there twice;
//! - the next delivery (a fresh process would retry the unacknowledged one) succeeds and
//!   lands after whatever the crash left.
//!
//! SIGKILL leaves the page cache alone, so this shows the order of writes, not that each was
//! synced; `Mailbox::append` syncs the message file and its directory before the cache and
//! index records, and the caller hears of success only after the index is synced.
//!
//! The children are this test binary run again with `CYRUS_TEST_CHILD` set (see
//! twoskip_processes.rs for the pattern).

use cyrus::acl::Identity;
use cyrus::config::Config;
use cyrus::db::failpoint;
use cyrus::delivery::{Deliverer, DeliveryOptions, Outcome, Recipient};
use cyrus::mailbox::{LockMode, Mailbox};
use cyrus::mboxlist::paths::{self, Area};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The reference data real Cyrus 3.6 wrote (../shared beside the repository).
const REF: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/reference/cyrus-3.6"
);
/// Messages the child delivers; every third goes to alice, the rest to bob, and message 2
/// is sent twice (the second copy must be dropped by deliver.db).
const MESSAGES: u32 = 4;

fn message(i: u32) -> Vec<u8> {
    let mut m = format!(
        "Return-Path: <s@example.org>\r\nFrom: s@example.org\r\nSubject: crash {i}\r\n\
         Date: Sat, 13 Jan 2024 08:00:00 +0000\r\nMessage-ID: <crash-{i}@example.org>\r\n\r\n"
    )
    .into_bytes();
    m.extend(std::iter::repeat_n(b'y', 200 * i as usize + 11));
    m.extend_from_slice(b"\r\n");
    m
}

fn rcpt_of(i: u32) -> &'static str {
    if i.is_multiple_of(3) {
        "alice"
    } else {
        "bob"
    }
}

fn resolve(d: &mut Deliverer<'_>, who: &str) -> Recipient {
    d.resolve(who, &Identity::default(), 0, true)
        .unwrap_or_else(|e| panic!("resolve {who}: {e:?}"))
}

fn deliver(d: &mut Deliverer<'_>, i: u32) -> Vec<Outcome> {
    let r = resolve(d, rcpt_of(i));
    let opts = DeliveryOptions {
        ignore_quota: true,
        now: 1_800_000_000 + i64::from(i),
    };
    d.deliver(&message(i), &r, &r.default_actions(), opts)
        .unwrap_or_else(|e| panic!("deliver {i}: {e:?}"))
}

#[test]
fn child() {
    let Ok(role) = std::env::var("CYRUS_TEST_CHILD") else {
        return;
    };
    assert_eq!(role, "deliver");
    let conf = PathBuf::from(std::env::var("CYRUS_TEST_CONF").unwrap());
    let at: u64 = std::env::var("CYRUS_TEST_CRASH_AT")
        .unwrap()
        .parse()
        .unwrap();
    let config = Config::load(&conf, Some("lmtp")).unwrap();
    let mut d = Deliverer::open(&config).unwrap();
    let mut out = std::io::stdout();
    failpoint::arm(at);
    for i in [1, 2, 2, 3, 4] {
        deliver(&mut d, i);
        writeln!(out, "acked {i}").unwrap();
        out.flush().unwrap();
    }
    failpoint::arm(0);
    writeln!(out, "done").unwrap();
}

/// A fresh instance from the reference spool; its imapd.conf.
fn instance(root: &Path) -> Option<PathBuf> {
    let spool = Path::new(REF).join("spool");
    if !spool.join("config").is_dir() {
        eprintln!("skipped: no reference spool");
        return None;
    }
    if root.exists() {
        let _ = Command::new("chmod").args(["-R", "u+w"]).arg(root).status();
        let _ = std::fs::remove_dir_all(root);
    }
    for d in ["run/lock", "run/proc"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    for (from, to) in [("config", "conf"), ("partition-default", "spool")] {
        let ok = Command::new("cp")
            .arg("-r")
            .arg(spool.join(from))
            .arg(root.join(to))
            .status()
            .unwrap()
            .success();
        assert!(ok, "copy the reference {from}");
    }
    // The reference is read-only; delivery writes its databases and mailboxes.
    let _ = Command::new("chmod").args(["-R", "u+w"]).arg(root).status();
    let conf = std::fs::read_to_string(Path::new(REF).join("imapd.conf")).unwrap();
    let path = root.join("imapd.conf");
    std::fs::write(&path, conf.replace("@INSTANCE@", root.to_str().unwrap())).unwrap();
    Some(path)
}

/// The message number a stored file carries, from its Message-ID.
fn number_of(body: &[u8]) -> Option<u32> {
    let text = String::from_utf8_lossy(body);
    let at = text.find("Message-ID: <crash-")? + "Message-ID: <crash-".len();
    text[at..].split('@').next()?.parse().ok()
}

/// Checks one mailbox after a crash; the message numbers it holds (of this test's).
fn check_mailbox(dir: &Path, before: u32, at: u64) -> Vec<u32> {
    // A write open repairs what a crash inside a record rewrite leaves.
    drop(
        Mailbox::open(dir, LockMode::Write)
            .unwrap_or_else(|e| panic!("crash point {at}: open failed: {e}")),
    );
    let mb = Mailbox::open(dir, LockMode::Read)
        .unwrap_or_else(|e| panic!("crash point {at}: open failed: {e}"));
    let mut found = Vec::new();
    for r in mb.records() {
        let body = std::fs::read(mb.message_path(r.uid))
            .unwrap_or_else(|e| panic!("crash point {at}: uid {} has no file: {e}", r.uid));
        assert_eq!(
            body.len(),
            r.size as usize,
            "crash point {at}: uid {}",
            r.uid
        );
        if r.uid <= before {
            continue;
        }
        let n = number_of(&body)
            .unwrap_or_else(|| panic!("crash point {at}: uid {} is not ours", r.uid));
        assert_eq!(body, message(n), "crash point {at}: uid {} bytes", r.uid);
        found.push(n);
    }
    found
}

#[test]
fn sigkill_at_every_delivery_write_point() {
    let scratch = std::env::temp_dir().join(format!("cyrus-dlvcrash-{}", std::process::id()));
    let mut points = 0;
    let mut at = 1u64;
    loop {
        let Some(conf) = instance(&scratch) else {
            return;
        };
        let config = Config::load(&conf, Some("lmtp")).unwrap();
        let (bob_dir, alice_dir, bob_last, alice_last) = {
            let mut d = Deliverer::open(&config).unwrap();
            let dir = |r: &Recipient| paths::mailbox_dir(&config, &r.inbox, Area::Data).unwrap();
            let (b, a) = (dir(&resolve(&mut d, "bob")), dir(&resolve(&mut d, "alice")));
            let last = |p: &Path| {
                Mailbox::open(p, LockMode::Read)
                    .unwrap()
                    .index_header()
                    .last_uid
            };
            let (bl, al) = (last(&b), last(&a));
            (b, a, bl, al)
        };
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child", "--nocapture", "--test-threads=1", "-q"])
            .env("CYRUS_TEST_CHILD", "deliver")
            .env("CYRUS_TEST_CONF", &conf)
            .env("CYRUS_TEST_CRASH_AT", at.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let acked: Vec<u32> = text
            .lines()
            .filter_map(|l| l.strip_prefix("acked ")?.parse().ok())
            .collect();
        let done = text.lines().any(|l| l == "done");
        assert!(done || !out.status.success(), "crash point {at}: {text}");

        let mut held = check_mailbox(&bob_dir, bob_last, at);
        let alice = check_mailbox(&alice_dir, alice_last, at);
        assert!(alice.iter().all(|&n| rcpt_of(n) == "alice"), "{alice:?}");
        assert!(held.iter().all(|&n| rcpt_of(n) == "bob"), "{held:?}");
        held.extend(alice);
        for n in &acked {
            assert!(held.contains(n), "crash point {at}: acknowledged {n} lost");
        }
        let mut uniq = held.clone();
        uniq.sort_unstable();
        uniq.dedup();
        assert_eq!(uniq.len(), held.len(), "crash point {at}: a copy twice");

        // The MTA retries what was not acknowledged: a new process delivers it.
        let mut d = Deliverer::open(&config)
            .unwrap_or_else(|e| panic!("crash point {at}: reopen failed: {e}"));
        for i in 1..=MESSAGES {
            if !acked.contains(&i) {
                let outcome = deliver(&mut d, i);
                let duplicate = matches!(outcome[..], [Outcome::Duplicate { .. }]);
                // Only a message that reached its mailbox may be taken for a duplicate.
                assert!(
                    !duplicate || held.contains(&i),
                    "crash point {at}: {i} dropped as a duplicate but never stored"
                );
            }
        }
        let mut all = check_mailbox(&bob_dir, bob_last, at);
        all.extend(check_mailbox(&alice_dir, alice_last, at));
        all.sort_unstable();
        all.dedup();
        assert_eq!(
            all,
            (1..=MESSAGES).collect::<Vec<_>>(),
            "crash point {at}: after the retry"
        );
        points += 1;
        if done {
            break;
        }
        at += 1;
    }
    let _ = std::fs::remove_dir_all(&scratch);
    assert!(points > 20, "only {points} write points");
    eprintln!("{points} crash points checked");
}
