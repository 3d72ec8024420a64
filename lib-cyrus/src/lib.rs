//! `cyrus`: everything two or more of the Cyrus-compatible binaries share.
//!
//! Today that is the configuration layer ([`config`]) and the cyrusdb layer ([`db`]) with the
//! backends Cyrus 3.6 deployments use. The mailbox store, names, ACLs, quota, seen state, SASL,
//! TLS and the worker half of the master contract will join them here (see DESIGN.md).

pub mod config;
pub mod db;
pub mod error;
pub mod process;
pub mod prot;
pub mod service;
pub mod syslog;

pub use error::{Error, Result};
