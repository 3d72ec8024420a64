//! The engine's [`Backend`] over the real world: libsasl2 through `cyrus::auth`, the user's
//! INBOX found in mailboxes.db and read with `cyrus::mailbox`.
//!
//! As in Cyrus 3.6, the index is locked only while it is read at login and while the UPDATE
//! state writes; between commands a second session may read and change the same mailbox.

use std::path::PathBuf;
use std::time::Duration;

use cyrus::auth::{self, SaslError, Server, Step};
use cyrus::config::Config;
use cyrus::mailbox::index::{Options as IndexOptions, SystemFlags};
use cyrus::mailbox::{LockMode, Mailbox};
use cyrus::mboxlist::paths::{self, Area};
use cyrus::mboxlist::{MailboxList, MbFlags};
use cyrus::mboxname::{MbName, Namespace};
use cyrus::syslog::{self, Level};

use crate::engine::{Backend, Maildrop, Msg, OpenError};

/// The rights `userid` has in `acl` (identifier, rights) pairs, as a set of right letters:
/// entries for the user and `anyone`, minus `-`-prefixed (negative) ones; Cyrus's legacy
/// `d` stands for `t` and `e`. Group identifiers are not expanded.
fn myrights(acl: &[(String, String)], userid: &str) -> Vec<u8> {
    let applies = |id: &str| id == userid || id == "anyone";
    let letters = |r: &str| -> Vec<u8> {
        r.bytes()
            .flat_map(|b| if b == b'd' { vec![b't', b'e'] } else { vec![b] })
            .collect()
    };
    let mut pos: Vec<u8> = Vec::new();
    let mut neg: Vec<u8> = Vec::new();
    for (id, r) in acl {
        match id.strip_prefix('-') {
            Some(who) if applies(who) => neg.extend(letters(r)),
            None if applies(id) => pos.extend(letters(r)),
            _ => {}
        }
    }
    pos.retain(|b| !neg.contains(b));
    pos
}

/// Cyrus's text for IMAP_MAILBOX_NONEXISTENT.
const NONEXISTENT: &str = "Mailbox does not exist";

/// One connection's SASL state and maildrop.
pub struct Store {
    config: Config,
    sasl: Option<Server>,
    dir: Option<PathBuf>,
    /// `popuseacl` is on and the user lacks the `s` right.
    no_seen: bool,
    /// The TLS layer (bits, client certificate name), told to every SASL connection.
    external: Option<(u32, Option<String>)>,
}

impl Store {
    /// A fresh SASL connection for `config`.
    pub fn new(config: &Config) -> Result<Store, SaslError> {
        let sasl = Server::new(config, "pop")?;
        Ok(Store {
            config: config.clone(),
            sasl: Some(sasl),
            dir: None,
            no_seen: false,
            external: None,
        })
    }

    /// Whether APOP can be offered (libsasl2 can check it with the password store).
    pub fn apop_supported(&mut self) -> bool {
        self.sasl().map(|s| s.apop_supported()).unwrap_or(false)
    }

    fn sasl(&mut self) -> Result<&mut Server, SaslError> {
        if self.sasl.is_none() {
            let mut server = Server::new(&self.config, "pop")?;
            // A fresh connection (after a failed exchange) keeps the TLS layer, as Cyrus's
            // reset_saslconn does.
            if let Some((ssf, id)) = &self.external {
                server.set_external(*ssf, id.as_deref())?;
            }
            self.sasl = Some(server);
        }
        self.sasl.as_mut().ok_or(SaslError::FAIL)
    }

    fn now() -> u32 {
        u32::try_from(cyrus::mboxlist::now()).unwrap_or(u32::MAX)
    }

