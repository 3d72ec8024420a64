//! One entry point over every reader of a mailbox's own files, for the `mailbox_files` fuzz
//! target and the test that replays its seeds and regressions: a damaged disk or a hostile
//! local user can hand any bytes to these readers, and each must answer with an error,
//! never a panic.

use std::path::Path;

use super::cache::{CacheRecord, Section};
use super::header::Header;
use super::index::{decode_records, IndexHeader, MINOR_VERSION};

/// Runs the reader the first byte picks (index, cache, header, SECTION) over the rest of
/// `data`; panics only if a value that decoded does not survive encoding and decoding again.
pub fn read_mailbox_file(data: &[u8]) {
    let Some((&which, file)) = data.split_first() else {
        return;
    };
    let path = Path::new("fuzz");
    match which % 4 {
        0 => {
            if let Ok(h) = IndexHeader::decode(file, path) {
                let _ = decode_records(file, &h, path);
                if h.minor_version == MINOR_VERSION {
                    let again = IndexHeader::decode(&h.encode(), path);
                    assert_eq!(again.ok().as_ref(), Some(&h), "index header round trip");
                }
            }
        }
        1 => {
            // Walk the records as reconstruct does, each from where the last one ended.
            let mut offset = 4u64;
            for _ in 0..64 {
                match CacheRecord::decode_at(file, offset, path) {
                    Ok((rec, len)) if len > 0 => {
                        let _ = rec.section(path);
                        offset += u64::from(len);
                    }
                    _ => break,
                }
            }
        }
        2 => {
            if let Ok(h) = Header::parse(file, path) {
                let again = Header::parse(&h.to_bytes(), path);
                assert!(again.is_ok(), "a header we read must read back");
            }
        }
        _ => {
            let _ = Section::decode(file, path);
        }
    }
}

#[cfg(test)]
mod tests {
    /// The fuzz target's seeds and every input it ever failed on replay without a panic.
    #[test]
    fn fuzz_seeds_and_regressions_replay() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
        let mut n = 0;
        for dir in ["seeds/mailbox_files", "regressions/mailbox_files"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
                continue;
            };
            for e in entries.flatten() {
                let data = std::fs::read(e.path()).unwrap_or_default();
                super::read_mailbox_file(&data);
                n += 1;
            }
        }
        assert!(n >= 3, "the seeds are missing");
    }
}
