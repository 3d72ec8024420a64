//! `cyrus.index`: the fixed-size header and the per-message records of a mailbox, in the
//! layout Cyrus 3.6 writes (minor version 17: 160-byte header, 112-byte records, big-endian).
//!
//! Every field is kept, including the spare bytes, so decoding and re-encoding a file gives
//! back the same bytes. Both CRCs are checked on decode and computed on encode. Headers and
//! records of the older minor versions 3.6 still opens (6–16) are decoded too, into the same
//! types with the fields those versions lack left at zero; they are never written.

use crate::error::{Error, Result};
use std::fmt;
use std::path::Path;

/// Name of the index file in a mailbox directory.
pub const FILE_NAME: &str = "cyrus.index";
/// The minor version this crate writes (Cyrus 3.6's).
pub const MINOR_VERSION: u32 = 17;
/// Size of a v17 index header.
pub const HEADER_SIZE: usize = 160;
/// Size of a v17 index record.
pub const RECORD_SIZE: usize = 112;
/// The cache record layout version written into new records.
pub const CACHE_VERSION: u16 = 11;
/// `synccrcs.annot` of a mailbox without annotations.
pub const SYNC_CRC_ANNOT_INITIAL: u32 = 12345678;

/// The header length of each minor version Cyrus 3.6 can read, or `None` for the others.
pub fn header_size(minor: u32) -> Option<usize> {
    match minor {
        6 | 7 => Some(76),
        8 => Some(92),
        9 | 10 => Some(96),
        12 | 13 => Some(128),
        14..=17 => Some(160),
        _ => None,
    }
}

/// The record length of each minor version Cyrus 3.6 can read, or `None` for the others.
pub fn record_size(minor: u32) -> Option<usize> {
    match minor {
        6 => Some(60),
        7 => Some(72),
        8 | 9 => Some(80),
        10 => Some(88),
        12 => Some(96),
        13..=15 => Some(104),
        16 | 17 => Some(112),
        _ => None,
    }
}

fn be32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u32::from_be_bytes)
}

fn be64(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u64::from_be_bytes)
}

fn put32(b: &mut [u8], at: usize, v: u32) {
    if let Some(s) = b.get_mut(at..at + 4) {
        s.copy_from_slice(&v.to_be_bytes());
    }
}

fn put64(b: &mut [u8], at: usize, v: u64) {
    if let Some(s) = b.get_mut(at..at + 8) {
        s.copy_from_slice(&v.to_be_bytes());
    }
}

/// Mailbox option bits of the index header (`OPT_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options(pub u32);

impl Options {
    /// POP3 clients get new UIDLs (`OPT_POP3_NEW_UIDL`).
    pub const POP3_NEW_UIDL: u32 = 1 << 0;
    /// Obsolete CONDSTORE bit; never set by 3.x, never to be reused.
    pub const OBSOLETE_CONDSTORE: u32 = 1 << 1;
    /// \Seen is shared by all users (`OPT_IMAP_SHAREDSEEN`).
    pub const SHAREDSEEN: u32 = 1 << 2;
    /// Duplicate delivery suppression is off for this mailbox (`OPT_IMAP_DUPDELIVER`).
    pub const DUPDELIVER: u32 = 1 << 3;
    /// Some message has a JMAP alarm (`OPT_IMAP_HAS_ALARMS`).
    pub const HAS_ALARMS: u32 = 1 << 4;
    /// Message files wait to be unlinked (`OPT_MAILBOX_NEEDS_UNLINK`).
    pub const NEEDS_UNLINK: u32 = 1 << 29;
    /// The index wants a repack (`OPT_MAILBOX_NEEDS_REPACK`).
    pub const NEEDS_REPACK: u32 = 1 << 30;
    /// The mailbox is being deleted; opens treat it as nonexistent (`OPT_MAILBOX_DELETED`).
    pub const MAILBOX_DELETED: u32 = 1 << 31;

