//! `cyrus.header`: the per-mailbox file that names a mailbox and carries what the index cannot:
//! its type, internal name, uniqueid, quota root, ACL and the names of its user flags.
//!
//! The file is 115 bytes of magic followed, since Cyrus 3.0, by one DLIST key/value line
//! (`%(T e N user.alice I <uniqueid> Q user.alice A %(alice lrs…) U ($Label1))`). Files
//! written by 2.x carry three text lines instead (quota root TAB uniqueid; flag names; ACL as
//! TAB-separated pairs); they are read, but always written back in the DLIST form, as Cyrus
//! 3.6 does. Writes go to `cyrus.header.NEW`, are fsynced and renamed over the old file, so a
//! reader sees either the old or the new header, never a mixture.

use crate::db::failpoint;
use crate::db::lock::sync_parent_dir;
use crate::dlist::Dlist;
use crate::error::{Error, Result};
use std::io::Write;
use std::path::Path;

/// Cyrus's header magic: four binary bytes, a title line and the Jim Morris quotation.
pub const MAGIC: &[u8; 115] = b"\xa1\x02\x8b\x0dCyrus mailbox header\n\"The best thing about this system was that it had lots of goals.\"\n\t--Jim Morris on Andrew\n";

/// Name of the header file in a mailbox directory.
pub const FILE_NAME: &str = "cyrus.header";

/// Most user flags a mailbox can define (four 32-bit words in each index record).
pub const MAX_USER_FLAGS: usize = 128;

/// Which of the two layouts a header was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderFormat {
    /// Cyrus 3.x: one DLIST line.
    Dlist,
    /// Cyrus 2.x: three text lines; type and name were not recorded.
    Legacy,
}

/// The decoded content of a `cyrus.header`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The layout the header was read from ([`HeaderFormat::Dlist`] for new headers).
    pub format: HeaderFormat,
    /// Mailbox type letters as mailboxes.db spells them (`e` for plain email).
    pub mbtype: String,
    /// Internal mailbox name (`user.alice.Sent`); empty for a legacy header.
    pub name: String,
    /// The mailbox uniqueid.
    pub uniqueid: String,
    /// Quota root, if the mailbox has one.
    pub quotaroot: Option<String>,
    /// ACL as ordered (identifier, rights) pairs; `None` when the file has no `A` entry.
    pub acl: Option<Vec<(String, String)>>,
    /// User flag names; index = flag number; `None` for a removed flag.
    pub user_flags: Vec<Option<String>>,
}

impl Header {
    /// A new 3.x header with the given type, name and uniqueid and nothing else.
    pub fn new(mbtype: &str, name: &str, uniqueid: &str) -> Header {
        Header {
            format: HeaderFormat::Dlist,
            mbtype: mbtype.to_string(),
            name: name.to_string(),
            uniqueid: uniqueid.to_string(),
            quotaroot: None,
            acl: None,
            user_flags: Vec::new(),
        }
    }

    /// The ACL in Cyrus's in-memory form, `id TAB rights TAB` per entry (what mbexamine prints).
    pub fn acl_string(&self) -> String {
        let mut s = String::new();
        for (id, rights) in self.acl.iter().flatten() {
            s.push_str(id);
            s.push('\t');
            s.push_str(rights);
            s.push('\t');
        }
        s
    }

    /// The number of the user flag called `name` (case-insensitive, as IMAP flags are).
    pub fn user_flag(&self, name: &str) -> Option<usize> {
        self.user_flags
            .iter()
            .position(|f| f.as_deref().is_some_and(|f| f.eq_ignore_ascii_case(name)))
    }

