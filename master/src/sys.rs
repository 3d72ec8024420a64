//! master's system calls: listeners, pipes, the signal self-pipe, fork and exec, reaping.
//!
//! Every `unsafe` block of master lives here. master is single-threaded, which is what makes
//! its `fork` sound: the child inherits no lock held by another thread, so the few calls it
//! makes between `fork` and `execve` cannot deadlock. Everything the child needs (paths,
//! argv, environment) is built before the fork, so the child allocates nothing.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};

fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Wraps a descriptor the kernel just gave us.
fn own(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful socket/pipe/open call and nothing else
    // owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Sets or clears `O_NONBLOCK` and sets `FD_CLOEXEC` on `fd`.
pub fn set_flags(fd: RawFd, nonblock: bool) -> io::Result<()> {
    // SAFETY: fcntl on an integer descriptor; errors are returned.
    unsafe {
        let fl = check(libc::fcntl(fd, libc::F_GETFL))?;
        let fl = if nonblock {
            fl | libc::O_NONBLOCK
        } else {
            fl & !libc::O_NONBLOCK
        };
        check(libc::fcntl(fd, libc::F_SETFL, fl))?;
        let fd_fl = check(libc::fcntl(fd, libc::F_GETFD))?;
        check(libc::fcntl(fd, libc::F_SETFD, fd_fl | libc::FD_CLOEXEC))?;
    }
    Ok(())
}

/// A pipe: (read end, write end), both close-on-exec; the read end non-blocking if asked.
pub fn pipe(nonblock_read: bool) -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe writes two descriptors into a two-element array.
    check(unsafe { libc::pipe(fds.as_mut_ptr()) })?;
    let (r, w) = (own(fds[0]), own(fds[1]));
    set_flags(r.as_raw_fd(), nonblock_read)?;
    set_flags(w.as_raw_fd(), false)?;
    Ok((r, w))
}

/// Puts /dev/null on fds 3 and 4 (kept across exec), so that no listener or pipe of ours ever
/// gets those numbers and a DAEMON entry finds them harmless, as under Cyrus's master.
pub fn reserve_fds_3_4() -> io::Result<()> {
    // SAFETY: open with a constant path; dup2 onto fixed numbers we reserve for this purpose.
    unsafe {
        let null = check(libc::open(c"/dev/null".as_ptr(), libc::O_RDWR))?;
        for fd in [3, 4] {
            if null != fd {
                check(libc::dup2(null, fd))?;
            }
        }
        if null > 4 {
            libc::close(null);
        }
    }
    Ok(())
}

/// Points stdin at /dev/null and stdout/stderr at `log` (appended) or /dev/null.
pub fn redirect_stdio(log: Option<&str>) -> io::Result<()> {
    let log = log.map(CString::new).transpose()?;
    // SAFETY: open with NUL-terminated paths; dup2 onto 0..2, which this process owns.
    unsafe {
        let null = check(libc::open(c"/dev/null".as_ptr(), libc::O_RDWR))?;
        check(libc::dup2(null, 0))?;
        let out = match &log {
            Some(p) => check(libc::open(
                p.as_ptr(),
                libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND,
                0o666,
            ))?,
            None => null,
        };
        check(libc::dup2(out, 1))?;
        check(libc::dup2(out, 2))?;
        if out > 2 && out != null {
            libc::close(out);
        }
        if null > 2 {
            libc::close(null);
        }
    }
    Ok(())
}

/// How a listener's socket is made.
pub struct SocketSpec {
    /// Address family (`AF_INET`, `AF_INET6`, `AF_UNIX`).
    pub family: libc::c_int,
    /// `SOCK_STREAM` or `SOCK_DGRAM`.
    pub socktype: libc::c_int,
    /// Protocol from getaddrinfo (0 for UNIX sockets).
    pub protocol: libc::c_int,
    /// The address to bind.
    pub addr: Vec<u8>,
}

