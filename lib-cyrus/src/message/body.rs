//! The MIME part tree of a message: every part's type, parameters and other MIME fields, its
//! offsets and sizes in the file, its line count and decoded-content digest, and for the
//! message itself and each encapsulated message/rfc822 the envelope fields. Parts end at a
//! boundary line of any enclosing multipart; the line break before a boundary belongs to
//! the boundary. Nesting is bounded by [`MAX_DEPTH`]: deeper multiparts and messages are
//! kept as opaque leaves.

use super::address::{self, Address};
use super::decode;
use crate::mailbox::index::Guid;

/// Deepest nesting of multiparts and encapsulated messages parsed as such (Cyrus stops at
/// its `boundary_limit`, 1000, which would need a deeper stack than a worker thread has).
pub const MAX_DEPTH: usize = 64;
/// Sub-parts kept per multipart; more are measured but left out of the tree.
pub const MAX_PARTS: usize = 10_000;
/// Parts kept in one message's whole tree, so memory stays proportional to this, not to
/// how many tiny parts a hostile message packs in.
pub const MAX_TOTAL_PARTS: usize = 50_000;
/// Header lines examined per part (Cyrus's `maxheaderlines` default); later ones only count.
pub const MAX_HEADER_LINES: usize = 1000;

/// Envelope fields of a message header (raw values; addresses accumulate over repeats).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Envelope {
    /// Date value.
    pub date: Option<Vec<u8>>,
    /// Subject value (still RFC 2047-encoded).
    pub subject: Option<Vec<u8>>,
    /// From.
    pub from: Vec<Address>,
    /// Sender.
    pub sender: Vec<Address>,
    /// Reply-To.
    pub reply_to: Vec<Address>,
    /// To.
    pub to: Vec<Address>,
    /// Cc.
    pub cc: Vec<Address>,
    /// Bcc.
    pub bcc: Vec<Address>,
    /// In-Reply-To.
    pub in_reply_to: Option<Vec<u8>>,
    /// Message-ID.
    pub message_id: Option<Vec<u8>>,
}

/// Parameter list: (upper-cased attribute, value).
pub type Params = Vec<(Vec<u8>, Vec<u8>)>;

/// One MIME part.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Body {
    /// Media type, upper-cased.
    pub kind: Vec<u8>,
    /// Media subtype, upper-cased.
    pub subtype: Vec<u8>,
    /// Content-Type parameters.
    pub params: Params,
    /// Content-ID.
    pub id: Option<Vec<u8>>,
    /// Content-Description.
    pub description: Option<Vec<u8>>,
    /// Content-Transfer-Encoding, upper-cased.
    pub encoding: Option<Vec<u8>>,
    /// Content-MD5.
    pub md5: Option<Vec<u8>>,
    /// Content-Disposition type (upper-cased) and parameters.
    pub disposition: Option<(Vec<u8>, Params)>,
    /// Content-Language tags, upper-cased.
    pub language: Vec<Vec<u8>>,
    /// Content-Location.
    pub location: Option<Vec<u8>>,
    /// Envelope fields of this part's header.
    pub envelope: Envelope,
    /// Offset of the header.
    pub header_offset: usize,
    /// Size of the header, blank line included.
    pub header_size: usize,
    /// Offset of the content.
    pub content_offset: usize,
    /// Size of the content.
    pub content_size: usize,
    /// Line breaks in the content.
    pub content_lines: usize,
    /// SHA-1 of the transfer-decoded content (leaves and messages; zero for multiparts).
    pub content_guid: Guid,
    /// Size of the transfer-decoded content (0 for multiparts).
    pub decoded_size: usize,
    /// Lines of the header.
    pub header_lines: usize,
    /// Bytes of a boundary line (plus the line break before it) that ended this part.
    pub boundary_size: usize,
    /// Lines of that boundary.
    pub boundary_lines: usize,
    /// Sub-parts of a multipart (at most [`MAX_PARTS`] kept; sizes count them all).
    pub parts: Vec<Body>,
    /// Sub-parts of a multipart beyond [`MAX_PARTS`] that were counted but not kept.
    pub dropped_parts: usize,
    /// The encapsulated message of a message/rfc822 part.
    pub message: Option<Box<Body>>,
}

impl Body {
    /// Whether this is a multipart.
    pub fn is_multipart(&self) -> bool {
        self.kind == b"MULTIPART"
    }

