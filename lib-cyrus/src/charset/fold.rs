//! Search canonicalisation: the form Cyrus brings both a search string and the text it is
//! looked for in to before a plain substring test. Every character is lower-cased; with
//! `search_skipdiacrit` (on by default) it is also decomposed to its compatibility base
//! characters and stripped of combining marks (`Köln` -> `koln`, `Ｂｏｂ` -> `bob`, but `ß`
//! and ligatures stay); `search_whitespace` then skips, merges (the default) or keeps runs
//! of whitespace. These match what Cyrus 3.6 answers (checked against Debian's build).

use super::fold_table::{FOLD, MARKS};

/// How whitespace is treated (imapd.conf `search_whitespace`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Whitespace {
    /// `skip`: whitespace is removed.
    Skip,
    /// `merge`: a run of whitespace counts as one space.
    Merge,
    /// `keep`: whitespace must match exactly.
    Keep,
}

impl Whitespace {
    /// The mode an imapd.conf value names (unknown values: the default, merge).
    pub fn from_option(v: &str) -> Whitespace {
        match v.trim().to_ascii_lowercase().as_str() {
            "skip" => Whitespace::Skip,
            "keep" => Whitespace::Keep,
            _ => Whitespace::Merge,
        }
    }
}

/// The options that shape the canonical form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FoldOptions {
    /// imapd.conf `search_skipdiacrit`.
    pub skip_diacritics: bool,
    /// imapd.conf `search_whitespace`.
    pub whitespace: Whitespace,
}

impl FoldOptions {
    /// The options imapd.conf sets (`search_skipdiacrit`, `search_whitespace`).
    pub fn from_config(conf: &crate::config::Config) -> FoldOptions {
        FoldOptions {
            skip_diacritics: conf.switch("search_skipdiacrit"),
            whitespace: Whitespace::from_option(conf.string("search_whitespace").unwrap_or("")),
        }
    }
}

impl Default for FoldOptions {
    /// Cyrus 3.6's defaults: diacritics skipped, whitespace merged.
    fn default() -> Self {
        FoldOptions {
            skip_diacritics: true,
            whitespace: Whitespace::Merge,
        }
    }
}

fn is_mark(c: char) -> bool {
    let c = u32::from(c);
    MARKS
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Appends the folded form of one non-space character.
fn fold_char(c: char, opts: FoldOptions, out: &mut String) {
    if !opts.skip_diacritics {
        out.extend(c.to_lowercase());
        return;
    }
    // Where Cyrus's tables differ from the Unicode data ours come from (each checked
    // against Cyrus 3.6): it keeps the capital sharp s and the Planck constant as they are,
    // and folds the dotless i to i.
    let fixed = match c {
        '\u{1e9e}' | '\u{210e}' => Some(c),
        '\u{131}' => Some('i'),
        _ if c.is_ascii() => Some(c.to_ascii_lowercase()),
        _ => None,
    };
    if let Some(f) = fixed {
        out.push(f);
        return;
    }
    if is_mark(c) {
        return;
    }
    match FOLD.binary_search_by_key(&u32::from(c), |&(k, _)| k) {
        Ok(i) => out.push_str(FOLD.get(i).map_or("", |&(_, v)| v)),
        // Lower case can itself bring a mark (U+0130 is i + U+0307): drop it too.
        Err(_) => out.extend(c.to_lowercase().filter(|&l| !is_mark(l))),
    }
}

/// Appends the canonical form of `s` to `out`; in merge mode a space already ending `out`
/// absorbs leading whitespace of `s`, so text folded in pieces merges across them.
pub fn fold_into(s: &str, opts: FoldOptions, out: &mut String) {
    let mut at_space = out.ends_with(' ') && opts.whitespace == Whitespace::Merge;
    for c in s.chars() {
        if c.is_whitespace() {
            match opts.whitespace {
                Whitespace::Skip => {}
                Whitespace::Merge if at_space => {}
                Whitespace::Merge => {
                    out.push(' ');
                    at_space = true;
                }
                Whitespace::Keep => out.push(c),
            }
            continue;
        }
        at_space = false;
        fold_char(c, opts, out);
    }
}

/// The canonical form of `s`.
pub fn fold(s: &str, opts: FoldOptions) -> String {
    let mut out = String::with_capacity(s.len());
    fold_into(s, opts, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_table_cyrus_defaults() {
        // Each pair was checked against Cyrus 3.6: a search for the left finds the right.
        let cases: &[(&str, &str)] = &[
            ("Grüße aus Köln", "gruße aus koln"),
            ("GRÜßE", "gruße"),
            ("ΕΛΛΗΝΙΚΆ", "ελληνικα"),
            ("ελληνικά", "ελληνικα"),
            ("РУССКИЙ", "русскии"),
            ("ｂｏｂ", "bob"),
            ("Ｂob", "bob"),
            ("ⓑob", "bob"),
            ("Ⓑob", "bob"),
            ("b\u{301}ob", "bob"),
            ("İnner", "inner"),
            ("Ⅰnner", "inner"),
            ("ﾃｷｽﾄ", "テキスト"),
            ("ﬁnd", "ﬁnd"),
            ("ẞ", "\u{1e9e}"),
            ("ℎ", "\u{210e}"),
            ("ınner", "inner"),
            ("ℌ𝐇ᴴ", "hhh"),
            ("Alice﹐", "alice,"),
            ("hello\u{a0}\u{2003}\u{3000}alice", "hello alice"),
            ("he\u{ad}l\u{200b}lo", "he\u{ad}l\u{200b}lo"),
            ("Hello  Alice", "hello alice"),
            ("a\tb \r\n c", "a b c"),
            ("René", "rene"),
            ("日本語📬", "日本語📬"),
            ("", ""),
        ];
        for (i, o) in cases {
            assert_eq!(fold(i, FoldOptions::default()), *o, "{i}");
        }
    }

    #[test]
    fn fold_options() {
        let keep = FoldOptions {
            skip_diacritics: false,
            whitespace: Whitespace::Keep,
        };
        let skip = FoldOptions {
            skip_diacritics: true,
            whitespace: Whitespace::Skip,
        };
        let cases: &[(&str, FoldOptions, &str)] = &[
            ("Köln  X", keep, "köln  x"),
            ("the quick brown", skip, "thequickbrown"),
            ("Ά", keep, "ά"),
        ];
        for (i, opts, o) in cases {
            assert_eq!(fold(i, *opts), *o, "{i}");
        }
        assert_eq!(Whitespace::from_option("Skip"), Whitespace::Skip);
        assert_eq!(Whitespace::from_option("keep"), Whitespace::Keep);
        assert_eq!(Whitespace::from_option("merge"), Whitespace::Merge);
        assert_eq!(Whitespace::from_option("bogus"), Whitespace::Merge);
        let mut s = String::from("a ");
        fold_into(" b", FoldOptions::default(), &mut s);
        assert_eq!(s, "a b");
        let conf = |text: &str| {
            let text = format!("configdirectory: /nonexistent\n{text}");
            let c = crate::config::Config::parse(&text, std::path::Path::new("x"), None).unwrap();
            FoldOptions::from_config(&c)
        };
        assert_eq!(conf(""), FoldOptions::default());
        assert_eq!(
            conf("search_skipdiacrit: no\nsearch_whitespace: skip\n"),
            FoldOptions {
                skip_diacritics: false,
                whitespace: Whitespace::Skip
            }
        );
    }
}
