//! Mailbox names in their three spellings, and the namespaces that map between them.
//!
//! Cyrus writes one mailbox three ways: the *internal* name (`example.com!user.bob.Sent`, `.`
//! between components, a `.` inside a component stored as `^`), the *dbname* that keys
//! mailboxes.db (`example.com` 0x1D `user` 0x1F `bob` 0x1F `Sent`, no escaping), and the
//! *external* name a client or admin types, which depends on the [`Namespace`]. [`MbName`]
//! is the name taken apart (domain, user, folders, deletion time); every conversion goes
//! through it or, for internal <-> dbname, is a direct byte mapping.
//!
//! Names come from clients and from disk, so every parse returns a [`BadName`] instead of
//! panicking.

pub mod utf7;

use crate::config::Config;
use std::fmt;

/// Separates the domain from the rest in a dbname (ASCII GS).
pub const DB_DOMAIN_SEP: char = '\u{1d}';
/// Separates components in a dbname (ASCII US).
pub const DB_SEP: char = '\u{1f}';

/// Why a string is not a mailbox name (or userid) of the kind asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadName {
    /// The offending name.
    pub name: String,
    /// What is wrong with it.
    pub why: &'static str,
}

impl BadName {
    /// A `BadName` for `name`.
    pub fn new(name: impl Into<String>, why: &'static str) -> BadName {
        BadName {
            name: name.into(),
            why,
        }
    }
}

impl fmt::Display for BadName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad mailbox name {:?}: {}", self.name, self.why)
    }
}

impl std::error::Error for BadName {}

/// An internal mailbox name such as `example.com!user.carol^smith.Sent`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InternalName(String);

/// A mailboxes.db key name: domain 0x1D, components joined by 0x1F.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DbName(String);

/// A mailbox name as seen through a [`Namespace`] (`INBOX/Sent`, `user.bob@example.com`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExternalName(String);

fn check_plain(s: &str, what: &'static str) -> Result<(), BadName> {
    if s.is_empty() {
        return Err(BadName::new(s, what));
    }
    if s.chars().any(|c| c.is_control()) {
        return Err(BadName::new(s, "control character in name"));
    }
    Ok(())
}

impl InternalName {
    /// Checks that `s` has the shape of an internal name: non-empty components, no control
    /// characters, at most one domain.
    pub fn new(s: impl Into<String>) -> Result<InternalName, BadName> {
        let s = s.into();
        check_plain(&s, "empty name")?;
        let rest = match s.split_once('!') {
            Some((dom, rest)) => {
                if dom.is_empty() || rest.contains('!') {
                    return Err(BadName::new(s.clone(), "bad domain part"));
                }
                rest
            }
            None => &s,
        };
        if rest.is_empty() || rest.split('.').any(str::is_empty) {
            return Err(BadName::new(s.clone(), "empty component"));
        }
        Ok(InternalName(s))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The dbname of this mailbox (`^` becomes `.`, separators become 0x1D / 0x1F).
    pub fn to_dbname(&self) -> DbName {
        let (dom, rest) = match self.0.split_once('!') {
            Some((d, r)) => (Some(d), r),
            None => (None, self.0.as_str()),
        };
        let mut out = String::with_capacity(self.0.len());
        if let Some(d) = dom {
            out.push_str(d);
            out.push(DB_DOMAIN_SEP);
        }
        for c in rest.chars() {
            out.push(match c {
                '.' => DB_SEP,
                '^' => '.',
                c => c,
            });
        }
        DbName(out)
    }
}

impl DbName {
    /// Checks that `s` is a dbname: non-empty components, at most one domain separator.
    pub fn new(s: impl Into<String>) -> Result<DbName, BadName> {
        let s = s.into();
        if s.is_empty() {
            return Err(BadName::new(s, "empty name"));
        }
        let rest = match s.split_once(DB_DOMAIN_SEP) {
            Some((dom, rest)) => {
                if dom.is_empty() || dom.contains(DB_SEP) || dom.contains('!') {
                    return Err(BadName::new(s.clone(), "bad domain part"));
                }
                rest
            }
            None => &s,
        };
        if rest.is_empty()
            || rest.split(DB_SEP).any(str::is_empty)
            || rest.contains(DB_DOMAIN_SEP)
            || rest.contains('^')
            || rest.chars().any(|c| c.is_control() && c != DB_SEP)
        {
            return Err(BadName::new(s.clone(), "bad component"));
        }
        Ok(DbName(s))
    }

