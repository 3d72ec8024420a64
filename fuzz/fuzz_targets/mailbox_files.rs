//! Fuzzes the readers of a mailbox's own files (cyrus.index of any minor version,
//! cyrus.cache records with their SECTION items, cyrus.header) through
//! `cyrus::mailbox::selfcheck::read_mailbox_file`: the first byte picks the reader, the rest
//! is the file. lib-cyrus replays the seeds and `regressions/mailbox_files` in its tests.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    cyrus::mailbox::selfcheck::read_mailbox_file(data);
});
