//! The system calls of the worker loop: descriptors 3 and 4, signals, the accept lock.
//!
//! Every `unsafe` block of the service module lives here. The loop needs calls std does not
//! offer (an `fcntl` lock wait that a signal may interrupt, `alarm`, `dup2` onto stdin and
//! stdout, `SO_TYPE`), and it needs them to fail with `EINTR` instead of retrying, because a
//! signal is how master and the reuse timeout end a waiting worker.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by the SIGHUP handler: finish the current session, then exit.
pub static GOT_HUP: AtomicBool = AtomicBool::new(false);
/// Set by the SIGALRM handler: the reuse timeout expired while waiting.
pub static GOT_ALARM: AtomicBool = AtomicBool::new(false);

extern "C" fn on_hup(_: libc::c_int) {
    GOT_HUP.store(true, Ordering::SeqCst);
}

extern "C" fn on_alarm(_: libc::c_int) {
    GOT_ALARM.store(true, Ordering::SeqCst);
}

fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Installs the SIGHUP and SIGALRM handlers. With `restart` false, a blocking call returns
/// `EINTR` when they arrive (waiting for a connection); with true, it carries on (in a session).
pub fn install_handlers(restart: bool) -> io::Result<()> {
    for (sig, handler) in [
        (libc::SIGHUP, on_hup as extern "C" fn(libc::c_int)),
        (libc::SIGALRM, on_alarm as extern "C" fn(libc::c_int)),
    ] {
        // SAFETY: a zeroed sigaction is valid; the handlers only store to atomics, which is
        // async-signal-safe; sigemptyset and sigaction get valid pointers to locals.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = handler as usize;
            sa.sa_flags = if restart { libc::SA_RESTART } else { 0 };
            libc::sigemptyset(&mut sa.sa_mask);
            check(libc::sigaction(sig, &sa, std::ptr::null_mut()))?;
        }
    }
    Ok(())
}

/// Schedules SIGALRM in `secs` seconds (0 cancels).
pub fn alarm(secs: u32) {
    // SAFETY: alarm(2) has no memory effects.
    unsafe { libc::alarm(secs) };
}

/// Marks `fd` close-on-exec, so programs a worker runs do not inherit master's descriptors.
pub fn set_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on an integer descriptor; an invalid one yields EBADF.
    unsafe {
        let flags = check(libc::fcntl(fd, libc::F_GETFD))?;
        check(libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC))?;
    }
    Ok(())
}

/// The socket type of `fd` (`SOCK_STREAM`, `SOCK_DGRAM`) and whether it is a UNIX socket.
pub fn socket_kind(fd: RawFd) -> io::Result<(libc::c_int, bool)> {
    let mut ty: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `ty`, a local of that size.
    check(unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TYPE,
            (&mut ty as *mut libc::c_int).cast(),
            &mut len,
        )
    })?;
    // SAFETY: a zeroed sockaddr_storage is valid and getsockname writes at most `alen` bytes.
    let family = unsafe {
        let mut ss: libc::sockaddr_storage = std::mem::zeroed();
        let mut alen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        check(libc::getsockname(
            fd,
            (&mut ss as *mut libc::sockaddr_storage).cast(),
            &mut alen,
        ))?;
        ss.ss_family
    };
    Ok((ty, libc::c_int::from(family) == libc::AF_UNIX))
}

/// Writes one 8-byte status record to `fd`.
pub fn write_status(fd: RawFd, record: &[u8; 8]) -> io::Result<()> {
    // SAFETY: writes 8 bytes from a valid buffer; a pipe write of <= PIPE_BUF bytes is atomic,
    // so records of several workers never interleave.
    let n = unsafe { libc::write(fd, record.as_ptr().cast(), record.len()) };
    if n == record.len() as isize {
        Ok(())
    } else if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "short status write",
        ))
    }
}

