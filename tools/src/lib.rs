//! What the admin commands share: the `-C altconfig` convention, usage errors, exit codes.
//!
//! [`getopt`] parses short options the way glibc's `getopt(3)` does for Cyrus's tools (GNU
//! argument permutation, clustered flags, glibc's messages), because scripts rely on its
//! quirks; [`load_config`] reads imapd.conf and turns failures into Cyrus's fatal messages.
#![forbid(unsafe_code)]

use cyrus::config::Config;
use std::path::PathBuf;

/// Exit status for a configuration that cannot be used (`EX_CONFIG`).
pub const EX_CONFIG: i32 = 78;
/// Exit status for an operating-system level refusal (`EX_OSERR`).
pub const EX_OSERR: i32 = 71;
/// Exit status for a temporary failure (`EX_TEMPFAIL`).
pub const EX_TEMPFAIL: i32 = 75;
/// The status Cyrus's tools exit with after their usage message (`exit(-1)`).
pub const EX_USAGE_CYRUS: i32 = 255;

/// One result of [`getopt`], in command-line order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Opt {
    /// A flag without argument.
    Flag(char),
    /// A flag with its argument.
    Arg(char, String),
    /// A bad option, with the message glibc prints for it (without the newline).
    Bad(String),
}

/// Parses `args` (without the program name) against a getopt string such as `"C:crx"`,
/// returning the options in order and the remaining operands; `prog` prefixes the messages.
pub fn getopt(prog: &str, args: &[String], spec: &str) -> (Vec<Opt>, Vec<String>) {
    getopt_long(prog, args, spec, &[])
}

/// [`getopt`] with `--name`, `--name=value` and `--name value` long options, each naming
/// the short option it stands for, as glibc's `getopt_long` does (exact names only).
pub fn getopt_long(
    prog: &str,
    args: &[String],
    spec: &str,
    long: &[(&str, char)],
) -> (Vec<Opt>, Vec<String>) {
    let takes_arg = |c: char| -> Option<bool> {
        let at = spec.find(c)?;
        Some(spec[at + c.len_utf8()..].starts_with(':'))
    };
    let mut opts = Vec::new();
    let mut operands = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            operands.extend(args[i..].iter().cloned());
            break;
        }
        if arg.len() < 2 || !arg.starts_with('-') {
            operands.push(arg.clone());
            continue;
        }
        // Plain getopt(3) reads "--name" as a cluster of short options; only getopt_long
        // knows long names.
        if let Some(body) = arg.strip_prefix("--").filter(|_| !long.is_empty()) {
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            let Some(&(_, c)) = long.iter().find(|(n, _)| *n == name) else {
                opts.push(Opt::Bad(format!("{prog}: unrecognized option '--{name}'")));
                continue;
            };
            match (takes_arg(c) == Some(true), inline) {
                (true, Some(v)) => opts.push(Opt::Arg(c, v)),
                (true, None) if i < args.len() => {
                    opts.push(Opt::Arg(c, args[i].clone()));
                    i += 1;
                }
                (true, None) => opts.push(Opt::Bad(format!(
                    "{prog}: option '--{name}' requires an argument"
                ))),
                (false, None) => opts.push(Opt::Flag(c)),
                (false, Some(_)) => opts.push(Opt::Bad(format!(
                    "{prog}: option '--{name}' doesn't allow an argument"
                ))),
            }
            continue;
        }
        let cluster: Vec<char> = arg[1..].chars().collect();
        let mut j = 0;
        while j < cluster.len() {
            let c = cluster[j];
            j += 1;
            match takes_arg(c).filter(|_| c != ':') {
                None => opts.push(Opt::Bad(format!("{prog}: invalid option -- '{c}'"))),
                Some(false) => opts.push(Opt::Flag(c)),
                Some(true) => {
                    let rest: String = cluster[j..].iter().collect();
                    j = cluster.len();
                    if !rest.is_empty() {
                        opts.push(Opt::Arg(c, rest));
                    } else if i < args.len() {
                        opts.push(Opt::Arg(c, args[i].clone()));
                        i += 1;
                    } else {
                        opts.push(Opt::Bad(format!(
                            "{prog}: option requires an argument -- '{c}'"
                        )));
                    }
                }
            }
        }
    }
    (opts, operands)
}

/// `strerror`'s text for an I/O error, without Rust's `(os error N)` suffix.
pub fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(at) => s[..at].to_string(),
        None => s,
    }
}

/// Reads `alt` or the default imapd.conf as `service`; the error is Cyrus's fatal message.
pub fn load_config(alt: Option<&str>, service: &str) -> Result<Config, String> {
    let path = alt.map(PathBuf::from).unwrap_or_else(Config::default_path);
    Config::load(&path, Some(service)).map_err(|e| match e {
        cyrus::Error::Io { path, source } => format!(
            "can't open configuration file {}: {}",
            path.display(),
            strerror(&source)
        ),
        cyrus::Error::Config { file, line, msg } => config_message(&file, line, &msg),
        other => other.to_string(),
    })
}

