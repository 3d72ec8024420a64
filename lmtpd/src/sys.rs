//! The few socket facts lmtpd needs from the C library: whether the connection came over a
//! unix socket (trusted, "[unix socket]" in Received), the TCP peer as Received names it, and
//! the host name.
#![allow(unsafe_code)]

use std::os::fd::RawFd;

/// Whether `fd` is a unix-domain socket; false for anything else (TCP, a pipe under `-X`).
pub fn is_unix_socket(fd: RawFd) -> bool {
    // SAFETY: getsockname writes at most `len` bytes into the zeroed storage we own and
    // updates `len`; a failure leaves them unused.
    unsafe {
        let mut ss: libc::sockaddr_storage = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        if libc::getsockname(
            fd,
            (&mut ss as *mut libc::sockaddr_storage).cast(),
            &mut len,
        ) != 0
        {
            // Not a socket (`-X` on a terminal or pipe): a local, trusted session.
            return true;
        }
        i32::from(ss.ss_family) == libc::AF_UNIX
    }
}

/// The system host name, for a missing `servername`.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".to_string())
}
