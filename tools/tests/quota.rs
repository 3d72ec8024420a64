//! quota on a copy of the reference spool prints golden/quota.txt, and for each scenario
//! (healthy spool, corrupted usage, stale scans, extra and unused roots, wrong roots in
//! cyrus.header, -n, -u, -d, -J, mailbox-specs, bad options) ours and Debian's, each on its
//! own identical copy, print the same stdout and stderr, exit alike and leave identical files
//! (quota records, cyrus.header and cyrus.index). Interop parts print "skipped" and pass
//! without Debian's Cyrus.

mod common;
use common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

fn ours() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_quota"))
}

/// A scratch instance: `conf/` and `spool/` copied from the reference spool, and the
/// reference imapd.conf pointed at them.
fn instance(tag: &str) -> Scratch {
    Scratch::reference_instance(tag, true, "")
}

fn args_of<'a>(v: &'a [&'a str]) -> Vec<&'a std::ffi::OsStr> {
    v.iter().map(|x| a(x)).collect()
}

/// Writes quota record `root` (hashed into directory `h`) in the instance.
fn put_root(s: &Scratch, h: &str, root: &str, value: &str) {
    let dir = s.path("conf/quota").join(h);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(root), format!("{value}\n")).unwrap();
}

/// Every file under `dir` by relative path, with its bytes.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                let rel = p.strip_prefix(base).unwrap().to_path_buf();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Output with the instance directory and the binary's path (getopt's messages) masked.
fn text(o: &Output, inst: &Path, bin: &Path) -> (String, String, Option<i32>) {
    let i = inst.to_string_lossy().to_string();
    let b = bin.to_string_lossy().to_string();
    let mask = |v: &[u8]| {
        String::from_utf8_lossy(v)
            .replace(&b, "quota")
            .replace(&i, "@I@")
    };
    (mask(&o.stdout), mask(&o.stderr), o.status.code())
}

/// Runs ours and Debian's with `args` on two copies prepared by `setup`, and compares
/// output, status and the files left behind. Returns our output.
fn compare(tag: &str, setup: &dyn Fn(&Scratch), args: &[&str]) -> Option<Output> {
    let deb = debian("quota")?;
    let mine = instance(&format!("{tag}-ours"));
    let theirs = instance(&format!("{tag}-debian"));
    setup(&mine);
    setup(&theirs);
    let o1 = run(ours(), &mine.conf, &args_of(args), b"");
    let o2 = run(&deb, &theirs.conf, &args_of(args), b"");
    assert_eq!(
        text(&o1, &mine.dir, ours()),
        text(&o2, &theirs.dir, &deb),
        "quota {args:?}"
    );
    // All of conf/ (quota/, domain/, and databases neither tool should change), spool/, and
    // run/ (the `$QUOTACHANGE` lock file both take).
    for sub in ["conf", "spool", "run"] {
        if !mine.path(sub).exists() && !theirs.path(sub).exists() {
            continue;
        }
        let t1 = tree(&mine.path(sub));
        let t2 = tree(&theirs.path(sub));
        assert_eq!(
            t1.keys().collect::<Vec<_>>(),
            t2.keys().collect::<Vec<_>>(),
            "{sub} after quota {args:?}"
        );
        for (k, v) in &t1 {
            assert!(
                t2.get(k) == Some(v),
                "{} differs after quota {args:?}:\nours   {:?}\ndebian {:?}",
                k.display(),
                String::from_utf8_lossy(v),
                t2.get(k).map(|b| String::from_utf8_lossy(b).to_string())
            );
        }
    }
    Some(o1)
}

const ALICE: &str = "conf/quota/a/user.alice";

#[test]
fn report_prints_the_golden_file() {
    let s = instance("golden");
    let golden = std::fs::read_to_string(reference().join("golden/quota.txt")).unwrap();
    let (cmd, expected) = golden.split_once('\n').unwrap();
    assert_eq!(cmd, "# quota -C imapd.conf");
    let got = run_ok(ours(), &s.conf, &[], b"");
    assert_eq!(String::from_utf8(got).unwrap(), expected);
}

#[test]
fn fix_quiet_on_a_healthy_spool_prints_nothing() {
    let s = instance("healthy");
    let out = run_ok(ours(), &s.conf, &args_of(&["-f", "-q"]), b"");
    assert!(out.is_empty());
    // Usage unchanged; one modseq per mailbox scanned and one to finish, as Debian's does.
    assert_eq!(
        std::fs::read(s.path(ALICE)).unwrap(),
        b"%(S (229251 20480) M (21 1000) AS (68) NF (5) MODSEQ 38)\n"
    );
}

#[test]
fn healthy_spool_matches_debian() {
    for args in [&["-f", "-q"][..], &["-f"], &[], &["-J"], &["-f", "-J"]] {
        compare("healthy", &|_| {}, args);
    }
}

fn corrupt(s: &Scratch) {
    put_root(
        s,
        "a",
        "user.alice",
        "%(S (1000 20480) M (3 1000) AS (5) NF (2) SCAN %(MBOX user.alice S 1 M 1 AS 1 NF 1) MODSEQ 44)",
    );
}

#[test]
fn corrupted_usage_is_fixed_like_debian() {
    if let Some(o) = compare("corrupt", &corrupt, &["-f"]) {
        assert!(String::from_utf8_lossy(&o.stderr)
            .contains("user.alice: STORAGE usage was 1000, now 229251\n"));
    }
    compare("corrupt-n", &corrupt, &["-f", "-n"]);
    compare("corrupt-q", &corrupt, &["-f", "-q"]);
}

