# Sourced by kafka.sh and gtfs_validator.sh: a pom's runtime jars from Maven Central into a cache folder.
#
# maven_libs POM CACHE WHAT   resolves POM's runtime dependencies into CACHE/libs (once): libs/ is complete
#                             when its marker holds the hash of the pom it was resolved from, so a changed
#                             pom resolves again and an interrupted run never leaves a half-filled libs/.
#                             WHAT names the jars in messages; `say` and `die` come from the caller.
maven_libs() {
    local pom="$1" cache="$2" what="$3"
    local libs="$cache/libs" want
    want="$(sha256sum "$pom" | cut -d' ' -f1)"
    [[ "$(cat "$libs/.complete" 2>/dev/null)" == "$want" ]] && return 0
    mkdir -p "$cache"
    exec 8>"$cache/.libs.lock"; flock 8          # one resolver at a time
    if [[ "$(cat "$libs/.complete" 2>/dev/null)" != "$want" ]]; then
        say "resolving $what with Maven into $libs ..."
        local tmp="$cache/libs.tmp"
        rm -rf "$tmp"
        # Output goes to mvn.log: Debian's Maven 3.8.7 prints stray ANSI resets even with -B -q.
        if ! mvn -B -q -f "$pom" org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
                -DincludeScope=runtime -DoutputDirectory="$tmp" >"$cache/mvn.log" 2>&1; then
            tail -n 50 "$cache/mvn.log" >&2
            die "mvn could not resolve $what (log: $cache/mvn.log)"
        fi
        echo "$want" >"$tmp/.complete"
        rm -rf "$libs"; mv "$tmp" "$libs"
    fi
    exec 8>&-
}
