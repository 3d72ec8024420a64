//! The cyrusdb layer: one interface over the key/value file formats Cyrus 3.6 uses.
//!
//! A [`Database`] is an open file (or, for quotalegacy, a directory) of one backend. Operations
//! outside a transaction are each their own transaction, as with a NULL `tid` in Cyrus; between
//! [`Database::begin`] and [`Database::commit`]/[`Database::abort`] the write lock is held and
//! every operation sees the transaction's own writes. Keys are ordered by the backend's
//! comparator ([`compare`]); `foreach` visits keys in that order.
//!
//! Which backend a database uses comes from the `*_db` options (see [`Backend::from_name`]);
//! when the named backend cannot open a file, [`open`] sniffs the magic as Cyrus does.

pub mod compare;
pub mod failpoint;
pub mod flat;
pub mod lock;
pub mod mmap;
pub mod quotalegacy;
pub mod registry;
pub mod skiplist;
pub mod skipstamp;
#[cfg(test)]
pub(crate) mod testkit;
pub mod twoskip;

use crate::error::{Error, Result};
use std::io::{Read, Write};
use std::path::Path;

/// How a database is opened: Cyrus's `CYRUSDB_*` open flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenFlags {
    /// Create the file if it does not exist (`CYRUSDB_CREATE`).
    pub create: bool,
    /// Order keys with the mailbox-order comparator (`CYRUSDB_MBOXSORT`).
    pub mboxsort: bool,
    /// Never repack automatically after a commit (`CYRUSDB_NOCOMPACT`).
    pub nocompact: bool,
    /// Skip CRC checks on read (`CYRUSDB_NOCRC`).
    pub nocrc: bool,
    /// If the file is of another backend, convert it in place (`CYRUSDB_CONVERT`).
    pub convert: bool,
    /// The `fulldirhash` option, which quotalegacy's file paths depend on.
    pub fulldirhash: bool,
    /// Whether `virtdomains` is on or `userid` (not `off`): quotalegacy then files a root
    /// `domain!...` under `domain/`, as Cyrus does only with virtual domains.
    pub virtdomains: bool,
}

/// What a `foreach` callback tells the walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Walk {
    /// Go on to the next key.
    Continue,
    /// Stop here; `foreach` returns `Ok`.
    Stop,
}

/// The callback type of [`Database::foreach`]: key, value, then whether to go on.
pub type ForeachFn<'a> = dyn FnMut(&[u8], &[u8]) -> Result<Walk> + 'a;

/// One open cyrusdb database.
pub trait Database {
    /// The value stored under `key`, if any.
    fn fetch(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Starts a transaction if none is open, then fetches `key` under it, so that a
    /// read-modify-write cannot race another writer (Cyrus's `fetchlock`).
    fn fetchlock(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if !self.in_transaction() {
            self.begin()?;
        }
        self.fetch(key)
    }

    /// Calls `f` on every key starting with `prefix` (all keys for an empty prefix), in order.
    fn foreach(&mut self, prefix: &[u8], f: &mut ForeachFn<'_>) -> Result<()>;

    /// Sets `key` to `value`, replacing any previous value. Keys must not be empty.
    fn store(&mut self, key: &[u8], value: &[u8]) -> Result<()>;

    /// Removes `key`; removing a key that is not there is not an error.
    fn delete(&mut self, key: &[u8]) -> Result<()>;

    /// Starts a transaction: takes the write lock until commit or abort.
    fn begin(&mut self) -> Result<()>;

    /// Makes the transaction's writes durable and releases the lock.
    fn commit(&mut self) -> Result<()>;

    /// Drops the transaction's writes and releases the lock.
    fn abort(&mut self) -> Result<()>;

    /// Whether a transaction is open on this handle.
    fn in_transaction(&self) -> bool;

    /// Checks the file's internal invariants (`cyr_dbtool ... consistent`).
    fn consistent(&mut self) -> Result<()>;

    /// Flushes whatever the backend keeps outside its files (`cyrusdb_sync`). Every backend
    /// here syncs each commit before it returns, so by default there is nothing to do.
    fn sync(&mut self) -> Result<()> {
        Ok(())
    }

    /// Rewrites the file compactly, if the backend has such a thing (`repack`).
    fn repack(&mut self) -> Result<()> {
        Ok(())
    }

    /// Writes the backend's internal structure as text (`cyr_dbtool ... dump`).
    fn dump(&mut self, out: &mut dyn Write, detail: u32) -> Result<()>;
}

/// The cyrusdb backends, by the names imapd.conf and the tools use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// `twoskip`: the default for nearly every database in 3.6.
    Twoskip,
    /// `flat`: a sorted text file (subscriptions, user_deny.db).
    Flat,
    /// `quotalegacy`: one file per quota root under the config directory.
    Quotalegacy,
    /// `skiplist`: the older binary format, still used for conversations.db.
    Skiplist,
}

impl Backend {
    /// The backend with this configuration name (`twoskip`, `flat`, ...).
    pub fn from_name(name: &str) -> Option<Backend> {
        match name {
            "twoskip" => Some(Backend::Twoskip),
            "flat" => Some(Backend::Flat),
            "quotalegacy" => Some(Backend::Quotalegacy),
            "skiplist" => Some(Backend::Skiplist),
            _ => None,
        }
    }

