//! ctl_cyrusdb against Debian's 3.6.1: recovery of a crashed twoskip file, in-place conversion
//! of a file of another backend, the db.backup1/db.backup2 layout of `-c`, and usage errors.

mod common;

use common::{a, debian, run, run_ok, Scratch};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

fn ours() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ctl_cyrusdb"))
}

/// Debian's cyr_dbtool `action` on `file` with `backend` (created if missing), its stdout.
fn dbtool(file: &Path, backend: &str, action: &[&str], stdin: &[u8], s: &Scratch) -> Vec<u8> {
    let bin = debian("cyr_dbtool").unwrap();
    let mut args = vec![a("-n"), file.as_os_str(), a(backend)];
    args.extend(action.iter().map(|x| a(x)));
    run_ok(&bin, &s.conf, &args, stdin)
}

const RECORDS: &[u8] = b"user.alice\t%(S 5)\nuser.bob\t(mboxlist entry)\nuser.bob.Sent\tx\n";

/// The header's DIRTY bit of a twoskip file.
fn twoskip_dirty(path: &Path) -> bool {
    let b = std::fs::read(path).unwrap();
    u32::from_be_bytes([b[56], b[57], b[58], b[59]]) & 1 != 0
}

#[test]
fn recovers_a_crashed_twoskip_file() {
    if debian("cyr_dbtool").is_none() {
        return;
    }
    let s = Scratch::new("ctl-recover");
    s.give_to_cyrus();
    let mb = s.path("mailboxes.db");
    dbtool(&mb, "twoskip", &["set"], RECORDS, &s);
    let shown = dbtool(&mb, "twoskip", &["show"], b"", &s);
    let bin = debian("cyr_dbtool").unwrap();
    run(
        &bin,
        &s.conf,
        &[mb.as_os_str(), a("twoskip"), a("damage")],
        b"",
    );
    assert!(twoskip_dirty(&mb), "damage left the file clean");

    let out = run(&ours(), &s.conf, &[a("-r"), a("-x")], b"");
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    assert!(!twoskip_dirty(&mb), "ctl_cyrusdb -r left the file dirty");
    assert_eq!(std::fs::metadata(&mb).unwrap().uid(), cyrus_uid());
    assert_eq!(
        dbtool(&mb, "twoskip", &["consistent"], b"", &s),
        b"Yes, consistent\n"
    );
    assert_eq!(dbtool(&mb, "twoskip", &["show"], b"", &s), shown);
}

fn cyrus_uid() -> u32 {
    let out = std::process::Command::new("id")
        .args(["-u", "cyrus"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn converts_other_backends_in_place_and_stamps() {
    if debian("cyr_dbtool").is_none() {
        return;
    }
    let s = Scratch::new("ctl-convert");
    std::fs::create_dir(s.path("db")).unwrap();
    s.give_to_cyrus();
    let mb = s.path("mailboxes.db");
    let ann = s.path("annotations.db");
    dbtool(&mb, "skiplist", &["set"], RECORDS, &s);
    dbtool(&ann, "twoskip", &["set"], RECORDS, &s);
    let want = dbtool(&mb, "skiplist", &["show"], b"", &s);
    let ann_before = std::fs::read(&ann).unwrap();

    let out = run(&ours(), &s.conf, &[a("-r")], b"");
    assert!(out.status.success() && out.stderr.is_empty(), "{out:?}");
    assert_eq!(
        cyrus::db::Backend::detect(&mb),
        Some(cyrus::db::Backend::Twoskip)
    );
    assert_eq!(dbtool(&mb, "twoskip", &["show"], b"", &s), want);
    assert_eq!(
        std::fs::read(&ann).unwrap(),
        ann_before,
        "clean file rewritten"
    );
    let stamp = std::fs::read(s.path("db/skipstamp")).unwrap();
    assert_eq!(stamp.len(), 4);
    let meta = std::fs::metadata(s.path("db/skipstamp")).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o600);
}

/// Type, mode, size and content of everything under `dir` except imapd.conf and the stamp.
fn tree(dir: &Path) -> BTreeMap<String, (u32, Option<Vec<u8>>)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            if rel == "imapd.conf" || rel == "db/skipstamp" {
                continue;
            }
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                stack.push(p);
                out.insert(rel, (meta.mode(), None));
            } else {
                out.insert(rel, (meta.mode(), Some(std::fs::read(&p).unwrap())));
            }
        }
    }
    out
}

