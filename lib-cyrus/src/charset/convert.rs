//! Charset names to decoders, and decoding to UTF-8. Cyrus hands names to ICU; we use
//! encoding_rs for the WHATWG set (which covers what mail uses) and hand code what WHATWG
//! defines differently or not at all: US-ASCII, ISO-8859-1 as the real Latin-1 (WHATWG reads
//! it as windows-1252), UTF-7, and UTF-16/UTF-32 with a byte order mark.

use super::utf7;
use encoding_rs::Encoding;

/// A charset we can decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Charset(Kind);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Ascii,
    Utf8,
    Latin1,
    Utf7,
    /// UTF-16 or UTF-32 (`wide` 4), byte order from a BOM, else big-endian (RFC 2781).
    Bom {
        wide: usize,
    },
    Utf32 {
        le: bool,
    },
    Whatwg(&'static Encoding),
}

impl Charset {
    /// US-ASCII: bytes above 0x7F are invalid.
    pub const US_ASCII: Charset = Charset(Kind::Ascii);
    /// UTF-8.
    pub const UTF8: Charset = Charset(Kind::Utf8);
    /// ISO-8859-1, every byte its own code point.
    pub const LATIN1: Charset = Charset(Kind::Latin1);

    /// The charset a MIME or IMAP name (any case, surrounding blanks ignored) stands for, or
    /// None when we cannot decode it.
    pub fn lookup(name: &[u8]) -> Option<Charset> {
        let n = name.trim_ascii().to_ascii_lowercase();
        let kind = match n.as_slice() {
            b"us-ascii" | b"ascii" | b"us" | b"ansi_x3.4-1968" | b"ansi_x3.4-1986"
            | b"iso646-us" | b"iso-ir-6" | b"ibm367" | b"cp367" | b"csascii" | b"646" => {
                Kind::Ascii
            }
            b"utf-8" | b"utf8" | b"unicode-1-1-utf-8" | b"unicode-2-0-utf-8"
            | b"x-unicode20utf8" => Kind::Utf8,
            b"iso-8859-1" | b"iso8859-1" | b"iso_8859-1" | b"iso_8859-1:1987" | b"latin1"
            | b"l1" | b"cp819" | b"ibm819" | b"iso-ir-100" | b"csisolatin1" | b"iso88591" => {
                Kind::Latin1
            }
            b"utf-7" | b"utf7" | b"unicode-1-1-utf-7" | b"csunicode11utf7" => Kind::Utf7,
            b"utf-16" | b"utf16" | b"unicode" | b"ucs-2" | b"iso-10646-ucs-2" => {
                Kind::Bom { wide: 2 }
            }
            b"utf-32" | b"utf32" | b"ucs-4" | b"iso-10646-ucs-4" => Kind::Bom { wide: 4 },
            b"utf-32be" => Kind::Utf32 { le: false },
            b"utf-32le" => Kind::Utf32 { le: true },
            _ => {
                let e = Encoding::for_label_no_replacement(&n)?;
                // x-user-defined is a browser artefact, not a charset mail can be in.
                if e == encoding_rs::X_USER_DEFINED {
                    return None;
                }
                Kind::Whatwg(e)
            }
        };
        Some(Charset(kind))
    }

    /// Whether this is UTF-8 or US-ASCII, the charsets Cyrus 3.6 searches message bodies in.
    pub fn is_utf8_or_ascii(self) -> bool {
        matches!(self.0, Kind::Ascii | Kind::Utf8)
    }

    /// The charset's canonical name.
    pub fn name(self) -> &'static str {
        match self.0 {
            Kind::Ascii => "US-ASCII",
            Kind::Utf8 => "UTF-8",
            Kind::Latin1 => "ISO-8859-1",
            Kind::Utf7 => "UTF-7",
            Kind::Bom { wide: 4 } => "UTF-32",
            Kind::Bom { .. } => "UTF-16",
            Kind::Utf32 { le: false } => "UTF-32BE",
            Kind::Utf32 { le: true } => "UTF-32LE",
            Kind::Whatwg(e) => e.name(),
        }
    }

    /// Decodes `s`; what the charset does not define becomes U+FFFD.
    pub fn decode(self, s: &[u8]) -> String {
        let mut out = String::with_capacity(s.len());
        self.decode_into(s, &mut out);
        out
    }

    /// Decodes `s`, appending to `out`.
    pub fn decode_into(self, s: &[u8], out: &mut String) {
        match self.0 {
            Kind::Ascii => out.extend(s.iter().map(|&b| {
                if b < 0x80 {
                    char::from(b)
                } else {
                    char::REPLACEMENT_CHARACTER
                }
            })),
            Kind::Utf8 => out.push_str(&String::from_utf8_lossy(s)),
            Kind::Latin1 => out.extend(s.iter().map(|&b| char::from(b))),
            Kind::Utf7 => utf7::decode_into(s, out),
            Kind::Bom { wide } => {
                let (le, rest) = match (wide, s) {
                    (2, [0xff, 0xfe, rest @ ..]) => (true, rest),
                    (2, [0xfe, 0xff, rest @ ..]) => (false, rest),
                    (4, [0xff, 0xfe, 0, 0, rest @ ..]) => (true, rest),
                    (4, [0, 0, 0xfe, 0xff, rest @ ..]) => (false, rest),
                    _ => (false, s),
                };
                if wide == 2 {
                    utf16(rest, le, out);
                } else {
                    utf32(rest, le, out);
                }
            }
            Kind::Utf32 { le } => utf32(s, le, out),
            Kind::Whatwg(e) => out.push_str(&e.decode_without_bom_handling(s).0),
        }
    }
}

