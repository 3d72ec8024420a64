//! FETCH responses, byte for byte as Cyrus 3.6 writes them, for one message at a time.
//!
//! Cyrus does not answer in the client's order: whatever was asked, a response lists FLAGS,
//! UID, INTERNALDATE, MODSEQ, RFC822.SIZE, EMAILID, THREADID, ENVELOPE, BODYSTRUCTURE, BODY,
//! RFC822.HEADER, RFC822.TEXT, RFC822 in that fixed order (each at most once), then every
//! `BODY[...HEADER.FIELDS...]` in the client's order, then every other `BODY[...]` in the
//! client's order (repeats included). [`write_fetch`] keeps that order.
//!
//! ENVELOPE, BODYSTRUCTURE and BODY come verbatim from cyrus.cache; sections are located
//! with the cache's part map ([`section`]) and cut from the message file; header fields
//! come from the cached headers when Cyrus would use them ([`header_fields`]). Flag lists
//! for FETCH, STORE and SELECT are in [`flags`].
//!
//! Setting `\Seen`: Cyrus marks the messages of a non-PEEK fetch seen *before* it writes any
//! response, so the responses show the new flags. The session should therefore call
//! [`sets_seen`], mark the messages (when the mailbox is not read-only and the user has
//! `s`), and then call [`write_fetch`] with `seen: true` and `flags_changed: true` for
//! those whose flags it changed.

mod date;
mod flags;
mod header_fields;
mod output;
mod section;

pub use date::rfc3501;
pub use flags::{flag_list, flags_response, permanent_flags, FlagRights};

use crate::proto::command::{FetchAtt, Section as SectionSpec, SectionText};
use cyrus::mailbox::cache::{CacheRecord, Item};
use cyrus::mailbox::index::IndexRecord;
use cyrus::mailbox::Mailbox;
use std::fmt;

/// What a FETCH command (rather than each message) asks for, and what the session enabled.
#[derive(Debug, Clone, Copy)]
pub struct FetchOptions {
    /// `UID FETCH`: every response carries UID.
    pub uid: bool,
    /// `CHANGEDSINCE n`: messages whose modseq is not above `n` get no response; the others
    /// carry MODSEQ.
    pub changedsince: Option<u64>,
    /// CONDSTORE is enabled: flags sent because they changed come with MODSEQ.
    pub condstore: bool,
    /// QRESYNC is enabled: flags sent because they changed come with UID.
    pub qresync: bool,
    /// The server's offset from UTC, in seconds, at a given instant (for INTERNALDATE).
    pub utc_offset: fn(i64) -> i32,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            uid: false,
            changedsince: None,
            condstore: false,
            qresync: false,
            utc_offset: cyrus::localtime::utc_offset,
        }
    }
}

/// The session's view of one message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageState {
    /// `\Seen` for this user (cyrus.index for the owner, seen.db for anyone else).
    pub seen: bool,
    /// `\Recent` in this session.
    pub recent: bool,
    /// The flags changed since this session last reported them: FLAGS is sent even if not
    /// asked for (with MODSEQ under CONDSTORE and UID under QRESYNC), as Cyrus does.
    pub flags_changed: bool,
}

/// Why a FETCH cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// `BINARY[...]` or `BINARY.SIZE[...]` was asked for; their decoders are not written yet.
    BinaryUnsupported,
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::BinaryUnsupported => f.write_str("BINARY not yet supported"),
        }
    }
}

impl std::error::Error for FetchError {}

/// Whether fetching `items` marks a message `\Seen` (RFC822, RFC822.TEXT, non-PEEK BODY[]
/// and BINARY[]).
pub fn sets_seen(items: &[FetchAtt]) -> bool {
    items.iter().any(|i| match i {
        FetchAtt::Rfc822 | FetchAtt::Rfc822Text => true,
        FetchAtt::BodySection { peek, .. } | FetchAtt::Binary { peek, .. } => !peek,
        _ => false,
    })
}

