//! The MIME part tree of a message: every part's type, parameters and other MIME fields, its
//! offsets and sizes in the file, its line count and decoded-content digest, and for the
//! message itself and each encapsulated message/rfc822 the envelope fields. Parts end at a
//! boundary line of any enclosing multipart; the line break before a boundary belongs to
//! the boundary. Nesting is bounded by [`MAX_DEPTH`]: deeper multiparts and messages are
//! kept as opaque leaves.

use super::address::{self, Address};
use super::decode;
use super::header::{self, End, Field};
use crate::mailbox::index::Guid;

/// Deepest nesting of multiparts and encapsulated messages parsed as such.
pub const MAX_DEPTH: usize = 64;

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
    /// Sub-parts of a multipart.
    pub parts: Vec<Body>,
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

fn is_tspecial(b: u8) -> bool {
    b"()<>@,;:\\\"/[]?=".contains(&b) || b <= b' ' || b == 0x7f
}

struct Lex<'a> {
    s: &'a [u8],
    i: usize,
}

impl Lex<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn cfws(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => self.i += 1,
                b'(' => {
                    let mut depth = 0usize;
                    while let Some(c) = self.peek() {
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
                }
                _ => return,
            }
        }
    }

    fn token(&mut self) -> Vec<u8> {
        self.cfws();
        let start = self.i;
        while self.peek().is_some_and(|b| !is_tspecial(b)) {
            self.i += 1;
        }
        self.s.get(start..self.i).unwrap_or(&[]).to_vec()
    }

    fn eat(&mut self, c: u8) -> bool {
        self.cfws();
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> Option<Vec<u8>> {
        self.cfws();
        if self.peek() != Some(b'"') {
            let t = self.token();
            return (!t.is_empty()).then_some(t);
        }
        self.i += 1;
        let mut out = Vec::new();
        while let Some(c) = self.peek() {
            self.i += 1;
            match c {
                b'"' => return Some(out),
                b'\\' => {
                    if let Some(n) = self.peek() {
                        out.push(n);
                        self.i += 1;
                    }
                }
                _ => out.push(c),
            }
        }
        Some(out)
    }

    /// `; attr=value` pairs until the end or the first syntax error.
    fn params(&mut self) -> Params {
        let mut out = Params::new();
        while self.eat(b';') {
            let attr = self.token();
            if attr.is_empty() || !self.eat(b'=') {
                break;
            }
            let Some(v) = self.value() else { break };
            if out.len() < 1000 {
                out.push((attr.to_ascii_uppercase(), v));
            }
        }
        out
    }
}

/// Content-Type value -> (type, subtype, params), or None when it does not parse.
fn parse_type(v: &[u8]) -> Option<(Vec<u8>, Vec<u8>, Params)> {
    let mut l = Lex { s: v, i: 0 };
    let t = l.token();
    if t.is_empty() || !l.eat(b'/') {
        return None;
    }
    let st = l.token();
    if st.is_empty() {
        return None;
    }
    Some((t.to_ascii_uppercase(), st.to_ascii_uppercase(), l.params()))
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

/// Applies one header field to the part.
fn apply(body: &mut Body, f: &Field<'_>, ctype: &mut Option<(Vec<u8>, Vec<u8>, Params)>) {
    let name = f.name.to_ascii_lowercase();
    let e = &mut body.envelope;
    match name.as_slice() {
        b"content-type" => {
            if let Some(t) = parse_type(&f.value()) {
                *ctype = Some(t);
            }
        }
        b"content-transfer-encoding" => {
            let v = f.value();
            let t = Lex { s: &v, i: 0 }.token();
            body.encoding = (!t.is_empty()).then(|| t.to_ascii_uppercase());
        }
        b"content-disposition" => {
            let v = f.value();
            let mut l = Lex { s: &v, i: 0 };
            let t = l.token();
            if !t.is_empty() {
                body.disposition = Some((t.to_ascii_uppercase(), l.params()));
            }
        }
        b"content-id" => body.id = Some(f.value()),
        b"content-description" => body.description = Some(f.value()),
        b"content-md5" => body.md5 = Some(f.value()),
        b"content-location" => body.location = Some(f.value()),
        b"content-language" => {
            let v = f.value();
            body.language = v
                .split(|&b| b == b',')
                .map(|t| Lex { s: t, i: 0 }.token().to_ascii_uppercase())
                .filter(|t| !t.is_empty())
                .take(100)
                .collect();
        }
        b"date" => e.date = Some(f.value()),
        b"subject" => e.subject = Some(f.value()),
        b"in-reply-to" => e.in_reply_to = Some(f.value()),
        b"message-id" => e.message_id = Some(f.value()),
        b"from" => address::parse_list(&f.value(), &mut e.from),
        b"sender" => address::parse_list(&f.value(), &mut e.sender),
        b"reply-to" => address::parse_list(&f.value(), &mut e.reply_to),
        b"to" => address::parse_list(&f.value(), &mut e.to),
        b"cc" => address::parse_list(&f.value(), &mut e.cc),
        b"bcc" => address::parse_list(&f.value(), &mut e.bcc),
        _ => {}
    }
}

/// A boundary hit: which enclosing boundary (index into the stack) and whether it closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Hit {
    depth: usize,
    last: bool,
}

