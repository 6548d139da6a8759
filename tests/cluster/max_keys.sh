#!/bin/sh
# max_keys.sh - max_keys in a cluster: two slaves, a primary and a secondary master.
#
# Three generated logs (mawk: 24,000 lines, about 3,000 paths, so every read lease's partial
# already folds, and the masters fold again where frames meet) read by slaves s1 and s2 in
# leases of 64 KiB. The job's group `keys` (pages: hits and ips per path, max_keys 100;
# sizes: sum of bytes per path, no count, max_keys 50) is placed on the secondary m2, the
# group `traffic` (by_status, no limit reached) on the primary m1. Then standalone runs over
# the same files with the same entries.
#
# Checks, against mawk's recount of the raw files:
# - by_status (m1) equals the recount row for row;
# - pages (m2): 100 rows with a path, each a path of the logs, and the overflow row last;
#   hits over all rows = the line count, the overflow row's hits = its _folded_lines =
#   the lines not in the rows; its JSON twin ends with the overflow row;
# - sizes (m2, an entry without count): bytes over all rows = the recount's, folded lines
#   between 1 and the line count;
# - m2's /v1/status and /metrics give pages' keys (100), max_keys and folded lines (the
#   report's);
# - standalone over the same files: the same totals (hits, bytes over all rows) and at
#   most 100 / 50 rows of paths of the logs;
# - m2 killed (SIGKILL) and started again recovers the same pages report (journal replay).
. "$(dirname "$0")/lib.sh"

d=$T/logs
mkdir -p "$d"
for f in 0 1 2; do
    mawk -v f=$f 'BEGIN {
        for (i = 0; i < 8000; i++) {
            k = (i * 7919 + f * 104729) % 3000
            printf "10.0.%d.%d - - [17/May/2015:10:05:03 +0000] \"GET /p%d HTTP/1.1\" %d %d \"-\" \"a\"\n",
                f, i % 200, (i % 5 ? k : k % 40), (i % 11 ? 200 : 404), (i * 37) % 5000
        }
    }' >"$d/a$f.log"
