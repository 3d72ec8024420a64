//! The duplicate delivery database (deliver.db): which message went where, and when.
//!
//! lmtpd records each delivery under `<message-id> NUL <to> NUL <date> NUL`, where `<to>` is
//! the target mailbox's uniqueid, or a tag starting with `.` for Sieve's own bookkeeping
//! (redirects, vacation replies, `.user@internal.sieve.`), and `<date>` is the message's Date
//! header. The value is the delivery time as a host-endian `time_t` followed by the UID as a
//! host-endian `unsigned long` (8 + 8 bytes on amd64; old records may lack the UID). Before
//! delivering, lmtpd checks for the key and drops the copy if it is there; `cyr_expire -E`
//! prunes records older than a cut-off; `ctl_deliver -d` prints them ([`DuplicateDb::dump`]).

use crate::config::Config;
use crate::db::{self, registry, Database, OpenFlags, Walk};
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A deliver.db key taken apart; each field is raw bytes without NULs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DupKey {
    /// The Message-ID (or another identifier lmtpd or Sieve chose).
    pub id: Vec<u8>,
    /// The mailbox uniqueid, or a `.`-prefixed Sieve tag.
    pub to: Vec<u8>,
    /// The message's Date header, as it was.
    pub date: Vec<u8>,
}

impl DupKey {
    /// A key from its three parts.
    pub fn new(id: impl Into<Vec<u8>>, to: impl Into<Vec<u8>>, date: impl Into<Vec<u8>>) -> DupKey {
        DupKey {
            id: id.into(),
            to: to.into(),
            date: date.into(),
        }
    }

    /// The stored key; an error if a part holds a NUL, which would make it ambiguous.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut k = Vec::with_capacity(self.id.len() + self.to.len() + self.date.len() + 3);
        for part in [&self.id, &self.to, &self.date] {
            if part.contains(&0) {
                return Err(Error::Usage("duplicate key parts cannot hold NUL".into()));
            }
            k.extend_from_slice(part);
            k.push(0);
        }
        Ok(k)
    }

    /// Parses a stored key: exactly three NUL-terminated fields.
    pub fn parse(key: &[u8]) -> Option<DupKey> {
        let body = key.strip_suffix(b"\0")?;
        let mut parts = body.split(|&b| b == 0);
        let k = DupKey::new(parts.next()?, parts.next()?, parts.next()?);
        parts.next().is_none().then_some(k)
    }

    /// Whether the target is a mailbox (not a `.`-prefixed Sieve tag).
    pub fn is_mailbox(&self) -> bool {
        self.to.first() != Some(&b'.')
    }
}

/// A stored value: when the delivery was marked, and the UID it got (0 if none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DupMark {
    /// Seconds since the epoch.
    pub mark: i64,
    /// The UID of the delivered message, 0 for Sieve tags.
    pub uid: u64,
}

impl DupMark {
    /// The stored form: host-endian `time_t` then host-endian `unsigned long`.
    pub fn to_bytes(&self) -> [u8; 16] {
        let mut v = [0u8; 16];
        v[..8].copy_from_slice(&self.mark.to_ne_bytes());
        v[8..].copy_from_slice(&self.uid.to_ne_bytes());
        v
    }

    /// Parses 8 (time only, as very old records) or 16 bytes.
    pub fn parse(data: &[u8]) -> Option<DupMark> {
        if data.len() != 8 && data.len() != 16 {
            return None;
        }
        let word = |b: &[u8]| {
            let mut w = [0u8; 8];
            w.copy_from_slice(b);
            w
        };
        Some(DupMark {
            mark: i64::from_ne_bytes(word(&data[..8])),
            uid: data.get(8..16).map_or(0, |b| u64::from_ne_bytes(word(b))),
        })
    }
}

/// What [`DuplicateDb::prune`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PruneStats {
    /// Records removed.
    pub deletions: usize,
    /// Records looked at.
    pub count: usize,
}

/// The open deliver.db.
pub struct DuplicateDb {
    db: Box<dyn Database>,
    path: PathBuf,
}

