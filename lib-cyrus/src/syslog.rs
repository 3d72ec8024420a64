//! Logging through the C library's `syslog(3)`, with Cyrus's idents and facilities.
//!
//! Cyrus programs log with `openlog(ident, LOG_PID, facility)`: the ident is the program's
//! name (`master`) or `cyrus/<service>` for a worker, with `syslog_prefix` in front when it is
//! set, and the facility is `syslog_facility` or the build's default (Debian builds with
//! `LOG_MAIL`). Log collectors and test harnesses hook those calls, so we make the same ones.

use std::ffi::CString;
use std::sync::OnceLock;

use crate::config::Config;

/// The facility Debian's Cyrus is built with.
pub const DEFAULT_FACILITY: libc::c_int = libc::LOG_MAIL;

/// A syslog priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Something is wrong (`LOG_ERR`).
    Err,
    /// Something may be wrong (`LOG_WARNING`).
    Warning,
    /// A normal but notable event (`LOG_NOTICE`).
    Notice,
    /// Routine information (`LOG_INFO`).
    Info,
    /// Detail for debugging (`LOG_DEBUG`).
    Debug,
}

impl Level {
    fn priority(self) -> libc::c_int {
        match self {
            Level::Err => libc::LOG_ERR,
            Level::Warning => libc::LOG_WARNING,
            Level::Notice => libc::LOG_NOTICE,
            Level::Info => libc::LOG_INFO,
            Level::Debug => libc::LOG_DEBUG,
        }
    }
}

/// openlog(3) keeps the ident pointer, so the string must outlive every later syslog call.
static IDENT: OnceLock<CString> = OnceLock::new();

/// The facility named by `syslog_facility` (`MAIL`, `LOCAL6`, ...), or the default.
pub fn facility(config: Option<&Config>) -> libc::c_int {
    let name = config
        .and_then(|c| c.string("syslog_facility"))
        .unwrap_or("");
    match name.to_ascii_uppercase().trim_start_matches("LOG_") {
        "AUTH" => libc::LOG_AUTH,
        "AUTHPRIV" => libc::LOG_AUTHPRIV,
        "CRON" => libc::LOG_CRON,
        "DAEMON" => libc::LOG_DAEMON,
        "LOCAL0" => libc::LOG_LOCAL0,
        "LOCAL1" => libc::LOG_LOCAL1,
        "LOCAL2" => libc::LOG_LOCAL2,
        "LOCAL3" => libc::LOG_LOCAL3,
        "LOCAL4" => libc::LOG_LOCAL4,
        "LOCAL5" => libc::LOG_LOCAL5,
        "LOCAL6" => libc::LOG_LOCAL6,
        "LOCAL7" => libc::LOG_LOCAL7,
        "USER" => libc::LOG_USER,
        _ => DEFAULT_FACILITY,
    }
}

/// The ident Cyrus uses for `name`: `<syslog_prefix>/<name>` when the option is set.
pub fn ident_for(config: Option<&Config>, name: &str) -> String {
    match config.and_then(|c| c.string("syslog_prefix")) {
        Some(p) if !p.is_empty() => format!("{p}/{name}"),
        _ => name.to_string(),
    }
}

/// Opens the log with `ident` and `facility`, logging the pid with every line. Only the
/// first call of a process takes effect.
pub fn open(ident: &str, facility: libc::c_int) {
    open_with(ident, facility, false);
}

/// As [`open`]; with `also_stderr`, syslog(3) copies every line to stderr too (`LOG_PERROR`).
pub fn open_with(ident: &str, facility: libc::c_int, also_stderr: bool) {
    let c = CString::new(ident.replace('\0', "")).unwrap_or_default();
    let stored = IDENT.get_or_init(|| c);
    let flags = libc::LOG_PID | if also_stderr { libc::LOG_PERROR } else { 0 };
    // SAFETY: `stored` lives in a static for the rest of the process, as openlog requires.
    unsafe { libc::openlog(stored.as_ptr(), flags, facility) };
}

/// Logs one line at `level`.
pub fn log(level: Level, msg: &str) {
    let Ok(c) = CString::new(msg.replace('\0', "\\0")) else {
        return;
    };
    // SAFETY: the format is a constant "%s" and `c` is a valid NUL-terminated string, so
    // syslog reads exactly one string argument.
    unsafe { libc::syslog(level.priority(), c"%s".as_ptr(), c.as_ptr()) };
}
