//! Tests of the flat backend: the escaping and search tables, the golden files of the
//! reference spool, interop with Debian's `cyr_dbtool` both ways, a model check, hostile
//! bytes, and two processes writing one file.

use super::*;
use crate::db::testkit::{self, Scratch};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::ffi::OsStr;

fn create(path: &Path) -> Flat {
    Flat::open(
        path,
        OpenFlags {
            create: true,
            ..OpenFlags::default()
        },
    )
    .unwrap()
}

fn all(db: &mut dyn Database, prefix: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    testkit::records(db, prefix)
}

fn show_text(records: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    testkit::show_text(records.iter().map(|(k, v)| (k, v)))
}

/// The model's records in the order the file keeps them.
fn in_file_order(model: &BTreeMap<Vec<u8>, Vec<u8>>) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut v: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    v.sort_by(|a, b| compare::mailbox(&encode(&a.0), &encode(&b.0)));
    v
}

#[test]
fn escaping_table() {
    let cases: &[(&[u8], &[u8])] = &[
        (b"plain", b"plain"),
        (b"", b""),
        (b"\x00", b"\xff\x80"),
        (b"a\tb", b"a\xff\x89b"),
        (b"\n", b"\xff\x8a"),
        (b"\r", b"\xff\x8d"),
        (b"\xff", b"\xff\xff"),
        (b"\x1fVER\x1f", b"\x1fVER\x1f"),
        (b"\x01\x7f\x80\xfe", b"\x01\x7f\x80\xfe"),
    ];
    for (raw, enc) in cases {
        assert_eq!(encode(raw), *enc, "encode {raw:?}");
        assert_eq!(decode(enc), *raw, "decode {enc:?}");
        assert!(check_escaped(enc).is_ok());
    }
}

#[test]
fn decoding_is_as_lenient_as_cyrus() {
    assert_eq!(decode(b"ab\xff"), b"ab");
    assert_eq!(decode(b"\xffA"), b"A");
    assert_eq!(decode(b"\xff\xc1"), b"A");
    assert!(check_escaped(b"ab\xff").is_err());
    assert!(check_escaped(b"\xffA").is_err());
    assert!(check_escaped(b"a\tb").is_err());
}

#[test]
fn search_finds_lines_and_insertion_points() {
    let content = b"a\t0\na.b\t1\na-b\t3\nb\t2\n";
    assert_eq!(search(content, b"a"), (0, Some(4)));
    assert_eq!(search(content, b"a.b"), (4, Some(6)));
    assert_eq!(search(content, b"a-b"), (10, Some(6)));
    assert_eq!(search(content, b"b"), (16, Some(4)));
    assert_eq!(search(content, b"0"), (0, None));
    assert_eq!(search(content, b"a."), (4, None));
    assert_eq!(search(content, b"ab"), (16, None));
    assert_eq!(search(content, b"c"), (20, None));
    assert_eq!(search(b"", b"x"), (0, None));
    // A truncated last line is still a line for searching; reading it is what fails.
    assert_eq!(search(b"a\t1\nb\t2", b"b"), (4, Some(3)));
    assert_eq!(search(b"a\t1\nb\t2", b"c"), (7, None));
}

#[test]
fn stores_in_mailbox_order_and_reads_back() {
    let s = Scratch::new("flat-basic", "");
    let path = s.dir.join("sub.db");
    let mut db = create(&path);
    for k in ["ab", "a-b", "a.b", "a", "b"] {
        db.store(k.as_bytes(), k.to_uppercase().as_bytes()).unwrap();
    }
    assert_eq!(
        fs::read(&path).unwrap(),
        b"a\tA\na.b\tA.B\na-b\tA-B\nab\tAB\nb\tB\n"
    );
    assert_eq!(db.fetch(b"a-b").unwrap(), Some(b"A-B".to_vec()));
    assert_eq!(db.fetch(b"a-").unwrap(), None);
    let keys: Vec<_> = all(&mut db, b"a").into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, vec![&b"a"[..], b"a.b", b"a-b", b"ab"]);
    let keys: Vec<_> = all(&mut db, b"a.").into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, vec![&b"a.b"[..]]);
    db.delete(b"a.b").unwrap();
    db.delete(b"nothing").unwrap();
    assert_eq!(db.fetch(b"a.b").unwrap(), None);
    db.consistent().unwrap();
    assert!(!path.with_extension("db.NEW").exists());
    let mut out = Vec::new();
    db.dump(&mut out, 1).unwrap();
    assert!(out.is_empty());
}

#[test]
fn open_without_create_is_not_found_and_create_makes_directories() {
    let s = Scratch::new("flat-open", "");
    let path = s.dir.join("x/y/sub.db");
    assert!(matches!(
        Flat::open(&path, OpenFlags::default()),
        Err(Error::NotFound)
    ));
    let mut db = create(&path);
    assert_eq!(fs::read(&path).unwrap(), b"");
    assert!(all(&mut db, b"").is_empty());
    assert!(matches!(db.store(b"", b"v"), Err(Error::Usage(_))));
}

