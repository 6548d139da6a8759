#!/bin/sh
# json.sh - the json format in a cluster, against Python's json module.
#
# The generated JSON lines of tests/recount/json.sh (json_oracle.py: nested members, arrays,
# escapes, strings holding numbers, duplicate keys, about 4% bad lines of many kinds), three
# files, read by a cluster of one master and two slaves on 127.0.0.1 with the same json job
# (by http.method, by tags[0], totals with distinct_exact and min/max, errors by
# `log.level` where http.status >= 500). Once the primary has committed every byte, every
# figure the master exported and its line and bad-line counts must equal json_oracle.py's
# recount of the raw files.
. "$(dirname "$0")/lib.sh"

oracle=$ABBEY_SRCDIR/tests/recount/json_oracle.py
mkdir -p "$T/logs"
python3 "$oracle" gen "$T/logs/a.json" 20 6000 &&
    python3 "$oracle" gen "$T/logs/b.json" 21 6000 &&
    python3 "$oracle" gen "$T/logs/c.json" 22 2000 || { echo "ERROR: json_oracle.py gen"; exit 99; }
bytes=$(cat "$T"/logs/*.json | wc -c)
set -- $(free_ports 1)
P1=$1
python3 "$oracle" rules "\"$T/logs/*.json\"" "$P1" >"$T/rules.yaml" || exit 99

start m1 "$MASTER" --config "$T/rules.yaml" --name m1 --listen "127.0.0.1:$P1" \
    --token-file "$T/token" --data-dir "$T/m1/data" --export-dir "$T/m1/export"
start s1 "$SLAVE" --primary "http://127.0.0.1:$P1" --name s1 --token-file "$T/token" \
    --spool-dir "$T/s1"
start s2 "$SLAVE" --primary "http://127.0.0.1:$P1" --name s2 --token-file "$T/token" \
    --spool-dir "$T/s2"
if ! wait_for 90 settled "$P1" "$bytes"; then
    fail "the cluster did not read all $bytes bytes within 90 s"
    api "$P1" /v1/status
    finish
fi
pass

python3 "$oracle" check "$T/m1/export/app" "$T/logs/a.json" "$T/logs/b.json" "$T/logs/c.json" \
    >"$T/check" 2>&1
sed -n 's/^FAIL /FAIL: cluster: /p' "$T/check"
check "cluster: every exported figure equals the recount ($(tail -n 1 "$T/check"))" \
    grep -q '^checked [1-9][0-9]* figures, 0 failed$' "$T/check"
want=$(sed -n 's/^lines \([0-9]*\) bad \([0-9]*\)$/[(\1, \2)]/p' "$T/check")
got=$(json "$P1" /v1/status '[(x["lines"], x["bad_lines"]) for x in j["merger"]["jobs"]]')
check "cluster: lines and bad lines $got, recount $want" [ "$got" = "$want" ]
finish
