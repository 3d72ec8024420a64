//! The worker's half of the master contract: what a Cyrus service binary does between
//! `exec` and its per-connection code. Cyrus's and our `master` can run our workers, and ours
//! can run Cyrus's, because both sides keep to this:
//!
//! - **Descriptors.** fd 3 ([`STATUS_FD`]) is the write end of a pipe to master, shared by
//!   every worker of one listener. fd 4 ([`LISTEN_FD`]) is the bound, listening socket (or the
//!   UDP socket). Both are made close-on-exec at once. DAEMON entries get neither.
//! - **Environment.** `CYRUS_SERVICE` is the cyrus.conf entry name (the imapd.conf service
//!   name for `<service>_option` overrides and the accept-lock name); `CYRUS_ID` is the
//!   0-based index of the listener among that entry's bound addresses. Both are required.
//! - **Status records** on fd 3: 8 bytes, host byte order, `i32 message, i32 pid`, with
//!   message [`Status`]: 1 available, 2 unavailable, 3 connection, 4 connection (threaded).
//!   Master counts a freshly forked worker as available.
//! - **Loop.** Take the accept lock `<configdir>/socket/<service>-<id>.lock` (an `fcntl`
//!   write lock that lets one idle worker at a time wait in `accept`; without the file, no
//!   locking), wait for a connection, release the lock, send *unavailable*, put the connection
//!   on fds 0 and 1, send *connection*, serve it. Afterwards exit if SIGHUP came or `-U`
//!   connections were served, else send *available* and loop.
//! - **Ending.** A worker that has served once exits when idle for its reuse timeout (`-T`
//!   seconds, default 60, drawn from `[T, 2T)` so a pool does not expire at once), on SIGHUP
//!   while waiting, and when its executable file changes (upgrade). It just exits: master
//!   learns of it from SIGCHLD.
//! - **Options** the loop takes before the service sees `argv`: `-C file`, `-U uses` (default
//!   250; 0 or less means one), `-T seconds`, `-D` (run `debug_command` first), `-X` (serve one
//!   session on stdin/stdout, no master). Each must stand alone (`-U 5`, not `-U5`).
//!
//! A worker's `main` builds its [`Worker`] and calls [`run`]; privileges are dropped before
//! [`Worker::init`].

mod sys;
pub mod watchdog;

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use crate::config::Config;
use crate::syslog::{self, Level};

/// The status pipe to master.
pub const STATUS_FD: RawFd = 3;
/// The listening socket.
pub const LISTEN_FD: RawFd = 4;
/// Connections a worker serves before it exits, unless `-U` says otherwise.
pub const MAX_USE: i32 = 250;
/// Seconds an idle, used worker waits before it exits, unless `-T` says otherwise.
pub const REUSE_TIMEOUT: u32 = 60;

/// `sysexits.h` codes Cyrus's skeleton exits with.
const EX_USAGE: i32 = 64;
const EX_SOFTWARE: i32 = 70;
const EX_OSERR: i32 = 71;
const EX_CONFIG: i32 = 78;

/// A status message a worker sends master on fd 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum Status {
    /// Ready to accept a connection.
    Available = 1,
    /// Busy (or exiting): do not count on this worker.
    Unavailable = 2,
    /// Took a connection (single-connection worker).
    Connection = 3,
    /// Took a connection and stays ready (threaded worker).
    ConnectionMulti = 4,
}

impl Status {
    /// The status for a message number, if it is one.
    pub fn from_i32(v: i32) -> Option<Status> {
        match v {
            1 => Some(Status::Available),
            2 => Some(Status::Unavailable),
            3 => Some(Status::Connection),
            4 => Some(Status::ConnectionMulti),
            _ => None,
        }
    }
}

/// The 8-byte status record: `{i32 message, i32 pid}` in host byte order.
pub fn encode_status(message: i32, pid: i32) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&message.to_ne_bytes());
    b[4..].copy_from_slice(&pid.to_ne_bytes());
    b
}

