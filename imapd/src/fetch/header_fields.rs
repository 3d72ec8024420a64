//! `BODY[HEADER.FIELDS (...)]` and `BODY[HEADER.FIELDS.NOT (...)]`: the fields of a header
//! that are (or are not) named, as Cyrus 3.6 prunes a header and sends the rest.
//!
//! A field is a line with its continuation lines (those starting with a space or tab); its
//! name is everything before the first colon, compared case-insensitively and in full. The
//! scan stops at the blank line (a line starting with CR), at the end, or after
//! `maxheaderlines` fields; a NUL ends the header (Cyrus handles it as a C string). The kept
//! fields go out in the message's order followed by one CRLF, always as a literal; a
//! `<start.count>` partial cuts that whole text, CRLF included.

/// Cyrus's default `maxheaderlines`: the most fields a prune looks at.
pub const MAX_HEADER_FIELDS: usize = 1000;

/// Whether a field called `field_name` is one of `names`.
fn named(field_name: &[u8], names: &[String]) -> bool {
    names
        .iter()
        .any(|n| n.as_bytes().eq_ignore_ascii_case(field_name))
}

/// The fields of `header` that are in `names` (or, with `not`, that are not), in order.
pub fn prune(header: &[u8], names: &[String], not: bool) -> Vec<u8> {
    let header = match header.iter().position(|&b| b == 0) {
        Some(nul) => header.get(..nul).unwrap_or_default(),
        None => header,
    };
    let mut out = Vec::new();
    let mut p = 0usize;
    let mut count = 0usize;
    while p < header.len() && header.get(p) != Some(&b'\r') {
        let rest = header.get(p..).unwrap_or_default();
        // Like Cyrus, the colon is looked for in the rest of the header, not just this line;
        // a line without one then has a "name" that spans lines and matches nothing.
        let name = rest
            .iter()
            .position(|&b| b == b':')
            .and_then(|c| rest.get(..c));
        let keep = match name {
            Some(name) => named(name, names) != not,
            None => false,
        };
        // The field runs to the end of its last continuation line.
        let mut end = p;
        loop {
            match header
                .get(end..)
                .and_then(|r| r.iter().position(|&b| b == b'\n'))
            {
                Some(nl) => end += nl + 1,
                None => {
                    end = header.len();
                    break;
                }
            }
            if !matches!(header.get(end), Some(b' ' | b'\t')) {
                break;
            }
        }
        if keep {
            out.extend_from_slice(header.get(p..end).unwrap_or_default());
        }
        p = end;
        count += 1;
        if count > MAX_HEADER_FIELDS {
            break;
        }
    }
    out
}

