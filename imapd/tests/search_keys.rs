//! SEARCH over messages built in scratch mailboxes. The first test rebuilds three folders
//! that were also appended to Debian's Cyrus 3.6.1, byte for byte, and expects the answers it
//! gave there: which body parts (charsets, transfer encodings, nesting) and header forms
//! (RFC 2047, raw 8-bit, cached or not) a search sees, and how Date-less messages are dated.
//! The others pin down behaviour of ours that Cyrus could not show in those folders: options,
//! zones, WITHIN boundaries, per-session flags and unreadable files.

mod search_support;

use cyrus::charset::{FoldOptions, Whitespace};
use cyrus::mailbox::index::IndexRecord;
use imapd::search::{MsgRef, Options};
use search_support::*;

#[rustfmt::skip]
mod data {
    /// INBOX.t: (letter, Content-Type, Content-Transfer-Encoding, body) of one-part messages.
    /// (letter, Content-Type, Content-Transfer-Encoding, body).
    pub type Part = (&'static [u8], &'static [u8], &'static [u8], &'static [u8]);
    pub const T_PARTS: &[Part] = &[
            (b"A", b"text/plain; charset=utf-8", b"quoted-printable", b"caf=C3=A9 okA"),
            (b"B", b"text/plain; charset=iso-8859-1", b"8bit", b"caf\xe9 okB"),
            (b"C", b"text/plain; charset=iso-8859-1", b"quoted-printable", b"caf=E9 okC"),
            (b"D", b"text/plain; charset=us-ascii", b"base64", b"b2tEIHRleHQ="),
            (b"E", b"text/plain; charset=utf-8", b"base64", b"Y2Fmw6kgb2tF"),
            (b"F", b"text/plain", b"quoted-printable", b"okF=20x"),
            (b"G", b"text/plain; charset=ISO-8859-1", b"8bit", b"caf\xe9 okG"),
            (b"H", b"text/plain; charset=windows-1252", b"8bit", b"\x80 okH"),
            (b"I", b"text/plain; charset=koi8-r", b"8bit", b"\xf0\xd2\xc9\xd7\xc5\xd4 okI"),
            (b"J", b"text/plain; charset=utf-7", b"7bit", b"+AOk- okJ"),
            (b"K", b"text/plain; charset=x-unknown", b"7bit", b"okK"),
            (b"L", b"text/plain; charset=utf-8", b"quoted-printable", b"okL=\r\nM soft"),
            (b"N", b"text/plain; charset=utf-8", b"x-uuencode", b"okN"),
            (b"O", b"text/plain; charset=utf-8", b"8bit", b"a\tb  c\r\n d okO"),
    ];

    /// INBOX.u: messages with encoded headers, charsets and nested parts.
    pub const U_MSGS: &[&[u8]] = &[
            b"From: t <t@x>\r\nX-Test: =?ISO-8859-1?Q?caf=E9?= 1\r\nComments: =?ISO-8859-1?Q?caf=E9?= 1\r\nSubject: s1\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nbody1 caf\xc3\xa9",
            b"From: t <t@x>\r\nX-Test: =?utf-8?Q?caf=C3=A9?= 2\r\nComments: =?utf-8?Q?caf=C3=A9?= 2\r\nSubject: s2\r\nContent-Type: text/plain; charset=US-ASCII\r\n\r\nbody2",
            b"From: t <t@x>\r\nSubject: s3\r\nContent-Type: text/plain; charset=utf8\r\n\r\nbody3",
            b"From: t <t@x>\r\nSubject: s4\r\nContent-Type: text/plain; charset=ascii\r\n\r\nbody4",
            b"From: t <t@x>\r\nSubject: s5\r\nContent-Type: text/plain; charset=latin1\r\n\r\nbody5",
            b"From: t <t@x>\r\nSubject: s6\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\npre\r\n--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nbody6a\r\n--b\r\nContent-Type: text/plain\r\n\r\nbody6b\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner6\r\nContent-Type: text/plain; charset=iso-8859-2\r\n\r\nbody6c\r\n--b\r\nContent-Type: application/x-foo\r\n\r\nbody6d\r\n--b\r\nContent-Type: TEXT/HTML\r\n\r\n<b>body6e</b>\r\n--b--\r\nepi6\r\n",
    ];

