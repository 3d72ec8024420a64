//! Server-side TLS through the system OpenSSL, set up from imapd.conf as Cyrus 3.6 sets up
//! its server engine, for STARTTLS/STLS and for implicit-TLS services (imaps, pop3s).
//!
//! A worker builds one [`TlsConfig`] per process ([`TlsConfig::from_config`]; `None` when
//! [`enabled`] is false, which is when Cyrus offers no STARTTLS/STLS), then per connection
//! calls [`accept`] on its plain stream and carries on over the returned [`TlsStream`].
//! [`TlsStream::info`] gives what the worker logs (`starttls: TLSv1.3 with cipher ...`) and
//! the SSF it hands to SASL as the external layer.
//!
//! Every option is read through the worker's [`Config`], which already applies the
//! `<service>_<option>` overrides (`pop3s_tls_server_cert` for the cyrus.conf entry `pop3s`),
//! exactly as Cyrus's own option lookup does.
//!
//! A failed handshake leaves the connection unusable unless the caller kept a [`Shared`]
//! handle on it: Cyrus answers such a STARTTLS in the clear and goes on in plaintext.
//!
//! `tls_server_ca_file` and `tls_server_ca_dir` are for Cyrus as a TLS client (proxying to
//! backends): its server engine does not read them (Debian's 3.6 neither sends those
//! certificates nor minds a missing file), and neither does this module.
//!
//! Left out: the session cache Cyrus shares between processes in `tls_sessions.db`
//! (`tls_session_timeout`, `tls_sessions_db*`). Nothing is cached on the server, so a client
//! resumes a session only with a ticket, and only on the process that issued it. Also Cyrus's
//! debug log levels.
#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::fmt;
use std::io::{self, Read, Write};
use std::path::Path;
use std::rc::Rc;

use openssl::dh::Dh;
use openssl::error::ErrorStack;
use openssl::nid::Nid;
use openssl::ssl::{
    HandshakeError, NameType, Ssl, SslContext, SslContextBuilder, SslFiletype, SslMethod,
    SslOptions, SslSessionCacheMode, SslStream, SslVerifyMode,
};
use openssl::x509::store::X509Lookup;
use openssl::x509::verify::X509VerifyFlags;
use openssl::x509::X509Name;

use crate::config::Config;
use crate::syslog::{self, Level};
use crate::{Error, Result};

mod wire;

pub use wire::Wire;

#[cfg(test)]
mod tests;

/// Whether TLS is on offer: `tls_server_cert` and `tls_server_key` are both set and neither
/// is `disabled` (Cyrus's `tls_enabled`). STARTTLS/STLS is advertised exactly then, even if
/// the files later fail to load.
pub fn enabled(config: &Config) -> bool {
    let on = |name: &str| {
        config
            .string(name)
            .is_some_and(|v| !v.eq_ignore_ascii_case("disabled"))
    };
    on("tls_server_cert") && on("tls_server_key")
}

/// The SSL options `tls_versions` and `tls_prefer_server_ciphers` give, besides those Cyrus
/// always sets. A version stays enabled when its name occurs anywhere in the value, as in
/// Cyrus (which looks for substrings, so `tls1_2,tls1_3` works too).
pub fn protocol_options(tls_versions: &str, prefer_server_ciphers: bool) -> SslOptions {
    let mut o =
        SslOptions::ALL | SslOptions::NO_SSLV2 | SslOptions::NO_SSLV3 | SslOptions::NO_COMPRESSION;
    for (name, off) in [
        ("tls1_3", SslOptions::NO_TLSV1_3),
        ("tls1_2", SslOptions::NO_TLSV1_2),
        ("tls1_1", SslOptions::NO_TLSV1_1),
        ("tls1_0", SslOptions::NO_TLSV1),
    ] {
        if !tls_versions.contains(name) {
            o |= off;
        }
    }
    if prefer_server_ciphers {
        o |= SslOptions::CIPHER_SERVER_PREFERENCE;
    }
    o
}

