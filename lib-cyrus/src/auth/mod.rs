//! Authentication as Cyrus does it: SASL through the system libsasl2, configured from
//! imapd.conf, plus the userid rules (`username_tolower`, `loginrealms`) and the admin list.
//!
//! [`init`] runs `sasl_server_init` once per process with a getopt callback, so every
//! `sasl_<option>` line of imapd.conf reaches libsasl2 as `<option>` (a
//! `sasl_<plugin>_<option>` line wins for that plugin), and a user-canonicalisation callback
//! that applies [`canonify_userid`]. A [`Server`] is one `sasl_conn_t` per client connection:
//! plaintext checks ([`Server::checkpass`]), the mechanism list, and the AUTH exchange
//! ([`Server::start`], [`Server::step`]). All FFI lives in the private `ffi` module.

mod ffi;

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::fmt;
use std::sync::OnceLock;

use crate::config::Config;

/// A libsasl2 result code other than success.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SaslError(pub i32);

impl SaslError {
    /// `SASL_BADAUTH`: wrong credentials.
    pub const BADAUTH: SaslError = SaslError(ffi::BADAUTH);
    /// `SASL_NOUSER`: no such user.
    pub const NOUSER: SaslError = SaslError(ffi::NOUSER);
    /// `SASL_FAIL`: generic failure.
    pub const FAIL: SaslError = SaslError(ffi::FAIL);

    /// libsasl2's English text for the code (`sasl_errstring`).
    pub fn message(self) -> String {
        ffi::errstring(self.0)
    }
}

impl fmt::Display for SaslError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for SaslError {}

/// What imapd.conf says about users, captured at [`init`] for the callbacks.
#[derive(Debug, Clone, Default)]
struct Rules {
    sasl: HashMap<String, &'static CStr>,
    tolower: bool,
    loginrealms: Vec<String>,
    /// `admins` and `proxyservers`: who may act as another user (SASL authorization).
    proxies: Vec<String>,
}

static RULES: OnceLock<Rules> = OnceLock::new();

fn rules_of(config: &Config) -> Rules {
    let service = config.service().map(|s| format!("{s}_"));
    let mut sasl = HashMap::new();
    for (key, _) in config.overflow() {
        let base = match &service {
            Some(p) if key.starts_with(p.as_str()) => &key[p.len()..],
            _ => key,
        };
        let Some(opt) = base.strip_prefix("sasl_") else {
            continue;
        };
        if let Some(v) = config.overflow_string(base).and_then(ffi::leak_cstring) {
            sasl.insert(opt.to_string(), v);
        }
    }
    Rules {
        sasl,
        tolower: config.switch("username_tolower"),
        loginrealms: words(config.string("loginrealms")),
        proxies: words(config.string("admins"))
            .into_iter()
            .chain(words(config.string("proxyservers")))
            .collect(),
    }
}

/// Cyrus's proxy policy: an admin or a `proxyservers` member may log in as another user by
/// giving that user as the SASL authorization identity.
fn proxy_callback(_authzid: &str, authid: &str) -> bool {
    RULES
        .get()
        .is_some_and(|r| r.proxies.iter().any(|p| p == authid))
}

fn words(s: Option<&str>) -> Vec<String> {
    s.unwrap_or("")
        .split_ascii_whitespace()
        .map(str::to_string)
        .collect()
}

fn lookup_option(plugin: Option<&str>, option: &str) -> Option<&'static CStr> {
    let rules = RULES.get()?;
    if let Some(p) = plugin {
        if let Some(v) = rules.sasl.get(&format!("{p}_{option}")) {
            return Some(v);
        }
    }
    rules.sasl.get(option).copied()
}

fn canon_callback(user: &str) -> Option<String> {
    let rules = RULES.get()?;
    canonify(rules, user, true)
}

/// Bytes Cyrus's unix auth refuses in a userid (besides controls and 8-bit bytes).
const FORBIDDEN: &[u8] = b"%&*/:?";

