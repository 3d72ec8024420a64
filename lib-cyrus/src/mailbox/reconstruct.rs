//! `reconstruct` for one mailbox directory: rebuilds cyrus.index and cyrus.cache from the
//! message files while keeping what the old index still knows (flags, internaldate, modseqs,
//! uidvalidity), and reports each repair in the words Debian's 3.6.1 binary uses.
//!
//! What is repaired: a missing cyrus.header (written from what mailboxes.db knows, and the
//! index started again, as Cyrus does), an unreadable or missing index (a fresh one is started and every file
//! is added), records whose CRC is bad (dropped; their file is then "rediscovered" and
//! appended under a new UID, as Cyrus does), records whose file is gone (expunged and marked
//! unlinked), cache records that are missing or fail their CRC (re-parsed and appended to
//! the cache), message files the index does not know, and the header's counters.
//! Message files are never deleted: a rediscovered file is linked under its new name before
//! the old name goes. The new cache is written whole, then the index, each by rename, so a
//! crash leaves either the old pair or the new one.

use crate::db::lock::{self, LockKind};
use crate::error::{Error, Result};
use crate::mailbox::cache::{self, CacheRecord};
use crate::mailbox::header::Header;
use crate::mailbox::index::{
    self, sync_crc_basic, sync_crc_virtannot, IndexHeader, IndexRecord, InternalFlags, SystemFlags,
};
use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

/// What the caller asked for (the tool's flags).
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// `-n`: report only, write nothing.
    pub dry_run: bool,
    /// `-s`: do not stat message files of records whose cache is sound.
    pub no_stat: bool,
    /// `-G`: re-parse every message and check its GUID and cache record.
    pub reparse: bool,
    /// `-R`: a file whose GUID is not its record's is appended under a new UID.
    pub upgrade_uid: bool,
    /// What to do about files in the directory that are neither messages nor Cyrus's.
    pub odd: OddFiles,
}

/// What becomes of odd files (`-o`, `-O`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OddFiles {
    /// Report each, with a hint (the default).
    #[default]
    Report,
    /// Say nothing (`-o`).
    Ignore,
    /// Report and delete each (`-O`; not under `-n`, unlike Cyrus 3.6.1).
    Delete,
}

/// The old index as far as it can be read: its header and its sound records.
struct OldIndex {
    header: IndexHeader,
    records: Vec<IndexRecord>,
    /// Whether a record was dropped (Cyrus then repacks: a new generation).
    dropped: bool,
}

fn read_old_index(path: &Path, bytes: &[u8]) -> Result<OldIndex> {
    let header = IndexHeader::decode(bytes, path)?;
    let rsize = index::record_size(header.minor_version).unwrap_or(0);
    let start = header.start_offset as usize;
    if rsize == 0 || header.record_size as usize != rsize {
        return Err(Error::corrupt(path, "cyrus.index: bad record size"));
    }
    // A file cut short of its records is not trusted at all, as Cyrus does not trust it:
    // the index is started again rather than have the lost records' files renumbered.
    let body = (header.num_records as usize)
        .checked_mul(rsize)
        .and_then(|len| bytes.get(start..start.checked_add(len)?))
        .ok_or_else(|| Error::corrupt(path, "cyrus.index: file shorter than its records"))?;
    let mut records: Vec<IndexRecord> = Vec::new();
    let mut dropped = false;
    for chunk in body.chunks_exact(rsize).take(header.num_records as usize) {
        let r = match IndexRecord::decode(chunk, header.minor_version, path) {
            Ok(r) => r,
            // A record failing its CRC is not trusted; its file comes back as a new UID.
            Err(_) => {
                dropped = true;
                continue;
            }
        };
        if records.last().is_some_and(|l| l.uid >= r.uid) || r.uid == 0 {
            dropped = true;
            continue;
        }
        records.push(r);
    }
    Ok(OldIndex {
        header,
        records,
        dropped,
    })
}

/// Opens cyrus.index and locks it (shared for a dry run, else exclusive), returning the
/// locked file and its bytes read through that same descriptor: closing any other
/// descriptor of the file would drop this process's fcntl lock.
fn lock_index(path: &Path, dry_run: bool) -> std::io::Result<(File, Vec<u8>)> {
    use std::io::{Read, Seek};
    let open = |p: &Path| OpenOptions::new().read(true).write(!dry_run).open(p);
    let mut f = open(path)?;
    let kind = if dry_run {
        LockKind::Shared
    } else {
        LockKind::Exclusive
    };
    lock::lock_reopen(&mut f, path, kind, open)?;
    let mut bytes = Vec::new();
    f.seek(std::io::SeekFrom::Start(0))?;
    f.read_to_end(&mut bytes)?;
    Ok((f, bytes))
}