fn utf16(s: &[u8], le: bool, out: &mut String) {
    let units = s.chunks(2).map(|c| match *c {
        [a, b] if le => u16::from_le_bytes([a, b]),
        [a, b] => u16::from_be_bytes([a, b]),
        // An odd byte at the end cannot be a code unit; a lone surrogate decodes to U+FFFD.
        _ => 0xd800,
    });
    out.extend(char::decode_utf16(units).map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER)));
}

fn utf32(s: &[u8], le: bool, out: &mut String) {
    out.extend(s.chunks(4).map(|c| {
        let v = match *c {
            [a, b, c, d] if le => u32::from_le_bytes([a, b, c, d]),
            [a, b, c, d] => u32::from_be_bytes([a, b, c, d]),
            _ => u32::MAX,
        };
        char::from_u32(v).unwrap_or(char::REPLACEMENT_CHARACTER)
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_table() {
        let cases: &[(&str, &[u8], &str)] = &[
            ("us-ascii", b"plain", "plain"),
            ("US-ASCII", b"caf\xe9", "caf\u{fffd}"),
            ("utf-8", "Grüße".as_bytes(), "Grüße"),
            ("UTF8", b"a\xffb", "a\u{fffd}b"),
            ("iso-8859-1", b"caf\xe9 \x80", "café \u{80}"),
            ("Latin1", b"\xe9", "é"),
            ("windows-1252", b"\x80", "€"),
            ("cp1252", b"\x93x\x94", "\u{201c}x\u{201d}"),
            ("iso-8859-15", b"\xa4", "€"),
            ("iso-8859-2", b"\xb1", "ą"),
            ("koi8-r", b"\xf0\xd2\xc9\xd7\xc5\xd4", "Привет"),
            ("windows-1251", b"\xcf\xf0\xe8", "При"),
            ("shift_jis", b"\x93\xfa\x96\x7b", "日本"),
            ("iso-2022-jp", b"\x1b$BF|K\\\x1b(B", "日本"),
            ("euc-kr", b"\xc7\xd1", "한"),
            ("gb2312", b"\xd6\xd0", "中"),
            ("big5", b"\xa4\xa4", "中"),
            ("utf-7", b"+AOk-t+AOk-", "été"),
            ("utf-16", b"\xfe\xff\x00A", "A"),
            ("utf-16", b"\xff\xfeA\x00", "A"),
            ("utf-16", b"\x00A\x00", "A\u{fffd}"),
            ("utf-16le", b"A\x00", "A"),
            ("utf-16be", b"\x00A", "A"),
            ("utf-32", b"\x00\x00\x00A", "A"),
            ("utf-32le", b"A\x00\x00\x00\xff\xff\xff\xff", "A\u{fffd}"),
        ];
        for (name, input, want) in cases {
            let cs = Charset::lookup(name.as_bytes()).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(cs.decode(input), *want, "{name}");
        }
    }

    #[test]
    fn lookup_table() {
        let cases: &[(&str, Option<&str>)] = &[
            ("utf-8", Some("UTF-8")),
            (" UTF-8 ", Some("UTF-8")),
            ("us-ascii", Some("US-ASCII")),
            ("ISO-8859-1", Some("ISO-8859-1")),
            ("latin2", Some("ISO-8859-2")),
            ("ks_c_5601-1987", Some("EUC-KR")),
            ("x-unknown", None),
            ("", None),
            ("iso-2022-kr", None),
            ("x-user-defined", None),
            ("utf-7", Some("UTF-7")),
        ];
        for (name, want) in cases {
            assert_eq!(
                Charset::lookup(name.as_bytes()).map(Charset::name),
                *want,
                "{name}"
            );
        }
        assert!(Charset::UTF8.is_utf8_or_ascii());
        assert!(!Charset::LATIN1.is_utf8_or_ascii());
    }
}
