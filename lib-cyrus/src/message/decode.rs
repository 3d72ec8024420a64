//! Content-transfer decoding (quoted-printable, base64) and RFC 2047 header decoding into
//! UTF-8, for the content GUIDs and decoded sizes of SECTION and the search forms of the
//! address and subject items. We convert us-ascii, utf-8, iso-8859-1 and windows-1252 (and
//! their common aliases); an encoded word in any other charset becomes one U+FFFD, which is
//! what Cyrus writes for charsets it does not know but not for the many ICU converts.

/// Content-Transfer-Encoding codes as SECTION stores them.
pub const ENC_NONE: u16 = 0;
/// Quoted-printable.
pub const ENC_QP: u16 = 1;
/// Base64.
pub const ENC_BASE64: u16 = 2;
/// Base64 with the URL-safe alphabet.
pub const ENC_BASE64URL: u16 = 3;
/// Any other value.
pub const ENC_UNKNOWN: u16 = 255;

/// The SECTION encoding code of a Content-Transfer-Encoding value (absent means none).
pub fn encoding_code(cte: Option<&[u8]>) -> u16 {
    let Some(v) = cte else { return ENC_NONE };
    // Cyrus 3.6 recognises exactly these spellings (upper-cased when parsed); base64url
    // exists as a code but no header value maps to it.
    match v.to_ascii_uppercase().as_slice() {
        b"7BIT" | b"8BIT" | b"BINARY" => ENC_NONE,
        b"QUOTED-PRINTABLE" => ENC_QP,
        b"BASE64" => ENC_BASE64,
        _ => ENC_UNKNOWN,
    }
}

fn hexval(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// Decodes quoted-printable leniently: soft line breaks vanish, `=XX` becomes the byte, and
/// a malformed `=` stays as it is.
pub fn qp(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if b != b'=' {
            out.push(b);
            i += 1;
            continue;
        }
        match (s.get(i + 1), s.get(i + 2)) {
            (Some(b'\r'), Some(b'\n')) => i += 3,
            (Some(b'\n'), _) => i += 2,
            (Some(&h), Some(&l)) if hexval(h).is_some() && hexval(l).is_some() => {
                out.push(hexval(h).unwrap_or(0) << 4 | hexval(l).unwrap_or(0));
                i += 3;
            }
            _ => {
                out.push(b'=');
                i += 1;
            }
        }
    }
    out
}

fn b64val(b: u8, url: bool) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'+' if !url => Some(62),
        b'/' if !url => Some(63),
        b'-' if url => Some(62),
        b'_' if url => Some(63),
        _ => None,
    }
}

/// Decodes base64 leniently: characters outside the alphabet are skipped and `=` ends it.
pub fn base64(s: &[u8], url: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut n = 0;
    for &b in s {
        if b == b'=' {
            break;
        }
        let Some(v) = b64val(b, url) else { continue };
        acc = acc << 6 | u32::from(v);
        n += 1;
        if n == 4 {
            out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]);
            acc = 0;
            n = 0;
        }
    }
    match n {
        2 => out.push((acc >> 4) as u8),
        3 => out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]),
        _ => {}
    }
    out
}

/// The content as the transfer encoding `code` decodes it (unknown encodings: as is).
pub fn transfer_decode(s: &[u8], code: u16) -> std::borrow::Cow<'_, [u8]> {
    match code {
        ENC_QP => qp(s).into(),
        ENC_BASE64 => base64(s, false).into(),
        ENC_BASE64URL => base64(s, true).into(),
        _ => s.into(),
    }
}

/// The conversions we implement.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Charset {
    Ascii,
    Utf8,
    Latin1,
    Windows1252,
}

/// Which conversion a charset name needs, or None when we cannot convert it.
fn charset_kind(name: &[u8]) -> Option<Charset> {
    let n = name.to_ascii_lowercase();
    match n.as_slice() {
        b"us-ascii" | b"ascii" | b"ansi_x3.4-1968" | b"iso646-us" | b"us" => Some(Charset::Ascii),
        b"utf-8" | b"utf8" => Some(Charset::Utf8),
        b"iso-8859-1" | b"iso8859-1" | b"latin1" | b"l1" | b"iso_8859-1" | b"cp819" => {
            Some(Charset::Latin1)
        }
        b"windows-1252" | b"cp1252" => Some(Charset::Windows1252),
        _ => None,
    }
}

/// Windows-1252 0x80..=0x9F (the unassigned bytes map to the C1 controls).
const CP1252_HIGH: [u16; 32] = [
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039,
    0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
];

/// U+FFFD, what Cyrus puts for what it cannot convert.
const REPLACEMENT: &str = "\u{fffd}";

/// Converts `s` in charset `name` to UTF-8, or None when the charset is one we lack.
/// Bytes the charset does not define become U+FFFD.
pub fn to_utf8(s: &[u8], name: &[u8]) -> Option<Vec<u8>> {
    let kind = charset_kind(name)?;
    let mut out = String::with_capacity(s.len());
    match kind {
        Charset::Utf8 => out.push_str(&String::from_utf8_lossy(s)),
        Charset::Ascii => {
            for &b in s {
                if b < 0x80 {
                    out.push(char::from(b));
                } else {
                    out.push_str(REPLACEMENT);
                }
            }
        }
        Charset::Latin1 | Charset::Windows1252 => {
            for &b in s {
                let cp = match (kind, b) {
                    (Charset::Windows1252, 0x80..=0x9f) => CP1252_HIGH
                        .get(usize::from(b - 0x80))
                        .copied()
                        .unwrap_or(0xfffd),
                    _ => u16::from(b),
                };
                out.push(char::from_u32(u32::from(cp)).unwrap_or('\u{fffd}'));
            }
        }
    }
    Some(out.into_bytes())
}

