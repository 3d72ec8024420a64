//! Tables of client lines and the bytes Cyrus 3.6's pop3d answers them with, over a fake
//! backend holding bob's two messages of transcripts/pop3.txt.

use super::*;

#[derive(Default)]
struct Fake {
    updated: Option<(Vec<u32>, Vec<u32>)>,
    sasl_pending: bool,
    no_delete: bool,
    external: Option<(u32, Option<String>)>,
}

const MSG1: &[u8] = b"From: a\r\nSubject: s\r\n\r\nline one\r\n.leading dot\r\nthree\r\n";

impl Backend for Fake {
    fn mechanisms(&mut self, prefix: &str, sep: &str, suffix: &str) -> Option<String> {
        Some(format!("{prefix}PLAIN{sep}LOGIN{suffix}"))
    }
    fn canonify(&mut self, user: &str) -> Option<String> {
        Some(user.to_ascii_lowercase())
    }
    fn checkpass(&mut self, user: &str, pass: &[u8]) -> Result<String, SaslError> {
        if pass == b"secret" {
            Ok(user.to_string())
        } else {
            Err(SaslError::BADAUTH)
        }
    }
    fn checkapop(&mut self, challenge: &str, response: &[u8]) -> Result<String, SaslError> {
        if challenge == "<1.2@cyrus-ref>" && response.starts_with(b"bob ") {
            Ok("bob".into())
        } else {
            Err(SaslError::BADAUTH)
        }
    }
    fn auth_start(&mut self, mech: &str, initial: Option<&[u8]>) -> Result<Step, SaslError> {
        if mech != "PLAIN" {
            return Err(SaslError(-4));
        }
        match initial {
            None => {
                self.sasl_pending = true;
                Ok(Step::Continue(Vec::new()))
            }
            Some(b"\0bob\0secret") => Ok(Step::Done),
            Some(_) => Err(SaslError::BADAUTH),
        }
    }
    fn auth_step(&mut self, response: &[u8]) -> Result<Step, SaslError> {
        self.auth_start("PLAIN", Some(response))
    }
    fn auth_user(&mut self) -> Option<String> {
        Some("bob".into())
    }
    fn auth_reset(&mut self) {}
    fn open_maildrop(
        &mut self,
        userid: &str,
        subfolder: Option<&str>,
    ) -> Result<Maildrop, OpenError> {
        if userid != "bob" || subfolder.is_some_and(|f| f != "Sent") {
            return Err(OpenError(
                "-ERR [SYS/TEMP] Unable to open maildrop: Mailbox does not exist".to_string(),
            ));
        }
        Ok(Maildrop {
            msgs: vec![Msg::new(1, 614), Msg::new(2, 3646)],
            uidvalidity: 1795318591,
            new_uidl: true,
            may_delete: !self.no_delete,
        })
    }
    fn message(&mut self, uid: u32) -> Option<Vec<u8>> {
        (uid == 1).then(|| MSG1.to_vec())
    }
    fn update(&mut self, deleted: &[u32], seen: &[u32]) {
        self.updated = Some((deleted.to_vec(), seen.to_vec()));
    }
    fn set_external(&mut self, ssf: u32, auth_id: Option<&str>) {
        self.external = Some((ssf, auth_id.map(str::to_string)));
    }
}

fn settings() -> Settings {
    Settings {
        servername: "cyrus-ref".into(),
        version: "3.6.1-Debian-3.6.1-4+deb12u5".into(),
        allow_plaintext: true,
        allow_anonymous: false,
        minpoll_secs: 0,
        expire_secs: -1,
        serverinfo: "on".into(),
        uidl_format: "cyrus".into(),
        failed_login_pause: 3,
        readonly: false,
        dot_separator: true,
        subfolders: false,
        tls: TlsOffer::Off,
        tls_required: false,
    }
}

fn engine() -> Engine<Fake> {
    Engine::new(Fake::default(), settings(), "sid".into())
}

/// Runs `(client line, expected reply)` pairs through one session.
fn run(e: &mut Engine<Fake>, script: &[(&str, &str)]) {
    for (input, want) in script {
        let got = e.line(format!("{input}\r\n").as_bytes());
        assert_eq!(
            String::from_utf8_lossy(&got.out),
            want.replace('\n', "\r\n"),
            "after {input:?}"
        );
    }
}

