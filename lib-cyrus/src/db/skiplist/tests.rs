//! Tests of the skiplist backend: files made by Debian's Cyrus 3.6.1 (`testdata/`, and the
//! reference spool), transactions, crash recovery, key orders, a model-based proptest, damaged
//! files, and, when Debian's `cyr_dbtool` is installed, interop with it in both directions.

use super::*;
use crate::db::testkit;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};

/// A scratch directory under the system temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, AtomicOrdering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("cyrus-skiplist-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // Debian's tools run as `cyrus` when started by root: let them in.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/db/skiplist/testdata")
        .join(name)
}

/// Copies a file into the scratch dir, writable.
fn copy_in(s: &Scratch, from: &Path, name: &str) -> PathBuf {
    let to = s.path(name);
    std::fs::copy(from, &to).unwrap();
    std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o666)).unwrap();
    to
}

fn create_flags() -> OpenFlags {
    OpenFlags {
        create: true,
        ..OpenFlags::default()
    }
}

fn records(db: &mut Skiplist, prefix: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    testkit::records(db, prefix)
}

/// What `cyr_dbtool ... show` prints: `key TAB value LF` per record.
fn show(db: &mut Skiplist) -> Vec<u8> {
    let recs = records(db, b"");
    testkit::show_text(recs.iter().map(|(k, v)| (k, v)))
}

fn model_show(m: &BTreeMap<Vec<u8>, Vec<u8>>) -> Vec<u8> {
    let mut recs: Vec<_> = m.iter().collect();
    recs.sort_by(|a, b| compare_signed(a.0, b.0));
    testkit::show_text(recs)
}

fn dump_text(db: &mut Skiplist) -> String {
    let mut out = Vec::new();
    db.dump(&mut out, 1).unwrap();
    String::from_utf8(out).unwrap()
}

/// A small deterministic generator for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self, min: u64, max: u64, allowed: &dyn Fn(u8) -> bool) -> Vec<u8> {
        let len = min + self.below(max - min + 1);
        let mut v = Vec::new();
        while (v.len() as u64) < len {
            let b = self.next() as u8;
            if allowed(b) {
                v.push(b);
            }
        }
        v
    }
}

#[test]
fn new_file_has_cyruss_layout() {
    let s = Scratch::new("new");
    let p = s.path("sub/dir/conversations.db");
    drop(Skiplist::open(&p, create_flags()).unwrap());
    let bytes = std::fs::read(&p).unwrap();
    assert_eq!(bytes.len(), 144);
    assert_eq!(&bytes[..20], &format::MAGIC[..]);
    // version 1.2, maxlevel 20, curlevel 1, listsize 0, logstart 0x90
    assert_eq!(
        &bytes[20..44],
        &[0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 20, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x90]
    );
    let mut dummy = vec![0, 0, 1, 1];
    dummy.resize(92, 0);
    dummy.extend_from_slice(&[0xff; 4]);
    assert_eq!(&bytes[48..], &dummy[..]);
    assert!(matches!(
        Skiplist::open(&s.path("missing.db"), OpenFlags::default()),
        Err(Error::NotFound)
    ));
}

#[test]
fn golden_reference_conversations_dbs() {
    let root = testkit::reference().unwrap();
    let users = root.join("spool/config/user/uuid");
    let level1 = std::fs::read_dir(&users).unwrap();
    let s = Scratch::new("golden");
    let mut seen = 0;
    for a in level1 {
        let a = a.unwrap().path();
        for b in std::fs::read_dir(&a).unwrap() {
            let b = b.unwrap().path();
            for id in std::fs::read_dir(&b).unwrap() {
                let id = id.unwrap().path();
                let db = id.join("conversations.db");
                if !db.exists() {
                    continue;
                }
                let name = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();
                let golden = root.join(format!(
                    "golden/cyr_dbtool/user__uuid__{}__{}__{}__conversations.db.dump",
                    name(&a),
                    name(&b),
                    name(&id)
                ));
                let expected = std::fs::read(&golden).unwrap();
                let copy = copy_in(&s, &db, &format!("conv{seen}.db"));
                let before = std::fs::read(&copy).unwrap();
                let mut sl = Skiplist::open(&copy, OpenFlags::default()).unwrap();
                assert_eq!(show(&mut sl), expected, "{}", db.display());
                sl.consistent().unwrap();
                drop(sl);
                // A clean file is read as it is, not rewritten.
                assert_eq!(std::fs::read(&copy).unwrap(), before);
                seen += 1;
            }
        }
    }
    assert!(seen >= 2, "found {seen} conversations.db files");
}

