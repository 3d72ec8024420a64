//! Turns the parser's [`SearchKey`] tree into what is tested per message: search strings
//! converted from the command's charset and folded once, dates turned into instants of the
//! server's zone, flag names into index bits, and the keys of each AND ordered cheapest first
//! so that a message failing a flag test never has its file read.

use super::Options;
use crate::proto::command::{Date, SearchArgs, SearchKey, SeqSet};
use cyrus::charset::{fold, Charset};
use cyrus::mailbox::cache::Item;
use cyrus::mailbox::index::SystemFlags;
use cyrus::mailbox::Mailbox;

/// A compiled search program.
#[derive(Debug)]
pub(super) struct Program {
    /// The tree to test.
    pub root: Node,
    /// Whether a MODSEQ key appears anywhere (even under NOT), which adds MODSEQ to the reply.
    pub uses_modseq: bool,
}

/// A folded search string; an empty one matches any text that is present.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Pattern(pub String);

/// A test on a date: `lo <= t < hi`, either end open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Span {
    pub lo: Option<i64>,
    pub hi: Option<i64>,
}

/// A compiled key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Node {
    And(Vec<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
    True,
    False,
    Seq(SeqSet),
    Uid(SeqSet),
    /// System flag bits of the index record (not `\Seen`, which is per user).
    System(u16),
    Seen,
    Recent,
    /// User flag number.
    Keyword(usize),
    Internal(Span),
    /// On days (since the epoch) of the Date header, as written.
    Sent(Span),
    Larger(u64),
    Smaller(u64),
    Modseq(u64),
    /// An address or subject cache item (the search forms Cyrus keeps).
    Envelope(Item, Pattern),
    /// Another header field, by lower-cased name.
    Header(Vec<u8>, Pattern),
    Body(Pattern),
    Text(Pattern),
}

const DAY: i64 = 86_400;

/// Days since 1970-01-01 of a date.
fn day(d: Date) -> i64 {
    cyrus::message::date::days_from_civil(i64::from(d.year), u32::from(d.month), u32::from(d.day))
}

/// The server's zone.
#[derive(Clone, Copy, Debug)]
pub(super) enum Zone {
    /// Always this many seconds east of UTC.
    Fixed(i32),
    /// The offset at each instant.
    Varying(fn(i64) -> i32),
}

impl Zone {
    /// Seconds east of UTC at instant `t`.
    pub fn offset(self, t: i64) -> i64 {
        i64::from(match self {
            Zone::Fixed(o) => o,
            Zone::Varying(f) => f(t),
        })
    }
}

/// The instant a day starts in the server's zone: the `t` with `t + offset(t)` at the day's
/// UTC midnight, found by taking the offset at a first guess and once more at the result.
fn midnight(d: Date, zone: Zone) -> i64 {
    let utc = day(d) * DAY;
    let guess = utc - zone.offset(utc);
    utc - zone.offset(guess)
}

/// The day of the Date header a record stores: `sentdate` is that day's midnight in the zone
/// of whoever wrote the index (UTC for us, local time for Cyrus), so the nearest UTC midnight
/// names the day for any zone within 12 hours. Without a usable Date (0), Cyrus dates the
/// message by its arrival: checked, a message without Date is SENTON its internal date.
pub(super) fn sent_day(sentdate: u32, internaldate: u32, zone: Zone) -> i64 {
    if sentdate != 0 {
        (i64::from(sentdate) + DAY / 2).div_euclid(DAY)
    } else {
        let t = i64::from(internaldate);
        (t + zone.offset(t)).div_euclid(DAY)
    }
}

struct Compiler<'a> {
    mailbox: &'a Mailbox,
    zone: Zone,
    charset: Charset,
    opts: &'a Options,
    uses_modseq: bool,
}

