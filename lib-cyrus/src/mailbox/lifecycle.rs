//! Whole-mailbox operations as Cyrus 3.6 performs them: create, delete and rename, each
//! touching mailboxes.db, the mailbox's directory, the quota root's usage and annotations.db
//! in the order that keeps a crash harmless.
//!
//! What Debian's 3.6.1 was seen to do (IMAP CREATE/DELETE/RENAME on a scratch instance,
//! mailboxes.db, annotations.db and quota files dumped after each step), and we do the same:
//! - **create** makes missing ancestors as real mailboxes first (`CREATE shared.a.b` makes
//!   `shared` and `shared.a`; so does RENAME to a deeper name); `user.X.*` needs `user.X`. A
//!   new mailbox takes its nearest existing ancestor's ACL and partition; a user's INBOX (or a
//!   user mailbox without a parent) gives its owner `lrswipkxtecdan`; a top-level shared one
//!   gets `defaultacl`. uidvalidity is the creation time plus one (one more than the
//!   tombstone's when the name was used before), createdmodseq and foldermodseq 1. The
//!   directory holds `cyrus.header` and `cyrus.index` only (Cyrus makes `cyrus.cache` at the
//!   first append). A special-use goes in the owner's private
//!   `/specialuse` annotation (modseq 0 in the value), counts against the quota root's
//!   annotation storage and the index's `quota_annot_used`, and bumps the mailbox's modseq
//!   (highestmodseq and foldermodseq 2). The quota root counts one more folder.
//! - **rename** bumps the mailbox's modseq (foldermodseq = highestmodseq + 1), leaves a
//!   tombstone (`T ed`, uniqueid, V/C/F, no partition or ACL) at the old name, pushes that
//!   tombstone onto the `I` record's history, rewrites `cyrus.header` (name, quota root) and
//!   moves usage between quota roots. Children follow, one by one, after their parent. In the
//!   uuid layout the files stay put; in the legacy layout they are linked into the new
//!   directory before the commit and unlinked from the old one after it.
//! - **delete** with `delete_mode: delayed` is a rename to `DELETED.<name>.<HEXTIME>` (no
//!   quota root there, so usage leaves the user's root; annotations stay). With
//!   `delete_mode: immediate`, or for a name already under `deletedprefix`, the entry becomes
//!   a tombstone (`T ed`, empty ACL; a `DELETED.*` name loses its `N` record altogether), the
//!   index is marked deleted, the usage leaves the quota root, the annotations go and the
//!   directory is removed. Other users' seen entries for the mailbox stay in their seen.db
//!   (keyed by a uniqueid nothing uses any more; not compared with Debian). Deleting a
//!   user's INBOX takes every mailbox of the user (one timestamp for the delayed names), the
//!   user's per-user files (seen, subscriptions, ...) and quota roots, in both modes.
//!
//! Otherwise neither rename nor delete touches subscriptions (Debian's imapd leaves `sub.db`
//! as it was), and a mailbox renamed into another user's hierarchy keeps its ACL, as there.
//!
//! A hierarchy is renamed one mailbox at a time, as Cyrus does (it advertises
//! `NO_ATOMIC_RENAME`): a crash part-way leaves some children under the old name, and renaming
//! them finishes the job. Renaming a user's INBOX (which moves its messages into a new
//! mailbox) follows RFC 3501 (see `rename_inbox`); Debian's 3.6.1 imapd itself segfaults on
//! `RENAME INBOX x`, so there is no reference to match byte for byte.
//!
//! Permission checks (rights, `specialuse_protect`, Cyrus's refusal to DELETE a mailbox
//! with children) are the caller's: [`has_children`] and [`special_use`] give it what it
//! needs. Locks follow Cyrus's order: the user's namespace lock, then the mailbox lock, then
//! the index. These functions open mailboxes.db, the quota database and annotations.db
//! themselves; a caller must not be inside a transaction on any of them (fcntl locks are
//! per process, and closing our handle would drop the caller's).

