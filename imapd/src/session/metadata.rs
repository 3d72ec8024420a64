//! METADATA (RFC 5464): GETMETADATA and SETMETADATA over annotations.db, on mailboxes and
//! on the server (`""`). Private values of a mailbox's owner are stored under Cyrus's owner
//! token, so Cyrus and this server read each other's values.

use cyrus::acl::Rights;
use cyrus::annotations::{split_metadata_name, Annotations, Scope, Target as AnnotTarget};
use cyrus::syslog::{self, Level};

use super::names::{DENIED, IOERROR};
use super::reply::astring;
use super::reply::SPECIAL_USE;
use super::Session;

const BAD_ENTRY: &str = "entry must begin with /shared or /private";

/// The mailbox entries Cyrus 3.6 defines, reported (as NIL when unset) under DEPTH.
const MAILBOX_ENTRIES: &[&str] = &[
    "/check",
    "/checkperiod",
    "/comment",
    "/sort",
    "/specialuse",
    "/thread",
    "/vendor/cmu/cyrus-imapd/archive",
    "/vendor/cmu/cyrus-imapd/delete",
    "/vendor/cmu/cyrus-imapd/expire",
    "/vendor/cmu/cyrus-imapd/news2mail",
    "/vendor/cmu/cyrus-imapd/search-fuzzy-always",
    "/vendor/cmu/cyrus-imapd/sieve",
    "/vendor/cmu/cyrus-imapd/sortorder",
    "/vendor/cmu/cyrus-imapd/squat",
];

/// Writes `v` as an nstring the way Cyrus does: quoted when it can be, else a literal.
fn nstring(v: Option<&[u8]>) -> Vec<u8> {
    match v {
        None => b"NIL".to_vec(),
        Some(v) => {
            let mut out = Vec::new();
            let _ = cyrus::prot::astring::write_string(&mut out, v);
            out
        }
    }
}

impl Session {
    /// The annotation target of `mailbox` (`""` is the server) if the user may `need` it.
    fn annot_target(&mut self, tag: &str, mailbox: &str, need: u32) -> Option<AnnotTarget> {
        if mailbox.is_empty() {
            return Some(AnnotTarget::Server);
        }
        let t = match self.lookup(mailbox) {
            Ok(t) => t,
            Err(m) => {
                self.no(tag, m.text());
                return None;
            }
        };
        if !t.rights.has(need) {
            self.no(tag, DENIED);
            return None;
        }
        let Some(uniqueid) = t.entry.uniqueid.clone() else {
            self.no(tag, IOERROR);
            return None;
        };
        Some(AnnotTarget::Mailbox {
            uniqueid,
            owner: t.mbname.localpart.clone(),
        })
    }

