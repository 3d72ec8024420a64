//! The SEARCH commands of transcripts/imap-04-session.txt, answered by us as real Cyrus 3.6
//! answered them. The mailbox they ran on is rebuilt from the same transcript: its APPENDs
//! (bytes, flags and internal dates) go through our append path, then the flag changes the
//! session made before searching, in the same order, so that even the modseqs agree; the
//! state is checked against the transcript's `FETCH 1:* (UID FLAGS MODSEQ)` before searching.

mod search_support;

use cyrus::mailbox::index::SystemFlags;
use cyrus::mailbox::LockMode;
use imapd::search::Options;
use search_support::*;

const TRANSCRIPT: &str = "transcripts/imap-04-session.txt";

/// A client command and the server's untagged lines for it.
struct Exchange {
    tag: String,
    command: Vec<u8>,
    untagged: Vec<String>,
}

/// The commands of the transcript with their literals folded back in.
fn exchanges(text: &str) -> Vec<Exchange> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(first) = lines[i].strip_prefix("C: ") else {
            i += 1;
            continue;
        };
        i += 1;
        let tag = first.split(' ').next().unwrap_or_default().to_string();
        let mut command = first.as_bytes().to_vec();
        // A line ending in a literal announcement: the next client lines are its bytes.
        while let Some(n) = literal_size(&command) {
            command.extend_from_slice(b"\r\n");
            if lines.get(i).is_some_and(|l| l.starts_with("S: +")) {
                i += 1;
            }
            let mut lit = Vec::new();
            while lit.len() < n {
                let l = lines[i].strip_prefix("C: ").expect("literal line");
                lit.extend_from_slice(l.as_bytes());
                lit.extend_from_slice(b"\r\n");
                i += 1;
            }
            if lit.len() > n {
                // The literal ended mid-line: the rest of that line continues the command.
                let rest = lit.split_off(n);
                command.extend_from_slice(&lit);
                command.extend_from_slice(rest.strip_suffix(b"\r\n").unwrap_or(&rest));
            } else {
                command.extend_from_slice(&lit);
                let rest = lines[i].strip_prefix("C: ").expect("command rest");
                command.extend_from_slice(rest.as_bytes());
                i += 1;
            }
        }
        let mut untagged = Vec::new();
        while i < lines.len() && !lines[i].starts_with(&format!("S: {tag} ")) {
            if let Some(u) = lines[i].strip_prefix("S: * ") {
                untagged.push(format!("* {u}"));
            }
            i += 1;
        }
        out.push(Exchange {
            tag,
            command,
            untagged,
        });
    }
    out
}

fn literal_size(cmd: &[u8]) -> Option<usize> {
    let s = std::str::from_utf8(cmd).ok()?;
    let inner = s.strip_suffix('}')?;
    let open = inner.rfind('{')?;
    inner[open + 1..].trim_end_matches('+').parse().ok()
}

/// (flags, internal date, message) of an `APPEND INBOX [(flags)] "date" {n}` command.
fn append_args(cmd: &[u8]) -> (Vec<String>, u32, Vec<u8>) {
    let crlf = cmd.windows(2).position(|w| w == b"\r\n").unwrap();
    let line = std::str::from_utf8(&cmd[..crlf]).unwrap();
    let after = line.split_once("APPEND INBOX ").unwrap().1;
    let flags = match after.strip_prefix('(') {
        Some(r) => r.split_once(')').unwrap().0,
        None => "",
    };
    let date = after.split('"').nth(1).unwrap();
    let n = literal_size(line.as_bytes()).unwrap();
    let msg = cmd[crlf + 2..crlf + 2 + n].to_vec();
    (
        flags.split_whitespace().map(str::to_string).collect(),
        date_time(date),
        msg,
    )
}

#[test]
fn transcript_searches_answer_as_cyrus() {
    let text = std::fs::read_to_string(reference().join(TRANSCRIPT)).unwrap();
    let ex = exchanges(&text);
    let dir = scratch("transcript");
    let mut mb = build(&dir, &[]);
    for e in ex
        .iter()
        .filter(|e| std::str::from_utf8(&e.command).is_ok_and(|c| c.contains(" APPEND INBOX ")))
    {
        let (flags, date, bytes) = append_args(&e.command);
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        append(
            &mut mb,
            &NewMsg {
                bytes,
                internaldate: date,
                flags: &flags,
            },
        );
    }
    assert_eq!(mb.records().len(), 8);
    // The flag changes the session made before searching, in order: a026 (FETCH BODY[] sets
    // \Seen on 2), a028, a029, a030, a031.
    let steps: &[(u32, &[&str])] = &[
        (2, &["\\Seen"]),
        (1, &["\\Flagged", "\\Seen"]),
        (2, &["\\Seen", "\\Answered", "$Label1"]),
        (3, &["project-x"]),
        (5, &[]),
    ];
    for (uid, flags) in steps {
        let (sys, user) = flag_words(&mut mb, flags);
        mb.set_flags(*uid, sys, user, 1_800_000_000).unwrap();
    }
    // Same state as the transcript's a033 FETCH shows.
    let a033 = ex.iter().find(|e| e.tag == "a033").unwrap();
    for (line, rec) in a033.untagged.iter().zip(mb.records()) {
        let want_modseq = line
            .split("MODSEQ (")
            .nth(1)
            .unwrap()
            .trim_end_matches("))");
        assert_eq!(want_modseq, rec.modseq.to_string(), "{line}");
        assert_eq!(
            line.contains("\\Seen"),
            rec.system_flags.has(SystemFlags::SEEN)
        );
    }
    drop(mb);

    let mb = cyrus::mailbox::Mailbox::open(&dir, LockMode::Read).unwrap();
    let msgs = view(&mb, true);
    let opts = Options::new(1_800_000_000);
    let mut checked = 0;
    for e in &ex {
        let cmd = String::from_utf8_lossy(&e.command);
        let rest = cmd.split_once(' ').unwrap().1;
        let upper = rest.to_ascii_uppercase();
        if !(upper.starts_with("SEARCH ") || upper.starts_with("UID SEARCH ")) {
            continue;
        }
        let got = run(&mb, &msgs, &e.tag, &e.command[e.tag.len() + 1..], &opts);
        let want: String = e.untagged.iter().map(|l| format!("{l}\r\n")).collect();
        assert_eq!(got, want, "{}", cmd);
        checked += 1;
    }
    assert_eq!(checked, 21, "every SEARCH of the transcript");
    let _ = std::fs::remove_dir_all(&dir);
}
