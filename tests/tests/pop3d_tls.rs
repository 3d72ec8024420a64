//! pop3d over TLS: STLS (RFC 2595) and pop3s (`pop3d -s`), checked with an OpenSSL client
//! against our pop3d and, side by side on identical reference copies, Debian's. Each instance
//! gets a throwaway self-signed certificate made here with the openssl crate. Skipped, with a
//! note, without root, the cyrus user or Debian's Cyrus.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use e2e::tls::self_signed;
use e2e::*;
use openssl::ssl::{SslConnector, SslMethod, SslStream, SslVerifyMode, SslVersion};

/// One pop3d (ours or Debian's) under our master on its own reference copy, with a
/// certificate, serving `pop3` (plain, STLS) and `pop3s` (implicit TLS).
struct Instance {
    _dir: Scratch,
    pop3: u16,
    pop3s: u16,
    _master: Master,
}

/// Starts `pop3d` with `extra` appended to imapd.conf; `tls_server_cert` and
/// `tls_server_key` are set unless `extra` mentions them itself (`{cert}` and `{key}` in
/// `extra` stand for the generated files).
fn start(tag: &str, pop3d: &Path, extra: &str) -> Option<Instance> {
    if !is_root() || cyrus_ids().is_none() || debian_bin("ctl_cyrusdb").is_none() {
        eprintln!("skipped: needs root, the cyrus user and Debian's cyrus-common");
        return None;
    }
    let dir = Scratch::new(tag);
    let conf = reference_instance(&dir)?;
    let (cert, key) = self_signed();
    let cert_path = dir.join("etc/server.crt");
    let key_path = dir.join("etc/server.key");
    std::fs::write(&cert_path, cert).ok()?;
    std::fs::write(&key_path, key).ok()?;
    let mut text = std::fs::read_to_string(&conf).ok()?;
    if !extra.contains("tls_server_cert") {
        text.push_str("tls_server_cert: {cert}\ntls_server_key: {key}\n");
    }
    // A key of `extra` replaces the reference's line (a key given twice is fatal).
    let keys: Vec<&str> = extra.lines().filter_map(|l| l.split(':').next()).collect();
    text = text
        .lines()
        .filter(|l| !keys.iter().any(|k| l.split(':').next() == Some(*k)))
        .map(|l| format!("{l}\n"))
        .collect();
    text.push_str(extra);
    let text = text
        .replace("{cert}", &cert_path.to_string_lossy())
        .replace("{key}", &key_path.to_string_lossy());
    std::fs::write(&conf, text).ok()?;
    let (pop3, pop3s) = (free_port(), free_port());
    let services = format!(
        "START {{\n  recover cmd=\"/usr/lib/cyrus/bin/ctl_cyrusdb -C {c} -r\"\n}}\nSERVICES {{\n  pop3 cmd=\"{p} -C {c}\" listen=\"127.0.0.1:{pop3}\" prefork=1 maxchild=10\n  pop3s cmd=\"{p} -s -C {c}\" listen=\"127.0.0.1:{pop3s}\" prefork=1 maxchild=10\n}}\n",
        c = conf.display(),
        p = pop3d.display()
    );
    let cyrus_conf = dir.write("etc/cyrus.conf", &services);
    dir.give_to_cyrus();
    let master = Master::start(&our_bin("master"), &dir, &conf, &cyrus_conf);
    Some(Instance {
        _dir: dir,
        pop3,
        pop3s,
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

/// The two ends a session may run over.
enum Wire {
    Plain(TcpStream),
    Tls(Box<SslStream<TcpStream>>),
    Gone,
}

impl Read for Wire {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Wire::Plain(s) => s.read(buf),
            Wire::Tls(s) => s.read(buf),
            Wire::Gone => Ok(0),
        }
    }
}

impl Write for Wire {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Wire::Plain(s) => s.write(buf),
            Wire::Tls(s) => s.write(buf),
            Wire::Gone => Err(std::io::ErrorKind::NotConnected.into()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Wire::Plain(s) => s.flush(),
            Wire::Tls(s) => s.flush(),
            Wire::Gone => Ok(()),
        }
    }
}

