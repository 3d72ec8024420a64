//! Modified UTF-7 (RFC 3501 §5.1.3), the encoding IMAP clients and Cyrus's internal names use
//! for mailbox names outside printable ASCII.
//!
//! Printable ASCII stands for itself except `&`, written `&-`; any other run of characters
//! is UTF-16 in base64 (with `,` for `/`, no padding) between `&` and `-`. Decoding is strict:
//! a name that a conforming encoder could not have produced is refused, so every name has
//! one spelling and round trips are exact.

use super::BadName;

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// Encodes UTF-8 `s` as modified UTF-7.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending: Vec<u16> = Vec::new();
    for c in s.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut pending, &mut out);
            out.push(c);
            if c == '&' {
                out.push('-');
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut pending, &mut out);
    out
}

fn flush(units: &mut Vec<u16>, out: &mut String) {
    if units.is_empty() {
        return;
    }
    out.push('&');
    let bytes: Vec<u8> = units.iter().flat_map(|u| u.to_be_bytes()).collect();
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        let digits = chunk.len() + 1;
        for i in 0..digits {
            out.push(char::from(B64[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out.push('-');
    units.clear();
}

fn b64_value(b: u8) -> Option<u32> {
    B64.iter().position(|&c| c == b).map(|p| p as u32)
}

/// Decodes modified UTF-7 `s` into UTF-8, refusing anything not in canonical form.
pub fn decode(s: &str) -> Result<String, BadName> {
    let bad = |why| BadName::new(s, why);
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if !(0x20..=0x7e).contains(&c) {
            return Err(bad("not printable ASCII"));
        }
        if c != b'&' {
            out.push(char::from(c));
            i += 1;
            continue;
        }
        let start = i + 1;
        let Some(len) = b[start..].iter().position(|&x| x == b'-') else {
            return Err(bad("unterminated &-sequence"));
        };
        let run = &b[start..start + len];
        i = start + len + 1;
        if run.is_empty() {
            out.push('&');
            continue;
        }
        let mut bits: u32 = 0;
        let mut nbits = 0;
        let mut units: Vec<u16> = Vec::new();
        for &d in run {
            let v = b64_value(d).ok_or_else(|| bad("bad base64 in &-sequence"))?;
            bits = (bits << 6) | v;
            nbits += 6;
            if nbits >= 16 {
                nbits -= 16;
                units.push((bits >> nbits) as u16);
                bits &= (1 << nbits) - 1;
            }
        }
        if nbits >= 6 || bits != 0 {
            return Err(bad("stray bits in &-sequence"));
        }
        let text = String::from_utf16(&units).map_err(|_| bad("bad UTF-16 in &-sequence"))?;
        if text.chars().any(|ch| (' '..='~').contains(&ch)) {
            return Err(bad("ASCII inside &-sequence"));
        }
        // Two adjacent encoded runs would have been one run.
        if out.ends_with(|ch: char| !ch.is_ascii()) {
            return Err(bad("adjacent &-sequences"));
        }
        out.push_str(&text);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc3501_examples() {
        assert_eq!(
            encode("~peter/mail/台北/日本語"),
            "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
        );
        assert_eq!(encode("A&B"), "A&-B");
        assert_eq!(encode("Entwürfe"), "Entw&APw-rfe");
        assert_eq!(decode("Entw&APw-rfe").as_deref(), Ok("Entwürfe"));
        assert_eq!(decode("&-").as_deref(), Ok("&"));
        assert!(decode("&Jjo!").is_err());
        assert!(decode("&AGE-").is_err(), "ASCII must not be encoded");
        assert!(decode("a\u{7f}").is_err());
    }

    proptest! {
        #[test]
        fn round_trip(s in "\\PC{0,20}") {
            let e = encode(&s);
            prop_assert!(e.bytes().all(|b| (0x20..=0x7e).contains(&b)));
            prop_assert_eq!(decode(&e), Ok(s));
        }
    }
}
