//! The user deny list (user_deny.db, backend `userdeny_db`, flat by default).
//!
//! A key is a userid; a value is `2 TAB <services> TAB <message>`, where `<services>` is a
//! comma-separated list of wildmat patterns over service names (`imap`, `pop3`, `*`), each
//! optionally negated with `!`, tried right to left: the first that matches decides. Version
//! 1 values have no message and get the default one. `cyr_deny` edits the list; the servers
//! consult it at login ([`UserDeny::check`]).

use crate::config::Config;
use crate::db::{registry, Database, OpenFlags, Walk};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The value version this module writes.
const VERSION: u32 = 2;
/// What a denied user is told when the entry has no message of its own.
pub const DEFAULT_MESSAGE: &str = "Access to this service has been blocked";
/// The services an entry covers when none are given.
pub const ALL_SERVICES: &str = "*";

/// One user's deny entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DenyEntry {
    /// Comma-separated wildmat patterns of the services denied.
    pub services: String,
    /// What the user is told.
    pub message: String,
}

impl DenyEntry {
    /// Parses a stored value (version 1 or 2).
    pub fn parse(value: &[u8]) -> std::result::Result<DenyEntry, String> {
        let text = String::from_utf8_lossy(value);
        let digits = text.bytes().take_while(u8::is_ascii_digit).count();
        let version: u32 = text[..digits]
            .parse()
            .map_err(|_| format!("deny entry {text:?} has no version"))?;
        if !(1..=VERSION).contains(&version) {
            return Err(format!("deny entry has unknown version {version}"));
        }
        let rest = text[digits..]
            .strip_prefix('\t')
            .ok_or_else(|| format!("deny entry {text:?} lacks its services"))?;
        let (services, message) = match (version, rest.split_once('\t')) {
            (2, Some((s, m))) => (s, m),
            _ => (rest, DEFAULT_MESSAGE),
        };
        Ok(DenyEntry {
            services: services.to_string(),
            message: message.to_string(),
        })
    }

    /// The stored form (version 2).
    pub fn to_bytes(&self) -> Vec<u8> {
        format!("{VERSION}\t{}\t{}", self.services, self.message).into_bytes()
    }

    /// Whether the entry denies `service`: the rightmost pattern that matches decides.
    pub fn denies(&self, service: &str) -> bool {
        for pat in self.services.rsplit(',') {
            let (negated, pat) = match pat.strip_prefix('!') {
                Some(p) => (true, p),
                None => (false, pat),
            };
            if wildmat(service.as_bytes(), pat.as_bytes()) {
                return !negated;
            }
        }
        false
    }
}

/// Matches `text` against a wildmat pattern: `*`, `?`, `[set]` (with `^` to negate, and
/// ranges), and `\` to quote the next character.
pub fn wildmat(text: &[u8], pat: &[u8]) -> bool {
    let (mut t, mut p) = (0, 0);
    // Where to resume after the last `*`: pattern index after it, and the text index it took.
    let mut star: Option<(usize, usize)> = None;
    loop {
        if p < pat.len() {
            let (matched, next) = match pat[p] {
                b'*' => {
                    star = Some((p + 1, t));
                    p += 1;
                    continue;
                }
                b'?' => (t < text.len(), p + 1),
                b'[' => match class(pat, p, text.get(t).copied()) {
                    Some((m, end)) => (m, end),
                    None => (text.get(t) == Some(&b'['), p + 1),
                },
                b'\\' if p + 1 < pat.len() => (text.get(t) == Some(&pat[p + 1]), p + 2),
                c => (text.get(t) == Some(&c), p + 1),
            };
            if matched {
                t += 1;
                p = next;
                continue;
            }
        } else if t == text.len() {
            return true;
        }
        match star {
            Some((sp, st)) if st < text.len() => {
                star = Some((sp, st + 1));
                p = sp;
                t = st + 1;
            }
            _ => return false,
        }
    }
}

/// Whether `c` is in the `[...]` class starting at `pat[start]`, and the index after it;
/// `None` if the class is not closed.
fn class(pat: &[u8], start: usize, c: Option<u8>) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = pat.get(i) == Some(&b'^');
    if negate {
        i += 1;
    }
    let mut found = false;
    let mut first = true;
    while i < pat.len() {
        let lo = pat[i];
        if lo == b']' && !first {
            let hit = c.is_some() && found != negate;
            return Some((hit, i + 1));
        }
        first = false;
        if pat.get(i + 1) == Some(&b'-') && pat.get(i + 2).is_some_and(|&h| h != b']') {
            let hi = pat[i + 2];
            found |= c.is_some_and(|c| lo <= c && c <= hi);
            i += 3;
        } else {
            found |= c == Some(lo);
            i += 1;
        }
    }
    None
}

