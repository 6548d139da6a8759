#!/bin/sh
# tests/recount/max_keys.sh - standalone over 3,000,000 unique keys with max_keys: 100000.
#
# A generated combined log (mawk): 3,000,000 lines, each with its own path /u<n> (about
# 230 MB), client addresses from a few thousand. The entry `pages` (key path, hits: count,
# ips: distinct(ip), max_keys: 100000) would hold 3,000,000 rows without the limit (issue
# 11 measured 2.0 GB of RSS for it); with it, it holds 100,000 and one overflow row.
#
# Checks, every figure against mawk's recount of the raw log:
# - exit 0, and the summary counts every line, none bad;
# - the CSV report: 100,000 rows with a path (_overflow 0), each one a path of the log
#   with its one hit, and one overflow row last (_overflow 1, path empty); the hits over
#   all rows equal the log's line count; the overflow row's hits, its _folded_lines and the
#   summary's folded lines are the lines whose path is not a row; its _folded_keys is
#   within 2% of the 2,900,000 paths that are not rows (HyperLogLog);
# - the JSON report's last row is the overflow row ("_overflow": true, path null);
# - peak RSS (the summary's, and /usr/bin/time's when there is one) under 400 MB: a
#   generous margin over what the bounded table needs, far below what 3,000,000 keys take.
#   No timing is asserted.
#
# Environment: ABBEY_BUILDDIR as in standalone.sh. Needs mawk (exit 77 without). Exit 0
# when every check passes, 1 otherwise, 99 on a setup error.
set -u

. "$(dirname "$0")/lib.sh"
setup max_keys mawk

lines=3000000
limit_kib=409600

$AWK -v n=$lines 'BEGIN {
    for (i = 0; i < n; i++)
        printf "10.1.%d.%d - - [17/May/2015:10:05:03 +0000] \"GET /u%d HTTP/1.1\" 200 %d \"-\" \"a\"\n",
            i % 13, i % 251, i, i % 1000
}' >"$tmp/access.log" || exit 99

cat >"$tmp/rules.yaml" <<EOF
jobs:
  - name: web
    sources: ["$tmp/access.log"]
    format: combined
    groups:
      - name: g
        entries:
          - name: pages
            key: [path]
            values: {hits: count, ips: distinct(ip)}
            max_keys: 100000
    reports:
      - {name: pages, entry: pages}
      - {name: top, entry: pages, format: json, order: hits desc, limit: 5}
EOF

if [ -x /usr/bin/time ]; then
    /usr/bin/time -f '%M' -o "$tmp/time.kib" "$master" --standalone --once --workers 2 \
        --config "$tmp/rules.yaml" --export-dir "$tmp/out" >"$tmp/run.out" 2>"$tmp/run.err"
else
    "$master" --standalone --once --workers 2 --config "$tmp/rules.yaml" \
        --export-dir "$tmp/out" >"$tmp/run.out" 2>"$tmp/run.err"
fi
check "exit status" 0 "$?"
cat "$tmp/run.out"

recount=$($AWK 'END { print NR }' "$tmp/access.log")
check "summary" "job web: $recount lines (0 bad)" \
    "$(grep -o '^job web: [0-9]* lines ([0-9]* bad)' "$tmp/run.out")"

# the report against the log: rows with a path must be paths of the log, one hit each
csv=$tmp/out/web/pages.csv
check "CSV header" "path,hits,ips,_overflow,_folded_lines,_folded_keys" \
    "$(head -n 1 "$csv" | tr -d '\r')"
tr -d '\r' <"$csv" | $AWK -F, -v want="$recount" -v logf="$tmp/access.log" '
    NR == 1 { next }
    $4 == 1 { over++; ohits = $2; opath = $1; ofl = $5; ofk = $6; next }
    { rows++; hits += $2; if ($2 != 1) bad1++; kept[$1] = 1 }
    END {
        while ((getline l < logf) > 0) {
            split(l, f, " ")
            if (f[7] in kept) { found++; delete kept[f[7]] }
        }
        printf "rows=%d\noverflow_rows=%d\noverflow_path=\"%s\"\n", rows, over, opath
        printf "not_one_hit=%d\nfound=%d\n", bad1, found
        printf "all_hits=%d\noverflow_hits=%d\nfolded_lines=%d\nfolded_keys=%d\n",
            hits + ohits, ohits, ofl, ofk
    }' >"$tmp/got" || exit 99
cat "$tmp/got"
get() { sed -n "s/^$1=//p" "$tmp/got"; }
check "rows with a path" 100000 "$(get rows)"
check "one overflow row" 1 "$(get overflow_rows)"
check "the overflow row has no path" '""' "$(get overflow_path)"
check "the overflow row comes last" "1" "$(tail -n 1 "$csv" | tr -d '\r' | $AWK -F, '{ print $4 }')"
check "one hit per kept path" 0 "$(get not_one_hit)"
check "kept paths are paths of the log" 100000 "$(get found)"
check "hits over all rows = lines" "$recount" "$(get all_hits)"
check "overflow hits = lines of the other paths" $((recount - 100000)) "$(get overflow_hits)"
check "_folded_lines = overflow hits" $((recount - 100000)) "$(get folded_lines)"
folded_keys=$(get folded_keys)
check "_folded_keys within 2% of $((recount - 100000))" 1 \
    "$($AWK -v k="$folded_keys" -v t=$((recount - 100000)) \
        'BEGIN { d = k - t; if (d < 0) d = -d; print (k > 0 && d <= t * 0.02) ? 1 : 0 }')"
check "summary: entry and what folded" \
    "entry pages: 100000 keys of max_keys 100000, folded $((recount - 100000)) lines" \
    "$(sed -n 's/^  \(entry pages: [0-9]* keys of max_keys [0-9]*\), ~[0-9]* bytes, \(folded [0-9]* lines\).*/\1, \2/p' "$tmp/run.out")"

# JSON: the overflow row is last, after the limit's rows
last=$(tail -n 1 "$tmp/out/web/top.json")
check "JSON: the overflow row last" 1 \
    "$(printf '%s' "$last" | grep -c '^{"path":null,"hits":[0-9]*,"ips":[0-9]*,"_overflow":true}]}$')"
check "JSON: rows" 6 "$(grep -c '^{"path"' "$tmp/out/web/top.json")"

# memory: the summary's peak RSS and /usr/bin/time's
rss=$(sed -n 's/^peak RSS: \([0-9]*\) KiB.*/\1/p' "$tmp/run.out")
check "summary's peak RSS under $limit_kib KiB (got ${rss:-none})" 1 \
    "$([ -n "$rss" ] && [ "$rss" -gt 0 ] && [ "$rss" -lt $limit_kib ] && echo 1)"
if [ -s "$tmp/time.kib" ]; then
    t=$(tail -n 1 "$tmp/time.kib")
    echo "/usr/bin/time: $t KiB"
    check "/usr/bin/time's peak RSS under $limit_kib KiB (got $t)" 1 \
        "$([ "$t" -lt $limit_kib ] && echo 1)"
fi

finish
