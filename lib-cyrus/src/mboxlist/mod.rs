//! mailboxes.db in Cyrus 3.6's form: one `N<dbname>` record per mailbox name and one
//! `I<uniqueid>` record per mailbox, both DLIST values ([`entry`]), and where each mailbox's
//! files live ([`paths`]).
//!
//! [`MailboxList`] is the configured database. Every change writes the `N` and `I` records in
//! one transaction, as Cyrus's `mboxlist_update_entry` does: a rename pushes the old name onto
//! the `I` record's history, a delete removes only the `N` record (the `I` record stays as
//! history). Reverse-ACL (`A`) records are not maintained yet.

pub mod entry;
pub mod json;
pub mod paths;

pub use entry::{Acl, BadEntry, BaseType, FormerName, MbFlags, MbType, MboxEntry};

use crate::config::Config;
use crate::db::{self, Backend, Database, OpenFlags, Walk};
use crate::error::{Error, Result};
use crate::mboxname::{DbName, InternalName};
use std::path::{Path, PathBuf};

/// Which kinds of hidden entries a walk includes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Include {
    /// Tombstones (`d`).
    pub deleted: bool,
    /// Placeholders for missing ancestors (`i`).
    pub intermediate: bool,
    /// Reservations (`z`).
    pub reserved: bool,
}

impl Include {
    /// Every entry, hidden or not.
    pub const ALL: Include = Include {
        deleted: true,
        intermediate: true,
        reserved: true,
    };

    fn admits(&self, e: &MboxEntry) -> bool {
        (self.deleted || !e.mbtype.has(MbFlags::DELETED))
            && (self.intermediate || !e.mbtype.has(MbFlags::INTERMEDIATE))
            && (self.reserved || !e.mbtype.has(MbFlags::RESERVE))
    }
}

/// The open mailbox list.
pub struct MailboxList {
    db: Box<dyn Database>,
    path: PathBuf,
}

fn n_key(name: &DbName) -> Vec<u8> {
    let mut k = Vec::with_capacity(name.as_bytes().len() + 1);
    k.push(b'N');
    k.extend_from_slice(name.as_bytes());
    k
}

fn i_key(uniqueid: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(uniqueid.len() + 1);
    k.push(b'I');
    k.extend_from_slice(uniqueid.as_bytes());
    k
}

