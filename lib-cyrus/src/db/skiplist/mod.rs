//! The `skiplist` cyrusdb backend, read and write, byte-compatible with Cyrus 3.6's
//! `lib/cyrusdb_skiplist.c` (3.6 still keeps per-user conversations.db in it).
//!
//! The file is one skip list whose pointers writers patch in place; new records go to a log at
//! the end of the file, and a transaction ends with a COMMIT record (`format.rs` describes the
//! bytes). A handle keeps a copy of the whole file in memory, refreshed under the fcntl lock
//! whenever the file's inode, size, mtime or header changed, and walks the on-disk pointers in
//! that copy exactly as Cyrus walks its mmap. Writes go to the file and the copy together and
//! follow Cyrus's order: records first, then pointer patches, `fdatasync`, COMMIT,
//! `fdatasync`. Abort undoes the pointer patches in reverse and truncates the log.
//!
//! A file whose log does not end in a COMMIT was left by a crashed writer. Under the write lock
//! it is recovered: the checkpointed records plus every committed log transaction are replayed
//! and the result is written as a checkpoint (a fresh file of INORDER records, renamed over
//! the old one), which is what Cyrus does with its default `skiplist_always_checkpoint`.
//! Cyrus decides when to recover by comparing the file's last-recovery time with the stamp
//! `ctl_cyrusdb -r` leaves in `<configdirectory>/db/skipstamp`, which a backend opened by path
//! cannot see; this backend decides by the file's own state instead: every open, read or
//! transaction that finds an unfinished log recovers it first. A commit also checkpoints once
//! the log outgrows twice the checkpointed part plus 16834 bytes, unless `nocompact`.
//!
//! Keys are ordered by signed bytes (Cyrus's `compare_signed`), or with `mboxsort` by the
//! mailbox order of [`super::compare::mailbox`].

mod format;
#[cfg(test)]
mod tests;

use self::format::{
    be32, dummy_size, encode_dummy, encode_node, record_size, Header, Node, ADD, COMMIT, DELETE,
    DUMMY, DUMMY_OFFSET, HEADER_SIZE, INORDER, MAXLEVEL, MINREWRITE,
};
use super::compare::{self, Comparator};
use super::lock::{self, LockKind};
use super::{Database, ForeachFn, OpenFlags, Walk};
use crate::error::{Error, Result};
use std::cmp::Ordering;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

pub use self::format::compare_signed;

/// An open `skiplist` database.
pub struct Skiplist {
    path: PathBuf,
    file: File,
    flags: OpenFlags,
    cmp: Comparator,
    /// The whole file as of the last lock (plus this handle's own writes since).
    buf: Vec<u8>,
    /// The header as parsed from `buf` (with this transaction's curlevel raise).
    hdr: Header,
    /// What the file looked like when `buf` was read; `None` forces a reread.
    stamp: Option<Stamp>,
    /// Whether `buf`'s log ends with a complete transaction (no recovery needed).
    clean: bool,
    txn: Option<Txn>,
    rng: u64,
}

/// Identity and version of the file behind `buf`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
}

impl Stamp {
    fn of(m: &std::fs::Metadata) -> Stamp {
        Stamp {
            dev: m.dev(),
            ino: m.ino(),
            size: m.len(),
            mtime: m.mtime(),
            mtime_nsec: m.mtime_nsec(),
        }
    }
}

/// An open write transaction: the file offset where its log records begin.
struct Txn {
    logstart: u32,
}

/// Where a search for a key ended: at each level the last node before the key, and the first
/// node at or after it.
struct Found {
    update: [u32; MAXLEVEL as usize],
    next: Option<Node>,
}

/// Opens `path` read-write, or read-only if that is all the permissions allow.
fn open_existing(path: &Path) -> io::Result<File> {
    match OpenOptions::new().read(true).write(true).open(path) {
        Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES) | Some(libc::EROFS)) => {
            File::open(path)
        }
        other => other,
    }
}

fn now() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0)
}

fn seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    (t ^ (u64::from(std::process::id()) << 32)) | 1
}

