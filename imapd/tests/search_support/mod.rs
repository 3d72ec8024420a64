//! What the SEARCH tests share: a scratch mailbox filled through the store's append path, the
//! session's view of it, and a small parser for the search commands the tests send (the real
//! one lives in imapd::proto and is tested there).
#![allow(dead_code)]

use cyrus::mailbox::header::Header;
use cyrus::mailbox::index::SystemFlags;
use cyrus::mailbox::{Append, Mailbox};
use imapd::proto::command::{Date, SearchArgs, SearchKey, SeqNum, SeqSet};
use imapd::search::{self, MsgRef, Options};
use std::path::{Path, PathBuf};

/// The reference data real Cyrus 3.6 wrote (../shared beside the repository).
pub fn reference() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference/cyrus-3.6")
}

/// A fresh directory under the system temp dir for test `name`.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("imapd-search-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One message to append: its bytes, internal date and flags (`\Seen`, keywords...).
pub struct NewMsg<'a> {
    pub bytes: Vec<u8>,
    pub internaldate: u32,
    pub flags: &'a [&'a str],
}

/// Sets `flags` (system and keywords, creating keywords) into index flag words.
pub fn flag_words(mb: &mut Mailbox, flags: &[&str]) -> (SystemFlags, [u32; 4]) {
    let mut sys = 0;
    let mut user = [0u32; 4];
    for f in flags {
        match f.to_ascii_lowercase().as_str() {
            "\\answered" => sys |= SystemFlags::ANSWERED,
            "\\flagged" => sys |= SystemFlags::FLAGGED,
            "\\deleted" => sys |= SystemFlags::DELETED,
            "\\draft" => sys |= SystemFlags::DRAFT,
            "\\seen" => sys |= SystemFlags::SEEN,
            _ => {
                let n = mb.user_flag(f, true).unwrap().unwrap();
                user[n / 32] |= 1 << (n % 32);
            }
        }
    }
    (SystemFlags(sys), user)
}

/// Creates a mailbox in `dir` (highestmodseq 1, as a new Cyrus mailbox) holding `msgs`.
pub fn build(dir: &Path, msgs: &[NewMsg<'_>]) -> Mailbox {
    let header = Header::new("e", "user.test", "testuniqueid0000000000000");
    let mut mb = Mailbox::create(dir, &header, 1_700_000_000, 1, 1_700_000_000).unwrap();
    for m in msgs {
        append(&mut mb, m);
    }
    mb
}

/// Appends one message the way the session's APPEND does.
pub fn append(mb: &mut Mailbox, m: &NewMsg<'_>) {
    let parsed = cyrus::message::parse(&m.bytes);
    let (system_flags, user_flags) = flag_words(mb, m.flags);
    mb.append(&Append {
        message: &m.bytes,
        guid: parsed.guid,
        internaldate: m.internaldate,
        sentdate: parsed.sentdate,
        gmtime: parsed.gmtime,
        header_size: parsed.header_size,
        system_flags,
        user_flags,
        cache: &parsed.cache,
        now: m.internaldate,
    })
    .unwrap();
}

/// The owner's view: live records numbered from 1, `\Seen` from the index.
pub fn view(mb: &Mailbox, recent: bool) -> Vec<MsgRef<'_>> {
    mb.records()
        .iter()
        .filter(|r| !r.is_expunged())
        .enumerate()
        .map(|(i, r)| MsgRef {
            seq: i as u32 + 1,
            record: r,
            seen: r.system_flags.has(SystemFlags::SEEN),
            recent,
        })
        .collect()
}

