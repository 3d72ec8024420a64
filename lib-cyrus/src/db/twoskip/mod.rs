//! The `twoskip` cyrusdb backend, byte-compatible with Cyrus 3.6.
//!
//! A twoskip file is an append-only skiplist: new records go at the end, predecessors are
//! re-pointed in place, and a COMMIT record plus a header update make a transaction durable.
//! Level 0 has two pointer slots per record and a transaction only ever rewrites the slot that
//! does not hold the committed successor, so after a crash the committed list can always be
//! walked again and the higher levels rebuilt from it ([`recovery`]).
//!
//! Reads go through a shared memory map; a transaction's appended bytes are kept in memory
//! (flushed in large chunks) and written before the COMMIT, while rewrites of committed records
//! go to the file at once, after the header has been marked DIRTY and synced, as Cyrus orders
//! them. Every operation outside a transaction takes the fcntl lock Cyrus takes, so our
//! processes and Cyrus's can share a file.

mod dump;
pub mod format;
mod recovery;
mod repack;

use self::format::{rtype, Header, HeaderError, Rec, RecError};
use super::compare::{self, Comparator};
use super::lock::{self, LockKind};
use super::mmap::Map;
use super::{Database, ForeachFn, OpenFlags, Walk};
use crate::error::{Error, Result};
use std::cell::Cell;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Logical levels: 0 (two slots) and 1..=30 (one slot each).
const LEVELS: usize = format::MAX_LEVEL as usize;
/// Appended bytes kept in memory before they are written out mid-transaction.
const TAIL_FLUSH: usize = 64 << 20;
/// Records a lock-free `foreach` visits before it lets writers in.
const FOREACH_RELOCK: usize = 1024;

/// The lock this handle holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Held {
    None,
    Shared,
    Exclusive,
}

/// State of an open write transaction.
struct Txn {
    /// `current_size` when the transaction began: everything below is committed.
    start_size: u64,
    /// File offset of `tail[0]`; bytes below it are in the file.
    base: u64,
    /// Appended records not yet written to the file.
    tail: Vec<u8>,
    /// Whether the DIRTY header has been written and synced.
    dirty: bool,
    /// Live keys, as the transaction has left them.
    num_records: u64,
}

/// Where a key is, or would go: its predecessor on every level.
struct Loc {
    back: [u64; LEVELS],
    found: Option<Rec>,
}

/// An open twoskip database.
pub struct Twoskip {
    path: PathBuf,
    file: File,
    map: Map,
    header: Header,
    flags: OpenFlags,
    cmp: Comparator,
    held: Held,
    txn: Option<Txn>,
    rng: u64,
    /// Identity of `file`, so that locking costs one `stat` of the path.
    file_id: Option<lock::FileId>,
    /// Committed records whose head CRC has been checked, one bit per 8-byte word; it holds
    /// for one file and generation (`verified_for`), whose committed bytes only ever change
    /// by rewrites that keep their CRCs valid.
    verified: Vec<Cell<u64>>,
    verified_for: Option<(lock::FileId, u64)>,
}

