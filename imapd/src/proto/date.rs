//! IMAP dates (RFC 3501 `date`, `date-time`): parsing what clients send to SEARCH and APPEND,
//! and formatting INTERNALDATE as Cyrus prints it (`" 1-Jan-2024 09:00:05 +0000"`, the day
//! padded with a space, not a zero).
//!
//! Parsing is as lenient as Cyrus's where RFC 3501 clients differ in practice: a one-digit
//! day, a space-padded day and any case of the month name are accepted. Days are checked
//! against the month (leap years included), so a `Date` always names a real day.

use super::command::{Date, DateTime};

use cyrus::civil::MONTHS;

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Days in `month` (1..=12) of `year`.
fn month_days(year: i64, month: u8) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn month_from_name(name: &[u8]) -> Option<u8> {
    MONTHS
        .iter()
        .position(|m| m.as_bytes().eq_ignore_ascii_case(name))
        .and_then(|i| u8::try_from(i + 1).ok())
}

fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 4 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0, |n, &d| n * 10 + u32::from(d - b'0')))
}

/// Parses `d-mmm-yyyy` (one or two digit day; a leading space is allowed, as in
/// `date-day-fixed`). Returns `None` for anything else, including impossible days.
pub fn parse_date(s: &[u8]) -> Option<Date> {
    let s = s.strip_prefix(b" ").unwrap_or(s);
    let mut it = s.split(|&b| b == b'-');
    let (d, m, y) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() || d.len() > 2 || y.len() != 4 {
        return None;
    }
    let day = u8::try_from(digits(d)?).ok()?;
    let month = month_from_name(m)?;
    let year = u16::try_from(digits(y)?).ok()?;
    if day == 0 || day > month_days(i64::from(year), month) {
        return None;
    }
    Some(Date { year, month, day })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (negative before it).
pub fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    cyrus::civil::days_from_civil(year, u32::from(month), u32::from(day))
}

/// The date of a day count since 1970-01-01, as (year, month, day).
pub fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let (y, m, d) = cyrus::civil::civil_from_days(days);
    // Both are in range by construction (day 1..=31, month 1..=12).
    (y, m as u8, d as u8)
}

impl Date {
    /// Seconds since the epoch of this day's midnight in a zone `offset_minutes` east of UTC.
    pub fn midnight(self, offset_minutes: i32) -> i64 {
        days_from_civil(i64::from(self.year), self.month, self.day) * 86_400
            - i64::from(offset_minutes) * 60
    }
}

