//! The imapd.conf reader: Cyrus 3.6's line syntax, `@include`, service overrides, overflow keys.
//!
//! Rules (checked against Debian's 3.6.1 `cyr_info`): a line is `key: value`; leading blanks
//! are skipped; a line whose first non-blank is `#` is a comment (a `#` elsewhere belongs to
//! the value); a line ending in `\` continues on the next (both are removed, and errors are
//! reported on the last physical line). Keys are letters, digits, `-` and `_`, lowercased, and
//! must be followed directly by `:`; values are trimmed and may not be empty. `@include: file`
//! reads another file in place; a file read twice is an error. `<service>_<option>` wins over
//! `<option>` whatever the order; a known option given twice in the same form is an error.
//! Unknown keys go to the overflow table, where a repeated key is an error too.

use std::path::{Path, PathBuf};

use super::options::{self, Kind, Status, OPTIONS};
use super::overflow::Overflow;
use super::value::{default_value, is_space, parse_value, Value};
use crate::error::{Error, Result};

/// How deep `@include` may nest; Cyrus has no limit, but a bound keeps the stack safe.
const MAX_INCLUDE_DEPTH: usize = 64;

/// Where an option's current value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seen {
    /// Not set: the default is in force.
    No,
    /// Set by its plain name.
    Generic,
    /// Set by `<service>_<name>`.
    Service,
}

/// Everything the reader gathers from one configuration file and its includes.
#[derive(Debug, Clone)]
pub(crate) struct Parsed {
    pub values: Vec<Value>,
    pub seen: Vec<Seen>,
    pub overflow: Overflow,
}

/// State of one read of a configuration file and its includes.
struct Reader<'a> {
    service: Option<&'a str>,
    values: Vec<Value>,
    seen: Vec<Seen>,
    overflow: Overflow,
    included: Vec<String>,
}

fn config_error(file: &Path, line: usize, msg: impl Into<String>) -> Error {
    Error::Config {
        file: file.to_path_buf(),
        line,
        msg: msg.into(),
    }
}

