//! mbexamine on a copy of the reference spool prints golden/mbexamine/*.txt, and prints what
//! Debian's mbexamine prints for the same patterns and selections (with TZ=UTC on both).

mod common;
use common::*;
use std::path::Path;

fn ours() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_mbexamine"))
}

fn examine(bin: &Path, s: &Scratch, args: &[&str]) -> (Option<i32>, String, String) {
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|x| a(x)).collect();
    let o = run_env(bin, &s.conf, &args, b"", &[("TZ", "UTC")]);
    let inst = s.dir.to_string_lossy().to_string();
    let text = |b: &[u8]| String::from_utf8_lossy(b).replace(&inst, "@INSTANCE@");
    (o.status.code(), text(&o.stdout), text(&o.stderr))
}

#[test]
fn every_mailbox_prints_its_golden_file() {
    let s = Scratch::reference_instance("mbexamine-golden", true, "");
    let dir = reference().join("golden/mbexamine");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        let golden = std::fs::read_to_string(&path).unwrap();
        let (cmd, want) = golden.split_once('\n').unwrap();
        let name = cmd.rsplit(' ').next().unwrap();
        let (code, got, err) = examine(ours(), &s, &[name]);
        assert_eq!((code, err.as_str()), (Some(0), ""), "{name}");
        // The goldens write CR as the text \x0d (see the reference README).
        assert_eq!(got.replace('\r', "\\x0d"), want, "{name}");
        n += 1;
    }
    assert!(n >= 8, "only {n} golden files");
}

#[test]
fn patterns_and_selections_match_debian() {
    let Some(debian) = debian("mbexamine") else {
        return;
    };
    let s = Scratch::reference_instance("mbexamine-debian", true, "");
    for args in [
        &[][..],
        &["*"],
        &["user.%"],
        &["user.alice.*", "shared*"],
        &["-u", "2", "user.bob"],
        &["-u", "99", "user.bob"],
        &["-s", "1", "shared.team"],
        &["user.nobody"],
    ] {
        assert_eq!(
            examine(ours(), &s, args),
            examine(&debian, &s, args),
            "{args:?}"
        );
    }
}

#[test]
fn sequence_numbers_count_messages() {
    // Cyrus 3.6's -s never advances its counter; ours shows the Nth message.
    let s = Scratch::reference_instance("mbexamine-seq", true, "");
    let (_, two, _) = examine(ours(), &s, &["-s", "2", "user.bob"]);
    let (_, uid2, _) = examine(ours(), &s, &["-u", "2", "user.bob"]);
    assert!(two.contains("UID:00000002"), "{two}");
    assert_eq!(two, uid2);
    let (_, none, _) = examine(ours(), &s, &["-s", "9", "user.bob"]);
    assert!(
        none.ends_with(" Message Info:\nDesired message not found\n"),
        "{none}"
    );
}

#[test]
fn quota_check_matches_debian_on_sound_and_damaged_mailboxes() {
    use cyrus::mailbox::index::IndexHeader;
    let Some(debian) = debian("mbexamine") else {
        return;
    };
    let s = Scratch::reference_instance("mbexamine-q", true, "");
    let same = |args: &[&str]| {
        assert_eq!(
            examine(ours(), &s, args),
            examine(&debian, &s, args),
            "{args:?}"
        );
    };
    same(&["-q"]);
    let bob = s.path("spool/uuid/h/x/hx0n4cd8d31fl37m97f64ehd");
    // The index claims a usage the files do not add up to.
    let index = bob.join("cyrus.index");
    let good = std::fs::read(&index).unwrap();
    let mut h = IndexHeader::decode(&good, &index).unwrap();
    h.quota_mailbox_used = 12345;
    let mut bad = good.clone();
    bad[..h.encode().len()].copy_from_slice(&h.encode());
    std::fs::write(&index, &bad).unwrap();
    same(&["-q", "user.bob"]);
    assert!(examine(ours(), &s, &["-q", "user.bob"])
        .1
        .contains("INCORRECT total quota usage"));
    std::fs::write(&index, &good).unwrap();
    // A message file shorter than its index record says.
    let msg = bob.join("3.");
    let full = std::fs::read(&msg).unwrap();
    std::fs::write(&msg, &full[..100]).unwrap();
    same(&["-q", "user.bob"]);
    assert!(examine(ours(), &s, &["-q", "user.bob"])
        .1
        .contains("Message 3 has INCORRECT size"));
    // A missing message file.
    std::fs::write(&msg, &full).unwrap();
    std::fs::remove_file(bob.join("2.")).unwrap();
    same(&["-q", "user.bob"]);
}
