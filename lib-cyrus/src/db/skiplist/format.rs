//! The bytes of a skiplist file, as Cyrus 3.6's `lib/cyrusdb_skiplist.c` lays them out.
//!
//! All integers are 32-bit big-endian and every record starts on a 4-byte boundary. A 48-byte
//! header is followed by the DUMMY node (the list head, one pointer per possible level) at
//! offset 48. After it come the INORDER records a checkpoint wrote, in key order, up to the
//! header's `logstart`; then the log: ADD and DELETE records, each transaction closed by a
//! COMMIT. A node (DUMMY, INORDER, ADD) is `type, keylen, key, pad, datalen, data, pad,
//! pointers..., 0xFFFFFFFF`: its level is the number of pointer words before that end marker.
//! A DELETE is `type, offset of the node it removes`; a COMMIT is the type word alone.
//! Pointers are absolute offsets, 0 meaning "end of list"; writers patch them in place, so
//! the list is always walkable from the DUMMY without replaying the log.
//!
//! Everything here reads from a byte slice and checks its bounds: a damaged file yields
//! [`Error::Corrupt`], never a panic.

use crate::error::{Error, Result};
use std::cmp::Ordering;
use std::io::Write;
use std::path::Path;

/// The 20 magic bytes a skiplist file starts with.
pub const MAGIC: &[u8; 20] = b"\xa1\x02\x8b\x0dskiplist file\0\0\0";
/// Size of the header, and so the offset of the DUMMY node.
pub const HEADER_SIZE: usize = 48;
/// Offset of the DUMMY node.
pub const DUMMY_OFFSET: u32 = HEADER_SIZE as u32;
/// The only major version Cyrus reads.
pub const VERSION: u32 = 1;
/// The minor version Cyrus writes into new files.
pub const VERSION_MINOR: u32 = 2;
/// The most levels a node can have; Cyrus refuses files claiming more.
pub const MAXLEVEL: u32 = 20;
/// Below this much log (beyond twice the checkpointed part) a commit does not repack.
pub const MINREWRITE: u64 = 16834;

/// Record type of a node written by a checkpoint.
pub const INORDER: u32 = 1;
/// Record type of a node appended by a store.
pub const ADD: u32 = 2;
/// Record type of a deletion (or of the old node an overwrite replaces).
pub const DELETE: u32 = 4;
/// Record type that closes a transaction.
pub const COMMIT: u32 = 255;
/// Record type of the list head.
pub const DUMMY: u32 = 257;
/// The word that ends every node, after its pointers.
pub const END_MARK: u32 = 0xFFFF_FFFF;

/// The fields of the 48-byte header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Major version, always 1.
    pub version: u32,
    /// Minor version, 2 in files Cyrus 3.6 creates.
    pub version_minor: u32,
    /// Number of pointers in the DUMMY node (20).
    pub maxlevel: u32,
    /// Highest level any node may use; searches start there.
    pub curlevel: u32,
    /// Live records as of the last checkpoint or recovery (stores do not update it).
    pub listsize: u32,
    /// End of the checkpointed INORDER records, where the log begins.
    pub logstart: u32,
    /// Unix time of the last recovery or checkpoint.
    pub last_recovery: u32,
}

impl Header {
    /// The header of a new, empty file.
    pub fn new(now: u32) -> Header {
        Header {
            version: VERSION,
            version_minor: VERSION_MINOR,
            maxlevel: MAXLEVEL,
            curlevel: 1,
            listsize: 0,
            logstart: DUMMY_OFFSET + dummy_size(MAXLEVEL),
            last_recovery: now,
        }
    }

    /// Reads and checks the header and the DUMMY node of a whole file image.
    pub fn parse(buf: &[u8], path: &Path) -> Result<Header> {
        let bad = |what: &str| Error::corrupt(path, format!("skiplist header: {what}"));
        if buf.len() < HEADER_SIZE {
            return Err(bad("file too short"));
        }
        if buf.get(..MAGIC.len()) != Some(&MAGIC[..]) {
            return Err(bad("bad magic"));
        }
        let h = Header {
            version: be32(buf, 20, path)?,
            version_minor: be32(buf, 24, path)?,
            maxlevel: be32(buf, 28, path)?,
            curlevel: be32(buf, 32, path)?,
            listsize: be32(buf, 36, path)?,
            logstart: be32(buf, 40, path)?,
            last_recovery: be32(buf, 44, path)?,
        };
        if h.version != VERSION {
            return Err(bad(&format!("version {}.{}", h.version, h.version_minor)));
        }
        if h.maxlevel == 0 || h.maxlevel > MAXLEVEL {
            return Err(bad(&format!("maxlevel {}", h.maxlevel)));
        }
        if h.curlevel > h.maxlevel {
            return Err(bad(&format!("curlevel {} > maxlevel", h.curlevel)));
        }
        let dummy = Node::parse(buf, DUMMY_OFFSET, h.maxlevel, path)?;
        if dummy.kind != DUMMY || dummy.klen != 0 || dummy.dlen != 0 {
            return Err(bad("first node is not an empty DUMMY"));
        }
        if dummy.level != h.maxlevel {
            return Err(bad("DUMMY level differs from maxlevel"));
        }
        Ok(h)
    }

