//! The LMTP protocol engine (RFC 2033) with Cyrus 3.6's replies, sans I/O: it is fed one line
//! at a time (without its line end) and appends the replies to a buffer. The store sits
//! behind [`Store`], so unit tests drive the engine with plain bytes and a fake store.
//!
//! Memory is bounded by the caller's line reader: command lines by [`MAX_COMMAND_LINE`],
//! message data by [`Engine::data_budget`] (`maxmessagesize`, else [`MAX_MESSAGE`]).

use cyrus::auth::{base64_decode, base64_encode, SaslError, Step};
use cyrus::delivery::Failure;

/// The longest command line read; longer ones are answered with a syntax error.
pub const MAX_COMMAND_LINE: usize = 4096;
/// The largest message held when `maxmessagesize` is 0 (Cyrus has no limit; we keep messages
/// in memory, so we keep one).
pub const MAX_MESSAGE: usize = 512 * 1024 * 1024;

/// libsasl2's `SASL_NOMECH`: the client named a mechanism the server does not offer.
const SASL_NOMECH: i32 = -4;

const PERMISSION_DENIED: &str = "550-You do not have permission to post a message to this mailbox.\r\n550-Please contact the owner of this mailbox in order to submit\r\n550-your message, or postmaster if you believe you\r\n550-received this message in error.\r\n550 5.7.1 Permission denied\r\n";

const USER_UNKNOWN: &str = "550-Mailbox unknown.  Either there is no mailbox associated with this\r\n550-name or you do not have authorization to see it.\r\n550 5.1.1 User unknown\r\n";

/// What the engine needs from the store, per recipient.
pub trait Store {
    /// A resolved recipient.
    type Rcpt;
    /// RCPT TO time: resolve `addr` and check quota (`size` from SIZE=, 0 if unknown).
    fn resolve(&mut self, addr: &str, size: u64, ignore_quota: bool)
        -> Result<Self::Rcpt, Failure>;
    /// DATA time, once per message: the message as it is stored (trace headers and what
    /// Cyrus adds), or the text of a `554 5.6.0` refusal for every recipient.
    fn prepare(&mut self, data: &[u8], env: &Envelope) -> Result<Vec<u8>, &'static str>;
    /// DATA time: deliver the prepared `msg` to `rcpt`.
    fn deliver(
        &mut self,
        msg: &[u8],
        rcpt: &Self::Rcpt,
        env: &Envelope,
        ignore_quota: bool,
    ) -> Result<(), Failure>;
    /// The SASL mechanisms offered over TCP, space-separated (`PLAIN LOGIN`), or `None`.
    fn mechanisms(&mut self) -> Option<String>;
    /// Begins a SASL exchange.
    fn auth_start(&mut self, mech: &str, initial: Option<&[u8]>) -> Result<Step, SaslError>;
    /// Feeds the client's next response.
    fn auth_step(&mut self, response: &[u8]) -> Result<Step, SaslError>;
    /// After [`Step::Done`]: the userid when it may deliver (Cyrus lets only admins
    /// authenticate to LMTP), else `None`.
    fn auth_user(&mut self) -> Option<String>;
    /// Forgets a failed or cancelled exchange, so the next AUTH starts afresh.
    fn auth_reset(&mut self);
}

/// The parts of the transaction the trace headers need.
#[derive(Debug, Default, Clone)]
pub struct Envelope {
    /// MAIL FROM, without brackets.
    pub from: String,
    /// The LHLO argument.
    pub helo: String,
    /// The session id of this transaction.
    pub session_id: String,
}

/// Fixed facts of a connection.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `servername`.
    pub servername: String,
    /// The version in the greeting and Received.
    pub version: String,
    /// Connected over a unix socket (trusted: no AUTH needed, AUTH EXTERNAL offered).
    pub local: bool,
    /// `maxmessagesize` (0: none).
    pub max_message: usize,
    /// `lmtp_over_quota_perm_failure`.
    pub over_quota_perm: bool,
}

/// What the caller does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Read a command line.
    Command,
    /// Read message data lines.
    Data,
    /// Close the connection.
    Quit,
}

/// Makes Cyrus-shaped session ids (`servername-time-pid-counter-random`).
pub trait SessionIds {
    /// A fresh id.
    fn next_id(&mut self) -> String;
}