impl DuplicateDb {
    /// Opens (creating) `file`, or the configured deliver.db (`duplicate_db`,
    /// `duplicate_db_path`), with the configured backend.
    pub fn open(config: &Config, file: Option<&Path>) -> Result<DuplicateDb> {
        let spec =
            registry::find("deliver.db").ok_or(Error::NotImplemented("deliver.db registry row"))?;
        let flags = registry::flags(
            config,
            OpenFlags {
                create: true,
                ..OpenFlags::default()
            },
        );
        let path = file.map_or_else(|| registry::path(config, spec), Path::to_path_buf);
        let backend = registry::backend(config, spec)?;
        Ok(DuplicateDb {
            db: db::open(&path, backend, flags)?,
            path,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// When `key` was delivered, if it was.
    pub fn check(&mut self, key: &DupKey) -> Result<Option<DupMark>> {
        let Some(v) = self.db.fetch(&key.to_bytes()?)? else {
            return Ok(None);
        };
        DupMark::parse(&v)
            .map(Some)
            .ok_or_else(|| Error::corrupt(&self.path, "deliver.db value of a bad length"))
    }

    /// Records that `key` was delivered at `mark` as `uid`.
    pub fn mark(&mut self, key: &DupKey, mark: i64, uid: u64) -> Result<()> {
        self.db
            .store(&key.to_bytes()?, &DupMark { mark, uid }.to_bytes())
    }

    /// Every record whose Message-ID starts with `id` and whose target is a mailbox.
    pub fn find(&mut self, id: &[u8]) -> Result<Vec<(DupKey, DupMark)>> {
        let mut out = Vec::new();
        self.db.foreach(id, &mut |k, v| {
            if let (Some(key), Some(mark)) = (DupKey::parse(k), DupMark::parse(v)) {
                if key.is_mailbox() {
                    out.push((key, mark));
                }
            }
            Ok(Walk::Continue)
        })?;
        Ok(out)
    }

    /// Removes records marked before `now - seconds`, or before the cut-off `expire` gives a
    /// mailbox target (uniqueid -> cut-off time); unparsable records go too.
    pub fn prune(
        &mut self,
        now: i64,
        seconds: i64,
        expire: &HashMap<Vec<u8>, i64>,
    ) -> Result<PruneStats> {
        if seconds < 0 {
            return Err(Error::Usage(
                "must specify positive number of seconds".into(),
            ));
        }
        let cutoff = now - seconds;
        let mut stats = PruneStats::default();
        let mut doomed = Vec::new();
        self.db.foreach(b"", &mut |k, v| {
            stats.count += 1;
            let gone = match (DupKey::parse(k), DupMark::parse(v)) {
                (Some(key), Some(m)) => {
                    let limit = if key.is_mailbox() && !key.to.is_empty() {
                        expire.get(&key.to).copied().unwrap_or(cutoff)
                    } else {
                        cutoff
                    };
                    m.mark < limit
                }
                _ => true,
            };
            if gone {
                doomed.push(k.to_vec());
            }
            Ok(Walk::Continue)
        })?;
        self.db.begin()?;
        for k in &doomed {
            if let Err(e) = self.db.delete(k) {
                let _ = self.db.abort();
                return Err(e);
            }
        }
        self.db.commit()?;
        stats.deletions = doomed.len();
        Ok(stats)
    }

    /// Writes every record as `ctl_deliver -d` does and returns how many records there were
    /// (records whose key does not parse are counted but not printed, as in Cyrus).
    pub fn dump(&mut self, out: &mut dyn Write) -> Result<usize> {
        let mut count = 0;
        let path = self.path.clone();
        self.db.foreach(b"", &mut |k, v| {
            count += 1;
            let m = DupMark::parse(v)
                .ok_or_else(|| Error::corrupt(&path, "deliver.db value of a bad length"))?;
            if let Some(key) = DupKey::parse(k) {
                out.write_all(&dump_line(&key, m))
                    .map_err(|e| Error::io("stdout", e))?;
            }
            Ok(Walk::Continue)
        })?;
        Ok(count)
    }
}

/// Pads `s` with spaces to `width` bytes, as printf's `%-Ns` does.
fn pad(out: &mut Vec<u8>, s: &[u8], width: usize) {
    out.extend_from_slice(s);
    out.resize(out.len() + width.saturating_sub(s.len()), b' ');
}

/// One `ctl_deliver -d` line; an id with a byte outside printable ASCII is shown in hex.
pub fn dump_line(key: &DupKey, m: DupMark) -> Vec<u8> {
    let id: Vec<u8> = if key.id.iter().all(|b| (0x20..0x7f).contains(b)) {
        key.id.clone()
    } else {
        key.id
            .iter()
            .flat_map(|b| format!("{b:02X}").into_bytes())
            .collect()
    };
    let mut line = b"id: ".to_vec();
    pad(&mut line, &id, 40);
    line.extend_from_slice(b"\tto: ");
    pad(&mut line, &key.to, 20);
    line.extend_from_slice(format!("\tat: {}\tuid: {}\n", m.mark, m.uid).as_bytes());
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values() {
        let k = DupKey::new("<a@b>", "uid1", "Mon, 1 Jan 2024");
        let b = k.to_bytes().unwrap();
        assert_eq!(b, b"<a@b>\0uid1\0Mon, 1 Jan 2024\0");
        assert_eq!(DupKey::parse(&b), Some(k));
        assert_eq!(DupKey::parse(b"a\0b\0"), None);
        assert_eq!(DupKey::parse(b"a\0b\0c\0d\0"), None);
        assert_eq!(DupKey::parse(b"a\0b\0c"), None);
        assert!(DupKey::new("a\0", "b", "c").to_bytes().is_err());
        let m = DupMark {
            mark: 1795318722,
            uid: 11,
        };
        assert_eq!(DupMark::parse(&m.to_bytes()), Some(m));
        assert_eq!(DupMark::parse(&m.to_bytes()[..8]).map(|m| m.uid), Some(0));
        assert_eq!(DupMark::parse(&[0; 5]), None);
    }

    #[test]
    fn dump_lines() {
        let m = DupMark { mark: 5, uid: 2 };
        let line = dump_line(&DupKey::new("<x>", ".s", "d"), m);
        assert_eq!(
            line,
            format!("id: {:<40}\tto: {:<20}\tat: 5\tuid: 2\n", "<x>", ".s").into_bytes()
        );
        let line = dump_line(&DupKey::new(b"a\x01".to_vec(), "t", "d"), m);
        assert!(line.starts_with(b"id: 6101 "));
    }
}
