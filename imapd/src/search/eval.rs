//! Tests one message against a compiled program. Index-only keys never touch a file; text
//! keys pull what they need through [`Message`], which keeps it for the next key.

use super::compile::{sent_day, Node, Pattern, Span, Zone};
use super::text::Message;
use cyrus::mailbox::cache::Item;

/// What every message is tested in: the largest sequence number and UID in the session,
/// which `*` stands for, and the server's zone.
pub(super) struct Limits {
    pub max_seq: u32,
    pub max_uid: u32,
    pub zone: Zone,
}

fn within(span: Span, t: i64) -> bool {
    !matches!(span.lo, Some(lo) if t < lo) && !matches!(span.hi, Some(hi) if t >= hi)
}

fn found(p: &Pattern, text: &str) -> bool {
    text.contains(p.0.as_str())
}

/// Whether the message matches `node`.
pub(super) fn matches(node: &Node, m: &mut Message<'_>, lim: &Limits) -> bool {
    let rec = m.msg.record;
    match node {
        Node::And(v) => v.iter().all(|n| matches(n, m, lim)),
        Node::Or(a, b) => matches(a, m, lim) || matches(b, m, lim),
        Node::Not(a) => !matches(a, m, lim),
        Node::True => true,
        Node::False => false,
        Node::Seq(set) => set.contains(m.msg.seq, lim.max_seq),
        Node::Uid(set) => set.contains(rec.uid, lim.max_uid),
        Node::System(bit) => rec.system_flags.has(*bit),
        Node::Seen => m.msg.seen,
        Node::Recent => m.msg.recent,
        Node::Keyword(n) => rec
            .user_flags
            .get(n / 32)
            .is_some_and(|w| w & (1 << (n % 32)) != 0),
        Node::Internal(span) => within(*span, i64::from(rec.internaldate)),
        Node::Sent(span) => within(*span, sent_day(rec.sentdate, rec.internaldate, lim.zone)),
        Node::Larger(n) => u64::from(rec.size) > *n,
        Node::Smaller(n) => u64::from(rec.size) < *n,
        Node::Modseq(n) => rec.modseq >= *n,
        Node::Envelope(item, p) => match m.cache() {
            Some(_) => m.envelope(*item).is_some_and(|t| found(p, &t)),
            // Without the cache record, read the field from the message itself.
            None => {
                let name: &[u8] = match item {
                    Item::From => b"from",
                    Item::To => b"to",
                    Item::Cc => b"cc",
                    Item::Bcc => b"bcc",
                    _ => b"subject",
                };
                m.header_values(name).iter().any(|v| found(p, v))
            }
        },
        Node::Header(name, p) => m.header_values(name).iter().any(|v| found(p, v)),
        Node::Body(p) => m.body().iter().any(|t| found(p, t)),
        Node::Text(p) => {
            m.header_text().is_some_and(|h| found(p, h)) || m.body().iter().any(|t| found(p, t))
        }
    }
}
