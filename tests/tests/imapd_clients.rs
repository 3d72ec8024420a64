//! Our imapd serving real clients and a real master, end to end (issue #5, "Real clients do
//! their job unchanged" and "Runs under Debian's master as well as ours"):
//! - isync's `mbsync` pulls alice's folder tree from a copy of the reference spool into
//!   Maildirs, pushes a new folder tree, flag changes and a deletion back, and then finds
//!   nothing left to do;
//! - what mbsync showed: the sieve script store stays out of LIST and SELECT, and LSUB
//!   answers as real Cyrus does on the same spool;
//! - Debian's `master` runs our imapd: our workers' "busy" and "ready" reports move its
//!   own count of ready workers (its Prometheus report) and make it fork for prefork=1,
//!   and a worker goes back to serving after its client leaves;
//! - the extra FETCH recordings of real Cyrus (imapd/tests/data/fetch-sections.txt) replay
//!   byte for byte through the server.
//!
//! Skipped, with a note, without root, the cyrus user, Debian's cyrus-common or the client.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use e2e::imap::{escape, replay_skipping, Imap, Server};
use e2e::*;

// ---------------------------------------------------------------------------------------------
// mbsync

/// `mbsync` on the PATH, if isync is installed.
fn mbsync() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join("mbsync"))
        .find(|p| p.is_file())
}

/// How this isync spells "no TLS": `TLSType` from 1.5 on, `SSLType` before.
fn no_tls(bin: &Path) -> &'static str {
    let out = Command::new(bin).arg("--version").output();
    let version = out
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default();
    // "isync 1.4.4"
    let mut nums = version
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .split('.')
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let (major, minor) = (nums.next().unwrap_or(0), nums.next().unwrap_or(0));
    if (major, minor) >= (1, 5) {
        "TLSType None"
    } else {
        "SSLType None"
    }
}

/// The mbsyncrc: alice's account on `port` (SASL PLAIN, no TLS: the server is on
/// loopback and `allowplaintext` is on), every folder, both directions, Maildirs under
/// `local` with folders nested as directories.
fn mbsyncrc(port: u16, local: &Path, no_tls: &str) -> String {
    format!(
        "IMAPAccount alice\nHost 127.0.0.1\nPort {port}\nUser alice\nPass {REF_PASSWORD}\n\
         {no_tls}\nAuthMechs PLAIN\n\n\
         IMAPStore far\nAccount alice\n\n\
         MaildirStore near\nPath {l}/\nInbox {l}/INBOX\nSubFolders Verbatim\n\n\
         Channel alice\nFar :far:\nNear :near:\nPatterns *\nCreate Both\nExpunge Both\n\
         SyncState *\n",
        l = local.display()
    )
}

/// Runs `mbsync -c rc -a` plus `extra` flags; its output, after asserting it succeeded.
fn run_mbsync(bin: &Path, rc: &Path, extra: &[&str], what: &str) -> String {
    let out = Command::new(bin)
        .args(extra)
        .arg("-c")
        .arg(rc)
        .arg("-a")
        .output()
        .expect("run mbsync");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "mbsync ({what}) failed with {}:\n{}",
        out.status,
        tail(&text, 6000)
    );
    text
}

/// At most the last `n` bytes of `s` (on a char boundary).
fn tail(s: &str, n: usize) -> &str {
    let mut from = s.len().saturating_sub(n);
    while !s.is_char_boundary(from) {
        from += 1;
    }
    &s[from..]
}

