#!/usr/bin/env python3
"""A whole IMAP session through Python's imaplib, as a mail client would run it.

Usage: imaplib_session.py PORT USER PASSWORD
Exits non-zero (with the failing step on stderr) if any reply is not what a client needs.
"""
import email
import imaplib
import sys
import time

port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]


def ok(what, reply):
    typ, data = reply
    if typ != "OK":
        sys.exit(f"{what}: {typ} {data!r}")
    return data


m = imaplib.IMAP4("127.0.0.1", port)
caps = m.capabilities
for needed in ("IMAP4REV1", "IDLE", "UIDPLUS", "MOVE", "NAMESPACE"):
    if needed not in caps and needed not in m.capabilities:
        pass
ok("login", m.login(user, password))
for needed in ("IDLE", "UIDPLUS", "MOVE", "NAMESPACE", "CONDSTORE", "SPECIAL-USE"):
    if needed not in m.capabilities:
        sys.exit(f"capability {needed} missing after login: {m.capabilities}")

ok("namespace", m.namespace())
ok("create", m.create("INBOX.imaplib"))
ok("subscribe", m.subscribe("INBOX.imaplib"))
names = ok("list", m.list('""', "*"))
if not any(b"INBOX.imaplib" in n for n in names):
    sys.exit(f"created folder not listed: {names!r}")

msgs = []
for i in range(5):
    body = (
        f"From: Sender {i} <s{i}@example.org>\r\n"
        f"To: {user}@example.org\r\n"
        f"Subject: imaplib message {i}\r\n"
        f"Message-ID: <imaplib-{i}@example.org>\r\n"
        "Date: Mon, 01 Jan 2024 09:00:00 +0000\r\n"
        "\r\n"
        f"Body number {i}.\r\n"
    ).encode()
    msgs.append(body)
    flags = "(\\Seen)" if i % 2 == 0 else None
    ok(f"append {i}", m.append("INBOX.imaplib", flags, imaplib.Time2Internaldate(time.time()), body))

data = ok("status", m.status("INBOX.imaplib", "(MESSAGES UNSEEN UIDNEXT)"))
if b"MESSAGES 5" not in data[0] or b"UNSEEN 2" not in data[0]:
    sys.exit(f"status after append: {data!r}")

data = ok("select", m.select("INBOX.imaplib"))
if data != [b"5"]:
    sys.exit(f"select count: {data!r}")

data = ok("search unseen", m.search(None, "UNSEEN"))
if data != [b"2 4"]:
    sys.exit(f"search unseen: {data!r}")
data = ok("search subject", m.uid("SEARCH", "SUBJECT", '"message 3"'))
if data != [b"4"]:
    sys.exit(f"uid search subject: {data!r}")

data = ok("fetch", m.fetch("1:5", "(UID FLAGS RFC822.SIZE BODY.PEEK[])"))
bodies = [part[1] for part in data if isinstance(part, tuple)]
if bodies != msgs:
    sys.exit("fetched bodies differ from what was appended")
parsed = email.message_from_bytes(bodies[2])
if parsed["Subject"] != "imaplib message 2":
    sys.exit(f"parsed subject: {parsed['Subject']!r}")

ok("store", m.store("2", "+FLAGS", "(\\Flagged $Important)"))
data = ok("fetch flags", m.fetch("2", "(FLAGS)"))
if b"\\Flagged" not in data[0] or b"$Important" not in data[0]:
    sys.exit(f"flags after store: {data!r}")

ok("create dest", m.create("INBOX.imaplib.done"))
ok("copy", m.copy("1:2", "INBOX.imaplib.done"))
typ, data = m.uid("MOVE", "3", "INBOX.imaplib.done")
if typ != "OK":
    sys.exit(f"move: {typ} {data!r}")
ok("store deleted", m.store("1", "+FLAGS", "(\\Deleted)"))
ok("expunge", m.expunge())
data = ok("search all", m.search(None, "ALL"))
if data != [b"1 2 3"]:
    sys.exit(f"after move and expunge: {data!r}")
ok("close", m.close())

data = ok("status dest", m.status("INBOX.imaplib.done", "(MESSAGES)"))
if b"MESSAGES 3" not in data[0]:
    sys.exit(f"destination after copy and move: {data!r}")
ok("rename", m.rename("INBOX.imaplib.done", "INBOX.imaplib.archive"))
ok("delete", m.delete("INBOX.imaplib.archive"))
ok("unsubscribe", m.unsubscribe("INBOX.imaplib"))
ok("logout", m.logout())
print("imaplib session ok")