    /// Whether all of `bits` are set.
    pub fn has(self, bits: u32) -> bool {
        self.0 & bits == bits
    }
}

/// A cyrus.index header, every field of minor version 17.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexHeader {
    /// +1 at every repack; cyrus.cache starts with the same number.
    pub generation_no: u32,
    /// Always 0 (`FORMAT_NORMAL`).
    pub format: u32,
    /// Minor version of the layout.
    pub minor_version: u32,
    /// Offset of the first record (the header length).
    pub start_offset: u32,
    /// Length of one record.
    pub record_size: u32,
    /// Records in the file, including expunged ones not yet repacked away.
    pub num_records: u32,
    /// Time of the last append.
    pub last_appenddate: u32,
    /// Highest UID ever given out.
    pub last_uid: u32,
    /// Bytes of the non-expunged messages.
    pub quota_mailbox_used: u64,
    /// Time of the last POP3 login.
    pub pop3_last_login: u32,
    /// UIDVALIDITY.
    pub uidvalidity: u32,
    /// Non-expunged messages with \Deleted.
    pub deleted: u32,
    /// Non-expunged messages with \Answered.
    pub answered: u32,
    /// Non-expunged messages with \Flagged.
    pub flagged: u32,
    /// Mailbox option bits.
    pub options: Options,
    /// Cache records no index record points at any more.
    pub leaked_cache_records: u32,
    /// HIGHESTMODSEQ.
    pub highestmodseq: u64,
    /// Highest modseq of the records a repack removed.
    pub deletedmodseq: u64,
    /// Non-expunged records.
    pub exists: u32,
    /// `last_updated` of the oldest expunged record.
    pub first_expunged: u32,
    /// Time of the last repack.
    pub last_repack_time: u32,
    /// CRC32 of the whole cyrus.header file.
    pub header_file_crc: u32,
    /// XOR of the per-record replication CRCs.
    pub synccrc_basic: u32,
    /// Last UID the owner has seen as \Recent.
    pub recentuid: u32,
    /// When `recentuid` was last set.
    pub recenttime: u32,
    /// POP3 hides messages delivered before this time.
    pub pop3_show_after: u32,
    /// Bytes of per-message annotations (u32 on disk).
    pub quota_annot_used: u32,
    /// Replication CRC over annotations.
    pub synccrc_annot: u32,
    /// The owner's unseen count.
    pub unseen: u32,
    /// Modseq at which the mailbox was created.
    pub createdmodseq: u64,
    /// When the change history starts (Cyrus sets it on create and repack).
    pub changes_epoch: u32,
    /// The 16 spare bytes at 140, kept as read (zero when written by Cyrus).
    pub spare: [u8; 16],
}