struct Rcpt<R> {
    rcpt: R,
    ignore_quota: bool,
}

/// One LMTP connection's state.
pub struct Engine<S: Store, I: SessionIds> {
    settings: Settings,
    store: S,
    ids: I,
    session_id: String,
    helo: String,
    from: Option<String>,
    size: u64,
    rcpts: Vec<Rcpt<S::Rcpt>>,
    data: Vec<u8>,
    /// Bytes of message data received beyond the budget (dropped, only counted).
    overflow: usize,
    in_data: bool,
    /// The client authenticated with AUTH (a unix-socket client needs not).
    authed: bool,
    /// A SASL exchange waits for the client's next response line.
    in_auth: bool,
}

fn upper_prefix(line: &[u8], word: &str) -> bool {
    line.len() >= word.len() && line[..word.len()].eq_ignore_ascii_case(word.as_bytes())
}

/// Splits `<addr> PARAM PARAM...` into the address (brackets removed) and the parameters;
/// `None` when the brackets are missing.
fn path_and_params(rest: &str) -> Option<(String, Vec<String>)> {
    let rest = rest.trim_start();
    let inner = rest.strip_prefix('<')?;
    let end = inner.find('>')?;
    let addr = inner[..end].to_string();
    let params = inner[end + 1..]
        .split(' ')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    Some((addr, params))
}

/// Whether a RCPT path can be an address at all: Cyrus refuses a source route (`@host`)
/// and a blank outside quotes as syntax errors.
fn plausible_address(addr: &str) -> bool {
    if addr.starts_with('@') {
        return false;
    }
    let mut quoted = false;
    let mut escaped = false;
    for c in addr.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            ' ' | '\t' if !quoted => return false,
            _ => {}
        }
    }
    true
}

impl<S: Store, I: SessionIds> Engine<S, I> {
    /// A new connection; [`Engine::greeting`] is its first output.
    pub fn new(settings: Settings, store: S, mut ids: I) -> Self {
        let session_id = ids.next_id();
        Engine {
            settings,
            store,
            ids,
            session_id,
            helo: String::new(),
            from: None,
            size: 0,
            rcpts: Vec::new(),
            data: Vec::new(),
            overflow: 0,
            in_data: false,
            authed: false,
            in_auth: false,
        }
    }

    /// The 220 line.
    pub fn greeting(&self) -> String {
        format!(
            "220 {} Cyrus LMTP {} server ready\r\n",
            self.settings.servername, self.settings.version
        )
    }

    /// The most message data the caller should buffer for the current DATA.
    pub fn data_budget(&self) -> usize {
        match self.settings.max_message {
            0 => MAX_MESSAGE,
            n => n.min(MAX_MESSAGE),
        }
    }

    fn reset(&mut self) {
        self.from = None;
        self.size = 0;
        self.rcpts.clear();
        self.data.clear();
        self.overflow = 0;
        self.in_data = false;
    }

    fn new_session(&mut self) {
        self.session_id = self.ids.next_id();
    }

