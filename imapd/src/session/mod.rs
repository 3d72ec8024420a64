//! One IMAP connection's state and its command handlers, over the Cyrus store.
//!
//! The session is sans-I/O: the worker loop hands it parsed [`Command`]s and writes out
//! whatever it leaves in [`Session::out`]; [`Next`] tells the loop what to do after that
//! (keep reading, run a SASL exchange, idle, start TLS, hang up). Handlers live in one file
//! per family of commands; this file holds the state and the dispatch.

mod acl_cmds;
mod append;
mod auth;
mod autocreate;
mod capability;
mod copy;
mod fetch_cmd;
mod list;
mod manage;
mod metadata;
mod names;
mod qresync;
mod quota_cmds;
mod reply;
mod search_cmd;
mod select;
mod selected;
mod status;
mod store_cmd;
mod subscribe;

use std::sync::Arc;

use cyrus::acl::Identity;
use cyrus::auth::Server;
use cyrus::config::Config;
use cyrus::mboxname::Namespace;

use crate::proto::command::{Command, CommandKind};

pub use capability::capabilities;
pub use selected::Selected;

/// What the worker loop does once it has written [`Session::out`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Read the next command.
    Read,
    /// Read one line (a SASL response) and hand it to [`Session::auth_response`].
    AuthLine,
    /// Idle: call [`Session::idle_poll`] now and then, until a line arrives for
    /// [`Session::idle_done`].
    Idle,
    /// Start TLS on the connection, then read commands again.
    StartTls,
    /// Close the connection.
    Close,
}

/// What imapd.conf and the connection decide before the first command.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The server name in the greeting (`servername`).
    pub servername: String,
    /// The version string Cyrus prints.
    pub version: String,
    /// `allowplaintext`: LOGIN and plaintext SASL without TLS.
    pub allow_plaintext: bool,
    /// TLS can be started (a certificate is configured) and is not on yet.
    pub tls_available: bool,
    /// The connection is already encrypted (imaps, or after STARTTLS).
    pub tls_active: bool,
    /// `serverinfo`: how much of the version the greeting and ID show.
    pub serverinfo: String,
    /// The session id prefix (`<servername>-<pid>-<n>`), to which a random part is added.
    pub session_id: String,
    /// The client as Cyrus names it in logs: `name [address]`.
    pub client: String,
}

/// The logged-in user.
#[derive(Debug, Clone)]
pub struct User {
    /// The canonical userid.
    pub userid: String,
    /// Listed in `admins`.
    pub admin: bool,
    /// For ACL matching.
    pub identity: Identity,
    /// How this user spells mailbox names.
    pub ns: Namespace,
}

/// Which state of RFC 3501 §3 the connection is in.
#[derive(Debug)]
enum State {
    NotAuthenticated,
    Authenticated,
    Selected(Box<Selected>),
    Logout,
}

/// An exchange that spans several reads.
#[derive(Debug)]
enum Pending {
    None,
    /// AUTHENTICATE waiting for the client's next SASL response.
    Auth {
        tag: String,
        mechanism: String,
    },
    /// IDLE waiting for DONE.
    Idle {
        tag: String,
    },
    /// STARTTLS answered, handshake to come.
    Tls {
        tag: String,
    },
}

/// Extensions the client switched on with ENABLE (or implicitly).
#[derive(Debug, Default, Clone, Copy)]
pub struct Enabled {
    /// CONDSTORE: MODSEQ in untagged FETCHes.
    pub condstore: bool,
    /// QRESYNC: VANISHED instead of EXPUNGE.
    pub qresync: bool,
}

/// One connection's session.
pub struct Session {
    config: Arc<Config>,
    settings: Settings,
    /// Bytes to send to the client; the caller drains it.
    pub out: Vec<u8>,
    state: State,
    user: Option<User>,
    sasl: Option<Server>,
    pending: Pending,
    enabled: Enabled,
    failed_logins: u32,
    /// The TLS layer's SSF and client certificate name, once TLS is on.
    external: Option<(u32, Option<String>)>,
    /// cyrus.index's inode, size and mtime at the last IDLE poll.
    idle_stamp: Option<(u64, u64, i64, i64)>,
}