/// The server's TLS context, built once per process from imapd.conf.
pub struct TlsConfig {
    ctx: SslContext,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsConfig")
    }
}

/// The `tls_client_certs` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientCerts {
    Off,
    Optional,
    Require,
}

impl TlsConfig {
    /// Builds the context as Cyrus's server engine does for service `ident` (`imap`, `pop3`,
    /// ...; it names the session context). `Ok(None)` when TLS is not [`enabled`]; an error
    /// (already logged, as Cyrus logs it) when a file or setting cannot be used.
    pub fn from_config(config: &Config, ident: &str) -> Result<Option<TlsConfig>> {
        if !enabled(config) {
            return Ok(None);
        }
        let fail = |msg: String| {
            syslog::log(Level::Err, &msg);
            Error::Config {
                file: config.path().to_path_buf(),
                line: 0,
                msg,
            }
        };
        let ssl = |e: ErrorStack| reason(&e);
        let mut b = SslContextBuilder::new(SslMethod::tls_server())
            .map_err(|e| fail(format!("TLS server engine: {}", ssl(e))))?;

        let versions = config.string("tls_versions").unwrap_or_default();
        b.set_options(protocol_options(
            versions,
            config.switch("tls_prefer_server_ciphers"),
        ));

        let ciphers = config.string("tls_ciphers").unwrap_or("DEFAULT");
        b.set_cipher_list(ciphers).map_err(|_| {
            fail(format!(
                "TLS server engine: cannot load cipher list '{ciphers}'"
            ))
        })?;

        let client_certs = match config.string("tls_client_certs") {
            Some("off") => ClientCerts::Off,
            Some("require") => ClientCerts::Require,
            _ => ClientCerts::Optional,
        };
        let ca_file = config.string("tls_client_ca_file");
        let ca_dir = config.string("tls_client_ca_dir");
        let mut use_client_certs = client_certs != ClientCerts::Off;
        if use_client_certs {
            if ca_file.is_some() || ca_dir.is_some() {
                let loaded = b
                    .load_verify_locations(ca_file.map(Path::new), ca_dir.map(Path::new))
                    .and_then(|()| b.set_default_verify_paths());
                if loaded.is_err() {
                    // Only client-certificate logins need the CAs: go on without them.
                    syslog::log(
                        Level::Warning,
                        "TLS server engine: Failed loading client CA data, cert auth disabled.",
                    );
                    use_client_certs = false;
                }
            } else {
                syslog::log(
                    Level::Debug,
                    "TLS server engine: No client CA data configured.",
                );
                if client_certs == ClientCerts::Require {
                    return Err(fail(
                        "TLS server engine: tls_client_certs is require but no client CA is configured"
                            .into(),
                    ));
                }
                use_client_certs = false;
            }
        }

        let cert = config.string("tls_server_cert").unwrap_or_default();
        let key = config.string("tls_server_key").unwrap_or(cert);
        load_cert_and_key(&mut b, cert, key).map_err(|e| {
            syslog::log(Level::Err, &e);
            fail("TLS server engine: cannot load cert/key data, may be a cert/key mismatch?".into())
        })?;

        // Finite-field DHE only with parameters from a file, as in Cyrus 3.6; a file that
        // does not load leaves them out, as there.
        if let Some(path) = config.string("tls_server_dhparam") {
            let dh = std::fs::read(path)
                .ok()
                .and_then(|pem| Dh::params_from_pem(&pem).ok());
            match dh {
                Some(dh) => {
                    if b.set_tmp_dh(&dh).is_err() {
                        syslog::log(
                            Level::Err,
                            &format!("TLS server engine: DH parameters from {path} refused"),
                        );
                    }
                }
                None => syslog::log(
                    Level::Err,
                    &format!("TLS server engine: cannot load DH parameters from {path}"),
                ),
            }
        }

        // One group for ECDHE, as Cyrus sets it; a name OpenSSL does not know leaves
        // OpenSSL's default list, as Cyrus ignores it.
        if let Some(curve) = config.string("tls_eccurve") {
            let _ = b.set_groups_list(curve);
        }

        let mut verify = SslVerifyMode::NONE;
        if use_client_certs {
            match ca_file.map(X509Name::load_client_ca_file) {
                Some(Ok(names)) if !names.is_empty() => {
                    verify = SslVerifyMode::PEER | SslVerifyMode::CLIENT_ONCE;
                    if client_certs == ClientCerts::Require {
                        verify |= SslVerifyMode::FAIL_IF_NO_PEER_CERT;
                    }
                    b.set_client_ca_list(names);
                }
                _ => syslog::log(
                    Level::Err,
                    "TLS server engine: No client CA certs specified. Client side certs may not work",
                ),
            }
        }

        if let Some(crl) = config.string("tls_crl_file") {
            let store = b.cert_store_mut();
            let loaded = store
                .add_lookup(X509Lookup::file())
                .and_then(|l| l.load_crl_file(crl, SslFiletype::PEM));
            match loaded {
                Ok(_) => {
                    let _ = store
                        .set_flags(X509VerifyFlags::CRL_CHECK | X509VerifyFlags::CRL_CHECK_ALL);
                }
                Err(_) => syslog::log(Level::Err, &format!("Can't load CRL file {crl}.")),
            }
        }

        b.set_verify(verify);
        b.set_servername_callback(|ssl, _| {
            if let Some(name) = ssl.servername(NameType::HOST_NAME) {
                syslog::log(
                    Level::Debug,
                    &format!("TLS Server Name Indication (SNI) Extension: \"{name}\""),
                );
            }
            Ok(())
        });
        // No session cache shared between processes (see the module doc); the session id
        // context still names the service, so a cached session could never cross services.
        b.set_session_cache_mode(SslSessionCacheMode::OFF);
        let _ = b.set_session_id_context(&ident.as_bytes()[..ident.len().min(32)]);

        Ok(Some(TlsConfig { ctx: b.build() }))
    }
}

