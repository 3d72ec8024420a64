//! cvt_cyrusdb against Debian's 3.6.1: every pair of backends round-trips the records, Debian's
//! cyr_dbtool reads what we wrote, and the messages and exit codes of the error cases match.

mod common;

use common::{a, debian, run, run_ok, Scratch};
use std::path::{Path, PathBuf};

fn ours() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cvt_cyrusdb"))
}

/// Keys that are also quota roots, so quotalegacy can hold them. No domain roots: without
/// `virtdomains` Debian keeps them under quota/, while our quotalegacy always splits them out.
const RECORDS: &[u8] = b"shared.news\t%(S 1)\nuser.alice\t%(S 5 M 10)\n\
user.bob\t%(S 0)\nuser.bob.Sent\t%(S 2)\n";

fn dbtool(file: &Path, backend: &str, action: &str, stdin: &[u8], s: &Scratch) -> Vec<u8> {
    let bin = debian("cyr_dbtool").unwrap();
    run_ok(
        &bin,
        &s.conf,
        &[a("-n"), file.as_os_str(), a(backend), a(action)],
        stdin,
    )
}

fn cvt(s: &Scratch, from: &Path, fk: &str, to: &Path, tk: &str) {
    let out = run(
        &ours(),
        &s.conf,
        &[from.as_os_str(), a(fk), to.as_os_str(), a(tk)],
        b"",
    );
    let want = format!(
        "Converting from {} ({fk}) to {} ({tk})\n",
        from.display(),
        to.display()
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);
    assert!(out.status.success() && out.stderr.is_empty(), "{out:?}");
}

#[test]
fn every_pair_round_trips() {
    if debian("cyr_dbtool").is_none() {
        return;
    }
    let backends = ["twoskip", "flat", "skiplist", "quotalegacy"];
    for from in backends {
        for to in backends {
            let s = Scratch::new(&format!("cvt-{from}-{to}"));
            s.give_to_cyrus();
            // quotalegacy keeps its files next to the named path, so each gets a directory.
            let src = s.path("a/src.db");
            let dst = s.path("b/dst.db");
            let back = s.path("c/back.db");
            for d in ["a", "b", "c"] {
                std::fs::create_dir(s.path(d)).unwrap();
            }
            s.give_to_cyrus();
            dbtool(&src, from, "set", RECORDS, &s);
            let want = dbtool(&src, from, "show", b"", &s);
            assert_eq!(want.iter().filter(|&&b| b == b'\n').count(), 4);
            cvt(&s, &src, from, &dst, to);
            assert_eq!(dbtool(&dst, to, "show", b"", &s), want, "{from} -> {to}");
            cvt(&s, &dst, to, &back, from);
            assert_eq!(dbtool(&back, from, "show", b"", &s), want, "{to} -> {from}");
        }
    }
}

#[test]
fn converts_in_place_and_sniffs_the_source() {
    if debian("cyr_dbtool").is_none() {
        return;
    }
    let s = Scratch::new("cvt-inplace");
    s.give_to_cyrus();
    let f = s.path("x.db");
    dbtool(&f, "twoskip", "set", RECORDS, &s);
    let want = dbtool(&f, "twoskip", "show", b"", &s);
    cvt(&s, &f, "twoskip", &f, "skiplist");
    assert_eq!(dbtool(&f, "skiplist", "show", b"", &s), want);
    // Named twoskip but a skiplist file: read with the backend its magic names.
    let g = s.path("sub/dir/y.db");
    cvt(&s, &f, "twoskip", &g, "flat");
    assert_eq!(dbtool(&g, "flat", "show", b"", &s), want);
    assert!(!s.path("x.db.CONVERT").exists());
}

#[test]
fn errors_like_debian() {
    let Some(theirs) = debian("cvt_cyrusdb") else {
        return;
    };
    if debian("cyr_dbtool").is_none() {
        return;
    }
    let s = Scratch::new("cvt-errors");
    s.give_to_cyrus();
    let t = s.path("t.db");
    dbtool(&t, "twoskip", "set", RECORDS, &s);
    let flat = s.path("f.db");
    dbtool(&flat, "flat", "set", RECORDS, &s);
    let d = |n: &str| s.path(n).display().to_string();
    let cases: Vec<Vec<String>> = vec![
        vec![],
        vec![d("t.db"), "twoskip".into(), d("o1.db")],
        vec![d("t.db"), "twoskip".into(), "rel.db".into(), "flat".into()],
        vec!["rel.db".into(), "twoskip".into(), d("o2.db"), "flat".into()],
        vec![d("t.db"), "bogus".into(), d("o3.db"), "flat".into()],
        vec![d("t.db"), "twoskip".into(), d("o4.db"), "bogus".into()],
        vec![d("missing.db"), "twoskip".into(), d("o5.db"), "flat".into()],
        vec![d("f.db"), "twoskip".into(), d("o6.db"), "skiplist".into()],
        vec![
            "-q".into(),
            d("t.db"),
            "twoskip".into(),
            d("o7.db"),
            "flat".into(),
        ],
    ];
    let strip = |v: &[u8], bin: &Path| {
        String::from_utf8_lossy(v).replace(&bin.display().to_string(), "BIN")
    };
    for args in &cases {
        let args: Vec<_> = args.iter().map(|x| a(x)).collect();
        let want = run(&theirs, &s.conf, &args, b"");
        let got = run(&ours(), &s.conf, &args, b"");
        assert_eq!(got.status.code(), want.status.code(), "{args:?}");
        assert_eq!(got.stdout, want.stdout, "{args:?}");
        // Debian's build also has the sql backend, which we do not offer.
        let want_err = strip(&want.stderr, &theirs).replace(", sql,", ",");
        assert_eq!(strip(&got.stderr, &ours()), want_err, "{args:?}");
    }
}
