//! What `mbexamine` prints for one mailbox, byte for byte as Cyrus 3.6 prints it: the header
//! facts, the index header, and per live message its index record and cache items.
//!
//! The mailbox name and the path are the caller's (the name layer resolves them), and so is
//! the date formatting: Cyrus uses `ctime(3)`, which is local time; [`ctime_utc`] gives the
//! same text for UTC, which is what a server with `TZ` unset or UTC prints.

use crate::error::Result;
use crate::mailbox::cache::Item;
use crate::mailbox::index::{InternalFlags, Options, SystemFlags};
use crate::mailbox::Mailbox;
use std::fmt::Write as _;

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

/// `ctime(3)` of `t` in UTC, with its trailing newline: `Thu Jan  1 00:00:00 1970\n`.
pub fn ctime_utc(t: i64) -> String {
    let days = t.div_euclid(86400);
    let secs = t.rem_euclid(86400);
    let (year, month, day) = crate::civil::civil_from_days(days);
    let wday = DAYS.get(days.rem_euclid(7) as usize).unwrap_or(&"???");
    let mon = crate::civil::month_name(month);
    format!(
        "{wday} {mon}{day:3} {:02}:{:02}:{:02} {year}\n",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// `ctime(3)` of `t` in the server's local time zone (`TZ`), with its trailing newline.
pub fn ctime_local(t: i64) -> String {
    let mut buf = [0 as libc::c_char; 64];
    let tt = t as libc::time_t;
    // SAFETY: ctime_r writes at most 26 bytes into `buf` (64 here) and reads only `tt`; the
    // result is checked for NULL before the NUL-terminated buffer is read.
    let p = unsafe { libc::ctime_r(&tt, buf.as_mut_ptr()) };
    if p.is_null() {
        return ctime_utc(t);
    }
    // SAFETY: ctime_r succeeded, so `buf` holds a NUL-terminated string.
    unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// What `mbexamine -q` prints for `mb`: the first message whose file size disagrees with its
/// index record, or else whether the sizes of the message files add up to the index header's
/// quota usage (a missing file counts for nothing), as Cyrus 3.6's does.
pub fn quota_check(mb: &Mailbox, name: &str) -> Vec<u8> {
    let mut total = 0u64;
    for r in mb.records().iter().filter(|r| !r.is_expunged()) {
        if let Ok(meta) = std::fs::metadata(mb.message_path(r.uid)) {
            if meta.len() != u64::from(r.size) {
                return format!(
                    "Examining {name}...  Message {} has INCORRECT size in index record\n",
                    r.uid
                )
                .into_bytes();
            }
            total += meta.len();
        }
    }
    let verdict = if total == mb.index_header().quota_mailbox_used {
        "CORRECT"
    } else {
        "INCORRECT"
    };
    format!("Examining {name}...  Mailbox has {verdict} total quota usage\n").into_bytes()
}

/// Which messages `mbexamine` shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Select {
    /// Every message that is not expunged.
    All,
    /// The message with this UID (`-u`).
    Uid(u32),
    /// The message with this sequence number, counting from 1 (`-s`).
    Seq(u32),
}

/// The text `mbexamine` prints for `mb`, opened from `path` and known as `name`; `ctime`
/// formats a time as `ctime(3)` would on the server ([`ctime_utc`] for UTC).
pub fn examine(
    mb: &Mailbox,
    name: &str,
    path: &str,
    ctime: &dyn Fn(i64) -> String,
) -> Result<Vec<u8>> {
    examine_selected(mb, name, path, ctime, Select::All)
}

/// [`examine`] limited to the messages `select` names; when it names none,
/// `Desired message not found` follows the header, as in Cyrus.
pub fn examine_selected(
    mb: &Mailbox,
    name: &str,
    path: &str,
    ctime: &dyn Fn(i64) -> String,
    select: Select,
) -> Result<Vec<u8>> {
    let mut s = String::new();
    let h = mb.header();
    let i = mb.index_header();
    let _ = writeln!(s, "Examining {name}... Mailbox Header Info:");
    let _ = writeln!(s, "  Path to mailbox: {path}");
    let _ = writeln!(s, "  Mailbox ACL: {}", h.acl_string());
    let _ = writeln!(s, "  Unique ID: {}", h.uniqueid);
    s.push_str("  User Flags: ");
    // Cyrus stops at the first unused flag slot.
    let mut any = false;
    for f in h.user_flags.iter().map_while(|f| f.as_deref()) {
        s.push_str(f);
        s.push(' ');
        any = true;
    }
    if !any {
        s.push_str("[none]");
    }
    s.push('\n');
    // The fix-ups Cyrus applies when it reads an index header.
    let mut options = i.options.0;
    if i.exists == 0 {
        options |= Options::POP3_NEW_UIDL;
    }
    s.push_str("\n Index Header Info:\n");
    let _ = writeln!(s, "  Generation Number: {}", i.generation_no as i32);
    let _ = writeln!(s, "  Minor Version: {}", i.minor_version as i32);
    let _ = writeln!(
        s,
        "  Header Size: {} bytes  Record Size: {} bytes",
        i.start_offset, i.record_size
    );
    let _ = writeln!(
        s,
        "  Number of Messages: {}  Mailbox Size: {} bytes  Annotations Size: {} bytes",
        i.exists, i.quota_mailbox_used, i.quota_annot_used
    );
    let _ = write!(
        s,
        "  Last Append Date: ({}) {}",
        i.last_appenddate,
        ctime(i64::from(i.last_appenddate))
    );
    let _ = writeln!(
        s,
        "  UIDValidity: {}  Last UID: {}",
        i.uidvalidity, i.last_uid
    );
    let _ = writeln!(
        s,
        "  Deleted: {}  Answered: {}  Flagged: {}",
        i.deleted, i.answered, i.flagged
    );
    s.push_str("  Mailbox Options:");
    if options == 0 {
        s.push_str(" NONE");
    } else {
        for (bit, label) in [
            (Options::POP3_NEW_UIDL, " POP3_NEW_UIDL"),
            (Options::SHAREDSEEN, " IMAP_SHAREDSEEN"),
            (Options::DUPDELIVER, " IMAP_DUPDELIVER"),
            (Options::HAS_ALARMS, " IMAP_HAS_ALARMS"),
        ] {
            if options & bit != 0 {
                s.push_str(label);
            }
        }
    }
    s.push('\n');
    let _ = write!(
        s,
        "  Last POP3 Login: ({}) {}",
        i.pop3_last_login,
        ctime(i64::from(i.pop3_last_login))
    );
    let _ = writeln!(s, "  Highest Mod Sequence: {}", i.effective_highestmodseq());
    s.push_str("\n Message Info:\n");
    let mut out = s.into_bytes();

    let mut matched = 0;
    let live = mb.records().iter().filter(|r| !r.is_expunged());
    for (seq, r) in (1u32..).zip(live) {
        let wanted = match select {
            Select::All => true,
            Select::Uid(uid) => r.uid == uid,
            Select::Seq(n) => seq == n,
        };
        if !wanted {
            continue;
        }
        matched += 1;
        let mut s = String::new();
        // Cyrus 3.6 never advances its message counter here.
        let _ = writeln!(
            s,
            "{:06}> UID:{:08}   INT_DATE:{} SENTDATE:{} SAVEDATE:{} SIZE:{:<6}",
            1, r.uid, r.internaldate, r.sentdate, r.savedate, r.size
        );
        let _ = write!(
            s,
            "      > HDRSIZE:{:<6} LASTUPD :{} SYSFLAGS:{:08X}",
            r.header_size, r.last_updated, r.system_flags.0
        );
        if i.minor_version >= 6 {
            let _ = write!(s, "      > CACHEVER:{:<2}", r.cache_version);
        }
        if i.minor_version >= 7 {
            let _ = write!(s, " GUID:{}", r.guid.to_hex());
        }
        if i.minor_version >= 8 {
            let _ = write!(s, " MODSEQ:{}", r.modseq);
        }
        if i.minor_version >= 13 {
            let _ = write!(s, "  THRID: {:x}", r.cid);
        }
        s.push('\n');
        s.push_str("      > INTERNALFLAGS:");
        for (bit, label) in [
            (InternalFlags::EXPUNGED, " FLAG_INTERNAL_EXPUNGED"),
            (InternalFlags::UNLINKED, " FLAG_INTERNAL_UNLINKED"),
            (InternalFlags::ARCHIVED, " FLAG_INTERNAL_ARCHIVED"),
            (InternalFlags::NEEDS_CLEANUP, " FLAG_INTERNAL_NEEDS_CLEANUP"),
            (InternalFlags::SNOOZED, " FLAG_INTERNAL_SNOOZED"),
        ] {
            if r.internal_flags.has(bit) {
                s.push_str(label);
            }
        }
        s.push_str("      > SYSTEMFLAGS:");
        for (bit, label) in [
            (SystemFlags::SEEN, " FLAG_SEEN"),
            (SystemFlags::DRAFT, " FLAG_DRAFT"),
            (SystemFlags::DELETED, " FLAG_DELETED"),
            (SystemFlags::FLAGGED, " FLAG_FLAGGED"),
            (SystemFlags::ANSWERED, " FLAG_ANSWERED"),
        ] {
            if r.system_flags.has(bit) {
                s.push_str(label);
            }
        }
        s.push('\n');
        s.push_str("      > USERFLAGS:");
        for w in r.user_flags.iter().rev() {
            let _ = write!(s, " {w:08X}");
        }
        s.push('\n');
        out.extend_from_slice(s.as_bytes());
        // A record whose cache is missing or damaged just prints no items, as in Cyrus.
        if let Ok(c) = mb.cache_record(r) {
            for (item, label) in [
                (Item::Envelope, "Envel"),
                (Item::Bodystructure, "BdyStr"),
                (Item::Body, "Body"),
                (Item::Headers, "CacHdr"),
                (Item::From, "From"),
                (Item::To, "To"),
                (Item::Cc, "Cc"),
                (Item::Bcc, "Bcc"),
                (Item::Subject, "Subjct"),
            ] {
                let data = c.item(item);
                out.extend_from_slice(format!(" {label}>{{{}}}", data.len()).as_bytes());
                // printf's %.*s stops at a NUL byte.
                let shown = data.split(|&b| b == 0).next().unwrap_or(&[]);
                out.extend_from_slice(shown);
                out.push(b'\n');
            }
        }
    }
    if matched == 0 && select != Select::All {
        out.extend_from_slice(b"Desired message not found\n");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctime_matches_libc_format() {
        assert_eq!(ctime_utc(0), "Thu Jan  1 00:00:00 1970\n");
        assert_eq!(ctime_utc(1795318722), "Sun Nov 22 03:38:42 2026\n");
        assert_eq!(ctime_utc(951782400), "Tue Feb 29 00:00:00 2000\n");
    }
}
