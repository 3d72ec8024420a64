//! From the name a client typed to a mailbox it may use: namespace resolution, the
//! mailboxes.db lookup, and the rights that decide what the client may learn. A mailbox the
//! user may not `l`ook up is reported as nonexistent, exactly like one that is not there.

use std::path::PathBuf;

use cyrus::acl::{self, Rights};
use cyrus::mboxlist::{paths, MailboxList, MboxEntry};
use cyrus::mboxname::{ExternalName, InternalName, MbName};
use cyrus::syslog::{self, Level};

use super::Session;

/// Cyrus's words for a mailbox that does not exist (or may not be seen).
pub const NONEXISTENT: &str = "Mailbox does not exist";
/// Cyrus's words for a refused operation on a mailbox the user can see.
pub const DENIED: &str = "Permission denied";
/// Cyrus's words for a failure of the store underneath.
pub const IOERROR: &str = "System I/O error";

/// A mailbox the user named that exists.
#[derive(Debug, Clone)]
pub struct Target {
    /// Its internal name.
    pub name: InternalName,
    /// Its name taken apart.
    pub mbname: MbName,
    /// Its mailboxes.db entry.
    pub entry: MboxEntry,
    /// The user's rights on it.
    pub rights: Rights,
}

/// Why a name led nowhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Miss {
    /// Not a valid name in this namespace.
    BadName,
    /// Not there, or not visible to the user.
    NotFound,
    /// The store failed.
    Io,
}

impl Miss {
    /// The NO text for this miss.
    pub fn text(&self) -> &'static str {
        match self {
            Miss::BadName | Miss::NotFound => NONEXISTENT,
            Miss::Io => IOERROR,
        }
    }
}

impl Session {
    fn deletedprefix(&self) -> String {
        self.config
            .string("deletedprefix")
            .unwrap_or("DELETED")
            .to_string()
    }

    /// The internal name of what the client typed, whether or not it exists.
    pub(super) fn resolve(&self, ext: &str) -> Result<(InternalName, MbName), Miss> {
        let user = self.user.as_ref().ok_or(Miss::NotFound)?;
        let mb = MbName::from_external(&ExternalName::new(ext), &user.ns, Some(&user.userid))
            .map_err(|_| Miss::BadName)?;
        let name = mb
            .to_internal(&self.deletedprefix())
            .map_err(|_| Miss::BadName)?;
        Ok((name, mb))
    }

    /// How the user sees internal name `name`.
    pub(super) fn external(&self, name: &InternalName) -> Option<String> {
        let user = self.user.as_ref()?;
        let mb = MbName::from_internal(name, &self.deletedprefix());
        mb.to_external(&user.ns, Some(&user.userid))
            .map(|e| e.as_str().to_string())
    }

    pub(super) fn mboxlist(&self) -> Result<MailboxList, Miss> {
        MailboxList::open(&self.config, None).map_err(|e| {
            syslog::log(Level::Err, &format!("IOERROR: opening mailboxes.db: {e}"));
            Miss::Io
        })
    }

    /// The user's rights on a mailbox with this entry.
    pub(super) fn rights_on(&self, entry: &MboxEntry, mbname: &MbName) -> Rights {
        let Some(user) = self.user.as_ref() else {
            return Rights::NONE;
        };
        let mut ctx = acl::Context::from_config(&self.config);
        ctx.is_admin = user.admin;
        let owner = mbname.localpart.as_deref();
        ctx.owner = owner;
        let empty = cyrus::mboxlist::Acl(Vec::new());
        acl::myrights(entry.acl.as_ref().unwrap_or(&empty), &user.identity, &ctx)
    }

    /// Looks up what the client typed: only mailboxes the user may at least look up.
    pub(super) fn lookup(&self, ext: &str) -> Result<Target, Miss> {
        let (name, mbname) = self.resolve(ext)?;
        self.lookup_internal(&name, mbname)
    }

    pub(super) fn lookup_internal(
        &self,
        name: &InternalName,
        mbname: MbName,
    ) -> Result<Target, Miss> {
        let mut list = self.mboxlist()?;
        let entry = match list.lookup(name) {
            Ok(Some(e)) if !e.is_hidden() => e,
            Ok(_) => return Err(Miss::NotFound),
            Err(e) => {
                syslog::log(Level::Err, &format!("IOERROR: mboxlist lookup {name}: {e}"));
                return Err(Miss::Io);
            }
        };
        let rights = self.rights_on(&entry, &mbname);
        if !rights.has(Rights::LOOKUP) && !rights.has(Rights::READ) {
            return Err(Miss::NotFound);
        }
        Ok(Target {
            name: name.clone(),
            mbname,
            entry,
            rights,
        })
    }

    /// The directory of a mailbox's index and message files.
    pub(super) fn mailbox_dir(&self, entry: &MboxEntry) -> Option<PathBuf> {
        paths::mailbox_dir(&self.config, entry, paths::Area::Meta)
    }

    /// Whether the user keeps \Seen in the index itself for this mailbox (their own
    /// mailboxes, or a mailbox with shared seen) rather than in their seen.db.
    pub(super) fn internal_seen(&self, mbname: &MbName, sharedseen: bool) -> bool {
        let Some(user) = self.user.as_ref() else {
            return false;
        };
        if sharedseen {
            return true;
        }
        let own = MbName::from_userid(&user.userid, &user.ns).ok();
        own.is_some_and(|u| u.localpart == mbname.localpart && u.domain == mbname.domain)
            && mbname.localpart.is_some()
    }
}
