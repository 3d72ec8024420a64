//! `deliver`: files a message read from standard input into users' mailboxes, as Cyrus 3.6's
//! does: it is an LMTP client of lmtpd on `lmtpsocket`, so every message takes lmtpd's path
//! (and `cyrus::delivery` behind it) and this program needs no access to the spool. With `-l`
//! it relays an LMTP session between standard input/output and lmtpd instead.
//!
//! The conversation is Cyrus's (`LHLO deliver`, `RSET`, `MAIL FROM:<return-path>`, one
//! `RCPT TO:<user[+mailbox]>` per user, with ` IGNOREQUOTA` under `-q`); a permanent refusal
//! of a recipient is reported on standard output as `<user>: <reason>`, and the exit status
//! is 0 when every recipient took the message, 75 (EX_TEMPFAIL) when one may succeed later,
//! 65 (EX_DATAERR) when one never will, 78 when lmtpd cannot be reached and 64 on a usage
//! error.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::process::exit;

use tools::{getopt, Opt, EX_CONFIG, EX_TEMPFAIL};

/// The version Cyrus prints in its usage lines.
const VERSION: &str = "3.6.1-Debian-3.6.1-4+deb12u5";
/// `EX_USAGE`.
const EX_USAGE: i32 = 64;
/// `EX_DATAERR`: a recipient refused permanently.
const EX_DATAERR: i32 = 65;
/// The longest reply line read from lmtpd; lmtpd's are far shorter.
const MAX_REPLY: usize = 8192;

fn usage() -> ! {
    // The first line ends in CRLF and the second in LF, as Cyrus's do.
    eprint!(
        "421-4.3.0 usage: deliver [-C <alt_config> ] [-m mailbox] [-a auth] [-r return_path] [-l] [-D]\r\n"
    );
    eprintln!("421 4.3.0 {VERSION}");
    exit(EX_USAGE);
}

/// What the command line asks for.
#[derive(Default)]
struct Args {
    alt: Option<String>,
    return_path: Option<String>,
    mailbox: Option<String>,
    ignore_quota: bool,
    lmtp_mode: bool,
    users: Vec<String>,
}

fn parse_args() -> Args {
    let argv: Vec<String> = std::env::args().collect();
    let prog = argv.first().cloned().unwrap_or_else(|| "deliver".into());
    let (opts, users) = getopt(&prog, argv.get(1..).unwrap_or(&[]), "C:DdeE:F:f:r:m:a:ql");
    let mut a = Args {
        users,
        ..Args::default()
    };
    for o in opts {
        match o {
            Opt::Arg('C', f) => a.alt = Some(f),
            // -D (debug), -d (mail(1) compatibility) and -e change nothing here.
            Opt::Flag('D' | 'd' | 'e') => {}
            Opt::Arg(c @ ('E' | 'F'), _) => {
                eprintln!("deliver: '{c}' option no longer supported");
                usage();
            }
            Opt::Arg('f' | 'r', addr) => a.return_path = Some(addr),
            Opt::Arg('m', m) => a.mailbox = Some(m),
            // The sender's authorisation id: Cyrus's deliver does not pass it to lmtpd either.
            Opt::Arg('a', _) => {}
            Opt::Flag('q') => a.ignore_quota = true,
            Opt::Flag('l') => a.lmtp_mode = true,
            Opt::Bad(msg) => {
                eprintln!("{msg}");
                usage();
            }
            _ => usage(),
        }
    }
    if !a.lmtp_mode && a.users.is_empty() && a.mailbox.is_none() {
        usage();
    }
    a
}

/// The name of the user this process runs as (after [`tools::init`]), the default return
/// path as Cyrus takes it.
fn my_name() -> String {
    let uid = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    uid.and_then(|uid| {
        passwd.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[2].parse() == Ok(uid)).then(|| f[0].to_string())
        })
    })
    .unwrap_or_else(|| "unknown".into())
}

/// One LMTP reply: its code and the text of its last line (after the code and separator).
struct Reply {
    code: u16,
    text: String,
}

impl Reply {
    fn ok(&self) -> bool {
        (200..400).contains(&self.code)
    }

    /// The reason Cyrus's deliver prints for a permanent refusal.
    fn reason(&self) -> String {
        let rest = self.text.trim();
        if rest.starts_with("5.1.1") {
            return "Mailbox does not exist".into();
        }
        if rest.starts_with("5.2.2") {
            return "Over quota".into();
        }
        if rest.starts_with("5.7.1") {
            return "Permission denied".into();
        }
        // Drop the enhanced status code, keep lmtpd's words.
        match rest.split_once(' ') {
            Some((c, words)) if c.bytes().all(|b| b.is_ascii_digit() || b == b'.') => {
                words.to_string()
            }
            _ => rest.to_string(),
        }
    }
}

struct Lmtp {
    r: BufReader<UnixStream>,
    w: UnixStream,
}

impl Lmtp {
    fn send(&mut self, line: &str) -> io::Result<()> {
        self.w.write_all(format!("{line}\r\n").as_bytes())
    }