/// An I/O error as strerror(3) words it, without Rust's "(os error N)".
fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// The UIDs of the `<uid>.` files in `dir`, and the other plain files in it that are not
/// Cyrus's own `cyrus.*` files (the "odd" ones), in directory order as Cyrus reports them.
fn scan_dir(dir: &Path) -> Result<(BTreeSet<u32>, Vec<std::path::PathBuf>)> {
    let mut uids = BTreeSet::new();
    let mut odd = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let e = e.map_err(|e| Error::io(dir, e))?;
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            continue;
        }
        let os = e.file_name();
        let name = os.to_string_lossy();
        if name.starts_with("cyrus.") {
            continue;
        }
        let uid = name
            .strip_suffix('.')
            .filter(|n| !n.is_empty() && !n.starts_with('0'))
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse::<u32>().ok());
        match uid {
            Some(u) => {
                uids.insert(u);
            }
            None => odd.push(e.path()),
        }
    }
    Ok((uids, odd))
}

fn mtime(path: &Path) -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path)
        .map(|m| u32::try_from(m.mtime()).unwrap_or(0))
        .unwrap_or(0)
}

fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!(
        "{}.NEW",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    let mut f = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    f.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
    f.sync_all().map_err(|e| Error::io(&tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// What the caller must do besides printing: mailboxes.db's entry follows the index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The uidvalidity a rebuilt-from-nothing index got, when it is not the entry's.
    pub new_uidvalidity: Option<u32>,
    /// The mailbox could not be checked (the reason is in the lines); Cyrus then does not
    /// print its name.
    pub failed: bool,
    /// The quota root and how its usage moved (by `quota::Resource::index`), when the
    /// repair changed what the mailbox counts.
    pub quota_change: Option<(String, [i64; crate::quota::NUM_RESOURCES])>,
}

/// Adds (`add`) or takes away a live record's share of the counters and sync CRCs in `h`.
fn count(h: &mut IndexHeader, r: &IndexRecord, flags: &[Option<String>], add: bool) {
    if r.is_expunged() {
        return;
    }
    let step = |v: &mut u32| {
        *v = if add {
            v.wrapping_add(1)
        } else {
            v.wrapping_sub(1)
        }
    };
    let f = r.system_flags;
    if f.has(SystemFlags::ANSWERED) {
        step(&mut h.answered);
    }
    if f.has(SystemFlags::FLAGGED) {
        step(&mut h.flagged);
    }
    if f.has(SystemFlags::DELETED) {
        step(&mut h.deleted);
    }
    if !f.has(SystemFlags::SEEN) {
        step(&mut h.unseen);
    }
    step(&mut h.exists);
    let size = u64::from(r.size);
    h.quota_mailbox_used = if add {
        h.quota_mailbox_used.wrapping_add(size)
    } else {
        h.quota_mailbox_used.wrapping_sub(size)
    };
    h.synccrc_basic ^= sync_crc_basic(r, flags);
    h.synccrc_annot ^= sync_crc_virtannot(r);
}

/// What mailboxes.db and annotations.db say about the mailbox.
#[derive(Clone, Debug)]
pub struct Known {
    /// The uidvalidity in mailboxes.db.
    pub uidvalidity: u32,
    /// The bytes of the mailbox's annotations, when annotations.db could be read.
    pub annot_used: Option<u32>,
    /// The cyrus.header mailboxes.db implies (type, name, uniqueid, ACL), written when the
    /// mailbox has none.
    pub header: Header,
}

/// Reconstructs the mailbox `name` in `dir`, appending to `out` the lines to print. `now`
/// stamps what changes and is the uidvalidity of an index rebuilt from nothing (its
/// modseqs start again, so clients must resynchronise).
pub fn reconstruct(
    dir: &Path,
    name: &str,
    known: &Known,
    opts: Options,
    now: u32,
    out: &mut Vec<String>,
) -> Result<Outcome> {
    let mut outcome = Outcome::default();
    let (uidvalidity, annot_used) = (known.uidvalidity, known.annot_used);
    let index_path = dir.join(index::FILE_NAME);
    // Held to the end: the exclusive index lock keeps every other writer out until the new
    // index has replaced this one (they then find the new file and reopen it).
    let locked = lock_index(&index_path, opts.dry_run);
    let header_path = dir.join(crate::mailbox::header::FILE_NAME);
    let (header, header_crc, new_header) = match Header::read(dir) {
        Ok((h, crc)) => (h, crc, false),
        // With no header Cyrus writes one from mailboxes.db and, since the user flag names
        // went with it, starts the index again too; so do we.
        Err(_) if !header_path.exists() && !opts.dry_run => {
            let crc = known.header.write(dir)?;
            (known.header.clone(), crc, true)
        }
        Err(_) if !header_path.exists() => {
            out.push(format!(
                "{name}: System I/O error No such file or directory"
            ));
            outcome.failed = true;
            return Ok(outcome);
        }
        Err(e) => return Err(e),
    };
    let read = locked
        .as_ref()
        .map_err(|e| Error::io(&index_path, std::io::Error::new(e.kind(), e.to_string())))
        .and_then(|(_, bytes)| {
            if new_header {
                Err(Error::corrupt(&index_path, "cyrus.header was missing"))
            } else {
                read_old_index(&index_path, bytes)
            }
        });
    let old = match read {
        Ok(o) => Some(o),
        Err(e) => {
            if opts.dry_run {
                let why = match &locked {
                    Err(io) => format!("System I/O error {}", strerror(io)),
                    Ok(_) => e.to_string(),
                };
                out.push(format!("{name}: {why}"));
                outcome.failed = true;
                return Ok(outcome);
            }
            out.push(format!("{name}: failed to read index header"));
            None
        }
    };
    let fresh = old.is_none();
    let (mut ih, old_records, dropped) = match old {
        Some(o) => (o.header, o.records, o.dropped),
        None => {
            let fresh_uv = now.max(uidvalidity.wrapping_add(1));
            if fresh_uv != uidvalidity {
                outcome.new_uidvalidity = Some(fresh_uv);
            }
            let mut h = IndexHeader::new_mailbox(fresh_uv, 1, now);
            h.last_appenddate = 0;
            (h, Vec::new(), false)
        }
    };
    if ih.minor_version != index::MINOR_VERSION {
        return Err(Error::NotImplemented(
            "reconstructing an index older than minor version 17",
        ));
    }
    let cache_path = dir.join(cache::FILE_NAME);
    let mut cache_bytes = std::fs::read(&cache_path).unwrap_or_default();
    if cache_bytes.len() < 4 {
        cache_bytes = ih.generation_no.to_be_bytes().to_vec();
    }
    let (files, odd) = scan_dir(dir)?;
    for path in odd {
        match opts.odd {
            OddFiles::Ignore => {}
            OddFiles::Report => {
                out.push(format!("{name} odd file {}", path.display()));
                out.push("run reconstruct with -O to remove odd files".into());
            }
            OddFiles::Delete => {
                out.push(format!("{name} odd file {}", path.display()));
                if !opts.dry_run {
                    std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
                }
            }
        }
    }
    let mut modseq = ih.effective_highestmodseq();
    let mut changed = fresh;
    let mut repack = dropped;
    let mut records: Vec<IndexRecord> = Vec::with_capacity(old_records.len() + files.len());
    // UIDs whose file goes to a new UID (-R).
    let mut upgrade = BTreeSet::new();
    // The header as Cyrus keeps it while repairing: every change moves its counters, so
    // only counters that were wrong before the repair are reported.
    let mut base = ih.clone();
    let flags = &header.user_flags;

    // Appends a fresh cache record and points `rec` at it.
    let append_cache = |bytes: &mut Vec<u8>, c: &CacheRecord, rec: &mut IndexRecord| {
        rec.cache_offset = bytes.len() as u64;
        rec.cache_crc = c.crc();
        bytes.extend_from_slice(&c.encode());
    };

    for mut rec in old_records {
        let mpath = dir.join(format!("{}.", rec.uid));
        let unlinked = rec.internal_flags.has(InternalFlags::UNLINKED);
        if unlinked {
            records.push(rec);
            continue;
        }
        if !files.contains(&rec.uid) {
            out.push(format!("{name} uid {} not found", rec.uid));
            count(&mut base, &rec, flags, false);
            repack = true;
            rec.internal_flags.0 |= InternalFlags::EXPUNGED | InternalFlags::UNLINKED;
            modseq = modseq.saturating_add(1);
            rec.modseq = modseq;
            rec.last_updated = now;
            changed = true;
            records.push(rec);
            continue;
        }
        let cache_ok =
            CacheRecord::read_checked(&cache_bytes, rec.cache_offset, rec.cache_crc, &cache_path)
                .ok();
        let size_ok = opts.no_stat
            || std::fs::metadata(&mpath)
                .map(|m| m.len() == u64::from(rec.size))
                .unwrap_or(false);
        if cache_ok.is_some() && size_ok && !opts.reparse {
            records.push(rec);
            continue;
        }
        let msg = match std::fs::read(&mpath) {
            Ok(m) => m,
            Err(e) => return Err(Error::io(&mpath, e)),
        };
        let parsed = crate::message::parse(&msg);
        if parsed.guid != rec.guid && !rec.guid.is_null() {
            // The file is not the message the index describes. Without -R both are left
            // alone; with it the record goes and the file comes back under a new UID.
            out.push(format!("{name} uid {} guid mismatch", rec.uid));
            if !opts.upgrade_uid {
                if !opts.dry_run {
                    out.push("run reconstruct with -R to fix or -U to remove".into());
                }
                records.push(rec);
                continue;
            }
            out.push(format!("{name} uid {} marking for uid upgrade", rec.uid));
            count(&mut base, &rec, flags, false);
            upgrade.insert(rec.uid);
            rec.internal_flags.0 |= InternalFlags::EXPUNGED | InternalFlags::UNLINKED;
            modseq = modseq.saturating_add(1);
            rec.modseq = modseq;
            rec.last_updated = now;
            changed = true;
            records.push(rec);
            continue;
        }
        let mut fixed = rec.clone();
        parsed.fill(&mut fixed);
        fixed.cache_offset = rec.cache_offset;
        if cache_ok.as_ref() == Some(&parsed.cache) && fixed == rec {
            records.push(rec);
            continue;
        }
        if cache_ok.as_ref() != Some(&parsed.cache) {
            let old_crc = rec.cache_crc;
            append_cache(&mut cache_bytes, &parsed.cache, &mut fixed);
            out.push(format!(
                "{name} rewrote cache for {} (offset 0 to {}, crc {} to {}/{})",
                fixed.uid, fixed.cache_offset, old_crc, fixed.cache_crc, fixed.cache_crc
            ));
            repack = true;
        }
        modseq = modseq.saturating_add(1);
        fixed.modseq = modseq;
        fixed.last_updated = now;
        changed = true;
        count(&mut base, &rec, flags, false);
        count(&mut base, &fixed, flags, true);
        records.push(fixed);
    }

    // Files the index does not know: above last_uid they are new messages; at or below it
    // (a record dropped for a bad CRC) they are appended under a new UID.
    let known: BTreeSet<u32> = records
        .iter()
        .map(|r| r.uid)
        .filter(|u| !upgrade.contains(u))
        .collect();
    let mut rediscovered = Vec::new();
    for &uid in files.iter().filter(|u| !known.contains(u)) {
        if uid > ih.last_uid {
            out.push(format!("{name} uid {uid} found - adding"));
            ih.last_uid = uid;
        } else {
            out.push(format!("{name} uid {uid} rediscovered - appending"));
            rediscovered.push(uid);
            continue;
        }
        add_file(
            dir,
            uid,
            uid,
            &mut records,
            &mut cache_bytes,
            &mut modseq,
            now,
        )?;
        if let Some(r) = records.last() {
            count(&mut base, r, flags, true);
        }
        changed = true;
    }
    for uid in rediscovered {
        let new_uid = ih.last_uid.saturating_add(1);
        if !opts.dry_run {
            let from = dir.join(format!("{uid}."));
            let to = dir.join(format!("{new_uid}."));
            std::fs::hard_link(&from, &to).map_err(|e| Error::io(&to, e))?;
            std::fs::remove_file(&from).map_err(|e| Error::io(&from, e))?;
        }
        ih.last_uid = new_uid;
        let src = if opts.dry_run { uid } else { new_uid };
        add_file(
            dir,
            src,
            new_uid,
            &mut records,
            &mut cache_bytes,
            &mut modseq,
            now,
        )?;
        if let Some(r) = records.last() {
            count(&mut base, r, flags, true);
        }
        changed = true;
    }
    records.sort_by_key(|r| r.uid);

    // The counters, recounted.
    let mut n = ih.clone();
    n.exists = 0;
    n.answered = 0;
    n.flagged = 0;
    n.deleted = 0;
    n.unseen = 0;
    n.quota_mailbox_used = 0;
    n.synccrc_basic = 0;
    n.synccrc_annot = index::SYNC_CRC_ANNOT_INITIAL;
    for r in &records {
        count(&mut n, r, flags, true);
    }
    if let Some(used) = annot_used {
        n.quota_annot_used = used;
    }
    // A fresh index starts from zero, so only its annotation usage is news.
    if fresh {
        base = IndexHeader {
            quota_annot_used: base.quota_annot_used,
            ..n.clone()
        };
    }
    report_counters(name, &base, &n, out);
    n.highestmodseq = modseq.max(n.highestmodseq);
    n.num_records = u32::try_from(records.len()).unwrap_or(u32::MAX);
    n.header_file_crc = header_crc;
    if repack {
        n.generation_no = n.generation_no.wrapping_add(1);
        if let Some(g) = cache_bytes.get_mut(..4) {
            g.copy_from_slice(&n.generation_no.to_be_bytes());
        }
    }
    changed |= n != ih;
    if opts.dry_run || !changed {
        return Ok(outcome);
    }
    // The quota root follows what the repair changed. An index started again has no old
    // figures to move from, and adding its whole usage would count it twice (Cyrus does;
    // `quota -f` is the tool that recounts a root).
    if let (false, Some(root)) = (fresh, header.quotaroot.clone()) {
        let (before, after) = (crate::quota::usage_of(&ih), crate::quota::usage_of(&n));
        let mut diff = [0i64; crate::quota::NUM_RESOURCES];
        for ((d, a), b) in diff.iter_mut().zip(after).zip(before) {
            *d = a.saturating_sub(b);
        }
        if diff.iter().any(|&d| d != 0) {
            outcome.quota_change = Some((root, diff));
        }
    }
    // The cache first: the old index's offsets stay valid in it, since it only grew.
    write_new(&cache_path, &cache_bytes)?;
    let idx = index::Index { header: n, records };
    write_new(&index_path, &idx.encode())?;
    drop(locked);
    Ok(outcome)
}

/// Appends the file `src_uid` of `dir` as a new record `uid` with no flags.
fn add_file(
    dir: &Path,
    src_uid: u32,
    uid: u32,
    records: &mut Vec<IndexRecord>,
    cache_bytes: &mut Vec<u8>,
    modseq: &mut u64,
    now: u32,
) -> Result<()> {
    let path = dir.join(format!("{src_uid}."));
    let msg = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let parsed = crate::message::parse(&msg);
    *modseq = modseq.saturating_add(1);
    let mut rec = IndexRecord {
        uid,
        internaldate: mtime(&path),
        savedate: now,
        last_updated: now,
        modseq: *modseq,
        createdmodseq: *modseq,
        ..IndexRecord::default()
    };
    parsed.fill(&mut rec);
    rec.cache_offset = cache_bytes.len() as u64;
    cache_bytes.extend_from_slice(&parsed.cache.encode());
    records.push(rec);
    Ok(())
}

/// The "updating" lines for each header counter that was wrong (Cyrus fixes `unseen`
/// without a word).
fn report_counters(name: &str, old: &IndexHeader, new: &IndexHeader, out: &mut Vec<String>) {
    if old.quota_mailbox_used != new.quota_mailbox_used {
        out.push(format!(
            "{name} updating quota_mailbox_used: {} => {}",
            old.quota_mailbox_used, new.quota_mailbox_used
        ));
    }
    if old.quota_annot_used != new.quota_annot_used {
        out.push(format!(
            "{name} updating quota_annot_used: {} => {}",
            old.quota_annot_used, new.quota_annot_used
        ));
    }
    for (field, o, n) in [
        ("deleted", old.deleted, new.deleted),
        ("answered", old.answered, new.answered),
        ("flagged", old.flagged, new.flagged),
        ("exists", old.exists, new.exists),
        ("sync_crc", old.synccrc_basic, new.synccrc_basic),
        ("sync_crc_annot", old.synccrc_annot, new.synccrc_annot),
    ] {
        if o != n {
            out.push(format!("{name}: updating {field} {o} => {n}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mailbox::{LockMode, Mailbox};
    use std::path::PathBuf;

    /// A private copy of bob's INBOX from the reference spool.
    fn bob(tag: &str) -> PathBuf {
        let from = Path::new(env!("CARGO_MANIFEST_DIR")).join(
            "../../shared/reference/cyrus-3.6/spool/partition-default/uuid/h/x/hx0n4cd8d31fl37m97f64ehd",
        );
        let to =
            std::env::temp_dir().join(format!("cyrus-reconstruct-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&to);
        std::fs::create_dir_all(&to).unwrap();
        for e in std::fs::read_dir(&from).unwrap() {
            let p = e.unwrap().path();
            std::fs::write(to.join(p.file_name().unwrap()), std::fs::read(&p).unwrap()).unwrap();
        }
        to
    }

    fn known(uidvalidity: u32) -> Known {
        Known {
            uidvalidity,
            annot_used: None,
            header: Header::new("e", "user.bob", "hx0n4cd8d31fl37m97f64ehd"),
        }
    }

    fn run(dir: &Path, opts: Options) -> (Outcome, Vec<String>) {
        let mut out = Vec::new();
        let o = reconstruct(
            dir,
            "user.bob",
            &known(1795318723),
            opts,
            1_800_000_000,
            &mut out,
        )
        .unwrap();
        (o, out)
    }

    #[test]
    fn scan_dir_sorts_messages_from_odd_files() {
        let dir = bob("scan");
        for name in ["07.", "5.NEW", "x.", "cyrus.squat", "4"] {
            std::fs::write(dir.join(name), b"x").unwrap();
        }
        let (uids, odd) = scan_dir(&dir).unwrap();
        assert_eq!(uids.into_iter().collect::<Vec<_>>(), [1, 2, 3]);
        let mut odd: Vec<String> = odd
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        odd.sort();
        assert_eq!(odd, ["07.", "4", "5.NEW", "x."]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn healthy_mailbox_is_left_as_it_is() {
        let dir = bob("healthy");
        let index = std::fs::read(dir.join(index::FILE_NAME)).unwrap();
        let opts = Options {
            reparse: true,
            ..Options::default()
        };
        assert_eq!(run(&dir, opts), (Outcome::default(), vec![]));
        assert_eq!(index, std::fs::read(dir.join(index::FILE_NAME)).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn lost_cache_comes_back_identical() {
        let dir = bob("cache");
        let before = Mailbox::open(&dir, LockMode::Read).unwrap();
        let caches: Vec<CacheRecord> = before
            .records()
            .iter()
            .map(|r| before.cache_record(r).unwrap())
            .collect();
        drop(before);
        std::fs::remove_file(dir.join(cache::FILE_NAME)).unwrap();
        let (_, out) = run(&dir, Options::default());
        assert_eq!(out.len(), 3, "{out:?}");
        let after = Mailbox::open(&dir, LockMode::Read).unwrap();
        let again: Vec<CacheRecord> = after
            .records()
            .iter()
            .map(|r| after.cache_record(r).unwrap())
            .collect();
        assert_eq!(caches, again);
        assert_eq!(after.index_header().generation_no, 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn damaged_index_bytes_never_panic_nor_lose_files() {
        let dir = bob("fuzz");
        let good = std::fs::read(dir.join(index::FILE_NAME)).unwrap();
        for (i, at) in (0..good.len()).step_by(7).enumerate() {
            let mut bad = good.clone();
            bad[at] ^= 0x5a;
            if i % 3 == 0 {
                bad.truncate(at);
            }
            std::fs::write(dir.join(index::FILE_NAME), &bad).unwrap();
            let mut out = Vec::new();
            let _ = reconstruct(&dir, "user.bob", &known(1), Options::default(), 2, &mut out);
            let (uids, _) = scan_dir(&dir).unwrap();
            assert_eq!(uids.len(), 3, "a message file went missing at byte {at}");
            // What was written is sound: a second pass finds nothing.
            let mut again = Vec::new();
            reconstruct(
                &dir,
                "user.bob",
                &known(1),
                Options::default(),
                2,
                &mut again,
            )
            .unwrap();
            assert!(again.is_empty(), "byte {at}: {again:?}");
            std::fs::write(dir.join(index::FILE_NAME), &good).unwrap();
            let _ = std::fs::remove_file(dir.join(cache::FILE_NAME));
            std::fs::write(
                dir.join(cache::FILE_NAME),
                std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(
                    "../../shared/reference/cyrus-3.6/spool/partition-default/uuid/h/x/hx0n4cd8d31fl37m97f64ehd/cyrus.cache",
                ))
                .unwrap(),
            )
            .unwrap();
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
