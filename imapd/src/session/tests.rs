//! The session driven with parsed commands over a scratch store: what each command says
//! and leaves on disk, the ACL hiding rules, and two sessions seeing each other's changes.

use std::path::PathBuf;
use std::sync::Arc;

use cyrus::config::Config;
use cyrus::mailbox::lifecycle::{self, CreateOptions};
use cyrus::mboxname::InternalName;

use super::{Session, Settings};
use crate::proto::command::*;

struct Store {
    dir: PathBuf,
    config: Arc<Config>,
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn store(tag: &str) -> Store {
    store_with(tag, "")
}

fn store_with(tag: &str, extra: &str) -> Store {
    let dir = std::env::temp_dir().join(format!("imapd-session-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for d in ["conf", "spool"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    let d = dir.display();
    let text = format!(
        "configdirectory: {d}/conf\ndefaultpartition: default\npartition-default: {d}/spool\n\
         admins: admin\naltnamespace: no\nunixhierarchysep: no\nservername: test\n{extra}"
    );
    let path = dir.join("imapd.conf");
    std::fs::write(&path, &text).unwrap();
    let config = Arc::new(Config::parse(&text, &path, Some("imap")).unwrap());
    for user in ["alice", "bob"] {
        let name = InternalName::new(format!("user.{user}")).unwrap();
        lifecycle::create(&config, &name, &CreateOptions::default()).unwrap();
    }
    Store { dir, config }
}

fn session(s: &Store, user: &str) -> Session {
    let settings = Settings {
        servername: "test".into(),
        version: "test".into(),
        allow_plaintext: true,
        tls_available: false,
        tls_active: false,
        serverinfo: "on".into(),
        session_id: "test-1".into(),
        client: "[127.0.0.1]".into(),
    };
    let mut sess = Session::new(Arc::clone(&s.config), settings);
    sess.out.clear();
    sess.assume_user(user);
    sess
}

/// Runs one command and returns the reply lines.
fn run(s: &mut Session, kind: CommandKind) -> Vec<String> {
    s.handle(Command {
        tag: "t".into(),
        kind,
    });
    let text = String::from_utf8_lossy(&s.out).into_owned();
    s.out.clear();
    text.split("\r\n")
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

fn tagged(lines: &[String]) -> &str {
    lines.last().map(String::as_str).unwrap_or("")
}

fn select(mailbox: &str) -> CommandKind {
    CommandKind::Select {
        mailbox: mailbox.into(),
        params: SelectParams::default(),
    }
}

fn append(mailbox: &str, flags: &[&str], body: &str) -> CommandKind {
    CommandKind::Append {
        mailbox: mailbox.into(),
        messages: vec![AppendMessage {
            flags: flags.iter().map(|f| f.to_string()).collect(),
            date: None,
            message: body.as_bytes().to_vec(),
        }],
    }
}

fn store_flags(set: u32, mode: StoreMode, flags: &[&str]) -> CommandKind {
    CommandKind::Store(StoreArgs {
        uid: false,
        set: SeqSet(vec![(SeqNum::Num(set), SeqNum::Num(set))]),
        unchangedsince: None,
        mode,
        silent: false,
        flags: flags.iter().map(|f| f.to_string()).collect(),
    })
}

const MSG: &str = "From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n";

#[test]
fn select_reports_an_empty_inbox_as_cyrus_does() {
    let st = store("select");
    let mut s = session(&st, "alice");
    let out = run(&mut s, select("INBOX"));
    assert_eq!(out[0], "* 0 EXISTS");
    assert_eq!(out[1], "* 0 RECENT");
    assert_eq!(
        out[2],
        "* FLAGS (\\Answered \\Flagged \\Draft \\Deleted \\Seen)"
    );
    assert!(out[3]
        .starts_with("* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Draft \\Deleted \\Seen \\*)]"));
    assert!(out.iter().any(|l| l.starts_with("* OK [UIDNEXT 1]")));
    assert_eq!(tagged(&out), "t OK [READ-WRITE] Completed");
}

#[test]
fn append_store_and_expunge_reach_the_index() {
    let st = store("append");
    let mut s = session(&st, "alice");
    let out = run(&mut s, append("INBOX", &["\\Seen"], MSG));
    assert!(tagged(&out).starts_with("t OK [APPENDUID "), "{out:?}");
    assert!(tagged(&out).ends_with(" 1] Completed"), "{out:?}");
    run(&mut s, select("INBOX"));
    let out = run(
        &mut s,
        store_flags(1, StoreMode::Add, &["\\Flagged", "$Work"]),
    );
    assert!(
        out.iter()
            .any(|l| l.starts_with("* FLAGS (") && l.contains("$Work")),
        "{out:?}"
    );
    assert!(
        out.iter()
            .any(|l| l == "* 1 FETCH (FLAGS (\\Recent \\Flagged \\Seen $Work))"),
        "{out:?}"
    );
    let out = run(&mut s, store_flags(1, StoreMode::Add, &["\\Deleted"]));
    assert_eq!(tagged(&out), "t OK Completed");
    let out = run(&mut s, CommandKind::Expunge { uids: None });
    assert_eq!(out[0], "* 1 EXPUNGE");
    assert!(tagged(&out).starts_with("t OK [HIGHESTMODSEQ "));
    let out = run(
        &mut s,
        CommandKind::Status {
            mailbox: "INBOX".into(),
            items: vec![StatusItem::Messages, StatusItem::UidNext],
        },
    );
    assert_eq!(out[0], "* STATUS INBOX (MESSAGES 0 UIDNEXT 2)");
}

#[test]
fn other_users_mailboxes_do_not_exist_without_lookup_right() {
    let st = store("acl");
    let mut bob = session(&st, "bob");
    for kind in [
        select("user.alice"),
        CommandKind::Status {
            mailbox: "user.alice".into(),
            items: vec![StatusItem::Messages],
        },
        CommandKind::GetAcl {
            mailbox: "user.alice".into(),
        },
        append("user.alice", &[], MSG),
    ] {
        let out = run(&mut bob, kind);
        let t = tagged(&out);
        assert!(t.contains("Mailbox does not exist"), "{out:?}");
    }
    let out = run(
        &mut bob,
        CommandKind::List(ListArgs {
            reference: String::new(),
            patterns: vec!["*".into()],
            ..ListArgs::default()
        }),
    );
    assert!(!out.iter().any(|l| l.contains("alice")), "{out:?}");

    // Once alice grants lookup and read, bob sees it but still may not write.
    let mut alice = session(&st, "alice");
    let out = run(
        &mut alice,
        CommandKind::SetAcl {
            mailbox: "INBOX".into(),
            identifier: "bob".into(),
            rights: "lr".into(),
        },
    );
    assert_eq!(tagged(&out), "t OK Completed");
    let out = run(&mut bob, select("user.alice"));
    assert_eq!(tagged(&out), "t OK [READ-ONLY] Completed", "{out:?}");
    let out = run(&mut bob, store_flags(1, StoreMode::Add, &["\\Flagged"]));
    assert!(tagged(&out).starts_with("t NO"), "{out:?}");
    let out = run(&mut bob, append("user.alice", &[], MSG));
    assert_eq!(tagged(&out), "t NO Permission denied");
}

#[test]
fn a_second_session_sees_changes_at_the_points_rfc_3501_allows() {
    let st = store("concurrent");
    let mut a = session(&st, "alice");
    let mut b = session(&st, "alice");
    run(&mut a, append("INBOX", &[], MSG));
    run(&mut a, select("INBOX"));
    run(&mut b, select("INBOX"));
    // b adds a message and flags the first: a hears of both at NOOP.
    run(&mut b, append("INBOX", &[], MSG));
    run(&mut b, store_flags(1, StoreMode::Add, &["\\Flagged"]));
    let out = run(&mut a, CommandKind::Noop);
    assert!(
        out.iter()
            .any(|l| l.starts_with("* 1 FETCH (FLAGS (") && l.contains("\\Flagged")),
        "{out:?}"
    );
    assert!(out.contains(&"* 2 EXISTS".to_string()), "{out:?}");
    // b expunges message 1: a's FETCH must not renumber, a's NOOP does.
    run(&mut b, store_flags(1, StoreMode::Add, &["\\Deleted"]));
    run(&mut b, CommandKind::Expunge { uids: None });
    let out = run(
        &mut a,
        CommandKind::Fetch(FetchArgs {
            uid: false,
            set: SeqSet(vec![(SeqNum::Num(1), SeqNum::Star)]),
            items: vec![FetchAtt::Uid],
            changedsince: None,
            vanished: false,
        }),
    );
    assert!(!out.iter().any(|l| l.ends_with("EXPUNGE")), "{out:?}");
    let out = run(&mut a, CommandKind::Noop);
    assert!(out.contains(&"* 1 EXPUNGE".to_string()), "{out:?}");
}

#[test]
fn create_list_rename_delete() {
    let st = store("manage");
    let mut s = session(&st, "alice");
    let out = run(
        &mut s,
        CommandKind::Create {
            mailbox: "INBOX.Sent".into(),
            special_use: vec!["\\Sent".into()],
        },
    );
    assert!(tagged(&out).starts_with("t OK [MAILBOXID ("), "{out:?}");
    let out = run(
        &mut s,
        CommandKind::Create {
            mailbox: "INBOX.Sent".into(),
            special_use: vec![],
        },
    );
    assert_eq!(tagged(&out), "t NO Mailbox already exists");
    let out = run(
        &mut s,
        CommandKind::Create {
            mailbox: "user.carol".into(),
            special_use: vec![],
        },
    );
    assert_eq!(tagged(&out), "t NO Permission denied");
    let list = |s: &mut Session| {
        run(
            s,
            CommandKind::List(ListArgs {
                reference: String::new(),
                patterns: vec!["*".into()],
                ..ListArgs::default()
            }),
        )
    };
    let out = list(&mut s);
    assert_eq!(out[0], "* LIST (\\HasChildren) \".\" INBOX");
    assert_eq!(out[1], "* LIST (\\HasNoChildren \\Sent) \".\" INBOX.Sent");
    let out = run(
        &mut s,
        CommandKind::Rename {
            from: "INBOX.Sent".into(),
            to: "INBOX.Outbox".into(),
        },
    );
    assert_eq!(out[0], "* OK rename INBOX.Sent INBOX.Outbox");
    assert_eq!(tagged(&out), "t OK Completed");
    let out = run(
        &mut s,
        CommandKind::Delete {
            mailbox: "INBOX.Outbox".into(),
        },
    );
    assert_eq!(tagged(&out), "t OK Completed");
    let out = list(&mut s);
    assert_eq!(out[0], "* LIST (\\HasNoChildren) \".\" INBOX");
}

#[test]
fn first_login_autocreates_the_inbox_when_configured() {
    let st = store_with(
        "autocreate",
        "autocreate_quota: 100\nautocreate_inbox_folders: Sent|Trash\nautocreate_subscribe_folders: Sent\n",
    );
    let mut s = session(&st, "carol");
    let out = run(
        &mut s,
        CommandKind::GetQuotaRoot {
            mailbox: "INBOX".into(),
        },
    );
    assert_eq!(out[0], "* QUOTAROOT INBOX INBOX");
    assert_eq!(out[1], "* QUOTA INBOX (STORAGE 0 100)");
    let out = run(
        &mut s,
        CommandKind::Lsub {
            reference: String::new(),
            pattern: "*".into(),
        },
    );
    assert_eq!(out[0], "* LSUB () \".\" INBOX.Sent");
    let out = run(
        &mut s,
        CommandKind::List(ListArgs {
            reference: String::new(),
            patterns: vec!["*".into()],
            ..ListArgs::default()
        }),
    );
    assert_eq!(out.len(), 4, "{out:?}");
    // Without the option nothing is created.
    let plain = store("no-autocreate");
    let mut s = session(&plain, "carol");
    let out = run(&mut s, select("INBOX"));
    assert_eq!(tagged(&out), "t NO Mailbox does not exist");
}

#[test]
fn setquota_on_a_new_root_counts_what_is_already_there() {
    let st = store("setquota");
    let mut alice = session(&st, "alice");
    run(&mut alice, append("INBOX", &[], MSG));
    let mut admin = session(&st, "admin");
    let out = run(
        &mut admin,
        CommandKind::SetQuota {
            root: "user.alice".into(),
            limits: vec![("STORAGE".into(), 100), ("MESSAGE".into(), 1)],
        },
    );
    assert_eq!(tagged(&out), "t OK Completed");
    let out = run(
        &mut alice,
        CommandKind::GetQuotaRoot {
            mailbox: "INBOX".into(),
        },
    );
    assert_eq!(
        out[1], "* QUOTA INBOX (STORAGE 0 100 MESSAGE 1 1)",
        "{out:?}"
    );
    // The message quota is full: the next APPEND is refused.
    let out = run(&mut alice, append("INBOX", &[], MSG));
    assert_eq!(tagged(&out), "t NO [OVERQUOTA] Over quota");
    let out = run(
        &mut alice,
        CommandKind::SetQuota {
            root: "user.alice".into(),
            limits: vec![],
        },
    );
    assert_eq!(tagged(&out), "t NO Permission denied");
}

fn list_all(s: &mut Session) -> Vec<String> {
    run(
        s,
        CommandKind::List(ListArgs {
            reference: String::new(),
            patterns: vec!["*".into()],
            ..ListArgs::default()
        }),
    )
}

/// For every right: bob holds all the others on alice's folder, and each operation that
/// needs the missing one is refused, leaving the folder unchanged.
#[test]
fn acl_matrix_refuses_each_operation_without_its_right() {
    let st = store("acl-matrix");
    let mut alice = session(&st, "alice");
    run(
        &mut alice,
        CommandKind::Create {
            mailbox: "INBOX.box".into(),
            special_use: vec![],
        },
    );
    run(&mut alice, append("INBOX.box", &[], MSG));
    let folder = "user.alice.box";
    let all = "lrswipkxtecdan";
    let check = |bob: &mut Session, kind: CommandKind, want_ok: bool, what: &str| {
        let out = run(bob, kind);
        let ok = tagged(&out).starts_with("t OK");
        assert_eq!(ok, want_ok, "{what}: {out:?}");
    };
    for right in all.chars() {
        let rights: String = all.chars().filter(|&c| c != right).collect();
        let out = run(
            &mut alice,
            CommandKind::SetAcl {
                mailbox: "INBOX.box".into(),
                identifier: "bob".into(),
                rights: rights.clone(),
            },
        );
        assert_eq!(tagged(&out), "t OK Completed", "{out:?}");
        let mut bob = session(&st, "bob");
        let listed = list_all(&mut bob).iter().any(|l| l.ends_with(folder));
        assert_eq!(listed, right != 'l', "LIST without {right}");
        let flag = |f: &str| store_flags(1, StoreMode::Add, &[f]);
        match right {
            'r' => {
                check(&mut bob, select(folder), false, "SELECT without r");
                check(
                    &mut bob,
                    CommandKind::Status {
                        mailbox: folder.into(),
                        items: vec![StatusItem::Messages],
                    },
                    false,
                    "STATUS without r",
                );
            }
            's' | 'w' | 't' | 'e' => {
                check(&mut bob, select(folder), true, "SELECT");
                match right {
                    's' => check(&mut bob, flag("\\Seen"), false, "STORE \\Seen without s"),
                    'w' => {
                        check(
                            &mut bob,
                            flag("\\Flagged"),
                            false,
                            "STORE \\Flagged without w",
                        );
                        check(&mut bob, flag("$Label"), false, "STORE keyword without w");
                    }
                    't' => check(
                        &mut bob,
                        flag("\\Deleted"),
                        false,
                        "STORE \\Deleted without t",
                    ),
                    _ => {
                        check(&mut bob, flag("\\Deleted"), true, "STORE \\Deleted with t");
                        check(
                            &mut bob,
                            CommandKind::Expunge { uids: None },
                            false,
                            "EXPUNGE without e",
                        );
                        check(&mut bob, flag("\\Seen"), true, "STORE \\Seen with s");
                        run(&mut bob, store_flags(1, StoreMode::Remove, &["\\Deleted"]));
                    }
                }
            }
            'i' => check(
                &mut bob,
                append(folder, &[], MSG),
                false,
                "APPEND without i",
            ),
            'k' => check(
                &mut bob,
                CommandKind::Create {
                    mailbox: format!("{folder}.sub"),
                    special_use: vec![],
                },
                false,
                "CREATE child without k",
            ),
            'x' => {
                check(
                    &mut bob,
                    CommandKind::Delete {
                        mailbox: folder.into(),
                    },
                    false,
                    "DELETE without x",
                );
                check(
                    &mut bob,
                    CommandKind::Rename {
                        from: folder.into(),
                        to: "user.alice.other".into(),
                    },
                    false,
                    "RENAME without x",
                );
            }
            'a' => {
                check(
                    &mut bob,
                    CommandKind::GetAcl {
                        mailbox: folder.into(),
                    },
                    false,
                    "GETACL without a",
                );
                check(
                    &mut bob,
                    CommandKind::SetAcl {
                        mailbox: folder.into(),
                        identifier: "bob".into(),
                        rights: all.into(),
                    },
                    false,
                    "SETACL without a",
                );
            }
            'n' => check(
                &mut bob,
                CommandKind::SetMetadata {
                    mailbox: folder.into(),
                    entries: vec![("/shared/comment".into(), Some(b"x".to_vec()))],
                },
                false,
                "SETMETADATA /shared without n",
            ),
            _ => {}
        }
    }
    // With no rights at all the folder does not exist for bob, whatever he asks.
    run(
        &mut alice,
        CommandKind::DeleteAcl {
            mailbox: "INBOX.box".into(),
            identifier: "bob".into(),
        },
    );
    let mut bob = session(&st, "bob");
    for kind in [
        select(folder),
        CommandKind::MyRights {
            mailbox: folder.into(),
        },
        CommandKind::GetQuotaRoot {
            mailbox: folder.into(),
        },
        CommandKind::Delete {
            mailbox: folder.into(),
        },
    ] {
        let out = run(&mut bob, kind);
        assert_eq!(tagged(&out), "t NO Mailbox does not exist", "{out:?}");
    }
    // Nothing bob tried changed the folder.
    let out = run(
        &mut alice,
        CommandKind::Status {
            mailbox: "INBOX.box".into(),
            items: vec![StatusItem::Messages],
        },
    );
    assert_eq!(out[0], "* STATUS INBOX.box (MESSAGES 1)");
}

#[test]
fn qresync_reports_expunges_as_vanished_uids() {
    let st = store("qresync");
    let mut a = session(&st, "alice");
    let mut b = session(&st, "alice");
    for _ in 0..3 {
        run(&mut a, append("INBOX", &[], MSG));
    }
    let out = run(&mut a, CommandKind::Enable(vec!["QRESYNC".into()]));
    assert_eq!(out[0], "* ENABLED QRESYNC");
    let out = run(&mut a, select("INBOX"));
    let validity: u32 = out
        .iter()
        .find_map(|l| {
            l.strip_prefix("* OK [UIDVALIDITY ")?
                .split(']')
                .next()?
                .parse()
                .ok()
        })
        .expect("UIDVALIDITY");
    let modseq: u64 = out
        .iter()
        .find_map(|l| {
            l.strip_prefix("* OK [HIGHESTMODSEQ ")?
                .split(']')
                .next()?
                .parse()
                .ok()
        })
        .expect("HIGHESTMODSEQ");
    run(&mut b, select("INBOX"));
    run(&mut b, store_flags(2, StoreMode::Add, &["\\Deleted"]));
    run(&mut b, CommandKind::Expunge { uids: None });
    let out = run(&mut a, CommandKind::Noop);
    assert!(out.contains(&"* VANISHED 2".to_string()), "{out:?}");
    assert!(!out.iter().any(|l| l.ends_with("EXPUNGE")), "{out:?}");
    // A client that knew the mailbox at `modseq` resynchronises with SELECT (QRESYNC ...).
    run(&mut b, store_flags(1, StoreMode::Add, &["\\Flagged"]));
    let out = run(
        &mut a,
        CommandKind::Select {
            mailbox: "INBOX".into(),
            params: SelectParams {
                condstore: false,
                qresync: Some(QresyncParams {
                    uidvalidity: validity,
                    modseq,
                    known_uids: None,
                    seq_match: None,
                }),
            },
        },
    );
    assert_eq!(out[0], "* OK [CLOSED] Ok");
    assert!(
        out.contains(&"* VANISHED (EARLIER) 2".to_string()),
        "{out:?}"
    );
    assert!(
        out.iter().any(|l| l.starts_with("* 1 FETCH (FLAGS (")
            && l.contains("\\Flagged")
            && l.contains("UID 1 MODSEQ")),
        "{out:?}"
    );
}

#[test]
fn expunge_mode_immediate_removes_files_and_records() {
    let st = store_with("immediate", "expunge_mode: immediate\n");
    let mut a = session(&st, "alice");
    let mut b = session(&st, "alice");
    run(&mut a, append("INBOX", &[], MSG));
    run(&mut a, append("INBOX", &[], MSG));
    run(&mut a, select("INBOX"));
    run(&mut b, select("INBOX"));
    run(&mut a, store_flags(1, StoreMode::Add, &["\\Deleted"]));
    let out = run(&mut a, CommandKind::Expunge { uids: None });
    assert_eq!(out[0], "* 1 EXPUNGE");
    let dir = a.selected().map(|s| s.dir.clone()).expect("selected");
    assert!(!dir.join("1.").exists(), "the message file is gone");
    let mb = cyrus::mailbox::Mailbox::open(&dir, cyrus::mailbox::LockMode::Read).unwrap();
    assert_eq!(mb.records().len(), 1, "the record is gone after the repack");
    drop(mb);
    // Another session still learns of the expunge.
    let out = run(&mut b, CommandKind::Noop);
    assert!(out.contains(&"* 1 EXPUNGE".to_string()), "{out:?}");
    let out = run(
        &mut b,
        CommandKind::Fetch(FetchArgs {
            uid: true,
            set: SeqSet(vec![(SeqNum::Num(1), SeqNum::Star)]),
            items: vec![FetchAtt::Rfc822Size],
            changedsince: None,
            vanished: false,
        }),
    );
    assert!(
        out[0].starts_with("* 1 FETCH (UID 2 RFC822.SIZE "),
        "{out:?}"
    );
}

#[test]
fn copy_links_the_message_file_instead_of_writing_it_again() {
    use std::os::unix::fs::MetadataExt;
    let st = store("copy-link");
    let mut s = session(&st, "alice");
    run(
        &mut s,
        CommandKind::Create {
            mailbox: "INBOX.Copies".into(),
            special_use: vec![],
        },
    );
    run(&mut s, append("INBOX", &[], MSG));
    run(&mut s, select("INBOX"));
    let out = run(
        &mut s,
        CommandKind::Copy {
            uid: false,
            set: SeqSet(vec![(SeqNum::Num(1), SeqNum::Num(1))]),
            mailbox: "INBOX.Copies".into(),
        },
    );
    assert!(tagged(&out).starts_with("t OK [COPYUID "), "{out:?}");
    let src = s.selected().map(|x| x.dir.join("1.")).expect("selected");
    let meta = std::fs::metadata(&src).unwrap();
    assert_eq!(
        meta.nlink(),
        2,
        "the copy is a hard link (singleinstancestore)"
    );
}
