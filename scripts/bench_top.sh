#!/usr/bin/env bash
# bench_top.sh - top-K entries (Space-Saving summaries) against a full table on Zipf data:
# accuracy against an exact recount, memory and time.
#
#   scripts/bench_top.sh [BENCH_DIR]
#
# Writes a log of LINES lines "PATH BYTES" whose paths follow a Zipf law (s = S over KEYS
# keys; tests/recount/zipf.py, fixed seed; kept and reused while the parameters are the
# same), recounts it exactly with mawk (hits and bytes per path), then runs
# `abbey-master --standalone --once` once per case, each under /usr/bin/time (wall
# seconds, peak RSS):
#   full       one entry keyed by path, {hits: count, bytes: sum(bytes)}: a full table,
#              its report cut to the K paths of most hits (order hits desc, limit K)
#   top xF     the same entry with top: {k: K, by: hits, capacity: F x K}, for each F in
#              FACTORS (16 is the default capacity), --workers 1
#   top x16 w2 the default capacity with --workers 2 (two summaries merged)
# and prints, per case: rows kept, seconds, peak RSS, how many of the true top K paths the
# report shows, the largest error shown, the largest overestimate (shown - true) and
# whether every figure is within its bound (true in [shown - error, shown]). The full
# table's report must be the exact top K (its figures equal the recount), or the script
# fails.
#
# Environment:
#   BENCH_DIR     work dir (default ./bench-top; the first argument wins)
#   LINES         log lines (default 5000000)
#   KEYS          keys of the Zipf law (default 5000000)
#   S             its exponent (default 1.1)
#   K             the top size (default 100)
#   FACTORS       capacities as multiples of K (default "4 8 16 32")
#   BUILD_DIR     abbey build dir (default: the source tree)
#   ABBEY_MASTER  the binary (default $BUILD_DIR/master/abbey-master)
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=${1:-${BENCH_DIR:-./bench-top}}
LINES=${LINES:-5000000}
KEYS=${KEYS:-5000000}
S=${S:-1.1}
K=${K:-100}
FACTORS=${FACTORS:-4 8 16 32}
BUILD_DIR=${BUILD_DIR:-$SRC}
ABBEY_MASTER=${ABBEY_MASTER:-$BUILD_DIR/master/abbey-master}
ZIPF=$SRC/tests/recount/zipf.py

for tool in python3 mawk /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "bench_top.sh: needs $tool" >&2; exit 2; }
done
[ -x "$ABBEY_MASTER" ] || { echo "bench_top.sh: no $ABBEY_MASTER (build first)" >&2; exit 2; }
mkdir -p "$BENCH_DIR"
cd "$BENCH_DIR"

log=zipf-$LINES-$KEYS-$S.log
if [ ! -s "$log" ]; then
    echo "bench_top.sh: writing $log" >&2
    python3 "$ZIPF" gen "$log.tmp" 1 "$LINES" "$KEYS" "$S"
    mv "$log.tmp" "$log"
fi
if [ ! -s "$log.counts" ] || [ "$log.counts" -ot "$log" ]; then
    mawk '{ h[$1]++; b[$1] += $2 } END { for (p in h) printf "%s\t%d\t%d\n", p, h[p], b[p] }' \
        "$log" >"$log.counts"
fi
distinct=$(wc -l <"$log.counts")
size=$(wc -c <"$log")

# rules NAME TOP: the job over the log, its entry with TOP (a `top:` map, or empty)
rules() {
    cat <<YAML
jobs:
  - name: z
    sources: ["$PWD/$log"]
    format: {split: " ", fields: [path, bytes:int]}
    groups:
      - name: g
        entries:
          - name: pages
            key: [path]
            values: {hits: count, bytes: sum(bytes)}
$([ -n "$2" ] && echo "            top: $2")
    reports:
      - {name: pages, entry: pages$([ -z "$2" ] && echo ", order: hits desc, limit: $K")}
YAML
}

# accuracy REPORT: "shown/K max_error max_over bounds" against the recount
accuracy() {
    python3 - "$1" "$log.counts" "$K" <<'PY'
import csv, sys
rep, counts, k = sys.argv[1], sys.argv[2], int(sys.argv[3])
true = {}
for line in open(counts):
    p, h, b = line.rstrip("\n").split("\t")
    true[p] = int(h)
rows = list(csv.reader(open(rep, newline="")))[1:]
top = sorted(true.items(), key=lambda x: -x[1])
kth = top[k - 1][1]
want = {p for p, h in true.items() if h >= kth}
shown = {r[0] for r in rows}
err = [int(r[3]) if len(r) > 3 else 0 for r in rows]
over = [int(r[1]) - true.get(r[0], 0) for r in rows]
ok = all(true.get(r[0], 0) <= int(r[1]) and int(r[1]) - e <= true.get(r[0], 0)
         for r, e in zip(rows, err))
print("%d/%d %d %d %s" % (len(want & shown), min(k, len(want)), max(err), max(over),
                          "yes" if ok else "NO"))
PY
}

printf 'log: %s lines, %s bytes, %s distinct paths (Zipf s = %s over %s keys); K = %s\n\n' \
    "$LINES" "$size" "$distinct" "$S" "$KEYS" "$K"
printf '| case | rows kept | seconds | peak RSS (MB) | true top %s shown | largest error | largest overestimate | within bounds |\n' "$K"
printf '| --- | --- | --- | --- | --- | --- | --- | --- |\n'

# run NAME TOP WORKERS ROWS: one case, one table line
run() {
    rules "$1" "$2" >"$1.yaml"
    rm -rf "out-$1"
    /usr/bin/time -f '%e %M' -o "$1.time" "$ABBEY_MASTER" --standalone --once --config "$1.yaml" \
        --workers "$3" --export-dir "out-$1" -q
    read -r secs rss <"$1.time"
    set -- "$1" "$2" "$3" "$4" $(accuracy "out-$1/z/pages.csv")
    printf '| %s | %s | %s | %.0f | %s | %s | %s | %s |\n' "$1" "$4" "$secs" \
        "$(echo "$rss / 1024" | bc -l)" "$5" "$6" "$7" "$8"
    if [ "$1" = full ] && { [ "$5" != "$K/$K" ] || [ "$7" != 0 ]; }; then
        echo "bench_top.sh: the full table's report is not the exact top $K" >&2
        exit 1
    fi
}

run full "" 1 "$distinct"
for f in $FACTORS; do
    run "top-x$f" "{k: $K, by: hits, capacity: $((f * K))}" 1 $((f * K))
done
run "top-x16-w2" "{k: $K, by: hits}" 2 $((16 * K))
