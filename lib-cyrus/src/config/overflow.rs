//! The "overflow" table: imapd.conf keys that are not options (`partition-*`, `sasl_*`, ...).
//!
//! Cyrus keeps these in its own hash table (30 buckets, seeded djb2, each bucket sorted by
//! key) and tools such as `cyr_info conf` list them in that table's order. The seed is the
//! first value of glibc's unseeded `rand()`, so the order is fixed; [`Overflow::iter`]
//! reproduces it so that our output matches Cyrus's byte for byte.

use std::collections::HashMap;

/// Buckets in Cyrus's overflow hash table (`CONFIGHASHSIZE`).
const BUCKETS: u32 = 30;

/// The first `rand()` value of an unseeded glibc, which Cyrus uses as the table's hash seed.
const SEED: u32 = 1_804_289_383;

/// Cyrus's seeded djb2: the seed's four bytes, low first, are hashed before the key.
fn djb2(seed: u32, key: &str) -> u32 {
    let step = |h: u32, c: u32| (h << 5).wrapping_add(h) ^ c;
    let mut h: u32 = 5381;
    if seed != 0 {
        for i in 0..4 {
            h = step(h, (seed >> (8 * i)) & 0xff);
        }
    }
    key.bytes().fold(h, |h, c| step(h, u32::from(c)))
}

/// Free-form keys and their values, in the order Cyrus enumerates them.
#[derive(Debug, Clone, Default)]
pub struct Overflow {
    entries: Vec<(String, String)>,
    index: HashMap<String, usize>,
}

impl Overflow {
    /// Adds `key`; returns false (and changes nothing) if the key is already there.
    pub fn insert(&mut self, key: &str, value: &str) -> bool {
        if self.index.contains_key(key) {
            return false;
        }
        self.index.insert(key.to_string(), self.entries.len());
        self.entries.push((key.to_string(), value.to_string()));
        true
    }

    /// The value of exactly `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.index.get(key).map(|&i| self.entries[i].1.as_str())
    }

    /// Every key and value, in Cyrus's enumeration order: by bucket, then by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        let mut order: Vec<(u32, &str, &str)> = self
            .entries
            .iter()
            .map(|(k, v)| (djb2(SEED, k) % BUCKETS, k.as_str(), v.as_str()))
            .collect();
        order.sort_unstable();
        order.into_iter().map(|(_, k, v)| (k, v))
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_matches_cyrus_reference_instance() {
        // Insertion order of the reference imapd.conf, and the order Debian's cyr_info printed.
        let mut t = Overflow::default();
        for k in [
            "partition-default",
            "partition-news",
            "newsspool",
            "sasl_pwcheck_method",
            "sasl_auxprop_plugin",
            "sasl_sasldb_path",
            "sasl_mech_list",
            "sasl_auto_transition",
        ] {
            assert!(t.insert(k, "v"));
        }
        let got: Vec<&str> = t.iter().map(|(k, _)| k).collect();
        assert_eq!(
            got,
            [
                "sasl_pwcheck_method",
                "sasl_auto_transition",
                "newsspool",
                "sasl_mech_list",
                "sasl_auxprop_plugin",
                "partition-default",
                "partition-news",
                "sasl_sasldb_path",
            ]
        );
    }

    #[test]
    fn one_bucket_is_sorted_by_key() {
        // zz17, zz22, zz31, zz48 share bucket 7; Cyrus printed them sorted whatever the order.
        let mut t = Overflow::default();
        for k in ["zz31", "zz17", "zz48", "zz22"] {
            t.insert(k, "v");
        }
        let got: Vec<&str> = t.iter().map(|(k, _)| k).collect();
        assert_eq!(got, ["zz17", "zz22", "zz31", "zz48"]);
    }

    #[test]
    fn duplicates_are_refused_and_lookups_work() {
        let mut t = Overflow::default();
        assert!(t.insert("a", "1"));
        assert!(!t.insert("a", "2"));
        assert_eq!(t.get("a"), Some("1"));
        assert_eq!(t.get("b"), None);
        assert_eq!(t.len(), 1);
    }
}
