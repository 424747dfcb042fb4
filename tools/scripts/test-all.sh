#!/usr/bin/env bash
# The one command that runs every test on a fresh machine (README "Quick start"; .ci/run calls exactly this):
# installs npm dependencies, starts the real local engines (PostgreSQL, Redis, Kafka, stripe-mock) unless
# KAFKA_BROKERS/DATABASE_URL/REDIS_URL/STRIPE_MOCK_URL point at running ones, then typecheck, lint, unit and
# integration tests of every project. Stops what it started and leaves no process behind.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
export CI=true NX_NO_CLOUD=true NX_DAEMON=false NX_TUI=false KAFKAJS_NO_PARTITIONER_WARNING=1

step() { printf '\n== %s (%ss)\n' "$*" "$SECONDS"; }

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "npm ci"
  npm ci --no-audit --no-fund
fi

started_infra=0
cleanup() {
  local rc=$?
  # Service processes a crashed test may have left (spawned from this checkout only).
  pkill -f "$ROOT/(services|libs|tools)/.*/main\.ts" 2>/dev/null || true
  if [ "$started_infra" = 1 ]; then bash tools/infra/infra.sh down || true; fi
  exit $rc
}
trap cleanup EXIT INT TERM

if [ -z "${KAFKA_BROKERS:-}" ] || [ -z "${DATABASE_URL:-}" ] || [ -z "${REDIS_URL:-}" ] || [ -z "${STRIPE_MOCK_URL:-}" ]; then
  if ! bash tools/infra/infra.sh status >/dev/null 2>&1; then
    step "starting local engines"
    bash tools/infra/infra.sh up >/dev/null
    started_infra=1
  fi
  set -a
  # shellcheck disable=SC1091
  . .cache/infra/env
  set +a
fi

step "docker-compose.yml"
if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker-compose >/dev/null 2>&1 || true
fi
if docker compose version >/dev/null 2>&1; then docker compose config -q && echo "docker compose config: ok"
elif command -v docker-compose >/dev/null 2>&1; then docker-compose config -q && echo "docker-compose config: ok"
else echo "skipped: no docker compose client on this machine"; fi

step "typecheck"
# One program over the whole workspace (services, libs, tools, bench, tests): faster than per project.
npx tsc -p tsconfig.json --noEmit
step "lint"
npx nx run-many -t lint --parallel=2 --outputStyle=static
step "unit tests"
npx nx run-many -t test-unit --parallel=2 --outputStyle=static
step "integration tests (real Kafka, PostgreSQL, Redis, stripe-mock)"
npx nx run-many -t test-integration --parallel=1 --outputStyle=static
step "all tests passed"