use crate::acl;
use crate::annotations::{Annotations, Scope, Target};
use crate::config::Config;
use crate::db::lock::{self as flock, sync_parent_dir, LockKind};
use crate::db::{failpoint, Walk};
use crate::error::{Error, Result};
use crate::mailbox::header::{self, Header};
use crate::mailbox::index::IndexRecord;
use crate::mailbox::index::{self, IndexHeader, Options};
use crate::mailbox::{Append, LockMode, Mailbox};
use crate::mboxlist::paths::{self, Area};
use crate::mboxlist::{self, Acl, FormerName, Include, MailboxList, MbFlags, MbType, MboxEntry};
use crate::mboxname::{InternalName, MbName};
use crate::quota::{self, NameLock, QuotaDb, NUM_RESOURCES};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// What a new mailbox is made with besides its name.
#[derive(Clone, Copy, Debug, Default)]
pub struct CreateOptions<'a> {
    /// Who asks (`None` for an admin or a tool). Cyrus 3.6 gives a creator no rights of
    /// their own (the ACL comes from the parent, the owner or `defaultacl`), so this only
    /// documents the request; permission checks are the caller's.
    pub creator: Option<&'a str>,
    /// Partition; else the nearest ancestor's, else `defaultpartition` (else `default`).
    pub partition: Option<&'a str>,
    /// Special-use attributes (`\Sent`), stored as the owner's `/specialuse` annotation.
    pub special_use: &'a [String],
    /// The uniqueid to use (replication, reconstruct); a fresh one when `None`.
    pub uniqueid: Option<&'a str>,
    /// The UIDVALIDITY to use; the current time plus one when `None`, as Cyrus does without
    /// conversations.
    pub uidvalidity: Option<u32>,
}

/// A fresh mailbox uniqueid as Debian's Cyrus 3.6 makes them (built without libuuid): 24
/// characters drawn uniformly from `0-9a-z`.
pub fn new_uniqueid() -> String {
    const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = String::with_capacity(24);
    let mut pool = [0u8; 64];
    while out.len() < 24 {
        fill_random(&mut pool);
        // 252 = 7 * 36: bytes above it are dropped so that every character is equally likely.
        for &b in pool.iter().filter(|&&b| b < 252) {
            if out.len() == 24 {
                break;
            }
            out.push(char::from(ALPHABET[usize::from(b % 36)]));
        }
    }
    out
}

fn fill_random(buf: &mut [u8]) {
    // SAFETY: getrandom writes at most `buf.len()` bytes into the buffer it is given, which
    // is valid and exclusively borrowed for the call.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    if usize::try_from(n).is_ok_and(|n| n == buf.len()) {
        return;
    }
    // No getrandom (very old kernels): the clock and pid still make ids unlikely to repeat,
    // and `create` checks every id against mailboxes.db.
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
        ^ (u128::from(std::process::id()) << 64);
    let mut x = seed as u64 | 1;
    for b in buf.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = (x >> 24) as u8;
    }
}

fn deletedprefix(config: &Config) -> &str {
    config.string("deletedprefix").unwrap_or("DELETED")
}

fn deleteright(config: &Config) -> char {
    config
        .string("deleteright")
        .and_then(|s| s.chars().next())
        .unwrap_or('c')
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error::io(path, e)
}

fn bad_name(e: crate::mboxname::BadName) -> Error {
    Error::Usage(e.to_string())
}

/// The user namespace lock (`*U*<userid>`, dots as `^`) of `mbname`'s owner, taken
/// exclusively as Cyrus does for every create, rename and delete; `None` for shared names.
fn user_lock(config: &Config, mbname: &MbName) -> Result<Option<NameLock>> {
    match mbname.userid() {
        Some(u) => quota::name_lock(config, &format!("*U*{}", u.replace('.', "^")), true).map(Some),
        None => Ok(None),
    }
}

/// Both owners' namespace locks, in a fixed order so two renames cannot deadlock.
fn user_locks(config: &Config, a: &MbName, b: &MbName) -> Result<Vec<NameLock>> {
    let mut users: Vec<String> = [a.userid(), b.userid()].into_iter().flatten().collect();
    users.sort();
    users.dedup();
    users
        .iter()
        .map(|u| quota::name_lock(config, &format!("*U*{}", u.replace('.', "^")), true))
        .collect()
}

