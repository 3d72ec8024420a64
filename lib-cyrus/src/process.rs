//! The process setup every Cyrus program does before touching its files: run as the `cyrus`
//! user and create files private to it.
//!
//! Started as root, a tool switches to `cyrus_user` (Debian's `cyrus` when unset) and that
//! user's primary group, or `cyrus_group`, with the user's supplementary groups, so the files
//! it makes belong to the same owner as the daemons'. Started as anyone else it stays who it
//! is, as Cyrus's tools do. The umask then becomes the `umask` option (default 077), so files
//! and directories Cyrus creates with 0644/0755 end up 0600/0700.

use crate::config::Config;
use crate::error::{Error, Result};
use std::ffi::{CStr, CString};

/// The user Debian's Cyrus runs as when `cyrus_user` is unset.
pub const DEFAULT_CYRUS_USER: &str = "cyrus";

/// The Cyrus user named by the configuration.
pub fn cyrus_user(config: &Config) -> &str {
    config
        .string("cyrus_user")
        .filter(|u| !u.is_empty())
        .unwrap_or(DEFAULT_CYRUS_USER)
}

/// Switches to the cyrus user if running as root, then takes the configured umask.
pub fn become_cyrus(config: &Config) -> Result<()> {
    become_user(cyrus_user(config), config.string("cyrus_group"))?;
    apply_umask(config)
}

/// If running as root, becomes `user` with its groups (its primary group, or `group` when
/// given); otherwise does nothing. Master calls this itself, after binding its listeners.
pub fn become_user(user: &str, group: Option<&str>) -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(());
    }
    switch_user(user, group.filter(|g| !g.is_empty()))
}

/// Sets the process umask from the `umask` option (octal text, default `077`); Debian's
/// tools honour it (`umask: 022` gives 0644 files).
pub fn apply_umask(config: &Config) -> Result<()> {
    let text = config.string("umask").unwrap_or("077");
    let mask = u32::from_str_radix(text, 8).map_err(|_| Error::Config {
        file: config.path().to_path_buf(),
        line: 0,
        msg: format!("umask {text:?} is not an octal number"),
    })?;
    // SAFETY: umask(2) only swaps the process's file-creation mask.
    unsafe { libc::umask((mask & 0o777) as libc::mode_t) };
    Ok(())
}

fn switch_user(user: &str, group: Option<&str>) -> Result<()> {
    let fail = |what: String| Error::Usage(what);
    let cuser = CString::new(user).map_err(|_| fail(format!("bad user name {user:?}")))?;
    let (uid, mut gid) =
        lookup_user(&cuser).ok_or_else(|| fail(format!("cannot find user {user}")))?;
    if let Some(g) = group {
        let cgroup = CString::new(g).map_err(|_| fail(format!("bad group name {g:?}")))?;
        gid = lookup_group(&cgroup).ok_or_else(|| fail(format!("cannot find group {g}")))?;
    }
    let os = |what: &str| fail(format!("{what}: {}", std::io::Error::last_os_error()));
    // SAFETY: plain system calls on integer ids and a valid C string; the order (groups,
    // gid, then uid) is the only one that works once root is given up.
    unsafe {
        if libc::initgroups(cuser.as_ptr(), gid) != 0 {
            return Err(os("initgroups"));
        }
        if libc::setgid(gid) != 0 {
            return Err(os("setgid"));
        }
        if libc::setuid(uid) != 0 {
            return Err(os("setuid"));
        }
    }
    Ok(())
}

fn lookup_user(name: &CStr) -> Option<(libc::uid_t, libc::gid_t)> {
    let mut buf = vec![0 as libc::c_char; 16384];
    // SAFETY: passwd is plain old data; getpwnam_r writes into it and `buf`, both of which
    // outlive the call, and `res` is only read after it returns.
    unsafe {
        let mut pw: libc::passwd = std::mem::zeroed();
        let mut res: *mut libc::passwd = std::ptr::null_mut();
        let r = libc::getpwnam_r(
            name.as_ptr(),
            &mut pw,
            buf.as_mut_ptr(),
            buf.len(),
            &mut res,
        );
        if r != 0 || res.is_null() {
            return None;
        }
        Some((pw.pw_uid, pw.pw_gid))
    }
}

fn lookup_group(name: &CStr) -> Option<libc::gid_t> {
    let mut buf = vec![0 as libc::c_char; 16384];
    // SAFETY: as in lookup_user, with getgrnam_r and struct group.
    unsafe {
        let mut gr: libc::group = std::mem::zeroed();
        let mut res: *mut libc::group = std::ptr::null_mut();
        let r = libc::getgrnam_r(
            name.as_ptr(),
            &mut gr,
            buf.as_mut_ptr(),
            buf.len(),
            &mut res,
        );
        if r != 0 || res.is_null() {
            return None;
        }
        Some(gr.gr_gid)
    }
}
