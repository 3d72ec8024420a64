//! Tables of command lines and what the parser makes of them. The error texts are those
//! Debian's Cyrus 3.6.1 answered to the same lines (recorded against a cyrus-ref instance).

use super::*;

fn kind(line: &str) -> CommandKind {
    match parse_command(line.as_bytes()) {
        Ok(c) => c.kind,
        Err(e) => panic!("{line:?}: {e:?}"),
    }
}

fn bad(line: &str) -> String {
    match parse_command(line.as_bytes()) {
        Ok(c) => format!("parsed as {c:?}"),
        Err(e) => match e.tag {
            Some(t) => format!("{t} {} {}", if e.no { "NO" } else { "BAD" }, e.text),
            None => format!("* BAD {}", e.text),
        },
    }
}

fn n(a: u32) -> SeqNum {
    SeqNum::Num(a)
}

fn set(ranges: &[(SeqNum, SeqNum)]) -> SeqSet {
    SeqSet(ranges.to_vec())
}

#[test]
fn cyrus_error_texts() {
    // (line, reply) as Cyrus 3.6 gave them; tags are the lines' own.
    let table: &[(&str, &str)] = &[
        ("k", "* BAD Invalid tag"),
        ("", "* BAD Invalid tag"),
        ("n* NOOP", "* BAD Invalid tag"),
        ("o{ NOOP", "* BAD Invalid tag"),
        ("\"p\" NOOP", "* BAD Invalid tag"),
        ("l ", "l BAD Null command"),
        ("m  NOOP", "m BAD Null command"),
        ("a FOO", "a BAD Unrecognized command"),
        ("g STARTTLS xx", "g BAD Unrecognized command"),
        ("h NOOP x", "h BAD Unexpected extra arguments to Noop"),
        ("i LOGOUT x", "i BAD Unexpected extra arguments to Logout"),
        (
            "i2 CAPABILITY x",
            "i2 BAD Unexpected extra arguments to Capability",
        ),
        ("q NOOP ", "q BAD Unexpected extra arguments to Noop"),
        (
            "a007 SELECT",
            "a007 BAD Missing required argument to Select",
        ),
        (
            "a008 SELECT \"INBOX",
            "a008 BAD Missing required argument to Select",
        ),
        (
            "d SELECT INBOX extra",
            "d BAD Invalid modifier list in Select",
        ),
        ("f SELECT INBOX (FOO)", "f BAD Invalid Select modifier FOO"),
        ("g FETCH", "g BAD Missing required argument to Fetch"),
        ("h FETCH 1", "h BAD Missing required argument to Fetch"),
        ("i FETCH x FLAGS", "i BAD Invalid sequence in Fetch"),
        ("k UID FETCH x FLAGS", "k BAD Invalid sequence in Uid"),
        (
            "l FETCH 1 (FLAGS",
            "l BAD Missing close parenthesis in Fetch",
        ),
        (
            "m FETCH 1 FLAGS extra",
            "m BAD Missing required open parenthesis in Fetch modifiers",
        ),
        (
            "n FETCH 1 BODY[HEADER.FIELDS]",
            "n BAD Missing required argument to Fetch BODY[HEADER.FIELDS",
        ),
        ("o FETCH 1 BODY[1.X]", "o BAD Invalid body section"),
        ("p FETCH 1 BODY[]<1>", "p BAD Invalid body partial"),
        ("q FETCH 1 BODY[]<1.0>", "q BAD Invalid body partial"),
        (
            "r FETCH 1 (FLAGS) (CHANGEDSINCE x)",
            "r BAD Invalid argument to Fetch CHANGEDSINCE",
        ),
        (
            "s FETCH 1 (FLAGS) (FOO 1)",
            "s BAD Invalid Fetch modifier FOO",
        ),
        (
            "t FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)",
            "t BAD Invalid Fetch modifier VANISHED",
        ),
        ("a025 FETCH 1 (FOO)", "a025 BAD Invalid Fetch attribute FOO"),
        ("i23 FETCH 1 BODY[MIME]", "i23 BAD Invalid body section"),
        (
            "i24 FETCH 1 BODY[HEADER.FIELDS ()]",
            "i24 BAD Invalid field-name in Fetch BODY[HEADER.FIELDS",
        ),
        (
            "i25 FETCH 1 BODY[TEXT]<0.10> FOO",
            "i25 BAD Missing required open parenthesis in Fetch modifiers",
        ),
        (
            "i26 FETCH 1 BINARY[1.HEADER]",
            "i26 BAD Invalid binary section",
        ),
        (
            "i28 FETCH 1 (FLAGS FOO)",
            "i28 BAD Invalid Fetch attribute FOO",
        ),
        ("i29 FETCH 1 ()", "i29 BAD Invalid Fetch attribute "),
        (
            "i31 FETCH 1 BODY.PEEK",
            "i31 BAD Invalid Fetch attribute BODY.PEEK",
        ),
        (
            "i32 FETCH 1 BODY[HEADER.FIELDS (a b]",
            "i32 BAD Missing required close parenthesis in Fetch BODY[HEADER.FIELDS",
        ),
        (
            "i33 FETCH 1 ALL FAST",
            "i33 BAD Missing required open parenthesis in Fetch modifiers",
        ),
        ("i34 FETCH 1 (ALL)", "i34 BAD Invalid Fetch attribute ALL"),
        (
            "i35 FETCH 1 (FLAGS) (CHANGEDSINCE 1",
            "i35 BAD Missing close parenthesis in Fetch",
        ),
        (
            "i36 FETCH 1 RFC822.FOO",
            "i36 BAD Invalid Fetch attribute RFC822.FOO",
        ),
        (
            "u STORE 1 FLAGS",
            "u BAD Missing required argument to Store",
        ),
        (
            "v STORE 1 FLAGS (\\Seen",
            "v BAD Missing close parenthesis in Store",
        ),
        (
            "w STORE 1 (UNCHANGEDSINCE x) FLAGS (\\Seen)",
            "w BAD Invalid argument to Store UNCHANGEDSINCE",
        ),
        ("x STORE", "x BAD Missing required argument to Store"),
        (
            "a027 STORE 1 +FLAGS (\\Bogus)",
            "a027 BAD Invalid system flag in Store command",
        ),
        (
            "a028 STORE 1 FOO (\\Seen)",
            "a028 BAD Invalid Store attribute",
        ),
        ("i8 UID STORE 1 FOO x", "i8 BAD Invalid UID Store attribute"),
        (
            "i16 STORE 1 +FLAGS.SILENT (\\Seen",
            "i16 BAD Missing close parenthesis in Store",
        ),
        (
            "i17 STORE 1 +FLAGS.FOO (\\Seen)",
            "i17 BAD Invalid Store attribute",
        ),
        (
            "i18 STORE 1 FLAGS \\Seen \\Foo",
            "i18 BAD Invalid system flag in Store command",
        ),
        (
            "i19 STORE 1 FLAGS ((\\Seen))",
            "i19 BAD Missing close parenthesis in Store",
        ),
        (
            "i20 STORE 1 (UNCHANGEDSINCE 5 FOO 1) FLAGS (\\Seen)",
            "i20 BAD Invalid Store modifier FOO",
        ),
        (
            "i21 STORE 1 (FOO 5) FLAGS (\\Seen)",
            "i21 BAD Invalid Store modifier FOO",
        ),
        ("y COPY 1", "y BAD Missing required argument to Copy"),
        ("z COPY x INBOX", "z BAD Invalid sequence in Copy"),
        ("i4 COPY", "i4 BAD Missing required argument to Copy"),
        ("i5 MOVE 1", "i5 BAD Missing required argument to Move"),
        ("i6 UID MOVE 1", "i6 BAD Missing required argument to Uid"),
        ("i7 UID COPY x y", "i7 BAD Invalid sequence in Uid"),
        ("A UID EXPUNGE", "A BAD Missing required argument to Uid"),
        ("B UID EXPUNGE x", "B BAD Invalid sequence in Uid"),
        ("C EXPUNGE x", "C BAD Unexpected extra arguments to Expunge"),
        ("D UID XYZ 1", "D BAD Unrecognized UID subcommand"),
        ("b1 SEARCH", "b1 BAD Missing required argument to Search"),
        ("b2 SEARCH ALL extra(", "b2 BAD Invalid Search criteria"),
        (
            "b3 SEARCH (ALL",
            "b3 BAD Missing required close paren in Search command",
        ),
        (
            "b4 SEARCH SINCE 1-Foo-2024",
            "b4 BAD Invalid date in Search command",
        ),
        (
            "b5 SEARCH SINCE",
            "b5 BAD Missing required argument to Search since",
        ),
        (
            "b6 SEARCH LARGER x",
            "b6 BAD Invalid number in Search command",
        ),
        (
            "b7 SEARCH OR ALL",
            "b7 BAD Missing required argument to Search all",
        ),
        (
            "b8 SEARCH NOT",
            "b8 BAD Missing required argument to Search not",
        ),
        ("b9 SEARCH CHARSET", "b9 BAD Missing charset"),
        ("b10 SEARCH UID x", "b10 BAD Invalid Search criteria"),
        ("b11 SEARCH x", "b11 BAD Invalid Search criteria"),
        (
            "b12 SEARCH RETURN (FOO) ALL",
            "b12 BAD Invalid Search return option foo",
        ),
        (
            "b13 SEARCH RETURN (MIN MAX",
            "b13 BAD Missing close parenthesis in Search",
        ),
        (
            "b14 SEARCH MODSEQ x",
            "b14 BAD Invalid number in Search command",
        ),
        (
            "b15 SEARCH OLDER x",
            "b15 BAD Invalid interval in Search command",
        ),
        (
            "b16 SEARCH HEADER Subject",
            "b16 BAD Missing required argument to Search header",
        ),
        (
            "b17 SEARCH KEYWORD",
            "b17 BAD Missing required argument to Search keyword",
        ),
        ("b19 SEARCH )", "b19 BAD Invalid Search criteria"),
        ("b20 SEARCH ALL )", "b20 BAD Invalid Search criteria"),
        ("b23 SEARCH ()", "b23 BAD Invalid Search criteria"),
        ("a029 SEARCH FOOBAR", "a029 BAD Invalid Search criteria"),
        (
            "a031 SORT (FOO) UTF-8 ALL",
            "a031 BAD Invalid Sort criterion foo",
        ),
        (
            "a032 THREAD FOO UTF-8 ALL",
            "a032 BAD Invalid Thread algorithm FOO",
        ),
        ("i9 UID SEARCH FOO", "i9 BAD Invalid Search criteria"),
        ("c1 LIST", "c1 BAD Missing required argument to List"),
        (
            "c2 LIST \"\"",
            "c2 BAD Missing required argument to List: mailbox pattern",
        ),
        (
            "c3 LIST \"\" % extra",
            "c3 BAD Unexpected extra argument to List: \"extra\"",
        ),
        (
            "c4 LIST (FOO) \"\" %",
            "c4 BAD Invalid List selection option \"foo\"",
        ),
        (
            "c5 LIST \"\" % RETURN (FOO)",
            "c5 BAD Invalid List return option \"foo\"",
        ),
        (
            "c6 LIST \"\" % RETURN (STATUS (FOO))",
            "c6 BAD Invalid Status attributes foo",
        ),
        ("c8 LIST \"\" ()", "c8 BAD Invalid syntax in List command"),
        (
            "c9 LIST (SUBSCRIBED \"\" %",
            "c9 BAD Invalid syntax in List command",
        ),
        (
            "c10 LIST \"\" % RETURN",
            "c10 BAD Missing return argument list",
        ),
        ("i15 XLIST", "i15 BAD Missing required argument to Xlist"),
        ("c11 LSUB \"\"", "c11 BAD Missing required argument to Lsub"),
        (
            "c12 LSUB \"\" % x",
            "c12 BAD Unexpected extra arguments to Lsub",
        ),
        (
            "d1 STATUS INBOX",
            "d1 BAD Missing required argument to Status",
        ),
        ("d2 STATUS INBOX MESSAGES", "d2 BAD Bad status string"),
        (
            "d3 STATUS INBOX (FOO)",
            "d3 BAD Invalid Status attributes foo",
        ),
        (
            "d4 STATUS INBOX (MESSAGES",
            "d4 BAD Missing close parenthesis in Status",
        ),
        ("d5 STATUS INBOX ()", "d5 BAD Bad status string"),
        (
            "d6 STATUS INBOX (MESSAGES) x",
            "d6 BAD Unexpected extra arguments to Status",
        ),
        ("e1 APPEND", "e1 BAD Missing required argument to Append"),
        (
            "e2 APPEND INBOX",
            "e2 BAD Missing required argument to Append",
        ),
        (
            "e3 APPEND INBOX (\\Seen",
            "e3 BAD Missing space or ) after flag name in Append command",
        ),
        (
            "e4 APPEND INBOX (\\Seen) \"bad date\" {1+}\r\nx",
            "e4 BAD Invalid date-time in Append command",
        ),
        (
            "e5 APPEND INBOX {0+}\r\n",
            "e5 NO Zero-length message literal",
        ),
        (
            "e6 APPEND INBOX x",
            "e6 BAD Missing required argument to Append command",
        ),
        (
            "e7 APPEND INBOX (\\Foo) {1+}\r\nx",
            "e7 BAD Invalid flag in Append command",
        ),
        ("f1 ID", "f1 BAD Missing required argument to Id"),
        ("f2 ID x", "f2 BAD Invalid parameter list in Id"),
        ("f3 ID (", "f3 BAD Invalid field-value pair in Id"),
        ("f4 ID (\"a\")", "f4 BAD Invalid field-value pair in Id"),
        (
            "f5 ID (\"a\" \"b\"",
            "f5 BAD Invalid field-value pair in Id",
        ),
        ("f6 ID NIL x", "f6 BAD Unexpected extra arguments to Id"),
        ("f8 ID ()", "f8 BAD Invalid field-value pair in Id"),
        ("g1 ENABLE", "g1 BAD Missing required argument to Enable"),
        ("g2 CREATE", "g2 BAD Missing required argument to Create"),
        (
            "g4 CREATE INBOX.x (USE)",
            "g4 BAD Invalid partition name in Create",
        ),
        ("g7 DELETE", "g7 BAD Missing required argument to Delete"),
        (
            "g8 DELETE x y",
            "g8 BAD Unexpected extra arguments to Delete",
        ),
        ("g9 RENAME x", "g9 BAD Missing required argument to Rename"),
        (
            "g11 SUBSCRIBE",
            "g11 BAD Missing required argument to Subscribe",
        ),
        (
            "g12 UNSUBSCRIBE x y",
            "g12 BAD Invalid Unsubscribe subcommand",
        ),
        ("h1 GETACL", "h1 BAD Missing required argument to Getacl"),
        (
            "h2 SETACL x y",
            "h2 BAD Missing required argument to Setacl",
        ),
        (
            "h3 DELETEACL x",
            "h3 BAD Missing required argument to Deleteacl",
        ),
        (
            "h4 LISTRIGHTS x",
            "h4 BAD Missing required argument to Listrights",
        ),
        (
            "h5 MYRIGHTS",
            "h5 BAD Missing required argument to Myrights",
        ),
        (
            "h6 GETQUOTA",
            "h6 BAD Missing required argument to Getquota",
        ),
        (
            "h7 GETQUOTAROOT",
            "h7 BAD Missing required argument to Getquotaroot",
        ),
        (
            "h8 SETQUOTA x",
            "h8 BAD Missing required argument to Setquota",
        ),
        (
            "h12 GETMETADATA",
            "h12 BAD Missing required argument to Getmetadata",
        ),
        (
            "h13 GETMETADATA INBOX",
            "h13 BAD Missing arguments to Getmetadata",
        ),
        (
            "h14 GETMETADATA (FOO) INBOX (/private/comment)",
            "h14 BAD Missing arguments to Getmetadata",
        ),
        (
            "h17 SETMETADATA INBOX",
            "h17 BAD Missing required argument to Setmetadata",
        ),
        (
            "h18 SETMETADATA INBOX (/private/comment",
            "h18 BAD Missing metadata entry",
        ),
        (
            "h19 SETMETADATA INBOX (/private/comment)",
            "h19 BAD Missing metadata entry",
        ),
        (
            "h20 GETMETADATA INBOX (/private/comment",
            "h20 BAD Missing close paren in metadata entry list ",
        ),
        ("i1 LOGIN", "i1 BAD Missing required argument to Login"),
        (
            "i2 AUTHENTICATE",
            "i2 BAD Missing required argument to Authenticate",
        ),
        ("i3 EXAMINE", "i3 BAD Missing required argument to Examine"),
        ("i10 CHECK x", "i10 BAD Unexpected extra arguments to Check"),
        ("i11 CLOSE x", "i11 BAD Unexpected extra arguments to Close"),
        (
            "i12 UNSELECT x",
            "i12 BAD Unexpected extra arguments to Unselect",
        ),
        (
            "i13 NAMESPACE x",
            "i13 BAD Unexpected extra arguments to Namespace",
        ),
        ("i14 IDLE x", "i14 BAD Unexpected extra arguments to Idle"),
        (
            "m1 COMPRESS",
            "m1 BAD Missing required argument to Compress",
        ),
        (
            "m3 COMPRESS DEFLATE x",
            "m3 BAD Unexpected extra arguments to Compress",
        ),
        (
            "k1 UID FETCH 1 (FLAGS) (CHANGEDSINCE x)",
            "k1 BAD Invalid argument to UID Fetch CHANGEDSINCE",
        ),
        (
            "k2 UID FETCH 1 (FOO)",
            "k2 BAD Invalid UID Fetch attribute FOO",
        ),
        (
            "k3 UID FETCH 1 (FLAGS",
            "k3 BAD Missing close parenthesis in UID Fetch",
        ),
        (
            "k4 UID STORE 1 (FOO 1) FLAGS x",
            "k4 BAD Invalid UID Store modifier FOO",
        ),
        ("k5 UID FETCH 1 BODY[X]", "k5 BAD Invalid body section"),
        (
            "k6 UID SEARCH RETURN (FOO) ALL",
            "k6 BAD Invalid Search return option foo",
        ),
        (
            "k7 UID STORE 1 (UNCHANGEDSINCE x) FLAGS (\\Seen)",
            "k7 BAD Invalid argument to UID Store UNCHANGEDSINCE",
        ),
        (
            "k8 UID STORE 1 FLAGS (\\Bogus)",
            "k8 BAD Invalid system flag in UID Store command",
        ),
        (
            "k9 UID FETCH 1 FLAGS x",
            "k9 BAD Missing required open parenthesis in UID Fetch modifiers",
        ),
        (
            "k10 UID FETCH 1 (FLAGS) (CHANGEDSINCE 1",
            "k10 BAD Missing close parenthesis in UID Fetch",
        ),
        (
            "k11 UID STORE 1 FLAGS (\\Seen",
            "k11 BAD Missing close parenthesis in UID Store",
        ),
        (
            "k12 UID SEARCH (ALL",
            "k12 BAD Missing required close paren in Search command",
        ),
        (
            "k13 UID FETCH 1 BINARY[X]",
            "k13 BAD Invalid binary section",
        ),
        (
            "k14 UID FETCH 1 BODY[HEADER.FIELDS ()]",
            "k14 BAD Invalid field-name in UID Fetch BODY[HEADER.FIELDS",
        ),
        (
            "k17 FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)",
            "k17 BAD Invalid Fetch modifier VANISHED",
        ),
        (
            "k18 UID FETCH 1:* (FLAGS) (VANISHED)",
            "k18 BAD Missing required argument to UID Fetch",
        ),
        (
            "k19 SELECT INBOX (QRESYNC)",
            "k19 BAD Invalid QRESYNC parameter list in Select",
        ),
        (
            "k20 SELECT INBOX (QRESYNC (x 1))",
            "k20 BAD Invalid QRESYNC parameter list in Select",
        ),
        ("j1 SUBSCRIBE x y", "j1 BAD Invalid Subscribe subcommand"),
        ("j3 NOOP(", "j3 BAD Unexpected extra arguments to Noop"),
        (
            "j5 ID (\"a\" \"XXXX\")",
            "j5 BAD value longer than 1024 octets in Id",
        ),
        (
            "j7 ID (\"fffffffffffffffffffffffffffffff\" \"v\")",
            "j7 BAD field longer than 30 octets in Id",
        ),
        (
            "j9 ID (PAIRS31)",
            "j9 BAD too many (30) field-value pairs in ID",
        ),
        (
            "j10 SETQUOTA x (STORAGE x)",
            "j10 BAD Invalid quota list in Setquota",
        ),
        (
            "j11 SETQUOTA x STORAGE",
            "j11 BAD Invalid quota list in Setquota",
        ),
        (
            "j12 SETQUOTA x (STORAGE",
            "j12 BAD Invalid quota list in Setquota",
        ),
        (
            "j13 SETQUOTA x (STORAGE 1 FOO)",
            "j13 BAD Invalid quota list in Setquota",
        ),
        (
            "j27 ENABLE \"CONDSTORE\"",
            "j27 BAD Missing required argument to Enable",
        ),
        (
            "j30 GETMETADATA (DEPTH 2) INBOX /private/comment",
            "j30 BAD Missing arguments to Getmetadata",
        ),
        (
            "j31 GETMETADATA (MAXSIZE x) INBOX (/private/comment)",
            "j31 BAD Missing arguments to Getmetadata",
        ),
        (
            "j32 STATUS INBOX (MESSAGES DELETED)",
            "j32 BAD Invalid Status attributes deleted",
        ),
        ("j35 SEARCH CHARSET UTF-8", "j35 BAD Missing charset"),
        (
            "j37 SEARCH RETURN (SAVE) ALL",
            "j37 BAD Invalid Search return option save",
        ),
        ("j41 FETCH 1 BINARY[0]", "j41 BAD Invalid binary section"),
        (
            "j42 COPY 1 \"x",
            "j42 BAD Missing required argument to Copy",
        ),
        (
            "j44 SEARCH TEXT",
            "j44 BAD Missing required argument to Search text",
        ),
        (
            "j45 SEARCH OR",
            "j45 BAD Missing required argument to Search or",
        ),
        (
            "j46 SEARCH NOT NOT",
            "j46 BAD Missing required argument to Search not",
        ),
        ("j47 SEARCH ( )", "j47 BAD Invalid Search criteria"),
        ("j48 SEARCH ALL  ALL", "j48 BAD Invalid Search criteria"),
        (
            "j49 STORE 1 +FLAGS",
            "j49 BAD Missing required argument to Store",
        ),
        (
            "j50 STORE 1 +FLAGS ",
            "j50 BAD Missing required argument to Store",
        ),
        (
            "j51 EXAMINE INBOX (QRESYNC)",
            "j51 BAD Invalid QRESYNC parameter list in Examine",
        ),
        ("j52 FETCH 1 ( FLAGS)", "j52 BAD Invalid Fetch attribute "),
        ("j53 FETCH 1 (FLAGS )", "j53 BAD Invalid Fetch attribute "),
        (
            "j55 APPEND INBOX (\\Recent) {1+}\r\nx",
            "j55 BAD Invalid flag in Append command",
        ),
    ];
    let mut failures = Vec::new();
    let x1025 = "x".repeat(1025);
    let pairs31: Vec<String> = (0..31).map(|i| format!("\"f{i}\" \"v\"")).collect();
    let pairs31 = pairs31.join(" ");
    for (line, want) in table {
        let line = line.replace("XXXX", &x1025).replace("PAIRS31", &pairs31);
        let line = line.as_str();
        let got = bad(line);
        if got != *want {
            failures.push(format!("{line:?}\n   got  {got}\n   want {want}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn any_state_and_login_commands() {
    assert_eq!(kind("a capability"), CommandKind::Capability);
    assert_eq!(kind("+ NOOP"), CommandKind::Noop);
    assert_eq!(kind("a] Logout"), CommandKind::Logout);
    assert_eq!(kind("a STARTTLS"), CommandKind::StartTls);
    assert_eq!(kind("a ID NIL"), CommandKind::Id(None));
    assert_eq!(
        kind("a ID (\"name\" \"x\" \"version\" NIL)"),
        CommandKind::Id(Some(vec![
            ("name".into(), Some("x".into())),
            ("version".into(), None)
        ]))
    );
    assert_eq!(
        kind("a LOGIN alice \"se\\\"cret\""),
        CommandKind::Login {
            user: "alice".into(),
            password: b"se\"cret".to_vec()
        }
    );
    assert_eq!(
        kind("a LOGIN {5}\r\nalice {6+}\r\nsecret"),
        CommandKind::Login {
            user: "alice".into(),
            password: b"secret".to_vec()
        }
    );
    let auth = |m: &str, i: Option<&[u8]>| CommandKind::Authenticate {
        mechanism: m.into(),
        initial: i.map(<[u8]>::to_vec),
    };
    assert_eq!(kind("a authenticate plain"), auth("PLAIN", None));
    assert_eq!(kind("a AUTHENTICATE PLAIN ="), auth("PLAIN", Some(b"")));
    assert_eq!(
        kind("a AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA=="),
        auth("PLAIN", Some(b"\0alice\0secret"))
    );
    assert_eq!(kind("a AUTHENTICATE X YQ=="), auth("X", Some(b"a")));
    assert_eq!(kind("a AUTHENTICATE X YWI="), auth("X", Some(b"ab")));
    assert_eq!(
        bad("a AUTHENTICATE PLAIN !!!!"),
        "a BAD Invalid base64 string"
    );
    assert_eq!(
        bad("a AUTHENTICATE PLAIN YQ="),
        "a BAD Invalid base64 string"
    );
}

#[test]
fn mailbox_commands() {
    let sel = |m: &str, condstore| CommandKind::Select {
        mailbox: m.into(),
        params: SelectParams {
            condstore,
            qresync: None,
        },
    };
    assert_eq!(kind("a SELECT INBOX"), sel("INBOX", false));
    assert_eq!(kind("a select \"Sent Items\""), sel("Sent Items", false));
    assert_eq!(
        kind("a SELECT {5}\r\nINBOX (condstore)"),
        sel("INBOX", true)
    );
    assert_eq!(
        kind("a EXAMINE INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))"),
        CommandKind::Examine {
            mailbox: "INBOX".into(),
            params: SelectParams {
                condstore: false,
                qresync: Some(QresyncParams {
                    uidvalidity: 67_890_007,
                    modseq: 20_050_715_194_045_000,
                    known_uids: parse_seqset(b"41,43:211,214:541"),
                    seq_match: None,
                }),
            },
        }
    );
    assert_eq!(
        kind("a SELECT INBOX (QRESYNC (1 2 1:9 (1:3 5:7)))"),
        CommandKind::Select {
            mailbox: "INBOX".into(),
            params: SelectParams {
                condstore: false,
                qresync: Some(QresyncParams {
                    uidvalidity: 1,
                    modseq: 2,
                    known_uids: parse_seqset(b"1:9"),
                    seq_match: Some((set(&[(n(1), n(3))]), set(&[(n(5), n(7))]))),
                }),
            },
        }
    );
    assert_eq!(
        kind("a CREATE INBOX.Drafts (USE (\\Drafts))"),
        CommandKind::Create {
            mailbox: "INBOX.Drafts".into(),
            special_use: vec!["\\Drafts".into()]
        }
    );
    assert_eq!(
        kind("a CREATE x"),
        CommandKind::Create {
            mailbox: "x".into(),
            special_use: vec![]
        }
    );
    assert_eq!(
        kind("a RENAME a b"),
        CommandKind::Rename {
            from: "a".into(),
            to: "b".into()
        }
    );
    assert_eq!(
        kind("a DELETE \"\""),
        CommandKind::Delete { mailbox: "".into() }
    );
    assert_eq!(
        kind("a SUBSCRIBE x"),
        CommandKind::Subscribe {
            mailbox: "x".into()
        }
    );
    assert_eq!(
        kind("a UNSUBSCRIBE x"),
        CommandKind::Unsubscribe {
            mailbox: "x".into()
        }
    );
    assert_eq!(
        kind("a LSUB \"\" *"),
        CommandKind::Lsub {
            reference: "".into(),
            pattern: "*".into()
        }
    );
    assert_eq!(
        kind("a STATUS INBOX (MESSAGES UIDNEXT size mailboxid HIGHESTMODSEQ)"),
        CommandKind::Status {
            mailbox: "INBOX".into(),
            items: vec![
                StatusItem::Messages,
                StatusItem::UidNext,
                StatusItem::Size,
                StatusItem::MailboxId,
                StatusItem::HighestModseq
            ]
        }
    );
    assert_eq!(kind("a NAMESPACE"), CommandKind::Namespace);
    assert_eq!(
        kind("a ENABLE condstore QRESYNC"),
        CommandKind::Enable(vec!["CONDSTORE".into(), "QRESYNC".into()])
    );
    assert_eq!(kind("a IDLE"), CommandKind::Idle);
    assert_eq!(
        kind("a compress deflate"),
        CommandKind::Compress {
            mechanism: "DEFLATE".into()
        }
    );
}

#[test]
fn list_forms() {
    let list = |f: &dyn Fn(&mut ListArgs)| {
        let mut a = ListArgs::default();
        f(&mut a);
        CommandKind::List(a)
    };
    assert_eq!(
        kind("a LIST \"\" *"),
        list(&|a| {
            a.patterns = vec!["*".into()];
        })
    );
    assert_eq!(
        kind("a XLIST \"\" %"),
        list(&|a| {
            a.xlist = true;
            a.patterns = vec!["%".into()];
        })
    );
    assert_eq!(
        kind("a LIST (SUBSCRIBED recursivematch) \"\" (INBOX* \"Sent Items\") RETURN (CHILDREN STATUS (MESSAGES UNSEEN) special-use myrights)"),
        list(&|a| {
            a.select = vec!["SUBSCRIBED".into(), "RECURSIVEMATCH".into()];
            a.patterns = vec!["INBOX*".into(), "Sent Items".into()];
            a.returns = vec!["CHILDREN".into(), "SPECIAL-USE".into(), "MYRIGHTS".into()];
            a.status = Some(vec![StatusItem::Messages, StatusItem::Unseen]);
        })
    );
    assert_eq!(
        kind("a LIST () \"\" % RETURN ()"),
        list(&|a| {
            a.patterns = vec!["%".into()];
        })
    );
}

#[test]
fn append_forms() {
    let msg = |flags: &[&str], date: Option<DateTime>, m: &[u8]| AppendMessage {
        flags: flags.iter().map(|s| s.to_string()).collect(),
        date,
        message: m.to_vec(),
    };
    assert_eq!(
        kind("a APPEND INBOX {5}\r\nhello"),
        CommandKind::Append {
            mailbox: "INBOX".into(),
            messages: vec![msg(&[], None, b"hello")]
        }
    );
    assert_eq!(
        kind("a APPEND INBOX (\\seen $Label) \"15-Jan-2024 12:00:00 +0000\" {2+}\r\nhi (\\Draft) ~{3}\r\na\0b"),
        CommandKind::Append {
            mailbox: "INBOX".into(),
            messages: vec![
                msg(
                    &["\\Seen", "$Label"],
                    Some(DateTime {
                        unix: 1_705_320_000,
                        offset_minutes: 0
                    }),
                    b"hi"
                ),
                msg(&["\\Draft"], None, b"a\0b"),
            ]
        }
    );
    assert_eq!(
        kind("a APPEND {5}\r\nINBOX () {1}\r\nx"),
        CommandKind::Append {
            mailbox: "INBOX".into(),
            messages: vec![msg(&[], None, b"x")]
        }
    );
}

#[test]
fn acl_quota_metadata() {
    assert_eq!(
        kind("a GETACL INBOX"),
        CommandKind::GetAcl {
            mailbox: "INBOX".into()
        }
    );
    assert_eq!(
        kind("a SETACL INBOX bob +lrs"),
        CommandKind::SetAcl {
            mailbox: "INBOX".into(),
            identifier: "bob".into(),
            rights: "+lrs".into()
        }
    );
    assert_eq!(
        kind("a DELETEACL INBOX bob"),
        CommandKind::DeleteAcl {
            mailbox: "INBOX".into(),
            identifier: "bob".into()
        }
    );
    assert_eq!(
        kind("a LISTRIGHTS INBOX bob"),
        CommandKind::ListRights {
            mailbox: "INBOX".into(),
            identifier: "bob".into()
        }
    );
    assert_eq!(
        kind("a MYRIGHTS INBOX"),
        CommandKind::MyRights {
            mailbox: "INBOX".into()
        }
    );
    assert_eq!(
        kind("a GETQUOTA \"\""),
        CommandKind::GetQuota { root: "".into() }
    );
    assert_eq!(
        kind("a GETQUOTAROOT INBOX"),
        CommandKind::GetQuotaRoot {
            mailbox: "INBOX".into()
        }
    );
    assert_eq!(
        kind("a SETQUOTA user.bob (storage 100 MESSAGE -1)"),
        CommandKind::SetQuota {
            root: "user.bob".into(),
            limits: vec![("STORAGE".into(), 100), ("MESSAGE".into(), u64::MAX)]
        }
    );
    assert_eq!(
        kind("a SETQUOTA user.bob ()"),
        CommandKind::SetQuota {
            root: "user.bob".into(),
            limits: vec![]
        }
    );
    assert_eq!(
        kind("a GETMETADATA (MAXSIZE 1024 DEPTH infinity) \"\" (/shared/comment /private/x)"),
        CommandKind::GetMetadata {
            maxsize: Some(1024),
            depth: u32::MAX,
            mailbox: "".into(),
            entries: vec!["/shared/comment".into(), "/private/x".into()]
        }
    );
    assert_eq!(
        kind("a GETMETADATA INBOX /private/comment"),
        CommandKind::GetMetadata {
            maxsize: None,
            depth: 0,
            mailbox: "INBOX".into(),
            entries: vec!["/private/comment".into()]
        }
    );
    assert_eq!(
        kind("a SETMETADATA INBOX (/private/comment \"hi\" /shared/x NIL /private/y {3}\r\na\r\n)"),
        CommandKind::SetMetadata {
            mailbox: "INBOX".into(),
            entries: vec![
                ("/private/comment".into(), Some(b"hi".to_vec())),
                ("/shared/x".into(), None),
                ("/private/y".into(), Some(b"a\r\n".to_vec())),
            ]
        }
    );
}

#[test]
fn selected_commands() {
    assert_eq!(kind("a CHECK"), CommandKind::Check);
    assert_eq!(kind("a CLOSE"), CommandKind::Close);
    assert_eq!(kind("a UNSELECT"), CommandKind::Unselect);
    assert_eq!(kind("a EXPUNGE"), CommandKind::Expunge { uids: None });
    assert_eq!(
        kind("a UID EXPUNGE 1:3,5"),
        CommandKind::Expunge {
            uids: Some(set(&[(n(1), n(3)), (n(5), n(5))]))
        }
    );
    assert_eq!(
        kind("a uid copy 1:* \"Sent Items\""),
        CommandKind::Copy {
            uid: true,
            set: set(&[(n(1), SeqNum::Star)]),
            mailbox: "Sent Items".into()
        }
    );
    assert_eq!(
        kind("a MOVE 4:2 Trash"),
        CommandKind::Move {
            uid: false,
            set: set(&[(n(4), n(2))]),
            mailbox: "Trash".into()
        }
    );
    let store = |s: &str| match kind(s) {
        CommandKind::Store(a) => a,
        k => panic!("{k:?}"),
    };
    assert_eq!(
        store("a STORE 1 +FLAGS.SILENT (\\seen $Fwd)"),
        StoreArgs {
            uid: false,
            set: set(&[(n(1), n(1))]),
            unchangedsince: None,
            mode: StoreMode::Add,
            silent: true,
            flags: vec!["\\Seen".into(), "$Fwd".into()]
        }
    );
    assert_eq!(
        store("a UID STORE 2 (UNCHANGEDSINCE 12) -flags \\Deleted \\Seen"),
        StoreArgs {
            uid: true,
            set: set(&[(n(2), n(2))]),
            unchangedsince: Some(12),
            mode: StoreMode::Remove,
            silent: false,
            flags: vec!["\\Deleted".into(), "\\Seen".into()]
        }
    );
    assert_eq!(store("a STORE 1 FLAGS ()").flags, Vec::<String>::new());
    assert_eq!(store("a STORE 1 FLAGS ()").mode, StoreMode::Replace);
}

#[test]
fn fetch_items() {
    let fetch = |s: &str| match kind(s) {
        CommandKind::Fetch(a) => a,
        k => panic!("{k:?}"),
    };
    use FetchAtt::*;
    let table: &[(&str, Vec<FetchAtt>)] = &[
        ("a FETCH 1 ALL", vec![Flags, InternalDate, Rfc822Size, Envelope]),
        ("a FETCH 1 fast", vec![Flags, InternalDate, Rfc822Size]),
        ("a FETCH 1 FULL", vec![Flags, InternalDate, Rfc822Size, Envelope, Body]),
        ("a FETCH 1 FLAGS", vec![Flags]),
        (
            "a FETCH 1 (ENVELOPE FLAGS INTERNALDATE RFC822 RFC822.HEADER RFC822.SIZE RFC822.TEXT BODY BODYSTRUCTURE UID MODSEQ EMAILID THREADID)",
            vec![Envelope, Flags, InternalDate, Rfc822, Rfc822Header, Rfc822Size, Rfc822Text, Body, BodyStructure, Uid, Modseq, EmailId, ThreadId],
        ),
        (
            "a FETCH 1 BODY[]",
            vec![BodySection { peek: false, section: Section::default(), partial: None }],
        ),
        (
            "a FETCH 1 body.peek[1.2.HEADER.FIELDS.NOT (Subject \"X-Y\")]<0.100>",
            vec![BodySection {
                peek: true,
                section: Section {
                    part: vec![1, 2],
                    text: Some(SectionText::HeaderFieldsNot(vec!["Subject".into(), "X-Y".into()])),
                },
                partial: Some((0, 100)),
            }],
        ),
        (
            "a FETCH 1 (BODY[1.MIME] BODY[2] BODY[TEXT] BODY[HEADER] BODY[3.TEXT] BODY[HEADER.FIELDS (From)])",
            vec![
                BodySection { peek: false, section: Section { part: vec![1], text: Some(SectionText::Mime) }, partial: None },
                BodySection { peek: false, section: Section { part: vec![2], text: None }, partial: None },
                BodySection { peek: false, section: Section { part: vec![], text: Some(SectionText::Text) }, partial: None },
                BodySection { peek: false, section: Section { part: vec![], text: Some(SectionText::Header) }, partial: None },
                BodySection { peek: false, section: Section { part: vec![3], text: Some(SectionText::Text) }, partial: None },
                BodySection {
                    peek: false,
                    section: Section { part: vec![], text: Some(SectionText::HeaderFields(vec!["From".into()])) },
                    partial: None,
                },
            ],
        ),
        (
            "a FETCH 1 (BINARY[1] BINARY.PEEK[]<5.6> BINARY.SIZE[2.1])",
            vec![
                Binary { peek: false, part: vec![1], partial: None },
                Binary { peek: true, part: vec![], partial: Some((5, 6)) },
                BinarySize { part: vec![2, 1] },
            ],
        ),
    ];
    for (line, items) in table {
        assert_eq!(&fetch(line).items, items, "{line}");
    }
    let f = fetch("a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 5 VANISHED)");
    assert!(f.uid && f.vanished);
    assert_eq!(f.changedsince, Some(5));
    assert_eq!(f.set, set(&[(n(1), SeqNum::Star)]));
    assert_eq!(bad("a FETCH 0 FLAGS"), "a BAD Invalid sequence in Fetch");
    assert_eq!(bad("a FETCH 1 BODY[0]"), "a BAD Invalid body section");
}

#[test]
fn search_keys() {
    let search = |s: &str| match kind(s) {
        CommandKind::Search(a) => a,
        k => panic!("{k:?}"),
    };
    use SearchKey::*;
    let d = |y, m, day| Date {
        year: y,
        month: m,
        day,
    };
    let f = |s: &str| Flag(s.into());
    let nf = |s: &str| NotFlag(s.into());
    let table: Vec<(&str, SearchKey)> = vec![
        ("a SEARCH ALL", All),
        (
            "a SEARCH 1:3,*",
            Seq(set(&[(n(1), n(3)), (SeqNum::Star, SeqNum::Star)])),
        ),
        ("a SEARCH UID 5", Uid(set(&[(n(5), n(5))]))),
        (
            "a SEARCH ANSWERED DELETED DRAFT FLAGGED SEEN RECENT",
            And(vec![
                f("\\Answered"),
                f("\\Deleted"),
                f("\\Draft"),
                f("\\Flagged"),
                f("\\Seen"),
                f("\\Recent"),
            ]),
        ),
        (
            "a SEARCH unanswered UNDELETED UNDRAFT UNFLAGGED UNSEEN OLD",
            And(vec![
                nf("\\Answered"),
                nf("\\Deleted"),
                nf("\\Draft"),
                nf("\\Flagged"),
                nf("\\Seen"),
                nf("\\Recent"),
            ]),
        ),
        ("a SEARCH NEW", And(vec![f("\\Recent"), nf("\\Seen")])),
        ("a SEARCH KEYWORD $Label1", f("$Label1")),
        ("a SEARCH UNKEYWORD foo", nf("foo")),
        (
            "a SEARCH FROM alice TO \"bob b\" CC c BCC d SUBJECT {3}\r\nx y",
            And(vec![
                Header("From".into(), b"alice".to_vec()),
                Header("To".into(), b"bob b".to_vec()),
                Header("Cc".into(), b"c".to_vec()),
                Header("Bcc".into(), b"d".to_vec()),
                Header("Subject".into(), b"x y".to_vec()),
            ]),
        ),
        (
            "a SEARCH HEADER X-Spam yes",
            Header("X-Spam".into(), b"yes".to_vec()),
        ),
        ("a SEARCH BODY x", Body(b"x".to_vec())),
        ("a SEARCH TEXT \"\"", Text(b"".to_vec())),
        (
            "a SEARCH BEFORE 1-Jan-2024 ON \"2-Feb-2024\" SINCE 03-Mar-2024",
            And(vec![
                Before(d(2024, 1, 1)),
                On(d(2024, 2, 2)),
                Since(d(2024, 3, 3)),
            ]),
        ),
        (
            "a SEARCH SENTBEFORE 1-Jan-2024 SENTON 1-Jan-2024 SENTSINCE 1-Jan-2024",
            And(vec![
                SentBefore(d(2024, 1, 1)),
                SentOn(d(2024, 1, 1)),
                SentSince(d(2024, 1, 1)),
            ]),
        ),
        (
            "a SEARCH LARGER 10 SMALLER 20",
            And(vec![Larger(10), Smaller(20)]),
        ),
        ("a SEARCH MODSEQ 5", Modseq(5)),
        ("a SEARCH MODSEQ \"/flags/\\\\seen\" all 5", Modseq(5)),
        (
            "a SEARCH OLDER 60 YOUNGER 30",
            And(vec![Older(60), Younger(30)]),
        ),
        ("a SEARCH NOT SEEN", Not(Box::new(f("\\Seen")))),
        (
            "a SEARCH OR SEEN (FLAGGED DELETED)",
            Or(
                Box::new(f("\\Seen")),
                Box::new(And(vec![f("\\Flagged"), f("\\Deleted")])),
            ),
        ),
        (
            "a SEARCH OR OR 1 2 3",
            Or(
                Box::new(Or(
                    Box::new(Seq(set(&[(n(1), n(1))]))),
                    Box::new(Seq(set(&[(n(2), n(2))]))),
                )),
                Box::new(Seq(set(&[(n(3), n(3))]))),
            ),
        ),
    ];
    for (line, key) in table {
        assert_eq!(search(line).key, key, "{line}");
    }
    let s = search("a UID SEARCH RETURN (MIN count) CHARSET utf-8 ALL");
    assert!(s.uid);
    assert_eq!(s.ret, Some(vec!["MIN".into(), "COUNT".into()]));
    assert_eq!(s.charset.as_deref(), Some("UTF-8"));
    assert_eq!(search("a SEARCH RETURN () ALL").ret, Some(vec![]));
    assert_eq!(search("a SEARCH ALL").ret, None);
    // Nesting is bounded instead of overflowing the stack.
    let deep = format!("a SEARCH {}ALL{}", "(".repeat(100_000), ")".repeat(100_000));
    assert_eq!(bad(&deep), "a BAD Invalid Search criteria");
    let nots = format!("a SEARCH {}ALL", "NOT ".repeat(100_000));
    assert_eq!(bad(&nots), "a BAD Invalid Search criteria");
    let ok = format!("a SEARCH {}ALL", "NOT ".repeat(200));
    assert!(parse_command(ok.as_bytes()).is_ok());
}

#[test]
fn seqsets() {
    type Ranges = Option<Vec<(SeqNum, SeqNum)>>;
    let table: &[(&str, Ranges)] = &[
        ("1", Some(vec![(n(1), n(1))])),
        ("1:*", Some(vec![(n(1), SeqNum::Star)])),
        ("*:4,7", Some(vec![(SeqNum::Star, n(4)), (n(7), n(7))])),
        ("4294967295", Some(vec![(n(u32::MAX), n(u32::MAX))])),
        ("4294967296", None),
        ("0", None),
        ("1:0", None),
        ("", None),
        ("1,", None),
        (",1", None),
        ("1::2", None),
        ("1:2:3", None),
        ("a", None),
        ("-1", None),
        ("99999999999999999999999", None),
    ];
    for (s, want) in table {
        assert_eq!(parse_seqset(s.as_bytes()), want.clone().map(SeqSet), "{s}");
    }
}

#[test]
fn prefix_checks() {
    // Complete-so-far prefixes are not errors; wrong ones are, before any literal.
    assert_eq!(check_prefix(b"a LOGIN {5}\r\n"), None);
    assert_eq!(check_prefix(b"a LOGIN alice {5}\r\n"), None);
    assert_eq!(check_prefix(b"a APPEND INBOX (\\Seen) {5}\r\n"), None);
    assert_eq!(check_prefix(b"a SELECT {5}\r\n"), None);
    assert_eq!(check_prefix(b"a SEARCH TEXT {5}\r\n"), None);
    assert_eq!(
        check_prefix(b"a SEARCH OR {5}\r\n").map(|e| e.text),
        Some("Invalid Search criteria".into())
    );
    assert_eq!(
        check_prefix(b"a FETCH x BODY[HEADER.FIELDS ({5}\r\n").map(|e| e.text),
        Some("Invalid sequence in Fetch".into())
    );
    assert_eq!(
        check_prefix(b"a APPEND INBOX (\\Bogus) {5}\r\n").map(|e| e.text),
        Some("Invalid flag in Append command".into())
    );
    assert_eq!(
        append_mailbox(b"a APPEND \"Sent Items\" {5}\r\n", 9),
        Some("Sent Items".into())
    );
}

#[test]
fn sort_and_thread() {
    let crit = |reverse, key: &str| SortCriterion {
        reverse,
        key: key.into(),
    };
    assert_eq!(
        kind("a UID SORT RETURN (MIN COUNT) (REVERSE ARRIVAL subject) utf-8 UNSEEN FROM x"),
        CommandKind::Sort(SortArgs {
            uid: true,
            ret: Some(vec!["MIN".into(), "COUNT".into()]),
            criteria: vec![crit(true, "ARRIVAL"), crit(false, "SUBJECT")],
            charset: "UTF-8".into(),
            key: SearchKey::And(vec![
                SearchKey::NotFlag("\\Seen".into()),
                SearchKey::Header("From".into(), b"x".to_vec())
            ]),
        })
    );
    assert_eq!(
        kind("a THREAD REFS US-ASCII ALL"),
        CommandKind::Thread(ThreadArgs {
            uid: false,
            algorithm: "REFS".into(),
            charset: "US-ASCII".into(),
            key: SearchKey::All,
        })
    );
    assert_eq!(
        bad("a SORT (REVERSE) UTF-8 ALL"),
        "a BAD Missing Sort criterion"
    );
    assert_eq!(
        bad("a SORT (DATE) UTF-8"),
        "a BAD Missing required argument to Sort"
    );
    assert_eq!(
        bad("a THREAD REFS UTF-8 FOO"),
        "a BAD Invalid Search criteria"
    );
}
