//! twoskip under real processes: a writer killed with SIGKILL at every write point of its
//! transactions, and two writers sharing one file under fcntl locks.
//!
//! The children are this test binary run again with `CYRUS_TEST_CHILD` set: the `child` test
//! does the work when that variable names a role and is a no-op otherwise.

use cyrus::db::twoskip::Twoskip;
use cyrus::db::{failpoint, Database, OpenFlags, Walk};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const TXNS: u32 = 12;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cyrus-ts-proc-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn open(path: &Path) -> Twoskip {
    Twoskip::open(
        path,
        OpenFlags {
            create: true,
            ..OpenFlags::default()
        },
    )
    .unwrap()
}

/// Transaction `i` of the crash workload: overwrites, inserts and deletes, with a repack
/// in the middle of the run.
fn apply(db: &mut dyn Database, i: u32) {
    db.begin().unwrap();
    for j in 0..40u32 {
        let k = format!("key{:04}", (i * 37 + j * 11) % 300);
        if j % 7 == 3 {
            db.delete(k.as_bytes()).unwrap();
        } else {
            db.store(k.as_bytes(), format!("t{i}j{j}").as_bytes())
                .unwrap();
        }
    }
    db.store(b"last", i.to_string().as_bytes()).unwrap();
    db.commit().unwrap();
}

fn model(upto: u32) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let dir = scratch(&format!("model{upto}"));
    let p = dir.join("m.db");
    let mut db = open(&p);
    for i in 0..upto {
        apply(&mut db, i);
    }
    let m = contents(&mut db);
    let _ = std::fs::remove_dir_all(dir);
    m
}

fn contents(db: &mut dyn Database) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut m = BTreeMap::new();
    db.foreach(b"", &mut |k, v| {
        m.insert(k.to_vec(), v.to_vec());
        Ok(Walk::Continue)
    })
    .unwrap();
    m
}

#[test]
fn child() {
    let Ok(role) = std::env::var("CYRUS_TEST_CHILD") else {
        return;
    };
    let path = PathBuf::from(std::env::var("CYRUS_TEST_DB").unwrap());
    let mut out = std::io::stdout();
    match role.as_str() {
        "crash" => {
            let mut db = open(&path);
            let at: u64 = std::env::var("CYRUS_TEST_CRASH_AT")
                .unwrap()
                .parse()
                .unwrap();
            failpoint::arm(at);
            for i in 0..TXNS {
                apply(&mut db, i);
                writeln!(out, "acked {}", i + 1).unwrap();
                out.flush().unwrap();
                if i == TXNS / 2 {
                    db.repack().unwrap();
                }
            }
            failpoint::arm(0);
            writeln!(out, "done").unwrap();
        }
        "counter" => {
            let who = std::env::var("CYRUS_TEST_WHO").unwrap();
            let mut db = open(&path);
            for i in 0..150u32 {
                db.begin().unwrap();
                let n: u64 = db
                    .fetch(b"counter")
                    .unwrap()
                    .map(|v| String::from_utf8(v).unwrap().parse().unwrap())
                    .unwrap_or(0);
                db.store(b"counter", (n + 1).to_string().as_bytes())
                    .unwrap();
                db.store(format!("{who}{i:04}").as_bytes(), b"x").unwrap();
                db.commit().unwrap();
                // plain, lock-per-operation writes too
                db.store(format!("{who}-auto{i:04}").as_bytes(), b"y")
                    .unwrap();
            }
        }
        other => panic!("unknown child role {other}"),
    }
}