/// An OpenSSL client that does not check the server's certificate, limited to `versions`.
fn connector(min: Option<SslVersion>, max: Option<SslVersion>) -> SslConnector {
    let mut b = SslConnector::builder(SslMethod::tls_client()).expect("client context");
    b.set_verify(SslVerifyMode::NONE);
    b.set_min_proto_version(min).expect("min version");
    b.set_max_proto_version(max).expect("max version");
    b.build()
}

/// A POP3 client that can switch to TLS in the middle of the session.
struct Pop {
    r: BufReader<Wire>,
}

impl Pop {
    fn tcp(port: u16) -> TcpStream {
        let s = wait_for(
            &format!("a listener on port {port}"),
            Duration::from_secs(30),
            || TcpStream::connect(("127.0.0.1", port)).ok(),
        );
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        s
    }

    /// A plaintext connection; the client and the greeting.
    fn plain(port: u16) -> (Pop, String) {
        let mut p = Pop {
            r: BufReader::new(Wire::Plain(Self::tcp(port))),
        };
        let g = p.line();
        (p, g)
    }

    /// A TLS connection from the first byte (pop3s); the client and the greeting.
    fn implicit(port: u16, c: &SslConnector) -> Result<(Pop, String), String> {
        let s = c
            .connect("localhost", Self::tcp(port))
            .map_err(|e| e.to_string())?;
        let mut p = Pop {
            r: BufReader::new(Wire::Tls(Box::new(s))),
        };
        let g = p.line();
        Ok((p, g))
    }

    /// Runs the TLS handshake on the connection (after `+OK` to STLS).
    fn start_tls(&mut self, c: &SslConnector) -> Result<(), String> {
        assert!(self.r.buffer().is_empty(), "bytes after the STLS reply");
        let wire = std::mem::replace(self.r.get_mut(), Wire::Gone);
        let Wire::Plain(tcp) = wire else {
            return Err("already TLS".into());
        };
        let s = c.connect("localhost", tcp).map_err(|e| e.to_string())?;
        *self.r.get_mut() = Wire::Tls(Box::new(s));
        Ok(())
    }

    /// The negotiated protocol version, e.g. "TLSv1.3".
    fn version(&mut self) -> String {
        match self.r.get_ref() {
            Wire::Tls(s) => s.ssl().version_str().to_string(),
            _ => "plain".into(),
        }
    }

    /// One line without its CRLF; empty at the end of the stream.
    fn line(&mut self) -> String {
        self.read_line().unwrap_or_default()
    }

