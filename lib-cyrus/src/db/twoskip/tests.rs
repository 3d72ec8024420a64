//! Unit tests of the twoskip engine: model agreement, recovery, repack and damaged files.

use super::*;
use std::collections::BTreeMap;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cyrus-twoskip-{}-{}", std::process::id(), name));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("t.db")
}

fn create(path: &Path) -> Twoskip {
    Twoskip::open(
        path,
        OpenFlags {
            create: true,
            ..OpenFlags::default()
        },
    )
    .unwrap()
}

fn all(db: &mut Twoskip) -> Vec<(Vec<u8>, Vec<u8>)> {
    crate::db::testkit::records(db, b"")
}

#[test]
fn new_file_is_336_bytes() {
    let p = scratch("new");
    let mut db = create(&p);
    assert_eq!(std::fs::metadata(&p).unwrap().len(), 336);
    db.consistent().unwrap();
    assert_eq!(db.fetch(b"x").unwrap(), None);
}

#[test]
fn missing_file_without_create_is_not_found() {
    let p = scratch("missing");
    assert!(matches!(
        Twoskip::open(&p, OpenFlags::default()),
        Err(Error::NotFound)
    ));
}

#[test]
fn store_fetch_delete_and_reopen() {
    let p = scratch("basic");
    let mut db = create(&p);
    db.store(b"key", b"value").unwrap();
    db.store(b"abc", b"1").unwrap();
    db.store(b"key", b"value2").unwrap();
    db.delete(b"abc").unwrap();
    db.delete(b"never").unwrap();
    assert_eq!(db.fetch(b"key").unwrap().as_deref(), Some(&b"value2"[..]));
    assert_eq!(db.fetch(b"abc").unwrap(), None);
    db.consistent().unwrap();
    drop(db);
    let mut db = Twoskip::open(&p, OpenFlags::default()).unwrap();
    assert_eq!(all(&mut db), vec![(b"key".to_vec(), b"value2".to_vec())]);
    assert_eq!(db.header().num_records, 1);
}

#[test]
fn abort_leaves_the_committed_state() {
    let p = scratch("abort");
    let mut db = create(&p);
    for i in 0..50u32 {
        db.store(format!("k{i:03}").as_bytes(), b"v").unwrap();
    }
    let size = std::fs::metadata(&p).unwrap().len();
    db.begin().unwrap();
    for i in 0..50u32 {
        db.store(format!("k{i:03}").as_bytes(), b"changed").unwrap();
        db.store(format!("n{i:03}").as_bytes(), b"new").unwrap();
        db.delete(format!("k{:03}", i / 2).as_bytes()).unwrap();
    }
    assert_eq!(db.fetch(b"n000").unwrap().as_deref(), Some(&b"new"[..]));
    db.abort().unwrap();
    assert_eq!(std::fs::metadata(&p).unwrap().len(), size);
    db.consistent().unwrap();
    let v = all(&mut db);
    assert_eq!(v.len(), 50);
    assert!(v.iter().all(|(_, val)| val == b"v"));
}

/// Whether this process holds a POSIX write lock on `path`, as /proc/locks reports it
/// (fcntl locks belong to the process, so a second handle here could not tell).
fn holds_write_lock(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let ino = std::fs::metadata(path).unwrap().ino();
    let me = std::process::id().to_string();
    std::fs::read_to_string("/proc/locks")
        .unwrap()
        .lines()
        .any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // "1: POSIX  ADVISORY  WRITE 1234 08:01:5678 0 EOF"
            f.len() >= 6
                && f[1] == "POSIX"
                && f[3] == "WRITE"
                && f[4] == me
                && f[5].rsplit(':').next() == Some(&ino.to_string())
        })
}

#[test]
fn fetchlock_holds_the_write_lock_until_commit() {
    let p = scratch("fetchlock");
    let mut db = create(&p);
    db.store(b"n", b"1").unwrap();
    assert_eq!(db.fetchlock(b"n").unwrap().as_deref(), Some(&b"1"[..]));
    assert!(db.in_transaction());
    assert!(holds_write_lock(&p), "fetchlock must hold the write lock");
    db.store(b"n", b"2").unwrap();
    db.commit().unwrap();
    assert!(!db.in_transaction());
    assert!(!holds_write_lock(&p), "commit must release it");
    assert_eq!(db.fetch(b"n").unwrap().as_deref(), Some(&b"2"[..]));
}

#[test]
fn prefix_foreach_and_stop() {
    let p = scratch("prefix");
    let mut db = create(&p);
    db.begin().unwrap();
    for k in ["a", "ab", "abc", "abd", "b", "ba"] {
        db.store(k.as_bytes(), k.as_bytes()).unwrap();
    }
    db.commit().unwrap();
    let mut seen = Vec::new();
    db.foreach(b"ab", &mut |k, _| {
        seen.push(k.to_vec());
        Ok(Walk::Continue)
    })
    .unwrap();
    assert_eq!(seen, vec![b"ab".to_vec(), b"abc".to_vec(), b"abd".to_vec()]);
    let mut n = 0;
    db.foreach(b"", &mut |_, _| {
        n += 1;
        Ok(if n == 2 { Walk::Stop } else { Walk::Continue })
    })
    .unwrap();
    assert_eq!(n, 2);
}

