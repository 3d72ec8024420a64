//! QRESYNC (RFC 7162 §3.2): expunges told as `VANISHED` UID sets, `VANISHED (EARLIER)` for
//! a UID FETCH with CHANGEDSINCE, and the resynchronisation a `SELECT ... (QRESYNC ...)`
//! asks for. With delayed expunge the index keeps an expunged message's record and the
//! modseq of its expunge, which is what tells the UIDs that vanished since a modseq.

use cyrus::mailbox::Mailbox;

use super::reply::compress_set;
use super::Session;
use crate::fetch::flags_update;
use crate::proto::command::{QresyncParams, SeqSet};

/// The UIDs of `set` (all when `None`) expunged after modseq `since`. Records a repack has
/// removed (below the index's `deletedmodseq`) are not known any more: then every UID up to
/// the last one that is not live is reported, which RFC 7162 §3.2.5.1 allows.
pub fn vanished_since(mb: &Mailbox, since: u64, set: Option<&SeqSet>) -> Vec<u32> {
    let ih = mb.index_header();
    let last = ih.last_uid;
    let wanted = |uid: u32| set.is_none_or(|s| s.contains(uid, last));
    let records = mb.records();
    if since >= ih.deletedmodseq {
        return records
            .iter()
            .filter(|r| r.is_expunged() && r.modseq > since && wanted(r.uid))
            .map(|r| r.uid)
            .collect();
    }
    let live: std::collections::HashSet<u32> = records
        .iter()
        .filter(|r| !r.is_expunged())
        .map(|r| r.uid)
        .collect();
    (1..=last)
        .filter(|u| !live.contains(u) && wanted(*u))
        .collect()
}

impl Session {
    /// The resynchronisation of `SELECT mailbox (QRESYNC (...))` after the usual SELECT
    /// responses: what vanished and what changed since the client's modseq, if the mailbox
    /// is still the one it knew (same UIDVALIDITY).
    pub(super) fn qresync_select(&mut self, mb: &Mailbox, q: &QresyncParams) {
        let Some(sel) = self.selected() else {
            return;
        };
        if q.uidvalidity != sel.uidvalidity {
            return;
        }
        let mut out = String::new();
        let gone = vanished_since(mb, q.modseq, q.known_uids.as_ref());
        if !gone.is_empty() {
            out.push_str(&format!("* VANISHED (EARLIER) {}\r\n", compress_set(&gone)));
        }
        for (i, &uid) in sel.uids.iter().enumerate() {
            let Some(rec) = mb.record(uid) else { continue };
            if rec.modseq > q.modseq {
                let state = sel.state_of(rec, false);
                out.push_str(&flags_update(
                    i as u32 + 1,
                    rec,
                    &sel.user_flags,
                    &state,
                    true,
                    true,
                ));
            }
        }
        self.out.extend_from_slice(out.as_bytes());
    }
}