/// Runs one search command (as a client writes it after the tag) and returns the untagged
/// reply, or the BAD text.
pub fn run(mb: &Mailbox, msgs: &[MsgRef<'_>], tag: &str, cmd: &[u8], opts: &Options) -> String {
    let args = parse_command(cmd);
    match search::search(mb, msgs, &args, opts) {
        Ok(out) => String::from_utf8(search::reply(tag, &args, &out)).unwrap(),
        Err(e) => format!("BAD {e}"),
    }
}

/// Seconds since the epoch of an IMAP date-time `dd-Mon-yyyy hh:mm:ss +zzzz`.
pub fn date_time(s: &str) -> u32 {
    let s = s.trim();
    let (date, rest) = s.split_once(' ').unwrap();
    let d = date_arg(date);
    let (time, zone) = rest.split_once(' ').unwrap();
    let t: Vec<i64> = time.split(':').map(|x| x.parse().unwrap()).collect();
    let z: i64 = zone[1..].parse().unwrap();
    let z = (z / 100 * 60 + z % 100) * if zone.starts_with('-') { -1 } else { 1 };
    let days = cyrus::message::date::days_from_civil(
        i64::from(d.year),
        u32::from(d.month),
        u32::from(d.day),
    );
    (days * 86400 + t[0] * 3600 + t[1] * 60 + t[2] - z * 60) as u32
}

/// A SEARCH date `d-Mon-yyyy`.
pub fn date_arg(s: &str) -> Date {
    let mut it = s.trim_matches('"').split('-');
    let day = it.next().unwrap().trim().parse().unwrap();
    let mon = it.next().unwrap().to_ascii_lowercase();
    let months = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let month = months.iter().position(|m| *m == mon).unwrap() as u8 + 1;
    let year = it.next().unwrap().parse().unwrap();
    Date { year, month, day }
}

/// Tokens of a command: atoms, strings (quoted or literal, as bytes) and parentheses.
#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Atom(String),
    Str(Vec<u8>),
    Open,
    Close,
}

fn tokens(s: &[u8]) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        match b {
            b' ' => i += 1,
            b'(' => {
                out.push(Tok::Open);
                i += 1;
            }
            b')' => {
                out.push(Tok::Close);
                i += 1;
            }
            b'"' => {
                let mut v = Vec::new();
                i += 1;
                while let Some(&c) = s.get(i) {
                    i += 1;
                    match c {
                        b'"' => break,
                        b'\\' => {
                            v.push(s[i]);
                            i += 1;
                        }
                        _ => v.push(c),
                    }
                }
                out.push(Tok::Str(v));
            }
            b'{' => {
                // {n}\r\n then n bytes.
                let close = i + s[i..].iter().position(|&c| c == b'}').unwrap();
                let n: usize = std::str::from_utf8(&s[i + 1..close])
                    .unwrap()
                    .trim_end_matches('+')
                    .parse()
                    .unwrap();
                let start = close + 3;
                out.push(Tok::Str(s[start..start + n].to_vec()));
                i = start + n;
            }
            _ => {
                let end = s[i..]
                    .iter()
                    .position(|&c| matches!(c, b' ' | b'(' | b')'))
                    .map_or(s.len(), |p| i + p);
                out.push(Tok::Atom(String::from_utf8_lossy(&s[i..end]).into_owned()));
                i = end;
            }
        }
    }
    out
}

struct P {
    toks: Vec<Tok>,
    pos: usize,
}

