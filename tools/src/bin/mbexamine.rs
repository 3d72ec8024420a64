//! `mbexamine`: print a mailbox's cyrus.header, index header, index records and cached
//! items, as Cyrus 3.6's does.
//!
//! `mbexamine [-C altconfig] [-u uid | -s seqnum] [pattern...]` — patterns are mailbox names
//! in the admin namespace with `*` and `%` wildcards; none means every mailbox. Times print
//! in the server's local time zone.
//!
//! `-q` checks message file sizes against the index and its quota usage instead.
//!
//! Differences from Debian's 3.6.1 binary: `-s N` shows the Nth message (Cyrus's never
//! advances its counter, so it shows every message for 1 and none otherwise); `-c` (compare
//! index records with message files) is not implemented yet and says so.

use cyrus::mailbox::examine::{ctime_local, examine_selected, quota_check, Select};
use cyrus::mailbox::{LockMode, Mailbox};
use cyrus::mboxlist::paths::{mailbox_dir, Area};
use cyrus::mboxlist::{Include, MailboxList};
use cyrus::mboxname::{MbName, Namespace};
use std::io::Write;
use std::process::exit;
use tools::{fatal, getopt, Opt, EX_TEMPFAIL};

fn usage() -> ! {
    eprintln!(
        "usage: mbexamine [-C <alt_config>] [-s seqnum] mailbox...\n       \
         mbexamine [-C <alt_config>] [-u uid] mailbox..."
    );
    exit(0);
}

/// Whether `name` matches an IMAP LIST-style `pattern`: `*` matches anything, `%` anything
/// but the hierarchy separator.
fn matches(pattern: &[u8], name: &[u8], sep: u8) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|i| matches(rest, &name[i..], sep)),
        Some((b'%', rest)) => {
            let stop = name.iter().position(|&b| b == sep).unwrap_or(name.len());
            (0..=stop).any(|i| matches(rest, &name[i..], sep))
        }
        Some((&c, rest)) => name.first() == Some(&c) && matches(rest, &name[1..], sep),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let prog = args.first().cloned().unwrap_or_else(|| "mbexamine".into());
    let (opts, patterns) = getopt(&prog, args.get(1..).unwrap_or(&[]), "C:u:s:qc");
    let mut alt = None;
    let mut select = Select::All;
    let mut quota = false;
    for o in opts {
        match o {
            Opt::Arg('C', f) => alt = Some(f),
            Opt::Arg('u', v) => select = Select::Uid(v.parse().unwrap_or_else(|_| usage())),
            Opt::Arg('s', v) => select = Select::Seq(v.parse().unwrap_or_else(|_| usage())),
            Opt::Flag('q') => quota = true,
            Opt::Flag('c') => {
                eprintln!("{prog}: -c is not implemented yet");
                exit(EX_TEMPFAIL);
            }
            Opt::Bad(msg) => {
                eprintln!("{msg}");
                usage();
            }
            _ => usage(),
        }
    }
    let config = tools::init(alt.as_deref(), "mbexamine");
    let ns = Namespace::from_config(&config, true);
    let mut list = match MailboxList::open(&config, None) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("DBERROR: opening mailboxes list: {e}");
            fatal("can't read mailboxes file", EX_TEMPFAIL);
        }
    };
    let mut entries = list.all(Include::default()).unwrap_or_else(|e| {
        eprintln!("DBERROR: reading mailboxes list: {e}");
        fatal("can't read mailboxes file", EX_TEMPFAIL);
    });
    // Cyrus's search lists personal mailboxes before shared ones, each in database order.
    entries.sort_by_key(|e| {
        MbName::from_internal(&e.name, &ns.deletedprefix)
            .localpart
            .is_none()
    });
    let patterns = if patterns.is_empty() {
        vec!["*".to_string()]
    } else {
        patterns
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let sep = ns.sep as u8;
    for pattern in &patterns {
        for entry in &entries {
            let ext = MbName::from_internal(&entry.name, &ns.deletedprefix).to_external(&ns, None);
            let Some(ext) = ext else { continue };
            if !matches(pattern.as_bytes(), ext.as_str().as_bytes(), sep) {
                continue;
            }
            let Some(dir) = mailbox_dir(&config, entry, Area::Data) else {
                continue;
            };
            let name = entry.name.as_str();
            let text = Mailbox::open(&dir, LockMode::Read).and_then(|mb| {
                if quota {
                    Ok(quota_check(&mb, name))
                } else {
                    examine_selected(&mb, name, &dir.to_string_lossy(), &ctime_local, select)
                }
            });
            match text {
                Ok(t) => {
                    let _ = out.write_all(&t);
                }
                Err(e) => eprintln!("Failed to open mailbox {name}: {e}"),
            }
        }
    }
    let _ = out.flush();
}
