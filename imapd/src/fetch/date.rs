//! INTERNALDATE as Cyrus prints it (RFC 3501 `date-time`): the day space-padded to two
//! characters, the time in the server's local zone, and that zone's offset, e.g.
//! `" 9-Jan-2024 10:00:05 +0000"`.

use cyrus::civil::{civil_from_days, month_name};

/// Formats `unix` (seconds since the epoch, UTC) as an RFC 3501 date-time in a zone
/// `offset` seconds east of UTC, as Cyrus's `time_to_rfc3501` does.
pub fn rfc3501(unix: i64, offset: i32) -> String {
    let local = unix + i64::from(offset);
    let (year, month, day) = civil_from_days(local.div_euclid(86_400));
    let secs = local.rem_euclid(86_400);
    let name = month_name(month);
    // The offset is printed in whole minutes, its seconds dropped (as Cyrus does).
    let sign = if offset < 0 { '-' } else { '+' };
    let minutes = offset.unsigned_abs() / 60;
    format!(
        "{day:>2}-{name}-{year} {:02}:{:02}:{:02} {sign}{:02}{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        minutes / 60,
        minutes % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3501_table() {
        let cases: &[(i64, i32, &str)] = &[
            (0, 0, " 1-Jan-1970 00:00:00 +0000"),
            // From the reference goldens (the reference server ran in UTC).
            (1_704_794_405, 0, " 9-Jan-2024 10:00:05 +0000"),
            (1_705_320_000, 0, "15-Jan-2024 12:00:00 +0000"),
            (1_704_067_199, 0, "31-Dec-2023 23:59:59 +0000"),
            // Zones east and west, and a half-hour zone.
            (1_704_067_199, 3600, " 1-Jan-2024 00:59:59 +0100"),
            (1_704_067_199, -5 * 3600, "31-Dec-2023 18:59:59 -0500"),
            (1_704_067_199, 19_800, " 1-Jan-2024 05:29:59 +0530"),
            (1_704_067_199, -12_600, "31-Dec-2023 20:29:59 -0330"),
            // A leap day.
            (1_709_208_000, 0, "29-Feb-2024 12:00:00 +0000"),
        ];
        for (t, off, want) in cases {
            assert_eq!(rfc3501(*t, *off), *want, "{t} {off}");
        }
    }
}