impl Twoskip {
    /// Opens (or with `flags.create`, creates) the twoskip file at `path`.
    pub fn open(path: &Path, flags: OpenFlags) -> Result<Twoskip> {
        let file = open_file(path, flags.create).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::NotFound,
            _ => Error::io(path, e),
        })?;
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
            ^ ((std::process::id() as u64) << 32);
        let mut db = Twoskip {
            path: path.to_path_buf(),
            file,
            map: Map::empty(),
            header: Header::new(),
            flags,
            cmp: if flags.mboxsort {
                compare::mailbox
            } else {
                compare::bytewise
            },
            held: Held::None,
            txn: None,
            rng: seed | 1,
            file_id: None,
            verified: Vec::new(),
            verified_for: None,
        };
        let size = db.file_size()?;
        if size == 0 {
            if !flags.create {
                return Err(Error::NotFound);
            }
            db.lock(LockKind::Exclusive)?;
            let r = db.initialise_if_empty();
            db.unlock();
            r?;
        }
        db.read_lock()?;
        db.unlock();
        Ok(db)
    }

    /// The header as last read under a lock.
    pub fn header(&self) -> Header {
        self.header
    }

    /// Writes the header and DUMMY of a new database into a still empty file.
    fn initialise_if_empty(&mut self) -> Result<()> {
        if self.file_size()? != 0 {
            return Ok(());
        }
        let mut buf = Header::new().encode().to_vec();
        format::encode_record(
            &mut buf,
            rtype::DUMMY,
            &[0; format::MAX_LEVEL as usize + 1],
            b"",
            b"",
        );
        self.write_at(0, &buf)?;
        self.file.sync_all().map_err(|e| Error::io(&self.path, e))?;
        lock::sync_parent_dir(&self.path).map_err(|e| Error::io(&self.path, e))?;
        Ok(())
    }

    // ----- locking and the map -----

    /// Takes the lock; returns the file's length as seen under it.
    fn lock(&mut self, kind: LockKind) -> Result<u64> {
        let create = self.flags.create;
        let locked =
            lock::lock_reopen_known(&mut self.file, &mut self.file_id, &self.path, kind, |p| {
                open_file(p, create)
            })
            .map_err(|e| Error::io(&self.path, e))?;
        if locked.reopened {
            self.map = Map::empty();
        }
        self.held = match kind {
            LockKind::Shared => Held::Shared,
            LockKind::Exclusive => Held::Exclusive,
        };
        Ok(locked.len)
    }

    fn unlock(&mut self) {
        if self.held != Held::None {
            // An unlock can only fail on a bad descriptor; the lock dies with the file anyway.
            let _ = lock::unlock(&self.file);
            self.held = Held::None;
        }
    }

    fn file_size(&self) -> Result<u64> {
        Ok(self
            .file
            .metadata()
            .map_err(|e| Error::io(&self.path, e))?
            .len())
    }

    /// Maps the whole file if its length changed, then decodes the header from the map.
    fn refresh(&mut self) -> Result<u64> {
        let size = self.file_size()?;
        self.refresh_to(size)
    }

    /// [`Self::refresh`] for a file known to be `size` bytes long.
    fn refresh_to(&mut self, size: u64) -> Result<u64> {
        if size as usize != self.map.len() {
            self.map = Map::new(&self.file, size as usize).map_err(|e| Error::io(&self.path, e))?;
        }
        self.header = Header::decode(self.map.bytes(), !self.flags.nocrc).map_err(|e| {
            let what = match e {
                HeaderError::Short => "file shorter than a header".to_string(),
                HeaderError::Magic => "not a twoskip file".to_string(),
                HeaderError::Version(v) => format!("unknown version {v}"),
                HeaderError::Crc => "header checksum mismatch".to_string(),
            };
            Error::corrupt(&self.path, what)
        })?;
        if self.header.current_size < format::EMPTY_SIZE || self.header.current_size > size {
            return Err(Error::corrupt(&self.path, "header size beyond the file"));
        }
        let epoch = self.file_id.map(|id| (id, self.header.generation));
        if epoch.is_none() || epoch != self.verified_for {
            self.verified.clear();
            self.verified_for = epoch;
        }
        let words = (self.header.current_size / 512 + 1) as usize;
        if self.verified.len() < words {
            self.verified.resize_with(words, || Cell::new(0));
        }
        Ok(size)
    }

    /// Whether the head CRC of the committed record at `off` was checked in this epoch.
    fn is_verified(&self, off: u64) -> bool {
        let bit = off / 8;
        self.verified
            .get((bit / 64) as usize)
            .is_some_and(|w| w.get() & (1 << (bit % 64)) != 0)
    }

    fn set_verified(&self, off: u64) {
        let bit = off / 8;
        if let Some(w) = self.verified.get((bit / 64) as usize) {
            w.set(w.get() | (1 << (bit % 64)));
        }
    }

    /// Takes the read lock with a clean, current header; recovers first if needed.
    fn read_lock(&mut self) -> Result<()> {
        loop {
            let size = self.lock(LockKind::Shared)?;
            let size = match self.refresh_to(size) {
                Ok(s) => s,
                Err(e) => {
                    self.unlock();
                    return Err(e);
                }
            };
            if !self.header.dirty() && size == self.header.current_size {
                return Ok(());
            }
            self.unlock();
            self.write_lock()?;
            self.unlock();
        }
    }

    /// Takes the write lock with a clean, current header; recovers first if needed.
    fn write_lock(&mut self) -> Result<()> {
        let size = self.lock(LockKind::Exclusive)?;
        let r = self.refresh_to(size).and_then(|size| {
            if self.header.dirty() || size != self.header.current_size {
                recovery::recover(self)
            } else {
                Ok(())
            }
        });
        if r.is_err() {
            self.unlock();
        }
        r
    }

    // ----- reading -----

    /// End of the readable region: the transaction's end of file, else the committed size.
    fn end(&self) -> u64 {
        match &self.txn {
            Some(t) => t.base + t.tail.len() as u64,
            None => self.header.current_size,
        }
    }

    /// The bytes from `off` to the end of whatever region holds it.
    #[inline(always)]
    fn raw_from(&self, off: u64) -> Option<&[u8]> {
        if let Some(t) = &self.txn {
            if off >= t.base {
                return t.tail.get((off - t.base) as usize..);
            }
        }
        self.map.bytes().get(off as usize..)
    }

    /// The `len` bytes at `off`.
    #[inline(always)]
    fn raw(&self, off: u64, len: usize) -> Option<&[u8]> {
        self.raw_from(off)?.get(..len)
    }

    /// The bytes from `off` to the end of whatever region holds it.
    fn bytes_from(&self, off: u64) -> Result<&[u8]> {
        self.raw_from(off).ok_or_else(|| self.past_end(off))
    }

    /// The bytes of `range`.
    #[inline]
    fn bytes(&self, range: std::ops::Range<u64>) -> Result<&[u8]> {
        let len = (range.end - range.start) as usize;
        self.raw(range.start, len)
            .ok_or_else(|| self.past_end(range.start))
    }

    #[cold]
    fn past_end(&self, off: u64) -> Error {
        self.corrupt(format!("data at {off:#x} runs past the end of the file"))
    }

    #[cold]
    fn corrupt(&self, what: impl Into<String>) -> Error {
        Error::corrupt(&self.path, what)
    }

    /// Decodes the record head at `off`.
    fn rec(&self, off: u64) -> Result<Rec> {
        if off < format::DUMMY_OFFSET || !off.is_multiple_of(8) || off >= self.end() {
            return Err(self.corrupt(format!("bad record offset {off:#x}")));
        }
        let committed = off < self.header.current_size && self.verified_for.is_some();
        let check = !(self.flags.nocrc || committed && self.is_verified(off));
        let r = Rec::decode(self.bytes_from(off)?, off, check).map_err(|e| {
            self.corrupt(match e {
                RecError::Truncated => format!("record at {off:#x} truncated"),
                RecError::Malformed => format!("malformed record at {off:#x}"),
                RecError::HeadCrc => format!("record head checksum mismatch at {off:#x}"),
            })
        })?;
        if check && committed {
            self.set_verified(off);
        }
        Ok(r)
    }

    /// Pointer slot `slot` of `r`.
    #[inline]
    fn slot(&self, r: &Rec, slot: usize) -> Result<u64> {
        let at = r.offset + r.slot_pos(slot);
        match self.raw(at, 8) {
            Some(b) => Ok(format::be64(b, 0)),
            None => Err(self.past_end(at)),
        }
    }

    fn key(&self, r: &Rec) -> Result<&[u8]> {
        self.bytes(r.key_range())
    }

    fn value(&self, r: &Rec) -> Result<&[u8]> {
        self.bytes(r.val_range())
    }

    /// Checks the CRC over key and value, as Cyrus does whenever a key is matched.
    fn check_tail(&self, r: &Rec) -> Result<()> {
        if !self.flags.nocrc && format::crc32(self.bytes(r.tail_range())?) != r.crc_tail {
            return Err(self.corrupt(format!("record tail checksum mismatch at {:#x}", r.offset)));
        }
        Ok(())
    }

    /// The raw level-0 successor: of the two slots, the newest that is inside the region.
    fn next0_raw(&self, r: &Rec) -> Result<u64> {
        let (a, b) = (self.slot(r, 0)?, self.slot(r, 1)?);
        let end = self.end();
        Ok(if a >= end {
            b
        } else if b >= end {
            a
        } else {
            a.max(b)
        })
    }

    /// The record after `r` on logical level `level`, DELETE markers skipped; None at the end.
    fn next(&self, r: &Rec, level: usize) -> Result<Option<Rec>> {
        let off = if level == 0 {
            self.next0_raw(r)?
        } else {
            self.slot(r, level + 1)?
        };
        self.follow(off, level)
    }

    /// The record a level-`level` pointer `off` leads to, through a DELETE marker on level 0.
    fn follow(&self, off: u64, level: usize) -> Result<Option<Rec>> {
        if off == 0 {
            return Ok(None);
        }
        let n = self.rec(off)?;
        match n.rtype {
            rtype::RECORD => Ok(Some(n)),
            rtype::DELETE if level == 0 => {
                let after = self.slot(&n, 0)?;
                if after == 0 {
                    return Ok(None);
                }
                let n2 = self.rec(after)?;
                if n2.rtype != rtype::RECORD {
                    return Err(self.corrupt(format!("DELETE at {off:#x} points at a non-record")));
                }
                Ok(Some(n2))
            }
            _ => Err(self.corrupt(format!("list pointer to a non-record at {off:#x}"))),
        }
    }

    fn dummy(&self) -> Result<Rec> {
        let d = self.rec(format::DUMMY_OFFSET)?;
        if d.rtype != rtype::DUMMY {
            return Err(self.corrupt("no DUMMY record at offset 64"));
        }
        Ok(d)
    }

    /// Finds `key`: its predecessor on every level, and the record if it is there.
    fn find(&self, key: &[u8]) -> Result<Loc> {
        let mut loc = Loc {
            back: [format::DUMMY_OFFSET; LEVELS],
            found: None,
        };
        let mut cur = self.dummy()?;
        // The record compared last and how it compared: a descent stops at the same record
        // on many levels, and decoding it (with its CRC) once is enough.
        let mut seen: Option<(Rec, std::cmp::Ordering)> = None;
        let mut budget = self.step_budget();
        for level in (0..LEVELS).rev() {
            loop {
                let raw = if level == 0 {
                    self.next0_raw(&cur)?
                } else {
                    self.slot(&cur, level + 1)?
                };
                if raw == 0 {
                    break;
                }
                let (n, ord) = match seen {
                    Some((r, o)) if r.offset == raw => (r, o),
                    _ => {
                        let Some(n) = self.follow(raw, level)? else {
                            break;
                        };
                        let o = (self.cmp)(self.key(&n)?, key);
                        seen = Some((n, o));
                        (n, o)
                    }
                };
                match ord {
                    std::cmp::Ordering::Less => {
                        budget = budget.checked_sub(1).ok_or_else(|| self.pointer_cycle())?;
                        cur = n;
                    }
                    std::cmp::Ordering::Equal => {
                        if level == 0 {
                            loc.found = Some(n);
                        }
                        break;
                    }
                    std::cmp::Ordering::Greater => break,
                }
            }
            loc.back[level] = cur.offset;
        }
        if let Some(f) = &loc.found {
            self.check_tail(f)?;
        }
        Ok(loc)
    }

    /// The first record whose key is not below `key`.
    fn seek(&self, key: &[u8]) -> Result<Option<Rec>> {
        let loc = self.find(key)?;
        match loc.found {
            Some(r) => Ok(Some(r)),
            None => self.next(&self.rec(loc.back[0])?, 0),
        }
    }

    // ----- writing -----

    fn write_at(&self, off: u64, data: &[u8]) -> Result<()> {
        super::failpoint::hit();
        self.file
            .write_all_at(data, off)
            .map_err(|e| Error::io(&self.path, e))
    }

    fn sync(&self) -> Result<()> {
        super::failpoint::hit();
        self.file.sync_data().map_err(|e| Error::io(&self.path, e))
    }

    fn write_header(&self, h: &Header) -> Result<()> {
        self.write_at(0, &h.encode())
    }

    fn txn_mut(&mut self) -> Result<&mut Txn> {
        self.txn
            .as_mut()
            .ok_or_else(|| Error::Usage("twoskip write outside a transaction".into()))
    }

    /// Marks the file DIRTY on disk before the transaction changes its first byte, so that a
    /// crash from here on is repaired at the next open.
    fn mark_dirty(&mut self) -> Result<()> {
        if self.txn_mut()?.dirty {
            return Ok(());
        }
        let mut h = self.header;
        h.flags |= format::FLAG_DIRTY;
        self.write_header(&h)?;
        self.sync()?;
        self.header = h;
        self.txn_mut()?.dirty = true;
        Ok(())
    }

    /// Appends a record (after any BLANKs the alignment rule asks for) and returns its offset.
    fn append(&mut self, rt: u8, ptrs: &[u64], key: &[u8], val: &[u8]) -> Result<u64> {
        self.mark_dirty()?;
        let level = (ptrs.len() - 1) as u8;
        let head = format::head_len_for(key.len() as u64, val.len() as u64, level);
        let end = self.end();
        let blanks = format::blanks_before(end, head);
        let t = self.txn_mut()?;
        for _ in 0..blanks {
            t.tail.extend_from_slice(&format::BLANK);
        }
        let off = end + 8 * blanks;
        format::encode_record(&mut t.tail, rt, ptrs, key, val);
        if t.tail.len() >= TAIL_FLUSH {
            self.flush_tail()?;
        }
        Ok(off)
    }

    /// Writes the in-memory tail to the file and maps it.
    fn flush_tail(&mut self) -> Result<()> {
        let (base, tail) = match &mut self.txn {
            Some(t) if !t.tail.is_empty() => (t.base, std::mem::take(&mut t.tail)),
            _ => return Ok(()),
        };
        self.write_at(base, &tail)?;
        let end = base + tail.len() as u64;
        self.map = Map::new(&self.file, end as usize).map_err(|e| Error::io(&self.path, e))?;
        if let Some(t) = &mut self.txn {
            t.base = end;
            t.tail = tail;
            t.tail.clear();
        }
        Ok(())
    }

    /// The bytes that set pointer slot `slot` of the record at `off` to `value`: the slot
    /// through the head CRC, and the file offset where they go.
    fn slot_patch(&self, off: u64, slot: usize, value: u64) -> Result<(u64, Vec<u8>)> {
        let r = self.rec(off)?;
        if slot > r.level as usize {
            return Err(self.corrupt(format!("record at {off:#x} has no slot {slot}")));
        }
        let head_len = r.head_len();
        let mut head = self.bytes(off..off + head_len)?.to_vec();
        let p = r.slot_pos(slot) as usize;
        head[p..p + 8].copy_from_slice(&value.to_be_bytes());
        let crc_at = head_len as usize - 8;
        let crc = format::crc32(&head[..crc_at]);
        head[crc_at..crc_at + 4].copy_from_slice(&crc.to_be_bytes());
        Ok((off + p as u64, head[p..crc_at + 4].to_vec()))
    }

    /// Sets pointer slot `slot` of the record at `off` and refreshes its head CRC.
    fn set_slot(&mut self, off: u64, slot: usize, value: u64) -> Result<()> {
        let (at, patch) = self.slot_patch(off, slot, value)?;
        let t = self.txn_mut()?;
        if at >= t.base {
            let s = (at - t.base) as usize;
            t.tail[s..s + patch.len()].copy_from_slice(&patch);
            Ok(())
        } else {
            self.mark_dirty()?;
            self.write_at(at, &patch)
        }
    }

    /// Points level 0 of the record at `off` to `target`, in the slot that does not hold the
    /// committed successor.
    fn set_next0(&mut self, off: u64, target: u64) -> Result<()> {
        let r = self.rec(off)?;
        let (a, b) = (self.slot(&r, 0)?, self.slot(&r, 1)?);
        let start = self.txn_mut()?.start_size;
        // On a tie Cyrus takes slot 1; doing the same keeps our files identical to its own.
        let slot = if a >= start {
            0
        } else if b >= start {
            1
        } else if a < b {
            0
        } else {
            1
        };
        self.set_slot(off, slot, target)
    }

    /// A level for a new record: 1, then one more with probability 1/2 each time, up to 31.
    fn random_level(&mut self) -> u8 {
        // xorshift64*: the level carries no meaning, it only needs to be geometric.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let r = self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (1 + r.trailing_ones()).min(format::MAX_LEVEL as u32) as u8
    }

    fn store_in_txn(&mut self, key: &[u8], val: &[u8]) -> Result<()> {
        let loc = self.find(key)?;
        if let Some(old) = &loc.found {
            if self.value(old)? == val {
                return Ok(());
            }
        }
        let level = self.random_level() as usize;
        let old_level = loc.found.map_or(0, |r| r.level as usize);
        let mut ptrs = vec![0u64; level + 1];
        // The new record takes over the old one's successors where the old one had levels.
        let from0 = match &loc.found {
            Some(old) => *old,
            None => self.rec(loc.back[0])?,
        };
        ptrs[1] = self.next(&from0, 0)?.map_or(0, |r| r.offset);
        for (i, p) in ptrs.iter_mut().enumerate().take(level + 1).skip(2) {
            let lvl = i - 1;
            let from = match &loc.found {
                Some(old) if lvl < old_level => *old,
                _ => self.rec(loc.back[lvl])?,
            };
            *p = self.slot(&from, i)?;
        }
        let new = self.append(rtype::RECORD, &ptrs, key, val)?;
        self.set_next0(loc.back[0], new)?;
        for lvl in 1..level.max(old_level) {
            let target = if lvl < level {
                new
            } else {
                // Only levels the old record had and the new one lacks: skip the old one.
                match &loc.found {
                    Some(old) => self.slot(old, lvl + 1)?,
                    None => continue,
                }
            };
            self.set_slot(loc.back[lvl], lvl + 1, target)?;
        }
        if loc.found.is_none() {
            self.txn_mut()?.num_records += 1;
        }
        Ok(())
    }

    fn delete_in_txn(&mut self, key: &[u8]) -> Result<()> {
        let loc = self.find(key)?;
        let Some(old) = loc.found else {
            return Ok(());
        };
        let succ = self.next(&old, 0)?.map_or(0, |r| r.offset);
        let del = self.append(rtype::DELETE, &[succ], b"", b"")?;
        self.set_next0(loc.back[0], del)?;
        for lvl in 1..old.level as usize {
            let target = self.slot(&old, lvl + 1)?;
            self.set_slot(loc.back[lvl], lvl + 1, target)?;
        }
        let t = self.txn_mut()?;
        t.num_records = t.num_records.saturating_sub(1);
        Ok(())
    }

    /// Runs `f` inside the open transaction, or inside one of its own.
    fn with_txn<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        if self.txn.is_some() {
            return f(self);
        }
        self.begin()?;
        match f(self) {
            Ok(v) => {
                self.commit()?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.abort();
                Err(e)
            }
        }
    }

    /// Runs `f` with a consistent view: inside the transaction, or under a read lock.
    fn with_read<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        if self.txn.is_some() {
            return f(self);
        }
        self.read_lock()?;
        let r = f(self);
        self.unlock();
        r
    }

    /// The most records the readable region could hold (the smallest record is 24 bytes). In
    /// a sound file a lookup or a walk steps onto each record at most once, so more steps than
    /// this mean the pointers loop: damage, reported instead of spinning forever.
    fn step_budget(&self) -> u64 {
        self.end().saturating_sub(format::EMPTY_SIZE) / 24 + 1
    }

    #[cold]
    fn pointer_cycle(&self) -> Error {
        self.corrupt("record pointers form a cycle")
    }

    /// Live keys as this handle sees them (the transaction's count inside one).
    fn end_records(&self) -> u64 {
        self.txn
            .as_ref()
            .map_or(self.header.num_records, |t| t.num_records)
    }

    /// Whether the file is big enough, compared with its last repack, to be rewritten.
    fn wants_repack(&self) -> bool {
        !self.flags.nocompact
            && self.header.current_size > format::MIN_REWRITE
            && self.header.current_size > 2 * self.header.repack_size
    }
}