    /// INBOX.v: (message, internal date) probing dates and sizes.
    pub const V_MSGS: &[(&[u8], &str)] = &[
            (b"From: a <a@x>\r\nDate: Tue, 02 Jan 2024 00:30:00 +0100\r\nX-Raw: caf\xc3\xa9 raw\r\nSubject: one\r\n\r\nbody\r\n", "02-Jan-2024 00:30:00 +0100"),
            (b"From: a <a@x>\r\nSubject: nodate\r\n\r\nbody\r\n", "01-Jan-2024 23:59:59 +0000"),
            (b"From: a <a@x>\r\nDate: garbage\r\nSubject: baddate\r\n\r\nbody\r\n", "03-Jan-2024 00:00:00 +0000"),
            (b"From: a <a@x>\r\nDate: 1 Jan 2024 22:00 -0500\r\nSubject: west\r\n\r\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n", "03-Jan-2024 00:00:00 +0000"),
    ];

    pub const T_CASES: &[(&[u8], &str)] = &[
            (b"SEARCH BODY okA", "* SEARCH 1\r\n"),
            (b"SEARCH BODY okB", "* SEARCH\r\n"),
            (b"SEARCH BODY okC", "* SEARCH\r\n"),
            (b"SEARCH BODY okD", "* SEARCH 4\r\n"),
            (b"SEARCH BODY okE", "* SEARCH 5\r\n"),
            (b"SEARCH BODY okF", "* SEARCH 6\r\n"),
            (b"SEARCH BODY okG", "* SEARCH\r\n"),
            (b"SEARCH BODY okH", "* SEARCH\r\n"),
            (b"SEARCH BODY okI", "* SEARCH\r\n"),
            (b"SEARCH BODY okJ", "* SEARCH\r\n"),
            (b"SEARCH BODY okK", "* SEARCH\r\n"),
            (b"SEARCH BODY okLM", "* SEARCH 12\r\n"),
            (b"SEARCH BODY okN", "* SEARCH\r\n"),
            (b"SEARCH BODY ok", "* SEARCH 1 4 5 6 12 14\r\n"),
            (b"SEARCH TEXT ok", "* SEARCH 1 4 5 6 12 14\r\n"),
            (b"SEARCH CHARSET UTF-8 BODY \"caf\xc3\xa9\"", "* SEARCH 1 5\r\n"),
            (b"SEARCH CHARSET UTF-8 BODY \"\xe2\x82\xac\"", "* SEARCH\r\n"),
            (b"SEARCH CHARSET UTF-8 BODY \"\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82\"", "* SEARCH\r\n"),
            (b"SEARCH CHARSET UTF-8 BODY \"\xc3\xa9\"", "* SEARCH 1 4 5\r\n"),
            (b"SEARCH BODY \"a b c d\"", "* SEARCH 14\r\n"),
            (b"SEARCH BODY \"a\tb\"", "* SEARCH 14\r\n"),
            (b"SEARCH BODY \"c d okO\"", "* SEARCH 14\r\n"),
            (b"SEARCH TEXT \"msg O a b\"", "* SEARCH\r\n"),
            (b"SEARCH SUBJECT \"msg\"", "* SEARCH 1 2 3 4 5 6 7 8 9 10 11 12 13 14\r\n"),
            (b"SEARCH HEADER Content-Transfer-Encoding \"base64\"", "* SEARCH 4 5\r\n"),
            (b"SEARCH HEADER CONTENT-TYPE \"charset=utf-8\"", "* SEARCH 1 5 12 13 14\r\n"),
    ];

