#!/usr/bin/env python3
"""Records FETCH replies of real Cyrus 3.6 for fetch-sections.txt.

Run against Debian's Cyrus started on a copy of the reference spool:
    CYRUS_REF_SEED=../shared/reference/cyrus-3.6/spool CYRUS_REF_IMAP_PORT=25143 ... \
        ../shared/cyrus-ref/start DIR
    imapd/tests/data/record-fetch-sections.py 25143 > imapd/tests/data/fetch-sections.txt

With `--edge` it instead records odd MIME shapes that the reference spool lacks (empty body,
no header, empty multipart, top-level message/rfc822, digest): it creates bob's INBOX.edge,
APPENDs EDGE_MESSAGES to it, records EDGE_COMMANDS into fetch-edge.txt, and the mailbox
files Cyrus wrote (cyrus.header, cyrus.index, cyrus.cache, <uid>.) are copied by hand from
the instance's spool into tests/data/user.bob.edge/:
    imapd/tests/data/record-fetch-sections.py 25143 --edge > imapd/tests/data/fetch-edge.txt
Every mailbox is EXAMINEd, so recording changes no \\Seen state. Lines are written as the
reference goldens write them: one CRLF-terminated line per `S:` line, literal data on its own
lines, bytes that are not printable UTF-8 as \\xNN.
"""
import re
import socket
import sys

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 25143

