//! `pop3d`: the POP3 worker, serving users' INBOXes from the same store as imapd, with the
//! replies of Cyrus 3.6's pop3d.
//!
//! `main` hands a [`Pop3`] worker to the shared service loop. Each connection gets a
//! [`engine::Engine`] (the sans-I/O protocol) over a [`store::Store`] (libsasl2 and the
//! mailbox files); this file only moves lines between the socket and the engine, and runs
//! the TLS handshake when the engine asks for it (STLS) or before the greeting (`-s`,
//! pop3s).
#![forbid(unsafe_code)]

mod engine;
mod store;

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{Read, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cyrus::config::Config;
use cyrus::service::watchdog::{session_id, Watchdog};
use cyrus::service::{self, Connection, Context, Worker};
use cyrus::syslog::{self, Level};
use cyrus::tls::{TlsConfig, Wire};

use engine::{Engine, Settings, TlsOffer, MAX_LINE};

/// The version Debian's Cyrus prints, which clients and scripts match on.
pub const VERSION: &str = "3.6.1-Debian-3.6.1-4+deb12u5";

/// The worker: SASL and TLS are set up once per process, a session per connection.
struct Pop3 {
    sessions: u32,
    /// `-s`: TLS from the first byte (pop3s).
    implicit_tls: bool,
    /// The TLS context; `None` when TLS is off or its setup failed (see `tls_offer`).
    tls: Option<TlsConfig>,
    tls_offer: TlsOffer,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(now());
    h.finish()
}

/// What imapd.conf makes of the protocol.
fn settings(config: &Config, tls: TlsOffer) -> Settings {
    Settings {
        servername: config.servername(),
        version: VERSION.to_string(),
        allow_plaintext: config.switch("allowplaintext"),
        allow_anonymous: config.switch("allowanonymouslogin"),
        minpoll_secs: config.duration_secs("popminpoll").unwrap_or(0),
        expire_secs: config.duration_secs("popexpiretime").unwrap_or(-1),
        serverinfo: config.string("serverinfo").unwrap_or("on").to_string(),
        uidl_format: config.string("uidl_format").unwrap_or("cyrus").to_string(),
        failed_login_pause: config
            .duration_secs("failedloginpause")
            .map_or(0, |s| s.max(0) as u64),
        readonly: config.switch("readonly"),
        dot_separator: !config.switch("unixhierarchysep"),
        subfolders: config.switch("popsubfolders"),
        tls,
        tls_required: config.switch("tls_required"),
    }
}

/// Reads lines the way Cyrus's `prot_fgets` into an 8 KB buffer does: up to and including
/// LF, or [`MAX_LINE`] bytes, whichever comes first. Memory stays bounded whatever the
/// client sends.
struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    eof: bool,
}

impl<R: Read> LineReader<R> {
    fn new(inner: R) -> Self {
        LineReader {
            inner,
            buf: Vec::with_capacity(2 * MAX_LINE),
            start: 0,
            eof: false,
        }
    }

    /// The stream, without whatever was read ahead of the last line returned.
    fn into_inner(self) -> R {
        self.inner
    }

