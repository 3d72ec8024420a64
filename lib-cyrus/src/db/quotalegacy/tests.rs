//! Tests of the quotalegacy backend: paths and hashes, value conversion, the reference
//! spool's quota golden, interop with Debian's `cyr_dbtool` both ways (with and without
//! fulldirhash), a model check, hostile files, and two processes writing one quota root.

use super::*;
use crate::db::testkit::{self, Scratch};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::ffi::OsStr;

fn flags(fulldirhash: bool) -> OpenFlags {
    OpenFlags {
        create: true,
        fulldirhash,
        virtdomains: true,
        ..OpenFlags::default()
    }
}

fn all(db: &mut dyn Database, prefix: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    testkit::records(db, prefix)
}

fn show_text(records: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    testkit::show_text(records.iter().map(|(k, v)| (k, v)))
}

/// Every regular file under `dir` except imapd.conf, by relative path, with its bytes.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else if p.file_name() != Some(OsStr::new("imapd.conf")) {
                out.insert(
                    p.strip_prefix(root).unwrap().to_path_buf(),
                    fs::read(&p).unwrap(),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

#[test]
fn paths_are_cyrus_paths() {
    let s = Scratch::new("ql-paths", "");
    let db = Quotalegacy::open(&s.dir.join("quotas.db"), flags(false)).unwrap();
    let rel = |k: &[u8]| {
        db.key_path(k)
            .unwrap()
            .strip_prefix(&s.dir)
            .unwrap()
            .to_path_buf()
    };
    assert_eq!(rel(b"user.alice"), Path::new("quota/a/user.alice"));
    assert_eq!(rel(b"user"), Path::new("quota/u/user"));
    assert_eq!(rel(b"shared.team"), Path::new("quota/t/shared.team"));
    assert_eq!(
        rel(b"example.com!user.bob"),
        Path::new("domain/e/example.com/quota/b/user.bob")
    );
    assert_eq!(
        rel(b"example.com!"),
        Path::new("domain/e/example.com/quota/root")
    );
    for bad in [&b""[..], b"user/x", b"..", b"!user.a", b"a\0b", b"x.com!.."] {
        assert!(matches!(db.key_path(bad), Err(Error::Usage(_))), "{bad:?}");
    }
    let full = Quotalegacy::open(&s.dir.join("quotas.db"), flags(true)).unwrap();
    assert!(full
        .key_path(b"user.carol^smith")
        .unwrap()
        .ends_with("quota/E/user.carol^smith"));
}

#[test]
fn legacy_values_convert_like_cyrus() {
    let p = Path::new("x");
    assert_eq!(to_file(b"%(S (1 2))"), b"%(S (1 2))\n");
    assert_eq!(to_file(b"100 2048"), b"100\n2048\n");
    assert_eq!(to_file(b""), b"\n");
    assert_eq!(from_file(b"100\n2048\n", p).unwrap(), b"100 2048");
    assert_eq!(from_file(b"%(S\n(1))\n", p).unwrap(), b"%(S\n(1))");
    assert_eq!(from_file(b"", p).unwrap(), b"");
    assert_eq!(from_file(b"\n", p).unwrap(), b"");
    assert!(matches!(from_file(b"12", p), Err(Error::Corrupt { .. })));
}

#[test]
fn transactions_lock_files_and_abort_leaves_nothing() {
    let s = Scratch::new("ql-txn", "");
    let path = s.dir.join("quotas.db");
    let mut db = Quotalegacy::open(&path, flags(false)).unwrap();
    db.store(b"user.keep", b"%(S (1))").unwrap();

    db.begin().unwrap();
    db.store(b"user.new", b"%(S (2))").unwrap();
    db.delete(b"user.keep").unwrap();
    db.delete(b"user.never").unwrap();
    // Reads inside the transaction see what a read after commit would, conversion included.
    db.store(b"user.old", b"1\n2").unwrap();
    assert_eq!(db.fetch(b"user.old").unwrap(), Some(b"1 2".to_vec()));
    db.delete(b"user.old").unwrap();
    assert_eq!(db.fetch(b"user.new").unwrap(), Some(b"%(S (2))".to_vec()));
    assert_eq!(db.fetch(b"user.keep").unwrap(), None);
    assert_eq!(all(&mut db, b"").len(), 1);
    db.abort().unwrap();
    assert!(!s.dir.join("quota/n/user.new").exists());
    assert_eq!(db.fetch(b"user.keep").unwrap(), Some(b"%(S (1))".to_vec()));

    // Last operation wins within one transaction.
    db.begin().unwrap();
    db.store(b"user.a", b"%(x)").unwrap();
    db.delete(b"user.a").unwrap();
    db.delete(b"user.keep").unwrap();
    db.store(b"user.keep", b"%(again)").unwrap();
    db.commit().unwrap();
    assert_eq!(db.fetch(b"user.a").unwrap(), None);
    assert!(!s.dir.join("quota/a/user.a").exists());
    assert_eq!(db.fetch(b"user.keep").unwrap(), Some(b"%(again)".to_vec()));
    assert!(!s.dir.join("quota/k/user.keep.NEW").exists());
    db.consistent().unwrap();
    assert!(matches!(db.commit(), Err(Error::Usage(_))));
}

#[test]
fn foreach_orders_and_filters_by_prefix() {
    let s = Scratch::new("ql-order", "");
    let path = s.dir.join("quotas.db");
    let mut db = Quotalegacy::open(&path, flags(false)).unwrap();
    let keys: &[&[u8]] = &[
        b"user.a.b",
        b"user.a-b",
        b"user.alice",
        b"user",
        b"user.Zed",
        b"example.com!",
        b"example.com!user.bob",
        b"other.org!user.x",
    ];
    for k in keys {
        db.store(k, b"%()").unwrap();
    }
    let names = |db: &mut Quotalegacy, p: &[u8]| -> Vec<Vec<u8>> {
        all(db, p).into_iter().map(|(k, _)| k).collect()
    };
    let mut sorted: Vec<Vec<u8>> = keys.iter().map(|k| k.to_vec()).collect();
    sorted.sort();
    assert_eq!(names(&mut db, b""), sorted);
    assert_eq!(
        names(&mut db, b"user.a"),
        vec![
            b"user.a-b".to_vec(),
            b"user.a.b".to_vec(),
            b"user.alice".to_vec()
        ]
    );
    assert_eq!(names(&mut db, b"user.a."), vec![b"user.a.b".to_vec()]);
    assert_eq!(names(&mut db, b"us").len(), 5);
    assert_eq!(
        names(&mut db, b"example.com!"),
        vec![b"example.com!".to_vec(), b"example.com!user.bob".to_vec()]
    );
    assert_eq!(names(&mut db, b"oth").len(), 1);
    let mut mbox = Quotalegacy::open(
        &path,
        OpenFlags {
            mboxsort: true,
            ..OpenFlags::default()
        },
    )
    .unwrap();
    assert_eq!(
        names(&mut mbox, b"user.a"),
        vec![
            b"user.a.b".to_vec(),
            b"user.a-b".to_vec(),
            b"user.alice".to_vec()
        ]
    );
}

#[test]
fn hostile_trees_give_clean_errors() {
    let s = Scratch::new("ql-bad", "");
    let path = s.dir.join("quotas.db");
    fs::create_dir_all(s.dir.join("quota/a/user.dir")).unwrap();
    fs::create_dir_all(s.dir.join("quota/b")).unwrap();
    fs::create_dir_all(s.dir.join("quota/t")).unwrap();
    fs::write(s.dir.join("quota/t/user.trunc"), b"%(S (1)").unwrap();
    fs::write(s.dir.join("quota/b/user.alice"), b"%()\n").unwrap();
    let mut db = Quotalegacy::open(&path, OpenFlags::default()).unwrap();
    assert!(matches!(
        db.fetch(b"user.trunc"),
        Err(Error::Corrupt { .. })
    ));
    assert!(db.foreach(b"", &mut |_, _| Ok(Walk::Continue)).is_err());
    assert!(db.consistent().is_err());
    fs::remove_file(s.dir.join("quota/t/user.trunc")).unwrap();
    // A file in the wrong hash directory is listed, as by Cyrus, but is not consistent.
    assert_eq!(all(&mut db, b"").len(), 1);
    assert!(matches!(db.consistent(), Err(Error::Corrupt { .. })));
    // Overwriting a damaged record repairs it.
    fs::write(s.dir.join("quota/t/user.trunc"), b"junk").unwrap();
    db.store(b"user.trunc", b"%()").unwrap();
    assert_eq!(db.fetch(b"user.trunc").unwrap(), Some(b"%()".to_vec()));
    assert!(Quotalegacy::open(&s.dir.join("no/such/quotas.db"), OpenFlags::default()).is_err());
}

#[test]
fn golden_quota_root() {
    let Some(reference) = testkit::reference() else {
        println!("skipped: reference data not found (set CYRUS_REFERENCE)");
        return;
    };
    let s = Scratch::new("ql-golden", "");
    testkit::copy_tree(
        &reference.join("spool/config/quota"),
        &s.dir.join("config/quota"),
    );
    let text = fs::read(reference.join("golden/cyr_dbtool/quota.quotalegacy.dump.txt")).unwrap();
    // The .txt golden starts with the command line that made it.
    let want: Vec<u8> = match text.strip_prefix(b"#") {
        Some(rest) => rest
            .iter()
            .position(|&b| b == b'\n')
            .map(|n| rest[n + 1..].to_vec())
            .unwrap(),
        None => text,
    };
    // Both names Cyrus accepts for the database: quotas.db, and quota as in the golden.
    for name in ["config/quotas.db", "config/quota"] {
        let mut db = Quotalegacy::open(&s.dir.join(name), OpenFlags::default()).unwrap();
        assert_eq!(show_text(&all(&mut db, b"")), want);
        db.consistent().unwrap();
    }
}

/// Quota roots of every shape, old-format values, empty values, overwrites and deletes.
fn interop_ops() -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    let mut ops: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
    let mut set = |k: &str, v: &str| ops.push((k.into(), Some(v.into())));
    set("other.org!user.x", "x");
    set(
        "user.alice",
        "%(S (2292512 20480) M (21 1000) AS (68) NF (5) MODSEQ 32)",
    );
    set("user.bob", "%(S (0) M (0))");
    set("user.carol^smith", "%(S (1 2))");
    set("user.Zed", "");
    set("user", "legacy 2048");
    set("user.old", "1234 -1");
    set("shared.team", "%(S (5 100))");
    set("9lives.x", "%()");
    set("example.com!user.bob", "%(S (7 8))");
    set("example.com!user.dave.Sent", "%(M (1 2))");
    set("example.com!", "%(S (9 10))");
    set("user.bob", "%(S (11 12) M (1 2))");
    ops.push((b"user.old".to_vec(), None));
    ops.push((b"other.org!user.x".to_vec(), None));
    ops
}