/// The names of `mbname`'s ancestors that CREATE must exist or make, outermost first: for a
/// personal mailbox those below the INBOX, for a shared one every prefix.
fn ancestors(mbname: &MbName, dp: &str) -> Result<Vec<InternalName>> {
    if mbname.deleted.is_some() || mbname.boxes.len() < 2 {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for k in 1..mbname.boxes.len() {
        let mut anc = mbname.clone();
        anc.boxes.truncate(k);
        out.push(anc.to_internal(dp).map_err(bad_name)?);
    }
    Ok(out)
}

/// The nearest visible ancestor of `mbname` within its namespace (Cyrus's
/// `mboxlist_findparent`: a user's INBOX has none, `user` is never one).
fn find_parent(list: &mut MailboxList, mbname: &MbName, dp: &str) -> Result<Option<MboxEntry>> {
    let mut anc = mbname.clone();
    anc.deleted = None;
    while anc.boxes.pop().is_some() {
        if anc.localpart.is_none() && anc.boxes.is_empty() {
            break;
        }
        let name = anc.to_internal(dp).map_err(bad_name)?;
        if let Some(e) = list.lookup_visible(&name)? {
            return Ok(Some(e));
        }
    }
    Ok(None)
}

/// Whether `name` has visible children (the check behind Cyrus's `NO [HASCHILDREN]`).
pub fn has_children(config: &Config, name: &InternalName) -> Result<bool> {
    let mut list = MailboxList::open(config, None)?;
    Ok(!children(&mut list, name)?.is_empty())
}

/// The visible entries below `name` (not `name` itself), parents before children.
fn children(list: &mut MailboxList, name: &InternalName) -> Result<Vec<MboxEntry>> {
    let mut v = Vec::new();
    list.foreach(Some(name), Include::default(), &mut |e| {
        if e.name != *name {
            v.push(e);
        }
        Ok(Walk::Continue)
    })?;
    Ok(v)
}

/// The special-use attributes of the personal mailbox `name` (its owner's `/specialuse`
/// annotation), for the caller's `specialuse_protect` check; `None` when there are none.
pub fn special_use(config: &Config, name: &InternalName) -> Result<Option<String>> {
    let mbname = MbName::from_internal(name, deletedprefix(config));
    let Some(owner) = mbname.userid() else {
        return Ok(None);
    };
    let mut list = MailboxList::open(config, None)?;
    let Some(uniqueid) = list.lookup_visible(name)?.and_then(|e| e.uniqueid) else {
        return Err(Error::NotFound);
    };
    drop(list);
    let target = Target::Mailbox {
        uniqueid,
        owner: Some(owner.clone()),
    };
    let mut annots = Annotations::open(config)?;
    Ok(annots
        .get(&target, "/specialuse", &Scope::Private(owner))?
        .map(|v| String::from_utf8_lossy(&v.value).into_owned()))
}

/// Creates mailbox `name` (and any missing ancestors, as Cyrus's CREATE does); fails with
/// `Exists` if a visible mailbox has the name, `NotFound` for `user.X.*` without `user.X`.
pub fn create(config: &Config, name: &InternalName, opts: &CreateOptions) -> Result<MboxEntry> {
    let dp = deletedprefix(config);
    let mbname = MbName::from_internal(name, dp);
    let _ulock = user_lock(config, &mbname)?;
    let mut list = MailboxList::open(config, None)?;
    if list.lookup_visible(name)?.is_some() {
        return Err(Error::Exists);
    }
    create_missing_ancestors(config, &mut list, &mbname, opts.partition)?;
    create_one(config, &mut list, name, &mbname, opts)
}

/// Makes the ancestors of `mbname` that do not exist, outermost first.
fn create_missing_ancestors(
    config: &Config,
    list: &mut MailboxList,
    mbname: &MbName,
    partition: Option<&str>,
) -> Result<()> {
    let dp = deletedprefix(config);
    if let (Some(inbox), false) = (mbname.inbox(), mbname.boxes.is_empty()) {
        if mbname.deleted.is_none() {
            let inbox = inbox.to_internal(dp).map_err(bad_name)?;
            if list.lookup_visible(&inbox)?.is_none() {
                return Err(Error::NotFound);
            }
        }
    }
    for anc in ancestors(mbname, dp)? {
        if list.lookup_visible(&anc)?.is_none() {
            let opts = CreateOptions {
                partition,
                ..CreateOptions::default()
            };
            create_one(config, list, &anc, &MbName::from_internal(&anc, dp), &opts)?;
        }
    }
    Ok(())
}

/// Creates one mailbox whose name is free and whose ancestors exist as needed.
fn create_one(
    config: &Config,
    list: &mut MailboxList,
    name: &InternalName,
    mbname: &MbName,
    opts: &CreateOptions,
) -> Result<MboxEntry> {
    let dp = deletedprefix(config);
    let parent = find_parent(list, mbname, dp)?;
    let owner = mbname.userid();
    if !opts.special_use.is_empty() && owner.is_none() {
        return Err(Error::Usage(
            "special-use needs a personal mailbox (it is the owner's annotation)".into(),
        ));
    }
    let partition = opts
        .partition
        .map(str::to_string)
        .or_else(|| parent.as_ref().and_then(|p| p.partition.clone()))
        .or_else(|| {
            config
                .string("defaultpartition")
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "default".to_string());
    if paths::partition_root(config, &partition, Area::Data).is_none() {
        return Err(Error::Config {
            file: config.path().to_path_buf(),
            line: 0,
            msg: format!("partition {partition} is not configured"),
        });
    }
    let acl = match parent.as_ref().and_then(|p| p.acl.clone()) {
        Some(a) => a,
        None => acl::initial_acl(
            if parent.is_none() {
                owner.as_deref()
            } else {
                None
            },
            None,
            config.string("defaultacl").unwrap_or("anyone lrs"),
            deleteright(config),
        ),
    };
    let uniqueid = match opts.uniqueid {
        Some(u) => {
            if list.lookup_by_uniqueid(u)?.is_some_and(|e| !e.is_hidden()) {
                return Err(Error::Exists);
            }
            u.to_string()
        }
        None => loop {
            let u = new_uniqueid();
            if list.lookup_by_uniqueid(&u)?.is_none() {
                break u;
            }
        },
    };
    let now = mboxlist::now();
    let now32 = u32::try_from(now).unwrap_or(u32::MAX);
    // A name that had a mailbox before (a tombstone is left) continues its UIDVALIDITY, so
    // that clients caching the old one see the change; otherwise it starts from the clock.
    let prior = list
        .lookup(name)?
        .map(|p| p.uidvalidity)
        .filter(|v| *v != 0);
    let uidvalidity = opts.uidvalidity.unwrap_or_else(|| match prior {
        Some(v) => v.wrapping_add(1),
        None => now32.wrapping_add(1),
    });
    let mut mbtype = MbType::default();
    mbtype.set(MbFlags::LEGACY_DIRS, config.switch("mailbox_legacy_dirs"));
    let special = opts.special_use.join(" ");
    // Writing the annotation is one more change to the mailbox: its modseq moves on by one.
    let modseq = if special.is_empty() { 1 } else { 2 };

    let mut entry = MboxEntry::new(name.clone());
    entry.mbtype = mbtype;
    entry.uniqueid = Some(uniqueid.clone());
    entry.partition = Some(partition);
    entry.uidvalidity = uidvalidity;
    entry.createdmodseq = 1;
    entry.foldermodseq = modseq;
    entry.acl = Some(acl.clone());

    let mut qdb = QuotaDb::open(config)?;
    let root = qdb.find_root(name.as_str())?;

    // 1. The directory and its files: header, then the index, which appears complete.
    let (meta, data) = dirs(config, &entry)?;
    if meta.join(index::FILE_NAME).exists() {
        // Only the legacy layout can find files here (its directories are named after the
        // mailbox): with no entry for the name and its owner's lock held, they are what a
        // crashed create or delete left, and would confuse the new mailbox.
        for d in [&meta, &data] {
            remove_files(d)?;
        }
    }
    for d in [&data, &meta] {
        make_dir(d)?;
    }
    let mut header = Header::new(&mbtype.to_string(), name.as_str(), &uniqueid);
    header.quotaroot = root.clone();
    header.acl = Some(acl.0.clone());
    let crc = header.write(&meta)?;
    let mut ih = IndexHeader::new_mailbox(uidvalidity, modseq, now32);
    ih.createdmodseq = 1;
    ih.header_file_crc = crc;
    ih.quota_annot_used = u32::try_from(special.len()).unwrap_or(u32::MAX);
    write_new_index(&meta, &ih)?;

    // 2. The special-use annotation and the quota root's usage.
    if let (false, Some(owner)) = (special.is_empty(), owner) {
        let target = Target::Mailbox {
            uniqueid: uniqueid.clone(),
            owner: Some(owner.clone()),
        };
        Annotations::open(config)?.set(
            &target,
            "/specialuse",
            &Scope::Private(owner),
            special.as_bytes(),
            0,
        )?;
    }
    if let Some(root) = &root {
        let mut diff = [0i64; NUM_RESOURCES];
        diff[quota::Resource::AnnotationStorage.index()] = special.len() as i64;
        diff[quota::Resource::NumFolders.index()] = 1;
        qdb.update_used(root, &diff)?;
    }

    // 3. The mailboxes.db entry, last: until it commits, the mailbox does not exist.
    list.create(&mut entry)?;
    Ok(entry)
}

/// The metadata and data directories of `entry` (the same unless a metapartition is set).
fn dirs(config: &Config, entry: &MboxEntry) -> Result<(PathBuf, PathBuf)> {
    let get = |area| {
        paths::mailbox_dir(config, entry, area).ok_or_else(|| Error::Config {
            file: config.path().to_path_buf(),
            line: 0,
            msg: format!("{}: no directory for its partition", entry.name),
        })
    };
    Ok((get(Area::Meta)?, get(Area::Data)?))
}

/// Makes `dir` and its missing parents, each made durable in its own parent.
fn make_dir(dir: &Path) -> Result<()> {
    let mut missing = Vec::new();
    let mut d = dir;
    while !d.exists() {
        missing.push(d.to_path_buf());
        match d.parent() {
            Some(p) => d = p,
            None => break,
        }
    }
    failpoint::hit();
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    for m in missing.iter().rev() {
        failpoint::hit();
        sync_parent_dir(m).map_err(io(m))?;
    }
    Ok(())
}

/// Writes a complete cyrus.index through `cyrus.index.NEW`, fsync and rename.
fn write_new_index(dir: &Path, ih: &IndexHeader) -> Result<()> {
    let path = dir.join(index::FILE_NAME);
    let tmp = dir.join("cyrus.index.NEW");
    failpoint::hit();
    let mut f = File::create(&tmp).map_err(io(&tmp))?;
    failpoint::hit();
    f.write_all(&ih.encode()).map_err(io(&tmp))?;
    failpoint::hit();
    f.sync_all().map_err(io(&tmp))?;
    drop(f);
    failpoint::hit();
    std::fs::rename(&tmp, &path).map_err(io(&path))?;
    failpoint::hit();
    sync_parent_dir(&path).map_err(io(dir))
}

/// An open cyrus.index held under its exclusive lock.
struct LockedIndex {
    file: File,
    path: PathBuf,
    header: IndexHeader,
}

impl LockedIndex {
    /// Opens and locks the index in `dir`; `None` when there is no index to lock.
    fn open(dir: &Path) -> Result<Option<LockedIndex>> {
        let path = dir.join(index::FILE_NAME);
        let file = match OpenOptions::new().read(true).write(true).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, e)),
        };
        flock::lock(&file, LockKind::Exclusive).map_err(io(&path))?;
        let mut buf = vec![0u8; index::HEADER_SIZE];
        let n = file.read_at(&mut buf, 0).map_err(io(&path))?;
        buf.truncate(n);
        let header = IndexHeader::decode(&buf, &path)?;
        Ok(Some(LockedIndex { file, path, header }))
    }

    /// Writes the (changed) header back and makes it durable; only version 17 headers,
    /// the only ones this layer encodes, are rewritten.
    fn commit(&self) -> Result<()> {
        if self.header.minor_version != index::MINOR_VERSION {
            return Ok(());
        }
        failpoint::hit();
        self.file
            .write_all_at(&self.header.encode(), 0)
            .map_err(io(&self.path))?;
        failpoint::hit();
        self.file.sync_all().map_err(io(&self.path))
    }
}

