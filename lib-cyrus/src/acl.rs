//! Access control lists (RFC 4314 rights as Cyrus 3.6 keeps them); filled in by the next commit.