    /// Parses a whole `cyrus.header` file; `path` is only used in error reports.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Header> {
        let body = bytes
            .strip_prefix(&MAGIC[..])
            .ok_or_else(|| Error::corrupt(path, "cyrus.header: bad magic"))?;
        if body.first() == Some(&b'%') {
            parse_dlist(body, path)
        } else {
            parse_legacy(body, path)
        }
    }

    /// The complete file content Cyrus 3.6 would write for this header.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut kv: Vec<(Vec<u8>, Dlist)> = vec![
            (b"T".to_vec(), Dlist::str(&self.mbtype)),
            (b"N".to_vec(), Dlist::str(&self.name)),
            (b"I".to_vec(), Dlist::str(&self.uniqueid)),
        ];
        if let Some(q) = &self.quotaroot {
            kv.push((b"Q".to_vec(), Dlist::str(q)));
        }
        if let Some(acl) = &self.acl {
            let pairs = acl
                .iter()
                .map(|(id, r)| (id.as_bytes().to_vec(), Dlist::str(r)))
                .collect();
            kv.push((b"A".to_vec(), Dlist::KvList(pairs)));
        }
        // Trailing removed flags carry no information; Cyrus stops at the last named one.
        let used = self
            .user_flags
            .iter()
            .rposition(Option::is_some)
            .map_or(0, |i| i + 1);
        if used > 0 {
            let flags = self.user_flags[..used]
                .iter()
                .map(|f| f.as_ref().map_or(Dlist::Nil, Dlist::str))
                .collect();
            kv.push((b"U".to_vec(), Dlist::List(flags)));
        }
        let mut out = MAGIC.to_vec();
        Dlist::KvList(kv).write(&mut out);
        out.push(b'\n');
        out
    }

    /// Writes this header into mailbox directory `dir` via `cyrus.header.NEW`, fsync and
    /// rename; returns the CRC32 of the file, which belongs in the index's `header_file_crc`.
    pub fn write(&self, dir: &Path) -> Result<u32> {
        let bytes = self.to_bytes();
        let path = dir.join(FILE_NAME);
        let tmp = dir.join("cyrus.header.NEW");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| Error::io(&tmp, e))?;
        failpoint::hit();
        f.write_all(&bytes).map_err(|e| Error::io(&tmp, e))?;
        failpoint::hit();
        f.sync_all().map_err(|e| Error::io(&tmp, e))?;
        drop(f);
        failpoint::hit();
        std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
        failpoint::hit();
        sync_parent_dir(&path).map_err(|e| Error::io(dir, e))?;
        Ok(crc32fast::hash(&bytes))
    }

    /// Reads and parses `cyrus.header` in mailbox directory `dir`; also returns the file's CRC32.
    pub fn read(dir: &Path) -> Result<(Header, u32)> {
        let path = dir.join(FILE_NAME);
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        Ok((Header::parse(&bytes, &path)?, crc32fast::hash(&bytes)))
    }
}

fn text(v: &Dlist, path: &Path, what: &str) -> Result<String> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| Error::corrupt(path, format!("cyrus.header: {what} is not text")))
}

fn parse_dlist(body: &[u8], path: &Path) -> Result<Header> {
    let dl = Dlist::parse(body).map_err(|e| Error::corrupt(path, format!("cyrus.header: {e}")))?;
    let items = dl
        .as_kvlist()
        .ok_or_else(|| Error::corrupt(path, "cyrus.header: not a key/value list"))?;
    let mut h = Header::new("", "", "");
    for (k, v) in items {
        match k.as_slice() {
            b"T" => h.mbtype = text(v, path, "type")?,
            b"N" => h.name = text(v, path, "name")?,
            b"I" => h.uniqueid = text(v, path, "uniqueid")?,
            b"Q" => h.quotaroot = Some(text(v, path, "quota root")?),
            b"A" => {
                let pairs = match v {
                    Dlist::KvList(p) => p,
                    // Cyrus writes an empty ACL as an empty string in some versions.
                    Dlist::Str(s) if s.is_empty() => {
                        h.acl = Some(Vec::new());
                        continue;
                    }
                    _ => return Err(Error::corrupt(path, "cyrus.header: ACL is not a list")),
                };
                let mut acl = Vec::with_capacity(pairs.len());
                for (id, rights) in pairs {
                    let id = String::from_utf8(id.clone())
                        .map_err(|_| Error::corrupt(path, "cyrus.header: ACL id not text"))?;
                    acl.push((id, text(rights, path, "ACL rights")?));
                }
                h.acl = Some(acl);
            }
            b"U" => {
                let list = v
                    .as_list()
                    .ok_or_else(|| Error::corrupt(path, "cyrus.header: flags not a list"))?;
                if list.len() > MAX_USER_FLAGS {
                    return Err(Error::corrupt(path, "cyrus.header: too many user flags"));
                }
                h.user_flags = list
                    .iter()
                    .map(|f| match f {
                        Dlist::Nil => Ok(None),
                        other => text(other, path, "user flag").map(Some),
                    })
                    .collect::<Result<_>>()?;
            }
            // Unknown keys from newer versions are ignored, as Cyrus ignores them.
            _ => {}
        }
    }
    Ok(h)
}

