#!/bin/sh
# scripts/check_layers.sh - check that includes go one way down abbey's layers, and that each
# build fragment lists only its own module's files (docs/ARCHITECTURE.md, "Layers").
#
# Usage: scripts/check_layers.sh [TREE]   (TREE: the source tree, default this script's)
# Prints every violation as FILE:LINE: what is wrong, and exits 1 when there is one; exits 0
# and prints one summary line otherwise. Only `#include "name.h"` counts (system headers are
# not the project's). The build finds a header by its name in any module's directory
# (-iquote), so a header name may exist in one module only; the check fails on a second one.
# tests/ and scripts/ sit above every layer and may include anything.
set -eu

tree=${1:-"$(dirname "$0")/.."}
cd "$tree"

# module: the modules it may include (itself and the layers below it)
allowed='rules: rules
common: rules common
source: rules common source
export: rules common export
slave: rules common source slave
master: rules common source export master'
modules=$(printf '%s\n' "$allowed" | sed 's/:.*//')

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# header name -> module ("module name" lines)
for m in $modules; do
    for h in "$m"/*.h; do
        [ -e "$h" ] && printf '%s %s\n' "$m" "${h##*/}"
    done
done >"$tmp/headers"

# every quoted include of the modules' sources: "file:line:text"
files=$(for m in $modules; do ls "$m"/*.c "$m"/*.h 2>/dev/null || true; done)
if [ -n "$files" ]; then
    # shellcheck disable=SC2086 # one word per file (no spaces in the tree's names)
    grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' $files /dev/null >"$tmp/includes" ||
        true
else
    : >"$tmp/includes"
fi

# build fragments: the modules' *.am, tests/*.am and the top Makefile.am (which lists none)
ams=$(for m in $modules tests; do ls "$m"/*.am 2>/dev/null || true; done)

printf '%s\n' "$allowed" | awk -v headers="$tmp/headers" -v includes="$tmp/includes" \
    -v ams="$ams Makefile.am" '
function fail(where, msg) {
    print where ": " msg > "/dev/stderr"
    bad++
}
BEGIN { bad = 0; nincl = 0 }
{   # the allowed table on stdin
    m = $1; sub(/:$/, "", m)
    for (i = 2; i <= NF; i++) may[m, $i] = 1
    list[m] = $0; sub(/^[^:]*: */, "", list[m])
}
END {
    while ((getline line < headers) > 0) {
        split(line, f, " ")
        if ((f[2] in owner) && owner[f[2]] != f[1])
            fail(f[1] "/" f[2], "a header of this name is also in " owner[f[2]] \
                 "/: headers are included by name alone, so a name may be in one module only")
        else
            owner[f[2]] = f[1]
    }
    while ((getline line < includes) > 0) {
        # file:line:text
        file = line; sub(/:.*/, "", file)
        rest = substr(line, length(file) + 2)
        lno = rest; sub(/:.*/, "", lno)
        text = substr(rest, length(lno) + 2)
        name = text; sub(/^[^"]*"/, "", name); sub(/".*/, "", name)
        base = name; sub(/.*\//, "", base)
        from = file; sub(/\/.*/, "", from)
        nincl++
        if (!(base in owner))
            continue # not a module header (none exists today)
        to = owner[base]
        if (!((from, to) in may))
            fail(file ":" lno, "includes \"" name "\" from " to "/, a layer " from \
                 "/ may not use (" from "/ may include " list[from] "; docs/ARCHITECTURE.md)")
    }
    n = split(ams, am, " ")
    for (k = 1; k <= n; k++) {
        own = am[k]; sub(/\/[^\/]*$/, "", own)
        if (own == am[k]) own = ""  # the top Makefile.am
        lno = 0
        while ((getline line < am[k]) > 0) {
            lno++
            if (line ~ /^[ \t]*#/) continue
            while (match(line, /[A-Za-z0-9_.-]+\/[A-Za-z0-9_.\/-]*\.[ch]([^A-Za-z0-9_]|$)/)) {
                path = substr(line, RSTART, RLENGTH)
                sub(/[^A-Za-z0-9_]$/, "", path)
                line = substr(line, RSTART + RLENGTH)
                top = path; sub(/\/.*/, "", top)
                if (own == "")
                    fail(am[k] ":" lno, "lists " path ": each module lists its files in its " \
                         "own fragment, this file lists none")
                else if (top != own && top != "tests")
                    fail(am[k] ":" lno, "lists " path ", a file of " top "/: a fragment " \
                         "lists only its module'"'"'s files (and tests/)")
            }
        }
        close(am[k])
    }
    if (bad) {
        print "check_layers: " bad " violation(s)" > "/dev/stderr"
        exit 1
    }
    print "check_layers: " nincl " includes and " n " build fragments follow the layers"
}'