impl IndexHeader {
    /// Decodes a header of any minor version 3.6 reads (6–17), checking its CRC where the
    /// version has one. Like Cyrus's reader, it does not apply the in-memory fix-ups
    /// (`exists == 0` implies POP3_NEW_UIDL, `highestmodseq` at least 1); see [`Self::effective_highestmodseq`].
    pub fn decode(b: &[u8], path: &Path) -> Result<IndexHeader> {
        if b.len() < 12 {
            return Err(Error::corrupt(path, "cyrus.index: header too short"));
        }
        let minor = be32(b, 8);
        let len = header_size(minor).ok_or_else(|| {
            Error::corrupt(path, format!("cyrus.index: unknown minor version {minor}"))
        })?;
        let b = b
            .get(..len)
            .ok_or_else(|| Error::corrupt(path, "cyrus.index: header too short"))?;
        if minor >= 12 && be32(b, len - 4) != crc32fast::hash(&b[..len - 4]) {
            return Err(Error::corrupt(path, "cyrus.index: header CRC mismatch"));
        }
        let mut h = IndexHeader {
            generation_no: be32(b, 0),
            format: be32(b, 4),
            minor_version: minor,
            start_offset: be32(b, 12),
            record_size: be32(b, 16),
            num_records: be32(b, 20),
            last_appenddate: be32(b, 24),
            last_uid: be32(b, 28),
            quota_mailbox_used: be64(b, 32),
            pop3_last_login: be32(b, 40),
            uidvalidity: be32(b, 44),
            deleted: be32(b, 48),
            answered: be32(b, 52),
            flagged: be32(b, 56),
            options: Options(be32(b, 60)),
            leaked_cache_records: be32(b, 64),
            ..IndexHeader::default()
        };
        if minor >= 8 {
            h.highestmodseq = be64(b, 68);
        }
        if minor >= 12 {
            h.deletedmodseq = be64(b, 76);
            h.exists = be32(b, 84);
            h.first_expunged = be32(b, 88);
            h.last_repack_time = be32(b, 92);
            h.header_file_crc = be32(b, 96);
            h.synccrc_basic = be32(b, 100);
            h.recentuid = be32(b, 104);
            h.recenttime = be32(b, 108);
        } else {
            h.exists = h.num_records;
            h.deletedmodseq = h.highestmodseq;
        }
        if minor >= 13 {
            h.pop3_show_after = be32(b, 112);
            h.quota_annot_used = be32(b, 116);
            h.synccrc_annot = be32(b, 120);
        }
        if minor >= 14 {
            h.unseen = be32(b, 124);
        }
        if minor >= 16 {
            h.createdmodseq = be64(b, 128);
        }
        if minor >= 17 {
            h.changes_epoch = be32(b, 136);
            if let Some(s) = b.get(140..156) {
                h.spare.copy_from_slice(s);
            }
        }
        Ok(h)
    }

    /// Encodes as a v17 header (whatever `minor_version` says), with its CRC.
    pub fn encode(&self) -> [u8; HEADER_SIZE] {
        let mut b = [0u8; HEADER_SIZE];
        put32(&mut b, 0, self.generation_no);
        put32(&mut b, 4, self.format);
        put32(&mut b, 8, MINOR_VERSION);
        put32(&mut b, 12, self.start_offset);
        put32(&mut b, 16, self.record_size);
        put32(&mut b, 20, self.num_records);
        put32(&mut b, 24, self.last_appenddate);
        put32(&mut b, 28, self.last_uid);
        put64(&mut b, 32, self.quota_mailbox_used);
        put32(&mut b, 40, self.pop3_last_login);
        put32(&mut b, 44, self.uidvalidity);
        put32(&mut b, 48, self.deleted);
        put32(&mut b, 52, self.answered);
        put32(&mut b, 56, self.flagged);
        put32(&mut b, 60, self.options.0);
        put32(&mut b, 64, self.leaked_cache_records);
        put64(&mut b, 68, self.highestmodseq);
        put64(&mut b, 76, self.deletedmodseq);
        put32(&mut b, 84, self.exists);
        put32(&mut b, 88, self.first_expunged);
        put32(&mut b, 92, self.last_repack_time);
        put32(&mut b, 96, self.header_file_crc);
        put32(&mut b, 100, self.synccrc_basic);
        put32(&mut b, 104, self.recentuid);
        put32(&mut b, 108, self.recenttime);
        put32(&mut b, 112, self.pop3_show_after);
        put32(&mut b, 116, self.quota_annot_used);
        put32(&mut b, 120, self.synccrc_annot);
        put32(&mut b, 124, self.unseen);
        put64(&mut b, 128, self.createdmodseq);
        put32(&mut b, 136, self.changes_epoch);
        b[140..156].copy_from_slice(&self.spare);
        let crc = crc32fast::hash(&b[..156]);
        put32(&mut b, 156, crc);
        b
    }

