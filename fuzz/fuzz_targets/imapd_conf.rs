//! Fuzzes the imapd.conf reader, `Config::parse`, as the `imap` service: line joining,
//! keys, service overrides, every option type's value parser, overflow keys and `@include`,
//! then reads every option back through its typed accessor.
//!
//! The input is taken as lossy UTF-8, as `Config::load` reads a file. `@include` reads real
//! files: a relative name is tried in the working directory, then beside the including file,
//! so the file is said to live in a scratch directory that holds three small files to be
//! included (one nests, one includes itself). Inputs that could name a device or a kernel file
//! (`dev/`, `proc/`, `sys/`, `run/`) are skipped, since `@include: /dev/zero` is an endless
//! read by design, in Cyrus too, and not a parser bug.

#![no_main]

use cyrus::config::{Config, Kind, OPTIONS};
use libfuzzer_sys::fuzz_target;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Files the input may `@include` by relative name, made once per process.
const INCLUDABLE: &[(&str, &str)] = &[
    (
        "inc.conf",
        "admins: cyrus\npartition-default: /var/spool/cyrus\n",
    ),
    ("nest.conf", "@include: inc.conf\nimap_idlesocket: /x\n"),
    ("self.conf", "@include: self.conf\n"),
];

/// Where the fuzzed imapd.conf claims to be; the directory holds [`INCLUDABLE`]. The working
/// directory is left alone: libFuzzer reads its corpus by relative paths.
fn conf_path() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = cyrus_fuzz::scratch_dir().join("include");
        std::fs::create_dir_all(&dir).expect("include dir");
        for (name, text) in INCLUDABLE {
            std::fs::write(dir.join(name), text).expect("include file");
        }
        dir.join("imapd.conf")
    })
}

/// Whether `text` has an `@include` (in any case) and something that could name a special
/// file; lines joined by a trailing backslash are joined first, as the reader joins them.
fn may_include_special_file(text: &str) -> bool {
    let joined = text.replace("\\\n", "").to_ascii_lowercase();
    joined.contains("include")
        && ["dev/", "proc/", "sys/", "run/"]
            .iter()
            .any(|p| joined.contains(p))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if may_include_special_file(&text) {
        return;
    }
    let Ok(config) = Config::parse(&text, conf_path(), Some("imap")) else {
        return;
    };
    // Every accessor must cope with every value the parser accepted.
    for def in OPTIONS.iter().filter(|d| !d.is_deprecated()) {
        let name = def.name;
        match def.kind {
            Kind::Switch => {
                let _ = config.switch(name);
            }
            Kind::Int => {
                let _ = config.int(name);
            }
            Kind::Duration(_) => {
                let _ = (config.duration_secs(name), config.string(name));
            }
            Kind::Bitfield(_) => {
                let _ = config.bitfield(name);
            }
            Kind::String | Kind::Enum(_) | Kind::StringList(_) => {
                let _ = config.string(name);
            }
        }
        let _ = (config.is_default(name), config.is_set(name));
    }
    for (key, _) in config.overflow() {
        let _ = config.overflow_string(key);
    }
    let _ = config.string("partition-default");
    let _ = config.config_directory();
});
