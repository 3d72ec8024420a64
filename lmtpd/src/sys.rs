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

/// The TCP peer as Cyrus names it in Received: `name [address]`, or `[address]` when the
/// address has no name; `[unknown]` when the socket has no peer.
pub fn peer_name(fd: RawFd) -> String {
    let mut host = [0 as libc::c_char; 1025];
    let mut serv = [0 as libc::c_char; 32];
    // SAFETY: getpeername writes at most `len` bytes into the zeroed storage we own; the
    // getnameinfo calls read that address (with the length the kernel gave) and write
    // NUL-terminated strings of at most the buffer lengths passed with them.
    unsafe {
        let mut ss: libc::sockaddr_storage = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        let sa = (&mut ss as *mut libc::sockaddr_storage).cast::<libc::sockaddr>();
        if libc::getpeername(fd, sa, &mut len) != 0 {
            return "[unknown]".to_string();
        }
        let text = |buf: &[libc::c_char]| {
            std::ffi::CStr::from_ptr(buf.as_ptr())
                .to_string_lossy()
                .into_owned()
        };
        if libc::getnameinfo(
            sa,
            len,
            host.as_mut_ptr(),
            host.len() as libc::socklen_t,
            serv.as_mut_ptr(),
            serv.len() as libc::socklen_t,
            libc::NI_NUMERICHOST | libc::NI_NUMERICSERV,
        ) != 0
        {
            return "[unknown]".to_string();
        }
        let addr = text(&host);
        let named = libc::getnameinfo(
            sa,
            len,
            host.as_mut_ptr(),
            host.len() as libc::socklen_t,
            std::ptr::null_mut(),
            0,
            libc::NI_NAMEREQD,
        ) == 0;
        if named {
            format!("{} [{addr}]", text(&host))
        } else {
            format!("[{addr}]")
        }
    }
}