    /// A fresh v17 header as Cyrus creates it for a new, empty mailbox.
    pub fn new_mailbox(uidvalidity: u32, modseq: u64, now: u32) -> IndexHeader {
        IndexHeader {
            minor_version: MINOR_VERSION,
            start_offset: HEADER_SIZE as u32,
            record_size: RECORD_SIZE as u32,
            uidvalidity,
            options: Options(Options::POP3_NEW_UIDL),
            highestmodseq: modseq,
            createdmodseq: modseq,
            changes_epoch: now,
            synccrc_annot: SYNC_CRC_ANNOT_INITIAL,
            ..IndexHeader::default()
        }
    }

    /// HIGHESTMODSEQ as Cyrus reports it: a stored 0 counts as 1.
    pub fn effective_highestmodseq(&self) -> u64 {
        self.highestmodseq.max(1)
    }
}

/// The IMAP system flags of a record: the low 16 bits of its flags word.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SystemFlags(pub u16);

impl SystemFlags {
    /// \Answered.
    pub const ANSWERED: u16 = 1 << 0;
    /// \Flagged.
    pub const FLAGGED: u16 = 1 << 1;
    /// \Deleted.
    pub const DELETED: u16 = 1 << 2;
    /// \Draft.
    pub const DRAFT: u16 = 1 << 3;
    /// \Seen (the owner's, or everyone's with SHAREDSEEN).
    pub const SEEN: u16 = 1 << 4;

    /// Whether all of `bits` are set.
    pub fn has(self, bits: u16) -> bool {
        self.0 & bits == bits
    }
}

/// Cyrus's own per-message state: the high 16 bits of the flags word, kept in place.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InternalFlags(pub u32);

impl InternalFlags {
    /// Snoozed by JMAP.
    pub const SNOOZED: u32 = 1 << 26;
    /// The conversation was split.
    pub const SPLITCONVERSATION: u32 = 1 << 27;
    /// The file must be moved to or from the archive partition, or removed.
    pub const NEEDS_CLEANUP: u32 = 1 << 28;
    /// File and cache live on the archive partition.
    pub const ARCHIVED: u32 = 1 << 29;
    /// The message file is gone.
    pub const UNLINKED: u32 = 1 << 30;
    /// Expunged; the record stays until a repack.
    pub const EXPUNGED: u32 = 1 << 31;

    /// Whether all of `bits` are set.
    pub fn has(self, bits: u32) -> bool {
        self.0 & bits == bits
    }
}

/// A message GUID: the SHA-1 of its file.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Guid(pub [u8; 20]);

impl Guid {
    /// The GUID Cyrus gives a message: the SHA-1 of its file's bytes.
    pub fn of(message: &[u8]) -> Guid {
        Guid(sha1_smol::Sha1::from(message).digest().bytes())
    }

    /// Whether this is the all-zero "no GUID".
    pub fn is_null(&self) -> bool {
        self.0 == [0; 20]
    }

    /// Lowercase hex, as Cyrus prints GUIDs.
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(40);
        for b in self.0 {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Guid({})", self.to_hex())
    }
}

/// One cyrus.index record, every field of minor version 17.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexRecord {
    /// The message UID.
    pub uid: u32,
    /// INTERNALDATE.
    pub internaldate: u32,
    /// Date part of `Date:` at 00:00 server local time.
    pub sentdate: u32,
    /// Size of the message file.
    pub size: u32,
    /// Header bytes including the blank line.
    pub header_size: u32,
    /// Full `Date:` in UTC.
    pub gmtime: u32,
    /// Offset of the message's record in cyrus.cache (48 bits).
    pub cache_offset: u64,
    /// Time of the last change to this record.
    pub last_updated: u32,
    /// IMAP system flags.
    pub system_flags: SystemFlags,
    /// Internal flags.
    pub internal_flags: InternalFlags,
    /// User flags: flag n is bit n%32 of word n/32.
    pub user_flags: [u32; 4],
    /// When the message was saved into this mailbox (v15+; content lines before).
    pub savedate: u32,
    /// Cache record layout version (11).
    pub cache_version: u16,
    /// SHA-1 of the message file.
    pub guid: Guid,
    /// MODSEQ.
    pub modseq: u64,
    /// Conversation id, 0 without conversations.
    pub cid: u64,
    /// Modseq at which the record was created.
    pub createdmodseq: u64,
    /// CRC32 of the record's cache bytes.
    pub cache_crc: u32,
}