done
bytes=$(cat "$d"/*.log | wc -c)
lines=$(cat "$d"/*.log | wc -l)
by_status_recount "$d"/*.log >"$T/recount"
mawk '{ n[$7]++; b += $10 } END { for (p in n) print p > "/dev/stderr"; printf "%.0f\n", b }' \
    "$d"/*.log 2>"$T/paths" >"$T/bytes" || exit 99
sort -o "$T/paths" "$T/paths"
set -- $(free_ports 2)
P1=$1
P2=$2

entries() { # the job (round 1 s) over the logs, its groups and reports
    cat <<YAML
jobs:
  - name: web
    round: 1s
    sources: ["$d/*.log"]
    format: combined
    groups:
      - name: traffic
        weight: 2
        entries:
          - {name: by_status, key: [status], values: {hits: count, bytes: sum(bytes)}}
      - name: keys
        entries:
          - {name: pages, key: [path], values: {hits: count, ips: distinct(ip)}, max_keys: 100}
          - {name: sizes, key: [path], values: {b: sum(bytes)}, max_keys: 50}
    reports:
      - {name: by_status, entry: by_status}
      - {name: pages, entry: pages, order: hits desc}
      - {name: pages_json, entry: pages, format: json, order: hits desc, limit: 10}
      - {name: sizes, entry: sizes}
YAML
}
{
    printf 'masters:\n  - {name: m1, url: "http://127.0.0.1:%s"}\n' "$P1"
    printf '  - {name: m2, url: "http://127.0.0.1:%s"}\n' "$P2"
    entries
} >"$T/rules.yaml"
entries >"$T/standalone.yaml"
check "the group keys is placed on m2" \
    grep -q '^  web/keys -> m2$' <<EOF
$("$MASTER" --check --config "$T/rules.yaml")
EOF

start m1 "$MASTER" --config "$T/rules.yaml" --name m1 --listen "127.0.0.1:$P1" \
    --token-file "$T/token" --data-dir "$T/m1/data" --export-dir "$T/m1/export" \
    --lease-bytes 64k --export-every 0s
start m2 "$MASTER" --primary "http://127.0.0.1:$P1" --name m2 --listen "127.0.0.1:$P2" \
    --token-file "$T/token" --data-dir "$T/m2/data" --export-dir "$T/m2/export" \
    --export-every 0s
start s1 "$SLAVE" --primary "http://127.0.0.1:$P1" --name s1 --token-file "$T/token" \
    --spool-dir "$T/s1"
start s2 "$SLAVE" --primary "http://127.0.0.1:$P1" --name s2 --token-file "$T/token" \
    --spool-dir "$T/s2"
if ! wait_for 90 settled "$P1" "$bytes" "$P2"; then
    fail "the cluster did not read all $bytes bytes within 90 s"
    api "$P1" /v1/status
    finish
fi
pass

check "by_status (m1) equals the recount" report_ok "$T/m1/export/web/by_status.csv"

# report_sums CSV COLUMN: "rows with a path, kept paths of the logs, sum over all rows,
# overflow rows, the overflow row's COLUMN, its _folded_lines, last row is the overflow row"
report_sums() {
    tr -d '\r' <"$1" | mawk -F, -v col="$2" -v paths="$T/paths" '
        BEGIN { while ((getline p < paths) > 0) known[p] = 1 }
        NR == 1 { for (i = 1; i <= NF; i++) { c[$i] = i } next }
        { last = $(c["_overflow"]) }
        $(c["_overflow"]) == 1 { over++; ov = $(c[col]); fl = $(c["_folded_lines"]); next }
        { rows++; sum += $(c[col]); if ($1 in known) ok++ }
        END { printf "%d %d %.0f %d %.0f %d %d\n", rows, ok, sum + ov, over, ov, fl, last }'
}

set -- $(report_sums "$T/m2/export/web/pages.csv" hits)
check "pages: 100 rows with a path (got $1)" [ "$1" -eq 100 ]
check "pages: every kept path is a path of the logs ($2 of $1)" [ "$2" -eq "$1" ]
check "pages: hits over all rows $3 = $lines lines" [ "$3" -eq "$lines" ]
check "pages: one overflow row, last" [ "$4" -eq 1 -a "$7" -eq 1 ]
check "pages: overflow hits $5 = _folded_lines $6 > 0" [ "$5" -eq "$6" -a "$5" -gt 0 ]
folded=$5
cluster_hits=$3
check "pages_json: the overflow row last" \
    grep -q '^{"path":null,"hits":[0-9]*,"ips":[0-9]*,"_overflow":true}]}$' \
    "$T/m2/export/web/pages_json.json"

set -- $(report_sums "$T/m2/export/web/sizes.csv" b)
check "sizes: at most 50 rows with a path (got $1), paths of the logs ($2)" \
    [ "$1" -le 50 -a "$2" -eq "$1" ]
check "sizes: bytes over all rows $3 = $(cat "$T/bytes")" [ "$3" = "$(cat "$T/bytes")" ]
check "sizes: folded lines $6 in [1, $lines]" [ "$6" -ge 1 -a "$6" -le "$lines" ]
cluster_bytes=$3

# what m2 says about its tables
got=$(json "$P2" /v1/status \
    '[(e["keys"], e["max_keys"], e["folded_lines"]) for e in j["merger"]["jobs"][0]["entries"] if e["name"] == "pages"]')
check "m2 status: pages keys, max_keys, folded lines $got" [ "$got" = "[(100, 100, $folded)]" ]
check "m2 status: pages bytes > 0" [ "$(json "$P2" /v1/status \
    '[e["bytes"] for e in j["merger"]["jobs"][0]["entries"] if e["name"] == "pages"][0] > 0')" = True ]
check "m2 metrics: abbey_entry_folded_lines of pages" \
    grep -q "^abbey_entry_folded_lines{master=\"m2\",job=\"web\",entry=\"pages\"} $folded\$" <<EOF
$(api "$P2" /metrics)
EOF
check "m1 status: no entry of m2's groups" [ "$(json "$P1" /v1/status \
    '[e["name"] for e in j["merger"]["jobs"][0]["entries"]]')" = "['by_status']" ]

# standalone over the same files: the same totals
"$MASTER" --standalone --once --workers 2 --config "$T/standalone.yaml" \
    --export-dir "$T/sa" >"$T/sa.out" 2>&1
check "standalone: exit status 0" [ $? -eq 0 ]
set -- $(report_sums "$T/sa/web/pages.csv" hits)
check "standalone: pages hits over all rows $3 = cluster's $cluster_hits" [ "$3" -eq "$cluster_hits" ]
check "standalone: pages 100 rows of paths of the logs" [ "$1" -eq 100 -a "$2" -eq 100 ]
set -- $(report_sums "$T/sa/web/sizes.csv" b)
check "standalone: sizes bytes $3 = cluster's $cluster_bytes" [ "$3" = "$cluster_bytes" ]

# m2 killed and started again: the same report from its checkpoint and journal
api "$P2" /v1/reports/web/pages >"$T/pages.before"
kill -KILL "$PID_m2"
wait "$PID_m2" 2>/dev/null
start m2b "$MASTER" --primary "http://127.0.0.1:$P1" --name m2 --listen "127.0.0.1:$P2" \
    --token-file "$T/token" --data-dir "$T/m2/data" --export-dir "$T/m2/export" \
    --export-every 0s
if wait_for 30 api "$P2" /v1/status; then
    api "$P2" /v1/reports/web/pages >"$T/pages.after"
    check "m2 after SIGKILL: the same pages report (overflow row included)" \
        cmp -s "$T/pages.before" "$T/pages.after"
    check "m2 after SIGKILL: recovered from its journal" grep -q 'recovered: ' "$T/m2b.log"
else
    fail "m2 did not come back within 30 s"
fi
finish
