//! ctl_mboxlist on a copy of the reference spool: `-d` prints the golden dump, and what our
//! `-u` (or our library) writes, Debian's ctl_mboxlist and cyr_dbtool read back alike, and
//! the other way round. Interop parts print "skipped" and pass without Debian's Cyrus.

mod common;
use common::*;
use cyrus::mboxlist::{Acl, MailboxList, MboxEntry};
use cyrus::mboxname::InternalName;
use std::path::{Path, PathBuf};

fn ours() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_ctl_mboxlist"))
}

fn instance(tag: &str, with_spool: bool) -> Scratch {
    Scratch::reference_instance(tag, with_spool, "")
}

/// The golden file without its first line (the command that made it).
fn golden(name: &str) -> String {
    let text = std::fs::read_to_string(reference().join("golden").join(name)).unwrap();
    text.split_once('\n').unwrap().1.to_string()
}

fn out(bin: &Path, s: &Scratch, args: &[&str], stdin: &[u8]) -> String {
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|x| a(x)).collect();
    String::from_utf8(run_ok(bin, &s.conf, &args, stdin)).unwrap()
}

/// `"mtime": "<n>"` and `M <n>` made equal: both tools stamp entries with the current time.
fn no_times(s: &str) -> String {
    let mut o = String::new();
    for (i, part) in s.split("\"mtime\": \"").enumerate() {
        if i > 0 {
            o.push_str("\"mtime\": \"T");
            o.push_str(part.trim_start_matches(|c: char| c.is_ascii_digit()));
        } else {
            o.push_str(part);
        }
    }
    o
}

fn no_m(s: &str) -> String {
    let mut o = String::new();
    for (i, part) in s.split(" M ").enumerate() {
        if i > 0 {
            o.push_str(" M T");
            o.push_str(part.trim_start_matches(|c: char| c.is_ascii_digit()));
        } else {
            o.push_str(part);
        }
    }
    o
}

#[test]
fn dump_prints_the_golden_file() {
    let s = instance("golden", true);
    assert_eq!(out(ours(), &s, &["-d"], b""), golden("ctl_mboxlist-d.txt"));
    assert_eq!(
        out(ours(), &s, &["-d", "-y"], b""),
        golden("ctl_mboxlist-d.txt")
    );
    assert_eq!(out(ours(), &s, &["-d", "-p", "other"], b""), "{\n\n}\n");
}

#[test]
fn usage_errors_exit_1() {
    let s = instance("usage", false);
    for args in [
        &["-d", "-u"][..],
        &["-u", "-x"],
        &["-v", "-p", "x"],
        &[],
        &["-r"],
    ] {
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|x| a(x)).collect();
        let o = run(ours(), &s.conf, &args, b"");
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(String::from_utf8_lossy(&o.stderr).contains("DUMP:\n"));
    }
}

/// Entries beyond the reference spool: a virtual domain, a server, odd ACL identifiers,
/// name history, flag-only and deleted and intermediate types, a user with a dot.
const EXTRA: &str = r#"{
"example.com!user.bob.Sent": {"name": "example.com!user.bob.Sent", "mtime": "5", "uidvalidity": "7", "createdmodseq": "3", "foldermodseq": "4", "mbtype": "e", "partition": "default", "server": "srv1", "acl": {"bob": "lrswipkxtecdan", "-anyone": "r", "a b": "l"}, "uniqueid": "abc", "legacy_specialuse": "\\Sent", "name_history": [{"name": "example.com!user.bob.Old", "mtime": "9", "uidvalidity": "7", "createdmodseq": "3", "foldermodseq": "4", "mbtype": "e", "partition": "default"}]},
"user.x^y.#cal": {"uidvalidity": "0", "createdmodseq": "0", "foldermodseq": "0", "mbtype": "cdl", "partition": "default", "acl": {}, "uniqueid": "u2"},
"DELETED.user.z.6B02602C": {"uidvalidity": "1", "createdmodseq": "1", "foldermodseq": "1", "mbtype": "ei", "partition": "default", "acl": {"z": "lr"}, "uniqueid": "u3"},
"user.noacl": {"uidvalidity": "1", "createdmodseq": "1", "foldermodseq": "1", "mbtype": "el", "partition": "default", "uniqueid": "u4"},
"user.nopart": {"uidvalidity": "1", "mbtype": "e", "uniqueid": "u5"},
"user.noid": {"uidvalidity": "1", "mbtype": "e", "partition": "default"}
}"#;

