#!/bin/sh
# names.sh - file names that are not UTF-8 text, through a glob and through the rules file.
#
# A glob matches app-1.log, app-<byte 0xff>.log and app-%ff.log (a literal '%'); the rules
# file also names raw-<byte 0xfe>.log in its wire form, raw-%FE.log (docs/CLUSTER.md). The
# slave reports the glob's matches in their wire form (app-%FF.log, app-%25ff.log) and reads
# each from its lease. Every line of the four files must be counted once, standalone and in
# the cluster (one master, one slave): lines and bad lines, and by_status equal to a mawk
# recount of the raw files; the primary's status lists the sources by their wire names.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/logs"
ff=$(printf '%s/logs/app-\377.log' "$T")
fe=$(printf '%s/logs/raw-\376.log' "$T")
sed -n '1,3000p' "$LOG" >"$T/logs/app-1.log"
sed -n '3001,6000p' "$LOG" >"$ff"
sed -n '6001,8000p' "$LOG" >"$T/logs/app-%ff.log"
sed -n '8001,10000p' "$LOG" >"$fe"
bytes=$(cat "$T"/logs/* | wc -c)
set -- $(free_ports 1)
P1=$1
srcs="\"$T/logs/app-*.log\", \"$T/logs/raw-%FE.log\""
by_status_rules none "$srcs" >"$T/standalone.yaml"
by_status_rules "$P1" "$srcs" >"$T/rules.yaml"
cat "$T"/logs/* | by_status_recount >"$T/recount"

"$MASTER" --standalone --once --config "$T/standalone.yaml" --export-dir "$T/sa" >"$T/sa.out" 2>&1
check "standalone: 10000 lines, 1 bad, $bytes bytes" \
    grep -q "^job web: 10000 lines (1 bad), $bytes bytes" "$T/sa.out"
check "standalone: by_status equals the recount" report_ok "$T/sa/web/by_status.csv"

start m1 "$MASTER" --config "$T/rules.yaml" --name m1 --listen "127.0.0.1:$P1" \
    --token-file "$T/token" --data-dir "$T/m1/data" --export-dir "$T/m1/export"
start s1 "$SLAVE" --primary "http://127.0.0.1:$P1" --name s1 --token-file "$T/token" \
    --spool-dir "$T/s1"
if ! wait_for 60 settled "$P1" "$bytes"; then
    fail "the cluster did not read all $bytes bytes of the four files within 60 s"
    api "$P1" /v1/status
    finish
fi
pass
check "cluster: by_status equals the recount" report_ok "$T/m1/export/web/by_status.csv"
check "cluster: 10000 lines, 1 bad" [ "$(json "$P1" /v1/status \
    '[(x["lines"], x["bad_lines"]) for x in j["merger"]["jobs"]]')" = "[(10000, 1)]" ]
sources=$(json "$P1" /v1/status \
    '" ".join(sorted(s["source"].rsplit("/", 1)[1] for s in j["scheduler"]["jobs"][0]["sources"]))')
check "the primary lists the sources by their wire names ($sources)" \
    [ "$sources" = "app-%25ff.log app-%FF.log app-*.log app-1.log raw-%FE.log" ]
finish