impl Skiplist {
    /// Opens (or with `flags.create`, creates) the database at `path`, recovering it first if
    /// a crashed writer left an unfinished transaction.
    pub fn open(path: &Path, flags: OpenFlags) -> Result<Skiplist> {
        let file = match open_existing(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if !flags.create {
                    return Err(Error::NotFound);
                }
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
                }
                let f = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    // Another process may have created and filled it meanwhile.
                    .truncate(false)
                    .mode(0o644)
                    .open(path)
                    .map_err(|e| Error::io(path, e))?;
                lock::sync_parent_dir(path).map_err(|e| Error::io(path, e))?;
                f
            }
            Err(e) => return Err(Error::io(path, e)),
        };
        let mut db = Skiplist {
            path: path.to_path_buf(),
            file,
            flags,
            cmp: if flags.mboxsort {
                compare::mailbox
            } else {
                compare_signed
            },
            buf: Vec::new(),
            hdr: Header::new(0),
            stamp: None,
            clean: false,
            txn: None,
            rng: seed(),
        };
        db.lock(LockKind::Shared)?;
        let size = db.file.metadata().map(|m| m.len());
        db.unlock()?;
        if size.map_err(|e| Error::io(path, e))? == 0 {
            // Another process may be creating it too; whoever gets the write lock first
            // writes the header, the other sees a non-empty file.
            db.lock(LockKind::Exclusive)?;
            let r = db.refresh(true).and_then(|()| {
                if db.buf.is_empty() {
                    db.init_file()
                } else {
                    Ok(())
                }
            });
            let u = db.unlock();
            r?;
            u?;
        }
        db.sync_for_read()?;
        Ok(db)
    }

    fn io(&self, e: io::Error) -> Error {
        Error::io(&self.path, e)
    }

    fn corrupt(&self, what: impl Into<String>) -> Error {
        Error::corrupt(&self.path, format!("skiplist: {}", what.into()))
    }

    fn lock(&mut self, kind: LockKind) -> Result<()> {
        lock::lock_reopen(&mut self.file, &self.path, kind, open_existing)
            .map(|_| ())
            .map_err(|e| Error::io(&self.path, e))
    }

    fn unlock(&self) -> Result<()> {
        lock::unlock(&self.file).map_err(|e| self.io(e))
    }

    /// Rereads the file into `buf` unless it is unchanged since the last read. Same inode and
    /// size with the same header means the same list: every committed write appends, and an
    /// abort or recovery that keeps the size restores equivalent pointers.
    fn refresh(&mut self, allow_empty: bool) -> Result<()> {
        let meta = self.file.metadata().map_err(|e| self.io(e))?;
        if meta.len() > u64::from(u32::MAX) {
            return Err(self.corrupt("file larger than 4 GiB"));
        }
        let stamp = Stamp::of(&meta);
        if self.stamp == Some(stamp) && meta.len() >= HEADER_SIZE as u64 {
            let mut head = [0u8; HEADER_SIZE];
            self.file
                .read_exact_at(&mut head, 0)
                .map_err(|e| self.io(e))?;
            if self.buf.get(..HEADER_SIZE) == Some(&head[..]) {
                return Ok(());
            }
        }
        self.stamp = None;
        let mut buf = vec![0u8; meta.len() as usize];
        self.file
            .read_exact_at(&mut buf, 0)
            .map_err(|e| self.io(e))?;
        self.buf = buf;
        if self.buf.is_empty() {
            if allow_empty {
                return Ok(());
            }
            return Err(self.corrupt("file is empty"));
        }
        self.hdr = Header::parse(&self.buf, &self.path)?;
        self.clean = self.log_is_complete();
        self.stamp = Some(stamp);
        Ok(())
    }

    /// Records the file's current identity after this handle's own writes, so that the next
    /// lock does not reread what `buf` already holds.
    fn restamp(&mut self) {
        self.stamp = self.file.metadata().ok().map(|m| Stamp::of(&m));
    }

    /// Whether the INORDER part ends at `logstart` and the log after it is whole records
    /// ending in a COMMIT: the state every finished writer leaves.
    fn log_is_complete(&self) -> bool {
        let (buf, ml) = (&self.buf, self.hdr.maxlevel);
        let len = buf.len() as u64;
        let mut off = u64::from(DUMMY_OFFSET + dummy_size(ml));
        while off < len && be32(buf, off as usize, &self.path).ok() == Some(INORDER) {
            match record_size(buf, off as u32, ml, &self.path) {
                Ok(n) => off += u64::from(n),
                Err(_) => return false,
            }
        }
        if off != u64::from(self.hdr.logstart) {
            return false;
        }
        let mut last = None;
        while off < len {
            let kind = be32(buf, off as usize, &self.path).ok();
            if !matches!(kind, Some(ADD) | Some(DELETE) | Some(COMMIT)) {
                return false;
            }
            match record_size(buf, off as u32, ml, &self.path) {
                Ok(n) => off += u64::from(n),
                Err(_) => return false,
            }
            last = kind;
        }
        off == len && matches!(last, None | Some(COMMIT))
    }

    /// Makes `buf` current for a read outside a transaction, recovering the file first if
    /// it needs it. Inside a transaction `buf` is already the truth.
    fn sync_for_read(&mut self) -> Result<()> {
        if self.txn.is_some() {
            return Ok(());
        }
        self.lock(LockKind::Shared)?;
        let r = self.refresh(false);
        let u = self.unlock();
        r?;
        u?;
        if self.clean {
            return Ok(());
        }
        self.lock(LockKind::Exclusive)?;
        let r = self
            .refresh(false)
            .and_then(|()| if self.clean { Ok(()) } else { self.recover() });
        let u = self.unlock();
        r?;
        u
    }

    /// Writes the header and DUMMY node of a new database.
    fn init_file(&mut self) -> Result<()> {
        let hdr = Header::new(now());
        let mut image = hdr.to_bytes().to_vec();
        image.extend_from_slice(&encode_dummy(hdr.maxlevel));
        self.file.write_all_at(&image, 0).map_err(|e| self.io(e))?;
        self.file.sync_all().map_err(|e| self.io(e))?;
        self.buf = image;
        self.hdr = hdr;
        self.clean = true;
        self.restamp();
        Ok(())
    }

    /// Writes `bytes` at `off` in the file and in `buf`.
    fn write_at(&mut self, off: u32, bytes: &[u8]) -> Result<()> {
        let start = off as usize;
        let end = start + bytes.len();
        if end as u64 > u64::from(u32::MAX) {
            return Err(Error::Usage(
                "skiplist file would grow past 4 GiB (offsets are 32-bit)".into(),
            ));
        }
        self.file
            .write_all_at(bytes, u64::from(off))
            .map_err(|e| self.io(e))?;
        if self.buf.len() < end {
            self.buf.resize(end, 0);
        }
        if let Some(dst) = self.buf.get_mut(start..end) {
            dst.copy_from_slice(bytes);
        }
        Ok(())
    }

    /// The node at `off` that a pointer led to: an INORDER or ADD node, never the DUMMY.
    fn node(&self, off: u32) -> Result<Node> {
        let n = Node::parse(&self.buf, off, self.hdr.maxlevel, &self.path)?;
        if n.kind == DUMMY {
            return Err(self.corrupt(format!("pointer to the DUMMY node at {off:#x}")));
        }
        Ok(n)
    }

    /// Any node, the DUMMY included (for the `update` offsets of a search).
    fn any_node(&self, off: u32) -> Result<Node> {
        Node::parse(&self.buf, off, self.hdr.maxlevel, &self.path)
    }

    /// The most pointer steps a walk of a sane file can take; more means a pointer cycle.
    fn step_budget(&self) -> usize {
        (self.buf.len() / 16 + 1) * (MAXLEVEL as usize + 1)
    }

    /// Cyrus's `find_node`: descends from the top level to the first node not below `key`.
    fn find(&self, key: &[u8]) -> Result<Found> {
        let buf = &self.buf;
        let mut update = [DUMMY_OFFSET; MAXLEVEL as usize];
        let mut cur = self.any_node(DUMMY_OFFSET)?;
        let mut budget = self.step_budget();
        for i in (0..self.hdr.curlevel).rev() {
            loop {
                let next = cur.forward(buf, i, &self.path)?;
                if next == 0 {
                    break;
                }
                let n = self.node(next)?;
                if (self.cmp)(n.key(buf), key) != Ordering::Less {
                    break;
                }
                budget = budget
                    .checked_sub(1)
                    .ok_or_else(|| self.corrupt("pointer cycle"))?;
                cur = n;
            }
            if let Some(u) = update.get_mut(i as usize) {
                *u = cur.off;
            }
        }
        let next = match cur.forward(buf, 0, &self.path)? {
            0 => None,
            off => Some(self.node(off)?),
        };
        Ok(Found { update, next })
    }

    /// The live node holding exactly `key`, if any.
    fn lookup(&self, key: &[u8]) -> Result<(Found, Option<Node>)> {
        let found = self.find(key)?;
        let hit = found
            .next
            .filter(|n| (self.cmp)(n.key(&self.buf), key) == Ordering::Equal);
        Ok((found, hit))
    }

    /// The offset of pointer `i` of the node at `node_off`, checking the node has that level.
    fn slot(&self, node_off: u32, i: u32) -> Result<u32> {
        let n = self.any_node(node_off)?;
        n.forward(&self.buf, i, &self.path)?;
        Ok(n.ptr_slot(i))
    }

    fn random_level(&mut self) -> u32 {
        let mut lvl = 1;
        while lvl < self.hdr.maxlevel {
            // xorshift64*: any fair coin will do, the file does not record how levels came.
            self.rng ^= self.rng >> 12;
            self.rng ^= self.rng << 25;
            self.rng ^= self.rng >> 27;
            if self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 63 == 0 {
                break;
            }
            lvl += 1;
        }
        lvl
    }

    /// Runs `op` inside the open transaction, or inside one of its own if none is open. A
    /// failed operation aborts the transaction, as Cyrus does: its state is unknown.
    fn in_txn(&mut self, op: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        let own = self.txn.is_none();
        if own {
            self.begin()?;
        }
        match op(self) {
            Ok(()) if own => self.commit(),
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = self.abort();
                Err(e)
            }
        }
    }

    /// Appends an ADD (after a DELETE of the old node when the key exists) and links it in.
    fn store_locked(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        if key.len() as u64 > u64::from(u32::MAX) || value.len() as u64 > u64::from(u32::MAX) {
            return Err(Error::Usage(
                "skiplist key or value longer than 4 GiB".into(),
            ));
        }
        let logend = self.buf.len() as u32;
        let (found, hit) = self.lookup(key)?;
        let mut update = found.update;
        let mut rec = Vec::new();
        let (newoff, ptrs) = match hit {
            Some(old) => {
                // An overwrite replaces the node by one of the same height that takes over
                // its pointers.
                rec.extend_from_slice(&DELETE.to_be_bytes());
                rec.extend_from_slice(&old.off.to_be_bytes());
                let ptrs = (0..old.level)
                    .map(|i| old.forward(&self.buf, i, &self.path))
                    .collect::<Result<Vec<u32>>>()?;
                (logend.checked_add(8), ptrs)
            }
            None => {
                let lvl = self.random_level();
                if lvl > self.hdr.curlevel {
                    for u in update
                        .iter_mut()
                        .take(lvl as usize)
                        .skip(self.hdr.curlevel as usize)
                    {
                        *u = DUMMY_OFFSET;
                    }
                    self.hdr.curlevel = lvl;
                    let head = self.hdr.to_bytes();
                    self.write_at(0, &head)?;
                }
                let ptrs = (0..lvl)
                    .zip(update.iter())
                    .map(|(i, &u)| self.any_node(u)?.forward(&self.buf, i, &self.path))
                    .collect::<Result<Vec<u32>>>()?;
                (Some(logend), ptrs)
            }
        };
        let newoff = newoff.ok_or_else(|| Error::Usage("skiplist file too large".into()))?;
        rec.extend_from_slice(&encode_node(ADD, key, value, &ptrs));
        // The record goes down before any pointer to it, so an abort (or a crash) always
        // finds in the log every node the pointers may reach.
        self.write_at(logend, &rec)?;
        let slots = (0..ptrs.len() as u32)
            .zip(update.iter())
            .map(|(i, &u)| self.slot(u, i))
            .collect::<Result<Vec<u32>>>()?;
        for s in slots {
            self.write_at(s, &newoff.to_be_bytes())?;
        }
        Ok(())
    }

    /// Appends a DELETE for `key`'s node, if there is one, and unlinks it.
    fn delete_locked(&mut self, key: &[u8]) -> Result<()> {
        let (found, hit) = self.lookup(key)?;
        let Some(n) = hit else {
            return Ok(());
        };
        let logend = self.buf.len() as u32;
        let mut rec = DELETE.to_be_bytes().to_vec();
        rec.extend_from_slice(&n.off.to_be_bytes());
        self.write_at(logend, &rec)?;
        self.unlink(&found.update, n)
    }

    /// Points every predecessor that points at `n` to `n`'s successor instead.
    fn unlink(&mut self, update: &[u32; MAXLEVEL as usize], n: Node) -> Result<()> {
        let mut patches = Vec::new();
        for (i, &u) in (0..self.hdr.curlevel).zip(update.iter()) {
            let pred = self.any_node(u)?;
            if pred.forward(&self.buf, i, &self.path)? != n.off {
                break;
            }
            patches.push((pred.ptr_slot(i), n.forward(&self.buf, i, &self.path)?));
        }
        for (slot, val) in patches {
            self.write_at(slot, &val.to_be_bytes())?;
        }
        Ok(())
    }

    /// Undoes, newest first, the pointer patches of the log records from `logstart` on.
    fn undo(&mut self, logstart: u32) -> Result<()> {
        let ml = self.hdr.maxlevel;
        let mut recs = Vec::new();
        let mut off = logstart;
        while (off as usize) < self.buf.len() {
            recs.push(off);
            off += record_size(&self.buf, off, ml, &self.path)?;
        }
        for off in recs.into_iter().rev() {
            match be32(&self.buf, off as usize, &self.path)? {
                ADD => {
                    let n = self.node(off)?;
                    let key = n.key(&self.buf).to_vec();
                    let found = self.find(&key)?;
                    self.unlink(&found.update, n)?;
                }
                DELETE => {
                    // The deleted node's own pointers were never touched, so relinking it
                    // is enough.
                    let target = be32(&self.buf, off as usize + 4, &self.path)?;
                    let q = self.node(target)?;
                    let key = q.key(&self.buf).to_vec();
                    let found = self.find(&key)?;
                    let slots = (0..q.level)
                        .zip(found.update.iter())
                        .map(|(i, &u)| self.slot(u, i))
                        .collect::<Result<Vec<u32>>>()?;
                    for s in slots {
                        self.write_at(s, &target.to_be_bytes())?;
                    }
                }
                t => return Err(self.corrupt(format!("record type {t} inside a transaction"))),
            }
        }
        Ok(())
    }

    /// The live nodes in list order, checking that keys strictly increase.
    fn live_nodes(&self) -> Result<Vec<Node>> {
        let buf = &self.buf;
        let mut out: Vec<Node> = Vec::new();
        let mut next = self.any_node(DUMMY_OFFSET)?.forward(buf, 0, &self.path)?;
        while next != 0 {
            if out.len() > buf.len() / 16 {
                return Err(self.corrupt("pointer cycle"));
            }
            let n = self.node(next)?;
            if let Some(prev) = out.last() {
                if (self.cmp)(prev.key(buf), n.key(buf)) != Ordering::Less {
                    return Err(self.corrupt(format!("keys out of order at {next:#x}")));
                }
            }
            next = n.forward(buf, 0, &self.path)?;
            out.push(n);
        }
        Ok(out)
    }

    /// Rewrites the file as a checkpoint of its live records (Cyrus's `mycheckpoint`).
    /// Needs the write lock and no transaction.
    fn checkpoint(&mut self) -> Result<()> {
        let live = self.live_nodes()?;
        let image = self.build_image(&live)?;
        self.install(image)
    }

    /// A checkpointed file holding `nodes` (in key order, each keeping its height): the
    /// header, the DUMMY, INORDER records whose pointers are linked level by level.
    fn build_image(&self, nodes: &[Node]) -> Result<Vec<u8>> {
        let mut hdr = self.hdr;
        let ml = hdr.maxlevel as usize;
        let mut out = vec![0u8; HEADER_SIZE];
        out.extend_from_slice(&encode_dummy(hdr.maxlevel));
        // Offsets of the pointer words still waiting for the next node of their level.
        let mut open: Vec<usize> = (0..ml).map(|i| HEADER_SIZE + 12 + 4 * i).collect();
        let too_big = || Error::Usage("skiplist checkpoint would exceed 4 GiB".into());
        for n in nodes {
            let lvl = n.level as usize;
            let rec = encode_node(INORDER, n.key(&self.buf), n.data(&self.buf), &vec![0; lvl]);
            let off = u32::try_from(out.len()).map_err(|_| too_big())?;
            let first_ptr = out.len() + rec.len() - 4 - 4 * lvl;
            for (i, slot) in open.iter_mut().take(lvl).enumerate() {
                if let Some(w) = out.get_mut(*slot..*slot + 4) {
                    w.copy_from_slice(&off.to_be_bytes());
                }
                *slot = first_ptr + 4 * i;
            }
            out.extend_from_slice(&rec);
            hdr.curlevel = hdr.curlevel.max(n.level);
        }
        hdr.listsize = nodes.len() as u32;
        hdr.logstart = u32::try_from(out.len()).map_err(|_| too_big())?;
        hdr.last_recovery = now();
        if let Some(h) = out.get_mut(..HEADER_SIZE) {
            h.copy_from_slice(&hdr.to_bytes());
        }
        Ok(out)
    }

    /// Puts `image` in place of the file: written to `<path>.NEW` under its own write lock,
    /// synced, renamed over the old name. The old inode is emptied so that a handle still on
    /// it wastes no disk (its next lock notices the rename and reopens).
    fn install(&mut self, image: Vec<u8>) -> Result<()> {
        let mut name = self.path.clone().into_os_string();
        name.push(".NEW");
        let tmp = PathBuf::from(name);
        let old = self.file.metadata();
        let written = (|| -> io::Result<File> {
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o644)
                .open(&tmp)?;
            // Keep the old file's mode and (when allowed) owner, so that whoever could
            // write it still can: root repacking the cyrus user's file must not lock Cyrus
            // out of it.
            if let Ok(m) = &old {
                f.set_permissions(m.permissions())?;
                let _ = std::os::unix::fs::fchown(&f, Some(m.uid()), Some(m.gid()));
            }
            lock::lock(&f, LockKind::Exclusive)?;
            f.write_all_at(&image, 0)?;
            f.sync_data()?;
            std::fs::rename(&tmp, &self.path)?;
            Ok(f)
        })();
        let f = match written {
            Ok(f) => f,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(Error::io(&tmp, e));
            }
        };
        let _ = self.file.set_len(0);
        self.file = f;
        self.hdr = Header::parse(&image, &self.path)?;
        self.buf = image;
        self.clean = true;
        self.restamp();
        self.file.sync_all().map_err(|e| self.io(e))?;
        lock::sync_parent_dir(&self.path).map_err(|e| self.io(e))
    }

    /// Rebuilds the file from its checkpointed records and its committed log transactions,
    /// dropping an unfinished last transaction, and writes the result as a checkpoint.
    /// Needs the write lock and no transaction.
    fn recover(&mut self) -> Result<()> {
        let (buf, ml, p) = (&self.buf, self.hdr.maxlevel, &self.path);
        let cmp = self.cmp;
        let mut end = buf.len() as u32;
        let mut live: Vec<Node> = Vec::new();
        let mut off = DUMMY_OFFSET + dummy_size(ml);
        while off < end && be32(buf, off as usize, p).ok() == Some(INORDER) {
            let Ok(n) = Node::parse(buf, off, ml, p) else {
                // A damaged record ends the file, as in Cyrus.
                end = off;
                break;
            };
            if let Some(prev) = live.last() {
                if cmp(prev.key(buf), n.key(buf)) != Ordering::Less {
                    return Err(self.corrupt(format!("INORDER records out of order at {off:#x}")));
                }
            }
            live.push(n);
            off += n.size();
        }
        while off < end {
            let Ok(kind) = be32(buf, off as usize, p) else {
                break;
            };
            match kind {
                // Zero words are what an interrupted truncate can leave; Cyrus skips them.
                0 | COMMIT => {
                    off = off.saturating_add(4);
                    continue;
                }
                ADD | DELETE => {}
                t => {
                    return Err(self.corrupt(format!(
                        "record type {t} at {off:#x} in the log (want ADD or DELETE)"
                    )))
                }
            }
            if !Self::committed(buf, off, end, ml, p) {
                // An unfinished transaction: dropped, with whatever follows it.
                break;
            }
            let size = record_size(buf, off, ml, p)?;
            if kind == ADD {
                let n = Node::parse(buf, off, ml, p)?;
                match live.binary_search_by(|x| cmp(x.key(buf), n.key(buf))) {
                    Ok(i) => {
                        if let Some(slot) = live.get_mut(i) {
                            *slot = n;
                        }
                    }
                    Err(i) => live.insert(i, n),
                }
            } else {
                let target = be32(buf, off as usize + 4, p)?;
                // A DELETE of something that is not a live node is skipped, as Cyrus does.
                if let Ok(q) = Node::parse(buf, target, ml, p) {
                    if let Ok(i) = live.binary_search_by(|x| cmp(x.key(buf), q.key(buf))) {
                        if live.get(i).map(|x| x.off) == Some(target) {
                            live.remove(i);
                        }
                    }
                }
            }
            off += size;
        }
        let image = self.build_image(&live)?;
        self.install(image)
    }

    /// Whether the log transaction starting at `off` reaches a COMMIT before `end`.
    fn committed(buf: &[u8], mut off: u32, end: u32, ml: u32, p: &Path) -> bool {
        loop {
            match record_size(buf, off, ml, p) {
                Ok(n) => off += n,
                Err(_) => return false,
            }
            if off >= end {
                return false;
            }
            if be32(buf, off as usize, p).ok() == Some(COMMIT) {
                return true;
            }
        }
    }

    /// Checks the list's structure: keys strictly increase, every node is at most `curlevel`
    /// high, and at each level the pointers link exactly the nodes that tall, in order.
    fn check_structure(&self) -> Result<()> {
        let buf = &self.buf;
        let live = self.live_nodes()?;
        let dummy = self.any_node(DUMMY_OFFSET)?;
        for n in &live {
            if n.level > self.hdr.curlevel {
                return Err(self.corrupt(format!(
                    "node at {:#x} has level {} above curlevel {}",
                    n.off, n.level, self.hdr.curlevel
                )));
            }
        }
        for i in 0..self.hdr.maxlevel {
            let mut at = dummy;
            for n in live.iter().filter(|n| n.level > i) {
                let next = at.forward(buf, i, &self.path)?;
                if next != n.off {
                    return Err(self.corrupt(format!(
                        "node at {:#x}: pointer {i} is {next:#x}, want {:#x}",
                        at.off, n.off
                    )));
                }
                at = *n;
            }
            let next = at.forward(buf, i, &self.path)?;
            if next != 0 {
                return Err(self.corrupt(format!(
                    "node at {:#x}: pointer {i} is {next:#x}, want the end",
                    at.off
                )));
            }
        }
        Ok(())
    }
}

