//! FETCH responses, byte for byte as Cyrus 3.6 writes them, for one message at a time.
//!
//! Cyrus does not answer in the client's order: whatever was asked, a response lists FLAGS,
//! UID, INTERNALDATE, MODSEQ, RFC822.SIZE, EMAILID, THREADID, ENVELOPE, BODYSTRUCTURE, BODY,
//! RFC822.HEADER, RFC822.TEXT, RFC822 in that fixed order (each at most once), then every
//! `BODY[...HEADER.FIELDS...]` in the client's order, then every other `BODY[...]` in the
//! client's order (repeats included). [`write_fetch`] keeps that order.
//!
//! ENVELOPE, BODYSTRUCTURE and BODY come verbatim from cyrus.cache; sections are located
//! with the cache's part map (`section`) and cut from the message file; header fields
//! come from the cached headers when Cyrus would use them (`header_fields`). Flag lists
//! for FETCH, STORE and SELECT are in `flags`.
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
pub use flags::{flag_list, flags_response, flags_update, permanent_flags, FlagRights};

use crate::proto::command::{FetchAtt, Section as SectionSpec, SectionText};
use cyrus::charset::transfer::Encoding;
use cyrus::mailbox::cache::{CacheRecord, CharsetInfo, Item};
use cyrus::mailbox::index::IndexRecord;
use cyrus::mailbox::Mailbox;
use section::Part;
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
    /// `BINARY[...]` of a part in a Content-Transfer-Encoding we cannot undo (RFC 3516 §4.3:
    /// the command fails with `NO [UNKNOWN-CTE]`).
    UnknownCte,
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::UnknownCte => f.write_str("[UNKNOWN-CTE] Can not decode message part"),
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

