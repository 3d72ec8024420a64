//! Hostile bytes into every parser of the per-user and delivery databases: whatever a damaged
//! or malicious file holds, parsing returns a value or an error and never panics, and what
//! parses prints back to something that parses to the same value.

use cyrus::annotations::{split_metadata_name, AnnotKey, AnnotValue};
use cyrus::duplicate::{dump_line, DupKey, DupMark};
use cyrus::seen::{SeenEntry, SeqSet};
use cyrus::userdeny::{wildmat, DenyEntry};

/// A deterministic xorshift generator, so that a failure reproduces.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Up to `max` bytes, drawn mostly from `alphabet` so that parsers get past their first
    /// checks, with some arbitrary bytes.
    fn bytes(&mut self, max: usize, alphabet: &[u8]) -> Vec<u8> {
        let n = (self.next() as usize) % (max + 1);
        (0..n)
            .map(|_| {
                let r = self.next();
                if r.is_multiple_of(8) {
                    r as u8
                } else {
                    alphabet[(r as usize >> 3) % alphabet.len()]
                }
            })
            .collect()
    }
}

#[test]
fn seen_values() {
    let mut g = Gen(0x1234_5678_9abc_def1);
    for _ in 0..20_000 {
        let v = g.bytes(40, b"0123456789 :,*-1");
        if let Ok(e) = SeenEntry::parse(&v) {
            assert_eq!(SeenEntry::parse(&e.to_bytes()), Ok(e));
        }
        let text = String::from_utf8_lossy(&v);
        if let Ok(s) = SeqSet::parse(&text) {
            assert_eq!(SeqSet::parse(&s.to_string()), Ok(s));
        }
    }
}

#[test]
fn annotation_records() {
    let mut g = Gen(0x0fed_cba9_8765_4321);
    for _ in 0..20_000 {
        let k = g.bytes(30, b"\0ab/[.OwNeR.]");
        if let Ok(key) = AnnotKey::parse(&k) {
            assert_eq!(key.to_bytes(), k);
        }
        let mut v = g.bytes(40, b"\0\x01\x05text/plain");
        if g.next().is_multiple_of(2) {
            // A plausible length prefix, so that the rest of the layout gets exercised.
            let len = (g.next() % 12) as u8;
            v.splice(0..0, [0, 0, 0, len, 0, 0, 0, 0]);
        }
        if let Ok(val) = AnnotValue::parse(&v) {
            assert_eq!(AnnotValue::parse(&val.to_bytes()), Ok(val));
        }
        let name = String::from_utf8_lossy(&g.bytes(16, b"/sharedprivATE")).into_owned();
        let _ = split_metadata_name(&name, "u");
    }
}

#[test]
fn deliver_records() {
    let mut g = Gen(0x5555_aaaa_3333_cccc);
    for _ in 0..20_000 {
        let k = g.bytes(30, b"\0<>@.x");
        if let Some(key) = DupKey::parse(&k) {
            assert_eq!(key.to_bytes().ok(), Some(k.clone()));
            let _ = dump_line(&key, DupMark::default());
        }
        let v = g.bytes(20, b"\0\x01");
        if let Some(m) = DupMark::parse(&v) {
            assert_eq!(DupMark::parse(&m.to_bytes()), Some(m));
        }
    }
}

#[test]
fn deny_records_and_patterns() {
    let mut g = Gen(0x7777_1111_9999_2222);
    for _ in 0..20_000 {
        let v = g.bytes(30, b"12\t*!,imap[]^-?\\");
        if let Ok(e) = DenyEntry::parse(&v) {
            if !e.services.contains('\t') {
                assert_eq!(DenyEntry::parse(&e.to_bytes()), Ok(e.clone()));
            }
            let _ = e.denies("imap");
        }
        let pat = g.bytes(12, b"*?[]^-\\ab");
        let text = g.bytes(8, b"ab[]-");
        let _ = wildmat(&text, &pat);
    }
}
