//! Local delivery: one message, already received, into the store for one recipient, as
//! Cyrus 3.6's lmtpd does it. lmtpd files every message through here; `deliver` reaches it
//! through lmtpd, as Cyrus's does, so there is one path.
//!
//! The caller resolves a recipient address with [`Deliverer::resolve`] (user, `+detail`
//! folder, or a shared folder for `+folder`; quota root), builds the final message with [`trace_headers`] in front of the
//! received bytes, and hands it to [`Deliverer::deliver`] with a list of [`Action`]s. For
//! now the only action is filing into a mailbox; Sieve will produce longer lists. Each
//! filing checks the duplicate database and the quota, appends (message file, cache and
//! index record, all fsynced by [`Mailbox::append`]) and then records usage and the
//! duplicate mark, so a 250 sent after [`Deliverer::deliver`] returns is durable. The mark
//! comes after the append on purpose: a crash between them makes the MTA's retry a second
//! copy, never a lost message (lib-cyrus/tests/delivery_crash.rs).
//!
//! Quota follows Cyrus's non-strict rule: a delivery is refused only when the root is over
//! its storage limit already, or at its message limit (`lmtp_strict_quota` adds the message
//! size to the storage check).

use std::path::PathBuf;

use crate::acl::{self, Identity, Rights};
use crate::config::Config;
use crate::db::Walk;
use crate::duplicate::{DupKey, DuplicateDb};
use crate::error::{Error, Result};
use crate::mailbox::header::Header;
use crate::mailbox::index::SystemFlags;
use crate::mailbox::{Append, LockMode, Mailbox};
use crate::mboxlist::{paths, Include, MailboxList, MboxEntry};
use crate::mboxname::{InternalName, MbName, Namespace, VirtDomains};
use crate::quota::{self, QuotaDb, Resource, NUM_RESOURCES};

mod time;

pub use time::rfc822_date;

/// What Sieve (or plain delivery) asks to be done with one message for one recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// File into this mailbox with these system flags; `acl_override` skips the `p` check
    /// (a user's own INBOX).
    FileInto {
        /// Internal name of the target.
        mailbox: InternalName,
        /// Initial system flags.
        flags: SystemFlags,
        /// Deliver even without the post right (Cyrus does for the INBOX fallback).
        acl_override: bool,
    },
}

/// A recipient address resolved against mailboxes.db.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    /// The address as given (after `lmtp_downcase_rcpt`).
    pub address: String,
    /// The user (`alice`, `alice@example.com`); empty for a shared folder.
    pub userid: String,
    /// The user's INBOX entry, or the shared folder (`+shared.team`, `postuser+shared.team`)
    /// whose post right was checked at RCPT.
    pub inbox: MboxEntry,
    /// The `+detail` folder, when given, existing and open to posting.
    pub detail: Option<MboxEntry>,
}

impl Recipient {
    /// The actions of a delivery without Sieve: the detail folder if any, else INBOX.
    pub fn default_actions(&self) -> Vec<Action> {
        let target = self.detail.as_ref().unwrap_or(&self.inbox);
        vec![Action::FileInto {
            mailbox: target.name.clone(),
            flags: SystemFlags(0),
            acl_override: self.detail.is_none(),
        }]
    }
}

/// Why a recipient or a delivery failed, each mapping to one LMTP reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// No such user or mailbox (550 5.1.1).
    UserUnknown,
    /// The quota root is full (452 4.2.2, or 552 5.2.2 with `lmtp_over_quota_perm_failure`).
    OverQuota,
    /// The target refuses posting (550 5.7.1).
    PermissionDenied,
    /// A local error; try again later (451 4.3.0).
    Temporary(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::Temporary(e.to_string())
    }
}

/// What one action did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Appended with this UID.
    Delivered {
        /// The mailbox.
        mailbox: InternalName,
        /// The new UID.
        uid: u32,
    },
    /// Dropped: the same Message-ID and Date went to this mailbox before.
    Duplicate {
        /// The mailbox.
        mailbox: InternalName,
    },
}

