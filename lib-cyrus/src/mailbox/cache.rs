//! `cyrus.cache`: per-message data Cyrus parses once at append time and serves from then on
//! (ENVELOPE, BODYSTRUCTURE, BODY, the MIME part map, cached headers, search forms of the
//! address headers and the decoded subject).
//!
//! The file starts with the 4-byte generation number; records are appended after it and an
//! index record finds its cache record by `cache_offset`. A record is exactly ten items, each
//! a big-endian u32 length, the bytes, and zero padding to a multiple of four; the index
//! record's `cache_crc` is the CRC32 of the whole record. The SECTION item is binary and is
//! decoded here into a [`Section`] tree that encodes back to the same bytes.

use crate::error::{Error, Result};
use crate::mailbox::index::Guid;
use std::path::Path;

/// Name of the cache file in a mailbox directory.
pub const FILE_NAME: &str = "cyrus.cache";
/// Items in one cache record.
pub const NUM_ITEMS: usize = 10;
/// Deepest SECTION nesting decoded; deeper trees are reported as corrupt.
pub const MAX_SECTION_DEPTH: usize = 512;

/// The ten items of a cache record, in file order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item {
    /// IMAP ENVELOPE.
    Envelope = 0,
    /// IMAP BODYSTRUCTURE.
    Bodystructure = 1,
    /// IMAP BODY.
    Body = 2,
    /// The binary MIME part map ([`Section`]).
    Section = 3,
    /// Cached header lines.
    Headers = 4,
    /// From, in search form.
    From = 5,
    /// To, in search form.
    To = 6,
    /// Cc, in search form.
    Cc = 7,
    /// Bcc, in search form.
    Bcc = 8,
    /// The decoded Subject as an IMAP nstring.
    Subject = 9,
}

/// One cache record: the raw bytes of its ten items.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CacheRecord {
    /// Item contents, indexed by [`Item`].
    pub items: [Vec<u8>; NUM_ITEMS],
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at.checked_add(4)?)
        .and_then(|s| s.try_into().ok())
        .map(u32::from_be_bytes)
}

fn pad4(n: usize) -> usize {
    (n + 3) & !3
}

impl CacheRecord {
    /// The bytes of `item`.
    pub fn item(&self, item: Item) -> &[u8] {
        self.items.get(item as usize).map_or(&[][..], Vec::as_slice)
    }

    /// Decodes the record at `offset` of a whole cache file, returning it and its raw bytes'
    /// CRC32; fails if it runs past the end of the file.
    pub fn decode_at(file: &[u8], offset: u64, path: &Path) -> Result<(CacheRecord, u32)> {
        let start = usize::try_from(offset)
            .ok()
            .filter(|&o| o >= 4 && o <= file.len())
            .ok_or_else(|| Error::corrupt(path, "cyrus.cache: offset out of the file"))?;
        let mut rec = CacheRecord::default();
        let mut pos = start;
        for item in rec.items.iter_mut() {
            let len = be32(file, pos)
                .ok_or_else(|| Error::corrupt(path, "cyrus.cache: record runs past the end"))?
                as usize;
            let data_end = pos
                .checked_add(4)
                .and_then(|p| p.checked_add(len))
                .filter(|&e| e <= file.len())
                .ok_or_else(|| Error::corrupt(path, "cyrus.cache: item runs past the end"))?;
            *item = file[pos + 4..data_end].to_vec();
            pos = pos + 4 + pad4(len);
            if pos > file.len() {
                return Err(Error::corrupt(path, "cyrus.cache: padding past the end"));
            }
        }
        let crc = crc32fast::hash(&file[start..pos]);
        Ok((rec, crc))
    }

    /// Decodes the record at `offset` and checks it against the index record's `cache_crc`
    /// (0 means an old-style record without a CRC, which is accepted).
    pub fn read_checked(file: &[u8], offset: u64, cache_crc: u32, path: &Path) -> Result<Self> {
        let (rec, crc) = CacheRecord::decode_at(file, offset, path)?;
        if cache_crc != 0 && crc != cache_crc {
            return Err(Error::corrupt(path, "cyrus.cache: record CRC mismatch"));
        }
        Ok(rec)
    }

