//! LIST (RFC 3501, LIST-EXTENDED RFC 5258, LIST-STATUS RFC 5819, SPECIAL-USE RFC 6154,
//! LIST-MYRIGHTS RFC 8440), XLIST, LSUB and NAMESPACE.
//!
//! Names are listed as Cyrus lists them: the user's own mailboxes first, then other users',
//! then shared ones, each group in mailboxes.db order. Only mailboxes the user may `l`ook up
//! appear, and a parent the user cannot see is shown as `\Noselect`, never by its rights.

use std::collections::BTreeSet;
use std::time::Instant;

use cyrus::acl::Rights;
use cyrus::annotations::{Annotations, Scope, Target as AnnotTarget};
use cyrus::mboxlist::{BaseType, Include, MboxEntry};
use cyrus::mboxname::MbName;
use cyrus::subscriptions::Subscriptions;

use super::names::Target;
use super::reply::astring;
use super::Session;
use crate::proto::command::ListArgs;

/// One mailbox as LIST considers it.
struct Candidate {
    ext: String,
    target: Target,
}

/// Whether `name` matches an IMAP pattern: `*` matches anything, `%` anything but `sep`.
/// A leading `INBOX` matches without regard to case (RFC 3501 §5.1).
pub fn pattern_match(pattern: &str, name: &str, sep: char) -> bool {
    let fold = |s: &str| -> String {
        if s.len() >= 5 && s[..5].eq_ignore_ascii_case("INBOX") {
            let rest = &s[5..];
            if rest.is_empty() || rest.starts_with(sep) {
                return format!("INBOX{rest}");
            }
        }
        s.to_string()
    };
    let p: Vec<char> = fold(pattern).chars().collect();
    let n: Vec<char> = fold(name).chars().collect();
    matches(&p, &n, sep)
}

fn matches(p: &[char], n: &[char], sep: char) -> bool {
    // Dynamic programming over (pattern position, name position), one row at a time: a
    // hostile pattern such as `*a*a*a*b` costs O(|p|·|n|), never exponential time.
    let mut next = vec![false; n.len() + 1];
    next[n.len()] = true;
    for &pc in p.iter().rev() {
        let mut row = vec![false; n.len() + 1];
        for j in (0..=n.len()).rev() {
            row[j] = match pc {
                '*' => next[j] || (j < n.len() && row[j + 1]),
                '%' => next[j] || (j < n.len() && n[j] != sep && row[j + 1]),
                c => j < n.len() && n[j] == c && next[j + 1],
            };
        }
        next = row;
    }
    next[0]
}

/// The literal part of a pattern before its first wildcard.
fn fixed_prefix(pattern: &str) -> &str {
    let end = pattern.find(['*', '%']).unwrap_or(pattern.len());
    &pattern[..end]
}

impl Session {
    fn sep(&self) -> char {
        self.user.as_ref().map_or('.', |u| u.ns.sep)
    }

    /// Every mailbox the user may look up, in LIST order.
    fn visible(&self) -> Vec<Candidate> {
        let Ok(mut list) = self.mboxlist() else {
            return Vec::new();
        };
        let entries: Vec<MboxEntry> = list.all(Include::default()).unwrap_or_default();
        let own = self
            .user
            .as_ref()
            .and_then(|u| MbName::from_userid(&u.userid, &u.ns).ok());
        let deleted = self
            .config
            .string("deletedprefix")
            .unwrap_or("DELETED")
            .to_string();
        let mut v: Vec<(u8, Candidate)> = Vec::new();
        for entry in entries {
            let mbname = MbName::from_internal(&entry.name, &deleted);
            // Sieve script stores, DAV collections and the like are not IMAP mailboxes:
            // Cyrus 3.6 leaves them out of LIST (`MBTYPES_NONIMAP`), and clients that
            // sync every folder (mbsync) would otherwise try to SELECT `INBOX.#sieve`.
            if mbname.deleted.is_some() || entry.mbtype.base != BaseType::Email {
                continue;
            }
            let rights = self.rights_on(&entry, &mbname);
            if !rights.has(Rights::LOOKUP) {
                continue;
            }
            let Some(ext) = self.external(&entry.name) else {
                continue;
            };
            let class = match &mbname.localpart {
                Some(_)
                    if own.as_ref().is_some_and(|o| {
                        o.localpart == mbname.localpart && o.domain == mbname.domain
                    }) =>
                {
                    0
                }
                Some(_) => 1,
                None => 2,
            };
            v.push((
                class,
                Candidate {
                    ext,
                    target: Target {
                        name: entry.name.clone(),
                        mbname,
                        rights,
                        entry,
                    },
                },
            ));
        }
        v.sort_by_key(|(c, _)| *c);
        v.into_iter().map(|(_, c)| c).collect()
    }

    fn special_use(&self, annots: &mut Option<Annotations>, t: &Target) -> Option<String> {
        let db = annots.as_mut()?;
        let uniqueid = t.entry.uniqueid.clone()?;
        let owner = t.mbname.localpart.clone()?;
        let target = AnnotTarget::Mailbox {
            uniqueid,
            owner: Some(owner.clone()),
        };
        let v = db
            .get(&target, "/specialuse", &Scope::Private(owner))
            .ok()??;
        let s = String::from_utf8_lossy(&v.value).trim().to_string();
        (!s.is_empty()).then_some(s)
    }

