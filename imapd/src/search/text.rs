//! The searchable text of one message, each piece loaded on first use and kept for the other
//! keys of the same command: the cache record (address and subject search forms, the cached
//! header fields, the SECTION part map), the message header, and the folded BODY pieces.
//!
//! What Cyrus 3.6 puts in BODY, checked against Debian's build: the content of every text
//! part in UTF-8 or US-ASCII, transfer-decoded; the MIME header of every sub-part; the header
//! of every encapsulated message/rfc822. Not the top header (TEXT adds it), preambles,
//! epilogues, boundaries, non-text content (message/delivery-status included), parts in an
//! unknown transfer encoding, or (see [`super::Options`]) parts in other charsets. Header text
//! has its RFC 2047 words decoded; raw 8-bit bytes outside them match nothing.

use super::{MsgRef, Options};
use cyrus::charset::{fold_into, rfc2047, Charset, Encoding};
use cyrus::mailbox::cache::{CacheRecord, CharsetInfo, Item, PartEntry, Section};
use cyrus::mailbox::Mailbox;
use std::io::Read;

/// Folded text of every piece BODY searches, each piece on its own.
pub(super) type Pieces = Vec<String>;

/// One message and what has been loaded of it.
pub(super) struct Message<'a> {
    mailbox: &'a Mailbox,
    /// The session's view of it.
    pub msg: &'a MsgRef<'a>,
    opts: &'a Options,
    cache: Option<Option<CacheRecord>>,
    /// The message file, or its header only (`file_whole` says which).
    file: Option<Option<Vec<u8>>>,
    file_whole: bool,
    header: Option<String>,
    body: Option<Pieces>,
}

impl<'a> Message<'a> {
    /// Wraps a message; nothing is read yet.
    pub fn new(mailbox: &'a Mailbox, msg: &'a MsgRef<'a>, opts: &'a Options) -> Self {
        Message {
            mailbox,
            msg,
            opts,
            cache: None,
            file: None,
            file_whole: false,
            header: None,
            body: None,
        }
    }

    fn fold(&self, s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        fold_into(s, self.opts.fold, &mut out);
        out
    }

    /// Header bytes decoded the way Cyrus's search reads them.
    fn decode_header(&self, raw: &[u8]) -> String {
        self.fold(&rfc2047::decode_with(raw, Charset::US_ASCII))
    }

    /// The cache record, None if it cannot be read.
    pub fn cache(&mut self) -> Option<&CacheRecord> {
        if self.cache.is_none() {
            self.cache = Some(self.mailbox.cache_record(self.msg.record).ok());
        }
        self.cache.as_ref().and_then(Option::as_ref)
    }

    /// The message file (whole, or only its header when `whole` is false).
    fn file(&mut self, whole: bool) -> Option<&[u8]> {
        if self.file.is_none() || (whole && !self.file_whole) {
            let path = self.mailbox.message_path(self.msg.record.uid);
            let read = std::fs::File::open(path).and_then(|f| {
                let mut buf = Vec::new();
                let limit = if whole {
                    u64::MAX
                } else {
                    u64::from(self.msg.record.header_size)
                };
                f.take(limit).read_to_end(&mut buf).map(|_| buf)
            });
            self.file = Some(read.ok());
            self.file_whole = whole;
        }
        self.file.as_ref().and_then(|f| f.as_deref())
    }

    /// The raw top-level header.
    fn raw_header(&mut self) -> Option<&[u8]> {
        let size = usize::try_from(self.msg.record.header_size).unwrap_or(usize::MAX);
        self.file(false).map(|f| f.get(..size).unwrap_or(f))
    }

    /// The folded text of an address or subject cache item; None when the message has no
    /// such field (an empty item, or a NIL subject), which no string matches.
    pub fn envelope(&mut self, item: Item) -> Option<String> {
        let raw = self.cache()?.item(item).to_vec();
        let text = if item == Item::Subject {
            unquote_nstring(&raw)?
        } else if raw.is_empty() {
            return None;
        } else {
            raw
        };
        // The cache holds already-decoded UTF-8.
        Some(self.fold(&String::from_utf8_lossy(&text)))
    }