#[test]
fn repack_keeps_the_records_and_bumps_the_generation() {
    let p = scratch("repack");
    let mut db = create(&p);
    for i in 0..300u32 {
        db.store(format!("key{i}").as_bytes(), &vec![b'x'; (i % 17) as usize])
            .unwrap();
    }
    for i in (0..300u32).step_by(3) {
        db.delete(format!("key{i}").as_bytes()).unwrap();
    }
    let before = all(&mut db);
    let generation = db.header().generation;
    db.repack().unwrap();
    assert!(db.header().generation > generation);
    db.consistent().unwrap();
    assert_eq!(all(&mut db), before);
    let h = db.header();
    assert_eq!(h.current_size, std::fs::metadata(&p).unwrap().len());
    // repack_size ends at the last record; the COMMIT (24 bytes) follows, after a BLANK when
    // the alignment rule asks for one.
    let tail = h.current_size - h.repack_size;
    assert!(tail == 24 || tail == 32, "COMMIT tail of {tail} bytes");
    // the repacked file takes further writes
    db.store(b"after", b"repack").unwrap();
    db.consistent().unwrap();
}

#[test]
fn crashed_transaction_is_rolled_back_at_next_open() {
    let p = scratch("crash");
    let mut db = create(&p);
    db.store(b"committed", b"1").unwrap();
    db.begin().unwrap();
    for i in 0..200u32 {
        db.store(format!("lost{i}").as_bytes(), b"x").unwrap();
    }
    db.store(b"committed", b"2").unwrap();
    db.flush_tail().unwrap();
    // Simulate a crash: the process vanishes with its transaction open.
    std::mem::forget(db);
    let mut db = Twoskip::open(&p, OpenFlags::default()).unwrap();
    assert_eq!(all(&mut db), vec![(b"committed".to_vec(), b"1".to_vec())]);
    db.consistent().unwrap();
}

#[test]
fn damaged_files_give_errors_not_panics() {
    let p = scratch("damage");
    let mut db = create(&p);
    for i in 0..100u32 {
        db.store(format!("key{i}").as_bytes(), b"value").unwrap();
    }
    drop(db);
    let good = std::fs::read(&p).unwrap();
    for cut in [0usize, 10, 63, 64, 200, 400, good.len() - 3] {
        std::fs::write(&p, &good[..cut]).unwrap();
        if let Ok(mut db) = Twoskip::open(&p, OpenFlags::default()) {
            let _ = db.fetch(b"key5");
            let _ = db.consistent();
        }
    }
    for i in (0..good.len()).step_by(7) {
        let mut bad = good.clone();
        bad[i] ^= 0x5a;
        std::fs::write(&p, &bad).unwrap();
        if let Ok(mut db) = Twoskip::open(&p, OpenFlags::default()) {
            let _ = db.fetch(b"key50");
            let _ = db.consistent();
            let _ = db.foreach(b"", &mut |_, _| Ok(Walk::Continue));
        }
    }
}

/// Files the fuzzer found that made lookups and walks spin forever on pointer cycles: every
/// operation must now come back, with an error where the file is damaged.
#[test]
fn pointer_cycles_are_errors_not_hangs() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions/twoskip");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 3,
        "regression files missing from {}",
        dir.display()
    );
    for (i, file) in files.into_iter().enumerate() {
        let p = scratch(&format!("cycle{i}"));
        std::fs::copy(&file, &p).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            if let Ok(mut db) = Twoskip::open(&p, OpenFlags::default()) {
                let _ = db.fetch(b"INBOX");
                let _ = db.fetch(b"\0\0\0\0\0\0");
                let _ = db.foreach(b"", &mut |_, _| Ok(Walk::Continue));
                let _ = db.store(b"INBOX", b"x");
                let _ = db.delete(b"\0\0");
            }
            let _ = tx.send(());
        });
        // Generous: a sound lookup takes microseconds; a regression would never answer.
        rx.recv_timeout(std::time::Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("{} still hangs", file.display()));
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
    #[test]
    fn agrees_with_a_model(ops in proptest::collection::vec(
        (0u8..6, proptest::collection::vec(0u8..4, 1..4), proptest::collection::vec(proptest::num::u8::ANY, 0..20)),
        1..120)) {
        let p = scratch("model");
        let mut db = create(&p);
        let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut pending: Option<BTreeMap<Vec<u8>, Vec<u8>>> = None;
        for (op, key, val) in ops {
            match op {
                0 | 1 => {
                    db.store(&key, &val).unwrap();
                    pending.as_mut().unwrap_or(&mut model).insert(key.clone(), val);
                }
                2 => {
                    db.delete(&key).unwrap();
                    pending.as_mut().unwrap_or(&mut model).remove(&key);
                }
                3 if pending.is_none() => {
                    db.begin().unwrap();
                    pending = Some(model.clone());
                }
                4 if pending.is_some() => {
                    db.commit().unwrap();
                    model = pending.take().unwrap();
                }
                5 if pending.is_some() => {
                    db.abort().unwrap();
                    pending = None;
                }
                _ => {}
            }
            let want = pending.as_ref().unwrap_or(&model);
            proptest::prop_assert_eq!(db.fetch(&key).unwrap(), want.get(&key).cloned());
        }
        if pending.is_some() {
            db.commit().unwrap();
            model = pending.take().unwrap();
        }
        db.consistent().unwrap();
        drop(db);
        let mut db = Twoskip::open(&p, OpenFlags::default()).unwrap();
        let got = all(&mut db);
        let want: Vec<_> = model.into_iter().collect();
        proptest::prop_assert_eq!(got, want);
        let _ = std::fs::remove_dir_all(p.parent().unwrap());
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..2048)) {
        let p = scratch("fuzz");
        let mut file = format::Header::new().encode().to_vec();
        file.extend_from_slice(&bytes);
        std::fs::write(&p, &file).unwrap();
        if let Ok(mut db) = Twoskip::open(&p, OpenFlags::default()) {
            let _ = db.fetch(b"a");
            let _ = db.consistent();
            let _ = db.foreach(b"", &mut |_, _| Ok(Walk::Continue));
        }
        let _ = std::fs::remove_dir_all(p.parent().unwrap());
    }
}
