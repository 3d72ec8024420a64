//! cyrus.conf, the table of processes `master` runs: START, SERVICES, EVENTS and DAEMON.
//!
//! The reading follows Cyrus 3.6's `masterconf.c`, quirks included, as checked against Debian's
//! 3.6.1 binaries: the file is read in chunks of at most 4095 bytes (`fgets` into a 4096-byte
//! buffer); each section is searched for separately; a header is the section name at the start
//! of a line (first letter as written, the rest in any case) followed by `{` on the same line,
//! and only the first such section counts, because the closing `}` is consumed without being
//! counted; `#` starts a comment anywhere, even inside quotes; an entry is
//! `name key=value key="quoted value" ...` with a name and keys of letters and digits, quoted
//! values running to the next `"` without escapes; a line starting with `}` ends the section.
//! Numbers that do not look like numbers, and unreadable switches, fall back to the default.

use std::path::{Path, PathBuf};

use super::value::{is_space, parse_switch};
use crate::error::{Error, Result};

/// Most `key=value` pairs one entry may have (Cyrus's `MAXARGS`).
const MAX_ARGS: usize = 64;

/// Longest chunk Cyrus's `fgets` reads in one go.
const CHUNK: usize = 4095;

/// One entry of a section, before its keys are interpreted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    /// The entry's name (letters and digits; can be empty in odd files, as in Cyrus).
    pub name: String,
    /// Line number of the entry.
    pub line: usize,
    /// The `key=value` pairs in file order.
    pub args: Vec<(String, String)>,
}

impl RawEntry {
    /// The first value given for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.args
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// An integer value read like Cyrus's `masterconf_getint` (`atoi` on text that starts with
    /// a digit or `-digit`), else `default`.
    pub fn int(&self, key: &str, default: i32) -> i32 {
        let Some(v) = self.get(key) else {
            return default;
        };
        let b = v.as_bytes();
        let numeric = b.first().is_some_and(u8::is_ascii_digit)
            || (b.first() == Some(&b'-') && b.get(1).is_some_and(u8::is_ascii_digit));
        if !numeric {
            return default;
        }
        atoi(v)
    }

    /// A switch value (same spellings as imapd.conf), else `default`.
    pub fn switch(&self, key: &str, default: bool) -> bool {
        self.get(key).and_then(parse_switch).unwrap_or(default)
    }

    /// The `cmd` value split into argv on whitespace, as `master` does before `exec`.
    pub fn argv(&self) -> Vec<String> {
        self.get("cmd")
            .unwrap_or("")
            .split([' ', '\t', '\r', '\n'])
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    }
}

/// C's `atoi` as glibc does it: `strtol` base 10, then cut to `int`.
fn atoi(s: &str) -> i32 {
    let t = s.trim_start_matches(is_space);
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut acc: i64 = 0;
    for c in t.bytes().take_while(u8::is_ascii_digit) {
        acc = acc.saturating_mul(10).saturating_add(i64::from(c - b'0'));
    }
    let v = if neg { acc.saturating_neg() } else { acc };
    // The cut to 32 bits keeps the low bits, as the C conversion does on Linux.
    v as i32
}

/// A START entry: run to completion before anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartEntry {
    /// Entry name.
    pub name: String,
    /// Line number in cyrus.conf.
    pub line: usize,
    /// Program and arguments.
    pub cmd: Vec<String>,
}

/// A SERVICES entry: a listener and the workers that serve it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceEntry {
    /// Entry name; also the worker's `CYRUS_SERVICE` and its imapd.conf service name.
    pub name: String,
    /// Line number in cyrus.conf.
    pub line: usize,
    /// Program and arguments.
    pub cmd: Vec<String>,
    /// `/path` for a UNIX socket, else `[host:]port`.
    pub listen: String,
    /// tcp, tcp4, tcp6, udp, udp4 or udp6 (default tcp; anything else disables the service).
    pub proto: String,
    /// Idle workers to keep ready (at least 1 when babysat; at most 1 for UDP).
    pub prefork: i32,
    /// Most workers at once; -1 means no limit (always 1 for UDP).
    pub maxchild: i32,
    /// Most forks per second; 0 means no limit (10 when babysat and not given).
    pub maxforkrate: i32,
    /// Keep at least one worker alive at all times.
    pub babysit: bool,
    /// Descriptor limit for the workers; 0 leaves the limit alone.
    pub maxfds: i32,
}

