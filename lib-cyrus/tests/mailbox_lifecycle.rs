//! Mailboxes created, renamed and deleted by `cyrus::mailbox::lifecycle`, then checked with
//! Debian's Cyrus 3.6 tools: `ctl_mboxlist -d` lists the entries, `mbexamine` opens the
//! mailboxes, `reconstruct -n` finds nothing to repair, `mbpath` finds our directories and
//! `quota -f -n -q` agrees with the usage we counted. The other way round, mailboxes Cyrus
//! made (the reference spool) are renamed and deleted by ours and checked by theirs. Tests
//! that need Debian's tools skip (with a note) where they are not installed.

use cyrus::annotations::{Annotations, Scope, Target};
use cyrus::config::Config;
use cyrus::mailbox::lifecycle::{self, CreateOptions};
use cyrus::mailbox::{LockMode, Mailbox};
use cyrus::mboxlist::{paths, Include, MailboxList, MbFlags, MboxEntry};
use cyrus::mboxname::InternalName;
use cyrus::quota::{Quota, QuotaDb};
use cyrus::Error;
use std::path::{Path, PathBuf};
use std::process::Command;

const DEBIAN_BIN: &str = "/usr/lib/cyrus/bin";

/// A scratch Cyrus instance: `conf/` (configdirectory), `spool/` (partition-default) and
/// an imapd.conf; removed on drop.
struct Instance {
    dir: PathBuf,
    conf: PathBuf,
}

