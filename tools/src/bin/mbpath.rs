//! `mbpath`: print where a mailbox's files live, with Cyrus 3.6's flags and output.
//!
//! Arguments are mailbox names in the admin namespace (UTF-8 unless `-7`), userids (`-u`) or
//! `uuid/` directory paths (`-p`). One of `-A -D -M -S -U` picks the path printed (data by
//! default), `-a` prints all of them with labels, `-j` prints everything as JSON.

use cyrus::config::Config;
use cyrus::mboxlist::json::{push_string, Json};
use cyrus::mboxlist::paths::{self, Area};
use cyrus::mboxlist::{MailboxList, MbFlags, MboxEntry};
use cyrus::mboxname::{ExternalName, MbName, Namespace};
use std::path::PathBuf;
use std::process::exit;
use tools::fatal;

/// sysexits.h codes mbpath uses.
const EX_USAGE: i32 = 64;
const EX_DATAERR: i32 = 65;
const EX_SOFTWARE: i32 = 70;
const EX_TEMPFAIL: i32 = 75;

/// Per-user files `-j` lists.
const USER_FILES: [&str; 6] = [
    "conversations",
    "counters",
    "dav",
    "seen",
    "sub",
    "xapianactive",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sel {
    All,
    Archive,
    Data,
    Meta,
    Sieve,
    User,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Name,
    User,
    Path,
}

/// Why an argument produced no paths, mapped to Cyrus's exit codes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Failure {
    Nonexistent,
    Reserved,
    BadFormat,
    Other,
}

impl Failure {
    fn exit_code(self) -> i32 {
        match self {
            Failure::Nonexistent | Failure::Reserved | Failure::BadFormat => EX_DATAERR,
            Failure::Other => EX_SOFTWARE,
        }
    }
}

fn usage(error: Option<&str>) -> ! {
    eprint!(
        "usage: mbpath [-C <alt_config>] [-l] [-m] [-q] [-s] [-u|p] [-a|A|D|M|S|U] <mailbox name>...\n\
         \n\
         \t-j\tprint all values as a JSON object\n\
         \t-a\tprint all values with prefixes\n\
         \t-l\tlocal only (exit with error for remote/nonexistent)\n\
         \t-m\toutput the path to the metadata files (if different from the message files)\n\
         \t-q\tquietly drop any error messages\n\
         \t-s\tstop on error\n\
         \t-7\tmailbox arguments are in modified UTF7 rather than UTF8\n\
         \t-u\targuments are user, not mailbox\n\
         \t-p\targuments are UNIX path, not mailbox\n\
         \t-A\tpartition archive directory\n\
         \t-D\tpartition data directory (*default*)\n\
         \t-M\tpartition metadata file directory (duplicate of -m)\n\
         \t-S\tsieve directory for the user\n\
         \t-U\tuser files directory (seen, sub, etc)\n"
    );
    if let Some(e) = error {
        eprint!("\nERROR: {e}");
    }
    exit(EX_USAGE);
}

struct Opts {
    sel: Sel,
    mode: Mode,
    json: bool,
    local_only: bool,
    quiet: bool,
    stop: bool,
    utf8: bool,
}

