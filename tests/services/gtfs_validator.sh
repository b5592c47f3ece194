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

# libs/ is complete when its marker holds the hash of the pom it was resolved from.
resolve_libs() {
    local want; want="$(sha256sum "$DIR/pom.xml" | cut -d' ' -f1)"
    [[ "$(cat "$LIBS/.complete" 2>/dev/null)" == "$want" ]] && return 0
    mkdir -p "$CACHE"
    exec 8>"$CACHE/.libs.lock"; flock 8          # one resolver at a time
    if [[ "$(cat "$LIBS/.complete" 2>/dev/null)" != "$want" ]]; then
        say "resolving the validator's jars with Maven into $LIBS ..."
        local tmp="$CACHE/libs.tmp"
        rm -rf "$tmp"
        if ! mvn -B -q -f "$DIR/pom.xml" org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
                -DincludeScope=runtime -DoutputDirectory="$tmp" >"$CACHE/mvn.log" 2>&1; then
            tail -n 50 "$CACHE/mvn.log" >&2
            die "mvn could not resolve the validator's jars (log: $CACHE/mvn.log)"
        fi
        echo "$want" >"$tmp/.complete"
        rm -rf "$LIBS"; mv "$tmp" "$LIBS"
    fi
    exec 8>&-
}

command -v java >/dev/null || die "java (17) is needed"
resolve_libs
if [[ "${1:-}" == "resolve" ]]; then
    echo "$LIBS"
    exit 0
fi
[[ $# -ge 2 ]] || die "usage: $0 resolve | FEED OUT [YYYY-MM-DD]"
exec java -Xmx1g -cp "$LIBS/*" "$DIR/Validate.java" "$@"
