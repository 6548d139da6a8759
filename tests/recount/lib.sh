# lib.sh - shared by the standalone recount tests (tests/recount/*.sh): paths, set-up, checks.
#
# Sourced by tests/recount/*.sh after `set -u`. Provides:
#   - here (tests/recount), top, builddir and srcdir (ABBEY_BUILDDIR and ABBEY_SRCDIR, set
#     by `make check`, else the script's ../..), master (abbey-master), log (the bundled
#     Apache log) and AWK (mawk);
#   - setup TAG TOOL...: exit 77 (skip) when a tool is missing, 99 when abbey-master is not
#     built; then $tmp, a temp dir abbey-TAG.XXXXXX removed on exit unless KEEP=1;
#   - need FILE...: exit 99 when a file cannot be read;
#   - the counters npass and nfail: pass, fail MESSAGE (prints "FAIL MESSAGE"),
#     check NAME EXPECTED ACTUAL (the strings must be equal), and finish: prints
#     "N passed, M failed" and exits 0 when every check passed (and there was one), else 1;
#   - reports_match RECOUNT DIR RUN: DIR's CSV reports against a recount file
#     (compare_reports.py: one check per report; failures printed).

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
builddir=${ABBEY_BUILDDIR:-$top}
srcdir=${ABBEY_SRCDIR:-$top}
master=$builddir/master/abbey-master
log=$srcdir/data/apache_combined_10k.log
AWK=mawk
me=${0##*/}

setup() {
    tag=$1
    shift
    for tool in "$@"; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            echo "$me: $tool is not installed (apt-get install $tool): skipped"
            exit 77
        fi
    done
    [ -x "$master" ] || {
        echo "$me: no $master (build first)"
        exit 99
    }
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/abbey-$tag.XXXXXX") || exit 99
    trap '[ "${KEEP:-0}" = 1 ] || rm -rf "$tmp"' EXIT
    trap 'exit 99' HUP INT TERM
}

need() {
    for f in "$@"; do
        [ -r "$f" ] || {
            echo "$me: cannot read $f"
            exit 99
        }
    done
}

npass=0
nfail=0
pass() { npass=$((npass + 1)); }
fail() {
    echo "FAIL $*"
    nfail=$((nfail + 1))
}
check() { # check NAME EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then
        pass
    else
        fail "$1: expected '$2', got '$3'"
    fi
}

finish() {
    echo "$npass passed, $nfail failed"
    [ "$nfail" -eq 0 ] && [ "$npass" -gt 0 ] && exit 0
    exit 1
}

reports_match() { # reports_match RECOUNT DIR RUN
    out=$(python3 "$here/compare_reports.py" "$1" "$2" "$3")
    printf '%s\n' "$out" | grep -v '^TALLY ' || :
    tally=$(printf '%s\n' "$out" | sed -n 's/^TALLY //p')
    [ -n "$tally" ] || tally="0 1"
    npass=$((npass + ${tally% *}))
    nfail=$((nfail + ${tally#* }))
}
