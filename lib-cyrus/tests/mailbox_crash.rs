//! Crash safety of mailbox writes: a child process appends messages (with a delayed expunge
//! and a flag change between them) and is killed with SIGKILL at each of its write points in
//! turn. After every kill the mailbox must open, every index record must have its complete
//! message file, the header counters must agree with the records, and every change the child
//! reported as done must be there. Every few points Debian's `mbexamine` must print the
//! crashed mailbox exactly as we do.
//!
//! The children are this test binary run again with `CYRUS_TEST_CHILD` set (see
//! twoskip_processes.rs for the pattern).

use cyrus::db::failpoint;
use cyrus::mailbox::cache::CacheRecord;
use cyrus::mailbox::examine::{ctime_utc, examine};
use cyrus::mailbox::header::Header;
use cyrus::mailbox::index::{sync_crc_basic, Guid, SystemFlags};
use cyrus::mailbox::{Append, LockMode, Mailbox};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const APPENDS: u32 = 6;
/// The reference data real Cyrus 3.6 wrote (../shared beside the repository).
const REF: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/reference/cyrus-3.6"
);
const SENT: &str = "uuid/x/c/xcxlxb5s84qkp2dudwpou4h6";
const MBEXAMINE: &str = "/usr/lib/cyrus/bin/mbexamine";

fn message(i: u32) -> Vec<u8> {
    let mut m = format!("From: a@example.org\r\nSubject: crash {i}\r\n\r\n",).into_bytes();
    m.extend(std::iter::repeat_n(b'x', 100 * i as usize + 7));
    m.extend_from_slice(b"\r\n");
    m
}

fn cache_for(i: u32) -> CacheRecord {
    let mut c = CacheRecord::default();
    c.items[0] = format!("(NIL \"crash {i}\" NIL NIL NIL NIL NIL NIL NIL NIL)").into_bytes();
    c.items[1] = b"(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 10 1 NIL NIL NIL NIL)".to_vec();
    c.items[2] = b"(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 10 1)".to_vec();
    c.items[3] = vec![0, 0, 0, 0];
    c.items[4] = format!("Subject: crash {i}\r\n").into_bytes();
    c.items[9] = format!("\"crash {i}\"").into_bytes();
    c
}

fn do_append(mb: &mut Mailbox, i: u32) -> u32 {
    let msg = message(i);
    let cache = cache_for(i);
    mb.append(&Append {
        message: &msg,
        guid: Guid([i as u8; 20]),
        internaldate: 1_700_000_000 + i,
        sentdate: 1_699_999_200,
        gmtime: 1_700_000_000,
        header_size: 42,
        system_flags: SystemFlags(if i.is_multiple_of(2) {
            SystemFlags::SEEN
        } else {
            0
        }),
        user_flags: [0; 4],
        cache: &cache,
        now: 1_800_000_000 + i,
    })
    .unwrap()
    .uid
}

#[test]
fn child() {
    let Ok(role) = std::env::var("CYRUS_TEST_CHILD") else {
        return;
    };
    assert_eq!(role, "append");
    let dir = PathBuf::from(std::env::var("CYRUS_TEST_DIR").unwrap());
    let at: u64 = std::env::var("CYRUS_TEST_CRASH_AT")
        .unwrap()
        .parse()
        .unwrap();
    let mut out = std::io::stdout();
    let mut mb = Mailbox::open(&dir, LockMode::Write).unwrap();
    failpoint::arm(at);
    for i in 1..=APPENDS {
        let uid = do_append(&mut mb, i);
        writeln!(out, "appended {uid}").unwrap();
        out.flush().unwrap();
        if i == 3 {
            mb.expunge(2, 1_800_000_100).unwrap();
            writeln!(out, "expunged 2").unwrap();
            out.flush().unwrap();
        }
        if i == 5 {
            mb.set_flags(1, SystemFlags(SystemFlags::FLAGGED), [0; 4], 1_800_000_200)
                .unwrap();
            writeln!(out, "flagged 1").unwrap();
            out.flush().unwrap();
        }
    }
    failpoint::arm(0);
    writeln!(out, "done").unwrap();
}

/// The header the crash mailbox uses: that of alice's Sent from the reference, when there
/// is one (so Debian's tools can find it), else a made-up one.
fn header_and_instance(scratch: &Path) -> (Header, Option<PathBuf>) {
    let sent = Path::new(REF).join("spool/partition-default").join(SENT);
    let Ok((h, _)) = Header::read(&sent) else {
        return (
            Header::new("e", "user.test", "crashcrashcrashcrashcras"),
            None,
        );
    };
    if !Path::new(MBEXAMINE).exists() {
        return (h, None);
    }
    let inst = scratch.join("inst");
    std::fs::create_dir_all(inst.join("run/lock")).unwrap();
    std::fs::create_dir_all(inst.join("run/proc")).unwrap();
    std::fs::create_dir_all(inst.join("spool")).unwrap();
    let st = Command::new("cp")
        .arg("-r")
        .arg(Path::new(REF).join("spool/config"))
        .arg(inst.join("conf"))
        .status()
        .unwrap();
    assert!(st.success());
    // The reference is read-only; Debian's tools open the databases for writing.
    let _ = Command::new("chmod")
        .args(["-R", "u+w"])
        .arg(&inst)
        .status();
    let conf = std::fs::read_to_string(Path::new(REF).join("imapd.conf")).unwrap();
    std::fs::write(
        inst.join("imapd.conf"),
        conf.replace("@INSTANCE@", inst.to_str().unwrap()),
    )
    .unwrap();
    (h, Some(inst))
}

