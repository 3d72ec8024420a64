//! Address headers (From, Sender, Reply-To, To, Cc, Bcc) parsed the way Cyrus's address
//! parser splits them, and written both as IMAP ENVELOPE address lists (names left
//! RFC 2047-encoded) and as the search forms of the FROM/TO/CC/BCC cache items (names
//! decoded to UTF-8). Group syntax becomes a start marker (mailbox = group name, no domain)
//! and an end marker (all fields absent), as RFC 3501 section 7.4.2 prescribes.

use super::decode;
use super::imapstr::nstring;

/// Most addresses taken from one header list; the rest is ignored (bounded memory).
pub const MAX_ADDRESSES: usize = 10_000;

/// One address, or a group marker.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Address {
    /// Display name (phrase), unquoted, still RFC 2047-encoded.
    pub name: Option<Vec<u8>>,
    /// Obsolete source route (`@a,@b`).
    pub route: Option<Vec<u8>>,
    /// Local part, or the group name of a group start.
    pub mailbox: Option<Vec<u8>>,
    /// Domain; absent for group markers.
    pub domain: Option<Vec<u8>>,
}

struct P<'a> {
    s: &'a [u8],
    i: usize,
}

impl P<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// Skips whitespace and (nested) comments.
    fn cfws(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => self.i += 1,
                b'(' => {
                    let mut depth = 0usize;
                    while let Some(c) = self.peek() {
                        self.i += 1;
                        match c {
                            b'(' => depth += 1,
                            b')' => {
                                depth = depth.saturating_sub(1);
                                if depth == 0 {
                                    break;
                                }
                            }
                            b'\\' => self.i += 1,
                            _ => {}
                        }
                    }
                }
                _ => return,
            }
        }
    }

    /// A quoted string's content with the backslash escapes resolved; the opening quote is next.
    fn quoted(&mut self, out: &mut Vec<u8>) {
        self.i += 1;
        while let Some(c) = self.peek() {
            self.i += 1;
            match c {
                b'"' => return,
                b'\\' => {
                    if let Some(n) = self.peek() {
                        out.push(n);
                        self.i += 1;
                    }
                }
                b'\r' | b'\n' => {}
                _ => out.push(c),
            }
        }
    }

    /// A phrase (words and quoted strings, whitespace runs as one space) up to a special.
    fn phrase(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            self.cfws();
            match self.peek() {
                None | Some(b'<' | b'>' | b'@' | b':' | b';' | b',') => break,
                Some(b'"') => {
                    if !out.is_empty() {
                        out.push(b' ');
                    }
                    self.quoted(&mut out);
                }
                Some(_) => {
                    if !out.is_empty() {
                        out.push(b' ');
                    }
                    while let Some(c) = self.peek() {
                        if matches!(
                            c,
                            b' ' | b'\t'
                                | b'\r'
                                | b'\n'
                                | b'('
                                | b'"'
                                | b'<'
                                | b'>'
                                | b'@'
                                | b':'
                                | b';'
                                | b','
                        ) {
                            break;
                        }
                        out.push(c);
                        self.i += 1;
                    }
                }
            }
        }
        out
    }

    /// A domain after `@`: its characters without whitespace or comments.
    fn domain(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            self.cfws();
            match self.peek() {
                Some(b'[') => {
                    while let Some(c) = self.peek() {
                        self.i += 1;
                        out.push(c);
                        if c == b']' {
                            break;
                        }
                    }
                }
                Some(c)
                    if !matches!(
                        c,
                        b'<' | b'>'
                            | b'@'
                            | b':'
                            | b';'
                            | b','
                            | b'"'
                            | b'('
                            | b' '
                            | b'\t'
                            | b'\r'
                            | b'\n'
                    ) =>
                {
                    out.push(c);
                    self.i += 1;
                }
                _ => break,
            }
        }
        out
    }
}

fn nonempty(v: Vec<u8>) -> Option<Vec<u8>> {
    (!v.is_empty()).then_some(v)
}

/// Parses an address list header value; never fails, garbage yields what could be read.
pub fn parse_list(s: &[u8], out: &mut Vec<Address>) {
    let mut p = P { s, i: 0 };
    let mut in_group = false;
    while p.i < s.len() && out.len() < MAX_ADDRESSES {
        let start = p.i;
        p.cfws();
        if p.peek() == Some(b',') {
            p.i += 1;
            continue;
        }
        let phrase = p.phrase();
        match p.peek() {
            Some(b':') => {
                p.i += 1;
                if in_group {
                    continue;
                }
                in_group = true;
                out.push(Address {
                    mailbox: Some(phrase),
                    ..Address::default()
                });
            }
            Some(b'<') => {
                p.i += 1;
                p.cfws();
                let mut route = Vec::new();
                while p.peek() == Some(b'@') {
                    p.i += 1;
                    if !route.is_empty() {
                        route.push(b',');
                    }
                    route.push(b'@');
                    route.extend_from_slice(&p.domain());
                    p.cfws();
                    if p.peek() == Some(b',') {
                        p.i += 1;
                        p.cfws();
                    }
                }
                if !route.is_empty() && p.peek() == Some(b':') {
                    p.i += 1;
                }
                let local = p.phrase();
                let domain = if p.peek() == Some(b'@') {
                    p.i += 1;
                    nonempty(p.domain())
                } else {
                    None
                };
                p.cfws();
                if p.peek() == Some(b'>') {
                    p.i += 1;
                }
                out.push(Address {
                    name: nonempty(phrase),
                    route: nonempty(route),
                    mailbox: Some(local),
                    domain,
                });
            }
            Some(b'@') => {
                p.i += 1;
                let domain = nonempty(p.domain());
                out.push(Address {
                    mailbox: Some(phrase),
                    domain,
                    ..Address::default()
                });
            }
            Some(b';') => {
                p.i += 1;
                if !phrase.is_empty() {
                    out.push(Address {
                        mailbox: Some(phrase),
                        ..Address::default()
                    });
                }
                if in_group {
                    in_group = false;
                    out.push(Address::default());
                }
            }
            Some(b'>') => p.i += 1,
            _ => {
                if !phrase.is_empty() {
                    out.push(Address {
                        mailbox: Some(phrase),
                        ..Address::default()
                    });
                }
            }
        }
        if p.i == start {
            // Nothing consumed: step over the byte so a hostile value cannot loop.
            p.i += 1;
        }
    }
    if in_group {
        out.push(Address::default());
    }
}

