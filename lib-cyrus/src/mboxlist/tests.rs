//! The mailbox list over a scratch twoskip file, and the path rules against what Debian's
//! `mbpath` printed for the same entries.

use super::paths::{mailbox_dir, sieve_dir, user_dir, user_file, Area};
use super::*;
use crate::mboxname::MbName;

struct Tmp(PathBuf);

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch(tag: &str, extra: &str) -> (Tmp, Config) {
    let dir = std::env::temp_dir().join(format!("mboxlist-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let text = format!(
        "configdirectory: {d}/conf\npartition-default: {d}/spool\nsievedir: {d}/sieve\n{extra}",
        d = dir.display()
    );
    let conf = Config::parse(&text, &dir.join("imapd.conf"), None).unwrap();
    std::fs::create_dir_all(dir.join("conf")).unwrap();
    (Tmp(dir), conf)
}

fn int(s: &str) -> InternalName {
    InternalName::new(s).unwrap()
}

fn entry(name: &str, id: &str, t: &str) -> MboxEntry {
    let mut e = MboxEntry::new(int(name));
    e.uniqueid = Some(id.into());
    e.partition = Some("default".into());
    e.mbtype = MbType::parse(t);
    e.uidvalidity = 7;
    e.acl = Some(Acl(vec![("bob".into(), "lrs".into())]));
    e
}

#[test]
fn create_lookup_rename_delete() {
    let (_t, conf) = scratch("crud", "");
    let mut l = MailboxList::open(&conf, None).unwrap();
    l.create(&mut entry("user.bob", "id1", "e")).unwrap();
    l.create(&mut entry("user.bob.Sent", "id2", "e")).unwrap();
    l.create(&mut entry("user.bobby", "id3", "e")).unwrap();
    l.create(&mut entry("user.bob.Old", "id4", "ed")).unwrap();
    assert!(matches!(
        l.create(&mut entry("user.bob", "idX", "e")),
        Err(Error::Exists)
    ));
    let e = l.lookup(&int("user.bob.Sent")).unwrap().unwrap();
    assert_eq!(e.uniqueid.as_deref(), Some("id2"));
    assert!(l.lookup_visible(&int("user.bob.Old")).unwrap().is_none());

    let mut names = Vec::new();
    l.foreach(Some(&int("user.bob")), Include::default(), &mut |e| {
        names.push(e.name.to_string());
        Ok(Walk::Continue)
    })
    .unwrap();
    assert_eq!(names, ["user.bob", "user.bob.Sent"]);
    assert_eq!(l.all(Include::ALL).unwrap().len(), 4);

    let moved = l
        .rename(&int("user.bob.Sent"), &int("user.bob.Sent2"))
        .unwrap();
    assert_eq!(moved.name_history[0].name.as_str(), "user.bob.Sent");
    assert!(l.lookup(&int("user.bob.Sent")).unwrap().is_none());
    let by_id = l.lookup_by_uniqueid("id2").unwrap().unwrap();
    assert_eq!(by_id.name.as_str(), "user.bob.Sent2");
    assert_eq!(by_id.name_history.len(), 1);

    // An update keeps the history the I record has.
    let mut e = l.lookup(&int("user.bob.Sent2")).unwrap().unwrap();
    e.acl = Some(Acl::from_tabbed("bob\tlrswi\t"));
    l.update(&mut e).unwrap();
    assert_eq!(
        l.lookup_by_uniqueid("id2")
            .unwrap()
            .unwrap()
            .name_history
            .len(),
        1
    );

    l.delete(&int("user.bob.Sent2")).unwrap();
    assert!(l.lookup(&int("user.bob.Sent2")).unwrap().is_none());
    assert!(l.lookup_by_uniqueid("id2").unwrap().is_some());
}

#[test]
fn paths_as_debian_prints_them() {
    let (t, conf) = scratch(
        "paths",
        "hashimapspool: on\nvirtdomains: userid\nunixhierarchysep: no\n",
    );
    let d = t.0.display().to_string();
    let ns = crate::mboxname::Namespace::from_config(&conf, true);
    let dave = entry("example.com!user.dave", "dd1", "el");
    let sent = entry("example.com!user.dave.Sent", "dd2", "el");
    let carol = entry("user.carol^smith", "cc1", "el");
    let carol_ab = entry("user.carol^smith.a^b", "cc2", "e");
    let eve = entry("DELETED.user.eve.x.6B02602C", "cc4", "el");
    let foo = entry("foo.bar", "ff1", "el");
    let data = |e: &MboxEntry| mailbox_dir(&conf, e, Area::Data).unwrap();
    let rel = |p: PathBuf| p.display().to_string().replacen(&d, "", 1);
    assert_eq!(
        rel(data(&sent)),
        "/spool/domain/e/example.com/d/user/dave/Sent"
    );
    assert_eq!(rel(data(&carol)), "/spool/c/user/carol^smith");
    assert_eq!(rel(data(&carol_ab)), "/spool/uuid/c/c/cc2");
    assert_eq!(rel(data(&eve)), "/spool/u/DELETED/user/eve/x/6B02602C");
    assert_eq!(rel(data(&foo)), "/spool/b/foo/bar");

    let m = MbName::from_internal(&sent.name, &ns.deletedprefix);
    assert_eq!(
        rel(sieve_dir(&conf, &m, Some(&dave)).unwrap()),
        "/sieve/domain/e/example.com/d/dave"
    );
    assert_eq!(
        rel(user_dir(&conf, &m, Some(&dave))),
        "/conf/domain/e/example.com/user/d"
    );
    assert_eq!(sieve_dir(&conf, &m, None), None);
    let c = MbName::from_internal(&carol.name, &ns.deletedprefix);
    assert_eq!(
        rel(user_file(&conf, &c, Some(&carol), "seen").unwrap()),
        "/conf/user/c/carol.smith.seen"
    );
    let shared = MbName::from_internal(&foo.name, &ns.deletedprefix);
    assert_eq!(
        rel(sieve_dir(&conf, &shared, None).unwrap()),
        "/sieve/global"
    );
    assert_eq!(rel(user_dir(&conf, &shared, None)), "/conf");
    let bob = entry("user.bob", "hx0n4cd8d31fl37m97f64ehd", "e");
    let b = MbName::from_internal(&bob.name, "DELETED");
    assert_eq!(
        rel(user_file(&conf, &b, Some(&bob), "sub").unwrap()),
        "/conf/user/uuid/h/x/hx0n4cd8d31fl37m97f64ehd/sub.db"
    );
}