/// Moves `usage` from quota root `from` to `to` (either may be absent).
fn move_usage(
    config: &Config,
    from: Option<&str>,
    to: Option<&str>,
    usage: &[i64; NUM_RESOURCES],
) -> Result<()> {
    if from == to {
        return Ok(());
    }
    let mut qdb = QuotaDb::open(config)?;
    if let Some(r) = from {
        qdb.update_used(r, &usage.map(|u| -u))?;
    }
    if let Some(r) = to {
        qdb.update_used(r, usage)?;
    }
    Ok(())
}

/// Renames `from` to `to` with its sub-mailboxes, as Cyrus's RENAME does; returns the new
/// entry of `from`. A user's INBOX stays, its messages move to a new mailbox `to`.
pub fn rename(config: &Config, from: &InternalName, to: &InternalName) -> Result<MboxEntry> {
    let dp = deletedprefix(config);
    let from_mb = MbName::from_internal(from, dp);
    let to_mb = MbName::from_internal(to, dp);
    if from == to {
        return Err(Error::Exists);
    }
    let from_inbox =
        from_mb.localpart.is_some() && from_mb.boxes.is_empty() && from_mb.deleted.is_none();
    if to_mb.localpart.is_some() && to_mb.boxes.is_empty() && to_mb.deleted.is_none() {
        return Err(Error::NotImplemented(
            "renaming a mailbox into a user's INBOX (moving a whole user)",
        ));
    }
    if !from_inbox && to.as_str().starts_with(&format!("{}.", from.as_str())) {
        return Err(Error::Usage("cannot rename a mailbox into itself".into()));
    }
    let _locks = user_locks(config, &from_mb, &to_mb)?;
    let mut list = MailboxList::open(config, None)?;
    let Some(entry) = list.lookup_visible(from)? else {
        return Err(Error::NotFound);
    };
    if list.lookup_visible(to)?.is_some() {
        return Err(Error::Exists);
    }
    if from_inbox {
        return rename_inbox(config, &mut list, from, to, &to_mb);
    }
    let kids = children(&mut list, from)?;
    // Every new name must be free before anything moves.
    let mut moves = vec![(entry, to.clone())];
    for k in kids {
        let Some(tail) = k.name.as_str().strip_prefix(from.as_str()) else {
            continue;
        };
        let new = InternalName::new(format!("{}{tail}", to.as_str())).map_err(bad_name)?;
        if list.lookup_visible(&new)?.is_some() {
            return Err(Error::Exists);
        }
        moves.push((k, new));
    }
    create_missing_ancestors(config, &mut list, &to_mb, None)?;
    let t = mboxlist::now();
    // In the legacy layout a parent's directory holds its children's: it can only go once
    // they have moved out, so the old directories are swept again, deepest first, at the end.
    let mut old_dirs = Vec::new();
    for (e, _) in &moves {
        if e.mbtype.has(MbFlags::LEGACY_DIRS) {
            let (m, d) = dirs(config, e)?;
            old_dirs.extend([m, d]);
        }
    }
    let mut first = None;
    for (e, new) in moves {
        let moved = rename_one(config, &mut list, e, &new, t)?;
        first.get_or_insert(moved);
    }
    for d in old_dirs.iter().rev() {
        let _ = std::fs::remove_dir(d);
    }
    first.ok_or(Error::NotFound)
}

