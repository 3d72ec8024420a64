//! STORE and UID STORE (RFC 3501 §6.4.6) with UNCHANGEDSINCE (RFC 7162 §3.1.3).

use cyrus::acl::Rights;
use cyrus::mailbox::index::SystemFlags;
use cyrus::mailbox::LockMode;
use cyrus::syslog::{self, Level};

use super::names::{DENIED, IOERROR};
use super::select::now32;
use super::Session;
use crate::proto::command::{StoreArgs, StoreMode};

/// The flags of one STORE, sorted into what the index holds and what seen.db holds.
struct FlagSet {
    system: u16,
    seen: bool,
    keywords: Vec<String>,
}

fn system_flag(name: &str) -> Option<u16> {
    Some(match name.to_ascii_lowercase().as_str() {
        "\\answered" => SystemFlags::ANSWERED,
        "\\flagged" => SystemFlags::FLAGGED,
        "\\deleted" => SystemFlags::DELETED,
        "\\draft" => SystemFlags::DRAFT,
        "\\seen" => SystemFlags::SEEN,
        _ => return None,
    })
}

fn sort_flags(flags: &[String]) -> Result<FlagSet, &'static str> {
    let mut set = FlagSet {
        system: 0,
        seen: false,
        keywords: Vec::new(),
    };
    for f in flags {
        if f.starts_with('\\') {
            match system_flag(f) {
                Some(SystemFlags::SEEN) => set.seen = true,
                Some(bit) => set.system |= bit,
                // \Recent may not be stored; any other backslash name is not a flag.
                None => return Err("Invalid system flag in Store command"),
            }
        } else if !set.keywords.iter().any(|k| k.eq_ignore_ascii_case(f)) {
            set.keywords.push(f.clone());
        }
    }
    Ok(set)
}

impl Session {
    pub(super) fn store(&mut self, tag: &str, args: &StoreArgs) {
        let flags = match sort_flags(&args.flags) {
            Ok(f) => f,
            Err(text) => return self.bad(Some(tag), text),
        };
        let Some(sel) = self.selected() else {
            return;
        };
        let rights = sel.target.rights;
        let needs_write = flags.system & !SystemFlags::DELETED != 0
            || !flags.keywords.is_empty()
            || args.mode == StoreMode::Replace;
        let denied = sel.read_only
            || (flags.seen && !rights.has(Rights::SEEN))
            || (flags.system & SystemFlags::DELETED != 0 && !rights.has(Rights::DELETE_MSG))
            || (needs_write && !rights.has(Rights::WRITE));
        if denied {
            return self.no(tag, DENIED);
        }
        let targets = sel.resolve(&args.set, args.uid);
        if targets.is_empty() && !args.uid {
            return self.no(tag, "No matching messages");
        }
        let Some(mut mb) = self.open_selected(LockMode::Write) else {
            return self.no(tag, IOERROR);
        };
        // Keywords get numbers (and cyrus.header entries) before any record changes.
        let mut user_bits = [0u32; 4];
        for k in &flags.keywords {
            match mb.user_flag(k, args.mode != StoreMode::Remove) {
                Ok(Some(n)) => user_bits[n / 32] |= 1 << (n % 32),
                Ok(None) => {}
                Err(e) => {
                    syslog::log(Level::Err, &format!("IOERROR: user flag {k}: {e}"));
                    return self.no(tag, "Too many user flags in mailbox");
                }
            }
        }
        let condstore = self.enabled.condstore || args.unchangedsince.is_some();
        let qresync = self.enabled.qresync;
        let now = now32();
        let names = mb.header().user_flags.clone();
        let mut out = String::new();
        let mut modified = Vec::new();
        let mut seen_changed = false;
        let Some(sel) = self.selected_mut() else {
            return;
        };
        if names != sel.user_flags {
            sel.user_flags = names;
            out.push_str(&sel.flags_lines(rights));
        }
        let seen_in_index = sel.internal_seen;
        for (seq, uid) in targets {
            let Some(rec) = mb.record(uid).cloned() else {
                continue;
            };
            if rec.is_expunged() {
                continue;
            }
            if args.unchangedsince.is_some_and(|u| rec.modseq > u) {
                modified.push(if args.uid { uid } else { seq });
                continue;
            }
            let mut system = flags.system;
            if flags.seen && seen_in_index {
                system |= SystemFlags::SEEN;
            }
            let (new_sys, new_user) = match args.mode {
                StoreMode::Replace => {
                    let keep_seen = if seen_in_index {
                        0
                    } else {
                        rec.system_flags.0 & SystemFlags::SEEN
                    };
                    (system | keep_seen, user_bits)
                }
                StoreMode::Add => (rec.system_flags.0 | system, or4(rec.user_flags, user_bits)),
                StoreMode::Remove => (
                    rec.system_flags.0 & !system,
                    andnot4(rec.user_flags, user_bits),
                ),
            };
            if !seen_in_index {
                let was = sel.seen.contains(uid);
                let now_seen = match args.mode {
                    StoreMode::Replace => flags.seen,
                    StoreMode::Add => was || flags.seen,
                    StoreMode::Remove => was && !flags.seen,
                };
                if now_seen != was {
                    if now_seen {
                        sel.seen.add(uid);
                    } else {
                        sel.seen.remove(uid);
                    }
                    seen_changed = true;
                }
            }
            let mut cur = rec.clone();
            if new_sys != rec.system_flags.0 || new_user != rec.user_flags {
                match mb.set_flags(uid, SystemFlags(new_sys), new_user, now) {
                    Ok(r) => cur = r,
                    Err(e) => {
                        syslog::log(Level::Err, &format!("IOERROR: store {uid}: {e}"));
                        self.out.extend_from_slice(out.as_bytes());
                        return self.no(tag, IOERROR);
                    }
                }
            }
            if let Some(i) = sel.seq_of(uid) {
                sel.modseqs[i as usize - 1] = cur.modseq;
            }
            if !args.silent {
                let state = sel.state_of(&cur, false);
                out.push_str(&crate::fetch::flags_update(
                    seq,
                    &cur,
                    &sel.user_flags,
                    &state,
                    args.uid || qresync,
                    condstore,
                ));
            }
        }
        drop(mb);
        self.out.extend_from_slice(out.as_bytes());
        if seen_changed {
            self.save_seen();
        }
        self.sync_selected(false);
        if modified.is_empty() {
            self.ok(tag, "Completed");
        } else {
            let set = super::reply::compress_set(&modified);
            self.ok(tag, &format!("[MODIFIED {set}] Completed"));
        }
    }
}

fn or4(a: [u32; 4], b: [u32; 4]) -> [u32; 4] {
    [a[0] | b[0], a[1] | b[1], a[2] | b[2], a[3] | b[3]]
}

fn andnot4(a: [u32; 4], b: [u32; 4]) -> [u32; 4] {
    [a[0] & !b[0], a[1] & !b[1], a[2] & !b[2], a[3] & !b[3]]
}
