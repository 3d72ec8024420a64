//! Mailbox and server annotations (METADATA): the global annotations.db.
//!
//! A key is `<mailbox uniqueid> NUL <entry> NUL <userid> NUL`: an empty uniqueid makes a
//! server annotation, an empty userid a `/shared` value, and the token `[.OwNeR.]` stands for
//! the mailbox owner's `/private` value, so that it follows the mailbox through renames. The
//! entry is stored without its `/shared` or `/private` prefix (`/comment`).
//!
//! A value is laid out as Cyrus 3.6 writes it on amd64: the value's length as a big-endian u32
//! in an 8-byte C `unsigned long` slot (4 length bytes, then 4 zero bytes), the value, NUL, the
//! content type `text/plain`, NUL, an 8-byte slot Cyrus no longer uses (zero), the modseq as a
//! big-endian u64, and one flags byte. The word-size dependence is Cyrus's; we match amd64.

use crate::config::Config;
use crate::db::{self, registry, Database, OpenFlags, Walk};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The userid written for the mailbox owner's private values.
pub const OWNER_TOKEN: &str = "[.OwNeR.]";
/// The flag of a tombstone: a removed value kept for replication (`ANNOTATE_FLAG_DELETED`).
pub const FLAG_DELETED: u8 = 1;
/// The content type every 3.6 value carries.
const CONTENT_TYPE: &[u8] = b"text/plain";

/// Whose value an annotation is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The `/shared` value everyone with the rights sees.
    Shared,
    /// The `/private` value of this user.
    Private(String),
}

/// Splits an IMAP METADATA entry name (`/private/comment`) into the scope it means for
/// `userid` and the entry as stored (`/comment`); `None` for names under neither prefix or
/// with nothing after it. The prefix is matched without regard to case, as RFC 5464 asks.
pub fn split_metadata_name(name: &str, userid: &str) -> Option<(Scope, String)> {
    let head = name.get(..8)?;
    let (scope, rest) = if head.eq_ignore_ascii_case("/private") {
        (Scope::Private(userid.to_string()), &name[8..])
    } else if head.get(..7)?.eq_ignore_ascii_case("/shared") {
        (Scope::Shared, &name[7..])
    } else {
        return None;
    };
    (rest.len() > 1 && rest.starts_with('/')).then(|| (scope, rest.to_string()))
}

/// What an annotation is attached to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// The server itself (`GETMETADATA ""`).
    Server,
    /// A mailbox, by uniqueid, with its owner's userid (`None` for shared mailboxes).
    Mailbox {
        /// The mailbox uniqueid.
        uniqueid: String,
        /// The owner, whose private values are stored under [`OWNER_TOKEN`].
        owner: Option<String>,
    },
}

impl Target {
    fn id(&self) -> &str {
        match self {
            Target::Server => "",
            Target::Mailbox { uniqueid, .. } => uniqueid,
        }
    }

    /// The userid column for `scope` on this target.
    fn stored_userid<'a>(&self, scope: &'a Scope) -> &'a str {
        match (self, scope) {
            (_, Scope::Shared) => "",
            (
                Target::Mailbox {
                    owner: Some(owner), ..
                },
                Scope::Private(u),
            ) if owner == u => OWNER_TOKEN,
            (_, Scope::Private(u)) => u,
        }
    }
}

/// A key taken apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnnotKey {
    /// The mailbox uniqueid, empty for server annotations.
    pub mboxid: String,
    /// The entry name without scope (`/comment`, `/specialuse`, `/vendor/...`).
    pub entry: String,
    /// The userid column: empty for shared, [`OWNER_TOKEN`] or a userid for private.
    pub userid: String,
}

impl AnnotKey {
    /// The stored key.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut k =
            Vec::with_capacity(self.mboxid.len() + self.entry.len() + self.userid.len() + 3);
        for part in [&self.mboxid, &self.entry, &self.userid] {
            k.extend_from_slice(part.as_bytes());
            k.push(0);
        }
        k
    }

    /// Parses a stored key: three NUL-terminated text fields.
    pub fn parse(key: &[u8]) -> std::result::Result<AnnotKey, String> {
        let body = key
            .strip_suffix(b"\0")
            .ok_or("annotation key does not end in NUL")?;
        let parts: Vec<&[u8]> = body.split(|&b| b == 0).collect();
        let [mboxid, entry, userid] = parts[..] else {
            return Err(format!("annotation key has {} fields", parts.len()));
        };
        let text = |b: &[u8]| {
            String::from_utf8(b.to_vec()).map_err(|_| "annotation key is not UTF-8".to_string())
        };
        Ok(AnnotKey {
            mboxid: text(mboxid)?,
            entry: text(entry)?,
            userid: text(userid)?,
        })
    }

    /// Whether this is a `/shared` value.
    pub fn is_shared(&self) -> bool {
        self.userid.is_empty()
    }
}

