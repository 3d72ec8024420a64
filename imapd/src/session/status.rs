//! STATUS (RFC 3501 §6.3.10, CONDSTORE's HIGHESTMODSEQ, STATUS=SIZE, OBJECTID's MAILBOXID),
//! also used by LIST's RETURN (STATUS ...).

use cyrus::acl::Rights;
use cyrus::mailbox::index::{Options, SystemFlags};
use cyrus::mailbox::{LockMode, Mailbox};
use cyrus::seen::SeenDb;

use super::names::{Target, DENIED, IOERROR, NONEXISTENT};
use super::reply::astring;
use super::Session;
use crate::proto::command::StatusItem;

impl Session {
    /// The `(MESSAGES n ...)` part for `target`, items in Cyrus's order.
    pub(super) fn status_list(
        &self,
        t: &Target,
        items: &[StatusItem],
    ) -> Result<String, &'static str> {
        if !t.rights.has(Rights::READ) {
            return Err(DENIED);
        }
        let dir = self.mailbox_dir(&t.entry).ok_or(NONEXISTENT)?;
        let mb = Mailbox::open(&dir, LockMode::Read).map_err(|e| match e {
            cyrus::Error::NotFound => NONEXISTENT,
            _ => IOERROR,
        })?;
        let ih = mb.index_header();
        let internal = self.internal_seen(&t.mbname, ih.options.has(Options::SHAREDSEEN));
        let seen_entry = if internal {
            None
        } else {
            let user = self.user.as_ref().ok_or(IOERROR)?;
            t.entry.uniqueid.as_deref().and_then(|id| {
                SeenDb::open(&self.config, &user.userid, false)
                    .ok()
                    .and_then(|mut db| db.read(id).ok().flatten())
            })
        };
        let live = || mb.records().iter().filter(|r| !r.is_expunged());
        let recent_from = match &seen_entry {
            Some(e) => e.lastuid,
            None if internal => ih.recentuid,
            None => 0,
        };
        let want = |i: StatusItem| items.contains(&i);
        let mut parts = Vec::new();
        if want(StatusItem::Messages) {
            parts.push(format!("MESSAGES {}", ih.exists));
        }
        if want(StatusItem::Recent) {
            parts.push(format!(
                "RECENT {}",
                live().filter(|r| r.uid > recent_from).count()
            ));
        }
        if want(StatusItem::UidNext) {
            parts.push(format!("UIDNEXT {}", ih.last_uid + 1));
        }
        if want(StatusItem::UidValidity) {
            parts.push(format!("UIDVALIDITY {}", ih.uidvalidity));
        }
        if want(StatusItem::Unseen) {
            let unseen = live()
                .filter(|r| match &seen_entry {
                    _ if internal => !r.system_flags.has(SystemFlags::SEEN),
                    Some(e) => !e.seenuids.contains(r.uid),
                    None => true,
                })
                .count();
            parts.push(format!("UNSEEN {unseen}"));
        }
        if want(StatusItem::Size) {
            parts.push(format!("SIZE {}", ih.quota_mailbox_used));
        }
        if want(StatusItem::HighestModseq) {
            parts.push(format!("HIGHESTMODSEQ {}", ih.effective_highestmodseq()));
        }
        if want(StatusItem::MailboxId) {
            if let Some(id) = &t.entry.uniqueid {
                parts.push(format!("MAILBOXID ({id})"));
            }
        }
        Ok(format!("({})", parts.join(" ")))
    }

    pub(super) fn status(&mut self, tag: &str, mailbox: &str, items: &[StatusItem]) {
        let t = match self.lookup(mailbox) {
            Ok(t) => t,
            Err(m) => return self.no(tag, m.text()),
        };
        match self.status_list(&t, items) {
            Ok(list) => {
                self.line(&format!("* STATUS {} {list}", astring(mailbox)));
                self.ok(tag, "Completed");
            }
            Err(text) => self.no(tag, text),
        }
    }
}
