//! Reading one imapd.conf value according to its option's type, with Cyrus 3.6's exact rules.
//!
//! Switches look only at the first one or two characters; integers follow C's
//! `strtol(s, &end, 0)` (hex, octal, saturation on overflow) and must use the whole text;
//! durations are checked at load time but kept as written, because Cyrus 3.6 keeps them as
//! text and `cyr_info` prints them back verbatim; enums, stringlists and bitfields accept only
//! their listed words, compared exactly.

use super::options::{Kind, OptionDef, Unit};

/// The effective value of one option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A string, stringlist or duration option, as written (`None` when unset with no default).
    Str(Option<String>),
    /// A switch.
    Switch(bool),
    /// An integer.
    Int(i64),
    /// An enum, as the position of its word in the option's word list.
    Enum(usize),
    /// A bitfield: bit `i` stands for the `i`-th word group of the option.
    Bitfield(u64),
}

impl Value {
    /// The text of a string-like value, if any.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => s.as_deref(),
            _ => None,
        }
    }
}

/// Cyrus's `isspace` in the C locale.
pub(crate) fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{0b}' | '\u{0c}' | '\r')
}

/// Reads a switch: `0`, `n`, `f`, `of...` are off; `1`, `y`, `t`, `on...` are on.
pub fn parse_switch(s: &str) -> Option<bool> {
    let b = s.as_bytes();
    match (b.first(), b.get(1)) {
        (Some(b'0' | b'n' | b'f'), _) | (Some(b'o'), Some(b'f')) => Some(false),
        (Some(b'1' | b'y' | b't'), _) | (Some(b'o'), Some(b'n')) => Some(true),
        _ => None,
    }
}

/// Reads an integer the way `strtol(s, &end, 0)` does, requiring `end` to reach the end.
///
/// Leading whitespace and a sign are allowed; `0x` means hex and a leading `0` octal; values
/// out of range saturate to `i64::MIN`/`i64::MAX` as glibc's `strtol` does on 64-bit Linux.
pub fn parse_int(s: &str) -> Option<i64> {
    let t = s.trim_start_matches(is_space);
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let b = t.as_bytes();
    let (radix, digits) = if (b.starts_with(b"0x") || b.starts_with(b"0X"))
        && b.get(2).is_some_and(|c| c.is_ascii_hexdigit())
    {
        (16, &t[2..])
    } else if b.first() == Some(&b'0') {
        (8, t)
    } else {
        (10, t)
    };
    if digits.is_empty() {
        return None;
    }
    // Accumulate as a negative number so that i64::MIN is reachable, like strtol does.
    let mut acc: i64 = 0;
    let mut overflow = false;
    for c in digits.chars() {
        let d = c.to_digit(radix)? as i64;
        match acc.checked_mul(radix as i64).and_then(|v| v.checked_sub(d)) {
            Some(v) => acc = v,
            None => overflow = true,
        }
    }
    Some(match (neg, overflow) {
        (true, true) => i64::MIN,
        (false, true) => i64::MAX,
        (true, false) => acc,
        (false, false) => acc.checked_neg().unwrap_or(i64::MAX),
    })
}

/// Reads a duration as Cyrus 3.6 does and returns it in seconds.
///
/// Grammar: an optional `-`, then groups of digits each followed by `d`, `h`, `m` or `s`; a
/// final bare number takes `unit`. A lone `-` is accepted as zero. Arithmetic is 32-bit and
/// wraps on overflow, as Cyrus's `int` arithmetic does in practice.
pub fn parse_duration(s: &str, unit: Unit) -> Option<i32> {
    let mut text = s.to_string();
    if text.ends_with(|c: char| c.is_ascii_digit()) {
        text.push(unit.letter());
    }
    let (neg, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.as_str()),
    };
    let mut accum: i32 = 0;
    let mut total: i32 = 0;
    let mut saw_digit = false;
    for c in body.chars() {
        if let Some(d) = c.to_digit(10) {
            accum = accum.wrapping_mul(10).wrapping_add(d as i32);
            saw_digit = true;
            continue;
        }
        if !saw_digit {
            return None;
        }
        saw_digit = false;
        let mult = match c {
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        total = total.wrapping_add(accum.wrapping_mul(mult));
        accum = 0;
    }
    Some(if neg { total.wrapping_neg() } else { total })
}

/// Maps Cyrus's boolean spellings onto `on`/`off` before an enum's words are checked.
fn normalize_enum_word(s: &str) -> &str {
    match s {
        "1" | "yes" | "t" | "true" => "on",
        "0" | "no" | "f" | "false" => "off",
        other => other,
    }
}

