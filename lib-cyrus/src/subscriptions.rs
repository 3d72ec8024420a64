//! A user's subscriptions: the per-user `sub` database (backend `subscription_db`, flat by
//! default).
//!
//! Since 3.5 each subscribed mailbox is a key `N` + dbname with no value, except that the
//! user's own INBOX dbname at the front of a name is written as the literal `INBOX`, so a
//! user's file survives a rename of the user. The key `\x1fVER\x1f` with value `2` marks the
//! format. Older files keyed by internal name, without that marker, are rewritten in the new
//! form when opened for writing. Callers work in dbnames ([`Subscriptions::list`]) or in the
//! names a user types and sees ([`Subscriptions::list_external`]).

use crate::config::Config;
use crate::db::{self, Backend, Database, OpenFlags, Walk};
use crate::error::{Error, Result};
use crate::mboxname::{DbName, ExternalName, InternalName, MbName, Namespace, DB_SEP};
use crate::seen::{config_backend, user_db_path};
use std::path::{Path, PathBuf};

/// The key of the format marker.
pub const VERSION_KEY: &[u8] = b"\x1fVER\x1f";
/// The format this module writes.
pub const VERSION: &[u8] = b"2";
/// What a user's own INBOX dbname becomes in a key.
const INBOX: &str = "INBOX";

/// A user's open subscription database.
pub struct Subscriptions {
    db: Box<dyn Database>,
    path: PathBuf,
    /// The dbname of the user's INBOX, which keys abbreviate.
    inbox: DbName,
    deletedprefix: String,
}

fn bad(e: impl std::fmt::Display) -> Error {
    Error::Usage(e.to_string())
}

impl Subscriptions {
    /// Opens `userid`'s subscriptions with the configured backend; `create` makes the file
    /// (and upgrades an old one).
    pub fn open(config: &Config, userid: &str, create: bool) -> Result<Subscriptions> {
        let path = user_db_path(config, userid, "sub")?;
        let backend = config_backend(config, "subscription_db", Backend::Flat)?;
        let ns = Namespace::from_config(config, true);
        let deletedprefix = config.string("deletedprefix").unwrap_or("DELETED");
        let inbox = MbName::from_userid(userid, &ns)
            .map_err(bad)?
            .to_dbname(deletedprefix)
            .map_err(bad)?;
        Subscriptions::open_path(&path, backend, inbox, deletedprefix, create)
    }

    /// Opens the file at `path` with `backend` for the user whose INBOX is `inbox`.
    pub fn open_path(
        path: &Path,
        backend: Backend,
        inbox: DbName,
        deletedprefix: &str,
        create: bool,
    ) -> Result<Subscriptions> {
        if create {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            }
        }
        let flags = OpenFlags {
            create,
            mboxsort: true,
            ..OpenFlags::default()
        };
        let db = db::open(path, backend, flags)?;
        let mut subs = Subscriptions {
            db,
            path: path.to_path_buf(),
            inbox,
            deletedprefix: deletedprefix.to_string(),
        };
        if create {
            subs.upgrade()?;
        }
        Ok(subs)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Rewrites a pre-3.5 file (internal names as keys) in the current form; stamps an empty
    /// one with the format marker.
    fn upgrade(&mut self) -> Result<()> {
        if self.db.fetch(VERSION_KEY)?.is_some() {
            return Ok(());
        }
        let mut old = Vec::new();
        self.db.foreach(b"", &mut |k, _| {
            old.push(k.to_vec());
            Ok(Walk::Continue)
        })?;
        self.db.begin()?;
        let result = (|| {
            for k in &old {
                self.db.delete(k)?;
                let name = std::str::from_utf8(k)
                    .ok()
                    .and_then(|s| InternalName::new(s).ok());
                // A key that is no mailbox name is dropped, as Cyrus's upgrade skips it.
                if let Some(name) = name {
                    let key = self.key(&name.to_dbname());
                    self.db.store(&key, b"")?;
                }
            }
            self.db.store(VERSION_KEY, VERSION)
        })();
        match result {
            Ok(()) => self.db.commit(),
            Err(e) => {
                let _ = self.db.abort();
                Err(e)
            }
        }
    }

    /// The key for `name`: `N` + dbname, the user's INBOX written `INBOX`.
    pub fn key(&self, name: &DbName) -> Vec<u8> {
        let inbox = self.inbox.as_str();
        let s = name.as_str();
        let mut k = b"N".to_vec();
        match s.strip_prefix(inbox) {
            Some(rest) if rest.is_empty() || rest.starts_with(DB_SEP) => {
                k.extend_from_slice(INBOX.as_bytes());
                k.extend_from_slice(rest.as_bytes());
            }
            _ => k.extend_from_slice(s.as_bytes()),
        }
        k
    }