fn spawn(role: &str, db: &Path, extra: &[(&str, String)]) -> std::process::Child {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args(["--exact", "child", "--nocapture", "--test-threads=1", "-q"])
        .env("CYRUS_TEST_CHILD", role)
        .env("CYRUS_TEST_DB", db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in extra {
        c.env(k, v);
    }
    c.spawn().unwrap()
}

#[test]
fn sigkill_at_every_write_point_keeps_exactly_the_committed_transactions() {
    let dir = scratch("crash");
    let models: Vec<_> = (0..=TXNS).map(model).collect();
    let mut points = 0;
    let mut at = 1u64;
    loop {
        let p = dir.join(format!("c{at}.db"));
        let child = spawn("crash", &p, &[("CYRUS_TEST_CRASH_AT", at.to_string())]);
        let out = child.wait_with_output().unwrap();
        let mut acked = 0u32;
        let mut done = false;
        for line in BufReader::new(&out.stdout[..]).lines() {
            let line = line.unwrap();
            if let Some(n) = line.strip_prefix("acked ") {
                acked = n.parse().unwrap();
            }
            if line.contains("done") {
                done = true;
            }
        }
        if done {
            break;
        }
        points += 1;
        // Every few points, Debian's Cyrus must recover the crashed file to the same state.
        let debian_view = at
            .is_multiple_of(5)
            .then(|| debian_show(&dir, &p))
            .flatten();
        let mut db = Twoskip::open(&p, OpenFlags::default())
            .unwrap_or_else(|e| panic!("crash point {at}: reopen failed: {e}"));
        let got = contents(&mut db);
        db.consistent()
            .unwrap_or_else(|e| panic!("crash point {at}: {e}"));
        // A crash after the header write but before commit() returned is committed too.
        let next = (acked + 1).min(TXNS) as usize;
        assert!(
            got == models[acked as usize] || got == models[next],
            "crash point {at}: state is neither after {acked} nor {next} transactions"
        );
        if let Some(shown) = debian_view {
            assert_eq!(
                shown,
                show_bytes(&got),
                "crash point {at}: Debian's view differs"
            );
        }
        drop(db);
        let _ = std::fs::remove_file(&p);
        at += 1;
    }
    assert!(points >= 200, "only {points} crash points exercised");
    let _ = std::fs::remove_dir_all(dir);
}

const DEBIAN_DBTOOL: &str = "/usr/lib/cyrus/bin/cyr_dbtool";

/// What Debian's `cyr_dbtool show` prints for a copy of `db`, or None without Debian's Cyrus.
fn debian_show(dir: &Path, db: &Path) -> Option<Vec<u8>> {
    if !Path::new(DEBIAN_DBTOOL).exists() {
        return None;
    }
    let copy = dir.join("debian-copy.db");
    std::fs::copy(db, &copy).unwrap();
    let conf = dir.join("imapd.conf");
    std::fs::write(&conf, format!("configdirectory: {}\n", dir.display())).unwrap();
    // Run as root, Debian's tools become the cyrus user: let it in.
    let _ = Command::new("chown")
        .args(["-R", "cyrus"])
        .arg(dir)
        .status();
    let _ = Command::new("chmod").args(["0755"]).arg(dir).status();
    let out = Command::new(DEBIAN_DBTOOL)
        .arg("-C")
        .arg(&conf)
        .arg(&copy)
        .args(["twoskip", "show"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "Debian's cyr_dbtool failed on a crashed file"
    );
    let _ = std::fs::remove_file(&copy);
    Some(out.stdout)
}

fn show_bytes(m: &BTreeMap<Vec<u8>, Vec<u8>>) -> Vec<u8> {
    let mut v = Vec::new();
    for (k, val) in m {
        v.extend_from_slice(k);
        v.push(b'\t');
        v.extend_from_slice(val);
        v.push(b'\n');
    }
    v
}

#[test]
fn two_processes_never_lose_a_committed_write() {
    let dir = scratch("two");
    let p = dir.join("shared.db");
    drop(open(&p));
    let a = spawn("counter", &p, &[("CYRUS_TEST_WHO", "a".into())]);
    let b = spawn("counter", &p, &[("CYRUS_TEST_WHO", "b".into())]);
    assert!(a.wait_with_output().unwrap().status.success());
    assert!(b.wait_with_output().unwrap().status.success());
    let mut db = open(&p);
    assert_eq!(db.fetch(b"counter").unwrap().as_deref(), Some(&b"300"[..]));
    let all = contents(&mut db);
    assert_eq!(all.len(), 1 + 4 * 150);
    db.consistent().unwrap();
    let _ = std::fs::remove_dir_all(dir);
}