#[test]
fn transactions_see_their_writes_and_abort_drops_them() {
    let s = Scratch::new("flat-txn", "");
    let path = s.dir.join("t.db");
    let mut db = create(&path);
    db.store(b"keep", b"1").unwrap();
    let mut other = Flat::open(&path, OpenFlags::default()).unwrap();

    db.begin().unwrap();
    assert!(db.in_transaction());
    db.store(b"new", b"2").unwrap();
    db.delete(b"keep").unwrap();
    assert_eq!(db.fetch(b"new").unwrap(), Some(b"2".to_vec()));
    assert_eq!(db.fetch(b"keep").unwrap(), None);
    assert_eq!(all(&mut db, b"").len(), 1);
    // Nothing reaches the file, or another reader, before commit.
    assert_eq!(other.fetch(b"keep").unwrap(), Some(b"1".to_vec()));
    db.abort().unwrap();
    assert_eq!(db.fetch(b"keep").unwrap(), Some(b"1".to_vec()));
    assert_eq!(db.fetch(b"new").unwrap(), None);

    db.begin().unwrap();
    db.store(b"new", b"2").unwrap();
    db.commit().unwrap();
    assert!(!db.in_transaction());
    assert_eq!(other.fetch(b"new").unwrap(), Some(b"2".to_vec()));
    assert!(matches!(db.commit(), Err(Error::Usage(_))));
    assert!(matches!(db.abort(), Err(Error::Usage(_))));
}

#[test]
fn hostile_files_give_clean_errors() {
    let s = Scratch::new("flat-bad", "");
    let path = s.dir.join("bad.db");
    fs::write(&path, b"a\t1\nnotab\nc\t3").unwrap();
    let mut db = Flat::open(&path, OpenFlags::default()).unwrap();
    assert!(matches!(db.consistent(), Err(Error::Corrupt { .. })));
    assert!(db.foreach(b"", &mut |_, _| Ok(Walk::Continue)).is_err());
    assert!(matches!(db.begin(), Err(Error::Corrupt { .. })));
    assert!(!db.in_transaction());
    fs::write(&path, b"b\t1\na\t2\n").unwrap();
    let mut db = Flat::open(&path, OpenFlags::default()).unwrap();
    assert!(matches!(db.consistent(), Err(Error::Corrupt { .. })));
}

#[test]
fn golden_subscription_files() {
    let Some(reference) = testkit::reference() else {
        println!("skipped: reference data not found (set CYRUS_REFERENCE)");
        return;
    };
    let golden = reference.join("golden/cyr_dbtool");
    let mut seen = 0;
    for entry in fs::read_dir(&golden).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let Some(rel) = name.strip_suffix(".dump") else {
            continue;
        };
        if !rel.ends_with("__sub.db") {
            continue;
        }
        let s = Scratch::new("flat-golden", "");
        let copy = s.dir.join("sub.db");
        fs::copy(
            reference.join("spool/config").join(rel.replace("__", "/")),
            &copy,
        )
        .unwrap();
        let mut db = Flat::open(&copy, OpenFlags::default()).unwrap();
        let want = fs::read(golden.join(&name)).unwrap();
        assert_eq!(show_text(&all(&mut db, b"")), want, "{name}");
        db.consistent().unwrap();
        // Rewriting every record must reproduce the file byte for byte.
        let records = all(&mut db, b"");
        let again = s.dir.join("again.db");
        let mut db2 = create(&again);
        db2.begin().unwrap();
        for (k, v) in records.iter().rev() {
            db2.store(k, v).unwrap();
        }
        db2.commit().unwrap();
        assert_eq!(
            fs::read(&again).unwrap(),
            fs::read(&copy).unwrap(),
            "{name}"
        );
        seen += 1;
    }
    assert_eq!(seen, 2, "expected two sub.db goldens");
}

/// Keys and values with every byte the format escapes, plus ordering-relevant ones.
fn interop_ops() -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    let mut ops: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
    let specials: &[&[u8]] = &[
        b"\x00", b"\t", b"\n", b"\r", b"\xff", b".", b"-", b"\x1f", b"\x01", b"A", b"z", b"\x80",
    ];
    for (i, a) in specials.iter().enumerate() {
        for (j, b) in specials.iter().enumerate() {
            let mut k = b"user".to_vec();
            k.extend_from_slice(a);
            k.extend_from_slice(b);
            let mut v = b.to_vec();
            v.extend_from_slice(format!("v{i}.{j}").as_bytes());
            v.extend_from_slice(a);
            ops.push((k, Some(v)));
        }
    }
    ops.push((b"empty".to_vec(), Some(Vec::new())));
    ops.push((b"\xff\xff\xff".to_vec(), Some(b"\x00\x00".to_vec())));
    ops.push((b"user\x00\x00".to_vec(), Some(b"overwritten".to_vec())));
    ops.push((b"user..".to_vec(), None));
    ops.push((b"user\x01\t".to_vec(), None));
    ops.push((b"never-there".to_vec(), None));
    ops.push((b"user\n\r".to_vec(), Some(Vec::new())));
    ops
}

