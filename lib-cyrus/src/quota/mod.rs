//! Quota roots and their records, as Cyrus 3.6 keeps them in the quota database (by default
//! `quotalegacy`, one file per root under `<configdirectory>/quota/`).
//!
//! A record is a DLIST `%(S (used limit) M (..) AS (..) NF (..) [SCAN %(..)] MODSEQ n)`: for
//! each resource the usage and, when there is one, the limit (storage limits in KiB, usage in
//! bytes). `SCAN` only exists while `quota -f` is counting. Records from before DLIST are
//! `used limit` text and still read. [`Quota`] parses and writes records byte for byte;
//! [`QuotaDb`] reads and updates them in transactions with Cyrus's modseq bumps; [`find_root`]
//! picks the root that governs a mailbox; [`usage_of`] is what one mailbox adds to its root.

#[cfg(test)]
mod tests;

use crate::config::Config;
use crate::db::{registry, Backend, Database, OpenFlags, Walk};
use crate::dlist::Dlist;
use crate::error::{Error, Result};
use crate::mailbox::index::{IndexHeader, Options};
use std::path::{Path, PathBuf};

/// Number of quota resources.
pub const NUM_RESOURCES: usize = 4;

/// One quota resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Resource {
    /// Message bytes; limits in KiB.
    Storage,
    /// Number of messages.
    Message,
    /// Annotation bytes; limits in KiB.
    AnnotationStorage,
    /// Number of mailboxes.
    NumFolders,
}

impl Resource {
    /// Every resource, in the order Cyrus stores and reports them.
    pub const ALL: [Resource; NUM_RESOURCES] = [
        Resource::Storage,
        Resource::Message,
        Resource::AnnotationStorage,
        Resource::NumFolders,
    ];

    /// Position in usage and limit arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The key in a quota record (`S`, `M`, `AS`, `NF`).
    pub fn db_name(self) -> &'static str {
        match self {
            Resource::Storage => "S",
            Resource::Message => "M",
            Resource::AnnotationStorage => "AS",
            Resource::NumFolders => "NF",
        }
    }

    /// The name in IMAP and in the `quota` report.
    pub fn name(self) -> &'static str {
        match self {
            Resource::Storage => "STORAGE",
            Resource::Message => "MESSAGE",
            Resource::AnnotationStorage => "X-ANNOTATION-STORAGE",
            Resource::NumFolders => "X-NUM-FOLDERS",
        }
    }

    /// How many units of usage one unit of limit is (1024 for the byte resources).
    pub fn unit(self) -> i64 {
        match self {
            Resource::Storage | Resource::AnnotationStorage => 1024,
            Resource::Message | Resource::NumFolders => 1,
        }
    }

    /// The resource with this IMAP name, case-insensitively.
    pub fn from_name(name: &str) -> Option<Resource> {
        Resource::ALL
            .into_iter()
            .find(|r| r.name().eq_ignore_ascii_case(name))
    }
}

/// A `quota -f` scan in progress: the last mailbox counted and the usage counted so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scan {
    /// The last mailbox added.
    pub mbox: String,
    /// Usage counted so far, by [`Resource::index`].
    pub used: [i64; NUM_RESOURCES],
}

/// One quota root's record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Quota {
    /// Usage by [`Resource::index`] (signed, as Cyrus keeps it).
    pub used: [i64; NUM_RESOURCES],
    /// Limits by [`Resource::index`]; `None` is unlimited.
    pub limits: [Option<i64>; NUM_RESOURCES],
    /// The `SCAN` sub-record, while `quota -f` runs.
    pub scan: Option<Scan>,
    /// Bumped on every write of a user's root.
    pub modseq: u64,
}

fn bad(what: &str) -> String {
    format!("bad quota record: {what}")
}

/// A usage or limit. Cyrus writes these signed values as unsigned 64-bit numbers (so `-3` is
/// stored as `18446744073709551613`) and casts them back when reading; both spellings parse.
fn signed(d: &Dlist) -> Option<i64> {
    let text = std::str::from_utf8(d.as_bytes()?).ok()?;
    text.parse::<i64>()
        .ok()
        .or_else(|| text.parse::<u64>().ok().map(|u| u as i64))
}

/// The number as Cyrus writes it: the two's-complement bits of a negative value, unsigned.
fn unsigned_text(n: i64) -> Dlist {
    Dlist::num(n as u64)
}