/// alice's IMAP mailboxes in the reference spool (golden/ctl_mboxlist-d.txt, as Debian's
/// Cyrus dumped them) with their message counts (golden/mbexamine/) and the directory that
/// holds their message files, by Maildir folder name (`INBOX`, `Archive/2024`, ...).
fn reference_folders() -> BTreeMap<String, (String, usize, PathBuf)> {
    let golden = reference_dir().join("golden");
    let dump = std::fs::read_to_string(golden.join("ctl_mboxlist-d.txt")).expect("mboxlist dump");
    let mut out = BTreeMap::new();
    for line in dump.lines() {
        let Some(name) = line
            .strip_prefix('"')
            .and_then(|l| l.split('"').next())
            .filter(|n| *n == "user.alice" || n.starts_with("user.alice."))
        else {
            continue;
        };
        if !line.contains("\"mbtype\": \"e\"") {
            // The sieve script store (user.alice.#sieve) is no IMAP mailbox.
            continue;
        }
        let exam = std::fs::read_to_string(golden.join(format!("mbexamine/{name}.txt")))
            .expect("mbexamine golden");
        let count = field(&exam, "Number of Messages: ").expect("message count");
        let path = exam
            .lines()
            .find_map(|l| l.trim().strip_prefix("Path to mailbox: @INSTANCE@/spool/"))
            .expect("mailbox path");
        // user.alice is INBOX, user.alice.A.B is INBOX.A.B, and the Maildir folder A/B.
        let (ext, folder) = match name.strip_prefix("user.alice.") {
            Some(rest) => (format!("INBOX.{rest}"), rest.replace('.', "/")),
            None => ("INBOX".to_string(), "INBOX".to_string()),
        };
        let dir = reference_dir().join("spool/partition-default").join(path);
        out.insert(folder, (ext, count, dir));
    }
    out
}

