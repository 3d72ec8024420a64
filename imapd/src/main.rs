//! `imapd`: the IMAP worker. `main` hands connections to the shared service loop; this file
//! only moves bytes between the socket, the bounded command [`Reader`] and the [`Session`].
#![forbid(unsafe_code)]

use std::io::{Read, Write};
use std::sync::Arc;

use cyrus::config::Config;
use cyrus::service::watchdog::{session_id, Watchdog};
use cyrus::service::{self, Connection, Context, Worker};
use cyrus::tls::{TlsConfig, Wire};

use imapd::proto::reader::{Event, Limits, Reader};
use imapd::session::{Next, Session, Settings};

/// The version Debian's Cyrus prints, which clients and scripts match on.
const VERSION: &str = "3.6.1-Debian-3.6.1-4+deb12u5";

/// How often an idling session looks for changes. Cyrus polls every `imapidlepoll` (60 s)
/// unless idled notifies it; a poll here is one `stat` of cyrus.index, so it can afford to
/// look four times a second and report a delivery well within a second.
const IDLE_POLL_MS: i32 = 250;

struct Imap {
    sessions: u32,
    config: Option<Arc<Config>>,
    /// imaps (`-s`): TLS from the first byte.
    implicit_tls: bool,
    /// The TLS context, built once per process; `None` when no certificate is configured.
    tls: Option<TlsConfig>,
}

/// `timeout` in seconds; Cyrus allows no less than 30 minutes (RFC 3501 §5.4).
fn idle_limit(config: &Config) -> u64 {
    let secs = config.duration_secs("timeout").unwrap_or(30 * 60);
    secs.max(30 * 60) as u64
}

impl Worker for Imap {
    fn init(&mut self, ctx: &Context) -> Result<(), String> {
        self.implicit_tls = ctx.args.iter().skip(1).any(|a| a == "-s");
        // A broken TLS setup is logged by from_config; STARTTLS is then not offered.
        self.tls = TlsConfig::from_config(&ctx.config, "imap").ok().flatten();
        // imaps without TLS would speak plaintext on a port clients trust to be encrypted:
        // refuse to start, as Cyrus does.
        if self.implicit_tls && self.tls.is_none() {
            return Err("imaps: required OpenSSL options not present".into());
        }
        cyrus::auth::init(&ctx.config).map_err(|e| format!("SASL failed initializing: {e}"))?;
        self.config = Some(Arc::new(ctx.config.clone()));
        Ok(())
    }

    fn session(&mut self, ctx: &Context, conn: &mut Connection) {
        self.sessions += 1;
        let config = match &self.config {
            Some(c) => Arc::clone(c),
            None => Arc::new(ctx.config.clone()),
        };
        conn.set_nodelay();
        let name = config.servername();
        let settings = Settings {
            session_id: session_id(&name, self.sessions),
            servername: name,
            version: VERSION.to_string(),
            allow_plaintext: config.switch("allowplaintext"),
            tls_available: self.tls.is_some() && !self.implicit_tls,
            tls_active: false,
            serverinfo: config.string("serverinfo").unwrap_or("on").to_string(),
            client: conn.peer_name(),
        };
        let limits = Limits::from_config(&config);
        let watchdog = Watchdog::start(idle_limit(&config));
        let mut wire = Wire::plain(conn);
        let mut layer = None;
        if self.implicit_tls {
            match wire.start_tls(self.tls.as_ref(), "imaps") {
                Ok((w, info)) => {
                    wire = w;
                    layer = Some(info);
                }
                // No TLS, no session (Cyrus shuts down).
                Err(_) => return,
            }
        }
        let mut session = Session::new(config, settings);
        if let Some(info) = &layer {
            session.tls_started(info.bits, info.peer_cn.as_deref());
        }
        let mut io = Io {
            conn: Some(wire),
            reader: Reader::new(limits),
            limits,
            tls: self.tls.as_ref(),
        };
        if !io.flush(&mut session) {
            return;
        }
        loop {
            let event = io.reader.next_command(session.authenticated());
            let next = match event {
                Event::NeedMore => {
                    if !io.fill() {
                        return;
                    }
                    watchdog.touch();
                    continue;
                }
                Event::Send(bytes) => {
                    // Cyrus checks an APPEND's mailbox before inviting the message.
                    let refused = io
                        .reader
                        .pending_append()
                        .map(|(t, m)| (t.to_string(), m.to_string()))
                        .and_then(|(t, m)| session.append_precheck(&m).map(|no| (t, no)));
                    if let Some((tag, text)) = refused {
                        io.reader.refuse_pending();
                        session.refuse(&tag, &text);
                        if !io.flush(&mut session) {
                            return;
                        }
                        continue;
                    }
                    if io.write(&bytes).is_err() {
                        return;
                    }
                    continue;
                }
                Event::No { tag, text } => {
                    session.refuse(&tag, &text);
                    Next::Read
                }
                Event::Command(cmd) => session.handle(cmd),
                Event::Bad { tag, text } => {
                    session.bad(tag.as_deref(), &text);
                    Next::Read
                }
                Event::Fatal(text) => {
                    session.bye(&text);
                    Next::Close
                }
            };
            if !io.flush(&mut session) || !io.follow(&mut session, next, &watchdog) {
                io.close();
                return;
            }
            io.reader.set_selected(session.is_selected());
        }
    }
}

