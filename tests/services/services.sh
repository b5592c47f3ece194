#!/usr/bin/env bash
# Installs (Debian packages, when root) and starts the services the test suite talks to:
# PostgreSQL, Redis, Apache Kafka (tests/services/kafka.sh) and Chromium for browser tests.
#
#   tests/services/services.sh up     # install what is missing, start, write .cache/services.env
#   tests/services/services.sh down   # stop what `up` started
#
# Ports (override with the variables): Redis $TEST_REDIS_PORT (16379), Kafka $KAFKA_PORT (19092),
# PostgreSQL: a cluster of its own, $TEST_PG_CLUSTER (streamcity_test) on $TEST_PG_PORT (15432).
# Everything listens on 127.0.0.1 only.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CACHE="$ROOT/.cache"
STATE="$CACHE/services"
ENV_FILE="$CACHE/services.env"
REDIS_PORT=${TEST_REDIS_PORT:-16379}
export KAFKA_PORT=${KAFKA_PORT:-19092}
mkdir -p "$STATE"

log() { printf '[services] %s\n' "$*" >&2; }

install_packages() {
  local missing=()
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v pg_ctlcluster >/dev/null || missing+=(postgresql)
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null || missing+=(maven)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    log "missing packages: ${missing[*]} (not root: install them yourself)"
    return 1
  fi
  log "installing ${missing[*]} from Debian"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

start_redis() {
  if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    log "redis already answering on $REDIS_PORT"
  else
    redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
      --dir "$STATE" --pidfile "$STATE/redis.pid" --logfile "$STATE/redis.log"
    for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
    redis-cli -p "$REDIS_PORT" ping >/dev/null || { log "redis did not start"; return 1; }
    touch "$STATE/redis.started"
    log "redis started on 127.0.0.1:$REDIS_PORT"
  fi
}

# A cluster of its own (Debian's pg_createcluster), so the tests may restart it freely.
PG_NAME=${TEST_PG_CLUSTER:-streamcity_test}
PG_PORT=${TEST_PG_PORT:-15432}

pg_version() { ls /usr/lib/postgresql | sort -n | tail -1; }

start_postgres() {
  local ver
  ver=$(pg_version)
  [ -n "$ver" ] || { log "no PostgreSQL server installed"; return 1; }
  if ! pg_lsclusters --no-header | awk '{print $1, $2}' | grep -qx "$ver $PG_NAME"; then
    pg_createcluster "$ver" "$PG_NAME" -p "$PG_PORT" -- --auth-host=scram-sha-256 --auth-local=peer >/dev/null
    log "created PostgreSQL cluster $ver/$PG_NAME on port $PG_PORT"
  fi
  if ! pg_lsclusters --no-header | awk -v n="$PG_NAME" '$2 == n {print $4}' | grep -q online; then
    pg_ctlcluster --skip-systemctl-redirect "$ver" "$PG_NAME" start -- -o "-c listen_addresses=127.0.0.1 -c fsync=off"
    echo "$ver $PG_NAME" > "$STATE/postgres.started"
    log "postgresql $ver/$PG_NAME started on 127.0.0.1:$PG_PORT"
  fi
  # A fresh random password every run: nothing secret is stored in the repo.
  local password
  password=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
  su postgres -c "psql -q -v ON_ERROR_STOP=1 -p $PG_PORT" <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'streamcity') THEN
    CREATE ROLE streamcity LOGIN CREATEDB;
  END IF;
END \$\$;
ALTER ROLE streamcity WITH LOGIN CREATEDB PASSWORD '$password';
SQL
  su postgres -c "psql -p $PG_PORT -tAc \"SELECT 1 FROM pg_database WHERE datname='streamcity'\"" | grep -q 1 \
    || su postgres -c "createdb -p $PG_PORT -O streamcity streamcity"
  echo "TEST_DATABASE_URL=postgres://streamcity:$password@127.0.0.1:$PG_PORT/streamcity" >> "$ENV_FILE"
  # How a reliability test restarts PostgreSQL mid-run.
  echo "TEST_PG_CTL='pg_ctlcluster --skip-systemctl-redirect $ver $PG_NAME'" >> "$ENV_FILE"
}

up() {
  : > "$ENV_FILE"
  install_packages
  start_postgres
  start_redis
  echo "TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0" >> "$ENV_FILE"
  bash "$ROOT/tests/services/kafka.sh" start
  echo "TEST_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$KAFKA_PORT" >> "$ENV_FILE"
  echo "TEST_CHROMIUM=/usr/bin/chromium" >> "$ENV_FILE"
  log "ready; settings in $ENV_FILE"
}

down() {
  bash "$ROOT/tests/services/kafka.sh" stop || true
  if [ -f "$STATE/redis.started" ]; then
    redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    rm -f "$STATE/redis.started"
    log "redis stopped"
  fi
  if [ -f "$STATE/postgres.started" ]; then
    read -r ver name < "$STATE/postgres.started"
    pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" stop || true
    rm -f "$STATE/postgres.started"
    log "postgresql stopped"
  fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