    /// One line without its CRLF; `None` at the end of the stream.
    fn read_line(&mut self) -> Option<String> {
        let mut l = String::new();
        match self.r.read_line(&mut l) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(l.trim_end_matches(['\r', '\n']).to_string()),
        }
    }

    /// Sends `cmd`; every line of the reply (multi-line ones to their ".").
    fn cmd(&mut self, cmd: &str) -> Vec<String> {
        let w = self.r.get_mut();
        w.write_all(format!("{cmd}\r\n").as_bytes()).expect("send");
        let first = self.line();
        let mut out = vec![normalise(&first)];
        let upper = cmd.to_ascii_uppercase();
        let word = upper.split(' ').next().unwrap_or("");
        let has_arg = upper.trim_end().contains(' ');
        let multi = match word {
            "CAPA" | "RETR" | "TOP" => true,
            "LIST" | "UIDL" | "AUTH" => !has_arg,
            _ => false,
        };
        if multi && first.starts_with("+OK") {
            while let Some(l) = self.read_line() {
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

/// Hides what differs on every run: the APOP timestamp and the session id.
fn normalise(line: &str) -> String {
    let mut l = line.to_string();
    if let Some(i) = l.find(" server ready <") {
        l.truncate(i);
        l.push_str(" server ready <CHALLENGE>");
    }
    if let Some(i) = l.find("SESSIONID=<") {
        l.truncate(i);
        l.push_str("SESSIONID=<ID>");
    }
    l
}

/// Asserts two transcripts are equal, showing both in full when they differ.
fn same(ours: &[String], theirs: &[String], what: &str) {
    assert!(
        ours == theirs,
        "{what}:\n ours:   {ours:#?}\n Debian: {theirs:#?}"
    );
}

/// A step of a scripted session: a command, or the TLS handshake after STLS.
const TLS: &str = "!TLS";

/// Runs `script` on a fresh connection (plain on `port`, or TLS from the start when
/// `implicit`); the greeting and every reply line, normalised, and the handshake outcomes.
fn session(port: u16, implicit: bool, c: &SslConnector, script: &[&str]) -> Vec<String> {
    let (mut p, g) = if implicit {
        match Pop::implicit(port, c) {
            Ok(x) => x,
            Err(_) => return vec!["handshake failed".into()],
        }
    } else {
        Pop::plain(port)
    };
    let mut out = vec![normalise(&g)];
    for cmd in script {
        if *cmd == TLS {
            match p.start_tls(c) {
                Ok(()) => out.push(format!("[{}]", p.version())),
                Err(_) => {
                    out.push("handshake failed".into());
                    return out;
                }
            }
            continue;
        }
        out.extend(p.cmd(cmd));
    }
    out
}

/// The scripts compared with Debian's pop3d: (implicit TLS, commands).
fn scripts() -> Vec<(bool, Vec<&'static str>)> {
    vec![
        (
            false,
            vec![
                "CAPA",
                "AUTH",
                "USER bob",
                "STLS x",
                "STLS",
                TLS,
                "CAPA",
                "AUTH",
                "STLS",
                "USER bob",
                "PASS secret",
                "CAPA",
                "STAT",
                "STLS",
                "QUIT",
            ],
        ),
        (
            false,
            vec![
                "STLS",
                TLS,
                "AUTH PLAIN AGJvYgBzZWNyZXQ=",
                "CAPA",
                "STAT",
                "QUIT",
            ],
        ),
        (
            true,
            vec![
                "CAPA",
                "STLS",
                "STLS x",
                "USER alice",
                "PASS secret",
                "CAPA",
                "LIST",
                "QUIT",
            ],
        ),
    ]
}

fn compare_with_debian(extra: &str, tag: &str) {
    let Some(debian) = debian_pop3d() else {
        return;
    };
    let Some(theirs) = start(&format!("{tag}-debian"), &debian, extra) else {
        return;
    };
    let Some(ours) = start(&format!("{tag}-ours"), &our_bin("pop3d"), extra) else {
        return;
    };
    let c = connector(None, None);
    for (implicit, script) in scripts() {
        let port = |i: &Instance| if implicit { i.pop3s } else { i.pop3 };
        let a = session(port(&theirs), implicit, &c, &script);
        let b = session(port(&ours), implicit, &c, &script);
        // Debian's side must really have gone through TLS, or the comparison proves little.
        assert!(
            a[0].starts_with("+OK cyrus-ref") && (implicit || a.iter().any(|l| l == "[TLSv1.3]")),
            "Debian's session: {a:?}"
        );
        same(&b, &a, &format!("{script:?}"));
    }
}

#[test]
fn stls_and_pop3s_like_debians() {
    compare_with_debian("", "tls-plain-ok");
}

#[test]
fn stls_allows_plaintext_logins_like_debians() {
    compare_with_debian("allowplaintext: no\n", "tls-plain-no");
}

#[test]
fn tls_required_like_debians() {
    compare_with_debian("tls_required: yes\n", "tls-required");
}

#[test]
fn login_and_download_over_stls() {
    let Some(ours) = start("tls-login", &our_bin("pop3d"), "allowplaintext: no\n") else {
        return;
    };
    let c = connector(None, None);
    let (mut p, g) = Pop::plain(ours.pop3);
    assert!(g.starts_with("+OK cyrus-ref Cyrus POP3"), "{g}");
    assert_eq!(
        p.cmd("USER bob"),
        ["-ERR [AUTH] USER command only available under a layer"]
    );
    assert_eq!(p.cmd("STLS"), ["+OK Begin TLS negotiation now"]);
    p.start_tls(&c).expect("handshake after STLS");
    assert_eq!(p.version(), "TLSv1.3");
    assert_eq!(p.cmd("USER bob"), ["+OK Name is a valid mailbox"]);
    assert_eq!(
        p.cmd(&format!("PASS {REF_PASSWORD}")),
        ["+OK Mailbox locked and ready SESSIONID=<ID>"]
    );
    assert_eq!(
        p.cmd("STAT"),
        ["+OK 3 2052"],
        "bob's INBOX in the reference spool"
    );
    let msg = p.cmd("RETR 1");
    assert_eq!(msg[0], "+OK Message follows");
    assert_eq!(msg.last().map(String::as_str), Some("."));
    assert!(msg.len() > 5, "{msg:?}");
    assert_eq!(p.cmd("QUIT"), ["+OK"]);
}

#[test]
fn pop3s_serves_tls_from_the_first_byte() {
    let Some(ours) = start("tls-pop3s", &our_bin("pop3d"), "") else {
        return;
    };
    // A client speaking plaintext to pop3s gets no greeting in the clear.
    let mut raw = Pop::tcp(ours.pop3s);
    raw.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let mut buf = [0u8; 64];
    let n = raw.read(&mut buf).unwrap_or(0);
    assert!(!buf[..n].starts_with(b"+OK"), "plaintext greeting on pop3s");
    drop(raw);

    let c = connector(None, None);
    let (mut p, g) = Pop::implicit(ours.pop3s, &c).expect("pop3s handshake");
    assert!(g.starts_with("+OK cyrus-ref Cyrus POP3"), "{g}");
    assert_eq!(p.version(), "TLSv1.3");
    assert_eq!(p.cmd("USER alice"), ["+OK Name is a valid mailbox"]);
    assert_eq!(
        p.cmd(&format!("PASS {REF_PASSWORD}")),
        ["+OK Mailbox locked and ready SESSIONID=<ID>"]
    );
    assert!(p.cmd("STAT")[0].starts_with("+OK "));
    assert_eq!(p.cmd("QUIT"), ["+OK"]);
}

#[test]
fn tls_versions_tls1_3_refuses_a_tls1_2_client() {
    let Some(ours) = start("tls-13", &our_bin("pop3d"), "tls_versions: tls1_3\n") else {
        return;
    };
    let old = connector(None, Some(SslVersion::TLS1_2));
    assert!(
        Pop::implicit(ours.pop3s, &old).is_err(),
        "pop3s accepted TLS 1.2"
    );
    let (mut p, _) = Pop::plain(ours.pop3);
    assert_eq!(p.cmd("STLS"), ["+OK Begin TLS negotiation now"]);
    assert!(p.start_tls(&old).is_err(), "STLS accepted TLS 1.2");
    // TLS 1.3 clients are served.
    let new = connector(Some(SslVersion::TLS1_3), None);
    let (mut p, _) = Pop::implicit(ours.pop3s, &new).expect("TLS 1.3 on pop3s");
    assert_eq!(p.version(), "TLSv1.3");
    assert_eq!(p.cmd("QUIT"), ["+OK"]);
    // And a TLS 1.2 client of the default configuration is served with TLS 1.2.
    let Some(any) = start("tls-12", &our_bin("pop3d"), "") else {
        return;
    };
    let (mut p, _) = Pop::implicit(any.pop3s, &old).expect("TLS 1.2 by default");
    assert_eq!(p.version(), "TLSv1.2");
    assert_eq!(p.cmd("QUIT"), ["+OK"]);
}

/// Debian's fetchmail downloads bob's mail over `proto` (STLS on pop3, or implicit TLS on
/// pop3s) and deletes it; its protocol trace and what it delivered.
fn fetchmail(inst: &Instance, implicit: bool) -> Option<(String, String)> {
    let Some(fetchmail) = ["/usr/bin/fetchmail"]
        .iter()
        .map(Path::new)
        .find(|p| p.exists())
    else {
        eprintln!("skipped: fetchmail is not installed");
        return None;
    };
    let home = Scratch::new("fetchmail-home");
    let mbox = home.join("mbox");
    let (port, tls) = if implicit {
        (inst.pop3s, "ssl sslproto 'tls1.2+'")
    } else {
        (inst.pop3, "sslproto 'tls1.2+'")
    };
    // Wait for master's listener (fetchmail tries only once).
    drop(Pop::tcp(port));
    let rc = home.write(
        "fetchmailrc",
        &format!(
            "set no syslog\nset idfile \"{home}/fetchids\"\npoll 127.0.0.1 with proto POP3 service {port}\n  user \"bob\" there with password \"{REF_PASSWORD}\" is \"root\" here\n  options {tls} no sslcertck fetchall mda \"/bin/sh -c 'cat >> {mbox}'\"\n",
            home = home.path().display(),
            mbox = mbox.display(),
        ),
    );
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o600)).ok()?;
    }
    let out = std::process::Command::new(fetchmail)
        .arg("-v")
        .arg("-f")
        .arg(&rc)
        .env("FETCHMAILHOME", home.path())
        .env("HOME", home.path())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run fetchmail");
    let trace = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "fetchmail failed: {trace}");
    let delivered = std::fs::read_to_string(&mbox).unwrap_or_default();
    Some((trace, delivered))
}

