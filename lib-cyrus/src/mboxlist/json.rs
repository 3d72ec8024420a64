//! The JSON that `ctl_mboxlist -d` writes and `-u` reads, spelled as Cyrus's (Jansson's)
//! output is: `": "` and `", "` separators, keys in a fixed order, numbers as strings.
//!
//! The reader is a small bounded JSON parser (depth-limited, no recursion beyond that)
//! because dumps are admin input that may be damaged or hostile.

use super::entry::{Acl, FormerName, MbType, MboxEntry};
use crate::mboxname::InternalName;

/// Deepest nesting the reader accepts.
const MAX_DEPTH: usize = 32;

/// Appends `s` as a JSON string the way Jansson escapes it (UTF-8 kept, `/` not escaped).
pub fn push_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn field(out: &mut String, first: &mut bool, key: &str, value: &str) {
    if !*first {
        out.push_str(", ");
    }
    *first = false;
    push_string(out, key);
    out.push_str(": ");
    push_string(out, value);
}

/// One `"name": {...}` member of the dump, without separators around it.
pub fn dump_entry(e: &MboxEntry) -> String {
    let mut o = String::with_capacity(256);
    push_string(&mut o, e.name.as_str());
    o.push_str(": {");
    let mut first = true;
    field(&mut o, &mut first, "name", e.name.as_str());
    field(&mut o, &mut first, "mtime", &e.mtime.to_string());
    field(
        &mut o,
        &mut first,
        "uidvalidity",
        &e.uidvalidity.to_string(),
    );
    field(
        &mut o,
        &mut first,
        "createdmodseq",
        &e.createdmodseq.to_string(),
    );
    field(
        &mut o,
        &mut first,
        "foldermodseq",
        &e.foldermodseq.to_string(),
    );
    field(&mut o, &mut first, "mbtype", &e.mbtype.to_string());
    if let Some(p) = &e.partition {
        field(&mut o, &mut first, "partition", p);
    }
    if let Some(s) = &e.server {
        field(&mut o, &mut first, "server", s);
    }
    o.push_str(", \"acl\": {");
    let mut afirst = true;
    for (id, rights) in e.acl.iter().flat_map(|a| a.0.iter()) {
        field(&mut o, &mut afirst, id, rights);
    }
    o.push('}');
    if let Some(u) = &e.uniqueid {
        field(&mut o, &mut first, "uniqueid", u);
    }
    if let Some(s) = &e.legacy_specialuse {
        field(&mut o, &mut first, "legacy_specialuse", s);
    }
    o.push_str(", \"name_history\": [");
    for (i, h) in e.name_history.iter().enumerate() {
        if i > 0 {
            o.push_str(", ");
        }
        o.push('{');
        let mut hf = true;
        field(&mut o, &mut hf, "name", h.name.as_str());
        field(&mut o, &mut hf, "mtime", &h.mtime.to_string());
        field(&mut o, &mut hf, "uidvalidity", &h.uidvalidity.to_string());
        field(
            &mut o,
            &mut hf,
            "createdmodseq",
            &h.createdmodseq.to_string(),
        );
        field(&mut o, &mut hf, "foldermodseq", &h.foldermodseq.to_string());
        field(&mut o, &mut hf, "mbtype", &h.mbtype.to_string());
        if let Some(p) = &h.partition {
            field(&mut o, &mut hf, "partition", p);
        }
        o.push('}');
    }
    o.push_str("]}");
    o
}

