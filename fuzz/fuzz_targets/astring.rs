//! Fuzzes the IMAP word readers, `read_astring` and `read_word`, over a client's bytes:
//! atoms, quoted strings with escapes, and literals whose announced size is hostile.
//!
//! The first input byte picks the limit (0..=255) so that the boundary checks around `max`
//! are hit with small words; the rest is the stream, read word by word to its end as a
//! command line would be. Besides not panicking, a successful read must respect the limit:
//! the readers promise never to return (or allocate for) more than `max` bytes.

#![no_main]

use cyrus::prot::astring::{read_astring, read_word};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&max, mut input)) = data.split_first() else {
        return;
    };
    let max = usize::from(max);
    // Each successful read consumes at least one byte or ends the input, so this terminates;
    // the bound is a guard against a reader that stops consuming.
    for turn in 0..=data.len() {
        let before = input.len();
        // Alternate the readers, as a command's tag (a word) precedes its arguments.
        let r = if turn % 2 == 0 {
            read_astring(&mut input, max)
        } else {
            read_word(&mut input, max)
        };
        match r {
            Ok((word, end)) => {
                assert!(
                    word.len() <= max,
                    "read {} bytes with max {max}",
                    word.len()
                );
                if end.is_none() || input.len() == before {
                    break;
                }
            }
            Err(_) => break,
        }
    }
});
