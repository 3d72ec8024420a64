//! `imapd`: The IMAP4rev1/IMAP4rev2 worker, serving one connection at a time under master.
//!
//! Not implemented yet. Until it is, the binary says so and exits with status 75 (EX_TEMPFAIL),
//! so that a supervisor or a script treats it as "try later", never as success.
#![forbid(unsafe_code)]

fn main() {
    eprintln!("imapd: not implemented yet in this build (see README.md, Status)");
    std::process::exit(75);
}
