//! `lmtpd`: The LMTP delivery worker: delivery, Sieve, duplicate suppression and quota.
//!
//! Not implemented yet. Until it is, the binary says so and exits with status 75 (EX_TEMPFAIL),
//! so that a supervisor or a script treats it as "try later", never as success.
#![forbid(unsafe_code)]

fn main() {
    eprintln!("lmtpd: not implemented yet in this build (see README.md, Status)");
    std::process::exit(75);
}
