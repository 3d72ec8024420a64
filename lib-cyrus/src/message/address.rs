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

/// Where Cyrus files an address without a domain.
const UNSPECIFIED_DOMAIN: &[u8] = b"unspecified-domain";

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c)
}

struct P<'a> {
    s: &'a [u8],
    i: usize,
}

impl P<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// Takes the next byte (None at the end).
    fn next(&mut self) -> Option<u8> {
        let c = self.peek();
        if c.is_some() {
            self.i += 1;
        }
        c
    }

    /// Skips whitespace and (nested) comments.
    fn skip_space(&mut self) {
        while let Some(c) = self.peek() {
            if c == b'(' {
                self.i += 1;
                let mut depth = 1usize;
                while depth > 0 {
                    let Some(c) = self.next() else { return };
                    match c {
                        b'\\' => {
                            self.next();
                        }
                        b'(' => depth += 1,
                        b')' => depth -= 1,
                        _ => {}
                    }
                }
            } else if is_space(c) {
                self.i += 1;
            } else {
                return;
            }
        }
    }

    /// A phrase up to one of `specials` (or the end, returned as 0): quoted strings
    /// unquoted, whitespace and comments as one space, no trailing space. An unbalanced
    /// quote ends the whole list, as if the value stopped there.
    fn phrase(&mut self, specials: &[u8]) -> (Vec<u8>, u8) {
        self.skip_space();
        let mut out = Vec::new();
        loop {
            let c = self.next().unwrap_or(0);
            if c == b'"' {
                loop {
                    let Some(mut q) = self.next() else {
                        return (Vec::new(), 0);
                    };
                    if q == b'\\'
                        && self.peek() == Some(b'\r')
                        && self.s.get(self.i + 1) == Some(&b'\n')
                    {
                        q = b'\r';
                        self.i += 1;
                    }
                    if q == b'\r' && self.peek() == Some(b'\n') {
                        self.i += 1;
                        if matches!(self.peek(), Some(b' ' | b'\t')) {
                            continue;
                        }
                        return (Vec::new(), 0);
                    }
                    if q.is_ascii_control() {
                        if q == b'\r' || q == b'\n' {
                            q = b' ';
                        } else if q != b'\t' {
                            continue;
                        }
                    }
                    if q == b'"' {
                        break;
                    }
                    if q == b'\\' {
                        let Some(e) = self.next() else {
                            return (Vec::new(), 0);
                        };
                        q = e;
                    }
                    out.push(q);
                }
            } else if c != 0 && (is_space(c) || c == b'(') {
                self.i -= 1;
                self.skip_space();
                out.push(b' ');
            } else if c == 0 || specials.contains(&c) {
                if out.last() == Some(&b' ') {
                    out.pop();
                }
                return (out, c);
            } else {
                out.push(c);
            }
        }
    }

    /// A domain: its characters with whitespace and comments removed and dots collapsed.
    /// With `want_comment`, a comment that ends the domain is returned (a display name).
    fn domain(&mut self, want_comment: bool) -> (Vec<u8>, Option<Vec<u8>>, u8) {
        self.skip_space();
        let mut out = Vec::new();
        let mut comment: Option<Vec<u8>> = None;
        loop {
            let c = self.next().unwrap_or(0);
            if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'[' | b']' | b':' | b'@') || c > 127
            {
                out.push(c);
                comment = None;
            } else if c == b'.' {
                if out.last().is_some_and(|&l| l != b'.') {
                    out.push(c);
                }
                comment = None;
            } else if c == b'(' {
                if want_comment {
                    let mut text = Vec::new();
                    let mut depth = 1usize;
                    while depth > 0 {
                        let Some(mut d) = self.next() else { break };
                        match d {
                            b'(' => depth += 1,
                            b')' => depth -= 1,
                            b'\\' => {
                                if let Some(e) = self.next() {
                                    d = e;
                                }
                            }
                            _ => {}
                        }
                        if depth > 0 {
                            text.push(d);
                        }
                    }
                    comment = Some(text);
                } else {
                    self.i -= 1;
                    self.skip_space();
                }
            } else if c == 0 || !is_space(c) {
                if out.last() == Some(&b'.') {
                    out.pop();
                }
                return (out, comment, c);
            }
        }
    }

    /// A source route (`@a,@b`), up to the character that ends it.
    fn route(&mut self) -> (Vec<u8>, u8) {
        self.skip_space();
        let mut out = Vec::new();
        loop {
            let c = self.next().unwrap_or(0);
            if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'[' | b']' | b',' | b'@') {
                out.push(c);
            } else if c == b'.' {
                if out.last().is_some_and(|&l| l != b'.') {
                    out.push(c);
                }
            } else if c != 0 && (is_space(c) || c == b'(') {
                self.i -= 1;
                self.skip_space();
            } else {
                while matches!(out.last(), Some(b'.' | b',' | b'@')) {
                    out.pop();
                }
                return (out, c);
            }
        }
    }

    /// Skips to just after the next `>` (or the end).
    fn skip_to_close(&mut self, mut tok: u8) {
        while tok != 0 && tok != b'>' {
            tok = self.next().unwrap_or(0);
        }
    }
}

