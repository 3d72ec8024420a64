//! SELECT, EXAMINE, CLOSE, UNSELECT and EXPUNGE: entering and leaving the selected state,
//! and removing messages.

use std::collections::BTreeSet;

use cyrus::acl::Rights;
use cyrus::mailbox::index::{Options, SystemFlags};
use cyrus::mailbox::{LockMode, Mailbox};
use cyrus::mboxlist::BaseType;
use cyrus::seen::{SeenDb, SeenEntry};
use cyrus::syslog::{self, Level};

use super::names::{IOERROR, NONEXISTENT};
use super::selected::Selected;
use super::{Session, State};
use crate::proto::command::{SelectParams, SeqSet};

pub(super) fn now32() -> u32 {
    u32::try_from(cyrus::mboxlist::now()).unwrap_or(u32::MAX)
}

impl Session {
    pub(super) fn select(&mut self, tag: &str, ext: &str, examine: bool, params: &SelectParams) {
        if params.qresync.is_some() && !self.enabled.qresync {
            // RFC 7162 §3.2.5: QRESYNC parameters need ENABLE QRESYNC first.
            return self.bad(Some(tag), "QRESYNC not enabled");
        }
        let condstore = params.condstore;
        // Leaving a selected mailbox first, as RFC 3501 §6.3.1 says, even if this fails.
        if let State::Selected(_) = self.state {
            self.leave_selected(false);
            self.state = State::Authenticated;
            if self.enabled.qresync {
                // RFC 7162 §3.2.11: the client learns where one mailbox's responses end.
                self.line("* OK [CLOSED] Ok");
            }
        }
        let target = match self.lookup(ext) {
            Ok(t) => t,
            Err(m) => return self.no(tag, m.text()),
        };
        if !target.rights.has(Rights::READ) {
            return self.no(tag, super::names::DENIED);
        }
        // A sieve script store or DAV collection is not an IMAP mailbox (as Cyrus 3.6 says).
        if target.entry.mbtype.base != BaseType::Email {
            return self.no(tag, "Invalid mailbox type");
        }
        let Some(dir) = self.mailbox_dir(&target.entry) else {
            return self.no(tag, NONEXISTENT);
        };
        // RFC 4314 §4: without any right to change the mailbox, SELECT is read-only.
        let may_change = [
            Rights::SEEN,
            Rights::WRITE,
            Rights::INSERT,
            Rights::DELETE_MSG,
            Rights::EXPUNGE,
        ]
        .iter()
        .any(|&r| target.rights.has(r));
        let read_only = examine || !may_change;
        let mode = if read_only {
            LockMode::Read
        } else {
            LockMode::Write
        };
        let mut mb = match Mailbox::open(&dir, mode) {
            Ok(m) => m,
            Err(cyrus::Error::NotFound) => return self.no(tag, NONEXISTENT),
            Err(e) => {
                syslog::log(
                    Level::Err,
                    &format!("IOERROR: opening {}: {e}", dir.display()),
                );
                return self.no(tag, IOERROR);
            }
        };
        let Some(user) = self.user.clone() else {
            return;
        };
        if condstore {
            self.enabled.condstore = true;
        }
        let ih = mb.index_header().clone();
        let internal_seen = self.internal_seen(&target.mbname, ih.options.has(Options::SHAREDSEEN));
        let (seen_entry, recent_from) = if internal_seen {
            (SeenEntry::default(), ih.recentuid)
        } else {
            let entry = target
                .entry
                .uniqueid
                .as_deref()
                .and_then(|id| {
                    SeenDb::open(&self.config, &user.userid, false)
                        .ok()
                        .and_then(|mut db| db.read(id).ok().flatten())
                })
                .unwrap_or_default();
            let last = entry.lastuid;
            (entry, last)
        };
        let live: Vec<_> = mb.records().iter().filter(|r| !r.is_expunged()).collect();
        let uids: Vec<u32> = live.iter().map(|r| r.uid).collect();
        let modseqs: Vec<u64> = live.iter().map(|r| r.modseq).collect();
        let recent: BTreeSet<u32> = uids.iter().copied().filter(|&u| u > recent_from).collect();
        let mut sel = Selected {
            dir: dir.clone(),
            read_only,
            internal_seen,
            uidvalidity: ih.uidvalidity,
            uids,
            modseqs,
            last_uid: ih.last_uid,
            user_flags: mb.header().user_flags.clone(),
            recent,
            seen: seen_entry.seenuids.clone(),
            seen_entry,
            recent_told: 0,
            target,
        };
        sel.recent_told = sel.recent.len();
        let first_unseen = live.iter().position(|r| !sel.is_seen(r)).map(|i| i + 1);
        let mut out = format!(
            "* {} EXISTS\r\n* {} RECENT\r\n",
            sel.uids.len(),
            sel.recent.len()
        );
        out.push_str(&sel.flags_lines(sel.target.rights));
        if let Some(n) = first_unseen {
            out.push_str(&format!("* OK [UNSEEN {n}] Ok\r\n"));
        }
        out.push_str(&format!("* OK [UIDVALIDITY {}] Ok\r\n", ih.uidvalidity));
        out.push_str(&format!("* OK [UIDNEXT {}] Ok\r\n", ih.last_uid + 1));
        out.push_str(&format!(
            "* OK [HIGHESTMODSEQ {}] Ok\r\n",
            ih.effective_highestmodseq()
        ));
        if let Some(id) = &sel.target.entry.uniqueid {
            out.push_str(&format!("* OK [MAILBOXID ({id})] Ok\r\n"));
        }
        out.push_str("* OK [URLMECH INTERNAL] Ok\r\n* OK [ANNOTATIONS 65536] Ok\r\n");
        self.out.extend_from_slice(out.as_bytes());
        // A read-write SELECT claims the \Recent messages for this session.
        if !read_only {
            let now = now32();
            if internal_seen {
                if let Err(e) = mb.set_recentuid(ih.last_uid, now) {
                    syslog::log(Level::Err, &format!("IOERROR: recentuid: {e}"));
                }
            } else {
                sel.seen_entry.lastuid = ih.last_uid;
                sel.save_seen(&self.config, &user.userid);
            }
        }
        self.state = State::Selected(Box::new(sel));
        if let Some(q) = &params.qresync {
            self.qresync_select(&mb, q);
        }
        drop(mb);
        let code = if read_only { "READ-ONLY" } else { "READ-WRITE" };
        self.ok(tag, &format!("[{code}] Completed"));
    }

