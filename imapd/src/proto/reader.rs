//! The bounded, sans-I/O command reader: it takes the client's bytes as they arrive
//! ([`Reader::feed`]) and frames them into whole commands ([`Reader::next_command`]),
//! inviting synchronizing literals with `+ go ahead` and reading non-synchronizing ones
//! (LITERAL+), then hands each framed command to the [parser](super::parse).
//!
//! Memory is bounded, and each bound is checked before the bytes it covers are kept
//! (CVE-2024-34055 was one command of many small literals):
//! - a word (atom, tag, sequence set) is at most `maxword` bytes and a quoted string at most
//!   `maxquoted`; longer ends the connection, as in Cyrus (`* BYE [TOOBIG] Word too long`);
//! - a literal's announced size is checked against `maxliteral` (`maxmessagesize` for an
//!   APPEND message) when its header arrives, before any `+` and before any byte of it is
//!   stored; nothing is ever allocated from an announced size;
//! - the bytes of one command other than APPEND messages are at most `maxargssize`, or
//!   [`DEFAULT_MAX_ARGS`] (at least `maxliteral` plus 64 KiB) when that is 0, and a command
//!   holds at most [`MAX_LITERALS`] literals;
//! - an APPEND's messages together are at most 4 GiB (`u32::MAX`), one maximal message;
//! - with `literalminus`, a non-synchronizing literal is at most 4096 bytes (LITERAL-);
//! - before login only the commands allowed there are read at all (others get `BAD Please
//!   login first` with their literals skipped unread, as in Cyrus), with at most
//!   [`PREAUTH_MAX_LITERALS`] literals and [`preauth_max_args`] bytes. Cyrus 3.6 itself
//!   applies its usual limits there; no valid pre-login command comes near ours;
//! - unconsumed input is whatever the session fed since the last [`Event::NeedMore`].
//!
//! So a reader holds at most one command (bounded as above) plus one read's worth of input.
//!
//! The session's loop: call `next_command` until it says [`Event::NeedMore`], read from the
//! socket and `feed`; write [`Event::Send`] at once (after asking [`Reader::pending_append`]
//! whether an APPEND's mailbox should be refused first); answer the rest.
//!
//! ```
//! use imapd::proto::reader::{Event, Limits, Reader};
//! let mut r = Reader::new(Limits::default());
//! r.feed(b"a1 LOGIN {5}\r\n");
//! assert_eq!(r.next_command(false), Event::Send(b"+ go ahead\r\n".to_vec()));
//! assert_eq!(r.next_command(false), Event::NeedMore);
//! r.feed(b"alice secret\r\n");
//! match r.next_command(false) {
//!     Event::Command(c) => assert_eq!(c.tag, "a1"),
//!     e => panic!("{e:?}"),
//! }
//! ```

use super::command::Command;
use super::parse::{self, ParseError};
use cyrus::config::Config;

/// Largest command (APPEND messages aside) when `maxargssize` is 0 ("no limit" in Cyrus,
/// which we do not offer: memory must stay bounded).
pub const DEFAULT_MAX_ARGS: u64 = 16 << 20;

/// Most literals in one command; thousands of small literals are refused at this count
/// whatever their total size.
pub const MAX_LITERALS: usize = 10_000;

/// Most literals in one command before login: LOGIN needs 2, ID at most 60.
pub const PREAUTH_MAX_LITERALS: usize = 64;

/// Upper bound on the total bytes of all messages in one APPEND.
const MAX_APPEND_TOTAL: u64 = u32::MAX as u64;

/// Above this size a command is no longer parsed before inviting a literal: reparsing a
/// long prefix at every literal would cost quadratic time, and real errors sit early.
const PRECHECK_MAX: usize = 64 << 10;

/// What `next_line` keeps of one line at least, whatever `maxword` says: SASL responses
/// (e.g. a GSSAPI token in base64) run to several kilobytes.
const MIN_LINE: usize = 64 << 10;

/// Bytes of a skipped line's end kept to spot a `{n+}` literal announcement in it.
const TAIL: usize = 32;

const GO_AHEAD: &[u8] = b"+ go ahead\r\n";
const TOOBIG_ARGS: &str = "[TOOBIG] Command arguments total size exceeds fixed limit";
const TOOBIG_MESSAGE: &str = "[TOOBIG] Message size exceeds fixed limit";
const TOOBIG_MINUS: &str = "[TOOBIG] Non-synchronizing literal size exceeds 4K";

