//! An IMAP test client that reads whole responses (literals included) and replays the
//! reference transcripts: `C:` lines are sent, the server's lines up to the tagged reply
//! are compared with the `S:` lines, after hiding what differs on every run.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::{
    cyrus_ids, debian_bin, empty_instance, free_port, is_root, our_bin, reference_instance, Master,
    Scratch, REF_PASSWORD,
};

/// A raw IMAP connection.
pub struct Imap {
    reader: BufReader<TcpStream>,
}

/// Bytes as the transcripts and recordings print them: printable UTF-8 as is, a lone CR or LF
/// (one not part of a CRLF line end) as `\r` or `\n`, other control bytes and invalid
/// UTF-8 as `\xNN`.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\r' => out.push_str("\\r"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push('\t'),
                c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                    out.push_str(&format!("\\x{:02x}", c as u32));
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

impl Imap {
    /// Connects to 127.0.0.1:`port`, retrying until the listener is up.
    pub fn connect(port: u16) -> Imap {
        let s = crate::wait_for(
            &format!("an IMAP listener on port {port}"),
            Duration::from_secs(30),
            || TcpStream::connect(("127.0.0.1", port)).ok(),
        );
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("set timeout");
        Imap {
            reader: BufReader::new(s),
        }
    }

    /// Sends raw bytes.
    pub fn send_raw(&mut self, b: &[u8]) {
        self.reader.get_mut().write_all(b).expect("send to server");
    }

    /// The socket, for writing raw bytes without waiting.
    pub fn stream(&mut self) -> &mut TcpStream {
        self.reader.get_mut()
    }

    /// Sends `line` and CRLF.
    pub fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\r\n").as_bytes());
    }

    /// One response line with any literals it announces, as raw bytes without the final
    /// CRLF; `None` at end of stream.
    pub fn response(&mut self) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let mut l = Vec::new();
            if self.reader.read_until(b'\n', &mut l).ok()? == 0 {
                return if out.is_empty() { None } else { Some(out) };
            }
            if l.ends_with(b"\r\n") {
                l.truncate(l.len() - 2);
            } else if l.ends_with(b"\n") {
                l.truncate(l.len() - 1);
            }
            let lit = literal_len(&l);
            out.extend_from_slice(&l);
            match lit {
                Some(n) => {
                    out.extend_from_slice(b"\r\n");
                    let mut buf = vec![0u8; n];
                    self.reader.read_exact(&mut buf).ok()?;
                    out.extend_from_slice(&buf);
                }
                None => return Some(out),
            }
        }
    }

    /// Every response up to and including the one tagged `tag`, each split at CRLFs into
    /// the lines a transcript shows.
    pub fn until_tagged(&mut self, tag: &str) -> Vec<String> {
        let mut lines = Vec::new();
        let prefix = format!("{tag} ");
        loop {
            let Some(r) = self.response() else {
                lines.push("<connection closed>".into());
                return lines;
            };
            let done = r.starts_with(prefix.as_bytes());
            for part in split_crlf(&r) {
                lines.push(escape(part));
            }
            if done {
                return lines;
            }
        }
    }
}

fn split_crlf(b: &[u8]) -> Vec<&[u8]> {
    let mut v = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + 1 < b.len() {
        if b[i] == b'\r' && b[i + 1] == b'\n' {
            v.push(&b[start..i]);
            start = i + 2;
            i += 2;
        } else {
            i += 1;
        }
    }
    v.push(&b[start..]);
    v
}

