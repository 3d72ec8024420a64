//! CREATE, DELETE and RENAME (RFC 3501 §6.3.3-5, CREATE-SPECIAL-USE RFC 6154 §3), with
//! Cyrus's rules on who may: a user's top mailbox (`user.X`) only by an admin, anything
//! else with `k` on the nearest existing ancestor (`x` on the mailbox itself to delete it).

use cyrus::acl::Rights;
use cyrus::mailbox::lifecycle::{self, CreateOptions};
use cyrus::mboxname::{InternalName, MbName};
use cyrus::syslog::{self, Level};

use super::names::{Miss, DENIED, IOERROR, NONEXISTENT};
use super::reply::SPECIAL_USE;
use super::Session;

fn io_text(e: &cyrus::Error) -> &'static str {
    match e {
        cyrus::Error::Exists => "Mailbox already exists",
        cyrus::Error::NotFound => NONEXISTENT,
        cyrus::Error::NotImplemented(_) => "Operation is not supported on mailbox",
        _ => IOERROR,
    }
}

impl Session {
    /// Whether the user may create a mailbox named `mb`.
    fn may_create(&self, mb: &MbName) -> bool {
        let Some(user) = self.user.as_ref() else {
            return false;
        };
        if user.admin {
            return true;
        }
        if mb.localpart.is_some() && mb.boxes.is_empty() {
            return false;
        }
        // The nearest existing ancestor decides.
        let mut parent = mb.clone();
        while !parent.boxes.is_empty() {
            parent.boxes.pop();
            if parent.localpart.is_none() && parent.boxes.is_empty() {
                break;
            }
            let Ok(name) = parent.to_internal("DELETED") else {
                break;
            };
            if let Ok(t) = self.lookup_internal(&name, parent.clone()) {
                return t.rights.has(Rights::CREATE);
            }
        }
        false
    }

    pub(super) fn create(&mut self, tag: &str, mailbox: &str, special_use: &[String]) {
        // RFC 3501 §6.3.3: a trailing separator says the client will create children.
        let sep = self.user.as_ref().map_or('.', |u| u.ns.sep);
        let trimmed = mailbox.strip_suffix(sep).unwrap_or(mailbox);
        let (name, mb) = match self.resolve(trimmed) {
            Ok(v) => v,
            Err(_) => return self.no(tag, "Invalid mailbox name"),
        };
        for s in special_use {
            if !SPECIAL_USE.iter().any(|u| u.eq_ignore_ascii_case(s)) {
                return self.no(tag, "[USEATTR] Invalid special-use attribute");
            }
        }
        // An existing mailbox the user can see is reported as such before any right check.
        if self.lookup_internal(&name, mb.clone()).is_ok() {
            return self.no(tag, "Mailbox already exists");
        }
        if !self.may_create(&mb) {
            return self.no(tag, DENIED);
        }
        let userid = self.user.as_ref().map(|u| u.userid.clone());
        let opts = CreateOptions {
            creator: userid.as_deref(),
            special_use,
            ..CreateOptions::default()
        };
        match lifecycle::create(&self.config, &name, &opts) {
            Ok(entry) => {
                syslog::log(Level::Notice, &format!("created mailbox {name}"));
                let id = entry.uniqueid.unwrap_or_default();
                self.ok(tag, &format!("[MAILBOXID ({id})] Completed"));
            }
            Err(e) => {
                if !matches!(e, cyrus::Error::Exists | cyrus::Error::NotFound) {
                    syslog::log(Level::Err, &format!("IOERROR: create {name}: {e}"));
                }
                self.no(tag, io_text(&e));
            }
        }
    }

    pub(super) fn delete(&mut self, tag: &str, mailbox: &str) {
        let Ok((name, mb)) = self.resolve(mailbox) else {
            return self.no(tag, NONEXISTENT);
        };
        let admin = self.user.as_ref().is_some_and(|u| u.admin);
        // Only admins delete a user's top mailbox, and they are told so before any lookup.
        if mb.localpart.is_some() && mb.boxes.is_empty() && !admin {
            return self.no(tag, DENIED);
        }
        let t = match self.lookup_internal(&name, mb) {
            Ok(t) => t,
            Err(m) => return self.no(tag, m.text()),
        };
        if !t.rights.has(Rights::DELETE_MBOX) {
            return self.no(tag, DENIED);
        }
        let inbox = t.mbname.localpart.is_some() && t.mbname.boxes.is_empty();
        if !inbox {
            match lifecycle::has_children(&self.config, &name) {
                Ok(true) => return self.no(tag, "[HASCHILDREN] Mailbox has children"),
                Ok(false) => {}
                Err(e) => {
                    syslog::log(Level::Err, &format!("IOERROR: delete {name}: {e}"));
                    return self.no(tag, IOERROR);
                }
            }
        }
        if self.selected().is_some_and(|s| s.target.name == name) {
            self.state = super::State::Authenticated;
        }
        match lifecycle::delete(&self.config, &name) {
            Ok(()) => {
                syslog::log(Level::Notice, &format!("deleted mailbox {name}"));
                self.ok(tag, "Completed");
            }
            Err(e) => {
                syslog::log(Level::Err, &format!("IOERROR: delete {name}: {e}"));
                self.no(tag, io_text(&e));
            }
        }
    }

    pub(super) fn rename(&mut self, tag: &str, from: &str, to: &str) {
        let t = match self.lookup(from) {
            Ok(t) => t,
            Err(Miss::Io) => return self.no(tag, IOERROR),
            Err(_) => return self.no(tag, NONEXISTENT),
        };
        if !t.rights.has(Rights::DELETE_MBOX) {
            return self.no(tag, DENIED);
        }
        let Ok((to_name, to_mb)) = self.resolve(to) else {
            return self.no(tag, "Invalid mailbox name");
        };
        if !self.may_create(&to_mb) {
            return self.no(tag, DENIED);
        }
        // Renaming an INBOX moves its messages only; its children stay where they are.
        let inbox = t.mbname.localpart.is_some() && t.mbname.boxes.is_empty();
        let old_prefix = format!("{}.", t.name.as_str());
        let children: Vec<InternalName> = self
            .mboxlist()
            .ok()
            .and_then(|mut l| l.all(Default::default()).ok())
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.name)
            .filter(|n| !inbox && n.as_str().starts_with(&old_prefix))
            .collect();
        match lifecycle::rename(&self.config, &t.name, &to_name) {
            Ok(_) => {
                let sep = self.user.as_ref().map_or('.', |u| u.ns.sep);
                self.line(&format!("* OK rename {from} {to}"));
                for child in children {
                    let suffix = &child.as_str()[old_prefix.len()..];
                    let suffix = suffix.replace('.', &sep.to_string());
                    self.line(&format!(
                        "* OK rename {from}{sep}{suffix} {to}{sep}{suffix}"
                    ));
                }
                self.ok(tag, "Completed");
            }
            Err(e) => {
                if !matches!(e, cyrus::Error::Exists | cyrus::Error::NotFound) {
                    syslog::log(Level::Err, &format!("IOERROR: rename {}: {e}", t.name));
                }
                self.no(tag, io_text(&e));
            }
        }
    }
}