/// `sasl` is true for names libsasl2 is about to look up: there `user@realm` is accepted
/// only for a login realm, and the realm is dropped. A login name (USER) keeps its `@` as
/// Cyrus does (such a name then matches no password).
fn canonify(rules: &Rules, user: &str, sasl: bool) -> Option<String> {
    let user = user.trim_matches(|c: char| c.is_ascii_whitespace());
    if user.is_empty()
        || user
            .bytes()
            .any(|b| !(0x20..0x7f).contains(&b) || FORBIDDEN.contains(&b))
    {
        return None;
    }
    let bare = match user.rsplit_once('@') {
        _ if !sasl => user,
        Some((local, realm))
            if !local.is_empty() && rules.loginrealms.iter().any(|r| r == realm) =>
        {
            local
        }
        Some(_) => return None,
        None => user,
    };
    if bare == "anyone" || bare == "anonymous" {
        return Some(bare.to_string());
    }
    Some(if rules.tolower {
        bare.to_ascii_lowercase()
    } else {
        bare.to_string()
    })
}

/// Starts libsasl2 for this process (`sasl_server_init`, application name "Cyrus") with the
/// `sasl_*` options and userid rules of `config`; later calls keep the first configuration.
pub fn init(config: &Config) -> Result<(), SaslError> {
    let _ = RULES.set(rules_of(config));
    let r = ffi::server_init(lookup_option, canon_callback, proxy_callback, c"Cyrus");
    if r == ffi::OK {
        Ok(())
    } else {
        Err(SaslError(r))
    }
}

/// Canonicalises a login name (USER) as Cyrus does without virtual domains: trims blanks,
/// refuses control and 8-bit bytes and any of `%&*/:?`, lowercases when `username_tolower`
/// is on. `None` for a name that cannot be a userid. (libsasl2's own lookups additionally
/// accept `user@realm` only for a realm in `loginrealms`.)
pub fn canonify_userid(config: &Config, user: &str) -> Option<String> {
    canonify(&rules_of_light(config), user, false)
}

fn rules_of_light(config: &Config) -> Rules {
    Rules {
        sasl: HashMap::new(),
        tolower: config.switch("username_tolower"),
        loginrealms: words(config.string("loginrealms")),
        proxies: Vec::new(),
    }
}

/// Whether `userid` is in the `admins` list.
pub fn is_admin(config: &Config, userid: &str) -> bool {
    words(config.string("admins")).iter().any(|a| a == userid)
}

/// The outcome of one step of a SASL exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The mechanism wants another client response; send this challenge.
    Continue(Vec<u8>),
    /// Authenticated.
    Done,
}

/// One server-side SASL connection (`sasl_conn_t`).
#[derive(Debug)]
pub struct Server {
    conn: ffi::Conn,
}

/// `SASL_SEC_NOPLAINTEXT`.
const SEC_NOPLAINTEXT: u32 = 0x0001;
/// `SASL_SEC_NOANONYMOUS`.
const SEC_NOANONYMOUS: u32 = 0x0010;

impl Server {
    /// `sasl_server_new(service, servername, NULL realm, ...)` with Cyrus's security
    /// properties: no anonymous mechanisms, and no plaintext ones unless `allowplaintext`.
    pub fn new(config: &Config, service: &str) -> Result<Server, SaslError> {
        let servername = config
            .string("servername")
            .map(str::to_string)
            .unwrap_or_else(hostname);
        let svc = CString::new(service).map_err(|_| SaslError::FAIL)?;
        let fqdn = CString::new(servername).map_err(|_| SaslError::FAIL)?;
        let mut flags = SEC_NOANONYMOUS;
        if !config.switch("allowplaintext") {
            flags |= SEC_NOPLAINTEXT;
        }
        let max_ssf = u32::try_from(config.int("sasl_maximum_layer")).unwrap_or(256);
        let conn = ffi::server_new(&svc, &fqdn, None, flags, max_ssf).map_err(SaslError)?;
        Ok(Server { conn })
    }

