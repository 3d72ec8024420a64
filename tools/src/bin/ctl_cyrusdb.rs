//! `ctl_cyrusdb`: recover the configdirectory's databases after a crash (`-r`), or checkpoint
//! them into `db.backup1` (`-c`), with Cyrus 3.6's flags, files, syslog lines and exit codes.
//!
//! `ctl_cyrusdb [-C altconfig] -r [-x]` leaves the skiplist recovery stamp in
//! `<configdir>/db/skipstamp` (when `db/` exists), converts in place every database whose file
//! is of a detectable backend other than the configured one, and then opens each twoskip or
//! skiplist database so that its crash recovery runs now rather than in the first daemon that
//! touches it. `ctl_cyrusdb [-C altconfig] -c` rotates `db.backup1` to `db.backup2` and copies
//! the archived databases ([`registry::DATABASES`]) into a fresh `db.backup1`.
//!
//! The databases are handled in groups by their backend's archiving behaviour, as Cyrus does:
//! twoskip, flat and skiplist copy files, quotalegacy copies nothing; the backup directories
//! are rotated once, and the exit status is that of the last group, which is why an archive
//! failure with quotalegacy quotas still exits 0, exactly like Debian's 3.6.1 binary.

use cyrus::config::Config;
use cyrus::db::lock::{self, LockKind};
use cyrus::db::registry::{self, DbSpec, DATABASES};
use cyrus::db::{self, Backend, OpenFlags};
use cyrus::syslog::{self, Level};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::exit;
use tools::{fatal, getopt, load_config, strerror, Opt, EX_CONFIG, EX_USAGE_CYRUS};

/// Cyrus exits with EX_USAGE when it cannot become the cyrus user.
const EX_USAGE: i32 = 64;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Recover,
    Checkpoint,
}

fn usage() -> ! {
    eprintln!("ctl_cyrusdb [-C <altconfig>] -c");
    eprintln!("ctl_cyrusdb [-C <altconfig>] -r [-x]");
    exit(EX_USAGE_CYRUS);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let prog = args
        .first()
        .cloned()
        .unwrap_or_else(|| "ctl_cyrusdb".into());
    let (opts, _operands) = getopt(&prog, args.get(1..).unwrap_or(&[]), "C:crx");
    let mut alt = None;
    let mut op = None;
    let mut cleanup = true;
    for o in opts {
        match o {
            Opt::Arg('C', f) => alt = Some(f),
            Opt::Flag(c @ ('r' | 'c')) => {
                if op.is_some() {
                    usage();
                }
                op = Some(if c == 'r' {
                    Op::Recover
                } else {
                    Op::Checkpoint
                });
            }
            Opt::Flag('x') => cleanup = false,
            Opt::Bad(msg) => {
                eprintln!("{msg}");
                usage();
            }
            _ => usage(),
        }
    }
    let op = match op {
        Some(Op::Checkpoint) if !cleanup => usage(),
        Some(op) => op,
        None => usage(),
    };

    let config =
        load_config(alt.as_deref(), "ctl_cyrusdb").unwrap_or_else(|m| fatal(&m, EX_CONFIG));
    if let Err(e) = cyrus::process::become_cyrus(&config) {
        fatal(&format!("must run as the Cyrus user: {e}"), EX_USAGE);
    }
    syslog::open(Some(&config), "ctl_cyrusdb");

    let configdir = config.config_directory().to_path_buf();
    let dbdir = configdir.join("db");
    db::skipstamp::init(&dbdir, op == Op::Recover);

    let msg = match op {
        Op::Recover => "recovering cyrus databases",
        Op::Checkpoint => "checkpointing cyrus databases",
    };
    syslog::log(Level::Notice, msg);

    let groups = groups(&config);
    let backup1 = with_suffix(&dbdir, ".backup1");
    let backup2 = with_suffix(&dbdir, ".backup2");
    let mut rotated = false;
    let mut failed = false;
    for group in &groups {
        if op == Op::Recover {
            for (spec, backend) in &group.members {
                let path = registry::path(&config, spec);
                check_convert(
                    &path,
                    *backend,
                    registry::flags(&config, OpenFlags::default()),
                );
                recover(&config, spec, &path, *backend);
            }
        }
        // Cyrus judges each group on its own and exits with the last one's result.
        failed = false;
        if op == Op::Checkpoint {
            let mut r = Ok(());
            if !rotated {
                r = rotate(&backup1, &backup2).map_err(|_| ());
                rotated = true;
            }
            if r.is_ok() && group.copies {
                let files: Vec<PathBuf> = group
                    .members
                    .iter()
                    .filter(|(spec, _)| spec.archived)
                    .map(|(spec, _)| registry::path(&config, spec))
                    .collect();
                r = archive(&files, &backup1);
            }
            if r.is_err() {
                syslog::log(
                    Level::Err,
                    &format!("DBERROR: archive {}: IO error", dbdir.display()),
                );
                eprintln!("ctl_cyrusdb: unable to archive environment");
                failed = true;
            }
        }
    }

    if op == Op::Recover && cleanup {
        // Debian's 3.6.1 -r leaves reserved entries in mailboxes.db alone (checked: an `ez`
        // entry survives it), so there is nothing to remove. Still missing: building or
        // dropping reverse-ACL keys to match `reverseacls`, and upgrading a pre-3.5 list.
    }

    syslog::log(Level::Notice, &format!("done {msg}"));
    exit(i32::from(failed));
}

