//! Cyrus's directory hash (`dir_hash_c`): the one-character directory that spreads quota
//! files, per-user files, lock files and legacy mailbox directories over subdirectories.

/// The hash directory for `name`. With `full` (`fulldirhash: on`), a hash of the name up to
/// its first `.` mapped to `A`..`W`; otherwise the name's first letter in lower case, or `q`
/// for anything that is not a letter.
pub fn dir_hash(name: &[u8], full: bool) -> u8 {
    if full {
        let mut h: u32 = 0;
        for &b in name.iter().take_while(|&&b| b != b'.' && b != 0) {
            h = ((h << 3) ^ (h >> 5)) ^ u32::from(b);
        }
        b'A' + (h % 23) as u8
    } else {
        let c = name.first().map_or(b'q', u8::to_ascii_lowercase);
        if c.is_ascii_lowercase() {
            c
        } else {
            b'q'
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_hash_matches_cyrus() {
        assert_eq!(dir_hash(b"alice", false), b'a');
        assert_eq!(dir_hash(b"Zed", false), b'z');
        assert_eq!(dir_hash(b"9lives", false), b'q');
        assert_eq!(dir_hash(b"", false), b'q');
        // Values verified with Debian's 3.6 (spec: mailbox-files.md 1.3 and twoskip.md 11).
        assert_eq!(dir_hash(b"carol^smith", true), b'E');
        assert_eq!(dir_hash(b"carol^smith.more", true), b'E');
    }
}
