//! The IMAP worker as a library: the protocol (`proto`, no storage), and the session that
//! serves it from the Cyrus mailbox store. `main.rs` only hands connections to it, so the
//! engine is tested from byte buffers and fuzzed without sockets.
#![forbid(unsafe_code)]

pub mod fetch;
pub mod proto;
pub mod search;
pub mod session;
