//! `cyr_deny`: deny users access to services, allow them again, or list who is denied, with
//! Cyrus 3.6's flags and output.
//!
//! `cyr_deny [-s services] [-m message] user` denies (all services, the default message,
//! unless told otherwise); `-a user` allows again; `-l` lists the entries. The list lives in
//! user_deny.db ([`cyrus::userdeny`]). After denying, the user's running server processes (as
//! the proc files under `proc_path` or `<configdirectory>/proc/` list them) are asked to stop
//! with SIGTERM and, if they are still there after 15 seconds, killed; like Cyrus, this hits
//! all the user's sessions, whatever services were denied, since a proc file does not say
//! which service wrote it reliably enough.

use cyrus::userdeny::UserDeny;
use std::path::PathBuf;
use std::process::{exit, Command, Stdio};
use std::time::Duration;
use tools::{getopt, Opt};

/// sysexits.h `EX_USAGE`, which Cyrus's usage message ends with.
const EX_USAGE: i32 = 64;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Deny,
    Allow,
    List,
}

fn usage() -> ! {
    eprint!(
        "Usage: cyr_deny [-C <altconfig>] [ -s services ] [ -m message ] user\n       \
         cyr_deny [-C <altconfig>] -a user\n       \
         cyr_deny [-C <altconfig>] -l\n"
    );
    exit(EX_USAGE);
}

/// Strips Rust's `(os error N)` from an error's text, leaving what `strerror` says.
fn reason(e: &cyrus::Error) -> String {
    match e {
        cyrus::Error::Io { source, .. } => tools::strerror(source),
        other => other.to_string(),
    }
}

/// `s` padded with spaces to `width` bytes, as printf's `%-30s` counts.
fn pad(s: &str, width: usize) -> String {
    format!("{s}{}", " ".repeat(width.saturating_sub(s.len())))
}

/// The directory of the per-process status files servers keep.
fn proc_dir(config: &cyrus::config::Config) -> PathBuf {
    match config.string("proc_path").filter(|p| !p.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => config.config_directory().join("proc"),
    }
}

/// The pids whose proc file names `user` as the logged-in user. A proc file is one line,
/// `service TAB host TAB user TAB mailbox TAB command`, named by the pid.
fn sessions_of(config: &cyrus::config::Config, user: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir(proc_dir(config)) else {
        return Vec::new();
    };
    let mut pids = Vec::new();
    for ent in dir.flatten() {
        let name = ent.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|&p| p > 0)
        else {
            continue;
        };
        let Ok(text) = std::fs::read(ent.path()) else {
            continue;
        };
        let line = text
            .split(|&b| b == b'\n' || b == b'\r')
            .next()
            .unwrap_or(&[]);
        if line.split(|&b| b == b'\t').nth(2) == Some(user.as_bytes()) {
            pids.push(pid);
        }
    }
    pids
}

/// Sends `signal` (a kill(1) name, `0` to probe) to `pid`; whether the process was there.
/// kill(1) does the signalling so that this program needs no `unsafe`.
fn signal(pid: u32, signal: &str) -> bool {
    Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Ends `user`'s sessions: SIGTERM, then probes after 1, 2, 4 and 8 seconds, then SIGKILL
/// and the same probes for what is left, as Cyrus's cyr_deny does.
fn end_sessions(config: &cyrus::config::Config, user: &str) {
    let mut pids = sessions_of(config, user);
    for sig in ["TERM", "KILL"] {
        pids.retain(|&p| signal(p, sig));
        let mut delay = 1;
        while !pids.is_empty() && delay <= 8 {
            std::thread::sleep(Duration::from_secs(delay));
            pids.retain(|&p| signal(p, "0"));
            delay *= 2;
        }
        if pids.is_empty() {
            return;
        }
    }
    // Cyrus logs this at LOG_ALERT; the shared logger's strongest level is LOG_ERR.
    cyrus::syslog::log(
        cyrus::syslog::Level::Err,
        "cannot kill some processes even with SIGKILL",
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let prog = args.first().cloned().unwrap_or_else(|| "cyr_deny".into());
    let (opts, operands) = getopt(&prog, args.get(1..).unwrap_or(&[]), "C:alm:s:");
    let mut alt = None;
    let mut mode = Mode::Deny;
    let mut message = None;
    let mut services = None;
    for o in opts {
        match o {
            Opt::Arg('C', f) => alt = Some(f),
            Opt::Flag('a') if mode == Mode::Deny => mode = Mode::Allow,
            Opt::Flag('l') if mode == Mode::Deny => mode = Mode::List,
            Opt::Arg('m', m) => message = Some(m),
            Opt::Arg('s', s) => services = Some(s),
            Opt::Bad(msg) => {
                eprintln!("{msg}");
                usage();
            }
            _ => usage(),
        }
    }
    if mode != Mode::Deny && (message.is_some() || services.is_some()) {
        usage();
    }
    let user = match (mode, operands.as_slice()) {
        (Mode::List, []) => None,
        (Mode::Deny | Mode::Allow, [u]) => Some(u.clone()),
        _ => usage(),
    };

    let config = tools::init(alt.as_deref(), "cyr_deny");
    cyrus::syslog::open(Some(&config), "cyr_deny");
    let mut db = match UserDeny::open(&config, mode == Mode::Deny) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("cyr_deny: failed to open deny db: {}", reason(&e));
            exit(1);
        }
    };
    let user = user.unwrap_or_default();
    let result = match mode {
        Mode::Allow => db.delete(&user).map_err(|e| {
            eprintln!(
                "cyr_deny: failed to allow access for {user}: {}",
                reason(&e)
            )
        }),
        Mode::Deny => db
            .set(&user, services.as_deref(), message.as_deref())
            .map(|()| end_sessions(&config, &user))
            .map_err(|e| eprintln!("cyr_deny: failed to deny access for {user}: {}", reason(&e))),
        Mode::List => {
            println!("{} {} Message", pad("Username", 30), pad("Service(s)", 20));
            match db.list() {
                Ok(entries) => {
                    for (u, e) in entries {
                        println!("{} {} {}", pad(&u, 30), pad(&e.services, 20), e.message);
                    }
                    Ok(())
                }
                Err(e) => {
                    eprintln!("cyr_deny: failed to list entries: {}", reason(&e));
                    Err(())
                }
            }
        }
    };
    exit(i32::from(result.is_err()));
}