/// RENAME of a user's INBOX (RFC 3501): a new mailbox `to` receives the messages, which are
/// expunged from the INBOX; the INBOX and its sub-mailboxes stay where they are. Each message
/// is appended to the new mailbox (flags, dates and GUID kept, UIDs from 1) before it is
/// expunged from the INBOX, so a crash can duplicate a message but never lose one.
fn rename_inbox(
    config: &Config,
    list: &mut MailboxList,
    from: &InternalName,
    to: &InternalName,
    to_mb: &MbName,
) -> Result<MboxEntry> {
    let inbox = list.lookup_visible(from)?.ok_or(Error::NotFound)?;
    create_missing_ancestors(config, list, to_mb, None)?;
    let new = create_one(config, list, to, to_mb, &CreateOptions::default())?;
    let lock = |e: &MboxEntry| quota::name_lock(config, e.uniqueid.as_deref().unwrap_or(""), true);
    let (_l1, _l2) = (lock(&inbox)?, lock(&new)?);
    let (src_dir, _) = dirs(config, &inbox)?;
    let (dst_dir, _) = dirs(config, &new)?;
    let mut src = Mailbox::open(&src_dir, LockMode::Write)?;
    let mut dst = Mailbox::open(&dst_dir, LockMode::Write)?;
    let now = u32::try_from(mboxlist::now()).unwrap_or(u32::MAX);
    let live: Vec<IndexRecord> = src
        .records()
        .iter()
        .filter(|r| !r.is_expunged())
        .cloned()
        .collect();
    let mut moved = [0i64; NUM_RESOURCES];
    for r in live {
        let path = src.message_path(r.uid);
        let message = std::fs::read(&path).map_err(io(&path))?;
        let cache = src.cache_record(&r)?;
        // User flags are numbered per mailbox: carry them over by name.
        let mut user_flags = [0u32; 4];
        for n in 0..header::MAX_USER_FLAGS {
            let set = r
                .user_flags
                .get(n / 32)
                .is_some_and(|w| w & (1 << (n % 32)) != 0);
            let name = src.header().user_flags.get(n).cloned().flatten();
            if let (true, Some(name)) = (set, name) {
                if let Some(m) = dst.user_flag(&name, true)? {
                    if let Some(w) = user_flags.get_mut(m / 32) {
                        *w |= 1 << (m % 32);
                    }
                }
            }
        }
        dst.append(&Append {
            message: &message,
            guid: r.guid,
            internaldate: r.internaldate,
            sentdate: r.sentdate,
            gmtime: r.gmtime,
            header_size: r.header_size,
            system_flags: r.system_flags,
            user_flags,
            cache: &cache,
            now,
        })?;
        src.expunge(r.uid, now)?;
        moved[quota::Resource::Storage.index()] += i64::from(r.size);
        moved[quota::Resource::Message.index()] += 1;
    }
    let roots = (
        src.header().quotaroot.clone(),
        dst.header().quotaroot.clone(),
    );
    drop((src, dst));
    move_usage(config, roots.0.as_deref(), roots.1.as_deref(), &moved)?;
    list.lookup_visible(to)?.ok_or(Error::NotFound)
}

