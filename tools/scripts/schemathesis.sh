#!/usr/bin/env bash
# Installs schemathesis and every package it needs (PyPI, each version pinned in schemathesis-requirements.txt, so
# a seed generates the same data next year) into .cache once, and prints the path of its `st` command. The API fuzz
# test (services/gateway/test/api-fuzz.spec.ts) runs it; it needs Python 3 with venv.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
REQUIREMENTS="$ROOT/tools/scripts/schemathesis-requirements.txt"
DIR="$ROOT/.cache/schemathesis-$(sha256sum "$REQUIREMENTS" | cut -c1-12)"
if [ ! -f "$DIR/.installed" ]; then
  if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    echo "the API fuzz test needs Python 3 with venv (Debian: apt-get install python3 python3-venv)" >&2
    exit 1
  fi
  rm -rf "$DIR"
  python3 -m venv "$DIR" >&2
  "$DIR/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$REQUIREMENTS" >&2
  touch "$DIR/.installed"
fi
echo "$DIR/bin/st"