#[test]
fn reads_a_debian_log_file_as_it_is() {
    let s = Scratch::new("log");
    let p = copy_in(&s, &testdata("debian-log.db"), "log.db");
    let before = std::fs::read(&p).unwrap();
    let mut db = Skiplist::open(&p, OpenFlags::default()).unwrap();
    assert_eq!(
        show(&mut db),
        std::fs::read(testdata("debian-log.show")).unwrap()
    );
    assert_eq!(
        dump_text(&mut db),
        std::fs::read_to_string(testdata("debian-log.dump")).unwrap()
    );
    assert_eq!(db.fetch(b"k1").unwrap(), Some(b"v1b".to_vec()));
    assert_eq!(db.fetch(b"k2").unwrap(), None);
    assert_eq!(db.fetch(b"empty").unwrap(), Some(Vec::new()));
    assert_eq!(db.fetch(b"\xff\x00z").unwrap(), Some(b"bin\x01".to_vec()));
    db.consistent().unwrap();
    drop(db);
    assert_eq!(std::fs::read(&p).unwrap(), before);
}

#[test]
fn reads_a_debian_checkpoint() {
    let s = Scratch::new("inorder");
    let p = copy_in(&s, &testdata("debian-inorder.db"), "inorder.db");
    let mut db = Skiplist::open(&p, OpenFlags::default()).unwrap();
    assert_eq!(
        show(&mut db),
        std::fs::read(testdata("debian-log.show")).unwrap()
    );
    assert_eq!(
        dump_text(&mut db),
        std::fs::read_to_string(testdata("debian-inorder.dump")).unwrap()
    );
    db.consistent().unwrap();
}

#[test]
fn recovers_a_file_debian_crashed_in() {
    let s = Scratch::new("damaged");
    let p = copy_in(&s, &testdata("debian-damaged.db"), "damaged.db");
    let mut db = Skiplist::open(&p, OpenFlags::default()).unwrap();
    assert_eq!(
        show(&mut db),
        std::fs::read(testdata("debian-damaged.show")).unwrap()
    );
    assert_eq!(
        dump_text(&mut db),
        std::fs::read_to_string(testdata("debian-damaged-recovered.dump")).unwrap()
    );
    assert_eq!(db.fetch(b"INVALID").unwrap(), None);
    db.consistent().unwrap();
    assert!(!s.path("damaged.db.NEW").exists());
}

#[test]
fn keys_sort_as_signed_bytes() {
    // The order Debian's cyr_dbtool shows for these keys.
    let s = Scratch::new("order");
    let mut db = Skiplist::open(&s.path("o.db"), create_flags()).unwrap();
    for k in [
        &b"a\x80"[..],
        b"ab",
        b"a\x01",
        b"a",
        b"a.b",
        b"a-b",
        b"\xff",
        b"z",
    ] {
        db.store(k, b"v").unwrap();
    }
    let keys: Vec<Vec<u8>> = records(&mut db, b"").into_iter().map(|r| r.0).collect();
    let want: Vec<&[u8]> = vec![
        b"\xff", b"a", b"a\x80", b"a\x01", b"a-b", b"a.b", b"ab", b"z",
    ];
    assert_eq!(keys, want);
    let pre: Vec<Vec<u8>> = records(&mut db, b"a").into_iter().map(|r| r.0).collect();
    assert_eq!(pre.len(), 6);
    db.consistent().unwrap();
}

#[test]
fn mboxsort_uses_mailbox_order() {
    let s = Scratch::new("mbox");
    let flags = OpenFlags {
        create: true,
        mboxsort: true,
        ..OpenFlags::default()
    };
    let mut db = Skiplist::open(&s.path("m.db"), flags).unwrap();
    for k in [&b"ab"[..], b"a-b", b"a.b", b"a"] {
        db.store(k, b"").unwrap();
    }
    let keys: Vec<Vec<u8>> = records(&mut db, b"").into_iter().map(|r| r.0).collect();
    let want: Vec<&[u8]> = vec![b"a", b"a.b", b"a-b", b"ab"];
    assert_eq!(keys, want);
    db.consistent().unwrap();
}