    pub(super) fn list(&mut self, tag: &str, args: &ListArgs) {
        let start = Instant::now();
        let sep = self.sep();
        let verb = if args.xlist { "XLIST" } else { "LIST" };
        if args.patterns.len() == 1 && args.patterns[0].is_empty() && args.select.is_empty() {
            // RFC 3501 §6.3.8: the hierarchy delimiter and root of the reference.
            let root = match args.reference.find(sep) {
                Some(i) => &args.reference[..=i],
                None => "",
            };
            self.line(&format!("* {verb} (\\Noselect) \"{sep}\" {}", quoted(root)));
            return self.ok(
                tag,
                &format!("Completed ({:.3} secs)", start.elapsed().as_secs_f64()),
            );
        }
        let subscribed_only = args.select.iter().any(|s| s == "SUBSCRIBED");
        let special_only = args.select.iter().any(|s| s == "SPECIAL-USE");
        let want_subscribed = subscribed_only || args.returns.iter().any(|s| s == "SUBSCRIBED");
        let want_myrights = args.returns.iter().any(|s| s == "MYRIGHTS");
        let patterns: Vec<String> = args
            .patterns
            .iter()
            .map(|p| combine(&args.reference, p, sep))
            .collect();
        let all = self.visible();
        let subs: BTreeSet<String> = if want_subscribed {
            self.subscribed_names().into_iter().collect()
        } else {
            BTreeSet::new()
        };
        let names: BTreeSet<&str> = all.iter().map(|c| c.ext.as_str()).collect();
        let mut annots = Annotations::open(&self.config).ok();
        let mut calls = 0usize;
        let mut lines = Vec::new();
        let mut shown = BTreeSet::new();
        for c in &all {
            // Cyrus counts the names it considered: the subscriptions for SUBSCRIBED.
            let considered = !subscribed_only || subs.contains(&c.ext);
            if considered && patterns.iter().any(|p| c.ext.starts_with(fixed_prefix(p))) {
                calls += 1;
            }
            let matched = patterns.iter().any(|p| pattern_match(p, &c.ext, sep));
            if !matched {
                // A `%` pattern shows the parent level of deeper names as \Noselect.
                for p in &patterns {
                    if let Some(parent) = matching_ancestor(p, &c.ext, sep) {
                        if !names.contains(parent.as_str())
                            && shown.insert(parent.clone())
                            && !subscribed_only
                            && !special_only
                        {
                            lines.push(format!(
                                "* {verb} (\\Noselect \\HasChildren) \"{sep}\" {}",
                                astring(&parent)
                            ));
                        }
                    }
                }
                continue;
            }
            let is_sub = subs.contains(&c.ext);
            if subscribed_only && !is_sub {
                continue;
            }
            let special = self.special_use(&mut annots, &c.target);
            if special_only && special.is_none() {
                continue;
            }
            let prefix = format!("{}{sep}", c.ext);
            let has_children = names
                .range(prefix.as_str()..)
                .next()
                .is_some_and(|n| n.starts_with(&prefix));
            let mut attrs = Vec::new();
            if is_sub {
                attrs.push("\\Subscribed".to_string());
            }
            attrs.push(
                if has_children {
                    "\\HasChildren"
                } else {
                    "\\HasNoChildren"
                }
                .to_string(),
            );
            if args.xlist && c.ext == "INBOX" {
                attrs.push("\\Inbox".into());
            }
            if let Some(s) = special {
                attrs.push(s);
            }
            shown.insert(c.ext.clone());
            lines.push(format!(
                "* {verb} ({}) \"{sep}\" {}",
                attrs.join(" "),
                astring(&c.ext)
            ));
            if let Some(items) = &args.status {
                if let Ok(list) = self.status_list(&c.target, items) {
                    lines.push(format!("* STATUS {} {list}", astring(&c.ext)));
                }
            }
            if want_myrights {
                let dr = self
                    .config
                    .string("deleteright")
                    .and_then(|s| s.chars().next())
                    .unwrap_or('c');
                lines.push(format!(
                    "* MYRIGHTS {} {}",
                    astring(&c.ext),
                    astring(&c.target.rights.to_string_with(dr))
                ));
            }
        }
        for l in lines {
            self.line(&l);
        }
        self.ok(
            tag,
            &format!(
                "Completed ({:.3} secs {calls} calls)",
                start.elapsed().as_secs_f64()
            ),
        );
    }

    /// The user's subscriptions, as external names.
    fn subscribed_names(&self) -> Vec<String> {
        let Some(user) = self.user.as_ref() else {
            return Vec::new();
        };
        Subscriptions::open(&self.config, &user.userid, false)
            .and_then(|mut s| s.list_external(&user.ns, &user.userid))
            .map(|v| v.into_iter().map(|e| e.as_str().to_string()).collect())
            .unwrap_or_default()
    }