/// Cyrus's wording of a config error: the line goes where Cyrus's message puts it.
fn config_message(file: &std::path::Path, line: usize, msg: &str) -> String {
    let msg = match msg.find(" (os error ") {
        Some(at) => &msg[..at],
        None => msg,
    };
    if line == 0 || msg.starts_with("can't open configuration file") {
        msg.to_string()
    } else if msg == "invalid option name" {
        format!(
            "{msg} on line {line} of configuration file {}",
            file.display()
        )
    } else if msg.ends_with("was specified twice in config file") {
        format!("{msg} (second occurrence on line {line})")
    } else {
        format!("{msg} in line {line}")
    }
}

/// Prints `fatal error: <msg>` on stderr and exits with `code`, as Cyrus's `fatal()` does.
pub fn fatal(msg: &str, code: i32) -> ! {
    eprintln!("fatal error: {msg}");
    std::process::exit(code);
}

/// The start-up every tool does: read the configuration (`-C` or the default path) as
/// `service`, become the Cyrus user if run as root and take its umask; any failure ends the
/// process with Cyrus's fatal message and `EX_CONFIG`.
pub fn init(alt: Option<&str>, service: &str) -> Config {
    let config = load_config(alt, service).unwrap_or_else(|msg| fatal(&msg, EX_CONFIG));
    if let Err(e) = cyrus::process::become_cyrus(&config) {
        fatal(&e.to_string(), EX_CONFIG);
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], spec: &str) -> (Vec<Opt>, Vec<String>) {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        getopt("p", &args, spec)
    }

    #[test]
    fn getopt_like_glibc() {
        let table: &[(&[&str], Vec<Opt>, &[&str])] = &[
            (
                &["-C", "f", "-r"],
                vec![Opt::Arg('C', "f".into()), Opt::Flag('r')],
                &[],
            ),
            (
                &["-Cf", "-rx", "a"],
                vec![Opt::Arg('C', "f".into()), Opt::Flag('r'), Opt::Flag('x')],
                &["a"],
            ),
            (&["a", "-r", "b"], vec![Opt::Flag('r')], &["a", "b"]),
            (&["--", "-r"], vec![], &["-r"]),
            (&["-"], vec![], &["-"]),
            (
                &["-q"],
                vec![Opt::Bad("p: invalid option -- 'q'".into())],
                &[],
            ),
            (
                &["--check"],
                vec![
                    Opt::Bad("p: invalid option -- '-'".into()),
                    Opt::Flag('c'),
                    Opt::Bad("p: invalid option -- 'h'".into()),
                    Opt::Bad("p: invalid option -- 'e'".into()),
                    Opt::Flag('c'),
                    Opt::Bad("p: invalid option -- 'k'".into()),
                ],
                &[],
            ),
            (
                &["-C"],
                vec![Opt::Bad("p: option requires an argument -- 'C'".into())],
                &[],
            ),
        ];
        for (args, opts, rest) in table {
            let (o, r) = parse(args, "C:crx");
            assert_eq!(&o, opts, "{args:?}");
            assert_eq!(r, rest.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        }
    }

    #[test]
    fn getopt_long_like_glibc() {
        let args: Vec<String> = [
            "--dump",
            "--filename=x",
            "--partition",
            "p",
            "--nope",
            "--dump=1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (o, r) = getopt_long(
            "p",
            &args,
            "df:p:",
            &[("dump", 'd'), ("filename", 'f'), ("partition", 'p')],
        );
        assert_eq!(
            o,
            vec![
                Opt::Flag('d'),
                Opt::Arg('f', "x".into()),
                Opt::Arg('p', "p".into()),
                Opt::Bad("p: unrecognized option '--nope'".into()),
                Opt::Bad("p: option '--dump' doesn't allow an argument".into()),
            ]
        );
        assert!(r.is_empty());
    }

    #[test]
    fn config_messages_like_cyrus() {
        let f = std::path::Path::new("/e/imapd.conf");
        let table = [
            (
                2,
                "invalid option name",
                "invalid option name on line 2 of configuration file /e/imapd.conf",
            ),
            (
                3,
                "option 'x' was specified twice in config file",
                "option 'x' was specified twice in config file (second occurrence on line 3)",
            ),
            (
                2,
                "non-switch value for a",
                "non-switch value for a in line 2",
            ),
            (
                0,
                "can't open configuration file /n: No such file or directory (os error 2)",
                "can't open configuration file /n: No such file or directory",
            ),
        ];
        for (line, msg, want) in table {
            assert_eq!(config_message(f, line, msg), want);
        }
    }

    #[test]
    fn strerror_drops_os_error() {
        let e = std::io::Error::from_raw_os_error(2);
        assert_eq!(strerror(&e), "No such file or directory");
    }
}