#[test]
fn transactions_see_their_writes_and_abort_restores_the_file() {
    let s = Scratch::new("txn");
    let p = s.path("t.db");
    let mut db = Skiplist::open(&p, create_flags()).unwrap();
    for i in 0..50u32 {
        db.store(format!("key{i:03}").as_bytes(), &i.to_be_bytes())
            .unwrap();
    }
    db.delete(b"key007").unwrap();
    let before = std::fs::read(&p).unwrap();
    let contents = records(&mut db, b"");

    db.begin().unwrap();
    assert!(db.in_transaction());
    db.store(b"key010", b"changed").unwrap();
    db.store(b"new", b"").unwrap();
    db.delete(b"key020").unwrap();
    db.store(b"key020", b"back").unwrap();
    db.delete(b"key030").unwrap();
    db.store(b"new", b"twice").unwrap();
    assert_eq!(db.fetch(b"key010").unwrap(), Some(b"changed".to_vec()));
    assert_eq!(db.fetch(b"key030").unwrap(), None);
    assert_eq!(db.fetch(b"new").unwrap(), Some(b"twice".to_vec()));
    assert_eq!(records(&mut db, b"key02").len(), 10);
    db.consistent().unwrap();
    db.abort().unwrap();
    assert!(!db.in_transaction());

    let after = std::fs::read(&p).unwrap();
    assert_eq!(after.len(), before.len());
    // Only curlevel (bytes 32..36) may have been raised by the aborted stores.
    assert_eq!(&after[..32], &before[..32]);
    assert_eq!(&after[36..], &before[36..]);
    assert_eq!(records(&mut db, b""), contents);
    db.consistent().unwrap();

    db.begin().unwrap();
    db.store(b"key010", b"committed").unwrap();
    db.commit().unwrap();
    drop(db);
    let mut db = Skiplist::open(&p, OpenFlags::default()).unwrap();
    assert_eq!(db.fetch(b"key010").unwrap(), Some(b"committed".to_vec()));
    assert!(matches!(db.commit(), Err(Error::Usage(_))));
    assert!(matches!(db.store(b"", b"x"), Err(Error::Usage(_))));
}

#[test]
fn a_crash_mid_transaction_is_recovered_on_open() {
    let s = Scratch::new("crash");
    let p = s.path("c.db");
    let mut db = Skiplist::open(&p, create_flags()).unwrap();
    for i in 0..30u32 {
        db.store(format!("k{i}").as_bytes(), b"committed").unwrap();
    }
    let contents = records(&mut db, b"");
    db.begin().unwrap();
    for i in 0..40u32 {
        db.store(format!("k{i}").as_bytes(), b"uncommitted")
            .unwrap();
    }
    db.delete(b"k3").unwrap();
    // What a crash now would leave on disk.
    let crashed = s.path("crashed.db");
    std::fs::copy(&p, &crashed).unwrap();
    db.abort().unwrap();

    let mut db2 = Skiplist::open(&crashed, OpenFlags::default()).unwrap();
    assert_eq!(records(&mut db2, b""), contents);
    db2.consistent().unwrap();
    let d = dump_text(&mut db2);
    assert!(!d.contains("ADD") && !d.contains("COMMIT"), "{d}");

    // A crash that leaves half a record is recovered too.
    let bytes = std::fs::read(&crashed).unwrap();
    drop(db2);
    let mut torn = bytes.clone();
    torn.extend_from_slice(&format::encode_node(ADD, b"torn", b"value", &[0])[..10]);
    std::fs::write(&crashed, &torn).unwrap();
    let mut db3 = Skiplist::open(&crashed, OpenFlags::default()).unwrap();
    assert_eq!(records(&mut db3, b""), contents);
    assert_eq!(std::fs::read(&crashed).unwrap().len(), bytes.len());
}

#[test]
fn commits_checkpoint_a_long_log_and_repack_rewrites_inorder() {
    let s = Scratch::new("ckpt");
    let p = s.path("k.db");
    let mut db = Skiplist::open(&p, create_flags()).unwrap();
    let mut model = BTreeMap::new();
    for i in 0..600u32 {
        let k = format!("key{}", i % 200).into_bytes();
        let v = vec![b'x'; (i % 37) as usize];
        db.store(&k, &v).unwrap();
        model.insert(k, v);
    }
    // 600 stores of ~60 bytes each pass 2 * logstart + 16834 more than once.
    let d = dump_text(&mut db);
    assert!(d.contains("INORDER"), "no checkpoint happened");
    assert_eq!(show(&mut db), model_show(&model));
    db.consistent().unwrap();

    db.store(b"after", b"repack").unwrap();
    model.insert(b"after".to_vec(), b"repack".to_vec());
    db.repack().unwrap();
    let d = dump_text(&mut db);
    assert!(!d.contains("ADD") && !d.contains("COMMIT"), "{d}");
    assert_eq!(show(&mut db), model_show(&model));
    let header = std::fs::read(&p).unwrap();
    assert_eq!(&header[36..40], &(model.len() as u32).to_be_bytes());
    assert_eq!(
        &header[40..44],
        &(std::fs::metadata(&p).unwrap().len() as u32).to_be_bytes()
    );
    db.consistent().unwrap();

    // nocompact keeps the log.
    drop(db);
    let flags = OpenFlags {
        nocompact: true,
        ..OpenFlags::default()
    };
    let mut db = Skiplist::open(&p, flags).unwrap();
    for i in 0..600u32 {
        db.store(format!("nc{i}").as_bytes(), b"v").unwrap();
    }
    assert!(dump_text(&mut db).contains("ADD"));
}

