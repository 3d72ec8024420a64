//! `cyr_deny`: deny users access to services, allow them again, or list who is denied, with
//! Cyrus 3.6's flags and output.
//!
//! `cyr_deny [-s services] [-m message] user` denies (all services, the default message,
//! unless told otherwise); `-a user` allows again; `-l` lists the entries. The list lives in
//! user_deny.db ([`cyrus::userdeny`]). Unlike Cyrus, denying does not yet end the user's
//! running sessions (Cyrus signals the processes its proc files list for the user).

use cyrus::userdeny::UserDeny;
use std::process::exit;
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
