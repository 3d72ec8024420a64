//! Creating a user's INBOX at first login, as Cyrus does when `autocreate_quota` is zero or
//! more: the INBOX (with that storage quota if above zero, `autocreate_quota_messages` if
//! not negative), the folders of `autocreate_inbox_folders`, and the subscriptions of
//! `autocreate_subscribe_folders`. Admins and users outside `autocreate_users` get nothing.

use cyrus::mailbox::lifecycle::{self, CreateOptions};
use cyrus::mboxname::MbName;
use cyrus::quota::{Quota, QuotaDb, Resource};
use cyrus::subscriptions::Subscriptions;
use cyrus::syslog::{self, Level};

use super::Session;

fn folders(list: Option<&str>) -> Vec<String> {
    list.unwrap_or("")
        .split('|')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

impl Session {
    /// Makes the logged-in user's INBOX if configuration asks for it and it is missing.
    pub(super) fn autocreate_inbox(&mut self) {
        let storage = self.config.int("autocreate_quota");
        let Some(user) = self.user.clone() else {
            return;
        };
        if storage < 0 || user.admin || user.userid == "anonymous" {
            return;
        }
        let allowed = self.config.string("autocreate_users").unwrap_or("anyone");
        if !allowed
            .split_whitespace()
            .any(|w| w == "anyone" || w == user.userid)
        {
            return;
        }
        let deleted = self
            .config
            .string("deletedprefix")
            .unwrap_or("DELETED")
            .to_string();
        let Ok(inbox) = MbName::from_userid(&user.userid, &user.ns) else {
            return;
        };
        let Ok(name) = inbox.to_internal(&deleted) else {
            return;
        };
        match self.mboxlist().map(|mut l| l.lookup_visible(&name)) {
            Ok(Ok(None)) => {}
            _ => return,
        }
        let messages = self.config.int("autocreate_quota_messages");
        if storage > 0 || messages >= 0 {
            let mut q = Quota::default();
            if storage > 0 {
                q.limits[Resource::Storage.index()] = Some(storage);
            }
            if messages >= 0 {
                q.limits[Resource::Message.index()] = Some(messages);
            }
            let r = QuotaDb::open(&self.config).and_then(|mut db| {
                db.write(name.as_str(), &mut q)?;
                db.commit()
            });
            if let Err(e) = r {
                syslog::log(
                    Level::Err,
                    &format!("IOERROR: autocreate quota {name}: {e}"),
                );
            }
        }
        if let Err(e) = lifecycle::create(&self.config, &name, &CreateOptions::default()) {
            syslog::log(Level::Err, &format!("IOERROR: autocreate {name}: {e}"));
            return;
        }
        syslog::log(
            Level::Notice,
            &format!(
                "autocreateinbox: User {}, INBOX was successfully created",
                user.userid
            ),
        );
        let sep = user.ns.sep;
        for f in folders(self.config.string("autocreate_inbox_folders")) {
            let mut sub = inbox.clone();
            sub.boxes.extend(f.split(sep).map(str::to_string));
            if let Ok(n) = sub.to_internal(&deleted) {
                if let Err(e) = lifecycle::create(&self.config, &n, &CreateOptions::default()) {
                    syslog::log(Level::Err, &format!("IOERROR: autocreate {n}: {e}"));
                }
            }
        }
        let subs = folders(self.config.string("autocreate_subscribe_folders"));
        if !subs.is_empty() {
            let r = Subscriptions::open(&self.config, &user.userid, true).and_then(|mut s| {
                for f in &subs {
                    let ext = cyrus::mboxname::ExternalName::new(format!("INBOX{sep}{f}"));
                    s.add_external(&ext, &user.ns, &user.userid)?;
                }
                Ok(())
            });
            if let Err(e) = r {
                syslog::log(
                    Level::Err,
                    &format!("IOERROR: autocreate subscriptions: {e}"),
                );
            }
        }
    }
}
