//! `cvt_cyrusdb`: copy every record of one cyrusdb database into a new file of another (or the
//! same) backend, with Cyrus 3.6's arguments, messages and exit codes.
//!
//! `cvt_cyrusdb [-C altconfig] <old db> <old backend> <new db> <new backend>`. Both paths must
//! be absolute. The new file is replaced if it exists (the old one may be the same path, which
//! converts in place). As in Cyrus, an old file whose magic names another backend than the one
//! given is read with the detected backend, and a failed conversion is reported on stdout but
//! still exits 0; unknown options are reported and ignored.

use cyrus::db::{self, Backend, OpenFlags};
use cyrus::syslog::{self, Level};
use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;
use std::process::exit;
use tools::{fatal, getopt, load_config, Opt, EX_CONFIG, EX_OSERR, EX_USAGE_CYRUS};

/// Cyrus exits with EX_USAGE when it cannot become the cyrus user.
const EX_USAGE: i32 = 64;

/// The backends this build has, in the order Cyrus lists its own.
const BACKENDS: [Backend; 4] = [
    Backend::Flat,
    Backend::Skiplist,
    Backend::Quotalegacy,
    Backend::Twoskip,
];

fn usage(prog: &str) -> ! {
    let names: Vec<&str> = BACKENDS.iter().map(|b| b.name()).collect();
    eprintln!("Usage: {prog} [-C altconfig] <old db> <old db backend> <new db> <new db backend>");
    // Cyrus prints the separator before each name, hence the stray colon.
    eprintln!("Usable Backends:  : {}", names.join(", "));
    exit(EX_USAGE_CYRUS);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let prog = args
        .first()
        .cloned()
        .unwrap_or_else(|| "cvt_cyrusdb".into());
    let (opts, operands) = getopt(&prog, args.get(1..).unwrap_or(&[]), "C:");
    let mut alt = None;
    for o in opts {
        match o {
            Opt::Arg('C', f) => alt = Some(f),
            // Cyrus lets getopt complain and carries on.
            Opt::Bad(msg) => eprintln!("{msg}"),
            _ => {}
        }
    }
    let [old_db, old_kind, new_db, new_kind] = operands.as_slice() else {
        usage(&prog);
    };
    if !old_db.starts_with('/') || !new_db.starts_with('/') {
        print!(
            "\nSorry, you cannot use this tool with relative path names.\n\
             This is because some database backends do not\n\
             always do what you would expect with them.\n\
             \nPlease use absolute pathnames instead.\n\n"
        );
        let _ = std::io::stdout().flush();
        exit(EX_OSERR);
    }

    let config =
        load_config(alt.as_deref(), "cvt_cyrusdb").unwrap_or_else(|m| fatal(&m, EX_CONFIG));
    if let Err(e) = cyrus::process::become_cyrus(&config) {
        fatal(&format!("must run as the Cyrus user: {e}"), EX_USAGE);
    }
    syslog::open(Some(&config), "cvt_cyrusdb");
    db::skipstamp::init(&config.config_directory().join("db"), false);

    println!("Converting from {old_db} ({old_kind}) to {new_db} ({new_kind})");
    let _ = std::io::stdout().flush();

    let backend = |name: &str| {
        Backend::from_name(name)
            .unwrap_or_else(|| fatal(&format!("cyrusdb backend {name} not supported"), EX_CONFIG))
    };
    let from_kind = backend(old_kind);
    let to_kind = backend(new_kind);

    if let Err(e) = convert(
        Path::new(old_db),
        from_kind,
        Path::new(new_db),
        to_kind,
        db::registry::flags(&config, OpenFlags::default()),
    ) {
        syslog::log(
            Level::Err,
            &format!("DBERROR: converting {old_db} ({old_kind}) to {new_db} ({new_kind}): {e}"),
        );
        println!(
            "\nDBERROR: Conversion failed (r was {}). Check syslog for details.",
            e.cyrusdb_code()
        );
    }
}

/// Converts, reading `from` with the backend its magic names when `from_kind` cannot open it,
/// and creating the new file's directory as Cyrus does.
fn convert(
    from: &Path,
    from_kind: Backend,
    to: &Path,
    to_kind: Backend,
    flags: OpenFlags,
) -> cyrus::Result<()> {
    let source = match from_kind.open(from, flags) {
        Ok(_) => from_kind,
        Err(e) => match Backend::detect(from).filter(|&b| b != from_kind) {
            Some(found) => {
                syslog::log(
                    Level::Notice,
                    &format!(
                        "cyrusdb: opening {} with backend {} (requested {})",
                        from.display(),
                        found.name(),
                        from_kind.name()
                    ),
                );
                found
            }
            None => return Err(e),
        },
    };
    if let Some(dir) = to.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)
            .map_err(|e| cyrus::Error::io(dir, e))?;
    }
    db::convert(from, source, to, to_kind, flags)
}
