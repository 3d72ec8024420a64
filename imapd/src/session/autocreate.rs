//! The session's side of creating a user's INBOX at first login (see
//! `cyrus::mailbox::autocreate`).

use cyrus::syslog::{self, Level};

use super::Session;

impl Session {
    /// Makes the logged-in user's INBOX if configuration asks for it and it is missing.
    pub(super) fn autocreate_inbox(&mut self) {
        let Some(user) = self.user.as_ref() else {
            return;
        };
        if let Err(e) = cyrus::mailbox::autocreate::inbox(&self.config, &user.userid, user.admin) {
            syslog::log(
                Level::Err,
                &format!("IOERROR: autocreate INBOX of {}: {e}", user.userid),
            );
        }
    }
}
