//! Our pop3d under our master on a copy of the reference spool, checked two ways: against
//! the responses real Cyrus gave in transcripts/pop3.txt, and against Debian's pop3d run
//! the same way on an identical copy (the same commands, compared line by line, with only
//! session ids and greeting timestamps normalised). After DELE and QUIT, both spools must
//! hold the same flags. Skipped, with a note, without root, the cyrus user or Debian's Cyrus.

use std::path::{Path, PathBuf};
use std::time::Duration;

use cyrus::config::Config;
use cyrus::mailbox::{LockMode, Mailbox};
use cyrus::mboxlist::paths::{self, Area};
use cyrus::mboxlist::MailboxList;
use cyrus::mboxname::InternalName;
use e2e::*;

/// One running pop3d (ours or Debian's) under our master on its own reference copy.
struct Instance {
    dir: Scratch,
    conf: PathBuf,
    port: u16,
    _master: Master,
}

fn start(tag: &str, pop3d: &Path) -> Option<Instance> {
    start_with(tag, pop3d, "")
}

/// [`start`] with `extra` lines appended to imapd.conf.
fn start_with(tag: &str, pop3d: &Path, extra: &str) -> Option<Instance> {
    if !is_root() || cyrus_ids().is_none() || debian_bin("ctl_cyrusdb").is_none() {
        eprintln!("skipped: needs root, the cyrus user and Debian's cyrus-common");
        return None;
    }
    let dir = Scratch::new(tag);
    let conf = reference_instance(&dir)?;
    if !extra.is_empty() {
        let mut text = std::fs::read_to_string(&conf).ok()?;
        text.push_str(extra);
        std::fs::write(&conf, text).ok()?;
    }
    let port = free_port();
    let text = format!(
        "START {{\n  recover cmd=\"/usr/lib/cyrus/bin/ctl_cyrusdb -C {c} -r\"\n}}\nSERVICES {{\n  pop3 cmd=\"{p} -C {c}\" listen=\"127.0.0.1:{port}\" prefork=1 maxchild=10\n}}\n",
        c = conf.display(),
        p = pop3d.display()
    );
    let cyrus_conf = dir.write("etc/cyrus.conf", &text);
    dir.give_to_cyrus();
    let master = Master::start(&our_bin("master"), &dir, &conf, &cyrus_conf);
    Some(Instance {
        dir,
        conf,
        port,
        _master: master,
    })
}

fn debian_pop3d() -> Option<PathBuf> {
    let p = debian_bin("pop3d");
    if p.is_none() {
        eprintln!("skipped: Debian's pop3d (cyrus-pop3d) is not installed");
    }
    p
}

/// Hides what differs on every run: the APOP timestamp and the session id.
fn normalise(line: &str) -> String {
    let mut l = line.to_string();
    if l.starts_with("+OK ") && l.contains(" server ready <") {
        if let Some(i) = l.rfind(" <") {
            l.truncate(i);
            l.push_str(" <CHALLENGE>");
        }
    }
    if let Some(i) = l.find("SESSIONID=<") {
        l.truncate(i);
        l.push_str("SESSIONID=<ID>");
    }
    l
}

/// A POP3 client that knows which replies run to a "." line.
struct Pop {
    c: Client,
}

impl Pop {
    fn connect(port: u16) -> (Pop, String) {
        let mut c = Client::connect(port);
        c.set_timeout(Duration::from_secs(30));
        let g = c.line();
        (Pop { c }, normalise(&g))
    }

    /// Sends `cmd`; returns every line of the reply, normalised.
    fn cmd(&mut self, cmd: &str) -> Vec<String> {
        self.c.send(cmd);
        let first = self.c.line();
        let mut out = vec![normalise(&first)];
        let upper = cmd.to_ascii_uppercase();
        let word = upper.split(' ').next().unwrap_or("");
        let has_arg = upper.trim_end().contains(' ');
        let multi = match word {
            "CAPA" => true,
            "LIST" | "UIDL" | "AUTH" => !has_arg,
            "RETR" | "TOP" => true,
            _ => false,
        };
        if multi && first.starts_with("+OK") {
            loop {
                let l = self.c.read_line().unwrap_or_else(|| {
                    panic!("connection ended inside the reply to {cmd}: {out:?}")
                });
                let end = l == ".";
                out.push(l);
                if end {
                    break;
                }
            }
        }
        out
    }
}

/// The client lines of transcripts/pop3.txt, one list per connection.
fn transcript_sessions() -> Vec<Vec<(String, Vec<String>)>> {
    let text = std::fs::read_to_string(reference_dir().join("transcripts/pop3.txt"))
        .expect("read the pop3 transcript");
    let mut sessions: Vec<Vec<(String, Vec<String>)>> = Vec::new();
    for line in text.lines() {
        if let Some(s) = line.strip_prefix("S: ") {
            if s.starts_with("+OK cyrus-ref Cyrus POP3") {
                sessions.push(Vec::new());
                continue;
            }
            if let Some(last) = sessions.last_mut().and_then(|s| s.last_mut()) {
                last.1.push(s.to_string());
            }
        } else if let Some(c) = line.strip_prefix("C: ") {
            if let Some(s) = sessions.last_mut() {
                s.push((c.to_string(), Vec::new()));
            }
        }
    }
    sessions
}

