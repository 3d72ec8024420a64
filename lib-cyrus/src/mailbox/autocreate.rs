//! Creating a user's INBOX on first use, as Cyrus does when `autocreate_quota` is zero or
//! more (at login in imapd and pop3d; at delivery in lmtpd with `autocreate_post`): the
//! INBOX with a storage quota of `autocreate_quota` KiB when above zero and a message quota
//! of `autocreate_quota_messages` when not negative, the folders of
//! `autocreate_inbox_folders`, and the subscriptions of `autocreate_subscribe_folders`.
//! Admins, `anonymous` and users outside `autocreate_users` get nothing.

use crate::config::Config;
use crate::mailbox::lifecycle::{self, CreateOptions};
use crate::mboxlist::MailboxList;
use crate::mboxname::{ExternalName, MbName, Namespace};
use crate::quota::{Quota, QuotaDb, Resource};
use crate::subscriptions::Subscriptions;
use crate::syslog::{self, Level};
use crate::Result;

fn folders(list: Option<&str>) -> Vec<String> {
    list.unwrap_or("")
        .split('|')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Whether configuration lets `userid`'s INBOX be created on first use.
pub fn enabled_for(config: &Config, userid: &str, admin: bool) -> bool {
    if config.int("autocreate_quota") < 0 || admin || userid == "anonymous" {
        return false;
    }
    config
        .string("autocreate_users")
        .unwrap_or("anyone")
        .split_whitespace()
        .any(|w| w == "anyone" || w == userid)
}

/// Creates `userid`'s INBOX (with quota, folders and subscriptions) if it is enabled and
/// missing; `Ok(true)` when it was created now.
pub fn inbox(config: &Config, userid: &str, admin: bool) -> Result<bool> {
    if !enabled_for(config, userid, admin) {
        return Ok(false);
    }
    let ns = Namespace::from_config(config, false);
    let deleted = config
        .string("deletedprefix")
        .unwrap_or("DELETED")
        .to_string();
    let Ok(inbox) = MbName::from_userid(userid, &ns) else {
        return Ok(false);
    };
    let Ok(name) = inbox.to_internal(&deleted) else {
        return Ok(false);
    };
    if MailboxList::open(config, None)?
        .lookup_visible(&name)?
        .is_some()
    {
        return Ok(false);
    }
    // The quota root exists first, so the new INBOX's header names it.
    let storage = config.int("autocreate_quota");
    let messages = config.int("autocreate_quota_messages");
    if storage > 0 || messages >= 0 {
        let mut q = Quota::default();
        if storage > 0 {
            q.limits[Resource::Storage.index()] = Some(storage);
        }
        if messages >= 0 {
            q.limits[Resource::Message.index()] = Some(messages);
        }
        let mut db = QuotaDb::open(config)?;
        db.write(name.as_str(), &mut q)?;
        db.commit()?;
    }
    lifecycle::create(config, &name, &CreateOptions::default())?;
    syslog::log(
        Level::Notice,
        &format!("autocreateinbox: User {userid}, INBOX was successfully created"),
    );
    for f in folders(config.string("autocreate_inbox_folders")) {
        let mut sub = inbox.clone();
        sub.boxes.extend(f.split(ns.sep).map(str::to_string));
        if let Ok(n) = sub.to_internal(&deleted) {
            if let Err(e) = lifecycle::create(config, &n, &CreateOptions::default()) {
                syslog::log(Level::Err, &format!("IOERROR: autocreate {n}: {e}"));
            }
        }
    }
    let subs = folders(config.string("autocreate_subscribe_folders"));
    if !subs.is_empty() {
        let mut s = Subscriptions::open(config, userid, true)?;
        for f in &subs {
            let ext = ExternalName::new(format!("INBOX{}{f}", ns.sep));
            s.add_external(&ext, &ns, userid)?;
        }
    }
    Ok(true)
}