fn apply_model(model: &mut BTreeMap<Vec<u8>, Vec<u8>>, ops: &[(Vec<u8>, Option<Vec<u8>>)]) {
    for (k, v) in ops {
        match v {
            Some(v) => model.insert(k.clone(), v.clone()),
            None => model.remove(k),
        };
    }
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

#[test]
fn interop_with_debian_cyr_dbtool() {
    if let Some(why) = testkit::unavailable() {
        println!("skipped: {why}");
        return;
    }
    let s = Scratch::new("flat-interop", "");
    let ops = interop_ops();
    let mut model = BTreeMap::new();
    apply_model(&mut model, &ops);
    let want = show_text(&in_file_order(&model));

    // Ours writes: half the operations one by one, the rest in one transaction.
    let ours = s.dir.join("ours.db");
    let mut db = create(&ours);
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

    // Debian's writes the same through its batch mode.
    let theirs = s.dir.join("theirs.db");
    let tool = |args: &[&OsStr], stdin: &[u8]| testkit::cyr_dbtool(&s.conf, args, stdin);
    testkit::give_to_cyrus(&s.dir);
    tool(
        &[
            OsStr::new("-n"),
            theirs.as_os_str(),
            OsStr::new("flat"),
            OsStr::new("batch"),
        ],
        &batch_script(&ops),
    );

    assert_eq!(fs::read(&ours).unwrap(), fs::read(&theirs).unwrap());
    for file in [&ours, &theirs] {
        let shown = tool(
            &[file.as_os_str(), OsStr::new("flat"), OsStr::new("show")],
            b"",
        );
        assert_eq!(shown, want, "Debian's show of {}", file.display());
        let verdict = tool(
            &[
                file.as_os_str(),
                OsStr::new("flat"),
                OsStr::new("consistent"),
            ],
            b"",
        );
        assert_eq!(verdict, b"Yes, consistent\n");
        let mut db = Flat::open(file, OpenFlags::default()).unwrap();
        assert_eq!(
            show_text(&all(&mut db, b"")),
            want,
            "our read of {}",
            file.display()
        );
        db.consistent().unwrap();
        for (k, v) in &model {
            assert_eq!(db.fetch(k).unwrap().as_ref(), Some(v));
        }
        let prefixed = tool(
            &[
                file.as_os_str(),
                OsStr::new("flat"),
                OsStr::new("show"),
                OsStr::new("user."),
            ],
            b"",
        );
        assert_eq!(prefixed, show_text(&all(&mut db, b"user.")));
    }

    // Debian's tool picks up what ours wrote after it started, and the other way round.
    let mut db = Flat::open(&theirs, OpenFlags::default()).unwrap();
    db.store(b"late", b"ours").unwrap();
    testkit::give_to_cyrus(&s.dir);
    tool(
        &[
            theirs.as_os_str(),
            OsStr::new("flat"),
            OsStr::new("set"),
            OsStr::new("later"),
            OsStr::new("theirs"),
        ],
        b"",
    );
    assert_eq!(db.fetch(b"later").unwrap(), Some(b"theirs".to_vec()));
    assert_eq!(db.fetch(b"late").unwrap(), Some(b"ours".to_vec()));
}

#[test]
fn debian_and_ours_writing_at_once_lose_nothing() {
    if let Some(why) = testkit::unavailable() {
        println!("skipped: {why}");
        return;
    }
    let s = Scratch::new("flat-race", "");
    let path = s.dir.join("race.db");
    drop(create(&path));
    testkit::give_to_cyrus(&s.dir);
    let mut ours = testkit::rerun_test("db::flat::tests::child_writer")
        .env(CHILD_ENV, format!("0:60:{}", path.display()))
        .spawn()
        .unwrap();
    for i in 0..15 {
        testkit::cyr_dbtool(
            &s.conf,
            &[
                path.as_os_str(),
                OsStr::new("flat"),
                OsStr::new("set"),
                OsStr::new(&format!("debian{i}")),
                OsStr::new("x"),
            ],
            b"",
        );
    }
    assert!(ours.wait().unwrap().success());
    let mut db = Flat::open(&path, OpenFlags::default()).unwrap();
    assert_eq!(db.fetch(b"counter").unwrap(), Some(b"60".to_vec()));
    assert_eq!(all(&mut db, b"child").len(), 60);
    assert_eq!(all(&mut db, b"debian").len(), 15);
    db.consistent().unwrap();
}

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

const CHILD_ENV: &str = "CYRUS_FLAT_TEST_CHILD";

/// Run in child processes by the tests below (`<id>:<rounds>:<path>` in the environment);
/// a no-op otherwise.
#[test]
fn child_writer() {
    let Some(spec) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let spec = spec.into_string().unwrap();
    let mut parts = spec.splitn(3, ':');
    let (id, rounds, path) = (
        parts.next().unwrap(),
        parts.next().unwrap().parse::<usize>().unwrap(),
        parts.next().unwrap(),
    );
    let mut db = Flat::open(Path::new(path), OpenFlags::default()).unwrap();
    for i in 0..rounds {
        bump(&mut db, b"counter");
        db.store(format!("child{id}.{i}").as_bytes(), b"").unwrap();
    }
}

#[test]
fn two_processes_never_lose_a_committed_write() {
    let s = Scratch::new("flat-2proc", "");
    let path = s.dir.join("shared.db");
    drop(create(&path));
    testkit::give_to_cyrus(&s.dir);
    let children: Vec<_> = (0..2)
        .map(|id| {
            testkit::rerun_test("db::flat::tests::child_writer")
                .env(CHILD_ENV, format!("{id}:40:{}", path.display()))
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let mut db = Flat::open(&path, OpenFlags::default()).unwrap();
    assert_eq!(db.fetch(b"counter").unwrap(), Some(b"80".to_vec()));
    assert_eq!(all(&mut db, b"child").len(), 80);
    db.consistent().unwrap();
}

#[derive(Clone, Debug)]
enum Op {
    Store(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    Begin,
    Commit,
    Abort,
    Reopen,
}

fn key_strategy() -> impl Strategy<Value = Vec<u8>> {
    let bytes = vec![
        b'a', b'b', b'.', b'-', 0x00, b'\t', b'\n', b'\r', 0xff, 0x01, 0x89,
    ];
    prop::collection::vec(prop::sample::select(bytes), 1..4)
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (key_strategy(), prop::collection::vec(any::<u8>(), 0..5))
            .prop_map(|(k, v)| Op::Store(k, v)),
        2 => key_strategy().prop_map(Op::Delete),
        1 => Just(Op::Begin),
        1 => Just(Op::Commit),
        1 => Just(Op::Abort),
        1 => Just(Op::Reopen),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn agrees_with_a_model(ops in prop::collection::vec(op_strategy(), 1..40)) {
        let s = Scratch::new("flat-model", "");
        let path = s.dir.join("m.db");
        let mut db = create(&path);
        let mut committed: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut working: Option<BTreeMap<Vec<u8>, Vec<u8>>> = None;
        for op in ops {
            match op {
                Op::Store(k, v) => {
                    db.store(&k, &v).unwrap();
                    working.as_mut().unwrap_or(&mut committed).insert(k, v);
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
                Op::Reopen if working.is_none() => {
                    db = Flat::open(&path, OpenFlags::default()).unwrap();
                }
                _ => {}
            }
            let view = working.as_ref().unwrap_or(&committed);
            prop_assert_eq!(all(&mut db, b""), in_file_order(view));
            for k in view.keys().take(3) {
                let got = db.fetch(k).unwrap();
                prop_assert_eq!(got.as_ref(), view.get(k));
            }
            if working.is_none() {
                db.consistent().unwrap();
            }
        }
        if working.is_some() {
            db.commit().unwrap();
            committed = working.take().unwrap();
        }
        let mut fresh = Flat::open(&path, OpenFlags::default()).unwrap();
        prop_assert_eq!(all(&mut fresh, b""), in_file_order(&committed));
        prop_assert_eq!(all(&mut fresh, b"a"), in_file_order(&committed)
            .into_iter().filter(|(k, _)| k.starts_with(b"a")).collect::<Vec<_>>());
    }

    #[test]
    fn hostile_bytes_never_panic(
        bytes in prop::collection::vec(
            prop_oneof![any::<u8>(), Just(b'\t'), Just(b'\n'), Just(0xffu8)], 0..120),
        key in key_strategy(),
    ) {
        let s = Scratch::new("flat-fuzz", "");
        let path = s.dir.join("f.db");
        fs::write(&path, &bytes).unwrap();
        let mut db = Flat::open(&path, OpenFlags::default()).unwrap();
        let _ = db.fetch(&key);
        let _ = db.foreach(b"", &mut |_, _| Ok(Walk::Continue));
        let _ = db.foreach(&key, &mut |_, _| Ok(Walk::Continue));
        let _ = db.consistent();
        let _ = db.store(&key, b"v");
        let _ = db.delete(b"a");
        let _ = db.fetch(&key);
    }
}
