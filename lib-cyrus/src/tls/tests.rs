//! The context built from imapd.conf text, and handshakes over loopback TCP with an OpenSSL
//! client, using a throwaway self-signed certificate.

use super::*;

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::ssl::{SslConnector, SslVersion};
use openssl::x509::{X509NameBuilder, X509};

/// A scratch directory with a self-signed certificate and its key.
struct Certs {
    dir: PathBuf,
}

/// A fresh P-256 key.
fn new_key() -> PKey<openssl::pkey::Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("P-256");
    PKey::from_ec_key(EcKey::generate(&group).expect("key")).expect("pkey")
}

/// A certificate for `cn` with `key`, signed by `issuer` (itself when `None`).
fn new_cert(
    cn: &str,
    key: &PKey<openssl::pkey::Private>,
    issuer: Option<(&X509, &PKey<openssl::pkey::Private>)>,
    serial: u32,
) -> X509 {
    let mut name = X509NameBuilder::new().expect("name");
    name.append_entry_by_text("CN", cn).expect("CN");
    let name = name.build();
    let mut b = X509::builder().expect("builder");
    b.set_version(2).expect("version");
    let serial = BigNum::from_u32(serial).and_then(|n| n.to_asn1_integer());
    b.set_serial_number(&serial.expect("serial"))
        .expect("serial");
    b.set_subject_name(&name).expect("subject");
    b.set_issuer_name(issuer.map_or(&name, |(c, _)| c.subject_name()))
        .expect("issuer");
    b.set_pubkey(key).expect("pubkey");
    b.set_not_before(&Asn1Time::days_from_now(0).expect("now"))
        .expect("not before");
    b.set_not_after(&Asn1Time::days_from_now(1).expect("later"))
        .expect("not after");
    if issuer.is_none() {
        let ca = openssl::x509::extension::BasicConstraints::new()
            .critical()
            .ca()
            .build()
            .expect("basic constraints");
        b.append_extension(ca).expect("extension");
    }
    b.sign(issuer.map_or(key, |(_, k)| k), MessageDigest::sha256())
        .expect("sign");
    b.build()
}

