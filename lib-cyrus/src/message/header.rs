//! Which top-level header fields go into the CACHEHEADERS item: those Cyrus's header-cache
//! table lists with a minimum cache version (all of them <= 11, the version we write), and
//! every other field except `X-` ones; names of 32 bytes or more never qualify.

/// Longest header name that can be a cached header (Cyrus's 32-byte name buffer).
const MAX_CACHED_NAME: usize = 32;

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

#[cfg(test)]
mod tests {
    use super::*;

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