/// A `BINARY[...]` item: its part path and partial.
type BinaryItem<'a> = (&'a [u32], Option<(u32, u32)>);

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
    /// `BINARY[...]`, client order.
    binaries: Vec<BinaryItem<'a>>,
    /// `BINARY.SIZE[...]`, client order.
    binary_sizes: Vec<&'a [u32]>,
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
                FetchAtt::Binary { part, partial, .. } => p.binaries.push((part, *partial)),
                FetchAtt::BinarySize { part } => p.binary_sizes.push(part),
            }
        }
        Ok(p)
    }

    /// How many octets from the start of the message file this fetch reads: the end of
    /// the furthest range it sends. Reading no further than that keeps a header fetch of a
    /// large message cheap, and gives the same bytes as reading the whole file (every range
    /// is cut or padded against the file the same way).
    fn extent(&self, record: &IndexRecord, fields_from_file: bool, tree: Option<&Part>) -> u64 {
        let end = |r: section::Range| u64::from(r.offset) + u64::from(r.size);
        let size = u64::from(record.size);
        let mut extent = 0u64;
        if self.rfc822_header {
            extent = extent.max(u64::from(record.header_size));
        }
        if self.rfc822_text || self.rfc822 {
            extent = extent.max(size);
        }
        let Some(t) = tree else { return extent };
        if fields_from_file {
            for f in &self.fields {
                if let Some(r) = section::fields_header(t, &f.section.part) {
                    extent = extent.max(end(r));
                }
            }
        }
        for (path, _) in &self.binaries {
            if let Some((r, _)) = section::binary(t, path) {
                extent = extent.max(end(r));
            }
        }
        for path in &self.binary_sizes {
            if let Some((r, _)) = section::binary(t, path) {
                extent = extent.max(end(r));
            }
        }
        for s in &self.sections {
            let whole = s.section.part.is_empty() && s.section.text.is_none();
            if whole {
                extent = extent.max(size);
            } else if let Some(r) = section::locate(t, &s.section.part, s.section.text.as_ref()) {
                extent = extent.max(end(r));
            }
        }
        extent
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

/// The first `limit` octets of the file at `path` (fewer if it is shorter). Opening it is
/// also the check that the message still exists, so that happens even when `limit` is 0.
fn read_prefix(path: &std::path::Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let mut msg = Vec::new();
    file.take(limit).read_to_end(&mut msg)?;
    Ok(msg)
}

/// `1.2` for part numbers `[1, 2]`.
fn part_name(path: &[u32]) -> String {
    path.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(".")
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
    let binary = !plan.binaries.is_empty() || !plan.binary_sizes.is_empty();
    let needs_file = plan.rfc822_header
        || plan.rfc822_text
        || plan.rfc822
        || !plan.sections.is_empty()
        || binary
        || fields_from_file;
    // A damaged cache record drops the items that need it, as in Cyrus (which logs it).
    let needs_cache = plan.envelope
        || plan.bodystructure
        || plan.body
        || !plan.fields.is_empty()
        || !plan.sections.is_empty()
        || binary;
    let cache: Option<CacheRecord> = if needs_cache {
        mailbox.cache_record(record).ok()
    } else {
        None
    };
    let tree = if fields_from_file || !plan.sections.is_empty() || binary {
        cache
            .as_ref()
            .and_then(|c| c.section(mailbox.dir()).ok())
            .map(|s| section::tree(&s, record.size))
    } else {
        None
    };
    let msg = if needs_file {
        let extent = plan.extent(record, fields_from_file, tree.as_ref());
        match read_prefix(&mailbox.message_path(record.uid), extent) {
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

    // BINARY and BINARY.SIZE come after the BODY sections, as Cyrus orders them.
    let decoded = |path: &[u32]| -> Result<Option<Vec<u8>>, FetchError> {
        let Some((r, code)) = tree.as_ref().and_then(|t| section::binary(t, path)) else {
            return Ok(None);
        };
        let start = (r.offset as usize).min(msg.len());
        let end = start.saturating_add(r.size as usize).min(msg.len());
        let raw = msg.get(start..end).unwrap_or_default();
        // 0xFFFF is the no-charset form: nothing to undo.
        let enc = if code == CharsetInfo::NO_CHARSET {
            Encoding::Identity
        } else {
            Encoding::from_code(code)
        };
        if enc == Encoding::Unknown {
            return Err(FetchError::UnknownCte);
        }
        Ok(Some(enc.decode(raw).into_owned()))
    };
    for (path, partial) in &plan.binaries {
        let data = decoded(path)?;
        let o = it.next();
        o.extend_from_slice(
            format!("BINARY[{}]{} ", part_name(path), partial_echo(*partial)).as_bytes(),
        );
        match data {
            Some(d) => output::binary_data(o, &d, *partial),
            None => o.extend_from_slice(b"NIL"),
        }
    }
    for path in &plan.binary_sizes {
        let data = decoded(path)?;
        let n = data.map_or(0, |d| d.len());
        it.next()
            .extend_from_slice(format!("BINARY.SIZE[{}] {n}", part_name(path)).as_bytes());
    }

    if !it.buf.is_empty() {
        out.extend_from_slice(format!("* {seq} FETCH (").as_bytes());
        out.extend_from_slice(&it.buf);
        out.extend_from_slice(b")\r\n");
    }
    Ok(set_seen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cyrus::mailbox::header::Header;
    use cyrus::mailbox::index::SystemFlags;
    use cyrus::mailbox::Append;
    use std::path::PathBuf;

    const MSG: &[u8] = b"From: a@x\r\nSubject: Hi\r\nX-Spam: yes\r\n\r\nHello\r\n";

    /// A scratch mailbox holding MSG as UID 1 (\Answered, user flag `$Label1`), removed on
    /// drop.
    struct Scratch {
        dir: PathBuf,
        mailbox: Mailbox,
    }

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir = std::env::temp_dir()
                .join(format!("imapd-fetch-unit-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            let header = Header::new("e", "user.t", "uniqueid0000000000000000");
            let mut mailbox = Mailbox::create(&dir, &header, 1, 1, 1_700_000_000).unwrap();
            let flag = mailbox.user_flag("$Label1", true).unwrap().unwrap();
            let parsed = cyrus::message::parse(MSG);
            let mut user_flags = [0u32; 4];
            user_flags[flag / 32] |= 1 << (flag % 32);
            mailbox
                .append(&Append {
                    message: MSG,
                    guid: parsed.guid,
                    internaldate: 1_704_794_405,
                    sentdate: parsed.sentdate,
                    gmtime: parsed.gmtime,
                    header_size: parsed.header_size,
                    system_flags: SystemFlags(SystemFlags::ANSWERED),
                    user_flags,
                    cache: &parsed.cache,
                    now: 1_704_794_405,
                })
                .unwrap();
            Scratch { dir, mailbox }
        }

        fn fetch(&self, items: &[FetchAtt], state: MessageState, opts: FetchOptions) -> String {
            let mut out = Vec::new();
            let rec = &self.mailbox.records()[0];
            write_fetch(&mut out, &self.mailbox, 1, rec, &state, items, &opts).unwrap();
            String::from_utf8(out).unwrap()
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn utc() -> FetchOptions {
        FetchOptions {
            utc_offset: |_| 0,
            ..FetchOptions::default()
        }
    }

    fn body(part: &[u32], text: Option<SectionText>, peek: bool) -> FetchAtt {
        FetchAtt::BodySection {
            peek,
            section: SectionSpec {
                part: part.to_vec(),
                text,
            },
            partial: None,
        }
    }

    #[test]
    fn items_come_in_cyrus_order_whatever_the_client_order() {
        let s = Scratch::new("order");
        let seen = MessageState {
            seen: true,
            ..MessageState::default()
        };
        let got = s.fetch(
            &[
                body(&[], Some(SectionText::Text), true),
                FetchAtt::Rfc822Size,
                FetchAtt::Modseq,
                FetchAtt::InternalDate,
                FetchAtt::Uid,
                FetchAtt::Flags,
                FetchAtt::Uid,
            ],
            seen,
            utc(),
        );
        assert_eq!(
            got,
            "* 1 FETCH (FLAGS (\\Answered \\Seen $Label1) UID 1 \
             INTERNALDATE \" 9-Jan-2024 10:00:05 +0000\" MODSEQ (2) RFC822.SIZE 46 \
             BODY[TEXT] {7}\r\nHello\r\n)\r\n"
        );
    }

    #[test]
    fn option_and_state_table() {
        let s = Scratch::new("opts");
        let size = [FetchAtt::Rfc822Size];
        let changed = MessageState {
            recent: true,
            flags_changed: true,
            ..MessageState::default()
        };
        let cases: &[(FetchOptions, MessageState, &str)] = &[
            (utc(), MessageState::default(), "* 1 FETCH (RFC822.SIZE 46)\r\n"),
            (
                FetchOptions { uid: true, ..utc() },
                MessageState::default(),
                "* 1 FETCH (UID 1 RFC822.SIZE 46)\r\n",
            ),
            // Flags that changed are reported unasked, with MODSEQ under CONDSTORE and UID
            // under QRESYNC (as Cyrus answered after a non-PEEK fetch set \Seen).
            (
                utc(),
                changed,
                "* 1 FETCH (FLAGS (\\Recent \\Answered $Label1) RFC822.SIZE 46)\r\n",
            ),
            (
                FetchOptions {
                    condstore: true,
                    qresync: true,
                    ..utc()
                },
                changed,
                "* 1 FETCH (FLAGS (\\Recent \\Answered $Label1) UID 1 MODSEQ (2) RFC822.SIZE 46)\r\n",
            ),
            // CHANGEDSINCE: below the message's modseq it is answered with MODSEQ ...
            (
                FetchOptions {
                    changedsince: Some(1),
                    ..utc()
                },
                MessageState::default(),
                "* 1 FETCH (MODSEQ (2) RFC822.SIZE 46)\r\n",
            ),
            // ... at or above it, not at all.
            (
                FetchOptions {
                    changedsince: Some(2),
                    ..utc()
                },
                MessageState::default(),
                "",
            ),
        ];
        for (opts, state, want) in cases {
            assert_eq!(s.fetch(&size, *state, *opts), *want, "{opts:?} {state:?}");
        }
    }

    #[test]
    fn ids_and_cache_items() {
        let s = Scratch::new("ids");
        let hex = s.mailbox.records()[0].guid.to_hex();
        let got = s.fetch(
            &[FetchAtt::ThreadId, FetchAtt::EmailId, FetchAtt::Body],
            MessageState::default(),
            utc(),
        );
        assert_eq!(
            got,
            format!(
                "* 1 FETCH (EMAILID (M{}) THREADID (NIL) BODY (\"TEXT\" \"PLAIN\" \
                 (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 7 1))\r\n",
                &hex[..24]
            )
        );
    }

    #[test]
    fn header_fields_from_cache_and_from_file_agree() {
        let s = Scratch::new("fields");
        // X-Spam is not a cached header, so this one reads the file; Subject alone would
        // come from the cache. Both give the same bytes.
        for names in [
            vec!["SUBJECT".to_string()],
            vec!["subject".into(), "X-Spam".into()],
        ] {
            let got = s.fetch(
                &[body(
                    &[],
                    Some(SectionText::HeaderFields(names.clone())),
                    true,
                )],
                MessageState::default(),
                utc(),
            );
            let mut want = format!("* 1 FETCH (BODY[HEADER.FIELDS ({})] ", names.join(" "));
            if names.len() == 1 {
                want.push_str("{15}\r\nSubject: Hi\r\n\r\n)\r\n");
            } else {
                want.push_str("{28}\r\nSubject: Hi\r\nX-Spam: yes\r\n\r\n)\r\n");
            }
            assert_eq!(got, want);
        }
    }

    #[test]
    fn seen_binary_and_missing_file() {
        let s = Scratch::new("seen");
        let rec = s.mailbox.records()[0].clone();
        let run = |items: &[FetchAtt], seen: bool| {
            let mut out = Vec::new();
            let state = MessageState {
                seen,
                ..MessageState::default()
            };
            let r = write_fetch(&mut out, &s.mailbox, 1, &rec, &state, items, &utc());
            (r, out)
        };
        assert_eq!(run(&[body(&[1], None, false)], false).0, Ok(true));
        assert_eq!(run(&[body(&[1], None, false)], true).0, Ok(false));
        assert_eq!(run(&[body(&[1], None, true)], false).0, Ok(false));
        assert_eq!(run(&[FetchAtt::Rfc822Text], false).0, Ok(true));
        assert_eq!(run(&[FetchAtt::Rfc822Header], false).0, Ok(false));
        let binary = FetchAtt::Binary {
            peek: true,
            part: vec![1],
            partial: None,
        };
        let (r, out) = run(&[FetchAtt::Flags, binary], false);
        assert_eq!(r, Ok(false));
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains(" BINARY[1] {7}\r\nHello\r\n)"), "{text}");
        assert_eq!(
            FetchError::UnknownCte.to_string(),
            "[UNKNOWN-CTE] Can not decode message part"
        );
        assert!(sets_seen(&[FetchAtt::Binary {
            peek: false,
            part: vec![],
            partial: None
        }]));

        std::fs::remove_file(s.mailbox.message_path(rec.uid)).unwrap();
        let (r, out) = run(&[FetchAtt::Uid, FetchAtt::Rfc822], false);
        assert_eq!(r, Ok(false));
        assert_eq!(out, b"* OK Message 1 no longer exists\r\n");
        // Items that need no file are still served.
        assert_eq!(run(&[FetchAtt::Uid], false).1, b"* 1 FETCH (UID 1)\r\n");
    }

    #[test]
    fn reads_only_as_far_as_the_furthest_range() {
        let s = Scratch::new("extent");
        let rec = &s.mailbox.records()[0];
        let cache = s.mailbox.cache_record(rec).unwrap();
        let tree = section::tree(&cache.section(s.mailbox.dir()).unwrap(), rec.size);
        let from = || SectionText::HeaderFields(vec!["From".into()]);
        // MSG has a 39-octet header and is 46 octets long.
        let cases: &[(Vec<FetchAtt>, u64)] = &[
            (vec![FetchAtt::Flags], 0),
            (vec![FetchAtt::Rfc822Header], 39),
            (vec![body(&[], Some(from()), true)], 39),
            (vec![body(&[], Some(SectionText::Header), true)], 39),
            (vec![body(&[1], Some(SectionText::Mime), true)], 39),
            (vec![body(&[], Some(SectionText::Text), true)], 46),
            (vec![body(&[1], None, true)], 46),
            (vec![body(&[], None, true)], 46),
            (vec![FetchAtt::Rfc822Header, FetchAtt::Rfc822Text], 46),
            (vec![body(&[2], None, true)], 0),
        ];
        for (items, want) in cases {
            let plan = Plan::new(items).unwrap();
            let from_file = !plan.fields.is_empty() && plan.fields_from_file(rec);
            assert_eq!(plan.extent(rec, from_file, Some(&tree)), *want, "{items:?}");
        }
    }

    #[test]
    fn section_names_table() {
        let cases: &[(&[u32], Option<SectionText>, &str)] = &[
            (&[], None, ""),
            (&[1, 2], None, "1.2"),
            (&[], Some(SectionText::Header), "HEADER"),
            (&[2], Some(SectionText::Text), "2.TEXT"),
            (&[2, 1], Some(SectionText::Mime), "2.1.MIME"),
            (
                &[],
                Some(SectionText::HeaderFields(vec![])),
                "HEADER.FIELDS",
            ),
            (
                &[3],
                Some(SectionText::HeaderFieldsNot(vec![])),
                "3.HEADER.FIELDS.NOT",
            ),
        ];
        for (part, text, want) in cases {
            assert_eq!(section_name(part, text.as_ref()), *want);
        }
        assert_eq!(partial_echo(Some((10, 5))), "<10>");
        assert_eq!(partial_echo(None), "");
    }
}
