#!/usr/bin/env bash
# quickstart.sh DIR [PORT] -- build, then set up a demo instance in DIR (config, databases,
# user "demo" with password "demo") and start it with IMAP on 127.0.0.1:PORT (default 14143).
# Run from the repository root on Debian; installs build dependencies with apt-get if missing.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 DIR [PORT]" >&2; exit 2; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PORT=${2:-14143}
mkdir -p "$1"; DIR=$(cd "$1" && pwd)

need=
for p in pkg-config libssl-dev libsasl2-dev sasl2-bin; do
  dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need="$need $p"
done
if [ -n "$need" ]; then
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -q && $SUDO apt-get install -y -q --no-install-recommends $need
fi
(cd "$ROOT" && cargo build --release --workspace --bins)
BIN=$ROOT/target/release

mkdir -p "$DIR"/{etc,conf/sieve,conf/socket,spool}
for f in imapd.conf cyrus.conf; do
  sed -e "s|@DIR@|$DIR|g" -e "s|@BIN@|$BIN|g" -e "s|@PORT@|$PORT|g" \
    "$ROOT/etc/quickstart/$f" > "$DIR/etc/$f"
done
printf 'demo' | saslpasswd2 -p -c -f "$DIR/etc/sasldb2" -u localhost demo
printf 'demo' | saslpasswd2 -p -c -f "$DIR/etc/sasldb2" -u localhost admin
# Run as root, every Cyrus program (ours too) becomes the cyrus user before touching files:
# make sure it exists and owns the instance.
if [ "$(id -u)" = 0 ]; then
  id cyrus >/dev/null 2>&1 || useradd --system --gid mail --home-dir "$DIR" --shell /usr/sbin/nologin cyrus
  chown -R cyrus:mail "$DIR"
  chmod 0750 "$DIR"
fi
"$BIN/cyr_dbtool" -C "$DIR/etc/imapd.conf" -n "$DIR/conf/mailboxes.db" twoskip consistent >/dev/null
echo "quickstart: instance in $DIR (imapd.conf, cyrus.conf, sasldb with demo/demo and admin/demo)"

echo "quickstart: starting master; IMAP on 127.0.0.1:$PORT (user demo, password demo)"
echo "quickstart: try: python3 -c \"import imaplib; m=imaplib.IMAP4('127.0.0.1', $PORT); print(m.login('demo','demo')); print(m.list())\""
exec "$BIN/master" -C "$DIR/etc/imapd.conf" -M "$DIR/etc/cyrus.conf" -p "$DIR/master.pid"
