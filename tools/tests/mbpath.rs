//! mbpath on a copy of the reference spool prints golden/mbpath.txt, and on that spool plus
//! legacy-layout and virtual-domain entries prints what Debian's mbpath prints (stdout,
//! stderr and exit status). Interop parts print "skipped" and pass without Debian's Cyrus.

mod common;
use common::*;
use std::path::Path;

fn ours() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_mbpath"))
}

fn instance(tag: &str, extra: &str) -> Scratch {
    Scratch::reference_instance(tag, true, extra)
}

fn args_of<'a>(v: &'a [&'a str]) -> Vec<&'a std::ffi::OsStr> {
    v.iter().map(|x| a(x)).collect()
}

#[test]
fn all_paths_print_the_golden_file() {
    let s = instance("golden", "");
    let golden = std::fs::read_to_string(reference().join("golden/mbpath.txt")).unwrap();
    let inst = s.dir.to_string_lossy().to_string();
    let mut sections = 0;
    for section in golden.split("# mbpath -C imapd.conf ").skip(1) {
        let (cmd, expected) = section.split_once('\n').unwrap();
        let words: Vec<&str> = cmd.split(' ').collect();
        let got = run_ok(ours(), &s.conf, &args_of(&words), b"");
        let got = String::from_utf8(got).unwrap().replace(&inst, "@INSTANCE@");
        assert_eq!(got, expected, "mbpath {cmd}");
        sections += 1;
    }
    assert_eq!(sections, 10);
}

#[test]
fn missing_names_and_usage() {
    let s = instance("errors", "");
    let o = run(ours(), &s.conf, &args_of(&["-u", "nobody"]), b"");
    assert_eq!(o.status.code(), Some(65));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "Invalid mailbox name: 'nobody' ('user.nobody')\n\n"
    );
    let o = run(ours(), &s.conf, &args_of(&["-a", "-D", "x"]), b"");
    assert_eq!(o.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&o.stderr).ends_with("\nERROR: Duplicate selectors given"));
}

/// Legacy and uuid entries in a virtual domain, deleted and reserved ones, written with
/// Debian's own undump so the comparison does not depend on our ctl_mboxlist.
const EXTRA: &str = r#"{
"example.com!user.dave": {"uidvalidity": "7", "createdmodseq": "3", "foldermodseq": "4", "mbtype": "el", "partition": "default", "acl": {}, "uniqueid": "dd1"},
"example.com!user.dave.Sent": {"uidvalidity": "7", "createdmodseq": "3", "foldermodseq": "4", "mbtype": "el", "partition": "default", "acl": {}, "uniqueid": "dd2"},
"example.com!user.erin.Sent": {"uidvalidity": "7", "createdmodseq": "3", "foldermodseq": "4", "mbtype": "e", "partition": "default", "acl": {}, "uniqueid": "ee2"},
"user.carol^smith": {"uidvalidity": "7", "createdmodseq": "3", "foldermodseq": "4", "mbtype": "el", "partition": "default", "acl": {}, "uniqueid": "cc1"},
"user.carol^smith.a^b": {"uidvalidity": "7", "createdmodseq": "3", "foldermodseq": "4", "mbtype": "e", "partition": "default", "acl": {}, "uniqueid": "cc2"},
"DELETED.user.carol^smith.x.6B02602C": {"uidvalidity": "7", "createdmodseq": "3", "foldermodseq": "4", "mbtype": "dl", "partition": "default", "acl": {}, "uniqueid": "cc3"},
"DELETED.user.eve.x.6B02602C": {"uidvalidity": "7", "createdmodseq": "3", "foldermodseq": "4", "mbtype": "el", "partition": "default", "acl": {}, "uniqueid": "cc4"},
"foo.bar": {"uidvalidity": "7", "createdmodseq": "3", "foldermodseq": "4", "mbtype": "el", "partition": "default", "acl": {}, "uniqueid": "ff1"},
"example.com!foo": {"uidvalidity": "7", "createdmodseq": "3", "foldermodseq": "4", "mbtype": "el", "partition": "default", "acl": {}, "uniqueid": "ff2"},
"user.zz": {"uidvalidity": "7", "createdmodseq": "3", "foldermodseq": "4", "mbtype": "ez", "partition": "default", "acl": {}, "uniqueid": "zz1"},
"user.far": {"uidvalidity": "7", "createdmodseq": "3", "foldermodseq": "4", "mbtype": "er", "partition": "default", "server": "backend1", "acl": {}, "uniqueid": "fa1"}
}"#;