    /// The record's bytes as they go into the file.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for item in &self.items {
            out.extend_from_slice(&(item.len() as u32).to_be_bytes());
            out.extend_from_slice(item);
            out.resize(out.len() + pad4(item.len()) - item.len(), 0);
        }
        out
    }

    /// The CRC32 an index record stores for this cache record.
    pub fn crc(&self) -> u32 {
        crc32fast::hash(&self.encode())
    }

    /// The SECTION item decoded into its part tree.
    pub fn section(&self, path: &Path) -> Result<Section> {
        Section::decode(self.item(Item::Section), path)
    }
}

/// Charset and content facts of one part, as a SECTION entry carries them. The "no charset"
/// form Cyrus writes for headers and multiparts is `encoding` 0xFFFF with an empty name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CharsetInfo {
    /// Content-Transfer-Encoding: 0 none, 1 quoted-printable, 2 base64, 3 base64url,
    /// 0xFF unknown; 0xFFFF marks the no-charset form.
    pub encoding: u16,
    /// The charset name as stored: NUL-padded to a multiple of four (empty when unknown).
    pub name_padded: Vec<u8>,
    /// SHA-1 of the transfer-decoded content (zero if none).
    pub guid: Guid,
    /// Size of the decoded content.
    pub decoded_size: u32,
    /// Lines of content.
    pub content_lines: u32,
}

impl CharsetInfo {
    /// The encoding word of the no-charset form.
    pub const NO_CHARSET: u16 = 0xffff;

    /// The charset name without its padding.
    pub fn name(&self) -> &[u8] {
        let end = self
            .name_padded
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.name_padded.len());
        self.name_padded.get(..end).unwrap_or(&[])
    }

    /// A block with a charset `name`, padded the way Cyrus pads it (at least one NUL).
    pub fn with_name(name: &[u8], encoding: u16, guid: Guid, size: u32, lines: u32) -> Self {
        let mut name_padded = name.to_vec();
        name_padded.resize((name.len() / 4 + 1) * 4, 0);
        CharsetInfo {
            encoding,
            name_padded,
            guid,
            decoded_size: size,
            content_lines: lines,
        }
    }
}

/// One part description in a SECTION: where its header and content are in the message file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartEntry {
    /// Offset of the part's header (`u32::MAX` when the part has none).
    pub header_offset: u32,
    /// Size of the header (`u32::MAX` when none).
    pub header_size: u32,
    /// Offset of the content.
    pub content_offset: u32,
    /// Size of the content.
    pub content_size: u32,
    /// Charset, encoding, content GUID, decoded size and lines.
    pub charset: CharsetInfo,
}

/// A SECTION (sub)tree: a leaf has no entries; otherwise `entries[0]` describes part 0 (the
/// header), `entries[1..]` the sub-parts, and `children[i]` is the section of sub-part i+1.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Section {
    /// Part 0 and the sub-parts; empty for a leaf.
    pub entries: Vec<PartEntry>,
    /// One subtree per sub-part (`entries.len() - 1` of them).
    pub children: Vec<Section>,
}

/// Bytes of the smallest possible part entry: four offsets, the charset word, GUID, size, lines.
const MIN_ENTRY: usize = 4 * 4 + 4 + 20 + 4 + 4;

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
    path: &'a Path,
}

impl Reader<'_> {
    fn u32(&mut self) -> Result<u32> {
        let v = be32(self.b, self.pos)
            .ok_or_else(|| Error::corrupt(self.path, "cyrus.cache: SECTION runs short"))?;
        self.pos += 4;
        Ok(v)
    }

    fn bytes(&mut self, n: usize) -> Result<&[u8]> {
        let s = self
            .pos
            .checked_add(n)
            .and_then(|e| self.b.get(self.pos..e))
            .ok_or_else(|| Error::corrupt(self.path, "cyrus.cache: SECTION runs short"))?;
        self.pos += n;
        Ok(s)
    }

    fn entry(&mut self) -> Result<PartEntry> {
        let header_offset = self.u32()?;
        let header_size = self.u32()?;
        let content_offset = self.u32()?;
        let content_size = self.u32()?;
        let word = self.u32()?;
        let name_padded = self.bytes((word >> 16) as usize)?.to_vec();
        let mut guid = Guid::default();
        guid.0.copy_from_slice(self.bytes(20)?);
        Ok(PartEntry {
            header_offset,
            header_size,
            content_offset,
            content_size,
            charset: CharsetInfo {
                encoding: (word & 0xffff) as u16,
                name_padded,
                guid,
                decoded_size: self.u32()?,
                content_lines: self.u32()?,
            },
        })
    }

    fn section(&mut self, depth: usize) -> Result<Section> {
        if depth > MAX_SECTION_DEPTH {
            return Err(Error::corrupt(
                self.path,
                "cyrus.cache: SECTION nests too deep",
            ));
        }
        let n = self.u32()? as usize;
        if n == 0 {
            return Ok(Section::default());
        }
        if n.saturating_mul(MIN_ENTRY) > self.b.len().saturating_sub(self.pos) {
            return Err(Error::corrupt(self.path, "cyrus.cache: SECTION runs short"));
        }
        let mut s = Section {
            entries: Vec::with_capacity(n),
            children: Vec::with_capacity(n - 1),
        };
        for _ in 0..n {
            s.entries.push(self.entry()?);
        }
        for _ in 1..n {
            s.children.push(self.section(depth + 1)?);
        }
        Ok(s)
    }
}

