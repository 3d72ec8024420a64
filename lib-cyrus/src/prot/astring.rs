//! IMAP atoms, quoted strings and literals (RFC 3501 §4.3), read and written as Cyrus's
//! `prot` layer does.
//!
//! Writing picks the plainest form that carries the bytes: an atom when every byte may stand in
//! one (and the word is not `NIL`), a quoted string when no byte needs escaping and the string
//! is at most 1024 bytes, else a literal. Reading accepts all three on the client side (no `+`
//! continuation is sent). Reading is bounded: a literal larger than the caller's limit is an
//! error, never an allocation.

use std::io::{self, BufRead, Write};

/// Longest string Cyrus sends quoted; longer ones go as literals.
pub const MAX_QUOTED: usize = 1024;

/// Whether `b` may appear in an IMAP atom.
pub fn is_atom_char(b: u8) -> bool {
    !(b <= 0x20 || b >= 0x7f || matches!(b, b'(' | b')' | b'{' | b'"' | b'%' | b'*' | b'\\' | b']'))
}

/// Whether `s` can be sent as an atom.
pub fn is_atom(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_atom_char(b)) && !s.eq_ignore_ascii_case(b"NIL")
}

/// Whether `s` can be sent as a quoted string without escapes.
fn is_quotable(s: &[u8]) -> bool {
    s.len() <= MAX_QUOTED
        && s.iter()
            .all(|&b| b != 0 && b != b'\r' && b != b'\n' && b < 0x80 && b != b'"' && b != b'\\')
}

/// Writes `s` as an atom, a quoted string or a literal, whichever fits first.
pub fn write_astring(out: &mut dyn Write, s: &[u8]) -> io::Result<()> {
    if is_atom(s) {
        out.write_all(s)
    } else {
        write_string(out, s)
    }
}

/// Writes `s` as a quoted string, or as a literal if it cannot be quoted.
pub fn write_string(out: &mut dyn Write, s: &[u8]) -> io::Result<()> {
    if is_quotable(s) {
        out.write_all(b"\"")?;
        out.write_all(s)?;
        out.write_all(b"\"")
    } else {
        write!(out, "{{{}}}\r\n", s.len())?;
        out.write_all(s)
    }
}

/// Why a word could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// The stream failed.
    Io(io::Error),
    /// The bytes do not form a word (unterminated quote, bad literal header, ...).
    Syntax(&'static str),
    /// A literal announced more bytes than allowed.
    TooLong,
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

fn next_byte(input: &mut dyn BufRead) -> io::Result<Option<u8>> {
    let buf = input.fill_buf()?;
    let Some(&b) = buf.first() else {
        return Ok(None);
    };
    input.consume(1);
    Ok(Some(b))
}

fn peek_byte(input: &mut dyn BufRead) -> io::Result<Option<u8>> {
    Ok(input.fill_buf()?.first().copied())
}

/// Reads an atom-like word up to (not including) a space, CR or LF, and returns it with the
/// byte that ended it (`None` at end of input).
pub fn read_word(input: &mut dyn BufRead, max: usize) -> Result<(Vec<u8>, Option<u8>), ReadError> {
    let mut word = Vec::new();
    loop {
        // Scan what is buffered in one go rather than byte by byte: batch input is mostly words.
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Ok((word, None));
        }
        let end = buf.iter().position(|&b| matches!(b, b' ' | b'\r' | b'\n'));
        let take = end.unwrap_or(buf.len());
        if word.len() + take > max {
            return Err(ReadError::TooLong);
        }
        word.extend_from_slice(&buf[..take]);
        match end {
            Some(i) => {
                let stop = buf[i];
                input.consume(i + 1);
                return Ok((word, Some(stop)));
            }
            None => input.consume(take),
        }
    }
}