    /// Takes one line (line end removed); the caller reads what [`Next`] says next.
    pub fn line(&mut self, line: &[u8], out: &mut Vec<u8>) -> Next {
        if self.in_data {
            return self.data_line(line, out);
        }
        if self.in_auth {
            self.auth_continue(line, out);
            return Next::Command;
        }
        let text = String::from_utf8_lossy(line);
        let text = text.as_ref();
        if upper_prefix(line, "LHLO ") && text.len() > 5 {
            self.helo = text[5..].trim().to_string();
            let s = &self.settings;
            let mut r = format!(
                "250-{}\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n",
                s.servername
            );
            if s.max_message > 0 {
                r.push_str(&format!("250-SIZE {}\r\n", s.max_message));
            } else {
                r.push_str("250-SIZE\r\n");
            }
            if s.local {
                r.push_str("250-AUTH EXTERNAL\r\n");
            } else if !self.authed {
                if let Some(m) = self.store.mechanisms() {
                    r.push_str(&format!("250-AUTH {m}\r\n"));
                }
            }
            r.push_str("250-IGNOREQUOTA\r\n");
            r.push_str(&format!("250 Ok SESSIONID=<{}>\r\n", self.session_id));
            out.extend_from_slice(r.as_bytes());
            // Cyrus starts the first transaction on a fresh id after LHLO.
            self.new_session();
            return Next::Command;
        }
        if upper_prefix(line, "MAIL FROM:") {
            self.mail(&text[10..], out);
            return Next::Command;
        }
        if upper_prefix(line, "MAIL ") {
            out.extend_from_slice(b"501 5.5.4 Syntax error in parameters\r\n");
            return Next::Command;
        }
        if upper_prefix(line, "RCPT TO:") {
            self.rcpt(&text[8..], out);
            return Next::Command;
        }
        if upper_prefix(line, "RCPT ") {
            out.extend_from_slice(b"501 5.5.4 Syntax error in parameters\r\n");
            return Next::Command;
        }
        let upper = text.to_ascii_uppercase();
        match upper.as_str() {
            "DATA" => {
                if self.rcpts.is_empty() {
                    out.extend_from_slice(b"503 5.5.1 No recipients\r\n");
                    return Next::Command;
                }
                out.extend_from_slice(b"354 go ahead\r\n");
                self.in_data = true;
                self.data.clear();
                self.overflow = 0;
                Next::Data
            }
            "RSET" => {
                self.reset();
                self.new_session();
                out.extend_from_slice(
                    format!("250 2.0.0 Ok SESSIONID=<{}>\r\n", self.session_id).as_bytes(),
                );
                Next::Command
            }
            "NOOP" => {
                out.extend_from_slice(b"250 2.0.0 ok\r\n");
                Next::Command
            }
            "QUIT" => {
                out.extend_from_slice(b"221 2.0.0 bye\r\n");
                Next::Quit
            }
            _ if upper.starts_with("VRFY ") && upper.len() > 5 => {
                out.extend_from_slice(b"252 2.3.3 try RCPT to attempt delivery\r\n");
                Next::Command
            }
            _ if upper.starts_with("AUTH ") => {
                self.auth(&line[5..], out);
                Next::Command
            }
            _ => {
                out.extend_from_slice(b"500 5.5.2 Syntax error\r\n");
                Next::Command
            }
        }
    }

    /// `AUTH mechanism [initial-response]`, with Cyrus's replies: 334 challenges, 235 on
    /// success, and Cyrus's one text for every failure but an unknown mechanism.
    fn auth(&mut self, arg: &[u8], out: &mut Vec<u8>) {
        if self.authed {
            out.extend_from_slice(b"503 5.5.0 already authenticated\r\n");
            return;
        }
        let (mech, initial) = match arg.iter().position(|&b| b == b' ') {
            Some(i) => (&arg[..i], Some(&arg[i + 1..])),
            None => (arg, None),
        };
        let mech = String::from_utf8_lossy(mech).into_owned();
        if self.settings.local {
            // The unix socket offers only EXTERNAL, which Cyrus then cannot complete (the
            // client is trusted without it): a challenge, then the generic failure.
            if !mech.eq_ignore_ascii_case("EXTERNAL") {
                out.extend_from_slice(b"504 Unrecognized authentication type.\r\n");
            } else if initial.is_some() {
                out.extend_from_slice(b"501 5.5.4 undefined error!\r\n");
            } else {
                out.extend_from_slice(b"334 \r\n");
                self.in_auth = true;
            }
            return;
        }
        let result = match initial {
            Some(b"=") => self.store.auth_start(&mech, Some(b"")),
            // libsasl2 calls base64 cut short "incomplete", not wrong, and Cyrus then
            // starts the exchange without an initial response.
            Some(b64) if b64.len() % 4 != 0 => self.store.auth_start(&mech, None),
            Some(b64) => match base64_decode(b64).filter(|d| !d.is_empty()) {
                Some(bytes) => self.store.auth_start(&mech, Some(&bytes)),
                None => Err(SaslError::FAIL),
            },
            None => self.store.auth_start(&mech, None),
        };
        self.auth_result(result, out);
    }

    fn auth_continue(&mut self, line: &[u8], out: &mut Vec<u8>) {
        self.in_auth = false;
        if line.first() == Some(&b'*') {
            self.store.auth_reset();
            out.extend_from_slice(b"501 5.5.4 client canceled authentication\r\n");
            return;
        }
        if self.settings.local {
            out.extend_from_slice(b"501 5.5.4 undefined error!\r\n");
            return;
        }
        let result = match base64_decode(line).filter(|d| !d.is_empty()) {
            Some(bytes) => self.store.auth_step(&bytes),
            None => Err(SaslError::FAIL),
        };
        self.auth_result(result, out);
    }

