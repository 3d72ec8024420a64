//! Edge cases of the MIME parser from RFC 2045/2046/2047/2231/5322 and from what Cyrus 3.6's
//! parser does with them, as tables of message -> cache items, plus property tests that
//! random and mutated messages never panic and keep the SECTION tree decodable.

use cyrus::mailbox::cache::{Item, Section};
use cyrus::message::{self, Parsed};
use proptest::prelude::*;
use std::path::Path;

fn p(m: &str) -> Parsed {
    message::parse(m.as_bytes())
}

fn item(m: &str, i: Item) -> String {
    String::from_utf8_lossy(p(m).cache.item(i)).into_owned()
}

const TEXT0: &str = r#"("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 0 0 NIL NIL NIL NIL)"#;

#[test]
fn headers_only_and_empty() {
    // No blank line: everything is header, the body is empty.
    let m = "Subject: hi\r\nFrom: a@b\r\n";
    let r = p(m);
    assert_eq!(r.header_size as usize, m.len());
    assert_eq!(item(m, Item::Bodystructure), TEXT0);
    assert_eq!(r.size as usize, m.len());
    let e = p("");
    assert_eq!(
        String::from_utf8_lossy(e.cache.item(Item::Envelope)),
        "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"
    );
    assert_eq!(e.cache.item(Item::Subject), b"NIL");
    assert_eq!((e.sentdate, e.gmtime), (0, 0));
}

#[test]
fn bare_newlines_never_end_the_header() {
    // Cyrus ends a header only at CRLF CRLF; a bare-LF message is all header.
    let m = "Subject: x\n\nbody\n";
    let r = p(m);
    assert_eq!(r.header_size as usize, m.len());
    assert!(item(m, Item::Envelope).starts_with("(NIL \"x\" "));
}

#[test]
fn content_type_syntax() {
    let cases = [
        // No slash: ignored, default type.
        ("Content-Type: text\r\n\r\nx", TEXT0.replace(" 0 0 ", " 1 0 ")),
        (
            "Content-Type: Text/HTML ; Charset=\"UTF-8\" (c)\r\n\r\nx",
            r#"("TEXT" "HTML" ("CHARSET" "UTF-8") NIL NIL "7BIT" 1 0 NIL NIL NIL NIL)"#.into(),
        ),
        // A later invalid Content-Type discards the earlier one.
        (
            "Content-Type: text/html\r\nContent-Type: bad\r\n\r\nx",
            TEXT0.replace(" 0 0 ", " 1 0 "),
        ),
        // A malformed parameter is skipped, the rest kept.
        (
            "Content-Type: text/plain; a=b c; d=\"e;f\"; =g\r\n\r\nx",
            r#"("TEXT" "PLAIN" ("D" "e;f" "" "g") NIL NIL "7BIT" 1 0 NIL NIL NIL NIL)"#.into(),
        ),
        (
            "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64 x\r\n\r\nx",
            r#"("APPLICATION" "OCTET-STREAM" NIL NIL NIL "7BIT" 1 NIL NIL NIL NIL)"#.into(),
        ),
        (
            "Content-Type: text/plain\r\nContent-Language: en, de-DE\r\nContent-Location: http://x/\r\nContent-Disposition: inline; filename=a.txt\r\nContent-MD5: abc\r\nContent-ID: <i>\r\nContent-Description: d e\r\n\r\nx\r\n",
            r#"("TEXT" "PLAIN" NIL "<i>" "d e" "7BIT" 3 1 "abc" ("INLINE" ("FILENAME" "a.txt")) ("EN" "DE-DE") "http://x/")"#.into(),
        ),
    ];
    for (m, want) in cases {
        assert_eq!(item(m, Item::Bodystructure), want, "{m:?}");
    }
}

