//! The `quotalegacy` cyrusdb backend: one small file per quota root, as Cyrus 3.6 keeps them.
//!
//! The database "file" only names a directory, its parent (the configdirectory for
//! `quotas.db`). A key is a quota root in internal form and its record is the file
//! `<dir>/quota/<H>/<root>`, or for a virtual domain `<dir>/domain/<Hd>/<domain>/quota/<H>/<root>`
//! with the domain's own root at `.../<domain>/quota/root`. `H` is Cyrus's directory hash of the
//! root after its first dot (`user.alice` hashes `alice`), `Hd` that of the domain; both follow
//! `fulldirhash`. A key's `!` splits off a domain only with `virtdomains` (`flags.virtdomains`);
//! without it `example.com!user.bob` is a plain root under `quota/`, as in Cyrus.
//!
//! A file holds the value and a final LF. For values not starting with `%` (the pre-DLIST
//! `used limit` format) Cyrus stores the first space as a LF and reads the first LF back as a
//! space; this backend does the same, so files are byte-identical to Cyrus's. What a value
//! means (a DLIST of usages and limits) is the quota layer's business.
//!
//! There is no lock for the whole database: a transaction locks each file it touches with an
//! exclusive `fcntl` lock (creating an empty file for a new key, as Cyrus does, so that there is
//! something to lock) and keeps the set of locked files until commit. At commit every changed
//! file is written as `<file>.NEW`, fsynced and renamed over the file, and deleted ones are
//! unlinked. `foreach` walks the hash directories and yields keys sorted bytewise, or in
//! mailbox order with `mboxsort`.

use super::compare;
use super::lock::{self, LockKind};
use super::{Database, ForeachFn, OpenFlags, Walk};
use crate::dirhash::dir_hash;
use crate::error::{Error, Result};
use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// An open `quotalegacy` database.
pub struct Quotalegacy {
    /// The directory holding `quota/` and `domain/`.
    base: PathBuf,
    flags: OpenFlags,
    /// The files the open transaction has locked, by path.
    txn: Option<BTreeMap<PathBuf, Sub>>,
}

/// One file locked by a transaction (Cyrus's "subtransaction").
struct Sub {
    key: Vec<u8>,
    /// The locked file.
    file: File,
    /// Whether this transaction created `file` empty just to lock it.
    created: bool,
    state: State,
}

/// What a transaction will do to one file at commit.
enum State {
    /// Only read: keep it unchanged.
    Held,
    /// Replace the file's bytes with these.
    Store(Vec<u8>),
    /// Remove the file.
    Delete,
}

impl Quotalegacy {
    /// Opens (or with `flags.create`, creates) the database at `path`, which names a file in
    /// the directory the quota files live under.
    pub fn open(path: &Path, flags: OpenFlags) -> Result<Quotalegacy> {
        let base = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            // Like Cyrus: a name without a directory part is itself the directory.
            _ => path.to_path_buf(),
        };
        match fs::metadata(&base) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(Error::io(
                    &base,
                    io::Error::from_raw_os_error(libc::ENOTDIR),
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound && flags.create => {
                make_dirs(&base).map_err(|e| Error::io(&base, e))?;
            }
            Err(e) => return Err(Error::io(&base, e)),
        }
        Ok(Quotalegacy {
            base,
            flags,
            txn: None,
        })
    }

    /// The file that holds `key`'s record, or a usage error for a key no file can be named by.
    fn key_path(&self, key: &[u8]) -> Result<PathBuf> {
        let bad = || Error::Usage(format!("quotalegacy: invalid quota root {key:?}"));
        if key.contains(&0) {
            return Err(bad());
        }
        let bang = key.iter().position(|&b| b == b'!');
        let (mut path, root) = match bang.filter(|_| self.flags.virtdomains) {
            Some(i) => {
                let (domain, root) = (key.get(..i).unwrap_or_default(), key.get(i + 1..));
                if !valid_component(domain) {
                    return Err(bad());
                }
                let path = self.domain_dir(domain).join("quota");
                match root {
                    Some(r) if !r.is_empty() => (path, r),
                    _ => return Ok(path.join("root")),
                }
            }
            None => (self.base.join("quota"), key),
        };
        if !valid_component(root) {
            return Err(bad());
        }
        path.push(OsStr::from_bytes(&[self.root_hash(root)]));
        path.push(OsStr::from_bytes(root));
        Ok(path)
    }

    /// `<base>/domain/<Hd>/<domain>`.
    fn domain_dir(&self, domain: &[u8]) -> PathBuf {
        let mut p = self.base.join("domain");
        p.push(OsStr::from_bytes(&[dir_hash(
            domain,
            self.flags.fulldirhash,
        )]));
        p.push(OsStr::from_bytes(domain));
        p
    }

