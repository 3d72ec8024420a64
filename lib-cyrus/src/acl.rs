//! Access control lists: RFC 4314 rights as Cyrus 3.6 parses, prints and evaluates them.
//!
//! A right string is parsed into [`Rights`] (a bit set) and printed back in Cyrus's canonical
//! order `lrswipkxte c d a n 0-9`, where `c` and `d` are RFC 2086's macros: `c` stands for
//! `k` and `x`, `d` for `t` and `e`, and the `deleteright` option (default `c`) says which
//! macro also carries `x`. A macro given alone grants all of its members; given beside one of
//! them it adds nothing. An ACL is the ordered identifier/rights list of
//! [`crate::mboxlist::Acl`]; an identifier starting with `-` takes rights away. What a user
//! may do is the union of the entries they match (themselves, `anyone`, `anonymous` when not
//! logged in, `group:` identifiers they belong to) minus the negative ones, plus the implicit
//! rights of admins and owners ([`Context`]).

use crate::mboxlist::Acl;
use std::fmt;

/// A set of rights.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Rights(pub u32);

/// A rights string with a character Cyrus does not know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadRights(pub char);

impl fmt::Display for BadRights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unrecognised right '{}'", self.0)
    }
}

impl std::error::Error for BadRights {}

/// The plain (non-macro) rights in printing order, with their bits.
const LETTERS: [(char, u32); 22] = [
    ('l', Rights::LOOKUP),
    ('r', Rights::READ),
    ('s', Rights::SEEN),
    ('w', Rights::WRITE),
    ('i', Rights::INSERT),
    ('p', Rights::POST),
    ('k', Rights::CREATE),
    ('x', Rights::DELETE_MBOX),
    ('t', Rights::DELETE_MSG),
    ('e', Rights::EXPUNGE),
    ('a', Rights::ADMIN),
    ('n', Rights::ANNOTATE),
    ('0', Rights::USER0),
    ('1', Rights::USER0 << 1),
    ('2', Rights::USER0 << 2),
    ('3', Rights::USER0 << 3),
    ('4', Rights::USER0 << 4),
    ('5', Rights::USER0 << 5),
    ('6', Rights::USER0 << 6),
    ('7', Rights::USER0 << 7),
    ('8', Rights::USER0 << 8),
    ('9', Rights::USER0 << 9),
];

impl Rights {
    /// `l`: see the mailbox in LIST.
    pub const LOOKUP: u32 = 1 << 0;
    /// `r`: SELECT, FETCH, SEARCH, COPY from.
    pub const READ: u32 = 1 << 1;
    /// `s`: keep \Seen across sessions.
    pub const SEEN: u32 = 1 << 2;
    /// `w`: set flags other than \Seen and \Deleted.
    pub const WRITE: u32 = 1 << 3;
    /// `i`: APPEND, COPY into.
    pub const INSERT: u32 = 1 << 4;
    /// `p`: send mail to the submission address (lmtp `+mailbox`).
    pub const POST: u32 = 1 << 5;
    /// `k`: create child mailboxes.
    pub const CREATE: u32 = 1 << 6;
    /// `x`: delete or rename the mailbox.
    pub const DELETE_MBOX: u32 = 1 << 7;
    /// `t`: set \Deleted.
    pub const DELETE_MSG: u32 = 1 << 8;
    /// `e`: EXPUNGE.
    pub const EXPUNGE: u32 = 1 << 9;
    /// `a`: administer (SETACL and friends).
    pub const ADMIN: u32 = 1 << 10;
    /// `n`: write per-message annotations.
    pub const ANNOTATE: u32 = 1 << 11;
    /// `0`: the first of the ten site-defined rights `0`-`9`.
    pub const USER0: u32 = 1 << 12;
    /// Every right except the site-defined ones (`lrswipkxtean`).
    pub const ALL: u32 = (1 << 12) - 1;
    /// Every right, site-defined ones included.
    pub const FULL: u32 = (1 << 22) - 1;
    /// What an EXAMINE (read-only) session drops.
    pub const READ_WRITE: u32 =
        Self::SEEN | Self::WRITE | Self::INSERT | Self::DELETE_MSG | Self::EXPUNGE | Self::ANNOTATE;

