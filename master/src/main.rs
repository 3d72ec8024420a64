//! `master`: Cyrus's process supervisor: reads cyrus.conf, binds listeners, preforks and reaps workers.
//!
//! Not implemented yet. Until it is, the binary says so and exits with status 75 (EX_TEMPFAIL),
//! so that a supervisor or a script treats it as "try later", never as success.
#![forbid(unsafe_code)]

fn main() {
    eprintln!("master: not implemented yet in this build (see README.md, Status)");
    std::process::exit(75);
}