impl Instance {
    fn base(tag: &str) -> Instance {
        let dir = std::env::temp_dir().join(format!("cyrus-life-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let conf = dir.join("imapd.conf");
        Instance { dir, conf }
    }

    /// An empty instance with Debian's namespace defaults plus `extra` lines.
    fn fresh(tag: &str, extra: &str) -> Instance {
        let i = Instance::base(tag);
        for d in ["conf", "spool"] {
            std::fs::create_dir_all(i.dir.join(d)).unwrap();
        }
        let d = i.dir.display();
        std::fs::write(
            &i.conf,
            format!(
                "configdirectory: {d}/conf\ndefaultpartition: default\n\
                 partition-default: {d}/spool\naltnamespace: no\nunixhierarchysep: no\n\
                 hashimapspool: true\n{extra}"
            ),
        )
        .unwrap();
        i
    }

    /// A copy of the reference spool Debian's Cyrus 3.6 wrote, with its imapd.conf.
    fn reference(tag: &str, extra: &str) -> Option<Instance> {
        let r = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference/cyrus-3.6");
        if !r.join("imapd.conf").exists() {
            eprintln!("skipped: no reference spool at {}", r.display());
            return None;
        }
        let i = Instance::base(tag);
        for (from, to) in [
            ("spool/config", "conf"),
            ("spool/partition-default", "spool"),
        ] {
            let st = Command::new("cp")
                .arg("-r")
                .arg(r.join(from))
                .arg(i.dir.join(to))
                .status()
                .unwrap();
            assert!(st.success());
        }
        let _ = Command::new("chmod")
            .args(["-R", "u+w"])
            .arg(&i.dir)
            .status();
        let text = std::fs::read_to_string(r.join("imapd.conf")).unwrap();
        let text = text.replace("@INSTANCE@", &i.dir.to_string_lossy()) + extra;
        std::fs::write(&i.conf, text).unwrap();
        Some(i)
    }

    fn config(&self) -> Config {
        Config::load(&self.conf, None).unwrap()
    }

    /// Debian's `tool -C imapd.conf args...` as the cyrus user (which it becomes when run as
    /// root); `None` when Debian's Cyrus is not installed.
    fn debian(&self, tool: &str, args: &[&str]) -> Option<(bool, String, String)> {
        let bin = Path::new(DEBIAN_BIN).join(tool);
        if !bin.exists() {
            eprintln!("skipped: {} is not installed", bin.display());
            return None;
        }
        let _ = Command::new("chown")
            .args(["-R", "cyrus"])
            .arg(&self.dir)
            .status();
        let _ = Command::new("chmod").arg("0755").arg(&self.dir).status();
        let out = Command::new(bin)
            .arg("-C")
            .arg(&self.conf)
            .args(args)
            .output()
            .unwrap();
        Some((
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))
    }

    /// `ctl_mboxlist -d`, one line per mailbox.
    fn dump(&self) -> Option<String> {
        let (ok, out, err) = self.debian("ctl_mboxlist", &["-d"])?;
        assert!(ok, "ctl_mboxlist -d: {err}");
        Some(out)
    }

    /// `mbexamine name` succeeds and shows `uniqueid` and `dir`.
    fn examine_ok(&self, name: &str, uniqueid: &str, dir: &Path) {
        let Some((ok, out, err)) = self.debian("mbexamine", &[name]) else {
            return;
        };
        assert!(ok, "mbexamine {name}: {out}{err}");
        assert!(out.contains(&format!("Unique ID: {uniqueid}")), "{out}");
        assert!(
            out.contains(&format!("Path to mailbox: {}", dir.display())),
            "{out}"
        );
    }

    /// `reconstruct -n [-r] name` reports the mailboxes and nothing to repair.
    fn reconstruct_clean(&self, name: &str, recursive: bool, want: &[&str]) {
        let args: Vec<&str> = if recursive {
            vec!["-n", "-r", name]
        } else {
            vec!["-n", name]
        };
        let Some((ok, out, err)) = self.debian("reconstruct", &args) else {
            return;
        };
        assert!(ok && err.is_empty(), "reconstruct -n {name}: {out}{err}");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines, want, "reconstruct -n {name} found something to fix");
    }

    /// `mbpath name` prints `dir`.
    fn mbpath_is(&self, name: &str, dir: &Path) {
        let Some((ok, out, err)) = self.debian("mbpath", &[name]) else {
            return;
        };
        assert!(ok, "mbpath {name}: {err}");
        assert_eq!(out.trim_end(), dir.to_string_lossy());
    }

    /// `quota -f -n -q` finds every root's usage right (it prints only what it would fix).
    fn quota_agrees(&self) {
        let Some((ok, out, err)) = self.debian("quota", &["-f", "-n", "-q"]) else {
            return;
        };
        assert!(ok, "quota -f: {err}");
        assert_eq!(out, "", "quota -f would fix usage");
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn int(s: &str) -> InternalName {
    InternalName::new(s).unwrap()
}

fn lookup(config: &Config, name: &str) -> Option<MboxEntry> {
    MailboxList::open(config, None)
        .unwrap()
        .lookup(&int(name))
        .unwrap()
}

fn dir_of(config: &Config, e: &MboxEntry) -> PathBuf {
    paths::mailbox_dir(config, e, paths::Area::Data).unwrap()
}

/// The `ctl_mboxlist -d` line of `name`.
fn dump_line<'a>(dump: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("\"{name}\": {{");
    dump.lines().find(|l| l.starts_with(&key))
}

fn set_quota(config: &Config, root: &str, used: [i64; 4]) {
    let mut q = Quota {
        used,
        ..Quota::default()
    };
    q.limits[0] = Some(1000);
    let mut db = QuotaDb::open(config).unwrap();
    db.read_locked(root).unwrap();
    db.write(root, &mut q).unwrap();
    db.commit().unwrap();
}

fn quota_used(config: &Config, root: &str) -> [i64; 4] {
    QuotaDb::open(config)
        .unwrap()
        .read(root)
        .unwrap()
        .unwrap()
        .used
}

#[test]
fn uniqueids_look_like_debians() {
    let mut seen = std::collections::HashSet::new();
    for _ in 0..200 {
        let u = lifecycle::new_uniqueid();
        assert_eq!(u.len(), 24);
        assert!(u
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()));
        assert!(seen.insert(u));
    }
}

#[test]
fn created_mailboxes_are_what_debian_makes() {
    let i = Instance::fresh("create", "");
    let c = i.config();
    let none = CreateOptions::default();
    let inbox = lifecycle::create(&c, &int("user.alice"), &none).unwrap();
    assert_eq!(
        inbox.acl.as_ref().unwrap().get("alice"),
        Some("lrswipkxtecdan")
    );
    assert_eq!(inbox.partition.as_deref(), Some("default"));
    assert_eq!((inbox.createdmodseq, inbox.foldermodseq), (1, 1));
    // Debian's V is M + 1 (both from one clock reading; ours may straddle a second).
    assert!((0..=1).contains(&(inbox.uidvalidity as i64 - inbox.mtime)));
    set_quota(&c, "user.alice", [0, 0, 0, 1]);

    let sent = lifecycle::create(
        &c,
        &int("user.alice.Sent"),
        &CreateOptions {
            special_use: &["\\Sent".to_string()],
            ..CreateOptions::default()
        },
    )
    .unwrap();
    assert_eq!(sent.foldermodseq, 2);
    // `a` is made on the way to `a.b`, as Debian's CREATE does.
    let ab = lifecycle::create(&c, &int("user.alice.a.b"), &none).unwrap();
    let a = lookup(&c, "user.alice.a").unwrap();
    assert_eq!(a.mbtype.to_string(), "e");
    let xy = lifecycle::create(&c, &int("shared.x.y"), &none).unwrap();
    assert_eq!(xy.acl.as_ref().unwrap().get("anyone"), Some("lrs"));
    assert!(lookup(&c, "shared").is_some() && lookup(&c, "shared.x").is_some());

    assert!(matches!(
        lifecycle::create(&c, &int("user.alice.Sent"), &none),
        Err(Error::Exists)
    ));
    assert!(matches!(
        lifecycle::create(&c, &int("user.nobody.x"), &none),
        Err(Error::NotFound)
    ));

    // Our own reader opens it, and the index is Cyrus's new-mailbox index.
    let dir = dir_of(&c, &sent);
    let mb = Mailbox::open(&dir, LockMode::Read).unwrap();
    assert_eq!(mb.header().quotaroot.as_deref(), Some("user.alice"));
    assert_eq!(mb.index_header().highestmodseq, 2);
    assert_eq!(mb.index_header().quota_annot_used, 5);
    assert!(!dir.join("cyrus.cache").exists());
    drop(mb);
    let owner = Target::Mailbox {
        uniqueid: sent.uniqueid.clone().unwrap(),
        owner: Some("alice".into()),
    };
    let su = Annotations::open(&c)
        .unwrap()
        .get(&owner, "/specialuse", &Scope::Private("alice".into()))
        .unwrap()
        .unwrap();
    assert_eq!(su.value, b"\\Sent");
    assert_eq!(
        lifecycle::special_use(&c, &int("user.alice.Sent")).unwrap(),
        Some("\\Sent".into())
    );
    // INBOX, Sent, a, a.b
    assert_eq!(quota_used(&c, "user.alice"), [0, 0, 5, 4]);

    let Some(dump) = i.dump() else { return };
    for e in [&inbox, &sent, &a, &ab, &xy] {
        let line = dump_line(&dump, e.name.as_str()).unwrap_or_else(|| panic!("{dump}"));
        assert!(
            line.contains(&format!(
                "\"uniqueid\": \"{}\"",
                e.uniqueid.as_deref().unwrap()
            )),
            "{line}"
        );
        assert!(line.contains("\"partition\": \"default\""), "{line}");
        i.examine_ok(
            e.name.as_str(),
            e.uniqueid.as_deref().unwrap(),
            &dir_of(&c, e),
        );
        i.mbpath_is(e.name.as_str(), &dir_of(&c, e));
    }
    assert!(dump_line(&dump, "shared")
        .unwrap()
        .contains("\"acl\": {\"anyone\": \"lrs\"}"));
    // Byte for byte what Debian's CREATE INBOX.Sent (USE (\Sent)) leaves behind.
    let id = sent.uniqueid.as_deref().unwrap();
    let db = i.dir.join("conf/mailboxes.db");
    let (ok, show, err) = i
        .debian("cyr_dbtool", &[db.to_str().unwrap(), "twoskip", "show"])
        .unwrap();
    assert!(ok, "{err}");
    let want = format!(
        "Nuser\x1falice\x1fSent\t%(T e I {id} P default V {v} C 1 F 2 M {m} \
         A %(alice lrswipkxtecdan))",
        v = sent.uidvalidity,
        m = sent.mtime
    );
    assert!(show.lines().any(|l| l == want), "{show}");
    let adb = i.dir.join("conf/annotations.db");
    let (ok, show, err) = i
        .debian("cyr_dbtool", &[adb.to_str().unwrap(), "twoskip", "show"])
        .unwrap();
    assert!(ok, "{err}");
    let mut want =
        format!("{id}\0/specialuse\0[.OwNeR.]\0\t\0\0\0\x05\0\0\0\0\\Sent\0text/plain\0");
    want.push_str(&"\0".repeat(17));
    assert_eq!(show, want + "\n");
    let header = std::fs::read(dir_of(&c, &sent).join("cyrus.header")).unwrap();
    assert!(header.ends_with(
        format!("%(T e N user.alice.Sent I {id} Q user.alice A %(alice lrswipkxtecdan))\n")
            .as_bytes()
    ));
    i.reconstruct_clean(
        "user.alice",
        true,
        &[
            "user.alice",
            "user.alice.Sent",
            "user.alice.a",
            "user.alice.a.b",
        ],
    );
    i.reconstruct_clean("shared", true, &["shared", "shared.x", "shared.x.y"]);
    i.quota_agrees();
}

#[test]
fn rename_moves_entries_not_files() {
    let Some(i) = Instance::reference("rename", "") else {
        return;
    };
    let c = i.config();
    let before = quota_used(&c, "user.alice");
    let archive = lookup(&c, "user.alice.Archive").unwrap();
    let y2024 = lookup(&c, "user.alice.Archive.2024").unwrap();
    let hms = Mailbox::open(&dir_of(&c, &archive), LockMode::Read)
        .unwrap()
        .index_header()
        .highestmodseq;

    let moved = lifecycle::rename(&c, &int("user.alice.Archive"), &int("user.alice.Old")).unwrap();
    assert_eq!(moved.uniqueid, archive.uniqueid);
    assert_eq!(dir_of(&c, &moved), dir_of(&c, &archive));
    let kid = lookup(&c, "user.alice.Old.2024").unwrap();
    assert_eq!(kid.uniqueid, y2024.uniqueid);
    // The old names stay as tombstones, pushed onto the history too.
    let tomb = lookup(&c, "user.alice.Archive").unwrap();
    assert_eq!(tomb.mbtype.to_string(), "ed");
    assert!(tomb.acl.is_none() && tomb.partition.is_none());
    let hist = MailboxList::open(&c, None)
        .unwrap()
        .lookup_by_uniqueid(archive.uniqueid.as_deref().unwrap())
        .unwrap()
        .unwrap()
        .name_history;
    assert_eq!(hist[0].name, int("user.alice.Archive"));
    assert_eq!(hist[0].mbtype.to_string(), "ed");
    // The rename is one more change to the mailbox: foldermodseq = highestmodseq + 1.
    assert_eq!(moved.foldermodseq, hms + 1);
    let mb = Mailbox::open(&dir_of(&c, &moved), LockMode::Read).unwrap();
    assert_eq!(mb.index_header().highestmodseq, hms + 1);
    drop(mb);
    assert_eq!(quota_used(&c, "user.alice"), before);

    // shared.team has no quota root; under user.alice its usage joins alice's.
    let team = lookup(&c, "shared.team").unwrap();
    let t = lifecycle::rename(&c, &int("shared.team"), &int("user.alice.Team")).unwrap();
    let mb = Mailbox::open(&dir_of(&c, &t), LockMode::Read).unwrap();
    assert_eq!(mb.header().quotaroot.as_deref(), Some("user.alice"));
    assert_eq!(mb.header().name, "user.alice.Team");
    let added = mb.index_header().quota_mailbox_used as i64;
    drop(mb);
    let after = quota_used(&c, "user.alice");
    assert_eq!(after[0], before[0] + added);
    assert_eq!(after[3], before[3] + 1);

    assert!(matches!(
        lifecycle::rename(&c, &int("user.alice.Old"), &int("user.alice.Sent")),
        Err(Error::Exists)
    ));
    assert!(matches!(
        lifecycle::rename(&c, &int("user.alice.Old"), &int("user.alice.Old.x")),
        Err(Error::Usage(_))
    ));
    assert!(matches!(
        lifecycle::rename(&c, &int("user.alice.Old"), &int("user.carol")),
        Err(Error::NotImplemented(_))
    ));

    let Some(dump) = i.dump() else { return };
    let line = dump_line(&dump, "user.alice.Old").unwrap();
    assert!(line.contains("\"foldermodseq\": \"7\""), "{line}");
    // The I record, byte for byte as Debian's RENAME leaves it: the tombstone in the history.
    let db = i.dir.join("conf/mailboxes.db");
    let (ok, show, err) = i
        .debian("cyr_dbtool", &[db.to_str().unwrap(), "twoskip", "show"])
        .unwrap();
    assert!(ok, "{err}");
    let irec = format!("I{}\t", archive.uniqueid.as_deref().unwrap());
    let irec = show.lines().find(|l| l.starts_with(&irec)).unwrap();
    let want = format!(
        "%(T e N user\x1falice\x1fOld P default V 1795318723 C 1 F 7 M {t} \
         A %(alice lrswipkxtecdan bob lrs) H (%(N user\x1falice\x1fArchive M {t} \
         V 1795318723 C 1 F 7 T ed)))",
        t = moved.mtime
    );
    assert_eq!(irec.split_once('\t').unwrap().1, want);
    let nrec = show
        .lines()
        .find(|l| l.starts_with("Nuser\x1falice\x1fArchive\t"))
        .unwrap();
    assert_eq!(
        nrec,
        format!(
            "Nuser\x1falice\x1fArchive\t%(T ed I {} V 1795318723 C 1 F 7 M {})",
            archive.uniqueid.as_deref().unwrap(),
            moved.mtime
        )
    );
    i.examine_ok(
        "user.alice.Team",
        team.uniqueid.as_deref().unwrap(),
        &dir_of(&c, &team),
    );
    i.examine_ok(
        "user.alice.Old.2024",
        y2024.uniqueid.as_deref().unwrap(),
        &dir_of(&c, &y2024),
    );
    i.mbpath_is("user.alice.Old", &dir_of(&c, &archive));
    i.reconstruct_clean(
        "user.alice",
        true,
        &[
            "user.alice",
            "user.alice.#sieve",
            "user.alice.Old",
            "user.alice.Old.2024",
            "user.alice.Sent",
            "user.alice.Team",
        ],
    );
    i.quota_agrees();
}

#[test]
fn delayed_delete_renames_into_deleted() {
    let Some(i) = Instance::reference("delayed", "") else {
        return;
    };
    let c = i.config();
    let e = lookup(&c, "user.alice.Archive.2024").unwrap();
    let annots_before = Annotations::open(&c).unwrap().list_all().unwrap().len();
    lifecycle::delete(&c, &int("user.alice.Archive.2024")).unwrap();
    let tomb = lookup(&c, "user.alice.Archive.2024").unwrap();
    assert!(tomb.mbtype.has(MbFlags::DELETED));
    let mut list = MailboxList::open(&c, None).unwrap();
    let deleted: Vec<MboxEntry> = list
        .all(Include::default())
        .unwrap()
        .into_iter()
        .filter(|x| {
            x.name
                .as_str()
                .starts_with("DELETED.user.alice.Archive.2024.")
        })
        .collect();
    drop(list);
    assert_eq!(deleted.len(), 1);
    let d = &deleted[0];
    assert_eq!(d.uniqueid, e.uniqueid);
    let hex = d.name.as_str().rsplit('.').next().unwrap();
    assert_eq!(i64::from_str_radix(hex, 16).unwrap(), d.mtime);
    assert_eq!(hex, hex.to_uppercase());
    assert!(dir_of(&c, d).join("cyrus.index").exists());
    assert_eq!(
        Annotations::open(&c).unwrap().list_all().unwrap().len(),
        annots_before
    );

    // A mailbox with children goes alone (Cyrus's IMAP refuses it; the check is the caller's).
    assert!(lifecycle::has_children(&c, &int("user.alice")).unwrap());
    assert!(!lifecycle::has_children(&c, &int("user.alice.Archive")).unwrap());
    assert!(!lifecycle::has_children(&c, &int("user.alice.Sent")).unwrap());

    // Deleting a DELETED.* mailbox removes it for good.
    let Some(dump) = i.dump() else { return };
    assert!(dump_line(&dump, d.name.as_str()).is_some(), "{dump}");
    i.examine_ok(
        d.name.as_str(),
        e.uniqueid.as_deref().unwrap(),
        &dir_of(&c, &e),
    );
    i.reconstruct_clean(
        "user.alice",
        true,
        &[
            "user.alice",
            "user.alice.#sieve",
            "user.alice.Archive",
            "user.alice.Sent",
        ],
    );
    i.quota_agrees();
    // A user goes whole into DELETED, losing seen state and quota roots.
    let bob = lookup(&c, "user.bob").unwrap();
    let seen = cyrus::seen::user_db_path(&c, "bob", "seen").unwrap();
    assert!(seen.exists());
    lifecycle::delete(&c, &int("user.bob")).unwrap();
    assert!(!seen.exists());
    let gone: Vec<MboxEntry> = MailboxList::open(&c, None)
        .unwrap()
        .all(Include::default())
        .unwrap()
        .into_iter()
        .filter(|x| x.uniqueid == bob.uniqueid)
        .collect();
    assert_eq!(gone.len(), 1);
    assert!(gone[0].name.as_str().starts_with("DELETED.user.bob."));
    i.examine_ok(
        gone[0].name.as_str(),
        bob.uniqueid.as_deref().unwrap(),
        &dir_of(&c, &bob),
    );
    i.reconstruct_clean(gone[0].name.as_str(), false, &[gone[0].name.as_str()]);
    i.quota_agrees();

    lifecycle::delete(&c, &d.name).unwrap();
    assert!(lookup(&c, d.name.as_str()).is_none());
    assert!(!dir_of(&c, d).exists());
    let dump = i.dump().unwrap();
    assert!(dump_line(&dump, d.name.as_str()).is_none());
}

#[test]
fn immediate_delete_removes_files_annotations_and_usage() {
    let Some(i) = Instance::reference("immediate", "delete_mode: immediate\n") else {
        return;
    };
    let c = i.config();
    let sent = lookup(&c, "user.alice.Sent").unwrap();
    let dir = dir_of(&c, &sent);
    lifecycle::delete(&c, &int("user.alice.Sent")).unwrap();
    let tomb = lookup(&c, "user.alice.Sent").unwrap();
    assert_eq!(tomb.mbtype.to_string(), "ed");
    assert_eq!(tomb.acl.map(|a| a.0.len()), Some(0));
    assert!(!dir.exists());
    let left = Annotations::open(&c).unwrap().list_all().unwrap();
    assert!(left
        .iter()
        .all(|(k, _)| Some(&k.mboxid) != sent.uniqueid.as_ref()));
    assert!(matches!(
        lifecycle::delete(&c, &int("user.alice.Sent")),
        Err(Error::NotFound)
    ));
    // A new mailbox at a tombstone's name continues its UIDVALIDITY and drops its I record,
    // as Debian's CREATE does.
    let again = lifecycle::create(&c, &int("user.alice.Sent"), &CreateOptions::default()).unwrap();
    assert_eq!(again.uidvalidity, sent.uidvalidity + 1);
    assert_ne!(again.uniqueid, sent.uniqueid);
    let old = MailboxList::open(&c, None)
        .unwrap()
        .lookup_by_uniqueid(sent.uniqueid.as_deref().unwrap())
        .unwrap();
    assert!(old.is_none());
    lifecycle::delete(&c, &int("user.alice.Sent")).unwrap();

    // A user's INBOX takes the user along: mailboxes, seen state, quota root.
    let bob = lookup(&c, "user.bob").unwrap();
    let seen = cyrus::seen::user_db_path(&c, "bob", "seen").unwrap();
    assert!(seen.exists());
    lifecycle::delete(&c, &int("user.bob")).unwrap();
    assert!(!seen.exists());
    assert!(!dir_of(&c, &bob).exists());
    assert!(lookup(&c, "user.bob").unwrap().is_hidden());

    let Some(dump) = i.dump() else { return };
    // ctl_mboxlist -d lists tombstones too.
    for name in ["user.alice.Sent", "user.bob"] {
        let line = dump_line(&dump, name).unwrap();
        assert!(line.contains("\"mbtype\": \"ed\""), "{line}");
    }
    // Debian's mbexamine passes over a tombstone silently, as over a name never used.
    let (_, out, _) = i.debian("mbexamine", &["user.alice.Sent"]).unwrap();
    assert!(!out.contains("Examining"), "{out}");
    i.reconstruct_clean(
        "user.alice",
        true,
        &[
            "user.alice",
            "user.alice.#sieve",
            "user.alice.Archive",
            "user.alice.Archive.2024",
        ],
    );
    i.quota_agrees();
}

#[test]
fn legacy_dirs_move_on_rename() {
    let i = Instance::fresh(
        "legacy",
        "mailbox_legacy_dirs: yes\ndelete_mode: immediate\n",
    );
    let c = i.config();
    let none = CreateOptions::default();
    lifecycle::create(&c, &int("user.carol"), &none).unwrap();
    let ab = lifecycle::create(&c, &int("user.carol.A.B"), &none).unwrap();
    assert!(ab.mbtype.has(MbFlags::LEGACY_DIRS));
    let spool = i.dir.join("spool");
    assert_eq!(dir_of(&c, &ab), spool.join("c/user/carol/A/B"));
    assert!(spool.join("c/user/carol/A/B/cyrus.index").exists());

    lifecycle::rename(&c, &int("user.carol.A"), &int("user.carol.Z")).unwrap();
    let zb = lookup(&c, "user.carol.Z.B").unwrap();
    let new = spool.join("c/user/carol/Z/B");
    assert_eq!(dir_of(&c, &zb), new);
    assert!(new.join("cyrus.index").exists() && new.join("cyrus.header").exists());
    assert!(!spool.join("c/user/carol/A").exists());
    let mb = Mailbox::open(&new, LockMode::Read).unwrap();
    assert_eq!(mb.header().name, "user.carol.Z.B");
    drop(mb);

    if i.dump().is_some() {
        i.mbpath_is("user.carol.Z.B", &new);
        i.examine_ok("user.carol.Z.B", zb.uniqueid.as_deref().unwrap(), &new);
        i.reconstruct_clean(
            "user.carol",
            true,
            &["user.carol", "user.carol.Z", "user.carol.Z.B"],
        );
    }
    lifecycle::delete(&c, &int("user.carol.Z.B")).unwrap();
    assert!(!new.exists());
    assert!(spool.join("c/user/carol/Z/cyrus.index").exists());

    // Files a crashed create left at a legacy path do not block the name.
    std::fs::create_dir_all(&new).unwrap();
    std::fs::copy(
        spool.join("c/user/carol/Z/cyrus.index"),
        new.join("cyrus.index"),
    )
    .unwrap();
    std::fs::write(new.join("1."), b"stray").unwrap();
    let zb2 = lifecycle::create(&c, &int("user.carol.Z.B"), &none).unwrap();
    assert!(!new.join("1.").exists());
    let mb = Mailbox::open(&new, LockMode::Read).unwrap();
    assert_eq!(mb.header().uniqueid, zb2.uniqueid.unwrap());
    assert_eq!(mb.index_header().last_uid, 0);
}

/// The child half of the crash tests: runs one operation on the instance named by the
/// environment with the crash switch armed, and says `done` if it survives.
#[test]
fn child() {
    let Ok(role) = std::env::var("CYRUS_TEST_CHILD") else {
        return;
    };
    let conf = PathBuf::from(std::env::var("CYRUS_TEST_CONF").unwrap());
    let at: u64 = std::env::var("CYRUS_TEST_CRASH_AT")
        .unwrap()
        .parse()
        .unwrap();
    let c = Config::load(&conf, None).unwrap();
    cyrus::db::failpoint::arm(at);
    match role.as_str() {
        "create" => {
            let su = ["\\Sent".to_string()];
            let opts = CreateOptions {
                special_use: &su,
                ..CreateOptions::default()
            };
            lifecycle::create(&c, &int("user.alice.Sent"), &opts).unwrap();
        }
        "rename" => {
            lifecycle::rename(&c, &int("user.alice.A"), &int("user.alice.Z")).unwrap();
        }
        "delete" => lifecycle::delete(&c, &int("user.alice.A.B")).unwrap(),
        other => panic!("unknown role {other}"),
    }
    cyrus::db::failpoint::arm(0);
    println!("done");
}

/// A visible mailbox must open, and its header must name it.
fn opens(c: &Config, name: &str, at: u64) -> bool {
    let Some(e) = MailboxList::open(c, None)
        .unwrap()
        .lookup_visible(&int(name))
        .unwrap()
    else {
        return false;
    };
    let mb = Mailbox::open(&dir_of(c, &e), LockMode::Read)
        .unwrap_or_else(|err| panic!("crash point {at}: {name} does not open: {err}"));
    assert_eq!(
        mb.header().uniqueid,
        e.uniqueid.unwrap_or_default(),
        "crash point {at}: {name}"
    );
    true
}

/// Kills a child running `role` at each of its write points in turn, on a fresh instance
/// each time, and checks what is left with `check` (and, every few points, with Debian's
/// reconstruct after the operation is run again to its end).
fn crash_each_point(role: &str, check: &dyn Fn(&Config, u64, bool)) {
    let mut at = 1u64;
    loop {
        let i = Instance::fresh(&format!("crash-{role}"), "delete_mode: immediate\n");
        let c = i.config();
        let none = CreateOptions::default();
        lifecycle::create(&c, &int("user.alice"), &none).unwrap();
        set_quota(&c, "user.alice", [0, 0, 0, 1]);
        lifecycle::create(&c, &int("user.alice.A.B"), &none).unwrap();
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child", "--nocapture", "--test-threads=1", "-q"])
            .env("CYRUS_TEST_CHILD", role)
            .env("CYRUS_TEST_CONF", &i.conf)
            .env("CYRUS_TEST_CRASH_AT", at.to_string())
            .output()
            .unwrap();
        let done = String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|l| l == "done");
        check(&c, at, done);
        if at % 7 == 1 || done {
            // Whatever the crash left, finishing the job must leave a spool Debian accepts.
            let redo = match role {
                "create" => lifecycle::create(&c, &int("user.alice.Sent"), &none).map(drop),
                // Renames are not atomic over a hierarchy (Cyrus says NO_ATOMIC_RENAME): the
                // user finishes the job by renaming what is still under the old name.
                "rename" if opens(&c, "user.alice.A", at) => {
                    lifecycle::rename(&c, &int("user.alice.A"), &int("user.alice.Z")).map(drop)
                }
                "rename" => {
                    lifecycle::rename(&c, &int("user.alice.A.B"), &int("user.alice.Z.B")).map(drop)
                }
                _ => lifecycle::delete(&c, &int("user.alice.A.B")),
            };
            assert!(
                matches!(redo, Ok(()) | Err(Error::Exists) | Err(Error::NotFound)),
                "crash point {at}: {redo:?}"
            );
            let want: &[&str] = match role {
                "create" => &[
                    "user.alice",
                    "user.alice.A",
                    "user.alice.A.B",
                    "user.alice.Sent",
                ],
                "rename" => &["user.alice", "user.alice.Z", "user.alice.Z.B"],
                _ => &["user.alice", "user.alice.A"],
            };
            i.reconstruct_clean("user.alice", true, want);
            if done {
                i.quota_agrees();
            }
        }
        if done {
            assert!(at > 3, "the switch never fired");
            return;
        }
        at += 1;
        assert!(at < 500, "no end to the write points");
    }
}

