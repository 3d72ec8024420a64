//! A header block split into fields, the way Cyrus reads one: a field runs from its name to
//! the line end before the next line that does not start with a space or tab; the block ends
//! at an empty line, at a MIME boundary line of an enclosing multipart, or at the end of the
//! data. Values are unfolded by deleting line breaks (the folding whitespace stays).

/// Lines of one header block we look at; the rest still counts toward the header size.
pub const MAX_FIELDS: usize = 10_000;

/// Longest header name that can be a cached header (Cyrus's 32-byte name buffer).
const MAX_CACHED_NAME: usize = 32;

/// One header field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field<'a> {
    /// The name as written (before the colon, trailing blanks removed).
    pub name: &'a [u8],
    /// The whole field as in the message, continuation lines and final line break included.
    pub raw: &'a [u8],
}

impl<'a> Field<'a> {
    /// The value: after the colon, leading blanks skipped, line breaks deleted.
    pub fn value(&self) -> Vec<u8> {
        let colon = self.raw.iter().position(|&b| b == b':').unwrap_or(0);
        let v = self.raw.get(colon + 1..).unwrap_or(&[]);
        let start = v
            .iter()
            .position(|&b| b != b' ' && b != b'\t')
            .unwrap_or(v.len());
        v.get(start..)
            .unwrap_or(&[])
            .iter()
            .copied()
            .filter(|&b| b != b'\r' && b != b'\n')
            .collect()
    }
}

/// Whether Cyrus keeps the field `name` in the CACHEHEADERS item (cache version 11).
pub fn is_cached(name: &[u8]) -> bool {
    if name.len() >= MAX_CACHED_NAME {
        return false;
    }
    let lower = name.to_ascii_lowercase();
    // Fields Cyrus's header-cache table lists with a minimum cache version <= 11.
    const CACHED: &[&[u8]] = &[
        b"priority",
        b"references",
        b"resent-from",
        b"newsgroups",
        b"followup-to",
        b"x-mailer",
        b"x-trace",
        b"x-ref",
        b"x-priority",
        b"x-msmail-priority",
        b"x-msoesrec",
        b"x-spam-score",
        b"x-resolved-to",
        b"x-delivered-to",
        b"x-mail-from",
        b"x-truedomain-domain",
        b"x-me-message-id",
        b"x-cyrus-session-id",
        b"reply-to",
        b"sender",
        b"x-universally-unique-identifier",
        b"x-uniform-type-identifier",
        b"x-apple-base-url",
        b"x-apple-mail-remote-attachments",
    ];
    // Fields the table lists as never cached: the envelope and trace fields live elsewhere.
    const NEVER: &[&[u8]] = &[
        b"bcc",
        b"cc",
        b"date",
        b"delivery-date",
        b"envelope-to",
        b"from",
        b"in-reply-to",
        b"mime-version",
        b"received",
        b"return-path",
        b"subject",
        b"to",
        b"dkim-signature",
        b"domainkey-signature",
        b"domainkey-x509",
        b"message-id",
        b"arc-seal",
        b"arc-message-signature",
        b"arc-authentication-results",
        b"authentication-results",
        b"received-spf",
        b"archived-at",
        b"listbox-message-date",
        b"topicbox-message-uuid",
        b"topicbox-policy-reasoning",
    ];
    if CACHED.contains(&lower.as_slice()) {
        return true;
    }
    if NEVER.contains(&lower.as_slice()) {
        return false;
    }
    !lower.starts_with(b"x-")
}

/// Where a header block ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// At an empty line (included in the header).
    Blank,
    /// At a boundary line, which starts at the given offset.
    Boundary,
    /// At the end of the data.
    Eof,
}

/// The line of `msg` starting at `pos`, line break included.
pub fn line_at(msg: &[u8], pos: usize) -> &[u8] {
    let rest = msg.get(pos..).unwrap_or(&[]);
    match rest.iter().position(|&b| b == b'\n') {
        Some(n) => rest.get(..=n).unwrap_or(rest),
        None => rest,
    }
}

/// Splits the header block at `pos`; `is_boundary` tells whether a line is a pending MIME
/// boundary. Returns the fields, the offset where the block ends (after the blank line) and
/// how it ended.
pub fn split<'a>(
    msg: &'a [u8],
    pos: usize,
    is_boundary: &dyn Fn(&[u8]) -> bool,
) -> (Vec<Field<'a>>, usize, End) {
    let mut fields: Vec<Field<'a>> = Vec::new();
    let mut p = pos;
    let mut cur: Option<(usize, usize)> = None; // start of the current field, end of its name
    let flush = |fields: &mut Vec<Field<'a>>, cur: Option<(usize, usize)>, end: usize| {
        if let Some((s, ne)) = cur {
            if fields.len() < MAX_FIELDS {
                let name = msg.get(s..ne).unwrap_or(&[]);
                let name_end = name
                    .iter()
                    .rposition(|&b| b != b' ' && b != b'\t')
                    .map_or(0, |n| n + 1);
                fields.push(Field {
                    name: name.get(..name_end).unwrap_or(&[]),
                    raw: msg.get(s..end).unwrap_or(&[]),
                });
            }
        }
    };
    loop {
        let line = line_at(msg, p);
        if line.is_empty() {
            flush(&mut fields, cur, p);
            return (fields, p, End::Eof);
        }
        if line == b"\r\n" || line == b"\n" {
            flush(&mut fields, cur, p);
            return (fields, p + line.len(), End::Blank);
        }
        if is_boundary(line) {
            flush(&mut fields, cur, p);
            return (fields, p, End::Boundary);
        }
        let first = line.first().copied().unwrap_or(b' ');
        if first != b' ' && first != b'\t' {
            flush(&mut fields, cur, p);
            cur = line
                .iter()
                .position(|&b| b == b':')
                .filter(|&c| !line.get(..c).unwrap_or(&[]).contains(&b'\n'))
                .map(|c| (p, p + c));
        }
        p += line.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_and_unfold() {
        let m = b"Subject: a\r\n b\r\nX-Y : z\r\nnot a header\r\n\r\nbody";
        let (f, end, how) = split(m, 0, &|_| false);
        assert_eq!(how, End::Blank);
        assert_eq!(end, m.len() - 4);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].name, b"Subject");
        assert_eq!(f[0].value(), b"a b");
        assert_eq!(f[1].name, b"X-Y");
        assert_eq!(f[1].value(), b"z");
        let (f, end, how) = split(b"A: b\nC: d", 0, &|_| false);
        assert_eq!((f.len(), end, how), (2, 9, End::Eof));
    }

    #[test]
    fn cached_table() {
        for n in [
            "Content-Type",
            "References",
            "X-Cyrus-Session-Id",
            "List-Id",
            "Sender",
        ] {
            assert!(is_cached(n.as_bytes()), "{n}");
        }
        for n in [
            "X-Sieve",
            "Received",
            "From",
            "Subject",
            "MIME-Version",
            "Message-ID",
        ] {
            assert!(!is_cached(n.as_bytes()), "{n}");
        }
        assert!(!is_cached(&[b'a'; 32]));
        assert!(is_cached(&[b'a'; 31]));
    }
}
