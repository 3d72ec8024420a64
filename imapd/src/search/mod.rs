//! SEARCH and UID SEARCH (RFC 3501 §6.4.4, CONDSTORE's MODSEQ from RFC 7162, WITHIN's
//! OLDER/YOUNGER from RFC 5032, ESEARCH's RETURN from RFC 4731) over the messages of an open
//! mailbox, answering as Cyrus 3.6 does.
//!
//! The session hands [`search`] its view of the mailbox (sequence numbers, `\Seen` and
//! `\Recent` as this user sees them) and gets the matching numbers; [`reply`] formats them.
//! Keys are compiled once ([`compile`]: strings folded, dates to instants, keywords to bit
//! numbers, cheapest tests first), then run per message ([`eval`]), which reads cyrus.cache
//! only when an envelope field is asked for and the message file only for other header fields
//! and for BODY and TEXT ([`text`]). What Cyrus does and RFCs leave open is written where it
//! is done; where Cyrus breaks a MUST we follow the RFC and say so in [`reply`].

mod compile;
mod eval;
pub mod reply;
mod text;

pub use reply::{completed, reply};

use crate::proto::command::SearchArgs;
use cyrus::charset::FoldOptions;
use cyrus::mailbox::index::IndexRecord;
use cyrus::mailbox::Mailbox;

/// One message as the session sees it.
#[derive(Clone, Copy, Debug)]
pub struct MsgRef<'a> {
    /// Its sequence number in this session.
    pub seq: u32,
    /// Its index record.
    pub record: &'a IndexRecord,
    /// Whether `\Seen` is set for this user (from the index for the owner, seen.db for others).
    pub seen: bool,
    /// Whether `\Recent` is set in this session.
    pub recent: bool,
}

/// What the search depends on besides the mailbox and the command.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// The time now (seconds since the epoch), for OLDER and YOUNGER.
    pub now: i64,
    /// The server's zone, seconds east of UTC: dates in BEFORE/ON/SINCE and SENT* are days
    /// of this zone, as Cyrus takes them in the process's local time (UTC for the reference).
    pub utc_offset: i32,
    /// The zone's offset at a given instant, where it changes (summer time); when set it is
    /// used instead of `utc_offset`, so every day starts at its own local midnight as
    /// Cyrus's `mktime` has it.
    pub zone: Option<fn(i64) -> i32>,
    /// imapd.conf `search_skipdiacrit` and `search_whitespace`.
    pub fold: FoldOptions,
    /// Search body parts in every charset we can decode. Off, as Cyrus 3.6 does: it looks only
    /// into parts in UTF-8 and US-ASCII (checked on Debian's 3.6.1: an ISO-8859-1 or
    /// windows-1252 part is never found by BODY or TEXT).
    pub all_body_charsets: bool,
}

impl Options {
    /// Cyrus's defaults at time `now`, in UTC.
    pub fn new(now: i64) -> Options {
        Options {
            now,
            utc_offset: 0,
            zone: None,
            fold: FoldOptions::default(),
            all_body_charsets: false,
        }
    }
}

impl Options {
    /// The zone as one function of the instant.
    fn zone_fn(&self) -> compile::Zone {
        match self.zone {
            Some(f) => compile::Zone::Varying(f),
            None => compile::Zone::Fixed(self.utc_offset),
        }
    }
}

/// The result of a search.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Matching UIDs for UID SEARCH, else sequence numbers; ascending.
    pub numbers: Vec<u32>,
    /// With a MODSEQ key anywhere in the command: the highest modseq among the matches
    /// (None when nothing matched, RFC 7162 §3.1.5).
    pub highest_modseq: Option<u64>,
}

/// Why a SEARCH is refused; each becomes a tagged BAD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SearchError {
    /// A RETURN option Cyrus does not support (it has no SEARCHRES, so `SAVE` is one).
    ReturnOption(String),
}

impl std::fmt::Display for SearchError {
    /// The text of Cyrus's tagged BAD.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SearchError::ReturnOption(o) => {
                write!(f, "Invalid Search return option {}", o.to_ascii_lowercase())
            }
        }
    }
}

impl std::error::Error for SearchError {}

/// The RETURN options Cyrus 3.6 accepts.
const RETURN_OPTIONS: &[&str] = &["MIN", "MAX", "ALL", "COUNT"];

/// Runs `args` over `msgs` (the session's messages in sequence order) of `mailbox`.
///
/// A message whose cache record or file cannot be read does not match the text keys that need
/// them; one bad file does not fail the command (Cyrus skips it the same way).
pub fn search(
    mailbox: &Mailbox,
    msgs: &[MsgRef<'_>],
    args: &SearchArgs,
    opts: &Options,
) -> Result<Outcome, SearchError> {
    if let Some(bad) = args
        .ret
        .iter()
        .flatten()
        .find(|o| !RETURN_OPTIONS.iter().any(|k| o.eq_ignore_ascii_case(k)))
    {
        return Err(SearchError::ReturnOption(bad.clone()));
    }
    let program = compile::compile(mailbox, args, opts);
    let limits = eval::Limits {
        max_seq: msgs.last().map_or(0, |m| m.seq),
        max_uid: msgs.last().map_or(0, |m| m.record.uid),
        zone: opts.zone_fn(),
    };
    let mut out = Outcome::default();
    let mut highest = 0;
    for m in msgs {
        let mut msg = text::Message::new(mailbox, m, opts);
        if eval::matches(&program.root, &mut msg, &limits) {
            out.numbers
                .push(if args.uid { m.record.uid } else { m.seq });
            highest = highest.max(m.record.modseq);
        }
    }
    if program.uses_modseq && !out.numbers.is_empty() {
        out.highest_modseq = Some(highest);
    }
    Ok(out)
}
