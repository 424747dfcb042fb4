#!/usr/bin/env bash
# Installs schemathesis (PyPI, pinned) into .cache once and prints the path of its `st` command. The API fuzz test
# (services/gateway/test/api-fuzz.spec.ts) runs it; it needs Python 3 with venv (Debian: python3-venv, installed
# here when missing and running as root).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VERSION=4.32.5
DIR="$ROOT/.cache/schemathesis-$VERSION"
if [ ! -f "$DIR/.installed" ]; then
  if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3 python3-venv >&2
    else
      echo "the API fuzz test needs Python 3 with venv (Debian: apt-get install python3 python3-venv)" >&2
      exit 1
    fi
  fi
  rm -rf "$DIR"
  python3 -m venv "$DIR" >&2
  "$DIR/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION" >&2
  touch "$DIR/.installed"
fi
echo "$DIR/bin/st"