/// Opens a configuration file as Cyrus does: `$CYRUS_PREFIX` glued before the name first.
pub(crate) fn read_prefixed(name: &str) -> std::io::Result<String> {
    if let Ok(prefix) = std::env::var("CYRUS_PREFIX") {
        if let Ok(bytes) = std::fs::read(format!("{prefix}{name}")) {
            return Ok(String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    std::fs::read(name).map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// Splits text into logical lines as Cyrus's `fgets` loop does: each item is the joined text
/// and the number of the physical line it ends on.
fn logical_lines(text: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut acc = String::new();
    let mut lineno = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let (raw, had_newline) = match rest.find('\n') {
            Some(i) => {
                let line = &rest[..i];
                rest = &rest[i + 1..];
                (line, true)
            }
            None => {
                let line = rest;
                rest = "";
                (line, false)
            }
        };
        lineno += 1;
        // C string semantics: a NUL ends the line's text, and then no continuation is seen.
        match raw.find('\0') {
            Some(nul) => acc.push_str(&raw[..nul]),
            None if had_newline && raw.ends_with('\\') => {
                acc.push_str(&raw[..raw.len() - 1]);
                continue;
            }
            None => acc.push_str(raw),
        }
        out.push((std::mem::take(&mut acc), lineno));
    }
    if !acc.is_empty() {
        out.push((acc, lineno));
    }
    out
}

impl<'a> Reader<'a> {
    fn new(service: Option<&'a str>) -> Reader<'a> {
        Reader {
            service,
            values: OPTIONS.iter().map(default_value).collect(),
            seen: vec![Seen::No; OPTIONS.len()],
            overflow: Overflow::default(),
            included: Vec::new(),
        }
    }

    /// Reads `text` as the content of the file `name` (the name as written, used to catch a
    /// second inclusion), shown in errors as `file`.
    fn read_text(&mut self, text: &str, name: &str, file: &Path, depth: usize) -> Result<()> {
        if self.included.iter().any(|n| n == name) {
            return Err(config_error(
                file,
                0,
                format!("configuration file {name} included twice"),
            ));
        }
        self.included.push(name.to_string());
        for (line, lineno) in logical_lines(text) {
            self.read_line(&line, lineno, file, depth)?;
        }
        Ok(())
    }

    fn read_line(&mut self, line: &str, lineno: usize, file: &Path, depth: usize) -> Result<()> {
        let p = line.trim_start_matches(is_space);
        if p.is_empty() || p.starts_with('#') {
            return Ok(());
        }
        let directive = p.starts_with('@');
        let body = if directive { &p[1..] } else { p };
        let key_len = body
            .bytes()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_')
            .count();
        if body.as_bytes().get(key_len) != Some(&b':') {
            return Err(config_error(file, lineno, "invalid option name"));
        }
        let key = body[..key_len].to_ascii_lowercase();
        let value = body[key_len + 1..].trim_matches(is_space);
        if value.is_empty() {
            return Err(config_error(file, lineno, "empty option value"));
        }
        if directive {
            if key != "include" {
                return Err(config_error(file, lineno, "invalid directive"));
            }
            return self.include(value, lineno, file, depth);
        }
        self.set(&key, value, lineno, file)
    }

    fn include(&mut self, name: &str, lineno: usize, file: &Path, depth: usize) -> Result<()> {
        if depth >= MAX_INCLUDE_DEPTH {
            return Err(config_error(file, lineno, "@include nested too deeply"));
        }
        // Cyrus opens the name as given (relative to the working directory); as a convenience
        // a relative name is also tried beside the including file.
        let (text, shown) = match read_prefixed(name) {
            Ok(t) => (t, PathBuf::from(name)),
            Err(err) => {
                let beside = file
                    .parent()
                    .filter(|_| Path::new(name).is_relative())
                    .map(|d| d.join(name));
                match beside.and_then(|p| std::fs::read(&p).ok().map(|b| (b, p))) {
                    Some((b, p)) => (String::from_utf8_lossy(&b).into_owned(), p),
                    None => {
                        return Err(config_error(
                            file,
                            lineno,
                            format!("can't open configuration file {name}: {err}"),
                        ))
                    }
                }
            }
        };
        self.read_text(&text, name, &shown, depth + 1)
    }

    /// Handles one `key: value` line; `key` is lowercase, `value` trimmed and not empty.
    fn set(&mut self, key: &str, value: &str, lineno: usize, file: &Path) -> Result<()> {
        let mut service_specific = false;
        let mut idx = None;
        if let Some(svc) = self.service {
            let (kb, sb) = (key.as_bytes(), svc.as_bytes());
            if kb.len() > sb.len()
                && kb[..sb.len()].eq_ignore_ascii_case(sb)
                && kb[sb.len()] == b'_'
            {
                let option = &key[sb.len() + 1..];
                if option.is_empty() {
                    // Cyrus aborts on this; an error is kinder.
                    return Err(config_error(file, lineno, "invalid option name"));
                }
                if let Some(i) = options::index_of(option) {
                    idx = Some(i);
                    service_specific = true;
                }
            }
        }
        if !service_specific {
            if key.is_empty() {
                return Err(config_error(file, lineno, "invalid option name"));
            }
            idx = options::index_of(key);
        }
        let Some(i) = idx else {
            return self.add_overflow(key, value, lineno, file);
        };
        match (self.seen[i], service_specific) {
            (Seen::Generic, false) | (Seen::Service, true) => {
                return Err(config_error(
                    file,
                    lineno,
                    format!("option '{key}' was specified twice in config file"),
                ));
            }
            // A generic line after a service-specific one is silently ignored.
            (Seen::Service, false) => return Ok(()),
            _ => {}
        }
        self.seen[i] = if service_specific {
            Seen::Service
        } else {
            Seen::Generic
        };
        let def = &OPTIONS[i];
        if def.is_deprecated() {
            // Cyrus also keeps the raw text of a deprecated option under its full key.
            self.add_overflow(key, value, lineno, file)?;
        }
        self.values[i] = parse_value(def, value).map_err(|msg| config_error(file, lineno, msg))?;
        Ok(())
    }

    fn add_overflow(&mut self, key: &str, value: &str, lineno: usize, file: &Path) -> Result<()> {
        if self.overflow.insert(key, value) {
            Ok(())
        } else {
            Err(config_error(
                file,
                lineno,
                format!("option '{key}' was specified twice in config file"),
            ))
        }
    }

    /// The steps Cyrus takes after reading: require configdirectory, expand
    /// `{configdirectory}`, carry deprecated values over, and check defaultpartition.
    fn finish(mut self, file: &Path) -> Result<Parsed> {
        let cfgdir_idx = options::index_of("configdirectory");
        let cfgdir = cfgdir_idx
            .and_then(|i| self.values[i].as_str())
            .map(str::to_string)
            .ok_or_else(|| {
                config_error(
                    file,
                    0,
                    "configdirectory option not specified in configuration file",
                )
            })?;
        for (i, def) in OPTIONS.iter().enumerate() {
            if def.kind != Kind::String || Some(i) == cfgdir_idx {
                continue;
            }
            if let Value::Str(Some(s)) = &mut self.values[i] {
                if let Some(rest) = strip_configdirectory(s) {
                    *s = format!("{cfgdir}{rest}");
                }
            }
        }
        for (i, def) in OPTIONS.iter().enumerate() {
            let Status::ReplacedBy(preferred) = def.status else {
                continue;
            };
            let Some(p) = options::index_of(preferred) else {
                continue;
            };
            if self.seen[i] == Seen::No || self.seen[p] != Seen::No {
                continue;
            }
            self.seen[p] = self.seen[i];
            // Text values move (the old name is left unset); the others are copied.
            let v = match &mut self.values[i] {
                Value::Str(s) => Value::Str(s.take()),
                other => other.clone(),
            };
            self.values[p] = v;
        }
        if let Some(i) = options::index_of("defaultpartition") {
            if let Value::Str(Some(s)) = &mut self.values[i] {
                if !s.bytes().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(config_error(
                        file,
                        0,
                        "defaultpartition option contains non-alnum character",
                    ));
                }
                s.make_ascii_lowercase();
            }
        }
        Ok(Parsed {
            values: self.values,
            seen: self.seen,
            overflow: self.overflow,
        })
    }
}

/// The rest of `s` after a leading `{configdirectory}` (matched without regard to case).
pub(crate) fn strip_configdirectory(s: &str) -> Option<&str> {
    const TOKEN: &str = "{configdirectory}";
    let head = s.get(..TOKEN.len())?;
    head.eq_ignore_ascii_case(TOKEN).then(|| &s[TOKEN.len()..])
}

/// Reads imapd.conf text that came from `path`, as service `service` would see it.
pub(crate) fn parse(text: &str, path: &Path, service: Option<&str>) -> Result<Parsed> {
    let mut reader = Reader::new(service);
    reader.read_text(text, &path.to_string_lossy(), path, 0)?;
    reader.finish(path)
}
