//! imapd.conf and cyrus.conf: parsing, the table of every Cyrus 3.6 option, and lookups.
//!
//! (Being written: see the foundation issue.)
