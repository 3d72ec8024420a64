//! `cyr_dbtool`: raw access to one cyrusdb database, with Cyrus 3.6's flags, actions and
//! output.
//!
//! `cyr_dbtool [-C altconfig] [-n] [-M] [-T] [-c] [-t] <db file> <backend> <action> [key] [value]`
//! Actions: show [prefix], get, set, delete, dump, consistent, repack, damage, batch. A key or
//! value left off the command line is read from stdin, one per line (a key ends at TAB or LF).

use cyrus::db::{self, Backend, Database, OpenFlags, Walk};
use cyrus::prot::astring::{self, ReadError};
use std::io::{self, BufRead, BufWriter, Write};
use std::process::exit;
use tools::{fatal, getopt, Opt};

/// Exit statuses from sysexits.h, as Cyrus uses them.
const EX_TEMPFAIL: i32 = 75;
const EX_OSERR: i32 = 71;
const EX_SOFTWARE: i32 = 70;

/// Upper bound on one key or value read in batch mode.
const MAX_BATCH_WORD: usize = 64 << 20;

fn usage(prog: &str) -> ! {
    eprintln!(
        "Usage: {prog} [-C altconfig] <db file> <db backend> <action> [<key>] [<value>]\n\
         Usable Backends: flat, skiplist, quotalegacy, twoskip\n\
         \n\
         Actions:\n\
         * show [<prefix>]\n\
         * get <key>\n\
         * set <key> <value>\n\
         * delete <key>\n\
         * dump - print the file's internal structure\n\
         * consistent - check the file's invariants\n\
         * repack - rewrite the file compactly (if the backend can)\n\
         * damage - leave a transaction unfinished, as a crash would\n\
         * batch - run commands read from stdin\n\
         Without <key> (or <value>), they are read from stdin, one per line;\n\
         a key ends at a tab or a newline, a value at a newline"
    );
    exit(-1);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let prog = args.first().cloned().unwrap_or_else(|| "cyr_dbtool".into());
    let (opts, free) = getopt(&prog, args.get(1..).unwrap_or(&[]), "C:nMTtc");
    let mut alt = None;
    let (mut create, mut mboxsort, mut one_txn, mut convert) = (false, false, false, false);
    for o in opts {
        match o {
            Opt::Arg('C', f) => alt = Some(f),
            Opt::Flag('n') => create = true,
            Opt::Flag('M') => mboxsort = true,
            Opt::Flag('T') => one_txn = true,
            Opt::Flag('c') => convert = true,
            Opt::Flag(_) => {}
            Opt::Arg(..) => usage(&prog),
            Opt::Bad(msg) => {
                eprintln!("{msg}");
                usage(&prog);
            }
        }
    }
    let config = tools::init(alt.as_deref(), "cyr_dbtool");
    if free.len() < 3 {
        usage(&prog);
    }
    let path = std::path::PathBuf::from(&free[0]);
    if !path.is_absolute() {
        println!(
            "\n{prog}: {} is a relative path name.\n\
             Some backends change directory or rename files while they work,\n\
             so this tool only accepts absolute path names.\n",
            path.display()
        );
        exit(EX_OSERR);
    }
    let Some(backend) = Backend::from_name(&free[1]) else {
        fatal(
            &format!("cyrusdb backend {} not supported", free[1]),
            tools::EX_CONFIG,
        );
    };
    let action = free[2].as_str();
    let flags = db::registry::flags(
        &config,
        OpenFlags {
            create,
            mboxsort,
            convert,
            ..OpenFlags::default()
        },
    );
    let mut dbh = match db::open(&path, backend, flags) {
        Ok(d) => d,
        Err(_) => fatal("can't open database", EX_TEMPFAIL),
    };
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let in_txn = one_txn;
    if in_txn {
        if let Err(e) = dbh.begin() {
            fatal(&format!("can't begin transaction: {e}"), EX_TEMPFAIL);
        }
    }
    let key = free.get(3).map(|s| s.as_bytes().to_vec());
    let value = free.get(4).map(|s| s.as_bytes().to_vec());
    let result = match action {
        "show" => show(dbh.as_mut(), key.as_deref().unwrap_or(b""), &mut out),
        "get" => each_key(key, |k| get(dbh.as_mut(), k, &mut out)),
        "set" => match (key, value) {
            (Some(k), Some(v)) => dbh.store(&k, &v),
            (Some(k), None) => {
                let v = read_line_value();
                dbh.store(&k, &v)
            }
            _ => each_pair(|k, v| dbh.store(k, v)),
        },
        "delete" => each_key(key, |k| dbh.delete(k)),
        "dump" => dbh.dump(&mut out, 1),
        "consistent" => {
            let ok = dbh.consistent().is_ok();
            let msg = if ok {
                "Yes, consistent"
            } else {
                "No, not consistent"
            };
            writeln!(out, "{msg}").map_err(|e| cyrus::Error::io("<stdout>", e))
        }
        "repack" => dbh.repack(),
        "damage" => damage(dbh.as_mut()),
        "batch" => batch(dbh.as_mut(), in_txn, &mut out),
        other => {
            let _ = writeln!(out, "Unknown action {other}");
            Ok(())
        }
    };
    let _ = out.flush();
    drop(out);
    if let Err(e) = result {
        eprintln!("{prog}: {action}: {e}");
        if dbh.in_transaction() {
            let _ = dbh.abort();
        }
        exit(EX_SOFTWARE);
    }
    if in_txn && dbh.in_transaction() {
        if let Err(e) = dbh.commit() {
            fatal(&format!("can't commit: {e}"), EX_TEMPFAIL);
        }
    }
}