/// An EVENTS entry: a command run periodically or at a time of day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventEntry {
    /// Entry name.
    pub name: String,
    /// Line number in cyrus.conf.
    pub line: usize,
    /// Program and arguments.
    pub cmd: Vec<String>,
    /// Minutes between runs; 0 without `at` means once at startup; 1440 when `at` is given.
    pub period_minutes: i32,
    /// Daily run time (hour, minute), from `at=HHMM`.
    pub at: Option<(u8, u8)>,
}

/// A DAEMON entry: a long-running process master keeps alive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonEntry {
    /// Entry name.
    pub name: String,
    /// Line number in cyrus.conf.
    pub line: usize,
    /// Program and arguments.
    pub cmd: Vec<String>,
    /// Wait for the daemon to write `ok\r\n` on fd 3 before going on.
    pub wait: bool,
    /// Descriptor limit; 0 leaves the limit alone.
    pub maxfds: i32,
    /// Most restarts per second; 0 means no limit.
    pub maxforkrate: i32,
}

/// A whole cyrus.conf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterConf {
    /// The file it was read from.
    pub path: PathBuf,
    /// START entries in file order.
    pub start: Vec<StartEntry>,
    /// SERVICES entries in file order.
    pub services: Vec<ServiceEntry>,
    /// EVENTS entries in file order.
    pub events: Vec<EventEntry>,
    /// DAEMON entries in file order.
    pub daemons: Vec<DaemonEntry>,
}

fn config_error(file: &Path, line: usize, msg: impl Into<String>) -> Error {
    Error::Config {
        file: file.to_path_buf(),
        line,
        msg: msg.into(),
    }
}

/// The text as Cyrus's `fgets(buf, 4096)` loop sees it: chunks of at most 4095 bytes, each
/// ending at a newline (removed) or at the size limit, cut at the first NUL.
fn chunks(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text.as_bytes();
    while !rest.is_empty() {
        let end = match rest.iter().take(CHUNK).position(|&c| c == b'\n') {
            Some(nl) => nl + 1,
            None => rest.len().min(CHUNK),
        };
        let mut chunk = &rest[..end];
        rest = &rest[end..];
        if let Some(nul) = chunk.iter().position(|&c| c == 0) {
            chunk = &chunk[..nul];
        } else if chunk.last() == Some(&b'\n') {
            chunk = &chunk[..chunk.len() - 1];
        }
        out.push(String::from_utf8_lossy(chunk).into_owned());
    }
    out
}

/// A chunk with leading blanks skipped and any `#` comment cut off.
fn content(chunk: &str) -> &str {
    let p = chunk.trim_start_matches(is_space);
    match p.find('#') {
        Some(i) => &p[..i],
        None => p,
    }
}

fn brace_delta(s: &str) -> i64 {
    s.bytes()
        .map(|c| match c {
            b'{' => 1,
            b'}' => -1,
            _ => 0,
        })
        .sum()
}

/// The entries of the first section called `section` (e.g. `"SERVICES"`) in cyrus.conf text.
pub fn read_section(text: &str, path: &Path, section: &str) -> Result<Vec<RawEntry>> {
    let lines = chunks(text);
    let mut entries = Vec::new();
    let mut level: i64 = 0;
    let mut i = 0;
    while i < lines.len() {
        let p = content(&lines[i]);
        i += 1;
        if p.is_empty() {
            continue;
        }
        if level == 0 && is_header(p, section) {
            level += brace_delta(&p[section.len()..]);
            if level == 1 {
                i = read_entries(&lines, i, path, &mut entries)?;
            }
            continue;
        }
        level += brace_delta(p);
    }
    Ok(entries)
}