/// A `BODY[...]` item: its section and partial.
struct BodyItem<'a> {
    section: &'a SectionSpec,
    partial: Option<(u32, u32)>,
}

/// The items of one FETCH sorted into Cyrus's fixed slots.
#[derive(Default)]
struct Plan<'a> {
    flags: bool,
    uid: bool,
    internaldate: bool,
    modseq: bool,
    size: bool,
    emailid: bool,
    threadid: bool,
    envelope: bool,
    bodystructure: bool,
    body: bool,
    rfc822_header: bool,
    rfc822_text: bool,
    rfc822: bool,
    /// `HEADER.FIELDS` and `HEADER.FIELDS.NOT` sections, client order.
    fields: Vec<BodyItem<'a>>,
    /// Every other `BODY[...]`, client order.
    sections: Vec<BodyItem<'a>>,
}

impl<'a> Plan<'a> {
    fn new(items: &'a [FetchAtt]) -> Result<Plan<'a>, FetchError> {
        let mut p = Plan::default();
        for item in items {
            match item {
                FetchAtt::Envelope => p.envelope = true,
                FetchAtt::Flags => p.flags = true,
                FetchAtt::InternalDate => p.internaldate = true,
                FetchAtt::Rfc822 => p.rfc822 = true,
                FetchAtt::Rfc822Header => p.rfc822_header = true,
                FetchAtt::Rfc822Size => p.size = true,
                FetchAtt::Rfc822Text => p.rfc822_text = true,
                FetchAtt::Body => p.body = true,
                FetchAtt::BodyStructure => p.bodystructure = true,
                FetchAtt::Uid => p.uid = true,
                FetchAtt::Modseq => p.modseq = true,
                FetchAtt::EmailId => p.emailid = true,
                FetchAtt::ThreadId => p.threadid = true,
                FetchAtt::BodySection {
                    section, partial, ..
                } => {
                    let b = BodyItem {
                        section,
                        partial: *partial,
                    };
                    match section.text {
                        Some(SectionText::HeaderFields(_) | SectionText::HeaderFieldsNot(_)) => {
                            p.fields.push(b)
                        }
                        _ => p.sections.push(b),
                    }
                }
                FetchAtt::Binary { .. } | FetchAtt::BinarySize { .. } => {
                    return Err(FetchError::BinaryUnsupported)
                }
            }
        }
        Ok(p)
    }

    /// Whether the header fields come from the message file rather than the cached headers:
    /// Cyrus reads the file as soon as one such section is below the top level, is a
    /// `.NOT`, or names a field the cache does not keep.
    fn fields_from_file(&self, record: &IndexRecord) -> bool {
        record.cache_version < cyrus::message::CACHE_VERSION
            || self.fields.iter().any(|f| match &f.section.text {
                Some(SectionText::HeaderFields(names)) => {
                    !f.section.part.is_empty()
                        || names
                            .iter()
                            .any(|n| !cyrus::message::header::is_cached(n.as_bytes()))
                }
                _ => true,
            })
    }
}

/// How a section is echoed in the response, without the brackets: part numbers joined by
/// dots, then the text specifier upper-cased (`2.HEADER.FIELDS`, `1.MIME`, ``).
fn section_name(part: &[u32], text: Option<&SectionText>) -> String {
    let mut s: Vec<String> = part.iter().map(u32::to_string).collect();
    let t = match text {
        None => None,
        Some(SectionText::Header) => Some("HEADER"),
        Some(SectionText::HeaderFields(_)) => Some("HEADER.FIELDS"),
        Some(SectionText::HeaderFieldsNot(_)) => Some("HEADER.FIELDS.NOT"),
        Some(SectionText::Text) => Some("TEXT"),
        Some(SectionText::Mime) => Some("MIME"),
    };
    s.extend(t.map(str::to_string));
    s.join(".")
}

/// `<start>` for a partial fetch, as the response echoes it.
fn partial_echo(partial: Option<(u32, u32)>) -> String {
    partial.map_or_else(String::new, |(start, _)| format!("<{start}>"))
}

/// Collects the items of one response, separated by single spaces.
struct Items {
    buf: Vec<u8>,
}

impl Items {
    /// Starts the next item.
    fn next(&mut self) -> &mut Vec<u8> {
        if !self.buf.is_empty() {
            self.buf.push(b' ');
        }
        &mut self.buf
    }
}

/// Writes the `* <seq> FETCH (...)\r\n` response for one message and `items` into `out`, in
/// Cyrus's item order and format. Writes nothing if `changedsince` filters the message out;
/// writes `* OK Message <seq> no longer exists` (as Cyrus does) if the message file is
/// needed and cannot be read. Returns whether this fetch should mark the message `\Seen`
/// (a non-PEEK body item on a message not yet seen); see the module documentation for when
/// the session should act on that. BINARY items are refused before anything is written.
pub fn write_fetch(
    out: &mut Vec<u8>,
    mailbox: &Mailbox,
    seq: u32,
    record: &IndexRecord,
    state: &MessageState,
    items: &[FetchAtt],
    opts: &FetchOptions,
) -> Result<bool, FetchError> {
    let plan = Plan::new(items)?;
    if opts.changedsince.is_some_and(|c| record.modseq <= c) {
        return Ok(false);
    }
    let set_seen = sets_seen(items) && !state.seen;

    let fields_from_file = !plan.fields.is_empty() && plan.fields_from_file(record);
    let needs_file = plan.rfc822_header
        || plan.rfc822_text
        || plan.rfc822
        || !plan.sections.is_empty()
        || fields_from_file;
    let msg = if needs_file {
        match std::fs::read(mailbox.message_path(record.uid)) {
            Ok(m) => m,
            Err(_) => {
                out.extend_from_slice(
                    format!("* OK Message {seq} no longer exists\r\n").as_bytes(),
                );
                return Ok(false);
            }
        }
    } else {
        Vec::new()
    };
    // A damaged cache record drops the items that need it, as in Cyrus (which logs it).
    let needs_cache = plan.envelope
        || plan.bodystructure
        || plan.body
        || !plan.fields.is_empty()
        || !plan.sections.is_empty();
    let cache: Option<CacheRecord> = if needs_cache {
        mailbox.cache_record(record).ok()
    } else {
        None
    };
    let tree = if fields_from_file || !plan.sections.is_empty() {
        cache
            .as_ref()
            .and_then(|c| c.section(mailbox.dir()).ok())
            .map(|s| section::tree(&s, record.size))
    } else {
        None
    };

    let changed = state.flags_changed;
    let mut it = Items { buf: Vec::new() };
    if plan.flags || changed {
        let list = flag_list(
            record,
            &mailbox.header().user_flags,
            state.seen,
            state.recent,
        );
        it.next()
            .extend_from_slice(format!("FLAGS {list}").as_bytes());
    }
    if plan.uid || opts.uid || (changed && opts.qresync) {
        it.next()
            .extend_from_slice(format!("UID {}", record.uid).as_bytes());
    }
    if plan.internaldate {
        let t = i64::from(record.internaldate);
        let d = rfc3501(t, (opts.utc_offset)(t));
        it.next()
            .extend_from_slice(format!("INTERNALDATE \"{d}\"").as_bytes());
    }
    if plan.modseq || opts.changedsince.is_some() || (changed && opts.condstore) {
        it.next()
            .extend_from_slice(format!("MODSEQ ({})", record.modseq).as_bytes());
    }
    if plan.size {
        it.next()
            .extend_from_slice(format!("RFC822.SIZE {}", record.size).as_bytes());
    }
    if plan.emailid {
        // RFC 8474 EMAILID: "M" and the first 24 hex digits of the message GUID.
        let hex = record.guid.to_hex();
        let id = hex.get(..24).unwrap_or(&hex);
        it.next()
            .extend_from_slice(format!("EMAILID (M{id})").as_bytes());
    }
    if plan.threadid {
        // The conversation id; 0 (conversations off, as in the reference) is NIL.
        let id = if record.cid == 0 {
            "NIL".to_string()
        } else {
            format!("T{:016x}", record.cid)
        };
        it.next()
            .extend_from_slice(format!("THREADID ({id})").as_bytes());
    }
    for (wanted, item, name) in [
        (plan.envelope, Item::Envelope, "ENVELOPE "),
        (plan.bodystructure, Item::Bodystructure, "BODYSTRUCTURE "),
        (plan.body, Item::Body, "BODY "),
    ] {
        if let (true, Some(c)) = (wanted, &cache) {
            let o = it.next();
            o.extend_from_slice(name.as_bytes());
            o.extend_from_slice(c.item(item));
        }
    }
    let header_size = u64::from(record.header_size);
    let size = u64::from(record.size);
    if plan.rfc822_header {
        let o = it.next();
        o.extend_from_slice(b"RFC822.HEADER ");
        output::message_data(o, &msg, 0, header_size, None);
    }
    if plan.rfc822_text {
        let o = it.next();
        o.extend_from_slice(b"RFC822.TEXT ");
        output::message_data(o, &msg, header_size, size.saturating_sub(header_size), None);
    }
    if plan.rfc822 {
        let o = it.next();
        o.extend_from_slice(b"RFC822 ");
        output::message_data(o, &msg, 0, size, None);
    }

    for f in &plan.fields {
        let (names, not) = match &f.section.text {
            Some(SectionText::HeaderFields(n)) => (n, false),
            Some(SectionText::HeaderFieldsNot(n)) => (n, true),
            _ => continue,
        };
        let o = it.next();
        o.extend_from_slice(b"BODY[");
        o.extend_from_slice(section_name(&f.section.part, f.section.text.as_ref()).as_bytes());
        o.push(b' ');
        o.push(b'(');
        for (i, n) in names.iter().enumerate() {
            if i > 0 {
                o.push(b' ');
            }
            output::astring(o, n.as_bytes());
        }
        o.extend_from_slice(format!(")]{} ", partial_echo(f.partial)).as_bytes());
        if fields_from_file {
            let header = tree
                .as_ref()
                .and_then(|t| section::fields_header(t, &f.section.part));
            match header {
                Some(r) => {
                    // A header range past the end of the file is cut to the file.
                    let start = (r.offset as usize).min(msg.len());
                    let end = start.saturating_add(r.size as usize).min(msg.len());
                    let text = msg.get(start..end).unwrap_or_default();
                    let kept = header_fields::prune(text, names, not);
                    header_fields::write(o, &kept, f.partial);
                }
                None => o.extend_from_slice(b"NIL"),
            }
        } else {
            match &cache {
                Some(c) => {
                    let kept = header_fields::prune(c.item(Item::Headers), names, false);
                    header_fields::write(o, &kept, f.partial);
                }
                None => o.extend_from_slice(b"\"\""),
            }
        }
    }

    for s in &plan.sections {
        // Without the part map Cyrus skips the item altogether, even BODY[].
        let Some(t) = &tree else { continue };
        let o = it.next();
        o.extend_from_slice(b"BODY[");
        o.extend_from_slice(section_name(&s.section.part, s.section.text.as_ref()).as_bytes());
        o.extend_from_slice(format!("]{} ", partial_echo(s.partial)).as_bytes());
        if s.section.part.is_empty() && s.section.text.is_none() {
            output::message_data(o, &msg, 0, size, s.partial);
            continue;
        }
        match section::locate(t, &s.section.part, s.section.text.as_ref()) {
            Some(r) => {
                output::message_data(o, &msg, u64::from(r.offset), u64::from(r.size), s.partial)
            }
            None => o.extend_from_slice(b"NIL"),
        }
    }

    if !it.buf.is_empty() {
        out.extend_from_slice(format!("* {seq} FETCH (").as_bytes());
        out.extend_from_slice(&it.buf);
        out.extend_from_slice(b")\r\n");
    }
    Ok(set_seen)
}
