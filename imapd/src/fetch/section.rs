//! Finding a body section in a message, from the part map Cyrus keeps in the SECTION cache
//! item, the way Cyrus 3.6 walks its body tree for BODY[section] (no reparsing).
//!
//! The SECTION item ([`cyrus::mailbox::cache::Section`]) describes a message as entry 0 (its
//! header and text) plus one entry per sub-part, each sub-part with a subtree: empty for a
//! leaf, a multipart's subtree starting with an entry whose sizes are all ones (it has no
//! header of its own there), a message/rfc822's subtree describing the enclosed message the
//! same way as the top. A message whose body is a single part has exactly one sub-entry, at
//! the same offsets as entry 0.
//!
//! From it we build Cyrus's view: the whole message is a message/rfc822 wrapper around the
//! top-level message, and part numbers step through multiparts and into enclosed messages
//! (`1` of a non-multipart message is the message body itself). `HEADER` and `TEXT` need a
//! message/rfc822 part, `MIME` any part but the top; anything else is no such part.

use crate::proto::command::SectionText;
use cyrus::mailbox::cache::{PartEntry, Section};

/// A byte range of the message file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// Offset from the start of the file.
    pub offset: u32,
    /// Length in octets.
    pub size: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// Neither multipart nor message/rfc822.
    Leaf,
    /// A multipart and its parts (at least one).
    Multi(Vec<Part>),
    /// A message/rfc822 and the message it encloses.
    Message(Box<Part>),
}

/// One node of the body tree: a part's header (its MIME header, or a message's header) and
/// content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    header: Range,
    content: Range,
    /// The SECTION entry's Content-Transfer-Encoding code (for BINARY).
    encoding: u16,
    kind: Kind,
}

fn header_of(e: &PartEntry) -> Range {
    Range {
        offset: e.header_offset,
        size: e.header_size,
    }
}

fn content_of(e: &PartEntry) -> Range {
    Range {
        offset: e.content_offset,
        size: e.content_size,
    }
}

/// Whether `s` is a multipart's subtree: its entry 0 carries no header (all ones).
fn is_multipart_tree(s: &Section) -> bool {
    s.entries.first().is_some_and(|e| e.header_size == u32::MAX)
}

/// The parts of a multipart described by `entries[1..]` and their subtrees.
fn parts(s: &Section) -> Vec<Part> {
    s.entries
        .iter()
        .skip(1)
        .enumerate()
        .map(|(i, e)| sub_part(e, s.children.get(i)))
        .collect()
}

/// A sub-part from its entry and subtree.
fn sub_part(e: &PartEntry, tree: Option<&Section>) -> Part {
    let kind = match tree {
        None => Kind::Leaf,
        Some(t) if t.entries.is_empty() => Kind::Leaf,
        Some(t) if is_multipart_tree(t) => {
            let p = parts(t);
            if p.is_empty() {
                Kind::Leaf
            } else {
                Kind::Multi(p)
            }
        }
        Some(t) => Kind::Message(Box::new(message(t))),
    };
    Part {
        header: header_of(e),
        content: content_of(e),
        encoding: e.charset.encoding,
        kind,
    }
}

/// The message a message-shaped subtree (the top, or a message/rfc822's) describes.
fn message(s: &Section) -> Part {
    let Some(e0) = s.entries.first() else {
        let none = Range { offset: 0, size: 0 };
        return Part {
            header: none,
            content: none,
            encoding: 0,
            kind: Kind::Leaf,
        };
    };
    // A single-part body repeats the message's own offsets in its one sub-entry; its
    // subtree then says whether that body is a leaf or an enclosed message.
    let single =
        s.entries.len() == 2 && s.entries.get(1).map(|e| e.header_offset) == Some(e0.header_offset);
    let kind = if single {
        match s.children.first() {
            Some(t) if !t.entries.is_empty() && !is_multipart_tree(t) => {
                Kind::Message(Box::new(message(t)))
            }
            _ => Kind::Leaf,
        }
    } else {
        let p = parts(s);
        if p.is_empty() {
            Kind::Leaf
        } else {
            Kind::Multi(p)
        }
    };
    Part {
        header: header_of(e0),
        content: content_of(e0),
        encoding: e0.charset.encoding,
        kind,
    }
}