/// Splits an 8-byte status record into `(message, pid)`.
pub fn decode_status(b: [u8; 8]) -> (i32, i32) {
    let m = i32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
    let p = i32::from_ne_bytes([b[4], b[5], b[6], b[7]]);
    (m, p)
}

/// The generic options the skeleton takes out of `argv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `-C`: the imapd.conf to read.
    pub config: Option<PathBuf>,
    /// `-U`: connections to serve before exiting (0 = one).
    pub max_use: i32,
    /// `-T`: base idle timeout in seconds (0 = none).
    pub reuse_timeout: u32,
    /// `-D`: run `debug_command` before serving.
    pub debugger: bool,
    /// `-X`: serve one session on stdin/stdout.
    pub debug_stdio: bool,
    /// What is left for the service: `argv[0]`, then its own options and arguments.
    pub args: Vec<String>,
}

/// Takes the generic options out of `argv` (including `argv[0]`), as Cyrus's skeleton does:
/// other options pass through with the argument after them unless it starts with `-`.
pub fn parse_options(argv: &[String]) -> Result<Options, String> {
    let mut o = Options {
        config: None,
        max_use: MAX_USE,
        reuse_timeout: REUSE_TIMEOUT,
        debugger: false,
        debug_stdio: false,
        args: argv.iter().take(1).cloned().collect(),
    };
    let mut i = 1;
    while i < argv.len() {
        let a = &argv[i];
        i += 1;
        let b = a.as_bytes();
        let generic = b.len() >= 2 && b[0] == b'-' && b"CUTDX".contains(&b[1]);
        if !generic {
            o.args.push(a.clone());
            if b.len() >= 2 && b[0] == b'-' && a != "--" {
                if let Some(next) = argv.get(i).filter(|n| !n.starts_with('-')) {
                    o.args.push(next.clone());
                    i += 1;
                }
            }
            continue;
        }
        if b.len() > 2 {
            return Err("options and arguments MUST be separated by whitespace".into());
        }
        let mut value = || {
            let v = argv.get(i).cloned();
            i += 1;
            v.ok_or_else(|| format!("option {a} requires an argument"))
        };
        match b[1] {
            b'C' => o.config = Some(PathBuf::from(value()?)),
            b'U' => o.max_use = atoi(&value()?).max(0),
            b'T' => o.reuse_timeout = atoi(&value()?).max(0) as u32,
            b'D' => o.debugger = true,
            _ => o.debug_stdio = true,
        }
    }
    Ok(o)
}

/// C's `atoi`: leading blanks, a sign, digits; anything else ends the number.
fn atoi(s: &str) -> i32 {
    let t = s.trim_start();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut v: i64 = 0;
    for c in digits.bytes().take_while(u8::is_ascii_digit) {
        v = (v * 10 + i64::from(c - b'0')).min(i64::from(i32::MAX));
    }
    (if neg { -v } else { v }) as i32
}

/// What a worker knows about where it runs.
#[derive(Debug)]
pub struct Context {
    /// `CYRUS_SERVICE`: the cyrus.conf entry name.
    pub service: String,
    /// `CYRUS_ID`: which of the entry's listeners this worker serves.
    pub id: i32,
    /// imapd.conf as this service sees it.
    pub config: Config,
    /// The service's own arguments (`argv[0]` first, generic options removed).
    pub args: Vec<String>,
}

/// One client connection: reads from fd 0, writes to fd 1.
#[derive(Debug)]
pub struct Connection {
    _private: (),
}

impl Connection {
    /// The descriptor the session reads from (0); for socket options and polling.
    pub fn input_fd(&self) -> RawFd {
        0
    }

    /// The descriptor the session writes to (1).
    pub fn output_fd(&self) -> RawFd {
        1
    }

    /// Waits up to `timeout_ms` for input; `Ok(false)` when the time ran out first.
    pub fn wait_input(&self, timeout_ms: i32) -> io::Result<bool> {
        sys::poll_readable(0, timeout_ms)
    }

    /// The client as Cyrus names it in logs and Received headers: `name [address]`,
    /// `[address]` without a name, `[unknown]` for a socket without a peer (unix sockets).
    pub fn peer_name(&self) -> String {
        sys::peer_name(0)
    }

