#!/usr/bin/env bash
# Real local infrastructure without Docker: PostgreSQL and Redis from Debian's packages, Apache Kafka (KRaft)
# from Maven Central jars, Stripe's stripe-mock from the Go module proxy. Idempotent: `up` installs what is
# missing, starts what is not running and waits until each engine answers. `down` stops only the processes
# this script started (tracked by pid files under .cache/infra).
#
#   tools/infra/infra.sh up | down | status | env
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/tools/infra"
STATE="${INFRA_DIR:-$ROOT/.cache/infra}"
mkdir -p "$STATE"

PG_PORT="${INFRA_PG_PORT:-54329}"
REDIS_PORT="${INFRA_REDIS_PORT:-63799}"
KAFKA_PORT="${INFRA_KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${INFRA_KAFKA_CONTROLLER_PORT:-19093}"
STRIPE_MOCK_PORT="${INFRA_STRIPE_MOCK_PORT:-12111}"
STRIPE_MOCK_HTTPS_PORT="${INFRA_STRIPE_MOCK_HTTPS_PORT:-12112}"
KAFKA_VERSION="4.1.1"
STRIPE_MOCK_VERSION="v0.197.0"
PG_BIN="${INFRA_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"

log() { printf '[infra] %s\n' "$*" >&2; }
fail() {
  printf '[infra] FAILED: %s\n' "$1" >&2
  [ -n "${2:-}" ] && [ -f "$2" ] && { printf '[infra] last lines of %s:\n' "$2" >&2; tail -n 25 "$2" >&2; }
  exit 1
}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_for() { # name timeout_s logfile command...
  local name=$1 timeout=$2 logf=$3; shift 3
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -ge $deadline ] && fail "$name did not become ready within ${timeout}s" "$logf"
    sleep 0.5
  done
}

apt_install() {
  log "installing Debian packages: $*"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get install -y -q "$@" >"$STATE/apt.log" 2>&1 ||
    { as_root apt-get update -q >>"$STATE/apt.log" 2>&1 && as_root apt-get install -y -q "$@" >>"$STATE/apt.log" 2>&1; } ||
    fail "apt-get install $*" "$STATE/apt.log"
}