impl Certs {
    /// The server's self-signed certificate and key; a CA (`ca.pem`) and a client
    /// certificate it signed for "bob" (`client.pem`, `client.key`).
    fn new(tag: &str) -> Certs {
        let dir = std::env::temp_dir().join(format!("cyrus-tls-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        let write = |name: &str, bytes: &[u8]| {
            std::fs::write(dir.join(name), bytes).expect("write scratch file");
        };
        let key = new_key();
        let cert = new_cert("localhost", &key, None, 7).to_pem().expect("pem");
        let key_pem = key.private_key_to_pem_pkcs8().expect("key pem");
        write("cert.pem", &cert);
        write("key.pem", &key_pem);
        // Both in one file, for "tls_server_key unset".
        write("both.pem", &[cert, key_pem].concat());
        let ca_key = new_key();
        let ca = new_cert("Test CA", &ca_key, None, 1);
        write("ca.pem", &ca.to_pem().expect("pem"));
        let client_key = new_key();
        let client = new_cert("bob", &client_key, Some((&ca, &ca_key)), 2);
        write("client.pem", &client.to_pem().expect("pem"));
        write(
            "client.key",
            &client_key.private_key_to_pem_pkcs8().expect("pem"),
        );
        Certs { dir }
    }

    /// imapd.conf text with `extra` lines; `{dir}` stands for the certificate directory.
    fn config(&self, extra: &str, service: Option<&str>) -> Config {
        let text = format!(
            "configdirectory: {d}\npartition-default: {d}\n{}",
            extra.replace("{dir}", &self.dir.to_string_lossy()),
            d = self.dir.display()
        );
        Config::parse(&text, &self.dir.join("imapd.conf"), service).expect("parse config")
    }
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const CERT_AND_KEY: &str = "tls_server_cert: {dir}/cert.pem\ntls_server_key: {dir}/key.pem\n";

fn client(max: Option<SslVersion>) -> SslConnector {
    let mut b = SslConnector::builder(SslMethod::tls_client()).expect("client");
    b.set_verify(SslVerifyMode::NONE);
    b.set_max_proto_version(max).expect("max version");
    b.build()
}

/// A client presenting the certificate CA signed for "bob".
fn client_with_cert(c: &Certs) -> SslConnector {
    let mut b = SslConnector::builder(SslMethod::tls_client()).expect("client");
    b.set_verify(SslVerifyMode::NONE);
    b.set_certificate_file(c.dir.join("client.pem"), SslFiletype::PEM)
        .expect("client cert");
    b.set_private_key_file(c.dir.join("client.key"), SslFiletype::PEM)
        .expect("client key");
    b.build()
}

/// Accepts one connection on loopback with `cfg` while a client with `max` connects and
/// says "ping"; what the server read and negotiated, or the handshake error.
fn handshake(cfg: &TlsConfig, max: Option<SslVersion>) -> io::Result<(String, TlsInfo)> {
    handshake_with(cfg, client(max))
}

/// [`handshake`] with the client `c`.
fn handshake_with(cfg: &TlsConfig, c: SslConnector) -> io::Result<(String, TlsInfo)> {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let t = std::thread::spawn(move || {
        let tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        if let Ok(mut s) = c.connect("localhost", tcp) {
            let _ = s.write_all(b"ping");
            let mut back = [0u8; 4];
            let _ = s.read_exact(&mut back);
        }
    });
    let (tcp, _) = listener.accept().expect("accept");
    let r = accept(cfg, tcp).map(|mut s| {
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).expect("read ping");
        s.write_all(b"pong").expect("write pong");
        (String::from_utf8_lossy(&buf).into_owned(), s.info())
    });
    let _ = t.join();
    r
}

#[test]
fn versions_are_substrings_of_tls_versions() {
    let all = protocol_options("tls1_0 tls1_1 tls1_2 tls1_3", false);
    assert!(!all.contains(SslOptions::NO_TLSV1_3));
    assert!(!all.contains(SslOptions::NO_TLSV1));
    assert!(all.contains(SslOptions::NO_SSLV3 | SslOptions::NO_COMPRESSION));
    assert!(!all.contains(SslOptions::CIPHER_SERVER_PREFERENCE));
    let only13 = protocol_options("tls1_3", true);
    assert!(only13.contains(SslOptions::NO_TLSV1 | SslOptions::NO_TLSV1_1 | SslOptions::NO_TLSV1_2));
    assert!(!only13.contains(SslOptions::NO_TLSV1_3));
    assert!(only13.contains(SslOptions::CIPHER_SERVER_PREFERENCE));
    let commas = protocol_options("tls1_2,tls1_3", false);
    assert!(!commas.contains(SslOptions::NO_TLSV1_2));
    assert!(commas.contains(SslOptions::NO_TLSV1_1));
}

#[test]
fn enabled_needs_cert_and_key() {
    let c = Certs::new("enabled");
    assert!(!enabled(&c.config("", None)));
    assert!(!enabled(
        &c.config("tls_server_cert: {dir}/both.pem\n", None)
    ));
    assert!(!enabled(&c.config(
        "tls_server_cert: disabled\ntls_server_key: {dir}/key.pem\n",
        None
    )));
    assert!(enabled(&c.config(CERT_AND_KEY, None)));
    assert!(TlsConfig::from_config(&c.config("", None), "pop3")
        .expect("no TLS is no error")
        .is_none());
}

#[test]
fn per_service_options_win() {
    let c = Certs::new("service");
    let text = "pop3s_tls_server_cert: {dir}/cert.pem\npop3s_tls_server_key: {dir}/key.pem\n";
    assert!(enabled(&c.config(text, Some("pop3s"))));
    assert!(!enabled(&c.config(text, Some("pop3"))));
    // A broken generic value does not matter where the service's own one is good.
    let text = format!("tls_server_cert: /nonexistent\ntls_server_key: /nonexistent\n{text}");
    assert!(
        TlsConfig::from_config(&c.config(&text, Some("pop3s")), "pop3")
            .expect("pop3s's files load")
            .is_some()
    );
    assert!(TlsConfig::from_config(&c.config(&text, Some("pop3")), "pop3").is_err());
}

#[test]
fn bad_files_and_settings_are_errors() {
    let c = Certs::new("bad");
    for extra in [
        "tls_server_cert: /nonexistent\ntls_server_key: {dir}/key.pem\n",
        "tls_server_cert: {dir}/cert.pem\ntls_server_key: {dir}/cert.pem\n",
        "tls_server_cert: {dir}/cert.pem\ntls_server_key: {dir}/key.pem\ntls_ciphers: NO-SUCH-CIPHER\n",
        "tls_server_cert: {dir}/cert.pem\ntls_server_key: {dir}/key.pem\ntls_client_certs: require\n",
    ] {
        assert!(
            TlsConfig::from_config(&c.config(extra, None), "pop3").is_err(),
            "{extra}"
        );
    }
}

#[test]
fn handshake_and_info() {
    let c = Certs::new("handshake");
    let cfg = TlsConfig::from_config(&c.config(CERT_AND_KEY, None), "pop3")
        .expect("context")
        .expect("enabled");
    let (got, info) = handshake(&cfg, None).expect("handshake");
    assert_eq!(got, "ping");
    assert_eq!(info.protocol, "TLSv1.3");
    assert!(info.bits >= 128, "{info:?}");
    assert!(!info.reused);
    assert_eq!(info.peer_cn, None);
    let line = info.log_line();
    assert!(
        line.starts_with("starttls: TLSv1.3 with cipher TLS_")
            && line.ends_with(" bits new) no authentication"),
        "{line}"
    );
    let (_, info) = handshake(&cfg, Some(SslVersion::TLS1_2)).expect("TLS 1.2 handshake");
    assert_eq!(info.protocol, "TLSv1.2");
}

#[test]
fn tls_versions_refuses_older_clients() {
    let c = Certs::new("versions");
    let text = format!("{CERT_AND_KEY}tls_versions: tls1_3\n");
    let cfg = TlsConfig::from_config(&c.config(&text, None), "pop3")
        .expect("context")
        .expect("enabled");
    assert!(handshake(&cfg, Some(SslVersion::TLS1_2)).is_err());
    assert_eq!(handshake(&cfg, None).expect("1.3").1.protocol, "TLSv1.3");
}

#[test]
fn server_ca_options_are_not_the_servers() {
    let c = Certs::new("serverca");
    let text = format!(
        "{CERT_AND_KEY}tls_server_ca_file: /nonexistent\ntls_server_ca_dir: /nonexistent\n"
    );
    assert!(TlsConfig::from_config(&c.config(&text, None), "pop3")
        .expect("context")
        .is_some());
}

#[test]
fn key_in_the_certificate_file() {
    let c = Certs::new("both");
    let text = "tls_server_cert: {dir}/both.pem\ntls_server_key: {dir}/both.pem\n";
    let cfg = TlsConfig::from_config(&c.config(text, None), "imap")
        .expect("context")
        .expect("enabled");
    assert_eq!(handshake(&cfg, None).expect("handshake").0, "ping");
}

#[test]
fn garbage_instead_of_a_client_hello() {
    let c = Certs::new("garbage");
    let cfg = TlsConfig::from_config(&c.config(CERT_AND_KEY, None), "pop3")
        .expect("context")
        .expect("enabled");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let t = std::thread::spawn(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let _ = s.write_all(b"USER bob\r\nPASS secret\r\n");
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
    });
    let (tcp, _) = listener.accept().expect("accept");
    assert!(accept(&cfg, tcp).is_err());
    let _ = t.join();
}