    /// Sends each write at once (TCP_NODELAY); callers then write whole replies.
    pub fn set_nodelay(&self) {
        sys::nodelay(1);
    }
}

impl Read for Connection {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        sys::read(0, buf)
    }
}

impl Write for Connection {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        sys::write(1, buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Waits up to `timeout_ms` for input from the client (fd 0); `Ok(false)` on timeout. For
/// loops that hold the connection inside another stream (TLS).
pub fn wait_input(timeout_ms: i32) -> io::Result<bool> {
    sys::poll_readable(0, timeout_ms)
}

/// A service: set up once, then serve connections one at a time.
pub trait Worker {
    /// Runs once, after privileges are dropped and before the first connection; an error
    /// ends the process with status 1.
    fn init(&mut self, _ctx: &Context) -> Result<(), String> {
        Ok(())
    }

    /// Serves one client; returning ends the connection.
    fn session(&mut self, ctx: &Context, conn: &mut Connection);
}

fn die(code: i32, msg: &str) -> ! {
    syslog::log(Level::Err, msg);
    eprintln!("{msg}");
    std::process::exit(code)
}

/// Tells master `status`; a failure is logged (master may be gone) and otherwise ignored.
fn notify(status: Status) {
    let rec = encode_status(status as i32, sys::getpid());
    if let Err(e) = sys::write_status(STATUS_FD, &rec) {
        syslog::log(
            Level::Err,
            &format!("unable to tell master {:x}: {e}", status as i32),
        );
    }
}

/// Exits after telling master this worker is gone (so it stops counting it as ready).
fn quit(code: i32) -> ! {
    notify(Status::Unavailable);
    std::process::exit(code)
}

/// Identity of the executable file, to notice an upgrade.
fn file_stamp(path: &Path) -> Option<(u64, u64, i64)> {
    std::fs::metadata(path)
        .ok()
        .map(|m| (m.ino(), m.size(), m.mtime()))
}

/// Runs the worker: parses the generic options from the process's arguments, sets up as
/// described in the module doc and serves connections until it is time to exit.
pub fn run<W: Worker>(mut worker: W) -> ! {
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let opts = match parse_options(&argv) {
        Ok(o) => o,
        Err(e) => die(EX_USAGE, &e),
    };
    let Some(service) = std::env::var("CYRUS_SERVICE").ok() else {
        die(EX_SOFTWARE, "could not getenv(CYRUS_SERVICE); exiting")
    };
    let Some(id) = std::env::var("CYRUS_ID").ok().map(|s| atoi(&s)) else {
        die(EX_SOFTWARE, "could not getenv(CYRUS_ID); exiting")
    };
    let config_path = opts.config.clone().unwrap_or_else(Config::default_path);
    let config = match Config::load(&config_path, Some(&service)) {
        Ok(c) => c,
        Err(e) => die(EX_CONFIG, &format!("{e}")),
    };
    syslog::open(Some(&config), &service);
    if let Err(e) = crate::process::become_user(
        crate::process::cyrus_user(&config),
        config.string("cyrus_group"),
    ) {
        die(EX_CONFIG, &format!("unable to become the cyrus user: {e}"));
    }
    if let Err(e) = crate::process::apply_umask(&config) {
        die(EX_CONFIG, &format!("{e}"));
    }
    if opts.debugger {
        run_debugger(&config, &argv, &service);
    }
    syslog::log(Level::Debug, "executed");

    let ctx = Context {
        service,
        id,
        config,
        args: opts.args.clone(),
    };
    if opts.debug_stdio {
        if let Err(e) = worker.init(&ctx) {
            die(1, &e);
        }
        worker.session(&ctx, &mut Connection { _private: () });
        std::process::exit(0);
    }

    for fd in [LISTEN_FD, STATUS_FD] {
        if let Err(e) = sys::set_cloexec(fd) {
            syslog::log(Level::Err, &format!("unable to set close on exec: {e}"));
            quit(1);
        }
    }
    let (soctype, is_unix) = match sys::socket_kind(LISTEN_FD) {
        Ok(k) => k,
        Err(e) => {
            syslog::log(Level::Err, &format!("listener on fd 4 unusable: {e}"));
            quit(1);
        }
    };
    if let Err(e) = worker.init(&ctx) {
        syslog::log(Level::Err, &e);
        quit(1);
    }

    // An absolute argv[0] is what Cyrus watches; otherwise the file we were started from.
    let exe = argv
        .first()
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::current_exe().ok())
        .unwrap_or_default();
    let stamp = file_stamp(&exe);

    let lock_path = ctx
        .config
        .config_directory()
        .join("socket")
        .join(format!("{}-{}.lock", ctx.service, ctx.id));
    let lock = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&lock_path);
    let lock: Option<File> = match lock {
        Ok(f) => Some(f),
        Err(e) => {
            syslog::log(
                Level::Err,
                &format!(
                    "locking disabled: couldn't open socket lockfile {}: {e}",
                    lock_path.display()
                ),
            );
            None
        }
    };

