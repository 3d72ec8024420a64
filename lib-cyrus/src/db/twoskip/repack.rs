//! Repacking (Cyrus's checkpoint): the live records rewritten into a fresh file, in key order,
//! which then replaces the old one by `rename`.
//!
//! The new file is laid out in memory in one pass (offsets and levels), its pointers are
//! filled in a backward pass, and it is written with one `write`, synced and renamed into
//! place. Processes that still hold the old file notice the new inode when they next lock.

use super::format::{self, rtype, Header, Rec};
use super::{open_file, recovery, Twoskip, LEVELS};
use crate::db::lock;
use crate::db::mmap::Map;
use crate::error::{Error, Result};
use std::path::PathBuf;

/// Rewrites the database compactly. The caller holds the write lock; no transaction is open.
pub(super) fn repack(db: &mut Twoskip) -> Result<()> {
    recovery::check(db)?;
    let mut recs: Vec<Rec> = Vec::with_capacity(db.header.num_records as usize);
    let mut cur = db.dummy()?;
    while let Some(n) = db.next(&cur, 0)? {
        recs.push(n);
        cur = n;
    }

    // Pass 1: levels and offsets, with the BLANKs Cyrus's writer would put in.
    let mut levels = Vec::with_capacity(recs.len());
    let mut offsets = Vec::with_capacity(recs.len());
    let mut end = format::EMPTY_SIZE;
    for r in &recs {
        let level = db.random_level();
        let head = format::head_len_for(r.keylen, r.vallen, level);
        end += 8 * format::blanks_before(end, head);
        levels.push(level);
        offsets.push(end);
        end += head + format::round8(r.keylen + r.vallen);
    }
    let repack_size = end;

    // Pass 2, backwards: each record's successor on each of its levels.
    let mut next_at = [0u64; LEVELS];
    let mut ptrs: Vec<Vec<u64>> = vec![Vec::new(); recs.len()];
    for i in (0..recs.len()).rev() {
        let level = levels[i] as usize;
        let mut p = vec![0u64; level + 1];
        p[0] = next_at[0];
        if level > 1 {
            p[2..=level].copy_from_slice(&next_at[1..level]);
        }
        for slot in next_at.iter_mut().take(level) {
            *slot = offsets[i];
        }
        ptrs[i] = p;
    }

    let mut buf = Vec::with_capacity(end as usize + 64);
    buf.extend_from_slice(&[0u8; format::HEADER_SIZE as usize]);
    let mut dummy_ptrs = [0u64; LEVELS + 1];
    dummy_ptrs[0] = next_at[0];
    dummy_ptrs[2..=LEVELS].copy_from_slice(&next_at[1..LEVELS]);
    format::encode_record(&mut buf, rtype::DUMMY, &dummy_ptrs, b"", b"");
    for (i, r) in recs.iter().enumerate() {
        while (buf.len() as u64) < offsets[i] {
            buf.extend_from_slice(&format::BLANK);
        }
        let key = db.key(r)?;
        let val = db.value(r)?;
        format::encode_record(&mut buf, rtype::RECORD, &ptrs[i], key, val);
    }
    let commit_at = buf.len() as u64 + 8 * format::blanks_before(buf.len() as u64, 24);
    while (buf.len() as u64) < commit_at {
        buf.extend_from_slice(&format::BLANK);
    }
    format::encode_record(&mut buf, rtype::COMMIT, &[format::EMPTY_SIZE], b"", b"");
    let header = Header {
        generation: db.header.generation + 1,
        num_records: recs.len() as u64,
        repack_size,
        current_size: buf.len() as u64,
        flags: 0,
    };
    buf[..format::HEADER_SIZE as usize].copy_from_slice(&header.encode());

    let mut tmp = db.path.as_os_str().to_owned();
    tmp.push(".NEW");
    let tmp = PathBuf::from(tmp);
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::io(&tmp, e)),
        _ => {}
    }
    let write = || -> std::io::Result<()> {
        let f = open_file(&tmp, true)?;
        std::io::Write::write_all(&mut &f, &buf)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &db.path)?;
        lock::sync_parent_dir(&db.path)
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(&db.path, e));
    }
    // Closing the old descriptor drops our lock on the old inode; waiters there will see
    // the rename and reopen.
    db.map = Map::empty();
    db.file = open_file(&db.path, false).map_err(|e| Error::io(&db.path, e))?;
    db.file_id = None;
    db.held = super::Held::None;
    db.refresh()?;
    Ok(())
}