    pub const U_CASES: &[(&[u8], &str)] = &[
            (b"SEARCH CHARSET UTF-8 HEADER X-Test \"caf\xc3\xa9 1\"", "* SEARCH 1\r\n"),
            (b"SEARCH CHARSET UTF-8 HEADER X-Test \"caf\xc3\xa9\"", "* SEARCH 1 2\r\n"),
            (b"SEARCH CHARSET UTF-8 HEADER Comments \"caf\xc3\xa9\"", "* SEARCH 1 2\r\n"),
            (b"SEARCH CHARSET UTF-8 TEXT \"caf\xc3\xa9\"", "* SEARCH 1 2\r\n"),
            (b"SEARCH BODY body1", "* SEARCH 1\r\n"),
            (b"SEARCH BODY body2", "* SEARCH 2\r\n"),
            (b"SEARCH BODY body3", "* SEARCH 3\r\n"),
            (b"SEARCH BODY body4", "* SEARCH 4\r\n"),
            (b"SEARCH BODY body5", "* SEARCH\r\n"),
            (b"SEARCH BODY body6a", "* SEARCH\r\n"),
            (b"SEARCH BODY body6b", "* SEARCH 6\r\n"),
            (b"SEARCH BODY body6c", "* SEARCH\r\n"),
            (b"SEARCH BODY inner6", "* SEARCH 6\r\n"),
            (b"SEARCH BODY body6d", "* SEARCH\r\n"),
            (b"SEARCH BODY body6e", "* SEARCH 6\r\n"),
            (b"SEARCH BODY pre", "* SEARCH\r\n"),
            (b"SEARCH BODY epi6", "* SEARCH\r\n"),
            (b"SEARCH TEXT \"s6\"", "* SEARCH 6\r\n"),
            (b"SEARCH BODY \"s6\"", "* SEARCH\r\n"),
            (b"SEARCH BODY \"x-foo\"", "* SEARCH 6\r\n"),
            (b"SEARCH BODY \"iso-8859-1\"", "* SEARCH 6\r\n"),
            (b"SEARCH HEADER Content-Type \"iso-8859-1\"", "* SEARCH\r\n"),
            (b"SEARCH TEXT \"Content-Type: TEXT/HTML\"", "* SEARCH 6\r\n"),
            (b"SEARCH BODY \"Subject: inner6\"", "* SEARCH 6\r\n"),
            (b"SEARCH SENTBEFORE 1-Jan-2000", "* SEARCH\r\n"),
    ];

    pub const V_CASES: &[(&[u8], &str)] = &[
            (b"SEARCH SENTON 2-Jan-2024", "* SEARCH 1\r\n"),
            (b"SEARCH SENTON 1-Jan-2024", "* SEARCH 2 4\r\n"),
            (b"SEARCH SENTBEFORE 2-Jan-2024", "* SEARCH 2 4\r\n"),
            (b"SEARCH SENTSINCE 2-Jan-2024", "* SEARCH 1 3\r\n"),
            (b"SEARCH SENTBEFORE 1-Jan-1971", "* SEARCH\r\n"),
            (b"SEARCH SENTSINCE 1-Jan-1970", "* SEARCH 1 2 3 4\r\n"),
            (b"SEARCH ON 1-Jan-2024", "* SEARCH 1 2\r\n"),
            (b"SEARCH SINCE 2-Jan-2024", "* SEARCH 3 4\r\n"),
            (b"SEARCH BEFORE 2-Jan-2024", "* SEARCH 1 2\r\n"),
            (b"SEARCH ON 3-Jan-2024", "* SEARCH 3 4\r\n"),
            (b"SEARCH CHARSET UTF-8 HEADER X-Raw \"caf\xc3\xa9\"", "* SEARCH\r\n"),
            (b"SEARCH HEADER X-Raw \"caf\"", "* SEARCH 1\r\n"),
            (b"SEARCH HEADER X-Raw \"raw\"", "* SEARCH 1\r\n"),
            (b"SEARCH CHARSET UTF-8 TEXT \"caf\xc3\xa9 raw\"", "* SEARCH\r\n"),
            (b"SEARCH LARGER 100", "* SEARCH 4\r\n"),
            (b"SEARCH SMALLER 66", "* SEARCH 2 3\r\n"),
            (b"SEARCH LARGER 164", "* SEARCH\r\n"),
            (b"SEARCH SMALLER 40", "* SEARCH\r\n"),
            (b"SEARCH HEADER DATE \"garbage\"", "* SEARCH 3\r\n"),
            (b"SEARCH HEADER SUBJECT \"\"", "* SEARCH 1 2 3 4\r\n"),
            (b"SEARCH HEADER \"Subject\" \"ONE\"", "* SEARCH 1\r\n"),
            (b"SEARCH KEYWORD nope", "* SEARCH\r\n"),
            (b"SEARCH UNKEYWORD nope", "* SEARCH 1 2 3 4\r\n"),
            (b"SEARCH 2:1", "* SEARCH 1 2\r\n"),
            (b"SEARCH 9", "* SEARCH\r\n"),
            (b"SEARCH 3,1", "* SEARCH 1 3\r\n"),
            (b"SEARCH UID 1:*", "* SEARCH 1 2 3 4\r\n"),
            (b"SEARCH UID 99", "* SEARCH\r\n"),
            (b"SEARCH UID 4:99", "* SEARCH 4\r\n"),
            (b"SEARCH RETURN (MIN MAX) 2:3", "* ESEARCH (TAG \"T\") MIN 2 MAX 3\r\n"),
            (b"UID SEARCH RETURN (ALL COUNT) OR 1 4", "* ESEARCH (TAG \"T\") UID COUNT 2 ALL 1,4\r\n"),
    ];

