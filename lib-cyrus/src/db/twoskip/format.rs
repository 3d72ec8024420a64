//! The twoskip file format: header, record heads, pointer slots and CRCs.
//!
//! Everything here is pure: bytes in, values out, and the reverse. The layout is Cyrus 3.6's
//! (`lib/cyrusdb_twoskip.c`; spec/twoskip.md in the shared docs): big-endian integers, 8-byte
//! aligned records, a 64-byte header and a DUMMY list head at offset 64.

use std::ops::Range;

/// The 20 bytes every twoskip file starts with.
pub const MAGIC: [u8; 20] = *b"\xa1\x02\x8b\x0dtwoskip file\0\0\0\0";
/// The only format version there is.
pub const VERSION: u32 = 1;
/// Size of the header.
pub const HEADER_SIZE: u64 = 64;
/// Offset of the DUMMY record, the head of every list.
pub const DUMMY_OFFSET: u64 = HEADER_SIZE;
/// Level byte of DUMMY: 32 pointer slots, logical levels 0..=30.
pub const MAX_LEVEL: u8 = 31;
/// Size of the DUMMY record.
pub const DUMMY_SIZE: u64 = 8 + 8 * (MAX_LEVEL as u64 + 1) + 8;
/// Size of a new, empty database.
pub const EMPTY_SIZE: u64 = HEADER_SIZE + DUMMY_SIZE;
/// Header flag: a write transaction is or was in progress.
pub const FLAG_DIRTY: u32 = 1;
/// The 8-byte filler that may sit between records.
pub const BLANK: [u8; 8] = [0x20, 0x42, 0x4c, 0x41, 0x4e, 0x4b, 0x07, 0xa0];
/// Cyrus repacks only files bigger than this (its `MINREWRITE`, with the digits as written).
pub const MIN_REWRITE: u64 = 16834;

/// Record type bytes.
pub mod rtype {
    /// The list head.
    pub const DUMMY: u8 = b'=';
    /// A key and its value.
    pub const RECORD: u8 = b'+';
    /// A deletion marker on level 0.
    pub const DELETE: u8 = b'-';
    /// The end of a transaction.
    pub const COMMIT: u8 = b'$';
}

/// The fields of the 64-byte header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Bumped by every repack and by the slow recovery.
    pub generation: u64,
    /// Live keys.
    pub num_records: u64,
    /// File size right after the last repack.
    pub repack_size: u64,
    /// Length of the committed file.
    pub current_size: u64,
    /// `FLAG_DIRTY` or 0.
    pub flags: u32,
}

/// Why a header was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// Fewer than 64 bytes.
    Short,
    /// Not a twoskip file.
    Magic,
    /// A version this code does not know.
    Version(u32),
    /// The header CRC does not match.
    Crc,
}

impl Header {
    /// The header of a fresh database.
    pub fn new() -> Header {
        Header {
            generation: 1,
            num_records: 0,
            repack_size: EMPTY_SIZE,
            current_size: EMPTY_SIZE,
            flags: 0,
        }
    }

    /// Decodes and checks a header (`check_crc` false for `CYRUSDB_NOCRC`).
    pub fn decode(b: &[u8], check_crc: bool) -> Result<Header, HeaderError> {
        let b = b.get(..HEADER_SIZE as usize).ok_or(HeaderError::Short)?;
        if b[..20] != MAGIC {
            return Err(HeaderError::Magic);
        }
        let version = be32(b, 20);
        if version > VERSION {
            return Err(HeaderError::Version(version));
        }
        if check_crc && be32(b, 60) != crc32(&b[..60]) {
            return Err(HeaderError::Crc);
        }
        Ok(Header {
            generation: be64(b, 24),
            num_records: be64(b, 32),
            repack_size: be64(b, 40),
            current_size: be64(b, 48),
            flags: be32(b, 56),
        })
    }

    /// The 64 bytes of this header, CRC included.
    pub fn encode(&self) -> [u8; HEADER_SIZE as usize] {
        let mut b = [0u8; HEADER_SIZE as usize];
        b[..20].copy_from_slice(&MAGIC);
        b[20..24].copy_from_slice(&VERSION.to_be_bytes());
        b[24..32].copy_from_slice(&self.generation.to_be_bytes());
        b[32..40].copy_from_slice(&self.num_records.to_be_bytes());
        b[40..48].copy_from_slice(&self.repack_size.to_be_bytes());
        b[48..56].copy_from_slice(&self.current_size.to_be_bytes());
        b[56..60].copy_from_slice(&self.flags.to_be_bytes());
        let crc = crc32(&b[..60]);
        b[60..64].copy_from_slice(&crc.to_be_bytes());
        b
    }

    /// Whether a write transaction was left unfinished.
    pub fn dirty(&self) -> bool {
        self.flags & FLAG_DIRTY != 0
    }
}

impl Default for Header {
    fn default() -> Self {
        Header::new()
    }
}

