//! The command grammar: turns one command, as the [`reader`](super::reader) framed it (literals
//! inline as `{n}\r\n<n bytes>`, the final CRLF removed), into a [`Command`].
//!
//! Errors carry Cyrus 3.6's reply texts (`Missing required argument to Select`, `Invalid
//! sequence in Fetch`, ...), recorded from Debian's Cyrus, so that a client sees the same
//! BAD lines from both servers. Where Cyrus accepts what RFC 3501 forbids (message number 0,
//! part number 0) the parser follows the RFC and refuses it.
//!
//! The parser never panics and its recursion is bounded: search keys nest at most
//! [`MAX_SEARCH_DEPTH`] deep. It allocates only for what it returns, so its memory is bounded
//! by the size of the framed command, which the reader bounds.

use super::command::*;
use super::date::{parse_date, parse_datetime};

/// How deep search keys may nest (parentheses, `NOT`, `OR`); deeper is refused rather than
/// risking the stack. Real clients' `OR` chains stay well below this.
pub const MAX_SEARCH_DEPTH: usize = 256;

/// Why a command was refused: the reply is `<tag> BAD <text>` (or `<tag> NO <text>` when
/// `no` is set), or `* BAD <text>` when no tag could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The command's tag, if it had a valid one.
    pub tag: Option<String>,
    /// The reply text, as Cyrus words it.
    pub text: String,
    /// Cyrus answers this one with NO rather than BAD (e.g. a zero-length APPEND literal).
    pub no: bool,
}

/// The tag and command name at the start of a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    /// The tag.
    pub tag: String,
    /// The command name, upper-cased.
    pub name: String,
    /// Where the arguments start (after the space following the name), or the end.
    pub rest: usize,
}

/// Whether `b` may appear in a tag: an atom character, `]` and `+` included as Cyrus allows.
pub(crate) fn is_tag_char(b: u8) -> bool {
    (0x20..0x7f).contains(&b)
        && !matches!(b, b' ' | b'(' | b')' | b'{' | b'"' | b'%' | b'*' | b'\\')
}

/// Splits off the tag and command name. `Ok(None)` means the line is too short to tell yet
/// (only when `partial`).
pub(crate) fn head(raw: &[u8], partial: bool) -> Result<Option<Head>, ParseError> {
    let Some(sp) = raw.iter().position(|&b| b == b' ') else {
        if partial && raw.iter().all(|&b| is_tag_char(b)) {
            return Ok(None);
        }
        return Err(err(None, "Invalid tag"));
    };
    let tag = &raw[..sp];
    if tag.is_empty() || !tag.iter().all(|&b| is_tag_char(b)) {
        return Err(err(None, "Invalid tag"));
    }
    let tag = String::from_utf8_lossy(tag).into_owned();
    let rest = &raw[sp + 1..];
    let end = rest
        .iter()
        .position(|&b| matches!(b, b' ' | b'\r' | b'\n' | b'(' | b')' | b'{' | b'"'))
        .unwrap_or(rest.len());
    if end == rest.len() && partial {
        return Ok(None);
    }
    if end == 0 {
        return Err(err(Some(tag), "Null command"));
    }
    let name = String::from_utf8_lossy(&rest[..end]).to_ascii_uppercase();
    let after = sp + 1 + end;
    let rest = if raw.get(after) == Some(&b' ') {
        after + 1
    } else {
        after
    };
    Ok(Some(Head { tag, name, rest }))
}

fn err(tag: Option<String>, text: &str) -> ParseError {
    ParseError {
        tag,
        text: text.to_string(),
        no: false,
    }
}

/// Commands a client may send before logging in.
pub(crate) fn allowed_before_login(name: &str) -> bool {
    matches!(
        name,
        "CAPABILITY" | "NOOP" | "LOGOUT" | "ID" | "STARTTLS" | "AUTHENTICATE" | "LOGIN"
    )
}

/// Commands this parser knows; anything else is "Unrecognized command".
pub(crate) fn known_command(name: &str) -> bool {
    allowed_before_login(name)
        || matches!(
            name,
            "SELECT"
                | "EXAMINE"
                | "CREATE"
                | "DELETE"
                | "RENAME"
                | "SUBSCRIBE"
                | "UNSUBSCRIBE"
                | "LIST"
                | "XLIST"
                | "LSUB"
                | "STATUS"
                | "APPEND"
                | "NAMESPACE"
                | "ENABLE"
                | "IDLE"
                | "COMPRESS"
                | "GETACL"
                | "SETACL"
                | "DELETEACL"
                | "LISTRIGHTS"
                | "MYRIGHTS"
                | "GETQUOTA"
                | "GETQUOTAROOT"
                | "SETQUOTA"
                | "GETMETADATA"
                | "SETMETADATA"
                | "CHECK"
                | "CLOSE"
                | "UNSELECT"
                | "EXPUNGE"
                | "SEARCH"
                | "SORT"
                | "THREAD"
                | "FETCH"
                | "STORE"
                | "COPY"
                | "MOVE"
                | "UID"
        )
}

/// Commands that need a selected mailbox (Cyrus refuses them before reading arguments).
pub(crate) fn needs_selected(name: &str) -> bool {
    matches!(
        name,
        "CHECK"
            | "CLOSE"
            | "UNSELECT"
            | "EXPUNGE"
            | "SEARCH"
            | "FETCH"
            | "STORE"
            | "COPY"
            | "MOVE"
            | "UID"
    )
}

/// Cyrus's name for a command in error texts: `Select`, `Getquotaroot`, `Uid`.
pub(crate) fn display_name(upper: &str) -> String {
    let mut s = upper.to_ascii_lowercase();
    if let Some(first) = s.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    s
}

/// Parses one framed command (final CRLF removed).
pub fn parse_command(raw: &[u8]) -> Result<Command, ParseError> {
    match parse_inner(raw, false) {
        Ok(Some(c)) => Ok(c),
        Ok(None) => Err(err(None, "Invalid tag")),
        Err(e) => Err(e),
    }
}

/// Parses the start of a command whose rest has not arrived yet (the reader calls it before
/// inviting a synchronizing literal). `Some(error)` when the command is already wrong.
pub(crate) fn check_prefix(raw: &[u8]) -> Option<ParseError> {
    parse_inner(raw, true).err()
}

fn parse_inner(raw: &[u8], partial: bool) -> Result<Option<Command>, ParseError> {
    let Some(h) = head(raw, partial)? else {
        return Ok(None);
    };
    let mut p = P {
        s: raw,
        pos: h.rest,
        partial,
        hit_end: false,
        cmd: display_name(&h.name),
        sub: "",
    };
    match p.command(&h.name) {
        Ok(kind) => Ok(Some(Command { tag: h.tag, kind })),
        Err(_) if partial && p.hit_end => Ok(None),
        Err(E::Incomplete) => Ok(None),
        Err(E::Bad(text)) => Err(ParseError {
            tag: Some(h.tag),
            text,
            no: false,
        }),
        Err(E::No(text)) => Err(ParseError {
            tag: Some(h.tag),
            text,
            no: true,
        }),
    }
}

/// The mailbox argument of an APPEND whose arguments start at `rest`, if it can be read
/// already (the reader reports it before inviting the first message literal).
pub(crate) fn append_mailbox(raw: &[u8], rest: usize) -> Option<String> {
    let mut p = P {
        s: raw,
        pos: rest,
        partial: true,
        hit_end: false,
        cmd: String::new(),
        sub: "",
    };
    p.mailbox().ok()
}

/// Parses an IMAP sequence set (`1,3:5,7:*`). Zero and empty ranges are refused.
pub fn parse_seqset(s: &[u8]) -> Option<SeqSet> {
    if s.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    for range in s.split(|&b| b == b',') {
        let mut ends = range.splitn(2, |&b| b == b':');
        let a = seq_num(ends.next()?)?;
        let b = match ends.next() {
            Some(b) => seq_num(b)?,
            None => a,
        };
        out.push((a, b));
    }
    Some(SeqSet(out))
}

