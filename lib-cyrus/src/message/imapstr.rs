//! IMAP string output as Cyrus writes it into cache items: a quoted string when every byte is
//! a plain 7-bit character other than `"`, `\`, `%`, CR, LF and NUL and the value is shorter
//! than 1024 bytes, otherwise a `{n}` literal; an absent value is `NIL`.

/// Longest value Cyrus still sends as a quoted string (exclusive).
pub const MAX_QUOTED: usize = 1024;

/// Whether `s` may go out as a quoted string.
pub fn can_quote(s: &[u8]) -> bool {
    s.len() < MAX_QUOTED
        && s.iter()
            .all(|&b| b != 0 && b < 0x80 && !matches!(b, b'\r' | b'\n' | b'"' | b'%' | b'\\'))
}

/// Appends `s` as an IMAP string (quoted or literal).
pub fn string(out: &mut Vec<u8>, s: &[u8]) {
    if can_quote(s) {
        out.push(b'"');
        out.extend_from_slice(s);
        out.push(b'"');
    } else {
        out.extend_from_slice(format!("{{{}}}\r\n", s.len()).as_bytes());
        out.extend_from_slice(s);
    }
}

/// Appends `s` as an IMAP nstring: `NIL` when absent.
pub fn nstring(out: &mut Vec<u8>, s: Option<&[u8]>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"NIL"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_table() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"abc", b"\"abc\""),
            (b"", b"\"\""),
            (b"a%b", b"{3}\r\na%b"),
            (b"a\"b", b"{3}\r\na\"b"),
            (b"a\\b", b"{3}\r\na\\b"),
            ("\u{e9}".as_bytes(), b"{2}\r\n\xc3\xa9"),
            (b"a\r\nb", b"{4}\r\na\r\nb"),
        ];
        for (i, o) in cases {
            let mut v = Vec::new();
            string(&mut v, i);
            assert_eq!(&v, o);
        }
        let long = vec![b'a'; 1024];
        let mut v = Vec::new();
        string(&mut v, &long);
        assert!(v.starts_with(b"{1024}\r\n"));
        let mut v = Vec::new();
        string(&mut v, &long[..1023]);
        assert_eq!(v[0], b'"');
        let mut v = Vec::new();
        nstring(&mut v, None);
        assert_eq!(v, b"NIL");
    }
}