/// A parsed JSON value; objects keep their members in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number, as written.
    Number(String),
    /// A string.
    Str(String),
    /// An array.
    Array(Vec<Json>),
    /// An object, members in input order.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// The member `key` of an object (the last one if repeated).
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(m) => m.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The text of a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// Where and why JSON text did not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonError {
    /// 1-based line of the error.
    pub line: usize,
    /// What was wrong.
    pub what: &'static str,
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn err(&self, what: &'static str) -> JsonError {
        let end = self.pos.min(self.b.len());
        let line = 1 + self.b[..end].iter().filter(|&&c| c == b'\n').count();
        JsonError { line, what }
    }

    fn ws(&mut self) {
        while matches!(self.b.get(self.pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.b.get(self.pos) == Some(&c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        self.ws();
        match self.b.get(self.pos) {
            Some(b'{') => {
                self.pos += 1;
                let mut m = Vec::new();
                if self.eat(b'}') {
                    return Ok(Json::Object(m));
                }
                loop {
                    self.ws();
                    let k = self.string()?;
                    if !self.eat(b':') {
                        return Err(self.err("':' expected"));
                    }
                    let v = self.value(depth + 1)?;
                    m.push((k, v));
                    if self.eat(b'}') {
                        return Ok(Json::Object(m));
                    }
                    if !self.eat(b',') {
                        return Err(self.err("',' or '}' expected"));
                    }
                }
            }
            Some(b'[') => {
                self.pos += 1;
                let mut a = Vec::new();
                if self.eat(b']') {
                    return Ok(Json::Array(a));
                }
                loop {
                    a.push(self.value(depth + 1)?);
                    if self.eat(b']') {
                        return Ok(Json::Array(a));
                    }
                    if !self.eat(b',') {
                        return Err(self.err("',' or ']' expected"));
                    }
                }
            }
            Some(b'"') => self.string().map(Json::Str),
            Some(b't') => self.word("true", Json::Bool(true)),
            Some(b'f') => self.word("false", Json::Bool(false)),
            Some(b'n') => self.word("null", Json::Null),
            Some(c) if *c == b'-' || c.is_ascii_digit() => {
                let start = self.pos;
                while matches!(self.b.get(self.pos), Some(c) if c.is_ascii_digit() || b"+-.eE".contains(c))
                {
                    self.pos += 1;
                }
                let s = std::str::from_utf8(&self.b[start..self.pos])
                    .map_err(|_| self.err("bad number"))?;
                Ok(Json::Number(s.to_string()))
            }
            _ => Err(self.err("value expected")),
        }
    }

    fn word(&mut self, w: &str, v: Json) -> Result<Json, JsonError> {
        if self.b[self.pos..].starts_with(w.as_bytes()) {
            self.pos += w.len();
            Ok(v)
        } else {
            Err(self.err("invalid token"))
        }
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let h = self
            .b
            .get(self.pos..self.pos + 4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or_else(|| self.err("bad \\u escape"))?;
        self.pos += 4;
        Ok(h)
    }

    fn string(&mut self) -> Result<String, JsonError> {
        if self.b.get(self.pos) != Some(&b'"') {
            return Err(self.err("string expected"));
        }
        self.pos += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(&c) = self.b.get(self.pos) else {
                return Err(self.err("unterminated string"));
            };
            self.pos += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let Some(&e) = self.b.get(self.pos) else {
                        return Err(self.err("unterminated string"));
                    };
                    self.pos += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let cp = if (0xd800..0xdc00).contains(&hi) {
                                if !self.b[self.pos..].starts_with(b"\\u") {
                                    return Err(self.err("lone surrogate"));
                                }
                                self.pos += 2;
                                let lo = self.hex4()?;
                                if !(0xdc00..0xe000).contains(&lo) {
                                    return Err(self.err("bad surrogate pair"));
                                }
                                0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
                            } else {
                                hi
                            };
                            char::from_u32(cp)
                                .filter(|&c| c != '\0')
                                .ok_or_else(|| self.err("bad \\u escape"))?
                        }
                        _ => return Err(self.err("bad escape")),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                c if c < 0x20 => return Err(self.err("control character in string")),
                c => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|_| self.err("string is not UTF-8"))
    }
}

/// Parses one JSON document (surrounding whitespace allowed).
pub fn parse(text: &[u8]) -> Result<Json, JsonError> {
    let mut r = Reader { b: text, pos: 0 };
    let v = r.value(0)?;
    r.ws();
    if r.pos != r.b.len() {
        return Err(r.err("end of file expected"));
    }
    Ok(v)
}

/// What reading one dumped mailbox gave: the entry, and complaints to print on stderr.
pub struct Undumped {
    /// The entry to store, or `None` when it had to be skipped.
    pub entry: Option<MboxEntry>,
    /// Complaints, one line each, in the order Cyrus prints them.
    pub warnings: Vec<String>,
}

fn num<T: std::str::FromStr + Default>(v: &Json, key: &str) -> Option<T> {
    // Cyrus reads these with strtoul: leading digits count, anything else is 0.
    let s = v.get(key)?.as_str()?;
    let digits: String = s
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Some(digits.parse().unwrap_or_default())
}

/// Reads member `name` of a dump into an entry, as `ctl_mboxlist -u` does (mtime is left 0
/// for the caller to stamp).
pub fn undump_entry(name: &str, v: &Json) -> Undumped {
    let mut warnings = Vec::new();
    let skip = |w: String, warnings: &mut Vec<String>| {
        warnings.push(w);
        None
    };
    let entry = (|| {
        let iname = match InternalName::new(name) {
            Ok(n) if name.len() < 490 => n,
            _ => return skip(format!("mailbox name too long: {name}"), &mut warnings),
        };
        let mut e = MboxEntry::new(iname);
        match num(v, "uidvalidity") {
            Some(n) => e.uidvalidity = n,
            None => warnings.push(format!("missing uidvalidity for {name}")),
        }
        match num(v, "createdmodseq") {
            Some(n) => e.createdmodseq = n,
            None => warnings.push(format!("missing createdmodseq for {name}")),
        }
        match num(v, "foldermodseq") {
            Some(n) => e.foldermodseq = n,
            None => warnings.push(format!("missing foldermodseq for {name}")),
        }
        match v.get("mbtype").and_then(Json::as_str) {
            Some(t) => e.mbtype = MbType::parse(t),
            None => warnings.push(format!("missing mbtype for {name}")),
        }
        match v.get("partition").and_then(Json::as_str) {
            Some(p) if p.len() >= 64 => {
                return skip(format!("partition too long for {name}"), &mut warnings)
            }
            Some(p) => e.partition = Some(p.to_string()),
            // Cyrus says "mbtype" here too.
            None => return skip(format!("missing mbtype for {name}"), &mut warnings),
        }
        e.server = v.get("server").and_then(Json::as_str).map(str::to_string);
        if let Some(Json::Object(m)) = v.get("acl") {
            e.acl = Some(Acl(m
                .iter()
                .map(|(k, r)| (k.clone(), r.as_str().unwrap_or("(null)").to_string()))
                .collect()));
        }
        match v.get("uniqueid").and_then(Json::as_str) {
            Some(u) => e.uniqueid = Some(u.to_string()),
            None => return skip(format!("missing uniqueid for {name}"), &mut warnings),
        }
        e.legacy_specialuse = v
            .get("legacy_specialuse")
            .and_then(Json::as_str)
            .map(str::to_string);
        if let Some(Json::Array(items)) = v.get("name_history") {
            for h in items {
                let Some(n) = h
                    .get("name")
                    .and_then(Json::as_str)
                    .and_then(|n| InternalName::new(n).ok())
                else {
                    continue;
                };
                e.name_history.push(FormerName {
                    name: n,
                    mtime: num(h, "mtime").unwrap_or(0),
                    uidvalidity: num(h, "uidvalidity").unwrap_or(0),
                    createdmodseq: num(h, "createdmodseq").unwrap_or(0),
                    foldermodseq: num(h, "foldermodseq").unwrap_or(0),
                    mbtype: MbType::parse(h.get("mbtype").and_then(Json::as_str).unwrap_or("")),
                    partition: h
                        .get("partition")
                        .and_then(Json::as_str)
                        .map(str::to_string),
                });
            }
        }
        Some(e)
    })();
    Undumped { entry, warnings }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_jansson() {
        let mut s = String::new();
        push_string(&mut s, "a\"b\\c/d\te\u{1}é");
        assert_eq!(s, "\"a\\\"b\\\\c/d\\te\\u0001é\"");
    }

    #[test]
    fn reads_json() {
        let v =
            parse(br#" {"a": {"b": ["x", 1, true, null]}, "c": "\u00e9\ud83d\ude00"} "#).unwrap();
        assert_eq!(v.get("c").and_then(Json::as_str), Some("é😀"));
        assert!(parse(b"{\"a\": }").is_err());
        assert!(parse(&[b'['; 100]).is_err());
        assert_eq!(parse(b"{\n\n  x").unwrap_err().line, 3);
    }

    #[test]
    fn dump_then_undump() {
        let line = r#"{"user.bob": {"name": "user.bob", "mtime": "5", "uidvalidity": "7", "createdmodseq": "1", "foldermodseq": "2", "mbtype": "e", "partition": "default", "server": "s", "acl": {"bob": "lrs", "-x y": "r"}, "uniqueid": "u1", "name_history": []}}"#;
        let v = parse(line.as_bytes()).unwrap();
        let Json::Object(m) = &v else { panic!() };
        let u = undump_entry(&m[0].0, &m[0].1);
        assert!(u.warnings.is_empty());
        let mut e = u.entry.unwrap();
        e.mtime = 5;
        assert_eq!(format!("{{{}}}", dump_entry(&e)), line);
        let bad = parse(br#"{"partition": "p"}"#).unwrap();
        let u = undump_entry("user.x", &bad);
        assert!(u.entry.is_none());
        assert_eq!(u.warnings.last().unwrap(), "missing uniqueid for user.x");
    }
}