/// Options of one delivery that come from the LMTP session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeliveryOptions {
    /// IGNOREQUOTA was given (or `-q` of `deliver`): skip the quota check.
    pub ignore_quota: bool,
    /// The time of delivery (INTERNALDATE, duplicate mark).
    pub now: i64,
}

/// The information the Return-Path and Received headers carry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace<'a> {
    /// MAIL FROM address, without brackets (empty for the null sender).
    pub return_path: &'a str,
    /// The LHLO argument.
    pub helo: &'a str,
    /// The client as Cyrus names it (`[unix socket]`, `host [1.2.3.4]`).
    pub client: &'a str,
    /// `servername`.
    pub servername: &'a str,
    /// The version Cyrus prints (`3.6.1-Debian-...`).
    pub version: &'a str,
    /// `LMTP`, with `A` when authenticated (the unix socket counts) and `S` under TLS.
    pub with: &'a str,
    /// The session id, for `X-Cyrus-Session-Id`.
    pub session_id: &'a str,
    /// The delivery time.
    pub now: i64,
}

/// The header lines lmtpd puts in front of a message, byte for byte as Cyrus 3.6 writes
/// them (Return-Path, Received, X-Cyrus-Session-Id, X-Sieve).
pub fn trace_headers(t: &Trace<'_>) -> Vec<u8> {
    format!(
        "Return-Path: <{}>\r\nReceived: from {} ({})\r\n\t by {} (Cyrus {}) with {};\r\n\t {}\r\nX-Cyrus-Session-Id: {}\r\nX-Sieve: CMU Sieve 3.0\r\n",
        t.return_path,
        t.helo,
        t.client,
        t.servername,
        t.version,
        t.with,
        rfc822_date(t.now),
        t.session_id
    )
    .into_bytes()
}

/// Why received message data cannot be stored; each is a `554 5.6.0` reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// A NUL byte anywhere in the data.
    Nul,
    /// A line of the header that is neither a field nor a continuation.
    InvalidHeader,
    /// An 8-bit byte in the header while `reject8bit` is on.
    EightBitHeader,
}

impl Rejection {
    /// The reply text Cyrus gives after `554 5.6.0 `.
    pub fn text(self) -> &'static str {
        match self {
            Rejection::Nul => "Message contains NUL characters",
            Rejection::InvalidHeader => "Message contains invalid header",
            Rejection::EightBitHeader => "Message contains non-ASCII characters in headers",
        }
    }
}

/// What [`prepare_message`] adds where the message lacks it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fill<'a> {
    /// The Message-ID to add (`<cmu-lmtpd-pid-time-n@servername>`) when there is none.
    pub message_id: &'a str,
    /// The delivery time, for a missing Date.
    pub now: i64,
    /// `munge8bit`: 8-bit bytes in the header become `X`.
    pub munge8bit: bool,
    /// `reject8bit`: an 8-bit byte in the header refuses the message (before `munge8bit`).
    pub reject8bit: bool,
}

fn is_field_line(line: &[u8]) -> bool {
    let name_len = line
        .iter()
        .take_while(|&&b| (33..=126).contains(&b) && b != b':')
        .count();
    name_len > 0 && line.get(name_len) == Some(&b':')
}