#[test]
fn fetchmail_downloads_and_deletes_over_tls() {
    for implicit in [false, true] {
        let tag = if implicit {
            "tls-fm-pop3s"
        } else {
            "tls-fm-stls"
        };
        let Some(ours) = start(tag, &our_bin("pop3d"), "allowplaintext: no\n") else {
            return;
        };
        let Some((trace, delivered)) = fetchmail(&ours, implicit) else {
            return;
        };
        if !implicit {
            assert!(
                trace.contains("POP3> STLS"),
                "fetchmail did not use STLS: {trace}"
            );
        }
        assert!(trace.contains("3 messages for bob"), "{trace}");
        assert_eq!(
            delivered.matches("\nSubject: ").count()
                + usize::from(delivered.starts_with("Subject: ")),
            3,
            "three messages delivered: {delivered}"
        );
        // fetchmail deleted what it fetched: a new session finds the INBOX empty.
        let c = connector(None, None);
        let (mut p, _) = Pop::implicit(ours.pop3s, &c).expect("pop3s");
        p.cmd("USER bob");
        p.cmd(&format!("PASS {REF_PASSWORD}"));
        assert_eq!(p.cmd("STAT"), ["+OK 0 0"], "after fetchmail over {tag}");
        p.cmd("QUIT");
    }
}

