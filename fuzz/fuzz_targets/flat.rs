//! Fuzzes the `flat` backend's reading of a hostile database file: open, fetches (its binary
//! search over the escaped lines), walks, `consistent()`, `dump()`, then a committed and an
//! aborted transaction, whose edits splice into the file's bytes where that same search
//! lands (see `cyrus_fuzz::exercise`).
//!
//! The input is the whole file, as a user's sub.db or user_deny.db would hold it.

#![no_main]

use cyrus::db::flat::Flat;
use cyrus::db::OpenFlags;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = &cyrus_fuzz::scratch_dir().join("flat.db");
    cyrus_fuzz::put_input(path, data);
    if let Ok(mut db) = Flat::open(path, OpenFlags::default()) {
        cyrus_fuzz::exercise(&mut db, true);
    }
});