    fn auth_result(&mut self, result: Result<Step, SaslError>, out: &mut Vec<u8>) {
        let failed = match result {
            Ok(Step::Continue(challenge)) => {
                out.extend_from_slice(format!("334 {}\r\n", base64_encode(&challenge)).as_bytes());
                self.in_auth = true;
                return;
            }
            Ok(Step::Done) => match self.store.auth_user() {
                Some(_) => {
                    self.authed = true;
                    out.extend_from_slice(b"235 Authenticated!\r\n");
                    return;
                }
                None => SaslError::BADAUTH,
            },
            Err(e) => e,
        };
        self.store.auth_reset();
        if failed == SaslError(SASL_NOMECH) {
            out.extend_from_slice(b"504 Unrecognized authentication type.\r\n");
        } else {
            // Cyrus answers every other failure (bad password, unknown user, bad base64,
            // a non-admin) with this one text.
            out.extend_from_slice(b"501 5.5.4 undefined error!\r\n");
        }
    }

    fn mail(&mut self, rest: &str, out: &mut Vec<u8>) {
        if !self.settings.local && !self.authed {
            // Over TCP Cyrus requires AUTH first.
            out.extend_from_slice(b"430 Authentication required\r\n");
            return;
        }
        if self.from.is_some() {
            out.extend_from_slice(b"503 5.5.1 Nested MAIL command\r\n");
            return;
        }
        let Some((addr, params)) = path_and_params(rest) else {
            out.extend_from_slice(b"501 5.5.4 Syntax error in parameters\r\n");
            return;
        };
        let mut size = 0u64;
        for p in &params {
            let up = p.to_ascii_uppercase();
            if let Some(v) = up.strip_prefix("SIZE=") {
                match v.parse::<u64>() {
                    Ok(n) => size = n,
                    Err(_) => {
                        out.extend_from_slice(b"501 5.5.4 Syntax error in parameters\r\n");
                        return;
                    }
                }
            } else if up.starts_with("BODY=") || up.starts_with("AUTH=") {
                // BODY= is informational: Cyrus takes 7BIT and 8BITMIME alike.
            } else {
                out.extend_from_slice(b"501 5.5.4 Unrecognized parameters\r\n");
                return;
            }
        }
        self.from = Some(addr);
        self.size = size;
        let max = self.settings.max_message as u64;
        if max > 0 && size > max {
            // Cyrus refuses, yet the transaction has begun (a second MAIL is "nested").
            out.extend_from_slice(
                format!("552 5.2.3 Message SIZE exceeds fixed maximum message size ({max})\r\n")
                    .as_bytes(),
            );
            return;
        }
        out.extend_from_slice(b"250 2.1.0 ok\r\n");
    }

    fn quota_reply(&self) -> String {
        if self.settings.over_quota_perm {
            format!("552 5.2.2 Over quota SESSIONID=<{}>\r\n", self.session_id)
        } else {
            format!("452 4.2.2 Over quota SESSIONID=<{}>\r\n", self.session_id)
        }
    }

    fn failure_reply(&self, f: &Failure) -> String {
        match f {
            Failure::UserUnknown => USER_UNKNOWN.to_string(),
            Failure::OverQuota => self.quota_reply(),
            Failure::PermissionDenied => PERMISSION_DENIED.to_string(),
            Failure::Temporary(_) => format!(
                "451 4.3.0 System I/O error SESSIONID=<{}>\r\n",
                self.session_id
            ),
        }
    }