    /// Takes a dbname from a mailboxes.db key, refusing bytes that are not UTF-8.
    pub fn from_bytes(b: &[u8]) -> Result<DbName, BadName> {
        let s = std::str::from_utf8(b)
            .map_err(|_| BadName::new(String::from_utf8_lossy(b), "not UTF-8"))?;
        DbName::new(s)
    }

    /// The name as text (with its 0x1D / 0x1F separators).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name's bytes, as stored in mailboxes.db keys.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The internal name of this mailbox.
    pub fn to_internal(&self) -> InternalName {
        let (dom, rest) = match self.0.split_once(DB_DOMAIN_SEP) {
            Some((d, r)) => (Some(d), r),
            None => (None, self.0.as_str()),
        };
        let mut out = String::with_capacity(self.0.len());
        if let Some(d) = dom {
            out.push_str(d);
            out.push('!');
        }
        for c in rest.chars() {
            out.push(match c {
                DB_SEP => '.',
                '.' => '^',
                c => c,
            });
        }
        InternalName(out)
    }
}

impl ExternalName {
    /// Wraps a name as a client or admin typed it; checked when it is resolved.
    pub fn new(s: impl Into<String>) -> ExternalName {
        ExternalName(s.into())
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! display_as_str {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}
display_as_str!(InternalName, DbName, ExternalName);

/// The `virtdomains` setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VirtDomains {
    /// No virtual domains: `@` is an ordinary character of a userid.
    Off,
    /// The domain comes from the userid.
    Userid,
    /// The domain comes from the userid or the server address.
    On,
}

/// Everything that decides how names are spelled: Cyrus's `struct namespace` plus the
/// options its name functions read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Namespace {
    /// External hierarchy separator: `/` with `unixhierarchysep`, else `.`.
    pub sep: char,
    /// The alternate namespace (`altnamespace`), ignored for admins.
    pub alt: bool,
    /// The admin namespace: no INBOX, domains as `@domain`, DELETED names visible.
    pub admin: bool,
    /// External names are UTF-8 (converted to modified UTF-7 inside).
    pub utf8: bool,
    /// `virtdomains`.
    pub virtdomains: VirtDomains,
    /// `defaultdomain`: a domain equal to it is dropped.
    pub defaultdomain: Option<String>,
    /// `userprefix`.
    pub userprefix: String,
    /// `sharedprefix`.
    pub sharedprefix: String,
    /// `altprefix`.
    pub altprefix: String,
    /// `deletedprefix`.
    pub deletedprefix: String,
    /// `crossdomains`.
    pub crossdomains: bool,
}

impl Default for Namespace {
    /// Cyrus 3.6's compiled defaults, standard (not admin) namespace.
    fn default() -> Namespace {
        Namespace {
            sep: '/',
            alt: true,
            admin: false,
            utf8: false,
            virtdomains: VirtDomains::Off,
            defaultdomain: Some("internal".into()),
            userprefix: "Other Users".into(),
            sharedprefix: "Shared Folders".into(),
            altprefix: "Alt Folders".into(),
            deletedprefix: "DELETED".into(),
            crossdomains: false,
        }
    }
}

impl Namespace {
    /// The namespace the configuration describes; `admin` selects the admin namespace.
    pub fn from_config(config: &Config, admin: bool) -> Namespace {
        let s = |k: &str, d: &str| config.string(k).unwrap_or(d).to_string();
        Namespace {
            sep: if config.switch("unixhierarchysep") {
                '/'
            } else {
                '.'
            },
            alt: config.switch("altnamespace"),
            admin,
            utf8: false,
            virtdomains: match config.string("virtdomains") {
                Some("userid") => VirtDomains::Userid,
                Some("on") => VirtDomains::On,
                _ => VirtDomains::Off,
            },
            defaultdomain: config
                .string("defaultdomain")
                .filter(|d| !d.is_empty())
                .map(str::to_string),
            userprefix: s("userprefix", "Other Users"),
            sharedprefix: s("sharedprefix", "Shared Folders"),
            altprefix: s("altprefix", "Alt Folders"),
            deletedprefix: s("deletedprefix", "DELETED"),
            crossdomains: config.switch("crossdomains"),
        }
    }

