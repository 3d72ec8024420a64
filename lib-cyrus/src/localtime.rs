//! The server's local time zone, as the C library resolves it (`TZ`, else /etc/localtime).
//!
//! Cyrus prints INTERNALDATE and other IMAP date-times in the server's zone with its offset
//! (`" 9-Jan-2024 10:00:05 +0100"`), taking both from `localtime(3)`. Asking the same library
//! keeps our offsets identical to Cyrus's on the same machine, daylight saving included.

/// Seconds east of UTC of the local zone at the instant `unix` (0 if the C library cannot say).
pub fn utc_offset(unix: i64) -> i32 {
    // time_t is 64 bits wide on every platform this builds for (it is i64 on Linux/x86-64).
    let t = unix as libc::time_t;
    // SAFETY: `tm` is a plain C struct for which all-zero bytes are a valid value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are to live locals for the duration of the call; localtime_r is
    // the reentrant form and keeps no pointer to either.
    let r = unsafe { libc::localtime_r(&t, &mut tm) };
    if r.is_null() {
        return 0;
    }
    i32::try_from(tm.tm_gmtoff).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_is_a_whole_number_of_minutes_within_a_day() {
        for t in [0i64, 1_700_000_000, 1_720_000_000] {
            let o = utc_offset(t);
            assert!(o.abs() < 86_400);
            assert_eq!(o % 60, 0);
        }
    }
}
