//! DLIST, the one text serialisation Cyrus uses for mailboxes.db values, cyrus.header and quota
//! records: `%(K v K2 (a b) K3 %(...))`.
//!
//! A value is NIL, a string, a list `( v v ... )` or a key/value list `%( k v k v ... )`.
//! Numbers, hex ids and GUIDs are strings on the wire; [`Dlist::num`] and [`Dlist::as_num`]
//! are the conveniences. Strings are written in the plainest form Cyrus would use for the same
//! bytes (atom, then quoted, then literal), so a value read and written back is byte-identical
//! to what Cyrus wrote.
//!
//! Parsing is bounded: nesting depth is capped at [`MAX_DEPTH`] and a literal cannot announce
//! more bytes than the input holds, so hostile files cost at most their own size.

use std::fmt;

/// Deepest nesting accepted when parsing.
pub const MAX_DEPTH: usize = 64;
/// Longest string written as an atom or quoted string; longer ones become literals.
const MAX_INLINE: usize = 1024;

/// One DLIST value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dlist {
    /// `NIL`.
    Nil,
    /// A string, written as an atom, quoted string or literal as its bytes require.
    Str(Vec<u8>),
    /// An IMAP flag such as `\Seen`, written as it is.
    Flag(Vec<u8>),
    /// `( ... )`.
    List(Vec<Dlist>),
    /// `%( key value ... )`, in order.
    KvList(Vec<(Vec<u8>, Dlist)>),
}

/// Why bytes did not parse as a DLIST.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset where parsing stopped.
    pub at: usize,
    /// What was wrong.
    pub what: &'static str,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad dlist at byte {}: {}", self.at, self.what)
    }
}

impl std::error::Error for ParseError {}

impl Dlist {
    /// A string value.
    pub fn str(s: impl AsRef<[u8]>) -> Dlist {
        Dlist::Str(s.as_ref().to_vec())
    }

    /// A number, which DLIST writes as decimal text.
    pub fn num(n: u64) -> Dlist {
        Dlist::Str(n.to_string().into_bytes())
    }

    /// Parses one value that makes up all of `input` (a trailing LF or CRLF is allowed).
    pub fn parse(input: &[u8]) -> Result<Dlist, ParseError> {
        let (v, used) = Dlist::parse_prefix(input)?;
        let rest = &input[used..];
        if !rest.iter().all(|b| matches!(b, b'\r' | b'\n' | b' ')) {
            return Err(ParseError {
                at: used,
                what: "junk after the value",
            });
        }
        Ok(v)
    }

    /// Parses the value at the start of `input`; returns it and the bytes it used.
    pub fn parse_prefix(input: &[u8]) -> Result<(Dlist, usize), ParseError> {
        let mut p = Parser { b: input, pos: 0 };
        let v = p.value(0)?;
        Ok((v, p.pos))
    }

    /// The DLIST text of this value.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write(&mut out);
        out
    }

    /// Appends the DLIST text of this value to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            Dlist::Nil => out.extend_from_slice(b"NIL"),
            Dlist::Str(s) => write_string(out, s),
            Dlist::Flag(f) => out.extend_from_slice(f),
            Dlist::List(items) => {
                out.push(b'(');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b' ');
                    }
                    v.write(out);
                }
                out.push(b')');
            }
            Dlist::KvList(items) => {
                out.extend_from_slice(b"%(");
                for (i, (k, v)) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b' ');
                    }
                    write_string(out, k);
                    out.push(b' ');
                    v.write(out);
                }
                out.push(b')');
            }
        }
    }

    /// The value under `key`, if this is a key/value list that has it.
    pub fn get(&self, key: &str) -> Option<&Dlist> {
        match self {
            Dlist::KvList(items) => items
                .iter()
                .find(|(k, _)| k.as_slice() == key.as_bytes())
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The bytes of a string or flag.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Dlist::Str(s) | Dlist::Flag(s) => Some(s),
            _ => None,
        }
    }

    /// A string as UTF-8 text.
    pub fn as_str(&self) -> Option<&str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// A string of decimal digits as a number.
    pub fn as_num(&self) -> Option<u64> {
        let b = self.as_bytes()?;
        if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(b).ok()?.parse().ok()
    }

    /// The items of a list.
    pub fn as_list(&self) -> Option<&[Dlist]> {
        match self {
            Dlist::List(v) => Some(v),
            _ => None,
        }
    }

    /// The pairs of a key/value list.
    pub fn as_kvlist(&self) -> Option<&[(Vec<u8>, Dlist)]> {
        match self {
            Dlist::KvList(v) => Some(v),
            _ => None,
        }
    }
}

