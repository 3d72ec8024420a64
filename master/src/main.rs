//! `master`: Cyrus's process supervisor. It reads imapd.conf (for the Cyrus user and syslog
//! settings) and cyrus.conf, runs the START entries to completion, binds every SERVICES
//! listener while still root, becomes the Cyrus user, and then keeps workers, EVENTS and
//! DAEMON entries running until SIGTERM. Flags are Cyrus 3.6's (`C:L:M:p:l:Ddj:vV`).
//!
//! The worker side of the contract is `cyrus::service`; the accounting and the poll loop are
//! in `supervisor`, and the system calls in `sys`.

mod supervisor;
mod sys;

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use cyrus::config::{Config, MasterConf};
use cyrus::db::lock::{try_lock, LockKind};
use cyrus::syslog::{self, log, Level};

/// The version line `-V` prints: the Cyrus release whose behaviour we reproduce.
const VERSION_LINE: &str = "cyrus-imapd 3.6.1";
/// Debian's compiled-in pid file.
const DEFAULT_PIDFILE: &str = "/run/cyrus-master.pid";

const EX_OSERR: i32 = 71;
const EX_TEMPFAIL: i32 = 75;
const EX_CONFIG: i32 = 78;

#[derive(Debug, Default)]
struct Opts {
    config: Option<PathBuf>,
    master_conf: Option<PathBuf>,
    pidfile: Option<String>,
    backlog: Option<i32>,
    log_file: Option<String>,
    daemon: bool,
    debug: bool,
    version: bool,
}

fn fatal(code: i32, msg: &str) -> ! {
    log(Level::Err, msg);
    eprintln!("master: {msg}");
    std::process::exit(code)
}

/// getopt(3) over `C:L:M:p:l:Ddj:vV`: flags may be grouped and values attached or separate;
/// an unknown flag is reported and ignored, as Cyrus's master does.
fn parse_args(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts::default();
    let mut i = 1;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" {
            break;
        }
        if !a.starts_with('-') || a.len() < 2 {
            break;
        }
        let flags: Vec<char> = a[1..].chars().collect();
        let mut k = 0;
        while k < flags.len() {
            let f = flags[k];
            k += 1;
            if "CLMplj".contains(f) {
                let value = if k < flags.len() {
                    let v: String = flags[k..].iter().collect();
                    k = flags.len();
                    v
                } else if i < args.len() {
                    i += 1;
                    args[i - 1].clone()
                } else {
                    return Err(format!("option requires an argument -- '{f}'"));
                };
                match f {
                    'C' => o.config = Some(PathBuf::from(value)),
                    'L' => o.log_file = Some(value),
                    'M' => o.master_conf = Some(PathBuf::from(value)),
                    'p' => o.pidfile = Some(value),
                    'l' => o.backlog = Some(value.trim().parse().unwrap_or(0)),
                    _ => {
                        if value.trim().parse::<i32>().unwrap_or(0) < 1 {
                            return Err("The janitor period must be at least 1 second".into());
                        }
                    }
                }
            } else {
                match f {
                    'd' if o.debug => return Err("Unable to be both debug and daemon mode".into()),
                    'D' if o.daemon => return Err("Unable to be both debug and daemon mode".into()),
                    'd' => o.daemon = true,
                    'D' => o.debug = true,
                    'v' => {}
                    'V' => o.version = true,
                    other => eprintln!("{}: invalid option -- '{other}'", args[0]),
                }
            }
        }
    }
    Ok(o)
}

/// Opens and locks the pid file and writes our pid; the returned file keeps the lock.
fn write_pidfile(path: &str) -> Result<File, String> {
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .open(path)
        .map_err(|e| format!("can't open pidfile: {e}"))?;
    match try_lock(&f, LockKind::Exclusive) {
        Ok(true) => {}
        _ => {
            return Err(
                "cannot get exclusive lock on pidfile (is another master still running?)".into(),
            )
        }
    }
    f.set_len(0)
        .and_then(|_| f.write_all(format!("{}\n", sys::getpid()).as_bytes()))
        .and_then(|_| f.sync_all())
        .map_err(|e| format!("unable to write to pidfile: {e}"))?;
    Ok(f)
}