impl Session {
    /// A new connection: queues the greeting.
    pub fn new(config: Arc<Config>, settings: Settings) -> Session {
        let mut s = Session {
            config,
            settings,
            out: Vec::with_capacity(4096),
            state: State::NotAuthenticated,
            user: None,
            sasl: None,
            pending: Pending::None,
            enabled: Enabled::default(),
            failed_logins: 0,
            external: None,
            idle_stamp: None,
        };
        s.greet();
        s
    }

    /// A pre-authenticated session (`imapd -U`-style tests and PREAUTH); no greeting queued.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The logged-in user, if any.
    pub fn user(&self) -> Option<&User> {
        self.user.as_ref()
    }

    /// Whether the client has been authenticated.
    pub fn authenticated(&self) -> bool {
        self.user.is_some()
    }

    fn greet(&mut self) {
        let caps = capability::greeting(&self.config, &self.settings);
        let server = match self.settings.serverinfo.as_str() {
            "off" => String::new(),
            "min" => " Cyrus IMAP".to_string(),
            _ => format!(" Cyrus IMAP {}", self.settings.version),
        };
        self.out.extend_from_slice(
            format!(
                "* OK [CAPABILITY {caps}] {}{server} server ready\r\n",
                self.settings.servername
            )
            .as_bytes(),
        );
    }

    /// Handles one command, leaving the replies in `out`.
    pub fn handle(&mut self, cmd: Command) -> Next {
        let Command { tag, kind } = cmd;
        let next = self.dispatch(&tag, kind);
        if matches!(self.state, State::Logout) {
            return Next::Close;
        }
        next
    }

    /// Answers a command the reader could not parse.
    pub fn bad(&mut self, tag: Option<&str>, text: &str) {
        let tag = tag.unwrap_or("*");
        self.line(&format!("{tag} BAD {text}"));
    }

    /// Answers `<tag> NO <text>` for a command the reader refused.
    pub fn refuse(&mut self, tag: &str, text: &str) {
        self.no(tag, text);
    }

    /// Whether a mailbox is selected (the reader refuses selected-state commands early).
    pub fn is_selected(&self) -> bool {
        matches!(self.state, State::Selected(_))
    }

    /// Before inviting an APPEND's message: `Some(text)` for the NO Cyrus answers instead
    /// of `+ go ahead` (no such mailbox, no `i` right), so the client sends no bytes.
    pub fn append_precheck(&mut self, mailbox: &str) -> Option<String> {
        match self.lookup(mailbox) {
            Ok(t) if t.rights.has(cyrus::acl::Rights::INSERT) => None,
            Ok(_) => Some(names::DENIED.to_string()),
            Err(names::Miss::Io) => Some(names::IOERROR.to_string()),
            Err(_) => Some("[TRYCREATE] Mailbox does not exist".to_string()),
        }
    }

    /// Says goodbye before the loop closes the connection (idle timeout, fatal input).
    pub fn bye(&mut self, text: &str) {
        self.line(&format!("* BYE {text}"));
        self.state = State::Logout;
    }