    /// The configuration name of the backend.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Twoskip => "twoskip",
            Backend::Flat => "flat",
            Backend::Quotalegacy => "quotalegacy",
            Backend::Skiplist => "skiplist",
        }
    }

    /// The backend a file's first bytes identify, as Cyrus's `cyrusdb_detect` does (only the
    /// binary formats carry a magic).
    pub fn detect(path: &Path) -> Option<Backend> {
        let mut head = [0u8; 16];
        let mut f = std::fs::File::open(path).ok()?;
        f.read_exact(&mut head).ok()?;
        if head[..4] != [0xa1, 0x02, 0x8b, 0x0d] {
            return None;
        }
        match &head[4..16] {
            b"twoskip file" => Some(Backend::Twoskip),
            b"skiplist fil" => Some(Backend::Skiplist),
            _ => None,
        }
    }

    /// Opens `path` with this backend.
    pub fn open(self, path: &Path, flags: OpenFlags) -> Result<Box<dyn Database>> {
        Ok(match self {
            Backend::Twoskip => Box::new(twoskip::Twoskip::open(path, flags)?),
            Backend::Flat => Box::new(flat::Flat::open(path, flags)?),
            Backend::Quotalegacy => Box::new(quotalegacy::Quotalegacy::open(path, flags)?),
            Backend::Skiplist => Box::new(skiplist::Skiplist::open(path, flags)?),
        })
    }
}

/// Opens `path` with `backend`; if that fails on an existing file of another detectable
/// backend, opens it with the detected one instead, or converts it with `flags.convert`.
pub fn open(path: &Path, backend: Backend, flags: OpenFlags) -> Result<Box<dyn Database>> {
    match backend.open(path, flags) {
        Ok(db) => Ok(db),
        Err(first) => {
            let Some(found) = Backend::detect(path).filter(|&b| b != backend) else {
                return Err(first);
            };
            if flags.convert {
                convert(path, found, path, backend, flags)?;
                backend.open(path, flags)
            } else {
                found.open(path, flags)
            }
        }
    }
}

/// Copies every record of `from` (backend `from_kind`) into a new database `to` (backend
/// `to_kind`) in one transaction; `to` may be the same path, which is then replaced. `flags`
/// carries the configuration's `fulldirhash`/`virtdomains` to both sides.
pub fn convert(
    from: &Path,
    from_kind: Backend,
    to: &Path,
    to_kind: Backend,
    flags: OpenFlags,
) -> Result<()> {
    let base = OpenFlags {
        fulldirhash: flags.fulldirhash,
        virtdomains: flags.virtdomains,
        ..OpenFlags::default()
    };
    let mut src = from_kind.open(from, base)?;
    let mut records = Vec::new();
    src.foreach(b"", &mut |k, v| {
        records.push((k.to_vec(), v.to_vec()));
        Ok(Walk::Continue)
    })?;
    drop(src);
    let same = from == to;
    let target = if same {
        let mut name = to.as_os_str().to_owned();
        name.push(".CONVERT");
        std::path::PathBuf::from(name)
    } else {
        to.to_path_buf()
    };
    remove_existing(&target)?;
    let mut dst = to_kind.open(
        &target,
        OpenFlags {
            create: true,
            nocompact: true,
            ..base
        },
    )?;
    dst.begin()?;
    for (k, v) in &records {
        dst.store(k, v)?;
    }
    dst.commit()?;
    drop(dst);
    if same {
        std::fs::rename(&target, to).map_err(|e| Error::io(to, e))?;
    }
    Ok(())
}

fn remove_existing(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, e)),
    }
}
