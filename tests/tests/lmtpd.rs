//! lmtpd and deliver end to end: our master runs our lmtpd (and, beside it, Debian's) on copies
//! of the reference spool. The deliveries of transcripts/lmtp.txt that need no Sieve get the
//! recorded replies from both; the messages ours filed are read by Debian's `mbexamine`,
//! `quota -f` and imapd with the ENVELOPE, BODYSTRUCTURE and body Debian's own lmtpd produces
//! for the same bytes. Also compared with Debian's: AUTH over TCP, recipient forms, options
//! (maxmessagesize, fuzzy match, reject8bit), awkward message bytes, and the `deliver` tool.
//! Duplicate suppression, the over-quota answers and 5,000 concurrent deliveries are checked
//! on our own instances.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use e2e::*;

/// alice's storage limit in KB, lowered from 20480 so that (as with bob in the recording) she
/// is under it (about 226 KB used) until the transcript's 3.4 KB message crosses it. bob has
/// no quota root in the reference spool, and Cyrus finds a root through cyrus.header only.
const ALICE_LIMIT_KB: &str = "228";

struct Inst {
    dir: Scratch,
    conf: PathBuf,
    sock: PathBuf,
    _master: Master,
}

fn instance(tag: &str, lmtpd: &Path) -> Option<Inst> {
    instance_with(tag, lmtpd, "")
}

/// A reference instance with `extra` appended to its imapd.conf.
fn instance_with(tag: &str, lmtpd: &Path, extra: &str) -> Option<Inst> {
    instance_services(tag, lmtpd, extra, "")
}

/// [`instance_with`], with more cyrus.conf SERVICES lines (`{conf}` stands for imapd.conf).
fn instance_services(tag: &str, lmtpd: &Path, extra: &str, services: &str) -> Option<Inst> {
    if !is_root() || cyrus_ids().is_none() || debian_bin("ctl_cyrusdb").is_none() {
        eprintln!("skipped: needs root, the cyrus user and Debian's cyrus-common");
        return None;
    }
    let dir = Scratch::new(tag);
    let conf = reference_instance(&dir)?;
    if !extra.is_empty() {
        let text = std::fs::read_to_string(&conf).ok()? + extra;
        std::fs::write(&conf, text).ok()?;
    }
    let qfile = dir.join("conf/quota/a/user.alice");
    let q = std::fs::read_to_string(&qfile).ok()?;
    std::fs::write(
        &qfile,
        q.replacen(" 20480)", &format!(" {ALICE_LIMIT_KB})"), 1),
    )
    .ok()?;
    let sock = dir.join("conf/socket/lmtp");
    let text = format!(
        "START {{\n  recover cmd=\"{DEBIAN_BIN}/ctl_cyrusdb -C {c} -r\"\n}}\nSERVICES {{\n  lmtpunix cmd=\"{l} -C {c}\" listen=\"{s}\" prefork=0 maxchild=5\n{x}}}\n",
        c = conf.display(),
        l = lmtpd.display(),
        s = sock.display(),
        x = services.replace("{conf}", &conf.to_string_lossy())
    );
    let cyrus_conf = dir.write("etc/cyrus.conf", &text);
    dir.give_to_cyrus();
    let master = Master::start(&our_bin("master"), &dir, &conf, &cyrus_conf);
    wait_for("the lmtp socket", SOON, || {
        UnixStream::connect(&sock).ok().map(|_| ())
    });
    Some(Inst {
        dir,
        conf,
        sock,
        _master: master,
    })
}

/// One exchange of a transcript: what the client sends, then the lines of the replies.
#[derive(Debug, Clone)]
struct Exchange {
    client: Vec<String>,
    server: Vec<String>,
}

fn is_last_line(l: &str) -> bool {
    l.as_bytes().get(3) != Some(&b'-')
}

/// The exchanges of transcripts/lmtp.txt as they go over the unix socket: the TCP-only AUTH
/// part (430, AUTH, 235) is left out and LHLO offers AUTH EXTERNAL, as Debian's does there.
fn transcript() -> Vec<Exchange> {
    transcript_for(false)
}

/// The exchanges of transcripts/lmtp.txt; over TCP (`tcp`) exactly as recorded, AUTH included,
/// else as they go over the unix socket (see [`transcript`]). The over-quota part goes to
/// alice either way (see ALICE_LIMIT_KB).
fn transcript_for(tcp: bool) -> Vec<Exchange> {
    let text = std::fs::read_to_string(reference_dir().join("transcripts/lmtp.txt"))
        .expect("transcripts/lmtp.txt");
    let mut v: Vec<Exchange> = Vec::new();
    for line in text.lines() {
        let (is_client, rest) = if let Some(r) = line.strip_prefix("C: ") {
            (true, r)
        } else if let Some(r) = line.strip_prefix("S: ") {
            (false, r)
        } else if line == "C:" {
            (true, "")
        } else {
            continue;
        };
        let start_new = match v.last() {
            None => true,
            Some(x) => is_client && !x.server.is_empty(),
        };
        if start_new {
            v.push(Exchange {
                client: Vec::new(),
                server: Vec::new(),
            });
        }
        let x = v.last_mut().expect("pushed");
        let rest = if rest == "250-AUTH PLAIN LOGIN" && !tcp {
            "250-AUTH EXTERNAL"
        } else {
            rest
        };
        if is_client {
            x.client.push(rest.to_string());
        } else {
            x.server.push(rest.to_string());
        }
    }
    // The over-quota part goes to alice (see ALICE_LIMIT_KB).
    let mut after_rset = false;
    for x in &mut v {
        if after_rset {
            for l in &mut x.client {
                *l = l.replace("<bob@example.org>", "<alice@example.org>");
            }
        }
        after_rset |= x.client.iter().any(|l| l == "RSET");
    }
    v.retain(|x| {
        tcp || !x
            .server
            .first()
            .is_some_and(|s| s.starts_with("430") || s.starts_with("235"))
    });
    v
}

fn normalise(l: &str) -> String {
    match l.find("SESSIONID=<") {
        Some(i) => format!("{}SESSIONID=<*>", &l[..i]),
        None => l.to_string(),
    }
}

struct Lmtp {
    r: BufReader<UnixStream>,
    w: UnixStream,
}

impl Lmtp {
    fn connect(sock: &Path) -> Lmtp {
        let s = UnixStream::connect(sock).expect("connect lmtp");
        s.set_read_timeout(Some(Duration::from_secs(30))).ok();
        Lmtp {
            r: BufReader::new(s.try_clone().expect("clone")),
            w: s,
        }
    }

    fn send(&mut self, line: &str) {
        self.w
            .write_all(format!("{line}\r\n").as_bytes())
            .expect("send");
    }

    /// Reads `n` complete replies; their lines.
    fn replies(&mut self, n: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut done = 0;
        while done < n {
            let mut l = String::new();
            if self.r.read_line(&mut l).unwrap_or(0) == 0 {
                break;
            }
            let l = l.trim_end_matches(['\r', '\n']).to_string();
            if is_last_line(&l) {
                done += 1;
            }
            out.push(l);
        }
        out
    }
}

/// Plays the exchanges; the server's lines, normalised.
fn play(sock: &Path, script: &[Exchange]) -> Vec<String> {
    let mut c = Lmtp::connect(sock);
    let mut got = Vec::new();
    for x in script {
        for l in &x.client {
            c.send(l);
        }
        let n = x.server.iter().filter(|l| is_last_line(l)).count();
        got.extend(c.replies(n).iter().map(|l| normalise(l)));
    }
    got
}

fn expected(script: &[Exchange]) -> Vec<String> {
    script
        .iter()
        .flat_map(|x| x.server.iter().map(|l| normalise(l)))
        .collect()
}