    fn maildrop_dir(&self, userid: &str, subfolder: Option<&str>) -> Result<PathBuf, OpenError> {
        let temp = |why: &str| OpenError(format!("-ERR [SYS/TEMP] Unable to open maildrop: {why}"));
        let ns = Namespace::from_config(&self.config, false);
        let deleted = self.config.string("deletedprefix").unwrap_or("DELETED");
        let name = MbName::from_userid(userid, &ns)
            .ok()
            .map(|mut n| {
                // "user+" means the INBOX itself.
                if let Some(sub) = subfolder.filter(|s| !s.is_empty()) {
                    n.boxes.extend(sub.split(ns.sep).map(str::to_string));
                }
                n
            })
            .and_then(|n| n.to_internal(deleted).ok())
            .ok_or_else(|| temp(NONEXISTENT))?;
        let mut list = MailboxList::open(&self.config, None).map_err(|e| {
            syslog::log(Level::Err, &format!("mboxlist: {e}"));
            temp("System I/O error")
        })?;
        let entry = match list.lookup(&name) {
            Ok(Some(e)) => e,
            Ok(None) => {
                // Debian's Cyrus then tries to auto-create the user's INBOX (admins and
                // anonymous excepted) and reports what that gives: "already exists" when
                // the INBOX is there. Creating a missing INBOX is not implemented here.
                let inbox = MbName::from_userid(userid, &ns)
                    .ok()
                    .and_then(|n| n.to_internal(deleted).ok());
                let autocreates = userid != "anonymous" && !auth::is_admin(&self.config, userid);
                let has_inbox = inbox.is_some_and(|i| matches!(list.lookup(&i), Ok(Some(_))));
                return Err(temp(if autocreates && has_inbox {
                    "Mailbox already exists"
                } else {
                    NONEXISTENT
                }));
            }
            Err(e) => {
                syslog::log(
                    Level::Err,
                    &format!("mboxlist lookup {}: {e}", name.as_str()),
                );
                return Err(temp("System I/O error"));
            }
        };
        if self.config.switch("popuseacl") {
            let rights = entry
                .acl
                .as_ref()
                .map(|a| myrights(&a.0, userid))
                .unwrap_or_default();
            if !rights.contains(&b'r') {
                return Err(temp(if rights.contains(&b'l') {
                    "Permission denied"
                } else {
                    NONEXISTENT
                }));
            }
        }
        let t = &entry.mbtype;
        if t.has(MbFlags::DELETED) || t.has(MbFlags::INTERMEDIATE) {
            return Err(temp(NONEXISTENT));
        }
        if t.has(MbFlags::RESERVE) {
            return Err(temp("Mailbox is currently reserved"));
        }
        if t.has(MbFlags::MOVING) {
            return Err(temp("Mailbox has been moved to another server"));
        }
        if t.has(MbFlags::REMOTE) {
            return Err(OpenError(
                "-ERR [SYS/PERM] Unable to open maildrop: remote mailboxes are not supported by this build"
                    .into(),
            ));
        }
        paths::mailbox_dir(&self.config, &entry, Area::Meta).ok_or_else(|| temp(NONEXISTENT))
    }
}

impl Backend for Store {
    fn mechanisms(&mut self, prefix: &str, sep: &str, suffix: &str) -> Option<String> {
        self.sasl().ok()?.mechanisms(prefix, sep, suffix)
    }

    fn canonify(&mut self, user: &str) -> Option<String> {
        auth::canonify_userid(&self.config, user)
    }

    fn checkpass(&mut self, user: &str, pass: &[u8]) -> Result<String, SaslError> {
        let r = self.sasl()?.checkpass(user, pass);
        if let Err(e) = &r {
            let detail = self
                .sasl
                .as_mut()
                .map(Server::error_detail)
                .unwrap_or_default();
            syslog::log(
                Level::Notice,
                &format!("badlogin: {user} plaintext {detail} ({e})"),
            );
        }
        r
    }

    fn checkapop(&mut self, challenge: &str, response: &[u8]) -> Result<String, SaslError> {
        self.sasl()?.checkapop(challenge, response)
    }

    fn auth_start(&mut self, mech: &str, initial: Option<&[u8]>) -> Result<Step, SaslError> {
        self.sasl()?.start(mech, initial)
    }

    fn auth_step(&mut self, response: &[u8]) -> Result<Step, SaslError> {
        self.sasl()?.step(response)
    }

    fn auth_user(&mut self) -> Option<String> {
        self.sasl().ok()?.username()
    }

    fn auth_reset(&mut self) {
        self.sasl = None;
    }