/// Takes (`true`) or releases the whole-file write lock on `fd`, waiting once: a signal makes
/// it fail with `Interrupted`.
pub fn lock_once(fd: RawFd, take: bool) -> io::Result<()> {
    // SAFETY: a zeroed flock is valid (whole file from offset 0); fcntl reads it.
    unsafe {
        let mut fl: libc::flock = std::mem::zeroed();
        fl.l_type = if take { libc::F_WRLCK } else { libc::F_UNLCK } as libc::c_short;
        fl.l_whence = libc::SEEK_SET as libc::c_short;
        check(libc::fcntl(fd, libc::F_SETLKW, &fl))?;
    }
    Ok(())
}

/// Waits until `fd` is readable; fails with `Interrupted` when a signal arrives.
pub fn wait_readable(fd: RawFd) -> io::Result<()> {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll gets one valid pollfd.
    check(unsafe { libc::poll(&mut p, 1, -1) })?;
    Ok(())
}

/// Waits up to `timeout_ms` for `fd` to become readable; `Ok(false)` on timeout.
pub fn poll_readable(fd: RawFd, timeout_ms: i32) -> io::Result<bool> {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll gets one valid pollfd.
    let n = check(unsafe { libc::poll(&mut p, 1, timeout_ms) })?;
    Ok(n > 0)
}

/// Turns off Nagle's algorithm, so a reply written in one piece leaves at once instead of
/// waiting for the client's delayed ACK (Cyrus never sets it; clients wait ~40 ms for it).
pub fn nodelay(fd: RawFd) {
    let on: libc::c_int = 1;
    // SAFETY: passes a pointer to a local int of the stated size; on a non-TCP socket the
    // call fails harmlessly.
    unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// Accepts a connection on the listening socket `fd`.
pub fn accept(fd: RawFd) -> io::Result<RawFd> {
    // SAFETY: null address pointers are allowed; the new descriptor is ours to own.
    check(unsafe { libc::accept(fd, std::ptr::null_mut(), std::ptr::null_mut()) })
}

/// Waits for a datagram on `fd` without consuming it (UDP services read it themselves).
pub fn peek(fd: RawFd) -> io::Result<()> {
    let mut b = 0u8;
    // SAFETY: reads at most one byte into a local; MSG_PEEK leaves it queued.
    let n = unsafe { libc::recv(fd, (&mut b as *mut u8).cast(), 1, libc::MSG_PEEK) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Turns on TCP keepalive, as Cyrus does for every accepted TCP connection.
pub fn keepalive(fd: RawFd) {
    let on: libc::c_int = 1;
    // SAFETY: passes a pointer to a local int of the stated size; failure is harmless.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_KEEPALIVE,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// Puts `fd` on descriptors 0 and 1 (the session's stdin and stdout).
pub fn onto_stdio(fd: RawFd) -> io::Result<()> {
    for target in [0, 1] {
        if fd != target {
            // SAFETY: dup2 on integer descriptors; it closes whatever was at `target`, which is
            // ours (the previous session's end or /dev/null).
            check(unsafe { libc::dup2(fd, target) })?;
        }
    }
    Ok(())
}

/// Closes `fd`.
pub fn close(fd: RawFd) {
    // SAFETY: the caller owns `fd` and does not use it again.
    unsafe { libc::close(fd) };
}

/// Ends the session on descriptors 0 and 1 by putting /dev/null there, so the client sees
/// the connection close while 0 and 1 stay valid for the next `dup2`.
pub fn stdio_to_null() {
    // SAFETY: open with a constant NUL-terminated path; dup2/close on descriptors we own.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            libc::dup2(null, 0);
            libc::dup2(null, 1);
            if null > 1 {
                libc::close(null);
            }
        } else {
            libc::close(0);
            libc::close(1);
        }
    }
}

/// Reads from descriptor `fd` into `buf`.
pub fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: reads at most buf.len() bytes into `buf`.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Writes `buf` to descriptor `fd`, as far as one call goes.
pub fn write(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: reads at most buf.len() bytes from `buf`.
    let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// This process's id.
pub fn getpid() -> i32 {
    // SAFETY: getpid has no preconditions.
    unsafe { libc::getpid() }
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