    /// The hash directory of a quota root: that of its part after the first dot.
    fn root_hash(&self, root: &[u8]) -> u8 {
        let rest = match root.iter().position(|&b| b == b'.') {
            Some(i) => root.get(i + 1..).unwrap_or_default(),
            None => root,
        };
        dir_hash(rest, self.flags.fulldirhash)
    }

    /// The one hash directory every root starting with `prefix` lives in, when the prefix
    /// already decides it.
    fn prefix_hash(&self, prefix: &[u8]) -> Option<u8> {
        let dot = prefix.iter().position(|&b| b == b'.')?;
        let rest = prefix.get(dot + 1..)?;
        let decided = if self.flags.fulldirhash {
            rest.contains(&b'.')
        } else {
            !rest.is_empty()
        };
        decided.then(|| dir_hash(rest, self.flags.fulldirhash))
    }

    /// The names of the hash directories Cyrus scans.
    fn hash_dirs(&self) -> std::ops::RangeInclusive<u8> {
        if self.flags.fulldirhash {
            b'A'..=b'Z'
        } else {
            b'a'..=b'z'
        }
    }

    /// Every key starting with `prefix` that has a file, with that file, sorted.
    fn scan(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, PathBuf)>> {
        let mut found = Vec::new();
        if !self.flags.virtdomains {
            self.scan_quota_dir(&self.base.join("quota"), None, prefix, &mut found)?;
            found.retain(|(k, _)| k.starts_with(prefix));
            let cmp = self.comparator();
            found.sort_by(|a, b| cmp(&a.0, &b.0));
            return Ok(found);
        }
        match prefix.iter().position(|&b| b == b'!') {
            Some(i) => {
                let domain = prefix.get(..i).unwrap_or_default();
                if valid_component(domain) {
                    let rest = prefix.get(i + 1..).unwrap_or_default();
                    let qdir = self.domain_dir(domain).join("quota");
                    self.scan_quota_dir(&qdir, Some(domain), rest, &mut found)?;
                }
            }
            None => {
                self.scan_quota_dir(&self.base.join("quota"), None, prefix, &mut found)?;
                for c in self.hash_dirs() {
                    let hd = self.base.join("domain").join(OsStr::from_bytes(&[c]));
                    for (name, path) in list_dir(&hd, true)? {
                        if name.starts_with(prefix) {
                            let qdir = path.join("quota");
                            self.scan_quota_dir(&qdir, Some(&name), b"", &mut found)?;
                        }
                    }
                }
            }
        }
        found.retain(|(k, _)| k.starts_with(prefix));
        let cmp = self.comparator();
        found.sort_by(|a, b| cmp(&a.0, &b.0));
        Ok(found)
    }

    /// Adds the records of one `quota/` directory (a domain's when `domain` is given).
    fn scan_quota_dir(
        &self,
        qdir: &Path,
        domain: Option<&[u8]>,
        root_prefix: &[u8],
        found: &mut Vec<(Vec<u8>, PathBuf)>,
    ) -> Result<()> {
        let key_of = |name: &[u8]| match domain {
            Some(d) => [d, b"!", name].concat(),
            None => name.to_vec(),
        };
        if domain.is_some() && root_prefix.is_empty() {
            let root = qdir.join("root");
            if fs::metadata(&root).is_ok_and(|m| m.is_file()) {
                found.push((key_of(b""), root));
            }
        }
        let only = self.prefix_hash(root_prefix);
        for c in self
            .hash_dirs()
            .filter(|&c| only.is_none() || only == Some(c))
        {
            for (name, path) in list_dir(&qdir.join(OsStr::from_bytes(&[c])), false)? {
                found.push((key_of(&name), path));
            }
        }
        Ok(())
    }

    fn comparator(&self) -> compare::Comparator {
        if self.flags.mboxsort {
            compare::mailbox
        } else {
            compare::bytewise
        }
    }

    /// The transaction's entry for `path`, locking the file first if this transaction has not
    /// yet; `None` when there is no such file (and `create` is false).
    fn txn_entry(&mut self, key: &[u8], path: &Path, create: bool) -> Result<Option<&mut Sub>> {
        let txn = self.txn.as_mut().ok_or_else(no_txn)?;
        if !txn.contains_key(path) {
            let Some((file, created)) = open_locked(path, create)? else {
                return Ok(None);
            };
            let sub = Sub {
                key: key.to_vec(),
                file,
                created,
                state: State::Held,
            };
            txn.insert(path.to_path_buf(), sub);
        }
        Ok(txn.get_mut(path))
    }