/// Whether `b` may stand in a DLIST atom (Cyrus's `imparse_isnatom`: note 0x1F is allowed).
fn atom_byte(b: u8) -> bool {
    (0x1f..0x7f).contains(&b)
        && !matches!(b, b' ' | b'{' | b'(' | b')' | b'"' | b'%' | b'*' | b'\\')
}

/// Writes `s` as an atom, quoted string or literal, whichever Cyrus would choose.
fn write_string(out: &mut Vec<u8>, s: &[u8]) {
    if s.is_empty() {
        out.extend_from_slice(b"\"\"");
    } else if s.len() < MAX_INLINE
        && !s.eq_ignore_ascii_case(b"NIL")
        && s.iter().all(|&b| atom_byte(b))
    {
        out.extend_from_slice(s);
    } else if s.len() < MAX_INLINE
        && s.iter()
            .all(|&b| b < 0x80 && !matches!(b, b'\r' | b'\n' | b'"' | b'%' | b'\\'))
    {
        out.push(b'"');
        out.extend_from_slice(s);
        out.push(b'"');
    } else {
        out.extend_from_slice(format!("{{{}}}\r\n", s.len()).as_bytes());
        out.extend_from_slice(s);
    }
}

struct Parser<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn err<T>(&self, what: &'static str) -> Result<T, ParseError> {
        Err(ParseError { at: self.pos, what })
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn value(&mut self, depth: usize) -> Result<Dlist, ParseError> {
        if depth > MAX_DEPTH {
            return self.err("nested too deeply");
        }
        match self.peek() {
            None => self.err("unexpected end"),
            Some(b'%') => match self.b.get(self.pos + 1) {
                Some(b'(') => {
                    self.pos += 2;
                    let mut items = Vec::new();
                    loop {
                        self.skip_spaces();
                        if self.peek() == Some(b')') {
                            self.pos += 1;
                            return Ok(Dlist::KvList(items));
                        }
                        let key = self.string()?;
                        if self.peek() != Some(b' ') {
                            return self.err("key without a value");
                        }
                        self.skip_spaces();
                        let v = self.value(depth + 1)?;
                        items.push((key, v));
                    }
                }
                Some(b'{') => self.err("file values are not supported here"),
                _ => self.err("'%' not followed by '('"),
            },
            Some(b'(') => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_spaces();
                    if self.peek() == Some(b')') {
                        self.pos += 1;
                        return Ok(Dlist::List(items));
                    }
                    items.push(self.value(depth + 1)?);
                }
            }
            Some(b'\\') => {
                let s = self.atom();
                Ok(Dlist::Flag(s.to_vec()))
            }
            Some(b'"') | Some(b'{') => Ok(Dlist::Str(self.string()?)),
            Some(_) => {
                let s = self.atom();
                if s.is_empty() {
                    return self.err("empty value");
                }
                if s.eq_ignore_ascii_case(b"NIL") {
                    Ok(Dlist::Nil)
                } else {
                    Ok(Dlist::Str(s.to_vec()))
                }
            }
        }
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    /// An unquoted token: up to a space, a closing parenthesis or a line end.
    fn atom(&mut self) -> &[u8] {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if matches!(b, b' ' | b')' | b'\r' | b'\n') {
                break;
            }
            self.pos += 1;
        }
        &self.b[start..self.pos]
    }

    /// An atom, quoted string or literal, as bytes.
    fn string(&mut self) -> Result<Vec<u8>, ParseError> {
        match self.peek() {
            Some(b'"') => {
                self.pos += 1;
                let mut s = Vec::new();
                loop {
                    match self.peek() {
                        None | Some(b'\r') | Some(b'\n') => {
                            return self.err("unterminated quoted string")
                        }
                        Some(b'"') => {
                            self.pos += 1;
                            return Ok(s);
                        }
                        Some(b'\\') => {
                            self.pos += 1;
                            match self.peek() {
                                Some(c) => {
                                    s.push(c);
                                    self.pos += 1;
                                }
                                None => return self.err("unterminated quoted string"),
                            }
                        }
                        Some(c) => {
                            s.push(c);
                            self.pos += 1;
                        }
                    }
                }
            }
            Some(b'{') => {
                self.pos += 1;
                let start = self.pos;
                while self.peek().is_some_and(|b| b.is_ascii_digit()) {
                    self.pos += 1;
                }
                let digits = &self.b[start..self.pos];
                if self.peek() == Some(b'+') {
                    self.pos += 1;
                }
                if digits.is_empty() || self.peek() != Some(b'}') {
                    return self.err("bad literal header");
                }
                self.pos += 1;
                if self.b.get(self.pos..self.pos + 2) == Some(b"\r\n") {
                    self.pos += 2;
                } else if self.peek() == Some(b'\n') {
                    self.pos += 1;
                } else {
                    return self.err("literal header not followed by CRLF");
                }
                let n: usize = std::str::from_utf8(digits)
                    .ok()
                    .and_then(|d| d.parse().ok())
                    .filter(|&n| n <= self.b.len() - self.pos)
                    .ok_or(ParseError {
                        at: start,
                        what: "literal longer than the input",
                    })?;
                let s = self.b[self.pos..self.pos + n].to_vec();
                self.pos += n;
                Ok(s)
            }
            _ => {
                let s = self.atom();
                if s.is_empty() {
                    return self.err("empty string");
                }
                Ok(s.to_vec())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &[u8]) {
        let v = Dlist::parse(text)
            .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(text)));
        assert_eq!(v.to_bytes(), text, "{:?}", String::from_utf8_lossy(text));
    }

    #[test]
    fn reference_values_round_trip_byte_for_byte() {
        // From the reference mailboxes.db and cyrus.header files real Cyrus 3.6 wrote.
        round_trip(
            b"%(T e N shared P default V 1795318723 C 1 F 1 M 1795318722 A %(anyone lrs) H ())",
        );
        round_trip(b"%(T e N user\x1falice\x1fArchive P default V 1795318723 C 1 F 4 M 1795318722 A %(alice lrswipkxtecdan bob lrs) H ())");
        round_trip(b"%(T e I ho460b68ewitdzpjj0oco0gi P default V 1795317805 C 1 F 1 M 1795317804 A %(alice lrswipkxtecdan))");
        round_trip(b"%(T e N \"example.com\x1duser\x1fbob\" P default)");
        round_trip(b"%(T e N user.alice I ho460 Q user.alice A %(alice lrswipkxtecdan) U ($Custom NIL \\Seen))");
        round_trip(b"%(S (399) M (1) AS (0) NF (3) MODSEQ 5)");
    }

    fn reference() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference/cyrus-3.6")
    }

    #[test]
    fn every_reference_mailboxes_db_value_and_header_round_trips() {
        let dump = std::fs::read(reference().join("golden/cyr_dbtool/mailboxes.db.dump")).unwrap();
        let mut n = 0;
        for line in dump.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let tab = line.iter().position(|&b| b == b'\t').unwrap();
            round_trip(&line[tab + 1..]);
            n += 1;
        }
        assert!(n >= 16, "only {n} entries");
        let mut headers = 0;
        let mut dirs = vec![reference().join("spool/partition-default")];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.file_name().is_some_and(|f| f == "cyrus.header") {
                    let b = std::fs::read(&p).unwrap();
                    let body = &b[115..];
                    assert_eq!(body.last(), Some(&b'\n'));
                    round_trip(&body[..body.len() - 1]);
                    headers += 1;
                }
            }
        }
        assert!(headers >= 8, "only {headers} headers");
    }

    #[test]
    fn accessors_read_fields() {
        let v = Dlist::parse(b"%(T e V 17 A %(alice lrs) H (%(N x M 3)) Z NIL)\n").unwrap();
        assert_eq!(v.get("T").and_then(Dlist::as_str), Some("e"));
        assert_eq!(v.get("V").and_then(Dlist::as_num), Some(17));
        assert_eq!(v.get("T").and_then(Dlist::as_num), None);
        assert_eq!(
            v.get("A")
                .and_then(|a| a.get("alice"))
                .and_then(Dlist::as_str),
            Some("lrs")
        );
        assert_eq!(
            v.get("H").and_then(Dlist::as_list).map(<[Dlist]>::len),
            Some(1)
        );
        assert_eq!(v.get("Z"), Some(&Dlist::Nil));
        assert_eq!(v.get("missing"), None);
    }

    #[test]
    fn strings_take_the_plainest_form() {
        let w = |s: &[u8]| Dlist::Str(s.to_vec()).to_bytes();
        assert_eq!(w(b"abc"), b"abc");
        assert_eq!(w(b""), b"\"\"");
        assert_eq!(w(b"nil"), b"\"nil\"");
        assert_eq!(w(b"a b"), b"\"a b\"");
        assert_eq!(w(b"a\x1fb"), b"a\x1fb");
        assert_eq!(w(b"a\x1db"), b"\"a\x1db\"");
        assert_eq!(w(b"a\"b"), b"{3}\r\na\"b");
        assert_eq!(w("é".as_bytes()), b"{2}\r\n\xc3\xa9");
        assert_eq!(w(&[b'x'; 1024]).len(), 1024 + 8);
        assert_eq!(Dlist::num(42).to_bytes(), b"42");
    }

    #[test]
    fn literals_and_escapes_parse() {
        let v = Dlist::parse(b"(\"a\\\"b\" {3+}\r\nx y {0}\r\n)").unwrap();
        assert_eq!(
            v,
            Dlist::List(vec![Dlist::str("a\"b"), Dlist::str("x y"), Dlist::str("")])
        );
    }

    #[test]
    fn hostile_input_is_refused() {
        for bad in [
            &b""[..],
            b"%(",
            b"%(k",
            b"%(k v",
            b"(a b",
            b"\"open",
            b"{99}\r\nshort",
            b"{99999999999999999999999}\r\n",
            b"{3}x",
            b"%x",
            b"%{part guid 3}",
            b"a b",
        ] {
            assert!(
                Dlist::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let deep = [vec![b'('; 100], vec![b')'; 100]].concat();
        assert!(Dlist::parse(&deep).is_err());
    }

    fn arb() -> impl proptest::strategy::Strategy<Value = Dlist> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Dlist::Nil),
            proptest::collection::vec(any::<u8>(), 0..12).prop_map(Dlist::Str),
            "[a-z0-9]{1,8}".prop_map(Dlist::str),
        ];
        leaf.prop_recursive(4, 32, 5, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Dlist::List),
                proptest::collection::vec(
                    (proptest::collection::vec(any::<u8>(), 1..6), inner),
                    0..5
                )
                .prop_map(Dlist::KvList),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn write_then_parse_is_identity(v in arb()) {
            let bytes = v.to_bytes();
            let back = Dlist::parse(&bytes).unwrap();
            // NIL written as a string is quoted, so only the NIL value reads back as Nil.
            proptest::prop_assert_eq!(back, v);
        }

        #[test]
        fn random_bytes_never_panic(b in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let _ = Dlist::parse(&b);
        }
    }
}
