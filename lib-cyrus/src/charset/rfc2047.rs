//! RFC 2047 encoded words in header values, decoded to UTF-8 the way Cyrus reads them: the
//! charset may carry an RFC 2231 `*language`, an encoded word's text ends at the first `?=`,
//! a `=?` inside it voids the word (it stays as written), whitespace between two adjacent
//! encoded words vanishes, and a charset we cannot decode gives one U+FFFD. Text outside
//! encoded words is read in a charset the caller picks: UTF-8 for most uses (raw 8-bit
//! headers are UTF-8 in practice, RFC 6532), US-ASCII where Cyrus 3.6 search is matched.

use super::convert::Charset;
use super::transfer;

/// One encoded word at the start of `s`: (charset, encoding letter, encoded text, length).
fn encoded_word(s: &[u8]) -> Option<(&[u8], u8, &[u8], usize)> {
    let rest = s.strip_prefix(b"=?")?;
    let q1 = rest.iter().position(|&b| b == b'?' || b == b'=')?;
    if rest.get(q1) != Some(&b'?') {
        return None;
    }
    let name = rest.get(..q1)?;
    let charset = name.split(|&b| b == b'*').next().unwrap_or_default();
    let enc = *rest.get(q1 + 1)?;
    if !matches!(enc, b'b' | b'B' | b'q' | b'Q') || rest.get(q1 + 2) != Some(&b'?') {
        return None;
    }
    let body = rest.get(q1 + 3..)?;
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
    Some((charset, enc, body.get(..j)?, 2 + q1 + 3 + j + 2))
}

/// Appends the decoded text of one encoded word.
fn decode_word(charset: &[u8], enc: u8, text: &[u8], out: &mut String) {
    let raw = if enc.eq_ignore_ascii_case(&b'q') {
        let under: Vec<u8> = text
            .iter()
            .map(|&b| if b == b'_' { b' ' } else { b })
            .collect();
        transfer::quoted_printable(&under)
    } else {
        transfer::base64(text, false)
    };
    match Charset::lookup(charset) {
        Some(cs) => cs.decode_into(&raw, out),
        None => out.push(char::REPLACEMENT_CHARACTER),
    }
}

fn is_lwsp(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c)
}

/// Decodes the encoded words of a header value (or of a whole header block) to UTF-8, raw
/// 8-bit text outside them read as UTF-8.
pub fn decode(s: &[u8]) -> String {
    decode_with(s, Charset::UTF8)
}

/// Like [`decode`], reading text outside encoded words in `raw` (Cyrus 3.6 search reads it
/// as US-ASCII, so raw 8-bit bytes match nothing).
pub fn decode_with(s: &[u8], raw: Charset) -> String {
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    // Start of the text not yet copied, and whether an encoded word ended right there.
    let (mut plain_from, mut after_word) = (0, false);
    while i < s.len() {
        if s.get(i..i + 2) == Some(b"=?") {
            if let Some((charset, enc, text, n)) = s.get(i..).and_then(encoded_word) {
                let between = s.get(plain_from..i).unwrap_or_default();
                if !(after_word && between.iter().all(|&b| is_lwsp(b))) {
                    raw.decode_into(between, &mut out);
                }
                decode_word(charset, enc, text, &mut out);
                i += n;
                (plain_from, after_word) = (i, true);
                continue;
            }
        }
        i += 1;
    }
    raw.decode_into(s.get(plain_from..).unwrap_or_default(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2047_table() {
        let cases: &[(&[u8], &str)] = &[
            (b"=?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=", "Grüße aus Köln"),
            (
                b"=?ISO-8859-1?Q?Caf=E9_cr=E8me?= and =?UTF-8?B?0L/RgNC40LLQtdGC?=",
                "Café crème and привет",
            ),
            (b"=?utf-8?q?a?= =?utf-8?q?b?=", "ab"),
            (b"=?utf-8?q?a?=\r\n =?utf-8?q?b?=", "ab"),
            (b"=?utf-8?q?a?=  x", "a  x"),
            (b"x =?utf-8?q?a?=", "x a"),
            (b"plain", "plain"),
            (b"raw caf\xc3\xa9", "raw café"),
            (b"raw \xff", "raw \u{fffd}"),
            (b"=?x-unknown?q?x?=", "\u{fffd}"),
            (b"=?koi8-r?b?8NLJ18XU?=", "Привет"),
            (b"=?windows-1252?q?=80?=", "€"),
            (b"=?us-ascii?q?=E9?=", "\u{fffd}"),
            (b"=?utf-8?q?a=3F?=b?=", "a?b?="),
            (b"=?utf-8?q?a=?b?=", "=?utf-8?q?a=?b?="),
            (b"=?utf-8?x?y?=", "=?utf-8?x?y?="),
            (b"=?utf-8*en?q?hi?=", "hi"),
            (b"=?utf-8?B?", "=?utf-8?B?"),
            (b"=?", "=?"),
            (b"", ""),
            (b"=?utf-7?q?+AOk-?=", "é"),
        ];
        for (i, o) in cases {
            assert_eq!(decode(i), *o, "{:?}", String::from_utf8_lossy(i));
        }
        let cases: &[(&[u8], &str)] = &[
            (
                b"caf\xc3\xa9 =?utf-8?q?caf=C3=A9?=",
                "caf\u{fffd}\u{fffd} café",
            ),
            (
                b"=?utf-8?q?caf=C3=A9?= caf\xc3\xa9",
                "café caf\u{fffd}\u{fffd}",
            ),
            (b"caf\xc3\xa9", "caf\u{fffd}\u{fffd}"),
        ];
        for (i, o) in cases {
            assert_eq!(decode_with(i, Charset::US_ASCII), *o);
        }
    }
}
