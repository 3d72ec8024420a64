//! `quota`: report quota roots and their usage, and with `-f` recount the usage from the
//! mailboxes, as Cyrus 3.6's `quota` does (same flags, output, stderr lines and record writes).
//!
//! `-f` runs in Cyrus's three passes so that the quota files end up byte-identical to what
//! Debian's tool writes: (1) collect the roots, dropping any stale `SCAN` left by an
//! interrupted run; (2) for each mailbox, add its usage to its root's `SCAN` record, one write
//! per mailbox (each write of a user's root bumps its modseq, as Cyrus's do); (3) compare the
//! scanned usage with the recorded one, report differences on stderr, store the scan unless
//! `-n`, and remove roots that no mailbox uses.
#![forbid(unsafe_code)]

use cyrus::config::Config;
use cyrus::mailbox::header::Header;
use cyrus::mailbox::index::{self, IndexHeader};
use cyrus::mailbox::{LockMode, Mailbox};
use cyrus::mboxlist::paths::{mailbox_dir, Area};
use cyrus::mboxlist::{Include, MailboxList, MbFlags, MboxEntry};
use cyrus::mboxname::{ExternalName, InternalName, MbName, Namespace};
use cyrus::quota::{self, Quota, QuotaDb, Resource, NUM_RESOURCES};
use cyrus::syslog::{self, Level};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::exit;
use tools::{fatal, Opt};

/// `EX_USAGE`.
const EX_USAGE: i32 = 64;
/// `EX_SOFTWARE`, what Cyrus's quota exits with when the quota list cannot be built.
const EX_SOFTWARE: i32 = 70;
/// `EX_IOERR`.
const EX_IOERR: i32 = 74;
/// `EX_TEMPFAIL`.
const EX_TEMPFAIL: i32 = 75;

const USAGE: &str =
    "usage: quota [-C <alt_config>] [-d <domain>] [-f] [-q] [-J] [-n] [-u] [mailbox-spec]...";

#[derive(Default)]
struct Opts {
    alt: Option<String>,
    domain: Option<String>,
    fix: bool,
    report: bool,
    report_only: bool,
    json: bool,
    userids: bool,
}

/// One root being worked on: its name and how many mailboxes it governs.
struct Root {
    name: String,
    refcount: usize,
    deleted: bool,
}

/// A failure that ends the run: the message for stderr and syslog, and the exit status.
struct Fail(String, i32);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let prog = args.first().map_or("quota", String::as_str);
    let (opts, specs) = parse_args(prog, &args[1.min(args.len())..]);
    let config = tools::init(opts.alt.as_deref(), "quota");
    syslog::open(Some(&config), "quota");
    let ns = Namespace::from_config(&config, true);
    let code = match run(&config, &ns, &opts, &specs) {
        Ok(()) => 0,
        Err(Fail(msg, code)) => {
            // Cyrus logs each error line it prints.
            for line in msg.lines() {
                syslog::log(Level::Err, line);
            }
            eprintln!("{msg}");
            code
        }
    };
    exit(code);
}

fn parse_args(prog: &str, args: &[String]) -> (Opts, Vec<String>) {
    let (found, specs) = tools::getopt(prog, args, "C:d:fqJnZu");
    let mut o = Opts {
        report: true,
        ..Opts::default()
    };
    for opt in found {
        match opt {
            Opt::Arg('C', v) => o.alt = Some(v),
            Opt::Arg('d', v) => o.domain = Some(v),
            Opt::Flag('f') => o.fix = true,
            Opt::Flag('q') => o.report = false,
            Opt::Flag('J') => o.json = true,
            Opt::Flag('n') => o.report_only = true,
            Opt::Flag('u') => o.userids = true,
            // Cyrus's test-synchronisation mode; nothing here waits for a test harness.
            Opt::Flag('Z') => {}
            Opt::Bad(msg) => {
                eprintln!("{msg}");
                eprintln!("{USAGE}");
                exit(EX_USAGE);
            }
            _ => {
                eprintln!("{USAGE}");
                exit(EX_USAGE);
            }
        }
    }
    // Without -f there is nothing to be quiet about: the report is the whole job.
    if !o.fix {
        o.report = true;
    }
    (o, specs)
}

