//! An open mailbox directory: its header, index and cache read under the `cyrus.index` fcntl
//! lock, and the writes that must survive a crash at any point (append, flag change, delayed
//! expunge, new user flag).
//!
//! Lock order is Cyrus's: the caller holds the user-namespace and mailbox lock files (their
//! paths come from the name layer); this type takes the third lock, on `cyrus.index` itself,
//! shared to read and exclusive to write, and reopens the file if a repack replaced it while
//! we waited. Every write puts the data down before what points at it: message file, then
//! cache record, then index record, then index header, with an fsync between the stages, so
//! a crash leaves at worst an unreferenced message file or cache record, never an index record
//! without its message. The caller supplies what MIME parsing produces (cache items, sizes,
//! dates) and the GUID.

use crate::db::failpoint;
use crate::db::lock::{self, sync_parent_dir, FileId, LockKind};
use crate::error::{Error, Result};
use crate::mailbox::cache::{self, CacheRecord};
use crate::mailbox::header::{self, Header, MAX_USER_FLAGS};
use crate::mailbox::index::{
    self, sync_crc_basic, sync_crc_virtannot, Guid, IndexHeader, IndexRecord, InternalFlags,
    SystemFlags,
};
mod repack;

use std::cell::OnceCell;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// How the index is locked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockMode {
    /// Shared: read only (Cyrus's `mailbox_open_irl`).
    Read,
    /// Exclusive: read and write (Cyrus's `mailbox_open_iwl`).
    Write,
}

/// What the caller knows about a message to append.
#[derive(Clone, Debug)]
pub struct Append<'a> {
    /// The whole message, as it goes into the `<uid>.` file.
    pub message: &'a [u8],
    /// SHA-1 of `message`.
    pub guid: Guid,
    /// INTERNALDATE.
    pub internaldate: u32,
    /// `Date:` day at local midnight (index `sentdate`).
    pub sentdate: u32,
    /// `Date:` in UTC (index `gmtime`).
    pub gmtime: u32,
    /// Header bytes including the blank line.
    pub header_size: u32,
    /// Initial system flags.
    pub system_flags: SystemFlags,
    /// Initial user flags (numbers from [`Mailbox::user_flag`]).
    pub user_flags: [u32; 4],
    /// The parsed cache items.
    pub cache: &'a CacheRecord,
    /// The time of the append (last_updated, savedate, last_appenddate).
    pub now: u32,
}

/// One mailbox directory opened under its index lock.
#[derive(Debug)]
pub struct Mailbox {
    dir: PathBuf,
    index_path: PathBuf,
    file: File,
    writable: bool,
    known: Option<FileId>,
    locked: Option<LockMode>,
    header: Header,
    header_id: Option<FileId>,
    index: IndexHeader,
    records: Vec<IndexRecord>,
    /// cyrus.cache, read on first use after each (re)lock or write.
    cache: OnceCell<Vec<u8>>,
}

fn open_index(path: &Path, write: bool) -> std::io::Result<File> {
    OpenOptions::new().read(true).write(write).open(path)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error::io(path, e)
}

/// Writes `bytes` at `offset` of `file`, with the crash switch armed before it.
fn write_at(file: &File, path: &Path, bytes: &[u8], offset: u64) -> Result<()> {
    failpoint::hit();
    file.write_all_at(bytes, offset).map_err(io(path))
}

fn sync(file: &File, path: &Path, data_only: bool) -> Result<()> {
    failpoint::hit();
    if data_only {
        file.sync_data().map_err(io(path))
    } else {
        file.sync_all().map_err(io(path))
    }
}

impl Mailbox {
    /// Opens the mailbox in directory `dir` and locks its index in `mode`.
    pub fn open(dir: &Path, mode: LockMode) -> Result<Mailbox> {
        let index_path = dir.join(index::FILE_NAME);
        let writable = mode == LockMode::Write;
        let file = open_index(&index_path, writable).map_err(io(&index_path))?;
        let mut mb = Mailbox {
            dir: dir.to_path_buf(),
            index_path,
            file,
            writable,
            known: None,
            locked: None,
            header: Header::new("", "", ""),
            header_id: None,
            index: IndexHeader::default(),
            records: Vec::new(),
            cache: OnceCell::new(),
        };
        mb.lock(mode)?;
        Ok(mb)
    }