/// A configdirectory with every database ctl_cyrusdb knows, made by Debian's cyr_dbtool.
fn populate(s: &Scratch) {
    std::fs::create_dir(s.path("ptclient")).unwrap();
    s.give_to_cyrus();
    for name in [
        "mailboxes.db",
        "annotations.db",
        "backups.db",
        "deliver.db",
        "tls_sessions.db",
        "statuscache.db",
        "ptclient/ptscache.db",
        "zoneinfo.db",
    ] {
        dbtool(&s.path(name), "twoskip", &["set"], RECORDS, s);
    }
    dbtool(&s.path("user_deny.db"), "flat", &["set"], RECORDS, s);
    dbtool(&s.path("quotas.db"), "quotalegacy", &["set"], RECORDS, s);
}

fn copy_tree(from: &Path, to: &Path) {
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", from.display()))
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn checkpoint_layout_matches_debian() {
    let Some(theirs) = debian("ctl_cyrusdb") else {
        return;
    };
    if debian("cyr_dbtool").is_none() {
        return;
    }
    let d = Scratch::new("ctl-ckpt-deb");
    populate(&d);
    let o = Scratch::new("ctl-ckpt-our");
    copy_tree(&d.dir, &o.dir);
    std::fs::write(&o.conf, format!("configdirectory: {}\n", o.dir.display())).unwrap();
    for round in 0..3 {
        for (s, bin) in [(&d, &theirs), (&o, &ours())] {
            let out = run(bin, &s.conf, &[a("-c")], b"");
            assert!(out.status.success() && out.stderr.is_empty(), "{out:?}");
            assert!(out.stdout.is_empty());
        }
        // Same files, modes and bytes on both sides (the copies are byte for byte).
        assert_eq!(tree(&d.dir), tree(&o.dir), "round {round}");
        // Something new for the next checkpoint to pick up, the same on both sides.
        dbtool(
            &d.path("mailboxes.db"),
            "twoskip",
            &["set", "k", "v"],
            b"",
            &d,
        );
        std::fs::copy(d.path("mailboxes.db"), o.path("mailboxes.db")).unwrap();
    }
    assert!(o.path("db.backup1/mailboxes.db").exists());
    assert!(o.path("db.backup2/mailboxes.db").exists());
}

#[test]
fn checkpoint_failure_like_debian() {
    let Some(theirs) = debian("ctl_cyrusdb") else {
        return;
    };
    // A dot file keeps db.backup2 from being removed, so nothing can rotate.
    for quota_db in ["quotalegacy", "twoskip"] {
        let mut results = Vec::new();
        for bin in [theirs.clone(), ours()] {
            let s = Scratch::new("ctl-ckpt-fail");
            std::fs::write(
                &s.conf,
                format!(
                    "configdirectory: {}\nquota_db: {quota_db}\n",
                    s.dir.display()
                ),
            )
            .unwrap();
            std::fs::create_dir(s.path("db.backup2")).unwrap();
            std::fs::write(s.path("db.backup2/.keep"), b"").unwrap();
            s.give_to_cyrus();
            let out = run(&bin, &s.conf, &[a("-c")], b"");
            results.push((out.status.code(), out.stdout, out.stderr));
        }
        assert_eq!(results[0], results[1], "quota_db: {quota_db}");
        assert_eq!(
            results[0].2,
            b"ctl_cyrusdb: unable to archive environment\n"
        );
    }
}

#[test]
fn usage_and_config_errors_like_debian() {
    let Some(theirs) = debian("ctl_cyrusdb") else {
        return;
    };
    let s = Scratch::new("ctl-usage");
    s.give_to_cyrus();
    let cases: &[&[&str]] = &[
        &[],
        &["-c", "-r"],
        &["-x"],
        &["-c", "-x"],
        &["-cx"],
        &["-q"],
        &["--checkpoint"],
    ];
    for args in cases {
        let args: Vec<_> = args.iter().map(|x| a(x)).collect();
        let want = run(&theirs, &s.conf, &args, b"");
        let got = run(&ours(), &s.conf, &args, b"");
        let norm = |v: &[u8], bin: &Path| {
            String::from_utf8_lossy(v).replace(&bin.display().to_string(), "BIN")
        };
        assert_eq!(got.status.code(), want.status.code(), "{args:?}");
        assert_eq!(
            norm(&got.stderr, &ours()),
            norm(&want.stderr, &theirs),
            "{args:?}"
        );
        assert_eq!(got.stdout, want.stdout);
    }
    let missing = s.path("nonexistent.conf");
    for conf in [missing, write_conf(&s, "noconfdir.conf", "foo: bar\n")] {
        let want = run(&theirs, &conf, &[a("-c")], b"");
        let got = run(&ours(), &conf, &[a("-c")], b"");
        assert_eq!(got.status.code(), want.status.code());
        assert_eq!(got.stderr, want.stderr);
    }
}

fn write_conf(s: &Scratch, name: &str, text: &str) -> PathBuf {
    let p = s.path(name);
    std::fs::write(&p, text).unwrap();
    p
}