/// True if `p` opens `section`: its first letter exactly, the rest in any case, then a
/// non-alphanumeric character or the end.
fn is_header(p: &str, section: &str) -> bool {
    let (pb, sb) = (p.as_bytes(), section.as_bytes());
    pb.len() >= sb.len()
        && pb.first() == sb.first()
        && pb[..sb.len()].eq_ignore_ascii_case(sb)
        && !pb.get(sb.len()).is_some_and(u8::is_ascii_alphanumeric)
}

/// Reads entries from line index `start` until the section's `}`; returns the next index.
fn read_entries(
    lines: &[String],
    start: usize,
    path: &Path,
    out: &mut Vec<RawEntry>,
) -> Result<usize> {
    let mut i = start;
    while i < lines.len() {
        let lineno = i + 1;
        let p = content(&lines[i]);
        i += 1;
        if p.is_empty() {
            continue;
        }
        if p.starts_with('}') {
            break;
        }
        let name_len = p.bytes().take_while(u8::is_ascii_alphanumeric).count();
        let name = &p[..name_len];
        let mut rest = &p[name_len..];
        if let Some(c) = rest.chars().next() {
            if name_len > 0 && !is_space(c) {
                return Err(config_error(
                    path,
                    lineno,
                    format!("bad character '{c}' in name"),
                ));
            }
            // Cyrus steps over one character here, even when the name is empty.
            rest = &rest[c.len_utf8()..];
        } else if name_len == 0 {
            continue;
        }
        // (Cyrus also looks for a `}` after the arguments, but by then it can only see the
        // first key, which holds letters and digits alone, so that test never fires.)
        let args = split_args(rest, path, lineno)?;
        out.push(RawEntry {
            name: name.to_string(),
            line: lineno,
            args,
        });
    }
    Ok(i)
}

/// Splits `key=value key="quoted value"` pairs.
fn split_args(s: &str, path: &Path, lineno: usize) -> Result<Vec<(String, String)>> {
    let mut args = Vec::new();
    let mut rest = s;
    loop {
        rest = rest.trim_start_matches(is_space);
        if rest.is_empty() {
            return Ok(args);
        }
        let key_len = rest.bytes().take_while(u8::is_ascii_alphanumeric).count();
        let key = &rest[..key_len];
        rest = &rest[key_len..];
        match rest.chars().next() {
            Some('=') => rest = &rest[1..],
            other => {
                let c = other.map_or_else(|| "\\0".to_string(), |c| c.to_string());
                return Err(config_error(
                    path,
                    lineno,
                    format!("bad character '{c}' in argument"),
                ));
            }
        }
        let value;
        if let Some(quoted) = rest.strip_prefix('"') {
            let Some(end) = quoted.find('"') else {
                return Err(config_error(path, lineno, "missing \""));
            };
            value = &quoted[..end];
            rest = &quoted[end + 1..];
        } else {
            let end = rest.find(is_space).unwrap_or(rest.len());
            value = &rest[..end];
            rest = &rest[end..];
            // Cyrus consumes the one blank that ended the word.
            if let Some(c) = rest.chars().next() {
                rest = &rest[c.len_utf8()..];
            }
        }
        if args.len() == MAX_ARGS {
            return Err(config_error(path, lineno, "too many arguments"));
        }
        args.push((key.to_string(), value.to_string()));
    }
}

fn required_cmd(e: &RawEntry, path: &Path, what: &str) -> Result<Vec<String>> {
    let cmd = e.argv();
    if cmd.is_empty() {
        return Err(config_error(
            path,
            e.line,
            format!("unable to find command for {what} '{}'", e.name),
        ));
    }
    Ok(cmd)
}

fn is_udp(proto: &str) -> bool {
    matches!(proto, "udp" | "udp4" | "udp6")
}

impl MasterConf {
    /// `/etc/cyrus.conf`, or `$CYRUS_PREFIX/etc/cyrus.conf` when that file exists.
    pub fn default_path() -> PathBuf {
        super::prefixed_default("cyrus.conf")
    }