    /// Whether this is a message/rfc822 part whose content was parsed as a message.
    pub fn is_rfc822(&self) -> bool {
        self.message.is_some()
    }

    /// The value of Content-Type parameter `attr` (upper case).
    pub fn param(&self, attr: &[u8]) -> Option<&[u8]> {
        self.params
            .iter()
            .find(|(a, _)| a == attr)
            .map(|(_, v)| v.as_slice())
    }
}

/// MIME `tspecials`, which end a token.
const TSPECIALS: &[u8] = b"()<>@,;:\\\"/[]?=";

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c)
}

/// A cursor over one header field's value (its end is the end of the field).
struct Lex<'a> {
    s: &'a [u8],
    i: usize,
}

impl Lex<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// Skips whitespace and comments; false when the field ends (or a comment is unclosed).
    fn space(&mut self) -> bool {
        while let Some(b) = self.peek() {
            if is_space(b) {
                self.i += 1;
            } else if b == b'(' {
                let mut depth = 0usize;
                loop {
                    let Some(c) = self.peek() else { return false };
                    self.i += 1;
                    match c {
                        b'(' => depth += 1,
                        b')' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                break;
                            }
                        }
                        b'\\' => self.i += 1,
                        _ => {}
                    }
                }
            } else {
                return true;
            }
        }
        false
    }

    /// A token ending at whitespace, `(` or one of `stops`; None if a tspecial or control
    /// character comes first.
    fn token(&mut self, stops: &[u8]) -> Option<Vec<u8>> {
        let start = self.i;
        while let Some(b) = self.peek() {
            if is_space(b) || b == b'(' || stops.contains(&b) {
                break;
            }
            if b < b' ' || TSPECIALS.contains(&b) {
                return None;
            }
            self.i += 1;
        }
        Some(self.s.get(start..self.i).unwrap_or(&[]).to_vec())
    }

    /// Skips a malformed parameter: to just after the next `;`.
    fn skip_param(&mut self) {
        while let Some(b) = self.peek() {
            self.i += 1;
            if b == b';' {
                return;
            }
        }
    }

    /// `attr=value` pairs separated by `;` (the first `;` already consumed).
    fn params(&mut self) -> Params {
        let mut out = Params::new();
        loop {
            if !self.space() {
                return out;
            }
            let Some(attr) = self.token(b"=") else {
                self.skip_param();
                continue;
            };
            if !self.space() {
                return out;
            }
            if self.peek() != Some(b'=') {
                self.skip_param();
                continue;
            }
            self.i += 1;
            if !self.space() {
                return out;
            }
            let value = if self.peek() == Some(b'"') {
                self.i += 1;
                let mut v = Vec::new();
                loop {
                    match self.peek() {
                        None => return out,
                        Some(b'"') => {
                            self.i += 1;
                            break;
                        }
                        Some(b'\\') => {
                            self.i += 1;
                            let Some(c) = self.peek() else { return out };
                            v.push(c);
                            self.i += 1;
                        }
                        // Folding inside a quoted value: the line break goes, the blank stays.
                        Some(b'\r') if self.s.get(self.i + 1) == Some(&b'\n') => self.i += 2,
                        Some(b'\n') => self.i += 1,
                        Some(c) => {
                            v.push(c);
                            self.i += 1;
                        }
                    }
                }
                v
            } else {
                match self.token(b";") {
                    Some(v) => v,
                    None => {
                        self.skip_param();
                        continue;
                    }
                }
            };
            let more = self.space();
            if more {
                if self.peek() != Some(b';') {
                    self.skip_param();
                    continue;
                }
                self.i += 1;
            }
            if out.len() < 1000 {
                out.push((attr.to_ascii_uppercase(), value));
            }
            if !more {
                return out;
            }
        }
    }
}

/// Whether `b` must be %-encoded when a simple RFC 2231 section joins an extended one.
fn needs_pct(b: u8) -> bool {
    b <= b' ' || b >= 0x7f || b == b'*' || b == b'\'' || b == b'%' || TSPECIALS.contains(&b)
}

fn pct_encode(v: &[u8], out: &mut Vec<u8>) {
    for &b in v {
        if needs_pct(b) {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        } else {
            out.push(b);
        }
    }
}