/// The connection and its reader.
struct Io<'a, 't> {
    /// Always `Some` between calls; taken only while STARTTLS swaps it.
    conn: Option<Wire<&'a mut Connection>>,
    reader: Reader,
    limits: Limits,
    tls: Option<&'t TlsConfig>,
}

impl Io<'_, '_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self.conn.as_mut() {
            Some(c) => c.write_all(bytes),
            None => Err(std::io::ErrorKind::NotConnected.into()),
        }
    }

    /// Reads what the client has sent into the reader; false at end of input.
    fn fill(&mut self) -> bool {
        let mut buf = [0u8; 16 * 1024];
        let Some(conn) = self.conn.as_mut() else {
            return false;
        };
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.reader.feed(&buf[..n]);
                true
            }
        }
    }

    /// Sends what the session queued, in one write.
    fn flush(&mut self, session: &mut Session) -> bool {
        if session.out.is_empty() {
            return true;
        }
        let ok = self.write(&session.out).is_ok();
        session.out.clear();
        ok
    }

    /// Ends TLS cleanly before the connection closes.
    fn close(&mut self) {
        if let Some(c) = self.conn.as_mut() {
            c.shutdown();
        }
    }

    /// STARTTLS: the handshake, then a fresh reader, so that nothing the client pipelined
    /// in plaintext is taken as coming over TLS.
    fn start_tls(&mut self, session: &mut Session) -> bool {
        let Some(plain) = self.conn.take() else {
            return false;
        };
        match plain.start_tls(self.tls, "STARTTLS") {
            Ok((w, info)) => {
                self.conn = Some(w);
                self.reader = Reader::new(self.limits);
                session.tls_started(info.bits, info.peer_cn.as_deref());
                true
            }
            Err(plain) => {
                // As Cyrus: say so in the clear and go on in plaintext.
                self.conn = Some(plain);
                session.tls_failed();
                true
            }
        }
    }

    /// Reads one raw line (SASL response, IDLE's DONE).
    fn line(&mut self) -> Option<Vec<u8>> {
        loop {
            match self.reader.next_line() {
                Some(Ok(l)) => return Some(l),
                Some(Err(_)) => return None,
                None => {
                    if !self.fill() {
                        return None;
                    }
                }
            }
        }
    }

    /// Carries out what the session asked for after a command; false to hang up.
    fn follow(&mut self, session: &mut Session, mut next: Next, watchdog: &Watchdog) -> bool {
        loop {
            next = match next {
                Next::Read => return true,
                Next::Close => return false,
                Next::StartTls => {
                    if !self.start_tls(session) {
                        return false;
                    }
                    Next::Read
                }
                Next::AuthLine => match self.line() {
                    Some(l) => session.auth_response(&l),
                    None => return false,
                },
                Next::Idle => {
                    let line = loop {
                        if self.reader.has_buffered() {
                            match self.reader.next_line() {
                                Some(Ok(l)) => break l,
                                Some(Err(_)) => return false,
                                None => {}
                            }
                        }
                        match service::wait_input(IDLE_POLL_MS) {
                            Ok(true) => {
                                if !self.fill() {
                                    return false;
                                }
                                watchdog.touch();
                            }
                            Ok(false) => {
                                session.idle_poll();
                                if !self.flush(session) {
                                    return false;
                                }
                            }
                            Err(_) => return false,
                        }
                    };
                    session.idle_done(&line)
                }
            };
            if !self.flush(session) {
                return false;
            }
        }
    }
}

fn main() {
    service::run(Imap {
        sessions: 0,
        config: None,
        implicit_tls: false,
        tls: None,
    })
}
