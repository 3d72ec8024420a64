//! `lmtpd`: the LMTP delivery worker. master hands it connections on its unix socket (or TCP
//! port); it speaks LMTP with Cyrus 3.6's replies ([`engine`]) and files each message through
//! `cyrus::delivery`, which makes it durable before the 250 goes out.
//!
//! Over the unix socket the client is trusted (no AUTH, as in Cyrus). Over TCP Cyrus requires
//! AUTH before MAIL FROM, and only an admin may authenticate; the SASL exchange runs through
//! `cyrus::auth` (libsasl2 with imapd.conf's `sasl_*` options), as pop3d's does. Sieve is not
//! run yet: every recipient gets the plain delivery (its `+detail` folder or INBOX).
#![deny(unsafe_code)]

mod engine;
mod sys;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};

use cyrus::acl::Identity;
use cyrus::auth::{self, SaslError, Server, Step};
use cyrus::config::Config;
use cyrus::delivery::{self, Deliverer, DeliveryOptions, Failure, Outcome, Recipient, Trace};
use cyrus::service::{self, Connection, Context, Worker};
use cyrus::syslog::{self, Level};
use cyrus::tls::{TlsConfig, Wire};

use engine::{Engine, Envelope, Next, SessionIds, Settings, Store, MAX_COMMAND_LINE};

/// The version Cyrus prints in the greeting and in Received headers; the spool and the
/// protocol are those of this release.
pub const CYRUS_VERSION: &str = "3.6.1-Debian-3.6.1-4+deb12u5";

/// Message-IDs made up in this process so far.
static MADE_IDS: AtomicU64 = AtomicU64::new(0);

/// The store side of a connection.
struct LocalStore<'c> {
    config: &'c Config,
    deliverer: Deliverer<'c>,
    servername: String,
    client: String,
    /// LMTP over the unix socket counts as authenticated ("LMTPA"), as in Cyrus.
    with: &'static str,
    /// The SASL connection of a TCP client, made on first use and again after a failure.
    sasl: Option<Server>,
    /// After STARTTLS: the TLS layer's SSF and client certificate name, for SASL.
    external: Option<(u32, Option<String>)>,
}