#[test]
fn sigkill_at_every_write_point_keeps_acknowledged_changes() {
    let scratch = std::env::temp_dir().join(format!("cyrus-mbcrash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).unwrap();
    let (header, inst) = header_and_instance(&scratch);
    let dir = match &inst {
        Some(i) => i.join("spool").join(SENT),
        None => scratch.join("mb"),
    };
    let mut points = 0;
    let mut debian_checks = 0;
    let mut at = 1u64;
    loop {
        let _ = std::fs::remove_dir_all(&dir);
        drop(Mailbox::create(&dir, &header, 1_795_318_723, 1, 1_800_000_000).unwrap());
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child", "--nocapture", "--test-threads=1", "-q"])
            .env("CYRUS_TEST_CHILD", "append")
            .env("CYRUS_TEST_DIR", &dir)
            .env("CYRUS_TEST_CRASH_AT", at.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .output()
            .unwrap();
        let (mut appended, mut expunged, mut flagged, mut done) = (0, false, false, false);
        for line in BufReader::new(&out.stdout[..]).lines() {
            let line = line.unwrap();
            if let Some(n) = line.strip_prefix("appended ") {
                appended = n.parse().unwrap();
            }
            expunged |= line == "expunged 2";
            flagged |= line == "flagged 1";
            done |= line == "done";
        }
        // A write open repairs what a crash inside a record rewrite leaves.
        drop(
            Mailbox::open(&dir, LockMode::Write)
                .unwrap_or_else(|e| panic!("crash point {at}: open failed: {e}")),
        );
        let mb = Mailbox::open(&dir, LockMode::Read)
            .unwrap_or_else(|e| panic!("crash point {at}: open failed: {e}"));
        let h = mb.index_header().clone();
        assert!(h.last_uid >= appended, "crash point {at}: lost an append");
        for r in mb.records() {
            let body = std::fs::read(mb.message_path(r.uid))
                .unwrap_or_else(|e| panic!("crash point {at}: uid {} has no file: {e}", r.uid));
            assert_eq!(body, message(r.uid), "crash point {at}: uid {} file", r.uid);
            assert_eq!(
                mb.cache_record(r).unwrap(),
                cache_for(r.uid),
                "crash point {at}"
            );
        }
        if expunged {
            assert!(mb.record(2).unwrap().is_expunged(), "crash point {at}");
        }
        if flagged {
            assert!(mb.record(1).unwrap().system_flags.has(SystemFlags::FLAGGED));
        }
        let live: Vec<_> = mb.records().iter().filter(|r| !r.is_expunged()).collect();
        assert_eq!(h.exists as usize, live.len(), "crash point {at}");
        assert_eq!(
            h.quota_mailbox_used,
            live.iter().map(|r| u64::from(r.size)).sum::<u64>(),
            "crash point {at}"
        );
        let crc = mb
            .records()
            .iter()
            .fold(0, |c, r| c ^ sync_crc_basic(r, &mb.header().user_flags));
        assert_eq!(h.synccrc_basic, crc, "crash point {at}");
        if let (Some(inst), true) = (&inst, at.is_multiple_of(4) || done) {
            let ours = examine(&mb, &header.name, dir.to_str().unwrap(), &ctime_utc).unwrap();
            drop(mb);
            let _ = Command::new("chown")
                .args(["-R", "cyrus"])
                .arg(inst)
                .status();
            let out = Command::new(MBEXAMINE)
                .arg("-C")
                .arg(inst.join("imapd.conf"))
                .arg(&header.name)
                .env("TZ", "UTC")
                .current_dir(inst)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "crash point {at}: Debian's mbexamine failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&ours),
                "crash point {at}: Debian's view differs"
            );
            debian_checks += 1;
        }
        if done {
            assert_eq!(appended, APPENDS);
            break;
        }
        points += 1;
        at += 1;
    }
    eprintln!("{points} crash points, {debian_checks} checked by Debian's mbexamine");
    assert!(points >= 50, "only {points} crash points exercised");
    if inst.is_some() {
        assert!(debian_checks >= 10);
    }
    let _ = std::fs::remove_dir_all(&scratch);
}