impl IndexRecord {
    /// Decodes a record of minor version `minor`, checking its CRC where the version has one.
    pub fn decode(b: &[u8], minor: u32, path: &Path) -> Result<IndexRecord> {
        let len = record_size(minor).ok_or_else(|| {
            Error::corrupt(path, format!("cyrus.index: unknown minor version {minor}"))
        })?;
        let b = b
            .get(..len)
            .ok_or_else(|| Error::corrupt(path, "cyrus.index: record too short"))?;
        let crc_at = match minor {
            12 => Some(92),
            13..=15 => Some(100),
            16.. => Some(108),
            _ => None,
        };
        if let Some(at) = crc_at {
            if be32(b, at) != crc32fast::hash(&b[..at]) {
                return Err(Error::corrupt(
                    path,
                    format!("cyrus.index: record CRC mismatch (uid {})", be32(b, 0)),
                ));
            }
        }
        let flags = be32(b, 32);
        let cache_version_word = be32(b, 56);
        let mut r = IndexRecord {
            uid: be32(b, 0),
            internaldate: be32(b, 4),
            sentdate: be32(b, 8),
            size: be32(b, 12),
            header_size: be32(b, 16),
            gmtime: be32(b, 20),
            cache_offset: u64::from(be32(b, 24)) | (u64::from(cache_version_word >> 16) << 32),
            last_updated: be32(b, 28),
            system_flags: SystemFlags((flags & 0xffff) as u16),
            internal_flags: InternalFlags(flags & 0xffff_0000),
            user_flags: [be32(b, 36), be32(b, 40), be32(b, 44), be32(b, 48)],
            cache_version: (cache_version_word & 0xffff) as u16,
            ..IndexRecord::default()
        };
        match minor {
            ..=7 => {}
            8 | 9 => r.modseq = be64(b, 72),
            _ => {
                if let Some(g) = b.get(60..80) {
                    r.guid.0.copy_from_slice(g);
                }
                r.modseq = be64(b, 80);
            }
        }
        match minor {
            12 => r.cache_crc = be32(b, 88),
            13..=15 => {
                r.cid = be64(b, 88);
                r.cache_crc = be32(b, 96);
            }
            16.. => {
                r.cid = be64(b, 88);
                r.createdmodseq = be64(b, 96);
                r.cache_crc = be32(b, 104);
            }
            _ => {}
        }
        if minor >= 15 {
            r.savedate = be32(b, 52);
        }
        Ok(r)
    }

    /// Encodes as a v17 record with its CRC.
    pub fn encode(&self) -> [u8; RECORD_SIZE] {
        let mut b = [0u8; RECORD_SIZE];
        put32(&mut b, 0, self.uid);
        put32(&mut b, 4, self.internaldate);
        put32(&mut b, 8, self.sentdate);
        put32(&mut b, 12, self.size);
        put32(&mut b, 16, self.header_size);
        put32(&mut b, 20, self.gmtime);
        put32(&mut b, 24, self.cache_offset as u32);
        put32(&mut b, 28, self.last_updated);
        let flags = u32::from(self.system_flags.0) | (self.internal_flags.0 & 0xffff_0000);
        put32(&mut b, 32, flags);
        for (i, w) in self.user_flags.iter().enumerate() {
            put32(&mut b, 36 + 4 * i, *w);
        }
        put32(&mut b, 52, self.savedate);
        let high = ((self.cache_offset >> 32) & 0xffff) as u32;
        put32(&mut b, 56, (high << 16) | u32::from(self.cache_version));
        b[60..80].copy_from_slice(&self.guid.0);
        put64(&mut b, 80, self.modseq);
        put64(&mut b, 88, self.cid);
        put64(&mut b, 96, self.createdmodseq);
        put32(&mut b, 104, self.cache_crc);
        let crc = crc32fast::hash(&b[..108]);
        put32(&mut b, 108, crc);
        b
    }