SESSIONS = [
    ("alice", "INBOX", [
        "UID FETCH 1 (BODY.PEEK[])",
        "UID FETCH 1 (BODY[])",
        "UID FETCH 1 (BODY.PEEK[]<0.10>)",
        "UID FETCH 1 (BODY.PEEK[]<580.100>)",
        "UID FETCH 1 (BODY.PEEK[]<1000.10>)",
        "UID FETCH 1 (BODY.PEEK[]<5.0>)",
        "UID FETCH 1 (BODY.PEEK[HEADER])",
        "UID FETCH 1 (BODY.PEEK[TEXT])",
        "UID FETCH 1 (BODY.PEEK[1])",
        "UID FETCH 1 (BODY.PEEK[2])",
        "UID FETCH 1 (BODY.PEEK[1.MIME])",
        "UID FETCH 1 (BODY.PEEK[1.1])",
        "UID FETCH 1 (BODY.PEEK[1.HEADER])",
        "UID FETCH 1 (BODY.PEEK[1.TEXT])",
        "UID FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)])",
        "UID FETCH 1 (BODY.PEEK[HEADER.FIELDS (subject from)])",
        "UID FETCH 1 (BODY.PEEK[HEADER.FIELDS (X-Nothing)])",
        "UID FETCH 1 (BODY.PEEK[HEADER.FIELDS (Content-Type MIME-Version)])",
        "UID FETCH 1 (BODY.PEEK[HEADER.FIELDS.NOT (Subject From)])",
        "UID FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject)]<0.5>)",
        "UID FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject)]<20.10>)",
        "UID FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject)]<27.10>)",
        "UID FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject)]<28.10>)",
        "UID FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject)]<29.10>)",
        "UID FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject)]<100.10>)",
        "UID FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject)]<0.26>)",
        "UID FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject)]<0.27>)",
        "UID FETCH 1 (BODY.PEEK[HEADER.FIELDS.NOT (Received)]<10.20>)",
        "UID FETCH 1 (RFC822)",
        "UID FETCH 1 (RFC822.HEADER)",
        "UID FETCH 1 (RFC822.TEXT)",
        "UID FETCH 1 (RFC822.SIZE)",
        "UID FETCH 1 (BODY)",
        "UID FETCH 1 (BODYSTRUCTURE)",
        "UID FETCH 1 (ENVELOPE)",
        "UID FETCH 1 (EMAILID THREADID)",
        "UID FETCH 1 (THREADID)",
        "UID FETCH 1 (MODSEQ)",
        "UID FETCH 1 (UID)",
        "UID FETCH 1 (INTERNALDATE)",
        "UID FETCH 1 FAST",
        "UID FETCH 1 ALL",
        "UID FETCH 1 FULL",
        "FETCH 1 (FLAGS)",
        "FETCH 1 (UID)",
        "FETCH 1 (RFC822.SIZE)",
        "FETCH 1 (BODY.PEEK[TEXT] BODY.PEEK[HEADER] RFC822.SIZE UID FLAGS)",
        "FETCH 1 (RFC822 RFC822.TEXT RFC822.HEADER BODY BODYSTRUCTURE ENVELOPE EMAILID THREADID MODSEQ INTERNALDATE UID FLAGS RFC822.SIZE)",
        "FETCH 2 (BODY.PEEK[2] BODY.PEEK[1])",
        "FETCH 2 (BODY.PEEK[HEADER.FIELDS (TO)] BODY.PEEK[HEADER.FIELDS (FROM)])",
        "FETCH 2 (BODY.PEEK[1] BODY.PEEK[HEADER.FIELDS (FROM)] UID)",
        "FETCH 2 (BODY.PEEK[1] BODY.PEEK[HEADER.FIELDS (FROM)] BODY.PEEK[HEADER.FIELDS.NOT (FROM)])",
        "FETCH 2 (body.peek[header.fields (subject)] body.peek[text]<0.20>)",
        "FETCH 2 (BODY.PEEK[1] BODY.PEEK[2] BODY.PEEK[3] BODY.PEEK[0])",
        "FETCH 2 (BODY.PEEK[1.MIME] BODY.PEEK[2.MIME] BODY.PEEK[TEXT] BODY.PEEK[HEADER])",
        "FETCH 2 (BODY.PEEK[1.TEXT] BODY.PEEK[1.HEADER] BODY.PEEK[1.1] BODY.PEEK[1.HEADER.FIELDS (Content-Type)])",
        "FETCH 2 (BODY.PEEK[1]<0.5> BODY.PEEK[2]<10.10> BODY.PEEK[1.MIME]<5.10>)",
        "FETCH 3 (BODY.PEEK[1] BODY.PEEK[2.MIME] BODY.PEEK[2]<0.40>)",
        "FETCH 4 (BODY.PEEK[TEXT] BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)])",
        "FETCH 5 (BODY.PEEK[1] BODY.PEEK[HEADER])",
        "FETCH 6 (BODY.PEEK[2] BODY.PEEK[2.HEADER] BODY.PEEK[2.TEXT] BODY.PEEK[2.MIME])",
        "FETCH 6 (BODY.PEEK[2.1] BODY.PEEK[2.2] BODY.PEEK[2.3] BODY.PEEK[2.1.MIME] BODY.PEEK[2.1.1] BODY.PEEK[3])",
        "FETCH 6 (BODY.PEEK[2.HEADER.FIELDS (Subject From)] BODY.PEEK[2.HEADER.FIELDS.NOT (Subject)] BODY.PEEK[1.HEADER.FIELDS (Subject)])",
        "FETCH 6 (BODY.PEEK[2.1.HEADER] BODY.PEEK[2.1.TEXT] BODY.PEEK[1.HEADER] BODY.PEEK[1.TEXT])",
        "FETCH 6 (BODY.PEEK[2.HEADER.FIELDS (Content-Type)]<0.10> BODY.PEEK[2.TEXT]<0.30>)",
        "FETCH 7 (BODY.PEEK[HEADER.FIELDS (Subject References X-Long-Header)])",
        "FETCH 7 (BODY.PEEK[HEADER.FIELDS.NOT (Subject References X-Long-Header Received)])",
        "FETCH 8 (BODY.PEEK[TEXT]<204000.2000>)",
        "FETCH 8 (RFC822.HEADER BODY.PEEK[]<0.100>)",
        "FETCH 11 (BODY.PEEK[HEADER.FIELDS (From Sender Reply-To Cc Bcc To)])",
        "FETCH 12 (BODY.PEEK[TEXT] BODY.PEEK[1])",
        "FETCH 13 (BODY.PEEK[HEADER.FIELDS (SUBJECT DATE)] BODY.PEEK[HEADER] ENVELOPE)",
        "FETCH 14 (BODY.PEEK[1] BODY.PEEK[2.MIME] BODY.PEEK[2]<0.50>)",
        "FETCH 15 (BODY.PEEK[2.MIME] BODY.PEEK[1])",
        "FETCH 16 (BODY.PEEK[HEADER.FIELDS (To Cc)] EMAILID)",
        "FETCH 1:3 (UID RFC822.SIZE EMAILID THREADID)",
        "FETCH 1 (BODY.PEEK[1] BODY.PEEK[1] RFC822.SIZE RFC822.SIZE)",
        "FETCH 1 (BODY.PEEK[HEADER.FIELDS (\"Subject\" \"X(Y\" NIL)])",
        "FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject)] BODY.PEEK[HEADER.FIELDS (Subject)])",
        "FETCH 1 (BODY.PEEK[1.HEADER.FIELDS (Subject)] BODY.PEEK[HEADER.FIELDS (Received)])",
        "FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject Received X-Sieve)]<0.40>)",
        "FETCH 1 (BODY[1] BODY[TEXT]<3.4>)",
        "FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1])",
    ]),
    ("alice", "INBOX.Archive.2024", [
        "FETCH 1:2 (FLAGS UID BODY.PEEK[HEADER.FIELDS (Subject)] RFC822.SIZE INTERNALDATE)",
        "FETCH 2 (RFC822)",
    ]),
    ("alice", "shared.team", [
        "FETCH 1 (FLAGS BODY.PEEK[TEXT] EMAILID)",
    ]),
    ("bob", "INBOX", [
        "FETCH 1:3 (FLAGS UID BODY.PEEK[1] BODY.PEEK[2])",
    ]),
]