    fn rcpt(&mut self, rest: &str, out: &mut Vec<u8>) {
        if self.from.is_none() {
            out.extend_from_slice(b"503 5.5.1 Need MAIL command\r\n");
            return;
        }
        let Some((addr, params)) = path_and_params(rest) else {
            out.extend_from_slice(b"501 5.5.4 Syntax error in parameters\r\n");
            return;
        };
        let mut ignore_quota = false;
        for p in &params {
            if p.eq_ignore_ascii_case("IGNOREQUOTA") {
                ignore_quota = true;
            } else {
                out.extend_from_slice(b"501 5.5.4 Unrecognized parameters\r\n");
                return;
            }
        }
        if !plausible_address(&addr) {
            out.extend_from_slice(b"501 5.5.4 Syntax error in parameters\r\n");
            return;
        }
        if addr.is_empty() {
            out.extend_from_slice(USER_UNKNOWN.as_bytes());
            return;
        }
        match self.store.resolve(&addr, self.size, ignore_quota) {
            Ok(rcpt) => {
                self.rcpts.push(Rcpt { rcpt, ignore_quota });
                out.extend_from_slice(b"250 2.1.5 ok\r\n");
            }
            Err(f) => {
                if let Failure::Temporary(why) = &f {
                    cyrus::syslog::log(
                        cyrus::syslog::Level::Err,
                        &format!("IOERROR: lmtpd: resolving recipient: {why}"),
                    );
                }
                out.extend_from_slice(self.failure_reply(&f).as_bytes())
            }
        }
    }

    /// Appends one data line, dot-unstuffed and ending in CRLF whatever it ended in.
    fn data_line(&mut self, line: &[u8], out: &mut Vec<u8>) -> Next {
        if line == b"." {
            self.finish_data(out);
            return Next::Command;
        }
        let line = line.strip_prefix(b".").unwrap_or(line);
        if self.overflow > 0 || self.data.len() + line.len() + 2 > self.data_budget() {
            self.overflow = self.overflow.saturating_add(line.len() + 2);
        } else {
            self.data.extend_from_slice(line);
            self.data.extend_from_slice(b"\r\n");
        }
        Next::Data
    }

    /// Tells the engine that a data line of `len` bytes was longer than the budget.
    pub fn data_overflowed(&mut self, len: usize) {
        self.overflow = self.overflow.saturating_add(len.saturating_add(2));
    }

    /// The limit a message is held to: `maxmessagesize`, else our own cap.
    fn size_limit(&self) -> usize {
        self.data_budget()
    }

    fn finish_data(&mut self, out: &mut Vec<u8>) {
        self.in_data = false;
        let msg = std::mem::take(&mut self.data);
        let env = Envelope {
            from: self.from.clone().unwrap_or_default(),
            helo: self.helo.clone(),
            session_id: self.session_id.clone(),
        };
        let rcpts = std::mem::take(&mut self.rcpts);
        let prepared = self.store.prepare(&msg, &env);
        // Cyrus measures the message as stored (trace headers included) and answers once.
        let size = prepared
            .as_ref()
            .map_or(msg.len(), Vec::len)
            .saturating_add(self.overflow);
        if self.overflow > 0 || size > self.size_limit() {
            out.extend_from_slice(
                format!(
                    "552 5.2.3 Message size ({size}) exceeds fixed maximum message size ({})\r\n",
                    self.size_limit()
                )
                .as_bytes(),
            );
            self.from = None;
            self.size = 0;
            self.overflow = 0;
            return;
        }
        for r in &rcpts {
            let reply = match &prepared {
                Err(why) => format!("554 5.6.0 {why}\r\n"),
                Ok(msg) => match self.store.deliver(msg, &r.rcpt, &env, r.ignore_quota) {
                    Ok(()) => format!("250 2.1.5 Success SESSIONID=<{}>\r\n", self.session_id),
                    Err(f) => {
                        if let Failure::Temporary(why) = &f {
                            cyrus::syslog::log(
                                cyrus::syslog::Level::Err,
                                &format!("IOERROR: lmtpd: delivery failed: {why}"),
                            );
                        }
                        self.failure_reply(&f)
                    }
                },
            };
            out.extend_from_slice(reply.as_bytes());
        }
        // Cyrus keeps the session id across transactions until RSET.
        self.from = None;
        self.size = 0;
        self.overflow = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake(Vec<(String, Vec<u8>)>);
    impl Store for Fake {
        type Rcpt = String;
        fn resolve(&mut self, addr: &str, _: u64, _: bool) -> Result<String, Failure> {
            match addr {
                "bob" => Ok(addr.into()),
                "full" => Err(Failure::OverQuota),
                _ => Err(Failure::UserUnknown),
            }
        }
        fn prepare(&mut self, data: &[u8], _: &Envelope) -> Result<Vec<u8>, &'static str> {
            if data.contains(&0) {
                return Err("Message contains NUL characters");
            }
            Ok(data.to_vec())
        }
        fn deliver(
            &mut self,
            msg: &[u8],
            r: &String,
            _: &Envelope,
            _: bool,
        ) -> Result<(), Failure> {
            self.0.push((r.clone(), msg.to_vec()));
            Ok(())
        }
        fn mechanisms(&mut self) -> Option<String> {
            Some("PLAIN".into())
        }
        fn auth_start(&mut self, mech: &str, initial: Option<&[u8]>) -> Result<Step, SaslError> {
            match (mech, initial) {
                ("PLAIN", None) => Ok(Step::Continue(Vec::new())),
                ("PLAIN", Some(b"\0admin\0pw")) => Ok(Step::Done),
                ("PLAIN", Some(_)) => Err(SaslError::BADAUTH),
                _ => Err(SaslError(SASL_NOMECH)),
            }
        }
        fn auth_step(&mut self, response: &[u8]) -> Result<Step, SaslError> {
            self.auth_start("PLAIN", Some(response))
        }
        fn auth_user(&mut self) -> Option<String> {
            Some("admin".into())
        }
        fn auth_reset(&mut self) {}
    }
    struct Ids(u32);
    impl SessionIds for Ids {
        fn next_id(&mut self) -> String {
            self.0 += 1;
            format!("s{}", self.0)
        }
    }