    /// Whether the record is expunged.
    pub fn is_expunged(&self) -> bool {
        self.internal_flags.has(InternalFlags::EXPUNGED)
    }

    /// Whether user flag `n` is set.
    pub fn has_user_flag(&self, n: usize) -> bool {
        self.user_flags
            .get(n / 32)
            .is_some_and(|w| w & (1 << (n % 32)) != 0)
    }

    /// Sets or clears user flag `n` (ignored beyond the 128th).
    pub fn set_user_flag(&mut self, n: usize, on: bool) {
        if let Some(w) = self.user_flags.get_mut(n / 32) {
            if on {
                *w |= 1 << (n % 32);
            } else {
                *w &= !(1 << (n % 32));
            }
        }
    }
}

/// Cyrus's namespace for its own per-message annotations.
const ANNOT_NS: &str = "/vendor/cmu/cyrus-imapd/";

/// The replication CRC of one record (`crc_basic`, fixed since Cyrus 2.4), given the
/// mailbox's user flag names; 0 for an expunged record. XOR over all records is the header's
/// `synccrc_basic`.
pub fn sync_crc_basic(record: &IndexRecord, flag_names: &[Option<String>]) -> u32 {
    if record.is_expunged() {
        return 0;
    }
    let mut flagcrc = 0u32;
    for (bit, name) in [
        (SystemFlags::DELETED, "\\deleted"),
        (SystemFlags::ANSWERED, "\\answered"),
        (SystemFlags::FLAGGED, "\\flagged"),
        (SystemFlags::DRAFT, "\\draft"),
        (SystemFlags::SEEN, "\\seen"),
    ] {
        if record.system_flags.has(bit) {
            flagcrc ^= crc32fast::hash(name.as_bytes());
        }
    }
    for (n, name) in flag_names
        .iter()
        .enumerate()
        .take(crate::mailbox::header::MAX_USER_FLAGS)
    {
        if let Some(name) = name {
            if record.has_user_flag(n) {
                flagcrc ^= crc32fast::hash(name.to_ascii_lowercase().as_bytes());
            }
        }
    }
    let text = format!(
        "{} {} {} ({}) {} {}",
        record.uid,
        record.modseq,
        record.last_updated,
        flagcrc,
        record.internaldate,
        record.guid.to_hex()
    );
    crc32fast::hash(text.as_bytes())
}

fn crc_annot(uid: u32, entry: &str, value: &str) -> u32 {
    crc32fast::hash(format!("{uid} {ANNOT_NS}{entry}  {value}").as_bytes())
}

/// The part of `synccrc_annot` a record contributes through the values Cyrus presents as
/// annotations (thread id, savedate, createdmodseq); 0 for an expunged record.
pub fn sync_crc_virtannot(record: &IndexRecord) -> u32 {
    if record.is_expunged() {
        return 0;
    }
    let mut crc = 0;
    if record.cid != 0 {
        crc ^= crc_annot(record.uid, "thrid", &format!("{:x}", record.cid));
    }
    if record.savedate != 0 {
        crc ^= crc_annot(record.uid, "savedate", &record.savedate.to_string());
    }
    if record.createdmodseq != 0 {
        crc ^= crc_annot(
            record.uid,
            "createdmodseq",
            &record.createdmodseq.to_string(),
        );
    }
    crc
}

/// A whole cyrus.index decoded: the header and every record, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Index {
    /// The header.
    pub header: IndexHeader,
    /// The records, ascending by UID.
    pub records: Vec<IndexRecord>,
}

impl Index {
    /// Decodes a whole index file of any readable minor version.
    pub fn decode(b: &[u8], path: &Path) -> Result<Index> {
        let header = IndexHeader::decode(b, path)?;
        let records = decode_records(b, &header, path)?;
        Ok(Index { header, records })
    }

