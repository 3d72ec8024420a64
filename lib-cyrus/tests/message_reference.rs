//! The MIME parser against the reference spool Debian's Cyrus 3.6.1 wrote: for every message
//! file with an index record, our ten cache items equal the stored record's byte for byte
//! (hence the whole record and its CRC), the index fields taken from the message equal the
//! stored ones, and ENVELOPE/BODYSTRUCTURE equal what Cyrus served over IMAP.

use cyrus::mailbox::cache::{CacheRecord, Item, NUM_ITEMS};
use cyrus::mailbox::index::Index;
use cyrus::message;
use std::path::{Path, PathBuf};

const REF: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/reference/cyrus-3.6"
);

/// A private copy of partition-default: nothing is ever opened inside /work/shared.
fn scratch_spool(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cyrus-msgref-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let st = std::process::Command::new("cp")
        .arg("-r")
        .arg(Path::new(REF).join("spool/partition-default"))
        .arg(&dir)
        .status()
        .unwrap();
    assert!(st.success());
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

const NAMES: [&str; NUM_ITEMS] = [
    "ENVELOPE",
    "BODYSTRUCTURE",
    "BODY",
    "SECTION",
    "CACHEHEADERS",
    "FROM",
    "TO",
    "CC",
    "BCC",
    "SUBJECT",
];

struct Case {
    what: String,
    ours: message::Parsed,
    theirs: CacheRecord,
    record: cyrus::mailbox::index::IndexRecord,
}

fn cases(tag: &str) -> Vec<Case> {
    let spool = scratch_spool(tag);
    let mut out = Vec::new();
    for (name, rel) in mailboxes() {
        let dir = spool.join(&rel);
        let Ok(cache) = std::fs::read(dir.join("cyrus.cache")) else {
            continue;
        };
        let index = Index::decode(&std::fs::read(dir.join("cyrus.index")).unwrap(), &dir).unwrap();
        for r in &index.records {
            let Ok(msg) = std::fs::read(dir.join(format!("{}.", r.uid))) else {
                continue;
            };
            let theirs =
                CacheRecord::read_checked(&cache, r.cache_offset, r.cache_crc, &dir).unwrap();
            out.push(Case {
                what: format!("{name} uid {}", r.uid),
                ours: message::parse(&msg),
                theirs,
                record: r.clone(),
            });
        }
    }
    let _ = std::fs::remove_dir_all(spool.parent().unwrap());
    out
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn every_cache_item_matches_cyrus() {
    let cases = cases("items");
    assert!(cases.len() >= 26, "only {} messages found", cases.len());
    let mut bad = Vec::new();
    for c in &cases {
        for (i, n) in NAMES.iter().enumerate() {
            if c.ours.cache.items[i] != c.theirs.items[i] {
                bad.push(format!(
                    "{} {n}:\n  ours   {}\n  theirs {}",
                    c.what,
                    show(&c.ours.cache.items[i]),
                    show(&c.theirs.items[i])
                ));
            }
        }
        if bad.is_empty() {
            assert_eq!(c.ours.cache.crc(), c.record.cache_crc, "{}", c.what);
        }
    }
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn index_fields_match_cyrus() {
    for c in cases("index") {
        let r = &c.record;
        assert_eq!(c.ours.size, r.size, "{} size", c.what);
        assert_eq!(c.ours.header_size, r.header_size, "{} header_size", c.what);
        assert_eq!(c.ours.sentdate, r.sentdate, "{} sentdate", c.what);
        assert_eq!(c.ours.gmtime, r.gmtime, "{} gmtime", c.what);
        assert_eq!(c.ours.guid, r.guid, "{} guid", c.what);
        let mut filled = r.clone();
        filled.size = 0;
        filled.header_size = 0;
        filled.sentdate = 0;
        filled.gmtime = 0;
        filled.cache_crc = 0;
        filled.cache_version = 0;
        filled.guid = Default::default();
        c.ours.fill(&mut filled);
        assert_eq!(&filled, r, "{} fill", c.what);
    }
}

#[test]
fn section_item_decodes_to_our_tree() {
    for c in cases("section") {
        let s = c.theirs.section(Path::new("x")).unwrap();
        assert_eq!(
            message::message_section(&c.ours.body),
            s,
            "{} section",
            c.what
        );
        assert_eq!(c.ours.cache.item(Item::Section), s.encode().as_slice());
    }
}

/// The FETCH responses of a golden session, literals rejoined: (uid, response text).
fn golden_fetches(text: &str) -> Vec<(u32, String)> {
    let mut out: Vec<(u32, String)> = Vec::new();
    let mut open = false;
    for line in text.lines() {
        let Some(s) = line.strip_prefix("S: ") else {
            open = false;
            continue;
        };
        if s.starts_with("* ") && s.contains(" FETCH (") {
            let uid = s
                .split(" UID ")
                .nth(1)
                .and_then(|r| r.split(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap();
            out.push((uid, s.to_string()));
            open = s.ends_with('}');
        } else if open {
            let last = out.last_mut().unwrap();
            last.1.push_str("\r\n");
            last.1.push_str(s);
            open = s.ends_with('}');
        }
    }
    out
}

/// Bytes as the goldens write them: UTF-8 as is, anything else as `\xNN`.
fn as_golden(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_string(),
        Err(_) => b
            .iter()
            .map(|&c| {
                if c < 0x80 {
                    (c as char).to_string()
                } else {
                    format!("\\x{c:02x}")
                }
            })
            .collect(),
    }
}

#[test]
fn envelope_and_bodystructure_match_imap_goldens() {
    let spool = scratch_spool("golden");
    let dirs: std::collections::HashMap<String, String> = mailboxes().into_iter().collect();
    let golden = Path::new(REF).join("golden/imap-fetch");
    let mut checked = 0;
    for ent in std::fs::read_dir(&golden).unwrap() {
        let path = ent.unwrap().path();
        let file = path.file_name().unwrap().to_str().unwrap().to_string();
        let mailbox = file.trim_end_matches(".txt").split("--").next().unwrap();
        let dir = spool.join(&dirs[mailbox]);
        let index = Index::decode(&std::fs::read(dir.join("cyrus.index")).unwrap(), &dir).unwrap();
        for (uid, resp) in golden_fetches(&std::fs::read_to_string(&path).unwrap()) {
            let msg = std::fs::read(dir.join(format!("{uid}."))).unwrap();
            assert!(
                index.find(uid).is_some(),
                "{file} uid {uid} not in the index"
            );
            let p = message::parse(&msg);
            let want = format!(
                "ENVELOPE {} BODYSTRUCTURE {}",
                as_golden(p.cache.item(Item::Envelope)),
                as_golden(p.cache.item(Item::Bodystructure))
            );
            assert!(
                resp.contains(&want),
                "{file} uid {uid}:\n  ours   {want}\n  golden {resp}"
            );
            assert!(
                resp.contains(&format!("RFC822.SIZE {} ", p.size)),
                "{file} {uid}"
            );
            checked += 1;
        }
    }
    let _ = std::fs::remove_dir_all(spool.parent().unwrap());
    assert!(checked >= 25, "only {checked} FETCH responses checked");
}
