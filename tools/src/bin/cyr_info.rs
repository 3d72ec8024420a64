//! `cyr_info`: show the effective imapd.conf, its defaults, and keys nobody knows.
//!
//! Flags and output follow Cyrus 3.6's tool so that scripts and diffs keep working: `conf`
//! lists options that differ from their defaults and then every free-form key, `conf-all`
//! lists everything, `conf-default` the compiled-in defaults, `conf-lint` the free-form keys
//! that no option, partition, SASL setting, cyrus.conf service or sync channel explains.
//! Values print the way Cyrus prints them (switches as yes/no, durations as written, unset
//! durations as `(null)`), in Cyrus's order. `-s version` marks options changed since then.
#![forbid(unsafe_code)]

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use cyrus::config::{self, cyrus_conf, Config, Kind, MasterConf, Value};

/// Exit status for a configuration that cannot be used (`EX_CONFIG`).
const EX_CONFIG: u8 = 78;

/// Exit status Cyrus's tool uses after printing its usage (`exit(-1)`).
const EX_USAGE_CYRUS: u8 = 255;

/// The Cyrus release whose configuration this build understands.
const VERSION: &str = "cyrus-imapd 3.6.1";

const USAGE: &str = "\
usage: cyr_info [-C imapd.conf] [-M cyrus.conf] [-n service] [-s version] command

  -C file     read this imapd.conf instead of the default
  -M file     read this cyrus.conf (used by conf-lint)
  -n service  apply the <service>_<option> settings of this service
  -s version  mark options added or changed after this Cyrus version

commands:
  conf          options that differ from their defaults, then free-form keys
  conf-all      every option and free-form key
  conf-default  every option's default
  conf-lint     free-form keys that match nothing known
  proc          running processes (not supported yet)
  version       the Cyrus version this build is compatible with
";

fn usage() -> ExitCode {
    eprint!("{USAGE}");
    ExitCode::from(EX_USAGE_CYRUS)
}

fn fatal(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("fatal error: {msg}");
    ExitCode::from(EX_CONFIG)
}

/// Parses `-s` the way Cyrus does: `[cyrus-imapd-]major.minor.patch`, anything after a `-`
/// ignored, each part at most 255; `None` means the usage message.
fn parse_since(s: &str) -> Option<u32> {
    let s = ["cyrus-imapd-", "cyrus-imapd "]
        .iter()
        .find_map(|p| s.strip_prefix(p))
        .unwrap_or(s);
    let mut parts = [0u32; 3];
    let mut i = 0;
    let mut saw_digit = false;
    for c in s.chars() {
        if let Some(d) = c.to_digit(10) {
            saw_digit = true;
            parts[i] = parts[i] * 10 + d;
            if parts[i] > 255 {
                return None;
            }
        } else if c == '.' {
            if !saw_digit {
                return None;
            }
            saw_digit = false;
            i += 1;
            if i > 2 {
                break;
            }
        } else if c == '-' {
            break;
        } else {
            return None;
        }
    }
    Some((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8))
}

/// What `-s` asked for: highlight options whose `since` is newer than this.
struct Since(Option<u32>);

impl Since {
    fn mark(&self, out: &mut impl Write, def: &config::OptionDef) -> io::Result<()> {
        match self.0 {
            Some(since) if since < def.since_packed() => write!(out, "({}) ", def.since),
            _ => Ok(()),
        }
    }
}

/// Prints the words of a bitfield as Cyrus 3.6 does, bug for bug: it tests the `j`-th
/// spelling (aliases counted) against the bit `1 << j` computed as a C `int`, so past the
/// first alias the names drift from their bits, the shift wraps at 32, and `1 << 31` is sign
/// extended to every high bit. With no aliases and fewer than 32 words this is plain.
fn write_words(out: &mut impl Write, groups: &[&[&str]], mask: u64) -> io::Result<()> {
    let words = groups.iter().flat_map(|g| g.iter());
    for (j, word) in words.enumerate() {
        let bit = 1i32.wrapping_shl(j as u32) as i64 as u64;
        if mask & bit != 0 {
            write!(out, " {word}")?;
        }
    }
    Ok(())
}

