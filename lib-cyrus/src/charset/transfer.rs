//! Content-Transfer-Encoding decoding: quoted-printable and base64, both as lenient as Cyrus
//! is, because mail in the wild breaks both rules and a search must still see its text.
//! Malformed input is never an error: it decodes to what can be recovered.

use std::borrow::Cow;

/// A Content-Transfer-Encoding, with the codes cyrus.cache's SECTION item stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// `7bit`, `8bit`, `binary` or no header at all: the bytes are the content.
    Identity,
    /// `quoted-printable`.
    QuotedPrintable,
    /// `base64`.
    Base64,
    /// Base64 with the URL-safe alphabet (a SECTION code no header value produces).
    Base64Url,
    /// Anything else (`x-uuencode`, typos): Cyrus does not decode it.
    Unknown,
}

impl Encoding {
    /// The encoding a Content-Transfer-Encoding value names (absent means identity).
    pub fn from_header(value: Option<&[u8]>) -> Encoding {
        let Some(v) = value else {
            return Encoding::Identity;
        };
        match v.trim_ascii().to_ascii_lowercase().as_slice() {
            b"7bit" | b"8bit" | b"binary" | b"" => Encoding::Identity,
            b"quoted-printable" => Encoding::QuotedPrintable,
            b"base64" => Encoding::Base64,
            _ => Encoding::Unknown,
        }
    }

    /// The encoding of a SECTION code (0 none, 1 QP, 2 base64, 3 base64url, else unknown).
    pub fn from_code(code: u16) -> Encoding {
        match code {
            0 => Encoding::Identity,
            1 => Encoding::QuotedPrintable,
            2 => Encoding::Base64,
            3 => Encoding::Base64Url,
            _ => Encoding::Unknown,
        }
    }

    /// Decodes `s`; identity and unknown encodings give the bytes back unchanged.
    pub fn decode(self, s: &[u8]) -> Cow<'_, [u8]> {
        match self {
            Encoding::QuotedPrintable => Cow::Owned(quoted_printable(s)),
            Encoding::Base64 => Cow::Owned(base64(s, false)),
            Encoding::Base64Url => Cow::Owned(base64(s, true)),
            Encoding::Identity | Encoding::Unknown => Cow::Borrowed(s),
        }
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// Decodes quoted-printable: `=XX` (either case) is the byte, `=` before a line break (with
/// trailing blanks between) is a soft break, and any other `=` stays as written.
pub fn quoted_printable(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        i += 1;
        if b != b'=' {
            out.push(b);
            continue;
        }
        if let (Some(h), Some(l)) = (
            s.get(i).and_then(|&c| hex(c)),
            s.get(i + 1).and_then(|&c| hex(c)),
        ) {
            out.push(h << 4 | l);
            i += 2;
            continue;
        }
        // A soft line break, possibly with blanks an MTA left before the line end.
        let mut j = i;
        while matches!(s.get(j), Some(b' ' | b'\t')) {
            j += 1;
        }
        match (s.get(j), s.get(j + 1)) {
            (Some(b'\r'), Some(b'\n')) => i = j + 2,
            (Some(b'\n'), _) => i = j + 1,
            (None, _) => i = j,
            _ => out.push(b'='),
        }
    }
    out
}

fn b64(b: u8, url: bool) -> Option<u32> {
    let v = match b {
        b'A'..=b'Z' => b - b'A',
        b'a'..=b'z' => b - b'a' + 26,
        b'0'..=b'9' => b - b'0' + 52,
        b'+' if !url => 62,
        b'/' if !url => 63,
        b'-' if url => 62,
        b'_' if url => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// Decodes base64: bytes outside the alphabet (line breaks, junk) are skipped, `=` ends the
/// data, and a trailing partial group yields the whole bytes it holds.
pub fn base64(s: &[u8], url: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3 + 2);
    let (mut acc, mut n) = (0u32, 0);
    for &b in s {
        if b == b'=' {
            break;
        }
        let Some(v) = b64(b, url) else { continue };
        acc = acc << 6 | v;
        n += 1;
        if n == 4 {
            out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]);
            (acc, n) = (0, 0);
        }
    }
    match n {
        2 => out.push((acc >> 4) as u8),
        3 => out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]),
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_printable_table() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"caf=E9", b"caf\xe9"),
            (b"caf=e9", b"caf\xe9"),
            (b"a=\r\nb", b"ab"),
            (b"a=\nb", b"ab"),
            (b"a=  \r\nb", b"ab"),
            (b"a=", b"a"),
            (b"a=zz", b"a=zz"),
            (b"a=4", b"a=4"),
            (b"=3D=3d", b"=="),
            (b"x = y", b"x = y"),
            (b"", b""),
        ];
        for (i, o) in cases {
            assert_eq!(quoted_printable(i), *o, "{:?}", String::from_utf8_lossy(i));
        }
    }

    #[test]
    fn base64_table() {
        let cases: &[(&[u8], bool, &[u8])] = &[
            (b"aGVsbG8=", false, b"hello"),
            (b"aGVs\r\nbG8", false, b"hello"),
            (b"Zm9vYg", false, b"foob"),
            (b"Zm9vYmE", false, b"fooba"),
            (b"Zg", false, b"f"),
            (b"Z", false, b""),
            (b"!!", false, b""),
            (b"-_-_", true, b"\xfb\xff\xbf"),
            (b"+/+/", false, b"\xfb\xff\xbf"),
            (b"aGVs=bG8", false, b"hel"),
        ];
        for (i, url, o) in cases {
            assert_eq!(base64(i, *url), *o, "{:?}", String::from_utf8_lossy(i));
        }
    }

    #[test]
    fn encoding_names_and_codes() {
        let cases: &[(Option<&[u8]>, Encoding)] = &[
            (None, Encoding::Identity),
            (Some(b"7BIT"), Encoding::Identity),
            (Some(b" 8bit "), Encoding::Identity),
            (Some(b"Binary"), Encoding::Identity),
            (Some(b"Quoted-Printable"), Encoding::QuotedPrintable),
            (Some(b"BASE64"), Encoding::Base64),
            (Some(b"x-uuencode"), Encoding::Unknown),
        ];
        for (v, e) in cases {
            assert_eq!(Encoding::from_header(*v), *e, "{v:?}");
        }
        for (code, e) in [
            (0, Encoding::Identity),
            (1, Encoding::QuotedPrintable),
            (2, Encoding::Base64),
            (3, Encoding::Base64Url),
            (255, Encoding::Unknown),
            (0xffff, Encoding::Unknown),
        ] {
            assert_eq!(Encoding::from_code(code), e);
        }
        assert_eq!(&*Encoding::Unknown.decode(b"=E9"), b"=E9");
        assert_eq!(&*Encoding::QuotedPrintable.decode(b"=E9"), b"\xe9");
    }
}