fn parse_legacy(body: &[u8], path: &Path) -> Result<Header> {
    let body = std::str::from_utf8(body)
        .map_err(|_| Error::corrupt(path, "cyrus.header: legacy header is not text"))?;
    let mut lines = body.split('\n');
    let first = lines.next().unwrap_or("");
    let (quotaroot, uniqueid) = match first.split_once('\t') {
        Some((q, u)) => (q, u),
        None => (first, ""),
    };
    let flags: Vec<Option<String>> = lines
        .next()
        .unwrap_or("")
        .split(' ')
        .filter(|f| !f.is_empty())
        .map(|f| Some(f.to_string()))
        .collect();
    if flags.len() > MAX_USER_FLAGS {
        return Err(Error::corrupt(path, "cyrus.header: too many user flags"));
    }
    let mut acl = Vec::new();
    let mut fields = lines.next().unwrap_or("").split('\t');
    while let Some(id) = fields.next() {
        if id.is_empty() {
            break;
        }
        acl.push((id.to_string(), fields.next().unwrap_or("").to_string()));
    }
    Ok(Header {
        format: HeaderFormat::Legacy,
        mbtype: String::new(),
        name: String::new(),
        uniqueid: uniqueid.to_string(),
        quotaroot: (!quotaroot.is_empty()).then(|| quotaroot.to_string()),
        acl: Some(acl),
        user_flags: flags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn magic_is_cyruss() {
        // SHA-1 of these bytes is 826f3cba…; check the length and both ends instead.
        assert_eq!(MAGIC.len(), 115);
        assert!(MAGIC.starts_with(b"\xa1\x02\x8b\x0dCyrus mailbox header\n\"The best"));
        assert!(MAGIC.ends_with(b"\"\n\t--Jim Morris on Andrew\n"));
    }

    #[test]
    fn dlist_round_trip() {
        let mut h = Header::new("e", "user.alice", "ho460b68ewitdzpjj0oco0gi");
        h.quotaroot = Some("user.alice".into());
        h.acl = Some(vec![("alice".into(), "lrswipkxtecdan".into())]);
        h.user_flags = vec![Some("$Custom".into()), None, Some("x".into())];
        let b = h.to_bytes();
        assert!(b.ends_with(
            b"%(T e N user.alice I ho460b68ewitdzpjj0oco0gi Q user.alice A %(alice lrswipkxtecdan) U ($Custom NIL x))\n"
        ));
        assert_eq!(Header::parse(&b, Path::new("x")).unwrap(), h);
        assert_eq!(h.acl_string(), "alice\tlrswipkxtecdan\t");
        assert_eq!(h.user_flag("X"), Some(2));
    }

    #[test]
    fn legacy_header() {
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(b"user.bob\t0123abcd\n$Junk Work\nbob\tlrswipcda\tanyone\tlrs\t\n");
        let h = Header::parse(&b, Path::new("x")).unwrap();
        assert_eq!(h.format, HeaderFormat::Legacy);
        assert_eq!(h.quotaroot.as_deref(), Some("user.bob"));
        assert_eq!(h.uniqueid, "0123abcd");
        assert_eq!(
            h.user_flags,
            vec![Some("$Junk".into()), Some("Work".into())]
        );
        assert_eq!(h.acl_string(), "bob\tlrswipcda\tanyone\tlrs\t");
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Header::parse(&tail, Path::new("x"));
            let mut b = MAGIC.to_vec();
            b.extend_from_slice(&tail);
            let _ = Header::parse(&b, Path::new("x"));
            b.truncate(115);
            b.push(b'%');
            b.extend_from_slice(&tail);
            let _ = Header::parse(&b, Path::new("x"));
        }
    }
}
