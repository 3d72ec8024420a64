//! The POP3 command engine, without I/O: it takes one client line at a time and returns the
//! bytes to send, so every reply can be tested from byte buffers. Authentication and the
//! maildrop are behind [`Backend`]; the worker wires them to libsasl2 and the mailbox store.
//!
//! Replies follow Debian's Cyrus 3.6 pop3d byte for byte: the command word is everything up
//! to the first blank, matched case-insensitively; the argument loses its leading blanks
//! (except PASS's, whose password may begin with one); a line holds at most
//! [`MAX_LINE`] bytes, and a longer one is taken as several lines, as Cyrus's 8 KB buffer does.

use cyrus::auth::{base64_decode, base64_encode, SaslError, Step};

/// Bytes of one command line the engine looks at (Cyrus reads into an 8192-byte buffer).
pub const MAX_LINE: usize = 8191;

/// Why opening the maildrop failed: the whole reply line, without CRLF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenError(pub String);

/// One message of the maildrop as the session numbers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Msg {
    /// Its UID.
    pub uid: u32,
    /// RFC822.SIZE.
    pub size: u32,
    deleted: bool,
    seen: bool,
}

impl Msg {
    /// A message not yet deleted or retrieved.
    pub fn new(uid: u32, size: u32) -> Msg {
        Msg {
            uid,
            size,
            deleted: false,
            seen: false,
        }
    }
}

/// What the session reads at login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Maildrop {
    /// The messages, in UID order.
    pub msgs: Vec<Msg>,
    /// UIDVALIDITY, for UIDLs.
    pub uidvalidity: u32,
    /// The index's POP3_NEW_UIDL option: UIDLs carry the uidvalidity.
    pub new_uidl: bool,
    /// DELE is allowed (always, unless `popuseacl` and no `t` right).
    pub may_delete: bool,
}

/// What the engine needs from the outside world.
pub trait Backend {
    /// The SASL mechanisms joined as `sasl_listmech` does, or `None`.
    fn mechanisms(&mut self, prefix: &str, sep: &str, suffix: &str) -> Option<String>;
    /// The userid a USER argument stands for, or `None` for an invalid one.
    fn canonify(&mut self, user: &str) -> Option<String>;
    /// Checks a plaintext password; the authenticated userid.
    fn checkpass(&mut self, user: &str, pass: &[u8]) -> Result<String, SaslError>;
    /// Checks an APOP response to the greeting's `challenge`; the authenticated userid.
    fn checkapop(&mut self, challenge: &str, response: &[u8]) -> Result<String, SaslError>;
    /// Starts a SASL exchange.
    fn auth_start(&mut self, mech: &str, initial: Option<&[u8]>) -> Result<Step, SaslError>;
    /// Continues a SASL exchange.
    fn auth_step(&mut self, response: &[u8]) -> Result<Step, SaslError>;
    /// The userid a finished SASL exchange authenticated.
    fn auth_user(&mut self) -> Option<String>;
    /// Throws the SASL connection away for a fresh one (after a failed exchange).
    fn auth_reset(&mut self);
    /// Opens `userid`'s INBOX, or the folder `subfolder` below it, for the session.
    fn open_maildrop(
        &mut self,
        userid: &str,
        subfolder: Option<&str>,
    ) -> Result<Maildrop, OpenError>;
    /// The message file of `uid`, or `None` when it cannot be read.
    fn message(&mut self, uid: u32) -> Option<Vec<u8>>;
    /// The UPDATE state: expunge `deleted`, mark `seen` (when the options say so).
    fn update(&mut self, deleted: &[u32], seen: &[u32]);
    /// TLS now protects the connection with `ssf` bits (and the client's certificate named
    /// `auth_id`): SASL is told, as Cyrus tells it.
    fn set_external(&mut self, ssf: u32, auth_id: Option<&str>);
}

