//! The `Date:` header as the index stores it: `gmtime` (the instant, UTC) and `sentdate` (the
//! date as written, at 00:00 of the server's time zone, which is UTC for the reference and
//! for us). The rules are Cyrus's RFC 5322 reader: an optional three-letter day name with a
//! comma, 1-2 digit day, three-letter month, 2-digit (< 70 is 20xx) or >= 1900 year, then for
//! `gmtime` hh:mm[:ss] and a zone; out-of-range fields roll over instead of failing.

pub use crate::civil::days_from_civil;

/// A parsed Date: the calendar date and the UTC instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parsed {
    /// Seconds since the epoch of 00:00 UTC on the date as written.
    pub day: i64,
    /// Seconds since the epoch of the full date and time, converted to UTC.
    pub instant: i64,
}

/// A cursor over the value; tokens are runs of ASCII letters and digits.
struct Tok<'a> {
    s: &'a [u8],
    i: usize,
}

impl Tok<'_> {
    fn cur(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// Skips folding whitespace (comments are not understood, as in Cyrus).
    fn skip_ws(&mut self) {
        while matches!(self.cur(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.i += 1;
        }
    }

    /// The next token, or None at the end of the value.
    fn token(&mut self) -> Option<&[u8]> {
        self.cur()?;
        let start = self.i;
        while self.cur().is_some_and(|b| b.is_ascii_alphanumeric()) && self.i - start < 32 {
            self.i += 1;
        }
        self.s.get(start..self.i)
    }

    /// Steps over the one separator after a date field, then any further whitespace.
    fn separator(&mut self) {
        if self.cur().is_some() {
            self.i += 1;
        }
        self.skip_ws();
    }
}

fn number(t: &[u8]) -> Option<i64> {
    if t.is_empty() || !t.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // A field longer than any date needs is not a date; checked maths keeps it from wrapping.
    t.iter().try_fold(0i64, |n, &d| {
        n.checked_mul(10)?.checked_add(i64::from(d - b'0'))
    })
}

/// A 1-2 digit field (day, hour, minute, second).
fn short_number(t: Option<&[u8]>) -> Option<i64> {
    let t = t?;
    if t.is_empty() || t.len() > 2 || !t.first().is_some_and(u8::is_ascii_digit) {
        return None;
    }
    number(t)
}

const MONTHS: [&[u8]; 12] = [
    b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec",
];

/// The zone offset in minutes, with Cyrus's reading of the obsolete forms: military
/// letters, `UT`, the North American zones (and their Atlantic to Bering siblings), and four
/// digits, negative unless preceded by `+`. Anything else is UTC.
fn zone_minutes(t: &[u8], sign: u8) -> i64 {
    let first = i64::from(t.first().copied().unwrap_or(0));
    let up = |b: u8| b.to_ascii_uppercase();
    match t.len() {
        1 => {
            let ch = up(t.first().copied().unwrap_or(0));
            if ch < b'J' {
                (first - i64::from(b'A') + 1) * 60
            } else if ch == b'J' {
                0
            } else if ch <= b'M' {
                (first - i64::from(b'A')) * 60
            } else if ch < b'Z' {
                (i64::from(b'M') - first) * 60
            } else {
                0
            }
        }
        3 => {
            let (a, b, c) = (
                up(t.first().copied().unwrap_or(0)),
                up(t.get(1).copied().unwrap_or(0)),
                up(t.get(2).copied().unwrap_or(0)),
            );
            let Some(pos) = b"AECMPYHB".iter().position(|&z| z == a) else {
                return 0;
            };
            if c != b'T' {
                return 0;
            }
            let base = (8 - pos as i64 - 12) * 60;
            match b {
                b'D' => base + 60,
                b'S' => base,
                _ => 0,
            }
        }
        4 if t.iter().all(u8::is_ascii_digit) => {
            let d = |i: usize| i64::from(t.get(i).copied().unwrap_or(b'0') - b'0');
            let off = (d(0) * 10 + d(1)) * 60 + d(2) * 10 + d(3);
            if sign == b'+' {
                off
            } else {
                -off
            }
        }
        _ => 0,
    }
}

/// Parses the date (and with `full`, the time and zone); None where Cyrus fails.
fn parse_mode(s: &[u8], full: bool) -> Option<i64> {
    let mut t = Tok { s, i: 0 };
    t.skip_ws();
    if t.cur()?.is_ascii_alphabetic() {
        // Day of week: three letters and a comma; which day is not checked.
        if t.token()?.len() != 3 || t.cur() != Some(b',') {
            return None;
        }
        t.i += 1;
        t.skip_ws();
    }
    let day = short_number(t.token())?;
    t.separator();
    let mon = t.token()?.to_ascii_lowercase();
    let month = MONTHS.iter().position(|m| *m == mon.as_slice())?;
    t.separator();
    let ytok = t.token()?;
    let mut year = number(ytok)?;
    // Far beyond anything a 32-bit index field can hold; bounding it keeps the day and second
    // arithmetic below from overflowing.
    if year > 1_000_000 {
        return None;
    }
    if ytok.len() == 2 {
        year += if year < 70 { 2000 } else { 1900 };
    } else if year < 1900 {
        return None;
    }
    // Out-of-range days roll over into the next months, as mktime does.
    let days = days_from_civil(year, month as u32 + 1, 1) + day - 1;
    if !full {
        let v = days * 86400;
        return (v >= 0).then_some(v);
    }
    t.skip_ws();
    let hh = short_number(t.token())?;
    if !matches!(t.cur(), Some(b':' | b'.')) {
        return None;
    }
    t.i += 1;
    let mm = short_number(t.token())?;
    let mut ss = 0;
    if matches!(t.cur(), Some(b':' | b'.')) {
        t.i += 1;
        ss = short_number(t.token())?;
    }
    t.skip_ws();
    let sign = t.cur().unwrap_or(0);
    if sign == b'+' || sign == b'-' {
        t.i += 1;
    }
    let zone = t.token().map_or(0, |z| zone_minutes(z, sign));
    let v = days * 86400 + hh * 3600 + mm * 60 + ss;
    // Cyrus rejects a negative time before applying the zone.
    (v >= 0).then_some(v - zone * 60)
}

/// Parses a Date value as Cyrus 3.6 does for `sentdate` and `gmtime`: each is None where
/// Cyrus's parser gives up (the index then holds 0).
pub fn parse_fields(s: &[u8]) -> (Option<i64>, Option<i64>) {
    (parse_mode(s, false), parse_mode(s, true))
}

/// Parses an RFC 5322 date-time; None unless both the day and the full time parse.
pub fn parse(s: &[u8]) -> Option<Parsed> {
    match parse_fields(s) {
        (Some(day), Some(instant)) => Some(Parsed { day, instant }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_table() {
        let cases: &[(&str, i64, i64)] = &[
            ("Mon, 01 Jan 2024 09:00:00 +0000", 1704067200, 1704099600),
            ("Tue, 02 Jan 2024 10:30:00 +0100", 1704153600, 1704187800),
            ("Mon, 08 Jan 2024 23:59:59 -0800", 1704672000, 1704787199),
            ("8 Jan 2024 23:59 PST", 1704672000, 1704787140),
            ("31 Dec 23 23:59:59 EDT", 1703980800, 1704081599),
            ("32 Jan 2024 00:00 GMT", 1706745600, 1706745600),
            ("1 Jan 2024 25:00 +0000", 1704067200, 1704157200),
            ("1-Jan-2024 00:00 0100", 1704067200, 1704070800),
        ];
        for &(s, d, g) in cases {
            assert_eq!(
                parse(s.as_bytes()),
                Some(Parsed { day: d, instant: g }),
                "{s}"
            );
        }
        for bad in [
            "Fri, 12 Jan 20241499263074682034",
            "1 Jan 99999999999999999999999999999 10:00",
            "garbage",
            "",
            "99 Foo 2024",
            "Mon 01 Jan 2024",
            "1 January 2024 10:00",
            "1 Jan 123 10:00",
            "1 Jan 1969 10:00",
        ] {
            assert_eq!(parse(bad.as_bytes()), None, "{bad}");
        }
        // The date alone parses without a time.
        assert_eq!(parse_fields(b"1 Jan 2024"), (Some(1704067200), None));
    }
}
