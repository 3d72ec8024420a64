//! Fuzzes the IMAP command reader and parser of `imapd` over a client's bytes: framing,
//! synchronizing and non-synchronizing literals, the size limits and every command's grammar.
//!
//! The first input byte picks the setting: bit 0 logged in or not; bit 1 whether the
//! session tells the reader the selected state, and bit 3 which state; bit 2 tiny limits
//! (so that the limit checks are hit with short inputs, with LITERAL- when bit 5 is set) or
//! Cyrus's defaults; bit 4 refuses an APPEND's first message as the session does for a
//! missing mailbox. The second byte is the size of the pieces the rest is fed in, as reads
//! from a socket would cut it. Besides not panicking or hanging, the reader must keep within
//! its memory bound after every event, and the input must also parse (or fail) directly as
//! one command.

#![no_main]

use imapd::proto::parse::parse_command;
use imapd::proto::reader::{Event, Limits, Reader, DEFAULT_MAX_ARGS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [mode, cut, rest @ ..] = data else {
        return;
    };
    let auth = mode & 1 != 0;
    let limits = if mode & 4 != 0 {
        Limits {
            max_word: 16,
            max_quoted: 16,
            max_literal: 64,
            max_args_size: 256,
            max_message_size: 128,
            literal_minus: mode & 32 != 0,
        }
    } else {
        Limits::default()
    };
    let cut = usize::from(*cut).max(1);
    // A command's bytes (messages aside, which are bounded by the input here) plus one piece.
    let bound = if limits.max_args_size > 0 {
        limits.max_args_size as usize
    } else {
        DEFAULT_MAX_ARGS as usize
    } + 2 * cut
        + rest.len().min(1 << 20);
    let mut r = Reader::new(limits);
    if mode & 2 != 0 {
        r.set_selected(mode & 8 != 0);
    }
    'feed: for piece in rest.chunks(cut) {
        r.feed(piece);
        // Every event but NeedMore consumes input or ends the reader, so this terminates;
        // the count is a guard against a reader that stops making progress.
        for _ in 0..=rest.len() + 2 {
            let ev = r.next_command(auth);
            assert!(r.held_bytes() <= bound, "{} > {bound}", r.held_bytes());
            match ev {
                Event::NeedMore => continue 'feed,
                Event::Fatal(_) => break 'feed,
                Event::Send(_) => {
                    if r.pending_append().is_some() && mode & 16 != 0 {
                        r.refuse_pending();
                    }
                }
                Event::Command(c) => {
                    if matches!(
                        c.kind,
                        imapd::proto::command::CommandKind::Idle
                            | imapd::proto::command::CommandKind::Authenticate { .. }
                    ) {
                        let _ = r.next_line();
                    }
                }
                Event::Bad { .. } | Event::No { .. } => {}
            }
        }
        panic!("reader made no progress");
    }
    let _ = parse_command(rest);
});