/// Resolves `host` (None = any) and `port` (number or /etc/services name) for `family` and
/// `socktype`, as getaddrinfo with `AI_PASSIVE` does.
pub fn resolve(
    host: Option<&str>,
    port: &str,
    family: libc::c_int,
    socktype: libc::c_int,
) -> Result<Vec<SocketSpec>, String> {
    let chost = host
        .map(CString::new)
        .transpose()
        .map_err(|_| "bad host".to_string())?;
    let cport = CString::new(port).map_err(|_| "bad port".to_string())?;
    // SAFETY: a zeroed addrinfo is a valid hints struct; getaddrinfo gets valid C strings and
    // fills `res`, which we walk read-only and free exactly once.
    unsafe {
        let mut hints: libc::addrinfo = std::mem::zeroed();
        hints.ai_flags = libc::AI_PASSIVE;
        hints.ai_family = family;
        hints.ai_socktype = socktype;
        let mut res: *mut libc::addrinfo = std::ptr::null_mut();
        let rc = libc::getaddrinfo(
            chost.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
            cport.as_ptr(),
            &hints,
            &mut res,
        );
        if rc != 0 {
            let msg = CStr::from_ptr(libc::gai_strerror(rc))
                .to_string_lossy()
                .into_owned();
            return Err(msg);
        }
        let mut out = Vec::new();
        let mut p = res;
        while !p.is_null() {
            let ai = &*p;
            let addr = std::slice::from_raw_parts(ai.ai_addr as *const u8, ai.ai_addrlen as usize)
                .to_vec();
            out.push(SocketSpec {
                family: ai.ai_family,
                socktype: ai.ai_socktype,
                protocol: ai.ai_protocol,
                addr,
            });
            p = ai.ai_next;
        }
        libc::freeaddrinfo(res);
        Ok(out)
    }
}

/// The spec of a UNIX socket at `path`.
pub fn unix_spec(path: &str, socktype: libc::c_int) -> Result<SocketSpec, String> {
    // SAFETY: a zeroed sockaddr_un is valid; we only view it as bytes.
    let mut sun: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    let bytes = path.as_bytes();
    if bytes.len() >= sun.sun_path.len() || bytes.contains(&0) {
        return Err(format!("socket path too long: {path}"));
    }
    sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (d, s) in sun.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1;
    // SAFETY: `sun` is a plain struct at least `len` bytes long.
    let addr = unsafe { std::slice::from_raw_parts(&sun as *const _ as *const u8, len) }.to_vec();
    Ok(SocketSpec {
        family: libc::AF_UNIX,
        socktype,
        protocol: 0,
        addr,
    })
}

/// Creates, binds and (for streams) listens on a socket; close-on-exec, blocking.
pub fn bind(spec: &SocketSpec, backlog: i32) -> io::Result<OwnedFd> {
    // SAFETY: socket() returns a new descriptor that we own at once.
    let fd = own(check(unsafe {
        libc::socket(spec.family, spec.socktype, spec.protocol)
    })?);
    let raw = fd.as_raw_fd();
    let on: libc::c_int = 1;
    let intlen = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: setsockopt reads one int from a local; bind reads `addr.len()` bytes of a
    // sockaddr that getaddrinfo or unix_spec built; umask only swaps the process mask (so a
    // UNIX socket is created 0777 and reachable by every local client, as with Cyrus).
    unsafe {
        libc::setsockopt(
            raw,
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            (&on as *const libc::c_int).cast(),
            intlen,
        );
        if spec.family == libc::AF_INET6 {
            libc::setsockopt(
                raw,
                libc::IPPROTO_IPV6,
                libc::IPV6_V6ONLY,
                (&on as *const libc::c_int).cast(),
                intlen,
            );
        }
        let old = libc::umask(0);
        let r = libc::bind(
            raw,
            spec.addr.as_ptr().cast(),
            spec.addr.len() as libc::socklen_t,
        );
        libc::umask(old);
        check(r)?;
        if spec.socktype == libc::SOCK_STREAM {
            check(libc::listen(raw, backlog))?;
        }
    }
    set_flags(raw, false)?;
    Ok(fd)
}

/// The write end of the signal self-pipe, for the handler.
static SIGNAL_PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = SIGNAL_PIPE.load(Ordering::Relaxed);
    if fd >= 0 {
        let b = sig as u8;
        // SAFETY: write(2) is async-signal-safe; the pipe is non-blocking, so a full pipe
        // loses the byte instead of hanging (the pending signals are already noted then).
        unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
    }
}

/// Routes SIGCHLD, SIGHUP, SIGTERM, SIGINT and SIGQUIT into a pipe master polls; returns its
/// read end. SIGPIPE is ignored (a dead status reader must not kill master).
pub fn signal_pipe() -> io::Result<OwnedFd> {
    let (r, w) = pipe(true)?;
    set_flags(w.as_raw_fd(), true)?;
    SIGNAL_PIPE.store(w.as_raw_fd(), Ordering::Relaxed);
    // The handler keeps writing to this descriptor for the life of the process.
    std::mem::forget(w);
    for sig in [
        libc::SIGCHLD,
        libc::SIGHUP,
        libc::SIGTERM,
        libc::SIGINT,
        libc::SIGQUIT,
    ] {
        // SAFETY: a zeroed sigaction is valid; the handler only calls write(2).
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            sa.sa_flags = libc::SA_RESTART | libc::SA_NOCLDSTOP;
            libc::sigemptyset(&mut sa.sa_mask);
            check(libc::sigaction(sig, &sa, std::ptr::null_mut()))?;
        }
    }
    // SAFETY: setting a disposition to SIG_IGN has no preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    Ok(r)
}

