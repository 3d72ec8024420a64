//! Crash recovery and the consistency check of twoskip files.
//!
//! Recovery rebuilds the committed state in place: it walks level 0 using only slots below
//! `current_size` (a transaction never overwrites the slot holding the committed successor),
//! re-links every higher level from that walk, clears level-0 slots that point into the
//! uncommitted tail, and cuts the tail off. The consistency check walks the same way and
//! reports, instead of repairing, any pointer that disagrees.

use super::format::{self, rtype, Rec};
use super::{Twoskip, LEVELS};
use crate::error::Result;
use std::cmp::Ordering;

/// Repairs the file after a crash or an aborted transaction (Cyrus's recovery1). The caller
/// holds the write lock and has refreshed the header; no transaction is open.
pub(super) fn recover(db: &mut Twoskip) -> Result<()> {
    let committed = db.header.current_size;
    if !db.header.dirty() {
        let mut h = db.header;
        h.flags |= format::FLAG_DIRTY;
        db.write_header(&h)?;
        db.sync()?;
        db.header = h;
    }
    let mut last = [format::DUMMY_OFFSET; LEVELS];
    let mut cur = db.dummy()?;
    let mut prev_key: Option<Vec<u8>> = None;
    let mut count = 0u64;
    loop {
        for slot in 0..2 {
            if db.slot(&cur, slot)? >= committed {
                patch(db, cur.offset, slot, 0)?;
            }
        }
        let Some(next) = db.next(&cur, 0)? else {
            break;
        };
        let key = db.key(&next)?;
        if let Some(p) = &prev_key {
            if (db.cmp)(p, key) != Ordering::Less {
                return Err(db.corrupt(format!(
                    "keys out of order at {:#x}; the file needs a rebuild",
                    next.offset
                )));
            }
        }
        prev_key = Some(key.to_vec());
        for (lvl, l) in last
            .iter_mut()
            .enumerate()
            .take(next.level as usize)
            .skip(1)
        {
            let from = db.rec(*l)?;
            if db.slot(&from, lvl + 1)? != next.offset {
                patch(db, *l, lvl + 1, next.offset)?;
            }
            *l = next.offset;
        }
        count += 1;
        cur = next;
    }
    for (lvl, l) in last.iter().enumerate().skip(1) {
        let from = db.rec(*l)?;
        if db.slot(&from, lvl + 1)? != 0 {
            patch(db, *l, lvl + 1, 0)?;
        }
    }
    crate::db::failpoint::hit();
    db.file
        .set_len(committed)
        .map_err(|e| crate::Error::io(&db.path, e))?;
    db.file
        .sync_all()
        .map_err(|e| crate::Error::io(&db.path, e))?;
    let mut h = db.header;
    h.num_records = count;
    h.flags &= !format::FLAG_DIRTY;
    db.write_header(&h)?;
    db.sync()?;
    db.refresh()?;
    Ok(())
}

fn patch(db: &Twoskip, off: u64, slot: usize, value: u64) -> Result<()> {
    let (at, bytes) = db.slot_patch(off, slot, value)?;
    db.write_at(at, &bytes)
}

/// Checks order, every level's links and the record count (`cyr_dbtool ... consistent`).
pub(super) fn check(db: &mut Twoskip) -> Result<()> {
    let mut last: [Rec; LEVELS] = [db.dummy()?; LEVELS];
    let mut cur = last[0];
    let mut prev_key: Option<Vec<u8>> = None;
    let mut count = 0u64;
    while let Some(next) = db.next(&cur, 0)? {
        if next.rtype != rtype::RECORD {
            return Err(db.corrupt(format!("non-record in the list at {:#x}", next.offset)));
        }
        db.check_tail(&next)?;
        let key = db.key(&next)?;
        if let Some(p) = &prev_key {
            if (db.cmp)(p, key) != Ordering::Less {
                return Err(db.corrupt(format!("keys out of order at {:#x}", next.offset)));
            }
        }
        prev_key = Some(key.to_vec());
        for (lvl, l) in last
            .iter_mut()
            .enumerate()
            .take(next.level as usize)
            .skip(1)
        {
            let ptr = db.slot(l, lvl + 1)?;
            if ptr != next.offset {
                return Err(db.corrupt(format!(
                    "level {lvl} of {:#x} points to {ptr:#x}, expected {:#x}",
                    l.offset, next.offset
                )));
            }
            *l = next;
        }
        count += 1;
        cur = next;
    }
    for (lvl, l) in last.iter().enumerate().skip(1) {
        let ptr = db.slot(l, lvl + 1)?;
        if ptr != 0 {
            return Err(db.corrupt(format!(
                "level {lvl} of {:#x} points past the last key to {ptr:#x}",
                l.offset
            )));
        }
    }
    if count != db.end_records() {
        return Err(db.corrupt(format!(
            "header counts {} records, the list holds {count}",
            db.end_records()
        )));
    }
    Ok(())
}