#[test]
fn two_handles_see_each_others_commits_and_checkpoints() {
    let s = Scratch::new("two");
    let p = s.path("two.db");
    let mut a = Skiplist::open(&p, create_flags()).unwrap();
    let mut b = Skiplist::open(&p, OpenFlags::default()).unwrap();
    a.store(b"x", b"1").unwrap();
    assert_eq!(b.fetch(b"x").unwrap(), Some(b"1".to_vec()));
    b.store(b"y", b"2").unwrap();
    a.repack().unwrap();
    assert_eq!(b.fetch(b"y").unwrap(), Some(b"2".to_vec()));
    b.store(b"z", b"3").unwrap();
    assert_eq!(records(&mut a, b"").len(), 3);
    a.consistent().unwrap();
}

/// Opens `bytes` as a database and exercises every operation; nothing may panic.
fn poke(s: &Scratch, bytes: &[u8]) {
    let p = s.path("poke.db");
    let _ = std::fs::remove_file(&p);
    let _ = std::fs::remove_file(s.path("poke.db.NEW"));
    std::fs::write(&p, bytes).unwrap();
    let Ok(mut db) = Skiplist::open(&p, OpenFlags::default()) else {
        return;
    };
    let _ = db.fetch(b"key5");
    let _ = db.foreach(b"", &mut |_, _| Ok(Walk::Continue));
    let _ = db.foreach(b"key1", &mut |_, _| Ok(Walk::Continue));
    let _ = db.consistent();
    let _ = db.dump(&mut Vec::new(), 1);
    let _ = db.store(b"key5", b"new");
    let _ = db.delete(b"key7");
    if db.begin().is_ok() {
        let _ = db.store(b"zz", b"");
        let _ = db.delete(b"key2");
        let _ = db.abort();
    }
    let _ = db.repack();
}

fn sample_file(s: &Scratch) -> Vec<u8> {
    let p = s.path("sample.db");
    let mut db = Skiplist::open(&p, create_flags()).unwrap();
    db.begin().unwrap();
    for i in 0..12u32 {
        db.store(format!("key{i}").as_bytes(), format!("v{i}").as_bytes())
            .unwrap();
    }
    db.commit().unwrap();
    db.repack().unwrap();
    db.store(b"key3", b"over").unwrap();
    db.delete(b"key4").unwrap();
    db.store(b"key99", b"").unwrap();
    drop(db);
    std::fs::read(&p).unwrap()
}

