//! What the database fuzz targets share: a per-process scratch directory for the input, and
//! one exercise of every read and write path of a [`Database`] opened on hostile bytes.
//!
//! Errors from the library are expected on such input and ignored. What is checked beyond
//! "no panic, no hang": once a file passes `consistent()`, the library must agree with itself
//! on it (every key `foreach` shows can be fetched with the same value), and a committed write
//! must leave a file that still passes `consistent()` and holds what was written. A file that
//! our own checker accepts but our own writer then breaks is a real bug, not bad input.

use cyrus::db::{Database, Walk};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Keys probed in every database whatever it holds: a typical one from each of the reference
/// files, the smallest and largest bytes, and the empty key, which no backend writes.
const PROBES: &[&[u8]] = &[
    b"",
    b"\0",
    b"user.cassandane",
    b"INBOX",
    b"\xff\xff\xff\xff",
];

/// How many keys of a walk are kept to be fetched again; bounds the work per input.
const SAMPLE: usize = 16;

/// Key and value of the committed write; chosen so that they sort among typical keys.
const NEW_KEY: &[u8] = b"fuzz.committed";
const NEW_VALUE: &[u8] = b"value\0with\tbytes\n\xff";
/// Key of the aborted write, which must leave no trace.
const ABORTED_KEY: &[u8] = b"fuzz.aborted";

/// `<tmp>/cyrus-fuzz-<pid>`, made on first use: one directory per process, reused by every
/// input, so that no input pays for a directory and parallel jobs (`-jobs=N`) never share a
/// file. `TMPDIR` moves it, e.g. to /dev/shm, where the fsyncs of a commit cost nothing.
pub fn scratch_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("cyrus-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("fuzz scratch directory");
        d
    })
}

/// Replaces the file at `path` with `data`. The previous input's commit may have renamed a
/// new file over the path; removing it first gives every input a fresh inode, as a file
/// copied in from elsewhere would have, whatever the previous input left behind.
pub fn put_input(path: &Path, data: &[u8]) {
    let _ = std::fs::remove_file(path);
    std::fs::write(path, data).expect("write fuzz input");
}

/// Runs the read paths on `db`, then, if `write` is set, a committed and an aborted
/// transaction, checking the self-consistency described in the module doc.
pub fn exercise(db: &mut dyn Database, write: bool) {
    for key in PROBES {
        let _ = db.fetch(key);
    }

    // Sample keys from the start of the walk and keep the last one too.
    let mut sample: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut last: Option<(Vec<u8>, Vec<u8>)> = None;
    let walked = db.foreach(b"", &mut |k, v| {
        if sample.len() < SAMPLE {
            sample.push((k.to_vec(), v.to_vec()));
        } else {
            last = Some((k.to_vec(), v.to_vec()));
        }
        Ok(Walk::Continue)
    });
    sample.extend(last);

    // A prefixed walk and one stopped early take other branches of the seek code.
    if let Some((k, _)) = sample.first() {
        let prefix = &k[..k.len().min(3)];
        let _ = db.foreach(prefix, &mut |_, _| Ok(Walk::Continue));
        let _ = db.foreach(b"", &mut |_, _| Ok(Walk::Stop));
    }

    let consistent = db.consistent().is_ok();
    let _ = db.dump(&mut io::sink(), 1);

    if consistent && walked.is_ok() {
        for (k, v) in &sample {
            match db.fetch(k) {
                Ok(Some(got)) => assert_eq!(&got, v, "fetch({k:?}) differs from foreach"),
                Ok(None) => panic!("consistent file: foreach shows {k:?}, fetch does not"),
                // An I/O error is possible even on a good file.
                Err(_) => {}
            }
        }
    }

    if !write {
        return;
    }

    // The committed transaction: one insert (or replace) and one delete of a present key.
    // An empty key can sit in a hostile file, but deleting it is a no-op by the trait's rule
    // that keys are not empty, so it is not the one deleted.
    let gone = sample
        .iter()
        .map(|(k, _)| k.clone())
        .find(|k| !k.is_empty() && k.as_slice() != NEW_KEY);
    let committed = (|| {
        db.begin()?;
        db.store(NEW_KEY, NEW_VALUE)?;
        if let Some(k) = &gone {
            db.delete(k)?;
        }
        let _ = db.fetch(NEW_KEY);
        db.commit()
    })();
    if committed.is_err() && db.in_transaction() {
        let _ = db.abort();
    }
    let check_after = consistent && committed.is_ok();
    if check_after {
        if let Err(e) = db.consistent() {
            panic!("consistent file became inconsistent after our commit: {e}");
        }
        match db.fetch(NEW_KEY) {
            Ok(Some(v)) => assert_eq!(v, NEW_VALUE, "committed value reads back wrong"),
            Ok(None) => panic!("committed key is missing"),
            Err(_) => {}
        }
        if let Some(k) = gone.as_deref() {
            if let Ok(Some(_)) = db.fetch(k) {
                panic!("deleted key {k:?} is still there after commit");
            }
        }
    }

    // The aborted transaction must leave the file as the commit left it.
    let aborted = (|| {
        db.begin()?;
        db.store(ABORTED_KEY, b"x")?;
        if let Some(k) = sample.get(1) {
            db.delete(&k.0)?;
        }
        db.abort()
    })();
    if aborted.is_err() && db.in_transaction() {
        let _ = db.abort();
    }
    if check_after && aborted.is_ok() {
        if let Err(e) = db.consistent() {
            panic!("consistent file became inconsistent after an abort: {e}");
        }
        if let Ok(Some(_)) = db.fetch(ABORTED_KEY) {
            panic!("aborted key is visible after abort");
        }
        match db.fetch(NEW_KEY) {
            Ok(Some(v)) => assert_eq!(v, NEW_VALUE, "abort changed a committed value"),
            Ok(None) => panic!("abort lost a committed key"),
            Err(_) => {}
        }
    }
    let _ = db.foreach(b"", &mut |_, _| Ok(Walk::Continue));
}