#[test]
fn rfc2231_continuations_fold() {
    let m = "Content-Type: application/x; name*0=\"a b\"; name*1=c\r\n\r\n";
    assert!(item(m, Item::Bodystructure).contains(r#"("NAME" "a bc")"#));
    let m = "Content-Type: application/x; name*0*=utf-8''a%20; name*1=\"b c\"\r\n\r\n";
    assert!(item(m, Item::Bodystructure).contains("(\"NAME*\" {16}\r\nutf-8''a%20b%20c)"));
    let m = "Content-Type: application/x; name*1*=%41; name*0=\"x y\"\r\n\r\n";
    assert!(item(m, Item::Bodystructure).contains("(\"NAME*\" {10}\r\n''x%20y%41)"));
}

#[test]
fn rfc2047_left_encoded_in_envelope_decoded_in_search_items() {
    let m = "From: =?iso-8859-1?q?Ren=E9?= <R@X.org>\r\nSubject: =?utf-8?b?w6k=?= =?utf-8?q?_x?=\r\n\r\n";
    assert_eq!(
        item(m, Item::Envelope),
        r#"(NIL "=?utf-8?b?w6k=?= =?utf-8?q?_x?=" (("=?iso-8859-1?q?Ren=E9?=" NIL "R" "X.org")) (("=?iso-8859-1?q?Ren=E9?=" NIL "R" "X.org")) (("=?iso-8859-1?q?Ren=E9?=" NIL "R" "X.org")) NIL NIL NIL NIL NIL)"#
    );
    assert_eq!(item(m, Item::From), "\"Ren\u{e9}\" <r@x.org>");
    assert_eq!(item(m, Item::Subject), "{4}\r\n\u{e9} x");
}

#[test]
fn long_and_special_strings_become_literals() {
    let long = "s".repeat(1100);
    let m = format!("Subject: {long}\r\n\r\n");
    let s = String::from_utf8_lossy(message::parse(m.as_bytes()).cache.item(Item::Subject))
        .into_owned();
    assert_eq!(s, format!("{{1100}}\r\n{long}"));
    assert_eq!(item("Subject: 100%\r\n\r\n", Item::Subject), "{4}\r\n100%");
}

#[test]
fn multipart_shapes() {
    // No boundary parameter: a multipart without parts, served as an empty text part.
    let m = "Content-Type: multipart/mixed\r\n\r\nhello\r\n";
    assert_eq!(item(m, Item::Bodystructure), TEXT0);
    // No delimiter at all: Cyrus still finds one (empty) part at the end.
    let m = "Content-Type: multipart/mixed; boundary=b\r\n\r\npreamble\r\n";
    assert_eq!(
        item(m, Item::Body),
        r#"(("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 0 0) "MIXED")"#
    );
    // Unterminated nested multipart and a digest with a default message/rfc822 part.
    let m = "Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: multipart/digest; boundary=i\r\n\r\n--i\r\n\r\nSubject: in\r\n\r\nbody\r\n--o--\r\n";
    let r = p(m);
    let bs = String::from_utf8_lossy(r.cache.item(Item::Body)).into_owned();
    assert!(
        bs.contains(r#"("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 19 (NIL "in" "#),
        "{bs}"
    );
    let s = Section::decode(r.cache.item(Item::Section), Path::new("x")).unwrap();
    assert_eq!(s.encode(), r.cache.item(Item::Section));
    // A boundary that is a prefix of a longer line is not a delimiter.
    let m = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n--bb\r\n--b--\r\n";
    assert!(item(m, Item::Body)
        .starts_with(r#"(("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 4 0)"#));
}

#[test]
fn group_syntax_and_defaults() {
    let m = "From: a@b\r\nTo: list:;, c@d\r\nCc: G: x@y, z@w;\r\n\r\n";
    let env = item(m, Item::Envelope);
    assert!(env.contains(
        r#"((NIL NIL "list" NIL)(NIL NIL NIL NIL)(NIL NIL "c" "d")) ((NIL NIL "G" NIL)(NIL NIL "x" "y")(NIL NIL "z" "w")(NIL NIL NIL NIL))"#
    ), "{env}");
    assert_eq!(item(m, Item::To), "list:;,<c@d>");
    assert_eq!(item(m, Item::Cc), "G:<x@y>,<z@w>;");
    // Repeated address headers: the last one wins.
    assert_eq!(item("To: a@b\r\nTo: c@d\r\n\r\n", Item::To), "<c@d>");
}

#[test]
fn cached_headers_selection() {
    let m = "Received: x\r\nX-Sieve: y\r\nX-Mailer: m\r\nList-Id: l\r\n folded\r\nSubject : s\r\nReply-To: r@s\nFrom: f@g\r\n\r\n";
    assert_eq!(
        item(m, Item::Headers),
        "X-Mailer: m\r\nList-Id: l\r\n folded\r\nSubject : s\r\nReply-To: r@s\r\n"
    );
}

#[test]
fn dates() {
    let r = p("Date: Tue, 02 Jan 2024 10:30:00 +0100\r\n\r\n");
    assert_eq!((r.sentdate, r.gmtime), (1704153600, 1704187800));
    let r = p("Date: yesterday\r\n\r\n");
    assert_eq!((r.sentdate, r.gmtime), (0, 0));
}

#[test]
fn section_charsets_and_decoding() {
    let m = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=x-unknown\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\na=3Db\r\n--b\r\nContent-Type: message/delivery-status\r\nContent-Transfer-Encoding: base64\r\n\r\nabc\r\n--b--\r\n";
    let r = p(m);
    let s = Section::decode(r.cache.item(Item::Section), Path::new("x")).unwrap();
    assert_eq!(s.entries.len(), 3);
    let t = &s.entries[1].charset;
    assert_eq!((t.encoding, t.name(), t.decoded_size), (1, &b""[..], 3));
    let d = &s.entries[2].charset;
    assert_eq!((d.encoding, d.name()), (0, &b"us-ascii"[..]));
}

fn message_strategy() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop::sample::select(vec![
        "Content-Type: multipart/mixed; boundary=b\r\n",
        "Content-Type: message/rfc822\r\n",
        "Content-Type: multipart/digest; boundary=\"c\"\r\n",
        "Content-Type: text/plain; name*0*=x; name*1=y; charset=\"utf-8\r\n",
        "Content-Transfer-Encoding: base64\r\n",
        "Content-Transfer-Encoding: quoted-printable\r\n",
        "From: \"a <b@c>, (x\r\n",
        "To: g: a@b, <@r:c@d>;\r\n",
        "Subject: =?utf-8?q?=C3?= =?x?b?@@?=\r\n",
        "Date: 31 Feb 99 99:99 +9999\r\n",
        "\r\n",
        "\n",
        "--b\r\n",
        "--b--\r\n",
        "--c\r\n",
        "--c--",
        "=\r\n",
        "QUJD\r\n",
        " folded\r\n",
        "\0",
        "-",
    ]);
    prop::collection::vec(pieces, 0..60).prop_map(|v| v.concat().into_bytes())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..2000)) {
        let r = message::parse(&b);
        prop_assert!(Section::decode(r.cache.item(Item::Section), Path::new("x")).is_ok());
    }

    #[test]
    fn mime_shaped_messages_never_panic(b in message_strategy()) {
        let r = message::parse(&b);
        prop_assert!(Section::decode(r.cache.item(Item::Section), Path::new("x")).is_ok());
        prop_assert_eq!(r.size as usize, b.len());
        prop_assert!(r.header_size as usize <= b.len());
    }

    #[test]
    fn mutated_reference_shape_never_panics(
        cut in 0usize..400,
        flip in 0usize..400,
        byte in any::<u8>(),
    ) {
        let base = b"From: Bob <bob@example.org>\r\nSubject: =?UTF-8?B?R3LDvMOfZQ==?=\r\nContent-Type: multipart/mixed; boundary=\"m\"\r\n\r\npre\r\n--m\r\nContent-Type: message/rfc822\r\n\r\nFrom: x@y\r\nContent-Type: multipart/alternative; boundary=n\r\n\r\n--n\r\n\r\na\r\n--n--\r\n--m\r\nContent-Transfer-Encoding: base64\r\n\r\nQUJD\r\n--m--\r\n";
        let mut m = base.to_vec();
        if let Some(b) = m.get_mut(flip) {
            *b = byte;
        }
        m.truncate(cut.min(m.len()));
        let r = message::parse(&m);
        prop_assert!(Section::decode(r.cache.item(Item::Section), Path::new("x")).is_ok());
    }
}

#[test]
fn deep_nesting_is_bounded() {
    let mut m = String::new();
    for i in 0..5000 {
        m.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n"
        ));
    }
    let r = message::parse(m.as_bytes());
    assert!(Section::decode(r.cache.item(Item::Section), Path::new("x")).is_ok());
    let mut m = String::new();
    for _ in 0..5000 {
        m.push_str("Content-Type: message/rfc822\r\n\r\n");
    }
    let r = message::parse(m.as_bytes());
    assert!(!r.cache.item(Item::Bodystructure).is_empty());
}