#[test]
fn same_as_debian() {
    let (Some(deb), Some(ctl)) = (debian("mbpath"), debian("ctl_mboxlist")) else {
        return;
    };
    for (tag, extra) in [
        ("plain", ""),
        (
            "vdom",
            "virtdomains: userid\nmetapartition-default: @M@/meta\nfulldirhash: on\n",
        ),
        ("flat", ""),
    ] {
        let s = instance(tag, "");
        let extra = extra.replace("@M@", &s.dir.to_string_lossy());
        let mut text = std::fs::read_to_string(&s.conf).unwrap();
        if tag == "flat" {
            text = text
                .replace("hashimapspool: true", "hashimapspool: false")
                .replace("unixhierarchysep: no", "unixhierarchysep: yes");
        }
        std::fs::write(&s.conf, text + &extra).unwrap();
        run_ok(&ctl, &s.conf, &[a("-u")], EXTRA.as_bytes());
        let p = s.dir.to_string_lossy().to_string();
        let uuid_path = format!("{p}/spool/uuid/h/x/hx0n4cd8d31fl37m97f64ehd");
        let cases: Vec<Vec<&str>> = vec![
            vec![
                "-a",
                "user.alice",
                "user.alice.Sent",
                "shared.team",
                "user.bob",
            ],
            vec!["-j", "user.alice.Archive.2024", "shared", "user.bob"],
            vec!["-a", "user/alice", "user/alice/Sent", "shared/team"],
            vec!["-a", "user.dave@example.com", "user.dave.Sent@example.com"],
            vec![
                "-a",
                "user/dave/Sent@example.com",
                "user.erin.Sent@example.com",
            ],
            vec![
                "-j",
                "user.dave.Sent@example.com",
                "user.erin.Sent@example.com",
            ],
            vec![
                "-a",
                "user.carol^smith",
                "user.carol^smith.a^b",
                "user/carol.smith",
            ],
            vec!["-j", "user.carol^smith", "DELETED.user.eve.x.6B02602C"],
            vec!["-a", "DELETED.user.carol^smith.x.6B02602C", "foo.bar"],
            vec![
                "-a",
                "foo@example.com",
                "DELETED.user.eve.x.6B02602C",
                "foo/bar",
            ],
            vec![
                "-u",
                "-a",
                "alice",
                "dave@example.com",
                "carol.smith",
                "nobody",
            ],
            vec!["-A", "user.zz"],
            vec!["user.far", "-D"],
            vec!["-l", "user.far", "user.bob"],
            vec!["-l", "-s", "user.far", "user.bob"],
            vec!["-S", "user.alice"],
            vec!["-U", "user.carol^smith"],
            vec!["-M", "foo.bar"],
            vec!["-m", "user.bob"],
            vec!["-q", "user.nobody", "user.bob"],
            vec!["-s", "user.nobody", "user.bob"],
            vec!["-q", "-s", "user.nobody", "user.bob"],
            vec!["-p", &uuid_path, "/x/uuid/c/c/cc3", "relative/uuid/h/x/y"],
            vec!["-7", "user.alice.Entw&APw-rfe"],
            vec!["user.alice.Entwürfe"],
            vec!["-x"],
            vec!["-u", "-p", "x"],
            vec![],
        ];
        for case in &cases {
            let mine = run(ours(), &s.conf, &args_of(case), b"");
            let theirs = run(&deb, &s.conf, &args_of(case), b"");
            let norm = |b: &[u8]| {
                String::from_utf8_lossy(b)
                    .replace(ours().to_str().unwrap(), "mbpath")
                    .replace(deb.to_str().unwrap(), "mbpath")
            };
            assert_eq!(norm(&mine.stdout), norm(&theirs.stdout), "{tag}: {case:?}");
            assert_eq!(norm(&mine.stderr), norm(&theirs.stderr), "{tag}: {case:?}");
            assert_eq!(mine.status.code(), theirs.status.code(), "{tag}: {case:?}");
        }
    }
}
