//! cyr_dbtool against Debian's Cyrus 3.6 and the reference spool: files
//! each side writes are shown byte for byte alike by the other, and pass its consistency check.

mod common;
use common::*;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn ours() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_cyr_dbtool"))
}

/// A deterministic byte generator, so that failures reproduce.
struct Gen(u64);
impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = (self.next() as usize) % (max + 1);
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn literal(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(format!("{{{}}}\r\n", b.len()).as_bytes());
    out.extend_from_slice(b);
}

#[test]
fn a_file_we_write_is_read_alike_by_debian() {
    let s = Scratch::new("ours-to-debian");
    let db = s.path("big.db");
    let mut g = Gen(0x9e37_79b9_7f4a_7c15);
    let mut script = b"BEGIN\n".to_vec();
    let mut keys = Vec::new();
    for i in 0..100_000u32 {
        // binary keys (never empty) with a unique suffix, values of any bytes, some empty
        let mut k = g.bytes(12);
        k.extend_from_slice(&i.to_be_bytes());
        let v = if i % 10 == 0 { Vec::new() } else { g.bytes(40) };
        script.extend_from_slice(b"SET ");
        literal(&mut script, &k);
        script.push(b' ');
        literal(&mut script, &v);
        script.push(b'\n');
        keys.push(k);
    }
    script.extend_from_slice(b"COMMIT\nBEGIN\n");
    for (i, k) in keys.iter().enumerate() {
        match i % 9 {
            0 => {
                script.extend_from_slice(b"DELETE ");
                literal(&mut script, k);
                script.push(b'\n');
            }
            1 => {
                script.extend_from_slice(b"SET ");
                literal(&mut script, k);
                script.extend_from_slice(b" overwritten\n");
            }
            _ => {}
        }
    }
    script.extend_from_slice(b"COMMIT\n");
    let batch = [a("-n"), db.as_os_str(), a("twoskip"), a("batch")];
    let out = run(ours(), &s.conf, &batch, &script);
    assert!(out.status.success() && out.stderr.is_empty(), "{out:?}");
    run_ok(
        ours(),
        &s.conf,
        &[db.as_os_str(), a("twoskip"), a("repack")],
        b"",
    );
    run_ok(
        ours(),
        &s.conf,
        &[
            db.as_os_str(),
            a("twoskip"),
            a("set"),
            a("after"),
            a("repack"),
        ],
        b"",
    );
    let mine = run_ok(
        ours(),
        &s.conf,
        &[db.as_os_str(), a("twoskip"), a("show")],
        b"",
    );
    assert!(mine.len() > 1_000_000);
    assert_eq!(
        run_ok(
            ours(),
            &s.conf,
            &[db.as_os_str(), a("twoskip"), a("consistent")],
            b""
        ),
        b"Yes, consistent\n"
    );
    let Some(debian) = debian("cyr_dbtool") else {
        return;
    };
    s.give_to_cyrus();
    let theirs = run_ok(
        &debian,
        &s.conf,
        &[db.as_os_str(), a("twoskip"), a("show")],
        b"",
    );
    assert!(theirs == mine, "Debian's show differs from ours");
    assert_eq!(
        run_ok(
            &debian,
            &s.conf,
            &[db.as_os_str(), a("twoskip"), a("consistent")],
            b""
        ),
        b"Yes, consistent\n"
    );
    // The dump of the internal structure is the same text too.
    let d1 = run_ok(
        ours(),
        &s.conf,
        &[db.as_os_str(), a("twoskip"), a("dump")],
        b"",
    );
    let d2 = run_ok(
        &debian,
        &s.conf,
        &[db.as_os_str(), a("twoskip"), a("dump")],
        b"",
    );
    if d1 != d2 {
        std::fs::write("/tmp/cyr_dbtool_dump.ours", &d1).unwrap();
        std::fs::write("/tmp/cyr_dbtool_dump.theirs", &d2).unwrap();
        panic!("dump output differs: see /tmp/cyr_dbtool_dump.{{ours,theirs}}");
    }
}