fn batch_script(ops: &[(Vec<u8>, Option<Vec<u8>>)]) -> Vec<u8> {
    let mut script = b"BEGIN\n".to_vec();
    for (k, v) in ops {
        match v {
            Some(v) => {
                script.extend_from_slice(b"SET ");
                script.extend_from_slice(&testkit::literal(k));
                script.push(b' ');
                script.extend_from_slice(&testkit::literal(v));
            }
            None => {
                script.extend_from_slice(b"DELETE ");
                script.extend_from_slice(&testkit::literal(k));
            }
        }
        script.push(b'\n');
    }
    script.extend_from_slice(b"COMMIT\n");
    script
}

fn interop(fulldirhash: bool, virtdomains: bool) {
    if let Some(why) = testkit::unavailable() {
        println!("skipped: {why}");
        return;
    }
    let conf = format!(
        "virtdomains: {}\nfulldirhash: {}\n",
        if virtdomains { "userid" } else { "off" },
        if fulldirhash { "yes" } else { "no" }
    );
    let ours = Scratch::new("ql-interop-ours", &conf);
    let theirs = Scratch::new("ql-interop-theirs", &conf);
    let ops = interop_ops();
    let mut model = BTreeMap::new();
    for (k, v) in &ops {
        match v {
            Some(v) => model.insert(k.clone(), v.clone()),
            None => model.remove(k),
        };
    }
    let want = show_text(&model.into_iter().collect::<Vec<_>>());

    let open_flags = OpenFlags {
        virtdomains,
        ..flags(fulldirhash)
    };
    let mut db = Quotalegacy::open(&ours.dir.join("quotas.db"), open_flags).unwrap();
    let (first, second) = ops.split_at(ops.len() / 2);
    for (k, v) in first {
        match v {
            Some(v) => db.store(k, v).unwrap(),
            None => db.delete(k).unwrap(),
        }
    }
    db.begin().unwrap();
    for (k, v) in second {
        match v {
            Some(v) => db.store(k, v).unwrap(),
            None => db.delete(k).unwrap(),
        }
    }
    db.commit().unwrap();
    drop(db);
    testkit::give_to_cyrus(&ours.dir);

    let theirs_db = theirs.dir.join("quotas.db");
    testkit::cyr_dbtool(
        &theirs.conf,
        &[
            theirs_db.as_os_str(),
            OsStr::new("quotalegacy"),
            OsStr::new("batch"),
        ],
        // Two transactions, because Cyrus's quotalegacy forgets a delete that follows a store
        // of the same key in one transaction (it renames the stored file in anyway).
        &[batch_script(first), batch_script(second)].concat(),
    );

    // The same files with the same bytes in the same places.
    assert_eq!(tree(&ours.dir), tree(&theirs.dir));
    for s in [&ours, &theirs] {
        let db_path = s.dir.join("quotas.db");
        let tool = |args: &[&str]| {
            let mut a = vec![db_path.as_os_str(), OsStr::new("quotalegacy")];
            a.extend(args.iter().map(OsStr::new));
            testkit::cyr_dbtool(&s.conf, &a, b"")
        };
        assert_eq!(
            tool(&["show"]),
            want,
            "Debian's show of {}",
            s.dir.display()
        );
        assert_eq!(tool(&["consistent"]), b"Yes, consistent\n");
        let mut db = Quotalegacy::open(&db_path, open_flags).unwrap();
        assert_eq!(
            show_text(&all(&mut db, b"")),
            want,
            "our read of {}",
            s.dir.display()
        );
        db.consistent().unwrap();
        assert_eq!(
            tool(&["show", "user.b"]),
            show_text(&all(&mut db, b"user.b"))
        );
        assert_eq!(
            tool(&["show", "example.com!"]),
            show_text(&all(&mut db, b"example.com!"))
        );
        assert_eq!(tool(&["get", "user"]), b"legacy 2048\n");
    }
}

