//! SEARCH never panics on what a mailbox may hold: malformed and deeply nested MIME, bytes
//! that are no charset's, pseudo-random messages, and a damaged cyrus.cache, where searches
//! fall back to the message file and otherwise simply do not match.

mod search_support;

use cyrus::mailbox::{LockMode, Mailbox};
use imapd::search::Options;
use search_support::*;

/// Commands that reach every kind of key.
const KEYS: &[&[u8]] = &[
    b"SEARCH ALL",
    b"SEARCH BODY x",
    b"SEARCH TEXT \"a b\"",
    b"SEARCH CHARSET UTF-8 BODY \"\xc3\xa9\"",
    b"SEARCH CHARSET UTF-16 TEXT \"\x00a\"",
    b"SEARCH CHARSET UTF-7 SUBJECT \"+AOk-\"",
    b"SEARCH FROM a TO b CC c BCC d",
    b"SEARCH SUBJECT \"\"",
    b"SEARCH HEADER X-Any \"\"",
    b"SEARCH HEADER References r",
    b"SEARCH OR SENTBEFORE 1-Jan-2000 SENTSINCE 1-Jan-2000",
    b"SEARCH NOT ON 1-Jan-2024 LARGER 0 SMALLER 4294967295",
    b"SEARCH RETURN (MIN MAX COUNT ALL) OR BODY q NOT TEXT z",
    b"UID SEARCH MODSEQ 1 UID 1:* 1:*",
    b"SEARCH OLDER 0 YOUNGER 4294967295",
];

/// A message nested `depth` times in multiparts and message/rfc822 parts.
fn nested(depth: usize) -> Vec<u8> {
    let mut m = b"Content-Type: text/plain; charset=utf-8\r\n\r\ninnermost x\r\n".to_vec();
    for i in 0..depth {
        let mut outer = if i.is_multiple_of(2) {
            format!("Subject: level {i}\r\nContent-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n")
                .into_bytes()
        } else {
            b"Content-Type: message/rfc822\r\n\r\n".to_vec()
        };
        outer.extend_from_slice(&m);
        if i.is_multiple_of(2) {
            outer.extend_from_slice(format!("\r\n--b{i}--\r\n").as_bytes());
        }
        m = outer;
    }
    m
}

/// Deterministic pseudo-random bytes, biased towards MIME syntax.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    const BITS: &[&[u8]] = &[
        b"\r\n",
        b"\n",
        b": ",
        b"Content-Type: multipart/mixed; boundary=z\r\n",
        b"--z\r\n",
        b"--z--",
        b"=?utf-8?q?",
        b"?=",
        b"=?",
        b"Content-Transfer-Encoding: base64\r\n",
        b"Content-Transfer-Encoding: quoted-printable\r\n",
        b"charset=utf-16",
        b"\x00",
        b"\xff\xfe",
        b"Subject: ",
        b"From: ",
        b"Date: 1 Jan 2024",
        b"message/rfc822\r\n\r\n",
        b"=",
        b"x",
    ];
    let mut s = seed;
    let mut out = Vec::new();
    while out.len() < len {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let r = (s >> 33) as usize;
        if r.is_multiple_of(3) {
            out.push((r >> 8) as u8);
        } else {
            out.extend_from_slice(BITS[r % BITS.len()]);
        }
    }
    out
}

fn run_all(mb: &Mailbox) {
    let msgs = view(mb, true);
    let opts = Options::new(1_800_000_000);
    for k in KEYS {
        let got = run(mb, &msgs, "T", k, &opts);
        assert!(
            got.starts_with("* "),
            "{}: {got}",
            String::from_utf8_lossy(k)
        );
    }
}

#[test]
fn malformed_messages_never_panic() {
    let dir = scratch("hostile");
    let mut msgs: Vec<Vec<u8>> = vec![
        nested(60),
        nested(300),
        Vec::new(),
        b"no header at all".to_vec(),
        b"Subject: =?utf-8?b?////?= =?x?q?=?=\r\nContent-Type: text/plain; charset=utf-16\r\n\r\nodd".to_vec(),
        b"Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n\r\n--".to_vec(),
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n=====\r\n".to_vec(),
        b"Subject: \xff\xfe\x00\r\n\r\n\x00\x00\xff".to_vec(),
        b"X: \r\n\r\r\r\n\n\n".to_vec(),
        [b"Subject: ".as_slice(), &vec![b'a'; 100_000], b"\r\n\r\nx"].concat(),
    ];
    for seed in 0..40 {
        msgs.push(noise(seed, 50 + (seed as usize * 97) % 3000));
    }
    let new: Vec<NewMsg<'_>> = msgs
        .into_iter()
        .map(|bytes| NewMsg {
            bytes,
            internaldate: 1_704_067_200,
            flags: &[],
        })
        .collect();
    let mb = build(&dir, &new);
    run_all(&mb);
    // The innermost text of the 60-deep message is still found.
    let got = run(
        &mb,
        &view(&mb, false),
        "T",
        b"SEARCH BODY innermost",
        &Options::new(0),
    );
    assert!(got.starts_with("* SEARCH 1"), "{got}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn damaged_cache_falls_back_or_misses() {
    let dir = scratch("badcache");
    let body = |s: &str| {
        format!("From: Bob <bob@example.org>\r\nSubject: {s}\r\nX-Tag: {s}\r\n\r\nbody {s}\r\n")
            .into_bytes()
    };
    let mb = build(
        &dir,
        &[
            NewMsg {
                bytes: body("one"),
                internaldate: 1_704_067_200,
                flags: &[],
            },
            NewMsg {
                bytes: body("two"),
                internaldate: 1_704_067_200,
                flags: &[],
            },
        ],
    );
    drop(mb);
    // Scribble over the cache records (the first 4 bytes are the generation number).
    let cpath = dir.join("cyrus.cache");
    let mut cache = std::fs::read(&cpath).unwrap();
    for b in cache.iter_mut().skip(8) {
        *b ^= 0x5a;
    }
    std::fs::write(&cpath, &cache).unwrap();
    let mb = Mailbox::open(&dir, LockMode::Read).unwrap();
    run_all(&mb);
    let msgs = view(&mb, false);
    let opts = Options::new(0);
    let cases: &[(&[u8], &str)] = &[
        // Envelope keys read the header from the file instead.
        (b"SEARCH FROM bob", "* SEARCH 1 2\r\n"),
        (b"SEARCH SUBJECT two", "* SEARCH 2\r\n"),
        (b"SEARCH HEADER X-Tag one", "* SEARCH 1\r\n"),
        (b"SEARCH TEXT x-tag", "* SEARCH 1 2\r\n"),
        // BODY needs the part map, which is gone.
        (b"SEARCH BODY body", "* SEARCH\r\n"),
    ];
    for (cmd, want) in cases {
        assert_eq!(
            run(&mb, &msgs, "T", cmd, &opts),
            *want,
            "{}",
            String::from_utf8_lossy(cmd)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