fn parse_args(args: &[String]) -> (Option<String>, Opts, Vec<String>) {
    let prog = args.first().map_or("mbpath", String::as_str);
    let mut config = None;
    let mut sel = None;
    let mut mode = None;
    let mut o = Opts {
        sel: Sel::Data,
        mode: Mode::Name,
        json: false,
        local_only: false,
        quiet: false,
        stop: false,
        utf8: true,
    };
    let mut free = Vec::new();
    let mut it = args.iter().skip(1);
    // getopt with permutation: options may follow names, `--` ends options.
    while let Some(a) = it.next() {
        if a == "--" {
            free.extend(it.by_ref().cloned());
            break;
        }
        let long = |name: &str| -> Option<char> {
            Some(match name {
                "no-utf8" => '7',
                "archive" => 'A',
                "data" => 'D',
                "metadata" => 'M',
                "sieve" => 'S',
                "user-files" => 'U',
                "all" => 'a',
                "json" => 'j',
                "local-only" => 'l',
                "paths" => 'p',
                "quiet" => 'q',
                "stop" => 's',
                "userids" => 'u',
                _ => return None,
            })
        };
        let flags: Vec<char> = if let Some(l) = a.strip_prefix("--") {
            match long(l) {
                Some(c) => vec![c],
                None => {
                    eprintln!("{prog}: unrecognized option '{a}'");
                    usage(None);
                }
            }
        } else if a.len() > 1 && a.starts_with('-') {
            a[1..].chars().collect()
        } else {
            free.push(a.clone());
            continue;
        };
        for (i, &c) in flags.iter().enumerate() {
            let set_sel = |sel: &mut Option<Sel>, s| {
                if sel.is_some() {
                    usage(Some("Duplicate selectors given"));
                }
                *sel = Some(s);
            };
            let set_mode = |mode: &mut Option<Mode>, m| {
                if mode.is_some() {
                    usage(Some("Multiple modes given"));
                }
                *mode = Some(m);
            };
            match c {
                'C' => {
                    let tail: String = flags[i + 1..].iter().collect();
                    config = Some(if tail.is_empty() {
                        match it.next() {
                            Some(v) => v.clone(),
                            None => {
                                eprintln!("{prog}: option requires an argument -- 'C'");
                                usage(None);
                            }
                        }
                    } else {
                        tail
                    });
                    break;
                }
                '7' => o.utf8 = false,
                'a' => set_sel(&mut sel, Sel::All),
                'A' => set_sel(&mut sel, Sel::Archive),
                'D' => set_sel(&mut sel, Sel::Data),
                'm' | 'M' => set_sel(&mut sel, Sel::Meta),
                'S' => set_sel(&mut sel, Sel::Sieve),
                'U' => set_sel(&mut sel, Sel::User),
                'j' => o.json = true,
                'l' => o.local_only = true,
                'q' => o.quiet = true,
                's' => o.stop = true,
                'u' => set_mode(&mut mode, Mode::User),
                'p' => set_mode(&mut mode, Mode::Path),
                other => {
                    eprintln!("{prog}: invalid option -- '{other}'");
                    usage(None);
                }
            }
        }
    }
    o.sel = sel.unwrap_or(Sel::Data);
    o.mode = mode.unwrap_or(Mode::Name);
    (config, o, free)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (config_path, opts, names) = parse_args(&args);
    let config = tools::init(config_path.as_deref(), "mbpath");
    let mut ns = Namespace::from_config(&config, true);
    ns.utf8 = opts.utf8;
    let mut list = match MailboxList::open(&config, None) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("DBERROR: opening mailboxes list: {e}");
            fatal("can't read mailboxes file", EX_TEMPFAIL);
        }
    };
    let mut last: Option<Failure> = None;
    for arg in &names {
        let (mbname, r) = resolve(&config, &ns, &mut list, &opts, arg);
        last = r.err();
        let Some(fail) = last else { continue };
        if !opts.quiet && fail == Failure::Nonexistent {
            let ext = mbname.and_then(|m| m.to_external(&ns, None));
            let mut msg = format!("Invalid mailbox name: '{arg}'");
            if let Some(e) = ext.filter(|e| e.as_str() != arg) {
                msg.push_str(&format!(" ('{e}')\n"));
            }
            eprintln!("{msg}");
        }
        if opts.stop {
            let msg = if opts.quiet {
                ""
            } else {
                "Error in processing mailbox. Stopping\n"
            };
            fatal(msg, fail.exit_code());
        }
    }
    exit(last.map_or(0, Failure::exit_code));
}