    /// A delivery report: which of its parts BODY sees (Cyrus: the texts only).
    pub const D_MSG: &[u8] = b"From: t <t@x>\r\nSubject: dsn\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=r\r\n\r\n--r\r\nContent-Type: text/plain\r\n\r\nplainword\r\n--r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; dsnword\r\n--r\r\nContent-Type: text/rfc822-headers\r\n\r\nSubject: hdrword\r\n--r\r\nContent-Type: message/partial; id=x\r\n\r\npartialword\r\n--r--\r\n";
    pub const D_CASES: &[(&[u8], &str)] = &[
        (b"SEARCH BODY plainword", "* SEARCH 1\r\n"),
        (b"SEARCH BODY dsnword", "* SEARCH\r\n"),
        (b"SEARCH BODY hdrword", "* SEARCH 1\r\n"),
        (b"SEARCH BODY partialword", "* SEARCH\r\n"),
    ];
}
use data::*;

/// The INBOX.t message with this part.
fn t_message(letter: &[u8], ct: &[u8], cte: &[u8], body: &[u8]) -> Vec<u8> {
    let mut m = b"From: t <t@x>\r\nSubject: msg ".to_vec();
    m.extend_from_slice(letter);
    m.extend_from_slice(
        b"\r\nDate: Mon, 01 Jan 2024 00:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: ",
    );
    m.extend_from_slice(ct);
    m.extend_from_slice(b"\r\nContent-Transfer-Encoding: ");
    m.extend_from_slice(cte);
    m.extend_from_slice(b"\r\n\r\n");
    m.extend_from_slice(body);
    m.extend_from_slice(b"\r\n");
    m
}

const JAN_2024: u32 = 1_704_067_200;