impl Database for Skiplist {
    fn fetch(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.sync_for_read()?;
        let (_, hit) = self.lookup(key)?;
        Ok(hit.map(|n| n.data(&self.buf).to_vec()))
    }

    fn foreach(&mut self, prefix: &[u8], f: &mut ForeachFn<'_>) -> Result<()> {
        // Outside a transaction this walks the copy read under the lock, so the callback
        // runs unlocked, as Cyrus's does, and sees one consistent state.
        self.sync_for_read()?;
        let buf = &self.buf;
        let mut cur = self.find(prefix)?.next;
        let mut budget = buf.len() / 16 + 1;
        while let Some(n) = cur {
            let key = n.key(buf);
            match key.get(..prefix.len()) {
                Some(head) if (self.cmp)(head, prefix) == Ordering::Equal => {}
                _ => break,
            }
            if f(key, n.data(buf))? == Walk::Stop {
                break;
            }
            budget = budget
                .checked_sub(1)
                .ok_or_else(|| self.corrupt("pointer cycle"))?;
            cur = match n.forward(buf, 0, &self.path)? {
                0 => None,
                off => Some(self.node(off)?),
            };
        }
        Ok(())
    }

    fn store(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        if key.is_empty() {
            return Err(Error::Usage("skiplist keys must not be empty".into()));
        }
        self.in_txn(|db| db.store_locked(key, value))
    }

