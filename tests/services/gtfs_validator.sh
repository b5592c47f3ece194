#!/usr/bin/env bash
# MobilityData's canonical GTFS Schedule validator for tests, without Docker: its jars come from Maven
# Central via Maven (once, into the cache), and it runs on plain java (17 here) through Validate.java.
#
# Usage: tests/services/gtfs_validator.sh resolve              resolve the jars (once); print the libs folder
#        tests/services/gtfs_validator.sh FEED OUT [YYYY-MM-DD] validate FEED (folder or .zip) into OUT/report.json
#
# Environment:
#   GTFS_VALIDATOR_CACHE   where the jars go (default <repo>/.cache/gtfs-validator): libs/ (kept across runs)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
DIR="$HERE/gtfs-validator"                      # pom.xml and Validate.java
CACHE="${GTFS_VALIDATOR_CACHE:-$REPO_ROOT/.cache/gtfs-validator}"
LIBS="$CACHE/libs"

say() { echo "gtfs_validator.sh: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }
# shellcheck source=maven_libs.sh
. "$(dirname "${BASH_SOURCE[0]}")/maven_libs.sh"

resolve_libs() { maven_libs "$DIR/pom.xml" "$CACHE" "the validator's jars"; }

command -v java >/dev/null || die "java (17) is needed"
resolve_libs
if [[ "${1:-}" == "resolve" ]]; then
    echo "$LIBS"
    exit 0
fi
[[ $# -ge 2 ]] || die "usage: $0 resolve | FEED OUT [YYYY-MM-DD]"
exec java -Xmx1g -cp "$LIBS/*" "$DIR/Validate.java" "$@"