    /// The value of the record in `path` as this handle sees it now.
    fn read(&mut self, key: &[u8], path: &Path) -> Result<Option<Vec<u8>>> {
        if self.txn.is_none() {
            return read_unlocked(path);
        }
        let Some(sub) = self.txn_entry(key, path, false)? else {
            return Ok(None);
        };
        match &sub.state {
            State::Store(bytes) => from_file(bytes, path).map(Some),
            State::Delete => Ok(None),
            State::Held => {
                let bytes = read_all(&sub.file).map_err(|e| Error::io(path, e))?;
                from_file(&bytes, path).map(Some)
            }
        }
    }

    /// Records a store (`Some`) or delete (`None`) in the open transaction.
    fn put(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        let path = self.key_path(key)?;
        match value {
            Some(v) => {
                let sub = self
                    .txn_entry(key, &path, true)?
                    .ok_or_else(|| Error::io(&path, io::ErrorKind::NotFound.into()))?;
                sub.state = State::Store(to_file(v));
            }
            None => {
                if let Some(sub) = self.txn_entry(key, &path, false)? {
                    sub.state = State::Delete;
                }
            }
        }
        Ok(())
    }

    /// A write outside a transaction is a transaction of its own, as in Cyrus.
    fn write_one(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        if key.is_empty() {
            return Err(Error::Usage("quotalegacy: empty key".into()));
        }
        if self.txn.is_some() {
            return self.put(key, value);
        }
        self.begin()?;
        match self.put(key, value) {
            Ok(()) => self.commit(),
            Err(e) => {
                let _ = self.abort();
                Err(e)
            }
        }
    }
}

impl Drop for Quotalegacy {
    fn drop(&mut self) {
        if self.txn.is_some() {
            let _ = self.abort();
        }
    }
}

impl Database for Quotalegacy {
    fn fetch(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let path = self.key_path(key)?;
        self.read(key, &path)
    }

    fn foreach(&mut self, prefix: &[u8], f: &mut ForeachFn<'_>) -> Result<()> {
        let mut found = self.scan(prefix)?;
        if let Some(txn) = &self.txn {
            // New keys have their (empty, locked) file already; this only guards against a
            // file removed behind our back.
            let listed: BTreeSet<&PathBuf> = found.iter().map(|(_, p)| p).collect();
            let missing: Vec<_> = txn
                .iter()
                .filter(|(p, s)| {
                    matches!(s.state, State::Store(_))
                        && s.key.starts_with(prefix)
                        && !listed.contains(p)
                })
                .map(|(p, s)| (s.key.clone(), p.clone()))
                .collect();
            if !missing.is_empty() {
                found.extend(missing);
                let cmp = self.comparator();
                found.sort_by(|a, b| cmp(&a.0, &b.0));
            }
        }
        for (key, path) in found {
            // A file gone since the directory was read is a record deleted meanwhile.
            let Some(value) = self.read(&key, &path)? else {
                continue;
            };
            if f(&key, &value)? == Walk::Stop {
                break;
            }
        }
        Ok(())
    }

    fn store(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.write_one(key, Some(value))
    }

    fn delete(&mut self, key: &[u8]) -> Result<()> {
        self.write_one(key, None)
    }

    fn begin(&mut self) -> Result<()> {
        if self.txn.is_some() {
            return Err(Error::Usage("quotalegacy: transaction already open".into()));
        }
        self.txn = Some(BTreeMap::new());
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        let txn = self.txn.take().ok_or_else(no_txn)?;
        let mut result = Ok(());
        // Like Cyrus, finish every file even after one failed, and report the first error.
        for (path, sub) in txn {
            let r = commit_sub(&path, sub);
            if result.is_ok() {
                result = r;
            }
        }
        result
    }

    fn abort(&mut self) -> Result<()> {
        let txn = self.txn.take().ok_or_else(no_txn)?;
        let mut result = Ok(());
        for (path, sub) in txn {
            // The file did not exist before this transaction; it goes while still locked.
            if sub.created {
                if let Err(e) = remove_if_present(&path) {
                    result = result.and(Err(Error::io(&path, e)));
                }
            }
            release(&sub);
        }
        result
    }

    fn in_transaction(&self) -> bool {
        self.txn.is_some()
    }

    fn consistent(&mut self) -> Result<()> {
        for (key, path) in self.scan(b"")? {
            let want = self.key_path(&key)?;
            if want != path {
                return Err(Error::corrupt(
                    &path,
                    format!("quota root file belongs at {}", want.display()),
                ));
            }
            if let Some(bytes) = read_bytes(&path)? {
                from_file(&bytes, &path)?;
            }
        }
        Ok(())
    }

    /// Cyrus's quotalegacy backend has no dump: `cyr_dbtool ... quotalegacy dump` prints
    /// nothing.
    fn dump(&mut self, _out: &mut dyn Write, _detail: u32) -> Result<()> {
        Ok(())
    }
}