    /// Declares the TLS layer under this connection (`ssf` bits, and the client
    /// certificate's name if any), as Cyrus does after STARTTLS: with one, mechanisms that
    /// send passwords in the clear are offered even when `allowplaintext` is off.
    pub fn set_external(&mut self, ssf: u32, auth_id: Option<&str>) -> Result<(), SaslError> {
        let id = auth_id
            .map(CString::new)
            .transpose()
            .map_err(|_| SaslError::FAIL)?;
        match ffi::set_external(&mut self.conn, ssf, id.as_deref()) {
            ffi::OK => Ok(()),
            e => Err(SaslError(e)),
        }
    }

    /// Checks a plaintext password (`sasl_checkpass`); on success the canonical userid.
    pub fn checkpass(&mut self, user: &str, pass: &[u8]) -> Result<String, SaslError> {
        let r = ffi::checkpass(&mut self.conn, user.as_bytes(), pass);
        if r != ffi::OK {
            return Err(SaslError(r));
        }
        Ok(ffi::username(&mut self.conn).unwrap_or_else(|| user.to_string()))
    }

    /// Whether APOP can be checked with the configured password store.
    pub fn apop_supported(&mut self) -> bool {
        ffi::apop_supported(&mut self.conn)
    }

    /// Checks an APOP response (`user digest`) to `challenge`; on success the userid.
    pub fn checkapop(&mut self, challenge: &str, response: &[u8]) -> Result<String, SaslError> {
        let r = ffi::checkapop(&mut self.conn, challenge.as_bytes(), response);
        if r != ffi::OK {
            return Err(SaslError(r));
        }
        ffi::username(&mut self.conn).ok_or(SaslError::FAIL)
    }

    /// The mechanisms offered, joined as `sasl_listmech` does; `None` when there are none.
    pub fn mechanisms(&mut self, prefix: &str, sep: &str, suffix: &str) -> Option<String> {
        let p = CString::new(prefix).ok()?;
        let s = CString::new(sep).ok()?;
        let x = CString::new(suffix).ok()?;
        match ffi::listmech(&mut self.conn, &p, &s, &x) {
            Ok((list, n)) if n > 0 => Some(list),
            _ => None,
        }
    }

    /// Begins an exchange with `mech` and an optional initial response.
    pub fn start(&mut self, mech: &str, initial: Option<&[u8]>) -> Result<Step, SaslError> {
        let m = CString::new(mech).map_err(|_| SaslError(ffi::FAIL))?;
        let (r, out) = ffi::server_start(&mut self.conn, &m, initial);
        Self::outcome(r, out)
    }

    /// Feeds the next client response.
    pub fn step(&mut self, response: &[u8]) -> Result<Step, SaslError> {
        let (r, out) = ffi::server_step(&mut self.conn, response);
        Self::outcome(r, out)
    }

    fn outcome(r: i32, out: Vec<u8>) -> Result<Step, SaslError> {
        match r {
            ffi::OK => Ok(Step::Done),
            ffi::CONTINUE => Ok(Step::Continue(out)),
            e => Err(SaslError(e)),
        }
    }

    /// libsasl2's detail on the last failure (`sasl_errdetail`), for the log.
    pub fn error_detail(&mut self) -> String {
        ffi::errdetail(&mut self.conn)
    }