/// Whether imapd.conf offers TLS, and whether its context could be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsOffer {
    /// No certificate and key configured: no STLS (Cyrus's `tls_enabled` is false).
    Off,
    /// Configured, but the files or settings could not be used: STLS is advertised and
    /// refused, as Cyrus does.
    Broken,
    /// STLS works.
    Ready,
}

/// What the settings of imapd.conf make of the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `servername`.
    pub servername: String,
    /// The version string Cyrus prints.
    pub version: String,
    /// `allowplaintext`.
    pub allow_plaintext: bool,
    /// `allowanonymouslogin`.
    pub allow_anonymous: bool,
    /// `popminpoll` in seconds.
    pub minpoll_secs: i64,
    /// `popexpiretime` in seconds (negative: never).
    pub expire_secs: i64,
    /// `serverinfo`: `off`, `min` or `on`.
    pub serverinfo: String,
    /// `uidl_format`.
    pub uidl_format: String,
    /// `failedloginpause` in seconds.
    pub failed_login_pause: u64,
    /// `readonly`.
    pub readonly: bool,
    /// The hierarchy separator is `.` (`unixhierarchysep: no`).
    pub dot_separator: bool,
    /// `popsubfolders`: `user+folder` logins reach a folder of the user.
    pub subfolders: bool,
    /// TLS as the TLS options make it.
    pub tls: TlsOffer,
    /// `tls_required`: no authentication of any kind before TLS.
    pub tls_required: bool,
}

/// The result of one line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Bytes to send.
    pub out: Vec<u8>,
    /// Seconds to wait before sending (Cyrus's pause after a failed login).
    pub pause: u64,
    /// The session ends after sending.
    pub close: bool,
    /// After sending, run the TLS handshake (STLS), drop whatever plaintext the client sent
    /// after the command, and report the outcome with [`Engine::tls_started`] or
    /// [`Engine::tls_failed`].
    pub start_tls: bool,
}

