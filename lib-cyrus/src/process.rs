//! What every Cyrus program does before it touches a file: leave root for the Cyrus user and
//! take the configured umask.
//!
//! Cyrus's programs do this in `cyrus_init`, so an admin can run `ctl_cyrusdb -r` or
//! `reconstruct` as root and the files they create still belong to the user the services run
//! as. Ours must do the same, or a root-run tool would leave files the services cannot open.

use crate::config::Config;
use crate::error::{Error, Result};
use std::ffi::CString;
use std::path::PathBuf;

/// The user Cyrus runs as when `cyrus_user` is not set (Debian's build default).
pub const DEFAULT_CYRUS_USER: &str = "cyrus";

/// The Cyrus user named by the configuration.
pub fn cyrus_user(config: &Config) -> &str {
    match config.string("cyrus_user") {
        Some(u) if !u.is_empty() => u,
        _ => DEFAULT_CYRUS_USER,
    }
}

/// If running as root, becomes `user` (and its primary group, or `group` if given); otherwise
/// does nothing. Fails if the user does not exist, as Cyrus does, rather than run as root.
pub fn become_user(user: &str, group: Option<&str>) -> Result<()> {
    // SAFETY: getuid/geteuid have no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(());
    }
    let fail = |what: String| Error::Config {
        file: PathBuf::new(),
        line: 0,
        msg: what,
    };
    let cuser = CString::new(user).map_err(|_| fail(format!("bad user name {user:?}")))?;
    // SAFETY: getpwnam returns a pointer into static storage or NULL; we copy the two ids out
    // before any other call that could overwrite it. This runs at start-up, single-threaded.
    let pw = unsafe { libc::getpwnam(cuser.as_ptr()) };
    if pw.is_null() {
        return Err(fail(format!("cannot find user {user}")));
    }
    // SAFETY: `pw` is non-NULL and points at a valid passwd record (see above).
    let (uid, mut gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
    if let Some(g) = group.filter(|g| !g.is_empty()) {
        let cgroup = CString::new(g).map_err(|_| fail(format!("bad group name {g:?}")))?;
        // SAFETY: as for getpwnam: static storage, copied out at once.
        let gr = unsafe { libc::getgrnam(cgroup.as_ptr()) };
        if gr.is_null() {
            return Err(fail(format!("cannot find group {g}")));
        }
        // SAFETY: `gr` is non-NULL and valid.
        gid = unsafe { (*gr).gr_gid };
    }
    // SAFETY: plain system calls on ids; order matters (groups before the uid, since a
    // non-root process may no longer change them) and each result is checked.
    let ok = unsafe {
        libc::setgid(gid) == 0
            && libc::initgroups(cuser.as_ptr(), gid) == 0
            && libc::setuid(uid) == 0
    };
    if !ok {
        return Err(Error::io(
            format!("<become {user}>"),
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// Sets the process umask from the `umask` option (octal text, default `077`).
pub fn apply_umask(config: &Config) -> Result<()> {
    let text = config.string("umask").unwrap_or("077");
    let mask =
        u32::from_str_radix(text.trim_start_matches("0o"), 8).map_err(|_| Error::Config {
            file: config.path().to_path_buf(),
            line: 0,
            msg: format!("umask {text:?} is not an octal number"),
        })?;
    // SAFETY: umask(2) only swaps the process's file-creation mask.
    unsafe {
        libc::umask((mask & 0o777) as libc::mode_t);
    }
    Ok(())
}

/// The start-up every command-line tool does: read the configuration (`-C` or the default
/// path), become the Cyrus user if root, and apply the umask.
pub fn init_tool(config_path: Option<&str>, service: &str) -> Result<Config> {
    let path = config_path
        .map(PathBuf::from)
        .unwrap_or_else(Config::default_path);
    let config = Config::load(&path, Some(service))?;
    become_user(cyrus_user(&config), config.string("cyrus_group"))?;
    apply_umask(&config)?;
    Ok(config)
}