/// Appends an ENVELOPE address list (`NIL` when empty).
pub fn write_envelope(out: &mut Vec<u8>, list: &[Address]) {
    if list.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for a in list {
        out.push(b'(');
        nstring(out, a.name.as_deref());
        out.push(b' ');
        nstring(out, a.route.as_deref());
        out.push(b' ');
        nstring(out, a.mailbox.as_deref());
        out.push(b' ');
        nstring(out, a.domain.as_deref());
        out.push(b')');
    }
    out.push(b')');
}

fn needs_quotes(s: &[u8]) -> bool {
    s.iter()
        .any(|&b| !(b.is_ascii_alphanumeric() || b == b' ' || b"!#$%&'*+-/=?^_`{|}~".contains(&b)))
}

/// The search form of an address list: `Name <local@domain>` joined by commas, names decoded
/// and quoted when they hold anything but atom characters and spaces.
pub fn search_form(list: &[Address]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut prev = false;
    for a in list {
        match (&a.domain, &a.mailbox) {
            (None, Some(group)) => {
                if prev {
                    out.push(b',');
                }
                out.extend_from_slice(&decode::mime_header(group));
                out.push(b':');
                prev = false;
            }
            (None, None) => {
                out.push(b';');
                prev = true;
            }
            (Some(domain), mailbox) => {
                if prev {
                    out.push(b',');
                }
                if let Some(name) = &a.name {
                    let dec = decode::mime_header(name);
                    if needs_quotes(&dec) {
                        out.push(b'"');
                        for &b in &dec {
                            if b == b'"' || b == b'\\' {
                                out.push(b'\\');
                            }
                            out.push(b);
                        }
                        out.push(b'"');
                    } else {
                        out.extend_from_slice(&dec);
                    }
                    out.push(b' ');
                }
                out.push(b'<');
                if let Some(r) = &a.route {
                    out.extend_from_slice(r);
                    out.push(b':');
                }
                out.extend_from_slice(mailbox.as_deref().unwrap_or(&[]));
                out.push(b'@');
                out.extend_from_slice(domain);
                out.push(b'>');
                prev = true;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(s: &str) -> String {
        let mut l = Vec::new();
        parse_list(s.as_bytes(), &mut l);
        let mut o = Vec::new();
        write_envelope(&mut o, &l);
        String::from_utf8_lossy(&o).into_owned()
    }

    fn search(s: &str) -> String {
        let mut l = Vec::new();
        parse_list(s.as_bytes(), &mut l);
        String::from_utf8_lossy(&search_form(&l)).into_owned()
    }

    #[test]
    fn envelope_table() {
        let cases = [
            (
                "Bob Example <bob@example.org>",
                r#"(("Bob Example" NIL "bob" "example.org"))"#,
            ),
            ("bob@example.org", r#"((NIL NIL "bob" "example.org"))"#),
            (
                r#""Quoted, Name" <q@x.org>, a@b"#,
                r#"(("Quoted, Name" NIL "q" "x.org")(NIL NIL "a" "b"))"#,
            ),
            (
                "undisclosed-recipients:;, Team: c@x, d@y;",
                r#"((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)(NIL NIL "Team" NIL)(NIL NIL "c" "x")(NIL NIL "d" "y")(NIL NIL NIL NIL))"#,
            ),
            ("<@r1,@r2:u@d>", r#"((NIL "@r1,@r2" "u" "d"))"#),
            ("a@b (comment)", r#"((NIL NIL "a" "b"))"#),
            ("", "NIL"),
            (
                "  John   Q.  Public <j@p>",
                r#"(("John Q. Public" NIL "j" "p"))"#,
            ),
        ];
        for (i, o) in cases {
            assert_eq!(env(i), o, "{i}");
        }
    }

    #[test]
    fn search_table() {
        let cases = [
            (
                "Bob Example <bob@example.org>",
                "Bob Example <bob@example.org>",
            ),
            (
                r#""Quoted, Name" <q@x.org>, a@b"#,
                r#""Quoted, Name" <q@x.org>,<a@b>"#,
            ),
            (
                "undisclosed-recipients:;, Team: c@x, d@y;",
                "undisclosed-recipients:;,Team:<c@x>,<d@y>;",
            ),
            (
                "=?UTF-8?Q?J=C3=B6rg_M=C3=BCller?= <j@d>",
                "\"J\u{f6}rg M\u{fc}ller\" <j@d>",
            ),
        ];
        for (i, o) in cases {
            assert_eq!(search(i), o, "{i}");
        }
    }
}
