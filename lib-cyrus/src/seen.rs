//! Per-user seen state: which messages a user who does not own a mailbox has read.
//!
//! The owner's `\Seen` lives in cyrus.index; everyone else's lives in their own seen database
//! (`seen.db` beside the user's other files, backend `seenstate_db`, twoskip by default),
//! keyed by the mailbox's uniqueid. A value is the text `1 <lastread> <lastuid> <lastchange>
//! <uids>` where `<uids>` is a compressed IMAP sequence set (`1:5,7`). [`SeqSet`] parses and
//! prints that set the way Cyrus does, so a value read and written back keeps its bytes.
//! [`user_db_path`] finds any per-user file, following the layout of the user's INBOX.

use crate::config::Config;
use crate::db::{self, Backend, Database, OpenFlags, Walk};
use crate::error::{Error, Result};
use crate::mboxlist::paths::user_file;
use crate::mboxlist::MailboxList;
use crate::mboxname::{MbName, Namespace};
use std::fmt;
use std::path::{Path, PathBuf};

/// The value version Cyrus 3.6 writes.
const SEEN_VERSION: u32 = 1;

/// A set of UIDs as ordered, disjoint, non-adjacent inclusive ranges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeqSet {
    ranges: Vec<(u32, u32)>,
}

impl SeqSet {
    /// The empty set.
    pub fn new() -> SeqSet {
        SeqSet::default()
    }

    /// Parses `1:3,5,9:7`; ranges may come in any order and either direction. `*` and zero
    /// are refused: a stored set names real UIDs.
    pub fn parse(s: &str) -> std::result::Result<SeqSet, String> {
        let mut ranges = Vec::new();
        if s.is_empty() {
            return Ok(SeqSet::new());
        }
        for part in s.split(',') {
            let num = |t: &str| -> std::result::Result<u32, String> {
                match t.parse::<u32>() {
                    Ok(n) if n > 0 && t.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
                    _ => Err(format!("bad number {t:?} in sequence set {s:?}")),
                }
            };
            let (a, b) = match part.split_once(':') {
                Some((a, b)) => (num(a)?, num(b)?),
                None => {
                    let n = num(part)?;
                    (n, n)
                }
            };
            ranges.push((a.min(b), a.max(b)));
        }
        // Sorting then merging keeps a hostile value of many small ranges at n log n.
        ranges.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
        for (a, b) in ranges {
            match merged.last_mut() {
                Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        Ok(SeqSet { ranges: merged })
    }

    /// Adds every UID from `lo` to `hi` inclusive.
    pub fn add_range(&mut self, lo: u32, hi: u32) {
        let (lo, hi) = (lo.min(hi), lo.max(hi));
        let mut merged = (lo, hi);
        let mut out = Vec::with_capacity(self.ranges.len() + 1);
        let mut placed = false;
        for &(a, b) in &self.ranges {
            // Ranges that touch (b + 1 == lo) merge, as Cyrus prints 1:3 for 1,2,3.
            if b.saturating_add(1) < merged.0 {
                out.push((a, b));
            } else if a > merged.1.saturating_add(1) {
                if !placed {
                    out.push(merged);
                    placed = true;
                }
                out.push((a, b));
            } else {
                merged = (merged.0.min(a), merged.1.max(b));
            }
        }
        if !placed {
            out.push(merged);
        }
        self.ranges = out;
    }

    /// Adds one UID.
    pub fn add(&mut self, uid: u32) {
        self.add_range(uid, uid);
    }

    /// Removes one UID.
    pub fn remove(&mut self, uid: u32) {
        let mut out = Vec::with_capacity(self.ranges.len() + 1);
        for &(a, b) in &self.ranges {
            if uid < a || uid > b {
                out.push((a, b));
                continue;
            }
            if a < uid {
                out.push((a, uid - 1));
            }
            if uid < b {
                out.push((uid + 1, b));
            }
        }
        self.ranges = out;
    }

    /// Whether `uid` is in the set.
    pub fn contains(&self, uid: u32) -> bool {
        self.ranges.iter().any(|&(a, b)| a <= uid && uid <= b)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The ranges, lowest first.
    pub fn ranges(&self) -> &[(u32, u32)] {
        &self.ranges
    }
}

impl fmt::Display for SeqSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &(a, b)) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if a == b {
                write!(f, "{a}")?;
            } else {
                write!(f, "{a}:{b}")?;
            }
        }
        Ok(())
    }
}

/// One mailbox's seen state for one user.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeenEntry {
    /// When the user last read the mailbox (seconds since the epoch).
    pub lastread: i64,
    /// The highest UID when the user last read it.
    pub lastuid: u32,
    /// When the entry last changed.
    pub lastchange: i64,
    /// The UIDs the user has seen.
    pub seenuids: SeqSet,
}