    fn run(local: bool, input: &[&[u8]]) -> (String, Vec<(String, Vec<u8>)>) {
        run_max(local, 0, input)
    }

    fn run_max(local: bool, max: usize, input: &[&[u8]]) -> (String, Vec<(String, Vec<u8>)>) {
        let settings = Settings {
            servername: "srv".into(),
            version: "v".into(),
            local,
            max_message: max,
            over_quota_perm: false,
        };
        let mut e = Engine::new(settings, Fake(Vec::new()), Ids(0));
        let mut out = Vec::new();
        for l in input {
            if e.line(l, &mut out) == Next::Quit {
                break;
            }
        }
        (String::from_utf8_lossy(&out).into_owned(), e.store.0)
    }

    #[test]
    fn replies_as_cyrus() {
        let table: &[(&[u8], &str)] = &[
            (b"RCPT TO:<bob>", "503 5.5.1 Need MAIL command\r\n"),
            (b"DATA", "503 5.5.1 No recipients\r\n"),
            (
                b"MAIL FROM <a@b>",
                "501 5.5.4 Syntax error in parameters\r\n",
            ),
            (
                b"MAIL FROM:<a@b> FOO=bar",
                "501 5.5.4 Unrecognized parameters\r\n",
            ),
            (b"VRFY bob", "252 2.3.3 try RCPT to attempt delivery\r\n"),
            (b"VRFY", "500 5.5.2 Syntax error\r\n"),
            (b"NOOP", "250 2.0.0 ok\r\n"),
            (b"NOOP x", "500 5.5.2 Syntax error\r\n"),
            (b"FOO", "500 5.5.2 Syntax error\r\n"),
            (b"LHLO", "500 5.5.2 Syntax error\r\n"),
            (b"\xff\x00", "500 5.5.2 Syntax error\r\n"),
            (b"QUIT", "221 2.0.0 bye\r\n"),
        ];
        for (inp, want) in table {
            assert_eq!(
                run(true, &[inp]).0,
                *want,
                "{}",
                String::from_utf8_lossy(inp)
            );
        }
        assert_eq!(
            run(false, &[b"MAIL FROM:<a@b>"]).0,
            "430 Authentication required\r\n"
        );
    }

