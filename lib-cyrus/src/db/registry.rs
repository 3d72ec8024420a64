//! The databases Cyrus 3.6 keeps in the configdirectory, declared once.
//!
//! Each row of [`DATABASES`] names a database by its default file name and says which
//! imapd.conf option picks its backend, which option may move it, and whether
//! `ctl_cyrusdb` looks after it (recovery and conversion with `-r`) and copies it into
//! `db.backup1` with `-c`. The rows `ctl_cyrusdb` handles, and their order, are those of Debian's
//! 3.6.1 binary as traced (spec/twoskip.md §13 lists the backends). Per-user databases
//! (seen, subscriptions, conversations, ...) live elsewhere and are not here.

use super::{Backend, Database, OpenFlags};
use crate::config::Config;
use crate::error::{Error, Result};
use std::path::PathBuf;

/// One database of the configdirectory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DbSpec {
    /// Its file name relative to the configdirectory when no path option moves it.
    pub file: &'static str,
    /// The option naming its backend (`mboxlist_db`, ...).
    pub backend_option: &'static str,
    /// The option giving its full path instead (`mboxlist_db_path`, ...).
    pub path_option: &'static str,
    /// Whether `ctl_cyrusdb -r` recovers and converts it.
    pub recovered: bool,
    /// Whether `ctl_cyrusdb -c` copies it into `db.backup1`.
    pub archived: bool,
}

const fn db(
    file: &'static str,
    backend_option: &'static str,
    path_option: &'static str,
    recovered: bool,
    archived: bool,
) -> DbSpec {
    DbSpec {
        file,
        backend_option,
        path_option,
        recovered,
        archived,
    }
}

/// Every configdirectory database, those `ctl_cyrusdb` handles first, in its order.
pub const DATABASES: &[DbSpec] = &[
    db(
        "mailboxes.db",
        "mboxlist_db",
        "mboxlist_db_path",
        true,
        true,
    ),
    db(
        "annotations.db",
        "annotation_db",
        "annotation_db_path",
        true,
        true,
    ),
    db("backups.db", "backup_db", "backup_db_path", true, true),
    db(
        "deliver.db",
        "duplicate_db",
        "duplicate_db_path",
        true,
        false,
    ),
    db(
        "tls_sessions.db",
        "tls_sessions_db",
        "tls_sessions_db_path",
        true,
        false,
    ),
    db(
        "ptclient/ptscache.db",
        "ptscache_db",
        "ptscache_db_path",
        true,
        false,
    ),
    db(
        "statuscache.db",
        "statuscache_db",
        "statuscache_db_path",
        true,
        false,
    ),
    // quotalegacy keeps quota/<H>/<root> files next to this name, not the name itself.
    db("quotas.db", "quota_db", "quota_db_path", true, true),
    db(
        "user_deny.db",
        "userdeny_db",
        "userdeny_db_path",
        false,
        false,
    ),
    db(
        "zoneinfo.db",
        "zoneinfo_db",
        "zoneinfo_db_path",
        false,
        false,
    ),
];

/// The row whose default file name is `file` (`"mailboxes.db"`, `"ptclient/ptscache.db"`).
pub fn find(file: &str) -> Option<&'static DbSpec> {
    DATABASES.iter().find(|d| d.file == file)
}

/// The backend name the configuration gives this database (`twoskip`, `sql`, ...).
pub fn backend_name<'c>(config: &'c Config, spec: &DbSpec) -> &'c str {
    config.string(spec.backend_option).unwrap_or("")
}

/// The backend the configuration selects; a [`Error::Config`] with Cyrus's message when it
/// names one this build lacks (`sql`, `zeroskip`, ...).
pub fn backend(config: &Config, spec: &DbSpec) -> Result<Backend> {
    let name = backend_name(config, spec);
    Backend::from_name(name).ok_or_else(|| Error::Config {
        file: config.path().to_path_buf(),
        line: 0,
        msg: format!("cyrusdb backend {name} not supported"),
    })
}

/// Where the database lives: its path option, or `<configdirectory>/<file>`.
pub fn path(config: &Config, spec: &DbSpec) -> PathBuf {
    match config.string(spec.path_option).filter(|p| !p.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => config.config_directory().join(spec.file),
    }
}

/// The open flags the configuration implies for this database (quotalegacy's `fulldirhash`
/// and `virtdomains`).
pub fn flags(config: &Config, base: OpenFlags) -> OpenFlags {
    OpenFlags {
        fulldirhash: config.switch("fulldirhash"),
        virtdomains: config.string("virtdomains").is_some_and(|v| v != "off"),
        ..base
    }
}