/// Largest non-synchronizing literal under LITERAL- (RFC 7888 §4).
const LITERAL_MINUS_MAX: u64 = 4096;

/// The size limits of the reader, with Cyrus's option names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `maxword`: longest atom (tag, command name, sequence set, ...).
    pub max_word: usize,
    /// `maxquoted`: longest quoted string.
    pub max_quoted: usize,
    /// `maxliteral`: largest literal, APPEND messages aside.
    pub max_literal: u64,
    /// `maxargssize`: largest total of one command's arguments; 0 = Cyrus's "no limit",
    /// which here means [`DEFAULT_MAX_ARGS`].
    pub max_args_size: u64,
    /// `maxmessagesize`: largest APPEND message.
    pub max_message_size: u64,
    /// `literalminus`: non-synchronizing literals are LITERAL- ones (RFC 7888), at most
    /// 4096 bytes; a larger one ends the connection, as in Cyrus.
    pub literal_minus: bool,
}

impl Default for Limits {
    /// Cyrus 3.6's defaults.
    fn default() -> Limits {
        Limits {
            max_word: 131_072,
            max_quoted: 131_072,
            max_literal: 131_072,
            max_args_size: 0,
            max_message_size: u64::from(u32::MAX),
            literal_minus: false,
        }
    }
}

impl Limits {
    /// Reads the limits from imapd.conf. 0 or unset `maxmessagesize` and `maxliteral` mean
    /// `u32::MAX`, as Cyrus advertises (`APPENDLIMIT=4294967295`); 0 `maxword` and
    /// `maxquoted` keep the defaults.
    pub fn from_config(config: &Config) -> Limits {
        let d = Limits::default();
        let pos = |name: &str| u64::try_from(config.int(name)).unwrap_or(0);
        let or_max = |v: u64| {
            if v == 0 {
                u64::from(u32::MAX)
            } else {
                v.min(u64::from(u32::MAX))
            }
        };
        let size = |name: &str, dflt: usize| match usize::try_from(pos(name)) {
            Ok(0) | Err(_) => dflt,
            Ok(n) => n,
        };
        Limits {
            max_word: size("maxword", d.max_word),
            max_quoted: size("maxquoted", d.max_quoted),
            max_literal: or_max(pos("maxliteral")),
            max_args_size: pos("maxargssize"),
            max_message_size: or_max(pos("maxmessagesize")),
            literal_minus: config.switch("literalminus"),
        }
    }

    /// The bound on a command's bytes, APPEND messages aside.
    fn max_args(&self) -> u64 {
        if self.max_args_size > 0 {
            self.max_args_size
        } else {
            DEFAULT_MAX_ARGS.max(self.max_literal.saturating_add(64 << 10))
        }
    }
}

/// The bound on a command's bytes before login: two literals (LOGIN) and some slack.
pub fn preauth_max_args(limits: &Limits) -> u64 {
    limits.max_args().min(
        limits
            .max_literal
            .saturating_mul(2)
            .saturating_add(64 << 10),
    )
}

/// What the session should do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Read more bytes from the client, then [`Reader::feed`] them.
    NeedMore,
    /// Write these bytes now (the `+ go ahead` of a synchronizing literal), then call
    /// `next_command` again.
    Send(Vec<u8>),
    /// A whole command.
    Command(Command),
    /// Reply `<tag> BAD <text>`, or `* BAD <text>` without a tag; the rest of the command
    /// has been or will be skipped.
    Bad {
        /// The command's tag, if one could be read.
        tag: Option<String>,
        /// The reply text.
        text: String,
    },
    /// Reply `<tag> NO <text>` (e.g. `[TOOBIG] Literal size exceeds fixed limit in Login`,
    /// sent instead of `+ go ahead`); the command is dropped.
    No {
        /// The command's tag.
        tag: String,
        /// The reply text.
        text: String,
    },
    /// Reply `* BYE <text>` and close: the client sent more than the limits allow in a way
    /// that cannot be skipped safely. Every later call returns it again.
    Fatal(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a command line.
    Line,
    /// Copying `remaining` literal bytes into the command.
    Literal { remaining: u64 },
    /// Discarding the rest of a refused command's line.
    SkipLine,
    /// Discarding a refused command's non-synchronizing literal.
    SkipLiteral { remaining: u64 },
}

