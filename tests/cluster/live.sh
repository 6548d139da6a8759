#!/bin/sh
# live.sh - cluster integration test on growing sources:
#   b. lines appended to a source while the cluster runs reach the running totals within
#      two rounds (told by round numbers: the primary's round when GET /v1/reports first
#      holds them), and the exported files once settled;
#   c. a slave started mid-run receives leases (the first slave is then stopped, so the
#      last appends can only be read by the new one) and every line is counted once;
#   d. the secondary stopped right after its live totals show appended lines leaves files
#      that hold them.
# Oracle: mawk counts of the raw lines in the files.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/logs"
sed -n '1,2500p' "$LOG" >"$T/logs/a.log"
sed -n '5001,7500p' "$LOG" >"$T/logs/b.log"
set -- $(free_ports 2)
P1=$1 P2=$2
cat >"$T/rules.yaml" <<YAML
masters:
  - {name: m1, url: "http://127.0.0.1:$P1", weight: 2}
  - {name: m2, url: "http://127.0.0.1:$P2", weight: 1}
jobs:
  - name: web
    round: 1s
    sources: [$T/logs/a.log, $T/logs/b.log]
    format: combined
    groups:
      - name: traffic
        weight: 2
        entries:
          - {name: by_status, key: [status], values: {hits: count, bytes: sum(bytes)}}
      - name: totals
        weight: 1
        entries:
          - {name: totals, values: {hits: count, ips: distinct_exact(ip)}}
YAML

bytes() { cat "$T"/logs/*.log | wc -c; }
# the hits of status 200 in the files, and in m1's latest export
want200() { cat "$T"/logs/*.log | mawk -F'"' 'NF == 7 { split($3, a, " "); if (a[1] == 200) n++ } END { print n + 0 }'; }
got200() { tr -d '\r' <"$1" | mawk -F, '$1 == 200 { print $2 }'; }
# the primary's current round
round_now() { json "$P1" /v1/status 'j["scheduler"]["jobs"][0]["round"]'; }

start m1 "$MASTER" --config "$T/rules.yaml" --name m1 --listen "127.0.0.1:$P1" \
    --token-file "$T/token" --export-dir "$T/m1" --data-dir "$T/d1"
start m2 "$MASTER" --primary "http://127.0.0.1:$P1" --name m2 --listen "127.0.0.1:$P2" \
    --token-file "$T/token" --export-dir "$T/m2" --data-dir "$T/d2"
start s1 "$SLAVE" --primary "http://127.0.0.1:$P1" --name s1 --token-file "$T/token" \
    --spool-dir "$T/sp1"
wait_for 60 settled "$P1" "$(bytes)" "$P2" || { fail "first read did not settle"; finish; }
check "first read: status 200 hits" [ "$(got200 "$T/m1/web/by_status.csv")" = "$(want200)" ]

# b. freshness: append in round r0; poll the running totals (GET /v1/reports renders them
#    live) and the primary's round until the totals hold the lines
r0=$(round_now)
sed -n '2501,5000p' "$LOG" >>"$T/logs/a.log"
sed -n '7501,8500p' "$LOG" >>"$T/logs/b.log"
want=$(want200)
seen=""
i=0
while [ $i -lt 300 ]; do
    r=$(round_now)
    api "$P1" /v1/reports/web/by_status >"$T/live.csv"
    if [ "$(got200 "$T/live.csv")" = "$want" ]; then seen=$r; break; fi
    sleep 0.1
    i=$((i + 1))
done
check "appended lines in the running totals within two rounds (appended in round $r0, seen in ${seen:-none})" \
    [ -n "$seen" ] && [ "$seen" -le $((r0 + 2)) ]
wait_for 60 settled "$P1" "$(bytes)" "$P2" || { fail "appends did not settle"; finish; }
got=$(got200 "$T/m1/web/by_status.csv")
check "after appends: the exported file too ($got, want $want)" [ "$got" = "$want" ]

# c. a slave joins; then the first one leaves; the newcomer must do the rest
start s2 "$SLAVE" --primary "http://127.0.0.1:$P1" --name s2 --token-file "$T/token" \
    --spool-dir "$T/sp2"
wait_for 20 sh -c "curl -s -H 'Authorization: Bearer $TOKEN' http://127.0.0.1:$P1/v1/status | grep -q '\"s2\"'"
check "the primary saw s2" [ $? -eq 0 ]
stop s1
check "s1 stopped cleanly" grep -q "stopped" "$T/s1.log"
check "no s1 log line names a descriptor path instead of the source" \
    sh -c "! grep -n /proc/self/fd '$T/s1.log'"
sed -n '8501,10000p' "$LOG" >>"$T/logs/b.log"
want=$(want200)
wait_for 60 settled "$P1" "$(bytes)" "$P2" || { fail "s2 did not read the last appends"; finish; }
check "with s2 alone: status 200 hits" [ "$(got200 "$T/m1/web/by_status.csv")" = "$want" ]
lines=$(cat "$T"/logs/*.log | wc -l)
check "m2 counted every line once ($lines)" \
    [ "$(tr -d '\r' <"$T/m2/web/totals.csv" | tail -n 1 | cut -d, -f1)" = "$((lines - 1))" ]
check "each master counted $lines lines, 1 bad" [ "$(json "$P2" /v1/status \
    '[(x["lines"], x["bad_lines"]) for x in j["merger"]["jobs"]]')" = "[($lines, 1)]" ]

# d. what a master acknowledged is in the files it leaves: append, wait until the
#    secondary's live totals hold the lines, then stop it at once (its running-total files
#    are throttled to every 10 s, so the last ones are written on the way out)
#    (the first append is waited for in the files: the next render is then 10 s away)
live_hits() { api "$P2" /v1/reports/web/totals | tr -d '\r' | tail -n 1 | cut -d, -f1; }
file_hits() { tr -d '\r' <"$T/m2/web/totals.csv" | tail -n 1 | cut -d, -f1; }
has_hits() { [ "$(live_hits)" = "$hits" ]; }
in_file() { [ "$(file_hits)" = "$hits" ]; }
sed -n '10001,10200p' "$LOG" >>"$T/logs/a.log"
hits=$(($(cat "$T"/logs/*.log | wc -l) - 1))
check "m2's totals.csv holds the first append" wait_for 30 in_file
sed -n '10201,10400p' "$LOG" >>"$T/logs/a.log"
hits=$(($(cat "$T"/logs/*.log | wc -l) - 1))
check "m2's live totals hold the appended lines ($hits hits)" wait_for 30 has_hits
stop m2
check "m2's totals.csv written on stop holds them ($(file_hits), want $hits)" in_file
finish