    /// Drops the selected state; `expunge` removes \Deleted messages silently first (CLOSE).
    fn leave_selected(&mut self, expunge: bool) {
        if expunge {
            let _ = self.expunge_deleted(None);
        }
        if let (Some(user), State::Selected(sel)) = (self.user.clone(), &mut self.state) {
            if !sel.read_only {
                sel.save_seen(&self.config, &user.userid);
            }
        }
    }

    pub(super) fn close(&mut self, tag: &str, expunge: bool) {
        let writable = self.selected().is_some_and(|s| !s.read_only);
        self.leave_selected(expunge && writable);
        self.state = State::Authenticated;
        self.ok(tag, "Completed");
    }

    /// Expunges the \Deleted messages (of `uids`, if given); returns the UIDs removed.
    fn expunge_deleted(&mut self, uids: Option<&[u32]>) -> Result<Vec<u32>, &'static str> {
        let Some(sel) = self.selected() else {
            return Err(IOERROR);
        };
        if sel.read_only {
            return Err(super::names::DENIED);
        }
        if !sel.target.rights.has(Rights::EXPUNGE) {
            return Err(super::names::DENIED);
        }
        let Some(mut mb) = self.open_selected(LockMode::Write) else {
            return Err(IOERROR);
        };
        let now = now32();
        let doomed: Vec<u32> = mb
            .records()
            .iter()
            .filter(|r| !r.is_expunged() && r.system_flags.has(SystemFlags::DELETED))
            .filter(|r| uids.is_none_or(|u| u.binary_search(&r.uid).is_ok()))
            .map(|r| r.uid)
            .collect();
        for &uid in &doomed {
            if let Err(e) = mb.expunge(uid, now) {
                syslog::log(Level::Err, &format!("IOERROR: expunge {uid}: {e}"));
                return Err(IOERROR);
            }
        }
        self.update_quota_after_expunge(&mb, &doomed);
        self.finish_expunge(&mut mb);
        Ok(doomed)
    }

    /// With `expunge_mode: immediate`, removes what was just expunged for good (files
    /// unlinked, index and cache repacked); with `delayed` (the default) `cyr_expire` does.
    pub(super) fn finish_expunge(&self, mb: &mut Mailbox) {
        if self.config.string("expunge_mode") != Some("immediate") {
            return;
        }
        let now = now32();
        let r = mb
            .unlink_expunged(now)
            .and_then(|n| if n > 0 { mb.repack(now) } else { Ok(()) });
        if let Err(e) = r {
            syslog::log(
                Level::Err,
                &format!("IOERROR: repacking {}: {e}", mb.dir().display()),
            );
        }
    }

    pub(super) fn expunge(&mut self, tag: &str, set: Option<&SeqSet>) {
        let uids: Option<Vec<u32>> = match (set, self.selected()) {
            (Some(set), Some(sel)) => {
                Some(sel.resolve(set, true).into_iter().map(|(_, u)| u).collect())
            }
            _ => None,
        };
        match self.expunge_deleted(uids.as_deref()) {
            Ok(_) => {
                self.sync_selected(true);
                let hms = self
                    .open_selected(LockMode::Read)
                    .map(|mb| mb.index_header().effective_highestmodseq())
                    .unwrap_or(0);
                self.ok(tag, &format!("[HIGHESTMODSEQ {hms}] Completed"));
            }
            Err(text) => self.no(tag, text),
        }
    }
}