fn logged_in() -> Engine<Fake> {
    let mut e = engine();
    run(
        &mut e,
        &[
            ("USER bob", "+OK Name is a valid mailbox\n"),
            (
                "PASS secret",
                "+OK Mailbox locked and ready SESSIONID=<sid>\n",
            ),
        ],
    );
    e
}

#[test]
fn greeting() {
    assert_eq!(
        engine().greeting(Some("<1.2@cyrus-ref>")),
        b"+OK cyrus-ref Cyrus POP3 3.6.1-Debian-3.6.1-4+deb12u5 server ready <1.2@cyrus-ref>\r\n"
    );
}

#[test]
fn greeting_by_serverinfo() {
    let mut e = engine();
    assert_eq!(
        e.greeting(None),
        b"+OK cyrus-ref Cyrus POP3 3.6.1-Debian-3.6.1-4+deb12u5 server ready \r\n"
    );
    e.settings.serverinfo = "min".into();
    assert_eq!(
        e.greeting(Some("<c>")),
        b"+OK cyrus-ref server ready <c>\r\n"
    );
    e.settings.serverinfo = "off".into();
    assert_eq!(e.greeting(Some("<c>")), b"+OK server ready <c>\r\n");
}

#[test]
fn capa_before_and_after_login() {
    let before = "+OK List of capabilities follows\nSASL PLAIN LOGIN\nEXPIRE NEVER\nLOGIN-DELAY 0\nTOP\nUIDL\nPIPELINING\nRESP-CODES\nAUTH-RESP-CODE\nUSER\nIMPLEMENTATION Cyrus POP3 3.6.1-Debian-3.6.1-4+deb12u5\n.\n";
    run(
        &mut engine(),
        &[
            ("CAPA", before),
            ("capa x", "-ERR Unexpected extra argument\n"),
        ],
    );
    let after = "+OK List of capabilities follows\nEXPIRE NEVER\nLOGIN-DELAY 0\nTOP\nUIDL\nPIPELINING\nRESP-CODES\nAUTH-RESP-CODE\nIMPLEMENTATION Cyrus POP3 3.6.1-Debian-3.6.1-4+deb12u5\n.\n";
    run(&mut logged_in(), &[("CAPA", after)]);
}

#[test]
fn authorization_state_errors() {
    run(
        &mut engine(),
        &[
            ("PASS x", "-ERR [AUTH] Must give USER command\n"),
            ("USER", "-ERR Missing argument\n"),
            ("USER ", "-ERR Syntax error\n"),
            ("USER a.b", "-ERR [AUTH] Invalid user\n"),
            ("STAT", "-ERR Unrecognized command\n"),
            ("USER bob", "+OK Name is a valid mailbox\n"),
            ("USER bob", "-ERR [AUTH] Must give PASS command\n"),
            ("PASS wrong", "-ERR [AUTH] Invalid login\n"),
            ("PASS secret", "-ERR [AUTH] Must give USER command\n"),
            ("USER alice", "+OK Name is a valid mailbox\n"),
            (
                "PASS secret",
                "-ERR [SYS/TEMP] Unable to open maildrop: Mailbox does not exist\n",
            ),
            ("", "-ERR Unrecognized command\n"),
            (
                "AUTH",
                "+OK List of supported mechanisms follows\nPLAIN\nLOGIN\n.\n",
            ),
            (
                "AUTH X",
                "-ERR [AUTH] authenticating: no mechanism available\n",
            ),
            (
                "AUTH PLAIN !!",
                "-ERR [AUTH] authenticating: bad protocol / cancel\n",
            ),
        ],
    );
}

#[test]
fn auth_plain_with_and_without_initial_response() {
    run(
        &mut engine(),
        &[(
            "AUTH PLAIN AGJvYgBzZWNyZXQ=",
            "+OK Mailbox locked and ready SESSIONID=<sid>\n",
        )],
    );
    run(
        &mut engine(),
        &[
            ("AUTH PLAIN", "+ \n"),
            (
                "AGJvYgBzZWNyZXQ=",
                "+OK Mailbox locked and ready SESSIONID=<sid>\n",
            ),
        ],
    );
    run(
        &mut engine(),
        &[
            ("AUTH PLAIN", "+ \n"),
            ("*", "-ERR [AUTH] Client canceled authentication\n"),
        ],
    );
}

