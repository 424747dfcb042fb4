#!/usr/bin/env bash
# `npm start`: install what is missing, start the local engines, then the emulator, the five services and
# the narrated demo (tools/demo). Ctrl-C stops the services; the engines stop too if this script started them.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
export KAFKAJS_NO_PARTITIONER_WARNING=1
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then npm ci --no-audit --no-fund; fi
started_infra=0
if ! bash tools/infra/infra.sh status >/dev/null 2>&1; then bash tools/infra/infra.sh up >/dev/null; started_infra=1; fi
cleanup() { if [ "$started_infra" = 1 ]; then bash tools/infra/infra.sh down; fi; }
trap cleanup EXIT
node -r @swc-node/register tools/demo/src/main.ts
