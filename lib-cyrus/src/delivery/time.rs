//! The RFC 822 date of Received headers in the server's local time zone, as Cyrus's
//! `time_to_rfc822` prints it (`Sun, 22 Nov 2026 06:12:23 +0000`). The zone offset comes from
//! the C library so that `TZ` and /etc/localtime count exactly as they do for Cyrus.

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Seconds east of UTC of the local zone at instant `t` (0 if the C library cannot say).
fn local_offset(t: i64) -> i64 {
    // time_t is 64 bits on every platform Cyrus 3.6 targets with this crate.
    let tt: libc::time_t = t;
    // SAFETY: localtime_r only reads `tt` and writes the `tm` we own; a null return (bad
    // time) is handled, and `tm` is plain data for which all-zero bytes are a valid value.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&tt, &mut tm).is_null() {
            return 0;
        }
        tm.tm_gmtoff
    }
}

/// `t` (Unix seconds) as `Www, DD Mmm YYYY HH:MM:SS +ZZZZ` in local time.
pub fn rfc822_date(t: i64) -> String {
    let off = local_offset(t);
    let l = t + off;
    let days = l.div_euclid(86_400);
    let secs = l.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let wd = DAYS[days.rem_euclid(7) as usize];
    let mon = MONTHS[(m as usize).saturating_sub(1).min(11)];
    let sign = if off < 0 { '-' } else { '+' };
    let a = off.abs() / 60;
    format!(
        "{wd}, {d:02} {mon} {y} {:02}:{:02}:{:02} {sign}{:02}{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        a / 60,
        a % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn civil_dates() {
        assert_eq!(super::civil_from_days(0), (1970, 1, 1));
        assert_eq!(super::civil_from_days(20_779), (2026, 11, 22));
    }
}
