//! Message parsing: a message file in, exactly what Cyrus 3.6 stores for it out. That is the
//! ten items of its cyrus.cache record (ENVELOPE, BODYSTRUCTURE, BODY, SECTION,
//! CACHEHEADERS, the FROM/TO/CC/BCC/SUBJECT search forms) and the index-record fields taken
//! from the message (size, header size, sentdate, gmtime), plus the part tree for callers
//! that serve BODY[section]. Everything is a pure function of the bytes; hostile input is
//! bounded in depth and count (see [`body::MAX_DEPTH`]) and never panics.

pub mod address;
pub mod body;
pub mod date;
pub mod decode;
pub mod header;
pub mod imapstr;

use crate::mailbox::cache::{CacheRecord, CharsetInfo, Item, PartEntry, Section};
use crate::mailbox::index::{Guid, IndexRecord};
use address::write_envelope;
use body::{Body, Envelope, Params};
use imapstr::nstring;

/// What a message file yields for cyrus.cache and cyrus.index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    /// The cache record's ten items.
    pub cache: CacheRecord,
    /// The message's part tree.
    pub body: Body,
    /// SHA-1 of the whole file (the message GUID).
    pub guid: Guid,
    /// Size of the file.
    pub size: u32,
    /// Size of the top-level header, blank line included.
    pub header_size: u32,
    /// Lines of the top-level content.
    pub content_lines: u32,
    /// The Date's calendar day at 00:00 UTC (0 when Date is missing or unreadable).
    pub sentdate: u32,
    /// The Date as a UTC instant (0 when Date is missing or unreadable).
    pub gmtime: u32,
}

impl Parsed {
    /// Sets the index-record fields Cyrus derives from the message and its cache record
    /// (size, header size, dates, GUID, cache version and CRC); the rest is the caller's.
    pub fn fill(&self, rec: &mut IndexRecord) {
        rec.size = self.size;
        rec.header_size = self.header_size;
        rec.sentdate = self.sentdate;
        rec.gmtime = self.gmtime;
        rec.guid = self.guid;
        rec.cache_version = CACHE_VERSION;
        rec.cache_crc = self.cache.crc();
    }
}

/// The cache record version these items are (`MAILBOX_CACHE_MINOR_VERSION` of 3.6).
pub const CACHE_VERSION: u16 = 11;

/// Parses a message file.
pub fn parse(msg: &[u8]) -> Parsed {
    let (body, headers) = body::parse_message(msg);
    let mut cache = CacheRecord::default();
    let mut set = |item: Item, v: Vec<u8>| {
        if let Some(slot) = cache.items.get_mut(item as usize) {
            *slot = v;
        }
    };
    set(Item::Envelope, envelope(&body.envelope));
    set(Item::Bodystructure, bodystructure(&body, true));
    set(Item::Body, bodystructure(&body, false));
    set(Item::Section, message_section(&body).encode());
    set(Item::Headers, headers);
    let e = &body.envelope;
    set(Item::From, address::search_form(&e.from));
    set(Item::To, address::search_form(&e.to));
    set(Item::Cc, address::search_form(&e.cc));
    set(Item::Bcc, address::search_form(&e.bcc));
    let mut subject = Vec::new();
    nstring(
        &mut subject,
        e.subject.as_deref().map(decode::mime_header).as_deref(),
    );
    set(Item::Subject, subject);
    let (day, instant) = e.date.as_deref().map_or((None, None), date::parse_fields);
    let clamp = |v: Option<i64>| v.and_then(|v| u32::try_from(v).ok()).unwrap_or(0);
    Parsed {
        guid: Guid::of(msg),
        size: u32::try_from(msg.len()).unwrap_or(u32::MAX),
        header_size: u32::try_from(body.header_size).unwrap_or(u32::MAX),
        content_lines: u32::try_from(body.content_lines).unwrap_or(u32::MAX),
        sentdate: clamp(day),
        gmtime: clamp(instant),
        cache,
        body,
    }
}

/// The ENVELOPE of a message header.
pub fn envelope(e: &Envelope) -> Vec<u8> {
    let mut out = Vec::new();
    write_env(&mut out, e);
    out
}