    pub(super) fn getmetadata(
        &mut self,
        tag: &str,
        maxsize: Option<u64>,
        depth: u32,
        mailbox: &str,
        entries: &[String],
    ) {
        let Some(user) = self.user.clone() else {
            return;
        };
        let mut split = Vec::new();
        for e in entries {
            // `/private` and `/shared` alone name the root of their tree (useful with DEPTH).
            let root = if e.eq_ignore_ascii_case("/private") {
                Some(Scope::Private(user.userid.clone()))
            } else if e.eq_ignore_ascii_case("/shared") {
                Some(Scope::Shared)
            } else {
                None
            };
            match root
                .map(|s| (s, String::new()))
                .or_else(|| split_metadata_name(e, &user.userid))
            {
                Some(s) => split.push((e.clone(), s)),
                None => return self.bad(Some(tag), BAD_ENTRY),
            }
        }
        let Some(target) = self.annot_target(tag, mailbox, Rights::LOOKUP | Rights::READ) else {
            return;
        };
        let mut db = match Annotations::open(&self.config) {
            Ok(d) => d,
            Err(e) => {
                syslog::log(Level::Err, &format!("IOERROR: annotations: {e}"));
                return self.no(tag, IOERROR);
            }
        };
        // Cyrus answers for every requested entry in every requested scope (asking for
        // /private/specialuse and /shared/comment also reports /shared/specialuse).
        let mut entries_wanted: Vec<String> = Vec::new();
        let mut scopes: Vec<Scope> = Vec::new();
        for (_, (scope, entry)) in &split {
            if !entries_wanted.contains(entry) {
                entries_wanted.push(entry.clone());
            }
            if !scopes.contains(scope) {
                scopes.push(scope.clone());
            }
        }
        let split: Vec<(String, (Scope, String))> = entries_wanted
            .iter()
            .flat_map(|e| {
                scopes.iter().map(move |s| {
                    let prefix = if *s == Scope::Shared {
                        "/shared"
                    } else {
                        "/private"
                    };
                    (format!("{prefix}{e}"), (s.clone(), e.clone()))
                })
            })
            .collect();
        let mut found: Vec<(String, Option<Vec<u8>>)> = Vec::new();
        for (name, (scope, entry)) in &split {
            let v = db
                .get(&target, entry, scope)
                .ok()
                .flatten()
                .map(|v| v.value);
            found.push((name.clone(), v));
            if depth > 0 {
                let prefix = format!("{entry}/");
                let all = db.list(&target).unwrap_or_default();
                let scope_name = if matches!(scope, Scope::Shared) {
                    "/shared"
                } else {
                    "/private"
                };
                // Cyrus's own entries are listed whether or not they hold a value.
                if matches!(target, AnnotTarget::Mailbox { .. }) {
                    for known in MAILBOX_ENTRIES {
                        let Some(rest) = known.strip_prefix(&prefix) else {
                            continue;
                        };
                        if depth == 1 && rest.contains('/') {
                            continue;
                        }
                        let stored = db.get(&target, known, scope).ok().flatten();
                        if stored.is_none() {
                            found.push((format!("{scope_name}{known}"), None));
                        }
                    }
                }
                for (k, v) in all {
                    let mine = match scope {
                        Scope::Shared => k.userid.is_empty(),
                        Scope::Private(u) => {
                            k.userid == *u
                                || (k.userid == cyrus::annotations::OWNER_TOKEN
                                    && matches!(&target, AnnotTarget::Mailbox { owner: Some(o), .. } if o == u))
                        }
                    };
                    let Some(rest) = k.entry.strip_prefix(&prefix) else {
                        continue;
                    };
                    if !mine || (depth == 1 && rest.contains('/')) {
                        continue;
                    }
                    found.push((format!("{scope_name}{}", k.entry), Some(v.value)));
                }
            }
        }
        let mut longest = 0usize;
        let mut body = Vec::new();
        for (name, v) in &found {
            if let (Some(max), Some(v)) = (maxsize, v) {
                if v.len() as u64 > max {
                    longest = longest.max(v.len());
                    continue;
                }
            }
            if !body.is_empty() {
                body.push(b' ');
            }
            body.extend_from_slice(format!("\"{name}\" ").as_bytes());
            body.extend_from_slice(&nstring(v.as_deref()));
        }
        if !body.is_empty() {
            let shown = if mailbox.is_empty() {
                "\"\"".to_string()
            } else {
                astring(mailbox)
            };
            self.out
                .extend_from_slice(format!("* METADATA {shown} (").as_bytes());
            self.out.extend_from_slice(&body);
            self.out.extend_from_slice(b")\r\n");
        }
        if longest > 0 {
            self.ok(tag, &format!("[METADATA LONGENTRIES {longest}] Completed"));
        } else {
            self.ok(tag, "Completed");
        }
    }

    pub(super) fn setmetadata(
        &mut self,
        tag: &str,
        mailbox: &str,
        entries: &[(String, Option<Vec<u8>>)],
    ) {
        let Some(user) = self.user.clone() else {
            return;
        };
        let mut split = Vec::new();
        for (e, v) in entries {
            match split_metadata_name(e, &user.userid) {
                Some(s) => split.push((s, v.clone())),
                None => return self.bad(Some(tag), BAD_ENTRY),
            }
        }
        if mailbox.is_empty() && !user.admin {
            return self.no(tag, DENIED);
        }
        let shared = split.iter().any(|((s, _), _)| *s == Scope::Shared);
        let need = if shared {
            Rights::LOOKUP | Rights::ANNOTATE
        } else {
            Rights::LOOKUP
        };
        let Some(target) = self.annot_target(tag, mailbox, need) else {
            return;
        };
        for ((_, entry), v) in &split {
            if entry.eq_ignore_ascii_case("/specialuse") {
                let ok = v.as_deref().is_none_or(|v| {
                    String::from_utf8_lossy(v)
                        .split_whitespace()
                        .all(|w| SPECIAL_USE.iter().any(|s| s.eq_ignore_ascii_case(w)))
                });
                if !ok {
                    return self.no(tag, "[USEATTR] Invalid special-use attribute");
                }
            }
        }
        let r = Annotations::open(&self.config).and_then(|mut db| {
            for ((scope, entry), v) in &split {
                db.set(&target, entry, scope, v.as_deref().unwrap_or(b""), 0)?;
            }
            Ok(())
        });
        match r {
            Ok(()) => self.ok(tag, "Completed"),
            Err(e) => {
                syslog::log(Level::Err, &format!("IOERROR: setmetadata: {e}"));
                self.no(tag, IOERROR);
            }
        }
    }
}
