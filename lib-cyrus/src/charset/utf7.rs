//! UTF-7 (RFC 2152) decoding, which encoding_rs leaves out (WHATWG dropped it) but mail still
//! carries and Cyrus (through ICU) reads.

/// Decodes UTF-7 into `out`. Bytes above 0x7F and broken surrogate pairs become U+FFFD;
/// leftover bits at the end of a base64 run are dropped, as decoders in the wild do.
pub fn decode_into(s: &[u8], out: &mut String) {
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        i += 1;
        if b >= 0x80 {
            out.push(char::REPLACEMENT_CHARACTER);
            continue;
        }
        if b != b'+' {
            out.push(char::from(b));
            continue;
        }
        if s.get(i) == Some(&b'-') {
            out.push('+');
            i += 1;
            continue;
        }
        // A base64 run of UTF-16 code units, ended by any other byte; a '-' there is eaten.
        let (mut acc, mut bits, mut units) = (0u32, 0u32, Vec::new());
        while let Some(v) = s.get(i).and_then(|&c| sextet(c)) {
            acc = (acc << 6 | v) & 0x00ff_ffff;
            bits += 6;
            if bits >= 16 {
                bits -= 16;
                units.push((acc >> bits) as u16);
            }
            i += 1;
        }
        if s.get(i) == Some(&b'-') {
            i += 1;
        }
        out.extend(char::decode_utf16(units).map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER)));
    }
}

fn sextet(b: u8) -> Option<u32> {
    let v = match b {
        b'A'..=b'Z' => b - b'A',
        b'a'..=b'z' => b - b'a' + 26,
        b'0'..=b'9' => b - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf7_table() {
        let cases: &[(&[u8], &str)] = &[
            (b"Hi Mom -+Jjo--!", "Hi Mom -\u{263a}-!"),
            (b"+ZeVnLIqe-", "\u{65e5}\u{672c}\u{8a9e}"),
            (b"A+ImIDkQ.", "A\u{2262}\u{391}."),
            (b"1 +- 1", "1 + 1"),
            (b"+AOk- ok", "\u{e9} ok"),
            (b"+AOk", "\u{e9}"),
            (b"+2D3cAQ-", "\u{1f401}"),
            (b"+2D0-", "\u{fffd}"),
            (b"caf\xe9", "caf\u{fffd}"),
            (b"+", ""),
        ];
        for (i, o) in cases {
            let mut s = String::new();
            decode_into(i, &mut s);
            assert_eq!(s, *o, "{:?}", String::from_utf8_lossy(i));
        }
    }
}