    fn dispatch(&mut self, tag: &str, kind: CommandKind) -> Next {
        use CommandKind as K;
        // Commands valid in every state.
        match kind {
            K::Capability => {
                let caps = capabilities(&self.config, &self.settings, self.authenticated());
                self.line(&format!("* CAPABILITY {caps}"));
                self.ok(tag, "Completed");
                return Next::Read;
            }
            K::Noop => {
                self.sync_selected(true);
                self.ok(tag, "Completed");
                return Next::Read;
            }
            K::Logout => {
                self.line("* BYE LOGOUT received");
                self.ok(tag, "Completed");
                self.state = State::Logout;
                return Next::Close;
            }
            K::Id(params) => {
                self.id(tag, params);
                return Next::Read;
            }
            _ => {}
        }
        if !self.authenticated() {
            return match kind {
                K::StartTls => self.starttls(tag),
                K::Login { user, password } => {
                    self.login(tag, &user, &password);
                    Next::Read
                }
                K::Authenticate { mechanism, initial } => {
                    self.authenticate(tag, &mechanism, initial.as_deref())
                }
                _ => {
                    self.bad(Some(tag), "Please login first");
                    Next::Read
                }
            };
        }
        match kind {
            K::StartTls | K::Login { .. } | K::Authenticate { .. } => {
                self.bad(Some(tag), "Already logged in");
            }
            K::Select { mailbox, params } => self.select(tag, &mailbox, false, &params),
            K::Examine { mailbox, params } => self.select(tag, &mailbox, true, &params),
            K::Create {
                mailbox,
                special_use,
            } => self.create(tag, &mailbox, &special_use),
            K::Delete { mailbox } => self.delete(tag, &mailbox),
            K::Rename { from, to } => self.rename(tag, &from, &to),
            K::Subscribe { mailbox } => self.subscribe(tag, &mailbox, true),
            K::Unsubscribe { mailbox } => self.subscribe(tag, &mailbox, false),
            K::List(args) => self.list(tag, &args),
            K::Lsub { reference, pattern } => self.lsub(tag, &reference, &pattern),
            K::Status { mailbox, items } => self.status(tag, &mailbox, &items),
            K::Append { mailbox, messages } => self.append(tag, &mailbox, messages),
            K::Namespace => self.namespace(tag),
            K::Enable(caps) => self.enable(tag, &caps),
            K::Idle => return self.idle(tag),
            K::GetAcl { mailbox } => self.getacl(tag, &mailbox),
            K::SetAcl {
                mailbox,
                identifier,
                rights,
            } => self.setacl(tag, &mailbox, &identifier, Some(&rights)),
            K::DeleteAcl {
                mailbox,
                identifier,
            } => self.setacl(tag, &mailbox, &identifier, None),
            K::ListRights {
                mailbox,
                identifier,
            } => self.listrights(tag, &mailbox, &identifier),
            K::MyRights { mailbox } => self.myrights(tag, &mailbox),
            K::GetQuota { root } => self.getquota(tag, &root),
            K::GetQuotaRoot { mailbox } => self.getquotaroot(tag, &mailbox),
            K::SetQuota { root, limits } => self.setquota(tag, &root, &limits),
            K::GetMetadata {
                maxsize,
                depth,
                mailbox,
                entries,
            } => self.getmetadata(tag, maxsize, depth, &mailbox, &entries),
            K::SetMetadata { mailbox, entries } => self.setmetadata(tag, &mailbox, &entries),
            other => self.dispatch_selected(tag, other),
        }
        Next::Read
    }

    fn dispatch_selected(&mut self, tag: &str, kind: CommandKind) {
        use CommandKind as K;
        if !matches!(self.state, State::Selected(_)) {
            self.bad(Some(tag), "Please select a mailbox first");
            return;
        }
        match kind {
            K::Check => {
                self.sync_selected(true);
                self.ok(tag, "Completed");
            }
            K::Close => self.close(tag, true),
            K::Unselect => self.close(tag, false),
            K::Expunge { uids } => self.expunge(tag, uids.as_ref()),
            K::Search(args) => self.search(tag, &args),
            K::Fetch(args) => self.fetch(tag, &args),
            K::Store(args) => self.store(tag, &args),
            K::Copy { uid, set, mailbox } => self.copy(tag, uid, &set, &mailbox, false),
            K::Move { uid, set, mailbox } => self.copy(tag, uid, &set, &mailbox, true),
            _ => self.bad(Some(tag), "Unrecognized command"),
        }
    }

