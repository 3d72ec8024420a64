//! Key orders of the cyrusdb backends.
//!
//! Every 3.6 database orders keys bytewise (unsigned), shorter first on a common prefix. The
//! mailbox order (`CYRUSDB_MBOXSORT`, and always for `flat`) maps a few bytes first so that the
//! hierarchy separator `.` sorts before every printable byte: `a` < `a.b` < `a-b` < `ab`.

use std::cmp::Ordering;

/// A key comparator.
pub type Comparator = fn(&[u8], &[u8]) -> Ordering;

/// The default order: unsigned bytes, then length.
pub fn bytewise(a: &[u8], b: &[u8]) -> Ordering {
    a.cmp(b)
}

/// The rank a byte has in mailbox order.
fn mbox_rank(b: u8) -> u8 {
    match b {
        0x00 => 0x00,
        0x09 | 0x0a => 0x01,
        b'.' => 0x02,
        0x01..=0x08 => b + 2,
        _ => b,
    }
}

/// Mailbox order (`bsearch_ncompare_mbox`).
pub fn mailbox(a: &[u8], b: &[u8]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        match mbox_rank(*x).cmp(&mbox_rank(*y)) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    a.len().cmp(&b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailbox_order_puts_the_separator_first() {
        let mut v: Vec<&[u8]> = vec![b"ab", b"a-b", b"a.b", b"a"];
        v.sort_by(|a, b| mailbox(a, b));
        assert_eq!(v, vec![&b"a"[..], b"a.b", b"a-b", b"ab"]);
    }

    #[test]
    fn control_bytes_rank_below_printables() {
        assert_eq!(mailbox(b"a\tb", b"a.b"), Ordering::Less);
        assert_eq!(mailbox(b"a\x01", b"a."), Ordering::Greater);
        assert_eq!(mailbox(b"a\x00", b"a\t"), Ordering::Less);
    }

    #[test]
    fn bytewise_is_unsigned_and_shorter_first() {
        assert_eq!(bytewise(b"a", b"ab"), Ordering::Less);
        assert_eq!(bytewise(b"\xff", b"a"), Ordering::Greater);
    }
}