#[test]
fn per_service_tls_options_like_debians() {
    let Some(debian) = debian_pop3d() else {
        return;
    };
    // Only the pop3s entry of cyrus.conf has a certificate.
    let extra = "pop3s_tls_server_cert: {cert}\npop3s_tls_server_key: {key}\n";
    let Some(theirs) = start("tls-svc-debian", &debian, extra) else {
        return;
    };
    let Some(ours) = start("tls-svc-ours", &our_bin("pop3d"), extra) else {
        return;
    };
    let c = connector(None, None);
    let run = |i: &Instance| {
        let mut out = session(i.pop3, false, &c, &["CAPA", "STLS", "QUIT"]);
        out.extend(session(i.pop3s, true, &c, &["CAPA", "QUIT"]));
        out
    };
    let a = run(&theirs);
    assert!(a.iter().any(|l| l == "-ERR Unrecognized command"), "{a:?}");
    same(&run(&ours), &a, "per-service TLS options");
}

/// Plaintext pipelined after STLS, then the handshake: what the first command over TLS gets.
fn pipelined_after_stls(port: u16, c: &SslConnector) -> Vec<String> {
    let (mut p, _) = Pop::plain(port);
    p.r.get_mut()
        .write_all(b"STLS\r\nUSER bob\r\n")
        .expect("send");
    let mut out = vec![p.line()];
    match p.start_tls(c) {
        Ok(()) => out.extend(p.cmd("USER alice")),
        Err(e) => out.push(format!("handshake failed: {e}")),
    }
    out
}