/// Parses a `date-time` without its quotes: `dd-mmm-yyyy hh:mm:ss +zzzz`. The day may be
/// space-padded (`" 5-Jan-2024 ..."`, as servers print it) or a single digit.
pub fn parse_datetime(s: &[u8]) -> Option<DateTime> {
    let s = s.strip_prefix(b" ").unwrap_or(s);
    let mut parts = s.split(|&b| b == b' ');
    let (date, time, zone) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let date = parse_date(date)?;
    let mut hms = time.split(|&b| b == b':');
    let (h, m, sec) = (hms.next()?, hms.next()?, hms.next()?);
    if hms.next().is_some() || h.len() != 2 || m.len() != 2 || sec.len() != 2 {
        return None;
    }
    let (h, m, sec) = (digits(h)?, digits(m)?, digits(sec)?);
    // 60 is a leap second; RFC 3501 does not forbid it and Cyrus's parser takes it.
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    if zone.len() != 5 {
        return None;
    }
    let sign = match zone[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (zh, zm) = (digits(&zone[1..3])?, digits(&zone[3..5])?);
    if zm > 59 {
        return None;
    }
    let offset = sign * i32::try_from(zh * 60 + zm).ok()?;
    let local = days_from_civil(i64::from(date.year), date.month, date.day) * 86_400
        + i64::from(h * 3600 + m * 60 + sec);
    Some(DateTime {
        unix: local - i64::from(offset) * 60,
        offset_minutes: offset,
    })
}

/// Formats INTERNALDATE's value (without quotes) as Cyrus does: `" 1-Jan-2024 09:00:05 +0000"`,
/// the time shown in the zone `offset_minutes` east of UTC.
pub fn format_datetime(unix: i64, offset_minutes: i32) -> String {
    let local = unix.saturating_add(i64::from(offset_minutes) * 60);
    let (days, secs) = (local.div_euclid(86_400), local.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    let sign = if offset_minutes < 0 { '-' } else { '+' };
    let off = offset_minutes.unsigned_abs();
    format!(
        "{day:2}-{}-{year:04} {:02}:{:02}:{:02} {sign}{:02}{:02}",
        MONTHS[usize::from(month - 1)],
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        off / 60,
        off % 60
    )
}

/// Formats a `Date` as `d-Mmm-yyyy` (no padding), as IMAP search dates are written.
pub fn format_date(d: Date) -> String {
    let m = MONTHS
        .get(usize::from(d.month).wrapping_sub(1))
        .unwrap_or(&"Jan");
    format!("{}-{m}-{:04}", d.day, d.year)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_table() {
        let ok: &[(&str, (u16, u8, u8))] = &[
            ("1-Jan-2024", (2024, 1, 1)),
            ("01-jan-2024", (2024, 1, 1)),
            (" 9-FEB-2024", (2024, 2, 9)),
            ("29-Feb-2024", (2024, 2, 29)),
            ("31-Dec-1999", (1999, 12, 31)),
        ];
        for (s, (year, month, day)) in ok {
            assert_eq!(
                parse_date(s.as_bytes()),
                Some(Date {
                    year: *year,
                    month: *month,
                    day: *day
                }),
                "{s}"
            );
        }
        for s in [
            "29-Feb-2023",
            "31-Apr-2024",
            "0-Jan-2024",
            "1-Foo-2024",
            "1-Jan-24",
            "1-Jan-2024-",
            "",
            "123-Jan-2024",
            "1-Jan-20x4",
            "1--2024",
            "+1-Jan-2024",
        ] {
            assert_eq!(parse_date(s.as_bytes()), None, "{s}");
        }
    }

    #[test]
    fn datetimes_table() {
        let ok: &[(&str, i64, i32)] = &[
            ("15-Jan-2024 12:00:00 +0000", 1_705_320_000, 0),
            (" 1-Jan-2024 09:00:05 +0000", 1_704_099_605, 0),
            ("1-Jan-2024 09:00:05 +0100", 1_704_099_605 - 3600, 60),
            ("01-Jan-1970 00:00:00 -0130", 5400, -90),
        ];
        for (s, unix, off) in ok {
            assert_eq!(
                parse_datetime(s.as_bytes()),
                Some(DateTime {
                    unix: *unix,
                    offset_minutes: *off
                }),
                "{s}"
            );
        }
        for s in [
            "15-Jan-2024 12:00:00",
            "15-Jan-2024 24:00:00 +0000",
            "15-Jan-2024 12:00 +0000",
            "15-Jan-2024 12:00:00 0000",
            "15-Jan-2024 12:00:00 +00000",
            "15-Jan-2024  12:00:00 +0000",
            "15-Jan-2024 12:00:00 +0099",
            "x",
        ] {
            assert_eq!(parse_datetime(s.as_bytes()), None, "{s}");
        }
    }

    #[test]
    fn formats_as_cyrus() {
        assert_eq!(
            format_datetime(1_705_320_000, 0),
            "15-Jan-2024 12:00:00 +0000"
        );
        assert_eq!(
            format_datetime(1_704_099_605, 0),
            " 1-Jan-2024 09:00:05 +0000"
        );
        assert_eq!(
            format_datetime(1_704_099_605, -300),
            " 1-Jan-2024 04:00:05 -0500"
        );
        assert_eq!(format_datetime(0, 330), " 1-Jan-1970 05:30:00 +0530");
        assert_eq!(format_datetime(3600, -120), "31-Dec-1969 23:00:00 -0200");
        assert_eq!(format_datetime(-1, 0), "31-Dec-1969 23:59:59 +0000");
        assert_eq!(
            format_date(Date {
                year: 2024,
                month: 3,
                day: 5
            }),
            "5-Mar-2024"
        );
    }

    #[test]
    fn round_trips() {
        for unix in [
            0i64,
            951_782_400,
            1_709_164_800,
            4_102_444_799,
            -86_400 * 365,
        ] {
            for off in [0, 60, -480, 345] {
                let s = format_datetime(unix, off);
                assert_eq!(
                    parse_datetime(s.as_bytes()),
                    Some(DateTime {
                        unix,
                        offset_minutes: off
                    }),
                    "{s}"
                );
            }
        }
    }
}