EDGE_MESSAGES = [
    b"Subject: empty body\r\n\r\n",
    b"Subject: multi\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\npre\r\n--b\r\n\r\n"
    b"no header part\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\n"
    b"inner body\r\n--b\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n--c\r\n"
    b"\r\nalt1\r\n--c--\r\n--b--\r\n",
    b"Subject: top rfc822\r\nContent-Type: message/rfc822\r\n\r\nSubject: enclosed\r\n"
    b"Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n\r\nz1\r\n--z\r\n\r\nz2\r\n"
    b"--z--\r\n",
    b"Subject: empty multi\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\nnothing here\r\n",
    b"Subject: no body\r\nFrom: a@b\r\n",
    b"Subject: digest\r\nContent-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\n"
    b"Subject: d1\r\n\r\nd1 body\r\n--d\r\nContent-Type: text/plain\r\n\r\n"
    b"plain in digest\r\n--d--\r\n",
]

EDGE_COMMANDS = [
    "FETCH 1:* (BODYSTRUCTURE BODY ENVELOPE RFC822.SIZE)",
    "FETCH 1:* (BODY.PEEK[HEADER] BODY.PEEK[TEXT] BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[2])",
    "FETCH 1:* (BODY.PEEK[HEADER.FIELDS (Subject)] BODY.PEEK[1.HEADER.FIELDS (Subject)])",
    "FETCH 1:* (BODY.PEEK[HEADER.FIELDS.NOT (Subject)] BODY.PEEK[2.HEADER.FIELDS (Subject)])",
    "FETCH 1:* (RFC822.HEADER RFC822.TEXT BODY.PEEK[TEXT]<0.5> BODY.PEEK[1]<2.3>)",
    "FETCH 2 (BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[1.HEADER.FIELDS (Subject)] BODY.PEEK[2] "
    "BODY.PEEK[2.HEADER] BODY.PEEK[2.TEXT] BODY.PEEK[2.1] BODY.PEEK[2.1.MIME] "
    "BODY.PEEK[2.HEADER.FIELDS (Subject)] BODY.PEEK[3] BODY.PEEK[3.MIME] BODY.PEEK[3.1] "
    "BODY.PEEK[3.1.MIME] BODY.PEEK[3.TEXT] BODY.PEEK[3.HEADER.FIELDS (Content-Type)] BODY.PEEK[4])",
    "FETCH 3 (BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[1.HEADER] BODY.PEEK[1.TEXT] BODY.PEEK[1.1] "
    "BODY.PEEK[1.2] BODY.PEEK[1.1.MIME] BODY.PEEK[1.3] BODY.PEEK[2] BODY.PEEK[1.HEADER.FIELDS (Subject)] "
    "BODY.PEEK[1.1.HEADER.FIELDS (Subject)])",
    "FETCH 4 (BODY.PEEK[TEXT] BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[2] BODY.PEEK[1.1] "
    "BODY.PEEK[1.HEADER.FIELDS (Subject)])",
    "FETCH 6 (BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[1.HEADER] BODY.PEEK[1.TEXT] BODY.PEEK[1.1] "
    "BODY.PEEK[2] BODY.PEEK[2.MIME] BODY.PEEK[1.HEADER.FIELDS (Subject)])",
]


