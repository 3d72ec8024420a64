//! Writing through `Mailbox` on a copy of the reference spool: appends, flag changes, a new
//! user flag and a delayed expunge leave an index whose counters and CRCs agree with its
//! records, and which Debian's `mbexamine` prints exactly as our `examine` does and Debian's
//! `reconstruct -n` finds nothing to fix in.

use cyrus::mailbox::cache::CacheRecord;
use cyrus::mailbox::examine::{ctime_utc, examine};
use cyrus::mailbox::index::{sync_crc_basic, Index, IndexRecord, SystemFlags};
use cyrus::mailbox::{Append, LockMode, Mailbox};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The reference data real Cyrus 3.6 wrote (../shared beside the repository).
const REF: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/reference/cyrus-3.6"
);
const BIN: &str = "/usr/lib/cyrus/bin";
const INBOX: &str = "uuid/z/x/zxy8prvqo1qsmh2s1pkthgjb";
const SENT: &str = "uuid/x/c/xcxlxb5s84qkp2dudwpou4h6";

/// A scratch Cyrus instance made of copies of the reference config and partition, with the
/// reference imapd.conf pointed at it.
fn instance(tag: &str) -> Option<PathBuf> {
    assert!(
        Path::new(REF).join("spool").is_dir(),
        "no reference data at {REF}"
    );
    let s = std::env::temp_dir().join(format!("cyrus-mbstore-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&s);
    std::fs::create_dir_all(s.join("run/lock")).unwrap();
    std::fs::create_dir_all(s.join("run/proc")).unwrap();
    for (from, to) in [
        ("spool/config", "conf"),
        ("spool/partition-default", "spool"),
    ] {
        let st = Command::new("cp")
            .arg("-r")
            .arg(Path::new(REF).join(from))
            .arg(s.join(to))
            .status()
            .unwrap();
        assert!(st.success());
    }
    let _ = Command::new("chmod").args(["-R", "u+w"]).arg(&s).status();
    let conf = std::fs::read_to_string(Path::new(REF).join("imapd.conf")).unwrap();
    let conf = conf.replace("@INSTANCE@", s.to_str().unwrap());
    std::fs::write(s.join("imapd.conf"), conf).unwrap();
    Some(s)
}

/// Message 1 of alice's INBOX: its file, index record and cache record, to append again.
fn source_message(spool: &Path) -> (Vec<u8>, IndexRecord, CacheRecord) {
    let dir = spool.join(INBOX);
    let idx = Index::decode(&std::fs::read(dir.join("cyrus.index")).unwrap(), &dir).unwrap();
    let rec = idx.find(1).unwrap().clone();
    let cache = std::fs::read(dir.join("cyrus.cache")).unwrap();
    let c = CacheRecord::read_checked(&cache, rec.cache_offset, rec.cache_crc, &dir).unwrap();
    (std::fs::read(dir.join("1.")).unwrap(), rec, c)
}

fn check_consistent(mb: &Mailbox) {
    let h = mb.index_header();
    let live: Vec<_> = mb.records().iter().filter(|r| !r.is_expunged()).collect();
    let count = |bit| live.iter().filter(|r| r.system_flags.has(bit)).count() as u32;
    assert_eq!(h.exists as usize, live.len());
    assert_eq!(h.num_records as usize, mb.records().len());
    assert_eq!(h.answered, count(SystemFlags::ANSWERED));
    assert_eq!(h.flagged, count(SystemFlags::FLAGGED));
    assert_eq!(h.deleted, count(SystemFlags::DELETED));
    assert_eq!(h.unseen, live.len() as u32 - count(SystemFlags::SEEN));
    assert_eq!(
        h.quota_mailbox_used,
        live.iter().map(|r| u64::from(r.size)).sum::<u64>()
    );
    let crc = mb
        .records()
        .iter()
        .fold(0, |c, r| c ^ sync_crc_basic(r, &mb.header().user_flags));
    assert_eq!(h.synccrc_basic, crc);
    assert_eq!(
        h.highestmodseq,
        mb.records().iter().map(|r| r.modseq).max().unwrap()
    );
    for r in mb.records() {
        let len = std::fs::metadata(mb.message_path(r.uid)).unwrap().len();
        assert_eq!(len, u64::from(r.size));
    }
}

#[test]
fn append_flags_expunge_agree_with_debian() {
    let Some(inst) = instance("write") else {
        return;
    };
    let spool = inst.join("spool");
    let (msg, src, cache) = source_message(&spool);
    let dir = spool.join(SENT);
    let mut mb = Mailbox::open(&dir, LockMode::Write).unwrap();
    let before = mb.index_header().clone();
    for i in 0..20u32 {
        let flags = if i.is_multiple_of(2) {
            SystemFlags::SEEN
        } else {
            0
        };
        let rec = mb
            .append(&Append {
                message: &msg,
                guid: src.guid,
                internaldate: 1_700_000_000 + i,
                sentdate: src.sentdate,
                gmtime: src.gmtime,
                header_size: src.header_size,
                system_flags: SystemFlags(flags),
                user_flags: [0; 4],
                cache: &cache,
                now: 1_800_000_000 + i,
            })
            .unwrap();
        assert_eq!(rec.uid, before.last_uid + 1 + i);
        assert_eq!(mb.cache_record(&rec).unwrap(), cache);
    }
    let n = mb.user_flag("$Label9", true).unwrap().unwrap();
    assert_eq!(n, 0);
    let mut user = [0u32; 4];
    user[0] = 1;
    mb.set_flags(
        3,
        SystemFlags(SystemFlags::FLAGGED | SystemFlags::ANSWERED | SystemFlags::SEEN),
        user,
        1_800_000_100,
    )
    .unwrap();
    mb.set_flags(4, SystemFlags(SystemFlags::DELETED), [0; 4], 1_800_000_101)
        .unwrap();
    mb.expunge(5, 1_800_000_102).unwrap();
    mb.expunge(4, 1_800_000_103).unwrap();
    check_consistent(&mb);
    drop(mb);

    let mut mb = Mailbox::open(&dir, LockMode::Read).unwrap();
    check_consistent(&mb);
    assert_eq!(mb.index_header().exists, 19);
    assert!(mb.record(5).unwrap().is_expunged());
    assert!(
        mb.message_path(5).exists(),
        "delayed expunge keeps the file"
    );
    assert!(mb
        .append(&Append {
            message: b"",
            guid: Default::default(),
            internaldate: 0,
            sentdate: 0,
            gmtime: 0,
            header_size: 0,
            system_flags: SystemFlags(0),
            user_flags: [0; 4],
            cache: &cache,
            now: 0,
        })
        .is_err());
    let shown = dir.to_str().unwrap().to_string();
    let ours = examine(&mb, "user.alice.Sent", &shown, &ctime_utc).unwrap();
    drop(mb);

    if !Path::new(BIN).join("mbexamine").exists() {
        return;
    }
    // Debian's tools drop to the cyrus user when run as root.
    let _ = Command::new("chown")
        .args(["-R", "cyrus"])
        .arg(&inst)
        .status();
    let conf = inst.join("imapd.conf");
    let out = Command::new(Path::new(BIN).join("mbexamine"))
        .arg("-C")
        .arg(&conf)
        .arg("user.alice.Sent")
        .env("TZ", "UTC")
        .current_dir(&inst)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("UID:00000021") && !text.contains("UID:00000005"));
    assert!(text.contains("User Flags: $Label9 \n"));
    assert_eq!(text, String::from_utf8_lossy(&ours));
    eprintln!("Debian's mbexamine agrees ({} bytes)", out.stdout.len());
    let out = Command::new(Path::new(BIN).join("reconstruct"))
        .arg("-C")
        .arg(&conf)
        .arg("-n")
        .arg("user.alice.Sent")
        .current_dir(&inst)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "user.alice.Sent\n");
    let _ = std::fs::remove_dir_all(&inst);
}

