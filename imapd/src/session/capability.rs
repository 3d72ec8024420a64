//! The CAPABILITY lists: the short one of the greeting and the full one, in Cyrus 3.6's
//! order, so that clients and scripts that match on it see what they saw before.
//!
//! Cyrus advertises some extensions this server does not implement yet (SORT, THREAD,
//! COMPRESS, URLAUTH, ...). Advertising them would make clients use commands we would
//! refuse, so each entry below says whether we serve it, and only those are listed; the
//! transcript tests name the ones still missing.

use cyrus::config::Config;

use super::Settings;

/// One capability and whether this build serves it.
struct Cap {
    name: &'static str,
    served: bool,
}

const fn cap(name: &'static str, served: bool) -> Cap {
    Cap { name, served }
}

/// The full list between `ENABLE` and the AUTH part, in Cyrus 3.6's order.
const FULL: &[Cap] = &[
    cap("ACL", true),
    cap("ANNOTATE-EXPERIMENT-1", false),
    cap("BINARY", true),
    cap("CATENATE", false),
    cap("CHILDREN", true),
    cap("CONDSTORE", true),
    cap("CREATE-SPECIAL-USE", true),
    cap("ESEARCH", true),
    cap("ESORT", false),
    cap("LIST-EXTENDED", true),
    cap("LIST-MYRIGHTS", true),
    cap("LIST-STATUS", true),
    cap("MAILBOX-REFERRALS", true),
    cap("METADATA", true),
    cap("MOVE", true),
    cap("MULTIAPPEND", true),
    cap("NAMESPACE", true),
    cap("OBJECTID", true),
    cap("PREVIEW", false),
    cap("QRESYNC", true),
    cap("QUOTA", true),
    cap("RIGHTS=kxten", true),
    cap("SAVEDATE", false),
    cap("SEARCH=FUZZY", false),
    cap("SORT", false),
    cap("SORT=DISPLAY", false),
    cap("SPECIAL-USE", true),
    cap("STATUS=SIZE", true),
    cap("THREAD=ORDEREDSUBJECT", false),
    cap("THREAD=REFERENCES", false),
    cap("UIDPLUS", true),
    cap("UNSELECT", true),
    cap("URLAUTH", false),
    cap("URLAUTH=BINARY", false),
    cap("WITHIN", true),
    cap("DIGEST=SHA1", false),
    cap("LIST-METADATA", false),
    cap("NO_ATOMIC_RENAME", true),
    cap("SCAN", false),
    cap("SORT=MODSEQ", false),
    cap("SORT=UID", false),
    cap("THREAD=REFS", false),
    cap("X-CREATEDMODSEQ", false),
    cap("X-REPLICATION", false),
    cap("X-SIEVE-MAILBOX", false),
    cap("XLIST", true),
    cap("XMOVE", false),
];

/// After the AUTH part.
const TAIL: &[Cap] = &[
    cap("COMPRESS=DEFLATE", false),
    cap("X-QUOTA=STORAGE", true),
    cap("X-QUOTA=MESSAGE", true),
    cap("X-QUOTA=X-ANNOTATION-STORAGE", true),
    cap("X-QUOTA=X-NUM-FOLDERS", true),
    cap("IDLE", true),
];

/// What the client may use now: the greeting's short list before login when `full` is
/// false... and the whole list otherwise. `authenticated` drops the login part.
pub fn capabilities(config: &Config, settings: &Settings, authenticated: bool) -> String {
    list(config, settings, authenticated, true)
}

/// The short list the greeting carries.
pub fn greeting(config: &Config, settings: &Settings) -> String {
    list(config, settings, false, false)
}

fn list(config: &Config, settings: &Settings, authenticated: bool, full: bool) -> String {
    let mut v: Vec<String> = ["IMAP4rev1", "LITERAL+", "ID", "ENABLE"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    if full {
        v.extend(FULL.iter().filter(|c| c.served).map(|c| c.name.to_string()));
    }
    if authenticated {
        // Cyrus says LOGINDISABLED after login: LOGIN is no longer allowed.
        v.push("LOGINDISABLED".into());
    } else {
        if settings.tls_available && !settings.tls_active {
            v.push("STARTTLS".into());
        }
        let plain_ok = settings.allow_plaintext || settings.tls_active;
        if !plain_ok {
            v.push("LOGINDISABLED".into());
        }
        v.extend(auth_mechanisms(config, plain_ok));
        v.push("SASL-IR".into());
    }
    if full {
        v.extend(TAIL.iter().filter(|c| c.served).map(|c| c.name.to_string()));
        v.push(format!("APPENDLIMIT={}", appendlimit(config)));
    }
    v.join(" ")
}

/// The SASL mechanisms offered, as `AUTH=...` words; plaintext ones only when allowed.
fn auth_mechanisms(config: &Config, plain_ok: bool) -> Vec<String> {
    let Ok(mut sasl) = cyrus::auth::Server::new(config, "imap") else {
        return Vec::new();
    };
    let Some(list) = sasl.mechanisms("", " ", "") else {
        return Vec::new();
    };
    list.split_whitespace()
        .filter(|m| plain_ok || !matches!(*m, "PLAIN" | "LOGIN"))
        .map(|m| format!("AUTH={m}"))
        .collect()
}

/// The largest APPEND accepted: `maxmessagesize`, or 2^32-1 when unlimited.
pub fn appendlimit(config: &Config) -> u64 {
    match config.int("maxmessagesize") {
        n if n > 0 => n as u64,
        _ => u64::from(u32::MAX),
    }
}