    /// No rights.
    pub const NONE: Rights = Rights(0);

    /// Whether every right in `bits` is here.
    pub fn has(self, bits: u32) -> bool {
        self.0 & bits == bits
    }

    /// Members of the `c` and `d` macros under `deleteright`.
    fn macros(deleteright: char) -> (u32, u32) {
        let mut create = Self::CREATE;
        let mut delete = Self::DELETE_MSG | Self::EXPUNGE;
        match deleteright {
            'c' => create |= Self::DELETE_MBOX,
            'd' => delete |= Self::DELETE_MBOX,
            _ => {}
        }
        (create, delete)
    }

    /// Parses a rights string (no `+`/`-` prefix) under the `deleteright` option.
    pub fn parse(s: &str, deleteright: char) -> Result<Rights, BadRights> {
        let (create, delete) = Rights::macros(deleteright);
        let mut bits = 0;
        let (mut want_create, mut want_delete) = (0, 0);
        for c in s.chars() {
            match c {
                'c' => want_create = create,
                'd' => want_delete = delete,
                _ => match LETTERS.iter().find(|(l, _)| *l == c) {
                    Some((_, b)) => bits |= b,
                    // Any other letter named as deleteright still grants `x`.
                    None if c == deleteright => bits |= Self::DELETE_MBOX,
                    None => return Err(BadRights(c)),
                },
            }
        }
        // A macro given beside one of its members adds nothing.
        if bits & want_create == 0 {
            bits |= want_create;
        }
        if bits & want_delete == 0 {
            bits |= want_delete;
        }
        Ok(Rights(bits))
    }

    /// The canonical string, with the `c`/`d` macros after `e` whenever a member is present.
    pub fn to_string_with(self, deleteright: char) -> String {
        let (create, delete) = Rights::macros(deleteright);
        let mut s = String::new();
        for (c, b) in LETTERS {
            if c == 'a' {
                if self.0 & create != 0 {
                    s.push('c');
                }
                if self.0 & delete != 0 {
                    s.push('d');
                }
            }
            if self.0 & b != 0 {
                s.push(c);
            }
        }
        s
    }
}

impl std::ops::BitOr for Rights {
    type Output = Rights;
    fn bitor(self, o: Rights) -> Rights {
        Rights(self.0 | o.0)
    }
}

/// How SETACL changes an entry: replace, add (`+rights`) or remove (`-rights`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Replace the rights.
    Set,
    /// Add to the rights.
    Add,
    /// Take from the rights.
    Remove,
}

/// Splits SETACL's rights argument into its mode and the rights proper.
pub fn parse_modification(s: &str) -> (Mode, &str) {
    if let Some(r) = s.strip_prefix('+') {
        (Mode::Add, r)
    } else if let Some(r) = s.strip_prefix('-') {
        (Mode::Remove, r)
    } else {
        (Mode::Set, s)
    }
}

/// Who is asking: a userid (None when not logged in) and the groups it belongs to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    /// The authenticated userid; `None` for anonymous.
    pub userid: Option<String>,
    /// Group identifiers as they appear in ACLs (`group:staff`).
    pub groups: Vec<String>,
}

impl Identity {
    /// A logged-in user without groups.
    pub fn user(userid: &str) -> Identity {
        Identity {
            userid: Some(userid.to_string()),
            groups: Vec::new(),
        }
    }

    /// Whether ACL identifier `id` (without a `-`) names this identity.
    pub fn matches(&self, id: &str) -> bool {
        match &self.userid {
            _ if id == "anyone" => true,
            None => id == "anonymous",
            Some(u) => id == u || self.groups.iter().any(|g| g == id),
        }
    }
}