#[test]
fn client_certificates() {
    let c = Certs::new("clientcerts");
    let optional = format!("{CERT_AND_KEY}tls_client_ca_file: {{dir}}/ca.pem\n");
    let cfg = TlsConfig::from_config(&c.config(&optional, None), "imap")
        .expect("context")
        .expect("enabled");
    let (_, info) = handshake_with(&cfg, client_with_cert(&c)).expect("with a certificate");
    assert_eq!(info.peer_cn.as_deref(), Some("bob"));
    assert!(
        info.log_line().ends_with(" authenticated as bob"),
        "{info:?}"
    );
    let (_, info) = handshake(&cfg, None).expect("without a certificate");
    assert_eq!(info.peer_cn, None);

    let require = format!("{optional}tls_client_certs: require\n");
    let cfg = TlsConfig::from_config(&c.config(&require, None), "imap")
        .expect("context")
        .expect("enabled");
    assert!(handshake_with(&cfg, client_with_cert(&c)).is_ok());
    assert!(
        handshake(&cfg, None).is_err(),
        "no certificate, but required"
    );

    // "off" asks for none, so a client's certificate is never seen.
    let off = format!("{optional}tls_client_certs: off\n");
    let cfg = TlsConfig::from_config(&c.config(&off, None), "imap")
        .expect("context")
        .expect("enabled");
    let (_, info) = handshake_with(&cfg, client_with_cert(&c)).expect("handshake");
    assert_eq!(info.peer_cn, None);
}

