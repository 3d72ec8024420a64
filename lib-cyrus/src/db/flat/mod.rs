//! The `flat` cyrusdb backend: a sorted text file, byte-compatible with Cyrus 3.6's.
//!
//! Each record is one line, `escaped-key TAB escaped-value LF`. Escaping turns the four bytes
//! that would break the line structure (NUL, TAB, CR, LF) into `FF` followed by the byte with
//! its top bit set, and `FF` itself into `FF FF`. Lines are sorted by the mailbox order
//! ([`compare::mailbox`]) of their *escaped* keys, which is what Cyrus's binary search over the
//! mapped file compares, so lookups here binary-search the file's bytes the same way.
//!
//! The file is never changed in place: a write produces `<file>.NEW`, fsyncs it and renames it
//! over the file, so a reader only has to notice that the inode changed to see a new version
//! and never needs a lock. Writers hold an exclusive `fcntl` lock on the live file for the
//! whole transaction, re-checked against the path after it is granted because a rename may
//! have replaced the file meanwhile. Inside a transaction the changes are made to an in-memory
//! copy, which reads see; the one `.NEW` file is written at commit.

use super::compare;
use super::lock::{self, LockKind};
use super::{Database, ForeachFn, OpenFlags, Walk};
use crate::error::{Error, Result};
use std::cmp::Ordering;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The escape byte: an invalid UTF-8 byte, so escapes are rare in textual keys and values.
const ESCAPE: u8 = 0xff;

/// An open `flat` database.
pub struct Flat {
    path: PathBuf,
    /// The live file as last opened; during a transaction it carries our exclusive lock.
    file: File,
    /// Device and inode of `file`, to notice when a writer has renamed a new version in.
    id: (u64, u64),
    /// The bytes of `file`, or during a transaction the working copy with its changes.
    content: Vec<u8>,
    /// Whether a transaction is open (and `file` is locked).
    txn: bool,
    /// Whether the open transaction changed `content`.
    dirty: bool,
}

impl Flat {
    /// Opens (or with `flags.create`, creates) the database at `path`.
    pub fn open(path: &Path, flags: OpenFlags) -> Result<Flat> {
        let file = match open_rw(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if !flags.create {
                    return Err(Error::NotFound);
                }
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    fs::DirBuilder::new()
                        .recursive(true)
                        .mode(0o755)
                        .create(dir)
                        .map_err(|e| Error::io(dir, e))?;
                }
                OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .mode(0o644)
                    .open(path)
                    .map_err(|e| Error::io(path, e))?
            }
            Err(e) => return Err(Error::io(path, e)),
        };
        let meta = file.metadata().map_err(|e| Error::io(path, e))?;
        let content = read_all(&file).map_err(|e| Error::io(path, e))?;
        Ok(Flat {
            path: path.to_path_buf(),
            file,
            id: (meta.dev(), meta.ino()),
            content,
            txn: false,
            dirty: false,
        })
    }

    /// Outside a transaction, makes `content` the file's current version: reopens when a
    /// writer has renamed a new file in, as Cyrus's readers do (they take no lock).
    fn refresh(&mut self) -> Result<()> {
        if self.txn {
            return Ok(());
        }
        let now = fs::metadata(&self.path).map_err(|e| Error::io(&self.path, e))?;
        if (now.dev(), now.ino()) != self.id {
            let file = open_rw(&self.path).map_err(|e| Error::io(&self.path, e))?;
            let meta = file.metadata().map_err(|e| Error::io(&self.path, e))?;
            self.content = read_all(&file).map_err(|e| Error::io(&self.path, e))?;
            self.id = (meta.dev(), meta.ino());
            self.file = file;
        } else if now.len() != self.content.len() as u64 {
            // Only a foreign tool writes in place; re-reading is the best we can do.
            self.content = read_all(&self.file).map_err(|e| Error::io(&self.path, e))?;
        }
        Ok(())
    }

    /// Re-reads `file` after a failed or abandoned transaction left `content` changed.
    fn reload(&mut self) -> Result<()> {
        self.content = read_all(&self.file).map_err(|e| Error::io(&self.path, e))?;
        Ok(())
    }

    /// Sets (`Some`) or removes (`None`) `key` in the working copy of an open transaction.
    fn apply(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        let ekey = encode(key);
        let (start, found) = search(&self.content, &ekey);
        let end = start + found.unwrap_or(0);
        match value {
            Some(v) => {
                let mut line = ekey;
                line.push(b'\t');
                line.extend_from_slice(&encode(v));
                line.push(b'\n');
                if self.content.get(start..end) != Some(&line[..]) {
                    self.content.splice(start..end, line);
                    self.dirty = true;
                }
            }
            None if end > start => {
                self.content.drain(start..end);
                self.dirty = true;
            }
            None => {}
        }
        Ok(())
    }

    /// A write outside a transaction is a transaction of its own, as in Cyrus.
    fn write_one(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        if key.is_empty() {
            return Err(Error::Usage("flat: empty key".into()));
        }
        if self.txn {
            return self.apply(key, value);
        }
        self.begin()?;
        match self.apply(key, value) {
            Ok(()) => self.commit(),
            Err(e) => {
                let _ = self.abort();
                Err(e)
            }
        }
    }

    /// Writes `content` to `<file>.NEW`, syncs it and renames it over the file; on success
    /// the new file becomes `file` (closing the old one drops our lock on it).
    fn replace_file(&mut self) -> Result<()> {
        let mut new_name = self.path.clone().into_os_string();
        new_name.push(".NEW");
        let new_path = PathBuf::from(new_name);
        match fs::remove_file(&new_path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&new_path, e)),
        }
        let written = (|| -> io::Result<(File, fs::Metadata)> {
            let mut f = OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o666)
                .open(&new_path)?;
            f.write_all(&self.content)?;
            f.sync_all()?;
            let meta = f.metadata()?;
            Ok((f, meta))
        })();
        let (new_file, meta) = match written {
            Ok(w) => w,
            Err(e) => {
                let _ = fs::remove_file(&new_path);
                return Err(Error::io(&new_path, e));
            }
        };
        if let Err(e) = fs::rename(&new_path, &self.path) {
            let _ = fs::remove_file(&new_path);
            return Err(Error::io(&new_path, e));
        }
        self.file = new_file;
        self.id = (meta.dev(), meta.ino());
        lock::sync_parent_dir(&self.path).map_err(|e| Error::io(&self.path, e))
    }

    fn no_txn() -> Error {
        Error::Usage("flat: no transaction is open".into())
    }
}

