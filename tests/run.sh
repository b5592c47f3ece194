#!/usr/bin/env bash
# The whole test suite from a clean clone: virtualenv, pinned packages, the real services
# (PostgreSQL, Redis, Kafka, Chromium), pytest, then stop what was started.
# Extra arguments go to pytest, e.g. `tests/run.sh tests/bus -x`.
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
.venv/bin/python -m pytest "$@"