/// Loads `cert` (a chain file) and `key`; each may name a second file after a comma (an
/// RSA and an EC certificate side by side), as Cyrus 3.6 allows. An error is the log line.
fn load_cert_and_key(
    b: &mut SslContextBuilder,
    cert: &str,
    key: &str,
) -> std::result::Result<(), String> {
    let mut certs = cert.splitn(2, ',');
    let mut keys = key.splitn(2, ',');
    let pairs = [(certs.next(), keys.next()), (certs.next(), keys.next())];
    for (i, (c, k)) in pairs.into_iter().enumerate() {
        let Some(c) = c else {
            break;
        };
        // Without a second key file, the second certificate file holds its key.
        let k = k.unwrap_or(if i == 0 { key } else { c });
        b.set_certificate_chain_file(c)
            .map_err(|e| format!("unable to get certificate from '{c}': {}", reason(&e)))?;
        b.set_private_key_file(k, SslFiletype::PEM)
            .map_err(|e| format!("unable to get private key from '{k}': {}", reason(&e)))?;
        b.check_private_key().map_err(|e| {
            format!(
                "Private key '{k}' does not match public key '{c}': {}",
                reason(&e)
            )
        })?;
    }
    Ok(())
}

/// OpenSSL's reason string for the first error of `e`, as Cyrus logs it.
fn reason(e: &ErrorStack) -> String {
    e.errors()
        .first()
        .and_then(|x| x.reason())
        .unwrap_or("unknown error")
        .to_string()
}

/// A stream shared between a session and a TLS layer being set up over it: pass a clone
/// to [`accept`] and keep the other, so that after a failed handshake the session can go on
/// in plaintext (as Cyrus's imapd and pop3d do), since OpenSSL keeps what it is given.
#[derive(Debug)]
pub struct Shared<S>(Rc<RefCell<S>>);

impl<S> Shared<S> {
    /// Wraps `stream`.
    pub fn new(stream: S) -> Shared<S> {
        Shared(Rc::new(RefCell::new(stream)))
    }
}

impl<S> Clone for Shared<S> {
    fn clone(&self) -> Self {
        Shared(Rc::clone(&self.0))
    }
}