/// Cyrus's text for an I/O failure: its IMAP_IOERROR message and then `strerror(errno)`.
fn ioerror_text(e: &cyrus::Error) -> String {
    match e {
        cyrus::Error::Io { source, .. } => {
            format!("System I/O error: {}", tools::strerror(source))
        }
        other => format!("System I/O error: {other}"),
    }
}

fn io_fail(what: String, e: cyrus::Error) -> Fail {
    Fail(format!("{what}: {}", ioerror_text(&e)), EX_IOERR)
}

fn run(config: &Config, ns: &Namespace, opts: &Opts, specs: &[String]) -> Result<(), Fail> {
    let mut list = MailboxList::open(config, None).map_err(|e| {
        // The detail goes to syslog only; stderr gets Cyrus's fatal line.
        syslog::log(Level::Err, &format!("DBERROR: opening mailboxes list: {e}"));
        Fail(
            "fatal error: can't read mailboxes file".to_string(),
            EX_TEMPFAIL,
        )
    })?;
    let mut qdb = QuotaDb::open(config).map_err(|e| {
        Fail(
            format!("fatal error: can't open quota database: {e}"),
            EX_TEMPFAIL,
        )
    })?;
    // Held until the fix is done; the report reads without it, as in Cyrus.
    let change_lock = quota::change_lock(config)
        .map_err(|e| io_fail("failed locking quota changes".to_string(), e))?;
    let domain_prefix = opts
        .domain
        .as_ref()
        .map_or_else(String::new, |d| format!("{d}!"));

    let mut roots = build_roots(ns, opts, specs, &domain_prefix, &mut qdb)?;
    if opts.fix {
        fix_pass(
            config,
            ns,
            opts,
            specs,
            &domain_prefix,
            &mut list,
            &mut qdb,
            &mut roots,
        )?;
        for root in roots.iter_mut() {
            finish(opts, &mut qdb, root)?;
        }
    }
    drop(change_lock);
    if opts.report {
        report(ns, opts, &mut qdb, &roots);
    }
    Ok(())
}

/// The internal name of a mailbox-spec typed on the command line.
fn internal_of(ns: &Namespace, spec: &str) -> String {
    MbName::from_external(&ExternalName::new(spec), ns, None)
        .and_then(|m| m.to_internal(&ns.deletedprefix))
        .map_or_else(|_| spec.to_string(), |n| n.as_str().to_string())
}

/// The internal name of `userid`'s INBOX.
fn inbox_of(ns: &Namespace, userid: &str) -> Option<String> {
    MbName::from_userid(userid, ns)
        .and_then(|m| m.to_internal(&ns.deletedprefix))
        .ok()
        .map(|n| n.as_str().to_string())
}

/// Pass 1: the roots to work on, each with any stale scan state cleared.
fn build_roots(
    ns: &Namespace,
    opts: &Opts,
    specs: &[String],
    domain_prefix: &str,
    qdb: &mut QuotaDb,
) -> Result<Vec<Root>, Fail> {
    // (prefix, owner the root must belong to)
    let mut prefixes: Vec<(String, Option<String>)> = Vec::new();
    if specs.is_empty() {
        prefixes.push((domain_prefix.to_string(), None));
    }
    for spec in specs {
        if opts.userids {
            let Some(inbox) = inbox_of(ns, spec) else {
                continue;
            };
            prefixes.push((inbox, Some(spec.clone())));
        } else {
            prefixes.push((format!("{domain_prefix}{}", internal_of(ns, spec)), None));
        }
    }
    let mut roots = Vec::new();
    for (prefix, owner) in prefixes {
        let names = qdb
            .roots(&prefix)
            .map_err(|e| io_fail(format!("failed building quota list for '{prefix}'"), e))?;
        for name in names {
            if let Some(user) = &owner {
                let owned = MbName::from_internal(
                    &InternalName::new(name.as_str()).unwrap_or_else(|_| bad_name()),
                    &ns.deletedprefix,
                )
                .userid();
                if owned.as_deref() != Some(user.as_str()) {
                    continue;
                }
            }
            clear_scan(qdb, &name, &prefix)?;
            roots.push(Root {
                name,
                refcount: 0,
                deleted: false,
            });
        }
    }
    Ok(roots)
}

