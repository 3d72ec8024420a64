//! Table tests from spec/mboxlist.md §1 and §5, and round-trip properties.

use super::*;
use proptest::prelude::*;

fn ns(sep: char, alt: bool, admin: bool, vd: VirtDomains) -> Namespace {
    Namespace {
        sep,
        alt,
        admin,
        virtdomains: vd,
        ..Namespace::default()
    }
}

fn int(s: &str) -> InternalName {
    InternalName::new(s).unwrap()
}

#[test]
fn internal_and_dbname() {
    let cases = [
        ("user.alice", "user\x1falice"),
        (
            "example.com!user.bob.Sent",
            "example.com\x1duser\x1fbob\x1fSent",
        ),
        ("user.carol^smith", "user\x1fcarol.smith"),
        ("shared.news", "shared\x1fnews"),
        (
            "DELETED.user.alice.Sent.6B02602C",
            "DELETED\x1fuser\x1falice\x1fSent\x1f6B02602C",
        ),
    ];
    for (i, d) in cases {
        assert_eq!(int(i).to_dbname().as_str(), d);
        assert_eq!(DbName::new(d).unwrap().to_internal().as_str(), i);
    }
    for bad in ["", "a..b", ".a", "a.", "!a", "a!b!c", "a\nb"] {
        assert!(InternalName::new(bad).is_err(), "{bad:?}");
    }
    for bad in ["", "a\x1f\x1fb", "\x1da", "a^b"] {
        assert!(DbName::new(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn parts() {
    let m = MbName::from_internal(&int("example.com!user.carol^smith.Sent"), "DELETED");
    assert_eq!(m.domain.as_deref(), Some("example.com"));
    assert_eq!(m.localpart.as_deref(), Some("carol.smith"));
    assert_eq!(m.boxes, ["Sent"]);
    assert_eq!(m.userid().as_deref(), Some("carol.smith@example.com"));
    let d = MbName::from_internal(&int("DELETED.user.alice.Sent.6B02602C"), "DELETED");
    assert_eq!(d.deleted, Some(0x6B02602C));
    assert_eq!(d.boxes, ["Sent"]);
    assert_eq!(
        d.to_internal("DELETED").unwrap().as_str(),
        "DELETED.user.alice.Sent.6B02602C"
    );
    let s = MbName::from_internal(&int("user"), "DELETED");
    assert_eq!((s.localpart, s.boxes), (None, vec!["user".to_string()]));
}

#[test]
fn userids() {
    let n = ns('/', false, false, VirtDomains::Userid);
    let m = MbName::from_userid("bob@example.com", &n).unwrap();
    assert_eq!(
        m.to_internal("DELETED").unwrap().as_str(),
        "example.com!user.bob"
    );
    let m = MbName::from_userid("bob@internal", &n).unwrap();
    assert_eq!(m.to_internal("DELETED").unwrap().as_str(), "user.bob");
    let off = ns('/', false, false, VirtDomains::Off);
    let m = MbName::from_userid("a.b@x.org", &off).unwrap();
    assert_eq!(m.to_internal("DELETED").unwrap().as_str(), "x.org!user.a^b");
    assert!(MbName::from_userid("@x", &n).is_err());
}

/// (namespace, userid, external, internal); `None` internal: external does not resolve.
#[test]
fn spec_section_5() {
    let vd = VirtDomains::On;
    let std_ns = ns('/', false, false, vd);
    let alt_ns = ns('/', true, false, vd);
    let admin = ns('/', false, true, vd);
    let dot_admin = ns('.', false, true, VirtDomains::Off);
    let bob = Some("bob@example.com");
    let cases: &[(&Namespace, Option<&str>, &str, &str)] = &[
        (&std_ns, bob, "INBOX", "example.com!user.bob"),
        (&std_ns, bob, "INBOX/Sent", "example.com!user.bob.Sent"),
        (
            &std_ns,
            bob,
            "user/alice/Work",
            "example.com!user.alice.Work",
        ),
        (&std_ns, bob, "news/a.b", "example.com!news.a^b"),
        (&alt_ns, bob, "INBOX", "example.com!user.bob"),
        (&alt_ns, bob, "Sent", "example.com!user.bob.Sent"),
        (&alt_ns, bob, "Other Users/alice", "example.com!user.alice"),
        (&alt_ns, bob, "Shared Folders/news", "example.com!news"),
        (
            &alt_ns,
            bob,
            "Alt Folders/inbox",
            "example.com!user.bob.inbox",
        ),
        (
            &alt_ns,
            bob,
            "Alt Folders/INBOX",
            "example.com!user.bob.INBOX",
        ),
        (
            &alt_ns,
            bob,
            "INBOX/child",
            "example.com!user.bob.INBOX.child",
        ),
        (
            &alt_ns,
            bob,
            "Alt Folders/Other Users",
            "example.com!user.bob.Other Users",
        ),
        (
            &admin,
            None,
            "user/bob/Sent@example.com",
            "example.com!user.bob.Sent",
        ),
        (&admin, None, "user/bob/Sent", "user.bob.Sent"),
        (
            &admin,
            None,
            "DELETED/user/bob/6B02602C",
            "DELETED.user.bob.6B02602C",
        ),
        (&dot_admin, None, "user.alice", "user.alice"),
        (
            &dot_admin,
            None,
            "user.carol^smith.a^b",
            "user.carol^smith.a^b",
        ),
    ];
    for &(n, u, ext, i) in cases {
        let m = MbName::from_external(&ExternalName::new(ext), n, u)
            .unwrap_or_else(|e| panic!("{ext}: {e}"));
        assert_eq!(
            m.to_internal(&n.deletedprefix).unwrap().as_str(),
            i,
            "{ext}"
        );
        let back = MbName::from_internal(&int(i), &n.deletedprefix);
        assert_eq!(
            back.to_external(n, u).map(|e| e.0).as_deref(),
            Some(ext),
            "{i}"
        );
    }
    // Deleted mailboxes have no name outside the admin namespace.
    let d = MbName::from_internal(&int("DELETED.user.bob.6B02602C"), "DELETED");
    assert_eq!(d.to_external(&std_ns, Some("bob")), None);
    // Another domain is out of sight without crossdomains.
    let o = MbName::from_internal(&int("other.org!user.eve"), "DELETED");
    assert_eq!(o.to_external(&std_ns, bob), None);
    // Namespace roots are not mailboxes.
    assert!(MbName::from_external(&ExternalName::new("Other Users"), &alt_ns, bob).is_err());
    assert!(MbName::from_external(&ExternalName::new("a//b"), &admin, None).is_err());
}

#[test]
fn utf8_external_names() {
    let mut n = ns('/', false, true, VirtDomains::Off);
    n.utf8 = true;
    let m = MbName::from_external(&ExternalName::new("user/bob/Entwürfe"), &n, None).unwrap();
    assert_eq!(
        m.to_internal("DELETED").unwrap().as_str(),
        "user.bob.Entw&APw-rfe"
    );
    assert_eq!(
        m.to_external(&n, None).unwrap().as_str(),
        "user/bob/Entwürfe"
    );
}

fn component() -> impl Strategy<Value = String> {
    // Literal components: dots allowed, but not the characters that are separators or
    // escapes in some spelling.
    "[A-Za-z0-9 _#&.-]{1,8}".prop_filter("not the reserved words", |c| {
        !matches!(c.as_str(), "user" | "DELETED" | "INBOX")
            && !c.eq_ignore_ascii_case("inbox")
            && !matches!(c.as_str(), "Other Users" | "Shared Folders" | "Alt Folders")
    })
}

fn mbname() -> impl Strategy<Value = MbName> {
    (
        proptest::option::of("[a-z]{1,6}\\.(com|org)"),
        proptest::option::of("[a-z][a-z.]{0,6}"),
        proptest::collection::vec(component(), 0..4),
        proptest::option::of(1u64..u64::from(u32::MAX)),
    )
        .prop_filter("a shared mailbox needs a folder", |(_, l, b, _)| {
            l.is_some() || !b.is_empty()
        })
        .prop_map(|(domain, localpart, boxes, deleted)| MbName {
            domain,
            localpart: localpart.filter(|l| !l.ends_with('.')),
            boxes,
            deleted,
        })
        .prop_filter("still valid", |m| {
            m.localpart.is_some() || !m.boxes.is_empty()
        })
}

proptest! {
    #[test]
    fn internal_dbname_round_trip(m in mbname()) {
        let i = m.to_internal("DELETED").unwrap();
        let d = i.to_dbname();
        prop_assert_eq!(DbName::new(d.as_str()).unwrap().to_internal(), i.clone());
        prop_assert_eq!(MbName::from_internal(&i, "DELETED"), m.clone());
        prop_assert_eq!(MbName::from_dbname(&d, "DELETED"), m);
    }

    #[test]
    fn admin_external_round_trip(m in mbname(), slash in any::<bool>()) {
        let n = ns(if slash { '/' } else { '.' }, false, true, VirtDomains::Userid);
        let e = m.to_external(&n, None).unwrap();
        let back = MbName::from_external(&e, &n, None).unwrap();
        prop_assert_eq!(back, m);
    }

    #[test]
    fn user_external_round_trip(
        m in mbname(), slash in any::<bool>(), alt in any::<bool>(), me in "[a-z]{1,4}"
    ) {
        let n = ns(if slash { '/' } else { '.' }, alt, false, VirtDomains::Userid);
        let user = match &m.domain {
            Some(d) => format!("{me}@{d}"),
            None => me.clone(),
        };
        if let Some(e) = m.to_external(&n, Some(&user)) {
            let back = MbName::from_external(&e, &n, Some(&user)).unwrap();
            prop_assert_eq!(back, m);
        } else {
            prop_assert!(m.deleted.is_some());
        }
    }
}