impl Compiler<'_> {
    fn pattern(&self, s: &[u8]) -> Pattern {
        Pattern(fold(&self.charset.decode(s), self.opts.fold))
    }

    fn flag(&self, name: &str) -> Node {
        let system = |bit| Node::System(bit);
        match name.to_ascii_lowercase().as_str() {
            "\\answered" => system(SystemFlags::ANSWERED),
            "\\deleted" => system(SystemFlags::DELETED),
            "\\draft" => system(SystemFlags::DRAFT),
            "\\flagged" => system(SystemFlags::FLAGGED),
            "\\seen" => Node::Seen,
            "\\recent" => Node::Recent,
            // A keyword no message has ever had is not in cyrus.header: nothing has it.
            _ => self
                .mailbox
                .header()
                .user_flag(name)
                .map_or(Node::False, Node::Keyword),
        }
    }

    fn date(&self, d: Date) -> (i64, i64) {
        let lo = midnight(d, self.zone);
        (lo, lo + DAY)
    }

    fn key(&mut self, k: &SearchKey) -> Node {
        let before = |t| Span {
            lo: None,
            hi: Some(t),
        };
        let since = |t| Span {
            lo: Some(t),
            hi: None,
        };
        match k {
            SearchKey::And(keys) => {
                let mut nodes: Vec<Node> = keys.iter().map(|k| self.key(k)).collect();
                nodes.sort_by_key(cost);
                Node::And(nodes)
            }
            SearchKey::Or(a, b) => {
                let (a, b) = (self.key(a), self.key(b));
                let (a, b) = if cost(&b) < cost(&a) { (b, a) } else { (a, b) };
                Node::Or(Box::new(a), Box::new(b))
            }
            SearchKey::Not(a) => Node::Not(Box::new(self.key(a))),
            SearchKey::All => Node::True,
            SearchKey::Seq(s) => Node::Seq(s.clone()),
            SearchKey::Uid(s) => Node::Uid(s.clone()),
            SearchKey::Flag(f) => self.flag(f),
            SearchKey::NotFlag(f) => Node::Not(Box::new(self.flag(f))),
            SearchKey::Header(name, value) => {
                let p = self.pattern(value);
                let lower = name.to_ascii_lowercase();
                let item = match lower.as_str() {
                    "from" => Some(Item::From),
                    "to" => Some(Item::To),
                    "cc" => Some(Item::Cc),
                    "bcc" => Some(Item::Bcc),
                    "subject" => Some(Item::Subject),
                    _ => None,
                };
                match item {
                    Some(item) => Node::Envelope(item, p),
                    // An empty field name names no header (Cyrus finds nothing).
                    None if lower.is_empty() => Node::False,
                    None => Node::Header(lower.into_bytes(), p),
                }
            }
            SearchKey::Body(s) => Node::Body(self.pattern(s)),
            SearchKey::Text(s) => Node::Text(self.pattern(s)),
            SearchKey::Before(d) => Node::Internal(before(self.date(*d).0)),
            SearchKey::On(d) => {
                let (lo, hi) = self.date(*d);
                Node::Internal(Span {
                    lo: Some(lo),
                    hi: Some(hi),
                })
            }
            SearchKey::Since(d) => Node::Internal(since(self.date(*d).0)),
            SearchKey::SentBefore(d) => Node::Sent(before(day(*d))),
            SearchKey::SentOn(d) => Node::Sent(Span {
                lo: Some(day(*d)),
                hi: Some(day(*d) + 1),
            }),
            SearchKey::SentSince(d) => Node::Sent(since(day(*d))),
            SearchKey::Larger(n) => Node::Larger(*n),
            SearchKey::Smaller(n) => Node::Smaller(*n),
            SearchKey::Modseq(n) => {
                self.uses_modseq = true;
                Node::Modseq(*n)
            }
            // RFC 5032: OLDER n is an internal date at least n seconds ago, YOUNGER n one at
            // most n seconds ago; both ends inclusive, as Cyrus compares.
            SearchKey::Older(n) => Node::Internal(Span {
                lo: None,
                hi: Some(self.opts.now - i64::from(*n) + 1),
            }),
            SearchKey::Younger(n) => Node::Internal(since(self.opts.now - i64::from(*n))),
        }
    }
}