impl Section {
    /// Decodes a whole SECTION item; trailing bytes are an error.
    pub fn decode(b: &[u8], path: &Path) -> Result<Section> {
        let mut r = Reader { b, pos: 0, path };
        let s = r.section(0)?;
        if r.pos != b.len() {
            return Err(Error::corrupt(path, "cyrus.cache: junk after SECTION"));
        }
        Ok(s)
    }

    /// The SECTION item bytes for this tree.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.entries.len() as u32).to_be_bytes());
        for e in &self.entries {
            for v in [
                e.header_offset,
                e.header_size,
                e.content_offset,
                e.content_size,
            ] {
                out.extend_from_slice(&v.to_be_bytes());
            }
            let c = &e.charset;
            let word = ((c.name_padded.len() as u32) << 16) | u32::from(c.encoding);
            out.extend_from_slice(&word.to_be_bytes());
            out.extend_from_slice(&c.name_padded);
            out.extend_from_slice(&c.guid.0);
            out.extend_from_slice(&c.decoded_size.to_be_bytes());
            out.extend_from_slice(&c.content_lines.to_be_bytes());
        }
        // A malformed tree (more children than sub-parts) would not decode; write only what fits.
        for c in self
            .children
            .iter()
            .take(self.entries.len().saturating_sub(1))
        {
            c.write(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn nocharset(size: u32, lines: u32) -> CharsetInfo {
        CharsetInfo {
            encoding: CharsetInfo::NO_CHARSET,
            name_padded: Vec::new(),
            guid: Guid([1; 20]),
            decoded_size: size,
            content_lines: lines,
        }
    }

    #[test]
    fn single_text_part_is_116_bytes() {
        let part = |charset| PartEntry {
            header_offset: 0,
            header_size: 383,
            content_offset: 383,
            content_size: 16,
            charset,
        };
        let s = Section {
            entries: vec![
                part(nocharset(16, 1)),
                part(CharsetInfo::with_name(b"us-ascii", 0, Guid([2; 20]), 16, 1)),
            ],
            children: vec![Section::default()],
        };
        let b = s.encode();
        assert_eq!(b.len(), 116);
        assert_eq!(&b[20..24], &[0, 0, 0xff, 0xff]);
        assert_eq!(&b[68..72], &[0, 0x0c, 0, 0]);
        assert_eq!(&b[72..84], b"us-ascii\0\0\0\0");
        let back = Section::decode(&b, Path::new("x")).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.entries[1].charset.name(), b"us-ascii");
    }

    #[test]
    fn record_round_trip_and_crc() {
        let mut rec = CacheRecord::default();
        rec.items[0] = b"(NIL)".to_vec();
        rec.items[9] = b"\"s\"".to_vec();
        let mut file = vec![0, 0, 0, 0];
        file.extend_from_slice(&rec.encode());
        let (back, crc) = CacheRecord::decode_at(&file, 4, Path::new("x")).unwrap();
        assert_eq!(back, rec);
        assert_eq!(crc, rec.crc());
        assert!(CacheRecord::read_checked(&file, 4, crc ^ 1, Path::new("x")).is_err());
        assert!(CacheRecord::decode_at(&file[..file.len() - 4], 4, Path::new("x")).is_err());
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..600),
                                    off in 0u64..700) {
            let _ = Section::decode(&b, Path::new("x"));
            let _ = CacheRecord::decode_at(&b, off, Path::new("x"));
        }

        #[test]
        fn small_counts_never_panic(words in proptest::collection::vec(0u32..4, 0..80)) {
            let b: Vec<u8> = words.iter().flat_map(|w| w.to_be_bytes()).collect();
            let _ = Section::decode(&b, Path::new("x"));
        }
    }
}
