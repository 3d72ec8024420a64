#!/usr/bin/env python3
"""STARTTLS and imaps through Python's imaplib and ssl, as a mail client would use them.

Usage: imaplib_tls.py IMAP_PORT IMAPS_PORT USER PASSWORD
The server's certificate is self-signed, so it is not verified.
"""
import imaplib
import ssl
import sys

port, sport, user, password = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE


def ok(what, reply):
    typ, data = reply
    if typ != "OK":
        sys.exit(f"{what}: {typ} {data!r}")
    return data


m = imaplib.IMAP4("127.0.0.1", port)
if "STARTTLS" not in m.capabilities:
    sys.exit(f"STARTTLS not offered: {m.capabilities}")
ok("starttls", m.starttls(ssl_context=ctx))
if "STARTTLS" in m.capabilities:
    sys.exit(f"STARTTLS still offered under TLS: {m.capabilities}")
ok("login over starttls", m.login(user, password))
data = ok("select", m.select("INBOX", readonly=True))
ok("fetch", m.fetch("1", "(FLAGS BODY.PEEK[HEADER])"))
m.logout()

s = imaplib.IMAP4_SSL("127.0.0.1", sport, ssl_context=ctx)
if "STARTTLS" in s.capabilities:
    sys.exit(f"imaps offers STARTTLS: {s.capabilities}")
ok("login over imaps", s.login(user, password))
ok("status", s.status("INBOX", "(MESSAGES)"))
s.logout()
print("tls ok")
