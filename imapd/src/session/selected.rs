//! The selected mailbox as this client knows it: the message sequence (UIDs in order), the
//! modseq each message had when the client last heard of it, \Recent and, for mailboxes of
//! other users, the seen state from the user's seen.db.
//!
//! [`Session::sync_selected`] compares that view with the index on disk and tells the
//! client what others changed: `EXPUNGE` (only where RFC 3501 §7.4.1 allows it), `EXISTS`,
//! `RECENT`, `FETCH (FLAGS ...)`, and new keywords as `FLAGS`/`PERMANENTFLAGS`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use cyrus::acl::Rights;
use cyrus::mailbox::index::{IndexRecord, SystemFlags};
use cyrus::mailbox::{LockMode, Mailbox};
use cyrus::seen::{SeenDb, SeenEntry, SeqSet as UidSet};
use cyrus::syslog::{self, Level};

use super::names::Target;
use super::{Session, State};
use crate::fetch::{
    flag_list, flags_response, flags_update, permanent_flags, FlagRights, MessageState,
};

/// The selected mailbox.
#[derive(Debug)]
pub struct Selected {
    /// What was selected.
    pub target: Target,
    /// Where its files are.
    pub dir: PathBuf,
    /// EXAMINE, or SELECT without the rights to change anything.
    pub read_only: bool,
    /// \Seen lives in the index (the user's own mailbox) rather than in seen.db.
    pub internal_seen: bool,
    /// UIDVALIDITY at select time.
    pub uidvalidity: u32,
    /// UIDs by message sequence number - 1.
    pub uids: Vec<u32>,
    /// The modseq of each message when the client last heard of it.
    pub modseqs: Vec<u64>,
    /// The highest UID the client has heard of.
    pub last_uid: u32,
    /// The user flag names the client has been told (`FLAGS`).
    pub user_flags: Vec<Option<String>>,
    /// UIDs that are \Recent in this session.
    pub recent: BTreeSet<u32>,
    /// Seen UIDs from seen.db (unused when `internal_seen`).
    pub seen: UidSet,
    /// The seen.db entry as read, to write back.
    pub seen_entry: SeenEntry,
    /// Number of RECENT last reported.
    pub recent_told: usize,
}

impl Selected {
    /// The 1-based sequence number of `uid`, if the client knows it.
    pub fn seq_of(&self, uid: u32) -> Option<u32> {
        self.uids.binary_search(&uid).ok().map(|i| i as u32 + 1)
    }

    /// Whether the user has seen `rec`.
    pub fn is_seen(&self, rec: &IndexRecord) -> bool {
        if self.internal_seen {
            rec.system_flags.has(SystemFlags::SEEN)
        } else {
            self.seen.contains(rec.uid)
        }
    }

    /// This session's view of `rec`'s \Seen and \Recent.
    pub fn state_of(&self, rec: &IndexRecord, flags_changed: bool) -> MessageState {
        MessageState {
            seen: self.is_seen(rec),
            recent: self.recent.contains(&rec.uid),
            flags_changed,
        }
    }

    /// The FLAGS text of `rec` for this session.
    pub fn flags_of(&self, rec: &IndexRecord) -> String {
        flag_list(
            rec,
            &self.user_flags,
            self.is_seen(rec),
            self.recent.contains(&rec.uid),
        )
    }

    /// `* FLAGS` and `PERMANENTFLAGS` lines for the current keywords.
    pub fn flags_lines(&self, rights: Rights) -> String {
        let perm = permanent_flags(
            &self.user_flags,
            self.read_only,
            FlagRights {
                write: rights.has(Rights::WRITE),
                delete_msg: rights.has(Rights::DELETE_MSG),
                set_seen: rights.has(Rights::SEEN),
            },
        );
        format!(
            "{}* OK [PERMANENTFLAGS {perm}] Ok\r\n",
            flags_response(&self.user_flags)
        )
    }

