//! The string forms FETCH data goes out in, as Cyrus 3.6 writes them: message bytes as a
//! `{n}` literal (a `~{n}` literal8 when they hold a NUL), `""` when a range is empty or lies
//! past the end of the file, and astrings for the header names echoed in `HEADER.FIELDS`.

/// Applies a `<start.count>` partial to a range of `size` octets: the octets skipped and the
/// octets sent. A count of 0 means no partial (Cyrus reads it so; the parser refuses it).
pub fn partial_range(size: u64, partial: Option<(u32, u32)>) -> (u64, u64) {
    match partial {
        Some((start, count)) if count > 0 => {
            let start = u64::from(start);
            (start, size.saturating_sub(start).min(u64::from(count)))
        }
        _ => (0, size),
    }
}

/// The most spaces we pad a literal with when the file is shorter than its range.
pub const MAX_PAD: u64 = 1 << 20;

/// Writes `size` octets of `msg` from `offset`, cut by `partial`, as Cyrus's message data:
/// a literal, or `""` when there is nothing to send. If the file is shorter than the range
/// claims, the literal keeps its announced length and is padded with spaces, so the client
/// stays in step (Cyrus does the same) -- unless the shortfall exceeds [`MAX_PAD`]: then the
/// index or cache is damaged beyond a few bytes and the literal is cut to what the file
/// holds, so bad data cannot make us send gigabytes of spaces.
pub fn message_data(
    out: &mut Vec<u8>,
    msg: &[u8],
    offset: u64,
    size: u64,
    partial: Option<(u32, u32)>,
) {
    let (skip, size) = partial_range(size, partial);
    if size == 0 {
        out.extend_from_slice(b"\"\"");
        return;
    }
    let from = offset.saturating_add(skip);
    let len = msg.len() as u64;
    if from >= len {
        out.extend_from_slice(b"\"\"");
        return;
    }
    let have = size.min(len - from);
    let size = if size - have > MAX_PAD { have } else { size };
    // Both bounds are within `msg`, whose length fits in usize.
    let data = msg
        .get(from as usize..(from + have) as usize)
        .unwrap_or_default();
    if data.contains(&0) {
        out.push(b'~');
    }
    out.extend_from_slice(format!("{{{size}}}\r\n").as_bytes());
    out.extend_from_slice(data);
    out.resize(out.len() + (size - have) as usize, b' ');
}

/// Whether Cyrus sends `s` as an atom in an astring: not empty, shorter than 1024, and free of
/// 8-bit bytes, controls, space and `{ ( ) " % * \`.
fn is_atom(s: &[u8]) -> bool {
    !s.is_empty()
        && s.len() < 1024
        && s.iter().all(|&b| {
            (0x20..0x7f).contains(&b)
                && !matches!(b, b' ' | b'{' | b'(' | b')' | b'"' | b'%' | b'*' | b'\\')
        })
}

/// Appends `s` as Cyrus prints an astring: an atom when it can be one (but never `NIL`),
/// else a quoted string or a literal.
pub fn astring(out: &mut Vec<u8>, s: &[u8]) {
    if is_atom(s) && !s.eq_ignore_ascii_case(b"NIL") {
        out.extend_from_slice(s);
    } else {
        cyrus::message::imapstr::string(out, s);
    }
}

/// `BINARY[...]` data (RFC 3516 §4.2): the decoded bytes cut to `partial`, as a literal, or
/// a literal8 (`~{n}`) when they hold a NUL, which a plain literal may not carry.
pub fn binary_data(out: &mut Vec<u8>, data: &[u8], partial: Option<(u32, u32)>) {
    let (start, len) = partial_range(data.len() as u64, partial);
    let start = start as usize;
    let bytes = data.get(start..start + len as usize).unwrap_or_default();
    if bytes.contains(&0) {
        out.push(b'~');
    }
    out.extend_from_slice(format!("{{{}}}\r\n", bytes.len()).as_bytes());
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    type Case = (u64, u64, Option<(u32, u32)>, &'static [u8]);

    #[test]
    fn message_data_table() {
        let msg = b"0123456789";
        // (offset, size, partial, expected)
        let cases: &[Case] = &[
            (0, 10, None, b"{10}\r\n0123456789"),
            (2, 3, None, b"{3}\r\n234"),
            (0, 10, Some((0, 4)), b"{4}\r\n0123"),
            (0, 10, Some((8, 4)), b"{2}\r\n89"),
            (0, 10, Some((10, 4)), b"\"\""),
            (0, 10, Some((1000, 10)), b"\"\""),
            (0, 0, None, b"\"\""),
            (12, 3, None, b"\"\""),
            // The file is shorter than the range: padded to the announced length.
            (8, 4, None, b"{4}\r\n89  "),
            // Huge offsets and counts from a hostile cache or client.
            (
                u64::from(u32::MAX),
                u64::from(u32::MAX),
                Some((u32::MAX, u32::MAX)),
                b"\"\"",
            ),
            (5, u64::from(u32::MAX), Some((3, u32::MAX)), b"{2}\r\n89"),
            // A count of 0 is no partial at all.
            (0, 3, Some((5, 0)), b"{3}\r\n012"),
        ];
        for (offset, size, partial, want) in cases {
            let mut out = Vec::new();
            message_data(&mut out, msg, *offset, *size, *partial);
            assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(want),
                "{offset} {size} {partial:?}"
            );
        }
    }

    #[test]
    fn nul_makes_a_literal8() {
        let mut out = Vec::new();
        message_data(&mut out, b"a\0b", 0, 3, None);
        assert_eq!(out, b"~{3}\r\na\0b");
        // 8-bit alone stays a plain literal.
        let mut out = Vec::new();
        message_data(&mut out, "\u{e9}".as_bytes(), 0, 2, None);
        assert_eq!(out, b"{2}\r\n\xc3\xa9");
    }

    #[test]
    fn astring_table() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"Subject", b"Subject"),
            (b"X-Spam]", b"X-Spam]"),
            (b"X(Y", b"\"X(Y\""),
            (b"NIL", b"\"NIL\""),
            (b"nil", b"\"nil\""),
            (b"", b"\"\""),
            (b"a b", b"\"a b\""),
            (b"a\"b", b"{3}\r\na\"b"),
        ];
        for (i, o) in cases {
            let mut out = Vec::new();
            astring(&mut out, i);
            assert_eq!(out, *o, "{}", String::from_utf8_lossy(i));
        }
    }
}