/// Turns received data (CRLF lines, dot-unstuffed) into the message as Cyrus stores it: lone
/// CRs dropped, Return-Path fields removed (the trace headers carry the envelope's), 8-bit
/// header bytes munged, and Message-ID and Date added at the end of the header if missing.
pub fn prepare_message(data: &[u8], fill: &Fill<'_>) -> std::result::Result<Vec<u8>, Rejection> {
    if data.contains(&0) {
        return Err(Rejection::Nul);
    }
    let mut out = Vec::with_capacity(data.len() + 128);
    let (mut have_id, mut have_date) = (false, false);
    let mut dropping = false;
    let mut rest = data;
    while !rest.is_empty() {
        let end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(rest.len(), |i| i + 2);
        let (raw, tail) = rest.split_at(end);
        let body = raw.strip_suffix(b"\r\n").unwrap_or(raw);
        if body.is_empty() {
            break;
        }
        rest = tail;
        let mut line: Vec<u8> = body.iter().copied().filter(|&b| b != b'\r').collect();
        if matches!(line.first(), Some(b' ' | b'\t')) {
            if dropping {
                continue;
            }
        } else if is_field_line(&line) {
            let colon = line.iter().position(|&b| b == b':').unwrap_or(0);
            let name = &line[..colon];
            dropping = name.eq_ignore_ascii_case(b"return-path");
            if dropping {
                continue;
            }
            have_id |= name.eq_ignore_ascii_case(b"message-id");
            have_date |= name.eq_ignore_ascii_case(b"date");
        } else {
            return Err(Rejection::InvalidHeader);
        }
        if fill.reject8bit && line.iter().any(|&b| b >= 0x80) {
            return Err(Rejection::EightBitHeader);
        }
        if fill.munge8bit {
            for b in &mut line {
                if *b >= 0x80 {
                    *b = b'X';
                }
            }
        }
        out.extend_from_slice(&line);
        out.extend_from_slice(b"\r\n");
    }
    if !have_id {
        out.extend_from_slice(format!("Message-ID: {}\r\n", fill.message_id).as_bytes());
    }
    if !have_date {
        out.extend_from_slice(format!("Date: {}\r\n", rfc822_date(fill.now)).as_bytes());
    }
    // The body: lone CRs go, as Cyrus drops them while copying.
    let mut i = 0;
    while i < rest.len() {
        let b = rest[i];
        if b != b'\r' || rest.get(i + 1) == Some(&b'\n') {
            out.push(b);
        }
        i += 1;
    }
    Ok(out)
}

/// The value of the first header `name` in the top-level header of `msg`, unfolded and
/// trimmed, as Cyrus keys deliver.db with it.
pub fn header_value(msg: &[u8], name: &str) -> Option<Vec<u8>> {
    let mut lines = msg.split(|&b| b == b'\n').peekable();
    while let Some(line) = lines.next() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return None;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        if !line[..colon].eq_ignore_ascii_case(name.as_bytes()) {
            continue;
        }
        let mut v = line[colon + 1..].to_vec();
        while let Some(next) = lines.peek() {
            if matches!(next.first(), Some(b' ' | b'\t')) {
                let n = next.strip_suffix(b"\r").unwrap_or(next);
                v.extend_from_slice(n);
                lines.next();
            } else {
                break;
            }
        }
        let start = v
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(v.len());
        let end = v
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
            .map_or(start, |e| e + 1);
        return Some(v[start..end.max(start)].to_vec());
    }
    None
}

/// The store, opened once per connection: mailboxes.db, quota and deliver.db.
pub struct Deliverer<'c> {
    config: &'c Config,
    ns: Namespace,
    mboxlist: MailboxList,
    quota: QuotaDb,
    duplicate: Option<DuplicateDb>,
    /// The message file last written and its GUID: the next mailbox to get the same
    /// message links to it (`singleinstancestore`).
    stored: Option<(crate::mailbox::index::Guid, PathBuf)>,
}

