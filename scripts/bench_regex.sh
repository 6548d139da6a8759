#!/bin/sh
# bench_regex.sh - what a pathological line costs a regex under abbey's limits (rematch.h REMATCH_*).
#
#   scripts/bench_regex.sh [BENCH_DIR]     (default ./bench-regex)
#
# Writes combined-log files of LINES lines (default 2000) whose paths are
#   plain-1k, plain-4k   "/" + 1 or 4 KiB of 'a' + "b": (a+)+$ gives up at the
#                        first start position (the limit's work, once);
#   runs-1k, runs-4k     "/" + runs of RUN 'a's (default 12) each ended by 'b':
#                        every start position costs up to 2^RUN steps, under the
#                        limit, so the line costs about its length times that
#                        (PCRE2 counts the match limit afresh at each start);
#   normal               "/index.html" (the same lines' cost without the regex's work);
# and times `abbey-master --standalone --once --workers 1` over each with a
# rule `where: path ~ "(a+)+$"` (count), best of RUNS (default 3) wall clocks.
# Prints per file: lines, regex_limit_hits, seconds, microseconds per line
# (minus the normal file's per-line cost). Environment: ABBEY_BUILDDIR
# (default ./build), LINES, RUN, RUNS.
set -eu

SRC=$(cd "$(dirname "$0")/.." && pwd)
DIR=${1:-./bench-regex}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
B=${ABBEY_BUILDDIR:-$SRC/build}
MASTER=$B/master/abbey-master
LINES=${LINES:-2000}
RUN=${RUN:-12}
RUNS=${RUNS:-3}
[ -x "$MASTER" ] || { echo "bench_regex.sh: build first ($MASTER)" >&2; exit 1; }

gen() { # gen NAME KIND BYTES
    mawk -v n="$LINES" -v kind="$2" -v size="$3" -v run="$RUN" 'BEGIN {
        if (kind == "plain") {
            p = "/"
            while (length(p) < size) p = p "a"
            p = p "b"
        } else if (kind == "runs") {
            r = ""
            for (k = 0; k < run; k++) r = r "a"
            p = "/"
            while (length(p) < size) p = p r "b"
        } else {
            p = "/index.html"
        }
        for (i = 0; i < n; i++)
            printf "10.0.0.%d - - [17/May/2015:10:05:03 +0000] \"GET %s HTTP/1.1\" 200 5 \"-\" \"t\"\n", i % 250, p
    }' >"$DIR/$1.log"
    cat >"$DIR/$1.yaml" <<EOF
jobs:
  - name: r
    sources: ["$DIR/$1.log"]
    format: combined
    groups:
      - name: g
        entries:
          - name: m
            where: path ~ "(a+)+\$"
            values: {hits: count}
EOF
}

best() { # best NAME: prints "seconds hits"
    b=""
    hits=0
    for _ in $(seq "$RUNS"); do
        t0=$(date +%s.%N)
        "$MASTER" --standalone --once --workers 1 --config "$DIR/$1.yaml" \
            --export-dir "$DIR/out" >"$DIR/$1.out"
        t1=$(date +%s.%N)
        s=$(echo "$t1 - $t0" | bc -l)
        if [ -z "$b" ] || [ "$(echo "$s < $b" | bc -l)" = 1 ]; then b=$s; fi
    done
    hits=$(sed -n 's/^  regex_limit_hits: \([0-9]*\) .*/\1/p' "$DIR/$1.out")
    echo "$b ${hits:-0}"
}

gen normal normal 0
gen plain-1k plain 1024
gen plain-4k plain 4096
gen runs-1k runs 1024
gen runs-4k runs 4096
set -- $(best normal)
base=$(echo "$1 / $LINES" | bc -l)
printf '%-9s %6s %6s %9s %12s\n' file lines hits seconds "us/line"
printf '%-9s %6s %6s %9.3f %12s\n' normal "$LINES" "$2" "$1" "(baseline)"
for f in plain-1k plain-4k runs-1k runs-4k; do
    set -- $(best $f)
    printf '%-9s %6s %6s %9.3f %12.1f\n' "$f" "$LINES" "$2" "$1" \
        "$(echo "($1 / $LINES - $base) * 1000000" | bc -l)"
done