fn show(dbh: &mut dyn Database, prefix: &[u8], out: &mut dyn Write) -> cyrus::Result<()> {
    dbh.foreach(prefix, &mut |k, v| {
        let mut w = || -> io::Result<()> {
            out.write_all(k)?;
            out.write_all(b"\t")?;
            out.write_all(v)?;
            out.write_all(b"\n")
        };
        w().map_err(|e| cyrus::Error::io("<stdout>", e))?;
        Ok(Walk::Continue)
    })
}

fn get(dbh: &mut dyn Database, key: &[u8], out: &mut dyn Write) -> cyrus::Result<()> {
    let v = dbh.fetch(key)?.unwrap_or_default();
    out.write_all(&v)
        .and_then(|_| out.write_all(b"\n"))
        .map_err(|e| cyrus::Error::io("<stdout>", e))
}

/// Reads one value line from stdin (without its newline).
fn read_line_value() -> Vec<u8> {
    let mut v = Vec::new();
    let _ = io::stdin().lock().read_until(b'\n', &mut v);
    if v.last() == Some(&b'\n') {
        v.pop();
    }
    v
}

/// Calls `f` on `key`, or on every key read from stdin (each ends at TAB or LF; the rest of
/// a line after a TAB is ignored).
fn each_key(
    key: Option<Vec<u8>>,
    mut f: impl FnMut(&[u8]) -> cyrus::Result<()>,
) -> cyrus::Result<()> {
    if let Some(k) = key {
        return f(&k);
    }
    each_pair(|k, _| f(k))
}

/// Calls `f` on every `key TAB value LF` line of stdin (a line without TAB has an empty value).
fn each_pair(mut f: impl FnMut(&[u8], &[u8]) -> cyrus::Result<()>) -> cyrus::Result<()> {
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = input
            .read_until(b'\n', &mut line)
            .map_err(|e| cyrus::Error::io("<stdin>", e))?;
        if n == 0 {
            return Ok(());
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        let (k, v) = match line.iter().position(|&b| b == b'\t') {
            Some(t) => (&line[..t], &line[t + 1..]),
            None => (&line[..], &b""[..]),
        };
        if !k.is_empty() {
            f(k, v)?;
        }
    }
}

