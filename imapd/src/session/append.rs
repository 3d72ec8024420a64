//! APPEND and MULTIAPPEND (RFC 3501 §6.3.11, RFC 3502) with UIDPLUS's APPENDUID, and the
//! one path every new message takes into a mailbox (COPY and MOVE use it too): limits, quota,
//! the append under the index lock, the quota charge.

use cyrus::acl::Rights;
use cyrus::mailbox::index::{Options, SystemFlags};
use cyrus::mailbox::{Append, LockMode, Mailbox};
use cyrus::quota::{QuotaDb, Resource, NUM_RESOURCES};
use cyrus::syslog::{self, Level};

use super::names::{Target, DENIED, IOERROR, NONEXISTENT};
use super::select::now32;
use super::Session;
use crate::proto::command::AppendMessage;

/// A message on its way into a mailbox.
pub(super) struct Incoming<'a> {
    pub bytes: &'a [u8],
    /// Where the same bytes are stored already (COPY, MOVE): linked, not written again.
    pub source: Option<std::path::PathBuf>,
    pub system: u16,
    pub keywords: &'a [String],
    pub internaldate: u32,
}

/// Why a message was refused, as the NO text.
pub(super) fn check_message(msg: &[u8], limit: u64) -> Result<(), &'static str> {
    if msg.is_empty() {
        return Err("Message has no header/body separator");
    }
    if msg.len() as u64 > limit {
        return Err("[TOOBIG] Message too large");
    }
    if msg.contains(&0) {
        return Err("Message contains NUL characters");
    }
    // Cyrus refuses LF without CR: the store and every client expect CRLF lines.
    let bare_lf = msg
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'\n' && (i == 0 || msg[i - 1] != b'\r'));
    if bare_lf {
        return Err("Message contains bare newlines");
    }
    Ok(())
}