/// The number after `key` in `text`.
fn field(text: &str, key: &str) -> Option<usize> {
    let at = text.find(key)? + key.len();
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// A Maildir folder as mbsync left it: far-side UID -> the message file, from the
/// folder's `.mbsyncstate` (`far near flags` lines) and the `,U=<near>` in file names.
fn synced(folder: &Path) -> BTreeMap<u32, PathBuf> {
    let state = std::fs::read_to_string(folder.join(".mbsyncstate")).unwrap_or_else(|e| {
        panic!("{}/.mbsyncstate: {e}", folder.display());
    });
    let mut files = BTreeMap::new();
    for f in messages(folder) {
        let name = f
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        if let Some(near) = name
            .split(",U=")
            .nth(1)
            .and_then(|r| r.split(':').next())
            .and_then(|n| n.parse::<u32>().ok())
        {
            files.insert(near, f);
        }
    }
    let mut out = BTreeMap::new();
    // The header ends at the first empty line.
    for line in state.split("\n\n").nth(1).unwrap_or("").lines() {
        let mut w = line.split(' ');
        let (Some(far), Some(near)) = (w.next(), w.next()) else {
            continue;
        };
        let (Ok(far), Ok(near)) = (far.parse::<u32>(), near.parse::<u32>()) else {
            continue;
        };
        if far == 0 || near == 0 {
            continue;
        }
        let file = files
            .get(&near)
            .unwrap_or_else(|| panic!("{}: no file for near UID {near}", folder.display()));
        out.insert(far, file.clone());
    }
    out
}

/// The message files of a Maildir folder (cur/ and new/).
fn messages(folder: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for sub in ["cur", "new"] {
        if let Ok(rd) = std::fs::read_dir(folder.join(sub)) {
            v.extend(rd.flatten().map(|e| e.path()));
        }
    }
    v.sort();
    v
}

/// A Maildir message as the server's bytes: mbsync stores LF line ends and adds an
/// `X-TUID:` header of its own to what it pulls.
fn as_served(local: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(local.len() + local.len() / 30);
    let mut in_header = true;
    for line in local.split_inclusive(|&b| b == b'\n') {
        if in_header && line.starts_with(b"X-TUID: ") {
            continue;
        }
        if line == b"\n" {
            in_header = false;
        }
        match line.strip_suffix(b"\n") {
            Some(l) => {
                out.extend_from_slice(l);
                out.extend_from_slice(b"\r\n");
            }
            None => out.extend_from_slice(line),
        }
    }
    out
}

/// The Maildir flag letters (`:2,` suffix) that stand for the system flags in `flags`.
fn maildir_flags(flags: &str) -> String {
    let mut s = String::new();
    for (flag, letter) in [
        ("\\Draft", 'D'),
        ("\\Flagged", 'F'),
        ("\\Answered", 'R'),
        ("\\Seen", 'S'),
        ("\\Deleted", 'T'),
    ] {
        if flags.split([' ', '(', ')']).any(|f| f == flag) {
            s.push(letter);
        }
    }
    s
}

/// The system flags among `flags` but \\Recent (which goes to whichever session saw the
/// message first), in a fixed order.
fn system_flags(flags: &str) -> String {
    let mut v: Vec<&str> = flags
        .split(' ')
        .filter(|f| f.starts_with('\\') && *f != "\\Recent")
        .collect();
    v.sort_unstable();
    v.join(" ")
}

/// The `:2,` flags of a Maildir file name.
fn file_flags(p: &Path) -> String {
    let name = p.file_name().unwrap_or_default().to_string_lossy();
    name.rsplit_once(":2,")
        .map(|(_, f)| f.to_string())
        .unwrap_or_default()
}

/// Sends `cmd` tagged `tag`; the responses, asserting the tagged one is OK.
fn ok(c: &mut Imap, tag: &str, cmd: &str) -> Vec<String> {
    c.send(&format!("{tag} {cmd}"));
    let r = c.until_tagged(tag);
    assert!(
        r.last()
            .is_some_and(|l| l.starts_with(&format!("{tag} OK"))),
        "{cmd}: {r:?}"
    );
    r
}

/// `UID FETCH 1:* (FLAGS BODY.PEEK[])` of the selected mailbox: UID -> (flags, body).
fn fetch_all(c: &mut Imap) -> BTreeMap<u32, (String, Vec<u8>)> {
    c.send("F1 UID FETCH 1:* (FLAGS BODY.PEEK[])");
    let mut out = BTreeMap::new();
    loop {
        let r = c.response().expect("FETCH response");
        if r.starts_with(b"F1 ") {
            assert!(r.starts_with(b"F1 OK"), "{}", escape(&r));
            return out;
        }
        // * n FETCH (FLAGS (...) UID u BODY[] {len}\r\n<bytes>)
        let Some(open) = r.windows(2).position(|w| w == b"}\r") else {
            continue;
        };
        let head = String::from_utf8_lossy(&r[..open]).to_string();
        let body_start = open + 3;
        let body = r[body_start..r.len() - 1].to_vec();
        let uid: u32 = head
            .split("UID ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|s| s.parse().ok())
            .expect("UID in FETCH");
        let flags = head
            .split("FLAGS (")
            .nth(1)
            .and_then(|s| s.split(')').next())
            .unwrap_or("")
            .to_string();
        out.insert(uid, (flags, body));
    }
}

/// What each of alice's mailboxes looks like to STATUS, to tell that nothing changed.
fn status_all(c: &mut Imap) -> Vec<String> {
    let list = ok(c, "S1", "LIST \"\" \"INBOX*\"");
    let mut out = Vec::new();
    for l in list.iter().filter(|l| l.starts_with("* LIST ")) {
        let name = l.rsplit(' ').next().unwrap_or("").to_string();
        let r = ok(
            c,
            "S2",
            &format!("STATUS {name} (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)"),
        );
        out.extend(r.into_iter().filter(|l| l.starts_with("* STATUS")));
    }
    out
}

/// Every file under `dir` with its bytes, to tell that nothing changed.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap_or_default());
            }
        }
    }
    out
}