#[test]
fn create_survives_a_crash_anywhere() {
    crash_each_point("create", &|c, at, done| {
        let there = opens(c, "user.alice.Sent", at);
        assert!(there || !done, "crash point {at}: create said done");
    });
}

#[test]
fn rename_survives_a_crash_anywhere() {
    crash_each_point("rename", &|c, at, done| {
        // Each mailbox is under exactly one of its names; the parent moves before its child.
        let (a, z) = (opens(c, "user.alice.A", at), opens(c, "user.alice.Z", at));
        let (ab, zb) = (
            opens(c, "user.alice.A.B", at),
            opens(c, "user.alice.Z.B", at),
        );
        assert!(a ^ z && ab ^ zb, "crash point {at}: {a} {z} {ab} {zb}");
        assert!(!(a && zb), "crash point {at}: the child moved first");
        assert!(!done || (z && zb), "crash point {at}: rename said done");
    });
}

#[test]
fn delete_survives_a_crash_anywhere() {
    crash_each_point("delete", &|c, at, done| {
        let there = opens(c, "user.alice.A.B", at);
        assert!(!(there && done), "crash point {at}: delete said done");
        assert!(
            opens(c, "user.alice.A", at),
            "crash point {at}: parent lost"
        );
    });
}

#[test]
fn inbox_rename_moves_the_messages() {
    let Some(i) = Instance::reference("inbox", "") else {
        return;
    };
    let c = i.config();
    let inbox = lookup(&c, "user.alice").unwrap();
    let before = quota_used(&c, "user.alice");
    let src = Mailbox::open(&dir_of(&c, &inbox), LockMode::Read).unwrap();
    let want: Vec<_> = src
        .records()
        .iter()
        .filter(|r| !r.is_expunged())
        .map(|r| {
            let mut names: Vec<String> = (0..128)
                .filter(|n| r.user_flags[n / 32] & (1 << (n % 32)) != 0)
                .filter_map(|n| src.header().user_flags.get(n).cloned().flatten())
                .collect();
            names.sort();
            (r.guid.to_hex(), r.system_flags, r.internaldate, names)
        })
        .collect();
    assert_eq!(want.len(), 16);
    drop(src);

    let old = lifecycle::rename(&c, &int("user.alice"), &int("user.alice.OldInbox")).unwrap();
    assert_ne!(old.uniqueid, inbox.uniqueid);
    let dst = Mailbox::open(&dir_of(&c, &old), LockMode::Read).unwrap();
    let got: Vec<_> = dst
        .records()
        .iter()
        .map(|r| {
            let mut names: Vec<String> = (0..128)
                .filter(|n| r.user_flags[n / 32] & (1 << (n % 32)) != 0)
                .filter_map(|n| dst.header().user_flags.get(n).cloned().flatten())
                .collect();
            names.sort();
            (r.guid.to_hex(), r.system_flags, r.internaldate, names)
        })
        .collect();
    assert_eq!(got, want);
    drop(dst);
    let src = Mailbox::open(&dir_of(&c, &inbox), LockMode::Read).unwrap();
    assert_eq!(src.index_header().exists, 0);
    drop(src);
    // Same quota root: one more folder, the same bytes and messages.
    let after = quota_used(&c, "user.alice");
    assert_eq!(after, [before[0], before[1], before[2], before[3] + 1]);

    i.examine_ok(
        "user.alice.OldInbox",
        old.uniqueid.as_deref().unwrap(),
        &dir_of(&c, &old),
    );
    i.reconstruct_clean(
        "user.alice",
        true,
        &[
            "user.alice",
            "user.alice.#sieve",
            "user.alice.Archive",
            "user.alice.Archive.2024",
            "user.alice.OldInbox",
            "user.alice.Sent",
        ],
    );
    i.quota_agrees();
}