/// Position of the bitfield group that has `word` among its names.
fn bit_of(groups: &[&[&str]], word: &str) -> Option<usize> {
    groups.iter().position(|g| g.contains(&word))
}

/// Parses `raw` (already trimmed, never empty) for option `def`; the error is Cyrus's complaint
/// without the line number, which the caller adds.
pub fn parse_value(def: &OptionDef, raw: &str) -> Result<Value, String> {
    let name = def.name;
    match def.kind {
        Kind::String => Ok(Value::Str(Some(raw.to_string()))),
        Kind::Switch => parse_switch(raw)
            .map(Value::Switch)
            .ok_or_else(|| format!("non-switch value for {name}")),
        Kind::Int => parse_int(raw)
            .map(Value::Int)
            .ok_or_else(|| format!("non-integer value for {name}")),
        Kind::Duration(unit) => match parse_duration(raw, unit) {
            Some(_) => Ok(Value::Str(Some(raw.to_string()))),
            None => Err(format!("unparsable duration '{raw}' for {name}")),
        },
        Kind::Enum(words) => {
            let w = normalize_enum_word(raw);
            words
                .iter()
                .position(|x| *x == w)
                .map(Value::Enum)
                .ok_or_else(|| format!("invalid value '{w}' for {name}"))
        }
        Kind::StringList(words) => match words.iter().find(|x| **x == raw) {
            Some(w) => Ok(Value::Str(Some((*w).to_string()))),
            None => Err(format!("invalid value '{raw}' for {name}")),
        },
        Kind::Bitfield(groups) => {
            let mut mask = 0u64;
            for word in raw.split(is_space).filter(|w| !w.is_empty()) {
                match bit_of(groups, word) {
                    Some(bit) => mask |= 1u64 << bit,
                    None => return Err(format!("invalid value '{word}' for {name}")),
                }
            }
            Ok(Value::Bitfield(mask))
        }
    }
}