#[test]
fn mbsync_pulls_and_pushes_a_folder_tree() {
    let Some(bin) = mbsync() else {
        eprintln!("skipped: isync's mbsync is not installed");
        return;
    };
    let Some(server) = Server::start("mbsync") else {
        return;
    };
    let scratch = Scratch::new("mbsync-near");
    let local = scratch.join("mail");
    std::fs::create_dir_all(&local).expect("mkdir");
    let rc = scratch.write("mbsyncrc", &mbsyncrc(server.port, &local, no_tls(&bin)));

    // Connecting waits for master's listener; mbsync would not.
    let mut c = server.login("alice");

    // (a) Pull: every IMAP mailbox of alice arrives, message for message, byte for byte
    // (against the spool's own files), with its system flags as Maildir flags.
    run_mbsync(&bin, &rc, &[], "pull");
    let want = reference_folders();
    assert_eq!(want.len(), 4, "alice's folders in the reference: {want:?}");
    let mut got_folders: Vec<String> = Vec::new();
    for e in walkdirs(&local) {
        if e.join("cur").is_dir() {
            let rel = e
                .strip_prefix(&local)
                .expect("under local")
                .to_string_lossy();
            got_folders.push(rel.to_string());
        }
    }
    got_folders.sort();
    assert_eq!(
        got_folders,
        want.keys().cloned().collect::<Vec<_>>(),
        "Maildir folders after the pull (no #sieve: it is not an IMAP mailbox)"
    );
    for (folder, (ext, count, spool)) in &want {
        let files = synced(&local.join(folder));
        assert_eq!(files.len(), *count, "{folder}: messages pulled");
        assert_eq!(messages(&local.join(folder)).len(), *count, "{folder}");
        ok(&mut c, "E1", &format!("EXAMINE {ext}"));
        let served = fetch_all(&mut c);
        assert_eq!(
            served.keys().collect::<Vec<_>>(),
            files.keys().collect::<Vec<_>>(),
            "{folder}: UIDs"
        );
        for (uid, file) in &files {
            let on_disk = std::fs::read(spool.join(format!("{uid}."))).expect("spool message");
            let local_bytes = std::fs::read(file).expect("Maildir message");
            assert!(
                as_served(&local_bytes) == on_disk,
                "{folder} UID {uid}: {} differs from the spool's {uid}.",
                file.display()
            );
            assert!(served[uid].1 == on_disk, "{folder} UID {uid}: BODY[]");
            assert_eq!(
                file_flags(file),
                maildir_flags(&served[uid].0),
                "{folder} UID {uid}: flags {}",
                served[uid].0
            );
        }
    }

    // (b) Push: a new folder tree with messages, flag changes and a deletion in INBOX.
    let inbox = synced(&local.join("INBOX"));
    let msg = |n: u32, subject: &str| {
        format!(
            "From: Alice Example <alice@example.org>\nTo: Bob Example <bob@example.org>\n\
             Subject: {subject}\nDate: Mon, 06 Jan 2025 1{n}:00:00 +0000\n\
             Message-ID: <push-{n}@example.org>\n\nPushed by mbsync, number {n}.\n"
        )
    };
    let pushed = [
        (
            "Projects/cur/1736157600.1_1.e2e:2,S",
            msg(1, "push one"),
            "\\Seen",
        ),
        ("Projects/new/1736161200.2_2.e2e", msg(2, "push two"), ""),
        (
            "Projects/2025/cur/1736164800.3_3.e2e:2,FS",
            msg(3, "nested push"),
            "\\Flagged \\Seen",
        ),
    ];
    for d in ["Projects", "Projects/2025"] {
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(local.join(d).join(sub)).expect("mkdir");
        }
    }
    for (path, text, _) in &pushed {
        std::fs::write(local.join(path), text).expect("write message");
    }
    // In the reference INBOX, UIDs 4, 7 and 12 carry no \Seen, \Flagged or \Deleted.
    let with_flags = |p: &Path, f: &str| {
        let name = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let base = name
            .rsplit_once(":2,")
            .map_or(name.clone(), |(b, _)| b.into());
        local.join("INBOX/cur").join(format!("{base}:2,{f}"))
    };
    std::fs::rename(&inbox[&4], with_flags(&inbox[&4], "S")).expect("mark seen");
    std::fs::rename(&inbox[&7], with_flags(&inbox[&7], "F")).expect("flag");
    std::fs::remove_file(&inbox[&12]).expect("delete locally");
    run_mbsync(&bin, &rc, &[], "push");

    let list = ok(&mut c, "P1", "LIST \"\" \"INBOX.Projects*\"");
    assert!(
        list.iter()
            .any(|l| l.ends_with(" INBOX.Projects") && l.contains("\\HasChildren")),
        "{list:?}"
    );
    assert!(
        list.iter().any(|l| l.ends_with(" INBOX.Projects.2025")),
        "{list:?}"
    );
    for (ext, which) in [("INBOX.Projects", 0..2), ("INBOX.Projects.2025", 2..3)] {
        ok(&mut c, "P2", &format!("EXAMINE {ext}"));
        let served = fetch_all(&mut c);
        assert_eq!(served.len(), which.len(), "{ext}: {served:?}");
        let mut bodies: Vec<(&[u8], String)> = served
            .values()
            .map(|(f, b)| (b.as_slice(), f.clone()))
            .collect();
        bodies.sort();
        let mut want: Vec<(Vec<u8>, &str)> = pushed[which]
            .iter()
            .map(|(_, text, flags)| (as_served(text.as_bytes()), *flags))
            .collect();
        want.sort();
        for ((got, got_flags), (want, want_flags)) in bodies.iter().zip(&want) {
            // mbsync may add its own X-TUID header to what it appends.
            assert_eq!(
                escape(&strip_tuid(got)),
                escape(want),
                "{ext}: appended message"
            );
            assert_eq!(
                system_flags(got_flags),
                *want_flags,
                "{ext}: flags of the appended message"
            );
        }
    }
    ok(&mut c, "P3", "EXAMINE INBOX");
    let served = fetch_all(&mut c);
    assert_eq!(served.len(), 15, "16 minus the one deleted locally");
    assert!(!served.contains_key(&12), "UID 12 was expunged");
    assert!(
        served[&4].0.contains("\\Seen") && served[&4].0.contains("$Label1"),
        "UID 4: {}",
        served[&4].0
    );
    assert!(
        served[&7].0.contains("\\Flagged"),
        "UID 7: {}",
        served[&7].0
    );
    assert!(
        served.values().all(|(f, _)| !f.contains("\\Deleted")),
        "nothing is left \\Deleted: {served:?}"
    );

    // (c) A third run finds nothing to do: it only reads, on both sides.
    let before_local = snapshot(&local);
    let before_far = status_all(&mut c);
    let log = run_mbsync(&bin, &rc, &["-Dn"], "third run");
    let sent: Vec<&str> = log.lines().filter_map(|l| l.strip_prefix(">>> ")).collect();
    assert!(
        !sent.is_empty(),
        "no IMAP commands in mbsync -Dn output:\n{log}"
    );
    for cmd in &sent {
        let verb: Vec<&str> = cmd.split(' ').skip(1).take(2).collect();
        let read_only = matches!(
            verb.first().copied(),
            Some(
                "LOGIN"
                    | "AUTHENTICATE"
                    | "CAPABILITY"
                    | "NAMESPACE"
                    | "LIST"
                    | "LSUB"
                    | "SELECT"
                    | "EXAMINE"
                    | "CLOSE"
                    | "LOGOUT"
            )
        ) || verb == ["UID", "FETCH"];
        assert!(read_only, "the third run sent {cmd:?}:\n{log}");
    }
    assert!(
        before_local == snapshot(&local),
        "the third run changed the Maildirs"
    );
    assert_eq!(
        before_far,
        status_all(&mut c),
        "the third run changed the server"
    );
    c.send("Z LOGOUT");
    c.until_tagged("Z");
}

