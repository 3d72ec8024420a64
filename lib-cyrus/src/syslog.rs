//! Logging through the C library's `syslog(3)`, with the idents and facilities Cyrus uses.
//!
//! Log collectors and test harnesses hook the libc calls, so every line goes through
//! `openlog`/`syslog` and never through a socket of our own. The ident is
//! `<syslog_prefix>/<program>`, with Debian's `cyrus` when no prefix is configured (so
//! `cyrus/master`, `cyrus/imap`, `cyrus/ctl_cyrusdb`); the facility is `syslog_facility` or
//! `MAIL`, Debian's build default; every line carries the pid; `LOG_DEBUG` lines are masked
//! unless `debug: on`, as Cyrus 3.6 sets it up. This is the one module that calls the logger.

use crate::config::Config;
use std::ffi::CString;
use std::sync::OnceLock;

/// The facility Debian's Cyrus is built with.
pub const DEFAULT_FACILITY: libc::c_int = libc::LOG_MAIL;
/// The ident prefix Debian's Cyrus 3.6 uses when `syslog_prefix` is unset.
const DEFAULT_PREFIX: &str = "cyrus";

/// A syslog priority level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// `LOG_ERR`: something is wrong.
    Err,
    /// `LOG_WARNING`: something may be wrong.
    Warning,
    /// `LOG_NOTICE`: a normal but significant event.
    Notice,
    /// `LOG_INFO`: routine information.
    Info,
    /// `LOG_DEBUG`: shown only with `debug: on`.
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

/// The facility named by `syslog_facility` (`MAIL`, `LOCAL6`, `LOG_LOCAL6`, ...), or the
/// default for a missing or unknown name.
pub fn facility(config: Option<&Config>) -> libc::c_int {
    let name = config
        .and_then(|c| c.string("syslog_facility"))
        .unwrap_or("");
    match name.to_ascii_uppercase().trim_start_matches("LOG_") {
        "AUTH" => libc::LOG_AUTH,
        "AUTHPRIV" => libc::LOG_AUTHPRIV,
        "CRON" => libc::LOG_CRON,
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
        _ => DEFAULT_FACILITY,
    }
}

/// The ident `program` logs under with this configuration: `<prefix>/<program>`.
pub fn ident(config: Option<&Config>, program: &str) -> String {
    let prefix = config
        .and_then(|c| c.string("syslog_prefix"))
        .filter(|p| !p.is_empty())
        .unwrap_or(DEFAULT_PREFIX);
    format!("{prefix}/{program}")
}

/// Opens the log for `program` as Cyrus does once the configuration is read.
pub fn open(config: Option<&Config>, program: &str) {
    open_with(config, program, false);
}

/// As [`open`]; with `also_stderr`, syslog(3) copies every line to stderr (`LOG_PERROR`), as
/// master does when it runs in the foreground. Only the first call of a process sets the
/// ident.
pub fn open_with(config: Option<&Config>, program: &str, also_stderr: bool) {
    let c = CString::new(ident(config, program).replace('\0', "")).unwrap_or_default();
    let stored = IDENT.get_or_init(|| c);
    let flags = libc::LOG_PID | if also_stderr { libc::LOG_PERROR } else { 0 };
    let mask = if config.is_some_and(|c| c.switch("debug")) {
        !0
    } else {
        !(1 << libc::LOG_DEBUG)
    };
    // SAFETY: `stored` lives in a static for the rest of the process, as openlog requires;
    // setlogmask takes no pointer.
    unsafe {
        libc::openlog(stored.as_ptr(), flags, facility(config));
        libc::setlogmask(mask);
    }
}

/// Sends one line at `level`; interior NULs are shown as `\0`.
pub fn log(level: Level, msg: &str) {
    let Ok(line) = CString::new(msg.replace('\0', "\\0")) else {
        return;
    };
    // SAFETY: the format is a literal "%s" and its one argument a valid C string that
    // outlives the call.
    unsafe {
        libc::syslog(level.priority(), c"%s".as_ptr(), line.as_ptr());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn idents_and_facilities_follow_the_config() {
        let plain = Config::parse("configdirectory: /x\n", Path::new("/t"), None).unwrap();
        assert_eq!(ident(Some(&plain), "master"), "cyrus/master");
        assert_eq!(facility(Some(&plain)), libc::LOG_MAIL);
        let set = Config::parse(
            "configdirectory: /x\nsyslog_prefix: ref\nsyslog_facility: LOCAL6\n",
            Path::new("/t"),
            None,
        )
        .unwrap();
        assert_eq!(ident(Some(&set), "imap"), "ref/imap");
        assert_eq!(facility(Some(&set)), libc::LOG_LOCAL6);
        assert_eq!(ident(None, "x"), "cyrus/x");
    }
}
