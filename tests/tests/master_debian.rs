//! Our master running Debian's real Cyrus services (pop3d, and imapd taken from the
//! cyrus-imapd .deb) on a copy of the reference spool: a client logs in and reads mail.
//! Skipped, with a note, where Debian's Cyrus or root is not available.

use std::path::Path;

use e2e::*;

/// Reads an IMAP response up to the tagged line; returns all lines.
fn imap_until(c: &mut Client, tag: &str) -> Vec<String> {
    let mut lines = Vec::new();
    loop {
        let l = c.line();
        assert!(!l.is_empty(), "connection closed; got {lines:?}");
        let done = l.starts_with(&format!("{tag} "));
        lines.push(l);
        if done {
            return lines;
        }
    }
}

/// Starts our master with `services` (cyrus.conf SERVICES lines) on a reference instance.
fn start(dir: &Scratch, conf: &Path, services: &str) -> Master {
    let text = format!(
        "START {{\n  recover cmd=\"/usr/lib/cyrus/bin/ctl_cyrusdb -C {c} -r\"\n}}\nSERVICES {{\n{services}}}\n",
        c = conf.display()
    );
    let cyrus_conf = dir.write("etc/cyrus.conf", &text);
    dir.give_to_cyrus();
    Master::start(&our_bin("master"), dir, conf, &cyrus_conf)
}

fn prerequisites(tag: &str) -> Option<(Scratch, std::path::PathBuf)> {
    if !is_root() || cyrus_ids().is_none() || debian_bin("ctl_cyrusdb").is_none() {
        eprintln!("skipped: needs root, the cyrus user and Debian's cyrus-common");
        return None;
    }
    let dir = Scratch::new(tag);
    let conf = reference_instance(&dir)?;
    Some((dir, conf))
}

#[test]
fn our_master_runs_debians_pop3d() {
    let Some(pop3d) = debian_bin("pop3d") else {
        eprintln!("skipped: Debian's pop3d (cyrus-pop3d) is not installed");
        return;
    };
    let Some((dir, conf)) = prerequisites("pop3d") else {
        return;
    };
    let port = free_port();
    let _m = start(
        &dir,
        &conf,
        &format!(
            "  pop3 cmd=\"{} -C {}\" listen=\"127.0.0.1:{port}\" prefork=1\n",
            pop3d.display(),
            conf.display()
        ),
    );
    for _ in 0..2 {
        let mut c = Client::connect(port);
        let greeting = c.line();
        assert!(
            greeting.starts_with("+OK cyrus-ref Cyrus POP3"),
            "{greeting}"
        );
        c.send("USER bob");
        assert!(c.line().starts_with("+OK"));
        c.send(&format!("PASS {REF_PASSWORD}"));
        let pass = c.line();
        assert!(pass.starts_with("+OK Mailbox locked and ready"), "{pass}");
        c.send("STAT");
        assert_eq!(c.line(), "+OK 3 2052", "bob's INBOX in the reference spool");
        c.send("LIST");
        assert!(c.line().starts_with("+OK"));
        let mut sizes = Vec::new();
        loop {
            let l = c.line();
            if l == "." || l.is_empty() {
                break;
            }
            sizes.push(l);
        }
        assert_eq!(sizes.len(), 3, "{sizes:?}");
        c.send("RETR 1");
        assert!(c.line().starts_with("+OK"));
        let mut body = 0;
        while c.line() != "." {
            body += 1;
            assert!(body < 10_000, "RETR never ended");
        }
        c.send("QUIT");
        assert!(c.line().starts_with("+OK"));
    }
}

#[test]
fn our_master_runs_debians_imapd() {
    let Some((dir, conf)) = prerequisites("imapd") else {
        return;
    };
    let Some(imapd) = debian_imapd() else {
        eprintln!("skipped: Debian's imapd is neither installed nor downloadable");
        return;
    };
    let port = free_port();
    let _m = start(
        &dir,
        &conf,
        &format!(
            "  imap cmd=\"{} -C {}\" listen=\"127.0.0.1:{port}\" prefork=0 maxchild=5\n",
            imapd.display(),
            conf.display()
        ),
    );
    let mut c = Client::connect(port);
    let greeting = c.line();
    assert!(greeting.starts_with("* OK"), "{greeting}");
    c.send(&format!("a1 LOGIN alice {REF_PASSWORD}"));
    let r = imap_until(&mut c, "a1");
    assert!(r.last().is_some_and(|l| l.starts_with("a1 OK")), "{r:?}");
    c.send("a2 SELECT INBOX");
    let r = imap_until(&mut c, "a2");
    assert!(r.iter().any(|l| l == "* 16 EXISTS"), "{r:?}");
    c.send("a3 FETCH 1 (UID FLAGS)");
    let r = imap_until(&mut c, "a3");
    assert!(
        r.iter()
            .any(|l| l.starts_with("* 1 FETCH (") && l.contains("UID 1")),
        "{r:?}"
    );
    assert!(r.last().is_some_and(|l| l.starts_with("a3 OK")), "{r:?}");
    c.send("a4 LOGOUT");
    let r = imap_until(&mut c, "a4");
    assert!(r.last().is_some_and(|l| l.starts_with("a4 OK")), "{r:?}");
}