impl<S: Read> Read for Shared<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.borrow_mut().read(buf)
    }
}

impl<S: Write> Write for Shared<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.borrow_mut().flush()
    }
}

/// Runs the server side of the handshake on `stream` (blocking; the caller's idle timer
/// bounds a client that stalls). Whatever `stream` had buffered is not looked at: the
/// caller drops plaintext pipelined after STARTTLS, as Cyrus does.
pub fn accept<S: Read + Write>(cfg: &TlsConfig, stream: S) -> io::Result<TlsStream<S>> {
    let ssl = Ssl::new(&cfg.ctx).map_err(|e| io::Error::other(reason(&e)))?;
    match ssl.accept(stream) {
        Ok(s) => Ok(TlsStream { inner: s }),
        Err(HandshakeError::Failure(m)) => Err(io::Error::other(format!(
            "{} in SSL_accept()",
            m.error()
                .ssl_error()
                .map_or_else(|| "protocol error".to_string(), reason)
        ))),
        Err(HandshakeError::WouldBlock(_)) => Err(io::ErrorKind::WouldBlock.into()),
        Err(HandshakeError::SetupFailure(e)) => Err(io::Error::other(reason(&e))),
    }
}

/// One connection after a successful handshake: plaintext in and out through [`Read`] and
/// [`Write`], records on the wire.
pub struct TlsStream<S> {
    inner: SslStream<S>,
}

impl<S> fmt::Debug for TlsStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsStream")
    }
}

/// What was negotiated, for the log and for SASL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// Protocol version as OpenSSL names it: `TLSv1.3`, `TLSv1.2`, ...
    pub protocol: String,
    /// Cipher suite name as OpenSSL names it.
    pub cipher: String,
    /// Secret bits the cipher uses: the SSF Cyrus gives SASL as the external layer.
    pub bits: u32,
    /// Bits of the cipher algorithm.
    pub alg_bits: u32,
    /// The session was resumed.
    pub reused: bool,
    /// Common name of a verified client certificate (SASL's external authentication id).
    pub peer_cn: Option<String>,
}

impl TlsInfo {
    /// The line Cyrus logs at NOTICE after a handshake.
    pub fn log_line(&self) -> String {
        let auth = match &self.peer_cn {
            Some(cn) => format!("authenticated as {cn}"),
            None => "no authentication".to_string(),
        };
        format!(
            "starttls: {} with cipher {} ({}/{} bits {}) {auth}",
            self.protocol,
            self.cipher,
            self.bits,
            self.alg_bits,
            if self.reused { "reused" } else { "new" }
        )
    }
}

impl<S: Read + Write> TlsStream<S> {
    /// What the handshake negotiated.
    pub fn info(&self) -> TlsInfo {
        let ssl = self.inner.ssl();
        let (cipher, bits, alg_bits) = ssl.current_cipher().map_or((String::new(), 0, 0), |c| {
            let b = c.bits();
            (
                c.name().to_string(),
                u32::try_from(b.secret).unwrap_or(0),
                u32::try_from(b.algorithm).unwrap_or(0),
            )
        });
        let peer_cn = ssl
            .peer_certificate()
            .filter(|_| ssl.verify_result() == openssl::x509::X509VerifyResult::OK)
            .and_then(|c| {
                c.subject_name()
                    .entries_by_nid(Nid::COMMONNAME)
                    .next()
                    .and_then(|e| e.data().to_string().ok())
            })
            .filter(|cn| !cn.is_empty());
        TlsInfo {
            protocol: ssl.version_str().to_string(),
            cipher,
            bits,
            alg_bits,
            reused: ssl.session_reused(),
            peer_cn,
        }
    }

    /// The stream under the TLS layer.
    pub fn get_ref(&self) -> &S {
        self.inner.get_ref()
    }

    /// Sends the close-notify alert (best effort; the connection ends anyway).
    pub fn shutdown(&mut self) {
        let _ = self.inner.shutdown();
    }
}

impl<S: Read + Write> Read for TlsStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl<S: Read + Write> Write for TlsStream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