impl Reply {
    fn line(&mut self, s: &str) {
        self.out.extend_from_slice(s.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }
}

/// A SASL exchange waiting for the client's next response.
#[derive(Debug)]
struct PendingAuth;

/// One POP3 session.
#[derive(Debug)]
pub struct Engine<B: Backend> {
    backend: B,
    settings: Settings,
    session_id: String,
    userid: Option<String>,
    subfolder: Option<String>,
    authed: bool,
    drop_: Option<Maildrop>,
    pending: Option<PendingAuth>,
    challenge: Option<String>,
    /// TLS is on (after STLS, or from the start on pop3s).
    tls: bool,
    /// Cyrus's `saslprops.ssf`: the TLS layer's bits, replaced by the SASL layer's (none
    /// here) after AUTH. CAPA lists SASL after login only while it is non-zero.
    ssf: u32,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn skip_space(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&b| is_space(b)).count();
    &s[n..]
}

/// Cyrus's `parseuint32`: at least one digit, no overflow; the rest of the input.
fn parse_u32(s: &[u8]) -> Option<(u32, &[u8])> {
    let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
    if n == 0 {
        return None;
    }
    let mut v: u32 = 0;
    for &d in &s[..n] {
        v = v.checked_mul(10)?.checked_add(u32::from(d - b'0'))?;
    }
    Some((v, &s[n..]))
}

/// Cyrus's `blat`: the first `lines` body lines of `msg` (all when negative), dot-stuffed.
/// Lines are read as `fgets` into a 4 KB buffer does, so only the first piece of a long line
/// is stuffed and counted.
pub fn blat(msg: &[u8], lines: i64, out: &mut Vec<u8>) {
    const CHUNK: usize = 4095;
    let mut pos = 0;
    let mut thisline: i64 = -2;
    let mut last_ended = true;
    let mut any = false;
    let next = |pos: &mut usize| -> Option<&[u8]> {
        if *pos >= msg.len() {
            return None;
        }
        let rest = &msg[*pos..];
        let lim = rest.len().min(CHUNK);
        let end = rest[..lim]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(lim, |i| i + 1);
        *pos += end;
        Some(&rest[..end])
    };
    while lines != thisline {
        let Some(mut chunk) = next(&mut pos) else {
            break;
        };
        any = true;
        if thisline < 0 {
            if chunk.starts_with(b"\r\n") {
                thisline = 0;
            }
        } else {
            thisline += 1;
        }
        if chunk.first() == Some(&b'.') {
            out.push(b'.');
        }
        loop {
            out.extend_from_slice(chunk);
            last_ended = chunk.last() == Some(&b'\n');
            if last_ended {
                break;
            }
            match next(&mut pos) {
                Some(c) => chunk = c,
                None => break,
            }
        }
    }
    if any && !last_ended {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
}

impl<B: Backend> Engine<B> {
    /// A session in the AUTHORIZATION state.
    pub fn new(backend: B, settings: Settings, session_id: String) -> Engine<B> {
        Engine {
            backend,
            settings,
            session_id,
            userid: None,
            subfolder: None,
            authed: false,
            drop_: None,
            pending: None,
            challenge: None,
            tls: false,
            ssf: 0,
        }
    }

    /// The I/O loop's TLS handshake after STLS failed; the session goes on in plaintext,
    /// as in Cyrus.
    pub fn tls_failed(&mut self) -> Reply {
        let mut r = Reply::default();
        r.line("-ERR [SYS/PERM] Starttls failed");
        r
    }

    /// The I/O loop finished a TLS handshake (after STLS, or before the greeting on pop3s)
    /// of `ssf` bits; `auth_id` names a verified client certificate.
    pub fn tls_started(&mut self, ssf: u32, auth_id: Option<&str>) {
        self.tls = true;
        self.ssf = ssf;
        self.backend.set_external(ssf, auth_id);
    }

    /// The backend, for inspection in tests.
    #[cfg(test)]
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The greeting line (with CRLF); `challenge` is the APOP timestamp, if offered, and
    /// APOP is recognised only then.
    pub fn greeting(&mut self, challenge: Option<&str>) -> Vec<u8> {
        self.challenge = challenge.map(str::to_string);
        let s = &self.settings;
        let mut g = String::from("+OK");
        if s.serverinfo != "off" {
            g.push(' ');
            g.push_str(&s.servername);
        }
        if s.serverinfo == "on" {
            g.push_str(&format!(" Cyrus POP3 {}", s.version));
        }
        // Cyrus always puts the blank before the (possibly empty) timestamp.
        g.push_str(" server ready ");
        g.push_str(challenge.unwrap_or(""));
        g.push_str("\r\n");
        g.into_bytes()
    }

    /// Handles one line from the client (without or with its CRLF).
    pub fn line(&mut self, raw: &[u8]) -> Reply {
        let mut r = Reply::default();
        // Cyrus works on C strings: a NUL ends the line early.
        let mut line = match raw.iter().position(|&b| b == 0) {
            Some(i) => &raw[..i],
            None => {
                let mut l = raw;
                if let Some(x) = l.strip_suffix(b"\n") {
                    l = x;
                }
                if let Some(x) = l.strip_suffix(b"\r") {
                    l = x;
                }
                l
            }
        };
        if self.pending.take().is_some() {
            self.auth_continue(line, &mut r);
            return r;
        }
        let cut = line.iter().position(|&b| is_space(b)).unwrap_or(line.len());
        let cmd = line[..cut].to_ascii_lowercase();
        let mut arg: Option<&[u8]> = None;
        if cut < line.len() {
            line = &line[cut + 1..];
            let a = if cmd == b"pass" {
                line
            } else {
                skip_space(line)
            };
            if a.is_empty() {
                if cmd != b"auth" {
                    r.line("-ERR Syntax error");
                    return r;
                }
            } else {
                arg = Some(a);
            }
        }
        match (cmd.as_slice(), self.authed) {
            (b"quit", _) => {
                if arg.is_some() {
                    r.line("-ERR Unexpected extra argument");
                } else {
                    self.quit();
                    r.line("+OK");
                    r.close = true;
                }
            }
            (b"capa", _) => match arg {
                Some(_) => r.line("-ERR Unexpected extra argument"),
                None => self.capa(&mut r),
            },
            (b"user", false) => match arg {
                None => r.line("-ERR Missing argument"),
                Some(a) => self.user(a, &mut r),
            },
            (b"pass", false) => match arg {
                None => r.line("-ERR Missing argument"),
                Some(a) => self.pass(a, &mut r),
            },
            (b"apop", false) if self.challenge.is_some() => match arg {
                None => r.line("-ERR Missing argument"),
                Some(a) => self.apop(a, &mut r),
            },
            (b"auth", false) => self.auth(arg, &mut r),
            (b"stls", false) if self.settings.tls != TlsOffer::Off => {
                if arg.is_some() {
                    r.line("-ERR Unexpected extra argument");
                } else if self.tls {
                    r.line("-ERR Already successfully executed STLS");
                } else if self.settings.tls == TlsOffer::Broken {
                    r.line("-ERR [SYS/PERM] Error initializing TLS");
                } else {
                    r.line("+OK Begin TLS negotiation now");
                    r.start_tls = true;
                }
            }
            (_, false) => r.line("-ERR Unrecognized command"),
            (b"stat", true) => {
                if arg.is_some() {
                    r.line("-ERR Unexpected extra argument");
                } else {
                    let (n, size) = self.live().fold((0u32, 0u32), |(n, s), m| {
                        (n.wrapping_add(1), s.wrapping_add(m.size))
                    });
                    r.line(&format!("+OK {n} {size}"));
                }
            }
            (b"list", true) => match arg {
                Some(a) => {
                    if let Some(i) = self.msgno(a, &mut r) {
                        let size = self.msg(i).map_or(0, |m| m.size);
                        r.line(&format!("+OK {i} {size}"));
                    }
                }
                None => {
                    r.line("+OK scan listing follows");
                    let rows: Vec<String> = self
                        .numbered()
                        .map(|(i, m)| format!("{i} {}", m.size))
                        .collect();
                    for row in rows {
                        r.line(&row);
                    }
                    r.line(".");
                }
            },
            (b"uidl", true) => match arg {
                Some(a) => {
                    if let Some(i) = self.msgno(a, &mut r) {
                        let u = self.uidl(i);
                        r.line(&format!("+OK {u}"));
                    }
                }
                None => {
                    r.line("+OK unique-id listing follows");
                    let rows: Vec<String> = self
                        .numbered()
                        .map(|(i, _)| i)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .map(|i| self.uidl(i))
                        .collect();
                    for row in rows {
                        r.line(&row);
                    }
                    r.line(".");
                }
            },
            (b"retr", true) => match arg {
                None => r.line("-ERR Missing argument"),
                Some(a) => {
                    if let Some(i) = self.msgno(a, &mut r) {
                        self.send(i, -1, &mut r);
                        if let Some(m) = self.msg_mut(i) {
                            m.seen = true;
                        }
                    }
                }
            },
            (b"top", true) => self.top(arg.unwrap_or(b""), &mut r),
            (b"dele", true) => match arg {
                None => r.line("-ERR Missing argument"),
                Some(_) if !self.drop_.as_ref().is_some_and(|d| d.may_delete) => {
                    r.line("-ERR [SYS/PERM] Permission denied");
                }
                Some(_) if self.settings.readonly => {
                    r.line("-ERR [SYS/PERM] Connection is read-only");
                }
                Some(a) => {
                    if let Some(i) = self.msgno(a, &mut r) {
                        if let Some(m) = self.msg_mut(i) {
                            m.deleted = true;
                        }
                        r.line("+OK message deleted");
                    }
                }
            },
            (b"noop", true) => match arg {
                Some(_) => r.line("-ERR Unexpected extra argument"),
                None => r.line("+OK"),
            },
            (b"rset", true) => match arg {
                Some(_) => r.line("-ERR Unexpected extra argument"),
                None => {
                    if let Some(d) = self.drop_.as_mut() {
                        for m in &mut d.msgs {
                            m.deleted = false;
                            m.seen = false;
                        }
                    }
                    r.line("+OK");
                }
            },
            (_, true) => r.line("-ERR Unrecognized command"),
        }
        r
    }

    fn msg(&self, i: u32) -> Option<&Msg> {
        let d = self.drop_.as_ref()?;
        d.msgs.get(usize::try_from(i).ok()?.checked_sub(1)?)
    }

    fn msg_mut(&mut self, i: u32) -> Option<&mut Msg> {
        let d = self.drop_.as_mut()?;
        d.msgs.get_mut(usize::try_from(i).ok()?.checked_sub(1)?)
    }

    fn live(&self) -> impl Iterator<Item = &Msg> {
        self.drop_
            .iter()
            .flat_map(|d| d.msgs.iter())
            .filter(|m| !m.deleted)
    }

    fn numbered(&self) -> impl Iterator<Item = (u32, &Msg)> {
        self.drop_
            .iter()
            .flat_map(|d| d.msgs.iter())
            .zip(1u32..)
            .filter(|(m, _)| !m.deleted)
            .map(|(m, i)| (i, m))
    }

    /// Cyrus's `msg_exists_or_err`.
    fn exists(&self, i: u32, r: &mut Reply) -> bool {
        match self.msg(i) {
            Some(m) if !m.deleted => true,
            _ => {
                r.line("-ERR No such message");
                false
            }
        }
    }

    /// Cyrus's `parse_msgno`: a number and nothing after it, naming a live message.
    fn msgno(&self, arg: &[u8], r: &mut Reply) -> Option<u32> {
        let Some((n, rest)) = parse_u32(skip_space(arg)) else {
            r.line("-ERR Not a number");
            return None;
        };
        if !rest.is_empty() {
            r.line("-ERR Unexpected extra argument");
            return None;
        }
        self.exists(n, r).then_some(n)
    }

    fn uidl(&self, i: u32) -> String {
        let (uid, uv, new) = match (&self.drop_, self.msg(i)) {
            (Some(d), Some(m)) => (m.uid, d.uidvalidity, d.new_uidl),
            _ => (0, 0, false),
        };
        if !new {
            return format!("{i} {uid}");
        }
        match self.settings.uidl_format.as_str() {
            "uidonly" => format!("{i} {uid}"),
            "dovecot" => format!("{i} {uid:08x}{uv:08x}"),
            "courier" => format!("{i} {uv}-{uid}"),
            _ => format!("{i} {uv}.{uid}"),
        }
    }

    fn send(&mut self, i: u32, lines: i64, r: &mut Reply) {
        let Some(uid) = self.msg(i).map(|m| m.uid) else {
            r.line("-ERR [SYS/PERM] Could not read index record");
            return;
        };
        match self.backend.message(uid) {
            None => r.line("-ERR [SYS/PERM] Could not read message file"),
            Some(bytes) => {
                r.line("+OK Message follows");
                blat(&bytes, lines, &mut r.out);
            }
        }
    }

    fn top(&mut self, arg: &[u8], r: &mut Reply) {
        let p = skip_space(arg);
        let Some((n, rest)) = parse_u32(p).filter(|(_, rest)| !rest.is_empty()) else {
            r.line("-ERR Missing argument");
            return;
        };
        let Some((lines, rest)) = parse_u32(skip_space(rest)) else {
            r.line("-ERR Invalid number of lines");
            return;
        };
        if !rest.is_empty() {
            r.line("-ERR Unexpected extra argument");
        } else if self.exists(n, r) {
            // Cyrus keeps the count in an int: 4294967295 means "all".
            self.send(n, i64::from(lines as i32), r);
        }
    }

    fn capa(&mut self, r: &mut Reply) {
        r.line("+OK List of capabilities follows");
        if (!self.authed || self.ssf > 0) && !self.tls_missing() {
            if let Some(m) = self.backend.mechanisms("SASL ", " ", "\r\n") {
                r.out.extend_from_slice(m.as_bytes());
            }
        }
        if self.settings.tls != TlsOffer::Off && !self.tls && !self.authed {
            r.line("STLS");
        }
        let s = &self.settings;
        if s.expire_secs < 0 {
            r.line("EXPIRE NEVER");
        } else {
            r.line(&format!("EXPIRE {}", s.expire_secs / 86400));
        }
        let minpoll = s.minpoll_secs;
        r.line(&format!("LOGIN-DELAY {minpoll}"));
        for c in ["TOP", "UIDL", "PIPELINING", "RESP-CODES", "AUTH-RESP-CODE"] {
            r.line(c);
        }
        if !self.authed && self.plaintext_ok() {
            r.line("USER");
        }
        if self.authed || self.settings.serverinfo == "on" {
            let v = self.settings.version.clone();
            r.line(&format!("IMPLEMENTATION Cyrus POP3 {v}"));
        }
        r.line(".");
    }

    /// `tls_required` and no TLS yet.
    fn tls_missing(&self) -> bool {
        self.settings.tls_required && !self.tls
    }

    /// USER and PASS are allowed: `allowplaintext`, or under TLS.
    fn plaintext_ok(&self) -> bool {
        (self.settings.allow_plaintext || self.tls) && !self.tls_missing()
    }

    fn user(&mut self, arg: &[u8], r: &mut Reply) {
        if !self.plaintext_ok() {
            r.line("-ERR [AUTH] USER command only available under a layer");
            return;
        }
        if self.userid.is_some() {
            r.line("-ERR [AUTH] Must give PASS command");
            return;
        }
        let mut name = String::from_utf8_lossy(arg).into_owned();
        if self.settings.subfolders {
            // The folder is kept apart from the userid (Cyrus keeps it even when the name
            // turns out invalid, until the next login attempt).
            if let Some(i) = name.find('+') {
                self.subfolder = Some(name[i + 1..].to_string());
                name.truncate(i);
            }
        }
        let canon = std::str::from_utf8(arg)
            .ok()
            .map(|_| name.as_str())
            .and_then(|u| self.backend.canonify(u))
            .filter(|u| !(self.settings.dot_separator && u.contains('.')))
            .filter(|u| u.len() + 6 < 1024);
        match canon {
            Some(u) => {
                self.userid = Some(u);
                r.line("+OK Name is a valid mailbox");
            }
            None => r.line("-ERR [AUTH] Invalid user"),
        }
    }

    fn pass(&mut self, arg: &[u8], r: &mut Reply) {
        let Some(user) = self.userid.take() else {
            r.line("-ERR [AUTH] Must give USER command");
            return;
        };
        if user == "anonymous" && !self.settings.allow_anonymous {
            // Cyrus keeps the userid after this refusal, so a second PASS is tried again.
            self.userid = Some(user);
            r.line("-ERR [AUTH] Invalid login");
            return;
        }
        match self.backend.checkpass(&user, arg) {
            Ok(userid) => {
                self.open(userid, r);
            }
            Err(_) => {
                self.subfolder = None;
                r.pause = self.settings.failed_login_pause;
                r.line("-ERR [AUTH] Invalid login");
            }
        }
    }

    fn apop(&mut self, arg: &[u8], r: &mut Reply) {
        if self.userid.is_some() {
            r.line("-ERR [AUTH] Must give PASS command");
            return;
        }
        let challenge = self.challenge.clone().unwrap_or_default();
        match self.backend.checkapop(&challenge, arg) {
            Ok(userid) => {
                self.open(userid, r);
            }
            Err(mut e) => {
                if e == SaslError::NOUSER {
                    e = SaslError::BADAUTH;
                }
                r.pause = self.settings.failed_login_pause;
                r.line(&format!("-ERR [AUTH] authenticating: {}", e.message()));
            }
        }
    }

    fn auth(&mut self, arg: Option<&[u8]>, r: &mut Reply) {
        if self.tls_missing() {
            r.line("-ERR [AUTH] AUTH command only available under a layer");
            return;
        }
        let Some(arg) = arg else {
            r.line("+OK List of supported mechanisms follows");
            if let Some(m) = self.backend.mechanisms("", "\r\n", "\r\n") {
                r.out.extend_from_slice(m.as_bytes());
            }
            r.line(".");
            return;
        };
        let cut = arg.iter().position(|&b| is_space(b));
        let (mech, initial) = match cut {
            Some(i) => (&arg[..i], Some(&arg[i + 1..])),
            None => (arg, None),
        };
        let mech = String::from_utf8_lossy(mech).into_owned();
        let result = match initial {
            Some(b"=") => self.backend.auth_start(&mech, Some(b"")),
            Some(b64) => match base64_decode(b64) {
                Some(bytes) => self.backend.auth_start(&mech, Some(&bytes)),
                None => Err(SaslError(SASL_BADPROT)),
            },
            None => self.backend.auth_start(&mech, None),
        };
        self.auth_result(result, r);
    }

    fn auth_continue(&mut self, line: &[u8], r: &mut Reply) {
        if line.first() == Some(&b'*') {
            r.line("-ERR [AUTH] Client canceled authentication");
            self.backend.auth_reset();
            return;
        }
        let result = match base64_decode(line) {
            Some(bytes) => self.backend.auth_step(&bytes),
            None => Err(SaslError(SASL_BADPROT)),
        };
        self.auth_result(result, r);
    }

    fn auth_result(&mut self, result: Result<Step, SaslError>, r: &mut Reply) {
        match result {
            Ok(Step::Continue(challenge)) => {
                r.line(&format!("+ {}", base64_encode(&challenge)));
                self.pending = Some(PendingAuth);
            }
            Ok(Step::Done) => match self.backend.auth_user() {
                Some(u) => {
                    // The SASL layer's strength replaces TLS's; no mechanism offered here
                    // negotiates one.
                    self.ssf = 0;
                    if !self.open(u, r) {
                        self.backend.auth_reset();
                    }
                }
                None => {
                    r.line("-ERR [AUTH] weird SASL error -1 getting SASL_USERNAME");
                }
            },
            Err(mut e) => {
                if e == SaslError::NOUSER {
                    e = SaslError::BADAUTH;
                }
                r.pause = self.settings.failed_login_pause;
                r.line(&format!("-ERR [AUTH] authenticating: {}", e.message()));
                self.backend.auth_reset();
            }
        }
    }

    /// Cyrus's `openinbox`; true when the session is now in TRANSACTION state.
    fn open(&mut self, userid: String, r: &mut Reply) -> bool {
        let sub = self.subfolder.take();
        match self.backend.open_maildrop(&userid, sub.as_deref()) {
            Ok(d) => {
                self.drop_ = Some(d);
                self.userid = Some(userid);
                self.authed = true;
                r.line(&format!(
                    "+OK Mailbox locked and ready SESSIONID=<{}>",
                    self.session_id
                ));
                true
            }
            Err(OpenError(line)) => {
                self.userid = None;
                r.line(&line);
                false
            }
        }
    }

    fn quit(&mut self) {
        let Some(d) = self.drop_.take() else {
            return;
        };
        let deleted: Vec<u32> = d.msgs.iter().filter(|m| m.deleted).map(|m| m.uid).collect();
        let seen: Vec<u32> = d.msgs.iter().filter(|m| m.seen).map(|m| m.uid).collect();
        self.backend.update(&deleted, &seen);
    }
}

/// `SASL_BADPROT`: a client response that is not base64.
const SASL_BADPROT: i32 = -5;

#[cfg(test)]
mod tests;