    fn reply(&mut self) -> io::Result<Reply> {
        loop {
            let mut buf = Vec::new();
            let n = (&mut self.r)
                .take(MAX_REPLY as u64)
                .read_until(b'\n', &mut buf)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "lmtpd closed the connection",
                ));
            }
            let line = String::from_utf8_lossy(&buf);
            let line = line.trim_end_matches(['\r', '\n']);
            let code = line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
            if line.as_bytes().get(3) == Some(&b'-') {
                continue;
            }
            return Ok(Reply {
                code,
                text: line.get(4..).unwrap_or("").to_string(),
            });
        }
    }
}

fn connect(config: &cyrus::config::Config) -> Lmtp {
    let path = config.string("lmtpsocket").unwrap_or("");
    match UnixStream::connect(path).and_then(|s| Ok((s.try_clone()?, s))) {
        Ok((r, w)) => Lmtp {
            r: BufReader::new(r),
            w,
        },
        Err(e) => {
            print!("421 4.3.0 deliver: couldn't connect to lmtpd\r\n");
            let _ = io::stdout().flush();
            eprintln!("couldn't connect to lmtpd: {}", tools::strerror(&e));
            exit(EX_CONFIG);
        }
    }
}

/// Sends standard input as DATA: every line ends in CRLF, a leading dot is doubled, and a
/// last line without its newline gets one.
fn send_message(w: &mut UnixStream) -> io::Result<()> {
    let mut input = io::stdin().lock();
    let mut out = io::BufWriter::new(w);
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.first() == Some(&b'.') {
            out.write_all(b".")?;
        }
        out.write_all(&line)?;
        out.write_all(b"\r\n")?;
    }
    out.write_all(b".\r\n")?;
    out.flush()
}

/// One message to every recipient; the exit status.
fn deliver(a: &Args, config: &cyrus::config::Config) -> io::Result<i32> {
    let mut c = connect(config);
    let fail = |r: Reply| io::Error::other(format!("{} {}", r.code, r.text));
    let greeting = c.reply()?;
    if !greeting.ok() {
        return Err(fail(greeting));
    }
    for cmd in ["LHLO deliver", "RSET"] {
        c.send(cmd)?;
        let r = c.reply()?;
        if !r.ok() {
            return Err(fail(r));
        }
    }
    let from = a.return_path.clone().unwrap_or_else(my_name);
    c.send(&format!("MAIL FROM:<{from}>"))?;
    let r = c.reply()?;
    if !r.ok() {
        return Err(fail(r));
    }
    // A refusal is reported under the address as sent.
    let targets: Vec<String> = if a.users.is_empty() {
        vec![format!("+{}", a.mailbox.clone().unwrap_or_default())]
    } else {
        a.users
            .iter()
            .map(|u| match &a.mailbox {
                Some(m) => format!("{u}+{m}"),
                None => u.clone(),
            })
            .collect()
    };
    let quota = if a.ignore_quota { " IGNOREQUOTA" } else { "" };
    let mut status = 0;
    let refused = |who: &str, r: &Reply, status: &mut i32| {
        if r.code >= 500 {
            println!("{who}: {}", r.reason());
            if *status == 0 {
                *status = EX_DATAERR;
            }
        } else {
            *status = EX_TEMPFAIL;
        }
    };
    let mut accepted = Vec::new();
    for addr in &targets {
        c.send(&format!("RCPT TO:<{addr}>{quota}"))?;
        let r = c.reply()?;
        if r.ok() {
            accepted.push(addr.clone());
        } else {
            refused(addr, &r, &mut status);
        }
    }
    if !accepted.is_empty() {
        c.send("DATA")?;
        let r = c.reply()?;
        if r.code != 354 {
            for who in &accepted {
                refused(who, &r, &mut status);
            }
        } else {
            send_message(&mut c.w)?;
            for who in &accepted {
                let r = c.reply()?;
                if !r.ok() {
                    refused(who, &r, &mut status);
                }
            }
        }
    }
    let _ = c.send("QUIT");
    let _ = c.reply();
    Ok(status)
}

/// `-l`: relays the client's LMTP session on stdin/stdout to lmtpd, both ways, until
/// either side closes.
fn relay(config: &cyrus::config::Config) -> i32 {
    let c = connect(config);
    let mut to_lmtpd = c.w;
    let mut from_lmtpd = c.r;
    std::thread::spawn(move || {
        let _ = io::copy(&mut io::stdin().lock(), &mut to_lmtpd);
        let _ = to_lmtpd.shutdown(std::net::Shutdown::Write);
    });
    let mut out = io::stdout().lock();
    loop {
        let n = match from_lmtpd.fill_buf() {
            Ok([]) | Err(_) => break,
            Ok(b) => {
                if out.write_all(b).and_then(|()| out.flush()).is_err() {
                    break;
                }
                b.len()
            }
        };
        from_lmtpd.consume(n);
    }
    0
}

fn main() {
    let a = parse_args();
    let config = tools::init(a.alt.as_deref(), "deliver");
    if a.lmtp_mode {
        exit(relay(&config));
    }
    match deliver(&a, &config) {
        Ok(status) => exit(status),
        Err(e) => {
            print!("421 4.3.0 deliver: {e}\r\n");
            exit(EX_TEMPFAIL);
        }
    }
}