/// The compiled-in default of `def` as a value (before `{configdirectory}` expansion).
pub fn default_value(def: &OptionDef) -> Value {
    match def.kind {
        Kind::String | Kind::StringList(_) | Kind::Duration(_) => {
            Value::Str(def.default.map(str::to_string))
        }
        Kind::Switch => Value::Switch(def.default.and_then(parse_switch).unwrap_or(false)),
        Kind::Int => Value::Int(def.default.and_then(parse_int).unwrap_or(0)),
        Kind::Enum(words) => Value::Enum(
            def.default
                .and_then(|d| words.iter().position(|w| *w == d))
                .unwrap_or(0),
        ),
        Kind::Bitfield(_) => match def.default.map(|d| parse_value(def, d)) {
            Some(Ok(v)) => v,
            _ => Value::Bitfield(0),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::options::OPTIONS;

    #[test]
    fn switches() {
        let cases: &[(&str, Option<bool>)] = &[
            ("0", Some(false)),
            ("n", Some(false)),
            ("no", Some(false)),
            ("f", Some(false)),
            ("false", Some(false)),
            ("of", Some(false)),
            ("off", Some(false)),
            ("ofx", Some(false)),
            ("1", Some(true)),
            ("y", Some(true)),
            ("yes", Some(true)),
            ("t", Some(true)),
            ("true", Some(true)),
            ("on", Some(true)),
            ("onion", Some(true)),
            ("o", None),
            ("N", None),
            ("T", None),
            ("2", None),
            ("x", None),
            ("", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_switch(input), *want, "{input:?}");
        }
    }

    #[test]
    fn integers_follow_strtol() {
        let cases: &[(&str, Option<i64>)] = &[
            ("0", Some(0)),
            ("42", Some(42)),
            ("+5", Some(5)),
            ("-7", Some(-7)),
            (" 5", Some(5)),
            ("010", Some(8)),
            ("0x1f", Some(31)),
            ("0X1F", Some(31)),
            ("-0x10", Some(-16)),
            ("4294967297", Some(4294967297)),
            ("99999999999999999999", Some(i64::MAX)),
            ("-99999999999999999999", Some(i64::MIN)),
            ("-9223372036854775808", Some(i64::MIN)),
            ("08", None),
            ("0x", None),
            ("0xg", None),
            ("5 5", None),
            ("5 ", None),
            ("-", None),
            ("+", None),
            ("abc", None),
            ("", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_int(input), *want, "{input:?}");
        }
    }

    #[test]
    fn durations() {
        let cases: &[(&str, Unit, Option<i32>)] = &[
            ("32m", Unit::Seconds, Some(1920)),
            ("45", Unit::Minutes, Some(2700)),
            ("45", Unit::Seconds, Some(45)),
            ("7", Unit::Days, Some(604_800)),
            ("1h30m", Unit::Seconds, Some(5400)),
            ("1h30", Unit::Minutes, Some(5400)),
            ("1d2", Unit::Hours, Some(93_600)),
            ("1s1s", Unit::Seconds, Some(2)),
            ("-1d", Unit::Seconds, Some(-86_400)),
            ("-5", Unit::Seconds, Some(-5)),
            ("-", Unit::Seconds, Some(0)),
            ("-0", Unit::Seconds, Some(0)),
            ("0032m", Unit::Seconds, Some(1920)),
            ("5 m", Unit::Seconds, None),
            ("5M", Unit::Seconds, None),
            ("m", Unit::Seconds, None),
            ("1.5h", Unit::Seconds, None),
            ("--5", Unit::Seconds, None),
            ("1h-5m", Unit::Seconds, None),
            ("0x10", Unit::Seconds, None),
        ];
        for (input, unit, want) in cases {
            assert_eq!(parse_duration(input, *unit), *want, "{input:?}");
        }
        // Overflow wraps rather than failing, as Cyrus 3.6 accepts such values.
        assert!(parse_duration("99999999999", Unit::Seconds).is_some());
        assert!(parse_duration("24856d", Unit::Seconds).is_some());
    }

    fn def(name: &str) -> &'static OptionDef {
        crate::config::options::find(name).expect("option in table")
    }

    #[test]
    fn typed_values_and_their_errors() {
        let ok: &[(&str, &str, Value)] = &[
            ("admins", "a b", Value::Str(Some("a b".into()))),
            ("allowapop", "no", Value::Switch(false)),
            ("maxword", "0x10", Value::Int(16)),
            ("timeout", "1h", Value::Str(Some("1h".into()))),
            ("serverinfo", "min", Value::Enum(1)),
            ("serverinfo", "yes", Value::Enum(2)),
            ("serverinfo", "false", Value::Enum(0)),
            (
                "mboxlist_db",
                "skiplist",
                Value::Str(Some("skiplist".into())),
            ),
            ("httpmodules", "caldav  jmap", Value::Bitfield(0b1000_0010)),
            ("event_groups", "mailbox", Value::Bitfield(1 << 4)),
        ];
        for (name, raw, want) in ok {
            assert_eq!(
                parse_value(def(name), raw).as_ref(),
                Ok(want),
                "{name}: {raw}"
            );
        }
        let bad: &[(&str, &str, &str)] = &[
            ("allowapop", "zzz", "non-switch value for allowapop"),
            ("maxword", "zzz", "non-integer value for maxword"),
            ("timeout", "zzz", "unparsable duration 'zzz' for timeout"),
            ("serverinfo", "zzz", "invalid value 'zzz' for serverinfo"),
            ("delete_mode", "yes", "invalid value 'on' for delete_mode"),
            (
                "mboxlist_db",
                "TWOSKIP",
                "invalid value 'TWOSKIP' for mboxlist_db",
            ),
            ("mboxlist_db", "yes", "invalid value 'yes' for mboxlist_db"),
            (
                "httpmodules",
                "caldav bogus",
                "invalid value 'bogus' for httpmodules",
            ),
        ];
        for (name, raw, want) in bad {
            assert_eq!(
                parse_value(def(name), raw),
                Err(want.to_string()),
                "{name}: {raw}"
            );
        }
    }

    #[test]
    fn bitfield_aliases_share_a_bit() {
        let d = def("sieve_extensions");
        assert_eq!(parse_value(d, "imapflags"), parse_value(d, "imap4flags"));
        assert_eq!(parse_value(d, "x-cyrus-snooze"), parse_value(d, "snooze"));
    }

    #[test]
    fn every_default_in_the_table_parses() {
        for o in OPTIONS {
            let Some(d) = o.default else { continue };
            let ok = match o.kind {
                Kind::String => true,
                Kind::Switch => d == "0" || d == "1",
                Kind::Int => parse_int(d).is_some(),
                Kind::Duration(u) => parse_duration(d, u).is_some(),
                Kind::Enum(_) | Kind::StringList(_) | Kind::Bitfield(_) => {
                    parse_value(o, d).is_ok()
                }
            };
            assert!(ok, "default {d:?} of {}", o.name);
        }
    }
}