/// Seconds since the epoch, for `M` fields.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl MailboxList {
    /// The configured file: `mboxlist_db_path`, else `<configdirectory>/mailboxes.db`.
    pub fn default_path(config: &Config) -> PathBuf {
        match config.string("mboxlist_db_path").filter(|s| !s.is_empty()) {
            Some(p) => PathBuf::from(p),
            None => config.config_directory().join("mailboxes.db"),
        }
    }

    /// Opens (creating if needed) `file`, or the configured mailboxes.db, with the
    /// configured backend.
    pub fn open(config: &Config, file: Option<&Path>) -> Result<MailboxList> {
        let name = config.string("mboxlist_db").unwrap_or("twoskip");
        let backend =
            Backend::from_name(name).ok_or(Error::NotImplemented("this mboxlist_db backend"))?;
        let path = file.map_or_else(|| MailboxList::default_path(config), Path::to_path_buf);
        let flags = OpenFlags {
            create: true,
            mboxsort: false,
            fulldirhash: config.switch("fulldirhash"),
            ..OpenFlags::default()
        };
        let db = db::open(&path, backend, flags)?;
        Ok(MailboxList { db, path })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn corrupt(&self, what: impl std::fmt::Display) -> Error {
        Error::corrupt(&self.path, what.to_string())
    }

    /// The entry named `name`, hidden kinds included (Cyrus's "allow all" lookup).
    pub fn lookup(&mut self, name: &InternalName) -> Result<Option<MboxEntry>> {
        let dbname = name.to_dbname();
        let Some(v) = self.db.fetch(&n_key(&dbname))? else {
            return Ok(None);
        };
        MboxEntry::from_n_value(&dbname, &v)
            .map(Some)
            .map_err(|e| self.corrupt(format_args!("{name}: {e}")))
    }

    /// The entry named `name` unless it is a tombstone, intermediate or reservation.
    pub fn lookup_visible(&mut self, name: &InternalName) -> Result<Option<MboxEntry>> {
        Ok(self.lookup(name)?.filter(|e| !e.is_hidden()))
    }

    /// The entry of the mailbox with `uniqueid`, from its `I` record (with name history).
    pub fn lookup_by_uniqueid(&mut self, uniqueid: &str) -> Result<Option<MboxEntry>> {
        let Some(v) = self.db.fetch(&i_key(uniqueid))? else {
            return Ok(None);
        };
        MboxEntry::from_i_value(uniqueid, &v)
            .map(Some)
            .map_err(|e| self.corrupt(format_args!("I{uniqueid}: {e}")))
    }

    /// Calls `f` on every entry at or below `prefix` (all entries for `None`) in mailboxes.db
    /// order (a mailbox, then its children), skipping hidden kinds `include` leaves out.
    pub fn foreach(
        &mut self,
        prefix: Option<&InternalName>,
        include: Include,
        f: &mut dyn FnMut(MboxEntry) -> Result<Walk>,
    ) -> Result<()> {
        let dbprefix = prefix.map(InternalName::to_dbname);
        let key_prefix = dbprefix.as_ref().map_or_else(|| b"N".to_vec(), n_key);
        let path = self.path.clone();
        self.db.foreach(&key_prefix, &mut |key, value| {
            let rest = &key[key_prefix.len()..];
            // `user.al` must not match `user.alice`: only the name itself or a child.
            if dbprefix.is_some() && !(rest.is_empty() || rest[0] == 0x1f) {
                return Ok(Walk::Continue);
            }
            let dbname =
                DbName::from_bytes(&key[1..]).map_err(|e| Error::corrupt(&path, e.to_string()))?;
            let e = MboxEntry::from_n_value(&dbname, value)
                .map_err(|e| Error::corrupt(&path, format!("{dbname}: {e}")))?;
            if !include.admits(&e) {
                return Ok(Walk::Continue);
            }
            f(e)
        })
    }

    /// Every entry `include` admits, in order.
    pub fn all(&mut self, include: Include) -> Result<Vec<MboxEntry>> {
        let mut v = Vec::new();
        self.foreach(None, include, &mut |e| {
            v.push(e);
            Ok(Walk::Continue)
        })?;
        Ok(v)
    }

    /// Runs `f` inside one transaction: commit on success, abort on error.
    fn in_txn<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.db.begin()?;
        match f(self) {
            Ok(v) => {
                self.db.commit()?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.db.abort();
                Err(e)
            }
        }
    }

    /// Writes both records of `entry` as they are (mtime and history included).
    fn put(&mut self, entry: &MboxEntry) -> Result<()> {
        let dbname = entry.name.to_dbname();
        if let Some(old) = self.lookup(&entry.name)? {
            // A name that gets a new uniqueid drops the old I record only if it still
            // describes this name; otherwise it is another mailbox's history.
            if let Some(old_id) = old
                .uniqueid
                .filter(|id| Some(id) != entry.uniqueid.as_ref())
            {
                if let Some(i) = self.lookup_by_uniqueid(&old_id)? {
                    if i.name == entry.name {
                        self.db.delete(&i_key(&old_id))?;
                    }
                }
            }
        }
        self.db.store(&n_key(&dbname), &entry.n_value())?;
        if let Some(id) = &entry.uniqueid {
            self.db.store(&i_key(id), &entry.i_value())?;
        }
        Ok(())
    }

    /// Stores `entry` exactly as given (mtime and history included), in one transaction;
    /// what `ctl_mboxlist -u` does.
    pub fn store(&mut self, entry: &MboxEntry) -> Result<()> {
        self.in_txn(|l| l.put(entry))
    }

    /// Stores every entry exactly as given, in one transaction (a rename's tombstone and
    /// new entry must commit together).
    pub fn store_all(&mut self, entries: &[MboxEntry]) -> Result<()> {
        self.in_txn(|l| entries.iter().try_for_each(|e| l.put(e)))
    }

    /// Writes `entry` stamped with the current time, keeping the name history already in
    /// its `I` record when `entry` carries none.
    pub fn update(&mut self, entry: &mut MboxEntry) -> Result<()> {
        entry.mtime = now();
        self.in_txn(|l| {
            if entry.name_history.is_empty() {
                if let Some(id) = entry.uniqueid.clone() {
                    if let Some(i) = l.lookup_by_uniqueid(&id)? {
                        if i.name == entry.name {
                            entry.name_history = i.name_history;
                        }
                    }
                }
            }
            l.put(entry)
        })
    }

    /// Adds a new mailbox; fails with `Exists` if a visible entry has the name.
    pub fn create(&mut self, entry: &mut MboxEntry) -> Result<()> {
        if self.lookup_visible(&entry.name)?.is_some() {
            return Err(Error::Exists);
        }
        entry.mtime = now();
        self.in_txn(|l| l.put(entry))
    }

    /// Renames `old` to `new` (which must not be visible already), recording the old name in
    /// the history; returns the renamed entry.
    pub fn rename(&mut self, old: &InternalName, new: &InternalName) -> Result<MboxEntry> {
        let Some(cur) = self.lookup(old)? else {
            return Err(Error::NotFound);
        };
        if self.lookup_visible(new)?.is_some() {
            return Err(Error::Exists);
        }
        let t = now();
        let mut history = match &cur.uniqueid {
            Some(id) => self
                .lookup_by_uniqueid(id)?
                .map(|i| i.name_history)
                .unwrap_or_default(),
            None => Vec::new(),
        };
        history.insert(
            0,
            FormerName {
                name: old.clone(),
                mtime: t,
                uidvalidity: cur.uidvalidity,
                createdmodseq: cur.createdmodseq,
                foldermodseq: cur.foldermodseq,
                mbtype: cur.mbtype,
                partition: cur.partition.clone(),
            },
        );
        let mut moved = cur;
        moved.name = new.clone();
        moved.mtime = t;
        moved.name_history = history;
        self.in_txn(|l| {
            l.db.delete(&n_key(&old.to_dbname()))?;
            l.put(&moved)
        })?;
        Ok(moved)
    }

    /// Removes the `N` record of `name`; its `I` record stays as history.
    pub fn delete(&mut self, name: &InternalName) -> Result<()> {
        let key = n_key(&name.to_dbname());
        self.in_txn(|l| l.db.delete(&key))
    }
}

#[cfg(test)]
mod tests;