/// Runs the transcript's commands; returns every reply line (greetings included).
fn replay(port: u16) -> Vec<String> {
    let mut all = Vec::new();
    for session in transcript_sessions() {
        let (mut p, g) = Pop::connect(port);
        all.push(g);
        for (cmd, _) in &session {
            all.extend(p.cmd(cmd));
        }
    }
    all
}

/// Replies the transcript shows that do not depend on what the mailbox holds.
fn mailbox_independent(cmd: &str) -> bool {
    let w = cmd.split(' ').next().unwrap_or("").to_ascii_uppercase();
    matches!(
        w.as_str(),
        "CAPA" | "USER" | "PASS" | "AUTH" | "RSET" | "NOOP" | "QUIT" | "FOO" | "DELE"
    ) || cmd == "RETR 99"
        || cmd == "LIST 1"
}

#[test]
fn transcript_replies_match_real_cyrus() {
    let Some(ours) = start("pop3-ours", &our_bin("pop3d")) else {
        return;
    };
    for session in transcript_sessions() {
        let (mut p, g) = Pop::connect(ours.port);
        assert_eq!(
            g,
            "+OK cyrus-ref Cyrus POP3 3.6.1-Debian-3.6.1-4+deb12u5 server ready <CHALLENGE>"
        );
        for (cmd, want) in &session {
            let got = p.cmd(cmd);
            if mailbox_independent(cmd) && cmd != "LIST 1" {
                let want: Vec<String> = want.iter().map(|l| normalise(l)).collect();
                assert_eq!(got, want, "reply to {cmd}");
            } else {
                // The spool is not the instance the transcript was recorded on: compare
                // the shape (status word and, for listings, the terminator).
                assert_eq!(
                    got[0].split(' ').next(),
                    want.first().and_then(|w| w.split(' ').next()),
                    "status of {cmd}: {got:?}"
                );
            }
        }
    }
}

#[test]
fn ours_and_debians_answer_alike() {
    let Some(debian) = debian_pop3d() else {
        return;
    };
    let Some(theirs) = start("pop3-debian", &debian) else {
        return;
    };
    let Some(ours) = start("pop3-ours2", &our_bin("pop3d")) else {
        return;
    };
    let extra = |port: u16| -> Vec<String> {
        let mut out = Vec::new();
        let (mut p, g) = Pop::connect(port);
        out.push(g);
        for cmd in [
            "capa",
            "USER",
            "USER ",
            "PASS x",
            "STAT",
            "AUTH",
            "AUTH PLAIN",
            "*",
            "AUTH NOSUCH",
            "USER a.b",
            "USER bob@cyrus-ref",
            "PASS secret",
            "USER bob@example.org",
            "USER bob+folder",
            "PASS secret",
            "USER b\u{e9}b",
            "USER anyone",
            "PASS secret",
            "USER alice",
            "PASS secret",
        ] {
            out.extend(p.cmd(cmd));
        }
        for cmd in [
            "LIST",
            "UIDL",
            "LIST 0",
            "LIST x",
            "LIST 1 2",
            "TOP 1",
            "TOP 1 x",
            "TOP 1 1 1",
            "TOP 3 5",
            "RETR 3",
            "RETR 8",
            "UIDL 17",
            "DELE 99",
            "NOOP x",
            "CAPA",
            "USER bob",
            "QUIT x",
        ] {
            out.extend(p.cmd(cmd));
        }
        // An overlong line is taken in pieces, each answered.
        let long = format!("NOOP {}", "x".repeat(9000));
        out.extend(p.cmd(&long));
        out.push(p.c.line());
        out.extend(p.cmd("QUIT"));
        // Odd logins, then odd arguments.
        let (mut p, _) = Pop::connect(port);
        for cmd in [
            "APOP bob 0123456789abcdef0123456789abcdef",
            "USER anonymous",
            "PASS x",
            "PASS y",
            "USER BOB",
            "PASS  secret",
            "AUTH PLAIN =",
            "AUTH LOGIN",
            "Ym9i",
            "c2VjcmV0",
            "TOP 1 4294967295",
            "RETR 1\0junk",
            "uidl\t1",
            "LIST 1 ",
            "STAT \u{ff}",
            "QUIT",
        ] {
            out.extend(p.cmd(cmd));
        }
        out
    };
    let a = replay(theirs.port);
    let b = replay(ours.port);
    same(&b, &a, "transcript commands");
    let a = extra(theirs.port);
    let b = extra(ours.port);
    same(&b, &a, "more commands");

    // Two sessions on one maildrop at once: both are served, and the second sees the
    // deletion only after the first quits.
    let two = |port: u16| -> Vec<String> {
        let (mut p1, _) = Pop::connect(port);
        let (mut p2, _) = Pop::connect(port);
        let mut out = Vec::new();
        for p in [&mut p1, &mut p2] {
            out.extend(p.cmd("USER alice"));
            out.extend(p.cmd("PASS secret"));
        }
        out.extend(p1.cmd("DELE 2"));
        out.extend(p2.cmd("STAT"));
        out.extend(p1.cmd("QUIT"));
        out.extend(p2.cmd("STAT"));
        out.extend(p2.cmd("RETR 2"));
        out.extend(p2.cmd("QUIT"));
        let (mut p3, _) = Pop::connect(port);
        out.extend(p3.cmd("USER alice"));
        out.extend(p3.cmd("PASS secret"));
        out.extend(p3.cmd("STAT"));
        out.extend(p3.cmd("UIDL"));
        out.extend(p3.cmd("QUIT"));
        out
    };
    let a = two(theirs.port);
    let b = two(ours.port);
    same(&b, &a, "two sessions");

    // The spools: the same records expunged, with the same flags.
    for user in ["bob", "alice"] {
        let a = flags(&theirs, user);
        let b = flags(&ours, user);
        assert_eq!(
            b, a,
            "{user}'s INBOX after QUIT: ours (left) vs Debian's (right)"
        );
    }
}