/// Reads an astring (atom, quoted string or literal) and the byte that follows it.
pub fn read_astring(
    input: &mut dyn BufRead,
    max: usize,
) -> Result<(Vec<u8>, Option<u8>), ReadError> {
    match peek_byte(input)? {
        Some(b'"') => {
            input.consume(1);
            let mut s = Vec::new();
            loop {
                match next_byte(input)? {
                    None | Some(b'\r') | Some(b'\n') => {
                        return Err(ReadError::Syntax("unterminated quoted string"))
                    }
                    Some(b'"') => break,
                    Some(b'\\') => match next_byte(input)? {
                        Some(c @ (b'"' | b'\\')) => s.push(c),
                        _ => return Err(ReadError::Syntax("bad escape in quoted string")),
                    },
                    Some(c) => s.push(c),
                }
                if s.len() > max {
                    return Err(ReadError::TooLong);
                }
            }
            Ok((s, next_byte(input)?))
        }
        Some(b'{') => {
            input.consume(1);
            let mut n: usize = 0;
            let mut digits = 0;
            loop {
                match next_byte(input)? {
                    Some(d @ b'0'..=b'9') => {
                        n = n
                            .checked_mul(10)
                            .and_then(|n| n.checked_add((d - b'0') as usize))
                            .ok_or(ReadError::TooLong)?;
                        digits += 1;
                    }
                    Some(b'+') => {}
                    Some(b'}') if digits > 0 => break,
                    _ => return Err(ReadError::Syntax("bad literal header")),
                }
            }
            if n > max {
                return Err(ReadError::TooLong);
            }
            match next_byte(input)? {
                Some(b'\r') if next_byte(input)? == Some(b'\n') => {}
                Some(b'\n') => {}
                _ => return Err(ReadError::Syntax("literal header not followed by CRLF")),
            }
            let mut s = vec![0u8; n];
            input.read_exact(&mut s)?;
            Ok((s, next_byte(input)?))
        }
        _ => read_word(input, max),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(s: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        write_astring(&mut v, s).unwrap();
        v
    }

    #[test]
    fn writes_the_plainest_form() {
        assert_eq!(out(b"k1"), b"k1");
        assert_eq!(out(b"v 2"), b"\"v 2\"");
        assert_eq!(out(b""), b"\"\"");
        assert_eq!(out(b"nil"), b"\"nil\"");
        assert_eq!(out(b"a\"b"), b"{3}\r\na\"b");
        assert_eq!(out(b"\x01\n"), b"{2}\r\n\x01\n");
        assert_eq!(out(&[b' '; 1025]).len(), 1025 + 8);
        assert_eq!(out(&[b' '; 1024]).len(), 1024 + 2);
    }

    #[test]
    fn reads_all_three_forms() {
        let mut input: &[u8] = b"SET {3}\r\na\tb \"v \\\"2\\\"\" atom\n";
        assert_eq!(
            read_word(&mut input, 64).unwrap(),
            (b"SET".to_vec(), Some(b' '))
        );
        assert_eq!(
            read_astring(&mut input, 64).unwrap(),
            (b"a\tb".to_vec(), Some(b' '))
        );
        assert_eq!(
            read_astring(&mut input, 64).unwrap(),
            (b"v \"2\"".to_vec(), Some(b' '))
        );
        assert_eq!(
            read_astring(&mut input, 64).unwrap(),
            (b"atom".to_vec(), Some(b'\n'))
        );
        assert_eq!(read_word(&mut input, 64).unwrap(), (Vec::new(), None));
    }

    #[test]
    fn refuses_oversized_and_broken_input() {
        let mut input: &[u8] = b"{99999999999999999999999}\r\n";
        assert!(matches!(
            read_astring(&mut input, 64),
            Err(ReadError::TooLong)
        ));
        let mut input: &[u8] = b"{100}\r\nshort";
        assert!(matches!(
            read_astring(&mut input, 64),
            Err(ReadError::TooLong)
        ));
        let mut input: &[u8] = b"{5}\r\nab";
        assert!(matches!(
            read_astring(&mut input, 64),
            Err(ReadError::Io(_))
        ));
        let mut input: &[u8] = b"\"open";
        assert!(matches!(
            read_astring(&mut input, 64),
            Err(ReadError::Syntax(_))
        ));
    }
}