/// Finds the mailbox `arg` names and prints its paths; returns the name it resolved to.
fn resolve(
    config: &Config,
    ns: &Namespace,
    list: &mut MailboxList,
    opts: &Opts,
    arg: &str,
) -> (Option<MbName>, Result<(), Failure>) {
    let mbname = match opts.mode {
        Mode::User => MbName::from_userid(arg, ns).ok(),
        Mode::Name => MbName::from_external(&ExternalName::new(arg), ns, None).ok(),
        Mode::Path => match uniqueid_of_path(arg) {
            Some(id) => match list.lookup_by_uniqueid(id) {
                Ok(Some(e)) => Some(MbName::from_internal(&e.name, &ns.deletedprefix)),
                Ok(None) => None,
                Err(_) => return (None, Err(Failure::Other)),
            },
            None => None,
        },
    };
    let Some(mbname) = mbname else {
        return (None, Err(Failure::Nonexistent));
    };
    let Ok(intname) = mbname.to_internal(&ns.deletedprefix) else {
        return (Some(mbname), Err(Failure::Nonexistent));
    };
    let entry = match list.lookup(&intname) {
        Ok(Some(e)) => e,
        Ok(None) => return (Some(mbname), Err(Failure::Nonexistent)),
        Err(_) => return (Some(mbname), Err(Failure::Other)),
    };
    let r = print_paths(config, ns, list, opts, &mbname, &entry);
    (Some(mbname), r)
}

/// The uniqueid in a `/…/uuid/<c1>/<c2>/<uniqueid>` path, the only kind `-p` resolves.
fn uniqueid_of_path(p: &str) -> Option<&str> {
    if !p.starts_with('/') {
        return None;
    }
    let at = p.rfind("/uuid/")?;
    let mut parts = p[at + 6..].split('/');
    let (_, _, id) = (parts.next()?, parts.next()?, parts.next()?);
    (parts.next().is_none() && !id.is_empty()).then_some(id)
}

fn show(p: Option<PathBuf>) -> String {
    p.map_or_else(|| "(null)".into(), |p| p.display().to_string())
}

fn print_paths(
    config: &Config,
    ns: &Namespace,
    list: &mut MailboxList,
    opts: &Opts,
    mbname: &MbName,
    entry: &MboxEntry,
) -> Result<(), Failure> {
    let t = entry.mbtype;
    if t.has(MbFlags::RESERVE) {
        return Err(Failure::Reserved);
    }
    if t.has(MbFlags::DELETED) {
        return Err(Failure::Nonexistent);
    }
    if t.has(MbFlags::REMOTE) {
        if opts.local_only {
            if opts.stop {
                let msg = if opts.quiet {
                    ""
                } else {
                    "Non-local mailbox. Stopping\n"
                };
                fatal(msg, -1);
            }
        } else if !opts.json {
            println!(
                "{}!{}",
                entry.server.as_deref().unwrap_or("(null)"),
                entry.partition.as_deref().unwrap_or("(null)")
            );
        }
        return Ok(());
    }
    if entry.uniqueid.is_none() && !t.has(MbFlags::LEGACY_DIRS) {
        if !opts.quiet {
            let ext = mbname.to_external(ns, None);
            eprintln!(
                "Mailbox has no uniqueid, needs reconstruct: {}",
                ext.as_ref().map_or("", |e| e.as_str())
            );
        }
        return Err(Failure::BadFormat);
    }
    let inbox = match mbname.inbox() {
        Some(i) => match i.to_internal(&ns.deletedprefix) {
            Ok(n) => list.lookup(&n).map_err(|_| Failure::Other)?,
            Err(_) => None,
        },
        None => None,
    };
    let dir = |area| show(paths::mailbox_dir(config, entry, area));
    let sieve = || {
        paths::sieve_dir(config, mbname, inbox.as_ref())
            .map_or(String::new(), |p| p.display().to_string())
    };
    let user = || {
        paths::user_dir(config, mbname, inbox.as_ref())
            .display()
            .to_string()
    };
    if opts.json {
        print_json(config, mbname, entry, inbox.as_ref());
        return Ok(());
    }
    let all = opts.sel == Sel::All;
    let line = |label: &str, value: String| {
        if all {
            println!("{label}: {value}");
        } else {
            println!("{value}");
        }
    };
    if all || opts.sel == Sel::Archive {
        line("Archive", dir(Area::Archive));
    }
    if all || opts.sel == Sel::Data {
        line("Data", dir(Area::Data));
    }
    if all || opts.sel == Sel::Meta {
        line("Meta", dir(Area::Meta));
    }
    if all || opts.sel == Sel::Sieve {
        line("Sieve", sieve());
    }
    if all || opts.sel == Sel::User {
        line("User", user());
    }
    Ok(())
}

