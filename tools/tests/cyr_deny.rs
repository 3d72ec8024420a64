//! cyr_deny against Debian's Cyrus 3.6: the same commands leave the same user_deny.db and
//! print the same things; each side lists what the other wrote; usage errors match.

mod common;
use common::*;
use std::ffi::OsStr;
use std::path::Path;
use std::process::Output;

fn ours() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_cyr_deny"))
}

/// A command's status, stdout and stderr.
type Outcome = (Option<i32>, String, String);

/// What a run leaves to compare: status, stdout, stderr with the program path neutralised.
fn seen(bin: &Path, o: Output) -> Outcome {
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).replace(&bin.display().to_string(), "PROG"),
    )
}

/// Runs the script of commands with `bin` in a fresh scratch dir; returns each command's
/// result and the final database bytes.
fn script(bin: &Path, tag: &str, cmds: &[&[&str]]) -> (Vec<Outcome>, Vec<u8>) {
    let s = Scratch::new(tag);
    let mut results = Vec::new();
    for c in cmds {
        let args: Vec<&OsStr> = c.iter().map(|x| a(x)).collect();
        results.push(seen(bin, run(bin, &s.conf, &args, b"")));
    }
    let db = std::fs::read(s.path("user_deny.db")).unwrap_or_default();
    (results, db)
}

const CMDS: &[&[&str]] = &[
    &["-l"],
    &["-a", "nobody"],
    &["-s", "imap,pop3", "-m", "go away\tnow", "bob"],
    &["alice"],
    &["-s", "", "-m", "", "carol"],
    &["-m", "hi", "dave"],
    &["-s", "!imap,*", "dave"],
    &["-l"],
    &["-a", "alice"],
    &["-a", "nobody"],
    &["-l"],
    &[],
    &["-x"],
    &["-l", "extra"],
    &["-a"],
    &["a", "b"],
    &["-a", "-s", "imap", "bob"],
    &["-l", "-a", "bob"],
    &["-l", "-m", "x"],
    &["-s"],
    &["--list"],
    &["-C"],
];

#[test]
fn same_commands_same_results_as_debian() {
    let (ours_res, ours_db) = script(ours(), "deny-ours", CMDS);
    assert_eq!(ours_res[0].0, Some(1), "listing a missing db fails");
    assert!(ours_res[7]
        .1
        .contains("bob                            imap,pop3            go away\tnow\n"));
    assert!(ours_db.starts_with(b"bob\t2\xff\x89imap,pop3\xff\x89go away\xff\x89now\n"));
    let Some(deb) = debian("cyr_deny") else {
        return;
    };
    let (deb_res, deb_db) = script(&deb, "deny-debian", CMDS);
    for (i, (o, d)) in ours_res.iter().zip(&deb_res).enumerate() {
        assert_eq!(o, d, "command {:?}", CMDS[i]);
    }
    assert_eq!(ours_db, deb_db);
}

#[test]
fn each_lists_what_the_other_wrote() {
    let Some(deb) = debian("cyr_deny") else {
        return;
    };
    for (writer, reader) in [(ours(), deb.as_path()), (deb.as_path(), ours())] {
        let s = Scratch::new("deny-cross");
        run_ok(
            writer,
            &s.conf,
            &[a("-s"), a("imap"), a("-m"), a("closed"), a("bob")],
            b"",
        );
        run_ok(writer, &s.conf, &[a("carol")], b"");
        let listed = run_ok(reader, &s.conf, &[a("-l")], b"");
        assert_eq!(
            String::from_utf8_lossy(&listed),
            format!(
                "{:<30} {:<20} Message\n{:<30} {:<20} closed\n{:<30} {:<20} Access to this service has been blocked\n",
                "Username", "Service(s)", "bob", "imap", "carol", "*"
            )
        );
        run_ok(reader, &s.conf, &[a("-a"), a("bob")], b"");
        let listed = run_ok(writer, &s.conf, &[a("-l")], b"");
        assert!(!String::from_utf8_lossy(&listed).contains("bob"));
    }
}

#[test]
fn version_one_entries_get_the_default_message() {
    let s = Scratch::new("deny-v1");
    std::fs::write(s.path("user_deny.db"), b"old\t1\xff\x89pop3\n").unwrap();
    let listed = run_ok(ours(), &s.conf, &[a("-l")], b"");
    let want = format!(
        "{:<30} {:<20} Message\n{:<30} {:<20} Access to this service has been blocked\n",
        "Username", "Service(s)", "old", "pop3"
    );
    assert_eq!(String::from_utf8_lossy(&listed), want);
    if let Some(deb) = debian("cyr_deny") {
        let d = run_ok(&deb, &s.conf, &[a("-l")], b"");
        assert_eq!(String::from_utf8_lossy(&d), want);
    }
}

/// The uid of the `cyrus` user when the tests run as root (the tools then run as cyrus and
/// can signal only cyrus's processes); `None` otherwise.
fn cyrus_uid() -> Option<u32> {
    let me = std::process::Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&me.stdout).trim() != "0" {
        eprintln!("skipped: not root");
        return None;
    }
    let out = std::process::Command::new("id")
        .args(["-u", "cyrus"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// A `sleep` running as `uid`, reaped by a thread as soon as it ends; the handle gives the
/// signal that ended it.
fn sleeper(uid: u32) -> (u32, std::thread::JoinHandle<Option<i32>>) {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .uid(uid)
        .spawn()
        .unwrap();
    let pid = child.id();
    (
        pid,
        std::thread::spawn(move || child.wait().ok().and_then(|s| s.signal())),
    )
}

#[test]
fn denying_ends_the_users_sessions_like_debian() {
    let Some(uid) = cyrus_uid() else {
        return;
    };
    let mut bins = vec![ours().to_path_buf()];
    bins.extend(debian("cyr_deny"));
    for bin in bins {
        let s = Scratch::new("deny-kill");
        std::fs::create_dir_all(s.path("proc")).unwrap();
        let (bob, bob_end) = sleeper(uid);
        let (alice, alice_end) = sleeper(uid);
        std::fs::write(
            s.path(&format!("proc/{bob}")),
            "imap\tlocalhost [127.0.0.1]\tbob\tuser.bob\tIdle\n",
        )
        .unwrap();
        std::fs::write(
            s.path(&format!("proc/{alice}")),
            "pop3\tlocalhost [127.0.0.1]\talice\t\t\n",
        )
        .unwrap();
        run_ok(&bin, &s.conf, &[a("-s"), a("pop3"), a("bob")], b"");
        assert_eq!(bob_end.join().unwrap(), Some(15), "{}", bin.display());
        assert!(!alice_end.is_finished(), "{}", bin.display());
        let _ = std::process::Command::new("kill")
            .arg(alice.to_string())
            .status();
        alice_end.join().unwrap();
    }
}