    /// The dbname a key stands for; `None` for the marker and anything not a name.
    pub fn name_of_key(&self, key: &[u8]) -> Option<DbName> {
        let s = std::str::from_utf8(key.strip_prefix(b"N")?).ok()?;
        match s.strip_prefix(INBOX) {
            Some(rest) if rest.is_empty() || rest.starts_with(DB_SEP) => {
                DbName::new(format!("{}{rest}", self.inbox.as_str())).ok()
            }
            _ => DbName::new(s).ok(),
        }
    }

    /// Whether the file is in the pre-3.5 form (keys are internal names, no marker).
    fn is_legacy(&mut self) -> Result<bool> {
        Ok(self.db.fetch(VERSION_KEY)?.is_none())
    }

    /// Every subscribed mailbox as a dbname, in the file's order (an old file read as is).
    pub fn list(&mut self) -> Result<Vec<DbName>> {
        let legacy = self.is_legacy()?;
        let mut keys = Vec::new();
        self.db
            .foreach(if legacy { b"" } else { b"N" }, &mut |k, _| {
                keys.push(k.to_vec());
                Ok(Walk::Continue)
            })?;
        Ok(keys
            .iter()
            .filter_map(|k| {
                if legacy {
                    let s = std::str::from_utf8(k).ok()?;
                    Some(InternalName::new(s).ok()?.to_dbname())
                } else {
                    self.name_of_key(k)
                }
            })
            .collect())
    }

    /// Whether `name` is subscribed.
    pub fn is_subscribed(&mut self, name: &DbName) -> Result<bool> {
        if self.is_legacy()? {
            return Ok(self.list()?.contains(name));
        }
        let key = self.key(name);
        Ok(self.db.fetch(&key)?.is_some())
    }

    /// Subscribes to `name` (whether or not the mailbox exists, as IMAP allows); an old
    /// file is upgraded first.
    pub fn add(&mut self, name: &DbName) -> Result<()> {
        self.upgrade()?;
        let key = self.key(name);
        self.db.store(&key, b"")
    }

    /// Unsubscribes from `name`; not being subscribed is not an error. An old file is
    /// upgraded first.
    pub fn remove(&mut self, name: &DbName) -> Result<()> {
        self.upgrade()?;
        let key = self.key(name);
        self.db.delete(&key)
    }

    /// Every subscribed mailbox as `userid` sees it through `ns`; names the user cannot
    /// name are left out.
    pub fn list_external(&mut self, ns: &Namespace, userid: &str) -> Result<Vec<ExternalName>> {
        let names = self.list()?;
        Ok(names
            .iter()
            .filter_map(|n| {
                MbName::from_dbname(n, &self.deletedprefix).to_external(ns, Some(userid))
            })
            .collect())
    }

    /// The dbname of a name `userid` typed.
    pub fn resolve(&self, ext: &ExternalName, ns: &Namespace, userid: &str) -> Result<DbName> {
        MbName::from_external(ext, ns, Some(userid))
            .map_err(bad)?
            .to_dbname(&self.deletedprefix)
            .map_err(bad)
    }

    /// Subscribes to a name as `userid` typed it.
    pub fn add_external(&mut self, ext: &ExternalName, ns: &Namespace, userid: &str) -> Result<()> {
        let name = self.resolve(ext, ns, userid)?;
        self.add(&name)
    }

    /// Unsubscribes from a name as `userid` typed it.
    pub fn remove_external(
        &mut self,
        ext: &ExternalName,
        ns: &Namespace,
        userid: &str,
    ) -> Result<()> {
        let name = self.resolve(ext, ns, userid)?;
        self.remove(&name)
    }
}

/// Removes `userid`'s subscription file (when the user is deleted); a missing file is fine.
pub fn delete_user(config: &Config, userid: &str) -> Result<()> {
    let path = user_db_path(config, userid, "sub")?;
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(&path, e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subs(dir: &Path, inbox: &str) -> Subscriptions {
        let inbox = DbName::new(inbox).unwrap();
        Subscriptions::open_path(&dir.join("x.sub"), Backend::Flat, inbox, "DELETED", true).unwrap()
    }

    #[test]
    fn keys_abbreviate_only_the_users_own_inbox() {
        let dir = std::env::temp_dir().join(format!("subs-keys-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let s = subs(&dir, "example.com\x1duser\x1fbob");
        let table = [
            ("example.com\x1duser\x1fbob", "NINBOX"),
            ("example.com\x1duser\x1fbob\x1fSent", "NINBOX\x1fSent"),
            (
                "example.com\x1duser\x1fbobby",
                "Nexample.com\x1duser\x1fbobby",
            ),
            ("user\x1fbob", "Nuser\x1fbob"),
            ("example.com\x1dshared", "Nexample.com\x1dshared"),
        ];
        for (name, key) in table {
            let n = DbName::new(name).unwrap();
            assert_eq!(s.key(&n), key.as_bytes(), "{name:?}");
            assert_eq!(s.name_of_key(key.as_bytes()), Some(n));
        }
        assert_eq!(s.name_of_key(VERSION_KEY), None);
        drop(s);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