/// How expensive a key is to test: 0 index only, 1 cyrus.cache, 2 the message header,
/// 3 the whole message file.
pub(super) fn cost(n: &Node) -> u8 {
    match n {
        Node::And(v) => v.iter().map(cost).max().unwrap_or(0),
        Node::Or(a, b) => cost(a).max(cost(b)),
        Node::Not(a) => cost(a),
        Node::Envelope(..) => 1,
        Node::Header(name, _) if cyrus::message::header::is_cached(name) => 1,
        Node::Header(..) => 2,
        Node::Body(_) | Node::Text(_) => 3,
        _ => 0,
    }
}

/// Compiles the keys of `args`. An unknown CHARSET is read as US-ASCII: Cyrus 3.6 answers
/// such a search (checked: `SEARCH CHARSET X-UNKNOWN TEXT foo` gives `* SEARCH` and OK)
/// rather than refusing it with BADCHARSET, and its 8-bit strings then match nothing.
pub(super) fn compile(mailbox: &Mailbox, args: &SearchArgs, opts: &Options) -> Program {
    let charset = args
        .charset
        .as_deref()
        .and_then(|c| Charset::lookup(c.as_bytes()))
        .unwrap_or(Charset::US_ASCII);
    let mut c = Compiler {
        mailbox,
        zone: opts.zone_fn(),
        charset,
        opts,
        uses_modseq: false,
    };
    let root = c.key(&args.key);
    Program {
        root,
        uses_modseq: c.uses_modseq,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn midnight_table() {
        let d = |year, month, day| Date { year, month, day };
        let cases = [
            (d(1970, 1, 1), 0, 0),
            (d(2024, 1, 1), 0, 1_704_067_200),
            (d(2024, 1, 1), 3600, 1_704_063_600),
            (d(2024, 2, 29), -18_000, 1_709_182_800),
        ];
        for (date, off, want) in cases {
            assert_eq!(midnight(date, Zone::Fixed(off)), want, "{date:?} {off}");
        }
        // A zone at +1 before 2024-03-31 01:00 UTC and +2 after (central Europe).
        fn cet(t: i64) -> i32 {
            if t < 1_711_846_800 {
                3600
            } else {
                7200
            }
        }
        assert_eq!(midnight(d(2024, 3, 31), Zone::Varying(cet)), 1_711_839_600);
        assert_eq!(midnight(d(2024, 4, 1), Zone::Varying(cet)), 1_711_922_400);
    }

    #[test]
    fn sent_day_table() {
        let jan2 = 19_724;
        let cases = [
            // sentdate written at UTC midnight, and at local midnight east and west of it.
            (1_704_153_600, 0, 0, jan2),
            (1_704_153_600 - 3600 * 10, 0, 0, jan2),
            (1_704_153_600 + 3600 * 11, 0, 0, jan2),
            // No Date: the internal date's day in the server's zone.
            (0, 1_704_153_600 - 60, 0, jan2 - 1),
            (0, 1_704_153_600 - 60, 3600, jan2),
        ];
        for (sent, internal, off, want) in cases {
            assert_eq!(
                sent_day(sent, internal, Zone::Fixed(off)),
                want,
                "{sent} {internal} {off}"
            );
        }
    }

    #[test]
    fn cost_orders_index_before_files() {
        let p = || Pattern(String::new());
        let cases = [
            (Node::Seen, 0),
            (Node::Envelope(Item::From, p()), 1),
            (Node::Header(b"references".to_vec(), p()), 1),
            (Node::Header(b"message-id".to_vec(), p()), 2),
            (Node::Body(p()), 3),
            (Node::Not(Box::new(Node::Text(p()))), 3),
            (Node::And(vec![Node::Seen, Node::Larger(1)]), 0),
        ];
        for (n, c) in cases {
            assert_eq!(cost(&n), c, "{n:?}");
        }
    }
}