/// The zlib CRC-32 Cyrus uses.
pub fn crc32(b: &[u8]) -> u32 {
    crc32fast::hash(b)
}

/// Big-endian u32 at `off`; callers have checked the bounds.
pub fn be32(b: &[u8], off: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[off..off + 4]);
    u32::from_be_bytes(a)
}

/// Big-endian u64 at `off`; callers have checked the bounds.
pub fn be64(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_be_bytes(a)
}

/// `n` rounded up to a multiple of 8.
pub fn round8(n: u64) -> u64 {
    n.div_ceil(8) * 8
}

/// A decoded record head. Offsets are absolute file offsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rec {
    /// Where the record starts.
    pub offset: u64,
    /// One of [`rtype`].
    pub rtype: u8,
    /// The level byte: the record has `level + 1` pointer slots.
    pub level: u8,
    /// Key length.
    pub keylen: u64,
    /// Value length.
    pub vallen: u64,
    /// Bytes from the record start to the first pointer slot (8, 16 or 24).
    pub ptr_start: u64,
    /// CRC of the head as stored.
    pub crc_head: u32,
    /// CRC of key, value and padding as stored.
    pub crc_tail: u32,
}

/// Why a record could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum RecError {
    /// The record runs past the end of the readable region.
    Truncated,
    /// An unknown type byte or a level out of range.
    Malformed,
    /// The stored head CRC does not match.
    HeadCrc,
}

impl Rec {
    /// Length of the head: everything up to and including the two CRCs.
    pub fn head_len(&self) -> u64 {
        self.ptr_start + 8 * (self.level as u64 + 1) + 8
    }

    /// Total length of the record, padding included.
    pub fn len(&self) -> u64 {
        self.head_len() + round8(self.keylen + self.vallen)
    }

    /// Always false: a record has at least a head.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Position of the pointer slot `slot` relative to the record start.
    pub fn slot_pos(&self, slot: usize) -> u64 {
        self.ptr_start + 8 * slot as u64
    }

    /// Where the key lies in the file.
    pub fn key_range(&self) -> Range<u64> {
        let start = self.offset + self.head_len();
        start..start + self.keylen
    }

    /// Where the value lies in the file.
    pub fn val_range(&self) -> Range<u64> {
        let start = self.offset + self.head_len() + self.keylen;
        start..start + self.vallen
    }

    /// Where key, value and padding (what `crc_tail` covers) lie in the file.
    pub fn tail_range(&self) -> Range<u64> {
        let start = self.offset + self.head_len();
        start..start + round8(self.keylen + self.vallen)
    }

    /// Decodes the head of the record that starts at `b[0]`, which is file offset `offset`.
    /// `b` may run to the end of the readable region; the key and value need not be in it.
    pub fn decode(b: &[u8], offset: u64, check_crc: bool) -> Result<Rec, RecError> {
        let fixed = b.get(..8).ok_or(RecError::Truncated)?;
        let rtype = fixed[0];
        let level = fixed[1];
        let valid = match rtype {
            rtype::DUMMY => level == MAX_LEVEL,
            rtype::RECORD => (1..=MAX_LEVEL).contains(&level),
            rtype::DELETE | rtype::COMMIT => level == 0,
            _ => false,
        };
        if !valid {
            return Err(RecError::Malformed);
        }
        let mut keylen = u16::from_be_bytes([fixed[2], fixed[3]]) as u64;
        let mut vallen = be32(fixed, 4) as u64;
        let mut pos = 8usize;
        if keylen == 0xffff {
            keylen = be64(b.get(..pos + 8).ok_or(RecError::Truncated)?, pos);
            pos += 8;
        }
        if vallen == 0xffff_ffff {
            vallen = be64(b.get(..pos + 8).ok_or(RecError::Truncated)?, pos);
            pos += 8;
        }
        let crc_pos = pos + 8 * (level as usize + 1);
        let head = b.get(..crc_pos + 8).ok_or(RecError::Truncated)?;
        let crc_head = be32(head, crc_pos);
        let crc_tail = be32(head, crc_pos + 4);
        if check_crc && crc_head != crc32(&head[..crc_pos]) {
            return Err(RecError::HeadCrc);
        }
        // A length that cannot fit in any file is damage, and would overflow offset maths.
        if keylen > (1 << 48) || vallen > (1 << 48) {
            return Err(RecError::Malformed);
        }
        Ok(Rec {
            offset,
            rtype,
            level,
            keylen,
            vallen,
            ptr_start: pos as u64,
            crc_head,
            crc_tail,
        })
    }
}