    fn delete(&mut self, key: &[u8]) -> Result<()> {
        if key.is_empty() {
            return Ok(());
        }
        self.in_txn(|db| db.delete_locked(key))
    }

    fn begin(&mut self) -> Result<()> {
        if self.txn.is_some() {
            return Err(Error::Usage("skiplist transaction already open".into()));
        }
        self.lock(LockKind::Exclusive)?;
        let r = self
            .refresh(false)
            .and_then(|()| if self.clean { Ok(()) } else { self.recover() });
        if let Err(e) = r {
            let _ = self.unlock();
            return Err(e);
        }
        self.txn = Some(Txn {
            logstart: self.buf.len() as u32,
        });
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        let Some(txn) = self.txn.take() else {
            return Err(Error::Usage("skiplist commit without a transaction".into()));
        };
        let logend = self.buf.len() as u32;
        if txn.logstart == logend {
            return self.unlock();
        }
        let durable = self
            .file
            .sync_data()
            .map_err(|e| self.io(e))
            .and_then(|()| self.write_at(logend, &COMMIT.to_be_bytes()))
            .and_then(|()| self.file.sync_data().map_err(|e| self.io(e)));
        if let Err(e) = durable {
            self.txn = Some(txn);
            let _ = self.abort();
            return Err(e);
        }
        self.restamp();
        if !self.flags.nocompact
            && u64::from(logend) > 2 * u64::from(self.hdr.logstart) + MINREWRITE
        {
            // The commit is durable already; a checkpoint that fails leaves a longer log,
            // which the next commit tries again to compact.
            let _ = self.checkpoint();
        }
        self.unlock()
    }