#[test]
fn interop_with_debian_cyr_dbtool() {
    interop(false, true);
}

#[test]
fn interop_with_debian_cyr_dbtool_fulldirhash() {
    interop(true, true);
}

#[test]
fn interop_with_debian_cyr_dbtool_without_virtdomains() {
    // Without virtual domains a `!` in a root is just a byte of its file name.
    interop(false, false);
}

const CHILD_ENV: &str = "CYRUS_QL_TEST_CHILD";

/// One read-modify-write transaction on a decimal counter.
fn bump(db: &mut dyn Database, key: &[u8]) {
    db.begin().unwrap();
    let n: u64 = db
        .fetch(key)
        .unwrap()
        .map(|v| String::from_utf8(v).unwrap().parse().unwrap())
        .unwrap_or(0);
    db.store(key, (n + 1).to_string().as_bytes()).unwrap();
    db.commit().unwrap();
}

/// Run in child processes by the test below (`<id>:<dir>` in the environment); a no-op
/// otherwise.
#[test]
fn child_writer() {
    let Some(spec) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let spec = spec.into_string().unwrap();
    let (id, dir) = spec.split_once(':').unwrap();
    let mut db = Quotalegacy::open(&Path::new(dir).join("quotas.db"), flags(false)).unwrap();
    for i in 0..40 {
        bump(&mut db, b"user.counter");
        bump(&mut db, b"example.com!");
        db.store(format!("user.child{id}x{i}").as_bytes(), b"%()")
            .unwrap();
    }
}

