//! imapd.conf and cyrus.conf: parsing with Cyrus 3.6's exact rules, the table of every
//! option, and typed lookups.
//!
//! [`Config`] is the effective imapd.conf of one program (one *service*): every option of
//! [`options::OPTIONS`] with its value or default, plus the free-form "overflow" keys
//! (`partition-*`, `sasl_*`, ...). [`MasterConf`] is cyrus.conf, the process table `master`
//! runs. Both parsers return errors carrying `file:line` and never panic on any input.
//!
//! Asking [`Config`] for an option name that is not in the table, or for a deprecated name, is
//! a bug in the caller: debug builds assert, release builds return the type's zero value.

pub mod cyrus_conf;
mod imapd_conf;
pub mod options;
mod overflow;
pub mod value;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub use cyrus_conf::{DaemonEntry, EventEntry, MasterConf, RawEntry, ServiceEntry, StartEntry};
use imapd_conf::Seen;
pub use options::{Kind, OptionDef, Status, Unit, OPTIONS};
pub use overflow::Overflow;
pub use value::Value;

/// Where Debian's Cyrus looks for its configuration files (`SYSCONF_DIR`).
const SYSCONF_DIR: &str = "/etc";

/// The effective imapd.conf of one service.
#[derive(Debug, Clone)]
pub struct Config {
    path: PathBuf,
    service: Option<String>,
    values: Vec<Value>,
    seen: Vec<Seen>,
    overflow: Overflow,
    config_dir: PathBuf,
}

impl Config {
    /// Reads the file at `path` (trying `$CYRUS_PREFIX` before it, as Cyrus does) as service
    /// `service` sees it.
    pub fn load(path: &Path, service: Option<&str>) -> Result<Config> {
        let name = path.to_string_lossy();
        let text = imapd_conf::read_prefixed(&name).map_err(|e| Error::io(path, e))?;
        Config::parse(&text, path, service)
    }

    /// Parses imapd.conf text that came from `path`; `@include` reads further files from disk.
    pub fn parse(text: &str, path: &Path, service: Option<&str>) -> Result<Config> {
        let parsed = imapd_conf::parse(text, path, service)?;
        let config_dir = options::index_of("configdirectory")
            .and_then(|i| parsed.values[i].as_str())
            .map(PathBuf::from)
            .unwrap_or_default();
        Ok(Config {
            path: path.to_path_buf(),
            service: service.map(str::to_string),
            values: parsed.values,
            seen: parsed.seen,
            overflow: parsed.overflow,
            config_dir,
        })
    }

    /// `/etc/imapd.conf`, or `$CYRUS_PREFIX/etc/imapd.conf` when that file exists.
    pub fn default_path() -> PathBuf {
        prefixed_default("imapd.conf")
    }

    /// The file this configuration was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The service whose `<service>_<option>` overrides were applied.
    pub fn service(&self) -> Option<&str> {
        self.service.as_deref()
    }

    /// Row and current value of a known, current option; asserts in debug builds otherwise.
    fn known(&self, name: &str) -> Option<(&'static OptionDef, &Value)> {
        let i = options::index_of(name);
        debug_assert!(
            i.is_some(),
            "imapd.conf option {name:?} is not in the table"
        );
        let i = i?;
        let def = &OPTIONS[i];
        debug_assert!(!def.is_deprecated(), "option {name:?} is deprecated");
        Some((def, &self.values[i]))
    }

    /// Value of a string, stringlist, enum or duration option (as written), or of an overflow
    /// key such as `partition-default` (a `<service>_` form of the key wins).
    pub fn string(&self, name: &str) -> Option<&str> {
        if options::index_of(name).is_none() {
            return self.overflow_string(name);
        }
        let (def, value) = self.known(name)?;
        match (def.kind, value) {
            (Kind::Enum(words), Value::Enum(i)) => words.get(*i).copied(),
            (Kind::String | Kind::StringList(_) | Kind::Duration(_), v) => v.as_str(),
            _ => {
                debug_assert!(false, "option {name:?} is not a string");
                None
            }
        }
    }

    /// Value of a switch option.
    pub fn switch(&self, name: &str) -> bool {
        match self.known(name) {
            Some((_, Value::Switch(b))) => *b,
            _ => {
                debug_assert!(false, "option {name:?} is not a switch");
                false
            }
        }
    }

    /// Value of an integer option.
    pub fn int(&self, name: &str) -> i64 {
        match self.known(name) {
            Some((_, Value::Int(n))) => *n,
            _ => {
                debug_assert!(false, "option {name:?} is not an integer");
                0
            }
        }
    }

