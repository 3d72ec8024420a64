//! COPY and MOVE (RFC 3501 §6.4.7, RFC 6851) with UIDPLUS's COPYUID. Flags travel with the
//! messages (\Seen as this user sees it), and MOVE expunges the originals afterwards.

use cyrus::acl::Rights;
use cyrus::mailbox::index::SystemFlags;
use cyrus::mailbox::LockMode;
use cyrus::syslog::{self, Level};

use super::append::Incoming;
use super::names::{Miss, DENIED, IOERROR};
use super::reply::compress_set;
use super::select::now32;
use super::Session;
use crate::proto::command::SeqSet;

impl Session {
    pub(super) fn copy(
        &mut self,
        tag: &str,
        uid: bool,
        set: &SeqSet,
        mailbox: &str,
        is_move: bool,
    ) {
        let dest = match self.lookup(mailbox) {
            Ok(t) => t,
            Err(Miss::Io) => return self.no(tag, IOERROR),
            Err(_) => return self.no(tag, "[TRYCREATE] Mailbox does not exist"),
        };
        let Some(sel) = self.selected() else {
            return;
        };
        if is_move
            && (sel.read_only || !sel.target.rights.has(Rights::DELETE_MSG | Rights::EXPUNGE))
        {
            return self.no(tag, DENIED);
        }
        let targets = sel.resolve(set, uid);
        if targets.is_empty() {
            return if uid {
                self.ok(tag, "Completed")
            } else {
                self.no(tag, "No matching messages")
            };
        }
        let same = sel.target.name == dest.name;
        let Some(src) = self.open_selected(LockMode::Read) else {
            return self.no(tag, IOERROR);
        };
        // Gather the messages (bytes, flags as this user sees them) under the source lock.
        let mut loaded = Vec::new();
        for &(_, u) in &targets {
            let Some(rec) = src.record(u) else { continue };
            if rec.is_expunged() {
                continue;
            }
            let bytes = match std::fs::read(src.message_path(u)) {
                Ok(b) => b,
                Err(e) => {
                    syslog::log(Level::Err, &format!("IOERROR: reading message {u}: {e}"));
                    return self.no(tag, IOERROR);
                }
            };
            let mut system = rec.system_flags.0 & !SystemFlags::SEEN;
            if sel.is_seen(rec) {
                system |= SystemFlags::SEEN;
            }
            let keywords: Vec<String> = src
                .header()
                .user_flags
                .iter()
                .enumerate()
                .filter_map(|(n, f)| f.clone().filter(|_| rec.has_user_flag(n)))
                .collect();
            loaded.push((
                u,
                bytes,
                system,
                keywords,
                rec.internaldate,
                src.message_path(u),
            ));
        }
        drop(src);
        let (mut mb, internal) = match self.open_for_insert(&dest) {
            Ok(v) => v,
            Err(text) => return self.no(tag, text),
        };
        let total: u64 = loaded.iter().map(|l| l.1.len() as u64).sum();
        if let Err(text) = self.quota_allows(&mb, total, loaded.len() as u64) {
            return self.no(tag, text);
        }
        let incoming: Vec<Incoming<'_>> = loaded
            .iter()
            .map(|(_, bytes, system, keywords, date, path)| Incoming {
                bytes,
                source: Some(path.clone()),
                system: *system,
                keywords,
                internaldate: *date,
            })
            .collect();
        let mut seen = Vec::new();
        let new_uids = match self.append_all(&mut mb, &incoming, &mut seen, internal) {
            Ok(u) => u,
            Err(text) => return self.no(tag, text),
        };
        let uidvalidity = mb.index_header().uidvalidity;
        drop(mb);
        self.mark_seen_elsewhere(&dest, &seen);
        let old: Vec<u32> = loaded.iter().map(|l| l.0).collect();
        let code = format!(
            "COPYUID {uidvalidity} {} {}",
            compress_set(&old),
            compress_set(&new_uids)
        );
        if !is_move {
            if same {
                self.sync_selected(false);
            }
            return self.ok(tag, &format!("[{code}] Completed"));
        }
        self.line(&format!("* OK [{code}] Completed"));
        if let Err(text) = self.expunge_uids(&old) {
            return self.no(tag, text);
        }
        self.sync_selected(true);
        self.ok(tag, "Completed");
    }

    /// Expunges exactly these UIDs of the selected mailbox (MOVE's second half).
    fn expunge_uids(&mut self, uids: &[u32]) -> Result<(), &'static str> {
        let Some(mut mb) = self.open_selected(LockMode::Write) else {
            return Err(IOERROR);
        };
        let now = now32();
        for &u in uids {
            if let Err(e) = mb.expunge(u, now) {
                syslog::log(Level::Err, &format!("IOERROR: expunge {u}: {e}"));
                return Err(IOERROR);
            }
        }
        self.update_quota_after_expunge(&mb, uids);
        self.finish_expunge(&mut mb);
        Ok(())
    }
}
