//! The mailbox store: the files of one mailbox directory (`cyrus.header`, `cyrus.index`,
//! `cyrus.cache` and the `<uid>.` message files) read and written exactly as Cyrus 3.6 does.
//!
//! [`header`], [`index`] and [`cache`] are the file formats, pure functions over bytes so
//! they can be fuzzed; [`Mailbox`] opens a directory under Cyrus's index lock and performs
//! the durable writes (append, flag change, delayed expunge); [`examine`] prints a mailbox
//! the way `mbexamine` does. Names, mailboxes.db and directory paths are the caller's: this
//! layer is handed a directory.

pub mod autocreate;
pub mod cache;
pub mod examine;
pub mod header;
pub mod index;
pub mod lifecycle;
pub mod reconstruct;
pub mod selfcheck;
mod store;

pub use store::{Append, LockMode, Mailbox};