    /// A domain as stored: `None` for no domain or the default domain.
    fn keep_domain(&self, d: Option<&str>) -> Option<String> {
        match d {
            Some(d) if !d.is_empty() && self.defaultdomain.as_deref() != Some(d) => {
                Some(d.to_string())
            }
            _ => None,
        }
    }

    /// An external component as literal text (the dbname form).
    fn comp_from_external(&self, c: &str) -> String {
        // With `.` the separator, `^` is how a literal dot is typed; with `/` the text is
        // taken as it is (Cyrus keeps a typed `^`, which then reads back as a dot).
        if self.sep == '.' {
            c.replace('^', ".")
        } else {
            c.to_string()
        }
    }

    /// A literal component written for this namespace.
    fn comp_to_external(&self, c: &str) -> String {
        if self.sep == '.' {
            c.replace('.', "^")
        } else {
            c.to_string()
        }
    }
}

/// A mailbox name taken apart (Cyrus's `mbname_t`); components hold literal text (a dot is
/// a dot, as in dbnames).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct MbName {
    /// Virtual domain, never the default domain.
    pub domain: Option<String>,
    /// Owner of a personal mailbox (`bob` in `user.bob.Sent`).
    pub localpart: Option<String>,
    /// Folder components below the user (or all of them for a shared mailbox).
    pub boxes: Vec<String>,
    /// Deletion time of a mailbox kept under `deletedprefix`.
    pub deleted: Option<u64>,
}

impl MbName {
    fn from_components(
        domain: Option<String>,
        mut comps: Vec<String>,
        deletedprefix: &str,
    ) -> MbName {
        let mut deleted = None;
        if comps.len() >= 3 && comps[0] == deletedprefix {
            if let Some(t) = comps
                .last()
                .and_then(|h| u64::from_str_radix(h, 16).ok())
                .filter(|_| comps.last().is_some_and(|h| !h.starts_with('+')))
            {
                deleted = Some(t);
                comps.pop();
                comps.remove(0);
            }
        }
        let mut localpart = None;
        if comps.len() >= 2 && comps[0] == "user" {
            localpart = Some(comps.remove(1));
            comps.remove(0);
        }
        MbName {
            domain,
            localpart,
            boxes: comps,
            deleted,
        }
    }

    /// Takes an internal name apart.
    pub fn from_internal(name: &InternalName, deletedprefix: &str) -> MbName {
        let (dom, rest) = match name.0.split_once('!') {
            Some((d, r)) => (Some(d.to_string()), r),
            None => (None, name.0.as_str()),
        };
        let comps = rest.split('.').map(|c| c.replace('^', ".")).collect();
        MbName::from_components(dom, comps, deletedprefix)
    }

    /// Takes a dbname apart.
    pub fn from_dbname(name: &DbName, deletedprefix: &str) -> MbName {
        MbName::from_internal(&name.to_internal(), deletedprefix)
    }