#[test]
fn damaged_bytes_never_panic() {
    let s = Scratch::new("damage");
    let good = sample_file(&s);
    for len in 0..good.len() {
        poke(&s, &good[..len]);
    }
    for at in 0..good.len() {
        for x in [0xff, 0x01, 0x80] {
            let mut bad = good.clone();
            bad[at] ^= x;
            poke(&s, &bad);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_corruption_never_panics(
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let s = Scratch::new("pcorrupt");
        let mut bytes = sample_file(&s);
        for (i, b) in flips {
            let at = i.index(bytes.len());
            bytes[at] = b;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        poke(&s, &bytes);
    }

    #[test]
    fn agrees_with_a_model(ops in prop::collection::vec(op_strategy(), 1..60)) {
        let s = Scratch::new("model");
        let p = s.path("m.db");
        let mut db = Skiplist::open(&p, create_flags()).unwrap();
        let mut committed: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut pending: Option<BTreeMap<Vec<u8>, Vec<u8>>> = None;
        for op in ops {
            match op {
                Op::Store(k, v) => {
                    db.store(&k, &v).unwrap();
                    pending.as_mut().unwrap_or(&mut committed).insert(k, v);
                }
                Op::Delete(k) => {
                    db.delete(&k).unwrap();
                    pending.as_mut().unwrap_or(&mut committed).remove(&k);
                }
                Op::Fetch(k) => {
                    let m = pending.as_ref().unwrap_or(&committed);
                    prop_assert_eq!(db.fetch(&k).unwrap(), m.get(&k).cloned());
                }
                Op::Begin => {
                    if pending.is_none() {
                        db.begin().unwrap();
                        pending = Some(committed.clone());
                    }
                }
                Op::Commit => {
                    if let Some(m) = pending.take() {
                        db.commit().unwrap();
                        committed = m;
                    }
                }
                Op::Abort => {
                    if pending.take().is_some() {
                        db.abort().unwrap();
                    }
                }
                Op::Reopen => {
                    if pending.is_none() {
                        drop(db);
                        db = Skiplist::open(&p, OpenFlags::default()).unwrap();
                    }
                }
                Op::Repack => {
                    if pending.is_none() {
                        db.repack().unwrap();
                    }
                }
            }
            let m = pending.as_ref().unwrap_or(&committed);
            prop_assert_eq!(show(&mut db), model_show(m));
        }
        if pending.take().is_some() {
            db.abort().unwrap();
        }
        db.consistent().unwrap();
        drop(db);
        let mut db = Skiplist::open(&p, OpenFlags::default()).unwrap();
        prop_assert_eq!(show(&mut db), model_show(&committed));
        db.consistent().unwrap();
    }
}

#[derive(Clone, Debug)]
enum Op {
    Store(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    Fetch(Vec<u8>),
    Begin,
    Commit,
    Abort,
    Reopen,
    Repack,
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let key = prop::collection::vec(
        prop::sample::select(vec![0u8, 1, b'\t', b'a', b'b', b'.', 0x7f, 0x80, 0xff]),
        1..4,
    );
    let value = prop::collection::vec(any::<u8>(), 0..12);
    prop_oneof![
        6 => (key.clone(), value).prop_map(|(k, v)| Op::Store(k, v)),
        3 => key.clone().prop_map(Op::Delete),
        2 => key.prop_map(Op::Fetch),
        2 => Just(Op::Begin),
        1 => Just(Op::Commit),
        1 => Just(Op::Abort),
        1 => Just(Op::Reopen),
        1 => Just(Op::Repack),
    ]
}

/// Debian's `cyr_dbtool`, with two scratch configurations: one with a `db/skipstamp` older
/// than any file (so opening never runs recovery: the tool reads our bytes as they are), and
/// one without (so every open recovers and checkpoints, as a fresh Cyrus install does).
struct Debian {
    dir: Scratch,
}

const CYR_DBTOOL: &str = "/usr/lib/cyrus/bin/cyr_dbtool";

impl Debian {
    fn new(tag: &str) -> Option<Debian> {
        if !Path::new(CYR_DBTOOL).exists() {
            println!("skipped: {CYR_DBTOOL} is not installed");
            return None;
        }
        let dir = Scratch::new(tag);
        for (conf, stamp) in [("stamp", true), ("plain", false)] {
            let c = dir.path(conf);
            std::fs::create_dir_all(c.join("db")).unwrap();
            for d in [c.clone(), c.join("db")] {
                std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
            }
            std::fs::write(
                c.join("imapd.conf"),
                format!("configdirectory: {}\n", c.display()),
            )
            .unwrap();
            if stamp {
                std::fs::write(c.join("db/skipstamp"), [0, 0, 0, 1]).unwrap();
            }
        }
        Some(Debian { dir })
    }

    /// Runs `cyr_dbtool -C <conf> <flags> <file> skiplist <args>` and returns its stdout.
    fn run(&self, conf: &str, flags: &[&str], file: &Path, args: &[&str], input: &[u8]) -> Vec<u8> {
        // The tool opens read-write as `cyrus`.
        let _ = std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o666));
        let mut cmd = Command::new(CYR_DBTOOL);
        cmd.arg("-C")
            .arg(self.dir.path(conf).join("imapd.conf"))
            .args(flags)
            .arg(file)
            .arg("skiplist")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let input = input.to_vec();
        let feeder = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let out = child.wait_with_output().unwrap();
        feeder.join().unwrap();
        assert!(
            (out.status.success() && out.stderr.is_empty()) || args == ["damage"],
            "cyr_dbtool {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }
}

/// Keys and values the way `cyr_dbtool set` reads them from stdin: `key TAB value LF`.
fn set_lines(recs: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut v = Vec::new();
    for (k, d) in recs {
        v.extend_from_slice(k);
        v.push(b'\t');
        v.extend_from_slice(d);
        v.push(b'\n');
    }
    v
}

#[test]
fn debian_reads_what_we_write() {
    let Some(deb) = Debian::new("interop-ours") else {
        return;
    };
    let p = deb.dir.path("ours.db");
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut db = Skiplist::open(&p, create_flags()).unwrap();
    let mut model = BTreeMap::new();
    let mut keys = Vec::new();
    // Thousands of keys of any bytes, in big transactions.
    for _ in 0..3 {
        db.begin().unwrap();
        for _ in 0..1000 {
            let k = rng.bytes(1, 24, &|_| true);
            let v = rng.bytes(0, 60, &|_| true);
            db.store(&k, &v).unwrap();
            model.insert(k.clone(), v);
            keys.push(k);
        }
        db.commit().unwrap();
    }
    // Overwrites, deletes and empty values one by one, then an aborted transaction.
    for i in 0..300 {
        let k = keys[rng.below(keys.len() as u64) as usize].clone();
        if i % 3 == 0 {
            db.delete(&k).unwrap();
            model.remove(&k);
        } else {
            let v = if i % 5 == 0 {
                Vec::new()
            } else {
                rng.bytes(0, 30, &|_| true)
            };
            db.store(&k, &v).unwrap();
            model.insert(k, v);
        }
    }
    db.begin().unwrap();
    for _ in 0..100 {
        let k = keys[rng.below(keys.len() as u64) as usize].clone();
        db.store(&k, b"aborted").unwrap();
        db.delete(&keys[rng.below(keys.len() as u64) as usize])
            .unwrap();
        db.store(&rng.bytes(1, 8, &|_| true), b"aborted").unwrap();
    }
    db.abort().unwrap();
    db.repack().unwrap();
    // A log on top of the checkpoint.
    for _ in 0..100 {
        let k = keys[rng.below(keys.len() as u64) as usize].clone();
        db.delete(&k).unwrap();
        model.remove(&k);
        let k = rng.bytes(1, 5, &|_| true);
        db.store(&k, b"late").unwrap();
        model.insert(k, b"late".to_vec());
    }
    let ours = show(&mut db);
    assert_eq!(ours, model_show(&model));
    let our_dump = dump_text(&mut db).into_bytes();
    drop(db);

    // As it is on disk (no recovery): Debian walks our pointers.
    assert_eq!(deb.run("stamp", &[], &p, &["show"], b""), ours);
    assert_eq!(
        deb.run("stamp", &[], &p, &["consistent"], b""),
        b"Yes, consistent\n"
    );
    assert_eq!(deb.run("stamp", &[], &p, &["dump"], b""), our_dump);

    // Both checkpoints of the same file are the same bytes, but for the time stamp.
    let copy = deb.dir.path("copy.db");
    std::fs::copy(&p, &copy).unwrap();
    let mut db = Skiplist::open(&copy, OpenFlags::default()).unwrap();
    db.repack().unwrap();
    drop(db);
    let our_ckpt = std::fs::read(&copy).unwrap();

    // After Debian's own recovery and checkpoint, we read its file the same.
    assert_eq!(deb.run("plain", &[], &p, &["show"], b""), ours);
    let their_ckpt = std::fs::read(&p).unwrap();
    assert_eq!(our_ckpt.len(), their_ckpt.len());
    assert_eq!(&our_ckpt[..44], &their_ckpt[..44]);
    assert_eq!(&our_ckpt[48..], &their_ckpt[48..]);
    let deb_dump = deb.run("stamp", &[], &p, &["dump"], b"");
    let mut db = Skiplist::open(&p, OpenFlags::default()).unwrap();
    assert_eq!(show(&mut db), ours);
    assert_eq!(dump_text(&mut db).into_bytes(), deb_dump);
    db.consistent().unwrap();

    // Writers take turns on one file: Debian appends to ours, we append to that.
    let key_ok = |b: u8| b != b'\t' && b != b'\n';
    let mut theirs = Vec::new();
    for _ in 0..200 {
        let k = rng.bytes(1, 12, &key_ok);
        let v = rng.bytes(0, 12, &|b| b != b'\n');
        model.insert(k.clone(), v.clone());
        theirs.push((k, v));
    }
    deb.run("stamp", &[], &p, &["set"], &set_lines(&theirs));
    let mut gone = Vec::new();
    for (k, _) in theirs.iter().step_by(5) {
        model.remove(k);
        gone.extend_from_slice(k);
        gone.push(b'\n');
    }
    deb.run("stamp", &[], &p, &["delete"], &gone);
    assert_eq!(show(&mut db), model_show(&model));
    db.consistent().unwrap();
    for (k, _) in theirs.iter().skip(1).step_by(5) {
        db.store(k, b"ours again").unwrap();
        model.insert(k.clone(), b"ours again".to_vec());
    }
    let ours = show(&mut db);
    assert_eq!(ours, model_show(&model));
    assert_eq!(deb.run("stamp", &[], &p, &["show"], b""), ours);
    assert_eq!(
        deb.run("stamp", &[], &p, &["consistent"], b""),
        b"Yes, consistent\n"
    );
    assert_eq!(
        deb.run("stamp", &[], &p, &["dump"], b""),
        dump_text(&mut db).into_bytes()
    );

    // A crash of ours, recovered by Debian.
    db.begin().unwrap();
    db.store(b"uncommitted", b"x").unwrap();
    let crashed = deb.dir.path("crashed.db");
    std::fs::copy(&p, &crashed).unwrap();
    db.abort().unwrap();
    assert_eq!(deb.run("plain", &[], &crashed, &["show"], b""), ours);
    assert_eq!(
        deb.run("stamp", &[], &crashed, &["consistent"], b""),
        b"Yes, consistent\n"
    );
}

#[test]
fn concurrent_writers_with_debian_lose_nothing() {
    let Some(deb) = Debian::new("interop-concurrent") else {
        return;
    };
    let p = deb.dir.path("shared.db");
    let mut db = Skiplist::open(&p, create_flags()).unwrap();
    db.store(b"seed", b"").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o666)).unwrap();
    let theirs: Vec<(Vec<u8>, Vec<u8>)> = (0..1000)
        .map(|i| (format!("deb{i:04}").into_bytes(), vec![b'd'; i % 50]))
        .collect();
    let input = set_lines(&theirs);
    // Each line is its own transaction; commits checkpoint (rename) now and then.
    let handle = {
        let conf = deb.dir.path("stamp").join("imapd.conf");
        let p = p.clone();
        std::thread::spawn(move || {
            let mut child = Command::new(CYR_DBTOOL)
                .arg("-C")
                .arg(conf)
                .arg(&p)
                .args(["skiplist", "set"])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(&input).unwrap();
            // cyr_dbtool exits 0 even when a store fails; it says so on stderr.
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success() && out.stderr.is_empty(), "{out:?}");
        })
    };
    let mut model = BTreeMap::new();
    model.insert(b"seed".to_vec(), Vec::new());
    for i in 0..1000usize {
        let k = format!("our{i:04}").into_bytes();
        let v = vec![b'o'; i % 50];
        db.store(&k, &v).unwrap();
        model.insert(k, v);
        if i % 250 == 249 {
            db.repack().unwrap();
        }
    }
    handle.join().unwrap();
    for (k, v) in theirs {
        model.insert(k, v);
    }
    let got: BTreeMap<Vec<u8>, Vec<u8>> = records(&mut db, b"").into_iter().collect();
    let missing: Vec<String> = model
        .keys()
        .filter(|k| !got.contains_key(*k))
        .map(|k| String::from_utf8_lossy(k).into_owned())
        .collect();
    let extra: Vec<String> = got
        .keys()
        .filter(|k| !model.contains_key(*k))
        .map(|k| String::from_utf8_lossy(k).into_owned())
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {} (first {:?}), extra {extra:?}",
        missing.len(),
        missing.first()
    );
    assert!(show(&mut db) == model_show(&model), "values differ");
    db.consistent().unwrap();
    assert!(deb.run("stamp", &[], &p, &["show"], b"") == model_show(&model));
}

