#!/bin/sh
# bench-setup.sh: fetch the peers that `npm run bench` compares correio against.
#
#   scripts/bench-setup.sh            download Debian's postfix package and unpack it into
#                                     $BENCH_CACHE/postfix (default /tmp/correio-bench/postfix):
#                                     gives smtp-source and smtp-sink, nothing is installed or started.
#                                     Then: BENCH_POSTFIX_DIR=/tmp/correio-bench/postfix npm run bench
#   scripts/bench-setup.sh --install  (root) ALSO install the full postfix package, needed for the
#                                     Postfix peer rows (hold, relay, Maildir). Debian's package
#                                     normally starts Postfix on port 25 of every address; here it is
#                                     installed with debconf "No configuration" (no main.cf, so it
#                                     cannot start) and, if it runs anyway, stopped and disabled at
#                                     once. The bench runs its own instance (postfix -c <tmp dir>) on
#                                     127.0.0.1:<free high port> and stops it afterwards.
#                                     Also opendkim, opendmarc and postfix-policyd-spf-python for
#                                     the checks scenario's Postfix row (their own daemons stopped).
#
# Nothing here touches the network except apt's configured mirror.
set -eu
CACHE=${BENCH_CACHE:-/tmp/correio-bench}
DIR="$CACHE/postfix"

mkdir -p "$CACHE"
if [ ! -x "$DIR/usr/sbin/smtp-source" ]; then
  ( cd "$CACHE" && rm -f postfix_*.deb && apt-get download postfix && dpkg-deb -x postfix_*.deb "$DIR" )
fi
echo "smtp-source/smtp-sink unpacked in $DIR (run with LD_LIBRARY_PATH=$DIR/usr/lib/postfix)"

if [ "${1:-}" = "--install" ]; then
  if [ "$(id -u)" != 0 ]; then echo "bench-setup: --install needs root" >&2; exit 77; fi
  if ! command -v postfix >/dev/null 2>&1 && [ ! -x /usr/sbin/postfix ]; then
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postfix
  fi
  # the checks scenario's Postfix row (bench/postfix-checks.ts): SPF, DKIM and DMARC daemons,
  # which the bench starts itself with its own settings; any instance a package starts is stopped
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends opendkim opendmarc postfix-policyd-spf-python
  for s in opendkim opendmarc; do
    if command -v systemctl >/dev/null 2>&1; then systemctl disable --now "$s" 2>/dev/null || true; fi
    if [ -x "/etc/init.d/$s" ]; then "/etc/init.d/$s" stop 2>/dev/null || true; fi
  done
  # Never leave the system Postfix listening on port 25 (tests bind 127.0.0.2:25, 127.0.0.3:25).
  /usr/sbin/postfix stop 2>/dev/null || true
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now postfix 2>/dev/null || true; fi
  if command -v update-rc.d >/dev/null 2>&1; then update-rc.d postfix disable 2>/dev/null || true; fi
  echo "postfix installed and stopped; the bench starts its own instance on a high port"
fi