    /// Reads cyrus.conf from `path` (trying `$CYRUS_PREFIX` before it, as Cyrus does).
    pub fn load(path: &Path) -> Result<MasterConf> {
        let text = read_file(path)?;
        MasterConf::parse(&text, path)
    }

    /// Parses cyrus.conf text that came from `path`.
    pub fn parse(text: &str, path: &Path) -> Result<MasterConf> {
        let mut conf = MasterConf {
            path: path.to_path_buf(),
            start: Vec::new(),
            services: Vec::new(),
            events: Vec::new(),
            daemons: Vec::new(),
        };
        for e in read_section(text, path, "START")? {
            let cmd = required_cmd(&e, path, "startup entry")?;
            conf.start.push(StartEntry {
                name: e.name,
                line: e.line,
                cmd,
            });
        }
        for e in read_section(text, path, "SERVICES")? {
            conf.services.push(service_entry(&e, path)?);
        }
        for e in read_section(text, path, "EVENTS")? {
            let cmd = required_cmd(&e, path, "event")?;
            let mut period_minutes = e.int("period", 0);
            let at = e.int("at", -1);
            let at = (at >= 0 && at / 100 <= 23 && at % 100 <= 59)
                .then_some(((at / 100) as u8, (at % 100) as u8));
            if at.is_some() {
                period_minutes = 24 * 60;
            }
            conf.events.push(EventEntry {
                name: e.name,
                line: e.line,
                cmd,
                period_minutes,
                at,
            });
        }
        for e in read_section(text, path, "DAEMON")? {
            let cmd = required_cmd(&e, path, "daemon")?;
            conf.daemons.push(DaemonEntry {
                wait: e.switch("wait", false),
                maxfds: e.int("maxfds", 0),
                maxforkrate: e.int("maxforkrate", 0),
                name: e.name,
                line: e.line,
                cmd,
            });
        }
        Ok(conf)
    }
}

fn service_entry(e: &RawEntry, path: &Path) -> Result<ServiceEntry> {
    let cmd = e.argv();
    let listen = e.get("listen").unwrap_or("");
    if cmd.is_empty() || listen.is_empty() {
        return Err(config_error(
            path,
            e.line,
            format!("unable to find command or port for service '{}'", e.name),
        ));
    }
    let proto = e.get("proto").unwrap_or("tcp").to_string();
    let babysit = e.switch("babysit", false);
    let mut prefork = e.int("prefork", 0);
    let mut maxforkrate = e.int("maxforkrate", 0);
    let mut maxchild = e.int("maxchild", -1);
    if babysit && prefork == 0 {
        prefork = 1;
    }
    if babysit && maxforkrate == 0 {
        maxforkrate = 10;
    }
    if is_udp(&proto) {
        maxchild = 1;
        prefork = prefork.min(1);
    }
    Ok(ServiceEntry {
        name: e.name.clone(),
        line: e.line,
        cmd,
        listen: listen.to_string(),
        proto,
        prefork,
        maxchild,
        maxforkrate,
        babysit,
        maxfds: e.int("maxfds", 0),
    })
}