fn seq_num(s: &[u8]) -> Option<SeqNum> {
    if s == b"*" {
        return Some(SeqNum::Star);
    }
    match parse_u64(s)? {
        0 => None,
        n => u32::try_from(n).ok().map(SeqNum::Num),
    }
}

fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

enum E {
    Bad(String),
    No(String),
    Incomplete,
}

type R<T> = Result<T, E>;

struct P<'a> {
    s: &'a [u8],
    pos: usize,
    partial: bool,
    /// A read went past the end of the input; in partial mode every later error is
    /// "not yet", not "wrong".
    hit_end: bool,
    /// The command's display name for error texts.
    cmd: String,
    /// FETCH's and STORE's own name in their error texts: `Fetch` or `UID Fetch`.
    sub: &'static str,
}

const SYSTEM_FLAGS: [&str; 5] = ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"];

impl<'a> P<'a> {
    fn bad<T>(&self, text: impl Into<String>) -> R<T> {
        if self.partial && self.hit_end {
            return Err(E::Incomplete);
        }
        Err(E::Bad(text.into()))
    }

    fn missing<T>(&self) -> R<T> {
        self.bad(format!("Missing required argument to {}", self.cmd))
    }

    fn peek(&mut self) -> Option<u8> {
        let b = self.s.get(self.pos).copied();
        if b.is_none() {
            self.hit_end = true;
        }
        b
    }

    fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// A single space, as separates arguments.
    fn sp(&mut self) -> R<()> {
        if self.eat(b' ') {
            Ok(())
        } else {
            self.missing()
        }
    }

    /// The end of the command: no more arguments.
    fn end(&mut self) -> R<()> {
        if self.at_end() {
            // In partial mode the end is only where the input stops for now.
            if self.partial {
                return Err(E::Incomplete);
            }
            Ok(())
        } else {
            self.bad(format!("Unexpected extra arguments to {}", self.cmd))
        }
    }