/// Renames one mailbox: new header (and, in the legacy layout, new directory) first, then
/// the tombstone and the new entry in one mailboxes.db transaction, then quota and cleanup.
fn rename_one(
    config: &Config,
    list: &mut MailboxList,
    entry: MboxEntry,
    to: &InternalName,
    t: i64,
) -> Result<MboxEntry> {
    let uniqueid = entry
        .uniqueid
        .clone()
        .ok_or_else(|| Error::Usage(format!("{}: no uniqueid", entry.name)))?;
    let _mlock = quota::name_lock(config, &uniqueid, true)?;
    let (old_meta, old_data) = dirs(config, &entry)?;
    let mut moved = entry.clone();
    moved.name = to.clone();
    moved.mtime = t;
    let (new_meta, new_data) = dirs(config, &moved)?;
    let relocate = new_meta != old_meta || new_data != old_data;

    let mut idx = LockedIndex::open(&old_meta)?.ok_or(Error::NotFound)?;
    let (old_header, _) = Header::read(&old_meta)?;
    let old_root = old_header.quotaroot.clone();
    let new_root = QuotaDb::open(config)?.find_root(to.as_str())?;
    let usage = quota::usage_of(&idx.header);
    let modseq = idx.header.effective_highestmodseq() + 1;

    // 1. Files: in the legacy layout every file gets a second name in the new directory.
    if relocate {
        for (old, new) in [(&old_data, &new_data), (&old_meta, &new_meta)] {
            link_files(old, new)?;
        }
    }
    let mut header = old_header;
    header.name = to.as_str().to_string();
    header.quotaroot = new_root.clone();
    let crc = header.write(&new_meta)?;
    if relocate {
        // The index is written through the new name; the lock on the old fd covers the
        // same inode.
        idx.path = new_meta.join(index::FILE_NAME);
    }
    idx.header.highestmodseq = modseq;
    idx.header.header_file_crc = crc;
    idx.commit()?;

    // 2. mailboxes.db: the tombstone at the old name and the new entry, together.
    let mut tomb = MboxEntry::new(entry.name.clone());
    tomb.mbtype.set(MbFlags::DELETED, true);
    tomb.uniqueid = Some(uniqueid.clone());
    tomb.uidvalidity = entry.uidvalidity;
    tomb.createdmodseq = entry.createdmodseq;
    tomb.foldermodseq = modseq;
    tomb.mtime = t;
    let mut history = list
        .lookup_by_uniqueid(&uniqueid)?
        .map(|i| i.name_history)
        .unwrap_or_default();
    history.insert(
        0,
        FormerName {
            name: entry.name.clone(),
            mtime: t,
            uidvalidity: tomb.uidvalidity,
            createdmodseq: tomb.createdmodseq,
            foldermodseq: modseq,
            mbtype: tomb.mbtype,
            partition: None,
        },
    );
    moved.foldermodseq = modseq;
    moved.name_history = history;
    list.store_all(&[tomb, moved.clone()])?;
    drop(idx);

    // 3. Quota usage follows the mailbox; the old directory's names go.
    move_usage(config, old_root.as_deref(), new_root.as_deref(), &usage)?;
    if relocate {
        for d in [&old_meta, &old_data] {
            remove_files(d)?;
        }
    }
    Ok(moved)
}