impl SeenEntry {
    /// Parses a stored value (`1 <lastread> <lastuid> <lastchange> <uids>`). Like Cyrus, runs
    /// of blanks between fields are accepted, and a UID set that does not parse is dropped
    /// (read as empty) rather than failing the whole entry; a wrong version is an error.
    pub fn parse(value: &[u8]) -> std::result::Result<SeenEntry, String> {
        let text = std::str::from_utf8(value).map_err(|_| "seen value is not text".to_string())?;
        let mut rest = text;
        let mut field = |what: &str| -> std::result::Result<&str, String> {
            let trimmed = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
            let end = trimmed
                .find(|c: char| c.is_ascii_whitespace())
                .unwrap_or(trimmed.len());
            if end == 0 {
                return Err(format!("seen value {text:?} lacks {what}"));
            }
            rest = &trimmed[end..];
            Ok(&trimmed[..end])
        };
        if field("a version")? != SEEN_VERSION.to_string() {
            return Err(format!("seen value {text:?} has unknown version"));
        }
        let bad = |what: &str| format!("seen value {text:?}: bad {what}");
        let lastread = field("lastread")?
            .parse::<i64>()
            .map_err(|_| bad("lastread"))?;
        let lastuid = field("lastuid")?
            .parse::<u32>()
            .map_err(|_| bad("lastuid"))?;
        let lastchange = field("lastchange")?
            .parse::<i64>()
            .map_err(|_| bad("lastchange"))?;
        let uids = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
        let seenuids = SeqSet::parse(uids).unwrap_or_default();
        Ok(SeenEntry {
            lastread,
            lastuid,
            lastchange,
            seenuids,
        })
    }

    /// The stored form of the entry.
    pub fn to_bytes(&self) -> Vec<u8> {
        format!(
            "{SEEN_VERSION} {} {} {} {}",
            self.lastread, self.lastuid, self.lastchange, self.seenuids
        )
        .into_bytes()
    }
}

/// The path of `userid`'s per-user file `suffix` (`seen`, `sub`, ...): under the uniqueid of
/// their INBOX when it has one in mailboxes.db, else the by-name legacy path.
pub fn user_db_path(config: &Config, userid: &str, suffix: &str) -> Result<PathBuf> {
    user_db_path_in(
        config,
        &mut MailboxList::open(config, None)?,
        userid,
        suffix,
    )
}

/// [`user_db_path`] with a mailbox list the caller already has open.
pub fn user_db_path_in(
    config: &Config,
    mboxlist: &mut MailboxList,
    userid: &str,
    suffix: &str,
) -> Result<PathBuf> {
    let ns = Namespace::from_config(config, true);
    let inbox = MbName::from_userid(userid, &ns).map_err(|e| Error::Usage(e.to_string()))?;
    let deleted = config.string("deletedprefix").unwrap_or("DELETED");
    let name = inbox
        .to_internal(deleted)
        .map_err(|e| Error::Usage(e.to_string()))?;
    let entry = mboxlist.lookup(&name)?;
    user_file(config, &inbox, entry.as_ref(), suffix)
        .ok_or_else(|| Error::Usage(format!("{userid} has no per-user files")))
}

/// A user's open seen database.
pub struct SeenDb {
    db: Box<dyn Database>,
    path: PathBuf,
}

impl SeenDb {
    /// Opens `userid`'s seen database with the configured backend, creating it if asked.
    pub fn open(config: &Config, userid: &str, create: bool) -> Result<SeenDb> {
        let path = user_db_path(config, userid, "seen")?;
        let backend = config_backend(config, "seenstate_db", Backend::Twoskip)?;
        SeenDb::open_path(&path, backend, create)
    }