impl Database for Flat {
    fn fetch(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.refresh()?;
        let (start, found) = search(&self.content, &encode(key));
        let Some(len) = found else {
            return Ok(None);
        };
        let line = self.content.get(start..start + len).unwrap_or_default();
        match split_line(line) {
            Some((_, value)) => Ok(Some(decode(value))),
            None => Err(Error::corrupt(
                &self.path,
                format!("record at offset {start} is not `key TAB value LF`"),
            )),
        }
    }

    fn foreach(&mut self, prefix: &[u8], f: &mut ForeachFn<'_>) -> Result<()> {
        self.refresh()?;
        let eprefix = encode(prefix);
        let (mut pos, _) = search(&self.content, &eprefix);
        while pos < self.content.len() {
            let (_, end) = key_at(&self.content, pos);
            let line = self.content.get(pos..end).unwrap_or_default();
            let Some((key, value)) = split_line(line) else {
                return Err(Error::corrupt(
                    &self.path,
                    format!("record at offset {pos} is not `key TAB value LF`"),
                ));
            };
            // Escaping is a prefix code, so raw prefixes match exactly when escaped ones do.
            if !key.starts_with(&eprefix) {
                break;
            }
            if f(&decode(key), &decode(value))? == Walk::Stop {
                break;
            }
            pos = end;
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
        if self.txn {
            return Err(Error::Usage("flat: transaction already open".into()));
        }
        let path = self.path.clone();
        lock::lock_reopen(&mut self.file, &path, LockKind::Exclusive, open_rw)
            .map_err(|e| Error::io(&path, e))?;
        let loaded = (|| {
            let meta = self.file.metadata().map_err(|e| Error::io(&path, e))?;
            self.id = (meta.dev(), meta.ino());
            self.reload()?;
            if self.content.last().is_some_and(|&b| b != b'\n') {
                return Err(Error::corrupt(&path, "last record has no newline"));
            }
            Ok(())
        })();
        if let Err(e) = loaded {
            let _ = lock::unlock(&self.file);
            return Err(e);
        }
        self.txn = true;
        self.dirty = false;
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        if !self.txn {
            return Err(Self::no_txn());
        }
        self.txn = false;
        if !std::mem::take(&mut self.dirty) {
            return lock::unlock(&self.file).map_err(|e| Error::io(&self.path, e));
        }
        match self.replace_file() {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = lock::unlock(&self.file);
                let _ = self.reload();
                Err(e)
            }
        }
    }

    fn abort(&mut self) -> Result<()> {
        if !self.txn {
            return Err(Self::no_txn());
        }
        self.txn = false;
        let dirty = std::mem::take(&mut self.dirty);
        let unlocked = lock::unlock(&self.file).map_err(|e| Error::io(&self.path, e));
        if dirty {
            self.reload()?;
        }
        unlocked
    }

    fn in_transaction(&self) -> bool {
        self.txn
    }

    fn consistent(&mut self) -> Result<()> {
        self.refresh()?;
        check(&self.content).map_err(|what| Error::corrupt(&self.path, what))
    }

    /// Cyrus's flat backend has no dump: `cyr_dbtool ... flat dump` prints nothing.
    fn dump(&mut self, _out: &mut dyn Write, _detail: u32) -> Result<()> {
        Ok(())
    }
}

