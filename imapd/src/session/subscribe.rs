//! SUBSCRIBE and UNSUBSCRIBE (RFC 3501 §6.3.6-7), kept in the user's sub.db as Cyrus keeps
//! it. Subscribing needs the mailbox to exist unless `allowallsubscribe` is on.

use cyrus::mboxname::ExternalName;
use cyrus::subscriptions::Subscriptions;
use cyrus::syslog::{self, Level};

use super::names::IOERROR;
use super::Session;

impl Session {
    pub(super) fn subscribe(&mut self, tag: &str, mailbox: &str, add: bool) {
        let Some(user) = self.user.clone() else {
            return;
        };
        if add && !self.config.switch("allowallsubscribe") {
            if let Err(m) = self.lookup(mailbox) {
                return self.no(tag, m.text());
            }
        }
        let ext = ExternalName::new(mailbox);
        let r = Subscriptions::open(&self.config, &user.userid, true).and_then(|mut s| {
            if add {
                s.add_external(&ext, &user.ns, &user.userid)
            } else {
                s.remove_external(&ext, &user.ns, &user.userid)
            }
        });
        match r {
            Ok(()) => self.ok(tag, "Completed"),
            Err(cyrus::Error::NotFound) if !add => self.no(tag, "Mailbox is not subscribed"),
            Err(e) => {
                syslog::log(
                    Level::Err,
                    &format!("IOERROR: subscriptions of {}: {e}", user.userid),
                );
                self.no(tag, IOERROR);
            }
        }
    }
}