    let timeout = jitter(opts.reuse_timeout);
    let mut uses = 0;
    loop {
        if let Err(e) = sys::install_handlers(false) {
            syslog::log(Level::Err, &format!("sigaction: {e}"));
            quit(EX_OSERR);
        }
        if uses > 0 {
            sys::alarm(timeout);
        }
        let fd = accept_one(lock.as_ref(), soctype, &exe, stamp);
        sys::alarm(0);
        let Some(fd) = fd else { quit(0) };
        if soctype == libc::SOCK_STREAM && !is_unix {
            sys::keepalive(fd);
        }
        notify(Status::Unavailable);
        if let Err(e) = sys::onto_stdio(fd) {
            syslog::log(Level::Err, &format!("can't duplicate accepted socket: {e}"));
            std::process::exit(EX_OSERR);
        }
        if soctype == libc::SOCK_STREAM && fd > 1 {
            sys::close(fd);
        }
        notify(Status::Connection);
        uses += 1;
        if let Err(e) = sys::install_handlers(true) {
            syslog::log(Level::Err, &format!("sigaction: {e}"));
        }
        worker.session(&ctx, &mut Connection { _private: () });
        sys::stdio_to_null();
        if sys::GOT_HUP.load(Ordering::SeqCst) || uses >= opts.max_use {
            std::process::exit(0);
        }
        notify(Status::Available);
    }
}

/// Waits, under the accept lock, for the next connection. `None` when the worker should exit:
/// timeout, SIGHUP, or a changed executable.
fn accept_one(
    lock: Option<&File>,
    soctype: libc::c_int,
    exe: &Path,
    stamp: Option<(u64, u64, i64)>,
) -> Option<RawFd> {
    let signalled = || sys::GOT_HUP.load(Ordering::SeqCst) || sys::GOT_ALARM.load(Ordering::SeqCst);
    if let Some(l) = lock {
        loop {
            match sys::lock_once(l.as_raw_fd(), true) {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted && !signalled() => continue,
                Err(_) if signalled() => return None,
                Err(e) => {
                    syslog::log(
                        Level::Err,
                        &format!("fcntl: F_SETLKW: error getting accept lock: {e}"),
                    );
                    quit(EX_OSERR);
                }
            }
        }
    }
    let mut got = None;
    while got.is_none() && !signalled() {
        match file_stamp(exe) {
            None => {
                syslog::log(Level::Info, "cannot stat process file");
                break;
            }
            Some(s) if Some(s) != stamp => {
                syslog::log(Level::Info, "process file has changed");
                break;
            }
            Some(_) => {}
        }
        if sys::wait_readable(LISTEN_FD).is_err() {
            continue;
        }
        if soctype == libc::SOCK_STREAM {
            match sys::accept(LISTEN_FD) {
                Ok(fd) => got = Some(fd),
                Err(e) => match e.raw_os_error() {
                    // Transient network trouble, a client that gave up, or another worker
                    // won the race: wait again.
                    Some(
                        libc::EINTR
                        | libc::ENETDOWN
                        | libc::EPROTO
                        | libc::ENOPROTOOPT
                        | libc::EHOSTDOWN
                        | libc::ENONET
                        | libc::EHOSTUNREACH
                        | libc::EOPNOTSUPP
                        | libc::ENETUNREACH
                        | libc::ECONNABORTED
                        | libc::EAGAIN,
                    ) => {}
                    _ => {
                        syslog::log(Level::Err, &format!("accept failed: {e}"));
                        quit(EX_OSERR);
                    }
                },
            }
        } else {
            match sys::peek(LISTEN_FD) {
                Ok(()) => got = Some(LISTEN_FD),
                Err(_) if signalled() => break,
                Err(e) => {
                    syslog::log(Level::Err, &format!("recvfrom failed: {e}"));
                    quit(EX_OSERR);
                }
            }
        }
    }
    if let Some(l) = lock {
        if let Err(e) = sys::lock_once(l.as_raw_fd(), false) {
            syslog::log(
                Level::Err,
                &format!("fcntl: F_SETLKW: error releasing accept lock: {e}"),
            );
            quit(EX_OSERR);
        }
    }
    got
}