fn s(v: impl Into<String>) -> Json {
    Json::Str(v.into())
}

fn print_json(config: &Config, mbname: &MbName, entry: &MboxEntry, inbox: Option<&MboxEntry>) {
    let dir = |area| s(show(paths::mailbox_dir(config, entry, area)));
    let mut name = vec![(
        "boxes".to_string(),
        Json::Array(mbname.boxes.iter().map(|b| s(b.as_str())).collect()),
    )];
    if let Some(d) = &mbname.domain {
        name.push(("domain".into(), s(d.as_str())));
    }
    name.push(("intname".into(), s(entry.name.as_str())));
    if let Some(t) = mbname.deleted {
        name.push(("isdeleted".into(), Json::Number(t.to_string())));
    }
    if let Some(l) = &mbname.localpart {
        name.push(("localpart".into(), s(l.as_str())));
    }
    if let Some(u) = mbname.userid() {
        name.push(("userid".into(), s(u)));
    }
    let mut top = vec![
        ("archive".to_string(), dir(Area::Archive)),
        ("data".into(), dir(Area::Data)),
        ("mbname".into(), Json::Object(name)),
        ("meta".into(), dir(Area::Meta)),
    ];
    if mbname.localpart.is_some() {
        let mut user: Vec<(String, Json)> = USER_FILES
            .iter()
            .map(|f| {
                let p = paths::user_file(config, mbname, inbox, f);
                (f.to_string(), s(show(p)))
            })
            .collect();
        let sieve = paths::sieve_dir(config, mbname, inbox)
            .map_or(String::new(), |p| p.display().to_string());
        user.push(("sieve".into(), s(sieve)));
        top.push(("user".into(), Json::Object(user)));
        top.push(("xapian".into(), Json::Object(Vec::new())));
    }
    let mut out = String::new();
    pretty(&mut out, &Json::Object(top), 0);
    println!("{out}");
}

/// Jansson's `JSON_INDENT(2) | JSON_SORT_KEYS` layout.
fn pretty(out: &mut String, v: &Json, depth: usize) {
    let pad = |out: &mut String, d: usize| {
        out.push('\n');
        out.push_str(&" ".repeat(2 * d));
    };
    match v {
        Json::Object(m) if m.is_empty() => out.push_str("{}"),
        Json::Array(a) if a.is_empty() => out.push_str("[]"),
        Json::Object(m) => {
            let mut m: Vec<&(String, Json)> = m.iter().collect();
            m.sort_by(|a, b| a.0.cmp(&b.0));
            out.push('{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                pad(out, depth + 1);
                push_string(out, k);
                out.push_str(": ");
                pretty(out, v, depth + 1);
            }
            pad(out, depth);
            out.push('}');
        }
        Json::Array(a) => {
            out.push('[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                pad(out, depth + 1);
                pretty(out, v, depth + 1);
            }
            pad(out, depth);
            out.push(']');
        }
        Json::Str(t) => push_string(out, t),
        Json::Number(n) => out.push_str(n),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Null => out.push_str("null"),
    }
}