fn write_env(out: &mut Vec<u8>, e: &Envelope) {
    out.push(b'(');
    nstring(out, e.date.as_deref());
    out.push(b' ');
    nstring(out, e.subject.as_deref());
    out.push(b' ');
    write_envelope(out, &e.from);
    out.push(b' ');
    write_envelope(
        out,
        if e.sender.is_empty() {
            &e.from
        } else {
            &e.sender
        },
    );
    out.push(b' ');
    write_envelope(
        out,
        if e.reply_to.is_empty() {
            &e.from
        } else {
            &e.reply_to
        },
    );
    for l in [&e.to, &e.cc, &e.bcc] {
        out.push(b' ');
        write_envelope(out, l);
    }
    out.push(b' ');
    nstring(out, e.in_reply_to.as_deref());
    out.push(b' ');
    nstring(out, e.message_id.as_deref());
    out.push(b')');
}

fn write_params(out: &mut Vec<u8>, p: &Params) {
    if p.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (i, (a, v)) in p.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        nstring(out, Some(a));
        out.push(b' ');
        nstring(out, Some(v));
    }
    out.push(b')');
}

fn write_ext_tail(out: &mut Vec<u8>, b: &Body) {
    out.push(b' ');
    match &b.disposition {
        None => out.extend_from_slice(b"NIL"),
        Some((t, p)) => {
            out.push(b'(');
            nstring(out, Some(t));
            out.push(b' ');
            write_params(out, p);
            out.push(b')');
        }
    }
    out.push(b' ');
    if b.language.is_empty() {
        out.extend_from_slice(b"NIL");
    } else {
        out.push(b'(');
        for (i, l) in b.language.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            nstring(out, Some(l));
        }
        out.push(b')');
    }
    out.push(b' ');
    nstring(out, b.location.as_deref());
}

/// BODYSTRUCTURE (`ext`) or BODY of a part.
pub fn bodystructure(b: &Body, ext: bool) -> Vec<u8> {
    let mut out = Vec::new();
    write_body(&mut out, b, ext);
    out
}

fn write_body(out: &mut Vec<u8>, b: &Body, ext: bool) {
    if b.is_multipart() {
        if b.parts.is_empty() {
            // IMAP has no empty multipart: Cyrus serves an empty text/plain instead.
            return write_body(out, &body::empty_default(), ext);
        }
        out.push(b'(');
        for p in &b.parts {
            write_body(out, p, ext);
        }
        out.push(b' ');
        nstring(out, Some(&b.subtype));
        if ext {
            out.push(b' ');
            write_params(out, &b.params);
            write_ext_tail(out, b);
        }
        out.push(b')');
        return;
    }
    out.push(b'(');
    nstring(out, Some(&b.kind));
    out.push(b' ');
    nstring(out, Some(&b.subtype));
    out.push(b' ');
    write_params(out, &b.params);
    out.push(b' ');
    nstring(out, b.id.as_deref());
    out.push(b' ');
    nstring(out, b.description.as_deref());
    out.push(b' ');
    nstring(out, Some(b.encoding.as_deref().unwrap_or(b"7BIT")));
    out.extend_from_slice(format!(" {}", b.content_size).as_bytes());
    if b.kind == b"TEXT" {
        out.extend_from_slice(format!(" {}", b.content_lines).as_bytes());
    } else if let Some(m) = &b.message {
        out.push(b' ');
        write_env(out, &m.envelope);
        out.push(b' ');
        write_body(out, m, ext);
        out.extend_from_slice(format!(" {}", b.content_lines).as_bytes());
    }
    if ext {
        out.push(b' ');
        nstring(out, b.md5.as_deref());
        write_ext_tail(out, b);
    }
    out.push(b')');
}

fn u(v: usize) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

fn nocharset(guid: Guid, size: usize, lines: usize) -> CharsetInfo {
    CharsetInfo {
        encoding: CharsetInfo::NO_CHARSET,
        name_padded: Vec::new(),
        guid,
        decoded_size: u(size),
        content_lines: u(lines),
    }
}

/// Charset names we know Cyrus resolves; others are stored as unknown (no name).
fn known_charset(name: &[u8]) -> bool {
    let n = name.to_ascii_lowercase();
    const KNOWN: &[&[u8]] = &[
        b"us-ascii",
        b"ascii",
        b"utf-8",
        b"utf8",
        b"iso-8859-1",
        b"iso-8859-2",
        b"iso-8859-3",
        b"iso-8859-4",
        b"iso-8859-5",
        b"iso-8859-6",
        b"iso-8859-7",
        b"iso-8859-8",
        b"iso-8859-9",
        b"iso-8859-10",
        b"iso-8859-11",
        b"iso-8859-13",
        b"iso-8859-14",
        b"iso-8859-15",
        b"iso-8859-16",
        b"latin1",
        b"windows-1250",
        b"windows-1251",
        b"windows-1252",
        b"windows-1253",
        b"windows-1254",
        b"windows-1255",
        b"windows-1256",
        b"windows-1257",
        b"windows-1258",
        b"koi8-r",
        b"koi8-u",
        b"utf-16",
        b"utf-16le",
        b"utf-16be",
        b"utf-7",
        b"iso-2022-jp",
        b"shift_jis",
        b"euc-jp",
        b"euc-kr",
        b"gb2312",
        b"gbk",
        b"gb18030",
        b"big5",
        b"iso-2022-kr",
        b"tis-620",
    ];
    KNOWN.contains(&n.as_slice())
}