impl LocalStore<'_> {
    fn sasl(&mut self) -> Result<&mut Server, SaslError> {
        if self.sasl.is_none() {
            let mut server = Server::new(self.config, "lmtp")?;
            if let Some((ssf, peer)) = &self.external {
                server.set_external(*ssf, peer.as_deref())?;
            }
            self.sasl = Some(server);
        }
        self.sasl.as_mut().ok_or(SaslError::FAIL)
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Store for LocalStore<'_> {
    type Rcpt = Recipient;

    fn resolve(&mut self, addr: &str, size: u64, ignore_quota: bool) -> Result<Recipient, Failure> {
        // Without AUTH the sender is anonymous: a +detail folder needs `p` for anyone.
        let sender = Identity::default();
        self.deliverer.resolve(addr, &sender, size, ignore_quota)
    }

    fn prepare(&mut self, data: &[u8], env: &Envelope) -> Result<Vec<u8>, &'static str> {
        let t = now();
        // Cyrus numbers the Message-IDs it makes per process, from 0.
        let message_id = if delivery::header_value(data, "message-id").is_none() {
            format!(
                "<cmu-lmtpd-{}-{t}-{}@{}>",
                std::process::id(),
                MADE_IDS.fetch_add(1, Ordering::Relaxed),
                self.servername
            )
        } else {
            String::new()
        };
        let fill = delivery::Fill {
            message_id: &message_id,
            now: t,
            munge8bit: self.config.switch("munge8bit"),
            reject8bit: self.config.switch("reject8bit"),
        };
        let body = delivery::prepare_message(data, &fill).map_err(|r| r.text())?;
        let trace = Trace {
            return_path: &env.from,
            helo: &env.helo,
            client: &self.client,
            servername: &self.servername,
            version: CYRUS_VERSION,
            with: self.with,
            session_id: &env.session_id,
            now: t,
        };
        let mut full = delivery::trace_headers(&trace);
        full.extend_from_slice(&body);
        Ok(full)
    }

    fn deliver(
        &mut self,
        msg: &[u8],
        rcpt: &Recipient,
        env: &Envelope,
        ignore_quota: bool,
    ) -> Result<(), Failure> {
        let t = now();
        let full = msg;
        let opts = DeliveryOptions {
            ignore_quota,
            now: t,
        };
        let done = self
            .deliverer
            .deliver(full, rcpt, &rcpt.default_actions(), opts)?;
        for o in done {
            let line = match o {
                Outcome::Delivered { mailbox, uid } => format!(
                    "Delivered: <{}> to mailbox: {} uid: {uid} sessionid=<{}>",
                    delivery::header_value(msg, "message-id")
                        .map(|v| String::from_utf8_lossy(&v).into_owned())
                        .unwrap_or_default(),
                    mailbox.as_str(),
                    env.session_id
                ),
                Outcome::Duplicate { mailbox } => format!(
                    "dupelim: eliminated duplicate message to {} sessionid=<{}>",
                    mailbox.as_str(),
                    env.session_id
                ),
            };
            syslog::log(Level::Info, &line);
        }
        Ok(())
    }

    fn mechanisms(&mut self) -> Option<String> {
        self.sasl().ok()?.mechanisms("", " ", "")
    }

    fn auth_start(&mut self, mech: &str, initial: Option<&[u8]>) -> Result<Step, SaslError> {
        self.sasl()?.start(mech, initial)
    }

    fn auth_step(&mut self, response: &[u8]) -> Result<Step, SaslError> {
        self.sasl()?.step(response)
    }

    fn auth_user(&mut self) -> Option<String> {
        let user = self.sasl.as_mut()?.username()?;
        if auth::is_admin(self.config, &user) {
            syslog::log(
                Level::Notice,
                &format!("login: {} {user} AUTH User logged in", self.client),
            );
            Some(user)
        } else {
            syslog::log(
                Level::Notice,
                &format!("badlogin: {} {user} AUTH not an admin", self.client),
            );
            None
        }
    }

    fn auth_reset(&mut self) {
        self.sasl = None;
    }
}

/// Session ids as Cyrus makes them: `servername-time-pid-counter-random`.
struct Ids {
    prefix: String,
    counter: u64,
}

impl SessionIds for Ids {
    fn next_id(&mut self) -> String {
        self.counter += 1;
        format!("{}-{}-{}", self.prefix, self.counter, random_u64())
    }
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    match std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b)) {
        Ok(()) => u64::from_ne_bytes(b),
        Err(_) => {
            (now() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ u64::from(std::process::id())
        }
    }
}

/// Reads one line into `buf` (line end removed), keeping at most `max` bytes; returns
/// `None` at end of input, else whether the line fitted.
fn read_line<R: BufRead>(r: &mut R, buf: &mut Vec<u8>, max: usize) -> io::Result<Option<bool>> {
    buf.clear();
    let mut fitted = true;
    let mut any = false;
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            return Ok(if any { Some(fitted) } else { None });
        }
        any = true;
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        // Room for the line end too, so a line of exactly `max` bytes fits.
        let room = max.saturating_add(2).saturating_sub(buf.len());
        if take > room {
            fitted = false;
        }
        buf.extend_from_slice(&chunk[..take.min(room)]);
        r.consume(take);
        if done {
            break;
        }
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    }
    if buf.len() > max {
        buf.truncate(max);
        fitted = false;
    }
    Ok(Some(fitted))
}

struct Lmtpd {
    /// The TLS context, built once per process; `None` without a certificate.
    tls: Option<TlsConfig>,
}

impl Worker for Lmtpd {
    fn init(&mut self, ctx: &Context) -> Result<(), String> {
        // A broken TLS setup is logged by from_config; STARTTLS is then not offered.
        self.tls = TlsConfig::from_config(&ctx.config, "lmtp").ok().flatten();
        // The unix socket needs no SASL, so a broken SASL setup is logged, not fatal: TCP
        // clients then find no AUTH mechanism and cannot deliver.
        if let Err(e) = auth::init(&ctx.config) {
            syslog::log(Level::Err, &format!("lmtpd: SASL failed initializing: {e}"));
        }
        Ok(())
    }