impl Session {
    /// Refuses the append if it would exceed the quota of `mb`'s root.
    pub(super) fn quota_allows(
        &self,
        mb: &Mailbox,
        bytes: u64,
        count: u64,
    ) -> Result<(), &'static str> {
        let Some(root) = mb.header().quotaroot.clone() else {
            return Ok(());
        };
        let q = match QuotaDb::open(&self.config).and_then(|mut db| db.read(&root)) {
            Ok(Some(q)) => q,
            Ok(None) => return Ok(()),
            Err(e) => {
                syslog::log(Level::Err, &format!("IOERROR: quota {root}: {e}"));
                return Err(IOERROR);
            }
        };
        let over = |r: Resource, add: u64| {
            q.limits[r.index()].is_some_and(|limit| {
                let used = q.used[r.index()].max(0) as u64;
                used + add > (limit.max(0) as u64) * r.unit() as u64
            })
        };
        if over(Resource::Storage, bytes) || over(Resource::Message, count) {
            return Err("[OVERQUOTA] Over quota");
        }
        Ok(())
    }

    /// Appends the messages to the (write-locked) mailbox; returns their UIDs.
    pub(super) fn append_all(
        &self,
        mb: &mut Mailbox,
        msgs: &[Incoming<'_>],
        seen_uids: &mut Vec<u32>,
        internal_seen: bool,
    ) -> Result<Vec<u32>, &'static str> {
        let now = now32();
        let mut uids = Vec::with_capacity(msgs.len());
        let mut bytes = 0i64;
        for m in msgs {
            let parsed = cyrus::message::parse(m.bytes);
            let mut user_flags = [0u32; 4];
            for k in m.keywords {
                match mb.user_flag(k, true) {
                    Ok(Some(n)) => user_flags[n / 32] |= 1 << (n % 32),
                    Ok(None) => {}
                    Err(_) => return Err("Too many user flags in mailbox"),
                }
            }
            let mut system = m.system;
            let wants_seen = system & SystemFlags::SEEN != 0;
            if !internal_seen {
                system &= !SystemFlags::SEEN;
            }
            let append = Append {
                message: m.bytes,
                guid: parsed.guid,
                internaldate: m.internaldate,
                sentdate: parsed.sentdate,
                gmtime: parsed.gmtime,
                header_size: parsed.header_size,
                system_flags: SystemFlags(system),
                user_flags,
                cache: &parsed.cache,
                now,
            };
            let stored = match (&m.source, self.config.switch("singleinstancestore")) {
                (Some(src), true) => mb.append_linked(&append, src),
                _ => mb.append(&append),
            };
            let rec = stored.map_err(|e| {
                syslog::log(Level::Err, &format!("IOERROR: append: {e}"));
                IOERROR
            })?;
            if wants_seen && !internal_seen {
                seen_uids.push(rec.uid);
            }
            bytes += i64::from(parsed.size);
            uids.push(rec.uid);
        }
        let mut diff = [0i64; NUM_RESOURCES];
        diff[Resource::Storage.index()] = bytes;
        diff[Resource::Message.index()] = msgs.len() as i64;
        self.charge_quota(mb.header().quotaroot.as_deref(), &diff);
        Ok(uids)
    }

    /// Opens `t` for appending: the `i` right, then the index write lock.
    pub(super) fn open_for_insert(&self, t: &Target) -> Result<(Mailbox, bool), &'static str> {
        if !t.rights.has(Rights::INSERT) {
            return Err(DENIED);
        }
        let dir = self.mailbox_dir(&t.entry).ok_or(NONEXISTENT)?;
        let mb = Mailbox::open(&dir, LockMode::Write).map_err(|e| match e {
            cyrus::Error::NotFound => NONEXISTENT,
            e => {
                syslog::log(Level::Err, &format!("IOERROR: open {}: {e}", dir.display()));
                IOERROR
            }
        })?;
        let internal = self.internal_seen(
            &t.mbname,
            mb.index_header().options.has(Options::SHAREDSEEN),
        );
        Ok((mb, internal))
    }

    pub(super) fn append(&mut self, tag: &str, mailbox: &str, messages: Vec<AppendMessage>) {
        let t = match self.lookup(mailbox) {
            Ok(t) => t,
            Err(super::names::Miss::Io) => return self.no(tag, IOERROR),
            Err(_) => return self.no(tag, "[TRYCREATE] Mailbox does not exist"),
        };
        let limit = super::capability::appendlimit(&self.config);
        let mut parsed = Vec::with_capacity(messages.len());
        for m in &messages {
            if let Err(text) = check_message(&m.message, limit) {
                return self.no(tag, text);
            }
            let (system, keywords) = match split_flags(&m.flags) {
                Ok(v) => v,
                Err(text) => return self.bad(Some(tag), text),
            };
            let internaldate = m
                .date
                .map(|d| u32::try_from(d.unix).unwrap_or(0))
                .unwrap_or_else(now32);
            parsed.push((system, keywords, internaldate));
        }
        let (mut mb, internal) = match self.open_for_insert(&t) {
            Ok(v) => v,
            Err(text) => return self.no(tag, text),
        };
        let total: u64 = messages.iter().map(|m| m.message.len() as u64).sum();
        if let Err(text) = self.quota_allows(&mb, total, messages.len() as u64) {
            return self.no(tag, text);
        }
        let incoming: Vec<Incoming<'_>> = messages
            .iter()
            .zip(&parsed)
            .map(|(m, (system, keywords, date))| Incoming {
                bytes: &m.message,
                source: None,
                system: *system,
                keywords,
                internaldate: *date,
            })
            .collect();
        let mut seen = Vec::new();
        let uids = match self.append_all(&mut mb, &incoming, &mut seen, internal) {
            Ok(u) => u,
            Err(text) => return self.no(tag, text),
        };
        let uidvalidity = mb.index_header().uidvalidity;
        drop(mb);
        self.mark_seen_elsewhere(&t, &seen);
        if self.selected().is_some_and(|s| s.target.name == t.name) {
            self.sync_selected(false);
        }
        let set = super::reply::compress_set(&uids);
        self.ok(tag, &format!("[APPENDUID {uidvalidity} {set}] Completed"));
    }

    /// Records \Seen for UIDs of a mailbox whose seen state lives in the user's seen.db.
    pub(super) fn mark_seen_elsewhere(&mut self, t: &Target, uids: &[u32]) {
        if uids.is_empty() {
            return;
        }
        let Some(user) = self.user.clone() else {
            return;
        };
        let config = self.config.clone();
        if let Some(sel) = self.selected_mut().filter(|s| s.target.name == t.name) {
            for &u in uids {
                sel.seen.add(u);
            }
            return sel.save_seen(&config, &user.userid);
        }
        let Some(id) = t.entry.uniqueid.as_deref() else {
            return;
        };
        let r = cyrus::seen::SeenDb::open(&self.config, &user.userid, true).and_then(|mut db| {
            let mut e = db.read(id)?.unwrap_or_default();
            for &u in uids {
                e.seenuids.add(u);
            }
            e.lastchange = cyrus::mboxlist::now();
            db.write(id, &e)
        });
        if let Err(e) = r {
            syslog::log(
                Level::Err,
                &format!("IOERROR: seen of {}: {e}", user.userid),
            );
        }
    }
}

/// Splits APPEND's flags into system bits and keywords; `\Recent` may not be set.
pub(super) fn split_flags(flags: &[String]) -> Result<(u16, Vec<String>), &'static str> {
    let mut system = 0;
    let mut keywords = Vec::new();
    for f in flags {
        if f.starts_with('\\') {
            system |= match f.to_ascii_lowercase().as_str() {
                "\\answered" => SystemFlags::ANSWERED,
                "\\flagged" => SystemFlags::FLAGGED,
                "\\deleted" => SystemFlags::DELETED,
                "\\draft" => SystemFlags::DRAFT,
                "\\seen" => SystemFlags::SEEN,
                _ => return Err("Invalid flag name"),
            };
        } else if !keywords.iter().any(|k: &String| k.eq_ignore_ascii_case(f)) {
            keywords.push(f.clone());
        }
    }
    Ok((system, keywords))
}