#[test]
fn many_parts_are_bounded() {
    let mut m = String::from("Content-Type: multipart/mixed; boundary=b\r\n\r\n");
    m.push_str(&"--b\r\n".repeat(30_000));
    let r = message::parse(m.as_bytes());
    assert_eq!(r.body.parts.len(), cyrus::message::body::MAX_PARTS);
    assert_eq!(
        r.body.dropped_parts,
        30_000 - cyrus::message::body::MAX_PARTS
    );
}

#[test]
fn section_of_nested_and_empty_multiparts() {
    // A multipart inside a multipart gets the (0, -1, 0, -1) part 0; a child multipart
    // without a boundary counts as empty (directly under the message it still carries a
    // charset block, without a name).
    let m = "Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n--i\r\n\r\nx\r\n--i--\r\n--o\r\nContent-Type: multipart/related\r\n\r\nnone\r\n--o\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nabc\r\n--o--\r\n";
    let r = p(m);
    let s = Section::decode(r.cache.item(Item::Section), Path::new("x")).unwrap();
    assert_eq!(s.entries.len(), 4);
    let inner = &s.children[0];
    assert_eq!(
        (inner.entries[0].header_size, inner.entries[0].content_size),
        (u32::MAX, u32::MAX)
    );
    assert_eq!(inner.entries[0].charset.encoding, 0xffff);
    let empty = &s.entries[2];
    assert_eq!((empty.content_size, empty.charset.encoding), (0, 0));
    assert_eq!(empty.charset.name(), b"");
    assert_eq!(empty.charset.decoded_size, 4);
    // An encoding Cyrus cannot undo: code 255 and a null digest.
    let unk = &s.entries[3].charset;
    assert_eq!(
        (unk.encoding, unk.guid.is_null(), unk.decoded_size),
        (255, true, 0)
    );
}

/// Inputs the fuzzer (fuzz/fuzz_targets/message.rs) found panicking; they must parse now,
/// and the SECTION item written for them must decode again.
#[test]
fn fuzzer_regressions_parse() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions/message");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let parsed = cyrus::message::parse(&bytes);
        let section = parsed.cache.item(cyrus::mailbox::cache::Item::Section);
        assert!(
            cyrus::mailbox::cache::Section::decode(section, &path).is_ok(),
            "{}",
            path.display()
        );
        n += 1;
    }
    assert!(n >= 1, "no regression inputs in {}", dir.display());
}