impl Quota {
    /// Parses a record (the DLIST form, or the older `used limit` text).
    pub fn parse(value: &[u8]) -> std::result::Result<Quota, String> {
        if value.first() == Some(&b'%') {
            Quota::parse_dlist(value)
        } else {
            Quota::parse_legacy(value)
        }
    }

    fn parse_dlist(value: &[u8]) -> std::result::Result<Quota, String> {
        let d = Dlist::parse(value).map_err(|e| e.to_string())?;
        let items = d.as_kvlist().ok_or_else(|| bad("not a key/value list"))?;
        let mut q = Quota::default();
        for (k, v) in items {
            let key = std::str::from_utf8(k).map_err(|_| bad("key not UTF-8"))?;
            if let Some(res) = Resource::ALL.into_iter().find(|r| r.db_name() == key) {
                let l = v.as_list().ok_or_else(|| bad("resource not a list"))?;
                let num = |i: usize| l.get(i).map(|x| signed(x).ok_or_else(|| bad("number")));
                if let Some(u) = num(0) {
                    q.used[res.index()] = u?;
                }
                // Cyrus stores unlimited as a missing limit; -1 is unlimited too.
                if let Some(lim) = num(1) {
                    q.limits[res.index()] = Some(lim?).filter(|&x| x >= 0);
                }
            } else if key == "SCAN" {
                let mut s = Scan::default();
                for (sk, sv) in sv_items(v)? {
                    if sk.as_slice() == b"MBOX" {
                        s.mbox = sv.as_str().ok_or_else(|| bad("SCAN MBOX"))?.to_string();
                    } else if let Some(res) = Resource::ALL
                        .into_iter()
                        .find(|r| r.db_name().as_bytes() == sk)
                    {
                        s.used[res.index()] = signed(sv).ok_or_else(|| bad("SCAN number"))?;
                    }
                }
                q.scan = Some(s);
            } else if key == "MODSEQ" {
                q.modseq = v.as_num().ok_or_else(|| bad("MODSEQ"))?;
            }
        }
        Ok(q)
    }

    /// The pre-DLIST form: storage usage and limit (`-1` unlimited), then optionally more
    /// `used limit` pairs for the following resources.
    fn parse_legacy(value: &[u8]) -> std::result::Result<Quota, String> {
        let text = std::str::from_utf8(value).map_err(|_| bad("not text"))?;
        let nums = text
            .split_ascii_whitespace()
            .map(|w| w.parse::<i64>().map_err(|_| bad("not a number")))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        if nums.len() < 2 {
            return Err(bad("too short"));
        }
        let mut q = Quota::default();
        for (i, pair) in nums.chunks(2).take(NUM_RESOURCES).enumerate() {
            q.used[i] = pair[0];
            q.limits[i] = pair.get(1).copied().filter(|&x| x >= 0);
        }
        Ok(q)
    }

    /// The record as Cyrus writes it.
    pub fn to_bytes(&self) -> Vec<u8> {
        let num = unsigned_text;
        let mut items: Vec<(Vec<u8>, Dlist)> = Resource::ALL
            .iter()
            .map(|r| {
                let mut l = vec![num(self.used[r.index()])];
                if let Some(lim) = self.limits[r.index()] {
                    l.push(num(lim));
                }
                (r.db_name().as_bytes().to_vec(), Dlist::List(l))
            })
            .collect();
        if let Some(s) = &self.scan {
            let mut kv = vec![(b"MBOX".to_vec(), Dlist::str(&s.mbox))];
            for r in Resource::ALL {
                kv.push((r.db_name().as_bytes().to_vec(), num(s.used[r.index()])));
            }
            items.push((b"SCAN".to_vec(), Dlist::KvList(kv)));
        }
        items.push((b"MODSEQ".to_vec(), Dlist::num(self.modseq)));
        Dlist::KvList(items).to_bytes()
    }
}

fn sv_items(v: &Dlist) -> std::result::Result<&[(Vec<u8>, Dlist)], String> {
    v.as_kvlist()
        .ok_or_else(|| bad("SCAN not a key/value list"))
}

/// Whether `name` is `root` or below it, at a hierarchy boundary (a domain's root `dom!`
/// covers the whole domain).
pub fn is_under(name: &str, root: &str) -> bool {
    match name.strip_prefix(root) {
        Some(rest) => rest.is_empty() || root.ends_with('!') || rest.starts_with('.'),
        None => false,
    }
}

