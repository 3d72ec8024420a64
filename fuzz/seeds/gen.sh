#!/bin/sh
# Regenerates the gen-* seeds with our own cyr_dbtool (build it first:
# `cargo build -p tools --bin cyr_dbtool`). The ref-* and debian-* seeds are copies of the
# files in /work/shared/reference/cyrus-3.6 and lib-cyrus/src/db/skiplist/testdata.
# Run from fuzz/seeds. The batch exercises literals with NUL/TAB/CR/LF/0xFF (flat escapes),
# a delete and a replace in a second transaction, and a write outside any transaction.
set -e
tool=${CYR_DBTOOL:-../../target/debug/cyr_dbtool}
tmp=$(mktemp -d)
batch='BEGIN\nSET user.alice "v 1"\nSET user.alice.Sent {4}\r\na\tb\0\nSET user.bob x\nSET {5}\r\nt\0a\rb {2}\r\n\377\n\nCOMMIT\nBEGIN\nDELETE user.bob\nSET user.alice v2\nCOMMIT\nSET INBOX y\n'
for b in twoskip skiplist flat; do
    printf "$batch" | "$tool" "$tmp/gen-$b.db" $b batch -n
    cp "$tmp/gen-$b.db" $b/
done
# An unfinished transaction, as a crash leaves it: open must recover.
for b in twoskip skiplist; do
    cp "$tmp/gen-$b.db" "$tmp/gen-$b-damaged.db"
    "$tool" "$tmp/gen-$b-damaged.db" $b damage
    cp "$tmp/gen-$b-damaged.db" $b/
done
# The same batch, behind a limit byte, is a seed for the astring reader.
{ printf '\377'; printf "$batch"; } > astring/dbtool-batch
rm -r "$tmp"