/// What the reader knows about the command being read.
#[derive(Debug, Clone)]
struct HeadInfo {
    tag: String,
    name: String,
    rest: usize,
}

/// Frames commands from a client's bytes; see the module documentation for its bounds.
#[derive(Debug)]
pub struct Reader {
    limits: Limits,
    /// Client bytes not yet consumed start at `start`.
    input: Vec<u8>,
    start: usize,
    /// The command framed so far, literals inline.
    cmd: Vec<u8>,
    /// Where the current line starts in `cmd`.
    line_start: usize,
    state: State,
    in_quote: bool,
    escape: bool,
    word_len: usize,
    quoted_len: usize,
    literals: usize,
    message_bytes: u64,
    head: Option<HeadInfo>,
    /// The end of a line being skipped, to spot a literal announcement there.
    tail: Vec<u8>,
    /// An event to return before reading on (the BYE after an APPEND's NO).
    pending: Option<Event>,
    /// Set once a Fatal was returned.
    closed: Option<String>,
    /// Whether a mailbox is selected, when the session says.
    selected: Option<bool>,
    /// The tag and mailbox of an APPEND waiting for its first `+ go ahead`.
    append_wait: Option<(String, String)>,
    /// `next_line` is discarding an over-long line.
    line_overflow: bool,
}

impl Reader {
    /// A reader with the given limits and nothing read.
    pub fn new(limits: Limits) -> Reader {
        Reader {
            limits,
            input: Vec::new(),
            start: 0,
            cmd: Vec::new(),
            line_start: 0,
            state: State::Line,
            in_quote: false,
            escape: false,
            word_len: 0,
            quoted_len: 0,
            literals: 0,
            message_bytes: 0,
            head: None,
            tail: Vec::new(),
            pending: None,
            closed: None,
            selected: None,
            append_wait: None,
            line_overflow: false,
        }
    }

    /// Adds bytes read from the client. Call it after [`Event::NeedMore`] (or when
    /// `next_line` returned `None`), so that input never piles up beyond one read.
    pub fn feed(&mut self, data: &[u8]) {
        if self.start > 0 {
            self.input.drain(..self.start);
            self.start = 0;
        }
        self.input.extend_from_slice(data);
    }

    /// Whether bytes the client sent are waiting (e.g. pipelined after STARTTLS, which
    /// must then be refused).
    pub fn has_buffered(&self) -> bool {
        self.start < self.input.len()
    }

    /// How many bytes the reader holds (the command so far and unconsumed input), for
    /// tests and fuzzing of the bounds above.
    pub fn held_bytes(&self) -> usize {
        self.cmd.len() + (self.input.len() - self.start) + self.tail.len()
    }

    /// Tells the reader whether a mailbox is selected, so that commands needing one are
    /// refused before their literals are invited, as Cyrus does ("Please select a mailbox
    /// first"). Until called, such commands are framed and the session refuses them.
    pub fn set_selected(&mut self, selected: bool) {
        self.selected = Some(selected);
    }

    /// After an [`Event::Send`] that invites an APPEND's first message: the APPEND's tag and
    /// mailbox, so that the session can check the mailbox first, as Cyrus does, and answer
    /// `NO [TRYCREATE] ...` with [`Reader::refuse_pending`] instead of sending `+ go ahead`.
    pub fn pending_append(&self) -> Option<(&str, &str)> {
        self.append_wait
            .as_ref()
            .map(|(t, m)| (t.as_str(), m.as_str()))
    }

    /// Drops the command whose literal was just announced, without inviting it: the client
    /// waits for `+` and so sends nothing more of it. The session replies itself.
    pub fn refuse_pending(&mut self) {
        if matches!(self.state, State::Literal { .. }) {
            self.reset();
        }
    }