/// The name SECTION stores for a charset Cyrus recognises: as the message spells it (the
/// reference keeps `ISO-8859-1` upper-case); None for one it does not know.
fn stored_charset_name(name: &[u8]) -> Option<Vec<u8>> {
    known_charset(name).then(|| name.to_vec())
}

fn charset_block(b: &Body) -> CharsetInfo {
    let mut encoding = decode::encoding_code(b.encoding.as_deref());
    let name: Option<Vec<u8>> = if b.kind == b"TEXT" {
        match b
            .params
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(b"CHARSET"))
        {
            Some((_, v)) if !v.is_empty() => stored_charset_name(v),
            _ => Some(b"us-ascii".to_vec()),
        }
    } else if b.kind == b"MESSAGE" {
        // Cyrus reads any message/* as unencoded; only message/rfc822 loses the charset.
        encoding = decode::ENC_NONE;
        (b.subtype != b"RFC822").then(|| b"us-ascii".to_vec())
    } else {
        None
    };
    let (guid, size, lines) = (b.content_guid, u(b.decoded_size), u(b.content_lines));
    match name {
        Some(n) => CharsetInfo::with_name(&n, encoding, guid, size, lines),
        None => CharsetInfo {
            encoding,
            name_padded: Vec::new(),
            guid,
            decoded_size: size,
            content_lines: lines,
        },
    }
}

/// The SECTION tree of a whole message (treated as one message/rfc822 part).
pub fn message_section(top: &Body) -> Section {
    encapsulated(top)
}

/// Section of a message/rfc822 part whose encapsulated body is `b`.
fn encapsulated(b: &Body) -> Section {
    let part0 = PartEntry {
        header_offset: u(b.header_offset),
        header_size: u(b.header_size),
        content_offset: u(b.content_offset),
        content_size: u(b.content_size),
        charset: nocharset(b.content_guid, b.decoded_size, b.content_lines),
    };
    if b.is_multipart() && !b.parts.is_empty() {
        let mut entries = vec![part0];
        entries.extend(b.parts.iter().map(|p| child_entry(p, true)));
        return Section {
            entries,
            children: b.parts.iter().map(section).collect(),
        };
    }
    let part1 = if b.is_multipart() {
        PartEntry {
            content_size: 0,
            charset: nocharset(Guid::default(), 0, 0),
            ..part0.clone()
        }
    } else {
        PartEntry {
            charset: charset_block(b),
            ..part0.clone()
        }
    };
    Section {
        entries: vec![part0, part1],
        children: vec![section(b)],
    }
}

/// The entry of sub-part `p`. A multipart without parts counts as empty; directly under a
/// message its entry still carries a charset block, under a multipart the no-charset form
/// (Cyrus's two code paths differ there).
fn child_entry(p: &Body, under_message: bool) -> PartEntry {
    let empty_multi = p.is_multipart() && p.parts.is_empty();
    PartEntry {
        header_offset: u(p.header_offset),
        header_size: u(p.header_size),
        content_offset: u(p.content_offset),
        content_size: if empty_multi { 0 } else { u(p.content_size) },
        charset: if empty_multi && !under_message {
            nocharset(p.content_guid, p.decoded_size, p.content_lines)
        } else {
            charset_block(p)
        },
    }
}

/// Section of one part.
fn section(b: &Body) -> Section {
    if let Some(m) = &b.message {
        return encapsulated(m);
    }
    if b.is_multipart() && !b.parts.is_empty() {
        let part0 = PartEntry {
            header_offset: 0,
            header_size: u32::MAX,
            content_offset: 0,
            content_size: u32::MAX,
            charset: nocharset(Guid::default(), 0, 0),
        };
        let mut entries = vec![part0];
        entries.extend(b.parts.iter().map(|p| child_entry(p, false)));
        return Section {
            entries,
            children: b.parts.iter().map(section).collect(),
        };
    }
    Section::default()
}