    /// The INBOX of `userid` (`bob`, `bob@example.com`; a default domain is dropped).
    pub fn from_userid(userid: &str, ns: &Namespace) -> Result<MbName, BadName> {
        if userid.is_empty() || userid.chars().any(|c| c.is_control()) {
            return Err(BadName::new(userid, "bad userid"));
        }
        // Cyrus splits a userid at its last `@` whatever `virtdomains` says.
        let (local, dom) = match userid.rsplit_once('@') {
            None => (userid, None),
            Some((l, d)) => (l, Some(d)),
        };
        if local.is_empty() {
            return Err(BadName::new(userid, "empty localpart"));
        }
        Ok(MbName {
            domain: ns.keep_domain(dom),
            localpart: Some(local.to_string()),
            boxes: Vec::new(),
            deleted: None,
        })
    }

    /// The owner's userid (`localpart[@domain]`), for personal mailboxes.
    pub fn userid(&self) -> Option<String> {
        let l = self.localpart.as_ref()?;
        Some(match &self.domain {
            Some(d) => format!("{l}@{d}"),
            None => l.clone(),
        })
    }

    /// The owner's INBOX, for personal mailboxes.
    pub fn inbox(&self) -> Option<MbName> {
        self.localpart.as_ref()?;
        Some(MbName {
            domain: self.domain.clone(),
            localpart: self.localpart.clone(),
            boxes: Vec::new(),
            deleted: None,
        })
    }

    /// The components in storage order: [deletedprefix,] [user, localpart,] boxes [, HEXTIME].
    pub fn components(&self, deletedprefix: &str) -> Vec<String> {
        let mut v = Vec::with_capacity(self.boxes.len() + 4);
        if self.deleted.is_some() {
            v.push(deletedprefix.to_string());
        }
        if let Some(l) = &self.localpart {
            v.push("user".to_string());
            v.push(l.clone());
        }
        v.extend(self.boxes.iter().cloned());
        if let Some(t) = self.deleted {
            v.push(format!("{t:X}"));
        }
        v
    }

    /// The internal name (`deletedprefix` as configured).
    pub fn to_internal(&self, deletedprefix: &str) -> Result<InternalName, BadName> {
        let mut s = String::new();
        if let Some(d) = &self.domain {
            s.push_str(d);
            s.push('!');
        }
        let comps: Vec<String> = self
            .components(deletedprefix)
            .iter()
            .map(|c| c.replace('.', "^"))
            .collect();
        s.push_str(&comps.join("."));
        InternalName::new(s)
    }

    /// The dbname.
    pub fn to_dbname(&self, deletedprefix: &str) -> Result<DbName, BadName> {
        Ok(self.to_internal(deletedprefix)?.to_dbname())
    }

