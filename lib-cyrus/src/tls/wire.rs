//! The connection as a worker speaks over it: plaintext until STARTTLS (or from the start
//! for imaps/pop3s), TLS after. A failed handshake hands the plaintext connection back, so
//! the session can say so in the clear and go on, as Cyrus does.

use std::io::{self, Read, Write};

use super::{accept, Shared, TlsConfig, TlsInfo, TlsStream};
use crate::syslog::{self, Level};

/// A worker's connection, plain or under TLS.
pub enum Wire<S> {
    /// Plaintext; shared so that a failed handshake can hand it back.
    Plain(Shared<S>),
    /// After a successful handshake.
    Tls(Box<TlsStream<Shared<S>>>),
}

impl<S: Read + Write> Wire<S> {
    /// A plaintext connection over `stream`.
    pub fn plain(stream: S) -> Wire<S> {
        Wire::Plain(Shared::new(stream))
    }

    /// Whether TLS is on.
    pub fn is_tls(&self) -> bool {
        matches!(self, Wire::Tls(_))
    }

    /// Runs the server side of the handshake (`what` names it in the log: "STARTTLS",
    /// "imaps"): the TLS wire and what was negotiated, or (logged) the plain wire back.
    pub fn start_tls(
        self,
        cfg: Option<&TlsConfig>,
        what: &str,
    ) -> Result<(Wire<S>, TlsInfo), Wire<S>> {
        let (Wire::Plain(conn), Some(cfg)) = (&self, cfg) else {
            syslog::log(Level::Err, &format!("{what}: error initializing TLS"));
            return Err(self);
        };
        match accept(cfg, conn.clone()) {
            Ok(s) => {
                let info = s.info();
                syslog::log(Level::Notice, &info.log_line());
                Ok((Wire::Tls(Box::new(s)), info))
            }
            Err(e) => {
                syslog::log(Level::Notice, &format!("{what} failed: {e}"));
                Err(self)
            }
        }
    }

    /// Ends TLS cleanly (close-notify) before the connection closes.
    pub fn shutdown(&mut self) {
        if let Wire::Tls(s) = self {
            s.shutdown();
        }
    }
}

impl<S: Read + Write> Read for Wire<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Wire::Plain(c) => c.read(buf),
            Wire::Tls(s) => s.read(buf),
        }
    }
}

impl<S: Read + Write> Write for Wire<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Wire::Plain(c) => c.write(buf),
            Wire::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Wire::Plain(c) => c.flush(),
            Wire::Tls(s) => s.flush(),
        }
    }
}
