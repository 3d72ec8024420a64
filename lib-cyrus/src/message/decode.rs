//! Content-transfer decoding (quoted-printable, base64) and RFC 2047 header decoding into
//! UTF-8, for the content GUIDs and decoded sizes of SECTION and the search forms of the
//! address and subject items. Only the charsets the reference needs are converted (us-ascii,
//! utf-8, iso-8859-1 and its aliases); an encoded word in any other charset is left as it was
//! written, which is where we still differ from Cyrus's ICU-backed conversion.

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

/// Which conversion a charset name needs, or None when we cannot convert it.
fn charset_kind(name: &[u8]) -> Option<bool> {
    let n = name.to_ascii_lowercase();
    // RFC 2231 lets a language follow the charset: `utf-8*en`.
    let n = n.split(|&b| b == b'*').next().unwrap_or(&[]);
    match n {
        b"us-ascii" | b"ascii" | b"utf-8" | b"utf8" => Some(false),
        b"iso-8859-1" | b"iso8859-1" | b"latin1" | b"l1" | b"iso_8859-1" | b"cp819" => Some(true),
        _ => None,
    }
}

/// Converts `s` in charset `name` to UTF-8, or None when the charset is one we lack.
pub fn to_utf8(s: &[u8], name: &[u8]) -> Option<Vec<u8>> {
    let latin1 = charset_kind(name)?;
    if !latin1 {
        return Some(s.to_vec());
    }
    let mut out = Vec::with_capacity(s.len());
    for &b in s {
        let mut tmp = [0u8; 4];
        out.extend_from_slice(char::from(b).encode_utf8(&mut tmp).as_bytes());
    }
    Some(out)
}

/// One RFC 2047 encoded word at the start of `s`: its decoded UTF-8 and its length.
fn encoded_word(s: &[u8]) -> Option<(Vec<u8>, usize)> {
    let rest = s.strip_prefix(b"=?")?;
    let q1 = rest.iter().position(|&b| b == b'?')?;
    let charset = rest.get(..q1)?;
    let enc = *rest.get(q1 + 1)?;
    if rest.get(q1 + 2) != Some(&b'?') {
        return None;
    }
    let text_start = q1 + 3;
    let text_len = rest
        .get(text_start..)?
        .windows(2)
        .position(|w| w == b"?=")?;
    let text = rest.get(text_start..text_start + text_len)?;
    if text.iter().any(|&b| b == b' ' || b == b'\t' || b == b'\n') {
        return None;
    }
    let raw = match enc {
        b'Q' | b'q' => {
            let under: Vec<u8> = text
                .iter()
                .map(|&b| if b == b'_' { b' ' } else { b })
                .collect();
            qp(&under)
        }
        b'B' | b'b' => base64(text, false),
        _ => return None,
    };
    Some((to_utf8(&raw, charset)?, 2 + text_start + text_len + 2))
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
    while i < s.len() {
        if let Some((dec, n)) = s.get(i..).and_then(encoded_word) {
            out.extend_from_slice(&dec);
            i += n;
            let mut j = i;
            while matches!(s.get(j), Some(b' ' | b'\t' | b'\r' | b'\n')) {
                j += 1;
            }
            // Whitespace between two encoded words is not part of the text.
            if j > i && s.get(j..).and_then(encoded_word).is_some() {
                i = j;
            }
            continue;
        }
        if let Some(&b) = s.get(i) {
            out.push(b);
        }
        i += 1;
    }
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
            (b"=?koi8-r?q?x?=", b"=?koi8-r?q?x?="),
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