fn dbtool_show(s: &Scratch) -> Option<String> {
    let bin = debian("cyr_dbtool")?;
    let db = s.path("conf/mailboxes.db");
    let args = [db.as_os_str(), a("twoskip"), a("show")];
    Some(no_m(&String::from_utf8_lossy(&run_ok(
        &bin, &s.conf, &args, b"",
    ))))
}

#[test]
fn undump_writes_what_debian_writes() {
    let Some(deb) = debian("ctl_mboxlist") else {
        return;
    };
    let mut input = golden("ctl_mboxlist-d.txt");
    input.truncate(input.trim_end().len() - 1);
    input.push_str(",\n");
    input.push_str(EXTRA.trim_start_matches('{'));
    let ours_s = instance("undump-ours", false);
    let deb_s = instance("undump-debian", false);
    let o = run(ours(), &ours_s.conf, &[a("-u")], input.as_bytes());
    let d = run(&deb, &deb_s.conf, &[a("-u")], input.as_bytes());
    assert_eq!(o.status.code(), d.status.code());
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&d.stderr)
    );
    // The same records, byte for byte but the write time.
    assert_eq!(dbtool_show(&ours_s), dbtool_show(&deb_s));
    for args in [&["-d"][..], &["-d", "-y"], &["-d", "-p", "default"]] {
        let mine = no_times(&out(ours(), &deb_s, args, b""));
        assert_eq!(mine, no_times(&out(&deb, &ours_s, args, b"")), "{args:?}");
        assert_eq!(mine, no_times(&out(&deb, &deb_s, args, b"")), "{args:?}");
    }
    // -x removes the N records it printed, the same ones on both sides.
    out(ours(), &ours_s, &["-d", "-x", "-p", "default"], b"");
    out(&deb, &deb_s, &["-d", "-x", "-p", "default"], b"");
    assert_eq!(dbtool_show(&ours_s), dbtool_show(&deb_s));
}

#[test]
fn debian_dump_and_verify_agree_on_the_spool() {
    let Some(deb) = debian("ctl_mboxlist") else {
        return;
    };
    let s = instance("spool-interop", true);
    for args in [&["-d"][..], &["-d", "-y"], &["-v"]] {
        assert_eq!(
            out(ours(), &s, args, b""),
            out(&deb, &s, args, b""),
            "{args:?}"
        );
    }
}

/// Our -v walks partitions as Cyrus 3.6.1 does: legacy directories without hashing, with a
/// stray directory and a missing one.
#[test]
fn verify_matches_debian_on_legacy_dirs() {
    let Some(deb) = debian("ctl_mboxlist") else {
        return;
    };
    let s = instance("verify", false);
    let text = std::fs::read_to_string(&s.conf).unwrap();
    std::fs::write(
        &s.conf,
        text.replace("hashimapspool: true", "hashimapspool: false"),
    )
    .unwrap();
    let dump = r#"{
"user.ann": {"uidvalidity": "1", "createdmodseq": "1", "foldermodseq": "1", "mbtype": "el", "partition": "default", "acl": {}, "uniqueid": "a1"},
"user.ann.Sent": {"uidvalidity": "1", "createdmodseq": "1", "foldermodseq": "1", "mbtype": "el", "partition": "default", "acl": {}, "uniqueid": "a2"},
"user.ann.Trash": {"uidvalidity": "1", "createdmodseq": "1", "foldermodseq": "1", "mbtype": "el", "partition": "default", "acl": {}, "uniqueid": "a3"},
"user.zed": {"uidvalidity": "1", "createdmodseq": "1", "foldermodseq": "1", "mbtype": "e", "partition": "default", "acl": {}, "uniqueid": "z1"}
}"#;
    out(ours(), &s, &["-u"], dump.as_bytes());
    for d in [
        "spool/user/ann",
        "spool/user/ann/Sent",
        "spool/user/stray",
        "spool/uuid/z/1/z1",
    ] {
        std::fs::create_dir_all(s.path(d)).unwrap();
        std::fs::write(s.path(d).join("cyrus.header"), b"x").unwrap();
    }
    let mine = out(ours(), &s, &["-v"], b"");
    assert!(mine.contains("'user.stray' has a directory"), "{mine}");
    assert!(
        mine.contains("'user.zed' has a DB entry but no directory"),
        "{mine}"
    );
    assert_eq!(mine, out(&deb, &s, &["-v"], b""));
}