/// A stored value with its metadata.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AnnotValue {
    /// The value's bytes.
    pub value: Vec<u8>,
    /// The modseq of the last change.
    pub modseq: u64,
    /// Cyrus's record flags ([`FLAG_DELETED`]).
    pub flags: u8,
}

impl AnnotValue {
    /// Whether this is a tombstone, which readers treat as no value at all.
    pub fn is_tombstone(&self) -> bool {
        self.flags & FLAG_DELETED != 0 || self.value.is_empty()
    }

    /// The stored form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.value.len() + CONTENT_TYPE.len() + 31);
        let len = u32::try_from(self.value.len()).unwrap_or(u32::MAX);
        v.extend_from_slice(&len.to_be_bytes());
        v.extend_from_slice(&[0; 4]);
        v.extend_from_slice(&self.value);
        v.push(0);
        v.extend_from_slice(CONTENT_TYPE);
        v.push(0);
        v.extend_from_slice(&[0; 8]);
        v.extend_from_slice(&self.modseq.to_be_bytes());
        v.push(self.flags);
        v
    }

    /// Parses a stored value; older values without modseq or flags read as zero.
    pub fn parse(data: &[u8]) -> std::result::Result<AnnotValue, String> {
        let head = data.get(..8).ok_or("annotation value too short")?;
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let value = data
            .get(8..8 + len)
            .ok_or("annotation value shorter than its length")?;
        let rest = data.get(8 + len..).unwrap_or_default();
        let rest = rest
            .strip_prefix(b"\0")
            .ok_or("annotation value not NUL-terminated")?;
        let nul = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or("annotation content type not NUL-terminated")?;
        let tail = &rest[nul + 1..];
        let modseq = tail
            .get(8..16)
            .map(|b| {
                let mut m = [0u8; 8];
                m.copy_from_slice(b);
                u64::from_be_bytes(m)
            })
            .unwrap_or(0);
        let flags = tail.get(16).copied().unwrap_or(0);
        Ok(AnnotValue {
            value: value.to_vec(),
            modseq,
            flags,
        })
    }
}

/// The open annotations.db.
pub struct Annotations {
    db: Box<dyn Database>,
    path: PathBuf,
}

impl Annotations {
    /// Opens the configured annotations.db (`annotation_db`, `annotation_db_path`).
    pub fn open(config: &Config) -> Result<Annotations> {
        let spec = registry::find("annotations.db")
            .ok_or(Error::NotImplemented("annotations.db registry row"))?;
        let flags = OpenFlags {
            create: true,
            ..OpenFlags::default()
        };
        let db = registry::open(config, spec, flags)?;
        Ok(Annotations {
            db,
            path: registry::path(config, spec),
        })
    }