    /// Encodes header and records as a v17 file.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_SIZE + RECORD_SIZE * self.records.len());
        out.extend_from_slice(&self.header.encode());
        for r in &self.records {
            out.extend_from_slice(&r.encode());
        }
        out
    }

    /// The record for `uid`, by binary search.
    pub fn find(&self, uid: u32) -> Option<&IndexRecord> {
        self.records
            .binary_search_by_key(&uid, |r| r.uid)
            .ok()
            .and_then(|i| self.records.get(i))
    }
}

/// Decodes the `header.num_records` records that follow `header` in `b`.
pub fn decode_records(b: &[u8], header: &IndexHeader, path: &Path) -> Result<Vec<IndexRecord>> {
    let rsize = record_size(header.minor_version).unwrap_or(0);
    if rsize == 0 || header.record_size as usize != rsize {
        return Err(Error::corrupt(path, "cyrus.index: bad record size"));
    }
    let start = header.start_offset as usize;
    if header_size(header.minor_version) != Some(start) {
        return Err(Error::corrupt(path, "cyrus.index: bad start offset"));
    }
    let n = header.num_records as usize;
    let end = n
        .checked_mul(rsize)
        .and_then(|x| x.checked_add(start))
        .filter(|&e| e <= b.len())
        .ok_or_else(|| Error::corrupt(path, "cyrus.index: file shorter than its records"))?;
    let mut records = Vec::with_capacity(n);
    let mut last = 0u32;
    for chunk in b[start..end].chunks_exact(rsize) {
        let r = IndexRecord::decode(chunk, header.minor_version, path)?;
        if r.uid <= last {
            return Err(Error::corrupt(
                path,
                "cyrus.index: records out of UID order",
            ));
        }
        last = r.uid;
        records.push(r);
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn record_round_trip_with_high_cache_offset() {
        let r = IndexRecord {
            uid: 7,
            cache_offset: 0x1234_5678_9abc,
            cache_version: CACHE_VERSION,
            system_flags: SystemFlags(SystemFlags::SEEN | SystemFlags::ANSWERED),
            internal_flags: InternalFlags(InternalFlags::EXPUNGED),
            user_flags: [1, 0, 0, 0x8000_0000],
            guid: Guid([0xab; 20]),
            modseq: 99,
            ..IndexRecord::default()
        };
        let b = r.encode();
        assert_eq!(&b[32..36], &[0x80, 0, 0, 0x11]);
        assert_eq!(&b[56..60], &[0x12, 0x34, 0, 11]);
        let back = IndexRecord::decode(&b, 17, Path::new("x")).unwrap();
        assert_eq!(back, r);
        assert!(back.has_user_flag(0) && back.has_user_flag(127) && !back.has_user_flag(1));
        let mut bad = b;
        bad[3] ^= 1;
        assert!(IndexRecord::decode(&bad, 17, Path::new("x")).is_err());
    }

    #[test]
    fn header_round_trip() {
        let h = IndexHeader::new_mailbox(1795318723, 1, 1795318722);
        let b = h.encode();
        assert_eq!(IndexHeader::decode(&b, Path::new("x")).unwrap(), h);
        let mut bad = b;
        bad[150] = 1;
        assert!(IndexHeader::decode(&bad, Path::new("x")).is_err());
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(mut b in proptest::collection::vec(any::<u8>(), 0..1200),
                                    minor in 0u32..20, n in 0u32..8) {
            let _ = Index::decode(&b, Path::new("x"));
            if b.len() >= 24 {
                b[8..12].copy_from_slice(&minor.to_be_bytes());
                b[20..24].copy_from_slice(&n.to_be_bytes());
            }
            let _ = Index::decode(&b, Path::new("x"));
            let _ = IndexRecord::decode(&b, minor, Path::new("x"));
        }
    }
}