/// `conf` (only_changed) and `conf-all`.
fn do_conf(out: &mut impl Write, c: &Config, only_changed: bool, since: &Since) -> io::Result<()> {
    for (def, value) in c.options() {
        if only_changed && c.is_default(def.name) {
            continue;
        }
        since.mark(out, def)?;
        let name = def.name;
        match (def.kind, value) {
            (Kind::Bitfield(groups), Value::Bitfield(mask)) => {
                write!(out, "{name}:")?;
                write_words(out, groups, *mask)?;
                writeln!(out)?;
            }
            (Kind::Enum(words), Value::Enum(i)) => {
                write!(out, "{name}:")?;
                if let Some(w) = words.get(*i) {
                    write!(out, " {w}")?;
                }
                writeln!(out)?;
            }
            (Kind::Duration(_), Value::Str(v)) => {
                // Cyrus hands a NULL to printf here, which glibc prints as "(null)".
                writeln!(out, "{name}: {}", v.as_deref().unwrap_or("(null)"))?;
            }
            (_, Value::Str(v)) => writeln!(out, "{name}: {}", v.as_deref().unwrap_or(""))?,
            (_, Value::Int(n)) => writeln!(out, "{name}: {n}")?,
            (_, Value::Switch(b)) => writeln!(out, "{name}: {}", if *b { "yes" } else { "no" })?,
            (_, Value::Enum(_) | Value::Bitfield(_)) => writeln!(out, "{name}:")?,
        }
    }
    for (key, value) in c.overflow() {
        writeln!(out, "{key}: {value}")?;
    }
    Ok(())
}

/// `conf-default`.
fn do_defconf(out: &mut impl Write, c: &Config, since: &Since) -> io::Result<()> {
    for (def, current) in c.options() {
        since.mark(out, def)?;
        let name = def.name;
        match (def.kind, config::value::default_value(def)) {
            (Kind::Bitfield(groups), Value::Bitfield(mask)) => {
                write!(out, "{name}:")?;
                write_words(out, groups, mask)?;
                writeln!(out)?;
            }
            (Kind::Enum(words), _) => {
                // Cyrus 3.6 prints the enum's current value here, not its default.
                write!(out, "{name}:")?;
                if let Some(w) = match current {
                    Value::Enum(i) => words.get(*i),
                    _ => None,
                } {
                    write!(out, " {w}")?;
                }
                writeln!(out)?;
            }
            (_, Value::Int(n)) => writeln!(out, "{name}: {n}")?,
            (_, Value::Switch(b)) => writeln!(out, "{name}: {}", if b { "yes" } else { "no" })?,
            _ => writeln!(out, "{name}: {}", def.default.unwrap_or(""))?,
        }
    }
    Ok(())
}

/// Free-form keys Cyrus accepts without knowing them as options.
fn known_overflow_key(c: &Config, key: &str) -> bool {
    if key.starts_with("partition-") || key.starts_with("xlist-") {
        return true;
    }
    // meta- and archive partitions count only when the plain partition exists.
    if key.starts_with("metapartition-") && c.overflow_string(&key[4..]).is_some() {
        return true;
    }
    if key.starts_with("archivepartition-") && c.overflow_string(&key[7..]).is_some() {
        return true;
    }
    match key.find("searchpartition-") {
        Some(at) => c.overflow_string(&key[at + 6..]).is_some(),
        None => false,
    }
}

fn known_regular_key(key: &str) -> bool {
    config::options::find(key).is_some()
}

/// `conf-lint`: `services` are the SERVICES names of cyrus.conf.
fn do_lint(out: &mut impl Write, c: &Config, services: &[String]) -> io::Result<()> {
    let channels: Vec<&str> = c
        .string("sync_log_channels")
        .map(|s| s.split(' ').filter(|w| !w.is_empty()).collect())
        .unwrap_or_default();
    'keys: for (key, value) in c.overflow() {
        if known_overflow_key(c, key) || key.starts_with("sasl_") {
            continue;
        }
        for svc in services {
            if let Some(rest) = key
                .strip_prefix(svc.as_str())
                .and_then(|r| r.strip_prefix('_'))
            {
                // (Cyrus 3.6 does not accept `<service>_sasl_*` here, so neither do we.)
                if known_regular_key(rest) || known_overflow_key(c, rest) {
                    continue 'keys;
                }
            }
        }
        for channel in &channels {
            if *channel == "\"\"" {
                continue;
            }
            let Some(rest) = key.strip_prefix(channel) else {
                continue;
            };
            // Like Cyrus, the first channel that is a prefix decides, match or not.
            let Some(option) = rest.strip_prefix('_').filter(|o| !o.is_empty()) else {
                break;
            };
            if !option.starts_with("sync_") {
                break;
            }
            if known_regular_key(option) || known_overflow_key(c, option) {
                continue 'keys;
            }
        }
        writeln!(out, "{key}: {value}")?;
    }
    Ok(())
}

