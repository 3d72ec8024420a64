//! Placeholder until the fetch renderer lands.
use cyrus::mailbox::index::IndexRecord;
use cyrus::mailbox::Mailbox;

use crate::proto::command::FetchAtt;

/// One message as FETCH sees it.
pub struct MessageView<'a> {
    /// The open mailbox.
    pub mailbox: &'a Mailbox,
    /// Its sequence number.
    pub seq: u32,
    /// Its index record.
    pub record: &'a IndexRecord,
    /// Its FLAGS text for this session.
    pub flags: String,
    /// UID FETCH.
    pub include_uid: bool,
    /// CONDSTORE.
    pub include_modseq: bool,
    /// Flags changed as a side effect.
    pub add_flags: bool,
}

/// Writes one FETCH response.
pub fn write_fetch(
    v: &MessageView<'_>,
    items: &[FetchAtt],
    out: &mut Vec<u8>,
) -> std::io::Result<()> {
    let mut parts = Vec::new();
    if items.contains(&FetchAtt::Flags) || v.add_flags {
        parts.push(format!("FLAGS {}", v.flags));
    }
    if items.contains(&FetchAtt::Uid) || v.include_uid {
        parts.push(format!("UID {}", v.record.uid));
    }
    if items.contains(&FetchAtt::Modseq) || v.include_modseq {
        parts.push(format!("MODSEQ ({})", v.record.modseq));
    }
    if items.contains(&FetchAtt::Rfc822Size) {
        parts.push(format!("RFC822.SIZE {}", v.record.size));
    }
    out.extend_from_slice(format!("* {} FETCH ({})\r\n", v.seq, parts.join(" ")).as_bytes());
    Ok(())
}
