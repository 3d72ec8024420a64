//! Fuzzes the cyrus.conf reader, `MasterConf::parse`: Cyrus's 4095-byte chunking, section
//! headers, comments, quoting, `key=value` arguments and the typed fields of every START,
//! SERVICES, EVENTS and DAEMON entry; then `read_section` and each entry's argv directly.
//!
//! The input is taken as lossy UTF-8, as `MasterConf::load` reads a file. cyrus.conf opens
//! no other file, so nothing here touches the disk.

#![no_main]

use cyrus::config::cyrus_conf::{read_section, MasterConf};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let path = Path::new("/nonexistent/cyrus.conf");
    let _ = MasterConf::parse(&text, path);
    // master reads sections one by one too, and builds each command line from `cmd`.
    if let Ok(entries) = read_section(&text, path, "SERVICES") {
        for e in entries {
            let _ = (e.argv(), e.int("prefork", 0), e.switch("babysit", false));
        }
    }
});