/// Rights `who` gets from `acl` alone: the union of the positive entries it matches minus
/// the negative ones. Entries with unparsable rights count as none.
pub fn acl_rights(acl: &Acl, who: &Identity, deleteright: char) -> Rights {
    let (mut plus, mut minus) = (0, 0);
    for (id, r) in &acl.0 {
        let (neg, name) = match id.strip_prefix('-') {
            Some(n) => (true, n),
            None => (false, id.as_str()),
        };
        if !who.matches(name) {
            continue;
        }
        let bits = Rights::parse(r, deleteright).unwrap_or_default().0;
        if neg {
            minus |= bits;
        } else {
            plus |= bits;
        }
    }
    Rights(plus & !minus)
}

/// What else decides a user's rights on one mailbox.
#[derive(Clone, Debug, Default)]
pub struct Context<'a> {
    /// The user is in `admins`: always gets `l` and `a` (Cyrus's MYRIGHTS on another user's
    /// INBOX answers `la`).
    pub is_admin: bool,
    /// The mailbox's owner (`alice` for `user.alice.Sent`), if personal.
    pub owner: Option<&'a str>,
    /// `implicit_owner_rights` (default `lkxan`), which the owner always has.
    pub implicit_owner_rights: Rights,
    /// The `deleteright` option.
    pub deleteright: char,
}

impl Context<'_> {
    /// Reads `implicit_owner_rights` and `deleteright` from the configuration.
    pub fn from_config(config: &crate::config::Config) -> Context<'static> {
        let deleteright = config
            .string("deleteright")
            .and_then(|s| s.chars().next())
            .unwrap_or('c');
        let implicit = config.string("implicit_owner_rights").unwrap_or("lkxan");
        Context {
            is_admin: false,
            owner: None,
            implicit_owner_rights: Rights::parse(implicit, deleteright).unwrap_or_default(),
            deleteright,
        }
    }
}

/// `who`'s rights on a mailbox with `acl`: the ACL's, plus the implicit rights of an admin
/// or else of the owner, as Cyrus's MYRIGHTS and DAV privilege checks add them.
pub fn myrights(acl: &Acl, who: &Identity, ctx: &Context<'_>) -> Rights {
    let mut r = acl_rights(acl, who, ctx.deleteright);
    // Cyrus gives an admin `la` instead of, not on top of, the owner's implicit rights.
    if ctx.is_admin {
        r = r | Rights(Rights::LOOKUP | Rights::ADMIN);
    } else if ctx.owner.is_some() && ctx.owner == who.userid.as_deref() {
        r = r | ctx.implicit_owner_rights;
    }
    r
}

/// Changes `id`'s entry as SETACL does: the new rights replace, extend or reduce the old; an
/// entry left without rights is removed; a new entry goes at the end.
pub fn set(acl: &mut Acl, id: &str, mode: Mode, rights: Rights, deleteright: char) {
    set_keeping(acl, id, mode, rights, deleteright, Rights::NONE);
}

/// [`set`], with `keep` added to the result so the entry stays in place with at least those.
fn set_keeping(
    acl: &mut Acl,
    id: &str,
    mode: Mode,
    rights: Rights,
    deleteright: char,
    keep: Rights,
) {
    let at = acl.0.iter().position(|(i, _)| i == id);
    let old = at
        .and_then(|i| Rights::parse(&acl.0[i].1, deleteright).ok())
        .unwrap_or_default();
    let new = match mode {
        Mode::Set => rights.0,
        Mode::Add => old.0 | rights.0,
        Mode::Remove => old.0 & !rights.0,
    } | keep.0;
    match (at, new) {
        (Some(i), 0) => {
            acl.0.remove(i);
        }
        (Some(i), n) => acl.0[i].1 = Rights(n).to_string_with(deleteright),
        (None, 0) => {}
        (None, n) => acl
            .0
            .push((id.to_string(), Rights(n).to_string_with(deleteright))),
    }
}

/// SETACL on a mailbox: like [`set`], except that the owner's entry (`ctx.owner`) always
/// keeps the implicit owner rights, whoever sets it (Debian's imapd answers
/// `SETACL user.alice.X alice ""` by storing `alice lkxcan`).
pub fn setacl(acl: &mut Acl, id: &str, mode: Mode, rights: Rights, ctx: &Context<'_>) {
    let keep = if ctx.owner == Some(id) {
        ctx.implicit_owner_rights
    } else {
        Rights::NONE
    };
    set_keeping(acl, id, mode, rights, ctx.deleteright, keep);
}

