//! Where a mailbox's files live: its data, metadata and archive directories on a partition,
//! the owner's per-user files under the config directory, and the owner's sieve directory.
//!
//! Two layouts exist side by side. Mailboxes without the `l` type flag live under
//! `<partition>/uuid/<c1>/<c2>/<uniqueid>` and never move; `l` mailboxes live under their
//! name, optionally hashed (`hashimapspool`, `fulldirhash`). Per-user files and sieve scripts
//! follow the layout of the user's INBOX, so callers pass the INBOX entry when there is one.

use super::entry::{MbFlags, MboxEntry};
use crate::config::Config;
use crate::dirhash::dir_hash;
use crate::mboxname::MbName;
use std::path::{Path, PathBuf};

/// Which partition root a path is under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Area {
    /// `partition-<name>`: message files.
    Data,
    /// `metapartition-<name>` when configured, else the data partition.
    Meta,
    /// `archivepartition-<name>` when archiving is on and it is configured, else data.
    Archive,
}

fn hash_char(s: &str, config: &Config) -> String {
    char::from(dir_hash(s.as_bytes(), config.switch("fulldirhash"))).to_string()
}

/// The root directory of partition `part` for `area`, if the partition is configured.
pub fn partition_root(config: &Config, part: &str, area: Area) -> Option<PathBuf> {
    let data = config.string(&format!("partition-{part}"));
    let other = match area {
        Area::Data => None,
        Area::Meta => config.string(&format!("metapartition-{part}")),
        Area::Archive if config.switch("archive_enabled") => {
            config.string(&format!("archivepartition-{part}"))
        }
        Area::Archive => None,
    };
    other.or(data).filter(|s| !s.is_empty()).map(PathBuf::from)
}

/// `uuid/<c1>/<c2>/<uniqueid>` below `root`; `None` for ids too short to split.
pub fn uuid_dir(root: &Path, uniqueid: &str) -> Option<PathBuf> {
    let mut chars = uniqueid.chars();
    let (c1, c2) = (chars.next()?, chars.next()?);
    if uniqueid.contains('/') || uniqueid.starts_with('.') {
        return None;
    }
    Some(
        root.join("uuid")
            .join(c1.to_string())
            .join(c2.to_string())
            .join(uniqueid),
    )
}

/// The by-name directory of `entry` below `root`: `[domain/<Hd>/<dom>/][<H>/]comp/comp/...`.
pub fn legacy_dir(root: &Path, entry: &MboxEntry, config: &Config) -> PathBuf {
    let hashed = config.switch("hashimapspool");
    let full = entry.name.as_str();
    let (dom, rest) = match full.split_once('!') {
        Some((d, r)) => (Some(d), r),
        None => (None, full),
    };
    let mut p = root.to_path_buf();
    if let Some(d) = dom {
        p.push("domain");
        if hashed {
            p.push(hash_char(d, config));
        }
        p.push(d);
    }
    let comps: Vec<&str> = rest.split('.').collect();
    if hashed {
        let key = comps.get(1).or(comps.first()).copied().unwrap_or("");
        // The hash sees the literal name, where `^` is a dot (and fulldirhash stops at it).
        p.push(hash_char(&key.replace('^', "."), config));
    }
    for c in comps {
        p.push(c);
    }
    p
}

/// The directory of `entry`'s files in `area`, or `None` without a configured partition
/// (or, in the uuid layout, without a uniqueid).
pub fn mailbox_dir(config: &Config, entry: &MboxEntry, area: Area) -> Option<PathBuf> {
    let root = partition_root(config, entry.partition.as_deref()?, area)?;
    if entry.mbtype.has(MbFlags::LEGACY_DIRS) {
        Some(legacy_dir(&root, entry, config))
    } else {
        uuid_dir(&root, entry.uniqueid.as_deref()?)
    }
}

fn domain_base(base: &Path, domain: Option<&str>, config: &Config) -> PathBuf {
    match domain {
        Some(d) => base.join("domain").join(hash_char(d, config)).join(d),
        None => base.to_path_buf(),
    }
}

fn uses_uuid(inbox: Option<&MboxEntry>) -> Option<&str> {
    inbox
        .filter(|i| !i.mbtype.has(MbFlags::LEGACY_DIRS))
        .and_then(|i| i.uniqueid.as_deref())
}

/// The directory of the per-user files (seen, sub, ...) of `name`'s owner, whose INBOX is
/// `inbox`; the (domain's) config directory for shared mailboxes.
pub fn user_dir(config: &Config, name: &MbName, inbox: Option<&MboxEntry>) -> PathBuf {
    let conf = config.config_directory();
    let Some(local) = &name.localpart else {
        return domain_base(conf, name.domain.as_deref(), config);
    };
    if let Some(d) = uses_uuid(inbox).and_then(|id| uuid_dir(&conf.join("user"), id)) {
        return d;
    }
    domain_base(conf, name.domain.as_deref(), config)
        .join("user")
        .join(hash_char(local, config))
}

/// The per-user file `suffix` (`seen`, `sub`, `counters`, ...) of `name`'s owner.
pub fn user_file(
    config: &Config,
    name: &MbName,
    inbox: Option<&MboxEntry>,
    suffix: &str,
) -> Option<PathBuf> {
    let local = name.localpart.as_ref()?;
    let dir = user_dir(config, name, inbox);
    Some(if uses_uuid(inbox).is_some() {
        dir.join(format!("{suffix}.db"))
    } else {
        dir.join(format!("{local}.{suffix}"))
    })
}

/// The sieve directory of `name`'s owner (`<sievedir>/global` for shared mailboxes);
/// `None` when the owner has no INBOX, where Cyrus prints an empty path.
pub fn sieve_dir(config: &Config, name: &MbName, inbox: Option<&MboxEntry>) -> Option<PathBuf> {
    let base = PathBuf::from(config.string("sievedir").unwrap_or("/usr/sieve"));
    let Some(local) = &name.localpart else {
        return Some(base.join("global"));
    };
    let inbox = inbox?;
    if let Some(d) = uses_uuid(Some(inbox)).and_then(|id| uuid_dir(&base, id)) {
        return Some(d);
    }
    // Without virtual domains the whole userid names the directory, domain and all.
    if config.string("virtdomains").unwrap_or("off") == "off" {
        let user = name.userid().unwrap_or_else(|| local.clone());
        return Some(base.join(hash_char(&user, config)).join(user));
    }
    Some(
        domain_base(&base, name.domain.as_deref(), config)
            .join(hash_char(local, config))
            .join(local),
    )
}