    fn abort(&mut self) -> Result<()> {
        let Some(txn) = self.txn.take() else {
            return Err(Error::Usage("skiplist abort without a transaction".into()));
        };
        let r = self.undo(txn.logstart).and_then(|()| {
            self.file
                .set_len(u64::from(txn.logstart))
                .map_err(|e| self.io(e))
        });
        match r {
            Ok(()) => {
                self.buf.truncate(txn.logstart as usize);
                self.restamp();
            }
            // The unfinished log stays behind, so the next locker recovers the file.
            Err(_) => self.stamp = None,
        }
        let u = self.unlock();
        r.and(u)
    }

    fn in_transaction(&self) -> bool {
        self.txn.is_some()
    }

    fn consistent(&mut self) -> Result<()> {
        self.sync_for_read()?;
        self.check_structure()
    }

    fn repack(&mut self) -> Result<()> {
        if self.txn.is_some() {
            return Err(Error::Usage("skiplist repack inside a transaction".into()));
        }
        self.lock(LockKind::Exclusive)?;
        let r = self.refresh(false).and_then(|()| {
            if self.clean {
                self.checkpoint()
            } else {
                self.recover()
            }
        });
        let u = self.unlock();
        r.and(u)
    }

    fn dump(&mut self, out: &mut dyn Write, _detail: u32) -> Result<()> {
        self.sync_for_read()?;
        format::dump(&self.buf, self.hdr.maxlevel, out, &self.path)
    }
}

impl Drop for Skiplist {
    fn drop(&mut self) {
        if self.txn.is_some() {
            let _ = self.abort();
        }
    }
}