#[test]
fn a_new_file_is_the_one_debian_creates() {
    let Some(deb) = Debian::new("interop-new") else {
        return;
    };
    let theirs = deb.dir.path("theirs.db");
    deb.run("stamp", &["-n"], &theirs, &["show"], b"");
    let ours = deb.dir.path("ours.db");
    drop(Skiplist::open(&ours, create_flags()).unwrap());
    let (a, b) = (
        std::fs::read(&ours).unwrap(),
        std::fs::read(&theirs).unwrap(),
    );
    assert_eq!(a.len(), b.len());
    assert_eq!(&a[..44], &b[..44]);
    assert_eq!(&a[48..], &b[48..]);
}

#[test]
fn we_read_what_debian_writes() {
    let Some(deb) = Debian::new("interop-debian") else {
        return;
    };
    let p = deb.dir.path("debian.db");
    let mut rng = Rng(0xfeed_5678_0000_0042);
    // `set` reads `key TAB value LF`: keys without TAB/LF, values without LF.
    let key_ok = |b: u8| b != b'\t' && b != b'\n';
    let val_ok = |b: u8| b != b'\n';
    let mut recs: Vec<(Vec<u8>, Vec<u8>)> = (0..2000)
        .map(|_| (rng.bytes(1, 20, &key_ok), rng.bytes(0, 40, &val_ok)))
        .collect();
    deb.run("stamp", &["-n", "-T"], &p, &["set"], &set_lines(&recs));
    // One transaction per line from here on: a long log, with commit-time checkpoints.
    for r in recs.iter_mut().take(300) {
        r.1 = rng.bytes(0, 10, &val_ok);
    }
    deb.run("stamp", &[], &p, &["set"], &set_lines(&recs[..300]));
    let mut gone = Vec::new();
    for (k, _) in recs.iter().skip(300).step_by(7) {
        gone.extend_from_slice(k);
        gone.push(b'\n');
    }
    deb.run("stamp", &[], &p, &["delete"], &gone);
    let expected = deb.run("stamp", &[], &p, &["show"], b"");
    let deb_dump = deb.run("stamp", &[], &p, &["dump"], b"");

    let before = std::fs::read(&p).unwrap();
    let mut db = Skiplist::open(&p, OpenFlags::default()).unwrap();
    assert_eq!(show(&mut db), expected);
    assert_eq!(dump_text(&mut db).into_bytes(), deb_dump);
    db.consistent().unwrap();
    drop(db);
    assert_eq!(
        std::fs::read(&p).unwrap(),
        before,
        "a clean file was rewritten"
    );

    // Debian crashes mid-transaction (its `damage` action); we recover.
    deb.run("stamp", &[], &p, &["damage"], b"");
    let damaged = String::from_utf8(deb.run("stamp", &[], &p, &["dump"], b"")).unwrap();
    let tail: Vec<&str> = damaged.lines().rev().take(2).collect();
    assert!(
        tail[1].ends_with("ADD kl=7 dl=7 lvl=1") || tail[1].contains("ADD kl=7 dl=7"),
        "{tail:?}"
    );
    // Without recovery, Cyrus itself would walk into the uncommitted record.
    let unrecovered = deb.run("stamp", &[], &p, &["show"], b"");
    assert!(unrecovered.windows(15).any(|w| w == b"INVALID\tCRASHME"));
    let mut db = Skiplist::open(&p, OpenFlags::default()).unwrap();
    assert_eq!(show(&mut db), expected);
    assert_eq!(db.fetch(b"INVALID").unwrap(), None);
    drop(db);
    assert_eq!(deb.run("stamp", &[], &p, &["show"], b""), expected);
    assert_eq!(
        deb.run("stamp", &[], &p, &["consistent"], b""),
        b"Yes, consistent\n"
    );
}

