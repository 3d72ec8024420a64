//! An IMAP test client that reads whole responses (literals included) and replays the
//! reference transcripts: `C:` lines are sent, the server's lines up to the tagged reply
//! are compared with the `S:` lines, after hiding what differs on every run.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A raw IMAP connection.
pub struct Imap {
    reader: BufReader<TcpStream>,
}

/// Bytes as the transcripts print them: printable UTF-8 as is, a lone CR or LF as `\r` or
/// `\n`, other control characters and bytes that are not UTF-8 as `\xNN`.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\r' => out.push_str("\\r"),
                '\n' => out.push_str("\\n"),
                c if c.is_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
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