#[test]
fn plaintext_pipelined_after_stls_is_dropped_like_debians() {
    let Some(debian) = debian_pop3d() else {
        return;
    };
    let Some(theirs) = start("tls-pipe-debian", &debian, "") else {
        return;
    };
    let Some(ours) = start("tls-pipe-ours", &our_bin("pop3d"), "") else {
        return;
    };
    let c = connector(None, None);
    let a = pipelined_after_stls(theirs.pop3, &c);
    let b = pipelined_after_stls(ours.pop3, &c);
    // The pipelined USER did not count: the one sent over TLS is the first.
    assert_eq!(
        a,
        [
            "+OK Begin TLS negotiation now",
            "+OK Name is a valid mailbox"
        ],
        "Debian's pop3d"
    );
    same(&b, &a, "STLS with plaintext pipelined after it");
}

/// STLS, then `bytes` in the clear instead of a ClientHello: every line that comes back
/// until the server closes (each `bytes` ends with QUIT).
fn garbage_after_stls(port: u16, bytes: &[u8]) -> Vec<String> {
    let (mut p, _) = Pop::plain(port);
    let mut out = p.cmd("STLS");
    p.r.get_mut().write_all(bytes).expect("send");
    while let Some(l) = p.read_line() {
        out.push(l);
    }
    out
}

#[test]
fn garbage_instead_of_a_handshake_like_debians() {
    let Some(debian) = debian_pop3d() else {
        return;
    };
    let Some(theirs) = start("tls-garbage-debian", &debian, "") else {
        return;
    };
    let Some(ours) = start("tls-garbage-ours", &our_bin("pop3d"), "") else {
        return;
    };
    for bytes in [
        &b"USER bob\r\nPASS secret\r\nSTAT\r\nQUIT\r\n"[..],
        b"QUIT\r\nCAPA\r\nQUIT\r\n",
    ] {
        let a = garbage_after_stls(theirs.pop3, bytes);
        // OpenSSL took a record header's worth; the rest is read as commands, in plaintext.
        assert_eq!(a[1], "-ERR [SYS/PERM] Starttls failed", "{a:?}");
        let b = garbage_after_stls(ours.pop3, bytes);
        same(&b, &a, &String::from_utf8_lossy(bytes));
    }
    // A client speaking plaintext to pop3s just loses its connection; the next is served.
    let c = connector(None, None);
    let mut raw = Pop::tcp(ours.pop3s);
    raw.write_all(b"USER bob\r\nPASS secret\r\n").expect("send");
    let mut buf = Vec::new();
    let _ = raw.read_to_end(&mut buf);
    assert!(!buf.starts_with(b"+OK"), "plaintext reply on pop3s");
    let (mut p, g) = Pop::implicit(ours.pop3s, &c).expect("pop3s");
    assert!(g.starts_with("+OK cyrus-ref"), "{g}");
    assert_eq!(p.cmd("QUIT"), ["+OK"]);
}

#[test]
fn odd_tls_settings_like_debians() {
    let Some(debian) = debian_pop3d() else {
        return;
    };
    let c = connector(None, None);
    for (n, extra) in [
        "tls_client_certs: require\n",
        "tls_ciphers: NO-SUCH-CIPHER\n",
        "tls_crl_file: /nonexistent\n",
        "tls_eccurve: nosuch\n",
        "tls_versions: nonsense\n",
        "tls_server_ca_file: /nonexistent\n",
        "tls_server_cert: /nonexistent\ntls_server_key: {key}\n",
        "tls_server_cert: {cert}\ntls_server_key: disabled\n",
    ]
    .into_iter()
    .enumerate()
    {
        let Some(theirs) = start(&format!("tls-odd{n}-debian"), &debian, extra) else {
            return;
        };
        let Some(ours) = start(&format!("tls-odd{n}-ours"), &our_bin("pop3d"), extra) else {
            return;
        };
        let script = ["CAPA", "STLS", TLS, "QUIT"];
        let a = session(theirs.pop3, false, &c, &script);
        let b = session(ours.pop3, false, &c, &script);
        same(&b, &a, extra);
    }
}