    fn id(&mut self, tag: &str, _params: Option<Vec<(String, Option<String>)>>) {
        let os = std::fs::read_to_string("/proc/sys/kernel/ostype")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "Linux".into());
        let osver = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        let mut line = format!(
            "* ID (\"name\" \"Cyrus IMAPD\" \"version\" \"{}\" \"vendor\" \"Project Cyrus\" \"support-url\" \"https://www.cyrusimap.org\" \"os\" \"{os}\"",
            self.settings.version
        );
        if !osver.is_empty() {
            line.push_str(&format!(" \"os-version\" \"{osver}\""));
        }
        line.push(')');
        if self.settings.serverinfo != "on" {
            line = "* ID NIL".to_string();
        }
        self.line(&line);
        self.ok(tag, "Completed");
    }

    fn enable(&mut self, tag: &str, caps: &[String]) {
        let mut turned = Vec::new();
        for c in caps {
            match c.to_ascii_uppercase().as_str() {
                "CONDSTORE" if !self.enabled.condstore => {
                    self.enabled.condstore = true;
                    turned.push("CONDSTORE");
                }
                "QRESYNC" if !self.enabled.qresync => {
                    // RFC 7162 §3.2.3: QRESYNC implies CONDSTORE.
                    self.enabled.qresync = true;
                    self.enabled.condstore = true;
                    turned.push("QRESYNC");
                }
                _ => {}
            }
        }
        if !turned.is_empty() {
            self.line(&format!("* ENABLED {}", turned.join(" ")));
        }
        self.ok(tag, "Completed");
    }

    fn starttls(&mut self, tag: &str) -> Next {
        if self.settings.tls_active {
            self.bad(Some(tag), "Already successfully executed STARTTLS");
            return Next::Read;
        }
        if !self.settings.tls_available {
            self.no(tag, "Starttls not supported");
            return Next::Read;
        }
        self.ok(tag, "Begin TLS negotiation now");
        self.pending = Pending::Tls {
            tag: tag.to_string(),
        };
        Next::StartTls
    }

    /// The loop has finished the TLS handshake: `ssf` and the client certificate's name
    /// become SASL's external layer (EXTERNAL, and plaintext mechanisms under TLS).
    pub fn tls_started(&mut self, ssf: u32, peer: Option<&str>) {
        self.settings.tls_active = true;
        self.settings.tls_available = false;
        self.external = Some((ssf, peer.map(str::to_string)));
        self.pending = Pending::None;
        // RFC 3501 §6.2.1: the SASL state (and mechanism list) starts over.
        self.sasl = None;
    }

    /// The handshake after STARTTLS failed: the session goes on in plaintext, as in Cyrus.
    pub fn tls_failed(&mut self) {
        if let Pending::Tls { tag } = std::mem::replace(&mut self.pending, Pending::None) {
            self.no(&tag, "Starttls negotiation failed");
        }
    }

    fn idle(&mut self, tag: &str) -> Next {
        self.line("+ idling");
        self.idle_stamp = None;
        self.sync_selected(true);
        self.pending = Pending::Idle {
            tag: tag.to_string(),
        };
        Next::Idle
    }

    /// Called while idling: reports what changed in the selected mailbox since. Every
    /// change rewrites cyrus.index, so a `stat` that shows the same file, size and time
    /// means nothing changed and the index is not read (polls are frequent and cheap).
    pub fn idle_poll(&mut self) {
        let Some(sel) = self.selected() else {
            return;
        };
        let stamp = std::fs::metadata(sel.dir.join(cyrus::mailbox::index::FILE_NAME))
            .ok()
            .map(|m| {
                use std::os::unix::fs::MetadataExt;
                (m.ino(), m.size(), m.mtime(), m.mtime_nsec())
            });
        // A file changed within the last two seconds may change again within the same
        // mtime tick with the same size (a flag change): only an older stamp is trusted.
        let settled =
            stamp.is_some_and(|(_, _, secs, _)| cyrus::mboxlist::now().saturating_sub(secs) > 2);
        if settled && stamp == self.idle_stamp {
            return;
        }
        self.idle_stamp = stamp;
        self.sync_selected(true);
    }

    /// The client ended IDLE with `line` (RFC 2177: it must be `DONE`).
    pub fn idle_done(&mut self, line: &[u8]) -> Next {
        let Pending::Idle { tag } = std::mem::replace(&mut self.pending, Pending::None) else {
            return Next::Read;
        };
        if line.eq_ignore_ascii_case(b"DONE") {
            self.sync_selected(true);
            self.ok(&tag, "Completed");
        } else {
            self.bad(Some(&tag), "Invalid Idle continuation");
        }
        Next::Read
    }

    fn line(&mut self, s: &str) {
        self.out.extend_from_slice(s.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    fn ok(&mut self, tag: &str, text: &str) {
        self.line(&format!("{tag} OK {text}"));
    }

    fn no(&mut self, tag: &str, text: &str) {
        self.line(&format!("{tag} NO {text}"));
    }
}

#[cfg(test)]
mod tests;