/// Leaves a write transaction unfinished on disk and exits, as a crash in commit would.
fn damage(dbh: &mut dyn Database) -> cyrus::Result<()> {
    if !dbh.in_transaction() {
        dbh.begin()?;
    }
    dbh.store(b"INVALID", b"CRASHME")?;
    // exit() runs no destructors: the transaction stays unfinished for the next opener.
    exit(0);
}

/// Batch mode: `SET key value`, `GET key`, `DELETE key`, `SHOW [prefix]`, `BEGIN`, `COMMIT`,
/// `ABORT`, one per line; keys and values are IMAP astrings. Results are written as
/// `key SP value` astrings.
fn batch(dbh: &mut dyn Database, outer_txn: bool, out: &mut dyn Write) -> cyrus::Result<()> {
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let mut line = 0usize;
    let io_err = |e: io::Error| cyrus::Error::io("<stdout>", e);
    loop {
        line += 1;
        let (cmd, mut end) = match astring::read_word(&mut input, 64) {
            Ok(w) => w,
            Err(e) => return batch_fail(line, "", e),
        };
        if cmd.is_empty() && end.is_none() {
            return Ok(());
        }
        let cmd_s = String::from_utf8_lossy(&cmd).into_owned();
        let mut args = Vec::new();
        while end == Some(b' ') && args.len() < 2 {
            match astring::read_astring(&mut input, MAX_BATCH_WORD) {
                Ok((w, e)) => {
                    args.push(w);
                    end = e;
                }
                Err(e) => return batch_fail(line, &cmd_s, e),
            }
        }
        if end == Some(b'\r') {
            let mut lf = [0u8; 1];
            end = match io::Read::read(&mut input, &mut lf) {
                Ok(1) => Some(lf[0]),
                _ => None,
            };
        }
        if end != Some(b'\n') && end.is_some() {
            return batch_fail(line, &cmd_s, ReadError::Syntax("junk after arguments"));
        }
        if cmd.is_empty() {
            continue;
        }
        let r = match (cmd_s.as_str(), args.as_slice()) {
            ("SET", [k, v]) => dbh.store(k, v),
            ("DELETE", [k]) => dbh.delete(k),
            ("GET", [k]) => match dbh.fetch(k)? {
                Some(v) => write_pair(out, k, &v).map_err(io_err),
                None => Ok(()),
            },
            ("SHOW", []) | ("SHOW", [_]) => {
                let prefix = args.first().map(|p| p.as_slice()).unwrap_or(b"");
                dbh.foreach(prefix, &mut |k, v| {
                    write_pair(out, k, v).map_err(io_err)?;
                    Ok(Walk::Continue)
                })
            }
            ("BEGIN", []) if !outer_txn && !dbh.in_transaction() => dbh.begin(),
            ("COMMIT", []) if !outer_txn && dbh.in_transaction() => dbh.commit(),
            ("ABORT", []) if !outer_txn && dbh.in_transaction() => dbh.abort(),
            ("SET" | "DELETE" | "GET" | "SHOW" | "BEGIN" | "COMMIT" | "ABORT", _) => {
                return batch_fail(line, &cmd_s, ReadError::Syntax("wrong arguments"));
            }
            _ => {
                eprintln!("FAILED: line {line} at cmd {cmd_s} with error unknown command");
                return Ok(());
            }
        };
        if let Err(e) = r {
            eprintln!("FAILED: line {line} at cmd {cmd_s} with error {e}");
            return Ok(());
        }
        if end.is_none() {
            return Ok(());
        }
    }
}

fn batch_fail(line: usize, cmd: &str, e: ReadError) -> cyrus::Result<()> {
    let why = match e {
        ReadError::Io(e) => e.to_string(),
        ReadError::Syntax(s) => format!("syntax error: {s}"),
        ReadError::TooLong => "syntax error: word too long".to_string(),
    };
    eprintln!("FAILED: line {line} at cmd {cmd} with error {why}");
    Ok(())
}

fn write_pair(out: &mut dyn Write, k: &[u8], v: &[u8]) -> io::Result<()> {
    astring::write_astring(out, k)?;
    out.write_all(b" ")?;
    astring::write_astring(out, v)?;
    out.write_all(b"\n")
}