/// A name that cannot be a user's: used where a stored root does not even parse as a name.
fn bad_name() -> InternalName {
    InternalName::new("\u{1}").unwrap_or_else(|_| fatal("internal name table broken", EX_TEMPFAIL))
}

/// Drops a stale `SCAN` from `root`'s record. A root that a walk finds but a read does not
/// (a file in the wrong hash directory) ends the run with Cyrus's two messages and status.
fn clear_scan(qdb: &mut QuotaDb, root: &str, prefix: &str) -> Result<(), Fail> {
    let r = (|| -> cyrus::Result<bool> {
        let mut q = match qdb.read_locked(root) {
            Ok(Some(q)) => q,
            Ok(None) => return Ok(false),
            // An unreadable record is kept in the list; the report stops at it, as Cyrus's.
            Err(cyrus::Error::Corrupt { .. }) => {
                qdb.abort()?;
                return Ok(true);
            }
            Err(e) => return Err(e),
        };
        if q.scan.take().is_some() {
            qdb.write(root, &mut q)?;
        }
        qdb.commit()?;
        Ok(true)
    })();
    match r {
        Ok(true) => Ok(()),
        Ok(false) => {
            let _ = qdb.abort();
            Err(Fail(
                format!(
                    "failed reading quota record for '{root}': Quota root does not exist\n\
                     failed building quota list for '{prefix}': System I/O error: Success"
                ),
                EX_SOFTWARE,
            ))
        }
        Err(e) => {
            let _ = qdb.abort();
            Err(io_fail(
                format!("failed reading quota record for '{root}'"),
                e,
            ))
        }
    }
}

/// Pass 2: add every mailbox's usage to the scan of the root that governs it.
#[allow(clippy::too_many_arguments)]
fn fix_pass(
    config: &Config,
    ns: &Namespace,
    opts: &Opts,
    specs: &[String],
    domain_prefix: &str,
    list: &mut MailboxList,
    qdb: &mut QuotaDb,
    roots: &mut [Root],
) -> Result<(), Fail> {
    let entries = list
        .all(Include::default())
        .map_err(|e| io_fail("processing mbox list".to_string(), e))?;
    // (prefix of names to visit, the prefix whose length guards root removal)
    let mut walks: Vec<(String, String)> = Vec::new();
    if specs.is_empty() {
        walks.push((domain_prefix.to_string(), domain_prefix.to_string()));
    }
    for spec in specs {
        if opts.userids {
            if let Some(inbox) = inbox_of(ns, spec) {
                walks.push((inbox.clone(), inbox));
            }
        } else {
            let p = format!("{domain_prefix}{}", internal_of(ns, spec));
            walks.push((p.clone(), p));
        }
    }
    let names: Vec<String> = roots.iter().map(|r| r.name.clone()).collect();
    for (prefix, guard) in &walks {
        for e in &entries {
            let name = e.name.as_str();
            let inside = if opts.userids {
                quota::is_under(name, prefix)
            } else {
                name.starts_with(prefix.as_str())
            };
            if !inside || e.mbtype.has(MbFlags::REMOTE) || e.mbtype.has(MbFlags::INTERMEDIATE) {
                continue;
            }
            let root = quota::find_root(&names, name).map(str::to_string);
            if let Some(r) = &root {
                if let Some(slot) = roots.iter_mut().find(|x| &x.name == r) {
                    slot.refcount += 1;
                }
            }
            if let Err(Fail(msg, code)) = do_mailbox(config, qdb, e, root.as_deref(), guard.len()) {
                let (what, errtext) = msg.split_once(": System I/O error: ").unwrap_or((&msg, ""));
                let walk = if opts.userids {
                    format!("processing user '{prefix}'")
                } else {
                    format!("processing mbox list for '{prefix}'")
                };
                return Err(Fail(
                    format!(
                        "{what}: System I/O error: {errtext}\n{walk}: System I/O error: {errtext}"
                    ),
                    code,
                ));
            }
        }
    }
    Ok(())
}