/// `mbexamine` of one mailbox as the cyrus user, in UTC: (success, output).
fn mbexamine(inst: &Inst, mailbox: &str) -> (bool, String) {
    let out = Command::new("su")
        .args(["cyrus", "-s", "/bin/sh", "-c"])
        .arg(format!(
            "TZ=UTC {DEBIAN_BIN}/mbexamine -C {} {mailbox}",
            inst.conf.display()
        ))
        .output()
        .expect("run mbexamine");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// The per-message cache items that do not depend on the trace headers.
fn message_items(examined: &str) -> Vec<String> {
    const ITEMS: [&str; 8] = [
        " Envel>", " BdyStr>", " Body>", " From>", " To>", " Cc>", " Bcc>", " Subjct>",
    ];
    examined
        .lines()
        .filter(|l| ITEMS.iter().any(|p| l.starts_with(p)))
        .map(str::to_string)
        .collect()
}

fn message_count(examined: &str) -> Option<String> {
    examined
        .lines()
        .find(|l| l.contains("Number of Messages:"))
        .and_then(|l| l.split("Mailbox Size").next())
        .map(|s| s.trim().to_string())
}

fn quota_check(inst: &Inst) -> String {
    let out = Command::new("su")
        .args(["cyrus", "-s", "/bin/sh", "-c"])
        .arg(format!(
            "{DEBIAN_BIN}/quota -C {} -f -q",
            inst.conf.display()
        ))
        .output()
        .expect("run quota");
    assert!(out.status.success(), "quota -f failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn transcript_deliveries_match_debian() {
    let Some(debian) = debian_bin("lmtpd") else {
        eprintln!("skipped: Debian's lmtpd is not installed");
        return;
    };
    let Some(ours) = instance("lmtpd-ours", &our_bin("lmtpd")) else {
        return;
    };
    let Some(theirs) = instance("lmtpd-debian", &debian) else {
        return;
    };
    let script = transcript();
    assert!(script.len() > 20, "transcript parsed: {script:?}");
    let want = expected(&script);
    let got_theirs = play(&theirs.sock, &script);
    assert_eq!(got_theirs, want, "Debian's lmtpd against the transcript");
    let got_ours = play(&ours.sock, &script);
    assert_eq!(got_ours, want, "our lmtpd against the transcript");

    // bob's mailbox is filed the same by both (no Sieve script for bob).
    let (ok_t, bob_t) = mbexamine(&theirs, "user.bob");
    let (ok_o, bob_o) = mbexamine(&ours, "user.bob");
    assert!(ok_t && ok_o, "mbexamine user.bob:\n{bob_o}");
    assert_eq!(message_count(&bob_o), message_count(&bob_t));
    assert_eq!(
        message_count(&bob_o).as_deref(),
        Some("Number of Messages: 4")
    );
    assert_eq!(message_items(&bob_o), message_items(&bob_t));

    // alice's messages: Debian ran her Sieve script (one went to INBOX.Archive); ours has
    // no Sieve yet, so all are in INBOX (the two +detail copies of one message count once). Each must still match one Debian filed.
    let (ok, alice_o) = mbexamine(&ours, "user.alice");
    assert!(ok, "mbexamine user.alice:\n{alice_o}");
    assert_eq!(
        message_count(&alice_o).as_deref(),
        Some("Number of Messages: 20")
    );
    let mut theirs_all = message_items(&mbexamine(&theirs, "user.alice").1);
    theirs_all.extend(message_items(&mbexamine(&theirs, "user.alice.Archive").1));
    for item in message_items(&alice_o) {
        assert!(theirs_all.contains(&item), "not filed by Debian: {item}");
    }
    for out in [&alice_o, &bob_o] {
        assert!(!out.contains("ERROR"), "{out}");
    }
    assert_eq!(quota_check(&ours), "", "quota -f finds our usage right");

    // The delivered files carry Cyrus's trace headers.
    let bob_dir = ours.dir.join("spool/uuid/h/x/hx0n4cd8d31fl37m97f64ehd");
    let first = std::fs::read_to_string(bob_dir.join("4.")).expect("bob's new message");
    let lines: Vec<&str> = first.split("\r\n").take(6).collect();
    assert_eq!(lines[0], "Return-Path: <sender@example.org>");
    assert_eq!(
        lines[1],
        "Received: from client.example.org ([unix socket])"
    );
    assert_eq!(
        lines[2],
        "\t by cyrus-ref (Cyrus 3.6.1-Debian-3.6.1-4+deb12u5) with LMTPA;"
    );
    assert!(is_date_line(lines[3]), "{}", lines[3]);
    assert!(lines[4].starts_with("X-Cyrus-Session-Id: cyrus-ref-"));
    assert_eq!(lines[5], "X-Sieve: CMU Sieve 3.0");
}

fn deliver_one(sock: &Path, rcpt: &str, message_id: &str) -> Vec<String> {
    let mut c = Lmtp::connect(sock);
    c.replies(1);
    c.send("LHLO test");
    c.replies(1);
    c.send("MAIL FROM:<sender@example.org>");
    c.send(&format!("RCPT TO:<{rcpt}>"));
    let mut got = c.replies(2);
    if got.last().is_some_and(|l| l.starts_with("250")) {
        c.send("DATA");
        c.replies(1);
        for l in [
            "From: Sender <sender@example.org>",
            "Subject: duplicate check",
            "Date: Sat, 13 Jan 2024 08:00:00 +0000",
            &format!("Message-ID: {message_id}"),
            "",
            "body",
            ".",
        ] {
            c.send(l);
        }
        got.extend(c.replies(1));
    }
    c.send("QUIT");
    got.extend(c.replies(1));
    got.iter().map(|l| normalise(l)).collect()
}

/// An IMAP client idling on the INBOX hears of a message lmtpd delivers (our imapd polls
/// the index every second while idling; the read below waits up to 30 s).
#[test]
fn an_idling_imap_client_hears_of_a_delivery() {
    let port = free_port();
    let services = format!(
        "  imap cmd=\"{} -C {{conf}}\" listen=\"127.0.0.1:{port}\" prefork=1\n",
        our_bin("imapd").display()
    );
    let Some(inst) = instance_services("lmtpd-idle", &our_bin("lmtpd"), "", &services) else {
        return;
    };
    let mut c = e2e::imap::Imap::connect(port);
    c.response();
    c.send(&format!("a LOGIN alice {REF_PASSWORD}"));
    assert!(c
        .until_tagged("a")
        .last()
        .is_some_and(|l| l.starts_with("a OK")));
    c.send("b SELECT INBOX");
    let selected = c.until_tagged("b");
    let exists: u32 = selected
        .iter()
        .find_map(|l| l.strip_suffix(" EXISTS")?.strip_prefix("* ")?.parse().ok())
        .expect("EXISTS in SELECT");
    c.send("c IDLE");
    assert_eq!(c.response().as_deref(), Some(&b"+ idling"[..]));
    let started = std::time::Instant::now();
    let got = deliver_one(&inst.sock, "alice", "<idle-delivery@example.org>");
    assert!(got.iter().any(|l| l.starts_with("250")), "{got:?}");
    let heard = c
        .response()
        .map(|r| String::from_utf8_lossy(&r).into_owned());
    eprintln!("IDLE heard of the delivery after {:?}", started.elapsed());
    assert_eq!(heard, Some(format!("* {} EXISTS", exists + 1)));
    c.send("DONE");
    assert!(c
        .until_tagged("c")
        .last()
        .is_some_and(|l| l == "c OK Completed"));
}

#[test]
fn duplicates_are_suppressed_and_quota_enforced() {
    let Some(inst) = instance("lmtpd-dup", &our_bin("lmtpd")) else {
        return;
    };
    let ok = vec![
        "250 2.1.0 ok".to_string(),
        "250 2.1.5 ok".into(),
        "250 2.1.5 Success SESSIONID=<*>".into(),
        "221 2.0.0 bye".into(),
    ];
    for _ in 0..2 {
        assert_eq!(deliver_one(&inst.sock, "alice", "<dup-1@example.org>"), ok);
    }
    let (good, out) = mbexamine(&inst, "user.alice");
    assert!(good, "{out}");
    assert_eq!(
        message_count(&out).as_deref(),
        Some("Number of Messages: 17"),
        "the second copy was dropped"
    );
    // A new Message-ID is a new message.
    assert_eq!(deliver_one(&inst.sock, "alice", "<dup-2@example.org>"), ok);
    let (_, out) = mbexamine(&inst, "user.alice");
    assert_eq!(
        message_count(&out).as_deref(),
        Some("Number of Messages: 18")
    );

    // alice (limit lowered to ALICE_LIMIT_KB): the delivery that crosses the limit goes in,
    // the next is refused at RCPT unless IGNOREQUOTA.
    let mut c = Lmtp::connect(&inst.sock);
    c.replies(1);
    let filler = "x".repeat(76);
    c.send("MAIL FROM:<sender@example.org>");
    c.send("RCPT TO:<alice>");
    c.send("DATA");
    c.send("Subject: filler");
    c.send("");
    for _ in 0..60 {
        c.send(&filler);
    }
    c.send(".");
    let got: Vec<String> = c.replies(4).iter().map(|l| normalise(l)).collect();
    assert_eq!(
        got,
        [
            "250 2.1.0 ok",
            "250 2.1.5 ok",
            "354 go ahead",
            "250 2.1.5 Success SESSIONID=<*>"
        ]
    );
    c.send("MAIL FROM:<sender@example.org>");
    c.send("RCPT TO:<alice>");
    c.send("RCPT TO:<alice> IGNOREQUOTA");
    let got: Vec<String> = c.replies(3).iter().map(|l| normalise(l)).collect();
    assert_eq!(
        got,
        [
            "250 2.1.0 ok",
            "452 4.2.2 Over quota SESSIONID=<*>",
            "250 2.1.5 ok"
        ]
    );
    assert_eq!(quota_check(&inst), "");
}

/// Sends `data` (raw bytes, CRLF or not) to bob in one transaction; the replies to DATA.
fn deliver_raw(sock: &Path, data: &[u8]) -> Vec<String> {
    let mut c = Lmtp::connect(sock);
    c.replies(1);
    c.w.write_all(
        b"LHLO edge.example.org\r\nMAIL FROM:<edge@example.org>\r\nRCPT TO:<bob>\r\nDATA\r\n",
    )
    .expect("send");
    c.replies(4);
    c.w.write_all(data).expect("send data");
    c.w.write_all(b".\r\n").expect("send dot");
    c.replies(1).iter().map(|l| normalise(l)).collect()
}

/// The last line of Received: a tab, a blank, then an RFC 822 date with a numeric zone.
fn is_date_line(l: &str) -> bool {
    let zone = l.rsplit(' ').next().unwrap_or("");
    l.starts_with("\t ")
        && zone.len() == 5
        && (zone.starts_with('+') || zone.starts_with('-'))
        && zone[1..].bytes().all(|b| b.is_ascii_digit())
}

/// A stored message with what differs on every run (time, session id, pid) masked.
fn masked(file: &Path) -> Vec<String> {
    let bytes = std::fs::read(file).unwrap_or_default();
    String::from_utf8_lossy(&bytes)
        .split("\r\n")
        .map(|l| {
            if is_date_line(l) {
                "\t <date>".to_string()
            } else if l.starts_with("X-Cyrus-Session-Id:") {
                "X-Cyrus-Session-Id: <id>".to_string()
            } else if l.starts_with("Date: ") {
                "Date: <now>".to_string()
            } else if l.starts_with("Message-ID: <cmu-lmtpd-") {
                "Message-ID: <cmu-lmtpd-made-up>".to_string()
            } else {
                l.to_string()
            }
        })
        .collect()
}

#[test]
fn stored_bytes_match_debian_for_awkward_messages() {
    let Some(debian) = debian_bin("lmtpd") else {
        eprintln!("skipped: Debian's lmtpd is not installed");
        return;
    };
    let Some(ours) = instance("lmtpd-edge-ours", &our_bin("lmtpd")) else {
        return;
    };
    let Some(theirs) = instance("lmtpd-edge-debian", &debian) else {
        return;
    };
    let cases: [(&[u8], &str); 4] = [
        (
            b"Return-Path: <old@example.org>\r\n\t(folded)\r\nFrom: a@example.org\r\nSubject: caf\xc3\xa9 8-bit\r\nX-Bare: lf\nMessage-ID: <edge-1@example.org>\r\n\r\nbody \xc3\xa9\r\nbare\nlone\rcr\r\n",
            "250 2.1.5 Success SESSIONID=<*>",
        ),
        (
            b"From: a@example.org\r\nSubject: no separator, no id, no date\r\n",
            "250 2.1.5 Success SESSIONID=<*>",
        ),
        (
            b"From: a@example.org\r\nnot a header line\r\n\r\nbody\r\n",
            "554 5.6.0 Message contains invalid header",
        ),
        (
            b"From: a@example.org\r\nSubject: \x00\r\n\r\nbody\r\n",
            "554 5.6.0 Message contains NUL characters",
        ),
    ];
    for (data, want) in cases {
        assert_eq!(deliver_raw(&theirs.sock, data), [want], "Debian's reply");
        assert_eq!(deliver_raw(&ours.sock, data), [want], "our reply");
    }
    let bob = "spool/uuid/h/x/hx0n4cd8d31fl37m97f64ehd";
    for uid in ["4.", "5."] {
        let t = masked(&theirs.dir.join(bob).join(uid));
        let o = masked(&ours.dir.join(bob).join(uid));
        assert!(t.len() > 5, "Debian stored {uid}");
        assert_eq!(o, t, "message {uid}");
    }
    assert!(
        !ours.dir.join(bob).join("6.").exists(),
        "refused messages are not stored"
    );
    let (ok, out) = mbexamine(&ours, "user.bob");
    assert!(ok && !out.contains("ERROR"), "{out}");
}

/// Our master with our lmtpd and Debian's, each on its own TCP port of 127.0.0.1, on one
/// reference spool; (dir, conf, our port, Debian's port, master).
fn tcp_pair(tag: &str, debian: &Path) -> Option<(Scratch, PathBuf, u16, u16, Master)> {
    if !is_root() || cyrus_ids().is_none() || debian_bin("ctl_cyrusdb").is_none() {
        eprintln!("skipped: needs root, the cyrus user and Debian's cyrus-common");
        return None;
    }
    let dir = Scratch::new(tag);
    let conf = reference_instance(&dir)?;
    let (ours, theirs) = (free_port(), free_port());
    let text = format!(
        "SERVICES {{\n  lmtp cmd=\"{o} -C {c}\" listen=\"127.0.0.1:{ours}\" prefork=0\n  lmtpd cmd=\"{d} -C {c}\" listen=\"127.0.0.1:{theirs}\" prefork=0\n}}\n",
        o = our_bin("lmtpd").display(),
        d = debian.display(),
        c = conf.display()
    );
    let cyrus_conf = dir.write("etc/cyrus.conf", &text);
    dir.give_to_cyrus();
    let m = Master::start(&our_bin("master"), &dir, &conf, &cyrus_conf);
    for port in [ours, theirs] {
        wait_for("the lmtp port", SOON, || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
    }
    Some((dir, conf, ours, theirs, m))
}

/// Sends each line over TCP; after a line marked `true` reads one whole reply. All reply
/// lines, session ids masked.
fn tcp_session(port: u16, script: &[(&str, bool)]) -> Vec<String> {
    let mut c = Client::connect(port);
    let mut got = vec![normalise(&c.line())];
    for (line, answered) in script {
        c.send(line);
        if !*answered {
            continue;
        }
        loop {
            let Some(l) = c.read_line() else {
                got.push("<closed>".into());
                return got;
            };
            let last = is_last_line(&l);
            got.push(normalise(&l));
            if last {
                break;
            }
        }
    }
    got
}

/// LMTP over TCP: Cyrus requires AUTH before MAIL FROM, and runs SASL (here PLAIN and LOGIN
/// against the instance's sasldb) for it. Ours answers every step as Debian's does, and a
/// message delivered after AUTH carries the same trace headers.
#[test]
fn tcp_requires_auth_as_debian() {
    let Some(debian) = debian_bin("lmtpd") else {
        eprintln!("skipped: Debian's lmtpd is not installed");
        return;
    };
    let Some((dir, _conf, ours, theirs, _m)) = tcp_pair("lmtpd-tcp", &debian) else {
        return;
    };
    let plain =
        |user: &str, pass: &str| cyrus::auth::base64_encode(format!("\0{user}\0{pass}").as_bytes());
    let good = format!("AUTH PLAIN {}", plain("admin", REF_PASSWORD));
    let bad = format!("AUTH PLAIN {}", plain("admin", "wrong"));
    let alice = format!("AUTH PLAIN {}", plain("alice", REF_PASSWORD));
    let nouser = format!("AUTH PLAIN {}", plain("nobody", "wrong"));
    let user = cyrus::auth::base64_encode(b"admin");
    let pass = cyrus::auth::base64_encode(REF_PASSWORD.as_bytes());
    let scripts: Vec<Vec<(&str, bool)>> = vec![
        vec![
            ("LHLO client.example.org", true),
            ("MAIL FROM:<sender@example.org>", true),
            ("RCPT TO:<bob>", true),
            (&good, true),
            (&good, true),
            ("MAIL FROM:<sender@example.org>", true),
            ("RCPT TO:<bob>", true),
            ("DATA", true),
            ("From: a@example.org", false),
            ("Subject: over tcp", false),
            ("Message-ID: <tcp-@PORT@@example.org>", false),
            ("Date: Sat, 13 Jan 2024 08:00:00 +0000", false),
            ("", false),
            ("body", false),
            (".", true),
            ("QUIT", true),
        ],
        vec![
            ("AUTH", true),
            ("AUTH FOO", true),
            (&bad, true),
            (&nouser, true),
            ("AUTH PLAIN !!!", true),
            ("AUTH PLAIN", true),
            ("*", true),
            ("AUTH LOGIN", true),
            (&user, true),
            ("not base64", true),
            ("AUTH LOGIN", true),
            (&user, true),
            (&pass, true),
            ("MAIL FROM:<s@example.org>", true),
            ("QUIT", true),
        ],
        vec![("AUTH PLAIN !!!!", true), ("QUIT", true)],
        vec![("AUTH PLAIN YWJj", true), ("QUIT", true)],
        // Base64 cut short starts the exchange without an initial response. (Any response
        // but `*` to that exchange makes Debian's lmtpd drop the connection; ours answers
        // 501 and carries on, so that case is not compared.)
        vec![("AUTH PLAIN abc", true), ("*", true), ("QUIT", true)],
        vec![("AUTH PLAIN =", true), ("QUIT", true)],
        vec![("AUTH PLAIN", true), ("*", true), ("QUIT", true)],
        vec![("AUTH PLAIN", true), ("", true), ("QUIT", true)],
        vec![("AUTH LOGIN", true), ("*", true), ("QUIT", true)],
        vec![
            ("auth login", true),
            (&user, true),
            ("", true),
            ("QUIT", true),
        ],
        vec![("AUTH EXTERNAL", true), ("QUIT", true)],
        vec![("AUTH PLAIN ", true), ("QUIT", true)],
        vec![
            ("MAIL FROM:<x>", true),
            ("AUTH PLAIN AGFkbWluAHNlY3JldA==", true),
            ("MAIL FROM:<x>", true),
            ("RSET", true),
            ("QUIT", true),
        ],
        vec![
            ("RSET", true),
            ("NOOP", true),
            ("VRFY bob", true),
            ("QUIT", true),
        ],
        vec![
            (&alice, true),
            ("MAIL FROM:<x>", true),
            ("RCPT TO:<bob+Work>", true),
            ("RCPT TO:<alice+Work>", true),
            ("QUIT", true),
        ],
    ];
    // The two copies of the first message differ in Message-ID, or the second would be
    // dropped as a duplicate of the first.
    let for_port = |script: &Vec<(&str, bool)>, port: u16| -> Vec<(String, bool)> {
        script
            .iter()
            .map(|(l, a)| (l.replace("@PORT@", &port.to_string()), *a))
            .collect()
    };
    for script in &scripts {
        let (t, o) = (for_port(script, theirs), for_port(script, ours));
        let t: Vec<(&str, bool)> = t.iter().map(|(l, a)| (l.as_str(), *a)).collect();
        let o: Vec<(&str, bool)> = o.iter().map(|(l, a)| (l.as_str(), *a)).collect();
        let want = tcp_session(theirs, &t);
        let got = tcp_session(ours, &o);
        assert_eq!(got, want, "ours (left) vs Debian's (right)");
    }
    let bob = dir.join("spool/uuid/h/x/hx0n4cd8d31fl37m97f64ehd");
    // Ours and Debian's shared one spool: bob got UID 4 from one and 5 from the other.
    let id = |v: Vec<String>| -> Vec<String> {
        v.into_iter()
            .map(|l| {
                if l.starts_with("Message-ID: <tcp-") {
                    "Message-ID: <tcp-port>".into()
                } else {
                    l
                }
            })
            .collect()
    };
    let (a, b) = (id(masked(&bob.join("4."))), id(masked(&bob.join("5."))));
    assert!(a.len() > 6, "a message was delivered over TCP");
    assert_eq!(a, b, "same bytes from both over TCP");
    assert_eq!(
        a[1],
        "Received: from client.example.org (localhost [127.0.0.1])"
    );
}

/// `maxmessagesize`: SIZE= over it is refused (yet the transaction has begun), and a message
/// over it gets one 552 naming its size as it would be stored, from ours as from Debian's.
#[test]
fn maxmessagesize_as_debian() {
    let Some(debian) = debian_bin("lmtpd") else {
        eprintln!("skipped: Debian's lmtpd is not installed");
        return;
    };
    let extra = "maxmessagesize: 1000\n";
    let Some(ours) = instance_with("lmtpd-max-ours", &our_bin("lmtpd"), extra) else {
        return;
    };
    let Some(theirs) = instance_with("lmtpd-max-debian", &debian, extra) else {
        return;
    };
    let mut answers = Vec::new();
    for inst in [&theirs, &ours] {
        let mut c = Lmtp::connect(&inst.sock);
        c.replies(1);
        c.send("LHLO x");
        let caps = c.replies(1);
        assert!(caps.contains(&"250-SIZE 1000".to_string()), "{caps:?}");
        c.send("MAIL FROM:<s@example.org> SIZE=5000");
        c.send("MAIL FROM:<s@example.org>");
        c.send("RCPT TO:<bob>");
        c.send("RCPT TO:<alice>");
        c.send("DATA");
        c.send("Subject: big");
        c.send("");
        for _ in 0..30 {
            c.send(&"x".repeat(70));
        }
        c.send(".");
        c.send("NOOP");
        answers.push(c.replies(7));
    }
    // The size differs by the length of the session ids and pids in the trace headers.
    let shape = |v: &Vec<String>| -> Vec<String> {
        v.iter()
            .map(|l| match (l.find('('), l.find(')')) {
                (Some(a), Some(b)) if l.starts_with("552 5.2.3 Message size") && a < b => {
                    format!("{}(n){}", &l[..a], &l[b + 1..])
                }
                _ => l.clone(),
            })
            .collect()
    };
    assert_eq!(shape(&answers[1]), shape(&answers[0]));
    assert_eq!(
        shape(&answers[1]),
        [
            "552 5.2.3 Message SIZE exceeds fixed maximum message size (1000)",
            "503 5.5.1 Nested MAIL command",
            "250 2.1.5 ok",
            "250 2.1.5 ok",
            "354 go ahead",
            "552 5.2.3 Message size (n) exceeds fixed maximum message size (1000)",
            "250 2.0.0 ok",
        ]
    );
}

/// Users of the load test, and messages per connection.
const LOAD_USERS: usize = 50;
const LOAD_CONNECTIONS: usize = 8;
const LOAD_MESSAGES: usize = 5000;

/// Adds mailboxes `user.load00` .. for the load test (entry in mailboxes.db, empty mailbox
/// files in the uuid layout), before master starts.
fn add_load_users(conf: &Path) -> Vec<PathBuf> {
    (0..LOAD_USERS)
        .map(|n| {
            let user = format!("load{n:02}");
            add_mailbox(conf, &format!("user.{user}"), &user, n as u32)
        })
        .collect()
}

/// Adds the mailbox `name` (internal) owned by `owner` to mailboxes.db and makes its empty
/// files in the uuid layout (uniqueid made from `n`); its directory.
fn add_mailbox(conf: &Path, name: &str, owner: &str, n: u32) -> PathBuf {
    use cyrus::mailbox::header::Header;
    use cyrus::mailbox::Mailbox;
    use cyrus::mboxlist::paths::{self, Area};
    use cyrus::mboxlist::{Acl, MailboxList, MboxEntry};
    use cyrus::mboxname::InternalName;
    let config = cyrus::config::Config::load(conf, None).expect("imapd.conf");
    let mut list = MailboxList::open(&config, None).expect("mailboxes.db");
    let uniqueid = format!("testbox{n:04}xxxxxxxxxxxxx");
    let acl = vec![(owner.to_string(), "lrswipkxtecdan".to_string())];
    let mut e = MboxEntry::new(InternalName::new(name).expect("name"));
    e.uniqueid = Some(uniqueid.clone());
    e.partition = Some("default".into());
    e.uidvalidity = 1_800_000_000 + n;
    e.createdmodseq = 1;
    e.foldermodseq = 1;
    e.acl = Some(Acl(acl.clone()));
    list.create(&mut e).expect("add the mailbox");
    let dir = paths::mailbox_dir(&config, &e, Area::Data).expect("mailbox dir");
    let mut h = Header::new("e", name, &uniqueid);
    h.acl = Some(acl);
    drop(Mailbox::create(&dir, &h, e.uidvalidity, 1, 1_800_000_000).expect("create"));
    dir
}

fn load_message(k: usize) -> (String, Vec<String>) {
    let id = format!("<load-{k}@example.org>");
    let mut lines = vec![
        "From: Load <load@example.org>".to_string(),
        format!("To: load{:02}@example.org", k % LOAD_USERS),
        format!("Subject: load {k}"),
        "Date: Sat, 13 Jan 2024 08:00:00 +0000".into(),
        format!("Message-ID: {id}"),
        String::new(),
    ];
    // Bodies of varied length, some lines needing dot-stuffing.
    for j in 0..(k % 23 + 1) {
        lines.push(format!(".{k}.{j} {}", "z".repeat((k * 7 + j) % 70)));
    }
    (id, lines)
}

fn body_hash(body: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut h);
    h.finish()
}

/// What the message `k` is stored with after the header: its body lines, dot-unstuffed.
fn stored_body(lines: &[String]) -> Vec<u8> {
    let at = lines
        .iter()
        .position(String::is_empty)
        .unwrap_or(lines.len());
    let mut b = Vec::new();
    for l in &lines[at + 1..] {
        b.extend_from_slice(l.as_bytes());
        b.extend_from_slice(b"\r\n");
    }
    b
}

/// 5,000 messages over 8 concurrent LMTP connections (TCP, AUTH as admin) to 50 users: every
/// one is acknowledged, each user's mailbox then holds exactly its 100, each body as sent.
#[test]
fn five_thousand_messages_over_eight_connections() {
    if !is_root() || cyrus_ids().is_none() || debian_bin("ctl_cyrusdb").is_none() {
        eprintln!("skipped: needs root, the cyrus user and Debian's cyrus-common");
        return;
    }
    let dir = Scratch::new("lmtpd-load");
    let Some(conf) = reference_instance(&dir) else {
        return;
    };
    let dirs = add_load_users(&conf);
    let port = free_port();
    let text = format!(
        "SERVICES {{\n  lmtp cmd=\"{o} -C {c}\" listen=\"127.0.0.1:{port}\" prefork=0 maxchild=10\n}}\n",
        o = our_bin("lmtpd").display(),
        c = conf.display()
    );
    let cyrus_conf = dir.write("etc/cyrus.conf", &text);
    dir.give_to_cyrus();
    let _m = Master::start(&our_bin("master"), &dir, &conf, &cyrus_conf);
    let started = std::time::Instant::now();
    let threads: Vec<_> = (0..LOAD_CONNECTIONS)
        .map(|t| {
            std::thread::spawn(move || {
                let mut c = Client::connect(port);
                let mut bad = Vec::new();
                let mut expect = |c: &mut Client, what: &str, prefix: &str| {
                    let l = c.line();
                    if !l.starts_with(prefix) {
                        bad.push(format!("{what}: {l}"));
                    }
                };
                expect(&mut c, "greeting", "220 ");
                c.send("LHLO load.example.org");
                loop {
                    let l = c.line();
                    if is_last_line(&l) {
                        break;
                    }
                }
                let plain =
                    cyrus::auth::base64_encode(format!("\0admin\0{REF_PASSWORD}").as_bytes());
                c.send(&format!("AUTH PLAIN {plain}"));
                expect(&mut c, "AUTH", "235 ");
                for k in (t..LOAD_MESSAGES).step_by(LOAD_CONNECTIONS) {
                    let (_, lines) = load_message(k);
                    c.send("MAIL FROM:<load@example.org>");
                    c.send(&format!("RCPT TO:<load{:02}@example.org>", k % LOAD_USERS));
                    c.send("DATA");
                    expect(&mut c, "MAIL", "250 ");
                    expect(&mut c, "RCPT", "250 ");
                    expect(&mut c, "DATA", "354 ");
                    for l in &lines {
                        if l.starts_with('.') {
                            c.send(&format!(".{l}"));
                        } else {
                            c.send(l);
                        }
                    }
                    c.send(".");
                    expect(&mut c, &format!("message {k}"), "250 2.1.5 ");
                }
                c.send("QUIT");
                bad
            })
        })
        .collect();
    let bad: Vec<String> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("client thread"))
        .collect();
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{LOAD_MESSAGES} messages in {secs:.1} s ({:.0}/s, debug build)",
        LOAD_MESSAGES as f64 / secs
    );
    assert!(
        bad.is_empty(),
        "{} refused, first: {:?}",
        bad.len(),
        &bad[..bad.len().min(5)]
    );

    for (n, d) in dirs.iter().enumerate() {
        let mut want: Vec<(String, u64)> = (n..LOAD_MESSAGES)
            .step_by(LOAD_USERS)
            .map(|k| {
                let (id, lines) = load_message(k);
                (id, body_hash(&stored_body(&lines)))
            })
            .collect();
        let mb = cyrus::mailbox::Mailbox::open(d, cyrus::mailbox::LockMode::Read)
            .expect("open a load mailbox");
        assert_eq!(mb.index_header().exists as usize, want.len(), "load{n:02}");
        let mut got: Vec<(String, u64)> = mb
            .records()
            .iter()
            .map(|r| {
                let bytes = std::fs::read(mb.message_path(r.uid)).expect("message file");
                assert_eq!(bytes.len(), r.size as usize, "load{n:02} uid {}", r.uid);
                let split = bytes
                    .windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .expect("a header");
                let id = String::from_utf8_lossy(&bytes[..split])
                    .lines()
                    .find_map(|l| l.strip_prefix("Message-ID: ").map(str::to_string))
                    .unwrap_or_default();
                (id, body_hash(&bytes[split + 4..]))
            })
            .collect();
        want.sort();
        got.sort();
        assert_eq!(got, want, "load{n:02}: ids and body checksums");
    }
}