fn int(s: &str) -> InternalName {
    InternalName::new(s).unwrap()
}

/// Creating, renaming and deleting through the library leaves records Debian reads alike.
#[test]
fn library_writes_read_by_debian() {
    let s = instance("library", true);
    let conf = cyrus::config::Config::load(&s.conf, None).unwrap();
    let db: PathBuf = s.path("conf/mailboxes.db");
    {
        let mut l = MailboxList::open(&conf, Some(&db)).unwrap();
        let mut e = MboxEntry::new(int("user.bob.Projects"));
        e.uniqueid = Some("p0000000000000000000001".into());
        e.partition = Some("default".into());
        e.uidvalidity = 1795318800;
        e.createdmodseq = 5;
        e.foldermodseq = 5;
        e.acl = Some(Acl::from_tabbed("bob\tlrswipkxtecdan\tanyone\tlr\t"));
        l.create(&mut e).unwrap();
        l.rename(&int("user.bob.Projects"), &int("user.bob.Work"))
            .unwrap();
        l.delete(&int("user.alice.Archive.2024")).unwrap();
    }
    let mine = out(ours(), &s, &["-d"], b"");
    assert!(mine.contains("\"user.bob.Work\": {\"name\": \"user.bob.Work\""));
    assert!(!mine.contains("user.bob.Projects"));
    assert!(!mine.contains("user.alice.Archive.2024"));
    let Some(deb) = debian("ctl_mboxlist") else {
        return;
    };
    assert_eq!(mine, out(&deb, &s, &["-d"], b""));
    let show = dbtool_show(&s).unwrap();
    assert!(show.contains(
        "Ip0000000000000000000001\t%(T e N user\u{1f}bob\u{1f}Work P default V 1795318800 C 5 F 5 \
         M T A %(bob lrswipkxtecdan anyone lr) H (%(N user\u{1f}bob\u{1f}Projects M T V \
         1795318800 C 5 F 5 T e P default)))"
    ));
}

/// `-u -L` reads the pre-3.0 line format as Debian's does, odd lines included.
#[test]
fn legacy_undump_writes_what_debian_writes() {
    let Some(deb) = debian("ctl_mboxlist") else {
        return;
    };
    let input = "user.a\t0 default a\tlrs\tb\tr\t>uid1 5 7 9 11 \\Sent\n\
                 user.b\t1 srv!default >uid2 5 7 9 11\n\
                 user.c\t144 default x\tl\t\n\
                 user.d\n\
                 user.e\t0 p  \tanyone\tlr\t>u5 1\n";
    let ours_s = instance("legacy-ours", false);
    let deb_s = instance("legacy-debian", false);
    let o = run(ours(), &ours_s.conf, &[a("-u"), a("-L")], input.as_bytes());
    let d = run(&deb, &deb_s.conf, &[a("-u"), a("-L")], input.as_bytes());
    assert_eq!(o.status.code(), d.status.code());
    assert_eq!(o.stderr, d.stderr);
    assert_eq!(dbtool_show(&ours_s), dbtool_show(&deb_s));
    assert!(dbtool_show(&ours_s)
        .unwrap()
        .contains("Nuser\u{1f}c\t%(T edr P default"));
}
