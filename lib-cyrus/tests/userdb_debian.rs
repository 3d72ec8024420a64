//! Seen state, subscriptions and annotations written through our code from scratch, then
//! shown by Debian's `cyr_dbtool ... show`: it must read each file, print exactly the records
//! we meant to write, and find the file consistent. Skipped (with a note) where Debian's
//! Cyrus is not installed.

use cyrus::annotations::{Annotations, Scope, Target};
use cyrus::db::Backend;
use cyrus::mboxname::DbName;
use cyrus::seen::{SeenDb, SeenEntry, SeqSet};
use cyrus::subscriptions::Subscriptions;
use std::path::{Path, PathBuf};
use std::process::Command;

const CYR_DBTOOL: &str = "/usr/lib/cyrus/bin/cyr_dbtool";

struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("cyrus-userdb-deb-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("imapd.conf"),
            format!("configdirectory: {}\n", d.display()),
        )
        .unwrap();
        Dir(d)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Debian's `cyr_dbtool <file> <backend> show`, run on files handed to the cyrus user
/// (which it becomes when run as root); `None` when it is not installed.
fn debian_show(dir: &Dir, file: &Path, backend: &str) -> Option<Vec<u8>> {
    if !Path::new(CYR_DBTOOL).exists() {
        eprintln!("skipped: {CYR_DBTOOL} is not installed");
        return None;
    }
    let _ = Command::new("chown")
        .args(["-R", "cyrus"])
        .arg(&dir.0)
        .status();
    let out = Command::new(CYR_DBTOOL)
        .arg("-C")
        .arg(dir.0.join("imapd.conf"))
        .arg(file)
        .arg(backend)
        .arg("show")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let check = Command::new(CYR_DBTOOL)
        .arg("-C")
        .arg(dir.0.join("imapd.conf"))
        .arg(file)
        .arg(backend)
        .arg("consistent")
        .output()
        .unwrap();
    assert!(
        check.status.success() && check.stderr.is_empty(),
        "consistent: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    Some(out.stdout)
}

#[test]
fn debian_reads_the_seen_state_we_write() {
    let d = Dir::new("seen");
    let path = d.0.join("user/uuid/a/b/abcdef/seen.db");
    let mut seen = SeenDb::open_path(&path, Backend::Twoskip, true).unwrap();
    let entries = [
        ("mbox1", "1:5,7,9:12", 100, 12, 101),
        ("mbox2", "", 0, 0, 5),
        ("mbox3", "3", 1795318722, 3, 1795318722),
    ];
    let mut want = Vec::new();
    for (id, uids, lastread, lastuid, lastchange) in entries {
        let e = SeenEntry {
            lastread,
            lastuid,
            lastchange,
            seenuids: SeqSet::parse(uids).unwrap(),
        };
        seen.write(id, &e).unwrap();
        want.extend_from_slice(
            format!("{id}\t1 {lastread} {lastuid} {lastchange} {uids}\n").as_bytes(),
        );
    }
    drop(seen);
    if let Some(shown) = debian_show(&d, &path, "twoskip") {
        assert_eq!(
            String::from_utf8_lossy(&shown),
            String::from_utf8_lossy(&want)
        );
    }
}

#[test]
fn debian_reads_the_subscriptions_we_write() {
    let d = Dir::new("subs");
    let path = d.0.join("user/uuid/a/b/abcdef/sub.db");
    let inbox = DbName::new("user\x1fcarol").unwrap();
    let mut subs = Subscriptions::open_path(&path, Backend::Flat, inbox, "DELETED", true).unwrap();
    for n in [
        "user\x1fcarol\x1fSent",
        "shared\x1fteam",
        "user\x1fcarol",
        "user\x1fbob",
    ] {
        subs.add(&DbName::new(n).unwrap()).unwrap();
    }
    drop(subs);
    let want = b"\x1fVER\x1f\t2\nNINBOX\t\nNINBOX\x1fSent\t\nNshared\x1fteam\t\nNuser\x1fbob\t\n";
    assert_eq!(std::fs::read(&path).unwrap(), want);
    if let Some(shown) = debian_show(&d, &path, "flat") {
        assert_eq!(
            String::from_utf8_lossy(&shown),
            String::from_utf8_lossy(want)
        );
    }
}

#[test]
fn debian_reads_the_annotations_we_write() {
    let d = Dir::new("annot");
    let path = d.0.join("annotations.db");
    let mut a = Annotations::open_path(&path, Backend::Twoskip, true).unwrap();
    let inbox = Target::Mailbox {
        uniqueid: "u1".into(),
        owner: Some("alice".into()),
    };
    a.set(&Target::Server, "/comment", &Scope::Shared, b"server", 0)
        .unwrap();
    a.set(
        &inbox,
        "/comment",
        &Scope::Private("alice".into()),
        b"mine",
        3,
    )
    .unwrap();
    a.set(
        &inbox,
        "/vendor/x",
        &Scope::Private("bob".into()),
        b"b\0in",
        0x0102,
    )
    .unwrap();
    drop(a);
    let mut want = Vec::new();
    let mut rec = |key: &[u8], value: &[u8], modseq: u64| {
        want.extend_from_slice(key);
        want.push(b'\t');
        want.extend_from_slice(&(value.len() as u32).to_be_bytes());
        want.extend_from_slice(&[0; 4]);
        want.extend_from_slice(value);
        want.extend_from_slice(b"\0text/plain\0");
        want.extend_from_slice(&[0; 8]);
        want.extend_from_slice(&modseq.to_be_bytes());
        want.extend_from_slice(b"\0\n");
    };
    rec(b"\0/comment\0\0", b"server", 0);
    rec(b"u1\0/comment\0[.OwNeR.]\0", b"mine", 3);
    rec(b"u1\0/vendor/x\0bob\0", b"b\0in", 0x0102);
    if let Some(shown) = debian_show(&d, &path, "twoskip") {
        assert_eq!(shown, want);
    }
}
