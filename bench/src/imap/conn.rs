//! A minimal blocking IMAP client for the load: sends one tagged command (with a literal where
//! needed) in one write, and reads the reply up to its tagged line, skipping the bytes of any
//! literal in the untagged data (FETCH BODY[] answers). Keeps the untagged lines without their
//! literals, so callers can read SEARCH results, EXISTS and APPENDUID.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// How long a client waits for any reply before it counts the connection as lost.
const REPLY_TIMEOUT: Duration = Duration::from_secs(120);

/// The tagged status of a reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    No,
    Bad,
}

pub struct Conn {
    r: BufReader<TcpStream>,
    tag: u32,
    /// Whether the server announced LITERAL+ (set from the greeting's or LOGIN's capability).
    pub literal_plus: bool,
    out: Vec<u8>,
    line: Vec<u8>,
    /// The untagged lines of the last reply, literal bytes left out, each ending in '\n'.
    pub untagged: Vec<u8>,
    /// The tagged line of the last reply.
    pub tagged: Vec<u8>,
    /// Literal bytes received in the last reply.
    pub literal_bytes: u64,
}

impl Conn {
    /// Connects to 127.0.0.1:`port` and reads the greeting. `nodelay` sets TCP_NODELAY on the
    /// client's socket, as most IMAP clients do.
    pub fn connect(port: u16, nodelay: bool) -> io::Result<Conn> {
        let s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_nodelay(nodelay)?;
        s.set_read_timeout(Some(REPLY_TIMEOUT))?;
        let mut c = Conn {
            r: BufReader::with_capacity(64 * 1024, s),
            tag: 0,
            literal_plus: false,
            out: Vec::with_capacity(8 * 1024),
            line: Vec::with_capacity(1024),
            untagged: Vec::with_capacity(4096),
            tagged: Vec::with_capacity(256),
            literal_bytes: 0,
        };
        c.read_line()?;
        if !c.line.starts_with(b"* OK") {
            return Err(io::Error::other(format!(
                "greeting: {}",
                String::from_utf8_lossy(&c.line).trim_end()
            )));
        }
        c.literal_plus = contains(&c.line, b"LITERAL+");
        Ok(c)
    }

    /// The local port, which names this connection in /proc/net/tcp.
    pub fn local_port(&self) -> u16 {
        self.r.get_ref().local_addr().map_or(0, |a| a.port())
    }

    /// Sends `tag command` and reads the reply.
    pub fn cmd(&mut self, command: &str) -> io::Result<Status> {
        self.begin(command);
        self.out.extend_from_slice(b"\r\n");
        self.r.get_mut().write_all(&self.out)?;
        self.reply()
    }

    /// Sends `tag command {n}` followed by `literal` and CRLF. With LITERAL+ the whole
    /// command goes in one write; otherwise it waits for the continuation first.
    pub fn cmd_literal(&mut self, command: &str, literal: &[u8]) -> io::Result<Status> {
        self.begin(command);
        if self.literal_plus {
            write!(self.out, " {{{}+}}\r\n", literal.len())?;
            self.out.extend_from_slice(literal);
            self.out.extend_from_slice(b"\r\n");
            self.r.get_mut().write_all(&self.out)?;
        } else {
            write!(self.out, " {{{}}}\r\n", literal.len())?;
            self.r.get_mut().write_all(&self.out)?;
            self.read_line()?;
            if !self.line.starts_with(b"+") {
                // Refused before the literal: this is the tagged reply.
                self.tagged.clear();
                self.tagged.extend_from_slice(&self.line);
                return Ok(self.status());
            }
            self.out.clear();
            self.out.extend_from_slice(literal);
            self.out.extend_from_slice(b"\r\n");
            self.r.get_mut().write_all(&self.out)?;
        }
        self.reply()
    }

    fn begin(&mut self, command: &str) {
        self.tag += 1;
        self.out.clear();
        // Tags are short and unique per connection.
        let _ = write!(self.out, "a{} {}", self.tag, command);
    }

    fn read_line(&mut self) -> io::Result<()> {
        self.line.clear();
        let n = self.r.read_until(b'\n', &mut self.line)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }

    /// Reads lines until the tagged one; untagged lines (and their literals) are collected.
    fn reply(&mut self) -> io::Result<Status> {
        self.untagged.clear();
        self.tagged.clear();
        self.literal_bytes = 0;
        let mut prefix = Vec::with_capacity(8);
        write!(prefix, "a{} ", self.tag)?;
        loop {
            self.read_line()?;
            if self.line.starts_with(&prefix) {
                self.tagged.extend_from_slice(&self.line);
                return Ok(self.status());
            }
            // A logical response line may carry literals: `... {123}\r\n<123 bytes>...`.
            loop {
                let n = literal_len(&self.line);
                self.untagged.extend_from_slice(&self.line);
                let Some(n) = n else { break };
                let got = io::copy(&mut (&mut self.r).take(n), &mut io::sink())?;
                if got != n {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                self.literal_bytes += n;
                self.read_line()?;
            }
        }
    }

    fn status(&self) -> Status {
        let rest = self.tagged.splitn(2, |b| *b == b' ').nth(1).unwrap_or(b"");
        if rest.starts_with(b"OK") {
            Status::Ok
        } else if rest.starts_with(b"NO") {
            Status::No
        } else {
            Status::Bad
        }
    }

    /// The tagged line, for error reports.
    pub fn tagged_text(&self) -> String {
        String::from_utf8_lossy(&self.tagged).trim_end().to_string()
    }

    /// `n` of the first untagged `* n <word>` line (e.g. EXISTS).
    pub fn untagged_number(&self, word: &[u8]) -> Option<u32> {
        self.untagged.split(|b| *b == b'\n').find_map(|l| {
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            let rest = l.strip_prefix(b"* ")?;
            let sp = rest.iter().position(|b| *b == b' ')?;
            (rest[sp + 1..].eq_ignore_ascii_case(word))
                .then(|| std::str::from_utf8(&rest[..sp]).ok()?.parse().ok())?
        })
    }

    /// The UID in the tagged line's `[APPENDUID <validity> <uid>]`.
    pub fn append_uid(&self) -> Option<u32> {
        let t = std::str::from_utf8(&self.tagged).ok()?;
        let rest = &t[t.find("[APPENDUID ")? + 11..];
        let end = rest.find(']')?;
        rest[..end].split(' ').nth(1)?.parse().ok()
    }
}

/// `n` when `line` ends with `{n}\r\n` (or `{n+}`): a literal of n bytes follows.
fn literal_len(line: &[u8]) -> Option<u64> {
    let l = line
        .strip_suffix(b"\r\n")
        .or_else(|| line.strip_suffix(b"\n"))?;
    let l = l.strip_suffix(b"}")?;
    let open = l.iter().rposition(|b| *b == b'{')?;
    let digits = &l[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
