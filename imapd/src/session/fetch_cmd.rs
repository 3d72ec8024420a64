//! FETCH and UID FETCH (RFC 3501 §6.4.5, CHANGEDSINCE of RFC 7162): which messages, in
//! what order, and the \Seen a non-PEEK body fetch sets. The bytes of each item come from
//! the `fetch` module.

use cyrus::mailbox::index::SystemFlags;
use cyrus::mailbox::LockMode;
use cyrus::syslog::{self, Level};

use super::names::IOERROR;
use super::select::now32;
use super::Session;
use crate::proto::command::{FetchArgs, FetchAtt};

impl Session {
    pub(super) fn fetch(&mut self, tag: &str, args: &FetchArgs) {
        let Some(sel) = self.selected() else {
            return;
        };
        if args.vanished && !self.enabled.qresync {
            return self.bad(Some(tag), "Invalid UID Fetch modifier VANISHED");
        }
        let targets = sel.resolve(&args.set, args.uid);
        if targets.is_empty() && !args.uid {
            return self.no(tag, "No matching messages (0.000 sec)");
        }
        let sets_seen = args.items.iter().any(|i| match i {
            FetchAtt::Rfc822 | FetchAtt::Rfc822Text => true,
            FetchAtt::BodySection { peek, .. } | FetchAtt::Binary { peek, .. } => !peek,
            _ => false,
        });
        let marks_seen =
            sets_seen && !sel.read_only && sel.target.rights.has(cyrus::acl::Rights::SEEN);
        let condstore = self.enabled.condstore || args.changedsince.is_some();
        let mode = if marks_seen {
            LockMode::Write
        } else {
            LockMode::Read
        };
        let Some(mut mb) = self.open_selected(mode) else {
            return self.no(tag, IOERROR);
        };
        let mut out = Vec::new();
        let mut newly_seen = Vec::new();
        let now = now32();
        let Some(sel) = self.selected_mut() else {
            return;
        };
        for (seq, uid) in targets {
            let Some(mut rec) = mb.record(uid).cloned() else {
                continue;
            };
            if args.changedsince.is_some_and(|c| rec.modseq <= c) {
                continue;
            }
            let mut flags_changed = false;
            if marks_seen && !sel.is_seen(&rec) {
                if sel.internal_seen {
                    let sys = SystemFlags(rec.system_flags.0 | SystemFlags::SEEN);
                    match mb.set_flags(uid, sys, rec.user_flags, now) {
                        Ok(r) => rec = r,
                        Err(e) => syslog::log(Level::Err, &format!("IOERROR: seen {uid}: {e}")),
                    }
                    if let Some(i) = sel.seq_of(uid) {
                        sel.modseqs[i as usize - 1] = rec.modseq;
                    }
                } else {
                    sel.seen.add(uid);
                    newly_seen.push(uid);
                }
                flags_changed = true;
            }
            let view = crate::fetch::MessageView {
                mailbox: &mb,
                seq,
                record: &rec,
                flags: sel.flags_of(&rec),
                include_uid: args.uid,
                include_modseq: condstore,
                add_flags: flags_changed,
            };
            if let Err(e) = crate::fetch::write_fetch(&view, &args.items, &mut out) {
                syslog::log(Level::Err, &format!("IOERROR: fetch {uid}: {e}"));
            }
        }
        drop(mb);
        self.out.extend_from_slice(&out);
        if !newly_seen.is_empty() {
            self.save_seen();
        }
        self.sync_selected(args.uid);
        self.ok(tag, "Completed (0.000 sec)");
    }
}