/// Opens an existing file for reading and writing (writing is what an exclusive `fcntl`
/// lock needs), or read-only where permissions allow no more, so readers still work.
fn open_rw(path: &Path) -> io::Result<File> {
    match OpenOptions::new().read(true).write(true).open(path) {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => File::open(path),
        other => other,
    }
}

/// All of `file` from offset 0, whatever its cursor.
fn read_all(file: &File) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(file.metadata().map(|m| m.len()).unwrap_or(0) as usize);
    let mut chunk = vec![0u8; 64 * 1024];
    let mut off = 0u64;
    loop {
        match file.read_at(&mut chunk, off) {
            Ok(0) => return Ok(buf),
            Ok(n) => {
                buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
                off += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Escapes `raw` for a key or value field.
fn encode(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 8);
    for &b in raw {
        match b {
            0x00 | b'\t' | b'\r' | b'\n' => out.extend_from_slice(&[ESCAPE, b | 0x80]),
            ESCAPE => out.extend_from_slice(&[ESCAPE, ESCAPE]),
            _ => out.push(b),
        }
    }
    out
}

/// Undoes [`encode`] as leniently as Cyrus does: a dangling escape at the end is dropped and
/// an escape before any other byte yields that byte without its top bit.
fn decode(enc: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(enc.len());
    let mut it = enc.iter();
    while let Some(&b) = it.next() {
        if b != ESCAPE {
            out.push(b);
            continue;
        }
        match it.next() {
            Some(&ESCAPE) => out.push(ESCAPE),
            Some(&e) => out.push(e & 0x7f),
            None => {}
        }
    }
    out
}

/// Whether `enc` is exactly what [`encode`] produces for some input.
fn check_escaped(enc: &[u8]) -> std::result::Result<(), &'static str> {
    let mut it = enc.iter();
    while let Some(&b) = it.next() {
        match b {
            0x00 | b'\t' | b'\r' | b'\n' => return Err("unescaped control byte"),
            ESCAPE => match it.next() {
                Some(&(ESCAPE | 0x80 | 0x89 | 0x8a | 0x8d)) => {}
                Some(_) => return Err("invalid escape sequence"),
                None => return Err("dangling escape byte"),
            },
            _ => {}
        }
    }
    Ok(())
}

/// Splits one line (with or without its LF) into escaped key and value; `None` when it has
/// no TAB or no LF.
fn split_line(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let body = line.strip_suffix(b"\n")?;
    let tab = body.iter().position(|&b| b == b'\t')?;
    Some((body.get(..tab)?, body.get(tab + 1..)?))
}

/// The escaped key of the line starting at `start`, and where the line ends (after its LF,
/// or at the end of a truncated last line).
fn key_at(content: &[u8], start: usize) -> (&[u8], usize) {
    let rest = content.get(start..).unwrap_or_default();
    let end = rest
        .iter()
        .position(|&b| b == b'\n')
        .map_or(content.len(), |n| start + n + 1);
    let line = content.get(start..end).unwrap_or_default();
    let key_len = line
        .iter()
        .position(|&b| b == b'\t' || b == b'\n')
        .unwrap_or(line.len());
    (line.get(..key_len).unwrap_or_default(), end)
}

/// Binary search for the line whose escaped key is `ekey`: its offset and length when found,
/// otherwise the offset where such a line belongs. The file must be sorted, as Cyrus keeps it;
/// on an unsorted file the answer is wrong but never out of bounds.
fn search(content: &[u8], ekey: &[u8]) -> (usize, Option<usize>) {
    // Lines starting before `lo` sort below `ekey`, lines starting at or after `hi` above it.
    let (mut lo, mut hi) = (0usize, content.len());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let start = content
            .get(lo..mid)
            .and_then(|s| s.iter().rposition(|&b| b == b'\n'))
            .map_or(lo, |n| lo + n + 1);
        let (key, end) = key_at(content, start);
        match compare::mailbox(ekey, key) {
            Ordering::Equal => return (start, Some(end - start)),
            Ordering::Less => hi = start,
            Ordering::Greater => lo = end,
        }
    }
    (lo, None)
}

/// What `consistent` checks: complete lines, each with a TAB, valid escapes, and keys strictly
/// increasing in mailbox order.
fn check(content: &[u8]) -> std::result::Result<(), String> {
    let mut prev: Option<&[u8]> = None;
    let mut pos = 0usize;
    for line in content.split_inclusive(|&b| b == b'\n') {
        let Some((key, value)) = split_line(line) else {
            return Err(format!("record at offset {pos} is not `key TAB value LF`"));
        };
        if key.is_empty() {
            return Err(format!("empty key at offset {pos}"));
        }
        check_escaped(key).map_err(|w| format!("key at offset {pos}: {w}"))?;
        check_escaped(value).map_err(|w| format!("value at offset {pos}: {w}"))?;
        if let Some(p) = prev {
            if compare::mailbox(p, key) != Ordering::Less {
                return Err(format!("key at offset {pos} is out of order"));
            }
        }
        prev = Some(key);
        pos += line.len();
    }
    Ok(())
}

#[cfg(test)]
mod tests;