    /// Creates a new, empty mailbox in `dir` (made if missing) and opens it for writing.
    /// `modseq` becomes both highestmodseq and createdmodseq.
    pub fn create(
        dir: &Path,
        header: &Header,
        uidvalidity: u32,
        modseq: u64,
        now: u32,
    ) -> Result<Mailbox> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let index_path = dir.join(index::FILE_NAME);
        if index_path.exists() {
            return Err(Error::Exists);
        }
        let header_crc = header.write(dir)?;
        let cache_path = dir.join(cache::FILE_NAME);
        let cf = File::create(&cache_path).map_err(io(&cache_path))?;
        write_at(&cf, &cache_path, &0u32.to_be_bytes(), 0)?;
        sync(&cf, &cache_path, false)?;
        let mut ih = IndexHeader::new_mailbox(uidvalidity, modseq, now);
        ih.header_file_crc = header_crc;
        // The index appears last, complete, by rename: a crash leaves no half-made index.
        let tmp = dir.join("cyrus.index.NEW");
        let f = File::create(&tmp).map_err(io(&tmp))?;
        write_at(&f, &tmp, &ih.encode(), 0)?;
        sync(&f, &tmp, false)?;
        failpoint::hit();
        std::fs::rename(&tmp, &index_path).map_err(io(&index_path))?;
        failpoint::hit();
        sync_parent_dir(&index_path).map_err(io(dir))?;
        Mailbox::open(dir, LockMode::Write)
    }

    /// Takes the index lock in `mode` (again), re-reading the index, and the header if its
    /// file was replaced. A mailbox opened for reading cannot be locked for writing.
    pub fn lock(&mut self, mode: LockMode) -> Result<()> {
        if mode == LockMode::Write && !self.writable {
            return Err(Error::Usage("mailbox opened read-only".into()));
        }
        let kind = match mode {
            LockMode::Read => LockKind::Shared,
            LockMode::Write => LockKind::Exclusive,
        };
        let writable = self.writable;
        let locked = lock::lock_reopen_known(
            &mut self.file,
            &mut self.known,
            &self.index_path,
            kind,
            |p| open_index(p, writable),
        )
        .map_err(io(&self.index_path))?;
        self.locked = Some(mode);
        if let Err(e) = self.load(locked.len) {
            self.unlock();
            return Err(e);
        }
        Ok(())
    }

    /// Releases the index lock; the data read stays available.
    pub fn unlock(&mut self) {
        if self.locked.take().is_some() {
            let _ = lock::unlock(&self.file);
        }
    }

    fn load(&mut self, len: u64) -> Result<()> {
        let len = usize::try_from(len)
            .map_err(|_| Error::corrupt(&self.index_path, "cyrus.index: too large"))?;
        let mut buf = vec![0u8; len];
        self.file
            .read_exact_at(&mut buf, 0)
            .map_err(io(&self.index_path))?;
        let ih = IndexHeader::decode(&buf, &self.index_path)?;
        if ih.options.has(index::Options::MAILBOX_DELETED) {
            return Err(Error::NotFound);
        }
        self.records = index::decode_records(&buf, &ih, &self.index_path)?;
        self.index = ih;
        self.cache = OnceCell::new();
        let hpath = self.dir.join(header::FILE_NAME);
        let (id, _) = lock::stat(&hpath).map_err(io(&hpath))?;
        if self.header_id != Some(id) {
            let (h, _crc) = Header::read(&self.dir)?;
            // Cyrus only logs a header CRC mismatch; so do we (by not failing).
            self.header = h;
            self.header_id = Some(id);
        }
        let stale = self
            .records
            .iter()
            .any(|r| r.modseq > self.index.highestmodseq);
        if stale && self.locked == Some(LockMode::Write) && self.index.minor_version == 17 {
            self.recover()?;
        }
        Ok(())
    }

    /// Repairs the header after a crash between an in-place record rewrite and the header
    /// write (the record's modseq is then above the header's): the counters are recounted
    /// from the records and the header is committed. `synccrc_annot` is left alone, since
    /// annotations live elsewhere; `reconstruct` recomputes it.
    fn recover(&mut self) -> Result<()> {
        let h = &mut self.index;
        h.exists = 0;
        h.answered = 0;
        h.flagged = 0;
        h.deleted = 0;
        h.unseen = 0;
        h.quota_mailbox_used = 0;
        h.synccrc_basic = 0;
        let annot = h.synccrc_annot;
        let records = std::mem::take(&mut self.records);
        for r in &records {
            self.count(r, true);
        }
        let h = &mut self.index;
        h.synccrc_annot = annot;
        h.highestmodseq = records
            .iter()
            .map(|r| r.modseq)
            .fold(h.highestmodseq, u64::max);
        if let Some(first) = records
            .iter()
            .filter(|r| r.is_expunged())
            .map(|r| r.last_updated)
            .min()
        {
            if h.first_expunged == 0 || h.first_expunged > first {
                h.first_expunged = first;
            }
        }
        self.records = records;
        self.commit_header()
    }

    fn check_writable(&self) -> Result<()> {
        if self.locked != Some(LockMode::Write) {
            return Err(Error::Usage("index not locked for writing".into()));
        }
        if self.index.minor_version != index::MINOR_VERSION {
            return Err(Error::NotImplemented(
                "writing an index older than minor version 17",
            ));
        }
        Ok(())
    }

    /// The mailbox directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The decoded cyrus.header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The index header.
    pub fn index_header(&self) -> &IndexHeader {
        &self.index
    }

    /// All index records, expunged ones included, ascending by UID.
    pub fn records(&self) -> &[IndexRecord] {
        &self.records
    }

    /// The record of `uid` (binary search).
    pub fn record(&self, uid: u32) -> Option<&IndexRecord> {
        self.position(uid).and_then(|i| self.records.get(i))
    }

    fn position(&self, uid: u32) -> Option<usize> {
        self.records.binary_search_by_key(&uid, |r| r.uid).ok()
    }

    /// Path of the message file of `uid` (`<dir>/<uid>.`).
    pub fn message_path(&self, uid: u32) -> PathBuf {
        self.dir.join(format!("{uid}."))
    }

    /// The cache record of `record`, bounds- and CRC-checked.
    pub fn cache_record(&self, record: &IndexRecord) -> Result<CacheRecord> {
        let path = self.dir.join(cache::FILE_NAME);
        let file = match self.cache.get() {
            Some(f) => f,
            None => {
                let bytes = std::fs::read(&path).map_err(io(&path))?;
                self.cache.get_or_init(|| bytes)
            }
        };
        CacheRecord::read_checked(file, record.cache_offset, record.cache_crc, &path)
    }

    /// Writes the index header and makes everything before it durable.
    fn commit_header(&self) -> Result<()> {
        write_at(&self.file, &self.index_path, &self.index.encode(), 0)?;
        sync(&self.file, &self.index_path, false)
    }

    fn record_offset(&self, pos: usize) -> u64 {
        u64::from(self.index.start_offset) + pos as u64 * u64::from(self.index.record_size)
    }

    /// Adds (`add`) or removes a record's share of the header counters and sync CRCs.
    fn count(&mut self, r: &IndexRecord, add: bool) {
        if r.is_expunged() {
            return;
        }
        let h = &mut self.index;
        let step = |v: &mut u32| {
            *v = if add {
                v.wrapping_add(1)
            } else {
                v.saturating_sub(1)
            }
        };
        if r.system_flags.has(SystemFlags::ANSWERED) {
            step(&mut h.answered);
        }
        if r.system_flags.has(SystemFlags::FLAGGED) {
            step(&mut h.flagged);
        }
        if r.system_flags.has(SystemFlags::DELETED) {
            step(&mut h.deleted);
        }
        if !r.system_flags.has(SystemFlags::SEEN) {
            step(&mut h.unseen);
        }
        step(&mut h.exists);
        let size = u64::from(r.size);
        h.quota_mailbox_used = if add {
            h.quota_mailbox_used.wrapping_add(size)
        } else {
            h.quota_mailbox_used.saturating_sub(size)
        };
        h.synccrc_basic ^= sync_crc_basic(r, &self.header.user_flags);
        h.synccrc_annot ^= sync_crc_virtannot(r);
    }

    /// Appends a message: message file, cache record, index record, header, each durable
    /// before the next. Returns the new record.
    pub fn append(&mut self, a: &Append<'_>) -> Result<IndexRecord> {
        self.append_with(a, None)
    }

    /// [`Mailbox::append`] of a message already stored at `source` (same bytes): the new
    /// message file is a hard link to it, as Cyrus's `singleinstancestore` does for one
    /// message delivered to several mailboxes or copied within a partition. Where a link
    /// cannot be made (another file system), the bytes are written as usual.
    pub fn append_linked(&mut self, a: &Append<'_>, source: &Path) -> Result<IndexRecord> {
        self.append_with(a, Some(source))
    }

    fn append_with(&mut self, a: &Append<'_>, source: Option<&Path>) -> Result<IndexRecord> {
        self.check_writable()?;
        let uid = self
            .index
            .last_uid
            .checked_add(1)
            .ok_or_else(|| Error::Usage("UIDs exhausted".into()))?;
        let size = u32::try_from(a.message.len())
            .map_err(|_| Error::Usage("message larger than 4 GB".into()))?;
        let modseq = self.index.effective_highestmodseq() + 1;

        // 1. The message file. A leftover from an append that crashed is overwritten.
        let mpath = self.message_path(uid);
        failpoint::hit();
        let linked = source.is_some_and(|src| {
            let _ = std::fs::remove_file(&mpath);
            // The source was fsynced when it was written; only the new name needs syncing.
            std::fs::hard_link(src, &mpath).is_ok()
        });
        if !linked {
            let mut mf = File::create(&mpath).map_err(io(&mpath))?;
            failpoint::hit();
            mf.write_all(a.message).map_err(io(&mpath))?;
            sync(&mf, &mpath, false)?;
            drop(mf);
        }
        failpoint::hit();
        sync_parent_dir(&mpath).map_err(io(&self.dir))?;

        // 2. The cache record, appended at the end (after any crashed append's leftovers).
        let cpath = self.dir.join(cache::FILE_NAME);
        let cf = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&cpath)
            .map_err(io(&cpath))?;
        let mut clen = cf.metadata().map_err(io(&cpath))?.len();
        if clen < 4 {
            write_at(&cf, &cpath, &self.index.generation_no.to_be_bytes(), 0)?;
            clen = 4;
        }
        let cbytes = a.cache.encode();
        write_at(&cf, &cpath, &cbytes, clen)?;
        sync(&cf, &cpath, true)?;
        drop(cf);
        self.cache = OnceCell::new();

        // 3. The index record, then the header that counts it.
        let rec = IndexRecord {
            uid,
            internaldate: a.internaldate,
            sentdate: a.sentdate,
            size,
            header_size: a.header_size,
            gmtime: a.gmtime,
            cache_offset: clen,
            last_updated: a.now,
            system_flags: a.system_flags,
            internal_flags: InternalFlags::default(),
            user_flags: a.user_flags,
            savedate: a.now,
            cache_version: index::CACHE_VERSION,
            guid: a.guid,
            modseq,
            cid: 0,
            createdmodseq: modseq,
            cache_crc: crc32fast::hash(&cbytes),
        };
        let pos = self.records.len();
        write_at(
            &self.file,
            &self.index_path,
            &rec.encode(),
            self.record_offset(pos),
        )?;
        sync(&self.file, &self.index_path, true)?;
        let saved = self.index.clone();
        self.count(&rec, true);
        let h = &mut self.index;
        h.num_records += 1;
        h.last_uid = uid;
        h.last_appenddate = a.now;
        h.highestmodseq = modseq;
        if let Err(e) = self.commit_header() {
            self.index = saved;
            return Err(e);
        }
        self.records.push(rec.clone());
        Ok(rec)
    }

    /// Rewrites the record at `pos` as `new` (counters and CRCs adjusted), bumping its
    /// modseq, and commits.
    fn rewrite(&mut self, pos: usize, mut new: IndexRecord, now: u32) -> Result<IndexRecord> {
        let old = self
            .records
            .get(pos)
            .cloned()
            .ok_or_else(|| Error::Usage("no such record".into()))?;
        let modseq = self.index.effective_highestmodseq() + 1;
        new.modseq = modseq;
        new.last_updated = now;
        write_at(
            &self.file,
            &self.index_path,
            &new.encode(),
            self.record_offset(pos),
        )?;
        let saved = self.index.clone();
        self.count(&old, false);
        self.count(&new, true);
        self.index.highestmodseq = modseq;
        if new.is_expunged() && !old.is_expunged() {
            let h = &mut self.index;
            if h.first_expunged == 0 || h.first_expunged > now {
                h.first_expunged = now;
            }
        }
        if let Err(e) = self.commit_header() {
            self.index = saved;
            return Err(e);
        }
        if let Some(slot) = self.records.get_mut(pos) {
            *slot = new.clone();
        }
        Ok(new)
    }

    /// Sets the system and user flags of `uid` to exactly these, with a new modseq.
    pub fn set_flags(
        &mut self,
        uid: u32,
        system: SystemFlags,
        user: [u32; 4],
        now: u32,
    ) -> Result<IndexRecord> {
        self.check_writable()?;
        let pos = self.position(uid).ok_or(Error::NotFound)?;
        let mut rec = self.records.get(pos).cloned().ok_or(Error::NotFound)?;
        if rec.is_expunged() {
            return Err(Error::NotFound);
        }
        rec.system_flags = system;
        rec.user_flags = user;
        self.rewrite(pos, rec, now)
    }

    /// Expunges `uid` the delayed way: the record gets EXPUNGED and stays, the file stays
    /// until `cyr_expire`.
    pub fn expunge(&mut self, uid: u32, now: u32) -> Result<IndexRecord> {
        self.check_writable()?;
        let pos = self.position(uid).ok_or(Error::NotFound)?;
        let mut rec = self.records.get(pos).cloned().ok_or(Error::NotFound)?;
        if rec.is_expunged() {
            return Ok(rec);
        }
        rec.internal_flags.0 |= InternalFlags::EXPUNGED;
        self.rewrite(pos, rec, now)
    }

    /// Records that the owner has now been shown everything up to `uid` as \Recent (what a
    /// read-write SELECT does), without bumping the modseq: recentness is not a flag change.
    pub fn set_recentuid(&mut self, uid: u32, now: u32) -> Result<()> {
        self.check_writable()?;
        if self.index.recentuid >= uid {
            return Ok(());
        }
        let saved = self.index.clone();
        self.index.recentuid = uid;
        self.index.recenttime = now;
        // Not fsynced: losing it in a crash only shows some messages as \Recent again, and
        // a SELECT or an IDLE that sees new mail must not wait for the disk.
        if let Err(e) = write_at(&self.file, &self.index_path, &self.index.encode(), 0) {
            self.index = saved;
            return Err(e);
        }
        Ok(())
    }

    /// The number of user flag `name`, defining it in cyrus.header if `create` (and there is
    /// room); `Ok(None)` if it does not exist and may not be created.
    pub fn user_flag(&mut self, name: &str, create: bool) -> Result<Option<usize>> {
        if let Some(n) = self.header.user_flag(name) {
            return Ok(Some(n));
        }
        if !create {
            return Ok(None);
        }
        self.check_writable()?;
        let mut h = self.header.clone();
        let n = match h.user_flags.iter().position(Option::is_none) {
            Some(free) => free,
            None if h.user_flags.len() < MAX_USER_FLAGS => {
                h.user_flags.push(None);
                h.user_flags.len() - 1
            }
            None => return Err(Error::Usage("too many user flags".into())),
        };
        if let Some(slot) = h.user_flags.get_mut(n) {
            *slot = Some(name.to_string());
        }
        self.replace_header(h)?;
        Ok(Some(n))
    }

    /// Replaces the ACL kept in cyrus.header (mailboxes.db holds the authoritative copy;
    /// Cyrus keeps both in step).
    pub fn set_acl(&mut self, acl: Vec<(String, String)>) -> Result<()> {
        self.check_writable()?;
        let mut h = self.header.clone();
        h.acl = Some(acl);
        self.replace_header(h)
    }

    /// Points the mailbox at quota root `root` (or none), as SETQUOTA on a new root does.
    pub fn set_quotaroot(&mut self, root: Option<String>) -> Result<()> {
        self.check_writable()?;
        let mut h = self.header.clone();
        h.quotaroot = root;
        self.replace_header(h)
    }

    /// Writes `h` as the new cyrus.header and records its CRC in the index header.
    fn replace_header(&mut self, h: Header) -> Result<()> {
        let crc = h.write(&self.dir)?;
        let hpath = self.dir.join(header::FILE_NAME);
        self.header_id = lock::stat(&hpath).ok().map(|(id, _)| id);
        self.header = h;
        let saved = self.index.header_file_crc;
        self.index.header_file_crc = crc;
        if let Err(e) = self.commit_header() {
            self.index.header_file_crc = saved;
            return Err(e);
        }
        Ok(())
    }
}
