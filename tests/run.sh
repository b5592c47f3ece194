#!/usr/bin/env bash
# The whole test suite from a clean clone: virtualenv, pinned packages, the real services
# (PostgreSQL, Redis, Kafka, Chromium), pytest, then stop what was started.
# Extra arguments go to pytest, e.g. `tests/run.sh tests/kernel -x` (then in one process).
# Without arguments: the tests that may share the services run on TEST_WORKERS processes
# (pytest-xdist, default 2: a database per worker, topics private to each test), then the ones
# marked `serial` (they restart PostgreSQL or Redis under everybody) on their own.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

make -s venv-dev
make -s lint jstest
trap 'bash tests/services/services.sh down' EXIT
bash tests/services/services.sh up
set -a
# shellcheck disable=SC1091
. .cache/services.env
set +a
export DATABASE_URL="$TEST_DATABASE_URL"
export DATABASE_CONN_MAX_AGE=0  # no connection outlives a test (the test database can be dropped)
export STREAMCITY_REQUIRE_SERVICES=${STREAMCITY_REQUIRE_SERVICES:-${CI:-false}}
if [ $# -gt 0 ]; then
  exec .venv/bin/python -m pytest "$@"
fi
status=0
.venv/bin/python -m pytest -m "not serial" -n "${TEST_WORKERS:-2}" || status=$?
.venv/bin/python -m pytest -m serial || status=$?
exit $status
