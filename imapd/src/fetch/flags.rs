//! Flag lists as Cyrus 3.6 prints them: a message's FLAGS (in FETCH, STORE replies and
//! unsolicited updates), and the mailbox's `* FLAGS` and `PERMANENTFLAGS` on SELECT.
//!
//! A message's list runs `\Recent`, then the system flags in the fixed order `\Answered
//! \Flagged \Draft \Deleted`, then `\Seen`, then the user flags in the order of their numbers
//! in cyrus.header. `\Seen` and `\Recent` are the session's (the owner's come from
//! cyrus.index, anyone else's from their seen.db), so the caller passes them in; the record's
//! own seen bit is not looked at.

use super::MessageState;
use cyrus::mailbox::header::MAX_USER_FLAGS;
use cyrus::mailbox::index::{IndexRecord, SystemFlags};

/// The system flags in the order Cyrus lists them, `\Seen` apart.
const SYSTEM: [(u16, &str); 4] = [
    (SystemFlags::ANSWERED, "\\Answered"),
    (SystemFlags::FLAGGED, "\\Flagged"),
    (SystemFlags::DRAFT, "\\Draft"),
    (SystemFlags::DELETED, "\\Deleted"),
];

/// The names of the user flags defined in a mailbox, by number (cyrus.header's list).
fn defined(user_flags: &[Option<String>]) -> impl Iterator<Item = (usize, &str)> {
    user_flags
        .iter()
        .take(MAX_USER_FLAGS)
        .enumerate()
        .filter_map(|(n, f)| f.as_deref().map(|f| (n, f)))
}

/// A message's flag list, parenthesised: `(\Recent \Answered \Seen $Label1)`.
/// `user_flags` are the mailbox's user flag names (`Mailbox::header().user_flags`).
pub fn flag_list(
    record: &IndexRecord,
    user_flags: &[Option<String>],
    seen: bool,
    recent: bool,
) -> String {
    let mut names: Vec<&str> = Vec::new();
    if recent {
        names.push("\\Recent");
    }
    for (bit, name) in SYSTEM {
        if record.system_flags.has(bit) {
            names.push(name);
        }
    }
    if seen {
        names.push("\\Seen");
    }
    names.extend(
        defined(user_flags)
            .filter(|&(n, _)| record.has_user_flag(n))
            .map(|(_, f)| f),
    );
    format!("({})", names.join(" "))
}

/// The `* <seq> FETCH (FLAGS (...) ...)` line (with CRLF) that reports a message's flags on
/// their own: the answer to STORE without .SILENT and the unsolicited update after another
/// session's change. UID follows when `uid` (a UID command, or QRESYNC enabled), MODSEQ
/// when `modseq` (UNCHANGEDSINCE given, or CONDSTORE enabled), as Cyrus prints them.
pub fn flags_update(
    seq: u32,
    record: &IndexRecord,
    user_flags: &[Option<String>],
    state: &MessageState,
    uid: bool,
    modseq: bool,
) -> String {
    let mut s = format!(
        "* {seq} FETCH (FLAGS {}",
        flag_list(record, user_flags, state.seen, state.recent)
    );
    if uid {
        s.push_str(&format!(" UID {}", record.uid));
    }
    if modseq {
        s.push_str(&format!(" MODSEQ ({})", record.modseq));
    }
    s.push_str(")\r\n");
    s
}

/// The untagged `* FLAGS (...)` line of SELECT and EXAMINE (and of a new user flag), with
/// its CRLF: the five system flags, then every user flag the mailbox defines.
pub fn flags_response(user_flags: &[Option<String>]) -> String {
    let mut s = String::from("* FLAGS (\\Answered \\Flagged \\Draft \\Deleted \\Seen");
    for (_, f) in defined(user_flags) {
        s.push(' ');
        s.push_str(f);
    }
    s.push_str(")\r\n");
    s
}

/// What the session's rights allow it to change, for PERMANENTFLAGS.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlagRights {
    /// `w`: \Answered, \Flagged, \Draft and user flags.
    pub write: bool,
    /// `t`: \Deleted.
    pub delete_msg: bool,
    /// `s`: \Seen.
    pub set_seen: bool,
}