    #[test]
    fn transaction_with_dot_unstuffing() {
        let (out, got) = run(
            true,
            &[
                b"LHLO x",
                b"MAIL FROM:<a@b> BODY=8BITMIME SIZE=10",
                b"MAIL FROM:<a@b>",
                b"RCPT TO:<bob>",
                b"RCPT TO:<nobody>",
                b"RCPT TO:<full>",
                b"DATA",
                b"Subject: x",
                b"",
                b"..dot",
                b".",
                b"RSET",
            ],
        );
        assert_eq!(
            out,
            "250-srv\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n250-SIZE\r\n250-AUTH EXTERNAL\r\n250-IGNOREQUOTA\r\n250 Ok SESSIONID=<s1>\r\n\
             250 2.1.0 ok\r\n503 5.5.1 Nested MAIL command\r\n250 2.1.5 ok\r\n"
                .to_string()
                + USER_UNKNOWN
                + "452 4.2.2 Over quota SESSIONID=<s2>\r\n354 go ahead\r\n250 2.1.5 Success SESSIONID=<s2>\r\n250 2.0.0 Ok SESSIONID=<s3>\r\n"
        );
        assert_eq!(
            got,
            vec![("bob".to_string(), b"Subject: x\r\n\r\n.dot\r\n".to_vec())]
        );
    }

    #[test]
    fn maxmessagesize_as_cyrus() {
        let (out, got) = run_max(
            true,
            20,
            &[
                b"MAIL FROM:<a@b> SIZE=30",
                b"MAIL FROM:<a@b>",
                b"RCPT TO:<bob>",
                b"RCPT TO:<bob>",
                b"DATA",
                b"Subject: 0123456789",
                b"",
                b"0123456789",
                b".",
                b"NOOP",
            ],
        );
        assert_eq!(
            out,
            "552 5.2.3 Message SIZE exceeds fixed maximum message size (20)\r\n\
             503 5.5.1 Nested MAIL command\r\n250 2.1.5 ok\r\n250 2.1.5 ok\r\n354 go ahead\r\n\
             552 5.2.3 Message size (35) exceeds fixed maximum message size (20)\r\n250 2.0.0 ok\r\n"
        );
        assert!(got.is_empty());
    }

    #[test]
    fn source_routes_and_blanks_are_syntax_errors() {
        for (addr, ok) in [
            ("bob", true),
            ("\"bob smith\"@x", true),
            ("bob@", true),
            ("@bob", false),
            ("bob bob", false),
            ("bob\tx", false),
            ("\"a\\\" b\"", true),
        ] {
            assert_eq!(plausible_address(addr), ok, "{addr}");
        }
    }

    #[test]
    fn auth_over_tcp_as_cyrus() {
        let (out, _) = run(
            false,
            &[
                b"LHLO x",
                b"MAIL FROM:<a@b>",
                b"AUTH",
                b"AUTH FOO",
                b"AUTH PLAIN !!!!",
                b"AUTH PLAIN AGFkbWluAHg=",
                b"AUTH PLAIN",
                b"*",
                b"AUTH PLAIN",
                b"AGFkbWluAHB3",
                b"AUTH PLAIN AGFkbWluAHB3",
                b"MAIL FROM:<a@b>",
            ],
        );
        assert_eq!(
            out,
            "250-srv\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n250-SIZE\r\n250-AUTH PLAIN\r\n250-IGNOREQUOTA\r\n250 Ok SESSIONID=<s1>\r\n\
             430 Authentication required\r\n500 5.5.2 Syntax error\r\n504 Unrecognized authentication type.\r\n\
             501 5.5.4 undefined error!\r\n501 5.5.4 undefined error!\r\n334 \r\n501 5.5.4 client canceled authentication\r\n\
             334 \r\n235 Authenticated!\r\n503 5.5.0 already authenticated\r\n250 2.1.0 ok\r\n"
        );
    }

    /// Arbitrary bytes, as commands and as message data, never panic the engine.
    #[test]
    fn hostile_input_never_panics() {
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let words: [&[u8]; 12] = [
            b"MAIL FROM:",
            b"RCPT TO:",
            b"DATA",
            b".",
            b"LHLO ",
            b"<",
            b">",
            b" SIZE=",
            b"\xc3",
            b"RSET",
            b"AUTH PLAIN ",
            b"AGFkbWluAHB3",
        ];
        for _ in 0..3000 {
            let mut lines: Vec<Vec<u8>> = Vec::new();
            for _ in 0..(next() % 12) {
                let mut l = Vec::new();
                for _ in 0..(next() % 5) {
                    if next() % 2 == 0 {
                        l.extend_from_slice(words[(next() % 12) as usize]);
                    } else {
                        l.push((next() % 256) as u8);
                    }
                }
                lines.push(l);
            }
            let refs: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
            let _ = run_max(next() % 2 == 0, (next() % 64) as usize, &refs);
        }
    }
}