    /// The header's 48 bytes.
    pub fn to_bytes(self) -> [u8; HEADER_SIZE] {
        let mut b = [0u8; HEADER_SIZE];
        let fields = [
            self.version,
            self.version_minor,
            self.maxlevel,
            self.curlevel,
            self.listsize,
            self.logstart,
            self.last_recovery,
        ];
        let (magic, rest) = b.split_at_mut(MAGIC.len());
        magic.copy_from_slice(MAGIC);
        for (chunk, v) in rest.chunks_exact_mut(4).zip(fields) {
            chunk.copy_from_slice(&v.to_be_bytes());
        }
        b
    }
}

/// Size of a DUMMY node with `maxlevel` pointers.
pub fn dummy_size(maxlevel: u32) -> u32 {
    4 * (3 + maxlevel + 1)
}

/// `n` rounded up to a multiple of 4, without overflow.
pub fn roundup(n: u64) -> u64 {
    (n + 3) & !3
}

/// The big-endian word at `off`.
pub fn be32(buf: &[u8], off: usize, path: &Path) -> Result<u32> {
    let end = off.checked_add(4);
    match end.and_then(|e| buf.get(off..e)) {
        Some(&[a, b, c, d]) => Ok(u32::from_be_bytes([a, b, c, d])),
        _ => Err(Error::corrupt(
            path,
            format!("skiplist: read past end of file at {off:#x}"),
        )),
    }
}

/// A node (DUMMY, INORDER or ADD) found at some offset, with its parts located.
#[derive(Clone, Copy, Debug)]
pub struct Node {
    /// Offset of the record.
    pub off: u32,
    /// Record type.
    pub kind: u32,
    /// Key length.
    pub klen: u32,
    /// Data length.
    pub dlen: u32,
    /// Number of pointers.
    pub level: u32,
    /// Offset of the first pointer word.
    ptrs: usize,
    /// Offset just past the end marker.
    end: usize,
}

impl Node {
    /// Locates the node at `off`, checking that its key, data, pointers and end marker lie
    /// inside `buf` and that it has between 1 and `maxlevel` pointers.
    pub fn parse(buf: &[u8], off: u32, maxlevel: u32, path: &Path) -> Result<Node> {
        let bad = |what: &str| Error::corrupt(path, format!("skiplist node at {off:#x}: {what}"));
        let o = off as u64;
        let kind = be32(buf, off as usize, path)?;
        if !matches!(kind, DUMMY | INORDER | ADD) {
            return Err(bad(&format!("type {kind} is not a node")));
        }
        let klen = be32(buf, (o + 4) as usize, path)?;
        let dlen_at = o + 8 + roundup(klen as u64);
        let dlen = be32(buf, usize_of(dlen_at, buf, path)?, path)?;
        let ptrs = dlen_at + 4 + roundup(dlen as u64);
        let mut at = ptrs;
        let mut level = 0u32;
        loop {
            let w = be32(buf, usize_of(at, buf, path)?, path)?;
            if w == END_MARK {
                break;
            }
            level += 1;
            if level > maxlevel {
                return Err(bad("more pointers than maxlevel"));
            }
            at += 4;
        }
        if level == 0 {
            return Err(bad("no pointers"));
        }
        Ok(Node {
            off,
            kind,
            klen,
            dlen,
            level,
            ptrs: ptrs as usize,
            end: (at + 4) as usize,
        })
    }

    /// Total size of the record in bytes.
    pub fn size(&self) -> u32 {
        (self.end - self.off as usize) as u32
    }

    /// The key bytes.
    pub fn key<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        let start = self.off as usize + 8;
        buf.get(start..start + self.klen as usize).unwrap_or(&[])
    }

    /// The data bytes.
    pub fn data<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        let start = self.ptrs - roundup(self.dlen as u64) as usize;
        buf.get(start..start + self.dlen as usize).unwrap_or(&[])
    }

    /// Offset of the word holding pointer `i` (which must be below the level).
    pub fn ptr_slot(&self, i: u32) -> u32 {
        (self.ptrs + 4 * i as usize) as u32
    }

    /// Pointer `i`; a level the node does not have is corruption.
    pub fn forward(&self, buf: &[u8], i: u32, path: &Path) -> Result<u32> {
        if i >= self.level {
            return Err(Error::corrupt(
                path,
                format!(
                    "skiplist node at {:#x}: reached at level {i} but has only {} levels",
                    self.off, self.level
                ),
            ));
        }
        be32(buf, self.ptrs + 4 * i as usize, path)
    }
}

