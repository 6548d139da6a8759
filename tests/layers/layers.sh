#!/bin/sh
# layers.sh - test of scripts/check_layers.sh: abbey's tree follows its layers, and the check
# catches each kind of violation in a small tree made here (docs/ARCHITECTURE.md, "Layers").
#
# The made tree has one legal include per allowed direction, then one violation at a time:
# an include up a layer (common/ using source/), one between siblings (slave/ using master/,
# export/ using source/), a header name in two modules, a fragment listing another module's
# file, and the top Makefile.am listing a file. Each must make the check exit 1 naming the
# exact file:line; the clean tree must pass. The oracle is the made tree's text, written here.
set -eu

SRC=${ABBEY_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
CHECK=$SRC/scripts/check_layers.sh
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT INT TERM
fails=0

bad() {
    echo "FAIL: $*"
    fails=$((fails + 1))
}

# The clean tree: every module includes one header of each layer it may use.
make_tree() {
    rm -rf "$T/tree"
    mkdir -p "$T/tree"
    cd "$T/tree"
    mkdir rules common source export slave master tests
    echo '/* r.h */' >rules/r.h
    printf '#include "r.h"\n#include <stdio.h>\n' >rules/r.c
    printf '#include "r.h"\n' >common/c.h
    printf '#include "c.h"\n#include "r.h"\n' >source/s.h
    printf '#include "c.h"\n#include "r.h"\n' >export/e.h
    printf '#include "s.h"\n#include "c.h"\n' >slave/sl.h
    printf '#include "sl.h"\n#include "s.h"\n#include "c.h"\n' >slave/sl.c
    printf '#include "e.h"\n#include "s.h"\n#include "r.h"\n' >master/m.c
    printf '#include "m.h"\n' >tests/t.c # tests sit above every layer
    echo '/* m.h */' >master/m.h
    printf 'rules_librules_a_SOURCES += rules/r.c rules/r.h\n' >rules/r.am
    printf 'master_libmaster_a_SOURCES += master/m.c \\\n\tmaster/m.h\n' >master/m.am
    printf 'check_PROGRAMS += tests/check_m\ntests_check_m_SOURCES = tests/t.c\n' >>master/m.am
    printf '# common/c.c is listed in common/c.am\nrules_librules_a_SOURCES =\n' >Makefile.am
}

# expect_fail WHAT WHERE: the check fails and names WHERE (file:line) in its output.
expect_fail() {
    if "$CHECK" "$T/tree" >"$T/out" 2>&1; then
        bad "$1: the check passed"
    elif ! grep -q "^$2: " "$T/out"; then
        bad "$1: no line names $2"
        cat "$T/out"
    else
        echo "ok: $1 ($(grep "^$2: " "$T/out" | head -1))"
    fi
}

# abbey's own tree
if "$CHECK" "$SRC" >"$T/out" 2>&1; then
    echo "ok: abbey's tree: $(cat "$T/out")"
else
    bad "abbey's tree does not follow its layers:"
    cat "$T/out"
fi

make_tree
if "$CHECK" "$T/tree" >"$T/out" 2>&1; then
    echo "ok: the clean tree passes"
else
    bad "the clean tree fails:"
    cat "$T/out"
fi

make_tree
printf '#include "r.h"\n#include "s.h"\n' >common/c.h
expect_fail "common/ including source/ (up a layer)" "common/c.h:2"

make_tree
printf '#include "r.h"\n  #  include "c.h"\n' >rules/r.c
expect_fail "rules/ including common/ (indented directive)" "rules/r.c:2"

make_tree
printf '#include "sl.h"\n#include "s.h"\n#include "m.h"\n' >slave/sl.c
expect_fail "slave/ including master/ (a sibling)" "slave/sl.c:3"

make_tree
printf '#include "c.h"\n#include "s.h"\n' >export/e.h
expect_fail "export/ including source/ (a sibling)" "export/e.h:2"

make_tree
echo '/* another r.h */' >master/r.h
expect_fail "a header name in two modules" "master/r.h"

make_tree
printf 'master_libmaster_a_SOURCES += master/m.c \\\n\tcommon/x.c\n' >master/m.am
expect_fail "a fragment listing another module's file" "master/m.am:2"

make_tree
printf 'rules_librules_a_SOURCES = rules/r.c\n' >Makefile.am
expect_fail "the top Makefile.am listing a file" "Makefile.am:1"

[ "$fails" -eq 0 ] || exit 1
echo "PASS: layers"