/// Reads what is in `fd` without blocking (a non-blocking descriptor); empty when nothing.
pub fn read_available(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: read at most buf.len() bytes into `buf`.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted {
            return Ok(0);
        }
        return Err(e);
    }
    Ok(n as usize)
}

/// poll(2) on `fds` for input, for at most `timeout_ms` (-1 = no limit). EINTR counts as
/// "nothing ready".
pub fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) -> io::Result<usize> {
    // SAFETY: poll gets a valid slice of pollfd.
    let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(0);
        }
        return Err(e);
    }
    Ok(r as usize)
}

/// How a reaped child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Exited with this status.
    Code(i32),
    /// Killed by this signal (and whether it dumped core).
    Signal(i32, bool),
}

/// One finished child, if any, without waiting.
pub fn reap() -> Option<(i32, Exit)> {
    let mut status = 0;
    // SAFETY: waitpid writes the status into a local.
    let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
    if pid <= 0 {
        return None;
    }
    let how = if libc::WIFSIGNALED(status) {
        Exit::Signal(libc::WTERMSIG(status), libc::WCOREDUMP(status))
    } else {
        Exit::Code(libc::WEXITSTATUS(status))
    };
    Some((pid, how))
}

/// Waits for `pid` to end (START entries run to completion).
pub fn wait_for(pid: i32) -> io::Result<Exit> {
    let mut status = 0;
    loop {
        // SAFETY: waitpid writes the status into a local.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(if libc::WIFSIGNALED(status) {
        Exit::Signal(libc::WTERMSIG(status), libc::WCOREDUMP(status))
    } else {
        Exit::Code(libc::WEXITSTATUS(status))
    })
}

/// Sends `sig` to `pid`.
pub fn kill(pid: i32, sig: libc::c_int) {
    if pid > 0 {
        // SAFETY: kill(2) on a positive pid of one of our children.
        unsafe { libc::kill(pid, sig) };
    }
}

/// This process's id.
pub fn getpid() -> i32 {
    // SAFETY: getpid has no preconditions.
    unsafe { libc::getpid() }
}

/// Starts a new session (daemon mode: no controlling terminal).
pub fn setsid() -> io::Result<()> {
    // SAFETY: setsid has no memory effects.
    check(unsafe { libc::setsid() })?;
    Ok(())
}

/// What a child gets: program, argv, environment, descriptors and limits, all built before
/// the fork.
pub struct Exec {
    path: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
    /// (source, target) descriptor pairs to `dup2` in the child.
    dups: Vec<(RawFd, RawFd)>,
    maxfds: u64,
    drop_to: Option<(libc::uid_t, libc::gid_t, CString)>,
}

impl Exec {
    /// A program run with `args` (argv[0] first) and the current environment plus `env`.
    pub fn new(path: &str, args: &[String], env: &[(&str, String)]) -> Result<Exec, String> {
        let c = |s: &str| CString::new(s).map_err(|_| format!("NUL byte in {s:?}"));
        let mut envp = Vec::new();
        for (k, v) in std::env::vars_os() {
            let k = k.to_string_lossy();
            if env.iter().any(|(n, _)| *n == k) {
                continue;
            }
            envp.push(c(&format!("{k}={}", v.to_string_lossy()))?);
        }
        for (k, v) in env {
            envp.push(c(&format!("{k}={v}"))?);
        }
        Ok(Exec {
            path: c(path)?,
            argv: args.iter().map(|a| c(a)).collect::<Result<_, _>>()?,
            envp,
            dups: Vec::new(),
            maxfds: 0,
            drop_to: None,
        })
    }

    /// Puts `src` on descriptor `target` in the child.
    pub fn dup(mut self, src: RawFd, target: RawFd) -> Exec {
        self.dups.push((src, target));
        self
    }

    /// Sets RLIMIT_NOFILE in the child (0 = leave it).
    pub fn maxfds(mut self, n: i32) -> Exec {
        self.maxfds = n.max(0) as u64;
        self
    }

    /// Makes the child become `user` before exec when master is still root.
    pub fn run_as(mut self, user: &str) -> Exec {
        if let Some((uid, gid)) = lookup_user(user) {
            if let Ok(name) = CString::new(user) {
                self.drop_to = Some((uid, gid, name));
            }
        }
        self
    }

