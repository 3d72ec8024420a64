//! QUOTA (RFC 2087/9208): GETQUOTA, GETQUOTAROOT, SETQUOTA (admins only), and the usage
//! bookkeeping that appends and expunges owe the quota root.

use cyrus::mailbox::{LockMode, Mailbox};
use cyrus::mboxlist::Include;
use cyrus::mboxname::InternalName;
use cyrus::mboxname::MbName;
use cyrus::quota::{QuotaDb, Resource, NUM_RESOURCES};
use cyrus::syslog::{self, Level};

use super::names::{DENIED, IOERROR};
use super::reply::astring;
use super::Session;

/// `(STORAGE used limit MESSAGE used limit)` for the resources that have a limit.
fn quota_list(q: &cyrus::quota::Quota) -> String {
    let mut parts = Vec::new();
    for r in Resource::ALL {
        if let Some(limit) = q.limits[r.index()] {
            let used = q.used[r.index()] / r.unit();
            parts.push(format!("{} {used} {limit}", r.name()));
        }
    }
    format!("({})", parts.join(" "))
}

impl Session {
    /// Adds `diff` to the usage of the quota root over `mb` (if it has one).
    pub(super) fn charge_quota(&self, quotaroot: Option<&str>, diff: &[i64; NUM_RESOURCES]) {
        let Some(root) = quotaroot else {
            return;
        };
        let r = QuotaDb::open(&self.config).and_then(|mut db| db.update_used(root, diff));
        if let Err(e) = r {
            syslog::log(Level::Err, &format!("IOERROR: quota {root}: {e}"));
        }
    }

    pub(super) fn update_quota_after_expunge(&self, mb: &Mailbox, uids: &[u32]) {
        if uids.is_empty() {
            return;
        }
        let bytes: i64 = uids
            .iter()
            .filter_map(|&u| mb.record(u))
            .map(|r| i64::from(r.size))
            .sum();
        let mut diff = [0i64; NUM_RESOURCES];
        diff[Resource::Storage.index()] = -bytes;
        diff[Resource::Message.index()] = -(uids.len() as i64);
        self.charge_quota(mb.header().quotaroot.as_deref(), &diff);
    }

    /// Whether `root` is a quota root the user may read: admins any, users their own.
    fn may_read_quota(&self, root: &str) -> bool {
        let Some(user) = self.user.as_ref() else {
            return false;
        };
        if user.admin {
            return true;
        }
        let Ok(name) = cyrus::mboxname::InternalName::new(root) else {
            return false;
        };
        let mb = MbName::from_internal(&name, "DELETED");
        let own = MbName::from_userid(&user.userid, &user.ns).ok();
        own.is_some_and(|o| o.localpart == mb.localpart && o.domain == mb.domain)
            && mb.boxes.is_empty()
    }

    pub(super) fn getquota(&mut self, tag: &str, root: &str) {
        // Quota roots are named in the admin namespace (`user.alice`).
        if !self.may_read_quota(root) {
            return self.no(tag, DENIED);
        }
        match QuotaDb::open(&self.config).and_then(|mut db| db.read(root)) {
            Ok(Some(q)) => {
                self.line(&format!("* QUOTA {} {}", astring(root), quota_list(&q)));
                self.ok(tag, "Completed");
            }
            Ok(None) => self.no(tag, "Quota root does not exist"),
            Err(e) => {
                syslog::log(Level::Err, &format!("IOERROR: quota {root}: {e}"));
                self.no(tag, IOERROR);
            }
        }
    }

    pub(super) fn getquotaroot(&mut self, tag: &str, mailbox: &str) {
        let target = match self.lookup(mailbox) {
            Ok(t) => t,
            Err(m) => return self.no(tag, m.text()),
        };
        let root = match QuotaDb::open(&self.config)
            .and_then(|mut db| Ok((db.find_root(target.name.as_str())?, db)))
        {
            Ok((Some(root), mut db)) => db.read(&root).ok().flatten().map(|q| (root, q)),
            Ok((None, _)) => None,
            Err(e) => {
                syslog::log(Level::Err, &format!("IOERROR: quota: {e}"));
                return self.no(tag, IOERROR);
            }
        };
        match root {
            Some((root, q)) => {
                let ext_root = cyrus::mboxname::InternalName::new(root.as_str())
                    .ok()
                    .and_then(|n| self.external(&n))
                    .unwrap_or_else(|| root.clone());
                self.line(&format!(
                    "* QUOTAROOT {} {}",
                    astring(mailbox),
                    astring(&ext_root)
                ));
                self.line(&format!(
                    "* QUOTA {} {}",
                    astring(&ext_root),
                    quota_list(&q)
                ));
            }
            None => self.line(&format!("* QUOTAROOT {}", astring(mailbox))),
        }
        self.ok(tag, "Completed");
    }

    /// Points every mailbox at or below a new quota root `root` (whose root was an ancestor
    /// of it, or none) at it, moving their usage from the old root to the new one, as
    /// Cyrus's SETQUOTA does when it creates a root.
    fn adopt_into_root(&self, root: &str) -> cyrus::Result<()> {
        let Ok(prefix) = InternalName::new(root) else {
            return Ok(());
        };
        let mut list = cyrus::mboxlist::MailboxList::open(&self.config, None)?;
        let mut entries = Vec::new();
        list.foreach(Some(&prefix), Include::default(), &mut |e| {
            entries.push(e);
            Ok(cyrus::db::Walk::Continue)
        })?;
        drop(list);
        for entry in entries {
            let Some(dir) = self.mailbox_dir(&entry) else {
                continue;
            };
            let mut mb = Mailbox::open(&dir, LockMode::Write)?;
            let old = mb.header().quotaroot.clone();
            // A mailbox already under a deeper root stays with it.
            if old.as_deref().is_some_and(|o| o.len() > root.len()) {
                continue;
            }
            let usage = cyrus::quota::usage_of(mb.index_header());
            mb.set_quotaroot(Some(root.to_string()))?;
            drop(mb);
            let mut db = QuotaDb::open(&self.config)?;
            if let Some(o) = old.as_deref() {
                db.update_used(o, &usage.map(|u| -u))?;
            }
            db.update_used(root, &usage)?;
        }
        Ok(())
    }

    pub(super) fn setquota(&mut self, tag: &str, root: &str, limits: &[(String, u64)]) {
        if !self.user.as_ref().is_some_and(|u| u.admin) {
            return self.no(tag, DENIED);
        }
        let mut parsed = Vec::new();
        for (name, limit) in limits {
            match Resource::from_name(name) {
                Some(r) => parsed.push((r, *limit)),
                None => return self.bad(Some(tag), "Invalid quota list in Setquota"),
            }
        }
        let r = QuotaDb::open(&self.config).and_then(|mut db| {
            let existing = db.read_locked(root)?;
            let is_new = existing.is_none();
            let mut q = existing.unwrap_or_default();
            // SETQUOTA replaces the whole set of limits (RFC 9208 §4.1.3).
            q.limits = [None; NUM_RESOURCES];
            for (r, limit) in &parsed {
                q.limits[r.index()] = Some(i64::try_from(*limit).unwrap_or(i64::MAX));
            }
            db.write(root, &mut q)?;
            db.commit()?;
            if is_new {
                drop(db);
                self.adopt_into_root(root)?;
            }
            Ok(())
        });
        match r {
            Ok(()) => self.ok(tag, "Completed"),
            Err(e) => {
                syslog::log(Level::Err, &format!("IOERROR: setquota {root}: {e}"));
                self.no(tag, IOERROR);
            }
        }
    }
}