fn push(
    out: &mut Vec<Address>,
    name: Option<Vec<u8>>,
    route: Option<Vec<u8>>,
    mailbox: Option<Vec<u8>>,
    domain: Option<Vec<u8>>,
) {
    if out.len() >= MAX_ADDRESSES {
        return;
    }
    out.push(Address {
        name: name.filter(|n| !n.is_empty()),
        route: route.filter(|r| !r.is_empty()),
        mailbox,
        domain: domain.map(|d| {
            if d.is_empty() {
                UNSPECIFIED_DOMAIN.to_vec()
            } else {
                d
            }
        }),
    });
}

/// Parses an address list header value as Cyrus does, appending to `out`; never fails.
pub fn parse_list(s: &[u8], out: &mut Vec<Address>) {
    let mut p = P { s, i: 0 };
    let mut in_group = false;
    let mut tok = b' ';
    while tok != 0 && out.len() < MAX_ADDRESSES {
        let (phrase, t) = p.phrase(if in_group { b",@<;" } else { b",@<:" });
        tok = t;
        match tok {
            b',' | 0 | b';' => {
                if !phrase.is_empty() {
                    push(out, None, None, Some(phrase), Some(Vec::new()));
                }
                if tok == b';' {
                    push(out, None, None, None, None);
                    in_group = false;
                }
            }
            b':' => {
                push(out, None, None, Some(phrase), None);
                in_group = true;
            }
            b'@' => {
                let (domain, comment, t) = p.domain(true);
                tok = t;
                push(out, comment, None, Some(phrase), Some(domain));
                if tok == b';' {
                    push(out, None, None, None, None);
                    in_group = false;
                }
            }
            _ => {
                // '<': an angle address, maybe with a source route.
                let (mut mailbox, t) = p.phrase(b"@>");
                tok = t;
                if tok != b'@' {
                    push(out, Some(phrase), None, Some(mailbox), Some(Vec::new()));
                    continue;
                }
                let mut route = None;
                if mailbox.is_empty() {
                    p.i -= 1;
                    let (r, t) = p.route();
                    tok = t;
                    if tok != b':' {
                        push(
                            out,
                            Some(phrase),
                            Some(r),
                            Some(Vec::new()),
                            Some(Vec::new()),
                        );
                        p.skip_to_close(tok);
                        tok = b' ';
                        continue;
                    }
                    route = Some(r);
                    let (m, t) = p.phrase(b"@>");
                    mailbox = m;
                    tok = t;
                    if tok != b'@' {
                        push(out, Some(phrase), route, Some(mailbox), Some(Vec::new()));
                        continue;
                    }
                }
                let (domain, _, t) = p.domain(false);
                push(out, Some(phrase), route, Some(mailbox), Some(domain));
                p.skip_to_close(t);
                tok = if t == 0 { 0 } else { b' ' };
            }
        }
    }
    if in_group {
        push(out, None, None, None, None);
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
/// and quoted when they hold anything but atom characters and whitespace, addresses
/// lower-cased.
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
                // Cyrus lower-cases the address (not the name) in the search form.
                if let Some(r) = &a.route {
                    out.extend_from_slice(&r.to_ascii_lowercase());
                    out.push(b':');
                }
                out.extend_from_slice(&mailbox.as_deref().unwrap_or(&[]).to_ascii_lowercase());
                out.push(b'@');
                out.extend_from_slice(&domain.to_ascii_lowercase());
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
            // A trailing comment on a bare address becomes its name.
            ("a@b (Ann)", r#"(("Ann" NIL "a" "b"))"#),
            ("a@b (Ann) .c", r#"((NIL NIL "a" "b.c"))"#),
            ("bob", r#"((NIL NIL "bob" "unspecified-domain"))"#),
            ("Bob <bob>", r#"(("Bob" NIL "bob" "unspecified-domain"))"#),
            ("<>", r#"((NIL NIL "" "unspecified-domain"))"#),
            (r#""unbalanced <a@b>"#, "NIL"),
            (
                r#"a@b, "x\"y" <c@d>"#,
                "((NIL NIL \"a\" \"b\")({3}\r\nx\"y NIL \"c\" \"d\"))",
            ),
            ("a @ ex ample . org", r#"((NIL NIL "a" "example.org"))"#),
            (
                "G: a@b",
                r#"((NIL NIL "G" NIL)(NIL NIL "a" "b")(NIL NIL NIL NIL))"#,
            ),
            ("Folded\r\n Name <a@b>", r#"(("Folded Name" NIL "a" "b"))"#),
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
            ("X <Bob@Example.ORG>", "X <bob@example.org>"),
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