    /// The folded values of every top-level field named `name` (lower case): from the cached
    /// header lines when Cyrus caches that field, else from the message file.
    pub fn header_values(&mut self, name: &[u8]) -> Vec<String> {
        let block = if cyrus::message::header::is_cached(name) {
            self.cache().map(|c| c.item(Item::Headers).to_vec())
        } else {
            None
        };
        let block = match block {
            Some(b) => b,
            None => match self.raw_header() {
                Some(h) => h.to_vec(),
                None => return Vec::new(),
            },
        };
        fields(&block)
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| self.decode_header(v.trim_ascii_start()))
            .collect()
    }

    /// The folded top-level header, for TEXT.
    pub fn header_text(&mut self) -> Option<&str> {
        if self.header.is_none() {
            let raw = self.raw_header()?.to_vec();
            self.header = Some(self.decode_header(&raw));
        }
        self.header.as_deref()
    }

    /// The folded BODY pieces (empty when the file or its SECTION cannot be read).
    pub fn body(&mut self) -> &Pieces {
        if self.body.is_none() {
            let pieces = self.load_body().unwrap_or_default();
            self.body = Some(pieces);
        }
        self.body.get_or_insert_with(Vec::new)
    }

    fn load_body(&mut self) -> Option<Pieces> {
        let path = self.mailbox.dir().join(cyrus::mailbox::cache::FILE_NAME);
        let section = self.cache()?.section(&path).ok()?;
        self.file(true)?;
        let file = self.file.as_ref()?.as_deref()?;
        let mut w = Walker {
            file,
            opts: self.opts,
            out: Vec::new(),
            depth: 0,
        };
        w.message(&section, true);
        Some(w.out)
    }
}

/// The bytes of an IMAP nstring as the cache stores the subject: `NIL`, a quoted string or
/// a literal.
fn unquote_nstring(s: &[u8]) -> Option<Vec<u8>> {
    if let Some(q) = s.strip_prefix(b"\"") {
        let mut out = Vec::with_capacity(q.len());
        let mut it = q.iter();
        while let Some(&b) = it.next() {
            match b {
                b'"' => break,
                b'\\' => out.extend(it.next()),
                _ => out.push(b),
            }
        }
        return Some(out);
    }
    if s.first() == Some(&b'{') {
        let nl = s.iter().position(|&b| b == b'\n')?;
        return Some(s.get(nl + 1..)?.to_vec());
    }
    None
}

/// The fields of a header block: (name, raw value with its folding), in order.
pub(super) fn fields(block: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut rest = block;
    std::iter::from_fn(move || loop {
        if rest.is_empty() || rest.starts_with(b"\r\n") || rest.starts_with(b"\n") {
            return None;
        }
        // The field runs to the end of the last line that continues it.
        let mut end = 0;
        loop {
            match rest
                .get(end..)
                .and_then(|r| r.iter().position(|&b| b == b'\n'))
            {
                Some(nl) => end += nl + 1,
                None => {
                    end = rest.len();
                    break;
                }
            }
            if !matches!(rest.get(end), Some(b' ' | b'\t')) {
                break;
            }
        }
        let (field, next) = rest.split_at(end.min(rest.len()));
        rest = next;
        // A line without a colon is not a field (Cyrus skips it).
        if let Some(colon) = field.iter().position(|&b| b == b':') {
            let name = field.get(..colon).unwrap_or_default().trim_ascii_end();
            let value = field.get(colon + 1..).unwrap_or_default();
            return Some((name, value));
        }
    })
}

/// Walks a SECTION tree, collecting folded BODY pieces.
struct Walker<'a> {
    file: &'a [u8],
    opts: &'a Options,
    out: Pieces,
    depth: usize,
}

/// How deep the walk follows nested parts; the cache decoder already bounds SECTION depth.
const MAX_DEPTH: usize = 128;

