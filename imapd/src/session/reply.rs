//! Small pieces of reply text shared by several commands.

/// The special-use attributes RFC 6154 defines (and Cyrus accepts), for CREATE's USE and
/// SETMETADATA of `/private/specialuse`.
pub const SPECIAL_USE: &[&str] = &[
    "\\All",
    "\\Archive",
    "\\Drafts",
    "\\Flagged",
    "\\Junk",
    "\\Sent",
    "\\Trash",
    "\\Important",
    "\\Snoozed",
    "\\Scheduled",
];

/// `1:3,5` for `[1, 2, 3, 5]` (sorted or not), as response codes and ESEARCH print sets.
pub fn compress_set(nums: &[u32]) -> String {
    let mut v = nums.to_vec();
    v.sort_unstable();
    v.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < v.len() {
        let start = v[i];
        let mut end = start;
        while i + 1 < v.len() && v[i + 1] == end + 1 {
            i += 1;
            end = v[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

/// A mailbox name as an astring: an atom when it can be, else quoted or a literal.
pub fn astring(name: &str) -> String {
    let mut v = Vec::new();
    let _ = cyrus::prot::astring::write_astring(&mut v, name.as_bytes());
    String::from_utf8_lossy(&v).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_compress_into_ranges() {
        for (input, want) in [
            (&[][..], ""),
            (&[5][..], "5"),
            (&[1, 2, 3, 5][..], "1:3,5"),
            (&[7, 1, 6, 2][..], "1:2,6:7"),
            (&[3, 3, 4][..], "3:4"),
        ] {
            assert_eq!(compress_set(input), want);
        }
    }
}
