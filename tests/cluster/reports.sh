#!/bin/sh
# reports.sh - cluster integration test: two masters (weights 2 and 1) and two slaves over
# the bundled log split into several files (one named, two by glob) plus one part served
# over HTTP by a server that honours Range. Every report the masters export must equal the
# standalone run's over the same data, byte for byte, each from the master that owns its
# group; by_status must also equal an independent mawk recount of the raw lines. One
# file's paths are not UTF-8 (tests/recount/hostile.awk): GET /v1/reports must still
# answer well-formed UTF-8 and JSON that parses.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/logs" "$T/http" "$T/s"
sed -n '1,3000p' "$LOG" >"$T/logs/main.log"
sed -n '3001,6000p' "$LOG" >"$T/logs/app-1.log"
# app-2.log's paths hold bytes that are not UTF-8, NUL, controls and commas
sed -n '6001,8000p' "$LOG" | mawk -f "$ABBEY_SRCDIR/tests/recount/hostile.awk" |
    tr '\036' '\000' >"$T/logs/app-2.log"
sed -n '8001,10000p' "$LOG" >"$T/http/web.log"
total=$(cat "$T"/logs/*.log "$T/http/web.log" | wc -c)

set -- $(free_ports 3)
P1=$1 P2=$2 PH=$3
start http python3 "$RANGE_SERVER" "$T/http" --port "$PH"
wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$PH/web.log" || { fail "range server did not start"; finish; }

# the example rules with these sources; the jobs part of examples/apache.yaml, 1 s rounds
jobs() { # sources lines on stdin replace the sample log line
    mawk -v src="$1" '
        /^masters:/ { skip = 1; next }
        skip && /^[^ #-]/ { skip = 0 }
        skip { next }
        /^ *- .*apache_combined_10k\.log/ { print src; next }
        { sub(/round: 10s/, "round: 1s"); print }' "$ABBEY_SRCDIR/examples/apache.yaml"
}
cluster_src="      - $T/logs/main.log
      - \"$T/logs/app-*.log\"
      - http://127.0.0.1:$PH/web.log"
cp "$T/http/web.log" "$T/s/web.log"
local_src="      - $T/logs/main.log
      - \"$T/logs/app-*.log\"
      - $T/s/web.log"
{
    echo "masters:"
    echo "  - {name: m1, url: \"http://127.0.0.1:$P1\", weight: 2}"
    echo "  - {name: m2, url: \"http://127.0.0.1:$P2\", weight: 1}"
    jobs "$cluster_src"
} >"$T/cluster.yaml"
jobs "$local_src" >"$T/standalone.yaml"

"$MASTER" --standalone --once --config "$T/standalone.yaml" --workers 2 --export-dir "$T/sa" -q
check "standalone run" [ -f "$T/sa/web/by_status.csv" ]

start m1 "$MASTER" --config "$T/cluster.yaml" --name m1 --listen "127.0.0.1:$P1" \
    --token-file "$T/token" --data-dir "$T/m1/data" --export-dir "$T/m1/export"
start m2 "$MASTER" --primary "http://127.0.0.1:$P1" --name m2 --listen "127.0.0.1:$P2" \
    --token-file "$T/token" --data-dir "$T/m2/data" --export-dir "$T/m2/export"
start s1 "$SLAVE" --primary "http://127.0.0.1:$P1" --name s1 --token-file "$T/token" \
    --spool-dir "$T/s1"
start s2 "$SLAVE" --primary "http://127.0.0.1:$P1" --name s2 --token-file "$T/token" \
    --spool-dir "$T/s2"

if ! wait_for 60 settled "$P1" "$total" "$P2"; then
    fail "the cluster did not read all $total bytes and export within 60 s"
    api "$P1" /v1/status
    finish
fi
pass

# each report from exactly the master that owns its group, equal to standalone
"$MASTER" --check --config "$T/cluster.yaml" | mawk '/-> master/ { print $2, $NF }' >"$T/groups"
for f in "$T"/sa/web/*; do
    r=$(basename "$f")
    in1=0 in2=0
    [ -f "$T/m1/export/web/$r" ] && in1=1
    [ -f "$T/m2/export/web/$r" ] && in2=1
    if [ $((in1 + in2)) -ne 1 ]; then
        fail "$r: exported by $in1 + $in2 masters, expected exactly one"
        continue
    fi
    m=m1
    [ $in2 = 1 ] && m=m2
    check "$r from $m equals the standalone run" cmp -s "$f" "$T/$m/export/web/$r"
done

# GET /v1/reports answers well-formed UTF-8 (app-2.log's paths), JSON that parses
api "$P1" "/v1/reports/web/pages?format=json" -D "$T/pages.hdr" -o "$T/pages.json"
api "$P1" /v1/reports/web/pages -o "$T/pages.csv"
check "GET /v1/reports/web/pages?format=json is application/json" \
    grep -qi '^content-type: application/json' "$T/pages.hdr"
check "GET /v1/reports/web/pages as JSON is valid UTF-8" \
    iconv -f utf-8 -t utf-8 -o /dev/null "$T/pages.json"
check "GET /v1/reports/web/pages as CSV is valid UTF-8" \
    iconv -f utf-8 -t utf-8 -o /dev/null "$T/pages.csv"
check "GET /v1/reports/web/pages as JSON parses, keys with U+FFFD and NUL among its rows" \
    python3 -c '
import json, sys
rows = json.load(open(sys.argv[1], encoding="utf-8"))["rows"]
keys = "".join(r["path"] or "" for r in rows)
sys.exit(0 if "\ufffd" in keys and "\x00" in keys else 1)' "$T/pages.json"

# placement: weights 2 and 1, groups traffic 3, clients 1, problems 1 (docs/RULES.md)
check "traffic on m1" grep -qx "traffic m1" "$T/groups"
check "clients on m2" grep -qx "clients m2" "$T/groups"
check "problems on m1" grep -qx "problems m1" "$T/groups"

# an independent recount of by_status (lines whose quotes balance)
mawk -F'"' 'NF == 7 { split($3, a, " "); n[a[1]]++; if (a[2] != "-") b[a[1]] += a[2] }
    END { for (s in n) printf "%s,%.0f,%.0f\n", s, n[s], b[s] }' "$LOG" | sort >"$T/recount"
tr -d '\r' <"$T/m1/export/web/by_status.csv" | tail -n +2 | sort >"$T/got"
check "by_status equals the mawk recount" cmp -s "$T/recount" "$T/got"

# every line counted once on each master: 10000 lines, 1 bad
for p in "$P1" "$P2"; do
    check "master on $p counted 10000 lines, 1 bad" [ "$(json "$p" /v1/status \
        '[(x["lines"], x["bad_lines"]) for x in j["merger"]["jobs"]]')" = "[(10000, 1)]" ]
done
finish
