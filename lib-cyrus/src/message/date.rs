//! The `Date:` header as the index stores it: `gmtime` (the instant, UTC) and `sentdate` (the
//! date as written, at 00:00 of the server's time zone, which is UTC for the reference and
//! for us). The parser is lenient the way RFC 5322 section 4.3 asks: optional day name,
//! two- and three-digit years, obsolete zone names, missing seconds.

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// A parsed Date: the calendar date and the UTC instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parsed {
    /// Seconds since the epoch of 00:00 UTC on the date as written.
    pub day: i64,
    /// Seconds since the epoch of the full date and time, converted to UTC.
    pub instant: i64,
}

struct Tok<'a> {
    s: &'a [u8],
    i: usize,
}

impl Tok<'_> {
    fn skip(&mut self) {
        loop {
            match self.s.get(self.i) {
                Some(b' ' | b'\t' | b'\r' | b'\n' | b',') => self.i += 1,
                Some(b'(') => {
                    let mut depth = 0usize;
                    while let Some(&b) = self.s.get(self.i) {
                        self.i += 1;
                        match b {
                            b'(' => depth += 1,
                            b')' => {
                                depth = depth.saturating_sub(1);
                                if depth == 0 {
                                    break;
                                }
                            }
                            b'\\' => self.i += 1,
                            _ => {}
                        }
                    }
                }
                _ => return,
            }
        }
    }

    fn num(&mut self, max_digits: usize) -> Option<(i64, usize)> {
        self.skip();
        let start = self.i;
        let mut v: i64 = 0;
        while let Some(&b) = self.s.get(self.i) {
            if !b.is_ascii_digit() || self.i - start >= max_digits {
                break;
            }
            v = v * 10 + i64::from(b - b'0');
            self.i += 1;
        }
        (self.i > start).then_some((v, self.i - start))
    }

    fn word(&mut self) -> &[u8] {
        self.skip();
        let start = self.i;
        while self.s.get(self.i).is_some_and(|b| b.is_ascii_alphabetic()) {
            self.i += 1;
        }
        self.s.get(start..self.i).unwrap_or(&[])
    }

    fn eat(&mut self, c: u8) -> bool {
        self.skip();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
}

const MONTHS: [&[u8]; 12] = [
    b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec",
];

/// Parses an RFC 5322 date-time; None when no date can be read from it.
pub fn parse(s: &[u8]) -> Option<Parsed> {
    let mut t = Tok { s, i: 0 };
    t.skip();
    if t.s.get(t.i).is_some_and(|b| b.is_ascii_alphabetic()) {
        // Day of week; its value is not checked.
        t.word();
    }
    let (day, _) = t.num(2)?;
    let mon = t.word().to_ascii_lowercase();
    let month = MONTHS
        .iter()
        .position(|m| mon.len() >= 3 && mon.get(..3) == Some(*m))?;
    let (mut year, digits) = t.num(4)?;
    if digits <= 2 {
        year += if year < 50 { 2000 } else { 1900 };
    } else if digits == 3 {
        year += 1900;
    }
    if !(1..=31).contains(&day) {
        return None;
    }
    let days = days_from_civil(year, month as u32 + 1, day as u32);
    let (mut hh, mut mm, mut ss) = (0, 0, 0);
    let save = t.i;
    if let Some((h, _)) = t.num(2) {
        if t.eat(b':') {
            if let Some((m, _)) = t.num(2) {
                hh = h;
                mm = m;
                if t.eat(b':') {
                    ss = t.num(2).map_or(0, |v| v.0);
                }
            }
        } else {
            t.i = save;
        }
    }
    if hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    t.skip();
    let zone = match t.s.get(t.i) {
        Some(&sign @ (b'+' | b'-')) => {
            t.i += 1;
            let start = t.i;
            let (v, n) = t.num(4).unwrap_or((0, 0));
            let _ = start;
            let off = if n == 4 {
                (v / 100) * 3600 + (v % 100) * 60
            } else {
                0
            };
            if sign == b'-' {
                -off
            } else {
                off
            }
        }
        _ => match t.word().to_ascii_uppercase().as_slice() {
            b"EST" => -5 * 3600,
            b"EDT" => -4 * 3600,
            b"CST" => -6 * 3600,
            b"CDT" => -5 * 3600,
            b"MST" => -7 * 3600,
            b"MDT" => -6 * 3600,
            b"PST" => -8 * 3600,
            b"PDT" => -7 * 3600,
            _ => 0,
        },
    };
    let day_secs = days * 86400;
    Some(Parsed {
        day: day_secs,
        instant: day_secs + hh * 3600 + mm * 60 + ss - zone,
    })
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
            (
                "Sun, 31 Dec 23 23:59:59 GMT (comment)",
                1703980800,
                1704067199,
            ),
        ];
        for &(s, d, g) in cases {
            assert_eq!(
                parse(s.as_bytes()),
                Some(Parsed { day: d, instant: g }),
                "{s}"
            );
        }
        assert_eq!(parse(b"garbage"), None);
        assert_eq!(parse(b""), None);
        assert_eq!(parse(b"99 Foo 2024"), None);
    }
}