/// Converts a computed offset to an index, refusing ones beyond the file.
fn usize_of(v: u64, buf: &[u8], path: &Path) -> Result<usize> {
    if v >= buf.len() as u64 {
        return Err(Error::corrupt(
            path,
            format!("skiplist: offset {v:#x} beyond end of file"),
        ));
    }
    Ok(v as usize)
}

/// The size of any record at `off`: nodes, DELETE (8 bytes) or COMMIT (4 bytes).
pub fn record_size(buf: &[u8], off: u32, maxlevel: u32, path: &Path) -> Result<u32> {
    match be32(buf, off as usize, path)? {
        DELETE => be32(buf, off as usize + 4, path).map(|_| 8),
        COMMIT => Ok(4),
        DUMMY | INORDER | ADD => Node::parse(buf, off, maxlevel, path).map(|n| n.size()),
        t => Err(Error::corrupt(
            path,
            format!("skiplist: unknown record type {t} at {off:#x}"),
        )),
    }
}

/// Serialises a node of type `kind`: header words, key, data, zero padding, the pointers and
/// the end marker.
pub fn encode_node(kind: u32, key: &[u8], data: &[u8], ptrs: &[u32]) -> Vec<u8> {
    let mut v = Vec::with_capacity(16 + key.len() + data.len() + 4 * ptrs.len() + 6);
    v.extend_from_slice(&kind.to_be_bytes());
    v.extend_from_slice(&(key.len() as u32).to_be_bytes());
    v.extend_from_slice(key);
    v.resize(roundup(v.len() as u64) as usize, 0);
    v.extend_from_slice(&(data.len() as u32).to_be_bytes());
    v.extend_from_slice(data);
    v.resize(roundup(v.len() as u64) as usize, 0);
    for p in ptrs {
        v.extend_from_slice(&p.to_be_bytes());
    }
    v.extend_from_slice(&END_MARK.to_be_bytes());
    v
}

/// The DUMMY node: no key or data, `maxlevel` null pointers.
pub fn encode_dummy(maxlevel: u32) -> Vec<u8> {
    encode_node(DUMMY, b"", b"", &vec![0; maxlevel as usize])
}

/// Cyrus's default skiplist order: bytes compared as *signed* chars, then shorter first.
/// (It is `compare_signed` in the C source, kept for compatibility with old files.)
pub fn compare_signed(a: &[u8], b: &[u8]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        match (*x as i8).cmp(&(*y as i8)) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    a.len().cmp(&b.len())
}

/// Writes the record-by-record listing of `cyr_dbtool ... skiplist dump`: from the DUMMY to
/// the end of the file, each record's offset and type, then its lengths and pointers.
pub fn dump(buf: &[u8], maxlevel: u32, out: &mut dyn Write, path: &Path) -> Result<()> {
    let io = |e| Error::io(path, e);
    let mut off = DUMMY_OFFSET;
    while (off as usize) < buf.len() {
        write!(out, "{off:04X}: ").map_err(io)?;
        match be32(buf, off as usize, path)? {
            kind @ (DUMMY | INORDER | ADD) => {
                let n = Node::parse(buf, off, maxlevel, path)?;
                let name = match kind {
                    DUMMY => "DUMMY",
                    INORDER => "INORDER",
                    _ => "ADD",
                };
                // Cyrus prints the lengths with %d, so huge ones come out negative.
                writeln!(
                    out,
                    "{name} kl={} dl={} lvl={}",
                    n.klen as i32, n.dlen as i32, n.level
                )
                .map_err(io)?;
                write!(out, "\t").map_err(io)?;
                for i in 0..n.level {
                    write!(out, "{:04X} ", n.forward(buf, i, path)?).map_err(io)?;
                }
                writeln!(out).map_err(io)?;
            }
            DELETE => {
                let target = be32(buf, off as usize + 4, path)?;
                writeln!(out, "DELETE offset={target:04X}").map_err(io)?;
            }
            COMMIT => writeln!(out, "COMMIT ").map_err(io)?,
            t => {
                // Cyrus would spin here forever; stop with an error instead.
                return Err(Error::corrupt(
                    path,
                    format!("skiplist: unknown record type {t} at {off:#x}"),
                ));
            }
        }
        off += record_size(buf, off, maxlevel, path)?;
    }
    Ok(())
}