    /// The sequence numbers (with their UIDs) of `set`, resolved against this view.
    pub fn resolve(&self, set: &crate::proto::command::SeqSet, uid: bool) -> Vec<(u32, u32)> {
        let mut out = Vec::new();
        if uid {
            // `*` is the highest UID in the mailbox, even if the set asks for more.
            let max = self.uids.last().copied().unwrap_or(0);
            for (lo, hi) in set.ranges(max) {
                let start = self.uids.partition_point(|&u| u < lo);
                for (i, &u) in self.uids[start..].iter().enumerate() {
                    if u > hi {
                        break;
                    }
                    out.push((start as u32 + i as u32 + 1, u));
                }
            }
        } else {
            let max = self.uids.len() as u32;
            for (lo, hi) in set.ranges(max) {
                for seq in lo.max(1)..=hi.min(max) {
                    out.push((seq, self.uids[seq as usize - 1]));
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Writes the seen state back to seen.db (mailboxes of other users only).
    pub fn save_seen(&mut self, config: &cyrus::config::Config, userid: &str) {
        if self.internal_seen {
            return;
        }
        let Some(uniqueid) = self.target.entry.uniqueid.clone() else {
            return;
        };
        let now = cyrus::mboxlist::now();
        self.seen_entry.seenuids = self.seen.clone();
        self.seen_entry.lastchange = now;
        self.seen_entry.lastread = now;
        let r = SeenDb::open(config, userid, true)
            .and_then(|mut db| db.write(&uniqueid, &self.seen_entry));
        if let Err(e) = r {
            syslog::log(
                Level::Err,
                &format!("IOERROR: writing seen state of {userid}: {e}"),
            );
        }
    }
}

impl Session {
    pub(super) fn selected(&self) -> Option<&Selected> {
        match &self.state {
            State::Selected(s) => Some(s),
            _ => None,
        }
    }

    pub(super) fn selected_mut(&mut self) -> Option<&mut Selected> {
        match &mut self.state {
            State::Selected(s) => Some(s),
            _ => None,
        }
    }

    /// Writes the selected mailbox's seen state back to the user's seen.db.
    pub(super) fn save_seen(&mut self) {
        let config = self.config.clone();
        let Some(userid) = self.user.as_ref().map(|u| u.userid.clone()) else {
            return;
        };
        if let State::Selected(sel) = &mut self.state {
            sel.save_seen(&config, &userid);
        }
    }

    /// Opens the selected mailbox's index for reading (or writing).
    pub(super) fn open_selected(&self, mode: LockMode) -> Option<Mailbox> {
        let sel = self.selected()?;
        match Mailbox::open(&sel.dir, mode) {
            Ok(mb) => Some(mb),
            Err(e) => {
                syslog::log(
                    Level::Err,
                    &format!("IOERROR: opening {}: {e}", sel.dir.display()),
                );
                None
            }
        }
    }

    /// Tells the client what changed in the selected mailbox since it last heard.
    /// `expunges` says whether EXPUNGE responses may be sent now.
    pub(super) fn sync_selected(&mut self, expunges: bool) {
        let Some(mb) = self.open_selected(LockMode::Read) else {
            return;
        };
        let condstore = self.enabled.condstore;
        let qresync = self.enabled.qresync;
        let mut out = String::new();
        let Some(sel) = self.selected_mut() else {
            return;
        };
        let records = mb.records();
        let live = |uid: u32| -> Option<&IndexRecord> {
            records
                .binary_search_by_key(&uid, |r| r.uid)
                .ok()
                .map(|i| &records[i])
                .filter(|r| !r.is_expunged())
        };
        if expunges {
            let mut i = 0;
            let mut vanished = Vec::new();
            while i < sel.uids.len() {
                if live(sel.uids[i]).is_none() {
                    if !qresync {
                        out.push_str(&format!("* {} EXPUNGE\r\n", i + 1));
                    }
                    vanished.push(sel.uids[i]);
                    sel.recent.remove(&sel.uids[i]);
                    sel.uids.remove(i);
                    sel.modseqs.remove(i);
                } else {
                    i += 1;
                }
            }
            // RFC 7162 §3.2.10: under QRESYNC expunges are told as one UID set.
            if qresync && !vanished.is_empty() {
                out.push_str(&format!(
                    "* VANISHED {}\r\n",
                    super::reply::compress_set(&vanished)
                ));
            }
        }
        // New keywords first, so that FETCH responses below only use announced names.
        if mb.header().user_flags != sel.user_flags {
            sel.user_flags = mb.header().user_flags.clone();
            let rights = sel.target.rights;
            out.push_str(&sel.flags_lines(rights));
        }
        for i in 0..sel.uids.len() {
            let Some(rec) = live(sel.uids[i]) else {
                continue;
            };
            if rec.modseq > sel.modseqs[i] {
                sel.modseqs[i] = rec.modseq;
                let state = sel.state_of(rec, true);
                out.push_str(&flags_update(
                    i as u32 + 1,
                    rec,
                    &sel.user_flags,
                    &state,
                    qresync,
                    condstore,
                ));
            }
        }
        let before = sel.uids.len();
        let ih = mb.index_header();
        for rec in records
            .iter()
            .filter(|r| r.uid > sel.last_uid && !r.is_expunged())
        {
            sel.uids.push(rec.uid);
            sel.modseqs.push(rec.modseq);
            if !sel.read_only || rec.uid > ih.recentuid {
                sel.recent.insert(rec.uid);
            }
        }
        let claim = (!sel.read_only && ih.last_uid > sel.last_uid).then_some(ih.last_uid);
        sel.last_uid = sel.last_uid.max(ih.last_uid);
        // Cyrus reports RECENT with EXISTS only, never for a message that went away.
        if sel.uids.len() != before {
            out.push_str(&format!("* {} EXISTS\r\n", sel.uids.len()));
            out.push_str(&format!("* {} RECENT\r\n", sel.recent.len()));
        }
        sel.recent_told = sel.recent.len();
        let internal = sel.internal_seen;
        drop(mb);
        self.out.extend_from_slice(out.as_bytes());
        // The new messages are \Recent to this session only: claim them on disk.
        if let Some(uid) = claim {
            if internal {
                let r = self
                    .open_selected(LockMode::Write)
                    .map(|mut mb| mb.set_recentuid(uid, super::select::now32()));
                if let Some(Err(e)) = r {
                    syslog::log(Level::Err, &format!("IOERROR: recentuid: {e}"));
                }
            } else if let Some(sel) = self.selected_mut() {
                sel.seen_entry.lastuid = uid;
                self.save_seen();
            }
        }
    }
}
