//! Logging through the C library's `syslog(3)`, with the ident and facility Cyrus uses.
//!
//! Log collectors and test harnesses hook the libc calls, so every line goes through
//! `openlog`/`syslog` and never through a socket of our own. The ident is
//! `<syslog_prefix>/<program>` with Debian's `cyrus` when no prefix is configured, the facility
//! is `syslog_facility` or `MAIL`, and `LOG_DEBUG` lines are masked unless `debug: on`, as
//! Cyrus 3.6's `cyrus_init` sets it up. This is the one module that calls into libc's logger.

use crate::config::Config;
use std::ffi::CString;

/// A syslog priority level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// `LOG_ERR`: something is wrong.
    Err,
    /// `LOG_WARNING`.
    Warning,
    /// `LOG_NOTICE`: a normal but significant event.
    Notice,
    /// `LOG_INFO`.
    Info,
    /// `LOG_DEBUG`: shown only with `debug: on`.
    Debug,
}

impl Level {
    fn raw(self) -> libc::c_int {
        match self {
            Level::Err => libc::LOG_ERR,
            Level::Warning => libc::LOG_WARNING,
            Level::Notice => libc::LOG_NOTICE,
            Level::Info => libc::LOG_INFO,
            Level::Debug => libc::LOG_DEBUG,
        }
    }
}

/// The ident Debian's Cyrus 3.6 uses when `syslog_prefix` is unset.
const DEFAULT_PREFIX: &str = "cyrus";

/// The facility a `syslog_facility` name selects (names as Cyrus accepts them), if known.
pub fn facility_from_name(name: &str) -> Option<libc::c_int> {
    let f = match name.to_ascii_uppercase().as_str() {
        "DAEMON" => libc::LOG_DAEMON,
        "MAIL" => libc::LOG_MAIL,
        "NEWS" => libc::LOG_NEWS,
        "USER" => libc::LOG_USER,
        "LOCAL0" => libc::LOG_LOCAL0,
        "LOCAL1" => libc::LOG_LOCAL1,
        "LOCAL2" => libc::LOG_LOCAL2,
        "LOCAL3" => libc::LOG_LOCAL3,
        "LOCAL4" => libc::LOG_LOCAL4,
        "LOCAL5" => libc::LOG_LOCAL5,
        "LOCAL6" => libc::LOG_LOCAL6,
        "LOCAL7" => libc::LOG_LOCAL7,
        _ => return None,
    };
    Some(f)
}

/// The ident a program logs under with this configuration: `<prefix>/<program>`.
pub fn ident(config: &Config, program: &str) -> String {
    let prefix = config
        .string("syslog_prefix")
        .filter(|p| !p.is_empty())
        .unwrap_or(DEFAULT_PREFIX);
    format!("{prefix}/{program}")
}

/// Opens the log for `program` as Cyrus does once the configuration is read.
pub fn open(config: &Config, program: &str) {
    let facility = config
        .string("syslog_facility")
        .and_then(facility_from_name)
        .unwrap_or(libc::LOG_MAIL);
    // openlog keeps the pointer for the life of the process, so the string is never freed.
    let ident = CString::new(ident(config, program).replace('\0', ""))
        .unwrap_or_default()
        .into_raw();
    let mask = if config.switch("debug") {
        !0
    } else {
        !(1 << libc::LOG_DEBUG)
    };
    // SAFETY: `ident` is a valid NUL-terminated string that lives until exit; openlog and
    // setlogmask take no other pointers.
    unsafe {
        libc::openlog(ident, libc::LOG_PID, facility);
        libc::setlogmask(mask);
    }
}

/// Sends one line at `level`; interior NULs are dropped.
pub fn log(level: Level, msg: &str) {
    let Ok(line) = CString::new(msg.replace('\0', "")) else {
        return;
    };
    // SAFETY: the format is a literal "%s" and its one argument a valid C string that
    // outlives the call.
    unsafe {
        libc::syslog(level.raw(), c"%s".as_ptr(), line.as_ptr());
    }
}