    /// The authenticated userid (`SASL_USERNAME`), after [`Step::Done`].
    pub fn username(&mut self) -> Option<String> {
        ffi::username(&mut self.conn)
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding, as SASL challenges go on the wire.
pub fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Strict base64 decoding of a client response; `None` for anything malformed.
pub fn base64_decode(text: &[u8]) -> Option<Vec<u8>> {
    if text.len() & 3 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    for (ci, chunk) in text.chunks(4).enumerate() {
        let last = ci + 1 == text.len() / 4;
        let mut n: u32 = 0;
        let mut pad = 0;
        for (i, &c) in chunk.iter().enumerate() {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                b'=' if last && i >= 2 => {
                    pad += 1;
                    0
                }
                _ => return None,
            };
            if pad > 0 && c != b'=' {
                return None;
            }
            n = (n << 6) | u32::from(v);
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(tolower: bool, realms: &[&str]) -> Rules {
        Rules {
            sasl: HashMap::new(),
            tolower,
            loginrealms: realms.iter().map(|s| s.to_string()).collect(),
            proxies: Vec::new(),
        }
    }

    #[test]
    fn userids_are_canonified() {
        let r = rules(true, &["example.org"]);
        let cases: &[(&str, Option<&str>)] = &[
            ("bob", Some("bob")),
            ("BoB", Some("bob")),
            (" bob ", Some("bob")),
            ("bob@example.org", Some("bob")),
            ("bob@elsewhere.org", None),
            ("@example.org", None),
            ("a:b", None),
            ("b\u{e9}b", None),
            ("", None),
            ("b\x01ob", None),
        ];
        for (input, want) in cases {
            assert_eq!(canonify(&r, input, true).as_deref(), *want, "{input:?}");
        }
        assert_eq!(
            canonify(&rules(false, &[]), "BoB", true).as_deref(),
            Some("BoB")
        );
        assert_eq!(canonify(&r, "bob@host", false).as_deref(), Some("bob@host"));
        assert_eq!(canonify(&r, "a%b", false), None);
        assert_eq!(canonify(&r, "bob@host", true), None);
    }

    #[test]
    fn base64_round_trips() {
        for s in [&b""[..], b"a", b"ab", b"abc", b"\0bob\0secret"] {
            assert_eq!(
                base64_decode(base64_encode(s).as_bytes()).as_deref(),
                Some(s)
            );
        }
        assert_eq!(base64_encode(b"\0bob\0secret"), "AGJvYgBzZWNyZXQ=");
        for bad in [&b"A"[..], b"AB=C", b"====", b"AB\0C", b"AA==AAAA"] {
            assert_eq!(base64_decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn plaintext_login_against_a_sasldb() {
        let dir = std::env::temp_dir().join(format!("cyrus-auth-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let db = dir.join("sasldb2");
        let made = std::process::Command::new("/usr/sbin/saslpasswd2")
            .args(["-p", "-c", "-f"])
            .arg(&db)
            .args(["-u", "test-host", "carol"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                if let Some(mut i) = c.stdin.take() {
                    i.write_all(b"pw")?;
                }
                c.wait()
            });
        if !made.is_ok_and(|s| s.success()) {
            eprintln!("skipped: saslpasswd2 is not available");
            return;
        }
        let text = format!(
            "configdirectory: {d}\nservername: test-host\nallowplaintext: yes\nsasl_pwcheck_method: auxprop\nsasl_auxprop_plugin: sasldb\nsasl_sasldb_path: {db}\nsasl_mech_list: PLAIN LOGIN\nadmins: root carol\n",
            d = dir.display(),
            db = db.display()
        );
        let config = Config::parse(&text, &dir.join("imapd.conf"), Some("pop3")).unwrap();
        init(&config).unwrap();
        let mut s = Server::new(&config, "pop").unwrap();
        assert_eq!(s.checkpass("carol", b"pw").unwrap(), "carol");
        let mut s = Server::new(&config, "pop").unwrap();
        assert!(s.checkpass("carol", b"wrong").is_err());
        assert_eq!(
            s.mechanisms("SASL ", " ", "").as_deref(),
            Some("SASL PLAIN LOGIN")
        );
        let mut s = Server::new(&config, "pop").unwrap();
        assert_eq!(s.start("PLAIN", Some(b"\0carol\0pw")), Ok(Step::Done));
        assert_eq!(s.username().as_deref(), Some("carol"));
        let mut s = Server::new(&config, "pop").unwrap();
        assert!(matches!(s.start("PLAIN", None), Ok(Step::Continue(_))));
        assert!(s.step(b"\0carol\0nope").is_err());
        assert!(s.apop_supported());
        assert!(is_admin(&config, "carol") && !is_admin(&config, "bob"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
