//! `reconstruct`: rebuild mailboxes' cyrus.index and cyrus.cache from their message files,
//! as Cyrus 3.6's does, printing each mailbox's name and every repair on stdout.
//!
//! `reconstruct [-C altconfig] [-r] [-n] [-s] [-q] [-G] [-R] [-o|-O] [-V 17|max] [-u] [mailbox...]` —
//! mailboxes are admin-namespace external names (userids with `-u`, which implies `-r`);
//! none means every mailbox. The repair itself is `cyrus::mailbox::reconstruct`.
//!
//! Not implemented yet, and refused with a message rather than ignored: `-p` for a mailbox
//! mailboxes.db lacks (for one it has, Cyrus's refusal is ours), `-f` in the legacy
//! directory layout (in the uuid layout it finds nothing, as Cyrus's does), `-x`, `-d`,
//! `-U`, `-M`, `-I`, `-P`, and `-V` to any version but 17. Unlike Cyrus 3.6.1,
//! `-n -O` reports odd files without deleting them, and an index rebuilt from nothing keeps
//! the header's user flag names (Cyrus's forgets them). Annotation usage counts the
//! mailbox's entries in annotations.db, not per-message annotations. An index started again
//! leaves the quota root alone (Cyrus's adds the mailbox's whole usage a second time).

use cyrus::annotations::Annotations;
use cyrus::db::registry;
use cyrus::mailbox::header::Header;
use cyrus::mailbox::reconstruct::{reconstruct, Known, OddFiles, Options, Outcome};
use cyrus::mboxlist::paths::{mailbox_dir, Area};
use cyrus::mboxlist::{Include, MailboxList, MbFlags, MboxEntry};
use cyrus::mboxname::{ExternalName, MbName, Namespace};
use std::collections::HashMap;
use std::io::Write;
use std::process::exit;
use tools::{fatal, getopt, Opt, EX_TEMPFAIL};

/// sysexits' EX_USAGE, which Cyrus's reconstruct exits with on bad arguments.
const EX_USAGE: i32 = 64;

fn usage(prog: &str) -> ! {
    eprintln!(
        "Usage: {prog} [-C config] [-r] [-n] [-s] [-q] [-G] [-V 17] [-u] mailbox...\n\
         Rebuilds mailbox indexes and caches from the message files.\n\
         \n\
         -r   also the mailboxes below each one\n\
         -n   report only, change nothing\n\
         -s   do not stat message files\n\
         -q   quiet: do not print mailbox names\n\
         -G   re-parse every message (checks GUIDs)\n\
         -V   index minor version (only 17)\n\
         -u   arguments are userids\n"
    );
    exit(EX_USAGE);
}

