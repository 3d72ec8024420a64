//! reconstruct on copies of the reference spool: on a healthy spool it prints what Debian's
//! prints and changes nothing; on a damaged copy it repairs the mailbox, prints Debian's
//! lines, and leaves what Debian's mbexamine prints as Debian's own reconstruct leaves it
//! (times of the run aside). Debian's `reconstruct -n` then finds nothing to say.

mod common;
use common::*;
use std::path::{Path, PathBuf};

fn ours() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_reconstruct"))
}

/// bob's INBOX directory in a reference instance.
const BOB: &str = "spool/uuid/h/x/hx0n4cd8d31fl37m97f64ehd";

/// Debian's mbexamine when installed, else ours (which prints the goldens byte for byte).
fn examiner() -> PathBuf {
    debian("mbexamine").unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_mbexamine")))
}

/// Runs `bin` with TZ=UTC; exit code, stdout and stderr with the instance path as @INSTANCE@.
fn run_tz(bin: &Path, s: &Scratch, args: &[&str]) -> (Option<i32>, String, String) {
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|x| a(x)).collect();
    let o = run_env(bin, &s.conf, &args, b"", &[("TZ", "UTC")]);
    let inst = s.dir.to_string_lossy().to_string();
    let text = |b: &[u8]| String::from_utf8_lossy(b).replace(&inst, "@INSTANCE@");
    (o.status.code(), text(&o.stdout), text(&o.stderr))
}