#[test]
fn transaction_state_as_in_the_transcript() {
    let mut e = logged_in();
    run(
        &mut e,
        &[
            ("STAT", "+OK 2 4260\n"),
            ("LIST", "+OK scan listing follows\n1 614\n2 3646\n.\n"),
            ("LIST 1", "+OK 1 614\n"),
            (
                "UIDL",
                "+OK unique-id listing follows\n1 1795318591.1\n2 1795318591.2\n.\n",
            ),
            ("UIDL 1", "+OK 1 1795318591.1\n"),
            ("TOP 1 0", "+OK Message follows\nFrom: a\nSubject: s\n\n.\n"),
            (
                "TOP 1 1",
                "+OK Message follows\nFrom: a\nSubject: s\n\nline one\n.\n",
            ),
            (
                "RETR 1",
                "+OK Message follows\nFrom: a\nSubject: s\n\nline one\n..leading dot\nthree\n.\n",
            ),
            ("DELE 1", "+OK message deleted\n"),
            ("STAT", "+OK 1 3646\n"),
            ("LIST 1", "-ERR No such message\n"),
            ("RETR 1", "-ERR No such message\n"),
            ("RSET", "+OK\n"),
            ("STAT", "+OK 2 4260\n"),
            ("RETR 99", "-ERR No such message\n"),
            ("RETR 2", "-ERR [SYS/PERM] Could not read message file\n"),
            ("FOO", "-ERR Unrecognized command\n"),
            ("USER bob", "-ERR Unrecognized command\n"),
            ("LIST x", "-ERR Not a number\n"),
            ("LIST 1 2", "-ERR Unexpected extra argument\n"),
            ("LIST 0", "-ERR No such message\n"),
            ("LIST 99999999999", "-ERR Not a number\n"),
            ("TOP 1", "-ERR Missing argument\n"),
            ("TOP", "-ERR Missing argument\n"),
            ("TOP 1 x", "-ERR Invalid number of lines\n"),
            ("TOP 1 1 1", "-ERR Unexpected extra argument\n"),
            ("DELE", "-ERR Missing argument\n"),
            ("NOOP x", "-ERR Unexpected extra argument\n"),
            ("DELE 1", "+OK message deleted\n"),
            ("RETR 1", "-ERR No such message\n"),
            ("noop", "+OK\n"),
            ("QUIT x", "-ERR Unexpected extra argument\n"),
        ],
    );
    let r = e.line(b"QUIT\r\n");
    assert_eq!(r.out, b"+OK\r\n");
    assert!(r.close);
    // Cyrus marks a message retrieved even when its file could not be read.
    assert_eq!(e.backend().updated, Some((vec![1], vec![2])));
}

#[test]
fn hostile_lines_never_panic() {
    let mut e = logged_in();
    for line in [
        &b"\0"[..],
        b"\xff\xfe\r\n",
        b"RETR \0 1",
        b"TOP 4294967295 4294967295",
        b"TOP 1 4294967295",
        b"LIST -1",
        b"UIDL +1",
        b"\r\r\r\n",
        b"   ",
        b"PASS",
    ] {
        let r = e.line(line);
        assert!(r.out.ends_with(b"\r\n"), "{line:?}");
    }
    let long = vec![b'A'; MAX_LINE];
    assert_eq!(e.line(&long).out, b"-ERR Unrecognized command\r\n");
}

#[test]
fn blat_handles_odd_messages() {
    let mut out = Vec::new();
    blat(b"no newline at end", -1, &mut out);
    assert_eq!(out, b"no newline at end\r\n.\r\n");
    out.clear();
    blat(b"", -1, &mut out);
    assert_eq!(out, b".\r\n");
    out.clear();
    let mut long = vec![b'.'; 5000];
    long.extend_from_slice(b"\r\n");
    blat(&long, -1, &mut out);
    // Only the first 4095-byte piece of a line is stuffed.
    assert_eq!(out.len(), 1 + 5000 + 2 + 3);
}