    fn next_line(&mut self) -> Option<Vec<u8>> {
        loop {
            let pending = &self.buf[self.start..];
            let lim = pending.len().min(MAX_LINE);
            if let Some(i) = pending[..lim].iter().position(|&b| b == b'\n') {
                let line = pending[..=i].to_vec();
                self.start += i + 1;
                return Some(line);
            }
            if lim == MAX_LINE || (self.eof && lim > 0) {
                let line = pending[..lim].to_vec();
                self.start += lim;
                return Some(line);
            }
            if self.eof {
                return None;
            }
            self.buf.drain(..self.start);
            self.start = 0;
            let mut chunk = [0u8; 4096];
            match self.inner.read(&mut chunk) {
                Ok(0) | Err(_) => self.eof = true,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

impl Worker for Pop3 {
    fn init(&mut self, ctx: &Context) -> Result<(), String> {
        self.implicit_tls = ctx.args.iter().skip(1).any(|a| a == "-s");
        // Built once, as Cyrus's server engine is; a failure is logged by `from_config` and
        // answered per connection, as Cyrus answers it.
        (self.tls, self.tls_offer) = match TlsConfig::from_config(&ctx.config, "pop3") {
            Ok(Some(c)) => (Some(c), TlsOffer::Ready),
            Ok(None) => (None, TlsOffer::Off),
            Err(_) => (None, TlsOffer::Broken),
        };
        // pop3s without TLS options would speak plaintext on a port clients trust to be
        // encrypted: refuse to start, as Cyrus does.
        if self.implicit_tls && self.tls_offer == TlsOffer::Off {
            return Err("pop3s: required OpenSSL options not present".into());
        }
        cyrus::auth::init(&ctx.config).map_err(|e| format!("SASL failed initializing: {e}"))
    }

    fn session(&mut self, ctx: &Context, conn: &mut Connection) {
        self.sessions += 1;
        let config = &ctx.config;
        let settings = settings(config, self.tls_offer);
        let t = now();
        let session_id = session_id(&settings.servername, self.sessions);
        // The idle timer also bounds a client that stalls in the TLS handshake.
        let watchdog = Watchdog::start(idle_limit(config));
        let mut wire = Wire::plain(conn);
        let mut layer = None;
        if self.implicit_tls {
            // pop3s: no TLS, no session (Cyrus shuts down).
            match wire.start_tls(self.tls.as_ref(), "pop3s") {
                Ok((w, info)) => {
                    wire = w;
                    layer = Some(info);
                }
                Err(_) => return,
            }
        }
        let mut store = match store::Store::new(config) {
            Ok(s) => s,
            Err(e) => {
                syslog::log(
                    Level::Err,
                    &format!("Fatal error: SASL failed initializing: sasl_server_new(): {e}"),
                );
                let _ = wire.write_all(
                    b"-ERR [SYS/PERM] Fatal error: SASL failed initializing: sasl_server_new()\r\n",
                );
                return;
            }
        };
        // APOP sends no password in the clear, but `tls_required` bars it too (unless the
        // whole connection is TLS already), as in Cyrus.
        let apop_ok = !tls_still_required(config, layer.is_some());
        let challenge = (apop_ok && config.switch("allowapop") && store.apop_supported())
            .then(|| format!("<{}.{t}@{}>", random_u64(), settings.servername));
        let mut engine = Engine::new(store, settings, session_id);
        if let Some(info) = layer {
            engine.tls_started(info.bits, info.peer_cn.as_deref());
        }
        if wire
            .write_all(&engine.greeting(challenge.as_deref()))
            .is_err()
        {
            return;
        }
        let mut input = LineReader::new(wire);
        while let Some(line) = input.next_line() {
            watchdog.touch();
            let reply = engine.line(&line);
            if reply.pause > 0 {
                std::thread::sleep(Duration::from_secs(reply.pause));
            }
            if input.inner.write_all(&reply.out).is_err() {
                return;
            }
            if reply.close {
                break;
            }
            if reply.start_tls {
                // Plaintext the client pipelined after STLS is dropped with the reader, so
                // nothing sent in the clear is taken as coming over TLS.
                match input.into_inner().start_tls(self.tls.as_ref(), "STARTTLS") {
                    Ok((w, info)) => {
                        engine.tls_started(info.bits, info.peer_cn.as_deref());
                        input = LineReader::new(w);
                    }
                    Err(mut plain) => {
                        // As Cyrus: say so in the clear and go on reading what the failed
                        // handshake left unread, still in plaintext.
                        if plain.write_all(&engine.tls_failed().out).is_err() {
                            return;
                        }
                        input = LineReader::new(plain);
                    }
                }
            }
            // A long download restarts the clock, as Cyrus's prot_resettimeout does.
            watchdog.touch();
        }
        input.inner.shutdown();
    }
}

/// `tls_required` still holds when the greeting is sent (pop3s has TLS by then).
fn tls_still_required(config: &Config, tls_now: bool) -> bool {
    config.switch("tls_required") && !tls_now
}

/// `poptimeout` in seconds; Cyrus allows no less than 10 minutes.
fn idle_limit(config: &Config) -> u64 {
    let secs = config.duration_secs("poptimeout").unwrap_or(600);
    secs.max(600) as u64
}

fn main() {
    service::run(Pop3 {
        sessions: 0,
        implicit_tls: false,
        tls: None,
        tls_offer: TlsOffer::Off,
    })
}

#[cfg(test)]
mod reader_tests {
    use super::*;

    fn lines(input: &[u8]) -> Vec<Vec<u8>> {
        let mut r = LineReader::new(input);
        std::iter::from_fn(|| r.next_line()).collect()
    }

    #[test]
    fn splits_like_cyrus() {
        assert_eq!(lines(b"a\r\nb\n"), vec![b"a\r\n".to_vec(), b"b\n".to_vec()]);
        assert_eq!(lines(b"tail"), vec![b"tail".to_vec()]);
        let long = vec![b'x'; MAX_LINE + 10];
        let got = lines(&long);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].len(), MAX_LINE);
        assert_eq!(got[1].len(), 10);
    }
}
