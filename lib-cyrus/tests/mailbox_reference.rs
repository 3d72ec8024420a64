//! The mailbox file formats against the reference spool written by Debian's Cyrus 3.6.1:
//! every cyrus.header, cyrus.index and referenced cache record decodes and encodes back to
//! the same bytes, the sync CRCs recompute to the stored values, and `examine` prints what
//! Debian's `mbexamine` printed.

use cyrus::mailbox::cache::{CacheRecord, Item, Section};
use cyrus::mailbox::examine::{ctime_utc, examine};
use cyrus::mailbox::header::Header;
use cyrus::mailbox::index::{sync_crc_basic, sync_crc_virtannot, Index, SYNC_CRC_ANNOT_INITIAL};
use cyrus::mailbox::{LockMode, Mailbox};
use std::path::{Path, PathBuf};

/// The reference data real Cyrus 3.6 wrote (../shared beside the repository).
const REF: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/reference/cyrus-3.6"
);

/// The reference directory; its absence is a broken checkout, not a reason to skip.
fn reference() -> Option<PathBuf> {
    let p = PathBuf::from(REF);
    assert!(
        p.join("spool/partition-default").is_dir(),
        "no reference data at {REF}"
    );
    Some(p)
}

/// A private copy of partition-default: nothing is ever opened inside /work/shared.
fn scratch_spool(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cyrus-mbref-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let st = std::process::Command::new("cp")
        .arg("-r")
        .arg(Path::new(REF).join("spool/partition-default"))
        .arg(&dir)
        .status()
        .unwrap();
    assert!(st.success());
    // Make the copy writable (the reference is read-only).
    let _ = std::process::Command::new("chmod")
        .args(["-R", "u+w"])
        .arg(&dir)
        .status();
    dir.join("partition-default")
}

/// (name, directory relative to the partition) from golden/mailbox-dirs.txt.
fn mailboxes() -> Vec<(String, String)> {
    let t = std::fs::read_to_string(Path::new(REF).join("golden/mailbox-dirs.txt")).unwrap();
    t.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let dir = f[3].strip_prefix("partition-default/").unwrap();
            (f[0].to_string(), dir.to_string())
        })
        .collect()
}

#[test]
fn message_guids_are_the_sha1_of_the_files() {
    let spool = scratch_spool("guid");
    let mut checked = 0;
    for (_, rel) in mailboxes() {
        let dir = spool.join(&rel);
        let index = Index::decode(&std::fs::read(dir.join("cyrus.index")).unwrap(), &dir).unwrap();
        for r in &index.records {
            let Ok(message) = std::fs::read(dir.join(format!("{}.", r.uid))) else {
                continue;
            };
            assert_eq!(
                cyrus::mailbox::index::Guid::of(&message),
                r.guid,
                "{rel} uid {}",
                r.uid
            );
            checked += 1;
        }
    }
    assert!(checked >= 25, "only {checked} messages");
}

#[test]
fn every_reference_file_round_trips() {
    let Some(_) = reference() else { return };
    let spool = scratch_spool("rt");
    let mut caches = 0;
    for (name, rel) in mailboxes() {
        let dir = spool.join(&rel);
        let hbytes = std::fs::read(dir.join("cyrus.header")).unwrap();
        let h = Header::parse(&hbytes, &dir).unwrap();
        assert_eq!(h.name, name);
        assert_eq!(h.to_bytes(), hbytes, "{name}: cyrus.header");

        let ibytes = std::fs::read(dir.join("cyrus.index")).unwrap();
        let idx = Index::decode(&ibytes, &dir).unwrap();
        assert_eq!(idx.encode(), ibytes, "{name}: cyrus.index");
        assert_eq!(
            idx.header.header_file_crc,
            crc32fast::hash(&hbytes),
            "{name}: header_file_crc"
        );
        let basic = idx
            .records
            .iter()
            .fold(0, |c, r| c ^ sync_crc_basic(r, &h.user_flags));
        assert_eq!(basic, idx.header.synccrc_basic, "{name}: synccrc basic");
        let annot = idx
            .records
            .iter()
            .fold(SYNC_CRC_ANNOT_INITIAL, |c, r| c ^ sync_crc_virtannot(r));
        assert_eq!(annot, idx.header.synccrc_annot, "{name}: synccrc annot");

        let Ok(cbytes) = std::fs::read(dir.join("cyrus.cache")) else {
            assert!(idx.records.is_empty());
            continue;
        };
        for r in &idx.records {
            let rec = CacheRecord::read_checked(&cbytes, r.cache_offset, r.cache_crc, &dir)
                .unwrap_or_else(|e| panic!("{name} uid {}: {e}", r.uid));
            let enc = rec.encode();
            let at = r.cache_offset as usize;
            assert_eq!(
                &cbytes[at..at + enc.len()],
                &enc[..],
                "{name} uid {}",
                r.uid
            );
            assert_eq!(rec.crc(), r.cache_crc);
            let sec = Section::decode(rec.item(Item::Section), &dir).unwrap();
            assert_eq!(
                sec.encode(),
                rec.item(Item::Section),
                "{name} uid {}",
                r.uid
            );
            assert!(!sec.entries.is_empty());
            caches += 1;
        }
    }
    assert!(caches >= 25, "only {caches} cache records checked");
    let _ = std::fs::remove_dir_all(spool.parent().unwrap());
}

/// The golden files' escaping: bytes < 0x20 other than TAB and LF, 0x7f and invalid UTF-8
/// become `\xNN`.
fn escape(b: &[u8]) -> String {
    let mut out = String::new();
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            if (c < ' ' && c != '\t' && c != '\n') || c == '\x7f' {
                out.push_str(&format!("\\x{:02x}", c as u32));
            } else {
                out.push(c);
            }
        }
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    out
}

#[test]
fn examine_prints_the_mbexamine_goldens() {
    let Some(refdir) = reference() else { return };
    let spool = scratch_spool("ex");
    let dirs: std::collections::HashMap<_, _> = mailboxes().into_iter().collect();
    let mut n = 0;
    for ent in std::fs::read_dir(refdir.join("golden/mbexamine")).unwrap() {
        let p = ent.unwrap().path();
        let golden = std::fs::read_to_string(&p).unwrap();
        let (first, rest) = golden.split_once('\n').unwrap();
        let name = first.rsplit(' ').next().unwrap();
        let rel = &dirs[name];
        let mb = Mailbox::open(&spool.join(rel), LockMode::Read).unwrap();
        let shown = format!("@INSTANCE@/spool/{rel}");
        let out = examine(&mb, name, &shown, &ctime_utc).unwrap();
        assert_eq!(escape(&out), rest, "{}", p.display());
        n += 1;
    }
    assert_eq!(n, 8);
    let _ = std::fs::remove_dir_all(spool.parent().unwrap());
}
