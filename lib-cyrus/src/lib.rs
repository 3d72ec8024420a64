//! `cyrus`: everything two or more of the Cyrus-compatible binaries share.
//!
//! Configuration ([`config`]), the cyrusdb layer with every backend Cyrus 3.6 uses ([`db`]),
//! DLIST ([`dlist`]), mailbox names and mailboxes.db ([`mboxname`], [`mboxlist`]), the mailbox
//! files ([`mailbox`]), ACLs and quota ([`acl`], [`quota`]), the per-user and server databases
//! ([`seen`], [`subscriptions`], [`annotations`], [`duplicate`], [`userdeny`]), the worker half
//! of the master contract ([`service`]), charsets and text decoding ([`charset`]), the
//! start-up and logging every program shares ([`process`], [`syslog`]), and SASL through the
//! system libsasl2 ([`auth`]). TLS joins them as it lands (see DESIGN.md).

pub mod acl;
pub mod annotations;
pub mod auth;
pub mod charset;
pub mod civil;
pub mod config;
pub mod db;
pub mod delivery;
pub mod dirhash;
pub mod dlist;
pub mod duplicate;
pub mod error;
pub mod localtime;
pub mod mailbox;
pub mod mboxlist;
pub mod mboxname;
pub mod message;
pub mod process;
pub mod prot;
pub mod quota;
pub mod seen;
pub mod service;
pub mod subscriptions;
pub mod syslog;
pub mod tls;
pub mod userdeny;

pub use error::{Error, Result};