/// The quota root that governs mailbox `name`: the longest of `roots` it lies under.
pub fn find_root<'a>(roots: &'a [String], name: &str) -> Option<&'a str> {
    roots
        .iter()
        .filter(|r| is_under(name, r))
        .max_by_key(|r| r.len())
        .map(String::as_str)
}

/// Whether `root` (internal, possibly `domain!`-prefixed) is a personal mailbox, whose
/// record writes bump the modseq.
pub fn is_user_root(root: &str) -> bool {
    let local = root.split_once('!').map_or(root, |(_, r)| r);
    local.starts_with("user.")
}

/// What a mailbox with this index header counts against its root, by [`Resource::index`];
/// nothing for a mailbox that is being deleted.
pub fn usage_of(ih: &IndexHeader) -> [i64; NUM_RESOURCES] {
    if ih.options.has(Options::MAILBOX_DELETED) {
        return [0; NUM_RESOURCES];
    }
    [
        i64::try_from(ih.quota_mailbox_used).unwrap_or(i64::MAX),
        i64::from(ih.exists),
        i64::from(ih.quota_annot_used),
        1,
    ]
}

/// A lock on a name in Cyrus's lock directory (`mboxname_lock`): the file
/// `<mboxname_lockpath>/<hash>/<name>.lock`, the lock path defaulting to
/// `<configdirectory>/lock`. Released on drop.
// This belongs with the mailbox layer once it takes name locks itself; it lives here because
// `quota -f` is the first user that must exclude Cyrus's own processes by name.
pub struct NameLock {
    _file: std::fs::File,
}

/// Takes Cyrus's name lock on `name` (a uniqueid, `*U*<userid>`, `$QUOTACHANGE`), shared or
/// exclusive, blocking while a conflicting one is held.
pub fn name_lock(config: &Config, name: &str, exclusive: bool) -> Result<NameLock> {
    let base = config
        .string("mboxname_lockpath")
        .filter(|p| !p.is_empty())
        .map_or_else(|| config.config_directory().join("lock"), PathBuf::from);
    let hash = crate::dirhash::dir_hash(name.as_bytes(), config.switch("fulldirhash"));
    let dir = base.join(char::from(hash).to_string());
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let path = dir.join(format!("{name}.lock"));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    let kind = if exclusive {
        crate::db::lock::LockKind::Exclusive
    } else {
        crate::db::lock::LockKind::Shared
    };
    crate::db::lock::lock(&file, kind).map_err(|e| Error::io(&path, e))?;
    Ok(NameLock { _file: file })
}

/// Cyrus's `$QUOTACHANGE` name lock, held exclusively while quota roots are listed and
/// recounted (Cyrus takes it around root creation, deletion and `quota -f`), so that Cyrus's
/// processes and ours exclude each other.
pub fn change_lock(config: &Config) -> Result<NameLock> {
    name_lock(config, "$QUOTACHANGE", true)
}

/// The hash directory of a quotalegacy name: that of its part after the first dot.
fn legacy_hash(name: &str) -> u8 {
    let rest = name.split_once('.').map_or(name, |(_, r)| r);
    crate::dirhash::dir_hash(rest.as_bytes(), false)
}

/// The quota database, opened with the configured backend.
pub struct QuotaDb {
    db: Box<dyn Database>,
    path: PathBuf,
    /// Set for quotalegacy without `fulldirhash`: walks by prefix look in one hash directory
    /// only (the value says whether `virtdomains` strips a `domain!` first).
    one_hash_dir: Option<bool>,
}

impl QuotaDb {
    /// Opens `quotas.db` as the configuration says (creating the directory if need be).
    pub fn open(config: &Config) -> Result<QuotaDb> {
        let spec = registry::find("quotas.db")
            .ok_or_else(|| Error::Usage("quotas.db not in the registry".into()))?;
        let flags = OpenFlags {
            create: true,
            ..OpenFlags::default()
        };
        let path = registry::path(config, spec);
        let db = registry::open(config, spec, flags)?;
        let legacy = registry::backend(config, spec)? == Backend::Quotalegacy;
        let one_hash_dir = (legacy && !config.switch("fulldirhash"))
            .then(|| registry::flags(config, flags).virtdomains);
        Ok(QuotaDb {
            db,
            path,
            one_hash_dir,
        })
    }

    /// Wraps an already open database (tests, other backends).
    pub fn from_db(db: Box<dyn Database>, path: &Path) -> QuotaDb {
        QuotaDb {
            db,
            path: path.to_path_buf(),
            one_hash_dir: None,
        }
    }