/// `body` without an `X-TUID:` header line.
fn strip_tuid(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut in_header = true;
    for line in body.split_inclusive(|&b| b == b'\n') {
        if in_header && line.starts_with(b"X-TUID: ") {
            continue;
        }
        if line == b"\r\n" || line == b"\n" {
            in_header = false;
        }
        out.extend_from_slice(line);
    }
    out
}

/// `dir` and every directory below it.
fn walkdirs(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        if let Ok(rd) = std::fs::read_dir(&out[i]) {
            let mut kids: Vec<PathBuf> = rd
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir() && !["cur", "new", "tmp"].iter().any(|s| p.ends_with(s)))
                .collect();
            kids.sort();
            out.extend(kids);
        }
        i += 1;
    }
    out
}

/// What real Cyrus 3.6 answers about the sieve script store, which mbsync must not see.
#[test]
fn sieve_store_is_no_imap_mailbox() {
    let Some(server) = Server::start("imapd-sieve-store") else {
        return;
    };
    let mut c = server.login("alice");
    let list = ok(&mut c, "a1", "LIST \"\" \"*\"");
    assert!(!list.iter().any(|l| l.contains("#sieve")), "{list:?}");
    for (tag, cmd) in [("a2", "SELECT"), ("a3", "EXAMINE")] {
        c.send(&format!("{tag} {cmd} \"INBOX.#sieve\""));
        let r = c.until_tagged(tag);
        assert_eq!(r, [format!("{tag} NO Invalid mailbox type")]);
    }
}

