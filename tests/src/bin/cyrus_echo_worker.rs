//! `cyrus_echo_worker`: the smallest service built on `cyrus::service`, used by the master
//! tests under our master and Debian's.
//!
//! It greets with `+OK echo <service> <pid>` (the pid tells a test which worker served it),
//! then sends back every line it reads until `QUIT` or end of input.
#![forbid(unsafe_code)]

use std::io::{BufRead, BufReader, Write};

use cyrus::service::{self, Connection, Context, Worker};

struct Echo;

impl Worker for Echo {
    fn session(&mut self, ctx: &Context, conn: &mut Connection) {
        let pid = std::process::id();
        if conn
            .write_all(format!("+OK echo {} {pid}\r\n", ctx.service).as_bytes())
            .is_err()
        {
            return;
        }
        let mut input = BufReader::new(conn);
        let mut line = String::new();
        loop {
            line.clear();
            match input.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line.trim_end().eq_ignore_ascii_case("QUIT") {
                let _ = input.get_mut().write_all(b"+OK bye\r\n");
                return;
            }
            if input.get_mut().write_all(line.as_bytes()).is_err() {
                return;
            }
        }
    }
}

fn main() {
    service::run(Echo)
}
