//! ACL (RFC 4314): GETACL, SETACL, DELETEACL, LISTRIGHTS, MYRIGHTS. A mailbox without `l`
//! for the user does not exist for these commands either; changing or reading the ACL
//! needs `a`.

use cyrus::acl::{self, Rights};
use cyrus::mailbox::{LockMode, Mailbox};
use cyrus::syslog::{self, Level};

use super::names::{Target, DENIED, IOERROR};
use super::reply::astring;
use super::Session;

impl Session {
    fn deleteright(&self) -> char {
        self.config
            .string("deleteright")
            .and_then(|s| s.chars().next())
            .unwrap_or('c')
    }

    /// A mailbox whose ACL the user may see: it needs `l` to exist and `a` to answer.
    fn acl_target(&mut self, tag: &str, mailbox: &str) -> Option<Target> {
        let t = match self.lookup(mailbox) {
            Ok(t) => t,
            Err(m) => {
                self.no(tag, m.text());
                return None;
            }
        };
        if !t.rights.has(Rights::LOOKUP) {
            self.no(tag, super::names::NONEXISTENT);
            return None;
        }
        if !t.rights.has(Rights::ADMIN) {
            self.no(tag, DENIED);
            return None;
        }
        Some(t)
    }

    pub(super) fn getacl(&mut self, tag: &str, mailbox: &str) {
        let Some(t) = self.acl_target(tag, mailbox) else {
            return;
        };
        let mut line = format!("* ACL {}", astring(mailbox));
        for (id, rights) in t.entry.acl.iter().flat_map(|a| a.0.iter()) {
            line.push_str(&format!(" {} {}", astring(id), astring(rights)));
        }
        self.line(&line);
        self.ok(tag, "Completed");
    }

    /// SETACL, or DELETEACL when `rights` is `None`.
    pub(super) fn setacl(&mut self, tag: &str, mailbox: &str, id: &str, rights: Option<&str>) {
        let Some(mut t) = self.acl_target(tag, mailbox) else {
            return;
        };
        let mut ctx = acl::Context::from_config(&self.config);
        ctx.owner = t.mbname.localpart.as_deref();
        let mut list = t.entry.acl.clone().unwrap_or_default();
        match rights {
            Some(r) => {
                let (mode, letters) = acl::parse_modification(r);
                let parsed = match Rights::parse(letters, self.deleteright()) {
                    Ok(p) => p,
                    Err(_) => return self.no(tag, "Invalid rights string"),
                };
                acl::setacl(&mut list, id, mode, parsed, &ctx);
            }
            None => {
                acl::deleteacl(&mut list, id, &ctx);
            }
        }
        t.entry.acl = Some(list.clone());
        let mut mboxes = match self.mboxlist() {
            Ok(l) => l,
            Err(m) => return self.no(tag, m.text()),
        };
        // mailboxes.db is the authority; cyrus.header follows it.
        if let Err(e) = mboxes.update(&mut t.entry) {
            syslog::log(Level::Err, &format!("IOERROR: setacl {}: {e}", t.name));
            return self.no(tag, IOERROR);
        }
        if let Some(dir) = self.mailbox_dir(&t.entry) {
            let r = Mailbox::open(&dir, LockMode::Write).and_then(|mut mb| mb.set_acl(list.0));
            if let Err(e) = r {
                syslog::log(
                    Level::Err,
                    &format!("IOERROR: setacl header {}: {e}", t.name),
                );
            }
        }
        self.ok(tag, "Completed");
    }

    pub(super) fn listrights(&mut self, tag: &str, mailbox: &str, id: &str) {
        let Some(t) = self.acl_target(tag, mailbox) else {
            return;
        };
        let implicit = self
            .config
            .string("implicit_owner_rights")
            .unwrap_or("lkxan")
            .to_string();
        let required: String =
            if t.mbname.localpart.as_deref() == Some(id) && t.mbname.boxes.is_empty() {
                implicit
            } else if t.mbname.localpart.is_some() {
                // Cyrus always lets mail be posted to a user's mailboxes.
                "p".into()
            } else {
                String::new()
            };
        let mut line = format!(
            "* LISTRIGHTS {} {} {}",
            astring(mailbox),
            astring(id),
            if required.is_empty() {
                "\"\"".to_string()
            } else {
                required.clone()
            }
        );
        for c in "lrswipkxtecdan0123456789".chars() {
            if !required.contains(c) {
                line.push(' ');
                line.push(c);
            }
        }
        self.line(&line);
        self.ok(tag, "Completed");
    }

    pub(super) fn myrights(&mut self, tag: &str, mailbox: &str) {
        let t = match self.lookup(mailbox) {
            Ok(t) => t,
            Err(m) => return self.no(tag, m.text()),
        };
        let r = t.rights.to_string_with(self.deleteright());
        self.line(&format!("* MYRIGHTS {} {}", astring(mailbox), astring(&r)));
        self.ok(tag, "Completed");
    }
}