fn do_mailbox(
    config: &Config,
    qdb: &mut QuotaDb,
    e: &MboxEntry,
    root: Option<&str>,
    guard_len: usize,
) -> Result<(), Fail> {
    let name = e.name.as_str();
    let open_fail =
        |err: cyrus::Error| io_fail(format!("failed opening header for mailbox '{name}'"), err);
    let dir =
        mailbox_dir(config, e, Area::Meta).ok_or_else(|| open_fail(cyrus::Error::NotFound))?;
    // Cyrus's lock order: the owner's namespace (shared), the mailbox's name (exclusive),
    // then the index; Cyrus's processes take the same name locks.
    let deletedprefix = config.string("deletedprefix").unwrap_or("DELETED");
    let owner = MbName::from_internal(&e.name, deletedprefix).userid();
    let _user_lock = match &owner {
        Some(u) => Some(quota::name_lock(config, &format!("*U*{u}"), false).map_err(open_fail)?),
        None => None,
    };
    let lock_name = e.uniqueid.as_deref().unwrap_or(name);
    let _mailbox_lock = quota::name_lock(config, lock_name, true).map_err(open_fail)?;
    let mb = Mailbox::open(&dir, LockMode::Write).map_err(open_fail)?;
    let current = mb.header().quotaroot.clone();
    match root {
        None => {
            if let Some(old) = current.filter(|o| o.len() >= guard_len) {
                set_quotaroot(&dir, mb, name, Some(&old), None)
                    .map_err(|e| io_fail(format!("failed fixing quota root of '{name}'"), e))?;
            }
            Ok(())
        }
        Some(root) => {
            let used = quota::usage_of(mb.index_header());
            if current.as_deref() != Some(root) {
                set_quotaroot(&dir, mb, name, current.as_deref(), Some(root))
                    .map_err(|e| io_fail(format!("failed fixing quota root of '{name}'"), e))?;
            } else {
                drop(mb);
            }
            add_scan(qdb, root, name, &used)
        }
    }
}

fn add_scan(
    qdb: &mut QuotaDb,
    root: &str,
    name: &str,
    used: &[i64; NUM_RESOURCES],
) -> Result<(), Fail> {
    let r = (|| -> cyrus::Result<()> {
        let mut q = qdb.read_locked(root)?.unwrap_or_default();
        let scan = q.scan.get_or_insert_with(Default::default);
        for (s, u) in scan.used.iter_mut().zip(used) {
            *s = s.saturating_add(*u);
        }
        scan.mbox = name.to_string();
        qdb.write(root, &mut q)?;
        qdb.commit()
    })();
    r.map_err(|e| {
        let _ = qdb.abort();
        io_fail(format!("failed updating quota root '{root}'"), e)
    })
}

/// Points mailbox `name`'s cyrus.header at `new` (its index lock still held by `mb`) and
/// records the header's new CRC in the index header.
fn set_quotaroot(
    dir: &Path,
    mb: Mailbox,
    name: &str,
    old: Option<&str>,
    new: Option<&str>,
) -> cyrus::Result<()> {
    eprintln!(
        "{name}: quota root {} --> {}",
        old.unwrap_or("(none)"),
        new.unwrap_or("(none)")
    );
    let mut header: Header = mb.header().clone();
    header.quotaroot = new.map(str::to_string);
    let crc = header.write(dir)?;
    let mut ih: IndexHeader = mb.index_header().clone();
    ih.header_file_crc = crc;
    let path = dir.join(index::FILE_NAME);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(|e| cyrus::Error::io(&path, e))?;
    f.write_all_at(&ih.encode(), 0)
        .and_then(|()| f.sync_all())
        .map_err(|e| cyrus::Error::io(&path, e))?;
    // Closing `f` drops this process's fcntl locks on the index too; `mb` goes right after.
    drop(f);
    drop(mb);
    Ok(())
}

