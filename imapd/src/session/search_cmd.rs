//! SEARCH and UID SEARCH (RFC 3501 §6.4.4) with ESEARCH's RETURN options (RFC 4731): the
//! session's part (which messages, their \Seen and \Recent); matching is the `search`
//! module's.

use super::Session;
use crate::proto::command::SearchArgs;

impl Session {
    pub(super) fn search(&mut self, tag: &str, _args: &SearchArgs) {
        self.no(tag, "SEARCH is not wired up yet");
    }
}