/// Replaces the digits after each of `keys` in `text` with `#`: the stamps of the moment
/// a reconstruct ran, which two runs cannot share.
fn mask(text: &str, keys: &[&str]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'outer: while !rest.is_empty() {
        for k in keys {
            if let Some(after) = rest.strip_prefix(k) {
                out.push_str(k);
                let digits = after.bytes().take_while(u8::is_ascii_digit).count();
                if digits > 0 {
                    out.push('#');
                }
                rest = &after[digits..];
                continue 'outer;
            }
        }
        let c = rest.chars().next().unwrap();
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// mbexamine of user.bob with the times of the repair masked.
fn examine_bob(s: &Scratch) -> String {
    let (code, out, err) = run_tz(&examiner(), s, &["user.bob"]);
    assert_eq!((code, err.as_str()), (Some(0), ""));
    let out = mask(
        &out,
        &["INT_DATE:", "SAVEDATE:", "LASTUPD :", "UIDValidity: "],
    );
    // The Last Append Date line of a rebuilt index carries no fixed time either.
    out.lines()
        .map(|l| {
            if l.starts_with("  Last Append Date:") {
                "  Last Append Date: #"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn healthy_spool_prints_names_and_changes_nothing() {
    let s = Scratch::reference_instance("reconstruct-healthy", true, "");
    let manifest = |s: &Scratch| {
        let mut v = Vec::new();
        for e in walk(&s.path("spool")) {
            if e.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("cyrus.")
            {
                v.push((e.clone(), std::fs::read(&e).unwrap()));
            }
        }
        v.retain(|(p, _)| !p.ends_with("cyrus.annotations"));
        v
    };
    let before = manifest(&s);
    let all = "user.alice\nuser.alice.#sieve\nuser.alice.Archive\nuser.alice.Archive.2024\n\
               user.alice.Sent\nuser.bob\nshared\nshared.team\n";
    let cases: &[(&[&str], &str)] = &[
        (&["user.alice"], "user.alice\n"),
        (
            &["-r", "user.alice"],
            "user.alice\nuser.alice.#sieve\nuser.alice.Archive\nuser.alice.Archive.2024\n\
             user.alice.Sent\n",
        ),
        (&["-n", "user.alice"], "user.alice\n"),
        (&["-q", "-G"], ""),
        (&["-G", "-s", "user.bob"], "user.bob\n"),
        (&["-u", "bob"], "user.bob\n"),
        (&[], all),
        (&["user.nobody"], ""),
        (&["-u", "nobody"], ""),
        (&["-r", "shared"], "shared\nshared.team\n"),
        (&["-q", "-r", "user"], ""),
        (
            &["-n", "-G", "-s", "-V", "max", "user.alice", "user.bob"],
            "user.alice\nuser.bob\n",
        ),
    ];
    for (args, want) in cases {
        let got = run_tz(ours(), &s, args);
        assert_eq!(got, (Some(0), want.to_string(), String::new()), "{args:?}");
    }
    assert!(before == manifest(&s), "a healthy spool was changed");
    if let Some(debian) = debian("reconstruct") {
        for (args, _) in cases {
            assert_eq!(
                run_tz(ours(), &s, args),
                run_tz(&debian, &s, args),
                "{args:?}"
            );
        }
    }
}

#[test]
fn usage_errors_match_debian() {
    let s = Scratch::reference_instance("reconstruct-usage", true, "");
    for args in [
        &["-r"][..],
        &["-u"],
        &["-m"],
        &["-p", "default", "user.bob"],
        &["-p", "default", "-r", "user.alice"],
    ] {
        let got = run_tz(ours(), &s, args);
        assert_eq!(got.0, Some(64), "{args:?}");
        if let Some(debian) = debian("reconstruct") {
            assert_eq!(got, run_tz(&debian, &s, args), "{args:?}");
        }
    }
    for args in [&["-k", "user.bob"][..], &["-g", "user.bob"]] {
        let got = run_tz(ours(), &s, args);
        assert_eq!(got.0, Some(0), "{args:?}");
        if let Some(debian) = debian("reconstruct") {
            assert_eq!(got, run_tz(&debian, &s, args), "{args:?}");
        }
    }
    let (code, _, err) = run_tz(ours(), &s, &["-V", "16", "user.bob"]);
    assert_eq!(code, Some(64));
    assert!(err.contains("only cyrus.index minor version 17"), "{err}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Damages user.bob in a fresh copy, reconstructs it with `bin`, and returns the output
/// lines (masked with `keys`) and mbexamine's view afterwards.
fn repair(
    bin: &Path,
    tag: &str,
    damage: fn(&Path),
    keys: &[&str],
) -> ((Option<i32>, String, String), String) {
    let s = Scratch::reference_instance(tag, true, "");
    damage(&s.path(BOB));
    let (code, out, err) = run_tz(bin, &s, &["user.bob"]);
    let out = mask(&out, keys);
    let view = examine_bob(&s);
    if let Some(debian) = debian("reconstruct") {
        // Whatever was written, Debian's check finds nothing left to repair.
        let check = run_tz(&debian, &s, &["-n", "user.bob"]);
        assert_eq!(
            check,
            (Some(0), "user.bob\n".into(), String::new()),
            "{tag}"
        );
    }
    ((code, out, err), view)
}

/// Runs a damage scenario through ours and, when installed, Debian's reconstruct; checks
/// ours against `want_lines` and, with Debian's, that both print and rebuild the same.
fn scenario(tag: &str, damage: fn(&Path), keys: &[&str], want_lines: &str) -> String {
    let (got, view) = repair(ours(), &format!("{tag}-ours"), damage, keys);
    assert_eq!(
        got,
        (Some(0), want_lines.to_string(), String::new()),
        "{tag}"
    );
    if debian("reconstruct").is_some() {
        let debian = debian("reconstruct").unwrap();
        let (dgot, dview) = repair(&debian, &format!("{tag}-debian"), damage, keys);
        assert_eq!(got, dgot, "{tag}: output");
        assert_eq!(view, dview, "{tag}: mbexamine after");
    }
    view
}

fn healthy_bob() -> String {
    let s = Scratch::reference_instance("reconstruct-before", true, "");
    examine_bob(&s)
}

/// `view` with the lines that differ from `before` (as `(before, after)` pairs).
fn changed(before: &str, after: &str) -> Vec<(String, String)> {
    before
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn missing_index_is_rebuilt_with_a_new_uidvalidity() {
    let view = scenario(
        "reconstruct-noidx",
        |d| std::fs::remove_file(d.join("cyrus.index")).unwrap(),
        &["-> "],
        "user.bob: failed to read index header\n\
         user.bob uid 1 found - adding\n\
         user.bob uid 2 found - adding\n\
         user.bob uid 3 found - adding\n\
         Wrong uidvalidity in mbentry, fixing user.bob (1795318723 -> #)\n\
         user.bob\n",
    );
    // Every message is back, with its cache items; flags and modseqs start again.
    assert_eq!(view.lines().count(), healthy_bob().lines().count());
    assert!(view.contains("Highest Mod Sequence: 4"), "{view}");
}

#[test]
fn truncated_cache_is_rewritten() {
    let before = healthy_bob();
    let view = scenario(
        "reconstruct-trunc",
        |d| {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(d.join("cyrus.cache"))
                .unwrap();
            f.set_len(1000).unwrap();
        },
        &[],
        "user.bob rewrote cache for 2 (offset 0 to 1000, crc 1548871388 to 1548871388/1548871388)\n\
         user.bob rewrote cache for 3 (offset 0 to 1744, crc 4124341881 to 4124341881/4124341881)\n\
         user.bob\n",
    );
    // Only the generation, the modseqs and the stamps of the two rewritten records move.
    let diff = changed(&before, &view);
    assert_eq!(diff.len(), 4, "{diff:#?}");
    assert!(diff.iter().all(|(a, _)| a.contains("Generation")
        || a.contains("Mod Sequence")
        || a.contains("MODSEQ")));
}

#[test]
fn missing_cache_is_rebuilt() {
    let before = healthy_bob();
    let view = scenario(
        "reconstruct-nocache",
        |d| std::fs::remove_file(d.join("cyrus.cache")).unwrap(),
        &[],
        "user.bob rewrote cache for 1 (offset 0 to 4, crc 1807575866 to 1807575866/1807575866)\n\
         user.bob rewrote cache for 2 (offset 0 to 824, crc 1548871388 to 1548871388/1548871388)\n\
         user.bob rewrote cache for 3 (offset 0 to 1568, crc 4124341881 to 4124341881/4124341881)\n\
         user.bob\n",
    );
    assert_eq!(before.lines().count(), view.lines().count());
    assert!(view.contains("SYSFLAGS:00000012"), "flags kept: {view}");
}

#[test]
fn stray_message_file_is_added() {
    let view = scenario(
        "reconstruct-stray",
        |d| {
            std::fs::copy(d.join("2."), d.join("4.")).unwrap();
        },
        &[],
        "user.bob uid 4 found - adding\nuser.bob\n",
    );
    assert!(view.contains("UID:00000004"), "{view}");
    assert!(view.contains("Number of Messages: 4"), "{view}");
}

#[test]
fn bad_record_crc_drops_the_record_and_appends_its_file() {
    let view = scenario(
        "reconstruct-crc",
        |d| {
            use std::os::unix::fs::FileExt;
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(d.join("cyrus.index"))
                .unwrap();
            // The record CRC of UID 2.
            f.write_all_at(&[0, 0, 0, 1], 160 + 112 + 108).unwrap();
        },
        // The sync CRCs cover the new record's stamps.
        &["sync_crc ", "sync_crc_annot ", " => "],
        "user.bob uid 2 rediscovered - appending\n\
         user.bob updating quota_mailbox_used: 2582 => #\n\
         user.bob: updating exists 4 => #\n\
         user.bob: updating sync_crc # => #\n\
         user.bob: updating sync_crc_annot # => #\n\
         user.bob\n",
    );
    assert!(!view.contains("UID:00000002"), "{view}");
    assert!(view.contains("UID:00000004"), "{view}");
}

#[test]
fn missing_message_file_is_expunged() {
    let view = scenario(
        "reconstruct-gone",
        |d| std::fs::remove_file(d.join("3.")).unwrap(),
        &[],
        "user.bob uid 3 not found\nuser.bob\n",
    );
    assert!(view.contains("Number of Messages: 2"), "{view}");
    assert!(!view.contains("UID:00000003"), "{view}");
}

#[test]
fn wrong_counters_are_fixed() {
    let before = healthy_bob();
    let view = scenario(
        "reconstruct-counters",
        |d| {
            use cyrus::mailbox::index::IndexHeader;
            let path = d.join("cyrus.index");
            let mut b = std::fs::read(&path).unwrap();
            let mut h = IndexHeader::decode(&b, &path).unwrap();
            h.answered = 5;
            h.exists = 9;
            b[..160].copy_from_slice(&h.encode());
            std::fs::write(&path, &b).unwrap();
        },
        &[],
        "user.bob: updating answered 5 => 0\nuser.bob: updating exists 9 => 3\nuser.bob\n",
    );
    assert_eq!(before, view);
}

#[test]
fn dry_run_changes_nothing() {
    let s = Scratch::reference_instance("reconstruct-dry", true, "");
    let bob = s.path(BOB);
    std::fs::remove_file(bob.join("3.")).unwrap();
    let index = std::fs::read(bob.join("cyrus.index")).unwrap();
    let (code, out, _) = run_tz(ours(), &s, &["-n", "user.bob"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("user.bob uid 3 not found"), "{out}");
    assert_eq!(index, std::fs::read(bob.join("cyrus.index")).unwrap());
    std::fs::remove_file(bob.join("cyrus.index")).unwrap();
    let got = run_tz(ours(), &s, &["-n", "user.bob"]);
    let want = "user.bob: System I/O error No such file or directory\n";
    assert_eq!(got, (Some(0), String::new(), want.into()));
    if let Some(debian) = debian("reconstruct") {
        assert_eq!(got, run_tz(&debian, &s, &["-n", "user.bob"]));
    }
    assert!(!bob.join("cyrus.index").exists());
}

/// Runs `args` on user.bob after `damage` with ours and (when installed) Debian's, each on
/// its own copy; returns ours' output and mbexamine view, checked equal to Debian's.
fn both(tag: &str, damage: fn(&Path), args: &[&str]) -> ((Option<i32>, String, String), String) {
    let go = |bin: &Path, t: &str| {
        let s = Scratch::reference_instance(t, true, "");
        damage(&s.path(BOB));
        let got = run_tz(bin, &s, args);
        (got, examine_bob(&s))
    };
    let o = go(ours(), &format!("{tag}-ours"));
    if let Some(debian) = debian("reconstruct") {
        assert_eq!(o, go(&debian, &format!("{tag}-debian")), "{tag} {args:?}");
    }
    o
}

#[test]
fn guid_mismatch_is_reported_and_left_alone() {
    let before = healthy_bob();
    let edit: fn(&Path) = |d| {
        let p = d.join("2.");
        let m = std::fs::read_to_string(&p)
            .unwrap()
            .replace("Hi Bob", "Hi Rob");
        std::fs::write(&p, m).unwrap();
    };
    let ((code, out, _), view) = both("reconstruct-guid", edit, &["user.bob"]);
    assert_eq!((code, out.as_str()), (Some(0), "user.bob\n"));
    assert_eq!(view, before);
    let ((_, out, _), view) = both("reconstruct-guid-G", edit, &["-G", "user.bob"]);
    assert_eq!(
        out,
        "user.bob uid 2 guid mismatch\nrun reconstruct with -R to fix or -U to remove\nuser.bob\n"
    );
    assert_eq!(view, before);
    let ((_, out, _), _) = both("reconstruct-guid-nG", edit, &["-n", "-G", "user.bob"]);
    assert_eq!(out, "user.bob uid 2 guid mismatch\nuser.bob\n");
    // A file whose size is not the record's is parsed again without -G, but not with -s.
    let grow: fn(&Path) = |d| {
        let mut m = std::fs::read(d.join("2.")).unwrap();
        m.extend_from_slice(b"extra\r\n");
        std::fs::write(d.join("2."), m).unwrap();
    };
    let ((_, out, _), _) = both("reconstruct-size", grow, &["user.bob"]);
    assert!(out.starts_with("user.bob uid 2 guid mismatch\n"), "{out}");
    let ((_, out, _), _) = both("reconstruct-size-s", grow, &["-s", "user.bob"]);
    assert_eq!(out, "user.bob\n");
}

#[test]
fn odd_files_are_reported_ignored_or_deleted() {
    let junk: fn(&Path) = |d| {
        std::fs::write(d.join("junk"), b"x").unwrap();
        std::fs::write(d.join("cyrus.other"), b"x").unwrap();
        std::fs::create_dir(d.join("subdir")).unwrap();
    };
    let path = format!("@INSTANCE@/{BOB}/junk");
    let ((_, out, _), _) = both("reconstruct-odd", junk, &["user.bob"]);
    assert_eq!(
        out,
        format!(
            "user.bob odd file {path}\nrun reconstruct with -O to remove odd files\nuser.bob\n"
        )
    );
    let ((_, out, _), _) = both("reconstruct-odd-o", junk, &["-o", "user.bob"]);
    assert_eq!(out, "user.bob\n");
    let s = Scratch::reference_instance("reconstruct-odd-O", true, "");
    junk(&s.path(BOB));
    let (_, out, _) = run_tz(ours(), &s, &["-O", "user.bob"]);
    assert_eq!(out, format!("user.bob odd file {path}\nuser.bob\n"));
    assert!(!s.path(BOB).join("junk").exists());
    assert!(s.path(BOB).join("cyrus.other").exists() && s.path(BOB).join("subdir").exists());
    assert!(s.path(BOB).join("2.").exists());
}

#[test]
fn truncated_or_unreadable_index_is_started_again() {
    let want = "user.bob: failed to read index header\n\
                user.bob uid 1 found - adding\n\
                user.bob uid 2 found - adding\n\
                user.bob uid 3 found - adding\n\
                Wrong uidvalidity in mbentry, fixing user.bob (1795318723 -> #)\n\
                user.bob\n";
    scenario(
        "reconstruct-truncidx",
        |d| {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(d.join("cyrus.index"))
                .unwrap();
            f.set_len(160 + 112).unwrap();
        },
        &["-> "],
        want,
    );
    scenario(
        "reconstruct-hdrcrc",
        |d| {
            use std::os::unix::fs::FileExt;
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(d.join("cyrus.index"))
                .unwrap();
            f.write_all_at(&[1], 40).unwrap();
        },
        &["-> "],
        want,
    );
}

#[test]
fn guid_mismatch_with_r_gets_a_new_uid() {
    let edit: fn(&Path) = |d| {
        let p = d.join("2.");
        let m = std::fs::read_to_string(&p)
            .unwrap()
            .replace("Hi Bob", "Hi Rob");
        std::fs::write(&p, m).unwrap();
    };
    let ((code, out, _), view) = both("reconstruct-R", edit, &["-G", "-R", "user.bob"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        out,
        "user.bob uid 2 guid mismatch\nuser.bob uid 2 marking for uid upgrade\n\
         user.bob uid 2 rediscovered - appending\nuser.bob\n"
    );
    assert!(
        !view.contains("UID:00000002") && view.contains("UID:00000004"),
        "{view}"
    );
    assert!(view.contains("\"Hi Rob\""), "{view}");
}

#[test]
fn annotation_usage_is_recounted_from_annotations_db() {
    let damage = |s: &Scratch| {
        use cyrus::mailbox::index::IndexHeader;
        let path = s.path("spool/uuid/z/x/zxy8prvqo1qsmh2s1pkthgjb/cyrus.index");
        let mut b = std::fs::read(&path).unwrap();
        let mut h = IndexHeader::decode(&b, &path).unwrap();
        h.quota_annot_used = 99;
        h.quota_mailbox_used = 5;
        h.answered = 7;
        b[..160].copy_from_slice(&h.encode());
        std::fs::write(&path, &b).unwrap();
    };
    let want = "user.alice updating quota_mailbox_used: 5 => 223733\n\
                user.alice updating quota_annot_used: 99 => 13\n\
                user.alice: updating answered 7 => 1\n\
                user.alice\n";
    let s = Scratch::reference_instance("reconstruct-annot-ours", true, "");
    damage(&s);
    assert_eq!(
        run_tz(ours(), &s, &["user.alice"]),
        (Some(0), want.to_string(), String::new())
    );
    assert_eq!(run_tz(ours(), &s, &["user.alice"]).1, "user.alice\n");
    if let Some(debian) = debian("reconstruct") {
        let d = Scratch::reference_instance("reconstruct-annot-debian", true, "");
        damage(&d);
        assert_eq!(run_tz(&debian, &d, &["user.alice"]).1, want);
        assert_eq!(run_tz(&debian, &s, &["-n", "user.alice"]).1, "user.alice\n");
    }
}

#[test]
fn missing_header_is_written_from_mailboxes_db() {
    let header =
        reference().join("spool/partition-default/uuid/h/x/hx0n4cd8d31fl37m97f64ehd/cyrus.header");
    scenario(
        "reconstruct-nohdr",
        |d| std::fs::remove_file(d.join("cyrus.header")).unwrap(),
        &["-> "],
        "user.bob: failed to read index header\n\
         user.bob uid 1 found - adding\n\
         user.bob uid 2 found - adding\n\
         user.bob uid 3 found - adding\n\
         Wrong uidvalidity in mbentry, fixing user.bob (1795318723 -> #)\n\
         user.bob\n",
    );
    let s = Scratch::reference_instance("reconstruct-nohdr-check", true, "");
    std::fs::remove_file(s.path(BOB).join("cyrus.header")).unwrap();
    let got = run_tz(ours(), &s, &["-n", "user.bob"]);
    let want = "user.bob: System I/O error No such file or directory\n";
    assert_eq!(got, (Some(0), String::new(), want.to_string()));
    run_tz(ours(), &s, &["user.bob"]);
    assert_eq!(
        std::fs::read(s.path(BOB).join("cyrus.header")).unwrap(),
        std::fs::read(header).unwrap()
    );
}

#[test]
fn quota_root_follows_the_repair() {
    const ALICE: &str = "spool/uuid/z/x/zxy8prvqo1qsmh2s1pkthgjb";
    let quota = |bin: &Path, tag: &str, damage: fn(&Path)| {
        let s = Scratch::reference_instance(tag, true, "");
        damage(&s.path(ALICE));
        let (code, _, err) = run_tz(bin, &s, &["user.alice"]);
        assert_eq!((code, err.as_str()), (Some(0), ""), "{tag}");
        std::fs::read_to_string(s.path("conf/quota/a/user.alice")).unwrap()
    };
    let gone: fn(&Path) = |d| std::fs::remove_file(d.join("5.")).unwrap();
    let ours_gone = quota(ours(), "reconstruct-quota-ours", gone);
    assert_eq!(
        ours_gone,
        "%(S (228510 20480) M (20 1000) AS (68) NF (5) MODSEQ 33)\n"
    );
    if let Some(debian) = debian("reconstruct") {
        assert_eq!(ours_gone, quota(&debian, "reconstruct-quota-debian", gone));
    }
    // An index started again moves nothing (Cyrus's counts the mailbox a second time).
    let noidx: fn(&Path) = |d| std::fs::remove_file(d.join("cyrus.index")).unwrap();
    assert_eq!(
        quota(ours(), "reconstruct-quota-noidx", noidx),
        std::fs::read_to_string(reference().join("spool/config/quota/a/user.alice")).unwrap()
    );
}