#[test]
fn two_processes_never_lose_a_committed_write() {
    let s = Scratch::new("ql-2proc", "");
    testkit::give_to_cyrus(&s.dir);
    let children: Vec<_> = (0..2)
        .map(|id| {
            testkit::rerun_test("db::quotalegacy::tests::child_writer")
                .env(CHILD_ENV, format!("{id}:{}", s.dir.display()))
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let mut db = Quotalegacy::open(&s.dir.join("quotas.db"), flags(false)).unwrap();
    assert_eq!(db.fetch(b"user.counter").unwrap(), Some(b"80".to_vec()));
    assert_eq!(db.fetch(b"example.com!").unwrap(), Some(b"80".to_vec()));
    assert_eq!(all(&mut db, b"user.child").len(), 80);
    db.consistent().unwrap();
}

#[derive(Clone, Debug)]
enum Op {
    Store(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    Begin,
    Commit,
    Abort,
}

fn key_strategy() -> impl Strategy<Value = Vec<u8>> {
    let keys: Vec<&'static [u8]> = vec![
        b"user.alice",
        b"user.a.b",
        b"user.a-b",
        b"user",
        b"Q",
        b"d.com!",
        b"d.com!user.x",
        b"e.org!user.x.y",
    ];
    prop::sample::select(keys).prop_map(|k| k.to_vec())
}

fn value_strategy() -> impl Strategy<Value = Vec<u8>> {
    let bytes = vec![b'%', b' ', b'\n', b'1', b'(', 0xff, 0x00];
    prop::collection::vec(prop::sample::select(bytes), 0..6)
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (key_strategy(), value_strategy()).prop_map(|(k, v)| Op::Store(k, v)),
        2 => key_strategy().prop_map(Op::Delete),
        1 => Just(Op::Begin),
        1 => Just(Op::Commit),
        1 => Just(Op::Abort),
    ]
}

/// What a value reads back as after Cyrus's legacy space/newline conversion.
fn stored(v: &[u8]) -> Vec<u8> {
    from_file(&to_file(v), Path::new("model")).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn agrees_with_a_model(
        ops in prop::collection::vec(op_strategy(), 1..30),
        fulldirhash in any::<bool>(),
    ) {
        let s = Scratch::new("ql-model", "");
        let path = s.dir.join("quotas.db");
        let mut db = Quotalegacy::open(&path, flags(fulldirhash)).unwrap();
        let mut committed: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut working: Option<BTreeMap<Vec<u8>, Vec<u8>>> = None;
        for op in ops {
            match op {
                Op::Store(k, v) => {
                    db.store(&k, &v).unwrap();
                    working.as_mut().unwrap_or(&mut committed).insert(k, stored(&v));
                }
                Op::Delete(k) => {
                    db.delete(&k).unwrap();
                    working.as_mut().unwrap_or(&mut committed).remove(&k);
                }
                Op::Begin if working.is_none() => {
                    db.begin().unwrap();
                    working = Some(committed.clone());
                }
                Op::Commit if working.is_some() => {
                    db.commit().unwrap();
                    committed = working.take().unwrap();
                }
                Op::Abort if working.is_some() => {
                    db.abort().unwrap();
                    working = None;
                }
                _ => {}
            }
            let view = working.as_ref().unwrap_or(&committed);
            let want: Vec<_> = view.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            prop_assert_eq!(all(&mut db, b""), want);
            for k in view.keys().take(3) {
                let got = db.fetch(k).unwrap();
                prop_assert_eq!(got.as_ref(), view.get(k));
            }
        }
        drop(db);
        let want: Vec<_> = committed.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let mut fresh = Quotalegacy::open(&path, flags(fulldirhash)).unwrap();
        prop_assert_eq!(all(&mut fresh, b""), want);
        fresh.consistent().unwrap();
    }

    #[test]
    fn hostile_bytes_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..40),
        key in key_strategy(),
    ) {
        let s = Scratch::new("ql-fuzz", "");
        let file = s.dir.join("quota/a/user.alice");
        fs::create_dir_all(file.parent().unwrap()).unwrap();
        fs::write(&file, &bytes).unwrap();
        let mut db = Quotalegacy::open(&s.dir.join("quotas.db"), OpenFlags::default()).unwrap();
        let _ = db.fetch(b"user.alice");
        let _ = db.foreach(b"", &mut |_, _| Ok(Walk::Continue));
        let _ = db.consistent();
        let _ = db.store(&key, &bytes);
        let _ = db.fetch(&key);
        let _ = db.begin();
        let _ = db.fetch(b"user.alice");
        let _ = db.delete(b"user.alice");
        let _ = db.commit();
    }
}