    fn decode(&self, root: &str, v: &[u8]) -> Result<Quota> {
        Quota::parse(v).map_err(|e| Error::corrupt(&self.path, format!("{root}: {e}")))
    }

    /// The record of `root`, read without a lock.
    pub fn read(&mut self, root: &str) -> Result<Option<Quota>> {
        match self.db.fetch(root.as_bytes())? {
            Some(v) => self.decode(root, &v).map(Some),
            None => Ok(None),
        }
    }

    /// The record of `root`, read inside a transaction (begun if none is open) so that a
    /// following [`QuotaDb::write`] cannot race another writer.
    pub fn read_locked(&mut self, root: &str) -> Result<Option<Quota>> {
        match self.db.fetchlock(root.as_bytes())? {
            Some(v) => self.decode(root, &v).map(Some),
            None => Ok(None),
        }
    }

    /// Writes `q` as the record of `root`. A user's root gets the next modseq first, as
    /// Cyrus does without conversations (with conversations Cyrus takes it from the user's
    /// counters, which this layer does not keep).
    pub fn write(&mut self, root: &str, q: &mut Quota) -> Result<()> {
        if is_user_root(root) {
            q.modseq += 1;
        }
        self.db.store(root.as_bytes(), &q.to_bytes())
    }

    /// The quota root of mailbox `name` as Cyrus finds it: `name` itself or its nearest
    /// ancestor that has a record, else the domain's own root (`domain!`).
    pub fn find_root(&mut self, name: &str) -> Result<Option<String>> {
        let (domain, local) = match name.split_once('!') {
            Some((d, l)) => (Some(d), l),
            None => (None, name),
        };
        let with_domain = |l: &str| match domain {
            Some(d) => format!("{d}!{l}"),
            None => l.to_string(),
        };
        let mut cand = local;
        loop {
            let key = with_domain(cand);
            if self.db.fetch(key.as_bytes())?.is_some() {
                return Ok(Some(key));
            }
            match cand.rfind('.') {
                Some(i) => cand = &cand[..i],
                None => break,
            }
        }
        if let Some(d) = domain {
            let key = format!("{d}!");
            if self.db.fetch(key.as_bytes())?.is_some() {
                return Ok(Some(key));
            }
        }
        Ok(None)
    }

    /// Removes the record of `root`.
    pub fn delete(&mut self, root: &str) -> Result<()> {
        self.db.delete(root.as_bytes())
    }

    /// Commits the open transaction, if any.
    pub fn commit(&mut self) -> Result<()> {
        if self.db.in_transaction() {
            self.db.commit()?;
        }
        Ok(())
    }

    /// Drops the open transaction, if any.
    pub fn abort(&mut self) -> Result<()> {
        if self.db.in_transaction() {
            self.db.abort()?;
        }
        Ok(())
    }

    /// Every root whose name starts with `prefix` (plain string prefix, as Cyrus matches),
    /// in database order.
    pub fn roots(&mut self, prefix: &str) -> Result<Vec<String>> {
        let mut v = Vec::new();
        self.db.foreach(prefix.as_bytes(), &mut |k, _| {
            v.push(String::from_utf8_lossy(k).into_owned());
            Ok(Walk::Continue)
        })?;
        if let Some(virtdomains) = self.one_hash_dir {
            // Cyrus's quotalegacy walk opens only the hash directory the prefix itself hashes
            // to, so `quota shared` misses `shared.team` (kept under `t/`); `quota` relies on
            // that, so the same roots are reported and fixed.
            let local = |s: &str| -> String {
                match s.split_once('!') {
                    Some((_, rest)) if virtdomains => rest.to_string(),
                    _ => s.to_string(),
                }
            };
            let p = local(prefix);
            if !p.is_empty() {
                let want = legacy_hash(&p);
                v.retain(|k| legacy_hash(&local(k)) == want);
            }
        }
        Ok(v)
    }

    /// Adds `diff` to the usage of `root` in one transaction (what an append or expunge does);
    /// a root without a record is left alone.
    pub fn update_used(&mut self, root: &str, diff: &[i64; NUM_RESOURCES]) -> Result<()> {
        let Some(mut q) = self.read_locked(root)? else {
            self.abort()?;
            return Ok(());
        };
        for (u, d) in q.used.iter_mut().zip(diff) {
            *u = u.saturating_add(*d);
        }
        match self.write(root, &mut q) {
            Ok(()) => self.commit(),
            Err(e) => {
                let _ = self.abort();
                Err(e)
            }
        }
    }
}
