//! `cyrus`: everything two or more of the Cyrus-compatible binaries share.
//!
//! Configuration ([`config`]), the cyrusdb layer with every backend Cyrus 3.6 uses ([`db`]),
//! DLIST ([`dlist`]), mailbox names and mailboxes.db ([`mboxname`], [`mboxlist`]), the mailbox
//! files ([`mailbox`]), and the start-up and logging every program shares ([`process`],
//! [`syslog`]). ACLs, quota, seen state, SASL, TLS and the worker half of the master contract
//! join them as they land (see DESIGN.md).

pub mod auth;
pub mod config;
pub mod db;
pub mod dirhash;
pub mod dlist;
pub mod error;
pub mod mailbox;
pub mod mboxlist;
pub mod mboxname;
pub mod process;
pub mod prot;
pub mod service;
pub mod syslog;

pub use error::{Error, Result};