#[test]
fn a_file_debian_writes_is_read_alike_by_us() {
    let Some(debian) = debian("cyr_dbtool") else {
        return;
    };
    let s = Scratch::new("debian-to-ours");
    let db = s.path("theirs.db");
    s.give_to_cyrus();
    // Debian's batch mode crashes on literals, so its keys stay within quoted strings; odd
    // bytes go through argv instead.
    let mut script = Vec::new();
    for i in 0..20_000u32 {
        script.extend_from_slice(format!("SET \"k {i:05} x\" \"value {}\"\n", i * 7).as_bytes());
        if i % 5 == 0 {
            script.extend_from_slice(format!("SET \"k {i:05} x\" \"\"\n").as_bytes());
        }
        if i % 11 == 0 {
            script.extend_from_slice(format!("DELETE \"k {:05} x\"\n", i / 2).as_bytes());
        }
    }
    run_ok(
        &debian,
        &s.conf,
        &[a("-n"), db.as_os_str(), a("twoskip"), a("batch")],
        &script,
    );
    for k in [&b"\x01\x02\x7f"[..], b"\xff\xfe", b"\x1fuser\x1falice"] {
        run_ok(
            &debian,
            &s.conf,
            &[
                db.as_os_str(),
                a("twoskip"),
                a("set"),
                OsStr::from_bytes(k),
                a("bin\x01val"),
            ],
            b"",
        );
    }
    let theirs = run_ok(
        &debian,
        &s.conf,
        &[db.as_os_str(), a("twoskip"), a("show")],
        b"",
    );
    let mine = run_ok(
        ours(),
        &s.conf,
        &[db.as_os_str(), a("twoskip"), a("show")],
        b"",
    );
    assert!(theirs == mine, "our show differs from Debian's");
    let show_prefix = [db.as_os_str(), a("twoskip"), a("show"), a("k 0001")];
    let prefix = run_ok(ours(), &s.conf, &show_prefix, b"");
    assert_eq!(prefix, run_ok(&debian, &s.conf, &show_prefix, b""));
    assert_eq!(
        prefix
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count(),
        8
    );
    run_ok(
        &debian,
        &s.conf,
        &[db.as_os_str(), a("twoskip"), a("repack")],
        b"",
    );
    let mine = run_ok(
        ours(),
        &s.conf,
        &[db.as_os_str(), a("twoskip"), a("show")],
        b"",
    );
    assert!(theirs == mine, "our show differs after Debian's repack");
    assert_eq!(
        run_ok(
            ours(),
            &s.conf,
            &[db.as_os_str(), a("twoskip"), a("consistent")],
            b""
        ),
        b"Yes, consistent\n"
    );
}

#[test]
fn reference_spool_databases_show_as_golden() {
    let r = reference();
    let s = Scratch::new("golden");
    for (db, golden) in [
        ("mailboxes.db", "mailboxes.db.dump"),
        ("annotations.db", "annotations.db.dump"),
        ("deliver.db", "deliver.db.dump"),
        (
            "user/uuid/h/x/hx0n4cd8d31fl37m97f64ehd/seen.db",
            "user__uuid__h__x__hx0n4cd8d31fl37m97f64ehd__seen.db.dump",
        ),
        (
            "user/uuid/z/x/zxy8prvqo1qsmh2s1pkthgjb/seen.db",
            "user__uuid__z__x__zxy8prvqo1qsmh2s1pkthgjb__seen.db.dump",
        ),
    ] {
        let copy = s.path(&db.replace('/', "_"));
        copy_in(&r.join("spool/config").join(db), &copy);
        let want = std::fs::read(r.join("golden/cyr_dbtool").join(golden)).unwrap();
        let got = run_ok(
            ours(),
            &s.conf,
            &[copy.as_os_str(), a("twoskip"), a("show")],
            b"",
        );
        assert!(got == want, "{db}: show differs from the golden dump");
        assert_eq!(
            run_ok(
                ours(),
                &s.conf,
                &[copy.as_os_str(), a("twoskip"), a("consistent")],
                b""
            ),
            b"Yes, consistent\n",
            "{db}"
        );
    }
}

