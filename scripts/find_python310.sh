#!/usr/bin/env bash
# Prints the path of a real Python 3.10 interpreter, or one clear line on stderr and exit 1.
# Rasa Open Source 3.6 runs only on Python 3.8–3.10; we pin 3.10.
set -u
is310() { "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' >/dev/null 2>&1; }

if [ -n "${PYTHON310:-}" ] && is310 "$PYTHON310"; then echo "$PYTHON310"; exit 0; fi
# python3.10 on PATH — but a pyenv shim may refuse to run while another version is global, so test it.
if command -v python3.10 >/dev/null 2>&1 && is310 python3.10; then command -v python3.10; exit 0; fi
# pyenv: ask it where its 3.10 install lives instead of going through the shim.
if command -v pyenv >/dev/null 2>&1; then
  for v in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.10(\.|$)' | sort -rV); do
    p="$(pyenv root)/versions/$v/bin/python3.10"
    if is310 "$p"; then echo "$p"; exit 0; fi
  done
fi
for p in /usr/bin/python3.10 /usr/local/bin/python3.10 /opt/python3.10/bin/python3.10; do
  if [ -x "$p" ] && is310 "$p"; then echo "$p"; exit 0; fi
done
echo "error: Python 3.10 not found (Rasa 3.6 needs it). Install it, e.g. 'pyenv install 3.10' or 'apt-get install python3.10 python3.10-venv', or set PYTHON310=/path/to/python3.10." >&2
exit 1