#[test]
fn apop_only_after_a_challenge() {
    run(
        &mut engine(),
        &[("APOP bob x", "-ERR Unrecognized command\n")],
    );
    let mut e = engine();
    e.greeting(Some("<1.2@cyrus-ref>"));
    run(
        &mut e,
        &[
            ("APOP", "-ERR Missing argument\n"),
            (
                "APOP carol x",
                "-ERR [AUTH] authenticating: authentication failure\n",
            ),
            (
                "APOP bob x",
                "+OK Mailbox locked and ready SESSIONID=<sid>\n",
            ),
        ],
    );
}

#[test]
fn subfolder_logins_only_when_configured() {
    run(
        &mut engine(),
        &[
            ("USER bob+Sent", "+OK Name is a valid mailbox\n"),
            (
                "PASS secret",
                "-ERR [SYS/TEMP] Unable to open maildrop: Mailbox does not exist\n",
            ),
        ],
    );
    let mut e = engine();
    e.settings.subfolders = true;
    run(
        &mut e,
        &[
            ("USER bob+Nope.x", "+OK Name is a valid mailbox\n"),
            (
                "PASS secret",
                "-ERR [SYS/TEMP] Unable to open maildrop: Mailbox does not exist\n",
            ),
            ("USER bob+Sent", "+OK Name is a valid mailbox\n"),
            (
                "PASS secret",
                "+OK Mailbox locked and ready SESSIONID=<sid>\n",
            ),
        ],
    );
}

proptest::proptest! {
    /// Whatever a client sends, in whatever state, the engine answers with whole lines.
    #[test]
    fn any_bytes_get_a_reply(lines in proptest::collection::vec(
        proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64), 1..20)) {
        let mut e = engine();
        e.greeting(Some("<1.2@cyrus-ref>"));
        let mut logged = logged_in();
        for l in &lines {
            for eng in [&mut e, &mut logged] {
                let r = eng.line(l);
                proptest::prop_assert!(r.out.is_empty() || r.out.ends_with(b"\r\n"));
            }
        }
    }
}

#[test]
fn dele_without_the_right() {
    let mut e = engine();
    e.backend.no_delete = true;
    run(
        &mut e,
        &[
            ("USER bob", "+OK Name is a valid mailbox\n"),
            (
                "PASS secret",
                "+OK Mailbox locked and ready SESSIONID=<sid>\n",
            ),
            ("DELE", "-ERR Missing argument\n"),
            ("DELE 1", "-ERR [SYS/PERM] Permission denied\n"),
            ("STAT", "+OK 2 4260\n"),
        ],
    );
}

fn with_tls(tls: TlsOffer, allow_plaintext: bool) -> Engine<Fake> {
    let mut s = settings();
    s.tls = tls;
    s.allow_plaintext = allow_plaintext;
    Engine::new(Fake::default(), s, "sid".into())
}

const CAPA_TAIL: &str =
    "EXPIRE NEVER\nLOGIN-DELAY 0\nTOP\nUIDL\nPIPELINING\nRESP-CODES\nAUTH-RESP-CODE\n";
const IMPL: &str = "IMPLEMENTATION Cyrus POP3 3.6.1-Debian-3.6.1-4+deb12u5\n.\n";

#[test]
fn stls_as_debians_pop3d_answers() {
    let mut e = with_tls(TlsOffer::Ready, true);
    let before = format!(
        "+OK List of capabilities follows\nSASL PLAIN LOGIN\nSTLS\n{CAPA_TAIL}USER\n{IMPL}"
    );
    run(
        &mut e,
        &[
            ("CAPA", &before),
            ("USER bob", "+OK Name is a valid mailbox\n"),
            ("STLS x", "-ERR Unexpected extra argument\n"),
        ],
    );
    let r = e.line(b"STLS\r\n");
    assert_eq!(r.out, b"+OK Begin TLS negotiation now\r\n");
    assert!(r.start_tls && !r.close);
    e.tls_started(256, None);
    assert_eq!(e.backend().external, Some((256, None)));
    let after =
        format!("+OK List of capabilities follows\nSASL PLAIN LOGIN\n{CAPA_TAIL}USER\n{IMPL}");
    run(
        &mut e,
        &[
            ("CAPA", &after),
            ("STLS", "-ERR Already successfully executed STLS\n"),
            // The USER given before STLS still stands, as in Cyrus.
            ("USER bob", "-ERR [AUTH] Must give PASS command\n"),
            (
                "PASS secret",
                "+OK Mailbox locked and ready SESSIONID=<sid>\n",
            ),
            // Logged in over TLS with a password: SASL stays listed, STLS is gone.
            (
                "CAPA",
                &format!("+OK List of capabilities follows\nSASL PLAIN LOGIN\n{CAPA_TAIL}{IMPL}"),
            ),
            ("STLS", "-ERR Unrecognized command\n"),
        ],
    );
}