/// The open deny list.
pub struct UserDeny {
    db: Box<dyn Database>,
    path: PathBuf,
}

impl UserDeny {
    /// Opens the configured user_deny.db; without `create` a missing file is an
    /// [`Error::Io`] of kind `NotFound`.
    pub fn open(config: &Config, create: bool) -> Result<UserDeny> {
        let spec = registry::find("user_deny.db")
            .ok_or(Error::NotImplemented("user_deny.db registry row"))?;
        let path = registry::path(config, spec);
        if !create {
            // The backends would say only "not found"; the OS's own reason is what Cyrus prints.
            std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
        }
        let flags = OpenFlags {
            create,
            ..OpenFlags::default()
        };
        Ok(UserDeny {
            db: registry::open(config, spec, flags)?,
            path,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `user`'s entry, if denied anything.
    pub fn get(&mut self, user: &str) -> Result<Option<DenyEntry>> {
        match self.db.fetch(user.as_bytes())? {
            None => Ok(None),
            Some(v) if v.is_empty() => Ok(None),
            Some(v) => DenyEntry::parse(&v)
                .map(Some)
                .map_err(|e| Error::corrupt(&self.path, e)),
        }
    }

    /// Denies `user` the `services` (all by default) with `message` (the default one).
    pub fn set(&mut self, user: &str, services: Option<&str>, message: Option<&str>) -> Result<()> {
        if user.is_empty() {
            return Err(Error::Usage("a userid is required".into()));
        }
        let entry = DenyEntry {
            services: services.unwrap_or(ALL_SERVICES).to_string(),
            message: message.unwrap_or(DEFAULT_MESSAGE).to_string(),
        };
        self.db.store(user.as_bytes(), &entry.to_bytes())
    }

    /// Lifts any denial of `user`.
    pub fn delete(&mut self, user: &str) -> Result<()> {
        self.db.delete(user.as_bytes())
    }

    /// Every entry in key order; unparsable ones are skipped, as the servers ignore them.
    pub fn list(&mut self) -> Result<Vec<(String, DenyEntry)>> {
        let mut out = Vec::new();
        self.db.foreach(b"", &mut |k, v| {
            if let Ok(e) = DenyEntry::parse(v) {
                out.push((String::from_utf8_lossy(k).into_owned(), e));
            }
            Ok(Walk::Continue)
        })?;
        Ok(out)
    }

    /// The message to refuse `user` with on `service`, or `None` if they may log in.
    pub fn check(&mut self, user: &str, service: &str) -> Result<Option<String>> {
        // A broken entry denies nothing: the servers log it and let the user in.
        let entry = match self.db.fetch(user.as_bytes())? {
            Some(v) => DenyEntry::parse(&v).ok(),
            None => None,
        };
        Ok(entry.filter(|e| e.denies(service)).map(|e| e.message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        let e = DenyEntry::parse(b"2\timap,pop3\tgo away\tnow").unwrap();
        assert_eq!(e.services, "imap,pop3");
        assert_eq!(e.message, "go away\tnow");
        assert_eq!(e.to_bytes(), b"2\timap,pop3\tgo away\tnow");
        let old = DenyEntry::parse(b"1\t*").unwrap();
        assert_eq!(old.message, DEFAULT_MESSAGE);
        for bad in [&b""[..], b"x\t*", b"3\t*", b"0\t*", b"2*"] {
            assert!(DenyEntry::parse(bad).is_err());
        }
    }

    #[test]
    fn service_patterns() {
        let e = |s: &str| DenyEntry {
            services: s.into(),
            message: String::new(),
        };
        assert!(e("*").denies("imap"));
        assert!(e("imap,pop3").denies("pop3"));
        assert!(!e("imap,pop3").denies("sieve"));
        assert!(!e("*,!imap").denies("imap"));
        assert!(e("*,!imap").denies("pop3"));
        assert!(e("!imap,*").denies("imap"));
        assert!(e("im?p").denies("imap"));
        assert!(e("[ip]*").denies("pop3"));
        assert!(!e("[^ip]*").denies("pop3"));
        assert!(e("*3").denies("pop3"));
        assert!(!e("").denies("imap"));
    }
}