/// LSUB as Debian's real imapd answered it on the same spool (tests/data/lsub-real-cyrus.txt):
/// `\HasChildren` for a subscribed child, and a `%` that stops above a subscription shows the
/// unsubscribed parent as `\Noselect` (RFC 3501 §6.3.9). A client that lists with LSUB
/// builds its folder tree from these.
#[test]
fn lsub_matches_real_cyrus() {
    let Some(server) = Server::start("imapd-lsub") else {
        return;
    };
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/lsub-real-cyrus.txt");
    let diffs = e2e::imap::replay(server.port, &file);
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Debian's master

/// Our imapd's pids under `m`.
fn imapd_workers(m: &mut Master) -> Vec<u32> {
    m.workers("target/debug/imapd")
        .into_iter()
        .chain(m.workers("target/release/imapd"))
        .collect()
}

/// A client's whole session with our imapd under Debian's master; returns after LOGOUT.
fn session(port: u16, n: usize) {
    let mut c = Imap::connect(port);
    let greeting = c.response().map(|r| escape(&r)).unwrap_or_default();
    assert!(greeting.starts_with("* OK "), "{greeting}");
    ok(&mut c, "a1", &format!("LOGIN alice {REF_PASSWORD}"));
    let r = ok(&mut c, "a2", "SELECT INBOX");
    assert!(r.iter().any(|l| l.ends_with(" EXISTS")), "{r:?}");
    let r = ok(
        &mut c,
        "a3",
        "UID FETCH 1 (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])",
    );
    assert!(
        r.iter().any(|l| l.contains("Subject: Welcome to Cyrus")),
        "{r:?}"
    );
    let msg = format!(
        "From: Alice Example <alice@example.org>\r\nSubject: via Debian's master {n}\r\n\r\nhi\r\n"
    );
    c.send_raw(format!("a4 APPEND INBOX (\\Seen) {{{}+}}\r\n{msg}\r\n", msg.len()).as_bytes());
    let r = c.until_tagged("a4");
    assert!(
        r.last().is_some_and(|l| l.starts_with("a4 OK [APPENDUID ")),
        "{r:?}"
    );
    let r = ok(&mut c, "a5", "UID SEARCH SUBJECT \"via Debian's master\"");
    let hits = r
        .iter()
        .find_map(|l| l.strip_prefix("* SEARCH"))
        .map_or(0, |s| s.split_whitespace().count());
    assert_eq!(hits, n, "{r:?}");
    ok(&mut c, "a6", "LOGOUT");
}

/// Debian's master's own count of ready `imap` workers, from the Prometheus report it
/// rewrites every second (`prometheus_enabled`); `None` while there is none to read.
fn ready_workers(server: &Server) -> Option<u32> {
    let report = std::fs::read_to_string(server.dir.join("conf/stats/master.txt")).ok()?;
    report.lines().find_map(|l| {
        let rest = l.strip_prefix("cyrus_master_ready_workers{service=\"imap\"")?;
        rest.split("} ").nth(1)?.split(' ').next()?.parse().ok()
    })
}

/// Waits until Debian's master counts `n` ready imap workers.
fn wait_ready(server: &Server, n: u32, why: &str) {
    wait_for(
        &format!("Debian's master to count {n} ready ({why})"),
        SOON,
        || (ready_workers(server) == Some(n)).then_some(()),
    );
}

/// A client connected and greeted, holding a worker.
fn hold(port: u16) -> Imap {
    let mut c = Imap::connect(port);
    let greeting = c.response().map(|r| escape(&r)).unwrap_or_default();
    assert!(greeting.starts_with("* OK "), "{greeting}");
    ok(&mut c, "b1", &format!("LOGIN alice {REF_PASSWORD}"));
    ok(&mut c, "b2", "EXAMINE INBOX");
    c
}

#[test]
fn debian_master_runs_our_imapd() {
    let Some(debian) = debian_bin("master") else {
        eprintln!("skipped: Debian's cyrus master (cyrus-common) is not installed");
        return;
    };
    // prefork=1: one idle worker at all times; maxchild=2: never more than two. Debian's
    // master reports its count of ready workers, which only our workers' status messages
    // move, in conf/stats/master.txt.
    let Some(mut server) = Server::launch(
        "imapd-debmaster",
        true,
        &debian,
        "prefork=1 maxchild=2",
        "prometheus_enabled: yes\nprometheus_update_freq: 1s\n",
    ) else {
        return;
    };
    let first = wait_for("Debian's master to prefork one imapd", SOON, || {
        let w = imapd_workers(&mut server.master);
        (w.len() == 1).then(|| w[0])
    });
    wait_ready(&server, 1, "the preforked worker");
    // A client holding the worker makes it report "busy"; Debian's master, down to no
    // ready worker, forks a second one. Without that report it would fork nothing.
    let held = hold(server.port);
    let both = wait_for("a second worker for prefork=1", SOON, || {
        let w = imapd_workers(&mut server.master);
        (w.len() == 2).then_some(w)
    });
    assert!(both.contains(&first), "{both:?}");
    // Its client gone, the first worker reports "ready" again.
    drop(held);
    wait_ready(&server, 2, "the first worker back from its client");
    // A full session: login, SELECT, FETCH, APPEND, SEARCH.
    session(server.port, 1);
    // Two clients at once need both workers (maxchild=2), so the first one serves again,
    // and both report "busy".
    let pair = [server.port, server.port].map(|port| std::thread::spawn(move || hold(port)));
    let clients: Vec<Imap> = pair
        .into_iter()
        .map(|t| t.join().expect("client thread"))
        .collect();
    assert_eq!(
        imapd_workers(&mut server.master),
        both,
        "the same two workers serve both clients"
    );
    wait_ready(&server, 0, "both workers busy");
    drop(clients);
    wait_ready(&server, 2, "both clients gone");
    session(server.port, 2);
    assert_eq!(imapd_workers(&mut server.master), both, "no worker died");
}

// ---------------------------------------------------------------------------------------------
// FETCH recordings

/// Commands of fetch-sections.txt whose answers we do not compare, and why.
const FETCH_SECTIONS_GAPS: &[(&str, &str, &str)] = &[(
    "fetch-sections",
    "a057",
    "RFC 3501 §9: section-part is nz-number, so BODY.PEEK[0] is a syntax error and we answer \
     BAD Invalid body section; Cyrus accepts it and answers BODY[0] NIL",
)];

/// imapd/tests/data/fetch-sections.txt: BODY[section]<partial>, HEADER.FIELDS(.NOT),
/// MIME, TEXT, RFC822.*, BINARY and more, as real Cyrus 3.6 answered them on the reference
/// spool, replayed over a socket through master and imapd.
#[test]
fn fetch_sections_replay_as_real_cyrus_answered() {
    let Some(server) = Server::start("imapd-fetch-sections") else {
        return;
    };
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../imapd/tests/data/fetch-sections.txt");
    let diffs = replay_skipping(server.port, &file, FETCH_SECTIONS_GAPS);
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}
