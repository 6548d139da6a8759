#!/usr/bin/env bash
# bench_memory.sh - what a key costs: bytes per key of each aggregate, and peak RSS of
# standalone --once over 1M, 3M and 10M unique keys with and without max_keys (issue 11).
#
#   scripts/bench_memory.sh [BENCH_DIR]
#
# Builds scripts/gen_log.c into the work dir and generates, once (kept while gen_log.c is
# unchanged), a combined log of MAX_LINES lines whose paths are all distinct (gen_log
# LINES SEED unique: a key per line); the smaller cases read its first lines (head).
#
# 1. Bytes per key of each aggregate: for each kind, one entry keyed by path with that one
#    value over PER_AGG lines (as many keys), no report (so the peak is the table, not an
#    export), --workers 1. Shown: the table's approximate bytes per key as the summary
#    says (ptable_bytes: rows, keys, states, heap parts, slot array) and the measured ones,
#    (peak RSS - baseline) / keys, where the baseline is the same run with max_keys: 1
#    (the process, its read buffers, no table); and their ratio.
# 2. Peak RSS of the issue's entry (key path, {hits: count, ips: distinct(ip)}, one CSV
#    report of every row) over 1M, 3M and 10M lines, --workers $WORKERS: without a limit
#    (max_keys: 100000000), with the default (1,000,000) and with max_keys: 100000. Shown:
#    keys kept, lines folded, the table's approximate bytes, the peak RSS (/usr/bin/time
#    %M and the summary's), wall seconds.
#
# Environment:
#   BENCH_DIR     work dir (default ./bench; the first argument wins)
#   SIZES         the lines (= unique keys) of part 2 (default "1000000 3000000 10000000")
#   PER_AGG       lines of part 1 (default 1000000)
#   WORKERS       part 2's worker count (default $(nproc))
#   BUILD_DIR     abbey build dir (default: the source tree, an in-tree build)
#   ABBEY_MASTER  the binary (default $BUILD_DIR/master/abbey-master)
# The 10M case without a limit peaks near 4 GB of RSS: leave it out (SIZES) on a small
# machine. This script never builds abbey.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=${1:-${BENCH_DIR:-./bench}}
SIZES=${SIZES:-1000000 3000000 10000000}
PER_AGG=${PER_AGG:-1000000}
WORKERS=${WORKERS:-$(nproc)}
BUILD_DIR=${BUILD_DIR:-$SRC}
ABBEY_MASTER=${ABBEY_MASTER:-$BUILD_DIR/master/abbey-master}

die() { echo "bench_memory.sh: $*" >&2; exit 1; }
say() { echo "bench_memory.sh: $*" >&2; }

[ -x "$ABBEY_MASTER" ] || die "no $ABBEY_MASTER (build first)"
[ -x /usr/bin/time ] || die "/usr/bin/time not found (apt-get install time)"
command -v gcc >/dev/null || die "gcc not found"
mkdir -p "$BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
W=$BENCH_DIR/mem
mkdir -p "$W"

# ---- the generator and the logs ----
max=$PER_AGG
for n in $SIZES; do [ "$n" -gt "$max" ] && max=$n; done
GEN=$BENCH_DIR/gen_log
if [ ! -x "$GEN" ] || [ "$SRC/scripts/gen_log.c" -nt "$GEN" ]; then
    say "building $GEN"
    gcc -O2 -std=gnu11 -Wall -Wextra -o "$GEN" "$SRC/scripts/gen_log.c" -lm
fi
gen_sum=$(md5sum <"$SRC/scripts/gen_log.c" | cut -d' ' -f1)
BIG=$W/unique-$max.log
if [ -f "$BIG" ] && [ "$(cat "$BIG.stamp" 2>/dev/null)" = "$max $gen_sum $(stat -c %s "$BIG")" ]; then
    say "reusing $BIG"
else
    say "generating $max lines with unique paths into $BIG"
    "$GEN" "$max" 20150517 unique >"$BIG"
    echo "$max $gen_sum $(stat -c %s "$BIG")" >"$BIG.stamp"
fi
log_of() { # log_of LINES: a log of the first LINES lines of BIG
    local f=$W/unique-$1.log
    [ "$1" = "$max" ] && { echo "$BIG"; return; }
    [ -f "$f" ] && [ "$(wc -l <"$f")" = "$1" ] || head -n "$1" "$BIG" >"$f"
    echo "$f"
}

