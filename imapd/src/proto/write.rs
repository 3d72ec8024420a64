//! Helpers that write the pieces of server replies as Cyrus 3.6 writes them: strings quoted
//! up to 1024 bytes and sent as literals beyond (or when a byte cannot be quoted), `NIL` for
//! absent nstrings, mailbox names as atoms where possible, parenthesised flag lists.
//!
//! They append to a `Vec<u8>` so that a whole reply is built in memory and written in one
//! piece (see issue #5 on delayed ACKs). The quoting rule itself lives in
//! `cyrus::prot::astring`, shared with the other services.

use cyrus::prot::astring;

/// Appends `s` as an astring: an atom when it is one, else a quoted string or a literal.
pub fn astring(out: &mut Vec<u8>, s: &[u8]) {
    // Writing to a Vec cannot fail.
    let _ = astring::write_astring(out, s);
}

/// Appends `s` as a string: quoted when it can be (at most 1024 bytes), else a literal.
pub fn string(out: &mut Vec<u8>, s: &[u8]) {
    let _ = astring::write_string(out, s);
}

/// Appends `NIL` for `None`, else the string.
pub fn nstring(out: &mut Vec<u8>, s: Option<&[u8]>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// Appends a mailbox name as Cyrus prints it in LIST, STATUS and friends: as an atom when
/// every byte may stand in one (Cyrus also lets `]` stand in an atom here, as RFC 3501's
/// `ASTRING-CHAR` does), else as a string.
pub fn mailbox(out: &mut Vec<u8>, name: &[u8]) {
    let atom = !name.is_empty()
        && !name.eq_ignore_ascii_case(b"NIL")
        && name.iter().all(|&b| b == b']' || astring::is_atom_char(b));
    if atom {
        out.extend_from_slice(name);
    } else {
        string(out, name);
    }
}

/// Appends `(f1 f2 ...)`; flags are written as given (system flags keep their backslash).
pub fn flag_list<S: AsRef<str>>(out: &mut Vec<u8>, flags: &[S]) {
    out.push(b'(');
    for (i, f) in flags.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(f.as_ref().as_bytes());
    }
    out.push(b')');
}

/// Appends a sequence set in its compact form (`1:3,5,7:*`), ranges in the order given.
pub fn seq_set(out: &mut Vec<u8>, set: &super::command::SeqSet) {
    use super::command::SeqNum;
    let num = |out: &mut Vec<u8>, n: SeqNum| match n {
        SeqNum::Num(n) => out.extend_from_slice(n.to_string().as_bytes()),
        SeqNum::Star => out.push(b'*'),
    };
    for (i, &(a, b)) in set.0.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        num(out, a);
        if a != b {
            out.push(b':');
            num(out, b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::command::{SeqNum, SeqSet};

    fn w(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut v = Vec::new();
        f(&mut v);
        String::from_utf8_lossy(&v).into_owned()
    }

    #[test]
    fn writers_table() {
        let long = "x".repeat(1025);
        let cases: Vec<(String, String)> = vec![
            (w(|o| astring(o, b"INBOX")), "INBOX".into()),
            (w(|o| astring(o, b"a b")), "\"a b\"".into()),
            (w(|o| string(o, b"INBOX")), "\"INBOX\"".into()),
            (
                w(|o| string(o, long.as_bytes())),
                format!("{{1025}}\r\n{long}"),
            ),
            (
                w(|o| string(o, "x".repeat(1024).as_bytes())),
                format!("\"{}\"", "x".repeat(1024)),
            ),
            (w(|o| string(o, b"a\"b")), "{3}\r\na\"b".into()),
            (w(|o| nstring(o, None)), "NIL".into()),
            (w(|o| nstring(o, Some(b""))), "\"\"".into()),
            (w(|o| mailbox(o, b"INBOX.Sent")), "INBOX.Sent".into()),
            (w(|o| mailbox(o, b"[Gmail]")), "[Gmail]".into()),
            (w(|o| mailbox(o, b"Sent Items")), "\"Sent Items\"".into()),
            (w(|o| mailbox(o, b"")), "\"\"".into()),
            (w(|o| mailbox(o, b"nil")), "\"nil\"".into()),
            (w(|o| mailbox(o, b"a%")), "\"a%\"".into()),
            (
                w(|o| flag_list(o, &["\\Seen", "$Label1"])),
                "(\\Seen $Label1)".into(),
            ),
            (w(|o| flag_list::<&str>(o, &[])), "()".into()),
            (
                w(|o| {
                    seq_set(
                        o,
                        &SeqSet(vec![
                            (SeqNum::Num(1), SeqNum::Num(3)),
                            (SeqNum::Num(5), SeqNum::Num(5)),
                            (SeqNum::Num(7), SeqNum::Star),
                        ]),
                    )
                }),
                "1:3,5,7:*".into(),
            ),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
    }
}