/// Joins RFC 2231 continuations (`NAME*0`, `NAME*1*`, ...) into one `NAME` or `NAME*`
/// parameter, %-encoding simple sections when any section is extended.
fn fold_params(params: &mut Params) {
    let mut i = 0;
    while i < params.len() {
        let attr = params.get(i).map(|p| p.0.clone()).unwrap_or_default();
        let Some(star) = attr.iter().position(|&b| b == b'*') else {
            i += 1;
            continue;
        };
        let tail = attr.get(star + 1..).unwrap_or(&[]);
        if tail != b"0" && tail != b"0*" {
            i += 1;
            continue;
        }
        let base = attr.get(..star).unwrap_or(&[]).to_vec();
        let mut extended = tail == b"0*";
        let mut value = params.get(i).map(|p| p.1.clone()).unwrap_or_default();
        for section in 1..100 {
            let simple = [base.as_slice(), format!("*{section}").as_bytes()].concat();
            let ext = [simple.as_slice(), b"*"].concat();
            let Some(j) = params.iter().position(|(a, _)| *a == simple || *a == ext) else {
                break;
            };
            let (a, v) = params.remove(j);
            if j < i {
                i -= 1;
            }
            if a == simple {
                if extended {
                    pct_encode(&v, &mut value);
                } else {
                    value.extend_from_slice(&v);
                }
            } else if extended {
                value.extend_from_slice(&v);
            } else {
                let mut nv = b"''".to_vec();
                pct_encode(&value, &mut nv);
                nv.extend_from_slice(&v);
                value = nv;
                extended = true;
            }
        }
        let mut name = base;
        if extended {
            name.push(b'*');
        }
        if let Some(p) = params.get_mut(i) {
            *p = (name, value);
        }
        i += 1;
    }
}

/// Content-Type value -> (type, subtype, params), or None when Cyrus ignores it.
fn parse_type(v: &[u8]) -> Option<(Vec<u8>, Vec<u8>, Params)> {
    let mut l = Lex { s: v, i: 0 };
    if !l.space() {
        return None;
    }
    let t = l.token(b"/")?;
    if !l.space() || l.peek() != Some(b'/') {
        return None;
    }
    l.i += 1;
    if !l.space() {
        return None;
    }
    let st = l.token(b";")?;
    let mut params = Params::new();
    if l.space() {
        if l.peek() != Some(b';') {
            return None;
        }
        l.i += 1;
        params = l.params();
        fold_params(&mut params);
    }
    Some((t.to_ascii_uppercase(), st.to_ascii_uppercase(), params))
}

fn parse_disposition(v: &[u8]) -> Option<(Vec<u8>, Params)> {
    let mut l = Lex { s: v, i: 0 };
    if !l.space() {
        return None;
    }
    let t = l.token(b";")?;
    let mut params = Params::new();
    if l.space() {
        if l.peek() != Some(b';') {
            return None;
        }
        l.i += 1;
        params = l.params();
        fold_params(&mut params);
    }
    Some((t.to_ascii_uppercase(), params))
}

fn parse_encoding(v: &[u8]) -> Option<Vec<u8>> {
    let mut l = Lex { s: v, i: 0 };
    if !l.space() {
        return None;
    }
    let t = l.token(b"")?;
    // Anything after the token but comments and blanks voids the header.
    if l.space() {
        return None;
    }
    Some(t.to_ascii_uppercase())
}

fn parse_language(v: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut l = Lex { s: v, i: 0 };
    while out.len() < 100 {
        if !l.space() {
            return out;
        }
        let start = l.i;
        while let Some(b) = l.peek() {
            if is_space(b) || b == b',' || b == b'(' {
                break;
            }
            if b != b'-' && !b.is_ascii_alphabetic() {
                return out;
            }
            l.i += 1;
        }
        let tag = l.s.get(start..l.i).unwrap_or(&[]).to_ascii_uppercase();
        if l.space() {
            if l.peek() != Some(b',') {
                return out;
            }
            l.i += 1;
        }
        out.push(tag);
    }
    out
}

/// End of the field whose value starts at `from` in `text`: the line break (CR excluded)
/// before the next line that is not a continuation. Like Cyrus, the search starts one byte
/// after `from`.
fn field_end(text: &[u8], from: usize) -> usize {
    let mut p = from;
    loop {
        let rel = text
            .get(p + 1..)
            .and_then(|r| r.iter().position(|&b| b == b'\n'));
        let Some(rel) = rel else { return text.len() };
        let nl = p + 1 + rel;
        if matches!(text.get(nl + 1), Some(b' ' | b'\t')) {
            p = nl;
            continue;
        }
        return if nl > from && text.get(nl - 1) == Some(&b'\r') {
            nl - 1
        } else {
            nl
        };
    }
}