/// The body tree of a message: the message/rfc822 wrapper around it. `size` is the
/// message file's size.
pub fn tree(section: &Section, size: u32) -> Part {
    Part {
        header: Range { offset: 0, size: 0 },
        content: Range { offset: 0, size },
        encoding: 0,
        kind: Kind::Message(Box::new(message(section))),
    }
}

/// Part number `n` of `body`: steps into an enclosed message first; a multipart's parts are
/// numbered from 1, and any other body has just part 1, itself.
fn find_part(body: &Part, n: u32) -> Option<&Part> {
    let body = match &body.kind {
        Kind::Message(m) => m.as_ref(),
        Kind::Multi(_) => body,
        Kind::Leaf => return None,
    };
    match &body.kind {
        Kind::Multi(parts) => parts.get(usize::try_from(n).ok()?.checked_sub(1)?),
        _ => (n == 1).then_some(body),
    }
}

/// Follows the part numbers `path` from the top; `None` if one does not exist (or is 0).
fn walk<'a>(top: &'a Part, path: &[u32]) -> Option<&'a Part> {
    let mut body = top;
    for &n in path {
        if n == 0 {
            return None;
        }
        body = find_part(body, n)?;
    }
    Some(body)
}

/// The content of part `path` for `BINARY[path]` and the Content-Transfer-Encoding code to
/// undo; `None` when there is no such part. Only a leaf's content is decoded (RFC 3516
/// §4.2): a multipart or enclosed message is sent as it is stored.
pub fn binary(top: &Part, path: &[u32]) -> Option<(Range, u16)> {
    let body = walk(top, path)?;
    let code = match body.kind {
        Kind::Leaf => body.encoding,
        _ => 0,
    };
    Some((body.content, code))
}

/// The bytes of a `BODY[path.text]` section other than `HEADER.FIELDS` (and other than
/// `BODY[]`, which is the whole file): `None` when Cyrus answers NIL.
pub fn locate(top: &Part, path: &[u32], text: Option<&SectionText>) -> Option<Range> {
    let body = walk(top, path)?;
    match text {
        None => Some(body.content),
        Some(SectionText::Header) | Some(SectionText::Text) => {
            let Kind::Message(m) = &body.kind else {
                return None;
            };
            Some(if matches!(text, Some(SectionText::Header)) {
                m.header
            } else {
                m.content
            })
        }
        Some(SectionText::Mime) => (!path.is_empty()).then_some(body.header),
        // Served from the header text, not from a range: see header_fields.
        Some(SectionText::HeaderFields(_)) | Some(SectionText::HeaderFieldsNot(_)) => None,
    }
}