/// Hard-links every regular file of `from` into `to` (made if missing), replacing leftovers
/// of an earlier attempt, and makes the new names durable.
fn link_files(from: &Path, to: &Path) -> Result<()> {
    make_dir(to)?;
    for ent in std::fs::read_dir(from).map_err(io(from))? {
        let ent = ent.map_err(io(from))?;
        if !ent.file_type().map_err(io(from))?.is_file() {
            continue;
        }
        let dst = to.join(ent.file_name());
        match std::fs::remove_file(&dst) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::io(&dst, e)),
            _ => {}
        }
        failpoint::hit();
        std::fs::hard_link(ent.path(), &dst).map_err(io(&dst))?;
    }
    File::open(to).and_then(|d| d.sync_all()).map_err(io(to))
}

/// Removes the regular files of mailbox directory `dir`, then the directory if that left it
/// empty (in the legacy layout it may still hold sub-mailboxes' directories).
fn remove_files(dir: &Path) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    for ent in entries {
        let ent = ent.map_err(io(dir))?;
        if ent.file_type().map_err(io(dir))?.is_file() {
            let p = ent.path();
            failpoint::hit();
            match std::fs::remove_file(&p) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::io(&p, e)),
                _ => {}
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
    sync_parent_dir(dir).map_err(io(dir))
}

/// The per-user files a deleted user loses (`<suffix>.db` in the uuid layout).
const USER_FILES: [&str; 7] = [
    "seen",
    "sub",
    "conversations",
    "counters",
    "dav",
    "mboxkey",
    "xapianactive",
];

