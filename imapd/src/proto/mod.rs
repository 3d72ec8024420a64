//! The IMAP protocol without storage: the command grammar, the bounded reader that frames
//! commands and their literals, and the writers for replies. The session wires it to the
//! mailbox store; nothing in here opens a file.

pub mod command;
pub mod date;
pub mod parse;
pub mod reader;
pub mod write;