def escape(line):
    out = []
    s = line.decode("utf-8", "surrogateescape")
    for ch in s:
        o = ord(ch)
        if 0xDC80 <= o <= 0xDCFF:
            out.append("\\x%02x" % (o - 0xDC00))
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\n":
            out.append("\\n")
        elif (o < 0x20 and ch != "\t") or o == 0x7F:
            out.append("\\x%02x" % o)
        else:
            out.append(ch)
    return "".join(out)


class Conn:
    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", PORT))
        self.buf = b""
        self.n = 0

    def readline(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError
            self.buf += d
        i = self.buf.index(b"\r\n")
        line, self.buf = self.buf[:i + 2], self.buf[i + 2:]
        return line

    def readn(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d:
                raise EOFError
            self.buf += d
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def response(self, tag):
        """Raw bytes up to and including the tagged line."""
        raw = b""
        while True:
            line = self.readline()
            raw += line
            m = re.search(rb"~?\{(\d+)\}\r\n$", line)
            if m:
                raw += self.readn(int(m.group(1)))
                continue
            if line.startswith(tag.encode() + b" "):
                return raw

    def cmd(self, text, out):
        self.n += 1
        tag = "a%03d" % self.n
        line = "%s %s" % (tag, text)
        out.append("C: " + line)
        self.s.sendall(line.encode() + b"\r\n")
        raw = self.response(tag)
        for l in raw.split(b"\r\n")[:-1]:
            out.append("S: " + escape(l))


def setup_edge():
    c = Conn()
    c.readline()
    out = []
    c.cmd("LOGIN bob \"secret\"", out)
    c.cmd("DELETE INBOX.edge", out)
    c.cmd("CREATE INBOX.edge", out)
    for m in EDGE_MESSAGES:
        c.n += 1
        tag = "s%03d" % c.n
        c.s.sendall(b"%s APPEND INBOX.edge {%d+}\r\n" % (tag.encode(), len(m)) + m + b"\r\n")
        c.response(tag)
    c.cmd("LOGOUT", out)


def main():
    global SESSIONS
    if "--edge" in sys.argv:
        setup_edge()
        SESSIONS = [("bob", "INBOX.edge", EDGE_COMMANDS)]
    out = ["# FETCH replies of real Cyrus 3.6 (Debian 3.6.1-4+deb12u5) on a copy of the reference",
           "# spool, recorded by record-fetch-sections.py; every mailbox EXAMINEd (read-only)."]
    for user, mbox, cmds in SESSIONS:
        c = Conn()
        greeting = c.readline()
        out.append("S: " + escape(greeting[:-2]))
        c.cmd("LOGIN %s \"secret\"" % user, out)
        c.cmd("ENABLE CONDSTORE", out)
        c.cmd("EXAMINE %s" % mbox, out)
        for cmd in cmds:
            c.cmd(cmd, out)
        c.cmd("LOGOUT", out)
    sys.stdout.write("\n".join(out) + "\n")


main()