/// Runs `deliver` (ours or Debian's) with `args` after `-C conf`, `input` on stdin:
/// (exit status, stdout, stderr).
fn run_deliver(prog: &Path, conf: &Path, args: &[&str], input: &[u8]) -> (i32, String, String) {
    use std::process::Stdio;
    let mut child = Command::new(prog)
        .arg("-C")
        .arg(conf)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run deliver");
    let mut stdin = child.stdin.take().expect("stdin");
    // A refused run may exit before reading everything.
    let _ = stdin.write_all(input);
    drop(stdin);
    let out = child.wait_with_output().expect("deliver output");
    let name = prog.to_string_lossy().into_owned();
    let text = |b: &[u8]| String::from_utf8_lossy(b).replace(&name, "deliver");
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

/// `deliver` as Debian's: the same exit status and output for each set of flags, and the
/// same bytes filed (each run against its own instance of our lmtpd on the unix socket).
#[test]
fn deliver_matches_debian() {
    let Some(debian) = debian_bin("deliver") else {
        eprintln!("skipped: Debian's deliver is not installed");
        return;
    };
    let ours = our_bin("deliver");
    let Some(a) = instance("deliver-theirs", &our_bin("lmtpd")) else {
        return;
    };
    let Some(b) = instance("deliver-ours", &our_bin("lmtpd")) else {
        return;
    };
    let msg = |n: u32| -> Vec<u8> {
        format!(
            "From: a@example.org\nSubject: by deliver {n}\r\nMessage-ID: <deliver-{n}@example.org>\n\
             Date: Sat, 13 Jan 2024 08:00:00 +0000\n\n.leading dot\nlast line without newline"
        )
        .into_bytes()
    };
    let cases: Vec<(Vec<&str>, u32)> = vec![
        (vec!["bob"], 1),
        (
            vec![
                "-r",
                "ret@example.org",
                "-a",
                "alice",
                "-q",
                "-m",
                "Work",
                "bob",
            ],
            2,
        ),
        (vec!["-f", "f@example.org", "-d", "-e", "bob", "alice"], 3),
        (vec!["nosuchuser"], 4),
        (vec!["bob", "nosuchuser"], 5),
        (vec!["-m", "shared.team"], 6),
        (vec![], 7),
        (vec!["-E", "3", "bob"], 8),
        (vec!["-Z", "bob"], 9),
    ];
    for (args, n) in &cases {
        let want = run_deliver(&debian, &a.conf, args, &msg(*n));
        let got = run_deliver(&ours, &b.conf, args, &msg(*n));
        assert_eq!(
            got, want,
            "deliver {args:?}: ours (left) vs Debian's (right)"
        );
    }
    // bob's new messages, in both instances.
    let bob = "spool/uuid/h/x/hx0n4cd8d31fl37m97f64ehd";
    let mut uid = 4;
    loop {
        let (t, o) = (
            a.dir.join(bob).join(format!("{uid}.")),
            b.dir.join(bob).join(format!("{uid}.")),
        );
        assert_eq!(t.exists(), o.exists(), "bob's {uid}.");
        if !t.exists() {
            break;
        }
        assert_eq!(masked(&o), masked(&t), "bob's {uid}.");
        uid += 1;
    }
    assert!(uid > 6, "deliver filed messages for bob");

    // No lmtpd to talk to.
    let conf = b.dir.write(
        "etc/nolmtp.conf",
        &(std::fs::read_to_string(&b.conf).expect("conf")
            + &format!("lmtpsocket: {}\n", b.dir.join("nowhere").display())),
    );
    let want = run_deliver(&debian, &conf, &["bob"], &msg(10));
    assert_eq!(want.0, 78, "{want:?}");
    assert_eq!(run_deliver(&ours, &conf, &["bob"], &msg(10)), want);

    // -l relays an LMTP session to lmtpd.
    let session = b"LHLO relay\r\nMAIL FROM:<r@example.org>\r\nRCPT TO:<alice>\r\nDATA\r\nSubject: relayed\r\n\r\nx\r\n.\r\nQUIT\r\n";
    let (code, out, _) = run_deliver(&ours, &b.conf, &["-l"], session);
    assert_eq!(code, 0);
    let lines: Vec<String> = out.lines().map(normalise).collect();
    assert_eq!(lines.first().map(|l| &l[..4]), Some("220 "), "{lines:?}");
    assert_eq!(
        lines[lines.len() - 5..],
        [
            "250 2.1.0 ok",
            "250 2.1.5 ok",
            "354 go ahead",
            "250 2.1.5 Success SESSIONID=<*>",
            "221 2.0.0 bye"
        ],
        "{lines:?}"
    );
}

/// Recipient forms (detail folders with and without the post right, shared folders, case,
/// odd syntax) get the same replies from ours and Debian's, and each message lands in the
/// same mailbox.
#[test]
fn recipient_forms_as_debian() {
    let Some(debian) = debian_bin("lmtpd") else {
        eprintln!("skipped: Debian's lmtpd is not installed");
        return;
    };
    let Some(ours) = instance("lmtpd-rcpt-ours", &our_bin("lmtpd")) else {
        return;
    };
    let Some(theirs) = instance("lmtpd-rcpt-debian", &debian) else {
        return;
    };
    let addrs = [
        "+shared.team",
        "+shared",
        "+Shared.team",
        "+nosuch",
        "alice+Archive",
        "alice+archive",
        "alice+Archive.2024",
        "alice+Sent",
        "ALICE+Sent",
        "Alice@Example.ORG",
        "bob+",
        "bob+nosuch",
        "alice+#sieve",
        "user.bob",
        "bob@",
        "@bob",
        "\"bob\"",
        "bob bob",
    ];
    let mailboxes = [
        "shared",
        "shared.team",
        "user.alice",
        "user.alice.Archive",
        "user.alice.Archive.2024",
        "user.alice.Sent",
        "user.bob",
    ];
    let count = |inst: &Inst| -> Vec<Option<String>> {
        mailboxes
            .iter()
            .map(|m| message_count(&mbexamine(inst, m).1))
            .collect()
    };
    let before = (count(&theirs), count(&ours));
    assert_eq!(before.0, before.1, "the same spool to start with");
    let mut wrong = Vec::new();
    for (i, addr) in addrs.iter().enumerate() {
        let mut got = Vec::new();
        for inst in [&theirs, &ours] {
            let mut c = Lmtp::connect(&inst.sock);
            c.replies(1);
            c.send("LHLO x");
            c.replies(1);
            c.send("MAIL FROM:<s@example.org>");
            c.send(&format!("RCPT TO:<{addr}>"));
            let mut r = c.replies(2);
            if r.last().is_some_and(|l| l.starts_with("250")) {
                c.send("DATA");
                c.replies(1);
                c.send("Subject: rcpt form");
                c.send(&format!("Message-ID: <rcpt-{i}@example.org>"));
                c.send("");
                c.send("body");
                c.send(".");
                r.extend(c.replies(1));
            }
            got.push((
                r.iter().map(|l| normalise(l)).collect::<Vec<_>>(),
                count(inst),
            ));
        }
        if got[1] != got[0] {
            wrong.push(format!(
                "RCPT TO:<{addr}>\n  ours:     {:?}\n  Debian's: {:?}",
                got[1], got[0]
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // Once anyone may post to shared.team, +shared.team delivers into it.
    for inst in [&theirs, &ours] {
        use cyrus::mailbox::header::Header;
        use cyrus::mboxlist::paths::{self, Area};
        let config = cyrus::config::Config::load(&inst.conf, None).expect("conf");
        let mut list = cyrus::mboxlist::MailboxList::open(&config, None).expect("mboxlist");
        let name = cyrus::mboxname::InternalName::new("shared.team").expect("name");
        let mut e = list.lookup(&name).expect("lookup").expect("shared.team");
        let mut acl = e.acl.clone().expect("an ACL");
        for (who, rights) in &mut acl.0 {
            if who == "anyone" {
                rights.push('p');
            }
        }
        e.acl = Some(acl.clone());
        list.update(&mut e).expect("update the ACL");
        let dir = paths::mailbox_dir(&config, &e, Area::Data).expect("dir");
        let (mut h, _) = Header::read(&dir).expect("cyrus.header");
        h.acl = Some(acl.0);
        h.write(&dir).expect("write cyrus.header");
        inst.dir.give_to_cyrus();
    }
    let mut got = Vec::new();
    for inst in [&theirs, &ours] {
        let mut c = Lmtp::connect(&inst.sock);
        c.replies(1);
        c.send("LHLO x");
        c.replies(1);
        c.send("MAIL FROM:<s@example.org>");
        c.send("RCPT TO:<+shared.team>");
        c.send("DATA");
        c.send("Subject: to a shared folder");
        c.send("Message-ID: <rcpt-shared@example.org>");
        c.send("");
        c.send("body");
        c.send(".");
        let r: Vec<String> = c.replies(4).iter().map(|l| normalise(l)).collect();
        got.push((r, message_count(&mbexamine(inst, "shared.team").1)));
    }
    assert_eq!(
        got[1], got[0],
        "+shared.team with p: ours (left) vs Debian's"
    );
    assert_eq!(got[1].1.as_deref(), Some("Number of Messages: 2"));
}

/// `lmtp_fuzzy_mailbox_match` and `reject8bit` on: the same replies from ours and Debian's,
/// and each message lands in the same mailbox.
#[test]
fn fuzzy_match_and_reject8bit_as_debian() {
    let Some(debian) = debian_bin("lmtpd") else {
        eprintln!("skipped: Debian's lmtpd is not installed");
        return;
    };
    let extra = "lmtp_fuzzy_mailbox_match: yes\nreject8bit: yes\n";
    let Some(ours) = instance_with("lmtpd-fuzzy-ours", &our_bin("lmtpd"), extra) else {
        return;
    };
    let Some(theirs) = instance_with("lmtpd-fuzzy-debian", &debian, extra) else {
        return;
    };
    let mailboxes = [
        "user.alice",
        "user.alice.Archive",
        "user.alice.Archive.2024",
        "user.alice.Sent",
    ];
    let count = |inst: &Inst| -> Vec<Option<String>> {
        mailboxes
            .iter()
            .map(|m| message_count(&mbexamine(inst, m).1))
            .collect()
    };
    // alice+Sent and the like go to INBOX unless anyone may post, so give anyone p on all of
    // alice's folders first.
    for inst in [&theirs, &ours] {
        use cyrus::mailbox::header::Header;
        use cyrus::mboxlist::paths::{self, Area};
        let config = cyrus::config::Config::load(&inst.conf, None).expect("conf");
        let mut list = cyrus::mboxlist::MailboxList::open(&config, None).expect("mboxlist");
        for m in &mailboxes[1..] {
            let name = cyrus::mboxname::InternalName::new(*m).expect("name");
            let mut e = list.lookup(&name).expect("lookup").expect("exists");
            let mut acl = e.acl.clone().expect("an ACL");
            acl.0.push(("anyone".into(), "p".into()));
            e.acl = Some(acl.clone());
            list.update(&mut e).expect("update the ACL");
            let dir = paths::mailbox_dir(&config, &e, Area::Data).expect("dir");
            let (mut h, _) = Header::read(&dir).expect("cyrus.header");
            h.acl = Some(acl.0);
            h.write(&dir).expect("write cyrus.header");
        }
        inst.dir.give_to_cyrus();
    }
    let cases: Vec<(&str, &[u8])> = vec![
        ("alice+Archive", b"Subject: exact\r\n"),
        ("alice+archive", b"Subject: lower\r\n"),
        ("alice+ARCHIVE.2024", b"Subject: upper\r\n"),
        ("alice+archive 2024", b"Subject: blank\r\n"),
        ("alice+archive/2024", b"Subject: slash\r\n"),
        ("alice+archive_2024", b"Subject: underscore\r\n"),
        ("alice+sen", b"Subject: prefix\r\n"),
        ("alice+sent", b"Subject: caf\xc3\xa9 8-bit header\r\n"),
        (
            "alice+sent",
            b"Subject: plain\r\n\r\n8-bit body \xc3\xa9\r\n",
        ),
    ];
    let mut wrong = Vec::new();
    for (i, (addr, head)) in cases.iter().enumerate() {
        let mut got = Vec::new();
        for inst in [&theirs, &ours] {
            let mut c = Lmtp::connect(&inst.sock);
            c.replies(1);
            c.w.write_all(
                format!("LHLO x\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<{addr}>\r\n").as_bytes(),
            )
            .expect("send");
            let mut r = c.replies(3);
            if r.last().is_some_and(|l| l.starts_with("250")) {
                c.send("DATA");
                c.replies(1);
                c.send(&format!("Message-ID: <fuzzy-{i}@example.org>"));
                c.w.write_all(head).expect("send");
                c.w.write_all(b"\r\nbody\r\n.\r\n").expect("send");
                r.extend(c.replies(1));
            }
            got.push((
                r.iter().map(|l| normalise(l)).collect::<Vec<_>>(),
                count(inst),
            ));
        }
        if got[1] != got[0] {
            wrong.push(format!(
                "RCPT TO:<{addr}> {}\n  ours:     {:?}\n  Debian's: {:?}",
                String::from_utf8_lossy(head).trim(),
                got[1],
                got[0]
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Every message body sent with DATA in transcripts/lmtp.txt, as its wire lines.
fn transcript_messages() -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(reference_dir().join("transcripts/lmtp.txt"))
        .expect("transcripts/lmtp.txt");
    let mut out = Vec::new();
    let mut cur: Option<Vec<String>> = None;
    for line in text.lines() {
        let c = match line.strip_prefix("C: ") {
            Some(r) => r,
            None if line == "C:" => "",
            None => continue,
        };
        match (&mut cur, c) {
            (None, "DATA") => cur = Some(Vec::new()),
            (Some(_), ".") => out.extend(cur.take()),
            (Some(m), l) => m.push(l.to_string()),
            (None, _) => {}
        }
    }
    out
}

/// Reads IMAP lines up to the tagged reply of `tag`.
fn imap_until(c: &mut Client, tag: &str) -> Vec<String> {
    let mut v = Vec::new();
    while let Some(l) = c.read_line() {
        let done = l.starts_with(&format!("{tag} "));
        v.push(l);
        if done {
            break;
        }
    }
    v
}

/// The first acceptance point of #6: the transcript's messages delivered to bob by ours and by
/// Debian's lmtpd, each on its own copy of the reference spool, are then served by Debian's
/// imapd with the same ENVELOPE, BODYSTRUCTURE and body.
#[test]
fn debian_imapd_serves_our_deliveries_as_its_own() {
    let (Some(debian), Some(imapd)) = (debian_bin("lmtpd"), debian_imapd()) else {
        eprintln!("skipped: needs Debian's lmtpd and imapd");
        return;
    };
    let port_ours = free_port();
    let port_theirs = free_port();
    let svc = |port: u16| {
        format!(
            "  imap cmd=\"{} -C {{conf}}\" listen=\"127.0.0.1:{port}\" prefork=0 maxchild=3\n",
            imapd.display()
        )
    };
    let Some(ours) = instance_services("imap-ours", &our_bin("lmtpd"), "", &svc(port_ours)) else {
        return;
    };
    let Some(theirs) = instance_services("imap-debian", &debian, "", &svc(port_theirs)) else {
        return;
    };
    let mut messages = transcript_messages();
    assert!(messages.len() >= 4, "{} messages", messages.len());
    // And a few that lmtpd has to change: 8-bit header bytes, a Return-Path to drop, nested
    // multiparts, an encoded word.
    let extra: [&[&str]; 2] = [
        &[
            "Return-Path: <old@example.org>",
            "From: =?utf-8?q?J=C3=BCrgen?= <j@example.org>",
            "To: bob@example.org",
            "Subject: caf\u{e9} 8-bit",
            "Date: Sat, 13 Jan 2024 08:00:00 +0100",
            "Message-ID: <imap-edge-1@example.org>",
            "",
            "body",
        ],
        &[
            "From: a@example.org",
            "To: bob@example.org, Alice <alice@example.org>",
            "Subject: nested",
            "Date: Sat, 13 Jan 2024 09:00:00 +0000",
            "Message-ID: <imap-edge-2@example.org>",
            "MIME-Version: 1.0",
            "Content-Type: multipart/mixed; boundary=\"outer\"",
            "",
            "--outer",
            "Content-Type: multipart/alternative; boundary=\"inner\"",
            "",
            "--inner",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: quoted-printable",
            "",
            "caf=C3=A9",
            "--inner",
            "Content-Type: text/html",
            "",
            "<p>caf&eacute;</p>",
            "--inner--",
            "--outer",
            "Content-Type: message/rfc822",
            "",
            "From: c@example.org",
            "Subject: inner",
            "",
            "inner body",
            "--outer--",
        ],
    ];
    messages.extend(
        extra
            .iter()
            .map(|m| m.iter().map(|l| l.to_string()).collect::<Vec<_>>()),
    );
    for inst in [&theirs, &ours] {
        for m in &messages {
            let mut c = Lmtp::connect(&inst.sock);
            c.replies(1);
            c.send("LHLO imap-check");
            c.replies(1);
            c.send("MAIL FROM:<sender@example.org>");
            c.send("RCPT TO:<bob> IGNOREQUOTA");
            c.send("DATA");
            for l in m {
                c.send(l);
            }
            c.send(".");
            let r = c.replies(4);
            assert!(r[3].starts_with("250 2.1.5"), "{r:?}");
        }
    }
    let mut fetched = Vec::new();
    for port in [port_theirs, port_ours] {
        let mut c = Client::connect(port);
        assert!(c.line().starts_with("* OK"));
        c.send(&format!("a1 LOGIN bob {REF_PASSWORD}"));
        assert!(imap_until(&mut c, "a1")
            .last()
            .is_some_and(|l| l.starts_with("a1 OK")));
        c.send("a2 EXAMINE INBOX");
        imap_until(&mut c, "a2");
        c.send("a3 FETCH 4:* (ENVELOPE BODYSTRUCTURE BODY.PEEK[TEXT] BODY.PEEK[1] BINARY.SIZE[1])");
        let r = imap_until(&mut c, "a3");
        assert!(r.last().is_some_and(|l| l.starts_with("a3 OK")), "{r:?}");
        c.send("a4 LOGOUT");
        imap_until(&mut c, "a4");
        fetched.push(r);
    }
    let fetches = fetched[0].iter().filter(|l| l.contains(" FETCH (")).count();
    assert_eq!(fetches, messages.len(), "{:?}", fetched[0]);
    assert_eq!(
        fetched[1], fetched[0],
        "Debian's imapd on ours (left) and on Debian's deliveries"
    );
}

/// lmtpd workers killed with SIGKILL again and again while 4 clients deliver 600 messages over
/// the unix socket, each client retrying a message until it gets its 250 (as an MTA does).
/// Afterwards every message is in its mailbox, every index record has its complete file, and
/// Debian's mbexamine reads the mailboxes without complaint. A message killed after it was
/// filed but before its 250 may be there twice (the retry is a new delivery once deliver.db
/// has no mark for it); none is lost.
#[test]
fn lmtpd_killed_mid_delivery_loses_nothing_acknowledged() {
    if !is_root() || cyrus_ids().is_none() || debian_bin("mbexamine").is_none() {
        eprintln!("skipped: needs root, the cyrus user and Debian's cyrus-common");
        return;
    }
    const CLIENTS: usize = 4;
    const MESSAGES: usize = 600;
    let dir = Scratch::new("lmtpd-kill");
    let Some(conf) = reference_instance(&dir) else {
        return;
    };
    let dirs = add_load_users(&conf);
    let sock = dir.join("conf/socket/lmtp");
    let text = format!(
        "SERVICES {{\n  lmtpunix cmd=\"{l} -C {c}\" listen=\"{s}\" prefork=0 maxchild=10\n}}\n",
        l = our_bin("lmtpd").display(),
        c = conf.display(),
        s = sock.display()
    );
    let cyrus_conf = dir.write("etc/cyrus.conf", &text);
    dir.give_to_cyrus();
    let master = Master::start(&our_bin("master"), &dir, &conf, &cyrus_conf);
    wait_for("the lmtp socket", SOON, || UnixStream::connect(&sock).ok());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let master_pid = master.pid();
    let killer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut kills = 0u32;
            let mut n: u64 = 0x9e37_79b9;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                n ^= n << 13;
                n ^= n >> 7;
                n ^= n << 17;
                std::thread::sleep(Duration::from_millis(10 + n % 30));
                let workers: Vec<u32> = children_of(master_pid)
                    .into_iter()
                    .filter(|p| cmdline(*p).contains("lmtpd"))
                    .collect();
                if let Some(p) = workers.get(n as usize % workers.len().max(1)) {
                    signal(*p, libc::SIGKILL);
                    kills += 1;
                }
            }
            kills
        })
    };
    let retries: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|t| {
                let sock = &sock;
                s.spawn(move || {
                    let mut retries = 0;
                    let mut conn: Option<Lmtp> = None;
                    for k in (t..MESSAGES).step_by(CLIENTS) {
                        let (_, lines) = load_message(k);
                        let deadline = std::time::Instant::now() + Duration::from_secs(120);
                        loop {
                            assert!(std::time::Instant::now() < deadline, "message {k} stuck");
                            let c = match conn.as_mut() {
                                Some(c) => c,
                                None => {
                                    let Ok(s) = UnixStream::connect(sock) else {
                                        std::thread::sleep(Duration::from_millis(20));
                                        continue;
                                    };
                                    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
                                    let mut c = Lmtp {
                                        r: BufReader::new(s.try_clone().expect("clone")),
                                        w: s,
                                    };
                                    if c.replies(1).first().is_none_or(|l| !l.starts_with("220")) {
                                        retries += 1;
                                        continue;
                                    }
                                    conn.insert(c)
                                }
                            };
                            let mut wire = format!(
                                "MAIL FROM:<load@example.org>\r\nRCPT TO:<load{:02}>\r\nDATA\r\n",
                                k % LOAD_USERS
                            );
                            for l in &lines {
                                if l.starts_with('.') {
                                    wire.push('.');
                                }
                                wire.push_str(l);
                                wire.push_str("\r\n");
                            }
                            wire.push_str(".\r\n");
                            let sent = c.w.write_all(wire.as_bytes()).is_ok();
                            let r = if sent { c.replies(4) } else { Vec::new() };
                            if r.len() == 4 && r[3].starts_with("250 2.1.5") {
                                break;
                            }
                            // Killed (or refused): the MTA tries again on a new connection.
                            retries += 1;
                            conn = None;
                        }
                    }
                    retries
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("client")).sum()
    });
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let kills = killer.join().expect("killer");
    eprintln!("{kills} workers killed, {retries} deliveries retried");
    assert!(
        kills >= 5 && retries >= 5,
        "only {kills} kills, {retries} retries"
    );

    let mut twice = 0;
    for (n, d) in dirs.iter().enumerate() {
        let mb = cyrus::mailbox::Mailbox::open(d, cyrus::mailbox::LockMode::Read)
            .expect("open a mailbox");
        let mut ids: Vec<String> = mb
            .records()
            .iter()
            .map(|r| {
                let bytes = std::fs::read(mb.message_path(r.uid))
                    .unwrap_or_else(|e| panic!("load{n:02} uid {} has no file: {e}", r.uid));
                assert_eq!(bytes.len(), r.size as usize, "load{n:02} uid {}", r.uid);
                String::from_utf8_lossy(&bytes)
                    .lines()
                    .find_map(|l| l.strip_prefix("Message-ID: ").map(str::to_string))
                    .unwrap_or_default()
            })
            .collect();
        let all = ids.len();
        ids.sort();
        ids.dedup();
        twice += all - ids.len();
        let want: Vec<String> = {
            let mut w: Vec<String> = (n..MESSAGES)
                .step_by(LOAD_USERS)
                .map(|k| load_message(k).0)
                .collect();
            w.sort();
            w
        };
        assert_eq!(ids, want, "load{n:02}: every message, once or more");
    }
    eprintln!("{twice} messages filed twice (killed between filing and 250)");
    drop(master);
    dir.give_to_cyrus();
    for n in [0, 17, 33, 49] {
        let out = Command::new("su")
            .args(["cyrus", "-s", "/bin/sh", "-c"])
            .arg(format!(
                "{DEBIAN_BIN}/mbexamine -C {} user.load{n:02}",
                conf.display()
            ))
            .output()
            .expect("run mbexamine");
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && !text.contains("ERROR"), "{text}");
    }
}

/// `lmtp_over_quota_perm_failure` and `lmtp_strict_quota`: the over-quota answers of ours and
/// Debian's at RCPT and after DATA are the same.
#[test]
fn over_quota_options_as_debian() {
    let Some(debian) = debian_bin("lmtpd") else {
        eprintln!("skipped: Debian's lmtpd is not installed");
        return;
    };
    for (tag, extra) in [
        ("perm", "lmtp_over_quota_perm_failure: yes\n"),
        ("strict", "lmtp_strict_quota: yes\n"),
    ] {
        let Some(ours) = instance_with(&format!("lmtpd-q{tag}-ours"), &our_bin("lmtpd"), extra)
        else {
            return;
        };
        let Some(theirs) = instance_with(&format!("lmtpd-q{tag}-debian"), &debian, extra) else {
            return;
        };
        let mut answers = Vec::new();
        for inst in [&theirs, &ours] {
            let mut c = Lmtp::connect(&inst.sock);
            c.replies(1);
            let mut got = Vec::new();
            // alice is about 2 KB under her limit: a 1 KB SIZE fits, a 3 KB one does not under
            // strict quota; the 4.5 KB message goes in (or not), then she is over.
            for (i, size) in [1000, 3000, 4500, 100].iter().enumerate() {
                c.send(&format!("MAIL FROM:<s@example.org> SIZE={size}"));
                c.send("RCPT TO:<alice>");
                let mut r = c.replies(2);
                if r[1].starts_with("250") {
                    c.send("DATA");
                    c.send(&format!("Message-ID: <quota-{tag}-{i}@example.org>"));
                    c.send("Subject: quota");
                    c.send("");
                    for _ in 0..(size / 80) {
                        c.send(&"q".repeat(78));
                    }
                    c.send(".");
                    r.extend(c.replies(2));
                } else {
                    c.send("RSET");
                    r.extend(c.replies(1));
                }
                got.extend(r.iter().map(|l| normalise(l)));
            }
            answers.push(got);
        }
        assert_eq!(
            answers[1], answers[0],
            "{tag}: ours (left) vs Debian's (right)"
        );
        assert!(
            answers[1].iter().any(|l| l.contains("Over quota")),
            "{tag}: {:?}",
            answers[1]
        );
    }
}

/// Virtual domains (`virtdomains: userid`): `user@domain` finds `domain!user.user`, with the
/// domain's case folded, and the same replies and filing as Debian's lmtpd.
#[test]
fn virtual_domains_as_debian() {
    let Some(debian) = debian_bin("lmtpd") else {
        eprintln!("skipped: Debian's lmtpd is not installed");
        return;
    };
    let extra = "virtdomains: userid\n";
    let Some(ours) = instance_with("lmtpd-vd-ours", &our_bin("lmtpd"), extra) else {
        return;
    };
    let Some(theirs) = instance_with("lmtpd-vd-debian", &debian, extra) else {
        return;
    };
    let boxes = |inst: &Inst| -> Vec<PathBuf> {
        let v = vec![
            add_mailbox(&inst.conf, "example.org!user.dom", "dom@example.org", 1),
            add_mailbox(
                &inst.conf,
                "example.org!user.dom.Lists",
                "dom@example.org",
                2,
            ),
            add_mailbox(&inst.conf, "other.net!user.dom", "dom@other.net", 3),
        ];
        inst.dir.give_to_cyrus();
        v
    };
    let dirs = [boxes(&theirs), boxes(&ours)];
    let addrs = [
        "dom@example.org",
        "Dom@Example.ORG",
        "dom@other.net",
        "dom+Lists@example.org",
        "dom+lists@example.org",
        "dom@nowhere.example",
        "dom",
        "bob",
        "bob@example.org",
    ];
    let mut wrong = Vec::new();
    for (i, addr) in addrs.iter().enumerate() {
        let mut got = Vec::new();
        for (inst, dirs) in [(&theirs, &dirs[0]), (&ours, &dirs[1])] {
            let mut c = Lmtp::connect(&inst.sock);
            c.replies(1);
            c.send("MAIL FROM:<s@example.org>");
            c.send(&format!("RCPT TO:<{addr}>"));
            let mut r = c.replies(2);
            if r.last().is_some_and(|l| l.starts_with("250")) {
                c.send("DATA");
                c.send(&format!("Message-ID: <vd-{i}@example.org>"));
                c.send("");
                c.send("body");
                c.send(".");
                r.extend(c.replies(2));
            }
            let counts: Vec<u32> = dirs
                .iter()
                .map(|d| {
                    cyrus::mailbox::Mailbox::open(d, cyrus::mailbox::LockMode::Read)
                        .map(|m| m.index_header().exists)
                        .unwrap_or(999)
                })
                .collect();
            got.push((r.iter().map(|l| normalise(l)).collect::<Vec<_>>(), counts));
        }
        if got[1] != got[0] {
            wrong.push(format!(
                "RCPT TO:<{addr}>\n  ours:     {:?}\n  Debian's: {:?}",
                got[1], got[0]
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// AUTH on the unix socket, where the client is trusted already: the same answers as Debian's.
#[test]
fn unix_socket_auth_as_debian() {
    let Some(debian) = debian_bin("lmtpd") else {
        eprintln!("skipped: Debian's lmtpd is not installed");
        return;
    };
    let Some(ours) = instance("lmtpd-uauth-ours", &our_bin("lmtpd")) else {
        return;
    };
    let Some(theirs) = instance("lmtpd-uauth-debian", &debian) else {
        return;
    };
    let plain = cyrus::auth::base64_encode(format!("\0admin\0{REF_PASSWORD}").as_bytes());
    let scripts: Vec<Vec<String>> = vec![
        vec![format!("AUTH PLAIN {plain}"), "MAIL FROM:<a@b>".into()],
        vec!["AUTH EXTERNAL".into(), "NOOP".into()],
        vec!["AUTH EXTERNAL =".into(), "NOOP".into()],
        vec!["AUTH FOO".into(), "NOOP".into()],
        vec!["AUTH".into(), "NOOP".into()],
        vec!["AUTH EXTERNAL".into(), "*".into(), "NOOP".into()],
        vec!["auth external".into(), "".into(), "NOOP".into()],
    ];
    let mut wrong = Vec::new();
    for script in &scripts {
        let mut got = Vec::new();
        for inst in [&theirs, &ours] {
            let mut c = Lmtp::connect(&inst.sock);
            c.replies(1);
            c.send("LHLO x");
            c.replies(1);
            let mut r = Vec::new();
            for l in script {
                c.send(l);
                r.extend(c.replies(1).iter().map(|l| normalise(l)));
            }
            got.push(r);
        }
        if got[1] != got[0] {
            wrong.push(format!(
                "{script:?}\n  ours:     {:?}\n  Debian's: {:?}",
                got[1], got[0]
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// transcripts/lmtp.txt played verbatim over TCP (430 before AUTH, AUTH PLAIN as admin, 235,
/// then the deliveries) gets the recorded replies from ours and from Debian's, each on its own
/// spool copy.
#[test]
fn transcript_over_tcp_matches_debian() {
    let Some(debian) = debian_bin("lmtpd") else {
        eprintln!("skipped: Debian's lmtpd is not installed");
        return;
    };
    let script = transcript_for(true);
    assert!(
        script
            .iter()
            .any(|x| x.client.iter().any(|l| l.starts_with("AUTH PLAIN"))),
        "the transcript authenticates"
    );
    let want = expected(&script);
    for (tag, lmtpd) in [("debian", debian), ("ours", our_bin("lmtpd"))] {
        let port = free_port();
        let svc = format!(
            "  lmtp cmd=\"{} -C {{conf}}\" listen=\"127.0.0.1:{port}\" prefork=0\n",
            lmtpd.display()
        );
        let Some(_inst) = instance_services(&format!("lmtpd-ttcp-{tag}"), &lmtpd, "", &svc) else {
            return;
        };
        let mut c = Client::connect(port);
        let mut got = vec![normalise(&c.line())];
        for x in &script[1..] {
            for l in &x.client {
                c.send(l);
            }
            let mut n = x.server.iter().filter(|l| is_last_line(l)).count();
            while n > 0 {
                let Some(l) = c.read_line() else {
                    break;
                };
                if is_last_line(&l) {
                    n -= 1;
                }
                got.push(normalise(&l));
            }
        }
        assert_eq!(got, want, "{tag}'s lmtpd against the transcript over TCP");
    }
}

/// `lmtp_catchall_mailbox`: mail for users without a mailbox goes to that user, as Debian's
/// lmtpd files it.
#[test]
fn catchall_mailbox_as_debian() {
    let Some(debian) = debian_bin("lmtpd") else {
        eprintln!("skipped: Debian's lmtpd is not installed");
        return;
    };
    let extra = "lmtp_catchall_mailbox: bob\n";
    let Some(ours) = instance_with("lmtpd-catch-ours", &our_bin("lmtpd"), extra) else {
        return;
    };
    let Some(theirs) = instance_with("lmtpd-catch-debian", &debian, extra) else {
        return;
    };
    let addrs = [
        "nosuchuser",
        "nosuchuser+folder",
        "alice",
        "alice+nosuch",
        "+nosuch.shared",
        "NoSuch@example.org",
    ];
    let mut wrong = Vec::new();
    for (i, addr) in addrs.iter().enumerate() {
        let mut got = Vec::new();
        for inst in [&theirs, &ours] {
            let mut c = Lmtp::connect(&inst.sock);
            c.replies(1);
            c.send("MAIL FROM:<s@example.org>");
            c.send(&format!("RCPT TO:<{addr}>"));
            let mut r = c.replies(2);
            if r.last().is_some_and(|l| l.starts_with("250")) {
                c.send("DATA");
                c.send(&format!("Message-ID: <catch-{i}@example.org>"));
                c.send("");
                c.send("body");
                c.send(".");
                r.extend(c.replies(2));
            }
            let counts: Vec<Option<String>> = ["user.alice", "user.bob"]
                .iter()
                .map(|m| message_count(&mbexamine(inst, m).1))
                .collect();
            got.push((r.iter().map(|l| normalise(l)).collect::<Vec<_>>(), counts));
        }
        if got[1] != got[0] {
            wrong.push(format!(
                "RCPT TO:<{addr}>\n  ours:     {:?}\n  Debian's: {:?}",
                got[1], got[0]
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// `autocreate_post`: mail for a user without an INBOX creates it (with the autocreate
/// quota and folders) and is filed there, as Debian's lmtpd does; without the option the
/// recipient is unknown.
#[test]
fn autocreate_post_as_debian() {
    let Some(debian) = debian_bin("lmtpd") else {
        eprintln!("skipped: Debian's lmtpd is not installed");
        return;
    };
    let extra =
        "autocreate_post: yes\nautocreate_quota: 4096\nautocreate_inbox_folders: Sent|Trash\n";
    let Some(ours) = instance_with("lmtpd-autocreate-ours", &our_bin("lmtpd"), extra) else {
        return;
    };
    let Some(theirs) = instance_with("lmtpd-autocreate-debian", &debian, extra) else {
        return;
    };
    let mut got = Vec::new();
    for inst in [&theirs, &ours] {
        let replies = deliver_one(&inst.sock, "carol", "<autocreate-1@example.org>");
        let inbox = message_count(&mbexamine(inst, "user.carol").1);
        let sent = mbexamine(inst, "user.carol.Sent").0;
        got.push((replies, inbox, sent));
    }
    assert_eq!(got[1], got[0], "ours, then Debian's");
    assert!(
        got[1].0.iter().any(|l| l.starts_with("250")),
        "{:?}",
        got[1]
    );
}

/// Message files under `root` whose bytes contain `needle`, as (inode, link count).
fn files_holding(root: &Path, needle: &str) -> Vec<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            let Ok(m) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if m.is_dir() {
                dirs.push(p);
            } else if p.to_string_lossy().ends_with('.')
                && std::fs::read(&p)
                    .is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
            {
                out.push((m.ino(), m.nlink()));
            }
        }
    }
    out.sort_unstable();
    out
}

/// `singleinstancestore` (on by default): one message for two recipients on one partition
/// is stored once, the second mailbox's file a hard link to the first, as Debian's does.
#[test]
fn one_message_for_two_recipients_is_stored_once_as_debian() {
    let Some(debian) = debian_bin("lmtpd") else {
        eprintln!("skipped: Debian's lmtpd is not installed");
        return;
    };
    let Some(ours) = instance("lmtpd-sis-ours", &our_bin("lmtpd")) else {
        return;
    };
    let Some(theirs) = instance("lmtpd-sis-debian", &debian) else {
        return;
    };
    let mut shapes = Vec::new();
    for inst in [&theirs, &ours] {
        let mut c = Lmtp::connect(&inst.sock);
        c.replies(1);
        c.send("LHLO test");
        c.replies(1);
        c.send("MAIL FROM:<s@example.org>");
        c.send("RCPT TO:<alice>");
        c.send("RCPT TO:<bob+Trash>");
        c.send("RCPT TO:<alice+Archive>");
        let r = c.replies(4);
        assert!(r.iter().all(|l| l.starts_with("250")), "{r:?}");
        c.send("DATA");
        c.replies(1);
        for l in [
            "Message-ID: <sis-1@example.org>",
            "Subject: once",
            "",
            "stored once",
            ".",
        ] {
            c.send(l);
        }
        let r = c.replies(3);
        assert!(r.iter().all(|l| l.starts_with("250")), "{r:?}");
        let files = files_holding(&inst.dir.join("spool"), "<sis-1@example.org>");
        let inodes: std::collections::BTreeSet<u64> = files.iter().map(|f| f.0).collect();
        let links: Vec<u64> = files.iter().map(|f| f.1).collect();
        shapes.push((files.len(), inodes.len(), links));
    }
    assert_eq!(
        shapes[1], shapes[0],
        "ours, then Debian's: (files, inodes, link counts)"
    );
    assert_eq!(shapes[1].1, 1, "one inode for all three names");
}