/// Roots on shared mailboxes and on a sub-folder (which moves two mailboxes' cyrus.header
/// to a new root), limits of 0, and a root no mailbox uses.
fn more_roots(s: &Scratch) {
    put_root(
        s,
        "t",
        "shared.team",
        "%(S (0 100) M (0) AS (0) NF (0) MODSEQ 3)",
    );
    put_root(
        s,
        "s",
        "shared",
        "%(S (0) M (0 5) AS (0) NF (0 0) MODSEQ 3)",
    );
    put_root(s, "z", "user.zed", "%(S (0 10) MODSEQ 1)");
    put_root(
        s,
        "a",
        "user.alice.Archive",
        "%(S (0 10) M (0 0) AS (0) NF (0) MODSEQ 1)",
    );
}

#[test]
fn new_unused_and_nested_roots_match_debian() {
    compare("roots", &more_roots, &["-f"]);
    compare("roots-n", &more_roots, &["-f", "-n"]);
    compare("roots-report", &more_roots, &[]);
    compare("roots-json", &more_roots, &["-J"]);
}

#[test]
fn selections_match_debian() {
    let table: &[&[&str]] = &[
        &["-f", "user.alice.Archive"],
        &["-f", "user.al"],
        &["-f", "shared"],
        &["-u", "alice"],
        &["-f", "-u", "alice"],
        &["-u", "bob"],
        &["user.bob"],
        &["-d", "example.com"],
        &["-f", "-d", "example.com"],
    ];
    for args in table {
        compare("select", &more_roots, args);
    }
}

#[test]
fn removing_a_root_clears_cyrus_header_like_debian() {
    // A mailbox whose header names a root that has no record: -f drops it from the header.
    let setup = |s: &Scratch| {
        put_root(s, "a", "user.alice.Archive", "%(S (0) MODSEQ 1)");
        let o = run(ours(), &s.conf, &args_of(&["-f", "-q"]), b"");
        assert!(o.status.success());
        std::fs::remove_file(s.path("conf/quota/a/user.alice.Archive")).unwrap();
    };
    compare("unroot", &setup, &["-f"]);
}

#[test]
fn errors_match_debian() {
    compare("badopt", &|_| {}, &["-x"]);
    compare(
        "nombox",
        &|s| {
            use std::os::unix::fs::PermissionsExt;
            let p = s.path("conf/mailboxes.db");
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o000)).unwrap();
        },
        &[],
    );
    compare("long", &|_| {}, &["--fix"]);
    // A record in the wrong hash directory: found by the walk, not by the lookup.
    compare(
        "misplaced",
        &|s| put_root(s, "b", "user.zed", "%(S (0 10) MODSEQ 1)"),
        &[],
    );
}

#[test]
fn damaged_mailbox_and_record_match_debian() {
    // A missing cyrus.index stops -f midway, leaving the scan in the record as Cyrus does.
    let no_index = |s: &Scratch| {
        std::fs::remove_file(s.path("spool/uuid/7/9/793408dod39il2szehn8lkf6/cyrus.index"))
            .unwrap();
    };
    compare("noindex", &no_index, &["-f"]);
    compare("noindex-u", &no_index, &["-f", "-u", "alice"]);
    // A record that does not parse ends the report after its header.
    compare(
        "garbage",
        &|s| put_root(s, "a", "user.alice", "garbage"),
        &[],
    );
}

/// Virtual domains: roots inside domains, a domain's own root, and one in a domain without
/// mailboxes.
fn domains(s: &Scratch) {
    let mut conf = std::fs::read_to_string(&s.conf).unwrap();
    conf.push_str("virtdomains: userid\n");
    std::fs::write(&s.conf, conf).unwrap();
    let put = |rel: &str, value: &str| {
        let p = s.path("conf/domain").join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, format!("{value}\n")).unwrap();
    };
    put(
        "e/example.com/quota/b/user.bob",
        "%(S (5 100) M (1 10) AS (0) NF (1) MODSEQ 2)",
    );
    put(
        "e/example.com/quota/root",
        "%(S (7 1000) M (1) AS (0) NF (1) MODSEQ 2)",
    );
    put("f/foo.org/quota/c/user.carl", "%(S (9) MODSEQ 2)");
}

#[test]
fn virtual_domains_match_debian() {
    let table: &[&[&str]] = &[
        &[],
        &["-J"],
        &["-d", "example.com"],
        &["example.com!user"],
        &["-u", "bob@example.com"],
        &["-f", "-n", "-d", "example.com"],
        &["-f", "-d", "foo.org"],
        &["-f"],
    ];
    for args in table {
        compare("domains", &domains, args);
    }
}

#[test]
fn healthy_selections_and_legacy_records_match_debian() {
    compare("sel-healthy", &|_| {}, &["-f", "user.alice.Archive"]);
    compare("sel-healthy-u", &|_| {}, &["-f", "-u", "bob"]);
    // A pre-DLIST record (`used` LF `limit`), read and then rewritten as a DLIST by -f.
    let legacy = |s: &Scratch| {
        std::fs::write(s.path(ALICE), b"1000\n20480\n").unwrap();
    };
    compare("legacy", &legacy, &[]);
    compare("legacy-f", &legacy, &["-f"]);
}

#[test]
fn errors_without_debian() {
    let s = instance("errors");
    let o = run(ours(), &s.conf, &args_of(&["-x"]), b"");
    assert_eq!(o.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&o.stderr).ends_with(
        "usage: quota [-C <alt_config>] [-d <domain>] [-f] [-q] [-J] [-n] [-u] [mailbox-spec]...\n"
    ));
    put_root(&s, "b", "user.zed", "%(S (0 10) MODSEQ 1)");
    let o = run(ours(), &s.conf, &[], b"");
    assert_eq!(o.status.code(), Some(70));
}