#[test]
fn create_makes_an_empty_mailbox_that_reopens() {
    let dir = std::env::temp_dir().join(format!("cyrus-mbstore-{}-create", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut h = cyrus::mailbox::header::Header::new("e", "user.carol", "abcdefghijklmnopqrstuvwx");
    h.acl = Some(vec![("carol".into(), "lrswipkxtecdan".into())]);
    let mb = Mailbox::create(&dir.join("mb"), &h, 1234, 1, 1_800_000_000).unwrap();
    assert_eq!(mb.index_header().uidvalidity, 1234);
    drop(mb);
    assert!(matches!(
        Mailbox::create(&dir.join("mb"), &h, 1234, 1, 0),
        Err(cyrus::Error::Exists)
    ));
    let mb = Mailbox::open(&dir.join("mb"), LockMode::Read).unwrap();
    assert_eq!(mb.header(), &h);
    assert_eq!(mb.records().len(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `expunge_mode: immediate`'s work: expunged messages' files are unlinked and a repack
/// drops their records; every remaining cache record still reads, and Debian's mbexamine
/// and `reconstruct -n` find the repacked mailbox sound.
#[test]
fn unlink_and_repack_drop_expunged_messages() {
    let Some(inst) = instance("repack") else {
        return;
    };
    let dir = inst.join("spool").join(INBOX);
    let mut mb = Mailbox::open(&dir, LockMode::Write).unwrap();
    let before = mb.index_header().clone();
    let live: Vec<u32> = mb
        .records()
        .iter()
        .filter(|r| !r.is_expunged())
        .map(|r| r.uid)
        .collect();
    assert!(live.len() >= 2, "the reference INBOX has messages");
    let gone = live[0];
    // The reference INBOX holds an expunged message already; it goes too.
    let waiting = mb.records().iter().filter(|r| r.is_expunged()).count();
    mb.expunge(gone, 1_800_000_000).unwrap();
    assert_eq!(mb.unlink_expunged(1_800_000_001).unwrap(), waiting + 1);
    assert!(!mb.message_path(gone).exists());
    mb.repack(1_800_000_002).unwrap();
    let h = mb.index_header().clone();
    assert_eq!(h.generation_no, before.generation_no + 1);
    assert_eq!(h.num_records as usize, mb.records().len());
    assert!(mb.record(gone).is_none());
    // The dropped records' modseqs live on in deletedmodseq (QRESYNC needs them).
    let max_kept = mb.records().iter().map(|r| r.modseq).max().unwrap_or(0);
    assert_eq!(h.highestmodseq, max_kept.max(h.deletedmodseq));
    assert_eq!(
        h.deletedmodseq, h.highestmodseq,
        "the last expunge had the highest modseq"
    );
    assert_eq!(
        h.exists as usize,
        mb.records().iter().filter(|r| !r.is_expunged()).count()
    );
    for r in mb.records() {
        mb.cache_record(r).unwrap();
    }
    drop(mb);
    // A fresh open reads the same state from disk.
    let mb = Mailbox::open(&dir, LockMode::Read).unwrap();
    assert_eq!(mb.index_header(), &h);
    drop(mb);

    if !Path::new(BIN).join("mbexamine").exists() {
        return;
    }
    let _ = Command::new("chown")
        .args(["-R", "cyrus"])
        .arg(&inst)
        .status();
    let conf = inst.join("imapd.conf");
    let out = Command::new(Path::new(BIN).join("reconstruct"))
        .arg("-C")
        .arg(&conf)
        .arg("-n")
        .arg("user.alice")
        .current_dir(&inst)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "user.alice\n");
    let out = Command::new(Path::new(BIN).join("mbexamine"))
        .arg("-C")
        .arg(&conf)
        .arg("user.alice")
        .current_dir(&inst)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains(&format!("UID:{gone:08}")), "{text}");
    let _ = std::fs::remove_dir_all(&inst);
}