    /// Forks and execs; returns the child's pid. A child whose exec fails exits with 71
    /// (EX_OSERR), which master logs when it reaps it.
    pub fn spawn(&self) -> io::Result<i32> {
        let mut argv: Vec<*const libc::c_char> = self.argv.iter().map(|a| a.as_ptr()).collect();
        argv.push(std::ptr::null());
        let mut envp: Vec<*const libc::c_char> = self.envp.iter().map(|a| a.as_ptr()).collect();
        envp.push(std::ptr::null());
        // SAFETY: master is single-threaded (see the module doc), so the child may run these
        // calls; between fork and execve it only uses memory prepared above and system calls
        // that do not allocate (initgroups reads the group file; no other thread can hold
        // its locks). On any failure the child leaves with _exit, never returning to Rust.
        unsafe {
            let pid = libc::fork();
            if pid < 0 {
                return Err(io::Error::last_os_error());
            }
            if pid > 0 {
                return Ok(pid);
            }
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
            for sig in [
                libc::SIGCHLD,
                libc::SIGHUP,
                libc::SIGTERM,
                libc::SIGINT,
                libc::SIGQUIT,
                libc::SIGPIPE,
            ] {
                libc::signal(sig, libc::SIG_DFL);
            }
            for &(src, target) in &self.dups {
                if src == target {
                    let fl = libc::fcntl(src, libc::F_GETFD);
                    libc::fcntl(src, libc::F_SETFD, fl & !libc::FD_CLOEXEC);
                } else if libc::dup2(src, target) < 0 {
                    libc::_exit(71);
                }
            }
            if self.maxfds > 0 {
                let rl = libc::rlimit {
                    rlim_cur: self.maxfds,
                    rlim_max: self.maxfds,
                };
                libc::setrlimit(libc::RLIMIT_NOFILE, &rl);
            }
            if let Some((uid, gid, name)) = &self.drop_to {
                if libc::geteuid() == 0
                    && (libc::setgid(*gid) != 0
                        || libc::initgroups(name.as_ptr(), *gid) != 0
                        || libc::setuid(*uid) != 0)
                {
                    libc::_exit(71);
                }
            }
            libc::execve(self.path.as_ptr(), argv.as_ptr(), envp.as_ptr());
            libc::_exit(71);
        }
    }
}

/// uid and primary gid of `user`.
fn lookup_user(user: &str) -> Option<(libc::uid_t, libc::gid_t)> {
    let c = CString::new(user).ok()?;
    // SAFETY: getpwnam returns static storage or NULL; both ids are copied out at once, in a
    // single-threaded process.
    unsafe {
        let pw = libc::getpwnam(c.as_ptr());
        if pw.is_null() {
            None
        } else {
            Some(((*pw).pw_uid, (*pw).pw_gid))
        }
    }
}

/// Forks for daemon mode: returns `Some(child pid)` in the parent, `None` in the child.
pub fn fork_daemon() -> io::Result<Option<i32>> {
    // SAFETY: called at start-up while single-threaded; both sides continue in Rust, which is
    // sound because no other thread exists whose locks the child could inherit.
    let pid = unsafe { libc::fork() };
    match pid {
        p if p < 0 => Err(io::Error::last_os_error()),
        0 => Ok(None),
        p => Ok(Some(p)),
    }
}

/// Lifts RLIMIT_NOFILE to its hard limit (Cyrus asks for "infinity"), so many children and
/// listeners fit.
pub fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit read and write a local struct.
    unsafe {
        let mut rl: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) == 0 {
            rl.rlim_cur = rl.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &rl);
        }
    }
}

/// The local time of day `(hour, minute, second)` and day offset helpers for `at` events:
/// seconds from `now` (Unix time) until the next local `hh:mm`.
pub fn seconds_until_local(now: i64, hh: u8, mm: u8) -> i64 {
    // SAFETY: localtime_r and mktime read and write local structs only.
    unsafe {
        let t: libc::time_t = now as libc::time_t;
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return 24 * 3600;
        }
        tm.tm_hour = i32::from(hh);
        tm.tm_min = i32::from(mm);
        tm.tm_sec = 0;
        tm.tm_isdst = -1;
        let mut when = libc::mktime(&mut tm) as i64;
        if when <= now {
            tm.tm_mday += 1;
            tm.tm_isdst = -1;
            when = libc::mktime(&mut tm) as i64;
        }
        (when - now).max(0)
    }
}
