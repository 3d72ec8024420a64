//! SEARCH and UID SEARCH (RFC 3501 §6.4.4) with ESEARCH's RETURN options (RFC 4731): the
//! session's part (which messages, their \Seen and \Recent); matching and the reply text
//! are the `search` module's.

use cyrus::mailbox::LockMode;

use super::names::IOERROR;
use super::Session;
use crate::proto::command::SearchArgs;
use crate::search::{self, MsgRef, Options};

impl Session {
    pub(super) fn search(&mut self, tag: &str, args: &SearchArgs) {
        let Some(mb) = self.open_selected(LockMode::Read) else {
            return self.no(tag, IOERROR);
        };
        let Some(sel) = self.selected() else {
            return;
        };
        let msgs: Vec<MsgRef<'_>> = sel
            .uids
            .iter()
            .enumerate()
            .filter_map(|(i, &uid)| {
                let record = mb.record(uid)?;
                Some(MsgRef {
                    seq: i as u32 + 1,
                    record,
                    seen: sel.is_seen(record),
                    recent: sel.recent.contains(&uid),
                })
            })
            .collect();
        let mut opts = Options::new(cyrus::mboxlist::now());
        opts.utc_offset = cyrus::localtime::utc_offset(opts.now);
        let outcome = search::search(&mb, &msgs, args, &opts);
        drop(msgs);
        drop(mb);
        match outcome {
            Ok(o) => {
                let n = o.numbers.len();
                let reply = search::reply(tag, args, &o);
                self.out.extend_from_slice(&reply);
                self.sync_selected(args.uid);
                self.ok(tag, &format!("Completed ({n} msgs in 0.000 secs)"));
            }
            Err(e) => self.bad(Some(tag), &e.to_string()),
        }
    }
}