/// DELETEACL on a mailbox: removes `id`'s entry, but the owner's shrinks to the implicit
/// owner rights (inferred from [`setacl`]'s rule; not yet checked against Debian's imapd).
pub fn deleteacl(acl: &mut Acl, id: &str, ctx: &Context<'_>) -> bool {
    if ctx.owner == Some(id) {
        let found = acl.get(id).is_some();
        setacl(acl, id, Mode::Set, Rights::NONE, ctx);
        return found;
    }
    remove(acl, id)
}

/// Removes `id`'s entry (DELETEACL); false if there was none.
pub fn remove(acl: &mut Acl, id: &str) -> bool {
    let before = acl.0.len();
    acl.0.retain(|(i, _)| i != id);
    acl.0.len() != before
}

/// The ACL a new mailbox starts with: a user's INBOX gives its owner every right; a mailbox
/// with a parent copies the parent's ACL; a new top-level shared mailbox gets `defaultacl`
/// (`id rights id rights ...`, default `anyone lrs`).
pub fn initial_acl(
    owner_inbox_of: Option<&str>,
    parent: Option<&Acl>,
    defaultacl: &str,
    deleteright: char,
) -> Acl {
    if let Some(owner) = owner_inbox_of {
        let mut acl = Acl::default();
        set(&mut acl, owner, Mode::Set, Rights(Rights::ALL), deleteright);
        return acl;
    }
    if let Some(p) = parent {
        return p.clone();
    }
    let mut acl = Acl::default();
    let words: Vec<&str> = defaultacl.split_ascii_whitespace().collect();
    for pair in words.chunks(2) {
        if let [id, r] = pair {
            if let Ok(rights) = Rights::parse(r, deleteright) {
                set(&mut acl, id, Mode::Set, rights, deleteright);
            }
        }
    }
    acl
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn acl(pairs: &[(&str, &str)]) -> Acl {
        Acl(pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect())
    }

    #[test]
    fn canonical_strings() {
        // (input, deleteright, canonical)
        let table = [
            ("lrswipkxtecdan", 'c', "lrswipkxtecdan"),
            ("anetxkpiwsrl", 'c', "lrswipkxtecdan"),
            ("lrs", 'c', "lrs"),
            ("lrc", 'c', "lrkxc"),
            ("lrd", 'c', "lrted"),
            ("lrd", 'd', "lrxted"),
            ("lrkd", 'c', "lrktecd"),
            ("lrck", 'c', "lrkc"),
            ("lrswipkxtecd", 'c', "lrswipkxtecd"),
            ("x", 'c', "xc"),
            ("t", 'c', "td"),
            ("", 'c', ""),
            ("0123456789", 'c', "0123456789"),
            ("la", 'c', "la"),
        ];
        for (input, dr, want) in table {
            let r = Rights::parse(input, dr).unwrap();
            assert_eq!(r.to_string_with(dr), want, "{input} with deleteright {dr}");
        }
        assert_eq!(Rights::parse("lrz", 'c'), Err(BadRights('z')));
        assert_eq!(Rights::parse("lrswipkxtecdan", 'c').unwrap().0, Rights::ALL);
    }

    #[test]
    fn rights_of_users_like_the_reference_server() {
        let ctx = Context {
            deleteright: 'c',
            implicit_owner_rights: Rights::parse("lkxan", 'c').unwrap(),
            ..Context::default()
        };
        // shared.team in the reference spool: alice gets the union.
        let team = acl(&[("anyone", "lrs"), ("alice", "lrswipkxtecd")]);
        let alice = Identity::user("alice");
        assert_eq!(
            myrights(&team, &alice, &ctx).to_string_with('c'),
            "lrswipkxtecd"
        );
        assert_eq!(
            myrights(&team, &Identity::user("bob"), &ctx).to_string_with('c'),
            "lrs"
        );
        // The admin on alice's INBOX: `la`.
        let inbox = acl(&[("alice", "lrswipkxtecdan")]);
        let admin_ctx = Context {
            is_admin: true,
            owner: Some("alice"),
            ..ctx.clone()
        };
        assert_eq!(
            myrights(&inbox, &Identity::user("admin"), &admin_ctx).to_string_with('c'),
            "la"
        );
        // Negative rights, anonymous, groups.
        let a = acl(&[
            ("anyone", "lrs"),
            ("-bob", "s"),
            ("anonymous", "p"),
            ("group:staff", "w"),
        ]);
        assert_eq!(
            myrights(&a, &Identity::user("bob"), &ctx).to_string_with('c'),
            "lr"
        );
        assert_eq!(
            myrights(&a, &Identity::default(), &ctx).to_string_with('c'),
            "lrsp"
        );
        let staff = Identity {
            userid: Some("carol".into()),
            groups: vec!["group:staff".into()],
        };
        assert_eq!(myrights(&a, &staff, &ctx).to_string_with('c'), "lrsw");
        // The owner keeps the implicit rights even with an empty entry.
        let owner_ctx = Context {
            owner: Some("alice"),
            ..ctx
        };
        assert_eq!(
            myrights(&Acl::default(), &alice, &owner_ctx).to_string_with('c'),
            "lkxcan"
        );
    }

    #[test]
    fn setacl_and_deleteacl_like_the_transcript() {
        // imap-04-session: SETACL INBOX.Work bob lrs, +w, -s, DELETEACL.
        let mut a = acl(&[("alice", "lrswipkxtecdan")]);
        let apply = |a: &mut Acl, s: &str| {
            let (mode, r) = parse_modification(s);
            set(a, "bob", mode, Rights::parse(r, 'c').unwrap(), 'c');
        };
        apply(&mut a, "lrs");
        assert_eq!(a.to_tabbed(), "alice\tlrswipkxtecdan\tbob\tlrs\t");
        apply(&mut a, "+w");
        apply(&mut a, "-s");
        assert_eq!(a, acl(&[("alice", "lrswipkxtecdan"), ("bob", "lrw")]));
        apply(&mut a, "-lrw");
        assert_eq!(a, acl(&[("alice", "lrswipkxtecdan")]));
        apply(&mut a, "lrs");
        assert!(remove(&mut a, "bob"));
        assert!(!remove(&mut a, "bob"));
        assert_eq!(a, acl(&[("alice", "lrswipkxtecdan")]));
    }

    /// SETACL sequences and the GETACL answers Debian's imapd 3.6.1 gave for them (admin,
    /// default `deleteright`), on a mailbox whose ACL starts as `anyone lrs`.
    #[test]
    fn setacl_like_debian_imapd() {
        let table: &[(&[&str], &str)] = &[
            (&["lrc"], "lrkxc"),
            (&["lrd"], "lrted"),
            (&["x"], "xc"),
            (&["t"], "td"),
            (&["lrkd"], "lrktecd"),
            (&["lrck"], "lrkc"),
            (&["lr0"], "lr0"),
            (&["lrswipkxtecdan0123456789"], "lrswipkxtecdan0123456789"),
            (&["c"], "kxc"),
            (&["d"], "ted"),
            (&["lrs", "+c"], "lrskxc"),
            (&["lrs", "+c", "-x"], "lrskc"),
            (&["lrs", "+c", "-x", "-lrstek"], ""),
            (&[""], ""),
        ];
        for (steps, want) in table {
            let mut a = acl(&[("anyone", "lrs")]);
            for step in *steps {
                let (mode, r) = parse_modification(step);
                set(&mut a, "bob", mode, Rights::parse(r, 'c').unwrap(), 'c');
            }
            let got = a.get("bob").unwrap_or("");
            assert_eq!(got, *want, "{steps:?}");
        }
        // `lrz` is refused ("The z right is not supported").
        assert_eq!(Rights::parse("lrz", 'c'), Err(BadRights('z')));
        // Negative entries keep their `-`; the admin's MYRIGHTS on `anyone lrs` is `lrsa`.
        let mut a = acl(&[("anyone", "lrs")]);
        set(
            &mut a,
            "-bob",
            Mode::Set,
            Rights::parse("r", 'c').unwrap(),
            'c',
        );
        assert_eq!(a.to_tabbed(), "anyone\tlrs\t-bob\tr\t");
        let ctx = Context {
            is_admin: true,
            deleteright: 'c',
            ..Context::default()
        };
        assert_eq!(
            myrights(&a, &Identity::user("admin"), &ctx).to_string_with('c'),
            "lrsa"
        );
    }

    /// The owner's implicit rights as Debian's imapd 3.6.1 applied them on a sub-folder of
    /// alice's.
    #[test]
    fn owner_implicit_rights_like_debian_imapd() {
        let ctx = Context {
            owner: Some("alice"),
            implicit_owner_rights: Rights::parse("lkxan", 'c').unwrap(),
            deleteright: 'c',
            ..Context::default()
        };
        let mut a = acl(&[("alice", "lrswipkxtecdan")]);
        setacl(&mut a, "alice", Mode::Set, Rights::NONE, &ctx);
        assert_eq!(a, acl(&[("alice", "lkxcan")]));
        let alice = Identity::user("alice");
        assert_eq!(myrights(&a, &alice, &ctx).to_string_with('c'), "lkxcan");
        setacl(
            &mut a,
            "-alice",
            Mode::Set,
            Rights::parse("lr", 'c').unwrap(),
            &ctx,
        );
        assert_eq!(myrights(&a, &alice, &ctx).to_string_with('c'), "lkxcan");
        setacl(
            &mut a,
            "anyone",
            Mode::Set,
            Rights::parse("lrsw", 'c').unwrap(),
            &ctx,
        );
        assert_eq!(myrights(&a, &alice, &ctx).to_string_with('c'), "lswkxcan");
        let bob_ctx = Context {
            owner: Some("alice"),
            ..ctx.clone()
        };
        assert_eq!(
            myrights(&a, &Identity::user("bob"), &bob_ctx).to_string_with('c'),
            "lrsw"
        );
        assert!(deleteacl(&mut a, "alice", &ctx));
        assert_eq!(a.get("alice"), Some("lkxcan"));
        setacl(&mut a, "bob", Mode::Set, Rights::NONE, &ctx);
        assert_eq!(a.get("bob"), None);
        // The owner's entry keeps its place.
        let mut b = acl(&[("alice", "lrswipkxtecdan"), ("bob", "lrs")]);
        setacl(&mut b, "alice", Mode::Remove, Rights(Rights::ALL), &ctx);
        assert_eq!(b, acl(&[("alice", "lkxcan"), ("bob", "lrs")]));
    }

    #[test]
    fn initial_acls() {
        assert_eq!(
            initial_acl(Some("alice"), None, "anyone lrs", 'c'),
            acl(&[("alice", "lrswipkxtecdan")])
        );
        // `shared`, created implicitly in the reference spool.
        assert_eq!(
            initial_acl(None, None, "anyone lrs", 'c'),
            acl(&[("anyone", "lrs")])
        );
        let parent = acl(&[("alice", "lrswipkxtecdan"), ("bob", "lrs")]);
        assert_eq!(initial_acl(None, Some(&parent), "", 'c'), parent);
    }

    proptest! {
        #[test]
        fn canonical_form_is_a_fixed_point(s in "[lrswipkxtecdan0-9]{0,20}", dr in "[cdx]") {
            let dr = dr.chars().next().unwrap_or('c');
            let r = Rights::parse(&s, dr).unwrap();
            let canon = r.to_string_with(dr);
            let again = Rights::parse(&canon, dr).unwrap();
            prop_assert_eq!(again, r);
            prop_assert_eq!(again.to_string_with(dr), canon);
        }

        #[test]
        fn any_input_parses_or_fails_cleanly(s in ".{0,30}") {
            let _ = Rights::parse(&s, 'c');
        }
    }
}