/// Appends a complete record to `out`: head with `ptrs` (one per slot), CRCs, key, value and
/// padding. Returns the length written.
pub fn encode_record(out: &mut Vec<u8>, rt: u8, ptrs: &[u64], key: &[u8], val: &[u8]) -> u64 {
    let start = out.len();
    let level = (ptrs.len() - 1) as u8;
    out.push(rt);
    out.push(level);
    let klen = key.len() as u64;
    let vlen = val.len() as u64;
    let kesc = klen >= 0xffff;
    let vesc = vlen >= 0xffff_ffff;
    out.extend_from_slice(&(if kesc { 0xffff } else { klen as u16 }).to_be_bytes());
    out.extend_from_slice(&(if vesc { 0xffff_ffff } else { vlen as u32 }).to_be_bytes());
    if kesc {
        out.extend_from_slice(&klen.to_be_bytes());
    }
    if vesc {
        out.extend_from_slice(&vlen.to_be_bytes());
    }
    for p in ptrs {
        out.extend_from_slice(&p.to_be_bytes());
    }
    let crc_head = crc32(&out[start..]);
    out.extend_from_slice(&crc_head.to_be_bytes());
    let tail_start = out.len() + 4;
    out.extend_from_slice(&[0u8; 4]);
    out.extend_from_slice(key);
    out.extend_from_slice(val);
    let pad = (round8(klen + vlen) - (klen + vlen)) as usize;
    out.extend_from_slice(&[0u8; 8][..pad]);
    let crc_tail = crc32(&out[tail_start..]);
    out[tail_start - 4..tail_start].copy_from_slice(&crc_tail.to_be_bytes());
    (out.len() - start) as u64
}

/// The head length of a record with this key/value length and level, before it is written.
pub fn head_len_for(keylen: u64, vallen: u64, level: u8) -> u64 {
    let mut n = 8;
    if keylen >= 0xffff {
        n += 8;
    }
    if vallen >= 0xffff_ffff {
        n += 8;
    }
    n + 8 * (level as u64 + 1) + 8
}

/// How many BLANK words to write at `end` before a record whose head is `head_len` bytes, so
/// that the rewritable part of the head stays inside one 512-byte block as Cyrus keeps it.
pub fn blanks_before(end: u64, head_len: u64) -> u64 {
    if head_len > 504 {
        return 0;
    }
    let mut e = end;
    let mut n = 0;
    while (e + 8) % 512 > (e + head_len - 8) % 512 {
        e += 8;
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_checks_its_crc() {
        let h = Header {
            generation: 7,
            num_records: 3,
            repack_size: 336,
            current_size: 1000,
            flags: FLAG_DIRTY,
        };
        let mut b = h.encode();
        assert_eq!(Header::decode(&b, true), Ok(h));
        b[30] ^= 1;
        assert_eq!(Header::decode(&b, true), Err(HeaderError::Crc));
        assert!(Header::decode(&b, false).is_ok());
        assert_eq!(Header::decode(&b[..10], true), Err(HeaderError::Short));
    }

    #[test]
    fn record_matches_the_verified_example() {
        // spec/twoskip.md §9: the first record of a file Debian's cyr_dbtool wrote.
        let mut out = Vec::new();
        let n = encode_record(&mut out, rtype::RECORD, &[0, 0], b"key", b"value");
        assert_eq!(n, 40);
        assert_eq!(&out[..8], &[0x2b, 1, 0, 3, 0, 0, 0, 5]);
        assert_eq!(be32(&out, 24), 0xC3C7_2577);
        assert_eq!(be32(&out, 28), 0xC655_F3E6);
        let r = Rec::decode(&out, 0x150, true).unwrap();
        assert_eq!((r.keylen, r.vallen, r.level, r.len()), (3, 5, 1, 40));
        assert_eq!(r.key_range(), 0x150 + 32..0x150 + 35);
    }

    #[test]
    fn blank_rule_matches_the_verified_example() {
        // A level-4 record appended at 0x1D0 lands at 0x1F8 after five BLANKs.
        assert_eq!(blanks_before(0x1d0, head_len_for(3, 6, 4)), 5);
        assert_eq!(blanks_before(0x150, head_len_for(3, 5, 1)), 0);
    }

    #[test]
    fn bad_heads_are_refused() {
        assert_eq!(Rec::decode(b"+\x00", 0, true), Err(RecError::Truncated));
        assert_eq!(
            Rec::decode(&[b'+', 0, 0, 1, 0, 0, 0, 0], 0, true),
            Err(RecError::Malformed)
        );
        assert_eq!(
            Rec::decode(&[b'x', 1, 0, 1, 0, 0, 0, 0], 0, true),
            Err(RecError::Malformed)
        );
        let mut out = Vec::new();
        encode_record(&mut out, rtype::RECORD, &[0, 0], b"k", b"v");
        out[9] ^= 0xff;
        assert_eq!(Rec::decode(&out, 0, true), Err(RecError::HeadCrc));
    }

    #[test]
    fn long_keys_and_values_use_the_escape() {
        let key = vec![b'k'; 0x10000];
        let mut out = Vec::new();
        encode_record(&mut out, rtype::RECORD, &[0, 0], &key, b"");
        let r = Rec::decode(&out, 0, true).unwrap();
        assert_eq!((r.keylen, r.ptr_start), (0x10000, 16));
        assert_eq!(r.len() as usize, out.len());
    }
}