#[test]
fn dhe_only_with_tls_server_dhparam() {
    let c = Certs::new("dhparam");
    let rsa = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).expect("RSA key")).expect("pkey");
    let cert = new_cert("localhost", &rsa, None, 9);
    std::fs::write(c.dir.join("rsa.pem"), cert.to_pem().expect("pem")).expect("write");
    std::fs::write(
        c.dir.join("rsa.key"),
        rsa.private_key_to_pem_pkcs8().expect("pem"),
    )
    .expect("write");
    let dh = openssl::dh::Dh::get_2048_256().expect("DH group");
    std::fs::write(c.dir.join("dh.pem"), dh.params_to_pem().expect("pem")).expect("write");
    let dhe_client = || {
        let mut b = SslConnector::builder(SslMethod::tls_client()).expect("client");
        b.set_verify(SslVerifyMode::NONE);
        b.set_max_proto_version(Some(SslVersion::TLS1_2))
            .expect("max");
        b.set_cipher_list("DHE-RSA-AES256-GCM-SHA384")
            .expect("cipher");
        b.build()
    };
    let base = "tls_server_cert: {dir}/rsa.pem\ntls_server_key: {dir}/rsa.key\n";
    for (extra, works) in [
        ("", false),
        ("tls_server_dhparam: /nonexistent\n", false),
        ("tls_server_dhparam: {dir}/dh.pem\n", true),
    ] {
        let cfg = TlsConfig::from_config(&c.config(&format!("{base}{extra}"), None), "pop3")
            .expect("context")
            .expect("enabled");
        let r = handshake_with(&cfg, dhe_client());
        assert_eq!(r.is_ok(), works, "{extra}: {r:?}");
        if let Ok((_, info)) = r {
            assert_eq!(info.cipher, "DHE-RSA-AES256-GCM-SHA384");
        }
    }
}

#[test]
fn shared_stream_survives_a_failed_handshake() {
    let c = Certs::new("shared");
    let cfg = TlsConfig::from_config(&c.config(CERT_AND_KEY, None), "pop3")
        .expect("context")
        .expect("enabled");
    // OpenSSL reads a record header (5 bytes), finds no TLS, and gives up.
    let plain = Shared::new(io::Cursor::new(b"QUIT\r\nNOOP\r\n".to_vec()));
    assert!(accept(&cfg, plain.clone()).is_err());
    let mut rest = String::new();
    plain.clone().read_to_string(&mut rest).expect("read");
    assert_eq!(rest, "\nNOOP\r\n");
}