/// Deletes mailbox `name` as `delete_mode` says; a user's INBOX takes all of the user's
/// mailboxes and per-user files with it. Children of other mailboxes are left alone (Cyrus's
/// IMAP DELETE refuses those; see [`has_children`]).
pub fn delete(config: &Config, name: &InternalName) -> Result<()> {
    let dp = deletedprefix(config).to_string();
    let mbname = MbName::from_internal(name, &dp);
    let _ulock = user_lock(config, &mbname)?;
    let mut list = MailboxList::open(config, None)?;
    let Some(entry) = list.lookup_visible(name)? else {
        return Err(Error::NotFound);
    };
    let delayed = config.string("delete_mode").unwrap_or("delayed") == "delayed";
    let t = mboxlist::now();
    let is_inbox =
        mbname.localpart.is_some() && mbname.boxes.is_empty() && mbname.deleted.is_none();
    if !is_inbox {
        let kids = !children(&mut list, name)?.is_empty();
        return delete_one(config, &mut list, entry, delayed, kids, t, false);
    }
    // A whole user: per-user files first (their paths follow the INBOX entry), then the
    // sub-mailboxes, deepest first, then the INBOX.
    let userid = mbname
        .userid()
        .ok_or_else(|| Error::Usage("no userid".into()))?;
    for suffix in USER_FILES {
        let p = crate::seen::user_db_path_in(config, &mut list, &userid, suffix)?;
        match std::fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::io(&p, e)),
            _ => {}
        }
        if let Some(dir) = p.parent() {
            // The uuid layout gives each user a directory of their own.
            if entry.mbtype.has(MbFlags::LEGACY_DIRS) {
                continue;
            }
            let _ = std::fs::remove_dir(dir);
        }
    }
    let mut kids = children(&mut list, name)?;
    kids.reverse();
    for k in kids {
        delete_one(config, &mut list, k, delayed, false, t, false)?;
    }
    delete_one(config, &mut list, entry, delayed, false, t, true)?;
    delete_quota_roots(config, name.as_str())
}

/// Removes the quota roots at or below `name` (a deleted user's), under `$QUOTACHANGE`.
fn delete_quota_roots(config: &Config, name: &str) -> Result<()> {
    let _q = quota::change_lock(config)?;
    let mut qdb = QuotaDb::open(config)?;
    for r in qdb.roots(name)? {
        if quota::is_under(&r, name) {
            qdb.delete(&r)?;
        }
    }
    qdb.commit()
}

/// Deletes one mailbox: a rename into `deletedprefix` when `delayed`, else for real.
fn delete_one(
    config: &Config,
    list: &mut MailboxList,
    entry: MboxEntry,
    delayed: bool,
    has_kids: bool,
    t: i64,
    whole_user: bool,
) -> Result<()> {
    let dp = deletedprefix(config);
    let mut mbname = MbName::from_internal(&entry.name, dp);
    if delayed && mbname.deleted.is_none() {
        mbname.deleted = Some(u64::try_from(t).unwrap_or(0));
        let to = mbname.to_internal(dp).map_err(bad_name)?;
        if list.lookup_visible(&to)?.is_some() {
            return Err(Error::Exists);
        }
        rename_one(config, list, entry, &to, t)?;
        return Ok(());
    }
    let uniqueid = entry.uniqueid.clone();
    let _mlock = match &uniqueid {
        Some(u) => Some(quota::name_lock(config, u, true)?),
        None => None,
    };
    let (meta, data) = dirs(config, &entry)?;
    let mut idx = LockedIndex::open(&meta)?;

    // 1. mailboxes.db first: once it commits, the mailbox is gone for everyone.
    if mbname.deleted.is_some() {
        list.delete(&entry.name)?;
    } else {
        let mut tomb = MboxEntry::new(entry.name.clone());
        let kind = if has_kids {
            MbFlags::INTERMEDIATE
        } else {
            MbFlags::DELETED
        };
        tomb.mbtype.set(kind, true);
        tomb.uniqueid = uniqueid.clone();
        tomb.uidvalidity = entry.uidvalidity;
        tomb.createdmodseq = entry.createdmodseq;
        tomb.foldermodseq = idx
            .as_ref()
            .map_or(entry.foldermodseq, |i| i.header.effective_highestmodseq())
            + 1;
        // Debian's 3.6 writes an empty ACL on a deleted folder, none on a deleted user.
        tomb.acl = (!whole_user).then(Acl::default);
        list.update(&mut tomb)?;
    }

    // 2. The index says deleted (a process that has it open stops using it), the quota
    // root forgets its usage, the annotations go.
    let mut usage = [0i64; NUM_RESOURCES];
    if let Some(i) = idx.as_mut() {
        usage = quota::usage_of(&i.header);
        i.header.options.0 |= Options::MAILBOX_DELETED;
        i.commit()?;
    }
    let root = match Header::read(&meta) {
        Ok((h, _)) => h.quotaroot,
        Err(_) => QuotaDb::open(config)?.find_root(entry.name.as_str())?,
    };
    if let Some(r) = root {
        QuotaDb::open(config)?.update_used(&r, &usage.map(|u| -u))?;
    }
    if let Some(u) = &uniqueid {
        Annotations::open(config)?.delete_mailbox(u)?;
    }

    // 3. The files.
    drop(idx);
    for d in [&meta, &data] {
        remove_files(d)?;
    }
    Ok(())
}
