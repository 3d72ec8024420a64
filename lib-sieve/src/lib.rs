//! Sieve (RFC 5228) with the extensions Cyrus 3.6 ships: parsing, checking and execution.
//!
//! The crate is pure: executing a script returns the actions to take and does no I/O, so that
//! lmtpd decides how each action becomes a delivery. Nothing is implemented yet; the crate is a
//! placeholder in the workspace so that the layout of DESIGN.md holds from the start.
#![forbid(unsafe_code)]