#[test]
fn stls_makes_plaintext_logins_possible() {
    let mut e = with_tls(TlsOffer::Ready, false);
    run(
        &mut e,
        &[
            (
                "CAPA",
                &format!(
                    "+OK List of capabilities follows\nSASL PLAIN LOGIN\nSTLS\n{CAPA_TAIL}{IMPL}"
                ),
            ),
            (
                "USER bob",
                "-ERR [AUTH] USER command only available under a layer\n",
            ),
            ("STLS", "+OK Begin TLS negotiation now\n"),
        ],
    );
    e.tls_started(128, None);
    run(
        &mut e,
        &[
            ("USER bob", "+OK Name is a valid mailbox\n"),
            (
                "PASS secret",
                "+OK Mailbox locked and ready SESSIONID=<sid>\n",
            ),
        ],
    );
}

#[test]
fn sasl_login_over_tls_drops_sasl_from_capa() {
    let mut e = with_tls(TlsOffer::Ready, true);
    e.tls_started(256, None);
    run(
        &mut e,
        &[
            (
                "AUTH PLAIN AGJvYgBzZWNyZXQ=",
                "+OK Mailbox locked and ready SESSIONID=<sid>\n",
            ),
            (
                "CAPA",
                &format!("+OK List of capabilities follows\n{CAPA_TAIL}{IMPL}"),
            ),
        ],
    );
}

#[test]
fn stls_without_usable_tls() {
    run(
        &mut with_tls(TlsOffer::Broken, true),
        &[
            ("STLS", "-ERR [SYS/PERM] Error initializing TLS\n"),
            ("STLS", "-ERR [SYS/PERM] Error initializing TLS\n"),
        ],
    );
    run(
        &mut with_tls(TlsOffer::Off, true),
        &[("STLS", "-ERR Unrecognized command\n")],
    );
    // pop3s: TLS from the first byte.
    let mut e = with_tls(TlsOffer::Ready, true);
    e.tls_started(256, None);
    run(
        &mut e,
        &[
            ("STLS", "-ERR Already successfully executed STLS\n"),
            ("STLS x", "-ERR Unexpected extra argument\n"),
        ],
    );
}

#[test]
fn failed_handshake_leaves_the_session_in_plaintext() {
    let mut e = with_tls(TlsOffer::Ready, false);
    assert!(e.line(b"STLS\r\n").start_tls);
    assert_eq!(e.tls_failed().out, b"-ERR [SYS/PERM] Starttls failed\r\n");
    run(
        &mut e,
        &[
            (
                "USER bob",
                "-ERR [AUTH] USER command only available under a layer\n",
            ),
            ("STLS", "+OK Begin TLS negotiation now\n"),
        ],
    );
}

#[test]
fn tls_required_allows_no_login_before_tls() {
    let mut e = with_tls(TlsOffer::Ready, true);
    e.settings.tls_required = true;
    let layer = "-ERR [AUTH] AUTH command only available under a layer\n";
    run(
        &mut e,
        &[
            (
                "CAPA",
                &format!("+OK List of capabilities follows\nSTLS\n{CAPA_TAIL}{IMPL}"),
            ),
            ("AUTH", layer),
            ("AUTH PLAIN AGJvYgBzZWNyZXQ=", layer),
            (
                "USER bob",
                "-ERR [AUTH] USER command only available under a layer\n",
            ),
            ("PASS secret", "-ERR [AUTH] Must give USER command\n"),
            ("STLS", "+OK Begin TLS negotiation now\n"),
        ],
    );
    e.tls_started(256, None);
    run(
        &mut e,
        &[
            (
                "CAPA",
                &format!(
                    "+OK List of capabilities follows\nSASL PLAIN LOGIN\n{CAPA_TAIL}USER\n{IMPL}"
                ),
            ),
            ("USER bob", "+OK Name is a valid mailbox\n"),
            (
                "PASS secret",
                "+OK Mailbox locked and ready SESSIONID=<sid>\n",
            ),
        ],
    );
}