# rules LOG VALUES MAX_KEYS REPORTS: one entry `pages` keyed by path
rules() {
    cat <<EOF
jobs:
  - name: bench
    sources: ["$1"]
    format: combined
    groups:
      - name: g
        entries:
          - {name: pages, key: [path], values: {$2}, max_keys: $3}
    reports: $4
EOF
}

# run NAME WORKERS: standalone over $W/NAME.yaml; sets rss (KiB, /usr/bin/time), sum_rss
# (KiB, the summary's), secs, keys, approx (bytes), folded (lines)
run() {
    cat "$BIG" >/dev/null 2>&1 || :
    /usr/bin/time -f '%M %e' -o "$W/$1.time" "$ABBEY_MASTER" --standalone --once \
        --workers "$2" --config "$W/$1.yaml" --export-dir "$W/out-$1" >"$W/$1.out" 2>"$W/$1.err" ||
        die "$1: abbey-master failed (see $W/$1.err)"
    read -r rss secs <"$W/$1.time"
    sum_rss=$(sed -n 's/^peak RSS: \([0-9]*\) KiB.*/\1/p' "$W/$1.out")
    keys=$(sed -n 's/^  entry pages: \([0-9]*\) keys.*/\1/p' "$W/$1.out")
    approx=$(sed -n 's/^  entry pages: .*, ~\([0-9]*\) bytes.*/\1/p' "$W/$1.out")
    folded=$(sed -n 's/.*, folded \([0-9]*\) lines.*/\1/p' "$W/$1.out")
    folded=${folded:-0}
}

echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/^Mem:/ { print $2 }') GB RAM"
echo "abbey: $ABBEY_MASTER"
echo

# ---- 1. bytes per key of each aggregate ----
log=$(log_of "$PER_AGG")
rules "$log" "n: count" 1 "[]" >"$W/base.yaml"
run base 1
base=$rss
echo "1. bytes per key, $PER_AGG unique keys (key path), one value, no report, --workers 1"
echo "   baseline (max_keys: 1): peak RSS $base KiB"
printf '   %-22s %14s %14s %8s\n' "value" "approx B/key" "RSS B/key" "approx/RSS"
for v in "count" "sum(bytes)" "min(bytes)" "max(bytes)" "avg(bytes)" "distinct(ip)" \
    "distinct_exact(ip)" "percentile(bytes, 95)"; do
    name=agg-$(echo "$v" | tr -c 'a-z\n' '_' | sed 's/_*$//')
    rules "$log" "v: $v" 100000000 "[]" >"$W/$name.yaml"
    run "$name" 1
    [ "$keys" = "$PER_AGG" ] || die "$name: $keys keys, expected $PER_AGG"
    awk -v v="$v" -v a="$approx" -v r="$rss" -v b="$base" -v k="$keys" 'BEGIN {
        m = (r - b) * 1024 / k
        printf "   %-22s %14.0f %14.0f %8.2f\n", v, a / k, m, (a / k) / m }'
done
echo

# ---- 2. peak RSS over 1M, 3M, 10M unique keys ----
echo "2. key path, {hits: count, ips: distinct(ip)}, one CSV report of every row, --workers $WORKERS"
printf '   %-10s %-12s %10s %12s %14s %12s %12s %7s\n' "lines" "max_keys" "keys" "folded" \
    "approx bytes" "RSS KiB" "summary KiB" "secs"
for n in $SIZES; do
    log=$(log_of "$n")
    for mk in 100000000 1000000 100000; do
        name=rss-$n-$mk
        rules "$log" "hits: count, ips: distinct(ip)" "$mk" "[{name: pages, entry: pages}]" \
            >"$W/$name.yaml"
        run "$name" "$WORKERS"
        label=$mk
        [ "$mk" = 100000000 ] && label="none"
        [ "$mk" = 1000000 ] && label="1000000 (default)"
        printf '   %-10s %-12s %10s %12s %14s %12s %12s %7s\n' "$n" "$label" "$keys" "$folded" \
            "$approx" "$rss" "$sum_rss" "$secs"
        rm -rf "$W/out-$name"
    done
done