/// Reads a file with `$CYRUS_PREFIX` tried first, as `masterconf_getsection` does.
pub fn read_file(path: &Path) -> Result<String> {
    super::imapd_conf::read_prefixed(&path.to_string_lossy()).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p() -> &'static Path {
        Path::new("/etc/cyrus.conf")
    }

    fn names(text: &str, section: &str) -> Vec<String> {
        read_section(text, p(), section)
            .expect("parses")
            .into_iter()
            .map(|e| e.name)
            .collect()
    }

    #[test]
    fn headers_as_debian_master_reads_them() {
        // (header line, is the SERVICES section found?) -- from Debian's cyr_info conf-lint.
        let cases: &[(&str, bool)] = &[
            ("SERVICES {", true),
            ("SeRvIcEs {", true),
            ("SERVICES{", true),
            ("SERVICES { # comment", true),
            ("  SERVICES {", true),
            ("services {", false),
            ("SERVICES", false),
            ("SERVICESX {", false),
            ("SERVICES {{", false),
            ("SERVICES { }", false),
            ("X { SERVICES {", false),
        ];
        for (header, found) in cases {
            let text = format!("{header}\n imap cmd=x listen=1\n}}\n");
            assert_eq!(names(&text, "SERVICES") == ["imap"], *found, "{header:?}");
        }
        // The brace on the next line does not open the section.
        assert!(names("SERVICES\n{\n imap cmd=x\n}\n", "SERVICES").is_empty());
    }

    #[test]
    fn only_the_first_section_counts_and_others_are_skipped() {
        let text = "START {\n}\nSERVICES {\n imap cmd=x\n}\nSERVICES {\n foo cmd=y\n}\n";
        assert_eq!(names(text, "SERVICES"), ["imap"]);
        let text = "SERVICES {\n imap cmd=x\n }\n foo cmd=y\n";
        assert_eq!(names(text, "SERVICES"), ["imap"]);
        let text = "SERVICES {\n imap cmd=x\n   } junk\n foo cmd=y\n}\n";
        assert_eq!(names(text, "SERVICES"), ["imap"]);
        // An unterminated section simply runs to the end of the file.
        assert_eq!(
            names("SERVICES {\n a cmd=x\n b cmd=y\n", "SERVICES"),
            ["a", "b"]
        );
    }

    #[test]
    fn entries_and_values() {
        let text = "SERVICES {\n  imap\tcmd=\"imapd -U 30\" listen=imap prefork=0 # c\n  x cmd=\"a}\"listen=\"q r\"\n}\n";
        let got = read_section(text, p(), "SERVICES").expect("parses");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].name, "imap");
        assert_eq!(got[0].line, 2);
        assert_eq!(got[0].get("cmd"), Some("imapd -U 30"));
        assert_eq!(got[0].get("listen"), Some("imap"));
        assert_eq!(got[0].argv(), ["imapd", "-U", "30"]);
        assert_eq!(got[1].get("cmd"), Some("a}"));
        assert_eq!(got[1].get("listen"), Some("q r"));
        // A bare name is an entry with no arguments.
        assert_eq!(
            names("SERVICES {\n imap\n foo\n}\n", "SERVICES"),
            ["imap", "foo"]
        );
    }

    #[test]
    fn errors_carry_the_line() {
        let cases: &[(&str, usize, &str)] = &[
            (
                "SERVICES {\n foo-x cmd=x\n}\n",
                2,
                "bad character '-' in name",
            ),
            (
                "SERVICES {\n imap cmd=x }\n}\n",
                2,
                "bad character '}' in argument",
            ),
            ("SERVICES {\n\n imap cmd=\"x#y\"\n}\n", 3, "missing \""),
            (
                "SERVICES {\n imap cmd=x b-d=1\n}\n",
                2,
                "bad character '-' in argument",
            ),
            (
                "SERVICES {\n imap cmd=x bad\n}\n",
                2,
                "bad character '\\0' in argument",
            ),
            (
                "SERVICES {\n \"imap cmd=x\n}\n",
                2,
                "bad character ' ' in argument",
            ),
        ];
        for (text, line, msg) in cases {
            match read_section(text, p(), "SERVICES") {
                Err(Error::Config {
                    line: l, msg: m, ..
                }) => {
                    assert_eq!((l, m.as_str()), (*line, *msg), "{text:?}");
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
        let many: String = (0..65).map(|i| format!(" k{i}=v")).collect();
        let text = format!("SERVICES {{\n imap{many}\n}}\n");
        assert!(read_section(&text, p(), "SERVICES").is_err());
    }

    #[test]
    fn numbers_and_switches_fall_back_to_defaults() {
        let e = RawEntry {
            name: "x".into(),
            line: 1,
            args: vec![
                ("a".into(), "10abc".into()),
                ("b".into(), "abc".into()),
                ("c".into(), "-5".into()),
                ("d".into(), "-x".into()),
                ("e".into(), "4294967297".into()),
                ("y".into(), "yes".into()),
                ("z".into(), "maybe".into()),
                ("a".into(), "99".into()),
            ],
        };
        assert_eq!(e.int("a", 7), 10);
        assert_eq!(e.int("b", 7), 7);
        assert_eq!(e.int("c", 7), -5);
        assert_eq!(e.int("d", 7), 7);
        assert_eq!(e.int("e", 7), 1);
        assert_eq!(e.int("missing", 7), 7);
        assert!(e.switch("y", false));
        assert!(e.switch("z", true));
        assert!(!e.switch("missing", false));
    }

    #[test]
    fn typed_entries_with_cyrus_defaults() {
        let text = r#"
START {
  recover cmd="ctl_cyrusdb -r"
}
SERVICES {
  imap   cmd="imapd -U 30" listen="imap" prefork=0 maxchild=100
  sitter cmd="x" listen="1" babysit=1
  notify cmd="notifyd" listen="/run/notify" proto="udp" prefork=3
}
EVENTS {
  checkpoint cmd="ctl_cyrusdb -c" period=30
  delprune   cmd="cyr_expire -E 3" at=0400
  badat      cmd="x" at=2460
}
DAEMON {
  idled cmd="idled" wait=y
}
"#;
        let c = MasterConf::parse(text, p()).expect("parses");
        assert_eq!(c.start[0].cmd, ["ctl_cyrusdb", "-r"]);
        let imap = &c.services[0];
        assert_eq!(
            (imap.proto.as_str(), imap.prefork, imap.maxchild),
            ("tcp", 0, 100)
        );
        assert_eq!((imap.maxforkrate, imap.babysit, imap.maxfds), (0, false, 0));
        let sitter = &c.services[1];
        assert_eq!(
            (sitter.prefork, sitter.maxforkrate, sitter.maxchild),
            (1, 10, -1)
        );
        let notify = &c.services[2];
        assert_eq!((notify.prefork, notify.maxchild), (1, 1));
        assert_eq!(c.events[0].period_minutes, 30);
        assert_eq!(c.events[0].at, None);
        assert_eq!(c.events[1].at, Some((4, 0)));
        assert_eq!(c.events[1].period_minutes, 1440);
        assert_eq!(c.events[2].at, None);
        assert!(c.daemons[0].wait);
    }

    #[test]
    fn missing_command_or_listen_is_an_error() {
        for text in [
            "SERVICES {\n imap listen=1\n}\n",
            "SERVICES {\n imap cmd=x\n}\n",
            "EVENTS {\n e period=1\n}\n",
            "START {\n s\n}\n",
            "DAEMON {\n d cmd=\"  \"\n}\n",
        ] {
            match MasterConf::parse(text, p()) {
                Err(Error::Config { line: 2, .. }) => {}
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn long_lines_are_read_in_fgets_chunks() {
        let long = format!(" imap cmd=x listen=1 k={}\n", "v".repeat(5000));
        let text = format!("SERVICES {{\n{long} foo cmd=y listen=2\n}}\n");
        // The tail of the long line becomes a second "entry" line, as in Cyrus: it begins
        // with letters, so it parses as a name followed by nothing.
        let got = names(&text, "SERVICES");
        assert_eq!(got.first().map(String::as_str), Some("imap"));
        assert_eq!(got.last().map(String::as_str), Some("foo"));
    }

    proptest! {
        #[test]
        fn never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = MasterConf::parse(&text, p());
        }

        #[test]
        fn never_panics_on_conf_like_text(
            lines in proptest::collection::vec(
                "[A-Za-z{}#\" =\t0-9-]{0,40}", 0..20)
        ) {
            let text = format!("SERVICES {{\n{}\n}}\n", lines.join("\n"));
            let _ = MasterConf::parse(&text, p());
            let _ = read_section(&text, p(), "SERVICES");
        }
    }
}