/// The length of the literal a line ends by announcing (`{n}` or `{n+}`).
pub fn literal_len(line: &[u8]) -> Option<usize> {
    let l = line.strip_suffix(b"}")?;
    let open = l.iter().rposition(|&b| b == b'{')?;
    let digits = l[open + 1..].strip_suffix(b"+").unwrap_or(&l[open + 1..]);
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// One exchange of a transcript: what the client sent and what the server answered.
#[derive(Debug, Default, Clone)]
pub struct Exchange {
    /// The `C:` lines (a command and the lines of its literals).
    pub client: Vec<String>,
    /// The `S:` lines that followed, up to the next command.
    pub server: Vec<String>,
}

/// A transcript split into connections, each a greeting and its exchanges.
pub fn parse_transcript(text: &str) -> Vec<(Vec<String>, Vec<Exchange>)> {
    let mut conns: Vec<(Vec<String>, Vec<Exchange>)> = Vec::new();
    for line in text.lines() {
        if let Some(s) = line.strip_prefix("S: ") {
            if s.starts_with("* OK ") && s.contains("server ready") {
                conns.push((vec![s.to_string()], Vec::new()));
                continue;
            }
            if let Some((_, ex)) = conns.last_mut() {
                if let Some(e) = ex.last_mut() {
                    e.server.push(s.to_string());
                }
            }
        } else if let Some(c) = line.strip_prefix("C: ").or(line.strip_prefix("C:")) {
            let Some((_, ex)) = conns.last_mut() else {
                continue;
            };
            // A continuation of a literal belongs to the command before it.
            // A refused APPEND (tagged NO instead of `+`) never got its literal.
            let continues = ex.last().is_some_and(|e| {
                expects_more(&e.client) && e.server.iter().all(|l| l.starts_with('+'))
            });
            if continues {
                if let Some(e) = ex.last_mut() {
                    e.client.push(c.to_string());
                }
            } else {
                ex.push(Exchange {
                    client: vec![c.to_string()],
                    server: Vec::new(),
                });
            }
        }
    }
    conns
}

/// Whether the client lines so far still owe literal bytes, or the line that follows a
/// literal (the rest of the command).
fn expects_more(client: &[String]) -> bool {
    let mut owed: i64 = 0;
    let mut need_rest = false;
    for (i, l) in client.iter().enumerate() {
        if i > 0 {
            if owed > 0 {
                owed -= l.len() as i64 + 2;
                if owed > 0 {
                    continue;
                }
                if owed == 0 {
                    // The literal ended with this line's CRLF: the command goes on below.
                    need_rest = true;
                    continue;
                }
                // The literal ended inside this line; the rest of the line is the command.
                owed = 0;
            }
            need_rest = false;
        }
        if let Some(n) = literal_len(l.as_bytes()) {
            owed = n as i64;
        }
    }
    owed > 0 || need_rest
}

impl Exchange {
    /// The tag of the command.
    pub fn tag(&self) -> &str {
        self.client
            .first()
            .and_then(|l| l.split(' ').next())
            .unwrap_or("")
    }

    /// Sends the command; at a synchronizing literal, waits for the server's `+` line
    /// and returns it among the responses read so far.
    pub fn send(&self, c: &mut Imap) -> Vec<String> {
        let mut seen = Vec::new();
        let mut pending = String::new();
        let mut fresh = true;
        for (i, l) in self.client.iter().enumerate() {
            if !fresh {
                pending.push_str("\r\n");
            }
            fresh = false;
            pending.push_str(l);
            let sync = literal_len(l.as_bytes()).is_some() && !l.ends_with("+}");
            if sync && i + 1 < self.client.len() {
                pending.push_str("\r\n");
                c.send_raw(pending.as_bytes());
                pending.clear();
                if let Some(r) = c.response() {
                    seen.push(escape(&r));
                }
                // The CRLF before the next line is already sent.
                fresh = true;
                continue;
            }
        }
        pending.push_str("\r\n");
        c.send_raw(pending.as_bytes());
        seen
    }
}

/// Capabilities Cyrus 3.6 advertises that we do not serve yet; advertising them would make
/// clients send commands we refuse. Each is a known gap of issue #5.
pub const NOT_SERVED: &[&str] = &[
    "ANNOTATE-EXPERIMENT-1",
    "CATENATE",
    "ESORT",
    "PREVIEW",
    "SAVEDATE",
    "SEARCH=FUZZY",
    "SORT",
    "SORT=DISPLAY",
    "THREAD=ORDEREDSUBJECT",
    "THREAD=REFERENCES",
    "URLAUTH",
    "URLAUTH=BINARY",
    "DIGEST=SHA1",
    "LIST-METADATA",
    "SCAN",
    "SORT=MODSEQ",
    "SORT=UID",
    "THREAD=REFS",
    "X-CREATEDMODSEQ",
    "X-REPLICATION",
    "X-SIEVE-MAILBOX",
    "XMOVE",
    "COMPRESS=DEFLATE",
    "UNAUTHENTICATE",
];

/// One imapd under a master (ours unless told otherwise) on its own scratch instance;
/// dropping it kills master and every worker.
pub struct Server {
    /// The instance directory (configs under `etc/`, the spool under `spool/`).
    pub dir: Scratch,
    /// The imap service's port on 127.0.0.1.
    pub port: u16,
    /// The master running the service.
    pub master: Master,
    /// imapd.conf of the instance.
    pub conf: PathBuf,
}

impl Server {
    /// Our master and imapd on a copy of the reference spool.
    pub fn start(tag: &str) -> Option<Server> {
        Server::start_on(tag, true)
    }

    /// [`Server::start`] on the reference copy (`spool`) or on an empty instance.
    pub fn start_on(tag: &str, spool: bool) -> Option<Server> {
        Server::launch(tag, spool, &our_bin("master"), "prefork=1 maxchild=10", "")
    }

    /// `master` (ours or Debian's) serving our imapd as service `imap`, with the cyrus.conf
    /// service options `opts` and `extra_conf` lines added to imapd.conf; `None`, with a
    /// note, when root, the cyrus user, Debian's cyrus-common or the reference data are
    /// missing.
    pub fn launch(
        tag: &str,
        spool: bool,
        master: &Path,
        opts: &str,
        extra_conf: &str,
    ) -> Option<Server> {
        if !is_root() || cyrus_ids().is_none() || debian_bin("ctl_cyrusdb").is_none() {
            eprintln!("skipped: needs root, the cyrus user and Debian's cyrus-common");
            return None;
        }
        let dir = Scratch::new(tag);
        let conf = if spool {
            reference_instance(&dir)?
        } else {
            empty_instance(&dir)?
        };
        if !extra_conf.is_empty() {
            let mut text = std::fs::read_to_string(&conf).ok()?;
            text.push_str(extra_conf);
            std::fs::write(&conf, text).ok()?;
        }
        let port = free_port();
        let text = format!(
            "SERVICES {{\n  imap cmd=\"{p} -C {c}\" listen=\"127.0.0.1:{port}\" {opts}\n}}\n",
            c = conf.display(),
            p = our_bin("imapd").display()
        );
        let cyrus_conf = dir.write("etc/cyrus.conf", &text);
        dir.give_to_cyrus();
        let master = Master::start(master, &dir, &conf, &cyrus_conf);
        Some(Server {
            dir,
            port,
            master,
            conf,
        })
    }

    /// A connection logged in as `user` (password [`REF_PASSWORD`]).
    pub fn login(&self, user: &str) -> Imap {
        let mut c = Imap::connect(self.port);
        let greeting = c.response().map(|r| escape(&r)).unwrap_or_default();
        assert!(greeting.starts_with("* OK "), "greeting {greeting:?}");
        c.send(&format!("L1 LOGIN {user} {REF_PASSWORD}"));
        let r = c.until_tagged("L1");
        assert!(r.last().is_some_and(|l| l.starts_with("L1 OK")), "{r:?}");
        c
    }
}

/// Hides what differs on every run, and the capabilities we do not serve.
pub fn normalise(line: &str) -> String {
    let mut l = line.to_string();
    if let Some(i) = l.find("SESSIONID=<") {
        if let Some(j) = l[i..].find('>') {
            l.replace_range(i..i + j + 1, "SESSIONID=<ID>");
        }
    }
    // "Completed (0.000 sec)", "(0.001 secs 8 calls)", "(8 msgs in 0.000 secs)".
    for unit in [" secs", " sec"] {
        while let Some(i) = l.find(unit) {
            let start = l[..i]
                .rfind(|c: char| !(c.is_ascii_digit() || c == '.'))
                .map_or(0, |p| p + 1);
            if start == i {
                break;
            }
            l.replace_range(start..i + unit.len(), "T<time>");
        }
    }
    if let Some(i) = l.find("\"os-version\" \"") {
        let from = i + "\"os-version\" \"".len();
        if let Some(j) = l[from..].find('"') {
            l.replace_range(from..from + j, "<kernel>");
        }
    }
    if let Some(i) = l.find("\"environment\" \"") {
        // Cyrus reports its build environment; ours has none to report.
        if let Some(j) = l[i..].find(')') {
            l.replace_range(i..i + j, "");
            l = l.replace(" )", ")");
        }
    }
    for key in ["UIDVALIDITY ", "APPENDUID ", "COPYUID "] {
        let mut from = 0;
        while let Some(i) = l[from..].find(key) {
            let at = from + i + key.len();
            let end = l[at..]
                .find(|c: char| !c.is_ascii_digit())
                .map_or(l.len(), |e| at + e);
            if end > at {
                l.replace_range(at..end, "<v>");
            }
            from = at;
        }
    }
    if let Some(i) = l.find("MAILBOXID (") {
        let at = i + "MAILBOXID (".len();
        if let Some(j) = l[at..].find(')') {
            l.replace_range(at..at + j, "<id>");
        }
    }
    if l.starts_with("* METADATA ") {
        l = sort_metadata(&l);
    }
    if l.contains("CAPABILITY ") {
        let words: Vec<&str> = l.split(' ').collect();
        let kept: Vec<&str> = words
            .into_iter()
            .filter(|w| !NOT_SERVED.contains(&w.trim_start_matches('[').trim_end_matches(']')))
            .collect();
        l = kept.join(" ");
    }
    l
}

/// A METADATA response with its entry/value pairs sorted. Cyrus lists entries in an order
/// of its own (not the request's, not its table's); RFC 5464 §4.4.1 gives entries no order,
/// so only the set of pairs is compared.
fn sort_metadata(line: &str) -> String {
    let Some(open) = line.find(" (") else {
        return line.to_string();
    };
    let (head, list) = line.split_at(open + 2);
    let list = list.strip_suffix(')').unwrap_or(list);
    let mut tokens = Vec::new();
    let mut rest = list.trim_start();
    while !rest.is_empty() {
        let end = if rest.starts_with('{') {
            // A literal, joined to its data by `join_literals`: `{5}\n\\Sent`.
            let close = rest.find("}\n").unwrap_or(rest.len() - 1);
            let n: usize = rest[1..close].trim_end_matches('+').parse().unwrap_or(0);
            (close + 2 + n).min(rest.len())
        } else if let Some(q) = rest.strip_prefix('"') {
            let mut i = 0;
            let b = q.as_bytes();
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            (i + 2).min(rest.len())
        } else {
            rest.find(' ').unwrap_or(rest.len())
        };
        tokens.push(rest[..end].to_string());
        rest = rest[end..].trim_start();
    }
    let mut pairs: Vec<String> = tokens.chunks(2).map(|c| c.join(" ")).collect();
    pairs.sort();
    format!("{head}{})", pairs.join(" "))
}

/// Transcript lines with each literal joined to the line that announced it (by `\n`), so
/// that one response is one string.
pub fn join_literals(lines: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut owed = 0usize;
    for l in lines {
        if owed > 0 {
            let last = out.last_mut().expect("a literal follows its announcement");
            last.push('\n');
            last.push_str(l);
            owed = owed.saturating_sub(l.len() + 2);
        } else {
            out.push(l.clone());
        }
        if owed == 0 {
            if let Some(n) = literal_len(l.as_bytes()) {
                owed = n;
            }
        }
    }
    out
}

/// Replays `file` (a transcript or golden of real Cyrus) against `port`; returns the
/// differences as "expected / got" pairs.
pub fn replay(port: u16, file: &Path) -> Vec<String> {
    replay_skipping(port, file, &[])
}

/// [`replay`], not comparing the answers to the commands tagged in `skip` (each with the
/// reason, for the reader of this test).
pub fn replay_skipping(port: u16, file: &Path, skip: &[(&str, &str, &str)]) -> Vec<String> {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let text = std::fs::read_to_string(file).expect("read transcript");
    let mut diffs = Vec::new();
    for (greeting, exchanges) in parse_transcript(&text) {
        let mut c = Imap::connect(port);
        let got = c.response().map(|r| escape(&r)).unwrap_or_default();
        if normalise(&got) != normalise(&greeting[0]) {
            diffs.push(format!("greeting\n  want {}\n  got  {}", greeting[0], got));
        }
        // The tag a SASL continuation line answers to.
        let mut awaiting: Option<String> = None;
        for ex in exchanges {
            let tag = awaiting.take().unwrap_or_else(|| ex.tag().to_string());
            if ex.client[0].ends_with(" IDLE") {
                // The transcript's second connection appends one message while idling.
                ex.send(&mut c);
                let mut got = Vec::new();
                got.extend(c.response().map(|r| escape(&r)));
                idle_append(port);
                for _ in 1..ex.server.len() {
                    got.extend(c.response().map(|r| escape(&r)));
                }
                let want: Vec<String> = ex.server.iter().map(|s| normalise(s)).collect();
                if want != got {
                    diffs.push(format!("IDLE\n  want {want:#?}\n  got  {got:#?}"));
                }
                awaiting = Some(tag);
                continue;
            }
            let mut got = ex.send(&mut c);
            // A command answered with a continuation (AUTHENTICATE) waits for the client.
            if ex.server.last().is_some_and(|l| l.starts_with('+')) {
                while !got.last().is_some_and(|l| l.starts_with('+')) {
                    match c.response() {
                        Some(r) => got.push(escape(&r)),
                        None => break,
                    }
                }
                awaiting = Some(tag.clone());
            } else {
                got.extend(c.until_tagged(&tag));
            }
            if skip.iter().any(|(f, t, _)| *f == stem && *t == tag) {
                continue;
            }
            let want: Vec<String> = join_literals(&ex.server)
                .iter()
                .map(|s| normalise(s))
                .collect();
            let got: Vec<String> = join_literals(&got).iter().map(|s| normalise(s)).collect();
            if want != got {
                diffs.push(format!(
                    "{}\n  want {:#?}\n  got  {:#?}",
                    ex.client[0], want, got
                ));
            }
        }
    }
    diffs
}

/// What the transcript's unseen second connection did during IDLE: alice appends a message.
pub fn idle_append(port: u16) {
    let mut c = Imap::connect(port);
    c.response();
    c.send(&format!("x1 LOGIN alice {REF_PASSWORD}"));
    c.until_tagged("x1");
    let msg = "From: Bob Example <bob@example.org>\r\nTo: Alice Example <alice@example.org>\r\n\
               Subject: during idle\r\nDate: Thu, 11 Jan 2024 10:00:00 +0000\r\n\
               Message-ID: <idle-1@example.org>\r\n\r\nNew mail while idling.\r\n";
    c.send_raw(format!("x2 APPEND INBOX {{{}+}}\r\n{msg}\r\n", msg.len()).as_bytes());
    c.until_tagged("x2");
    c.send("x3 LOGOUT");
    c.until_tagged("x3");
}