    fn open_maildrop(
        &mut self,
        userid: &str,
        subfolder: Option<&str>,
    ) -> Result<Maildrop, OpenError> {
        let login = Self::now();
        let dir = match self.maildrop_dir(userid, subfolder) {
            Ok(d) => d,
            Err(e) => {
                // Cyrus pauses before saying so, to slow down probing.
                std::thread::sleep(Duration::from_secs(3));
                syslog::log(Level::Info, &format!("Unable to open maildrop of {userid}"));
                return Err(e);
            }
        };
        let mut mb = Mailbox::open(&dir, LockMode::Read).map_err(|e| {
            syslog::log(
                Level::Err,
                &format!("Unable to open maildrop {}: {e}", dir.display()),
            );
            std::thread::sleep(Duration::from_secs(3));
            OpenError(format!("-ERR [SYS/PERM] Unable to open maildrop: {e}"))
        })?;
        let ih = mb.index_header().clone();
        let use_acl = self.config.switch("popuseacl");
        let rights = myrights(mb.header().acl.as_deref().unwrap_or(&[]), userid);
        if use_acl && !rights.contains(&b'r') {
            let why = if rights.contains(&b'l') {
                "Permission denied"
            } else {
                NONEXISTENT
            };
            return Err(OpenError(format!(
                "-ERR [IN-USE] Unable to lock maildrop: {why}"
            )));
        }
        self.no_seen = use_acl && !rights.contains(&b's');
        let minpoll = self.config.duration_secs("popminpoll").unwrap_or(0);
        if minpoll > 0 && i64::from(ih.pop3_last_login) + minpoll > i64::from(login) {
            let m = minpoll / 60;
            let s = if m > 1 { "s" } else { "" };
            return Err(OpenError(format!(
                "-ERR [LOGIN-DELAY] Logins must be at least {m} minute{s} apart"
            )));
        }
        let skip_deleted = self.config.switch("popuseimapflags");
        let msgs = mb
            .records()
            .iter()
            .filter(|r| !r.is_expunged())
            .filter(|r| !(skip_deleted && r.system_flags.has(SystemFlags::DELETED)))
            .filter(|r| ih.pop3_show_after == 0 || r.internaldate > ih.pop3_show_after)
            .take(ih.exists as usize)
            .map(|r| Msg::new(r.uid, r.size))
            .collect();
        mb.unlock();
        self.dir = Some(dir);
        Ok(Maildrop {
            msgs,
            uidvalidity: ih.uidvalidity,
            new_uidl: ih.options.has(IndexOptions::POP3_NEW_UIDL),
            may_delete: !use_acl || rights.contains(&b't'),
        })
    }

    fn message(&mut self, uid: u32) -> Option<Vec<u8>> {
        let dir = self.dir.as_ref()?;
        std::fs::read(dir.join(format!("{uid}."))).ok()
    }

    fn set_external(&mut self, ssf: u32, auth_id: Option<&str>) {
        self.external = Some((ssf, auth_id.map(str::to_string)));
        if let Some(server) = self.sasl.as_mut() {
            if let Err(e) = server.set_external(ssf, auth_id) {
                syslog::log(Level::Err, &format!("sasl_setprop(SSF_EXTERNAL): {e}"));
            }
        }
    }

    fn update(&mut self, deleted: &[u32], seen: &[u32]) {
        let Some(dir) = self.dir.take() else {
            return;
        };
        let mut mb = match Mailbox::open(&dir, LockMode::Write) {
            Ok(m) => m,
            Err(e) => {
                syslog::log(Level::Err, &format!("pop3 update {}: {e}", dir.display()));
                return;
            }
        };
        let now = Self::now();
        for &uid in deleted {
            let Some(rec) = mb.record(uid).cloned() else {
                continue;
            };
            if rec.is_expunged() {
                continue;
            }
            // Cyrus's expunge marks the record \Deleted as well as expunged.
            let flags = SystemFlags(rec.system_flags.0 | SystemFlags::DELETED);
            let r = mb
                .set_flags(uid, flags, rec.user_flags, now)
                .and_then(|_| mb.expunge(uid, now));
            if let Err(e) = r {
                syslog::log(Level::Err, &format!("pop3 expunge {uid}: {e}"));
            }
        }
        if self.config.switch("popuseimapflags") && !self.no_seen {
            for &uid in seen {
                let Some(rec) = mb.record(uid).cloned() else {
                    continue;
                };
                if rec.is_expunged() || rec.system_flags.has(SystemFlags::SEEN) {
                    continue;
                }
                let flags = SystemFlags(rec.system_flags.0 | SystemFlags::SEEN);
                if let Err(e) = mb.set_flags(uid, flags, rec.user_flags, now) {
                    syslog::log(Level::Err, &format!("pop3 seen {uid}: {e}"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::myrights;

    fn acl(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn rights_from_acl() {
        let a = acl(&[
            ("bob", "lrs"),
            ("anyone", "p"),
            ("-bob", "s"),
            ("alice", "lrswipkxtecda"),
        ]);
        assert_eq!(myrights(&a, "bob"), b"lrp");
        assert!(myrights(&a, "alice").contains(&b't'));
        assert_eq!(myrights(&acl(&[("carol", "lrd")]), "carol"), b"lrte");
        assert!(myrights(&a, "nobody") == b"p");
    }
}