    fn session(&mut self, ctx: &Context, conn: &mut Connection) {
        let config = &ctx.config;
        let servername = config
            .string("servername")
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .unwrap_or_else(sys::hostname);
        let local = sys::is_unix_socket(conn.input_fd());
        let deliverer = match Deliverer::open(config) {
            Ok(d) => d,
            Err(e) => {
                syslog::log(
                    Level::Err,
                    &format!("IOERROR: lmtpd: opening databases: {e}"),
                );
                let _ = conn.write_all(b"421 4.3.2 Service temporarily unavailable\r\n");
                return;
            }
        };
        let store = LocalStore {
            config,
            deliverer,
            servername: servername.clone(),
            client: if local {
                "[unix socket]".to_string()
            } else {
                conn.peer_name()
            },
            // Over TCP nothing is delivered before AUTH, so every delivery is authenticated.
            with: "LMTPA",
            sasl: None,
            external: None,
        };
        let settings = Settings {
            servername: servername.clone(),
            version: CYRUS_VERSION.to_string(),
            local,
            max_message: usize::try_from(config.int("maxmessagesize").max(0)).unwrap_or(0),
            over_quota_perm: config.switch("lmtp_over_quota_perm_failure"),
            tls: self.tls.is_some(),
        };
        let ids = Ids {
            prefix: format!("{servername}-{}-{}", now(), std::process::id()),
            counter: 0,
        };
        let mut engine = Engine::new(settings, store, ids);
        let mut out = engine.greeting().into_bytes();
        let mut input = BufReader::new(Wire::plain(conn));
        let mut next = Next::Command;
        let mut line = Vec::new();
        loop {
            // PIPELINING: replies are flushed only when no more input is waiting.
            if !out.is_empty() && input.buffer().is_empty() {
                if input.get_mut().write_all(&out).is_err() {
                    return;
                }
                out.clear();
            }
            if next == Next::Quit {
                input.get_mut().shutdown();
                return;
            }
            if next == Next::StartTls {
                if !out.is_empty() && input.get_mut().write_all(&out).is_err() {
                    return;
                }
                out.clear();
                // What the client pipelined in plaintext is dropped with the old reader.
                match input.into_inner().start_tls(self.tls.as_ref(), "STARTTLS") {
                    Ok((w, info)) => {
                        engine.store_mut().external = Some((info.bits, info.peer_cn.clone()));
                        engine.tls_started();
                        input = BufReader::new(w);
                        next = Next::Command;
                        continue;
                    }
                    // After a failed handshake the stream is in no known state: hang up.
                    Err(_) => return,
                }
            }
            let max = match next {
                Next::Data => engine.data_budget(),
                _ => MAX_COMMAND_LINE,
            };
            match read_line(&mut input, &mut line, max) {
                Ok(Some(true)) => next = engine.line(&line, &mut out),
                Ok(Some(false)) if next == Next::Data => engine.data_overflowed(line.len()),
                Ok(Some(false)) => out.extend_from_slice(b"500 5.5.2 Line too long\r\n"),
                Ok(None) | Err(_) => {
                    let _ = input.get_mut().write_all(&out);
                    return;
                }
            }
        }
    }
}

fn main() {
    service::run(Lmtpd { tls: None })
}

#[cfg(test)]
mod tests {
    use super::read_line;

    #[test]
    fn lines_are_bounded() {
        let mut r =
            std::io::Cursor::new(b"short\r\nbare\nlong-long-long\r\n12345678\r\nend".to_vec());
        let mut buf = Vec::new();
        let mut got = Vec::new();
        while let Ok(Some(fitted)) = read_line(&mut r, &mut buf, 8) {
            got.push((String::from_utf8_lossy(&buf).into_owned(), fitted));
        }
        assert_eq!(
            got,
            [
                ("short".to_string(), true),
                ("bare".to_string(), true),
                ("long-lon".to_string(), false),
                ("12345678".to_string(), true),
                ("end".to_string(), true),
            ]
        );
    }
}