    /// Resolves an external name typed by `userid` (ignored in the admin namespace).
    pub fn from_external(
        ext: &ExternalName,
        ns: &Namespace,
        userid: Option<&str>,
    ) -> Result<MbName, BadName> {
        let encoded;
        let mut text = ext.as_str();
        if ns.utf8 {
            encoded = utf7::encode(text);
            text = &encoded;
        }
        if text.is_empty() || text.chars().any(|c| c.is_control()) {
            return Err(BadName::new(ext.as_str(), "bad external name"));
        }
        let user = match (ns.admin, userid) {
            (false, Some(u)) => Some(MbName::from_userid(u, ns)?),
            _ => None,
        };
        let mut domain = user.as_ref().and_then(|u| u.domain.clone());
        if ns.admin && ns.virtdomains != VirtDomains::Off {
            if let Some((l, d)) = text.rsplit_once('@') {
                text = l;
                domain = ns.keep_domain(Some(d));
            }
        }
        let comps: Vec<String> = text
            .split(ns.sep)
            .map(|c| ns.comp_from_external(c))
            .collect();
        if comps.iter().any(String::is_empty) {
            return Err(BadName::new(ext.as_str(), "empty component"));
        }
        let Some(user) = user else {
            return Ok(MbName::from_components(domain, comps, &ns.deletedprefix));
        };
        let own = |boxes: Vec<String>| MbName {
            boxes,
            ..user.clone()
        };
        let first = comps[0].as_str();
        let is_inbox = first.eq_ignore_ascii_case("INBOX");
        if !ns.alt {
            if is_inbox {
                return Ok(own(comps[1..].to_vec()));
            }
            // Users never address DELETED names, so no deletion time is parsed here.
            return Ok(MbName::from_components(domain, comps, "\u{0}"));
        }
        if is_inbox && (comps.len() == 1 || first != "INBOX") {
            return Ok(own(comps[1..].to_vec()));
        }
        if first == ns.userprefix {
            if comps.len() < 2 {
                return Err(BadName::new(ext.as_str(), "namespace root"));
            }
            return Ok(MbName {
                domain,
                localpart: Some(comps[1].clone()),
                boxes: comps[2..].to_vec(),
                deleted: None,
            });
        }
        if first == ns.sharedprefix {
            if comps.len() < 2 {
                return Err(BadName::new(ext.as_str(), "namespace root"));
            }
            return Ok(MbName {
                domain,
                localpart: None,
                boxes: comps[1..].to_vec(),
                deleted: None,
            });
        }
        if first == ns.altprefix {
            if comps.len() < 2 {
                return Err(BadName::new(ext.as_str(), "namespace root"));
            }
            return Ok(own(comps[1..].to_vec()));
        }
        Ok(own(comps))
    }

    /// The name as `userid` sees it through `ns` (the admin namespace ignores `userid`);
    /// `None` if that user cannot see it by name.
    pub fn to_external(&self, ns: &Namespace, userid: Option<&str>) -> Option<ExternalName> {
        let sep = ns.sep.to_string();
        let join = |comps: &[String]| -> String {
            comps
                .iter()
                .map(|c| ns.comp_to_external(c))
                .collect::<Vec<_>>()
                .join(&sep)
        };
        let text = if ns.admin || userid.is_none() {
            let mut s = join(&self.components(&ns.deletedprefix));
            if let Some(d) = &self.domain {
                if ns.virtdomains == VirtDomains::Off {
                    return None;
                }
                s.push('@');
                s.push_str(d);
            }
            s
        } else {
            let user = MbName::from_userid(userid?, ns).ok()?;
            if self.deleted.is_some() || self.domain != user.domain {
                return None;
            }
            let own = self.localpart.is_some() && self.localpart == user.localpart;
            if !ns.alt {
                if own {
                    let mut v = vec!["INBOX".to_string()];
                    v.extend(self.boxes.iter().cloned());
                    join(&v)
                } else {
                    join(&self.components(&ns.deletedprefix))
                }
            } else if own {
                match self.boxes.first() {
                    None => "INBOX".to_string(),
                    Some(f) => {
                        let exact_inbox_parent = f == "INBOX" && self.boxes.len() > 1;
                        let hidden = (f.eq_ignore_ascii_case("INBOX") && !exact_inbox_parent)
                            || *f == ns.userprefix
                            || *f == ns.sharedprefix
                            || *f == ns.altprefix;
                        if hidden {
                            let mut v = vec![ns.altprefix.clone()];
                            v.extend(self.boxes.iter().cloned());
                            // The prefix is written as configured, not escaped.
                            format!("{}{sep}{}", ns.altprefix, join(&v[1..]))
                        } else {
                            join(&self.boxes)
                        }
                    }
                }
            } else if let Some(l) = &self.localpart {
                let mut v = vec![l.clone()];
                v.extend(self.boxes.iter().cloned());
                format!("{}{sep}{}", ns.userprefix, join(&v))
            } else {
                format!("{}{sep}{}", ns.sharedprefix, join(&self.boxes))
            }
        };
        let text = if ns.utf8 {
            utf7::decode(&text).unwrap_or(text)
        } else {
            text
        };
        Some(ExternalName(text))
    }
}

#[cfg(test)]
mod tests;