/// Moves the usage of quota root `root` by `diff`, never below zero, under Cyrus's quota
/// change lock; a root without a record is left alone.
fn update_quota(
    config: &cyrus::config::Config,
    root: &str,
    diff: &[i64; cyrus::quota::NUM_RESOURCES],
) -> cyrus::error::Result<()> {
    let _lock = cyrus::quota::change_lock(config)?;
    let mut db = cyrus::quota::QuotaDb::open(config)?;
    let Some(mut q) = db.read_locked(root)? else {
        return db.abort();
    };
    for (u, d) in q.used.iter_mut().zip(diff) {
        *u = u.saturating_add(*d).max(0);
    }
    match db.write(root, &mut q) {
        Ok(()) => db.commit(),
        Err(e) => {
            let _ = db.abort();
            Err(e)
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let prog = args
        .first()
        .cloned()
        .unwrap_or_else(|| "reconstruct".into());
    let (opts, names) = getopt(
        &prog,
        args.get(1..).unwrap_or(&[]),
        "C:kp:rmfsxdgGqRUMIoOnV:uP",
    );
    let mut alt = None;
    let mut o = Options::default();
    let (mut recurse, mut users, mut quiet) = (false, false, false);
    let (mut partition, mut scan_fs) = (false, false);
    for opt in opts {
        match opt {
            Opt::Arg('C', f) => alt = Some(f),
            Opt::Flag('r') => recurse = true,
            Opt::Flag('n') => o.dry_run = true,
            Opt::Flag('s') => o.no_stat = true,
            Opt::Flag('G') => o.reparse = true,
            Opt::Flag('q') => quiet = true,
            Opt::Flag('u') => users = true,
            Opt::Flag('o') => o.odd = OddFiles::Ignore,
            Opt::Flag('R') => o.upgrade_uid = true,
            Opt::Arg('p', _) => partition = true,
            Opt::Flag('f') => scan_fs = true,
            Opt::Flag('O') => o.odd = OddFiles::Delete,
            // Deprecated in Cyrus, which says so and goes on.
            Opt::Flag(c @ ('k' | 'g')) => {
                eprintln!("reconstruct: deprecated option -{c} ignored");
            }
            Opt::Arg('V', v) if v == "17" || v == "max" => {}
            Opt::Arg('V', v) => {
                eprintln!("{prog}: -V {v}: only cyrus.index minor version 17 is supported");
                exit(EX_USAGE);
            }
            Opt::Flag('m') => {
                eprintln!("reconstructing mailboxes.db currently not supported");
                exit(EX_USAGE);
            }
            Opt::Flag(c) | Opt::Arg(c, _) => {
                eprintln!("{prog}: -{c} is not implemented yet");
                exit(EX_USAGE);
            }
            Opt::Bad(msg) => {
                eprintln!("{msg}");
                usage(&prog);
            }
        }
    }
    if (recurse || users) && names.is_empty() {
        eprintln!("please specify a mailbox to recurse from");
        exit(EX_USAGE);
    }
    let config = tools::init(alt.as_deref(), "reconstruct");
    let ns = Namespace::from_config(&config, true);
    let mut list = MailboxList::open(&config, None).unwrap_or_else(|e| {
        eprintln!("DBERROR: opening mailboxes list: {e}");
        fatal("can't read mailboxes file", EX_TEMPFAIL);
    });
    let mut entries = list.all(Include::default()).unwrap_or_else(|e| {
        eprintln!("DBERROR: reading mailboxes list: {e}");
        fatal("can't read mailboxes file", EX_TEMPFAIL);
    });
    // As Cyrus walks them: personal mailboxes first, then shared, each in database order.
    entries.sort_by_key(|e| {
        MbName::from_internal(&e.name, &ns.deletedprefix)
            .localpart
            .is_none()
    });
    let selected: Vec<&MboxEntry> = if names.is_empty() {
        entries.iter().collect()
    } else {
        let mut sel = Vec::new();
        for n in &names {
            let mb = if users {
                MbName::from_userid(n, &ns)
            } else {
                MbName::from_external(&ExternalName::new(n.as_str()), &ns, None)
            };
            let Ok(internal) = mb.and_then(|m| m.to_internal(&ns.deletedprefix)) else {
                continue;
            };
            let root = internal.as_str();
            let below = format!("{root}.");
            for e in &entries {
                let name = e.name.as_str();
                if name == root || ((recurse || users) && name.starts_with(&below)) {
                    sel.push(e);
                }
            }
        }
        sel
    };
    // The annotation bytes of each mailbox, which its index header keeps for quota. When
    // annotations.db cannot be read the stored figure is left as it is.
    // A missing annotations.db means no annotations; it is not created here.
    let db_exists = registry::find("annotations.db")
        .map(|spec| registry::path(&config, spec).exists())
        .unwrap_or(false);
    let annot_usage: Option<HashMap<String, u32>> = if db_exists {
        Annotations::open(&config)
            .and_then(|mut a| a.list_all())
            .ok()
    } else {
        Some(Vec::new())
    }
    .map(|all| {
        let mut usage = HashMap::new();
        for (key, value) in all {
            if key.mboxid.is_empty() || value.is_tombstone() {
                continue;
            }
            let len = u32::try_from(value.value.len()).unwrap_or(u32::MAX);
            let slot: &mut u32 = usage.entry(key.mboxid).or_insert(0);
            *slot = slot.saturating_add(len);
        }
        usage
    });
    if partition {
        // -p only places mailboxes that mailboxes.db lacks; for one it has, Cyrus refuses.
        let Some(first) = selected.first() else {
            eprintln!("{prog}: -p for a mailbox not in mailboxes.db is not implemented yet");
            exit(EX_USAGE);
        };
        eprintln!(
            "Mailbox {} already exists.  Cannot specify -p.",
            first.name.as_str()
        );
        exit(EX_USAGE);
    }
    if scan_fs && selected.iter().any(|e| e.mbtype.has(MbFlags::LEGACY_DIRS)) {
        // In the uuid layout no mailbox directory lies below another, so -f has nothing to
        // find there; the by-name layout, where it does, is not scanned yet.
        eprintln!("{prog}: -f on mailboxes in the legacy directory layout is not implemented yet");
        exit(EX_USAGE);
    }
    let now = u32::try_from(cyrus::mboxlist::now()).unwrap_or(u32::MAX);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for entry in selected {
        let name = entry.name.as_str();
        let Some(dir) = mailbox_dir(&config, entry, Area::Data) else {
            continue;
        };
        let mut lines = Vec::new();
        let annot_used = match (&annot_usage, entry.uniqueid.as_deref()) {
            (Some(usage), Some(id)) => Some(usage.get(id).copied().unwrap_or(0)),
            _ => None,
        };
        let mut header = Header::new(
            &entry.mbtype.to_string(),
            name,
            entry.uniqueid.as_deref().unwrap_or(""),
        );
        header.acl = entry.acl.as_ref().map(|a| a.0.clone());
        let known = Known {
            uidvalidity: entry.uidvalidity,
            annot_used,
            header,
        };
        let res = reconstruct(&dir, name, &known, o, now, &mut lines);
        // A mailbox that could not be opened is reported on stderr, as Cyrus does.
        let failed = matches!(res, Ok(Outcome { failed: true, .. }));
        for l in &lines {
            if failed {
                let _ = out.flush();
                eprintln!("{l}");
            } else {
                let _ = writeln!(out, "{l}");
            }
        }
        if let Ok(Outcome {
            quota_change: Some((root, diff)),
            ..
        }) = &res
        {
            if let Err(e) = update_quota(&config, root, diff) {
                eprintln!("{name}: updating quota root {root}: {e}");
            }
        }
        if let Ok(Outcome {
            new_uidvalidity: Some(uv),
            ..
        }) = res
        {
            let _ = writeln!(
                out,
                "Wrong uidvalidity in mbentry, fixing {name} ({} -> {uv})",
                entry.uidvalidity
            );
            let mut fixed = entry.clone();
            fixed.uidvalidity = uv;
            if let Err(e) = list.update(&mut fixed) {
                eprintln!("DBERROR: updating mailboxes list for {name}: {e}");
            }
        }
        match res {
            Ok(Outcome { failed: true, .. }) => {}
            Ok(_) => {
                if !quiet {
                    let _ = writeln!(out, "{name}");
                }
            }
            Err(e) => {
                let _ = out.flush();
                eprintln!("{name}: {e}");
            }
        }
    }
    let _ = out.flush();
}