/// Opens the database with its configured backend, falling back to the backend its magic
/// names (or converting to the configured one with `flags.convert`), as `cyrusdb_open` does.
pub fn open(config: &Config, spec: &DbSpec, flags: OpenFlags) -> Result<Box<dyn Database>> {
    let backend = backend(config, spec)?;
    super::open(&path(config, spec), backend, self::flags(config, flags))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn conf(text: &str) -> Config {
        Config::parse(text, Path::new("/test/imapd.conf"), None).unwrap()
    }

    #[test]
    fn defaults_follow_cyrus() {
        let c = conf("configdirectory: /var/lib/cyrus\n");
        let table = [
            (
                "mailboxes.db",
                Backend::Twoskip,
                "/var/lib/cyrus/mailboxes.db",
            ),
            (
                "annotations.db",
                Backend::Twoskip,
                "/var/lib/cyrus/annotations.db",
            ),
            (
                "quotas.db",
                Backend::Quotalegacy,
                "/var/lib/cyrus/quotas.db",
            ),
            ("deliver.db", Backend::Twoskip, "/var/lib/cyrus/deliver.db"),
            (
                "ptclient/ptscache.db",
                Backend::Twoskip,
                "/var/lib/cyrus/ptclient/ptscache.db",
            ),
            ("user_deny.db", Backend::Flat, "/var/lib/cyrus/user_deny.db"),
            (
                "zoneinfo.db",
                Backend::Twoskip,
                "/var/lib/cyrus/zoneinfo.db",
            ),
        ];
        for (file, backend, p) in table {
            let spec = find(file).unwrap();
            assert_eq!(super::backend(&c, spec).unwrap(), backend, "{file}");
            assert_eq!(path(&c, spec), Path::new(p), "{file}");
        }
    }

    #[test]
    fn options_move_and_switch() {
        let c = conf(
            "configdirectory: /c\nmboxlist_db: skiplist\nmboxlist_db_path: /elsewhere/mb.db\n\
             quota_db: twoskip\nfulldirhash: yes\n",
        );
        let mb = find("mailboxes.db").unwrap();
        assert_eq!(backend(&c, mb).unwrap(), Backend::Skiplist);
        assert_eq!(path(&c, mb), Path::new("/elsewhere/mb.db"));
        assert_eq!(
            backend(&c, find("quotas.db").unwrap()).unwrap(),
            Backend::Twoskip
        );
        assert!(flags(&c, OpenFlags::default()).fulldirhash);
    }

    #[test]
    fn unknown_backend_is_an_error() {
        let c = conf("configdirectory: /c\nmboxlist_db: sql\n");
        let e = backend(&c, find("mailboxes.db").unwrap()).unwrap_err();
        assert!(
            matches!(e, Error::Config { ref msg, .. } if msg == "cyrusdb backend sql not supported")
        );
    }

    #[test]
    fn ctl_cyrusdb_rows() {
        let archived: Vec<_> = DATABASES
            .iter()
            .filter(|d| d.archived)
            .map(|d| d.file)
            .collect();
        assert_eq!(
            archived,
            ["mailboxes.db", "annotations.db", "backups.db", "quotas.db"]
        );
        assert_eq!(DATABASES.iter().filter(|d| d.recovered).count(), 8);
        for d in DATABASES {
            let c = conf("configdirectory: /c\n");
            // Every row's options exist in the option table (debug builds assert on a typo).
            let _ = backend_name(&c, d);
            let _ = path(&c, d);
        }
    }

    #[test]
    fn open_creates_and_sniffs() {
        let dir = std::env::temp_dir().join(format!("registry-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let text = format!("configdirectory: {}\n", dir.display());
        let spec = find("mailboxes.db").unwrap();
        {
            let c = conf(&format!("{text}mboxlist_db: skiplist\n"));
            let create = OpenFlags {
                create: true,
                ..OpenFlags::default()
            };
            let mut db = open(&c, spec, create).unwrap();
            db.store(b"k", b"v").unwrap();
        }
        let c = conf(&text);
        let mut db = open(&c, spec, OpenFlags::default()).unwrap();
        assert_eq!(db.fetch(b"k").unwrap().as_deref(), Some(&b"v"[..]));
        drop(db);
        assert_eq!(Backend::detect(&path(&c, spec)), Some(Backend::Skiplist));
        let convert = OpenFlags {
            convert: true,
            ..OpenFlags::default()
        };
        let mut db = open(&c, spec, convert).unwrap();
        assert_eq!(db.fetch(b"k").unwrap().as_deref(), Some(&b"v"[..]));
        drop(db);
        assert_eq!(Backend::detect(&path(&c, spec)), Some(Backend::Twoskip));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
