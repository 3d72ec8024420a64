//! FETCH and UID FETCH (RFC 3501 §6.4.5, CHANGEDSINCE of RFC 7162): which messages, in
//! what order, and the \Seen a non-PEEK body fetch sets before any response is written (as
//! Cyrus does, so the responses show it). The bytes of each item come from `fetch`.

use cyrus::acl::Rights;
use cyrus::mailbox::index::SystemFlags;
use cyrus::mailbox::LockMode;
use cyrus::syslog::{self, Level};

use super::names::IOERROR;
use super::select::now32;
use super::Session;
use crate::fetch::{self, FetchOptions};
use crate::proto::command::FetchArgs;

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
        let marks_seen =
            fetch::sets_seen(&args.items) && !sel.read_only && sel.target.rights.has(Rights::SEEN);
        let opts = FetchOptions {
            uid: args.uid,
            changedsince: args.changedsince,
            condstore: self.enabled.condstore || args.changedsince.is_some(),
            qresync: self.enabled.qresync,
            ..FetchOptions::default()
        };
        let mode = if marks_seen {
            LockMode::Write
        } else {
            LockMode::Read
        };
        let Some(mut mb) = self.open_selected(mode) else {
            return self.no(tag, IOERROR);
        };
        let now = now32();
        let mut out = Vec::new();
        if let (true, Some(since)) = (args.vanished, args.changedsince) {
            let gone = super::qresync::vanished_since(&mb, since, Some(&args.set));
            if !gone.is_empty() {
                out.extend_from_slice(
                    format!(
                        "* VANISHED (EARLIER) {}\r\n",
                        super::reply::compress_set(&gone)
                    )
                    .as_bytes(),
                );
            }
        }
        let mut seen_db_changed = false;
        let Some(sel) = self.selected_mut() else {
            return;
        };
        for (seq, uid) in targets {
            let Some(mut rec) = mb.record(uid).cloned() else {
                continue;
            };
            let mut changed = false;
            let wanted = args.changedsince.is_none_or(|c| rec.modseq > c);
            if marks_seen && wanted && !sel.is_seen(&rec) {
                if sel.internal_seen {
                    let sys = SystemFlags(rec.system_flags.0 | SystemFlags::SEEN);
                    match mb.set_flags(uid, sys, rec.user_flags, now) {
                        Ok(r) => rec = r,
                        Err(e) => {
                            syslog::log(Level::Err, &format!("IOERROR: seen {uid}: {e}"));
                        }
                    }
                    if let Some(i) = sel.seq_of(uid) {
                        sel.modseqs[i as usize - 1] = rec.modseq;
                    }
                } else {
                    sel.seen.add(uid);
                    seen_db_changed = true;
                }
                changed = true;
            }
            let state = sel.state_of(&rec, changed);
            if let Err(e) = fetch::write_fetch(&mut out, &mb, seq, &rec, &state, &args.items, &opts)
            {
                drop(mb);
                self.out.extend_from_slice(&out);
                return self.no(tag, &e.to_string());
            }
        }
        drop(mb);
        self.out.extend_from_slice(&out);
        if seen_db_changed {
            self.save_seen();
        }
        // UID FETCH may report expunges (RFC 3501 §7.4.1); FETCH may not.
        self.sync_selected(args.uid);
        self.ok(tag, "Completed (0.000 sec)");
    }
}
