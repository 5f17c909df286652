#!/usr/bin/env bash
# Creates .venv with Python 3.10 and the pinned requirements; a no-op in about a second when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
STAMP=$VENV/.requirements.sha256
# haproxy balances several Rasa processes (python -m bot run --rasa-procs N, deploy/haproxy.cfg.tmpl).
if ! command -v haproxy >/dev/null && [ ! -x /usr/sbin/haproxy ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing Debian's haproxy (for the scale-out launcher)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null; } \
      || echo "setup: could not install haproxy; only the scale-out launcher needs it (apt-get install haproxy)"
  else
    echo "setup: haproxy is missing; only the scale-out launcher needs it: sudo apt-get install haproxy"
  fi
fi
want=$(cat requirements.txt requirements.lock | sha256sum | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  exit 0
fi
py=$(bash scripts/find_python310.sh)
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys; sys.exit(0 if sys.version_info[:2]==(3,10) else 1)'; then
  echo "setup: creating $VENV with $py"
  rm -rf "$VENV"
  "$py" -m venv "$VENV"
fi
echo "setup: installing pinned requirements (first time takes a few minutes)…"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip==26.3
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements.txt -c requirements.lock
echo "$want" > "$STAMP"
echo "setup: done ($("$VENV/bin/python" --version))"