fn no_txn() -> Error {
    Error::Usage("quotalegacy: no transaction is open".into())
}

/// Whether `name` can be one path component.
fn valid_component(name: &[u8]) -> bool {
    !name.is_empty() && name != b"." && name != b".." && !name.contains(&b'/') && !name.contains(&0)
}

/// The file bytes Cyrus writes for `value`.
fn to_file(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 1);
    out.extend_from_slice(value);
    if value.first() != Some(&b'%') {
        if let Some(b) = out.iter_mut().find(|b| **b == b' ') {
            *b = b'\n';
        }
    }
    out.push(b'\n');
    out
}

/// The value Cyrus reads from a record file's bytes.
fn from_file(bytes: &[u8], path: &Path) -> Result<Vec<u8>> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let Some(body) = bytes.strip_suffix(b"\n") else {
        return Err(Error::corrupt(
            path,
            "quota file does not end with a newline",
        ));
    };
    let mut value = body.to_vec();
    if value.first() != Some(&b'%') {
        if let Some(b) = value.iter_mut().find(|b| **b == b'\n') {
            *b = b' ';
        }
    }
    Ok(value)
}

fn make_dirs(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The entries of `dir` (directories only with `dirs`, otherwise everything else); nothing
/// when `dir` does not exist.
fn list_dir(dir: &Path, dirs: bool) -> Result<Vec<(Vec<u8>, PathBuf)>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e)
            if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR) =>
        {
            return Ok(Vec::new())
        }
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        // Follow symlinks as Cyrus's open() would.
        let is_dir = fs::metadata(&path).is_ok_and(|m| m.is_dir());
        if is_dir == dirs {
            out.push((entry.file_name().as_bytes().to_vec(), path));
        }
    }
    Ok(out)
}

/// Opens `path` for writing (creating it empty with `create`) and locks it, following a
/// rename that replaced it meanwhile. `None` when it does not exist; the flag says whether
/// this call created it.
fn open_locked(path: &Path, create: bool) -> Result<Option<(File, bool)>> {
    let created = Cell::new(false);
    let open = |p: &Path| -> io::Result<File> {
        created.set(false);
        match OpenOptions::new().read(true).write(true).open(p) {
            Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                if let Some(dir) = p.parent() {
                    make_dirs(dir)?;
                }
                let made = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create_new(true)
                    .mode(0o644)
                    .open(p);
                match made {
                    Ok(f) => {
                        created.set(true);
                        Ok(f)
                    }
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        OpenOptions::new().read(true).write(true).open(p)
                    }
                    Err(e) => Err(e),
                }
            }
            other => other,
        }
    };
    let mut file = match open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    };
    match lock::lock_reopen(&mut file, path, LockKind::Exclusive, open) {
        Ok(_) => Ok(Some((file, created.get()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Drops a transaction's lock on its file.
fn release(sub: &Sub) {
    let _ = lock::unlock(&sub.file);
}

/// Carries out one file's part of a commit, then releases it.
fn commit_sub(path: &Path, sub: Sub) -> Result<()> {
    let r = match &sub.state {
        State::Held => Ok(()),
        State::Store(bytes) => replace(path, bytes).inspect_err(|_| {
            if sub.created {
                let _ = fs::remove_file(path);
            }
        }),
        State::Delete => remove_if_present(path)
            .and_then(|()| lock::sync_parent_dir(path))
            .map_err(|e| Error::io(path, e)),
    };
    release(&sub);
    r
}

/// Writes `bytes` to `<path>.NEW` (locked, as Cyrus locks it), syncs it and renames it over
/// `path`.
fn replace(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut name = path.as_os_str().to_owned();
    name.push(".NEW");
    let new_path = PathBuf::from(name);
    let done = (|| -> io::Result<()> {
        remove_if_present(&new_path)?;
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o666)
            .open(&new_path)?;
        lock::lock(&f, LockKind::Exclusive)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&new_path, path)?;
        lock::sync_parent_dir(path)
    })();
    done.map_err(|e| {
        let _ = fs::remove_file(&new_path);
        Error::io(&new_path, e)
    })
}

/// The bytes of `path`, `None` if it does not exist.
fn read_bytes(path: &Path) -> Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// The value in `path` read without a lock, as Cyrus reads outside a transaction (files are
/// only ever replaced whole, by rename).
fn read_unlocked(path: &Path) -> Result<Option<Vec<u8>>> {
    match read_bytes(path)? {
        Some(b) => from_file(&b, path).map(Some),
        None => Ok(None),
    }
}

/// All of `file` from offset 0, whatever its cursor.
fn read_all(file: &File) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match file.read_at(&mut chunk, buf.len() as u64) {
            Ok(0) => return Ok(buf),
            Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests;