impl<'c> Deliverer<'c> {
    /// Opens the databases delivery needs.
    pub fn open(config: &'c Config) -> Result<Deliverer<'c>> {
        let duplicate = if config.switch("duplicatesuppression") {
            Some(DuplicateDb::open(config, None)?)
        } else {
            None
        };
        Ok(Deliverer {
            config,
            ns: Namespace::from_config(config, false),
            mboxlist: MailboxList::open(config, None)?,
            quota: QuotaDb::open(config)?,
            duplicate,
            stored: None,
        })
    }

    /// Resolves an RCPT TO address (without brackets) to a user, and checks the quota of
    /// the target as Cyrus does at RCPT time (`size` from SIZE=, 0 if none). An address
    /// with no mailbox goes to the INBOX of `lmtp_catchall_mailbox` when that is set.
    pub fn resolve(
        &mut self,
        address: &str,
        sender: &Identity,
        size: u64,
        ignore_quota: bool,
    ) -> std::result::Result<Recipient, Failure> {
        match self.resolve_address(address, sender, size, ignore_quota) {
            Err(Failure::UserUnknown) => {
                let catchall = self
                    .config
                    .string("lmtp_catchall_mailbox")
                    .filter(|c| !c.is_empty())
                    .ok_or(Failure::UserUnknown)?
                    .to_string();
                let mut r = self.resolve_address(&catchall, sender, size, ignore_quota)?;
                r.address = address.to_string();
                Ok(r)
            }
            other => other,
        }
    }

    fn resolve_address(
        &mut self,
        address: &str,
        sender: &Identity,
        size: u64,
        ignore_quota: bool,
    ) -> std::result::Result<Recipient, Failure> {
        let address = if self.config.switch("lmtp_downcase_rcpt") {
            downcase_rcpt(address)
        } else {
            address.to_string()
        };
        let (local, domain) = match address.rsplit_once('@') {
            Some((l, d)) => (l, Some(d)),
            None => (address.as_str(), None),
        };
        let (user, detail) = match local.split_once('+') {
            Some((u, d)) => (u, Some(d)),
            None => (local, None),
        };
        let postuser = self.config.string("postuser").unwrap_or("");
        if let Some(folder) = detail.filter(|_| user.is_empty() || user == postuser) {
            let inbox = self.shared_folder(folder, domain, sender)?;
            return Ok(Recipient {
                address,
                userid: String::new(),
                inbox,
                detail: None,
            });
        }
        // Without virtual domains Cyrus delivers by localpart alone.
        let userid = match domain {
            Some(d) if self.ns.virtdomains != VirtDomains::Off => format!("{user}@{d}"),
            _ => user.to_string(),
        };
        let mbname = MbName::from_userid(&userid, &self.ns).map_err(|_| Failure::UserUnknown)?;
        let userid = mbname.userid().ok_or(Failure::UserUnknown)?;
        let name = mbname
            .to_internal(&self.ns.deletedprefix)
            .map_err(|_| Failure::UserUnknown)?;
        let inbox = match self.mboxlist.lookup_visible(&name)? {
            Some(e) => e,
            // `autocreate_post`: a missing INBOX is made on delivery, by the login rules.
            None if self.config.switch("autocreate_post") => {
                let admin = crate::auth::is_admin(self.config, &userid);
                if !crate::mailbox::autocreate::inbox(self.config, &userid, admin)? {
                    return Err(Failure::UserUnknown);
                }
                self.mboxlist
                    .lookup_visible(&name)?
                    .ok_or(Failure::UserUnknown)?
            }
            None => return Err(Failure::UserUnknown),
        };
        let detail = match detail.filter(|d| !d.is_empty()) {
            Some(d) => self.detail_folder(&mbname, d, sender)?,
            None => None,
        };
        let target = detail.as_ref().unwrap_or(&inbox);
        if !ignore_quota {
            let strict = self.config.switch("lmtp_strict_quota");
            self.check_quota(target, if strict { size } else { 0 })?;
        }
        Ok(Recipient {
            address,
            userid,
            inbox,
            detail,
        })
    }

    /// The `+detail` folder of a user when it exists and `sender` may post to it.
    fn detail_folder(
        &mut self,
        user: &MbName,
        detail: &str,
        sender: &Identity,
    ) -> Result<Option<MboxEntry>> {
        let mut mb = user.clone();
        mb.boxes = detail.split(self.ns.sep).map(str::to_string).collect();
        let Ok(name) = mb.to_internal(&self.ns.deletedprefix) else {
            return Ok(None);
        };
        let entry = match self.mboxlist.lookup_visible(&name)? {
            Some(e) => Some(e),
            None if self.config.switch("lmtp_fuzzy_mailbox_match") => self.fuzzy(user, &name)?,
            None => None,
        };
        let Some(entry) = entry else {
            return Ok(None);
        };
        let ctx = acl::Context::from_config(self.config);
        let rights = entry
            .acl
            .as_ref()
            .map(|a| acl::acl_rights(a, sender, ctx.deleteright))
            .unwrap_or_default();
        Ok(rights.has(Rights::POST).then_some(entry))
    }

    /// `lmtp_fuzzy_mailbox_match`: the first of the user's folders whose name equals `name`
    /// but for case (Debian's lmtpd matches neither prefixes nor other separators).
    fn fuzzy(&mut self, user: &MbName, name: &InternalName) -> Result<Option<MboxEntry>> {
        let mut inbox = user.clone();
        inbox.boxes.clear();
        let Ok(inbox) = inbox.to_internal(&self.ns.deletedprefix) else {
            return Ok(None);
        };
        let want = name.as_str().to_lowercase();
        let mut found = None;
        self.mboxlist
            .foreach(Some(&inbox), Include::default(), &mut |e| {
                if e.name.as_str().to_lowercase() == want {
                    found = Some(e);
                    return Ok(Walk::Stop);
                }
                Ok(Walk::Continue)
            })?;
        Ok(found)
    }

    /// The shared folder an address `+folder` (or `postuser+folder`) names; refused unless
    /// `sender` may post to it, as Cyrus refuses it.
    fn shared_folder(
        &mut self,
        folder: &str,
        domain: Option<&str>,
        sender: &Identity,
    ) -> std::result::Result<MboxEntry, Failure> {
        let name = match domain {
            Some(d) if self.ns.virtdomains != VirtDomains::Off => format!("{d}!{folder}"),
            _ => folder.to_string(),
        };
        let sep = self.ns.sep;
        // With the `/` separator the internal name has dots where the user sees slashes.
        let name = if sep == '.' {
            name
        } else {
            name.replace('.', "^").replace(sep, ".")
        };
        let Ok(name) = InternalName::new(name) else {
            return Err(Failure::UserUnknown);
        };
        let entry = self
            .mboxlist
            .lookup_visible(&name)?
            .ok_or(Failure::UserUnknown)?;
        let ctx = acl::Context::from_config(self.config);
        let rights = entry
            .acl
            .as_ref()
            .map(|a| acl::acl_rights(a, sender, ctx.deleteright))
            .unwrap_or_default();
        if rights.has(Rights::POST) {
            Ok(entry)
        } else {
            Err(Failure::PermissionDenied)
        }
    }

    /// The quota root of a mailbox: Cyrus keeps it in cyrus.header (`Q`), not in the quota
    /// database, so a quota record without the header naming it does not count.
    fn quota_root(&self, entry: &MboxEntry) -> Result<Option<String>> {
        let Some(dir) = paths::mailbox_dir(self.config, entry, paths::Area::Data) else {
            return Ok(None);
        };
        let (header, _) = Header::read(&dir)?;
        Ok(header.quotaroot.filter(|r| !r.is_empty()))
    }

    /// Refuses when the quota root of `entry` is at or over a limit (with `extra` bytes
    /// added to the storage check and one message to the message count).
    fn check_quota(&mut self, entry: &MboxEntry, extra: u64) -> std::result::Result<(), Failure> {
        let Some(root) = self.quota_root(entry)? else {
            return Ok(());
        };
        let Some(q) = self.quota.read(&root)? else {
            return Ok(());
        };
        let extra = i64::try_from(extra).unwrap_or(i64::MAX);
        for (res, delta) in [(Resource::Storage, extra), (Resource::Message, 1)] {
            let i = res.index();
            if let Some(limit) = q.limits[i] {
                let lim = limit.saturating_mul(res.unit());
                if q.used[i].saturating_add(delta) > lim {
                    return Err(Failure::OverQuota);
                }
            }
        }
        Ok(())
    }

    /// Carries out `actions` for `rcpt` with the final message bytes (trace headers
    /// included). Stops at the first failure; what was filed before it stays filed.
    pub fn deliver(
        &mut self,
        msg: &[u8],
        rcpt: &Recipient,
        actions: &[Action],
        opts: DeliveryOptions,
    ) -> std::result::Result<Vec<Outcome>, Failure> {
        let mut done = Vec::with_capacity(actions.len());
        for action in actions {
            match action {
                Action::FileInto {
                    mailbox,
                    flags,
                    acl_override,
                } => done.push(self.file_into(msg, rcpt, mailbox, *flags, *acl_override, opts)?),
            }
        }
        Ok(done)
    }

    fn file_into(
        &mut self,
        msg: &[u8],
        rcpt: &Recipient,
        name: &InternalName,
        flags: SystemFlags,
        acl_override: bool,
        opts: DeliveryOptions,
    ) -> std::result::Result<Outcome, Failure> {
        let entry = self
            .mboxlist
            .lookup_visible(name)?
            .ok_or(Failure::UserUnknown)?;
        if !acl_override && rcpt.detail.as_ref().map(|d| &d.name) != Some(name) {
            // Only the resolved detail folder has had its post right checked.
            return Err(Failure::PermissionDenied);
        }
        let uniqueid = entry
            .uniqueid
            .clone()
            .ok_or_else(|| Failure::Temporary(format!("{name}: no uniqueid")))?;
        let dupkey = match (&self.duplicate, header_value(msg, "message-id")) {
            (Some(_), Some(id)) if !id.is_empty() => {
                let date = header_value(msg, "date").unwrap_or_default();
                Some(DupKey::new(id, uniqueid.as_bytes().to_vec(), date))
            }
            _ => None,
        };
        if let (Some(db), Some(key)) = (self.duplicate.as_mut(), dupkey.as_ref()) {
            if db.check(key)?.is_some() {
                return Ok(Outcome::Duplicate {
                    mailbox: name.clone(),
                });
            }
        }
        if !opts.ignore_quota {
            self.check_quota(&entry, 0)?;
        }
        let dir: PathBuf = paths::mailbox_dir(self.config, &entry, paths::Area::Data)
            .ok_or_else(|| Failure::Temporary(format!("{name}: no partition")))?;
        let parsed = crate::message::parse(msg);
        let now = u32::try_from(opts.now).unwrap_or(0);
        let uid = {
            let _lock = quota::name_lock(self.config, &uniqueid, true)?;
            let mut mb = Mailbox::open(&dir, LockMode::Write)?;
            let append = Append {
                message: msg,
                guid: parsed.guid,
                internaldate: now,
                sentdate: parsed.sentdate,
                gmtime: parsed.gmtime,
                header_size: parsed.header_size,
                system_flags: flags,
                user_flags: [0; 4],
                cache: &parsed.cache,
                now,
            };
            let source = self
                .stored
                .as_ref()
                .filter(|(g, _)| *g == parsed.guid && self.config.switch("singleinstancestore"))
                .map(|(_, p)| p.clone());
            let rec = match &source {
                Some(src) => mb.append_linked(&append, src)?,
                None => mb.append(&append)?,
            };
            self.stored = Some((parsed.guid, mb.message_path(rec.uid)));
            rec.uid
        };
        if let Some(root) = self.quota_root(&entry)? {
            let mut diff = [0i64; NUM_RESOURCES];
            diff[Resource::Storage.index()] = i64::from(parsed.size);
            diff[Resource::Message.index()] = 1;
            self.quota.update_used(&root, &diff)?;
        }
        if let (Some(db), Some(key)) = (self.duplicate.as_mut(), dupkey.as_ref()) {
            db.mark(key, opts.now, u64::from(uid))?;
        }
        Ok(Outcome::Delivered {
            mailbox: name.clone(),
            uid,
        })
    }
}

/// `lmtp_downcase_rcpt`: the part before `+` (or `@`) lowercased, the detail and domain kept.
pub fn downcase_rcpt(address: &str) -> String {
    let end = address.find(['+', '@']).unwrap_or(address.len());
    let (user, rest) = address.split_at(end);
    let rest = match rest.rsplit_once('@') {
        Some((detail, dom)) => format!("{detail}@{}", dom.to_ascii_lowercase()),
        None => rest.to_string(),
    };
    format!("{}{rest}", user.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_headers_have_cyrus_shape() {
        let t = Trace {
            return_path: "sender@example.org",
            helo: "x",
            client: "[unix socket]",
            servername: "cyrus-ref",
            version: "3.6.1-Debian-3.6.1-4+deb12u5",
            with: "LMTPA",
            session_id: "cyrus-ref-1-2-3-4",
            now: 0,
        };
        let h = String::from_utf8(trace_headers(&t)).unwrap_or_default();
        assert!(h.starts_with(
            "Return-Path: <sender@example.org>\r\nReceived: from x ([unix socket])\r\n\t by cyrus-ref (Cyrus 3.6.1-Debian-3.6.1-4+deb12u5) with LMTPA;\r\n\t "
        ));
        assert!(
            h.ends_with("\r\nX-Cyrus-Session-Id: cyrus-ref-1-2-3-4\r\nX-Sieve: CMU Sieve 3.0\r\n")
        );
    }

    #[test]
    fn header_values_unfold_and_stop_at_body() {
        let m = b"Subject: a\r\nMessage-ID:\r\n <x@y>\r\nDate: Fri, 12 Jan 2024\r\n\r\nMessage-ID: <no>\r\n";
        assert_eq!(
            header_value(m, "message-id").as_deref(),
            Some(&b"<x@y>"[..])
        );
        assert_eq!(
            header_value(m, "date").as_deref(),
            Some(&b"Fri, 12 Jan 2024"[..])
        );
        assert_eq!(header_value(b"A: b\r\n\r\nX: y", "x"), None);
    }

    #[test]
    fn downcase_keeps_detail() {
        assert_eq!(
            downcase_rcpt("Alice+Work@Example.ORG"),
            "alice+Work@example.org"
        );
        assert_eq!(downcase_rcpt("BOB"), "bob");
    }

    #[test]
    fn prepared_as_cyrus_stores_it() {
        let fill = Fill {
            message_id: "<cmu-lmtpd-1-2-0@srv>",
            now: 0,
            munge8bit: true,
            reject8bit: false,
        };
        let got = prepare_message(
            b"Return-Path: <old@x>\r\n <cont>\r\nSubject: caf\xc3\xa9\r\nMessage-ID: <a@b>\r\n\r\nbody \xc3\xa9\r\nlone\rcr\r\n",
            &fill,
        );
        let want: &[u8] = b"Subject: cafXX\r\nMessage-ID: <a@b>\r\nDate: Thu, 01 Jan 1970 00:00:00 +0000\r\n\r\nbody \xc3\xa9\r\nlonecr\r\n";
        if local_is_utc() {
            assert_eq!(got.as_deref(), Ok(want));
        }
        let got = prepare_message(b"From: a@b\r\n", &fill).unwrap_or_default();
        assert!(got.starts_with(b"From: a@b\r\nMessage-ID: <cmu-lmtpd-1-2-0@srv>\r\nDate: "));
        assert_eq!(prepare_message(b"a\0", &fill), Err(Rejection::Nul));
        let strict = Fill {
            reject8bit: true,
            ..fill.clone()
        };
        assert_eq!(
            prepare_message(b"Subject: caf\xc3\xa9\r\n\r\n", &strict),
            Err(Rejection::EightBitHeader)
        );
        assert!(prepare_message(b"Subject: x\r\n\r\ncaf\xc3\xa9\r\n", &strict).is_ok());
        assert_eq!(
            prepare_message(b"not a header\r\n\r\n", &fill),
            Err(Rejection::InvalidHeader)
        );
    }

    fn local_is_utc() -> bool {
        rfc822_date(0).ends_with("+0000")
    }

    proptest::proptest! {
        #[test]
        fn prepare_never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let fill = Fill { message_id: "<m@s>", now: 0, munge8bit: true, reject8bit: false };
            if let Ok(m) = prepare_message(&data, &fill) {
                proptest::prop_assert!(!m.contains(&0));
            }
            let _ = header_value(&data, "message-id");
            let _ = downcase_rcpt(&String::from_utf8_lossy(&data));
        }
    }
}