fn boundary_hit(line: &[u8], stack: &[Vec<u8>]) -> Option<Hit> {
    let rest = line.strip_prefix(b"--")?;
    stack.iter().enumerate().rev().find_map(|(i, b)| {
        rest.strip_prefix(b.as_slice()).map(|after| Hit {
            depth: i,
            last: after.starts_with(b"--"),
        })
    })
}

/// Scans lines from `pos` until a boundary line or the end; returns where the boundary line
/// starts (or the end) and the hit.
fn scan(msg: &[u8], mut pos: usize, stack: &[Vec<u8>]) -> (usize, Option<Hit>) {
    if stack.is_empty() {
        return (msg.len(), None);
    }
    loop {
        let line = header::line_at(msg, pos);
        if line.is_empty() {
            return (pos, None);
        }
        if let Some(h) = boundary_hit(line, stack) {
            return (pos, Some(h));
        }
        pos += line.len();
    }
}

/// The content end before a boundary line at `at`: the line break before it is not content.
fn trim_break(msg: &[u8], start: usize, at: usize, hit: bool) -> usize {
    if !hit || at <= start {
        return at;
    }
    let mut end = at;
    if msg.get(end - 1) == Some(&b'\n') {
        end -= 1;
        if end > start && msg.get(end - 1) == Some(&b'\r') {
            end -= 1;
        }
    }
    end
}

/// Parses a whole message into its part tree.
pub fn parse_message(msg: &[u8]) -> Body {
    parse(msg, 0, &mut Vec::new(), false, 0).0
}

/// Parses the part whose header starts at `pos`; `stack` holds the enclosing boundaries.
/// Returns the part, the offset where scanning stopped (a boundary line or the end) and
/// the boundary hit there.
fn parse(
    msg: &[u8],
    pos: usize,
    stack: &mut Vec<Vec<u8>>,
    digest: bool,
    depth: usize,
) -> (Body, usize, Option<Hit>) {
    let mut body = Body {
        header_offset: pos,
        ..Body::default()
    };
    let is_b = |l: &[u8]| boundary_hit(l, stack).is_some();
    let (fields, hend, how) = header::split(msg, pos, &is_b);
    let mut ctype = None;
    for f in &fields {
        apply(&mut body, f, &mut ctype);
    }
    let (kind, subtype, params) = ctype.unwrap_or_else(|| default_type(digest));
    body.kind = kind;
    body.subtype = subtype;
    body.params = params;
    body.header_size = hend - pos;
    body.content_offset = hend;

    let (stop, hit) = if how == End::Blank {
        parse_content(msg, &mut body, stack, depth)
    } else {
        let h = boundary_hit(header::line_at(msg, hend), stack);
        (hend, h)
    };
    let end = trim_break(msg, hend, stop, hit.is_some());
    body.content_size = end.saturating_sub(hend);
    let content = msg.get(hend..end.max(hend)).unwrap_or(&[]);
    body.content_lines = content.iter().filter(|&&b| b == b'\n').count();
    if !body.is_multipart() {
        let code = decode::encoding_code(body.encoding.as_deref());
        let dec = decode::transfer_decode(content, code);
        body.content_guid = Guid::of(&dec);
        body.decoded_size = dec.len();
    }
    (body, stop, hit)
}

/// Parses the content of `body` (header already read); returns where it stopped.
fn parse_content(
    msg: &[u8],
    body: &mut Body,
    stack: &mut Vec<Vec<u8>>,
    depth: usize,
) -> (usize, Option<Hit>) {
    let start = body.content_offset;
    let encoded = !matches!(
        decode::encoding_code(body.encoding.as_deref()),
        decode::ENC_NONE
    );
    if depth < MAX_DEPTH && body.is_multipart() {
        let Some(boundary) = body.param(b"BOUNDARY").map(<[u8]>::to_vec) else {
            return scan(msg, start, stack);
        };
        let digest = body.subtype == b"DIGEST";
        stack.push(boundary);
        let me = stack.len() - 1;
        let (mut at, mut hit) = scan(msg, start, stack);
        loop {
            match hit {
                Some(h) if h.depth == me && !h.last => {
                    let next = at + header::line_at(msg, at).len();
                    let (part, stop, h2) = parse(msg, next, stack, digest, depth + 1);
                    if body.parts.len() < 10_000 {
                        body.parts.push(part);
                    }
                    at = stop;
                    hit = h2;
                }
                Some(h) if h.depth == me => {
                    // The closing delimiter: the epilogue runs to an outer boundary.
                    let next = at + header::line_at(msg, at).len();
                    stack.pop();
                    return scan(msg, next, stack);
                }
                _ => {
                    stack.pop();
                    return (at, hit);
                }
            }
        }
    }
    if depth < MAX_DEPTH && body.kind == b"MESSAGE" && body.subtype == b"RFC822" && !encoded {
        let (inner, stop, hit) = parse(msg, start, stack, false, depth + 1);
        body.message = Some(Box::new(inner));
        return (stop, hit);
    }
    scan(msg, start, stack)
}
