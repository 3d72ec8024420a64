//! Quota records against the bytes Debian's Cyrus wrote, and root selection.

use super::*;
use proptest::prelude::*;

const REFERENCE: &[u8] = b"%(S (229251 20480) M (21 1000) AS (68) NF (5) MODSEQ 32)";

#[test]
fn reference_record_round_trips() {
    let q = Quota::parse(REFERENCE).unwrap();
    assert_eq!(q.used, [229251, 21, 68, 5]);
    assert_eq!(q.limits, [Some(20480), Some(1000), None, None]);
    assert_eq!(q.modseq, 32);
    assert_eq!(q.scan, None);
    assert_eq!(q.to_bytes(), REFERENCE);
}

#[test]
fn scan_record_round_trips() {
    let text: &[u8] =
        b"%(S (10 20) M (1) AS (0) NF (1) SCAN %(MBOX user.a.b S 5 M 1 AS 0 NF 1) MODSEQ 7)";
    let q = Quota::parse(text).unwrap();
    let s = q.scan.clone().unwrap();
    assert_eq!(s.mbox, "user.a.b");
    assert_eq!(s.used, [5, 1, 0, 1]);
    assert_eq!(q.to_bytes(), text);
}

#[test]
fn legacy_and_odd_records() {
    let q = Quota::parse(b"1234 100").unwrap();
    assert_eq!(q.used[0], 1234);
    assert_eq!(q.limits[0], Some(100));
    let q = Quota::parse(b"1234 -1").unwrap();
    assert_eq!(q.limits[0], None);
    let q = Quota::parse(b"%(S (-3 0) MODSEQ 1)").unwrap();
    assert_eq!(q.used[0], -3);
    assert_eq!(q.limits[0], Some(0));
    // Negative usage is written as Cyrus's unsigned 64-bit form and reads back.
    let bytes = q.to_bytes();
    assert_eq!(
        bytes,
        b"%(S (18446744073709551613 0) M (0) AS (0) NF (0) MODSEQ 1)"
    );
    assert_eq!(Quota::parse(&bytes).unwrap().used[0], -3);
    for bad in [
        &b""[..],
        b"x",
        b"%(S x)",
        b"%(S (a))",
        b"%(MODSEQ -1)",
        b"12",
    ] {
        assert!(
            Quota::parse(bad).is_err(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn roots_at_hierarchy_boundaries() {
    let roots: Vec<String> = [
        "user.al",
        "user.alice",
        "user.alice.Archive",
        "example.com!",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let table = [
        ("user.alice", Some("user.alice")),
        ("user.alice.Sent", Some("user.alice")),
        ("user.alice.Archive.2024", Some("user.alice.Archive")),
        ("user.alicex", None),
        ("user.al.x", Some("user.al")),
        ("example.com!user.bob", Some("example.com!")),
        ("shared", None),
    ];
    for (name, want) in table {
        assert_eq!(find_root(&roots, name), want, "{name}");
    }
    assert!(is_user_root("user.alice"));
    assert!(is_user_root("example.com!user.bob.x"));
    assert!(!is_user_root("shared.team"));
    assert!(!is_user_root("example.com!"));
}

#[test]
fn resources_by_name() {
    assert_eq!(Resource::from_name("storage"), Some(Resource::Storage));
    assert_eq!(
        Resource::from_name("X-NUM-FOLDERS"),
        Some(Resource::NumFolders)
    );
    assert_eq!(Resource::from_name("nope"), None);
}

proptest! {
    #[test]
    fn any_record_round_trips(
        used in proptest::array::uniform4(any::<i64>()),
        limits in proptest::array::uniform4(proptest::option::of(0i64..i64::MAX)),
        scan in proptest::option::of(("[a-z.]{1,20}", proptest::array::uniform4(any::<i64>()))),
        modseq in any::<u64>(),
    ) {
        let q = Quota {
            used,
            limits,
            scan: scan.map(|(mbox, used)| Scan { mbox, used }),
            modseq,
        };
        let bytes = q.to_bytes();
        prop_assert_eq!(Quota::parse(&bytes).unwrap(), q);
    }

    #[test]
    fn hostile_records_do_not_panic(b in proptest::collection::vec(any::<u8>(), 0..80)) {
        let _ = Quota::parse(&b);
    }
}

#[test]
fn find_root_walks_up_the_hierarchy() {
    let dir = std::env::temp_dir().join(format!("cyrus-quota-findroot-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let flags = OpenFlags {
        create: true,
        virtdomains: true,
        ..OpenFlags::default()
    };
    let path = dir.join("quotas.db");
    let db = crate::db::open(&path, Backend::Quotalegacy, flags).unwrap();
    let mut q = QuotaDb::from_db(db, &path);
    let mut rec = Quota::parse(REFERENCE).unwrap();
    q.write("user.alice", &mut rec).unwrap();
    q.write("example.com!", &mut rec).unwrap();
    q.write("example.com!user.bob.x", &mut rec).unwrap();
    let table = [
        ("user.alice", Some("user.alice")),
        ("user.alice.Archive.2024", Some("user.alice")),
        ("user.bob", None),
        ("example.com!user.bob", Some("example.com!")),
        ("example.com!user.bob.x.y", Some("example.com!user.bob.x")),
    ];
    for (name, want) in table {
        assert_eq!(q.find_root(name).unwrap().as_deref(), want, "{name}");
    }
    q.update_used("user.alice", &[10, 1, 0, 0]).unwrap();
    let after = q.read("user.alice").unwrap().unwrap();
    assert_eq!(after.used, [229261, 22, 68, 5]);
    assert_eq!(after.modseq, 34);
    assert_eq!(q.roots("").unwrap().len(), 3);
    let _ = std::fs::remove_dir_all(&dir);
}