/// Databases sharing one archiving behaviour.
struct Group {
    /// Whether the backend copies its files into db.backup1 (all but quotalegacy).
    copies: bool,
    members: Vec<(&'static DbSpec, Backend)>,
}

/// The databases ctl_cyrusdb handles, copying backends first as Cyrus's sort leaves them.
fn groups(config: &Config) -> Vec<Group> {
    let mut copying = Group {
        copies: true,
        members: Vec::new(),
    };
    let mut other = Group {
        copies: false,
        members: Vec::new(),
    };
    for spec in DATABASES.iter().filter(|d| d.recovered) {
        let backend = registry::backend(config, spec).unwrap_or_else(|e| match e {
            cyrus::Error::Config { msg, .. } => fatal(&msg, EX_CONFIG),
            e => fatal(&e.to_string(), EX_CONFIG),
        });
        match backend {
            Backend::Quotalegacy => other.members.push((spec, backend)),
            _ => copying.members.push((spec, backend)),
        }
    }
    [copying, other]
        .into_iter()
        .filter(|g| !g.members.is_empty())
        .collect()
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Converts `path` in place to `backend` if its magic names another backend.
fn check_convert(path: &Path, backend: Backend, flags: OpenFlags) {
    let Some(found) = Backend::detect(path) else {
        return;
    };
    if found == backend {
        return;
    }
    syslog::log(
        Level::Notice,
        &format!(
            "converting {} from {} to {}",
            path.display(),
            found.name(),
            backend.name()
        ),
    );
    if db::convert(path, found, path, backend, flags).is_err() {
        syslog::log(
            Level::Notice,
            &format!("conversion failed {}", path.display()),
        );
    }
}

/// Opens an existing twoskip or skiplist database and takes its write lock, which finishes
/// or rolls back whatever a crashed writer left; other backends have nothing to recover.
fn recover(config: &Config, spec: &DbSpec, path: &Path, backend: Backend) {
    if !matches!(backend, Backend::Twoskip | Backend::Skiplist) || !path.exists() {
        return;
    }
    let r = registry::open(config, spec, registry::flags(config, OpenFlags::default())).and_then(
        |mut dbh| {
            dbh.begin()?;
            dbh.abort()
        },
    );
    if let Err(e) = r {
        syslog::log(
            Level::Err,
            &format!(
                "DBERROR: recovery failed: filename=<{}> error=<{e}>",
                path.display()
            ),
        );
    }
}

/// Empties and removes `backup2`, moves `backup1` there, and makes a new `backup1`; a missing
/// directory at either step is not an error, and dot files in `backup2` are left (so it stays).
fn rotate(backup1: &Path, backup2: &Path) -> io::Result<()> {
    if let Ok(entries) = fs::read_dir(backup2) {
        for entry in entries.flatten() {
            if entry.file_name().as_encoded_bytes().first() != Some(&b'.') {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
    let missing_ok = |r: io::Result<()>| match r {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    };
    missing_ok(fs::remove_dir(backup2))?;
    missing_ok(fs::rename(backup1, backup2))?;
    fs::DirBuilder::new().mode(0o755).create(backup1)
}

/// Copies each existing file of `files` into `dir` under its own name.
fn archive(files: &[PathBuf], dir: &Path) -> Result<(), ()> {
    for f in files {
        if let Err(e) = fs::metadata(f) {
            syslog::log(
                Level::Debug,
                &format!(
                    "not archiving database file: {}: {}",
                    f.display(),
                    strerror(&e)
                ),
            );
            continue;
        }
        syslog::log(
            Level::Debug,
            &format!("archiving database file: {}", f.display()),
        );
        let Some(name) = f.file_name() else {
            continue;
        };
        if copy_locked(f, &dir.join(name)).is_err() {
            syslog::log(
                Level::Err,
                &format!("DBERROR: error archiving database file: {}", f.display()),
            );
            return Err(());
        }
    }
    Ok(())
}

/// Copies `from` to `to` under a shared lock on `from`, so no commit is caught half written,
/// and syncs the copy.
fn copy_locked(from: &Path, to: &Path) -> io::Result<()> {
    let mut src = File::open(from)?;
    lock::lock(&src, LockKind::Shared)?;
    let mut data = Vec::new();
    let read = src.read_to_end(&mut data);
    let _ = lock::unlock(&src);
    read?;
    let mut dst = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o666)
        .open(to)?;
    dst.write_all(&data)?;
    dst.sync_all()
}
