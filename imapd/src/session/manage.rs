//! CREATE, DELETE and RENAME (RFC 3501 §6.3.3-5, CREATE-SPECIAL-USE RFC 6154 §3).

use super::Session;

impl Session {
    pub(super) fn create(&mut self, tag: &str, _mailbox: &str, _special_use: &[String]) {
        self.no(tag, "CREATE is not wired up yet");
    }

    pub(super) fn delete(&mut self, tag: &str, _mailbox: &str) {
        self.no(tag, "DELETE is not wired up yet");
    }

    pub(super) fn rename(&mut self, tag: &str, _from: &str, _to: &str) {
        self.no(tag, "RENAME is not wired up yet");
    }
}
