//! Charsets and text decoding for every service: Content-Transfer-Encoding decoding
//! ([`transfer`]), charset names to UTF-8 ([`convert`], with UTF-7 in [`utf7`]), RFC 2047
//! encoded words in headers ([`rfc2047`]), and the canonical form Cyrus searches in
//! ([`fold`]). Input is untrusted bytes: nothing here fails or panics on them; what cannot be
//! decoded becomes U+FFFD or is kept as written, as Cyrus does.

pub mod convert;
pub mod fold;
mod fold_table;
pub mod rfc2047;
pub mod transfer;
pub mod utf7;

pub use convert::Charset;
pub use fold::{fold, fold_into, FoldOptions, Whitespace};
pub use transfer::Encoding;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            for e in [Encoding::QuotedPrintable, Encoding::Base64, Encoding::Base64Url] {
                let _ = e.decode(&b);
            }
            let _ = rfc2047::decode(&b);
            for name in ["us-ascii", "utf-8", "latin1", "utf-7", "utf-16", "utf-32",
                         "utf-32le", "shift_jis", "iso-2022-jp", "gb18030"] {
                if let Some(cs) = Charset::lookup(name.as_bytes()) {
                    let s = cs.decode(&b);
                    let _ = fold(&s, FoldOptions::default());
                }
            }
        }
    }
}