/// An unstructured value: leading blanks skipped, CRLF and LF removed (a lone CR stays).
fn string_value(text: &[u8], from: usize) -> Vec<u8> {
    let mut s = from;
    while matches!(text.get(s), Some(b' ' | b'\t')) {
        s += 1;
    }
    let end = field_end(text, s);
    let raw = text.get(s..end.max(s)).unwrap_or(&[]);
    let mut out = Vec::with_capacity(raw.len());
    for (i, &b) in raw.iter().enumerate() {
        if b == b'\n' {
            if i > 0 && out.last() == Some(&b'\r') {
                out.pop();
            }
            continue;
        }
        out.push(b);
    }
    out
}

/// The field at line start `s` of `text` as Cyrus caches it: up to its end, then CRLF.
pub fn cached_field(text: &[u8], s: usize, out: &mut Vec<u8>) {
    let end = field_end(text, s);
    out.extend_from_slice(text.get(s..end.max(s)).unwrap_or(&[]));
    out.extend_from_slice(b"\r\n");
}

/// Applies the header text of a part (as Cyrus keeps it) to `body`; with `cache`, also
/// collects the CACHEHEADERS item.
fn scan_header(
    text: &[u8],
    body: &mut Body,
    ctype: &mut Option<(Vec<u8>, Vec<u8>, Params)>,
    mut cache: Option<&mut Vec<u8>>,
) {
    let mut lines = 0usize;
    let mut start = Some(0usize);
    while let Some(s) = start {
        let next = text
            .get(s..)
            .and_then(|r| r.iter().position(|&b| b == b'\n'))
            .map(|n| s + n + 1);
        if lines <= MAX_HEADER_LINES && !matches!(text.get(s), Some(b' ' | b'\t') | None) {
            let line = text.get(s..).unwrap_or(&[]);
            let stop = line
                .iter()
                .position(|&b| b == b':' || b == b'\r' || b == b'\n')
                .unwrap_or(line.len());
            if line.get(stop) == Some(&b':') {
                let name = line.get(..stop).unwrap_or(&[]);
                if let Some(c) = cache.as_deref_mut() {
                    if super::header::is_cached(name) {
                        cached_field(text, s, c);
                    }
                }
                apply(body, name, text, s + stop + 1, ctype);
            }
        }
        lines += 1;
        start = next;
    }
    body.header_lines = text.iter().filter(|&&b| b == b'\n').count();
}

/// Applies one header field (name, and its value starting at `v` in `text`) to the part.
fn apply(
    body: &mut Body,
    name: &[u8],
    text: &[u8],
    v: usize,
    ctype: &mut Option<(Vec<u8>, Vec<u8>, Params)>,
) {
    let raw = || text.get(v..field_end(text, v).max(v)).unwrap_or(&[]);
    let addr = |list: &mut Vec<Address>| {
        list.clear();
        address::parse_list(raw(), list);
    };
    let e = &mut body.envelope;
    match name.to_ascii_lowercase().as_slice() {
        b"content-type" => *ctype = parse_type(raw()),
        b"content-transfer-encoding" => body.encoding = parse_encoding(raw()),
        b"content-disposition" => body.disposition = parse_disposition(raw()),
        b"content-language" => body.language = parse_language(raw()),
        b"content-id" => body.id = Some(string_value(text, v)),
        b"content-description" => body.description = Some(string_value(text, v)),
        b"content-md5" => body.md5 = Some(string_value(text, v)),
        b"content-location" => body.location = Some(string_value(text, v)),
        b"date" => e.date = Some(string_value(text, v)),
        b"subject" => e.subject = Some(string_value(text, v)),
        b"in-reply-to" => e.in_reply_to = Some(string_value(text, v)),
        b"message-id" => e.message_id = Some(string_value(text, v)),
        b"from" => addr(&mut e.from),
        b"sender" => addr(&mut e.sender),
        b"reply-to" => addr(&mut e.reply_to),
        b"to" => addr(&mut e.to),
        b"cc" => addr(&mut e.cc),
        b"bcc" => addr(&mut e.bcc),
        _ => {}
    }
}

