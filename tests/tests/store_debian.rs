//! What our server writes, Cyrus reads: on a copy of the reference spool our imapd (through
//! lib-cyrus) appends 20 messages, changes flags, expunges, renames a folder, sets a quota
//! and an ACL; then Debian's `mbexamine`, `reconstruct -n` and `quota` read the result
//! without complaint and report the changes, and Debian's imapd, started on the same
//! spool, serves it as we left it. Skipped, with a note, without root, the cyrus user,
//! Debian's Cyrus tools or its imapd.

use std::path::Path;
use std::process::Command;

use e2e::imap::Imap;
use e2e::*;

/// Sends `cmd` as `tag`; the response lines, the tagged one last.
fn run(c: &mut Imap, tag: &str, cmd: &str) -> Vec<String> {
    c.send(&format!("{tag} {cmd}"));
    c.until_tagged(tag)
}

fn ok(c: &mut Imap, tag: &str, cmd: &str) -> Vec<String> {
    let r = run(c, tag, cmd);
    assert!(
        r.last()
            .is_some_and(|l| l.starts_with(&format!("{tag} OK"))),
        "{cmd}: {r:?}"
    );
    r
}

fn serve(dir: &Scratch, conf: &Path, imapd: &Path, port: u16) -> Master {
    let text = format!(
        "SERVICES {{\n  imap cmd=\"{} -C {}\" listen=\"127.0.0.1:{port}\" prefork=1\n}}\n",
        imapd.display(),
        conf.display()
    );
    let cyrus_conf = dir.write("etc/cyrus.conf", &text);
    dir.give_to_cyrus();
    Master::start(&our_bin("master"), dir, conf, &cyrus_conf)
}

fn login(port: u16, user: &str) -> Imap {
    let mut c = Imap::connect(port);
    c.response();
    ok(&mut c, "l", &format!("LOGIN {user} {REF_PASSWORD}"));
    c
}

fn tool(name: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(debian_bin(name).expect("checked"))
        .args(args)
        .env("TZ", "UTC")
        .output()
        .expect("run Debian's tool");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn cyrus_reads_and_serves_what_we_wrote() {
    if !is_root() || cyrus_ids().is_none() {
        eprintln!("skipped: needs root and the cyrus user");
        return;
    }
    if ["mbexamine", "reconstruct", "quota"]
        .iter()
        .any(|t| debian_bin(t).is_none())
    {
        eprintln!("skipped: Debian's cyrus-common tools are not installed");
        return;
    }
    let Some(debian_imapd) = debian_imapd() else {
        eprintln!("skipped: Debian's imapd is neither installed nor downloadable");
        return;
    };
    let dir = Scratch::new("store-debian");
    let Some(conf) = reference_instance(&dir) else {
        return;
    };
    let c_arg = conf.to_string_lossy().into_owned();

    // 1. Our imapd writes.
    let port = free_port();
    let master = serve(&dir, &conf, &our_bin("imapd"), port);
    let mut c = login(port, "alice");
    ok(&mut c, "a1", "CREATE INBOX.Interop");
    for i in 0..20 {
        let msg = format!(
            "From: Writer <w@example.org>\r\nTo: alice@example.org\r\nSubject: interop {i}\r\n\
             Message-ID: <interop-{i}@example.org>\r\nDate: Mon, 01 Jan 2024 09:00:00 +0000\r\n\
             \r\nBody {i}.\r\n"
        );
        c.send_raw(
            format!(
                "a2 APPEND INBOX.Interop (\\Seen) {{{}+}}\r\n{msg}\r\n",
                msg.len()
            )
            .as_bytes(),
        );
        let r = c.until_tagged("a2");
        assert!(r.last().is_some_and(|l| l.starts_with("a2 OK")), "{r:?}");
    }
    ok(&mut c, "a3", "SELECT INBOX.Interop");
    ok(&mut c, "a4", "STORE 1:5 +FLAGS (\\Flagged $Interop)");
    ok(&mut c, "a5", "STORE 6:8 +FLAGS (\\Deleted)");
    ok(&mut c, "a6", "EXPUNGE");
    ok(&mut c, "a7", "CLOSE");
    ok(&mut c, "a8", "RENAME INBOX.Interop INBOX.Renamed");
    ok(&mut c, "a9", "SETACL INBOX.Renamed bob lrs");
    ok(&mut c, "b0", "LOGOUT");
    let mut admin = login(port, "admin");
    ok(
        &mut admin,
        "q1",
        "SETQUOTA user.bob (STORAGE 4096 MESSAGE 50)",
    );
    ok(&mut admin, "q2", "LOGOUT");
    drop(master);

    // 2. Debian's tools read it.
    let (good, text) = tool("mbexamine", &["-C", &c_arg, "user.alice.Renamed"]);
    assert!(good, "{text}");
    assert!(text.contains("Number of Messages: 17 "), "{text}");
    assert!(text.contains("$Interop"), "{text}");
    let (good, text) = tool("reconstruct", &["-C", &c_arg, "-n", "user.alice.Renamed"]);
    assert!(good, "{text}");
    assert_eq!(
        text, "user.alice.Renamed\n",
        "reconstruct -n wanted to change something"
    );
    let (good, text) = tool("quota", &["-C", &c_arg, "user.bob"]);
    assert!(good, "{text}");
    assert!(text.contains("4096") && text.contains("user.bob"), "{text}");

    // 3. Debian's imapd serves it as we left it.
    let port = free_port();
    let _master = serve(&dir, &conf, &debian_imapd, port);
    let mut c = login(port, "alice");
    let r = ok(&mut c, "d1", "LIST \"\" \"INBOX.*\"");
    assert!(r.iter().any(|l| l.ends_with(" INBOX.Renamed")), "{r:?}");
    assert!(!r.iter().any(|l| l.ends_with(" INBOX.Interop")), "{r:?}");
    let r = ok(&mut c, "d2", "EXAMINE INBOX.Renamed");
    assert!(r.iter().any(|l| l == "* 17 EXISTS"), "{r:?}");
    let r = ok(&mut c, "d3", "FETCH 1:* (FLAGS ENVELOPE)");
    let flagged = r
        .iter()
        .filter(|l| l.contains("\\Flagged") && l.contains("$Interop"))
        .count();
    assert_eq!(flagged, 5, "{r:?}");
    assert!(
        r.iter()
            .all(|l| !l.starts_with("* ") || l.contains("\\Seen")),
        "{r:?}"
    );
    let r = ok(&mut c, "d4", "GETACL INBOX.Renamed");
    assert!(r.iter().any(|l| l.contains(" bob lrs")), "{r:?}");
    ok(&mut c, "d5", "LOGOUT");
    let mut bob = login(port, "bob");
    let r = ok(&mut bob, "e1", "GETQUOTAROOT INBOX");
    assert!(
        r.iter()
            .any(|l| l.contains("STORAGE") && l.contains(" 4096")),
        "{r:?}"
    );
}