fn service_names(path: Option<PathBuf>) -> cyrus::Result<Vec<String>> {
    let path = path.unwrap_or_else(MasterConf::default_path);
    let text = cyrus_conf::read_file(&path)?;
    Ok(cyrus_conf::read_section(&text, &path, "SERVICES")?
        .into_iter()
        .map(|e| e.name)
        .collect())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (opts, free) = tools::getopt("cyr_info", &args, "C:M:n:s:");
    let mut given: Vec<(char, String)> = Vec::new();
    for o in opts {
        match o {
            tools::Opt::Arg(c, v) => given.push((c, v)),
            tools::Opt::Bad(msg) => {
                eprintln!("{msg}");
                return usage();
            }
            tools::Opt::Flag(_) => return usage(),
        }
    }
    // When a flag is repeated the last one wins, as with getopt.
    let last = |flag: char| {
        given
            .iter()
            .rev()
            .find(|(c, _)| *c == flag)
            .map(|(_, v)| v.clone())
    };
    let since = match last('s') {
        Some(s) => match parse_since(&s) {
            Some(v) => Since(Some(v)),
            None => return usage(),
        },
        None => Since(None),
    };
    let Some(command) = free.first().map(String::as_str) else {
        return usage();
    };
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if command == "version" {
        let _ = writeln!(out, "{VERSION}");
        let _ = out.flush();
        return ExitCode::SUCCESS;
    }
    let path = last('C').map_or_else(Config::default_path, PathBuf::from);
    let service = last('n').unwrap_or_else(|| "cyr_info".to_string());
    let c = match Config::load(&path, Some(&service)) {
        Ok(c) => c,
        Err(e) => return fatal(e),
    };
    let written = match command {
        "conf" => do_conf(&mut out, &c, true, &since),
        "conf-all" => do_conf(&mut out, &c, false, &since),
        "conf-default" => do_defconf(&mut out, &c, &since),
        "conf-lint" => match service_names(last('M').map(PathBuf::from)) {
            Ok(services) => do_lint(&mut out, &c, &services),
            Err(e) => return fatal(e),
        },
        "proc" => {
            eprintln!("cyr_info: proc: listing processes is not supported yet");
            return ExitCode::FAILURE;
        }
        _ => return usage(),
    };
    // A closed stdout (e.g. `| head`) ends the listing early; that is not an error.
    let _ = written.and_then(|()| out.flush());
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_versions_as_cyrus_reads_them() {
        let v = |a: u32, b: u32, c: u32| Some((a << 24) | (b << 16) | (c << 8));
        let cases: &[(&str, Option<u32>)] = &[
            ("3", v(3, 0, 0)),
            ("3.4", v(3, 4, 0)),
            ("3.4.0.1", v(3, 4, 0)),
            ("cyrus-imapd-3.4.0", v(3, 4, 0)),
            ("cyrus-imapd 3.5", v(3, 5, 0)),
            ("3.4.0-rc1", v(3, 4, 0)),
            ("", v(0, 0, 0)),
            ("-1", v(0, 0, 0)),
            ("3.5.255", v(3, 5, 255)),
            ("3..4", None),
            (".3", None),
            ("256.0.0", None),
            ("3.5.999", None),
            ("3.6.0x", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_since(input), *want, "{input:?}");
        }
    }

    #[test]
    fn every_option_has_a_since_version() {
        // Debian's build dates two added options "255.255.255", so -s always marks them.
        for o in cyrus::config::OPTIONS {
            assert!(
                parse_since(o.since).is_some_and(|v| v == o.since_packed()),
                "{}",
                o.name
            );
        }
    }
}