fn check(name: &str, msgs: Vec<NewMsg<'_>>, cases: &[(&[u8], &str)], opts: &Options) {
    let dir = scratch(name);
    let mb = build(&dir, &msgs);
    let view = view(&mb, false);
    let mut bad = Vec::new();
    for (cmd, want) in cases {
        let got = run(&mb, &view, "T", cmd, opts);
        if got != *want {
            bad.push(format!(
                "{}: got {got:?}, want {want:?}",
                String::from_utf8_lossy(cmd)
            ));
        }
    }
    assert!(bad.is_empty(), "{name}:\n{}", bad.join("\n"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn scratch_folders_answer_as_cyrus() {
    let opts = Options::new(i64::from(JAN_2024) + 86_400 * 30);
    let t = T_PARTS
        .iter()
        .map(|(l, ct, cte, body)| NewMsg {
            bytes: t_message(l, ct, cte, body),
            internaldate: JAN_2024,
            flags: &[],
        })
        .collect();
    check("t", t, T_CASES, &opts);
    let u = U_MSGS
        .iter()
        .map(|m| NewMsg {
            bytes: m.to_vec(),
            internaldate: JAN_2024 + 86_400 * 10,
            flags: &[],
        })
        .collect();
    check("u", u, U_CASES, &opts);
    let v = V_MSGS
        .iter()
        .map(|(m, d)| NewMsg {
            bytes: m.to_vec(),
            internaldate: date_time(d),
            flags: &[],
        })
        .collect();
    check("v", v, V_CASES, &opts);
    let d = vec![NewMsg {
        bytes: D_MSG.to_vec(),
        internaldate: JAN_2024,
        flags: &[],
    }];
    check("d", d, D_CASES, &opts);
}

#[test]
fn every_charset_when_asked() {
    // Off by default, as in Cyrus; on, each part in a charset we decode is searched.
    let mut opts = Options::new(i64::from(JAN_2024));
    opts.all_body_charsets = true;
    let t = T_PARTS
        .iter()
        .map(|(l, ct, cte, body)| NewMsg {
            bytes: t_message(l, ct, cte, body),
            internaldate: JAN_2024,
            flags: &[],
        })
        .collect();
    let cases: &[(&[u8], &str)] = &[
        (b"SEARCH BODY ok", "* SEARCH 1 2 3 4 5 6 7 8 9 10 12 14\r\n"),
        (
            b"SEARCH CHARSET UTF-8 BODY \"caf\xc3\xa9 ok\"",
            "* SEARCH 1 2 3 5 7\r\n",
        ),
        (
            b"SEARCH CHARSET UTF-8 BODY \"\xe2\x82\xac\"",
            "* SEARCH 8\r\n",
        ),
        (
            b"SEARCH CHARSET UTF-8 BODY \"\xd0\xbf\xd1\x80\xd0\xb8\"",
            "* SEARCH 9\r\n",
        ),
        (
            b"SEARCH CHARSET ISO-8859-1 BODY \"\xe9 okj\"",
            "* SEARCH 10\r\n",
        ),
        (b"SEARCH BODY okK", "* SEARCH\r\n"),
        (b"SEARCH BODY okN", "* SEARCH\r\n"),
    ];
    check("allcs", t, cases, &opts);
}

/// A one-line message with this subject and body.
fn simple(subject: &str, body: &str) -> Vec<u8> {
    format!("From: x <x@y>\r\nSubject: {subject}\r\nDate: Mon, 01 Jan 2024 12:00:00 +0000\r\n\r\n{body}\r\n")
        .into_bytes()
}

#[test]
fn options_and_zones() {
    let msgs = || {
        vec![
            NewMsg {
                bytes: simple("the quick  brown", "fox"),
                internaldate: JAN_2024 + 3600,
                flags: &[],
            },
            NewMsg {
                bytes: simple("H\u{e5}vard", "x"),
                internaldate: JAN_2024 + 86_400 - 60,
                flags: &[],
            },
        ]
    };
    let skip = Options {
        fold: FoldOptions {
            skip_diacritics: true,
            whitespace: Whitespace::Skip,
        },
        ..Options::new(0)
    };
    check(
        "skip",
        msgs(),
        &[
            (b"SEARCH SUBJECT equi", "* SEARCH 1\r\n"),
            (b"SEARCH SUBJECT hav", "* SEARCH 2\r\n"),
        ],
        &skip,
    );
    let keep = Options {
        fold: FoldOptions {
            skip_diacritics: false,
            whitespace: Whitespace::Keep,
        },
        ..Options::new(0)
    };
    check(
        "keep",
        msgs(),
        &[
            (b"SEARCH SUBJECT \"quick brown\"", "* SEARCH\r\n"),
            (b"SEARCH SUBJECT \"quick  brown\"", "* SEARCH 1\r\n"),
            (b"SEARCH SUBJECT hav", "* SEARCH\r\n"),
            (
                b"SEARCH CHARSET UTF-8 SUBJECT \"H\xc3\x85V\"",
                "* SEARCH 2\r\n",
            ),
        ],
        &keep,
    );
    // In a zone one hour east of UTC, 1 Jan 23:59 UTC is already 2 Jan.
    let east = Options {
        utc_offset: 3600,
        ..Options::new(0)
    };
    check(
        "east",
        msgs(),
        &[
            (b"SEARCH ON 1-Jan-2024", "* SEARCH 1\r\n"),
            (b"SEARCH ON 2-Jan-2024", "* SEARCH 2\r\n"),
            (b"SEARCH SENTON 1-Jan-2024", "* SEARCH 1 2\r\n"),
        ],
        &east,
    );
    check(
        "utc",
        msgs(),
        &[(b"SEARCH ON 1-Jan-2024", "* SEARCH 1 2\r\n")],
        &Options::new(0),
    );
    // OLDER n: at least n seconds old; YOUNGER n: at most n seconds old.
    let now = Options::new(i64::from(JAN_2024) + 3600 + 100);
    check(
        "within",
        msgs(),
        &[
            (b"SEARCH OLDER 100", "* SEARCH 1\r\n"),
            (b"SEARCH OLDER 101", "* SEARCH\r\n"),
            (b"SEARCH YOUNGER 100", "* SEARCH 1 2\r\n"),
            (b"SEARCH YOUNGER 99", "* SEARCH 2\r\n"),
            (
                b"SEARCH RETURN (SAVE) ALL",
                "BAD Invalid Search return option save",
            ),
            (
                b"SEARCH RETURN (COUNT BOGUS) ALL",
                "BAD Invalid Search return option bogus",
            ),
        ],
        &now,
    );
}

#[test]
fn session_flags_and_unreadable_files() {
    let dir = scratch("session");
    let mut mb = build(
        &dir,
        &[
            NewMsg {
                bytes: simple("a", "alpha"),
                internaldate: JAN_2024,
                flags: &["\\Seen", "Work"],
            },
            NewMsg {
                bytes: simple("b", "beta"),
                internaldate: JAN_2024,
                flags: &["\\Deleted"],
            },
            NewMsg {
                bytes: simple("c", "gamma"),
                internaldate: JAN_2024,
                flags: &[],
            },
        ],
    );
    std::fs::remove_file(mb.message_path(3)).unwrap();
    let _ = mb.user_flag("Unused", true).unwrap();
    let records: Vec<IndexRecord> = mb.records().to_vec();
    // Another user's view: \Seen from their seen state, \Recent for this session only.
    let view: Vec<MsgRef<'_>> = records
        .iter()
        .enumerate()
        .map(|(i, r)| MsgRef {
            seq: i as u32 + 1,
            record: r,
            seen: i == 1,
            recent: i == 2,
        })
        .collect();
    let opts = Options::new(0);
    let cases: &[(&[u8], &str)] = &[
        (b"SEARCH SEEN", "* SEARCH 2\r\n"),
        (b"SEARCH NEW", "* SEARCH 3\r\n"),
        (b"SEARCH OLD", "* SEARCH 1 2\r\n"),
        (b"SEARCH RECENT", "* SEARCH 3\r\n"),
        (b"SEARCH DELETED", "* SEARCH 2\r\n"),
        (b"SEARCH KEYWORD work", "* SEARCH 1\r\n"),
        (b"SEARCH KEYWORD Unused", "* SEARCH\r\n"),
        (b"SEARCH UNKEYWORD WORK", "* SEARCH 2 3\r\n"),
        // Message 3 has lost its file: envelope keys still come from the cache, file ones fail.
        (b"SEARCH SUBJECT c", "* SEARCH 3\r\n"),
        (b"SEARCH BODY a", "* SEARCH 1 2\r\n"),
        (b"SEARCH NOT BODY zzz", "* SEARCH 1 2 3\r\n"),
        (b"SEARCH HEADER Date 2024", "* SEARCH 1 2\r\n"),
        (b"SEARCH * UID 2:*", "* SEARCH 3\r\n"),
        (
            b"UID SEARCH RETURN (MIN MAX COUNT ALL) NOT 2",
            "* ESEARCH (TAG \"T\") UID COUNT 2 MIN 1 MAX 3 ALL 1,3\r\n",
        ),
    ];
    for (cmd, want) in cases {
        assert_eq!(
            run(&mb, &view, "T", cmd, &opts),
            *want,
            "{}",
            String::from_utf8_lossy(cmd)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
