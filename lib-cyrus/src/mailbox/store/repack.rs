//! Removing expunged messages for good, as `expunge_mode: immediate` and `cyr_expire -X` do:
//! the message files are unlinked (their records marked UNLINKED), then a repack writes
//! `cyrus.index.NEW` and `cyrus.cache.NEW` without those records, with the generation number
//! raised, and renames them over the old files, index first. A process waiting on the old
//! index's lock sees the inode change and re-reads (the store's `lock` does). A crash leaves
//! either the old pair or the new index with the old cache, whose records still match their
//! `cache_crc` (a mismatch is re-parsed from the message, as Cyrus does).

use std::cell::OnceCell;
use std::fs::File;

use super::{io, open_index, sync, write_at, Mailbox};
use crate::db::failpoint;
use crate::db::lock::sync_parent_dir;
use crate::error::Result;
use crate::mailbox::cache;
use crate::mailbox::index::{self, InternalFlags, Options};

impl Mailbox {
    /// Unlinks the message files of expunged records and marks them UNLINKED; returns how
    /// many. The records stay until [`Mailbox::repack`].
    pub fn unlink_expunged(&mut self, now: u32) -> Result<usize> {
        self.check_writable()?;
        let doomed: Vec<usize> = self
            .records
            .iter()
            .enumerate()
            .filter(|(_, r)| r.is_expunged() && !r.internal_flags.has(InternalFlags::UNLINKED))
            .map(|(i, _)| i)
            .collect();
        for &pos in &doomed {
            let Some(mut rec) = self.records.get(pos).cloned() else {
                continue;
            };
            let path = self.message_path(rec.uid);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(crate::Error::io(path, e)),
            }
            rec.internal_flags.0 |= InternalFlags::UNLINKED;
            rec.last_updated = now;
            write_at(
                &self.file,
                &self.index_path,
                &rec.encode(),
                self.record_offset(pos),
            )?;
            if let Some(slot) = self.records.get_mut(pos) {
                *slot = rec;
            }
        }
        if !doomed.is_empty() {
            self.index.options = Options(self.index.options.0 | Options::NEEDS_REPACK);
            sync_parent_dir(&self.index_path).map_err(io(&self.dir))?;
            self.commit_header()?;
        }
        Ok(doomed.len())
    }

    /// Rewrites cyrus.index and cyrus.cache without the UNLINKED records.
    pub fn repack(&mut self, now: u32) -> Result<()> {
        self.check_writable()?;
        let cpath = self.dir.join(cache::FILE_NAME);
        let old_cache = std::fs::read(&cpath).unwrap_or_default();
        let mut h = self.index.clone();
        h.generation_no = h.generation_no.wrapping_add(1);
        let mut cache_out = h.generation_no.to_be_bytes().to_vec();
        let mut kept = Vec::with_capacity(self.records.len());
        for r in &self.records {
            if r.internal_flags.has(InternalFlags::UNLINKED) {
                h.deletedmodseq = h.deletedmodseq.max(r.modseq);
                continue;
            }
            let mut r = r.clone();
            // The record's cache bytes move as they are, so its cache_crc still holds; one
            // that cannot be read keeps its offset and is re-parsed when next needed.
            if let Ok((rec, _)) = cache::CacheRecord::decode_at(&old_cache, r.cache_offset, &cpath)
            {
                let bytes = rec.encode();
                let start = r.cache_offset as usize;
                // Copy the stored bytes themselves; re-encoding is only a way to learn their
                // length, and must give them back (else the CRC would not match).
                let raw = old_cache.get(start..start + bytes.len()).unwrap_or(&bytes);
                r.cache_offset = cache_out.len() as u64;
                cache_out.extend_from_slice(raw);
            }
            kept.push(r);
        }
        h.num_records = kept.len() as u32;
        h.leaked_cache_records = 0;
        h.last_repack_time = now;
        h.first_expunged = kept
            .iter()
            .filter(|r| r.is_expunged())
            .map(|r| r.last_updated)
            .min()
            .unwrap_or(0);
        h.options = Options(h.options.0 & !(Options::NEEDS_REPACK | Options::NEEDS_UNLINK));

        let ipath_new = self.dir.join(format!("{}.NEW", index::FILE_NAME));
        let cpath_new = self.dir.join(format!("{}.NEW", cache::FILE_NAME));
        let mut ibytes = h.encode().to_vec();
        for r in &kept {
            ibytes.extend_from_slice(&r.encode());
        }
        for (path, bytes) in [(&cpath_new, &cache_out), (&ipath_new, &ibytes)] {
            let f = File::create(path).map_err(io(path))?;
            write_at(&f, path, bytes, 0)?;
            sync(&f, path, false)?;
        }
        // Index first: until the cache follows, the new index's offsets point into the
        // old cache, where the CRC check catches every mismatch.
        failpoint::hit();
        std::fs::rename(&ipath_new, &self.index_path).map_err(io(&self.index_path))?;
        failpoint::hit();
        std::fs::rename(&cpath_new, &cpath).map_err(io(&cpath))?;
        sync_parent_dir(&self.index_path).map_err(io(&self.dir))?;
        // Hold the new file's lock from here on.
        self.file = open_index(&self.index_path, true).map_err(io(&self.index_path))?;
        self.known = None;
        self.cache = OnceCell::new();
        self.lock(super::LockMode::Write)
    }
}