/// Pass 3: settle one root: report and store differences, or remove it if unused.
fn finish(opts: &Opts, qdb: &mut QuotaDb, root: &mut Root) -> Result<(), Fail> {
    let name = root.name.clone();
    if root.refcount == 0 {
        root.deleted = true;
        eprintln!("{name}: removed");
        if !opts.report_only {
            let r = qdb.delete(&name).and_then(|()| qdb.commit());
            r.map_err(|e| io_fail(format!("failed deleting quotaroot '{name}'"), e))?;
        }
        return Ok(());
    }
    let r = (|| -> cyrus::Result<()> {
        let mut q: Quota = qdb.read_locked(&name)?.unwrap_or_default();
        let scanned = q.scan.take().map(|s| s.used).unwrap_or_default();
        for res in Resource::ALL {
            let i = res.index();
            if scanned[i] != q.used[i] {
                eprintln!(
                    "{name}: {} usage was {}, now {}",
                    res.name(),
                    q.used[i],
                    scanned[i]
                );
                if !opts.report_only {
                    q.used[i] = scanned[i];
                }
            }
        }
        qdb.write(&name, &mut q)?;
        qdb.commit()
    })();
    r.map_err(|e| {
        let _ = qdb.abort();
        io_fail(format!("failed writing quotaroot: '{name}'"), e)
    })
}

/// The root as the admin namespace shows it; `None` for a domain's own root (`dom!`), which
/// has no external name: Cyrus prints it as `(null)` and leaves it out of the JSON.
fn external(ns: &Namespace, root: &str) -> Option<String> {
    if root.ends_with('!') {
        return None;
    }
    let ext = InternalName::new(root)
        .ok()
        .and_then(|n| MbName::from_internal(&n, &ns.deletedprefix).to_external(ns, None))
        .map_or_else(|| root.to_string(), |e| e.as_str().to_string());
    Some(ext)
}

fn report(ns: &Namespace, opts: &Opts, qdb: &mut QuotaDb, roots: &[Root]) {
    let mut out = String::new();
    let mut json: Vec<(String, Quota)> = Vec::new();
    if !opts.json {
        out.push_str("   Quota   % Used     Used             Resource Root\n");
    }
    for root in roots.iter().filter(|r| !r.deleted) {
        // A root that vanished or does not parse ends the report, as in Cyrus.
        let Ok(Some(q)) = qdb.read(&root.name) else {
            break;
        };
        let ext = external(ns, &root.name);
        if opts.json {
            if let Some(ext) = ext {
                json.push((ext, q));
            }
            continue;
        }
        let ext = ext.unwrap_or_else(|| "(null)".to_string());
        for res in Resource::ALL {
            let i = res.index();
            let used = q.used[i] / res.unit();
            match q.limits[i] {
                Some(l) if l > 0 => out.push_str(&format!(" {l:7} {:8}", used * 100 / l)),
                Some(_) => out.push_str("       0         "),
                None => out.push_str("                 "),
            }
            out.push_str(&format!(" {used:8} {:>20} {ext}\n", res.name()));
        }
    }
    if opts.json {
        out = to_json(&json);
    }
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
}

fn json_string(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// Jansson's `JSON_INDENT(2)` layout of `{root: {resource: {used, limit}}}`.
fn to_json(roots: &[(String, Quota)]) -> String {
    if roots.is_empty() {
        return "{}\n".to_string();
    }
    let mut o = String::from("{\n");
    for (ri, (name, q)) in roots.iter().enumerate() {
        o.push_str(&format!("  {}: {{\n", json_string(name)));
        for (i, res) in Resource::ALL.iter().enumerate() {
            let idx = res.index();
            o.push_str(&format!("    \"{}\": {{\n", res.name()));
            o.push_str(&format!("      \"used\": {}", q.used[idx]));
            if let Some(l) = q.limits[idx].filter(|&l| l > 0) {
                o.push_str(&format!(
                    ",\n      \"limit\": {}",
                    l.saturating_mul(res.unit())
                ));
            }
            o.push_str("\n    }");
            o.push_str(if i + 1 < NUM_RESOURCES { ",\n" } else { "\n" });
        }
        o.push_str("  }");
        o.push_str(if ri + 1 < roots.len() { ",\n" } else { "\n" });
    }
    o.push_str("}\n");
    o
}