#[test]
fn subfolder_logins_like_debians() {
    let Some(debian) = debian_pop3d() else {
        return;
    };
    let extra = "popsubfolders: yes\npopuseacl: yes\nfailedloginpause: 0\n";
    let Some(theirs) = start_with("pop3-sub-debian", &debian, extra) else {
        return;
    };
    let Some(ours) = start_with("pop3-sub-ours", &our_bin("pop3d"), extra) else {
        return;
    };
    let run = |port: u16| -> Vec<String> {
        let mut out = Vec::new();
        for user in [
            "alice+Archive",
            "alice+Archive.2024",
            "alice+Nope",
            "bob+Archive",
            "alice+",
            "alice+Sent+x",
        ] {
            let (mut p, g) = Pop::connect(port);
            out.push(g);
            for cmd in [
                format!("USER {user}"),
                "PASS secret".to_string(),
                "STAT".into(),
                "UIDL".into(),
                "QUIT".into(),
            ] {
                out.extend(p.cmd(&cmd));
            }
        }
        out
    };
    let a = run(theirs.port);
    let b = run(ours.port);
    same(&b, &a, "popsubfolders logins");
}

#[test]
fn imap_flags_like_debians() {
    let Some(debian) = debian_pop3d() else {
        return;
    };
    let extra = "popuseimapflags: yes\n";
    let Some(theirs) = start_with("pop3-flags-debian", &debian, extra) else {
        return;
    };
    let Some(ours) = start_with("pop3-flags-ours", &our_bin("pop3d"), extra) else {
        return;
    };
    let run = |port: u16| -> Vec<String> {
        let mut out = Vec::new();
        for _ in 0..2 {
            let (mut p, g) = Pop::connect(port);
            out.push(g);
            for cmd in [
                "USER bob",
                "PASS secret",
                "STAT",
                "UIDL",
                "RETR 3",
                "TOP 2 0",
                "DELE 1",
                "QUIT",
            ] {
                out.extend(p.cmd(cmd));
            }
        }
        out
    };
    let a = run(theirs.port);
    let b = run(ours.port);
    same(&b, &a, "popuseimapflags sessions");
    same(
        &flags(&ours, "bob")
            .iter()
            .map(|f| format!("{f:?}"))
            .collect::<Vec<_>>(),
        &flags(&theirs, "bob")
            .iter()
            .map(|f| format!("{f:?}"))
            .collect::<Vec<_>>(),
        "bob's INBOX after popuseimapflags sessions",
    );
}

/// Asserts two transcripts are equal, showing the first difference with some context.
fn same(ours: &[String], theirs: &[String], what: &str) {
    let n = ours.len().min(theirs.len());
    let first = (0..n).find(|&i| ours[i] != theirs[i]).unwrap_or(n);
    if first == n && ours.len() == theirs.len() {
        return;
    }
    let from = first.saturating_sub(8);
    let ctx = |v: &[String]| v[from..(first + 3).min(v.len())].to_vec();
    panic!(
        "{what}: first difference at line {first}\n ours:   {:#?}\n Debian: {:#?}",
        ctx(ours),
        ctx(theirs)
    );
}

/// `(uid, system flags, expunged)` of every record of `user`'s INBOX.
fn flags(inst: &Instance, user: &str) -> Vec<(u32, u16, bool)> {
    let _ = &inst.dir;
    let config = Config::load(&inst.conf, None).expect("read imapd.conf");
    let mut list = MailboxList::open(&config, None).expect("open mailboxes.db");
    let name = InternalName::new(format!("user.{user}")).expect("name");
    let entry = list.lookup(&name).expect("lookup").expect("INBOX exists");
    let dir = paths::mailbox_dir(&config, &entry, Area::Meta).expect("mailbox dir");
    // Wait for the worker to let go of the index after QUIT.
    wait_for("the index to be readable", Duration::from_secs(30), || {
        Mailbox::open(&dir, LockMode::Read).ok()
    })
    .records()
    .iter()
    .map(|r| (r.uid, r.system_flags.0, r.is_expunged()))
    .collect()
}
