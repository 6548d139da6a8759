#!/bin/sh
# scripts/valgrind.sh - run tests under valgrind's memcheck and say which processes it found
# errors or definite leaks in.
#
# Usage: scripts/valgrind.sh [BUILD_DIR] TEST...   (BUILD_DIR default build/, built already)
#
#   TEST  a Check program (tests/check_NAME, run in-process: CK_FORK=no), or a test script
#         (tests/cluster/NAME.sh, tests/recount/NAME.sh, ...). Either runs with ABBEY_BUILDDIR
#         pointing at a copy of BUILD_DIR whose abbey-master, abbey-slave and abbey-replay
#         start the real ones under valgrind (--trace-children=no), so every abbey process a
#         test starts is checked.
#
# Example: scripts/valgrind.sh tests/check_frame_v2 tests/cluster/max_keys.sh
#
# memcheck: --leak-check=full --errors-for-leak-kinds=definite --track-origins=yes, one log
# per process in $VG_DIR (default /tmp/abbey-valgrind)/TEST/. Unless VG_POOLS=0, each process
# preloads scripts/valgrind_pools.c (built into $VG_DIR), which gives every apr_palloc its own
# block so that overruns, reads of unwritten bytes and uses after a clear inside APR pools are
# seen too. A process killed by a test (SIGKILL), or a forked child that ran exec, leaves a
# log without a summary: only the errors it printed count. Scripts are slow under valgrind:
# their timing checks (HTTP calls with 5 s timeouts, peak RSS) may fail; their verdict is
# printed, not counted.
# Exit status 0 when valgrind found nothing and every Check program passed, 1 otherwise.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build
case "${1:-}" in tests/* | "") ;; *) build=$1; shift ;; esac
[ $# -ge 1 ] || { sed -n '5,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
build=$(cd "$build" && pwd)
vg=${VG_DIR:-/tmp/abbey-valgrind}
mkdir -p "$vg"

preload=
if [ "${VG_POOLS:-1}" != 0 ]; then
    ${CC:-cc} -O1 -g -fPIC -shared $(pkg-config --cflags apr-1) -o "$vg/pools.so" \
        "$top/scripts/valgrind_pools.c" -ldl $(pkg-config --libs apr-1)
    preload=$vg/pools.so
fi
memcheck="valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite"
memcheck="$memcheck --track-origins=yes --trace-children=no"

# wrap_build DIR: DIR mirrors $build (symlinks) with the abbey programs wrapped
wrap_build() {
    rm -rf "$1"
    mkdir -p "$1"
    for f in "$build"/*; do ln -s "$f" "$1/"; done
    for p in master/abbey-master slave/abbey-slave slave/abbey-replay; do
        d=$(dirname "$p")
        if [ -L "$1/$d" ]; then
            rm "$1/$d"
            mkdir "$1/$d"
            for f in "$build/$d"/*; do ln -s "$f" "$1/$d/"; done
        fi
        rm -f "$1/$p"
        cat >"$1/$p" <<EOF
#!/bin/sh
exec env ${preload:+LD_PRELOAD=$preload} $memcheck --log-file=$logs/$(basename "$p").%p.vg \\
    $build/$p "\$@"
EOF
        chmod +x "$1/$p"
    done
}

# verdict LOG: "clean", or what memcheck found; status 1 when it found something
verdict() {
    if grep -q 'ERROR SUMMARY: 0 errors' "$1"; then
        echo clean
    elif grep -q 'ERROR SUMMARY' "$1"; then
        grep 'ERROR SUMMARY' "$1" | sed 's/^==[0-9]*== //'
        return 1
    elif grep -Eq '^==[0-9]+== (Invalid|Conditional|Use of uninit|Syscall param|Mismatched)' "$1"
    then
        echo "errors before it was killed"
        return 1
    else
        echo "no summary (it ran exec or was killed), no errors before"
    fi
}

found=0
for t in "$@"; do
    name=$(echo "$t" | sed 's|^tests/||; s|\.sh$||; s|/|_|g')
    logs=$vg/$name
    rm -rf "$logs"
    mkdir -p "$logs"
    wrap_build "$vg/build-$name"
    case "$t" in
    *.sh)
        if env ABBEY_BUILDDIR="$vg/build-$name" ABBEY_SRCDIR="$top" sh "$top/$t" \
            >"$logs/test.out" 2>&1; then
            echo "$t: the test passed"
        else
            echo "$t: the test failed under valgrind ($(grep -c '^FAIL' "$logs/test.out") checks:" \
                "$logs/test.out)"
        fi
        ;;
    *)
        if (cd "$build" && env CK_FORK=no ABBEY_BUILDDIR="$vg/build-$name" ABBEY_SRCDIR="$top" \
            ${preload:+LD_PRELOAD=$preload} $memcheck --log-file="$logs/$(basename "$t").%p.vg" \
            "$build/$t" >"$logs/test.out" 2>&1); then
            echo "$t: the test passed"
        elif grep -q '^100%: Checks' "$logs/test.out"; then
            echo "$t: the test passed, memcheck's exit status is not 0"
        else
            echo "$t: the test failed ($logs/test.out)"
            found=1
        fi
        ;;
    esac
    for log in "$logs"/*.vg; do
        [ -e "$log" ] || continue
        v=$(verdict "$log") || found=1
        echo "  $(basename "$log"): $v"
    done
done
exit $found
