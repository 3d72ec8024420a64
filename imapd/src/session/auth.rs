//! LOGIN and AUTHENTICATE (RFC 3501 §6.2, SASL-IR RFC 4959), through libsasl2 with
//! Cyrus's options, and what becomes of the session once a user is known.

use cyrus::acl::Identity;
use cyrus::auth::{self, Server, Step};
use cyrus::mboxname::Namespace;
use cyrus::syslog::{self, Level};

use super::{Next, Pending, Session, State, User};

impl Session {
    fn plaintext_ok(&self) -> bool {
        self.settings.allow_plaintext || self.settings.tls_active
    }

    fn sasl(&mut self) -> Option<&mut Server> {
        if self.sasl.is_none() {
            match Server::new(&self.config, "imap") {
                Ok(mut s) => {
                    if let Some((ssf, peer)) = &self.external {
                        if let Err(e) = s.set_external(*ssf, peer.as_deref()) {
                            syslog::log(Level::Err, &format!("SASL external: {}", e.message()));
                        }
                    }
                    self.sasl = Some(s);
                }
                Err(e) => {
                    syslog::log(Level::Err, &format!("SASL setup failed: {}", e.message()));
                    return None;
                }
            }
        }
        self.sasl.as_mut()
    }

    pub(super) fn login(&mut self, tag: &str, user: &str, password: &[u8]) {
        if !self.plaintext_ok() {
            self.no(tag, "Login only available under a layer");
            return;
        }
        let Some(canon) = auth::canonify_userid(&self.config, user) else {
            self.login_failed(tag, user, "invalid user");
            return;
        };
        let result = match self.sasl() {
            Some(s) => s.checkpass(&canon, password),
            None => {
                self.no(tag, "Login failed: generic failure");
                return;
            }
        };
        match result {
            Ok(userid) => {
                let userid = if userid.is_empty() { canon } else { userid };
                syslog::log(
                    Level::Notice,
                    &format!("login: {userid} plaintext User logged in"),
                );
                self.logged_in(tag, &userid, "User logged in");
            }
            Err(e) => {
                let detail = self
                    .sasl
                    .as_mut()
                    .map(Server::error_detail)
                    .unwrap_or_default();
                syslog::log(
                    Level::Notice,
                    &format!(
                        "badlogin: {} plaintext {user} {detail}",
                        self.settings.client
                    ),
                );
                self.login_failed(tag, user, &e.message());
            }
        }
    }

    fn login_failed(&mut self, tag: &str, _user: &str, why: &str) {
        self.failed_logins += 1;
        // libsasl2 words the common case "authentication failure"; Cyrus prefixes it.
        let why = if why.is_empty() {
            "authentication failure"
        } else {
            why
        };
        self.no(tag, &format!("Login failed: {why}"));
    }

    pub(super) fn authenticate(&mut self, tag: &str, mech: &str, initial: Option<&[u8]>) -> Next {
        let plain = matches!(mech, "PLAIN" | "LOGIN");
        if plain && !self.plaintext_ok() {
            self.no(
                tag,
                "Authentication failed: encryption needed to use mechanism",
            );
            return Next::Read;
        }
        let step = match self.sasl() {
            Some(s) => s.start(mech, initial),
            None => {
                self.no(tag, "Authentication failed: generic failure");
                return Next::Read;
            }
        };
        self.auth_step(tag, mech, step)
    }

    fn auth_step(&mut self, tag: &str, mech: &str, step: Result<Step, auth::SaslError>) -> Next {
        match step {
            Ok(Step::Continue(challenge)) => {
                self.line(&format!("+ {}", auth::base64_encode(&challenge)));
                self.pending = Pending::Auth {
                    tag: tag.to_string(),
                    mechanism: mech.to_string(),
                };
                Next::AuthLine
            }
            Ok(Step::Done) => {
                let user = self.sasl.as_mut().and_then(Server::username);
                match user {
                    Some(u) => {
                        self.log_login(&u, mech);
                        self.logged_in(tag, &u, "Success (no protection)");
                    }
                    None => self.no(tag, "Authentication failed: no user"),
                }
                Next::Read
            }
            Err(e) => {
                self.failed_logins += 1;
                self.sasl = None;
                syslog::log(
                    Level::Notice,
                    &format!("badlogin: {mech} ({})", e.message()),
                );
                self.no(tag, &format!("Authentication failed: {}", e.message()));
                Next::Read
            }
        }
    }

    /// The client's answer to a SASL challenge (one line, base64 or `*` to cancel).
    pub fn auth_response(&mut self, line: &[u8]) -> Next {
        let Pending::Auth { tag, mechanism } = std::mem::replace(&mut self.pending, Pending::None)
        else {
            return Next::Read;
        };
        if line == b"*" {
            self.sasl = None;
            self.bad(Some(&tag), "Client canceled authentication");
            return Next::Read;
        }
        let Some(data) = auth::base64_decode(line) else {
            self.sasl = None;
            self.bad(Some(&tag), "Invalid base64 string");
            return Next::Read;
        };
        let step = match self.sasl.as_mut() {
            Some(s) => s.step(&data),
            None => return Next::Read,
        };
        self.auth_step(&tag, &mechanism, step)
    }

    /// Logs `userid` in without SASL (unit tests, and the `-U`-style preauth of tests).
    #[cfg(test)]
    pub(crate) fn assume_user(&mut self, userid: &str) {
        self.logged_in("pre", userid, "User logged in");
        self.out.clear();
    }

    /// The line Cyrus logs for every login: client, user, mechanism (`+TLS` under TLS).
    fn log_login(&self, userid: &str, mech: &str) {
        let tls = if self.settings.tls_active { "+TLS" } else { "" };
        syslog::log(
            Level::Notice,
            &format!(
                "login: {} {userid} {mech}{tls} User logged in SESSIONID=<{}>",
                self.settings.client, self.settings.session_id
            ),
        );
    }

    fn logged_in(&mut self, tag: &str, userid: &str, text: &str) {
        let admin = auth::is_admin(&self.config, userid);
        self.user = Some(User {
            userid: userid.to_string(),
            admin,
            identity: Identity::user(userid),
            ns: Namespace::from_config(&self.config, admin),
        });
        self.state = State::Authenticated;
        self.autocreate_inbox();
        let caps = super::capabilities(&self.config, &self.settings, true);
        let sid = self.settings.session_id.clone();
        self.ok(
            tag,
            &format!("[CAPABILITY {caps}] {text} SESSIONID=<{sid}>"),
        );
    }
}