    /// Value of a duration option in seconds; `None` when it is unset and has no default.
    pub fn duration_secs(&self, name: &str) -> Option<i64> {
        match self.known(name) {
            Some((def, value)) => match def.kind {
                Kind::Duration(unit) => value
                    .as_str()
                    .and_then(|s| value::parse_duration(s, unit))
                    .map(i64::from),
                _ => {
                    debug_assert!(false, "option {name:?} is not a duration");
                    None
                }
            },
            None => None,
        }
    }

    /// The words set in a bitfield option (the first spelling of each).
    pub fn bitfield(&self, name: &str) -> Vec<&'static str> {
        match self.known(name) {
            Some((def, Value::Bitfield(mask))) => match def.kind {
                Kind::Bitfield(groups) => groups
                    .iter()
                    .enumerate()
                    .filter(|(bit, _)| mask & (1u64 << bit) != 0)
                    .filter_map(|(_, g)| g.first().copied())
                    .collect(),
                _ => Vec::new(),
            },
            _ => {
                debug_assert!(false, "option {name:?} is not a bitfield");
                Vec::new()
            }
        }
    }

    /// `servername`, or the machine's host name when unset (Cyrus's `config_servername`).
    pub fn servername(&self) -> String {
        self.string("servername").map_or_else(
            || {
                std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .map(|s| s.trim().to_string())
                    .unwrap_or_else(|_| "localhost".into())
            },
            str::to_string,
        )
    }

    /// The `configdirectory` every `{configdirectory}` was expanded to.
    pub fn config_directory(&self) -> &Path {
        &self.config_dir
    }

    /// True when the option's value equals its default, judged as `cyr_info conf` does; false
    /// for names not in the table.
    pub fn is_default(&self, name: &str) -> bool {
        match options::index_of(name) {
            Some(i) => self.is_default_at(i),
            None => false,
        }
    }

    /// True when the option was set in the file (by either form of its name).
    pub fn is_set(&self, name: &str) -> bool {
        options::index_of(name).is_some_and(|i| self.seen[i] != Seen::No)
    }

    fn is_default_at(&self, i: usize) -> bool {
        let def = &OPTIONS[i];
        let value = &self.values[i];
        match (def.kind, value) {
            (Kind::String | Kind::StringList(_), Value::Str(v)) => {
                let expanded = def
                    .default
                    .map(|d| match imapd_conf::strip_configdirectory(d) {
                        Some(rest) => format!("{}{rest}", self.config_dir.to_string_lossy()),
                        None => d.to_string(),
                    });
                expanded.as_deref().unwrap_or("") == v.as_deref().unwrap_or("")
            }
            (Kind::Duration(_), Value::Str(v)) => {
                def.default.unwrap_or("") == v.as_deref().unwrap_or("")
            }
            _ => value::default_value(def) == *value,
        }
    }

    /// Every option of the table with its effective value, in table order (deprecated ones
    /// included, as `cyr_info conf-all` lists them).
    pub fn options(&self) -> impl Iterator<Item = (&'static OptionDef, &Value)> {
        OPTIONS.iter().zip(self.values.iter())
    }

    /// The overflow keys and values in Cyrus's order (deprecated names appear here too, with
    /// the text they were given).
    pub fn overflow(&self) -> impl Iterator<Item = (&str, &str)> {
        self.overflow.iter()
    }

    /// An overflow key as Cyrus's `config_getoverflowstring` finds it: `<service>_<key>`
    /// first, then `key`.
    pub fn overflow_string(&self, key: &str) -> Option<&str> {
        if let Some(svc) = &self.service {
            let specific = format!("{svc}_{key}").to_ascii_lowercase();
            if let Some(v) = self.overflow.get(&specific) {
                return Some(v);
            }
        }
        self.overflow.get(key)
    }
}

/// `SYSCONF_DIR/<file>`, with `$CYRUS_PREFIX` in front when the prefixed file exists.
pub(crate) fn prefixed_default(file: &str) -> PathBuf {
    let plain = format!("{SYSCONF_DIR}/{file}");
    if let Ok(prefix) = std::env::var("CYRUS_PREFIX") {
        let prefixed = PathBuf::from(format!("{prefix}{plain}"));
        if prefixed.is_file() {
            return prefixed;
        }
    }
    PathBuf::from(plain)
}

#[cfg(test)]
mod tests;
