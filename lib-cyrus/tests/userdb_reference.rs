//! Seen state, subscriptions, annotations and deliver.db against the configdirectory Debian's
//! Cyrus 3.6.1 wrote (../shared/reference/cyrus-3.6/spool/config): every value parses, and
//! written back through our code the databases list exactly what Debian's `cyr_dbtool` showed.

use cyrus::annotations::{Annotations, Scope, Target};
use cyrus::config::Config;
use cyrus::db::{self, Backend, OpenFlags, Walk};
use cyrus::duplicate::{DupKey, DuplicateDb};
use cyrus::mboxname::{DbName, ExternalName, Namespace};
use cyrus::seen::{SeenDb, SeqSet};
use cyrus::subscriptions::Subscriptions;
use std::path::{Path, PathBuf};

const REF: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/reference/cyrus-3.6"
);
const ALICE_INBOX: &str = "zxy8prvqo1qsmh2s1pkthgjb";
const BOB_INBOX: &str = "hx0n4cd8d31fl37m97f64ehd";
const ARCHIVE: &str = "793408dod39il2szehn8lkf6";

/// A writable copy of the reference configdirectory, removed on drop.
struct Conf {
    dir: PathBuf,
    config: Config,
}

impl Conf {
    fn new(tag: &str) -> Conf {
        let dir = std::env::temp_dir().join(format!("cyrus-userdb-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let st = std::process::Command::new("cp")
            .arg("-r")
            .arg(Path::new(REF).join("spool/config"))
            .arg(dir.join("conf"))
            .status()
            .unwrap();
        assert!(st.success());
        let _ = std::process::Command::new("chmod")
            .args(["-R", "u+w"])
            .arg(&dir)
            .status();
        let text = format!(
            "configdirectory: {0}/conf\npartition-default: {0}/spool\nhashimapspool: true\naltnamespace: no\nunixhierarchysep: no\n",
            dir.display()
        );
        let config = Config::parse(&text, &dir.join("imapd.conf"), None).unwrap();
        Conf { dir, config }
    }

    fn conf(&self) -> PathBuf {
        self.dir.join("conf")
    }
}

impl Drop for Conf {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `cyr_dbtool ... show` of the database at `path`: `key TAB value LF` in key order.
fn show(path: &Path, backend: Backend) -> Vec<u8> {
    let mut db = db::open(path, backend, OpenFlags::default()).unwrap();
    let mut out = Vec::new();
    db.foreach(b"", &mut |k, v| {
        out.extend_from_slice(k);
        out.push(b'\t');
        out.extend_from_slice(v);
        out.push(b'\n');
        Ok(Walk::Continue)
    })
    .unwrap();
    out
}

fn golden(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(REF).join("golden/cyr_dbtool").join(name)).unwrap()
}

fn user_golden(inbox: &str, file: &str) -> Vec<u8> {
    let mut c = inbox.chars();
    let (a, b) = (c.next().unwrap(), c.next().unwrap());
    golden(&format!("user__uuid__{a}__{b}__{inbox}__{file}.dump"))
}

#[test]
fn seen_state_reads_and_writes_back_identically() {
    let c = Conf::new("seen");
    for (user, inbox) in [("alice", ALICE_INBOX), ("bob", BOB_INBOX)] {
        let mut seen = SeenDb::open(&c.config, user, false).unwrap();
        let mut c1 = inbox.chars();
        let want_path = c.conf().join(format!(
            "user/uuid/{}/{}/{inbox}/seen.db",
            c1.next().unwrap(),
            c1.next().unwrap()
        ));
        assert_eq!(seen.path(), want_path);
        let entries = seen.list().unwrap();
        assert!(!entries.is_empty());
        for (id, e) in &entries {
            seen.write(id, e).unwrap();
        }
        drop(seen);
        assert_eq!(
            show(&want_path, Backend::Twoskip),
            user_golden(inbox, "seen.db"),
            "{user}"
        );
    }
    // bob read alice's Archive message (UID 1); that is bob's, not alice's, state.
    let mut bob = SeenDb::open(&c.config, "bob", false).unwrap();
    let e = bob.read(ARCHIVE).unwrap().unwrap();
    assert!(e.seenuids.contains(1) && !e.seenuids.contains(2));
    assert_eq!(e.lastuid, 1);
    let mut alice = SeenDb::open(&c.config, "alice", false).unwrap();
    assert_eq!(alice.read(ARCHIVE).unwrap(), None);

    // A change goes through and reads back.
    let mut e2 = e.clone();
    e2.seenuids = SeqSet::parse("1:3,7").unwrap();
    bob.write(ARCHIVE, &e2).unwrap();
    assert_eq!(bob.read(ARCHIVE).unwrap(), Some(e2.clone()));
    bob.copy(ARCHIVE, "newid").unwrap();
    assert_eq!(bob.read("newid").unwrap(), Some(e2));
    bob.copy("nothing-here", "other").unwrap();
    assert_eq!(bob.read("other").unwrap(), None);
    let path = bob.path().to_path_buf();
    drop(bob);
    cyrus::seen::delete_user(&c.config, "bob").unwrap();
    assert!(!path.exists());
    cyrus::seen::delete_user(&c.config, "bob").unwrap();
}

fn dbnames(v: &[&str]) -> Vec<DbName> {
    v.iter()
        .map(|s| DbName::new(s.replace('.', "\x1f")).unwrap())
        .collect()
}

#[test]
fn subscriptions_match_the_reference() {
    let c = Conf::new("subs");
    let user_ns = Namespace::from_config(&c.config, false);
    let mut alice = Subscriptions::open(&c.config, "alice", false).unwrap();
    assert_eq!(
        alice.list().unwrap(),
        dbnames(&[
            "user.alice",
            "user.alice.Archive",
            "user.alice.Archive.2024",
            "user.alice.Sent",
            "shared.team",
        ])
    );
    let ext: Vec<String> = alice
        .list_external(&user_ns, "alice")
        .unwrap()
        .iter()
        .map(|e| e.as_str().to_string())
        .collect();
    assert_eq!(
        ext,
        [
            "INBOX",
            "INBOX.Archive",
            "INBOX.Archive.2024",
            "INBOX.Sent",
            "shared.team"
        ]
    );
    let mut bob = Subscriptions::open(&c.config, "bob", false).unwrap();
    assert_eq!(bob.list().unwrap(), dbnames(&["user.alice.Archive"]));
    let ext: Vec<String> = bob
        .list_external(&user_ns, "bob")
        .unwrap()
        .iter()
        .map(|e| e.as_str().to_string())
        .collect();
    assert_eq!(ext, ["user.alice.Archive"]);

    // Unsubscribe and subscribe again in user terms: the file is byte for byte as before.
    let path = alice.path().to_path_buf();
    let before = std::fs::read(&path).unwrap();
    let sent = ExternalName::new("INBOX.Sent");
    alice.remove_external(&sent, &user_ns, "alice").unwrap();
    assert!(!alice
        .is_subscribed(&dbnames(&["user.alice.Sent"])[0])
        .unwrap());
    alice.add_external(&sent, &user_ns, "alice").unwrap();
    drop(alice);
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(
        show(&path, Backend::Flat),
        user_golden(ALICE_INBOX, "sub.db")
    );
}

#[test]
fn old_subscription_files_are_upgraded() {
    let dir = std::env::temp_dir().join(format!("cyrus-userdb-{}-oldsubs", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("carol.sub");
    std::fs::write(&path, b"shared.team\t\nuser.carol\t\nuser.carol.Sent\t\n").unwrap();
    let inbox = DbName::new("user\x1fcarol").unwrap();
    // Read without changing it first...
    let mut subs =
        Subscriptions::open_path(&path, Backend::Flat, inbox.clone(), "DELETED", false).unwrap();
    assert_eq!(
        subs.list().unwrap(),
        dbnames(&["shared.team", "user.carol", "user.carol.Sent"])
    );
    assert!(subs
        .is_subscribed(&dbnames(&["user.carol.Sent"])[0])
        .unwrap());
    drop(subs);
    // ...then opened for writing, which upgrades it.
    let mut subs = Subscriptions::open_path(&path, Backend::Flat, inbox, "DELETED", true).unwrap();
    assert_eq!(
        subs.list().unwrap(),
        dbnames(&["user.carol", "user.carol.Sent", "shared.team"])
    );
    drop(subs);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"\x1fVER\x1f\t2\nNINBOX\t\nNINBOX\x1fSent\t\nNshared\x1fteam\t\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn annotations_match_the_reference() {
    let c = Conf::new("annot");
    let mut a = Annotations::open(&c.config).unwrap();
    let server = a
        .get(&Target::Server, "/comment", &Scope::Shared)
        .unwrap()
        .unwrap();
    assert_eq!(server.value, b"cyrus-ref fixture server");
    let archive = Target::Mailbox {
        uniqueid: ARCHIVE.into(),
        owner: Some("alice".into()),
    };
    let private = a
        .get(&archive, "/comment", &Scope::Private("alice".into()))
        .unwrap()
        .unwrap();
    assert_eq!(private.value, b"alice's private note on Archive");
    let shared = a
        .get(&archive, "/comment", &Scope::Shared)
        .unwrap()
        .unwrap();
    assert_eq!(shared.value, b"Archive of old mail");
    assert_eq!(
        a.get(&archive, "/comment", &Scope::Private("bob".into()))
            .unwrap(),
        None
    );
    assert_eq!(a.list(&archive).unwrap().len(), 2);

    // Every record written back through the typed API reproduces the file's contents.
    let all = a.list_all().unwrap();
    assert_eq!(all.len(), 5);
    let path = a.path().to_path_buf();
    let mut raw = db::open(&path, Backend::Twoskip, OpenFlags::default()).unwrap();
    for (k, v) in &all {
        raw.store(&k.to_bytes(), &v.to_bytes()).unwrap();
    }
    drop(raw);
    assert_eq!(show(&path, Backend::Twoskip), golden("annotations.db.dump"));

    // Set, change and remove a private value of a non-owner.
    let bob = Scope::Private("bob".into());
    a.set(&archive, "/comment", &bob, b"bob's", 7).unwrap();
    let v = a.get(&archive, "/comment", &bob).unwrap().unwrap();
    assert_eq!((v.value.as_slice(), v.modseq), (&b"bob's"[..], 7));
    a.set(&archive, "/comment", &bob, b"", 8).unwrap();
    assert_eq!(a.get(&archive, "/comment", &bob).unwrap(), None);
    a.delete_mailbox(ARCHIVE).unwrap();
    assert!(a.list(&archive).unwrap().is_empty());
    assert_eq!(a.list_all().unwrap().len(), 3);
}

#[test]
fn deliver_db_matches_the_reference() {
    let c = Conf::new("deliver");
    let mut d = DuplicateDb::open(&c.config, None).unwrap();
    let key = DupKey::new(
        "<both-1@example.org>",
        BOB_INBOX,
        "Mon, 15 Jan 2024 09:00:00 +0000",
    );
    let m = d.check(&key).unwrap().unwrap();
    assert_eq!((m.mark, m.uid), (1795318722, 1));
    let found = d.find(b"<both-1@example.org>").unwrap();
    assert_eq!(found.len(), 2, "the sieve tag is not a mailbox");
    let mut out = Vec::new();
    assert_eq!(d.dump(&mut out).unwrap(), 39);
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains(
        "id: <sieve-1@example.org>                   \tto: 793408dod39il2szehn8lkf6\tat: 1795318722\tuid: 1\n"
    ));

    // Marking then pruning: everything older than the cut-off goes, unless overridden.
    let fresh = DupKey::new("<new@x>", ALICE_INBOX, "d");
    d.mark(&fresh, 1795400000, 18).unwrap();
    let mut keep = std::collections::HashMap::new();
    keep.insert(ARCHIVE.as_bytes().to_vec(), 0);
    let stats = d.prune(1795400000, 3600, &keep).unwrap();
    assert_eq!((stats.deletions, stats.count), (38, 40));
    let mut out = Vec::new();
    assert_eq!(d.dump(&mut out).unwrap(), 2);
}

/// Run by hand (`USERDB_EXPORT=<dir> cargo test --test userdb_reference -- --ignored`):
/// writes a copy of the reference spool into `<dir>` (config/ and partition-default/) with
/// changes made through our code, for Debian's imapd to serve (see cyrus-ref/start's
/// `CYRUS_REF_SEED`): alice unsubscribes INBOX.Sent and subscribes user.bob, bob's seen set
/// on alice's Archive is emptied, and Sent gets a /shared/comment.
#[test]
#[ignore]
fn export_a_changed_spool() {
    let Ok(out) = std::env::var("USERDB_EXPORT") else {
        return;
    };
    let out = PathBuf::from(out);
    let c = Conf::new("export");
    let mut alice = Subscriptions::open(&c.config, "alice", true).unwrap();
    alice.remove(&dbnames(&["user.alice.Sent"])[0]).unwrap();
    alice.add(&dbnames(&["user.bob"])[0]).unwrap();
    drop(alice);
    let mut bob = SeenDb::open(&c.config, "bob", false).unwrap();
    let mut e = bob.read(ARCHIVE).unwrap().unwrap();
    e.seenuids = SeqSet::new();
    e.lastchange += 1;
    bob.write(ARCHIVE, &e).unwrap();
    drop(bob);
    let mut a = Annotations::open(&c.config).unwrap();
    let sent = Target::Mailbox {
        uniqueid: "xcxlxb5s84qkp2dudwpou4h6".into(),
        owner: Some("alice".into()),
    };
    a.set(&sent, "/comment", &Scope::Shared, b"written by cyrus-rs", 1)
        .unwrap();
    drop(a);
    std::fs::create_dir_all(&out).unwrap();
    let st = std::process::Command::new("cp")
        .arg("-r")
        .arg(c.conf())
        .arg(out.join("config"))
        .status()
        .unwrap();
    assert!(st.success());
    let st = std::process::Command::new("cp")
        .arg("-r")
        .arg(Path::new(REF).join("spool/partition-default"))
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success());
}