    /// A run of bytes up to a space, parenthesis or line end (an atom as Cyrus reads it).
    fn word(&mut self) -> &'a [u8] {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if matches!(b, b' ' | b'(' | b')' | b'\r' | b'\n') {
                break;
            }
            self.pos += 1;
        }
        &self.s[start..self.pos]
    }

    fn word_upper(&mut self) -> String {
        String::from_utf8_lossy(self.word()).to_ascii_uppercase()
    }

    /// `"..."` with `\"` and `\\` escapes; `None` if not a quoted string here.
    fn quoted(&mut self) -> R<Option<Vec<u8>>> {
        if !self.eat(b'"') {
            return Ok(None);
        }
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None | Some(b'\r') | Some(b'\n') => return self.missing(),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Some(out));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c @ (b'"' | b'\\')) => {
                            out.push(c);
                            self.pos += 1;
                        }
                        _ => return self.missing(),
                    }
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// `{n}` or `{n+}` (or `~{n}` when `binary`), its line end and `n` bytes; `None` if no
    /// literal starts here.
    fn literal(&mut self, binary: bool) -> R<Option<Vec<u8>>> {
        let start = self.pos;
        if binary {
            self.eat(b'~');
        }
        if !self.eat(b'{') {
            self.pos = start;
            return Ok(None);
        }
        let digits_start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        let n = parse_u64(&self.s[digits_start..self.pos]);
        self.eat(b'+');
        let (Some(n), true) = (n, self.eat(b'}')) else {
            return self.missing();
        };
        self.eat(b'\r');
        if !self.eat(b'\n') {
            return self.missing();
        }
        let avail = (self.s.len() - self.pos) as u64;
        if n > avail {
            self.hit_end = true;
            return self.missing();
        }
        // n <= avail, so it fits in usize.
        let n = n as usize;
        let v = self.s[self.pos..self.pos + n].to_vec();
        self.pos += n;
        Ok(Some(v))
    }

    /// A string: quoted or literal.
    fn string(&mut self) -> R<Option<Vec<u8>>> {
        if let Some(q) = self.quoted()? {
            return Ok(Some(q));
        }
        self.literal(false)
    }

    /// An astring: atom, quoted string or literal.
    fn astring(&mut self) -> R<Vec<u8>> {
        if let Some(s) = self.string()? {
            return Ok(s);
        }
        let w = self.word();
        if w.is_empty() || w.iter().any(|&b| matches!(b, b'{' | b'"')) {
            return self.missing();
        }
        Ok(w.to_vec())
    }

    fn astring_utf8(&mut self) -> R<String> {
        let s = self.astring()?;
        Ok(String::from_utf8_lossy(&s).into_owned())
    }

    /// `NIL` or a string.
    fn nstring(&mut self) -> R<Option<Vec<u8>>> {
        if let Some(s) = self.string()? {
            return Ok(Some(s));
        }
        let w = self.word();
        if w.eq_ignore_ascii_case(b"NIL") {
            Ok(None)
        } else {
            self.missing()
        }
    }

    fn seqset(&mut self) -> R<SeqSet> {
        let w = self.word();
        if w.is_empty() {
            return self.missing();
        }
        match parse_seqset(w) {
            Some(s) => Ok(s),
            None => self.bad(format!("Invalid sequence in {}", self.cmd)),
        }
    }

    fn mailbox(&mut self) -> R<String> {
        self.astring_utf8()
    }

    fn command(&mut self, name: &str) -> R<CommandKind> {
        let k = match name {
            "CAPABILITY" => self.no_args(CommandKind::Capability)?,
            "NOOP" => self.no_args(CommandKind::Noop)?,
            "LOGOUT" => self.no_args(CommandKind::Logout)?,
            "NAMESPACE" => self.no_args(CommandKind::Namespace)?,
            "CHECK" => self.no_args(CommandKind::Check)?,
            "CLOSE" => self.no_args(CommandKind::Close)?,
            "UNSELECT" => self.no_args(CommandKind::Unselect)?,
            "IDLE" => self.no_args(CommandKind::Idle)?,
            "EXPUNGE" => self.no_args(CommandKind::Expunge { uids: None })?,
            "STARTTLS" => {
                // Cyrus only knows the bare command; with arguments it is not STARTTLS.
                if !self.at_end() || self.s.get(self.pos.wrapping_sub(1)) == Some(&b' ') {
                    return self.bad("Unrecognized command");
                }
                CommandKind::StartTls
            }
            "ID" => self.id()?,
            "COMPRESS" => {
                self.need_arg()?;
                let mechanism = self.astring_utf8()?.to_ascii_uppercase();
                self.end()?;
                CommandKind::Compress { mechanism }
            }
            "AUTHENTICATE" => self.authenticate()?,
            "LOGIN" => {
                self.need_arg()?;
                let user = self.astring_utf8()?;
                self.sp()?;
                let password = self.astring()?;
                self.end()?;
                CommandKind::Login { user, password }
            }
            "SELECT" | "EXAMINE" => self.select(name == "SELECT")?,
            "CREATE" => self.create()?,
            "DELETE" => {
                let mailbox = self.one_mailbox()?;
                CommandKind::Delete { mailbox }
            }
            "RENAME" => {
                self.need_arg()?;
                let from = self.mailbox()?;
                self.sp()?;
                let to = self.mailbox()?;
                // Cyrus takes a partition name as a third argument (admins only); the
                // AST has no place for it, so it is accepted and dropped.
                if self.eat(b' ') {
                    self.astring()?;
                }
                self.end()?;
                CommandKind::Rename { from, to }
            }
            "SUBSCRIBE" | "UNSUBSCRIBE" => {
                self.need_arg()?;
                let mailbox = self.mailbox()?;
                if !self.at_end() {
                    return self.bad(format!("Invalid {} subcommand", self.cmd));
                }
                self.end()?;
                if name == "SUBSCRIBE" {
                    CommandKind::Subscribe { mailbox }
                } else {
                    CommandKind::Unsubscribe { mailbox }
                }
            }
            "LIST" | "XLIST" => self.list(name == "XLIST")?,
            "LSUB" => {
                self.need_arg()?;
                let reference = self.mailbox()?;
                self.sp()?;
                let pattern = self.mailbox()?;
                self.end()?;
                CommandKind::Lsub { reference, pattern }
            }
            "STATUS" => {
                self.need_arg()?;
                let mailbox = self.mailbox()?;
                self.sp()?;
                let items = self.status_items(true)?;
                self.end()?;
                CommandKind::Status { mailbox, items }
            }
            "APPEND" => self.append()?,
            "ENABLE" => {
                self.need_arg()?;
                // Capability names are atoms; Cyrus does not take strings here.
                let mut caps = Vec::new();
                loop {
                    let w = self.word();
                    if w.is_empty() || w[0] == b'"' || w[0] == b'{' {
                        return self.bad(format!("Missing required argument to {}", self.cmd));
                    }
                    caps.push(String::from_utf8_lossy(w).to_ascii_uppercase());
                    if !self.eat(b' ') {
                        break;
                    }
                }
                self.end()?;
                CommandKind::Enable(caps)
            }
            "GETACL" => CommandKind::GetAcl {
                mailbox: self.one_mailbox()?,
            },
            "MYRIGHTS" => CommandKind::MyRights {
                mailbox: self.one_mailbox()?,
            },
            "GETQUOTA" => CommandKind::GetQuota {
                root: self.one_mailbox()?,
            },
            "GETQUOTAROOT" => CommandKind::GetQuotaRoot {
                mailbox: self.one_mailbox()?,
            },
            "SETACL" => {
                let (mailbox, identifier) = self.two_args()?;
                self.sp()?;
                let rights = self.astring_utf8()?;
                self.end()?;
                CommandKind::SetAcl {
                    mailbox,
                    identifier,
                    rights,
                }
            }
            "DELETEACL" => {
                let (mailbox, identifier) = self.two_args()?;
                self.end()?;
                CommandKind::DeleteAcl {
                    mailbox,
                    identifier,
                }
            }
            "LISTRIGHTS" => {
                let (mailbox, identifier) = self.two_args()?;
                self.end()?;
                CommandKind::ListRights {
                    mailbox,
                    identifier,
                }
            }
            "SETQUOTA" => self.setquota()?,
            "GETMETADATA" => self.getmetadata()?,
            "SETMETADATA" => self.setmetadata()?,
            "SEARCH" => self.search(false)?,
            "SORT" => self.sort(false)?,
            "THREAD" => self.thread(false)?,
            "FETCH" => self.fetch(false)?,
            "STORE" => self.store(false)?,
            "COPY" | "MOVE" => self.copy_move(name == "MOVE", false)?,
            "UID" => self.uid()?,
            _ => return self.bad("Unrecognized command"),
        };
        Ok(k)
    }

    /// Fails with "Missing required argument" when the command has no arguments at all.
    fn need_arg(&mut self) -> R<()> {
        if self.at_end() {
            return self.missing();
        }
        Ok(())
    }

    fn no_args(&mut self, k: CommandKind) -> R<CommandKind> {
        // `head` took the space after the name; one there means an (empty) argument.
        if self.pos > 0 && self.s.get(self.pos - 1) == Some(&b' ') {
            return self.bad(format!("Unexpected extra arguments to {}", self.cmd));
        }
        self.end()?;
        Ok(k)
    }

    fn one_mailbox(&mut self) -> R<String> {
        self.need_arg()?;
        let m = self.mailbox()?;
        self.end()?;
        Ok(m)
    }

    fn two_args(&mut self) -> R<(String, String)> {
        self.need_arg()?;
        let a = self.mailbox()?;
        self.sp()?;
        let b = self.astring_utf8()?;
        Ok((a, b))
    }

    fn id(&mut self) -> R<CommandKind> {
        self.need_arg()?;
        if !self.eat(b'(') {
            let w = self.word();
            if !w.eq_ignore_ascii_case(b"NIL") {
                return self.bad("Invalid parameter list in Id");
            }
            self.end()?;
            return Ok(CommandKind::Id(None));
        }
        let bad_pair = "Invalid field-value pair in Id";
        let mut pairs = Vec::new();
        loop {
            // RFC 2971 §3.3: at most 30 pairs, fields of 30 bytes, values of 1024.
            let Ok(Some(field)) = self.string() else {
                return self.bad(bad_pair);
            };
            if !self.eat(b' ') {
                return self.bad(bad_pair);
            }
            let Ok(value) = self.nstring() else {
                return self.bad(bad_pair);
            };
            if field.len() > 30 {
                return self.bad("field longer than 30 octets in Id");
            }
            if value.as_ref().is_some_and(|v| v.len() > 1024) {
                return self.bad("value longer than 1024 octets in Id");
            }
            pairs.push((
                String::from_utf8_lossy(&field).into_owned(),
                value.map(|v| String::from_utf8_lossy(&v).into_owned()),
            ));
            if pairs.len() > 30 {
                return self.bad("too many (30) field-value pairs in ID");
            }
            if self.eat(b')') {
                break;
            }
            if !self.eat(b' ') {
                return self.bad(bad_pair);
            }
        }
        self.end()?;
        Ok(CommandKind::Id(Some(pairs)))
    }

    fn authenticate(&mut self) -> R<CommandKind> {
        self.need_arg()?;
        let mech = self.word();
        if mech.is_empty() {
            return self.missing();
        }
        let mechanism = String::from_utf8_lossy(mech).to_ascii_uppercase();
        let mut initial = None;
        if self.eat(b' ') {
            let ir = self.word();
            if ir == b"=" {
                initial = Some(Vec::new());
            } else {
                match decode_base64(ir) {
                    Some(v) => initial = Some(v),
                    None => return self.bad("Invalid base64 string"),
                }
            }
        }
        self.end()?;
        Ok(CommandKind::Authenticate { mechanism, initial })
    }

    fn select(&mut self, select: bool) -> R<CommandKind> {
        self.need_arg()?;
        let mailbox = self.mailbox()?;
        let mut params = SelectParams::default();
        if self.eat(b' ') {
            if !self.eat(b'(') {
                return self.bad(format!("Invalid modifier list in {}", self.cmd));
            }
            loop {
                let m = self.word_upper();
                match m.as_str() {
                    "CONDSTORE" => params.condstore = true,
                    "QRESYNC" => params.qresync = Some(self.qresync()?),
                    _ => return self.bad(format!("Invalid {} modifier {m}", self.cmd)),
                }
                if self.eat(b')') {
                    break;
                }
                if !self.eat(b' ') {
                    return self.bad(format!("Invalid modifier list in {}", self.cmd));
                }
            }
        }
        self.end()?;
        Ok(if select {
            CommandKind::Select { mailbox, params }
        } else {
            CommandKind::Examine { mailbox, params }
        })
    }

    fn qresync(&mut self) -> R<QresyncParams> {
        let bad = format!("Invalid QRESYNC parameter list in {}", self.cmd);
        let bad = bad.as_str();
        if !(self.eat(b' ') && self.eat(b'(')) {
            return self.bad(bad);
        }
        let uidvalidity = parse_u64(self.word()).and_then(|n| u32::try_from(n).ok());
        let Some(uidvalidity) = uidvalidity.filter(|&n| n > 0) else {
            return self.bad(bad);
        };
        if !self.eat(b' ') {
            return self.bad(bad);
        }
        let Some(modseq) = parse_u64(self.word()) else {
            return self.bad(bad);
        };
        let mut q = QresyncParams {
            uidvalidity,
            modseq,
            known_uids: None,
            seq_match: None,
        };
        if self.eat(b' ') {
            if self.peek() != Some(b'(') {
                match parse_seqset(self.word()) {
                    Some(s) => q.known_uids = Some(s),
                    None => return self.bad(bad),
                }
                self.eat(b' ');
            }
            if self.eat(b'(') {
                let seqs = parse_seqset(self.word());
                let sp = self.eat(b' ');
                let uids = parse_seqset(self.word());
                match (seqs, sp, uids, self.eat(b')')) {
                    (Some(a), true, Some(b), true) => q.seq_match = Some((a, b)),
                    _ => return self.bad(bad),
                }
            }
        }
        if !self.eat(b')') {
            return self.bad(bad);
        }
        Ok(q)
    }

    fn create(&mut self) -> R<CommandKind> {
        self.need_arg()?;
        let mailbox = self.mailbox()?;
        let mut special_use = Vec::new();
        if self.eat(b' ') {
            if self.eat(b'(') {
                let bad = "Invalid partition name in Create";
                loop {
                    let name = self.word_upper();
                    if !self.eat(b' ') {
                        return self.bad(bad);
                    }
                    if name == "USE" {
                        if !self.eat(b'(') {
                            return self.bad(bad);
                        }
                        loop {
                            let w = self.word();
                            if w.is_empty() {
                                return self.bad(bad);
                            }
                            special_use.push(String::from_utf8_lossy(w).into_owned());
                            if self.eat(b')') {
                                break;
                            }
                            if !self.eat(b' ') {
                                return self.bad(bad);
                            }
                        }
                    } else if self.eat(b'(') {
                        // Other extension parameters (as Cyrus does, ignored): a list...
                        let mut depth = 1usize;
                        while depth > 0 {
                            match self.peek() {
                                None => return self.bad(bad),
                                Some(b'(') => depth += 1,
                                Some(b')') => depth -= 1,
                                _ => {}
                            }
                            self.pos += 1;
                        }
                    } else {
                        // ... or a single value, e.g. PARTITION name.
                        self.astring()?;
                    }
                    if self.eat(b')') {
                        break;
                    }
                    if !self.eat(b' ') {
                        return self.bad(bad);
                    }
                }
            } else {
                // `CREATE name partition` (Cyrus, admins only): no place in the AST; dropped.
                self.astring()?;
            }
        }
        self.end()?;
        Ok(CommandKind::Create {
            mailbox,
            special_use,
        })
    }

    fn list(&mut self, xlist: bool) -> R<CommandKind> {
        self.need_arg()?;
        let syntax = "Invalid syntax in List command";
        let mut args = ListArgs {
            xlist,
            ..ListArgs::default()
        };
        if self.eat(b'(') {
            loop {
                if self.eat(b')') {
                    break;
                }
                if matches!(self.peek(), Some(b'"' | b'{')) {
                    return self.bad(syntax);
                }
                let w = self.word_upper();
                match w.as_str() {
                    "SUBSCRIBED" | "REMOTE" | "RECURSIVEMATCH" | "SPECIAL-USE" => {
                        args.select.push(w)
                    }
                    "" => return self.bad(syntax),
                    _ => {
                        return self.bad(format!(
                            "Invalid List selection option \"{}\"",
                            w.to_ascii_lowercase()
                        ))
                    }
                }
                if self.eat(b')') {
                    break;
                }
                if !self.eat(b' ') {
                    return self.bad(syntax);
                }
            }
            if !self.eat(b' ') {
                return self.bad(syntax);
            }
        }
        args.reference = self.mailbox()?;
        if !self.eat(b' ') || self.at_end() {
            return self.bad(format!(
                "Missing required argument to {}: mailbox pattern",
                self.cmd
            ));
        }
        if self.eat(b'(') {
            loop {
                match self.mailbox() {
                    Ok(p) => args.patterns.push(p),
                    Err(_) => return self.bad(syntax),
                }
                if self.eat(b')') {
                    break;
                }
                if !self.eat(b' ') {
                    return self.bad(syntax);
                }
            }
        } else {
            args.patterns.push(self.mailbox()?);
        }
        if self.eat(b' ') {
            let w = self.word();
            if !w.eq_ignore_ascii_case(b"RETURN") {
                return self.bad(format!(
                    "Unexpected extra argument to {}: \"{}\"",
                    self.cmd,
                    String::from_utf8_lossy(w)
                ));
            }
            if !(self.eat(b' ') && self.eat(b'(')) {
                return self.bad("Missing return argument list");
            }
            loop {
                if self.eat(b')') {
                    break;
                }
                let w = self.word_upper();
                match w.as_str() {
                    "SUBSCRIBED" | "CHILDREN" | "SPECIAL-USE" | "MYRIGHTS" => args.returns.push(w),
                    "STATUS" => {
                        if !self.eat(b' ') {
                            return self.bad(syntax);
                        }
                        args.status = Some(self.status_items(false)?);
                    }
                    "METADATA" => {
                        // LIST-METADATA (RFC 9590): `METADATA (entries)`.
                        if !(self.eat(b' ') && self.eat(b'(')) {
                            return self.bad(syntax);
                        }
                        let mut entries = Vec::new();
                        loop {
                            match self.astring_utf8() {
                                Ok(e) => entries.push(e),
                                Err(_) => return self.bad(syntax),
                            }
                            if self.eat(b')') {
                                break;
                            }
                            if !self.eat(b' ') {
                                return self.bad(syntax);
                            }
                        }
                        args.metadata = Some(entries);
                    }
                    "" => return self.bad(syntax),
                    _ => {
                        return self.bad(format!(
                            "Invalid List return option \"{}\"",
                            w.to_ascii_lowercase()
                        ))
                    }
                }
                if self.eat(b')') {
                    break;
                }
                if !self.eat(b' ') {
                    return self.bad(syntax);
                }
            }
        }
        self.end()?;
        Ok(CommandKind::List(args))
    }

    /// `(item ...)` of STATUS, or of LIST's `RETURN (STATUS (...))`.
    fn status_items(&mut self, in_status: bool) -> R<Vec<StatusItem>> {
        if !self.eat(b'(') {
            if in_status && self.at_end() {
                return self.missing();
            }
            return self.bad("Bad status string");
        }
        let mut items = Vec::new();
        loop {
            let w = self.word_upper();
            let item = match w.as_str() {
                "MESSAGES" => StatusItem::Messages,
                "RECENT" => StatusItem::Recent,
                "UIDNEXT" => StatusItem::UidNext,
                "UIDVALIDITY" => StatusItem::UidValidity,
                "UNSEEN" => StatusItem::Unseen,
                "HIGHESTMODSEQ" => StatusItem::HighestModseq,
                "SIZE" => StatusItem::Size,
                "MAILBOXID" => StatusItem::MailboxId,
                "" if items.is_empty() && self.peek() == Some(b')') => {
                    return self.bad("Bad status string")
                }
                _ => {
                    return self.bad(format!(
                        "Invalid Status attributes {}",
                        w.to_ascii_lowercase()
                    ))
                }
            };
            items.push(item);
            if self.eat(b')') {
                return Ok(items);
            }
            if !self.eat(b' ') {
                return self.bad("Missing close parenthesis in Status");
            }
        }
    }

    fn append(&mut self) -> R<CommandKind> {
        self.need_arg()?;
        let mailbox = self.mailbox()?;
        let mut messages = Vec::new();
        loop {
            if !self.eat(b' ') {
                if messages.is_empty() {
                    return self.missing();
                }
                break;
            }
            let mut flags = Vec::new();
            if self.eat(b'(') {
                loop {
                    if self.eat(b')') {
                        break;
                    }
                    let f = self.word();
                    if f.is_empty() {
                        return self.bad("Missing space or ) after flag name in Append command");
                    }
                    flags.push(self.flag_name(f, "Invalid flag in Append command")?);
                    if self.eat(b')') {
                        break;
                    }
                    if !self.eat(b' ') {
                        return self.bad("Missing space or ) after flag name in Append command");
                    }
                }
                if !self.eat(b' ') {
                    return self.missing();
                }
            }
            let mut date = None;
            if let Some(d) = self.quoted()? {
                match parse_datetime(&d) {
                    Some(d) => date = Some(d),
                    None => return self.bad("Invalid date-time in Append command"),
                }
                if !self.eat(b' ') {
                    return self.missing();
                }
            }
            let Some(message) = self.literal(true)? else {
                if self.at_end() {
                    return self.missing();
                }
                return self.bad("Missing required argument to Append command");
            };
            if message.is_empty() {
                return Err(E::No("Zero-length message literal".into()));
            }
            messages.push(AppendMessage {
                flags,
                date,
                message,
            });
        }
        self.end()?;
        Ok(CommandKind::Append { mailbox, messages })
    }

    /// Checks a flag as written: system flags must be known, keywords must be atoms.
    fn flag_name(&self, f: &[u8], bad: &str) -> R<String> {
        let s = String::from_utf8_lossy(f).into_owned();
        if f.first() == Some(&b'\\') {
            return match SYSTEM_FLAGS.iter().find(|k| k.eq_ignore_ascii_case(&s)) {
                Some(k) => Ok((*k).to_string()),
                None => self.bad(bad),
            };
        }
        if !f
            .iter()
            .all(|&b| cyrus::prot::astring::is_atom_char(b) || b == b']')
        {
            return self.bad(bad);
        }
        Ok(s)
    }

    fn setquota(&mut self) -> R<CommandKind> {
        self.need_arg()?;
        let root = self.mailbox()?;
        self.sp()?;
        let bad = "Invalid quota list in Setquota";
        if !self.eat(b'(') {
            return self.bad(bad);
        }
        let mut limits = Vec::new();
        if !self.eat(b')') {
            loop {
                let res = self.word_upper();
                if res.is_empty() || !self.eat(b' ') {
                    return self.bad(bad);
                }
                let w = self.word();
                // Cyrus takes -1 as "no limit" and so do we.
                let n = if w == b"-1" {
                    u64::MAX
                } else {
                    match parse_u64(w) {
                        Some(n) => n,
                        None => return self.bad(bad),
                    }
                };
                limits.push((res, n));
                if self.eat(b')') {
                    break;
                }
                if !self.eat(b' ') {
                    return self.bad(bad);
                }
            }
        }
        self.end()?;
        Ok(CommandKind::SetQuota { root, limits })
    }

    fn getmetadata(&mut self) -> R<CommandKind> {
        self.need_arg()?;
        let missing = "Missing arguments to Getmetadata";
        let mut maxsize = None;
        let mut depth = 0;
        if self.eat(b'(') {
            loop {
                let opt = self.word_upper();
                if !self.eat(b' ') {
                    return self.bad(missing);
                }
                let v = self.word();
                match (opt.as_str(), parse_u64(v)) {
                    ("MAXSIZE", Some(n)) => maxsize = Some(n),
                    ("DEPTH", _) if v.eq_ignore_ascii_case(b"infinity") => depth = u32::MAX,
                    ("DEPTH", Some(0)) => depth = 0,
                    ("DEPTH", Some(1)) => depth = 1,
                    _ => return self.bad(missing),
                }
                if self.eat(b')') {
                    break;
                }
                if !self.eat(b' ') {
                    return self.bad(missing);
                }
            }
            if !self.eat(b' ') {
                return self.bad(missing);
            }
        }
        let mailbox = self.mailbox()?;
        if !self.eat(b' ') {
            return self.bad(missing);
        }
        let mut entries = Vec::new();
        if self.eat(b'(') {
            loop {
                match self.astring_utf8() {
                    Ok(e) => entries.push(e),
                    Err(_) => return self.bad("Missing close paren in metadata entry list "),
                }
                if self.eat(b')') {
                    break;
                }
                if !self.eat(b' ') {
                    return self.bad("Missing close paren in metadata entry list ");
                }
            }
        } else {
            entries.push(self.astring_utf8()?);
        }
        self.end()?;
        Ok(CommandKind::GetMetadata {
            maxsize,
            depth,
            mailbox,
            entries,
        })
    }

    fn setmetadata(&mut self) -> R<CommandKind> {
        self.need_arg()?;
        let mailbox = self.mailbox()?;
        self.sp()?;
        let missing = "Missing metadata entry";
        if !self.eat(b'(') {
            return self.bad(missing);
        }
        let mut entries = Vec::new();
        loop {
            let Ok(entry) = self.astring_utf8() else {
                return self.bad(missing);
            };
            if !self.eat(b' ') {
                return self.bad(missing);
            }
            let value = if let Some(v) = self.literal(true)? {
                Some(v)
            } else {
                match self.nstring() {
                    Ok(v) => v,
                    Err(_) => return self.bad(missing),
                }
            };
            entries.push((entry, value));
            if self.eat(b')') {
                break;
            }
            if !self.eat(b' ') {
                return self.bad(missing);
            }
        }
        self.end()?;
        Ok(CommandKind::SetMetadata { mailbox, entries })
    }

    fn uid(&mut self) -> R<CommandKind> {
        self.need_arg()?;
        let sub = self.word_upper();
        match sub.as_str() {
            "FETCH" => self.fetch(true),
            "STORE" => self.store(true),
            "SEARCH" => self.search(true),
            "SORT" => self.sort(true),
            "THREAD" => self.thread(true),
            "COPY" => self.copy_move(false, true),
            "MOVE" => self.copy_move(true, true),
            "EXPUNGE" => {
                self.sp()?;
                let set = self.seqset()?;
                self.end()?;
                Ok(CommandKind::Expunge { uids: Some(set) })
            }
            _ => self.bad("Unrecognized UID subcommand"),
        }
    }

    fn copy_move(&mut self, mv: bool, uid: bool) -> R<CommandKind> {
        self.sp_or_missing()?;
        let set = self.seqset()?;
        self.sp()?;
        let mailbox = self.mailbox()?;
        self.end()?;
        Ok(if mv {
            CommandKind::Move { uid, set, mailbox }
        } else {
            CommandKind::Copy { uid, set, mailbox }
        })
    }

    /// After a UID subcommand name a space is needed; directly after a plain command name
    /// the reader's `head` already took it.
    fn sp_or_missing(&mut self) -> R<()> {
        if self.pos > 0 && self.s.get(self.pos - 1) == Some(&b' ') {
            self.need_arg()
        } else {
            self.sp()
        }
    }

    fn store(&mut self, uid: bool) -> R<CommandKind> {
        self.sub = if uid { "UID Store" } else { "Store" };
        self.sp_or_missing()?;
        let set = self.seqset()?;
        self.sp()?;
        let mut unchangedsince = None;
        if self.eat(b'(') {
            loop {
                let m = self.word_upper();
                match m.as_str() {
                    "UNCHANGEDSINCE" => {
                        if !self.eat(b' ') {
                            return self.missing();
                        }
                        match parse_u64(self.word()) {
                            Some(n) => unchangedsince = Some(n),
                            None => {
                                return self.bad(format!(
                                    "Invalid argument to {} UNCHANGEDSINCE",
                                    self.sub
                                ))
                            }
                        }
                    }
                    _ => return self.bad(format!("Invalid {} modifier {m}", self.sub)),
                }
                if self.eat(b')') {
                    break;
                }
                if !self.eat(b' ') {
                    return self.bad(format!("Missing close parenthesis in {}", self.sub));
                }
            }
            self.sp()?;
        }
        let att = self.word_upper();
        let invalid = format!("Invalid {} attribute", self.sub);
        let (mode, rest) = match att.as_bytes().first() {
            Some(b'+') => (StoreMode::Add, &att[1..]),
            Some(b'-') => (StoreMode::Remove, &att[1..]),
            _ => (StoreMode::Replace, att.as_str()),
        };
        let silent = match rest {
            "FLAGS" => false,
            "FLAGS.SILENT" => true,
            "" => return self.missing(),
            _ => return self.bad(invalid),
        };
        if !self.eat(b' ') || self.at_end() {
            return self.bad(format!("Missing required argument to {}", self.sub));
        }
        let mut flags = Vec::new();
        let bad_flag = format!("Invalid system flag in {} command", self.sub);
        let bad_flag = bad_flag.as_str();
        if self.eat(b'(') {
            loop {
                if self.eat(b')') {
                    break;
                }
                let f = self.word();
                if f.is_empty() {
                    return self.bad(format!("Missing close parenthesis in {}", self.sub));
                }
                flags.push(self.flag_name(f, bad_flag)?);
                if self.eat(b')') {
                    break;
                }
                if !self.eat(b' ') {
                    return self.bad(format!("Missing close parenthesis in {}", self.sub));
                }
            }
        } else {
            loop {
                let f = self.word();
                if f.is_empty() {
                    return self.missing();
                }
                flags.push(self.flag_name(f, bad_flag)?);
                if !self.eat(b' ') {
                    break;
                }
            }
        }
        self.end()?;
        Ok(CommandKind::Store(StoreArgs {
            uid,
            set,
            unchangedsince,
            mode,
            silent,
            flags,
        }))
    }

    fn fetch(&mut self, uid: bool) -> R<CommandKind> {
        self.sub = if uid { "UID Fetch" } else { "Fetch" };
        self.sp_or_missing()?;
        let set = self.seqset()?;
        if !self.eat(b' ') || self.at_end() {
            return self.bad(format!("Missing required argument to {}", self.sub));
        }
        let mut items = Vec::new();
        if self.eat(b'(') {
            loop {
                self.fetch_att(&mut items)?;
                if self.eat(b')') {
                    break;
                }
                if !self.eat(b' ') {
                    return self.bad(format!("Missing close parenthesis in {}", self.sub));
                }
            }
        } else {
            let start = self.pos;
            let w = self.word_upper();
            match w.as_str() {
                "ALL" => items.extend([
                    FetchAtt::Flags,
                    FetchAtt::InternalDate,
                    FetchAtt::Rfc822Size,
                    FetchAtt::Envelope,
                ]),
                "FAST" => items.extend([
                    FetchAtt::Flags,
                    FetchAtt::InternalDate,
                    FetchAtt::Rfc822Size,
                ]),
                "FULL" => items.extend([
                    FetchAtt::Flags,
                    FetchAtt::InternalDate,
                    FetchAtt::Rfc822Size,
                    FetchAtt::Envelope,
                    FetchAtt::Body,
                ]),
                _ => {
                    self.pos = start;
                    self.fetch_att(&mut items)?;
                }
            }
        }
        let mut changedsince = None;
        let mut vanished = false;
        if self.eat(b' ') {
            if !self.eat(b'(') {
                return self.bad(format!(
                    "Missing required open parenthesis in {} modifiers",
                    self.sub
                ));
            }
            loop {
                let m = self.word_upper();
                match m.as_str() {
                    "CHANGEDSINCE" => {
                        if !self.eat(b' ') {
                            return self
                                .bad(format!("Invalid argument to {} CHANGEDSINCE", self.sub));
                        }
                        match parse_u64(self.word()) {
                            Some(n) => changedsince = Some(n),
                            None => {
                                return self
                                    .bad(format!("Invalid argument to {} CHANGEDSINCE", self.sub))
                            }
                        }
                    }
                    "VANISHED" if uid => vanished = true,
                    _ => return self.bad(format!("Invalid {} modifier {m}", self.sub)),
                }
                if self.eat(b')') {
                    break;
                }
                if !self.eat(b' ') {
                    return self.bad(format!("Missing close parenthesis in {}", self.sub));
                }
            }
        }
        if vanished && changedsince.is_none() {
            return self.bad(format!("Missing required argument to {}", self.sub));
        }
        self.end()?;
        Ok(CommandKind::Fetch(FetchArgs {
            uid,
            set,
            items,
            changedsince,
            vanished,
        }))
    }

    fn fetch_att(&mut self, items: &mut Vec<FetchAtt>) -> R<()> {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if matches!(b, b' ' | b'(' | b')' | b'[' | b'\r' | b'\n') {
                break;
            }
            self.pos += 1;
        }
        let name = String::from_utf8_lossy(&self.s[start..self.pos]).to_ascii_uppercase();
        let with_section = self.peek() == Some(b'[');
        let att = match (name.as_str(), with_section) {
            ("ENVELOPE", false) => FetchAtt::Envelope,
            ("FLAGS", false) => FetchAtt::Flags,
            ("INTERNALDATE", false) => FetchAtt::InternalDate,
            ("RFC822", false) => FetchAtt::Rfc822,
            ("RFC822.HEADER", false) => FetchAtt::Rfc822Header,
            ("RFC822.SIZE", false) => FetchAtt::Rfc822Size,
            ("RFC822.TEXT", false) => FetchAtt::Rfc822Text,
            ("BODY", false) => FetchAtt::Body,
            ("BODYSTRUCTURE", false) => FetchAtt::BodyStructure,
            ("UID", false) => FetchAtt::Uid,
            ("MODSEQ", false) => FetchAtt::Modseq,
            ("EMAILID", false) => FetchAtt::EmailId,
            ("THREADID", false) => FetchAtt::ThreadId,
            ("BODY" | "BODY.PEEK", true) => {
                self.pos += 1;
                let section = self.section(&name)?;
                let partial = self.partial_spec()?;
                FetchAtt::BodySection {
                    peek: name == "BODY.PEEK",
                    section,
                    partial,
                }
            }
            ("BINARY" | "BINARY.PEEK" | "BINARY.SIZE", true) => {
                self.pos += 1;
                let part = self.binary_part()?;
                if name == "BINARY.SIZE" {
                    FetchAtt::BinarySize { part }
                } else {
                    let partial = self.partial_spec()?;
                    FetchAtt::Binary {
                        peek: name == "BINARY.PEEK",
                        part,
                        partial,
                    }
                }
            }
            _ => {
                if self.at_end() && name.is_empty() {
                    return self.missing();
                }
                return self.bad(format!("Invalid {} attribute {name}", self.sub));
            }
        };
        items.push(att);
        Ok(())
    }

    /// Dot-separated non-zero part numbers, as far as they go.
    fn part_numbers(&mut self) -> Option<Vec<u32>> {
        let mut part = Vec::new();
        loop {
            let start = self.pos;
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.pos += 1;
            }
            if self.pos == start {
                // Not a number: the dot before it (if any) starts the section text.
                if !part.is_empty() {
                    self.pos -= 1;
                }
                return Some(part);
            }
            let n = parse_u64(&self.s[start..self.pos]).and_then(|n| u32::try_from(n).ok())?;
            if n == 0 {
                return None;
            }
            part.push(n);
            if !self.eat(b'.') {
                return Some(part);
            }
        }
    }

    /// After `BODY[`: the section and its `]`.
    fn section(&mut self, name: &str) -> R<Section> {
        let invalid = "Invalid body section";
        let Some(part) = self.part_numbers() else {
            return self.bad(invalid);
        };
        if !part.is_empty() && !self.eat(b'.') {
            if self.eat(b']') {
                return Ok(Section { part, text: None });
            }
            return self.bad(invalid);
        }
        let start = self.pos;
        while let Some(b) = self.peek() {
            if matches!(b, b']' | b' ' | b'(' | b')') {
                break;
            }
            self.pos += 1;
        }
        let word = String::from_utf8_lossy(&self.s[start..self.pos]).to_ascii_uppercase();
        let text = match word.as_str() {
            "" if part.is_empty() => None,
            "HEADER" => Some(SectionText::Header),
            "TEXT" => Some(SectionText::Text),
            "MIME" if !part.is_empty() => Some(SectionText::Mime),
            "HEADER.FIELDS" | "HEADER.FIELDS.NOT" => {
                let what = format!("{name}[{word}");
                if !self.eat(b' ') || !self.eat(b'(') {
                    return self.bad(format!("Missing required argument to {} {what}", self.sub));
                }
                let mut fields = Vec::new();
                loop {
                    if self.peek() == Some(b')') && fields.is_empty() {
                        return self.bad(format!("Invalid field-name in {} {what}", self.sub));
                    }
                    match self.astring() {
                        Ok(f) if !f.is_empty() => {
                            fields.push(String::from_utf8_lossy(&f).into_owned())
                        }
                        _ => return self.bad(format!("Invalid field-name in {} {what}", self.sub)),
                    }
                    if self.eat(b')') {
                        break;
                    }
                    if !self.eat(b' ') {
                        return self.bad(format!(
                            "Missing required close parenthesis in {} {what}",
                            self.sub
                        ));
                    }
                }
                Some(if word == "HEADER.FIELDS" {
                    SectionText::HeaderFields(fields)
                } else {
                    SectionText::HeaderFieldsNot(fields)
                })
            }
            _ => return self.bad(invalid),
        };
        if !self.eat(b']') {
            return self.bad(invalid);
        }
        Ok(Section { part, text })
    }

    fn binary_part(&mut self) -> R<Vec<u32>> {
        match self.part_numbers() {
            Some(part) if self.eat(b']') => Ok(part),
            _ => self.bad("Invalid binary section"),
        }
    }

    /// `<offset.length>` after a section, if present.
    fn partial_spec(&mut self) -> R<Option<(u32, u32)>> {
        if !self.eat(b'<') {
            return Ok(None);
        }
        let start = self.pos;
        while let Some(b) = self.peek() {
            if b == b'>' || matches!(b, b' ' | b')' | b'(') {
                break;
            }
            self.pos += 1;
        }
        let inner = &self.s[start..self.pos];
        let mut it = inner.splitn(2, |&b| b == b'.');
        let off = it
            .next()
            .and_then(parse_u64)
            .and_then(|n| u32::try_from(n).ok());
        let len = it
            .next()
            .and_then(parse_u64)
            .and_then(|n| u32::try_from(n).ok());
        match (off, len, self.eat(b'>')) {
            (Some(o), Some(l), true) if l > 0 => Ok(Some((o, l))),
            _ => self.bad("Invalid body partial"),
        }
    }

    fn search(&mut self, uid: bool) -> R<CommandKind> {
        self.sp_or_missing()?;
        let mut ret = None;
        let mut charset = None;
        let mut last = String::new();
        let mut keys = Vec::new();
        loop {
            let start = self.pos;
            let w = self.word_upper();
            if w == "RETURN" && ret.is_none() && keys.is_empty() && charset.is_none() {
                if !(self.eat(b' ') && self.eat(b'(')) {
                    return self.bad("Missing required argument to Search return");
                }
                let mut opts = Vec::new();
                loop {
                    if self.eat(b')') {
                        break;
                    }
                    let o = self.word_upper();
                    match o.as_str() {
                        // SAVE (SEARCHRES) is not offered by Cyrus 3.6.
                        "MIN" | "MAX" | "ALL" | "COUNT" => opts.push(o),
                        _ => {
                            return self.bad(format!(
                                "Invalid Search return option {}",
                                o.to_ascii_lowercase()
                            ))
                        }
                    }
                    if self.eat(b')') {
                        break;
                    }
                    if !self.eat(b' ') {
                        return self.bad("Missing close parenthesis in Search");
                    }
                }
                ret = Some(opts);
            } else if w == "CHARSET" && charset.is_none() && keys.is_empty() {
                if !self.eat(b' ') {
                    return self.bad("Missing charset");
                }
                match self.astring() {
                    Ok(c) => charset = Some(String::from_utf8_lossy(&c).to_ascii_uppercase()),
                    Err(_) => return self.bad("Missing charset"),
                }
                // Cyrus says so too when the keys after the charset are missing.
                if self.peek() != Some(b' ') {
                    return self.bad("Missing charset");
                }
            } else {
                self.pos = start;
                keys.push(self.search_key(&mut last, 0)?);
            }
            if !self.eat(b' ') {
                break;
            }
        }
        if keys.is_empty() {
            return self.missing();
        }
        if !self.at_end() {
            return self.bad("Invalid Search criteria");
        }
        self.end()?;
        let key = if keys.len() == 1 {
            keys.pop().unwrap_or(SearchKey::All)
        } else {
            SearchKey::And(keys)
        };
        Ok(CommandKind::Search(SearchArgs {
            uid,
            ret,
            charset,
            key,
        }))
    }

    /// The search keys after SORT's or THREAD's charset, ANDed.
    fn search_keys(&mut self) -> R<SearchKey> {
        let mut last = String::new();
        let mut keys = Vec::new();
        loop {
            keys.push(self.search_key(&mut last, 0)?);
            if !self.eat(b' ') {
                break;
            }
        }
        if !self.at_end() {
            return self.bad("Invalid Search criteria");
        }
        self.end()?;
        Ok(if keys.len() == 1 {
            keys.pop().unwrap_or(SearchKey::All)
        } else {
            SearchKey::And(keys)
        })
    }

    /// SORT's or THREAD's charset and the space after it.
    fn sort_charset(&mut self) -> R<String> {
        let c = self.astring()?;
        self.sp()?;
        Ok(String::from_utf8_lossy(&c).to_ascii_uppercase())
    }

    fn sort(&mut self, uid: bool) -> R<CommandKind> {
        self.sp_or_missing()?;
        let mut ret = None;
        if self.s[self.pos..].len() >= 6
            && self.s[self.pos..self.pos + 6].eq_ignore_ascii_case(b"RETURN")
        {
            self.pos += 6;
            if !(self.eat(b' ') && self.eat(b'(')) {
                return self.missing();
            }
            let mut opts = Vec::new();
            loop {
                if self.eat(b')') {
                    break;
                }
                let o = self.word_upper();
                match o.as_str() {
                    "MIN" | "MAX" | "ALL" | "COUNT" => opts.push(o),
                    _ => {
                        return self.bad(format!(
                            "Invalid Sort return option {}",
                            o.to_ascii_lowercase()
                        ))
                    }
                }
                if self.eat(b')') {
                    break;
                }
                if !self.eat(b' ') {
                    return self.bad("Missing close parenthesis in Sort");
                }
            }
            ret = Some(opts);
            self.sp()?;
        }
        if !self.eat(b'(') {
            return self.bad("Missing Sort criteria");
        }
        let mut criteria = Vec::new();
        let mut reverse = false;
        loop {
            let w = self.word_upper();
            match w.as_str() {
                "REVERSE" => reverse = true,
                "ARRIVAL" | "CC" | "DATE" | "FROM" | "SIZE" | "SUBJECT" | "TO" | "DISPLAYFROM"
                | "DISPLAYTO" | "MODSEQ" | "UID" => {
                    criteria.push(SortCriterion {
                        reverse: std::mem::take(&mut reverse),
                        key: w,
                    });
                }
                _ => return self.bad(format!("Invalid Sort criterion {}", w.to_ascii_lowercase())),
            }
            if self.eat(b')') {
                break;
            }
            if !self.eat(b' ') {
                return self.bad("Missing close parenthesis in Sort");
            }
        }
        if reverse || criteria.is_empty() {
            return self.bad("Missing Sort criterion");
        }
        self.sp()?;
        let charset = self.sort_charset()?;
        let key = self.search_keys()?;
        Ok(CommandKind::Sort(SortArgs {
            uid,
            ret,
            criteria,
            charset,
            key,
        }))
    }

    fn thread(&mut self, uid: bool) -> R<CommandKind> {
        self.sp_or_missing()?;
        let algorithm = self.word_upper();
        if !matches!(algorithm.as_str(), "ORDEREDSUBJECT" | "REFERENCES" | "REFS") {
            if algorithm.is_empty() {
                return self.missing();
            }
            return self.bad(format!("Invalid Thread algorithm {algorithm}"));
        }
        self.sp()?;
        let charset = self.sort_charset()?;
        let key = self.search_keys()?;
        Ok(CommandKind::Thread(ThreadArgs {
            uid,
            algorithm,
            charset,
            key,
        }))
    }

    /// The argument of a search key; `last` names the key for Cyrus's error text.
    fn search_arg(&mut self, last: &str) -> R<Vec<u8>> {
        if !self.eat(b' ') || self.at_end() {
            return self.bad(format!("Missing required argument to Search {last}"));
        }
        match self.astring() {
            Ok(s) => Ok(s),
            Err(E::Incomplete) => Err(E::Incomplete),
            Err(_) => self.bad(format!("Missing required argument to Search {last}")),
        }
    }

    fn search_date(&mut self, last: &str) -> R<Date> {
        let s = self.search_arg(last)?;
        match parse_date(&s) {
            Some(d) => Ok(d),
            None => self.bad("Invalid date in Search command"),
        }
    }

    fn search_num(&mut self, last: &str) -> R<u64> {
        let s = self.search_arg(last)?;
        match parse_u64(&s) {
            Some(n) => Ok(n),
            None => self.bad("Invalid number in Search command"),
        }
    }

    fn search_key(&mut self, last: &mut String, depth: usize) -> R<SearchKey> {
        if depth > MAX_SEARCH_DEPTH {
            return self.bad("Invalid Search criteria");
        }
        if self.eat(b'(') {
            let mut keys = Vec::new();
            loop {
                if self.peek() == Some(b')') {
                    if keys.is_empty() {
                        return self.bad("Invalid Search criteria");
                    }
                    self.pos += 1;
                    break;
                }
                keys.push(self.search_key(last, depth + 1)?);
                if self.eat(b')') {
                    break;
                }
                if !self.eat(b' ') {
                    return self.bad("Missing required close paren in Search command");
                }
            }
            return Ok(SearchKey::And(keys));
        }
        let raw = self.word();
        if raw.is_empty() {
            if self.at_end() {
                return self.bad(format!("Missing required argument to Search {last}"));
            }
            return self.bad("Invalid Search criteria");
        }
        let w = String::from_utf8_lossy(raw).to_ascii_uppercase();
        *last = w.to_ascii_lowercase();
        let flag = |f: &str| Ok(SearchKey::Flag(f.to_string()));
        let not_flag = |f: &str| Ok(SearchKey::NotFlag(f.to_string()));
        match w.as_str() {
            "ALL" => Ok(SearchKey::All),
            "ANSWERED" => flag("\\Answered"),
            "DELETED" => flag("\\Deleted"),
            "DRAFT" => flag("\\Draft"),
            "FLAGGED" => flag("\\Flagged"),
            "SEEN" => flag("\\Seen"),
            "RECENT" => flag("\\Recent"),
            "UNANSWERED" => not_flag("\\Answered"),
            "UNDELETED" => not_flag("\\Deleted"),
            "UNDRAFT" => not_flag("\\Draft"),
            "UNFLAGGED" => not_flag("\\Flagged"),
            "UNSEEN" => not_flag("\\Seen"),
            "NEW" => Ok(SearchKey::And(vec![
                SearchKey::Flag("\\Recent".into()),
                SearchKey::NotFlag("\\Seen".into()),
            ])),
            "OLD" => not_flag("\\Recent"),
            "KEYWORD" | "UNKEYWORD" => {
                let k = String::from_utf8_lossy(&self.search_arg(last)?).into_owned();
                Ok(if w == "KEYWORD" {
                    SearchKey::Flag(k)
                } else {
                    SearchKey::NotFlag(k)
                })
            }
            "BCC" | "CC" | "FROM" | "TO" | "SUBJECT" => {
                let v = self.search_arg(last)?;
                let name = match w.as_str() {
                    "BCC" => "Bcc",
                    "CC" => "Cc",
                    "FROM" => "From",
                    "TO" => "To",
                    _ => "Subject",
                };
                Ok(SearchKey::Header(name.into(), v))
            }
            "HEADER" => {
                let name = String::from_utf8_lossy(&self.search_arg(last)?).into_owned();
                let v = self.search_arg(last)?;
                Ok(SearchKey::Header(name, v))
            }
            "BODY" => Ok(SearchKey::Body(self.search_arg(last)?)),
            "TEXT" => Ok(SearchKey::Text(self.search_arg(last)?)),
            "BEFORE" => Ok(SearchKey::Before(self.search_date(last)?)),
            "ON" => Ok(SearchKey::On(self.search_date(last)?)),
            "SINCE" => Ok(SearchKey::Since(self.search_date(last)?)),
            "SENTBEFORE" => Ok(SearchKey::SentBefore(self.search_date(last)?)),
            "SENTON" => Ok(SearchKey::SentOn(self.search_date(last)?)),
            "SENTSINCE" => Ok(SearchKey::SentSince(self.search_date(last)?)),
            "LARGER" => Ok(SearchKey::Larger(self.search_num(last)?)),
            "SMALLER" => Ok(SearchKey::Smaller(self.search_num(last)?)),
            "OLDER" | "YOUNGER" => {
                let s = self.search_arg(last)?;
                let Some(n) = parse_u64(&s).and_then(|n| u32::try_from(n).ok()) else {
                    return self.bad("Invalid interval in Search command");
                };
                Ok(if w == "OLDER" {
                    SearchKey::Older(n)
                } else {
                    SearchKey::Younger(n)
                })
            }
            "MODSEQ" => {
                // `MODSEQ [entry-name entry-type-req] mod-sequence-valzer`: the entry names
                // a flag's own modseq, which Cyrus does not keep apart; only the number counts.
                let first = self.search_arg(last)?;
                if let Some(n) = parse_u64(&first) {
                    return Ok(SearchKey::Modseq(n));
                }
                if first.is_empty() || self.s.get(self.pos.wrapping_sub(1)) != Some(&b'"') {
                    return self.bad("Invalid number in Search command");
                }
                let _entry_type = self.search_arg(last)?;
                Ok(SearchKey::Modseq(self.search_num(last)?))
            }
            "UID" => {
                if !self.eat(b' ') {
                    return self.bad(format!("Missing required argument to Search {last}"));
                }
                match parse_seqset(self.word()) {
                    Some(s) => Ok(SearchKey::Uid(s)),
                    None => self.bad("Invalid Search criteria"),
                }
            }
            "NOT" => {
                if !self.eat(b' ') {
                    return self.bad(format!("Missing required argument to Search {last}"));
                }
                Ok(SearchKey::Not(Box::new(self.search_key(last, depth + 1)?)))
            }
            "OR" => {
                if !self.eat(b' ') {
                    return self.bad(format!("Missing required argument to Search {last}"));
                }
                let a = self.search_key(last, depth + 1)?;
                if !self.eat(b' ') {
                    return self.bad(format!("Missing required argument to Search {last}"));
                }
                let b = self.search_key(last, depth + 1)?;
                Ok(SearchKey::Or(Box::new(a), Box::new(b)))
            }
            _ => match parse_seqset(raw) {
                Some(s) if matches!(raw[0], b'0'..=b'9' | b'*') => Ok(SearchKey::Seq(s)),
                _ => self.bad("Invalid Search criteria"),
            },
        }
    }
}

/// Decodes standard base64 (with padding), as SASL-IR sends the initial response.
fn decode_base64(s: &[u8]) -> Option<Vec<u8>> {
    fn val(b: u8) -> Option<u32> {
        Some(match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    if s.is_empty() || !s.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let chunks = s.len() / 4;
    for (i, c) in s.chunks(4).enumerate() {
        let pad = c.iter().rev().take_while(|&&b| b == b'=').count();
        if pad > 2 || (pad > 0 && i + 1 != chunks) {
            return None;
        }
        let mut n = 0u32;
        for &b in &c[..4 - pad] {
            n = n << 6 | val(b)?;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests;
