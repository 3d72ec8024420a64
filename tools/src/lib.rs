//! What the admin commands share: start-up with `-C altconfig`, and fatal errors reported the
//! way Cyrus reports them (`fatal error: ...` on stderr, a sysexits code).
#![forbid(unsafe_code)]

use cyrus::config::Config;

/// sysexits.h `EX_CONFIG`: the configuration is unusable.
pub const EX_CONFIG: i32 = 78;

/// Prints `fatal error: msg` on stderr and exits with `code`.
pub fn fatal(msg: &str, code: i32) -> ! {
    eprintln!("fatal error: {msg}");
    std::process::exit(code);
}

/// Reads the configuration (`-C` or the default path) as `service`, becomes the Cyrus user
/// if run as root and applies the umask; exits with `EX_CONFIG` if any of that fails.
pub fn init(config_path: Option<&str>, service: &str) -> Config {
    match cyrus::process::init_tool(config_path, service) {
        Ok(c) => c,
        Err(e) => fatal(&e.to_string(), EX_CONFIG),
    }
}