impl P {
    fn next(&mut self) -> Tok {
        let t = self.toks[self.pos].clone();
        self.pos += 1;
        t
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn atom(&mut self) -> String {
        match self.next() {
            Tok::Atom(a) => a,
            Tok::Str(s) => String::from_utf8(s).unwrap(),
            t => panic!("atom expected, got {t:?}"),
        }
    }

    fn string(&mut self) -> Vec<u8> {
        match self.next() {
            Tok::Atom(a) => a.into_bytes(),
            Tok::Str(s) => s,
            t => panic!("string expected, got {t:?}"),
        }
    }

    fn number(&mut self) -> u64 {
        self.atom().parse().unwrap()
    }

    fn key(&mut self) -> SearchKey {
        let flag = |f: &str| SearchKey::Flag(f.to_string());
        let not_flag = |f: &str| SearchKey::NotFlag(f.to_string());
        if self.peek() == Some(&Tok::Open) {
            self.next();
            let mut keys = Vec::new();
            while self.peek() != Some(&Tok::Close) {
                keys.push(self.key());
            }
            self.next();
            return SearchKey::And(keys);
        }
        let word = self.atom();
        match word.to_ascii_uppercase().as_str() {
            "ALL" => SearchKey::All,
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
            "NEW" => SearchKey::And(vec![flag("\\Recent"), not_flag("\\Seen")]),
            "OLD" => not_flag("\\Recent"),
            "KEYWORD" => SearchKey::Flag(self.atom()),
            "UNKEYWORD" => SearchKey::NotFlag(self.atom()),
            h @ ("BCC" | "CC" | "FROM" | "TO" | "SUBJECT") => {
                SearchKey::Header(h.to_string(), self.string())
            }
            "HEADER" => {
                let name = String::from_utf8(self.string()).unwrap();
                SearchKey::Header(name, self.string())
            }
            "BODY" => SearchKey::Body(self.string()),
            "TEXT" => SearchKey::Text(self.string()),
            "BEFORE" => SearchKey::Before(date_arg(&self.atom())),
            "ON" => SearchKey::On(date_arg(&self.atom())),
            "SINCE" => SearchKey::Since(date_arg(&self.atom())),
            "SENTBEFORE" => SearchKey::SentBefore(date_arg(&self.atom())),
            "SENTON" => SearchKey::SentOn(date_arg(&self.atom())),
            "SENTSINCE" => SearchKey::SentSince(date_arg(&self.atom())),
            "LARGER" => SearchKey::Larger(self.number()),
            "SMALLER" => SearchKey::Smaller(self.number()),
            "UID" => SearchKey::Uid(seq_set(&self.atom())),
            "NOT" => SearchKey::Not(Box::new(self.key())),
            "OR" => {
                let a = self.key();
                SearchKey::Or(Box::new(a), Box::new(self.key()))
            }
            "MODSEQ" => {
                if matches!(self.peek(), Some(Tok::Str(_))) {
                    self.next();
                    self.atom();
                }
                SearchKey::Modseq(self.number())
            }
            "OLDER" => SearchKey::Older(self.number() as u32),
            "YOUNGER" => SearchKey::Younger(self.number() as u32),
            _ => SearchKey::Seq(seq_set(&word)),
        }
    }
}

/// A sequence set as written.
pub fn seq_set(s: &str) -> SeqSet {
    let num = |x: &str| {
        if x == "*" {
            SeqNum::Star
        } else {
            SeqNum::Num(x.parse().unwrap())
        }
    };
    SeqSet(
        s.split(',')
            .map(|r| match r.split_once(':') {
                Some((a, b)) => (num(a), num(b)),
                None => (num(r), num(r)),
            })
            .collect(),
    )
}

/// Parses `[UID] SEARCH [RETURN (...)] [CHARSET x] keys`.
pub fn parse_command(cmd: &[u8]) -> SearchArgs {
    let mut p = P {
        toks: tokens(cmd),
        pos: 0,
    };
    let mut uid = false;
    let mut w = p.atom().to_ascii_uppercase();
    if w == "UID" {
        uid = true;
        w = p.atom().to_ascii_uppercase();
    }
    assert_eq!(w, "SEARCH");
    let mut ret = None;
    let mut charset = None;
    loop {
        match p.peek() {
            Some(Tok::Atom(a)) if a.eq_ignore_ascii_case("RETURN") => {
                p.next();
                assert_eq!(p.next(), Tok::Open);
                let mut opts = Vec::new();
                while p.peek() != Some(&Tok::Close) {
                    opts.push(p.atom().to_ascii_uppercase());
                }
                p.next();
                ret = Some(opts);
            }
            Some(Tok::Atom(a)) if a.eq_ignore_ascii_case("CHARSET") => {
                p.next();
                charset = Some(p.atom().to_ascii_uppercase());
            }
            _ => break,
        }
    }
    let mut keys = Vec::new();
    while p.peek().is_some() {
        keys.push(p.key());
    }
    let key = if keys.len() == 1 {
        keys.pop().unwrap()
    } else {
        SearchKey::And(keys)
    };
    SearchArgs {
        uid,
        ret,
        charset,
        key,
    }
}