#[test]
fn reference_spool_databases_of_other_backends_show_as_golden() {
    let r = reference();
    let s = Scratch::new("golden-other");
    for user in [
        "h/x/hx0n4cd8d31fl37m97f64ehd",
        "z/x/zxy8prvqo1qsmh2s1pkthgjb",
    ] {
        for (db, backend) in [("sub.db", "flat"), ("conversations.db", "skiplist")] {
            let copy = s.path(&format!("{}-{db}", user.replace('/', "_")));
            copy_in(&r.join("spool/config/user/uuid").join(user).join(db), &copy);
            let golden = format!("user__uuid__{}__{db}.dump", user.replace('/', "__"));
            let want = std::fs::read(r.join("golden/cyr_dbtool").join(&golden)).unwrap();
            let got = run_ok(
                ours(),
                &s.conf,
                &[copy.as_os_str(), a(backend), a("show")],
                b"",
            );
            assert!(got == want, "{golden}: show differs from the golden dump");
        }
    }
    // quotalegacy: the database names the config directory's quota tree
    let conf = s.path("config");
    std::fs::create_dir_all(conf.join("quota/a")).unwrap();
    copy_in(
        &r.join("spool/config/quota/a/user.alice"),
        &conf.join("quota/a/user.alice"),
    );
    let golden =
        std::fs::read_to_string(r.join("golden/cyr_dbtool/quota.quotalegacy.dump.txt")).unwrap();
    let want: String = golden
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let got = run_ok(
        ours(),
        &s.conf,
        &[
            conf.join("quotas.db").as_os_str(),
            a("quotalegacy"),
            a("show"),
        ],
        b"",
    );
    assert_eq!(String::from_utf8(got).unwrap(), want);
}

#[test]
fn errors_and_exit_codes_match_cyrus() {
    let s = Scratch::new("errors");
    let missing = s.path("missing.db");
    let out = run(
        ours(),
        &s.conf,
        &[missing.as_os_str(), a("twoskip"), a("show")],
        b"",
    );
    assert_eq!(out.status.code(), Some(75));
    assert_eq!(out.stderr, b"fatal error: can't open database\n");
    let out = run(
        ours(),
        &s.conf,
        &[a("rel.db"), a("twoskip"), a("show")],
        b"",
    );
    assert_eq!(out.status.code(), Some(71));
    let out = run(
        ours(),
        &s.conf,
        &[missing.as_os_str(), a("nosuch"), a("show")],
        b"",
    );
    assert_eq!(out.status.code(), Some(78));
    let out = run(ours(), &s.conf, &[missing.as_os_str()], b"");
    assert_eq!(out.status.code(), Some(255));
    let db = s.path("e.db");
    let out = run(
        ours(),
        &s.conf,
        &[a("-n"), db.as_os_str(), a("twoskip"), a("frobnicate")],
        b"",
    );
    assert_eq!(
        (out.status.code(), out.stdout),
        (Some(0), b"Unknown action frobnicate\n".to_vec())
    );
    // Like Cyrus's tools, ours leave root for the cyrus user and take imapd.conf's umask.
    {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(&db).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600, "umask 077 is the default");
        let id = std::process::Command::new("id")
            .args(["-u", "cyrus"])
            .output()
            .unwrap();
        let root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .unwrap()
            .stdout
            == b"0\n";
        if root && id.status.success() {
            let cyrus: u32 = String::from_utf8_lossy(&id.stdout).trim().parse().unwrap();
            assert_eq!(meta.uid(), cyrus, "files created as root belong to cyrus");
        }
    }
    let twoskip = |action: &str, input: &[u8]| {
        run_ok(
            ours(),
            &s.conf,
            &[db.as_os_str(), a("twoskip"), a(action)],
            input,
        )
    };
    // keys and values from stdin; a missing key prints an empty line
    twoskip("set", b"a\t1\nb\t2\nc\n");
    assert_eq!(twoskip("get", b"a\nzz\nc\n"), b"1\n\n\n");
    let got = twoskip("batch", b"GET a\nGET zz\nSET q \"x y\"\nSHOW\n");
    assert_eq!(got, b"a 1\na 1\nb 2\nc \"\"\nq \"x y\"\n");
    // a damaged transaction is rolled back by the next opener
    twoskip("damage", b"");
    let got = twoskip("show", b"");
    assert_eq!(got, b"a\t1\nb\t2\nc\t\nq\tx y\n");
}
