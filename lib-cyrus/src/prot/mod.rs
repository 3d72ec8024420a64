//! Protocol building blocks shared by the services and tools: how IMAP-style words are read
//! from and written to a byte stream.

pub mod astring;