/// Daemon mode: the parent waits until the child has its pid file, then exits with the
/// child's verdict, so an init script learns whether start-up worked.
fn daemonize(pidfile: &str) -> Option<std::os::fd::OwnedFd> {
    let lock_path = format!("{pidfile}.lock");
    let lock = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(&lock_path)
        .unwrap_or_else(|e| {
            fatal(
                EX_OSERR,
                &format!("can't open pidfile lock: {lock_path} ({e})"),
            )
        });
    if !matches!(try_lock(&lock, LockKind::Exclusive), Ok(true)) {
        fatal(
            EX_TEMPFAIL,
            &format!("can't get exclusive lock on {lock_path}"),
        );
    }
    let (r, w) = sys::pipe(false)
        .unwrap_or_else(|e| fatal(EX_OSERR, &format!("can't create startup pipe ({e})")));
    match sys::fork_daemon() {
        Err(e) => fatal(EX_OSERR, &format!("fork error: {e}")),
        Ok(Some(_child)) => {
            drop(w);
            let mut code = [0u8; 4];
            let mut f = File::from(r);
            let rc = match f.read_exact(&mut code) {
                Ok(()) => i32::from_ne_bytes(code),
                Err(_) => EX_OSERR,
            };
            let _ = std::fs::remove_file(&lock_path);
            std::process::exit(rc);
        }
        Ok(None) => {
            drop(r);
            drop(lock);
            if let Err(e) = sys::setsid() {
                report_startup(&mut Some(w), EX_OSERR);
                fatal(EX_OSERR, &format!("setsid failure: {e}"));
            }
            Some(w)
        }
    }
}

fn report_startup(pipe: &mut Option<std::os::fd::OwnedFd>, code: i32) {
    if let Some(w) = pipe.take() {
        let _ = File::from(w).write_all(&code.to_ne_bytes());
    }
}

fn main() {
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let opts = match parse_args(&args) {
        Ok(o) => o,
        Err(e) => fatal(EX_CONFIG, &e),
    };
    if opts.version {
        println!("{VERSION_LINE}");
        return;
    }

    let config_path = opts.config.clone().unwrap_or_else(Config::default_path);
    let config = match Config::load(&config_path, Some("master")) {
        Ok(c) => c,
        Err(e) => fatal(EX_CONFIG, &format!("{e}")),
    };
    syslog::open_with(
        Some(&config),
        "master",
        opts.debug || opts.log_file.is_some(),
    );

    if !opts.debug || opts.log_file.is_some() {
        if let Err(e) = sys::redirect_stdio(opts.log_file.as_deref()) {
            fatal(2, &format!("couldn't open log file: {e}"));
        }
    }
    if let Err(e) = sys::reserve_fds_3_4() {
        fatal(2, &format!("couldn't dup fd 0: {e}"));
    }

    let pidfile = opts
        .pidfile
        .clone()
        .unwrap_or_else(|| DEFAULT_PIDFILE.to_string());
    let mut startup_pipe = if opts.daemon {
        daemonize(&pidfile)
    } else {
        None
    };
    sys::raise_fd_limit();
    let _pid_lock = match write_pidfile(&pidfile) {
        Ok(f) => f,
        Err(e) => {
            report_startup(&mut startup_pipe, EX_OSERR);
            fatal(EX_OSERR, &e);
        }
    };
    report_startup(&mut startup_pipe, 0);
    log(Level::Debug, "process started");

    let conf_path = opts
        .master_conf
        .clone()
        .unwrap_or_else(MasterConf::default_path);
    let conf = match MasterConf::load(&conf_path) {
        Ok(c) => c,
        Err(e) => fatal(EX_CONFIG, &format!("{e}")),
    };
    let user = cyrus::process::cyrus_user(&config).to_string();

    supervisor::run_start(&conf, &user);

    let backlog = opts.backlog.unwrap_or(32);
    let mut sup = match supervisor::Supervisor::new(&conf, &conf_path, backlog, &user) {
        Ok(s) => s,
        Err(e) => fatal(EX_OSERR, &format!("can't set up signal handling: {e}")),
    };
    if let Err(e) = cyrus::process::become_user(&user, config.string("cyrus_group")) {
        fatal(1, &format!("can't change to the cyrus user: {e}"));
    }
    sup.start_events_and_daemons(&conf);
    sup.run();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn flags_as_getopt_reads_them() {
        let o = parse_args(&args(&[
            "master",
            "-C",
            "/i.conf",
            "-M/c.conf",
            "-p",
            "/p",
            "-l",
            "64",
            "-dj",
            "2",
        ]))
        .unwrap();
        assert_eq!(o.config, Some(PathBuf::from("/i.conf")));
        assert_eq!(o.master_conf, Some(PathBuf::from("/c.conf")));
        assert_eq!(o.pidfile.as_deref(), Some("/p"));
        assert_eq!(o.backlog, Some(64));
        assert!(o.daemon && !o.debug);
        assert!(parse_args(&args(&["master", "-d", "-D"])).is_err());
        assert!(parse_args(&args(&["master", "-j", "0"])).is_err());
        assert!(parse_args(&args(&["master", "-V"])).unwrap().version);
    }
}