/// The reuse timeout drawn from `[base, 2*base)`, so workers started together do not all
/// expire together.
fn jitter(base: u32) -> u32 {
    if base == 0 {
        return 0;
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let seed = nanos ^ (sys::getpid() as u32).wrapping_mul(2_654_435_761);
    base + seed % base
}

/// Runs `debug_command` (a printf format taking program, pid and service) through the shell.
fn run_debugger(config: &Config, argv: &[String], service: &str) {
    let Some(fmt) = config.string("debug_command") else {
        return;
    };
    let prog = argv.first().map(String::as_str).unwrap_or("");
    let pid = sys::getpid().to_string();
    let mut subs = [prog, pid.as_str(), service].into_iter();
    let mut cmd = String::new();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            cmd.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => cmd.push('%'),
            Some(_) => cmd.push_str(subs.next().unwrap_or("")),
            None => {}
        }
    }
    syslog::log(Level::Debug, &format!("running external debugger: {cmd}"));
    let status = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(&cmd)
        .status();
    syslog::log(
        Level::Debug,
        &format!("debugger returned exit status: {status:?}"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn generic_options_are_taken_out() {
        let o = parse_options(&args(&[
            "imapd", "-C", "/x.conf", "-U", "5", "-s", "-T", "7", "-N", "arg",
        ]))
        .unwrap();
        assert_eq!(o.config.as_deref(), Some(Path::new("/x.conf")));
        assert_eq!(o.max_use, 5);
        assert_eq!(o.reuse_timeout, 7);
        assert_eq!(o.args, args(&["imapd", "-s", "-N", "arg"]));
    }

    #[test]
    fn defaults_and_negatives() {
        let o = parse_options(&args(&["w"])).unwrap();
        assert_eq!((o.max_use, o.reuse_timeout), (MAX_USE, REUSE_TIMEOUT));
        let o = parse_options(&args(&["w", "-U", "-3", "-T", "-1", "-X"])).unwrap();
        assert_eq!((o.max_use, o.reuse_timeout, o.debug_stdio), (0, 0, true));
    }

    #[test]
    fn merged_option_is_refused() {
        assert!(parse_options(&args(&["w", "-U5"])).is_err());
        assert!(parse_options(&args(&["w", "-C"])).is_err());
    }

    #[test]
    fn status_record_round_trips() {
        let b = encode_status(Status::Connection as i32, 4242);
        assert_eq!(decode_status(b), (3, 4242));
        assert_eq!(Status::from_i32(4), Some(Status::ConnectionMulti));
        assert_eq!(Status::from_i32(9), None);
    }

    #[test]
    fn jitter_stays_in_range() {
        for base in [1, 2, 60] {
            let t = jitter(base);
            assert!(t >= base && t < 2 * base);
        }
        assert_eq!(jitter(0), 0);
    }
}