/// The parenthesised list of `* OK [PERMANENTFLAGS (...)]`: empty when the mailbox was
/// EXAMINEd, else what `rights` allow, ending in `\*` while cyrus.header has room for
/// another user flag and the user may write.
pub fn permanent_flags(
    user_flags: &[Option<String>],
    examining: bool,
    rights: FlagRights,
) -> String {
    let mut names: Vec<&str> = Vec::new();
    if !examining {
        if rights.write {
            names.extend(["\\Answered", "\\Flagged", "\\Draft"]);
        }
        if rights.delete_msg {
            names.push("\\Deleted");
        }
        if rights.set_seen {
            names.push("\\Seen");
        }
        if rights.write {
            names.extend(defined(user_flags).map(|(_, f)| f));
            if defined(user_flags).count() < MAX_USER_FLAGS {
                names.push("\\*");
            }
        }
    }
    format!("({})", names.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<Option<String>> {
        list.iter()
            .map(|s| (!s.is_empty()).then(|| s.to_string()))
            .collect()
    }

    #[test]
    fn flag_list_table() {
        let user = names(&["$Label1", "", "project-x"]);
        // (system flags, user flag words, seen, recent, expected)
        let cases: &[(u16, u32, bool, bool, &str)] = &[
            (0, 0, false, false, "()"),
            (SystemFlags::ANSWERED, 0, true, false, "(\\Answered \\Seen)"),
            (0, 0, true, true, "(\\Recent \\Seen)"),
            (0, 0b1, true, true, "(\\Recent \\Seen $Label1)"),
            (0, 0b101, true, false, "(\\Seen $Label1 project-x)"),
            // Bit 1 has no name in cyrus.header: not shown.
            (0, 0b010, false, false, "()"),
            (
                SystemFlags::ANSWERED
                    | SystemFlags::FLAGGED
                    | SystemFlags::DRAFT
                    | SystemFlags::DELETED,
                0b100,
                true,
                true,
                "(\\Recent \\Answered \\Flagged \\Draft \\Deleted \\Seen project-x)",
            ),
            // The record's own \Seen bit is the owner's: the session decides.
            (SystemFlags::SEEN, 0, false, false, "()"),
        ];
        for (sys, words, seen, recent, want) in cases {
            let rec = IndexRecord {
                system_flags: SystemFlags(*sys),
                user_flags: [*words, 0, 0, 0],
                ..IndexRecord::default()
            };
            assert_eq!(flag_list(&rec, &user, *seen, *recent), *want);
        }
    }

    fn st(seen: bool, recent: bool) -> MessageState {
        MessageState {
            seen,
            recent,
            flags_changed: false,
        }
    }

    #[test]
    fn flags_update_lines() {
        let rec = IndexRecord {
            uid: 7,
            modseq: 11,
            system_flags: SystemFlags(SystemFlags::FLAGGED),
            ..IndexRecord::default()
        };
        // As Cyrus answered `STORE 1 +FLAGS (\Flagged)` with CONDSTORE enabled.
        assert_eq!(
            flags_update(1, &rec, &[], &st(true, true), false, true),
            "* 1 FETCH (FLAGS (\\Recent \\Flagged \\Seen) MODSEQ (11))\r\n"
        );
        assert_eq!(
            flags_update(3, &rec, &[], &st(false, false), true, true),
            "* 3 FETCH (FLAGS (\\Flagged) UID 7 MODSEQ (11))\r\n"
        );
        assert_eq!(
            flags_update(3, &rec, &[], &st(false, false), false, false),
            "* 3 FETCH (FLAGS (\\Flagged))\r\n"
        );
    }

    #[test]
    fn select_flag_lines() {
        let user = names(&["$Label1", "", "project-x"]);
        assert_eq!(
            flags_response(&user),
            "* FLAGS (\\Answered \\Flagged \\Draft \\Deleted \\Seen $Label1 project-x)\r\n"
        );
        assert_eq!(
            flags_response(&[]),
            "* FLAGS (\\Answered \\Flagged \\Draft \\Deleted \\Seen)\r\n"
        );
        let all = FlagRights {
            write: true,
            delete_msg: true,
            set_seen: true,
        };
        assert_eq!(permanent_flags(&user, true, all), "()");
        assert_eq!(
            permanent_flags(&user, false, all),
            "(\\Answered \\Flagged \\Draft \\Deleted \\Seen $Label1 project-x \\*)"
        );
        let seen_only = FlagRights {
            set_seen: true,
            ..FlagRights::default()
        };
        assert_eq!(permanent_flags(&user, false, seen_only), "(\\Seen)");
        assert_eq!(permanent_flags(&[], false, FlagRights::default()), "()");
        let full: Vec<Option<String>> =
            (0..MAX_USER_FLAGS).map(|i| Some(format!("f{i}"))).collect();
        assert!(!permanent_flags(&full, false, all).contains("\\*"));
    }
}
