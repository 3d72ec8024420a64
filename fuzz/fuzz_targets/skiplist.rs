//! Fuzzes the `skiplist` backend's reading of a hostile database file: open (with its log
//! replay and recovery), fetches, walks, `consistent()`, `dump()`, then a committed and an
//! aborted transaction on top of whatever the file holds (see `cyrus_fuzz::exercise`).
//!
//! The input is the whole file; Cyrus 3.6 still keeps conversations.db as a skiplist, and
//! older deployments have every database in this format.

#![no_main]

use cyrus::db::skiplist::Skiplist;
use cyrus::db::OpenFlags;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = &cyrus_fuzz::scratch_dir().join("skiplist.db");
    cyrus_fuzz::put_input(path, data);
    if let Ok(mut db) = Skiplist::open(path, OpenFlags::default()) {
        cyrus_fuzz::exercise(&mut db, true);
    }
});
