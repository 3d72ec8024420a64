//! Fuzzes the `twoskip` backend's reading of a hostile database file: open (with its crash
//! recovery), fetches, walks, `consistent()`, `dump()`, then a committed and an aborted
//! transaction on top of whatever the file holds (see `cyrus_fuzz::exercise`).
//!
//! The input is the whole file. mailboxes.db, annotations.db, deliver.db and seen.db are
//! twoskip files, and any of them can be damaged by a bad disk or a crafted backup.

#![no_main]

use cyrus::db::twoskip::Twoskip;
use cyrus::db::OpenFlags;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = &cyrus_fuzz::scratch_dir().join("twoskip.db");
    cyrus_fuzz::put_input(path, data);
    if let Ok(mut db) = Twoskip::open(path, OpenFlags::default()) {
        cyrus_fuzz::exercise(&mut db, true);
    }
});