    pub(super) fn lsub(&mut self, tag: &str, reference: &str, pattern: &str) {
        let start = Instant::now();
        let sep = self.sep();
        let pattern = combine(reference, pattern, sep);
        let all = self.visible();
        let mut annots = Annotations::open(&self.config).ok();
        let subscribed = self.subscribed_names();
        // Cyrus counts the subscriptions it walks: those under the pattern's fixed prefix.
        let calls = subscribed
            .iter()
            .filter(|s| s.starts_with(fixed_prefix(&pattern)))
            .count();
        // As Cyrus 3.6 answers: \HasChildren when a subscribed mailbox lies below (never
        // \HasNoChildren), and for a `%` that stops above a subscribed mailbox, its
        // unsubscribed ancestor as \Noselect (RFC 3501 §6.3.9).
        let has_children = |name: &str| {
            let prefix = format!("{name}{sep}");
            subscribed.iter().any(|s| s.starts_with(&prefix))
        };
        let mut shown: BTreeSet<String> = BTreeSet::new();
        for name in &subscribed {
            let (name, parent) = if pattern_match(&pattern, name, sep) {
                (name.clone(), false)
            } else if let Some(parent) = matching_ancestor(&pattern, name, sep) {
                if subscribed.contains(&parent) {
                    continue;
                }
                (parent, true)
            } else {
                continue;
            };
            if !shown.insert(name.clone()) {
                continue;
            }
            let mut attrs: Vec<String> = Vec::new();
            match all.iter().find(|c| c.ext == name) {
                Some(c) if !parent => {
                    if has_children(&name) {
                        attrs.push("\\HasChildren".into());
                    }
                    attrs.extend(self.special_use(&mut annots, &c.target));
                }
                _ => {
                    attrs.push("\\Noselect".into());
                    if has_children(&name) {
                        attrs.push("\\HasChildren".into());
                    }
                }
            }
            self.line(&format!(
                "* LSUB ({}) \"{sep}\" {}",
                attrs.join(" "),
                astring(&name)
            ));
        }
        self.ok(
            tag,
            &format!(
                "Completed ({:.3} secs {calls} calls)",
                start.elapsed().as_secs_f64()
            ),
        );
    }

    pub(super) fn namespace(&mut self, tag: &str) {
        let Some(user) = self.user.as_ref() else {
            return;
        };
        let ns = &user.ns;
        let sep = ns.sep;
        let personal = if ns.admin {
            "NIL".to_string()
        } else if ns.alt {
            format!("((\"\" \"{sep}\"))")
        } else {
            format!("((\"INBOX{sep}\" \"{sep}\"))")
        };
        let (other, shared) = if ns.alt && !ns.admin {
            (
                format!("((\"{}{sep}\" \"{sep}\"))", ns.userprefix),
                format!("((\"{}{sep}\" \"{sep}\"))", ns.sharedprefix),
            )
        } else {
            (
                format!("((\"user{sep}\" \"{sep}\"))"),
                format!("((\"\" \"{sep}\"))"),
            )
        };
        self.line(&format!("* NAMESPACE {personal} {other} {shared}"));
        self.ok(tag, "Completed");
    }
}

/// The pattern a reference and a mailbox pattern make together (RFC 3501 §6.3.8).
fn combine(reference: &str, pattern: &str, sep: char) -> String {
    if reference.is_empty() || pattern.starts_with(sep) {
        pattern.to_string()
    } else if reference.ends_with(sep) {
        format!("{reference}{pattern}")
    } else {
        format!("{reference}{sep}{pattern}")
    }
}

/// For a pattern ending in `%`, the ancestor of `name` at the pattern's depth, if it matches.
fn matching_ancestor(pattern: &str, name: &str, sep: char) -> Option<String> {
    if !pattern.ends_with('%') {
        return None;
    }
    let mut cut = name.len();
    while let Some(i) = name[..cut].rfind(sep) {
        cut = i;
        let parent = &name[..cut];
        if pattern_match(pattern, parent, sep) {
            return Some(parent.to_string());
        }
    }
    None
}

fn quoted(s: &str) -> String {
    format!("\"{s}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_as_rfc_3501_says() {
        for (p, n, want) in [
            ("*", "INBOX.Archive.2024", true),
            ("%", "INBOX", true),
            ("%", "INBOX.Archive", false),
            ("INBOX.%", "INBOX.Archive", true),
            ("INBOX.%", "INBOX.Archive.2024", false),
            ("inbox.%", "INBOX.Sent", true),
            ("INBOX.Arch*", "INBOX.Archive.2024", true),
            ("shared", "shared.team", false),
            ("s*m", "shared.team", true),
        ] {
            assert_eq!(pattern_match(p, n, '.'), want, "{p} vs {n}");
        }
    }

    #[test]
    fn reference_joins_pattern() {
        assert_eq!(combine("", "*", '.'), "*");
        assert_eq!(combine("INBOX.", "Arch*", '.'), "INBOX.Arch*");
        assert_eq!(combine("INBOX", "Arch*", '.'), "INBOX.Arch*");
    }
}