fn default_type(digest: bool) -> (Vec<u8>, Vec<u8>, Params) {
    if digest {
        (b"MESSAGE".to_vec(), b"RFC822".to_vec(), Vec::new())
    } else {
        (
            b"TEXT".to_vec(),
            b"PLAIN".to_vec(),
            vec![(b"CHARSET".to_vec(), b"us-ascii".to_vec())],
        )
    }
}

/// An empty text/plain part: what Cyrus puts where a header ran into a boundary, and what
/// it serves for a multipart without parts.
pub fn empty_default() -> Body {
    let (kind, subtype, params) = default_type(false);
    Body {
        kind,
        subtype,
        params,
        ..Body::default()
    }
}

/// The streaming parser: the message, the read position and the pending boundaries.
struct Parser<'a> {
    msg: &'a [u8],
    off: usize,
    bounds: Vec<Vec<u8>>,
    /// Parts stored in the tree so far.
    stored: usize,
}

impl<'a> Parser<'a> {
    /// The next line (line break included), advancing; None at the end.
    fn line(&mut self) -> Option<&'a [u8]> {
        let rest = self.msg.get(self.off..).filter(|r| !r.is_empty())?;
        let len = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |n| n + 1);
        self.off += len;
        rest.get(..len)
    }

    /// Whether `line` is a delimiter of a pending multipart. A closing delimiter drops that
    /// boundary and every inner one; a boundary followed by more boundary characters is not
    /// a match (so `--ab` does not end a part of boundary `a`).
    fn pending(&mut self, line: &[u8]) -> bool {
        let Some(rest) = line.strip_prefix(b"--") else {
            return false;
        };
        for i in 0..self.bounds.len() {
            let Some(b) = self.bounds.get(i) else { break };
            let len = b.len();
            if !rest.starts_with(b) {
                continue;
            }
            if rest.get(len..len + 2) == Some(b"--") {
                self.bounds.truncate(i);
                return true;
            }
            if rest.len() > len + 1 && rest.get(len).is_some_and(|&c| c != 0 && !is_space(c)) {
                continue;
            }
            return true;
        }
        false
    }

    /// Reads a header block into `body`; true when it ran into a boundary line.
    fn headers(&mut self, body: &mut Body, digest: bool, cache: Option<&mut Vec<u8>>) -> bool {
        body.header_offset = self.off;
        let start = self.off;
        let end;
        let mut saw = false;
        loop {
            let line_start = self.off;
            let Some(line) = self.line() else {
                end = self.off;
                break;
            };
            if line == b"\r\n" {
                end = self.off;
                break;
            }
            if line.first() == Some(&b'-') && self.pending(line) {
                body.boundary_size = line.len();
                body.boundary_lines = 1;
                // The line break before the boundary (two bytes, whatever they are) goes too.
                if line_start > start {
                    body.boundary_size += 2;
                    body.boundary_lines += 1;
                    end = line_start.saturating_sub(2).max(start);
                } else {
                    end = line_start;
                }
                saw = true;
                break;
            }
        }
        body.content_offset = self.off;
        let mut text = self.msg.get(start..end).unwrap_or(&[]);
        // Cyrus holds the header as a C string: a NUL ends it.
        if let Some(nul) = text.iter().position(|&b| b == 0) {
            text = text.get(..nul).unwrap_or(&[]);
        }
        body.header_size = text.len();
        let mut ctype = None;
        scan_header(text, body, &mut ctype, cache);
        let (kind, subtype, params) = ctype.unwrap_or_else(|| default_type(digest));
        body.kind = kind;
        body.subtype = subtype;
        body.params = params;
        saw
    }

    /// Reads content up to a pending boundary or the end.
    fn content(&mut self, body: &mut Body) {
        while let Some(line) = self.line() {
            if line.starts_with(b"--") && self.pending(line) {
                body.boundary_size = line.len();
                body.boundary_lines += 1;
                if body.content_lines > 0 {
                    body.content_lines -= 1;
                    body.boundary_lines += 1;
                }
                if body.content_size > 0 {
                    // Cyrus assumes a CRLF before the boundary.
                    body.content_size = body.content_size.saturating_sub(2);
                    body.boundary_size += 2;
                }
                return;
            }
            body.content_size += line.len();
            if line.last() == Some(&b'\n') {
                body.content_lines += 1;
            }
        }
    }

    fn body(&mut self, digest: bool, depth: usize, cache: Option<&mut Vec<u8>>) -> Body {
        let mut body = Body::default();
        let saw = self.headers(&mut body, digest, cache);
        // Cyrus digests the content of what it read as content, and of an encapsulated
        // message; a multipart with parts, or a part cut short by a boundary, has none.
        let mut digest_content = false;
        if body.is_multipart() {
            if !saw {
                if depth < MAX_DEPTH && body.param(b"BOUNDARY").is_some() {
                    self.multipart(&mut body, depth);
                } else {
                    self.content(&mut body);
                    digest_content = true;
                }
            }
        } else if body.kind == b"MESSAGE" && body.subtype == b"RFC822" {
            if saw {
                body.message = Some(Box::new(empty_default()));
            } else if depth < MAX_DEPTH {
                let sub = self.body(false, depth + 1, None);
                body.content_size = sub.header_size + sub.content_size;
                body.content_lines = sub.header_lines + sub.content_lines;
                body.boundary_size = sub.boundary_size;
                body.boundary_lines = sub.boundary_lines;
                body.message = Some(Box::new(sub));
                digest_content = true;
            } else {
                self.content(&mut body);
                body.message = Some(Box::new(empty_default()));
                digest_content = true;
            }
        } else if !saw {
            self.content(&mut body);
            digest_content = true;
        }
        if digest_content {
            let from = body.content_offset.min(self.msg.len());
            let to = (from + body.content_size).min(self.msg.len());
            let content = self.msg.get(from..to).unwrap_or(&[]);
            let code = if body.kind == b"MESSAGE" {
                decode::ENC_NONE
            } else {
                decode::encoding_code(body.encoding.as_deref())
            };
            // An encoding Cyrus cannot undo leaves the digest null.
            if code != decode::ENC_UNKNOWN {
                let dec = decode::transfer_decode(content, code);
                body.content_guid = Guid::of(&dec);
                body.decoded_size = dec.len();
            }
        }
        body
    }

    fn multipart(&mut self, body: &mut Body, depth: usize) {
        let Some(boundary) = body.param(b"BOUNDARY").map(<[u8]>::to_vec) else {
            return;
        };
        let digest = body.subtype == b"DIGEST";
        self.bounds.push(boundary);
        let d = self.bounds.len();
        let mut pre = Body::default();
        self.content(&mut pre);
        let (mut size, mut lines) = (0usize, 0usize);
        let mut last_boundary = (0usize, 0usize);
        let mut nparts = 0usize;
        while self.bounds.len() == d {
            let mut part = self.body(digest, depth + 1, None);
            if self.off >= self.msg.len() && part.boundary_size == 0 {
                self.bounds.clear();
            }
            size += part.header_size + part.content_size + part.boundary_size;
            lines += part.header_lines + part.content_lines + part.boundary_lines;
            last_boundary = (part.boundary_size, part.boundary_lines);
            nparts += 1;
            if body.parts.len() < MAX_PARTS && self.stored < MAX_TOTAL_PARTS {
                self.stored += 1;
                // Free what the tree does not need of a part already measured.
                part.envelope = Envelope::default();
                body.parts.push(part);
            } else {
                body.dropped_parts += 1;
            }
        }
        let mut epi = Body::default();
        if self.bounds.len() + 1 == d {
            self.content(&mut epi);
        } else if nparts > 0 {
            // The last part ran into an enclosing boundary: it is ours to report.
            body.boundary_size = last_boundary.0;
            body.boundary_lines = last_boundary.1;
            size -= last_boundary.0;
            lines -= last_boundary.1;
            if let Some(p) = body.parts.last_mut().filter(|_| body.dropped_parts == 0) {
                p.boundary_size = 0;
                p.boundary_lines = 0;
            }
        } else {
            body.boundary_size = pre.boundary_size;
            body.boundary_lines = pre.boundary_lines;
            pre.boundary_size = 0;
            pre.boundary_lines = 0;
        }
        body.content_size = pre.content_size + pre.boundary_size + size + epi.content_size;
        body.content_lines = pre.content_lines + pre.boundary_lines + lines + epi.content_lines;
        body.boundary_size += epi.boundary_size;
        body.boundary_lines += epi.boundary_lines;
    }
}

/// Parses a whole message: its part tree and its CACHEHEADERS item.
pub fn parse_message(msg: &[u8]) -> (Body, Vec<u8>) {
    let mut p = Parser {
        msg,
        off: 0,
        bounds: Vec::new(),
        stored: 0,
    };
    let mut cache = Vec::new();
    let body = p.body(false, 0, Some(&mut cache));
    (body, cache)
}