    /// Opens the annotations database at `path` with `backend`.
    pub fn open_path(path: &Path, backend: db::Backend, create: bool) -> Result<Annotations> {
        let flags = OpenFlags {
            create,
            ..OpenFlags::default()
        };
        Ok(Annotations {
            db: db::open(path, backend, flags)?,
            path: path.to_path_buf(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn key(target: &Target, entry: &str, scope: &Scope) -> Result<Vec<u8>> {
        if entry.contains('\0') || target.id().contains('\0') {
            return Err(Error::Usage("annotation names cannot hold NUL".into()));
        }
        Ok(AnnotKey {
            mboxid: target.id().to_string(),
            entry: entry.to_string(),
            userid: target.stored_userid(scope).to_string(),
        }
        .to_bytes())
    }

    /// The value of `entry` (`/comment`) on `target` for `scope`.
    pub fn get(
        &mut self,
        target: &Target,
        entry: &str,
        scope: &Scope,
    ) -> Result<Option<AnnotValue>> {
        let key = Self::key(target, entry, scope)?;
        match self.db.fetch(&key)? {
            None => Ok(None),
            Some(v) => AnnotValue::parse(&v)
                .map(|v| Some(v).filter(|v| !v.is_tombstone()))
                .map_err(|e| Error::corrupt(&self.path, e)),
        }
    }

    /// Sets `entry` on `target` for `scope`; an empty value removes it, as METADATA's NIL does.
    pub fn set(
        &mut self,
        target: &Target,
        entry: &str,
        scope: &Scope,
        value: &[u8],
        modseq: u64,
    ) -> Result<()> {
        let key = Self::key(target, entry, scope)?;
        if value.is_empty() {
            return self.db.delete(&key);
        }
        let v = AnnotValue {
            value: value.to_vec(),
            modseq,
            flags: 0,
        };
        self.db.store(&key, &v.to_bytes())
    }

    /// Every annotation on `target` (all scopes and users), in key order, tombstones left out.
    pub fn list(&mut self, target: &Target) -> Result<Vec<(AnnotKey, AnnotValue)>> {
        let mut prefix = target.id().as_bytes().to_vec();
        prefix.push(0);
        let mut all = self.list_prefix(&prefix)?;
        all.retain(|(_, v)| !v.is_tombstone());
        Ok(all)
    }

    /// Every record in the database, in key order, tombstones included.
    pub fn list_all(&mut self) -> Result<Vec<(AnnotKey, AnnotValue)>> {
        self.list_prefix(b"")
    }

    fn list_prefix(&mut self, prefix: &[u8]) -> Result<Vec<(AnnotKey, AnnotValue)>> {
        let mut out = Vec::new();
        let path = self.path.clone();
        self.db.foreach(prefix, &mut |k, v| {
            let key = AnnotKey::parse(k).map_err(|e| Error::corrupt(&path, e))?;
            let value = AnnotValue::parse(v).map_err(|e| Error::corrupt(&path, e))?;
            out.push((key, value));
            Ok(Walk::Continue)
        })?;
        Ok(out)
    }

    /// Removes every annotation of the mailbox `uniqueid` (when the mailbox is deleted).
    pub fn delete_mailbox(&mut self, uniqueid: &str) -> Result<()> {
        if uniqueid.is_empty() {
            return Err(Error::Usage("a mailbox uniqueid is required".into()));
        }
        let mut prefix = uniqueid.as_bytes().to_vec();
        prefix.push(0);
        let keys: Vec<Vec<u8>> = self
            .list_prefix(&prefix)?
            .into_iter()
            .map(|(k, _)| k.to_bytes())
            .collect();
        self.db.begin()?;
        for k in &keys {
            if let Err(e) = self.db.delete(k) {
                let _ = self.db.abort();
                return Err(e);
            }
        }
        self.db.commit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_layout() {
        let v = AnnotValue {
            value: b"\\Sent".to_vec(),
            modseq: 0x0102,
            flags: 1,
        };
        let b = v.to_bytes();
        let mut want = vec![0, 0, 0, 5, 0, 0, 0, 0];
        want.extend_from_slice(b"\\Sent\0text/plain\0");
        want.extend_from_slice(&[0; 8]);
        want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 1, 2, 1]);
        assert_eq!(b, want);
        assert_eq!(AnnotValue::parse(&b).unwrap(), v);
        for bad in [&b""[..], &[0, 0, 0, 9, 0, 0, 0, 0, b'a'], &b[..9]] {
            assert!(AnnotValue::parse(bad).is_err());
        }
    }

    #[test]
    fn tombstones_read_as_absent() {
        let dir = std::env::temp_dir().join(format!("annot-tomb-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("annotations.db");
        let mut a = Annotations::open_path(&path, db::Backend::Twoskip, true).unwrap();
        let t = Target::Mailbox {
            uniqueid: "u".into(),
            owner: None,
        };
        let key = Annotations::key(&t, "/x", &Scope::Shared).unwrap();
        let tomb = AnnotValue {
            value: Vec::new(),
            modseq: 4,
            flags: FLAG_DELETED,
        };
        a.db.store(&key, &tomb.to_bytes()).unwrap();
        assert_eq!(a.get(&t, "/x", &Scope::Shared).unwrap(), None);
        assert!(a.list(&t).unwrap().is_empty());
        assert_eq!(a.list_all().unwrap().len(), 1);
        a.delete_mailbox("u").unwrap();
        assert!(a.list_all().unwrap().is_empty());
        drop(a);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn metadata_names() {
        let p = |n: &str| split_metadata_name(n, "bob");
        assert_eq!(
            p("/shared/comment"),
            Some((Scope::Shared, "/comment".into()))
        );
        assert_eq!(
            p("/PRIVATE/vendor/x"),
            Some((Scope::Private("bob".into()), "/vendor/x".into()))
        );
        for bad in [
            "/shared",
            "/shared/",
            "/sharedx",
            "/other/x",
            "",
            "/sh",
            "/privatex/y",
        ] {
            assert_eq!(p(bad), None, "{bad}");
        }
    }

    #[test]
    fn keys() {
        let t = Target::Mailbox {
            uniqueid: "u1".into(),
            owner: Some("alice".into()),
        };
        let k = |s: &Scope| Annotations::key(&t, "/comment", s).unwrap();
        assert_eq!(k(&Scope::Shared), b"u1\0/comment\0\0");
        assert_eq!(
            k(&Scope::Private("alice".into())),
            b"u1\0/comment\0[.OwNeR.]\0"
        );
        assert_eq!(k(&Scope::Private("bob".into())), b"u1\0/comment\0bob\0");
        let server = Annotations::key(&Target::Server, "/motd", &Scope::Shared).unwrap();
        assert_eq!(server, b"\0/motd\0\0");
        let parsed = AnnotKey::parse(&k(&Scope::Private("bob".into()))).unwrap();
        assert_eq!(parsed.userid, "bob");
        assert!(AnnotKey::parse(b"a\0b\0").is_err());
        assert!(AnnotKey::parse(b"a\0b\0c").is_err());
    }
}