/// Writes the pruned fields plus the closing CRLF, cut by `partial`, as Cyrus does: a
/// literal, or `""` when the cut leaves nothing.
pub fn write(out: &mut Vec<u8>, fields: &[u8], partial: Option<(u32, u32)>) {
    const CRLF: &[u8] = b"\r\n";
    let mut start = 0u64;
    let mut size = fields.len() as u64;
    let mut crlf_start = 0u64;
    let mut crlf_size = 2u64;
    if let Some((from, count)) = partial.filter(|&(_, c)| c > 0) {
        let (from, count) = (u64::from(from), u64::from(count));
        if size <= from {
            // The cut starts in (or past) the closing CRLF.
            crlf_start = from - size;
            crlf_size = 2u64.saturating_sub(crlf_start);
            size = 0;
        } else {
            start = from;
            size -= from;
        }
        if size > count {
            size = count;
            crlf_size = 0;
        } else if size + crlf_size > count {
            crlf_size = count - size;
        }
    }
    if size + crlf_size == 0 {
        out.extend_from_slice(b"\"\"");
        return;
    }
    out.extend_from_slice(format!("{{{}}}\r\n", size + crlf_size).as_bytes());
    // start + size <= fields.len() and crlf_start + crlf_size <= 2 by construction.
    out.extend_from_slice(
        fields
            .get(start as usize..(start + size) as usize)
            .unwrap_or_default(),
    );
    out.extend_from_slice(
        CRLF.get(crlf_start as usize..(crlf_start + crlf_size) as usize)
            .unwrap_or_default(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    const HDR: &[u8] = b"Received: from a\r\n\tby b;\r\n\tdate\r\nFrom: Bob <b@x>\r\n\
subject: Hi\r\nX-Empty:\r\nTo: a@x\r\n\r\nbody: no\r\n";

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn prune_table() {
        let cases: &[(&[&str], bool, &[u8])] = &[
            (&["Subject"], false, b"subject: Hi\r\n"),
            (
                &["SUBJECT", "from"],
                false,
                b"From: Bob <b@x>\r\nsubject: Hi\r\n",
            ),
            (
                &["Received"],
                false,
                b"Received: from a\r\n\tby b;\r\n\tdate\r\n",
            ),
            (&["X-Nothing"], false, b""),
            (&["Body"], false, b""),
            (&["X-Empty"], false, b"X-Empty:\r\n"),
            // A prefix of a name is not the name.
            (&["Subj"], false, b""),
            (
                &["Received", "To"],
                true,
                b"From: Bob <b@x>\r\nsubject: Hi\r\nX-Empty:\r\n",
            ),
        ];
        for (names, not, want) in cases {
            assert_eq!(
                String::from_utf8_lossy(&prune(HDR, &s(names), *not)),
                String::from_utf8_lossy(want),
                "{names:?} {not}"
            );
        }
    }

    #[test]
    fn prune_odd_headers() {
        // A NUL ends the header.
        assert_eq!(prune(b"A: 1\r\nB: \0x\r\nC: 3\r\n", &s(&["C"]), false), b"");
        // A line with no colon after it is dropped even by .NOT; one followed by a colon on a
        // later line gets a name spanning lines, which no list names.
        assert_eq!(
            prune(b"A: 1\r\njunk line\r\n", &s(&["Z"]), true),
            b"A: 1\r\n"
        );
        assert_eq!(
            prune(b"junk line\r\nA: 1\r\n", &s(&["Z"]), true),
            b"junk line\r\nA: 1\r\n"
        );
        assert_eq!(
            prune(b"junk line\r\nA: 1\r\n", &s(&["A"]), false),
            b"A: 1\r\n"
        );
        // No final newline.
        assert_eq!(prune(b"A: 1\r\nB: 2", &s(&["B"]), false), b"B: 2");
        // Only the first MAX_HEADER_FIELDS + 1 fields are looked at.
        let many: Vec<u8> = (0..1100)
            .flat_map(|i| format!("F{i}: x\r\n").into_bytes())
            .collect();
        assert_eq!(prune(&many, &s(&["F1000"]), false), b"F1000: x\r\n");
        assert_eq!(prune(&many, &s(&["F1001"]), false), b"");
    }

    #[test]
    fn write_partial_table() {
        // "Subject: Welcome to Cyrus\r\n" is 27 bytes; with the closing CRLF 29. These
        // expectations are what Cyrus 3.6 answered (tests/data/fetch-sections.txt).
        let f = b"Subject: Welcome to Cyrus\r\n";
        type Case = (Option<(u32, u32)>, &'static [u8]);
        let cases: &[Case] = &[
            (None, b"{29}\r\nSubject: Welcome to Cyrus\r\n\r\n"),
            (Some((0, 5)), b"{5}\r\nSubje"),
            (Some((20, 10)), b"{9}\r\nCyrus\r\n\r\n"),
            (Some((27, 10)), b"{2}\r\n\r\n"),
            (Some((28, 10)), b"{1}\r\n\n"),
            (Some((29, 10)), b"\"\""),
            (Some((100, 10)), b"\"\""),
            (Some((0, 26)), b"{26}\r\nSubject: Welcome to Cyrus\r"),
            (Some((0, 27)), b"{27}\r\nSubject: Welcome to Cyrus\r\n"),
            (Some((0, 28)), b"{28}\r\nSubject: Welcome to Cyrus\r\n\r"),
        ];
        for (partial, want) in cases {
            let mut out = Vec::new();
            write(&mut out, f, *partial);
            assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(want),
                "{partial:?}"
            );
        }
        let mut out = Vec::new();
        write(&mut out, b"", None);
        assert_eq!(out, b"{2}\r\n\r\n");
    }
    #[test]
    fn hostile_headers_never_panic() {
        // Every cut of a header full of odd bytes, through prune and every partial.
        let h: &[u8] = b"A:\r\n\t:\n\n:B\r\r\n \r\nC: \0\xff:\r\n\r\n";
        for end in 0..=h.len() {
            for not in [false, true] {
                let kept = prune(&h[..end], &s(&["A", "", ":", "C"]), not);
                for from in [0u32, 1, 2, 5, u32::MAX] {
                    for count in [0u32, 1, 3, u32::MAX] {
                        let mut out = Vec::new();
                        write(&mut out, &kept, Some((from, count)));
                    }
                }
            }
        }
    }
}