impl Walker<'_> {
    fn slice(&self, off: u32, size: u32) -> &[u8] {
        let (Ok(off), Ok(size)) = (usize::try_from(off), usize::try_from(size)) else {
            return &[];
        };
        off.checked_add(size)
            .and_then(|end| self.file.get(off..end))
            .unwrap_or_default()
    }

    /// Whether a part is message/* (other than rfc822, which has a subtree): SECTION gives
    /// those the charset of a US-ASCII text, so only their Content-Type tells them apart.
    fn is_message(&self, e: &PartEntry) -> bool {
        if e.header_size == u32::MAX {
            return false;
        }
        fields(self.slice(e.header_offset, e.header_size))
            .filter(|(n, _)| n.eq_ignore_ascii_case(b"content-type"))
            .last()
            .is_some_and(|(_, v)| {
                v.trim_ascii_start()
                    .get(..8)
                    .is_some_and(|t| t.eq_ignore_ascii_case(b"message/"))
            })
    }

    fn push_header(&mut self, e: &PartEntry) {
        if e.header_size == u32::MAX || e.header_size == 0 {
            return;
        }
        let raw = self.slice(e.header_offset, e.header_size);
        let mut s = String::new();
        fold_into(
            &rfc2047::decode_with(raw, Charset::US_ASCII),
            self.opts.fold,
            &mut s,
        );
        self.out.push(s);
    }

    fn push_content(&mut self, e: &PartEntry) {
        let c: &CharsetInfo = &e.charset;
        if c.encoding == CharsetInfo::NO_CHARSET {
            return;
        }
        // Non-text parts and texts in charsets Cyrus does not know are stored without a name.
        let Some(cs) = Charset::lookup(c.name()) else {
            return;
        };
        if !self.opts.all_body_charsets && !cs.is_utf8_or_ascii() {
            return;
        }
        let enc = Encoding::from_code(c.encoding);
        if enc == Encoding::Unknown || self.is_message(e) {
            return;
        }
        let decoded = enc.decode(self.slice(e.content_offset, e.content_size));
        let mut s = String::new();
        fold_into(&cs.decode(&decoded), self.opts.fold, &mut s);
        self.out.push(s);
    }

    /// A message's section: its header (unless it is the top one), then its body. A
    /// single-part body repeats the message's own offsets in the second entry.
    fn message(&mut self, sec: &Section, top: bool) {
        let Some(head) = sec.entries.first() else {
            return;
        };
        if !top {
            self.push_header(head);
        }
        let single = sec.entries.len() == 2
            && sec.entries.get(1).is_some_and(|e| {
                e.header_offset == head.header_offset && e.header_size == head.header_size
            });
        for (i, e) in sec.entries.iter().enumerate().skip(1) {
            let child = sec.children.get(i - 1);
            self.part(e, child, !single);
        }
    }

    /// A part: its MIME header if it has its own, then its content or its sub-parts.
    fn part(&mut self, e: &PartEntry, child: Option<&Section>, own_header: bool) {
        if self.depth >= MAX_DEPTH {
            return;
        }
        self.depth += 1;
        if own_header {
            self.push_header(e);
        }
        match child {
            Some(c) if !c.entries.is_empty() => {
                // A multipart's first entry is a placeholder without a header.
                if c.entries.first().is_some_and(|h| h.header_size == u32::MAX) {
                    for (i, sub) in c.entries.iter().enumerate().skip(1) {
                        self.part(sub, c.children.get(i - 1), true);
                    }
                } else {
                    self.message(c, false);
                }
            }
            _ => self.push_content(e),
        }
        self.depth -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_table() {
        let block = b"From: a\r\nSubject: one\r\n two\r\nbogus line\r\nX-A:b\r\n\r\nbody: no";
        let got: Vec<(String, String)> = fields(block)
            .map(|(n, v)| {
                (
                    String::from_utf8_lossy(n).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .collect();
        let want = [
            ("From", " a\r\n"),
            ("Subject", " one\r\n two\r\n"),
            ("X-A", "b\r\n"),
        ];
        assert_eq!(got.len(), want.len(), "{got:?}");
        for ((n, v), (wn, wv)) in got.iter().zip(want) {
            assert_eq!((n.as_str(), v.as_str()), (wn, wv));
        }
        assert_eq!(fields(b"").count(), 0);
        assert_eq!(fields(b"No-Newline: x").count(), 1);
    }

    #[test]
    fn nstring_table() {
        let cases: &[(&[u8], Option<&[u8]>)] = &[
            (b"NIL", None),
            (b"\"Hi \\\"x\\\"\"", Some(b"Hi \"x\"")),
            (b"{3}\r\nabc", Some(b"abc")),
            (b"\"\"", Some(b"")),
            (b"", None),
        ];
        for (i, o) in cases {
            assert_eq!(unquote_nstring(i).as_deref(), *o);
        }
    }
}