    /// Opens the seen database at `path` with `backend`.
    pub fn open_path(path: &Path, backend: Backend, create: bool) -> Result<SeenDb> {
        if create {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            }
        }
        let db = db::open(
            path,
            backend,
            OpenFlags {
                create,
                ..OpenFlags::default()
            },
        )?;
        Ok(SeenDb {
            db,
            path: path.to_path_buf(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The seen state for the mailbox `uniqueid`, if the user has any.
    pub fn read(&mut self, uniqueid: &str) -> Result<Option<SeenEntry>> {
        match self.db.fetch(uniqueid.as_bytes())? {
            None => Ok(None),
            Some(v) => SeenEntry::parse(&v)
                .map(Some)
                .map_err(|e| Error::corrupt(&self.path, e)),
        }
    }

    /// Stores the seen state for the mailbox `uniqueid`.
    pub fn write(&mut self, uniqueid: &str, entry: &SeenEntry) -> Result<()> {
        if uniqueid.is_empty() {
            return Err(Error::Usage("seen state needs a mailbox uniqueid".into()));
        }
        self.db.store(uniqueid.as_bytes(), &entry.to_bytes())
    }

    /// Forgets the seen state for the mailbox `uniqueid`.
    pub fn delete(&mut self, uniqueid: &str) -> Result<()> {
        self.db.delete(uniqueid.as_bytes())
    }

    /// Gives the mailbox `to` the state of `from` (a mailbox copied under a new uniqueid);
    /// nothing happens if `from` has none.
    pub fn copy(&mut self, from: &str, to: &str) -> Result<()> {
        if from == to {
            return Ok(());
        }
        match self.read(from)? {
            Some(e) => self.write(to, &e),
            None => Ok(()),
        }
    }

    /// Every entry, in key order, as (uniqueid, state).
    pub fn list(&mut self) -> Result<Vec<(String, SeenEntry)>> {
        let mut out = Vec::new();
        let path = self.path.clone();
        self.db.foreach(b"", &mut |k, v| {
            let id = String::from_utf8_lossy(k).into_owned();
            let entry = SeenEntry::parse(v).map_err(|e| Error::corrupt(&path, e))?;
            out.push((id, entry));
            Ok(Walk::Continue)
        })?;
        Ok(out)
    }
}

/// Removes `userid`'s seen database (when the user is deleted); a missing file is fine.
pub fn delete_user(config: &Config, userid: &str) -> Result<()> {
    let path = user_db_path(config, userid, "seen")?;
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(&path, e)),
        _ => Ok(()),
    }
}

/// The backend an imapd.conf option names, `default` when unset; an error for a backend this
/// build lacks.
pub(crate) fn config_backend(config: &Config, option: &str, default: Backend) -> Result<Backend> {
    match config.string(option) {
        None | Some("") => Ok(default),
        Some(name) => Backend::from_name(name).ok_or_else(|| Error::Config {
            file: config.path().to_path_buf(),
            line: 0,
            msg: format!("cyrusdb backend {name} not supported"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seqsets_compress_like_cyrus() {
        let table = [
            ("", ""),
            ("1", "1"),
            ("1,2,3", "1:3"),
            ("5,1:3", "1:3,5"),
            ("9:7,4", "4,7:9"),
            ("1:3,4:6,10", "1:6,10"),
            ("2:5,1:9", "1:9"),
        ];
        for (input, printed) in table {
            assert_eq!(
                SeqSet::parse(input).unwrap().to_string(),
                printed,
                "{input}"
            );
        }
        for bad in ["0", "a", "1:", ",", "1,,2", "*", "-1", "+3"] {
            assert!(SeqSet::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn seqset_add_remove() {
        let mut s = SeqSet::new();
        for uid in [5, 3, 4, 10, 1] {
            s.add(uid);
        }
        assert_eq!(s.to_string(), "1,3:5,10");
        s.add(2);
        assert_eq!(s.to_string(), "1:5,10");
        s.remove(3);
        assert_eq!(s.to_string(), "1:2,4:5,10");
        assert!(s.contains(4) && !s.contains(3) && !s.contains(11));
        s.add(u32::MAX);
        assert_eq!(s.to_string(), format!("1:2,4:5,10,{}", u32::MAX));
    }

    #[test]
    fn seqsets_agree_with_a_plain_set() {
        // A deterministic xorshift, so a failure reproduces.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..200 {
            let mut s = SeqSet::new();
            let mut model = std::collections::BTreeSet::new();
            for _ in 0..40 {
                let uid = (next() % 60) as u32 + 1;
                match next() % 3 {
                    0 => {
                        s.remove(uid);
                        model.remove(&uid);
                    }
                    1 => {
                        let hi = uid + (next() % 5) as u32;
                        s.add_range(hi, uid);
                        model.extend(uid..=hi);
                    }
                    _ => {
                        s.add(uid);
                        model.insert(uid);
                    }
                }
            }
            for uid in 1..70 {
                assert_eq!(s.contains(uid), model.contains(&uid), "{s} {uid}");
            }
            // Ranges never touch, so printing is canonical and parses back to the same set.
            for w in s.ranges().windows(2) {
                assert!(w[0].1 + 1 < w[1].0, "{s}");
            }
            assert_eq!(SeqSet::parse(&s.to_string()).unwrap(), s);
        }
    }

    #[test]
    fn entries_round_trip() {
        for v in [
            &b"1 1795318722 1 1795318722 1"[..],
            b"1 0 0 1795318722 1",
            b"1 5 9 6 1:3,5:9",
            b"1 5 9 6 ",
        ] {
            let e = SeenEntry::parse(v).unwrap();
            assert_eq!(e.to_bytes(), v);
        }
        for bad in [&b""[..], b"2 1 1 1 1", b"1 x 1 1 1", b"1 1 1", b"1 1 1 z 1"] {
            assert!(SeenEntry::parse(bad).is_err(), "{bad:?}");
        }
        // Extra blanks are fine; a broken UID set is dropped, as Cyrus "nukes" it.
        let e = SeenEntry::parse(b"1  5 9  6   1:3").unwrap();
        assert_eq!(e.to_bytes(), b"1 5 9 6 1:3");
        let e = SeenEntry::parse(b"1 5 9 6 1:x").unwrap();
        assert!(e.seenuids.is_empty());
    }
}
