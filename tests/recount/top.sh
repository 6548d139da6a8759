#!/bin/sh
# tests/recount/top.sh - top-K entries (Space-Saving summaries) on Zipf data, against an exact
# recount.
#
# tests/recount/zipf.py writes 1,000,000 lines "PATH BYTES" whose paths follow a Zipf law
# (s = 1.1 over 100,000 keys, fixed seed), and three lines with a negative BYTES, which a
# top ranked by sum(bytes) refuses (bad lines, reason value). The job (zipf.py rules) keeps
# two top entries over the same lines: the top 100 paths by hits (count) and the top 50 by
# bytes (sum), each reported as CSV and JSON. Runs: 1 worker, 2 workers (the threads' summaries merged), and
# the log cut in three files read through a glob by 2 workers.
#
# The oracle is mawk's exact recount of the raw lines (hits and bytes per path). For each
# run: exit status, the summary's line and bad-line counts, and per report (zipf.py check)
# at most k rows ordered by the ranked column, every key of the true top k present, every
# ranked figure within its error bound (true <= shown, shown - error <= true), the other
# figure a lower bound, and the JSON report equal to the CSV one. The checker must also
# reject a report with a true top key removed and one with a figure below the truth.
# The default capacity (16 k rows) leaves a margin: the largest errors shown (hits 2, bytes
# about 5,000) are well below the gaps between the k-th and the next true figures (16 hits,
# about 26,000 bytes); with 8 k rows they were 17 and 450,000, and the 50th path by bytes
# could lose its place to the 51st (BENCHMARKS.md, top-K).
#
# Environment: ABBEY_BUILDDIR, ABBEY_SRCDIR as for standalone.sh; KEEP=1 keeps the temp
# dir. Needs python3 and mawk (exit 77, skip, without). Exit 0 when every check passes, 1
# when one fails, 99 on a setup error.
set -u

. "$(dirname "$0")/lib.sh"
setup top python3 mawk
zipf=$here/zipf.py

python3 "$zipf" gen "$tmp/z.log" 1 1000000 100000 1.1 || exit 99
printf '/k/1 -5\n/k/2 -1\n/k/3 -7\n' >>"$tmp/z.log"
lines=1000003 nbad=3
$AWK '$2 >= 0 { h[$1]++; b[$1] += $2 } END { for (p in h) printf "%s\t%d\t%d\n", p, h[p], b[p] }' \
    "$tmp/z.log" >"$tmp/counts.tsv" || exit 99

# top_ok RUN REPORT K BY [COUNTS]: zipf.py check of one report; its tally is added
top_ok() {
    out=$(python3 "$zipf" check "$tmp/$1/z/$2.csv" "$tmp/$1/z/$2_json.json" "$3" "$4" \
        "${5:-$tmp/counts.tsv}")
    printf '%s\n' "$out" | grep '^FAIL' || :
    printf '%s\n' "$out" | grep 'largest error' | sed "s|^$tmp/||"
    tally=$(printf '%s\n' "$out" | sed -n 's/^checked \([0-9]*\) figures, \([0-9]*\) failed$/\1 \2/p')
    [ -n "$tally" ] || tally="0 1"
    npass=$((npass + ${tally% *} - ${tally#* }))
    nfail=$((nfail + ${tally#* }))
}

# run NAME CONFIG WORKERS
run() {
    "$master" --standalone --once --config "$2" --workers "$3" --export-dir "$tmp/$1" \
        >"$tmp/$1.out" 2>"$tmp/$1.err"
    check "run $1: exit status" 0 $?
    check "run $1: summary" "job z: $lines lines ($nbad bad)" \
        "$(grep -o '^job z: [0-9]* lines ([0-9]* bad)' "$tmp/$1.out")"
    top_ok "$1" by_hits 100 hits
    top_ok "$1" by_bytes 50 bytes
}

python3 "$zipf" rules "\"$tmp/z.log\"" >"$tmp/rules.yaml" || exit 99
mkdir "$tmp/parts" || exit 99
split -n l/3 -d --additional-suffix=.log "$tmp/z.log" "$tmp/parts/z-" || exit 99
python3 "$zipf" rules "\"$tmp/parts/z-*.log\"" >"$tmp/glob.yaml" || exit 99

run w1 "$tmp/rules.yaml" 1
run w2 "$tmp/rules.yaml" 2
run glob "$tmp/glob.yaml" 2

# the checker rejects a report missing a true top key, and a figure below the truth
tr -d '\r' <"$tmp/w1/z/by_hits.csv" >"$tmp/w1.csv"
mkdir -p "$tmp/bad1/z" "$tmp/bad2/z"
sed '2d' "$tmp/w1.csv" >"$tmp/bad1/z/by_hits.csv"
cp "$tmp/w1/z/by_hits_json.json" "$tmp/bad1/z/"
awk -F, 'BEGIN { OFS = "," } NR == 2 { $2 = $2 - $4 - 1 } { print }' "$tmp/w1.csv" \
    >"$tmp/bad2/z/by_hits.csv"
cp "$tmp/w1/z/by_hits_json.json" "$tmp/bad2/z/"
for b in bad1 bad2; do
    if python3 "$zipf" check "$tmp/$b/z/by_hits.csv" "$tmp/$b/z/by_hits_json.json" 100 hits \
        "$tmp/counts.tsv" >"$tmp/$b.check"; then
        fail "the checker accepts a wrong report ($b)"
    else
        pass
    fi
done
grep -q 'is in the true top 100 but not in the report' "$tmp/bad1.check" && pass ||
    fail "bad1: the checker did not name the missing key"
grep -q 'not within the bound' "$tmp/bad2.check" && pass ||
    fail "bad2: the checker did not name the figure out of its bound"
finish