/// The header a `BODY[path.HEADER.FIELDS ...]` section picks fields from: an enclosed
/// message's header, or a part's MIME header; `None` (NIL) if the part does not exist or has
/// no header.
pub fn fields_header(top: &Part, path: &[u32]) -> Option<Range> {
    let mut body = walk(top, path)?;
    if let Kind::Message(m) = &body.kind {
        body = m;
    }
    (body.header.size != 0).then_some(body.header)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cyrus::mailbox::cache::CharsetInfo;

    fn entry(h: (u32, u32), c: (u32, u32)) -> PartEntry {
        PartEntry {
            header_offset: h.0,
            header_size: h.1,
            content_offset: c.0,
            content_size: c.1,
            charset: CharsetInfo::default(),
        }
    }

    fn leaf() -> Section {
        Section::default()
    }

    /// A single-part message: header 0..100, body 100..150.
    fn single() -> Section {
        Section {
            entries: vec![entry((0, 100), (100, 50)), entry((0, 100), (100, 50))],
            children: vec![leaf()],
        }
    }

    /// multipart/mixed at 0..100 header: part 1 text (hdr 110..130, body 130..140), part 2
    /// message/rfc822 (hdr 150..170, body 170..300) enclosing a multipart/alternative
    /// (inner header 170..200, body 200..300) of two leaves.
    fn nested() -> Section {
        let inner = Section {
            entries: vec![
                entry((170, 30), (200, 100)),
                entry((210, 20), (230, 10)),
                entry((250, 20), (270, 10)),
            ],
            children: vec![leaf(), leaf()],
        };
        Section {
            entries: vec![
                entry((0, 100), (100, 200)),
                entry((110, 20), (130, 10)),
                entry((150, 20), (170, 130)),
            ],
            children: vec![leaf(), inner],
        }
    }

    fn r(offset: u32, size: u32) -> Option<Range> {
        Some(Range { offset, size })
    }

    #[test]
    fn locate_single_part_table() {
        let top = tree(&single(), 150);
        let cases: &[(&[u32], Option<SectionText>, Option<Range>)] = &[
            (&[], Some(SectionText::Header), r(0, 100)),
            (&[], Some(SectionText::Text), r(100, 50)),
            (&[], Some(SectionText::Mime), None),
            (&[1], None, r(100, 50)),
            (&[1], Some(SectionText::Mime), r(0, 100)),
            (&[1], Some(SectionText::Header), None),
            (&[1], Some(SectionText::Text), None),
            (&[2], None, None),
            (&[0], None, None),
            (&[1, 1], None, None),
        ];
        for (path, text, want) in cases {
            assert_eq!(
                locate(&top, path, text.as_ref()),
                *want,
                "{path:?} {text:?}"
            );
        }
        assert_eq!(fields_header(&top, &[]), r(0, 100));
        assert_eq!(fields_header(&top, &[1]), r(0, 100));
        assert_eq!(fields_header(&top, &[2]), None);
    }

    #[test]
    fn locate_nested_table() {
        let top = tree(&nested(), 300);
        let cases: &[(&[u32], Option<SectionText>, Option<Range>)] = &[
            (&[1], None, r(130, 10)),
            (&[1], Some(SectionText::Mime), r(110, 20)),
            (&[1], Some(SectionText::Header), None),
            (&[2], None, r(170, 130)),
            (&[2], Some(SectionText::Mime), r(150, 20)),
            (&[2], Some(SectionText::Header), r(170, 30)),
            (&[2], Some(SectionText::Text), r(200, 100)),
            (&[2, 1], None, r(230, 10)),
            (&[2, 2], Some(SectionText::Mime), r(250, 20)),
            (&[2, 3], None, None),
            (&[2, 1, 1], None, None),
            (&[2, 1], Some(SectionText::Header), None),
            (&[3], None, None),
            (&[], Some(SectionText::Text), r(100, 200)),
        ];
        for (path, text, want) in cases {
            assert_eq!(
                locate(&top, path, text.as_ref()),
                *want,
                "{path:?} {text:?}"
            );
        }
        assert_eq!(fields_header(&top, &[2]), r(170, 30));
        assert_eq!(fields_header(&top, &[1]), r(110, 20));
        assert_eq!(fields_header(&top, &[2, 2]), r(250, 20));
    }

    #[test]
    fn empty_or_odd_trees_do_not_panic() {
        let top = tree(&Section::default(), 10);
        assert_eq!(locate(&top, &[1], None), r(0, 0));
        assert_eq!(locate(&top, &[2], None), None);
        assert_eq!(fields_header(&top, &[]), None);
        // More children than sub-entries, or fewer.
        let odd = Section {
            entries: vec![
                entry((0, 5), (5, 5)),
                entry((6, 1), (7, 1)),
                entry((8, 1), (9, 1)),
            ],
            children: vec![],
        };
        let top = tree(&odd, 10);
        assert_eq!(locate(&top, &[2], None), r(9, 1));
    }
    /// A small deterministic generator, so the hostile-tree test needs no extra crate.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u32 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 16) as u32
        }
    }

    fn random_tree(rng: &mut Rng, depth: u32) -> Section {
        let n = if depth > 4 { 0 } else { rng.next() % 5 };
        let pick = |rng: &mut Rng| match rng.next() % 4 {
            0 => u32::MAX,
            1 => 0,
            _ => rng.next() % 300,
        };
        let entries = (0..n)
            .map(|_| entry((pick(rng), pick(rng)), (pick(rng), pick(rng))))
            .collect();
        let kids = if n == 0 { 0 } else { rng.next() % (n + 1) };
        let children = (0..kids).map(|_| random_tree(rng, depth + 1)).collect();
        Section { entries, children }
    }

    #[test]
    fn hostile_trees_never_panic() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let texts = [
            None,
            Some(SectionText::Header),
            Some(SectionText::Text),
            Some(SectionText::Mime),
        ];
        for _ in 0..2000 {
            let top = tree(&random_tree(&mut rng, 0), rng.next());
            for _ in 0..8 {
                let path: Vec<u32> = (0..rng.next() % 4).map(|_| rng.next() % 4).collect();
                let text = &texts[(rng.next() % 4) as usize];
                let _ = locate(&top, &path, text.as_ref());
                let _ = fields_header(&top, &path);
            }
        }
    }
}