# ---------------------------------------------------------------- PostgreSQL
pg_run() { # run a PostgreSQL binary as the postgres user when we are root (initdb and postgres refuse root)
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_up() {
  [ -x "$PG_BIN/initdb" ] || { apt_install postgresql; PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"; }
  local data="$STATE/pg/data" logf="$STATE/pg/postgres.log"
  mkdir -p "$STATE/pg"
  [ "$(id -u)" = 0 ] && chown postgres "$STATE/pg"
  if pg_run "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then log "postgres already running on $PG_PORT"; return; fi
  if [ ! -f "$data/PG_VERSION" ]; then
    pg_run "$PG_BIN/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --no-locale >"$STATE/pg/initdb.log" 2>&1 ||
      fail "postgres initdb" "$STATE/pg/initdb.log"
  fi
  # Sockets go to our own folder so a system cluster (if any) is never touched. Checkpoints: with the default 1 GB
  # of WAL the suites and benchmarks force one every couple of minutes, and the fsyncs at its end stall commits
  # for up to a second; 8 GB and 30 min make that rare (as production setups size it for their write rate).
  pg_run "$PG_BIN/pg_ctl" -D "$data" -l "$logf" -w -t 60 start -o \
    "-p $PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$STATE/pg -c max_connections=400 -c shared_buffers=256MB -c max_wal_size=8GB -c checkpoint_timeout=30min -c fsync=${INFRA_PG_FSYNC:-on}" \
    >/dev/null 2>&1 || fail "postgres did not start" "$logf"
  wait_for postgres 30 "$logf" "$PG_BIN/pg_isready" -h 127.0.0.1 -p "$PG_PORT"
  pg_run "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='omnipay'" | grep -q 1 ||
    pg_run "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE omnipay" >/dev/null
  log "postgres ready on 127.0.0.1:$PG_PORT"
}

pg_down() {
  [ -f "$STATE/pg/data/postmaster.pid" ] || return 0
  pg_run "$PG_BIN/pg_ctl" -D "$STATE/pg/data" -m fast -w stop >/dev/null 2>&1 || true
  log "postgres stopped"
}

# ---------------------------------------------------------------- Redis
redis_up() {
  command -v redis-server >/dev/null || apt_install redis-server
  local pidf="$STATE/redis/redis.pid" logf="$STATE/redis/redis.log"
  mkdir -p "$STATE/redis"
  if pid_alive "$pidf"; then log "redis already running on $REDIS_PORT"; return; fi
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes --pidfile "$pidf" --logfile "$logf" \
    --dir "$STATE/redis" --save "" --appendonly no --maxclients 2000 >/dev/null 2>&1 || fail "redis did not start" "$logf"
  wait_for redis 20 "$logf" bash -c "redis-cli -h 127.0.0.1 -p $REDIS_PORT ping | grep -q PONG"
  log "redis ready on 127.0.0.1:$REDIS_PORT"
}

redis_down() {
  local pidf="$STATE/redis/redis.pid"
  pid_alive "$pidf" && { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || kill "$(cat "$pidf")"; log "redis stopped"; }
  rm -f "$pidf"
}

# ---------------------------------------------------------------- Kafka (KRaft, combined broker + controller)
kafka_libs() {
  # Shared by every INFRA_DIR (tests that run a broker of their own reuse the jars).
  local libs="$ROOT/.cache/kafka-libs-$KAFKA_VERSION"
  if [ ! -f "$libs/.complete" ]; then
    command -v mvn >/dev/null || apt_install maven
    command -v java >/dev/null || apt_install openjdk-17-jre-headless
    log "fetching Kafka $KAFKA_VERSION jars from Maven Central"
    rm -rf "$libs"; mkdir -p "$libs"
    mvn -B -q -f "$HERE/kafka/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
      org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
      -DoutputDirectory="$libs" -DincludeScope=runtime -Dmdep.prependGroupId=true >"$STATE/kafka-mvn.log" 2>&1 ||
      fail "maven could not fetch the Kafka jars" "$STATE/kafka-mvn.log"
    touch "$libs/.complete"
  fi
  echo "$libs"
}

kafka_up() {
  local dir="$STATE/kafka" pidf="$STATE/kafka/kafka.pid" logf="$STATE/kafka/kafka.out"
  mkdir -p "$dir"
  if pid_alive "$pidf"; then
    # A broker started without the secure listener would leave its clients with a bare "connection refused".
    if [ -n "${INFRA_KAFKA_SECURE_PORT:-}" ] && ! grep -q "SASL_SSL://127.0.0.1:$INFRA_KAFKA_SECURE_PORT" "$dir/server.properties"; then
      fail "kafka is already running in $STATE without a SASL_SSL listener on $INFRA_KAFKA_SECURE_PORT: stop it first (kafka-stop)"
    fi
    log "kafka already running on $KAFKA_PORT"; return
  fi
  local libs; libs="$(kafka_libs)"
  sed -e "s#@DATA@#$dir/data#" -e "s#@PORT@#$KAFKA_PORT#g" -e "s#@CPORT@#$KAFKA_CONTROLLER_PORT#g" \
    "$HERE/kafka/server.properties" >"$dir/server.properties"
  local scram=()
  if [ -n "${INFRA_KAFKA_SECURE_PORT:-}" ]; then
    kafka_secure_listener "$dir"
    # SCRAM users live in the cluster metadata, written once when the storage is formatted: a data dir formatted
    # without them, or for another password, would refuse the clients with a puzzling authentication error.
    local users="$KAFKA_SECURE_USER $(printf '%s' "$KAFKA_SECURE_PASSWORD" | sha256sum | cut -c1-16)"
    if [ -f "$dir/data/meta.properties" ] && [ "$(cat "$dir/data/.scram-users" 2>/dev/null)" != "$users" ]; then
      fail "kafka data in $dir/data was formatted without SCRAM user $KAFKA_SECURE_USER (or with another password): use another INFRA_DIR, or down --clean"
    fi
    scram=(--add-scram "SCRAM-SHA-256=[name=$KAFKA_SECURE_USER,password=$KAFKA_SECURE_PASSWORD]"
      --add-scram "SCRAM-SHA-512=[name=$KAFKA_SECURE_USER,password=$KAFKA_SECURE_PASSWORD]")
  fi
  # Formatted once; a restart keeps topics and committed offsets (the outage test depends on that).
  # `down --clean` wipes it.
  [ -f "$dir/data/meta.properties" ] || java -Xmx256m -cp "$libs/*" -Dlog4j2.configurationFile="$HERE/kafka/log4j2.properties" \
    kafka.tools.StorageTool format -t 4L6g3nShT-eMCtK--X86sw -c "$dir/server.properties" "${scram[@]}" >"$dir/format.log" 2>&1 ||
    fail "kafka storage format" "$dir/format.log"
  [ ${#scram[@]} -eq 0 ] || [ -f "$dir/data/.scram-users" ] || echo "$users" >"$dir/data/.scram-users"
  : >"$logf"
  # shellcheck disable=SC2086
  setsid nohup java ${KAFKA_JAVA_OPTS:--Xms512m -Xmx1g -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true -XX:+ExitOnOutOfMemoryError} \
    -cp "$libs/*" -Dkafka.logs.dir="$dir/logs" -Dlog4j2.configurationFile="$HERE/kafka/log4j2.properties" \
    kafka.Kafka "$dir/server.properties" >"$logf" 2>&1 </dev/null &
  echo $! >"$pidf"
  local deadline=$((SECONDS + 90))
  until grep -q "Kafka Server started" "$logf"; do
    pid_alive "$pidf" || fail "kafka exited during startup" "$logf"
    [ $SECONDS -ge $deadline ] && fail "kafka did not start within 90s" "$logf"
    sleep 0.5
  done
  log "kafka $KAFKA_VERSION ready on 127.0.0.1:$KAFKA_PORT"
}

# A SASL_SSL listener beside the plaintext one, for tests of the clients' TLS and SASL settings (INFRA_KAFKA_SECURE_PORT,
# a broker of the test's own): a CA and a server certificate for 127.0.0.1 made here with openssl, PEM files the
# broker reads as they are, and one user for PLAIN (in the listener's JAAS line) and both SCRAM mechanisms (in the
# cluster metadata, written when the storage is formatted). The CA is $dir/tls/ca.pem.
KAFKA_SECURE_USER="${INFRA_KAFKA_SECURE_USER:-omnipay}"
KAFKA_SECURE_PASSWORD="${INFRA_KAFKA_SECURE_PASSWORD:-omnipay-broker-secret}"
kafka_secure_listener() {
  local dir=$1 tls="$1/tls"
  command -v openssl >/dev/null || apt_install openssl
  mkdir -p "$tls"
  if [ ! -f "$tls/server.pem" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=omnipay test CA" \
      -keyout "$tls/ca.key" -out "$tls/ca.pem" >"$tls/openssl.log" 2>&1 || fail "openssl: test CA" "$tls/openssl.log"
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$tls/server.key" -out "$tls/server.csr" \
      >>"$tls/openssl.log" 2>&1 || fail "openssl: server key" "$tls/openssl.log"
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$tls/san.ext"
    openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial -days 30 \
      -extfile "$tls/san.ext" -out "$tls/server.crt" >>"$tls/openssl.log" 2>&1 || fail "openssl: server certificate" "$tls/openssl.log"
    # Kafka's PEM key store: the unencrypted PKCS#8 key, then the certificate chain.
    openssl pkcs8 -topk8 -nocrypt -in "$tls/server.key" -out "$tls/server.p8" >>"$tls/openssl.log" 2>&1 ||
      fail "openssl: pkcs8" "$tls/openssl.log"
    cat "$tls/server.p8" "$tls/server.crt" "$tls/ca.pem" >"$tls/server.pem"
  fi
  local plain="org.apache.kafka.common.security.plain.PlainLoginModule required user_$KAFKA_SECURE_USER=\"$KAFKA_SECURE_PASSWORD\";"
  local scram='org.apache.kafka.common.security.scram.ScramLoginModule required;'
  sed -i -e "s#^listeners=\(.*\)#listeners=\1,SASL_SSL://127.0.0.1:$INFRA_KAFKA_SECURE_PORT#" \
    -e "s#^advertised.listeners=\(.*\)#advertised.listeners=\1,SASL_SSL://127.0.0.1:$INFRA_KAFKA_SECURE_PORT#" \
    -e "s#^listener.security.protocol.map=\(.*\)#listener.security.protocol.map=\1,SASL_SSL:SASL_SSL#" "$dir/server.properties"
  cat >>"$dir/server.properties" <<PROPS
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.plain.sasl.jaas.config=$plain
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=$scram
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=$scram
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location=$tls/server.pem
PROPS
}

kafka_down() {
  local pidf="$STATE/kafka/kafka.pid"
  if pid_alive "$pidf"; then
    local pid; pid="$(cat "$pidf")"
    kill "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
    log "kafka stopped"
  fi
  rm -f "$pidf"
}

# ---------------------------------------------------------------- stripe-mock
stripe_mock_up() {
  local dir="$STATE/stripe-mock" pidf="$STATE/stripe-mock/stripe-mock.pid" logf="$STATE/stripe-mock/stripe-mock.log"
  local bin="$ROOT/.cache/bin/stripe-mock-$STRIPE_MOCK_VERSION"
  mkdir -p "$dir" "$ROOT/.cache/bin"
  if pid_alive "$pidf"; then log "stripe-mock already running on $STRIPE_MOCK_PORT"; return; fi
  if [ ! -x "$bin" ]; then
    command -v go >/dev/null || fail "go is not installed (needed to build stripe-mock $STRIPE_MOCK_VERSION)"
    log "building stripe-mock $STRIPE_MOCK_VERSION with go install"
    GOBIN="$dir/gobin" go install "github.com/stripe/stripe-mock@$STRIPE_MOCK_VERSION" >"$dir/install.log" 2>&1 ||
      fail "go install stripe-mock" "$dir/install.log"
    mv "$dir/gobin/stripe-mock" "$bin"
  fi
  setsid nohup "$bin" -http-addr "127.0.0.1:$STRIPE_MOCK_PORT" -https-addr "127.0.0.1:$STRIPE_MOCK_HTTPS_PORT" \
    >"$logf" 2>&1 </dev/null &
  echo $! >"$pidf"
  wait_for stripe-mock 30 "$logf" curl -sf -u sk_test_123: "http://127.0.0.1:$STRIPE_MOCK_PORT/v1/customers?limit=1"
  log "stripe-mock $STRIPE_MOCK_VERSION ready on 127.0.0.1:$STRIPE_MOCK_PORT"
}

stripe_mock_down() {
  local pidf="$STATE/stripe-mock/stripe-mock.pid"
  pid_alive "$pidf" && { kill "$(cat "$pidf")"; log "stripe-mock stopped"; }
  rm -f "$pidf"
}

# ---------------------------------------------------------------- commands
print_env() {
  cat <<EOF
DATABASE_URL=postgres://postgres@127.0.0.1:$PG_PORT/omnipay
REDIS_URL=redis://127.0.0.1:$REDIS_PORT
KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
STRIPE_MOCK_URL=http://127.0.0.1:$STRIPE_MOCK_PORT
EOF
}

status() {
  local rc=0
  if [ -f "$STATE/pg/data/postmaster.pid" ] && "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then echo "postgres     up    127.0.0.1:$PG_PORT"; else echo "postgres     down"; rc=1; fi
  if pid_alive "$STATE/redis/redis.pid"; then echo "redis        up    127.0.0.1:$REDIS_PORT"; else echo "redis        down"; rc=1; fi
  if pid_alive "$STATE/kafka/kafka.pid"; then echo "kafka        up    127.0.0.1:$KAFKA_PORT"; else echo "kafka        down"; rc=1; fi
  if pid_alive "$STATE/stripe-mock/stripe-mock.pid"; then echo "stripe-mock  up    127.0.0.1:$STRIPE_MOCK_PORT"; else echo "stripe-mock  down"; rc=1; fi
  return $rc
}

# ---------------------------------------------------------------- kernel writeback
# PostgreSQL 15 grows a table by writing zero-filled pages through the page cache, and Kafka appends its segments
# there too. With the kernel's defaults on a 24 GB machine (background writeback from 10 % of RAM, pages expire
# after 30 s), ~200 MB piles up and is written out at once every 30 s; every commit's WAL fsync then waits behind
# that burst for 0.3-0.6 s (measured: bench/README.md). Writing back from 32 MB on keeps the disk queue short.
# The previous value comes back with `down`; INFRA_TUNE_WRITEBACK=off leaves the kernel alone.
writeback_tune() {
  [ "${INFRA_TUNE_WRITEBACK:-on}" = on ] || return 0
  local f=/proc/sys/vm/dirty_background_bytes saved="$STATE/dirty_background.saved"
  [ -f "$saved" ] || echo "$(cat "$f") $(cat /proc/sys/vm/dirty_background_ratio)" >"$saved"
  if echo $((32 * 1024 * 1024)) 2>/dev/null >"$f"; then log "kernel writeback starts at 32 MB of dirty pages"
  else rm -f "$saved"; log "could not set vm.dirty_background_bytes (needs root): commits may stall every 30 s under load"; fi
}

writeback_restore() {
  local saved="$STATE/dirty_background.saved" bytes ratio
  [ -f "$saved" ] || return 0
  read -r bytes ratio <"$saved"
  # The two settings exclude each other: writing one zeroes the other.
  if [ "$bytes" != 0 ]; then echo "$bytes" >/proc/sys/vm/dirty_background_bytes; else echo "$ratio" >/proc/sys/vm/dirty_background_ratio; fi 2>/dev/null || true
  rm -f "$saved"
}

case "${1:-}" in
  up)
    # Kafka's JVM start is the slowest; the others start while Maven and the JVM warm up.
    writeback_tune; pg_up; redis_up; stripe_mock_up; kafka_up
    print_env >"$STATE/env"
    log "all engines ready; connection settings (also in $STATE/env):"
    print_env
    ;;
  down)
    kafka_down; stripe_mock_down; redis_down; pg_down; writeback_restore
    [ "${2:-}" = "--clean" ] && { rm -rf "$STATE/kafka/data" "$STATE/pg/data"; log "data removed"; }
    ;;
  status) status ;;
  env) print_env ;;
  # Used by tests that need a broker of their own (INFRA_DIR and INFRA_KAFKA_* point elsewhere).
  kafka-up) kafka_up ;;
  kafka-stop) kafka_down ;;
  *) echo "usage: $0 up|down|status|env" >&2; exit 2 ;;
esac