impl Database for Twoskip {
    fn fetch(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.with_read(|db| {
            let loc = db.find(key)?;
            match loc.found {
                Some(r) => Ok(Some(db.value(&r)?.to_vec())),
                None => Ok(None),
            }
        })
    }

    fn foreach(&mut self, prefix: &[u8], f: &mut ForeachFn<'_>) -> Result<()> {
        let in_txn = self.txn.is_some();
        if !in_txn {
            self.read_lock()?;
        }
        let r = self.walk(prefix, in_txn, f);
        if !in_txn {
            self.unlock();
        }
        r
    }

    fn store(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        if key.is_empty() {
            return Err(Error::Usage("empty key".into()));
        }
        self.with_txn(|db| db.store_in_txn(key, value))
    }

    fn delete(&mut self, key: &[u8]) -> Result<()> {
        self.with_txn(|db| db.delete_in_txn(key))
    }

    fn begin(&mut self) -> Result<()> {
        if self.txn.is_some() {
            return Err(Error::Usage("transaction already open".into()));
        }
        self.write_lock()?;
        self.txn = Some(Txn {
            start_size: self.header.current_size,
            base: self.header.current_size,
            tail: Vec::new(),
            dirty: false,
            num_records: self.header.num_records,
        });
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        let Some(t) = &self.txn else {
            return Err(Error::Usage("commit without a transaction".into()));
        };
        if !t.dirty {
            self.txn = None;
            self.unlock();
            return Ok(());
        }
        let start = t.start_size;
        let r = (|| {
            self.append(rtype::COMMIT, &[start], b"", b"")?;
            self.flush_tail()?;
            super::failpoint::hit();
            self.file.sync_all().map_err(|e| Error::io(&self.path, e))?;
            let (end, count) = {
                let t = self.txn_mut()?;
                (t.base, t.num_records)
            };
            let mut h = self.header;
            h.current_size = end;
            h.num_records = count;
            h.flags &= !format::FLAG_DIRTY;
            self.write_header(&h)?;
            self.sync()?;
            self.header = h;
            Ok(())
        })();
        if let Err(e) = r {
            let _ = self.abort();
            return Err(e);
        }
        self.txn = None;
        let repack = self.wants_repack();
        self.unlock();
        if repack {
            // A failed repack loses nothing: the committed file is still in place.
            let _ = self.repack();
        }
        Ok(())
    }

