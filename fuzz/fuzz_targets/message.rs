//! Fuzzes the MIME parser over a message file's bytes: `cyrus::message::parse` builds every
//! cache item Cyrus keeps (ENVELOPE, BODYSTRUCTURE, BODY, SECTION, cached headers, search
//! forms, subject) and the index fields derived from the message.
//!
//! Besides not panicking, the SECTION item it produces must decode again: imapd and
//! reconstruct read it back from cyrus.cache, so a record we write must be one we can read.

#![no_main]

use cyrus::mailbox::cache::{Item, Section};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = cyrus::message::parse(data);
    let section = parsed.cache.item(Item::Section);
    assert!(
        Section::decode(section, std::path::Path::new("fuzz")).is_ok(),
        "the SECTION item we wrote does not decode"
    );
    assert_eq!(u64::from(parsed.size), data.len() as u64);
});
