//! The untagged SEARCH and ESEARCH responses, byte for byte as Cyrus 3.6 writes them:
//! `* SEARCH 2 3 5 (MODSEQ 14)`, and for RETURN `* ESEARCH (TAG "a1") UID COUNT n MIN n
//! MAX n ALL set MODSEQ n` in that fixed order whatever order the client asked in, with MIN,
//! MAX, ALL and MODSEQ left out when nothing matched (RFC 4731 §3.1). One deviation: with
//! a MODSEQ key and no match Cyrus writes `* SEARCH (MODSEQ 1)`, which RFC 7162 §3.1.5
//! forbids (and its grammar cannot parse); we write `* SEARCH`.

use super::Outcome;
use crate::proto::command::SearchArgs;
use std::fmt::Write;

/// The untagged response lines (CRLF-terminated) for `outcome` of the command tagged `tag`.
pub fn reply(tag: &str, args: &SearchArgs, outcome: &Outcome) -> Vec<u8> {
    let mut s = String::new();
    match &args.ret {
        None => {
            s.push_str("* SEARCH");
            for n in &outcome.numbers {
                let _ = write!(s, " {n}");
            }
            if let Some(m) = outcome.highest_modseq {
                let _ = write!(s, " (MODSEQ {m})");
            }
        }
        Some(opts) => {
            let has = |k: &str| opts.iter().any(|o| o.eq_ignore_ascii_case(k));
            // RETURN () means ALL (RFC 4731 §3.1).
            let all = opts.is_empty() || has("ALL");
            s.push_str("* ESEARCH (TAG ");
            quote(&mut s, tag);
            s.push(')');
            if args.uid {
                s.push_str(" UID");
            }
            let nums = &outcome.numbers;
            if has("COUNT") {
                let _ = write!(s, " COUNT {}", nums.len());
            }
            if let (Some(min), Some(max)) = (nums.first(), nums.last()) {
                if has("MIN") {
                    let _ = write!(s, " MIN {min}");
                }
                if has("MAX") {
                    let _ = write!(s, " MAX {max}");
                }
                if all {
                    s.push_str(" ALL ");
                    sequence_set(&mut s, nums);
                }
                if let Some(m) = outcome.highest_modseq {
                    let _ = write!(s, " MODSEQ {m}");
                }
            }
        }
    }
    s.push_str("\r\n");
    s.into_bytes()
}

/// The text of the tagged OK after a search, as Cyrus words it: `Completed (3 msgs in 0.001
/// secs)`, counting every match whatever RETURN asked for.
pub fn completed(outcome: &Outcome, elapsed: std::time::Duration) -> String {
    format!(
        "Completed ({} msgs in {:.3} secs)",
        outcome.numbers.len(),
        elapsed.as_secs_f64()
    )
}

/// Writes `s` as an IMAP quoted string.
fn quote(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// Writes ascending numbers as a sequence set, runs as `a:b` (`1:3,5`).
pub fn sequence_set(out: &mut String, nums: &[u32]) {
    let mut i = 0;
    while let Some(&start) = nums.get(i) {
        if i > 0 {
            out.push(',');
        }
        let mut end = start;
        while nums
            .get(i + 1)
            .is_some_and(|&n| Some(n) == end.checked_add(1))
        {
            end += 1;
            i += 1;
        }
        if start == end {
            let _ = write!(out, "{start}");
        } else {
            let _ = write!(out, "{start}:{end}");
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::command::SearchKey;

    fn args(uid: bool, ret: Option<&[&str]>) -> SearchArgs {
        SearchArgs {
            uid,
            ret: ret.map(|r| r.iter().map(|s| s.to_string()).collect()),
            charset: None,
            key: SearchKey::All,
        }
    }

    fn out(numbers: &[u32], modseq: Option<u64>) -> Outcome {
        Outcome {
            numbers: numbers.to_vec(),
            highest_modseq: modseq,
        }
    }

    #[test]
    fn reply_table() {
        // The first rows are Cyrus 3.6's answers in transcripts/imap-04-session.txt and to
        // RETURN searches run on the reference spool.
        let cases: &[(SearchArgs, Outcome, &str)] = &[
            (args(false, None), out(&[1, 2, 3], None), "* SEARCH 1 2 3"),
            (args(false, None), out(&[], None), "* SEARCH"),
            (
                args(false, None),
                out(&[2, 3, 5], Some(14)),
                "* SEARCH 2 3 5 (MODSEQ 14)",
            ),
            (
                args(false, Some(&["MIN", "MAX", "COUNT", "ALL"])),
                out(&[1, 2, 3, 4, 5, 6, 7, 8], None),
                "* ESEARCH (TAG \"a051\") COUNT 8 MIN 1 MAX 8 ALL 1:8",
            ),
            (
                args(false, Some(&[])),
                out(&[1, 2], None),
                "* ESEARCH (TAG \"a051\") ALL 1:2",
            ),
            (
                args(true, Some(&["COUNT"])),
                out(&[1], None),
                "* ESEARCH (TAG \"a051\") UID COUNT 1",
            ),
            (
                args(true, Some(&["ALL"])),
                out(&[3, 4, 7, 8, 10, 12, 13, 14, 15, 17], None),
                "* ESEARCH (TAG \"a051\") UID ALL 3:4,7:8,10,12:15,17",
            ),
            (
                args(false, Some(&["MAX", "COUNT"])),
                out(&[], None),
                "* ESEARCH (TAG \"a051\") COUNT 0",
            ),
            (
                args(false, Some(&["ALL"])),
                out(&[], None),
                "* ESEARCH (TAG \"a051\")",
            ),
            (
                args(false, Some(&["MIN", "MAX"])),
                out(&[11], Some(27)),
                "* ESEARCH (TAG \"a051\") MIN 11 MAX 11 MODSEQ 27",
            ),
            (
                args(false, Some(&["count"])),
                out(&[1, 2], Some(27)),
                "* ESEARCH (TAG \"a051\") COUNT 2 MODSEQ 27",
            ),
        ];
        for (a, o, want) in cases {
            let got = reply("a051", a, o);
            assert_eq!(String::from_utf8_lossy(&got), format!("{want}\r\n"));
        }
        let tricky = reply("a\"b", &args(false, Some(&[])), &out(&[1], None));
        assert_eq!(tricky, b"* ESEARCH (TAG \"a\\\"b\") ALL 1\r\n");
    }

    #[test]
    fn completed_text() {
        let ms = std::time::Duration::from_millis;
        assert_eq!(
            completed(&out(&[], None), ms(0)),
            "Completed (0 msgs in 0.000 secs)"
        );
        assert_eq!(
            completed(&out(&[1, 2, 3], Some(4)), ms(1234)),
            "Completed (3 msgs in 1.234 secs)"
        );
    }

    #[test]
    fn sequence_set_table() {
        let cases: &[(&[u32], &str)] = &[
            (&[], ""),
            (&[1], "1"),
            (&[1, 2, 3, 5], "1:3,5"),
            (&[1, 3, 5], "1,3,5"),
            (&[4294967294, 4294967295], "4294967294:4294967295"),
        ];
        for (n, want) in cases {
            let mut s = String::new();
            sequence_set(&mut s, n);
            assert_eq!(s, *want);
        }
    }
}