    fn abort(&mut self) -> Result<()> {
        let Some(t) = self.txn.take() else {
            return Err(Error::Usage("abort without a transaction".into()));
        };
        let r = if t.dirty {
            // Undo in-place rewrites and cut the appended bytes, exactly as after a crash.
            self.refresh().and_then(|_| recovery::recover(self))
        } else {
            Ok(())
        };
        self.unlock();
        r
    }

    fn in_transaction(&self) -> bool {
        self.txn.is_some()
    }

    fn consistent(&mut self) -> Result<()> {
        self.with_read(recovery::check)
    }

    fn repack(&mut self) -> Result<()> {
        if self.txn.is_some() {
            return Err(Error::Usage("repack inside a transaction".into()));
        }
        self.write_lock()?;
        let r = repack::repack(self);
        self.unlock();
        r
    }

    fn dump(&mut self, out: &mut dyn Write, detail: u32) -> Result<()> {
        self.with_read(|db| dump::dump(db, out, detail))
    }
}

impl Twoskip {
    /// The body of `foreach`; outside a transaction it lets writers in every so often and
    /// finds its place again by key if the file changed meanwhile.
    fn walk(&mut self, prefix: &[u8], in_txn: bool, f: &mut ForeachFn<'_>) -> Result<()> {
        let mut cur = self.seek(prefix)?;
        let mut visited = 0usize;
        let mut budget = self.step_budget();
        while let Some(r) = cur {
            budget = budget.checked_sub(1).ok_or_else(|| self.pointer_cycle())?;
            let key = self.key(&r)?;
            if !key.starts_with(prefix) {
                break;
            }
            self.check_tail(&r)?;
            if f(key, self.value(&r)?)? == Walk::Stop {
                break;
            }
            visited += 1;
            if !in_txn && visited.is_multiple_of(FOREACH_RELOCK) {
                let last = key.to_vec();
                if self.relock_moved()? {
                    budget = self.step_budget();
                    cur = self.seek(&last)?;
                    if let Some(c) = cur {
                        if self.key(&c)? == last.as_slice() {
                            cur = self.next(&c, 0)?;
                        }
                    }
                    continue;
                }
            }
            cur = self.next(&r, 0)?;
        }
        Ok(())
    }

    /// Drops and retakes the read lock; true if the file changed in between.
    fn relock_moved(&mut self) -> Result<bool> {
        let before = (self.header.current_size, self.header.generation);
        self.unlock();
        self.read_lock()?;
        Ok(before != (self.header.current_size, self.header.generation))
    }
}

impl Drop for Twoskip {
    fn drop(&mut self) {
        if self.txn.is_some() {
            let _ = self.abort();
        }
        self.unlock();
    }
}

fn open_file(path: &Path, create: bool) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .mode(0o666)
        .open(path)
}

#[cfg(test)]
mod tests;