/// One RFC 2047 encoded word at the start of `s`: its charset, encoding letter, text and
/// length, by Cyrus's rules (the charset may carry an RFC 2231 `*language`; the text ends at
/// the first `?=`, and a nested `=?` voids the word).
fn encoded_word(s: &[u8]) -> Option<(&[u8], u8, &[u8], usize)> {
    let rest = s.strip_prefix(b"=?")?;
    let q1 = rest.iter().position(|&b| b == b'?' || b == b'=')?;
    if rest.get(q1) != Some(&b'?') {
        return None;
    }
    let name = rest.get(..q1)?;
    let charset = name.split(|&b| b == b'*').next().unwrap_or(&[]);
    let enc = *rest.get(q1 + 1)?;
    if !matches!(enc, b'b' | b'B' | b'q' | b'Q') || rest.get(q1 + 2) != Some(&b'?') {
        return None;
    }
    let text_start = q1 + 3;
    let body = rest.get(text_start..)?;
    let mut j = 0;
    while let Some(&c) = body.get(j) {
        if c == b'?' {
            break;
        }
        if c == b'=' && body.get(j + 1) == Some(&b'?') && body.get(j + 2) != Some(&b'=') {
            return None;
        }
        j += 1;
    }
    if body.get(j..j + 2) != Some(b"?=") {
        return None;
    }
    Some((charset, enc, body.get(..j)?, 2 + text_start + j + 2))
}

/// The UTF-8 of one encoded word's text (U+FFFD for a charset we cannot convert).
fn decode_word(charset: &[u8], enc: u8, text: &[u8]) -> Vec<u8> {
    let raw = if enc == b'Q' || enc == b'q' {
        let under: Vec<u8> = text
            .iter()
            .map(|&b| if b == b'_' { b' ' } else { b })
            .collect();
        qp(&under)
    } else {
        base64(text, false)
    };
    to_utf8(&raw, charset).unwrap_or_else(|| REPLACEMENT.as_bytes().to_vec())
}

/// Decodes the RFC 2047 encoded words of a header value into UTF-8; whitespace between two
/// encoded words is dropped, everything else is kept as written. Cyrus returns a C string,
/// so a decoded NUL ends the result.
pub fn mime_header(s: &[u8]) -> Vec<u8> {
    let mut out = mime_header_all(s);
    if let Some(nul) = out.iter().position(|&b| b == 0) {
        out.truncate(nul);
    }
    out
}

fn mime_header_all(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    // Text since the last encoded word; dropped when it is only whitespace between two words.
    let mut pending_from = 0;
    let mut after_word = false;
    while i < s.len() {
        if s.get(i..i + 2) == Some(b"=?") {
            if let Some((charset, enc, text, n)) = s.get(i..).and_then(encoded_word) {
                let between = s.get(pending_from..i).unwrap_or(&[]);
                let only_space = between
                    .iter()
                    .all(|&b| matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c));
                if !(after_word && only_space) {
                    out.extend_from_slice(between);
                }
                out.extend_from_slice(&decode_word(charset, enc, text));
                i += n;
                pending_from = i;
                after_word = true;
                continue;
            }
        }
        i += 1;
    }
    out.extend_from_slice(s.get(pending_from..).unwrap_or(&[]));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qp_table() {
        assert_eq!(qp(b"caf=E9=\r\nx"), b"caf\xe9x");
        assert_eq!(qp(b"a=\nb"), b"ab");
        assert_eq!(qp(b"a=zz"), b"a=zz");
        assert_eq!(qp(b"a="), b"a=");
        assert_eq!(qp(b"=3d=3D"), b"==");
    }

    #[test]
    fn base64_table() {
        assert_eq!(base64(b"aGVsbG8=", false), b"hello");
        assert_eq!(base64(b"aGVs\r\nbG8", false), b"hello");
        assert_eq!(base64(b"Zm9vYg", false), b"foob");
        assert_eq!(base64(b"-_-_", true), base64(b"+/+/", false));
        assert_eq!(base64(b"!!", false), b"");
    }

    #[test]
    fn rfc2047_table() {
        let cases: &[(&[u8], &[u8])] = &[
            (
                b"=?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=",
                "Grüße aus Köln".as_bytes(),
            ),
            (
                b"=?ISO-8859-1?Q?Caf=E9_cr=E8me?= and =?UTF-8?B?0L/RgNC40LLQtdGC?=",
                "Café crème and привет".as_bytes(),
            ),
            (b"=?utf-8?q?a?= =?utf-8?q?b?=", b"ab"),
            (b"=?utf-8?q?a?=  x", b"a  x"),
            (b"plain", b"plain"),
            (b"=?koi8-r?q?x?=", "\u{fffd}".as_bytes()),
            (b"=?windows-1252?q?=80?=", "\u{20ac}".as_bytes()),
            (b"=?us-ascii?q?=E9?=", "\u{fffd}".as_bytes()),
            (b"=?utf-8?q?a=3F?=b?=", b"a?b?="),
            (b"=?utf-8?q?=?= =?utf-8?q?x?=", b"=x"),
            (b"=?utf-8?q?a=?b?=", b"=?utf-8?q?a=?b?="),
            (b"=?utf-8?x?y?=", b"=?utf-8?x?y?="),
            (b"=?utf-8*en?q?hi?=", b"hi"),
            (b"=?", b"=?"),
            (b"a=?utf-8?q?b=00c?=d", b"ab"),
        ];
        for (i, o) in cases {
            assert_eq!(mime_header(i), *o, "{:?}", String::from_utf8_lossy(i));
        }
    }
}
