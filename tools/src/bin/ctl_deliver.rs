//! `ctl_deliver`: show the duplicate delivery database (deliver.db), as Cyrus 3.6's does.
//!
//! `-d` (`--dump`) prints `it is NOW: <time>`, one line per record and `got N entries`;
//! `-f` (`--filename`) names another database file. The deprecated `-E days` hands over to
//! `cyr_expire -E days` beside this binary, after saying so on stderr, as Cyrus does.

use cyrus::duplicate::DuplicateDb;
use std::io::Write;
use std::path::Path;
use std::process::exit;
use tools::{getopt_long, Opt, EX_OSERR, EX_USAGE_CYRUS};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    None,
    Dump,
    Prune,
}

fn usage() -> ! {
    eprintln!("ctl_deliver [-C <altconfig>] -d [-f <dbfile>]");
    exit(EX_USAGE_CYRUS);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let prog = args
        .first()
        .cloned()
        .unwrap_or_else(|| "ctl_deliver".into());
    let (opts, _operands) = getopt_long(
        &prog,
        args.get(1..).unwrap_or(&[]),
        "C:dE:f:",
        &[("dump", 'd'), ("filename", 'f')],
    );
    let mut alt = None;
    let mut file = None;
    let mut days = None;
    let mut op = Op::None;
    for o in opts {
        match o {
            Opt::Arg('C', f) => alt = Some(f),
            Opt::Flag('d') if op == Op::None => op = Op::Dump,
            Opt::Arg('f', f) if file.is_none() => file = Some(f),
            Opt::Arg('E', d) if op == Op::None => {
                op = Op::Prune;
                days = Some(d);
            }
            Opt::Bad(msg) => {
                eprintln!("{msg}");
                usage();
            }
            _ => usage(),
        }
    }
    match op {
        Op::None => usage(),
        Op::Prune => prune(alt.as_deref(), days.as_deref().unwrap_or("")),
        Op::Dump => dump(alt.as_deref(), file.as_deref()),
    }
}

/// Replaces this process with `cyr_expire -E days` from our own directory.
fn prune(alt: Option<&str>, days: &str) -> ! {
    use std::os::unix::process::CommandExt;
    eprintln!("ctl_deliver -E is deprecated: using cyr_expire -E instead");
    let dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    let mut cmd = std::process::Command::new(dir.join("cyr_expire"));
    if let Some(c) = alt {
        cmd.arg("-C").arg(c);
    }
    let e = cmd.arg("-E").arg(days).exec();
    eprintln!(
        "ctl_deliver: cannot run cyr_expire: {}",
        tools::strerror(&e)
    );
    exit(EX_OSERR);
}

fn dump(alt: Option<&str>, file: Option<&str>) -> ! {
    let config = tools::init(alt, "ctl_deliver");
    let Ok(mut db) = DuplicateDb::open(&config, file.map(Path::new)) else {
        eprintln!("ctl_deliver: unable to init duplicate delivery database");
        exit(1);
    };
    let now = cyrus::mboxlist::now();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let _ = writeln!(out, "it is NOW: {now}");
    let count = match db.dump(&mut out) {
        Ok(n) => n,
        Err(e) => {
            let _ = out.flush();
            eprintln!("ctl_deliver: {e}");
            exit(1);
        }
    };
    let _ = writeln!(out, "got {count} entries");
    if out.flush().is_err() {
        exit(1);
    }
    exit(0);
}