#[test]
fn mailbox_order_matches_debian() {
    let Some(deb) = Debian::new("interop-mbox") else {
        return;
    };
    let keys: Vec<&[u8]> = vec![
        b"user.a",
        b"user.a.b",
        b"user.a-b",
        b"user.ab",
        b"user\x01",
        b"user\x00x",
        b"user",
        b"usEr",
        b"user.\xc3\xa9",
        b"user.a.b.c",
    ];
    let recs: Vec<(Vec<u8>, Vec<u8>)> = keys.iter().map(|k| (k.to_vec(), b"v".to_vec())).collect();
    let flags = OpenFlags {
        create: true,
        mboxsort: true,
        ..OpenFlags::default()
    };

    let theirs = deb.dir.path("theirs.db");
    deb.run("stamp", &["-M", "-n"], &theirs, &["set"], &set_lines(&recs));
    let expected = deb.run("stamp", &["-M"], &theirs, &["show"], b"");
    let mut db = Skiplist::open(&theirs, flags).unwrap();
    assert_eq!(show(&mut db), expected);
    db.consistent().unwrap();

    let ours = deb.dir.path("ours.db");
    let mut db = Skiplist::open(&ours, flags).unwrap();
    for (k, v) in &recs {
        db.store(k, v).unwrap();
    }
    assert_eq!(show(&mut db), expected);
    drop(db);
    assert_eq!(deb.run("stamp", &["-M"], &ours, &["show"], b""), expected);
    assert_eq!(
        deb.run("stamp", &["-M"], &ours, &["consistent"], b""),
        b"Yes, consistent\n"
    );
}