    /// A raw line (CRLF removed) for AUTHENTICATE's responses and IDLE's `DONE`; `None`
    /// when more input is needed. A line longer than `maxword` (at least 64 KiB) is
    /// discarded and reported as an error.
    pub fn next_line(&mut self) -> Option<Result<Vec<u8>, String>> {
        let max = self.limits.max_word.max(MIN_LINE);
        let avail = &self.input[self.start..];
        match avail.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let mut line = avail[..i].to_vec();
                self.start += i + 1;
                if std::mem::take(&mut self.line_overflow) {
                    return Some(Err("[TOOBIG] Word too long".into()));
                }
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if line.len() > max {
                    return Some(Err("[TOOBIG] Word too long".into()));
                }
                Some(Ok(line))
            }
            None if avail.len() > max => {
                // Keep nothing; the error is reported when the line ends.
                self.start = self.input.len();
                self.line_overflow = true;
                None
            }
            None => None,
        }
    }

    fn reset(&mut self) {
        self.cmd.clear();
        self.line_start = 0;
        self.state = State::Line;
        self.in_quote = false;
        self.escape = false;
        self.word_len = 0;
        self.quoted_len = 0;
        self.literals = 0;
        self.message_bytes = 0;
        self.head = None;
        self.append_wait = None;
    }

    fn fatal(&mut self, text: &str) -> Event {
        self.reset();
        self.input.clear();
        self.start = 0;
        self.closed = Some(text.to_string());
        Event::Fatal(text.to_string())
    }

    /// Drops the current command after an early refusal. `line_done`: its current line has
    /// been read to its end, so only a literal announced there is left to skip.
    fn abort(&mut self, ev: Event, line_done: bool) -> Event {
        let line = self.cmd[self.line_start..].to_vec();
        self.reset();
        if line_done {
            if let Some((n, true)) = literal_at_end(&line) {
                self.state = State::SkipLiteral {
                    remaining: n.unwrap_or(u64::MAX),
                };
                if n.is_none() {
                    return self.fatal("Fatal error: num too big");
                }
            }
        } else {
            let keep = line.len().saturating_sub(TAIL);
            self.tail = line[keep..].to_vec();
            self.state = State::SkipLine;
        }
        ev
    }

    /// Reads on until a command, a request or an error is ready. `authenticated`: whether
    /// the client has logged in (before, only the commands allowed there are read).
    pub fn next_command(&mut self, authenticated: bool) -> Event {
        if let Some(ev) = self.pending.take() {
            return ev;
        }
        if let Some(text) = &self.closed {
            return Event::Fatal(text.clone());
        }
        self.append_wait = None;
        loop {
            match self.state {
                State::Literal { remaining } => {
                    let avail = &self.input[self.start..];
                    if avail.is_empty() {
                        return Event::NeedMore;
                    }
                    let take = usize::try_from(remaining)
                        .unwrap_or(usize::MAX)
                        .min(avail.len());
                    self.cmd.extend_from_slice(&avail[..take]);
                    self.start += take;
                    let remaining = remaining - take as u64;
                    self.state = State::Literal { remaining };
                    if remaining == 0 {
                        self.state = State::Line;
                        self.line_start = self.cmd.len();
                        self.word_len = 0;
                    }
                }
                State::SkipLiteral { remaining } => {
                    let avail = self.input.len() - self.start;
                    if avail == 0 {
                        return Event::NeedMore;
                    }
                    let take = usize::try_from(remaining).unwrap_or(usize::MAX).min(avail);
                    self.start += take;
                    let remaining = remaining - take as u64;
                    self.state = if remaining == 0 {
                        State::SkipLine
                    } else {
                        State::SkipLiteral { remaining }
                    };
                    self.tail.clear();
                }
                State::SkipLine => {
                    let avail = &self.input[self.start..];
                    match avail.iter().position(|&b| b == b'\n') {
                        None => {
                            let keep = avail.len().saturating_sub(TAIL);
                            self.tail.extend_from_slice(&avail[keep..]);
                            let excess = self.tail.len().saturating_sub(TAIL);
                            self.tail.drain(..excess);
                            self.start = self.input.len();
                            return Event::NeedMore;
                        }
                        Some(i) => {
                            let keep = i.saturating_sub(TAIL);
                            self.tail.extend_from_slice(&avail[keep..=i]);
                            self.start += i + 1;
                            let tail = std::mem::take(&mut self.tail);
                            self.state = State::Line;
                            if let Some((n, true)) = literal_at_end(&tail) {
                                match n {
                                    Some(n) => self.state = State::SkipLiteral { remaining: n },
                                    None => return self.fatal("Fatal error: num too big"),
                                }
                            }
                        }
                    }
                }
                State::Line => {
                    if let Some(ev) = self.scan_line(authenticated) {
                        return ev;
                    }
                }
            }
        }
    }

    /// Moves line bytes into the command; `Some` when an event is ready (including
    /// `NeedMore` when the input ran out mid-line), `None` to go on in another state.
    fn scan_line(&mut self, authenticated: bool) -> Option<Event> {
        let cap = if authenticated {
            self.limits.max_args()
        } else {
            preauth_max_args(&self.limits)
        };
        while self.start < self.input.len() {
            let b = self.input[self.start];
            self.start += 1;
            if self.in_quote {
                if self.escape {
                    self.escape = false;
                } else if b == b'\\' {
                    self.escape = true;
                } else if b == b'"' {
                    self.in_quote = false;
                }
                self.quoted_len += 1;
                if self.quoted_len > self.limits.max_quoted.saturating_add(2) {
                    return Some(self.fatal("[TOOBIG] Quoted value too long"));
                }
            } else if b == b'"' {
                self.in_quote = true;
                self.quoted_len = 1;
                self.word_len = 0;
            } else if matches!(b, b' ' | b'(' | b')' | b'\r' | b'\n') {
                self.word_len = 0;
            } else {
                self.word_len += 1;
                if self.word_len > self.limits.max_word {
                    return Some(self.fatal("[TOOBIG] Word too long"));
                }
            }
            self.cmd.push(b);
            if (self.cmd.len() as u64).saturating_sub(self.message_bytes) > cap {
                return Some(self.fatal(TOOBIG_ARGS));
            }
            // The tag and name can only turn out wrong (or complete) at a byte that cannot
            // be in a tag; checking there, and only there, keeps the outcome independent of
            // how the input was cut into reads, and costs a few scans of a short prefix.
            if self.head.is_none() && b != b'\n' && !parse::is_tag_char(b) {
                if let Some(ev) = self.check_head(authenticated, false) {
                    return Some(ev);
                }
            }
            if b == b'\n' {
                let was_quoted = std::mem::take(&mut self.in_quote);
                self.escape = false;
                return self.line_end(authenticated, was_quoted);
            }
        }
        Some(Event::NeedMore)
    }

    /// Refuses a command by its name before its arguments are read, as Cyrus does.
    fn check_head(&mut self, authenticated: bool, line_done: bool) -> Option<Event> {
        let raw = if line_done {
            trim_eol(&self.cmd)
        } else {
            &self.cmd[..]
        };
        let h = match parse::head(raw, !line_done) {
            Ok(Some(h)) => h,
            Ok(None) => return None,
            Err(e) => {
                let ev = Event::Bad {
                    tag: e.tag,
                    text: e.text,
                };
                return Some(self.abort(ev, line_done));
            }
        };
        let refuse = if !authenticated && !parse::allowed_before_login(&h.name) {
            Some("Please login first")
        } else if !parse::known_command(&h.name) {
            Some("Unrecognized command")
        } else if self.selected == Some(false) && parse::needs_selected(&h.name) {
            Some("Please select a mailbox first")
        } else {
            None
        };
        if let Some(text) = refuse {
            let ev = Event::Bad {
                tag: Some(h.tag),
                text: text.into(),
            };
            return Some(self.abort(ev, line_done));
        }
        self.head = Some(HeadInfo {
            tag: h.tag,
            name: h.name,
            rest: h.rest,
        });
        None
    }

    fn line_end(&mut self, authenticated: bool, was_quoted: bool) -> Option<Event> {
        if self.head.is_none() {
            if let Some(ev) = self.check_head(authenticated, true) {
                return Some(ev);
            }
        }
        let literal = if was_quoted {
            None
        } else {
            literal_at_end(&self.cmd[self.line_start..])
        };
        let Some((n, nonsync)) = literal else {
            return Some(self.complete());
        };
        let Some(head) = self.head.clone() else {
            return Some(self.complete());
        };
        let Some(n) = n else {
            return Some(self.fatal("Fatal error: num too big"));
        };
        self.literals += 1;
        let max_literals = if authenticated {
            MAX_LITERALS
        } else {
            PREAUTH_MAX_LITERALS
        };
        if self.literals > max_literals {
            return Some(self.fatal(TOOBIG_ARGS));
        }
        let line = &self.cmd[self.line_start..];
        let header_at = self.line_start + line.iter().rposition(|&b| b == b'{').unwrap_or(0);
        let message = head.name == "APPEND" && !(self.line_start == 0 && header_at == head.rest);
        if nonsync && self.limits.literal_minus && n > LITERAL_MINUS_MAX {
            return Some(self.too_big(&head, TOOBIG_MINUS.into(), true, message, TOOBIG_MINUS));
        }
        if message {
            if n > self.limits.max_message_size {
                return Some(self.too_big(
                    &head,
                    TOOBIG_MESSAGE.into(),
                    nonsync,
                    true,
                    TOOBIG_MESSAGE,
                ));
            }
            if self.message_bytes.saturating_add(n) > MAX_APPEND_TOTAL {
                return Some(self.fatal(TOOBIG_MESSAGE));
            }
            self.message_bytes += n;
        } else {
            if n > self.limits.max_literal {
                let text = format!(
                    "[TOOBIG] Literal size exceeds fixed limit in {}",
                    parse::display_name(&head.name)
                );
                return Some(self.too_big(
                    &head,
                    text,
                    nonsync,
                    false,
                    "[TOOBIG] Literal size exceeds fixed limit",
                ));
            }
            let cap = if authenticated {
                self.limits.max_args()
            } else {
                preauth_max_args(&self.limits)
            };
            let args = (self.cmd.len() as u64).saturating_sub(self.message_bytes);
            if args.saturating_add(n) > cap {
                return Some(self.fatal(TOOBIG_ARGS));
            }
        }
        self.state = State::Literal { remaining: n };
        if n == 0 {
            self.state = State::Line;
            self.line_start = self.cmd.len();
        }
        if nonsync {
            return None;
        }
        if self.cmd.len() <= PRECHECK_MAX {
            if let Some(e) = parse::check_prefix(&self.cmd) {
                self.reset();
                return Some(error_event(e));
            }
        }
        if message && self.message_bytes == n {
            if let Some(mailbox) = parse::append_mailbox(&self.cmd, head.rest) {
                self.append_wait = Some((head.tag.clone(), mailbox));
            }
        }
        Some(Event::Send(GO_AHEAD.to_vec()))
    }

    /// A literal over its limit: a synchronizing one is refused with NO (the client sends
    /// nothing more of it); a non-synchronizing one is already on its way and ends the
    /// connection, after a tagged NO for an APPEND message as Cyrus does.
    fn too_big(
        &mut self,
        head: &HeadInfo,
        text: String,
        nonsync: bool,
        message: bool,
        bye: &str,
    ) -> Event {
        let tag = head.tag.clone();
        if !nonsync {
            self.reset();
            return Event::No { tag, text };
        }
        if message {
            let bye = self.fatal(bye);
            self.pending = Some(bye);
            return Event::No { tag, text };
        }
        self.fatal(bye)
    }

    fn complete(&mut self) -> Event {
        let raw = trim_eol(&self.cmd);
        let ev = match parse::parse_command(raw) {
            Ok(c) => Event::Command(c),
            Err(e) => error_event(e),
        };
        self.reset();
        ev
    }
}

fn error_event(e: ParseError) -> Event {
    match (e.no, e.tag) {
        (true, Some(tag)) => Event::No { tag, text: e.text },
        (_, tag) => Event::Bad { tag, text: e.text },
    }
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// A literal announcement ending `line` (`{n}` or `{n+}`, then the line end): its size
/// (`None` when larger than `u32::MAX`, which Cyrus calls "num too big") and whether it
/// is non-synchronizing.
fn literal_at_end(line: &[u8]) -> Option<(Option<u64>, bool)> {
    let line = trim_eol(line);
    let body = line.strip_suffix(b"}")?;
    let (body, nonsync) = match body.strip_suffix(b"+") {
        Some(b) => (b, true),
        None => (body, false),
    };
    let open = body.iter().rposition(|&b| !b.is_ascii_digit())?;
    let digits = &body[open + 1..];
    if body[open] != b'{' || digits.is_empty() {
        return None;
    }
    let n = digits
        .iter()
        .try_fold(0u64, |n, &d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
        .filter(|&n| n <= u64::from(u32::MAX));
    Some((n, nonsync))
}

#[cfg(test)]
mod tests;
