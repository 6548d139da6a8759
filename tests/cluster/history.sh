#!/bin/sh
# history.sh - the history database (--history; docs/HISTORY.md) of a master and of
# standalone, read with the sqlite3 command-line tool and python3, never with abbey:
#   a. every round export of every report (round scope, period scope) is in the database,
#      equal to its CSV file under history/<stamp>/, and nothing else is
#      (tests/tools/history_check.py);
#   b. the rows of the round-scope report summed over all rounds equal a mawk recount of
#      the raw log (lines appended over several rounds);
#   c. a job with history: {keep: 3s} keeps only its last seconds of rounds in the
#      database while its files stay;
#   d. GET /v1/history/web/per_round?last=3 has the documented shape and equals the files;
#      401 without the token, 400 for a bad last, 404 for an unknown report;
#   e. a master restarted on its data dir answers rounds from before the restart, and
#      with --history none answers 404;
#   f. standalone --history FILE keeps each run's reports, equal to its files.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null 2>&1 || { echo "SKIP: sqlite3 is not installed"; exit 77; }
CHECK=$ABBEY_SRCDIR/tests/tools/history_check.py
DB=$T/m1/data/history.sqlite

mkdir -p "$T/logs"
sed -n '1,1000p' "$LOG" >"$T/logs/a.log"
sed -n '9001,9300p' "$LOG" >"$T/logs/b.log"
set -- $(free_ports 1)
P1=$1
jobs_yaml() {
    cat <<YAML
jobs:
  - name: web
    round: 1s
    sources: [$T/logs/a.log]
    format: combined
    groups:
      - name: g
        entries:
          - {name: by_status, key: [status], values: {hits: count, bytes: sum(bytes), avg: avg(bytes), p90: percentile(bytes, 90)}}
          - {name: pages, key: [path], values: {hits: count}}
    reports:
      - {name: per_round, entry: by_status, scope: round}
      - {name: status, entry: by_status}
      - {name: top, entry: pages, order: hits desc, limit: 5, scope: round}
  - name: short
    round: 1s
    history: {keep: 3s}
    sources: [$T/logs/b.log]
    format: combined
    groups:
      - name: g2
        entries:
          - {name: n, values: {hits: count}}
    reports:
      - {name: n, entry: n, scope: round}
YAML
}
{
    printf 'masters:\n  - {name: m1, url: "http://127.0.0.1:%s"}\n' "$P1"
    jobs_yaml
} >"$T/rules.yaml"
jobs_yaml >"$T/standalone.yaml"
bytes() { cat "$T"/logs/*.log | wc -c; }
master() { # extra flags
    start m1 "$MASTER" --config "$T/rules.yaml" --name m1 --listen "127.0.0.1:$P1" \
        --token-file "$T/token" --data-dir "$T/m1/data" --export-dir "$T/m1/export" \
        --export-every 0s "$@"
    wait_for 20 api "$P1" /v1/status || fail "m1 did not start"
}

master
start s1 "$SLAVE" --primary "http://127.0.0.1:$P1" --name s1 --token-file "$T/token" \
    --spool-dir "$T/s1"
for from in 1001 2001 3001 4001; do # more lines over several rounds
    sleep 1.3
    sed -n "$from,$((from + 999))p" "$LOG" >>"$T/logs/a.log"
done
wait_for 60 settled "$P1" "$(bytes)" || { fail "the cluster did not read every byte"; finish; }
pass
sleep 4 # a few more rounds of job short, with nothing new

# d. the endpoint, while m1 runs (a round in an answer has its files: they are written first)
api "$P1" "/v1/history/web/per_round?last=3" >"$T/last3.json"
check "GET /v1/history/web/per_round?last=3: the documented shape, equal to the files ($(python3 "$CHECK" endpoint "$T/last3.json" "$T/m1/export" web per_round 3 2>&1 | tail -n 1))" \
    python3 "$CHECK" endpoint "$T/last3.json" "$T/m1/export" web per_round 3
check "... and three rounds" [ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["rounds"]))' "$T/last3.json")" = 3 ]
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
check "without the token: 401" [ "$(code "http://127.0.0.1:$P1/v1/history/web/per_round")" = 401 ]
auth="Authorization: Bearer $TOKEN"
check "last=0: 400" [ "$(code -H "$auth" "http://127.0.0.1:$P1/v1/history/web/per_round?last=0")" = 400 ]
check "last=10001: 400" [ "$(code -H "$auth" "http://127.0.0.1:$P1/v1/history/web/per_round?last=10001")" = 400 ]
check "an unknown report: 404" [ "$(code -H "$auth" "http://127.0.0.1:$P1/v1/history/web/nope")" = 404 ]
check "an unknown job: 404" [ "$(code -H "$auth" "http://127.0.0.1:$P1/v1/history/nope/n")" = 404 ]

stop s1
t_stop=$(date +%s)
stop m1 # every export flushed: the files and the database hold the same rounds now

# a. every round export equals its files
python3 "$CHECK" files "$DB" "$T/m1/export" web per_round status top >"$T/files.out" 2>&1
check "web: every round export in the database equals its CSV files ($(tr '\n' ' ' <"$T/files.out"))" \
    python3 "$CHECK" files "$DB" "$T/m1/export" web per_round status top

# b. the round-scope rows, summed over the rounds, equal the recount of the raw log
by_status_recount "$T/logs/a.log" >"$T/recount"
sqlite3 -csv "$DB" 'SELECT status, sum(hits), sum(bytes) FROM "web/per_round" WHERE final = 0
    GROUP BY status' | sort >"$T/summed"
check "web/per_round summed over $(sqlite3 "$DB" "SELECT count(*) FROM exports WHERE report = 'per_round'") rounds equals the mawk recount" \
    cmp -s "$T/recount" "$T/summed"
sqlite3 -csv "$DB" 'SELECT status, hits, bytes FROM "web/status" WHERE "start" =
    (SELECT max("start") FROM exports WHERE report = '"'status'"')' | sort >"$T/latest"
check "web/status's newest export equals the recount too" cmp -s "$T/recount" "$T/latest"

# c. retention: short keeps 3 s of rounds (the cut is made at each write, the last at the
#    stop), its files all of them
oldest=$(sqlite3 "$DB" "SELECT strftime('%s', min(\"start\")) FROM exports WHERE job = 'short'")
kept=$(sqlite3 "$DB" "SELECT count(*) FROM exports WHERE job = 'short'")
dirs=$(ls "$T/m1/export/short/history" | wc -l)
check "short: its oldest round kept starts within 3 s of the stop ($oldest, stop $t_stop)" \
    [ "${oldest:-0}" -ge $((t_stop - 5)) ]
check "short: $kept rounds kept of $dirs exported, and each equals its files" sh -c \
    "[ '$kept' -ge 1 ] && [ '$kept' -le 5 ] && [ '$dirs' -gt $((kept + 3)) ] &&
     [ \$(sqlite3 '$DB' 'SELECT count(*) FROM \"short/n\" WHERE \"start\" < (SELECT min(\"start\") FROM exports WHERE job = '\"'short'\"')') = 0 ]"

# e. restarted on its data dir, the master answers the rounds from before
sqlite3 "$DB" "SELECT \"start\" FROM exports WHERE report = 'per_round'" >"$T/before"
master
api "$P1" "/v1/history/web/per_round?last=10000" >"$T/all.json"
before=$(python3 -c '
import json, sys
a = {r["start"] for r in json.load(open(sys.argv[1]))["rounds"]}
print(sum(1 for s in open(sys.argv[2]).read().split() if s in a))' "$T/all.json" "$T/before")
check "after a restart: the $(wc -l <"$T/before") rounds from before are answered ($before)" \
    [ "$before" = "$(wc -l <"$T/before")" ]
check "... equal to their files" python3 "$CHECK" endpoint "$T/all.json" "$T/m1/export" web per_round 10000
stop m1
master --history none
check "with --history none: 404" [ "$(code -H "$auth" "http://127.0.0.1:$P1/v1/history/web/per_round")" = 404 ]
says_off() { api "$P1" /v1/history/web/per_round | grep -q 'history is off'; }
check "... saying so" says_off
stop m1

# f. standalone: each run is one export of every report, equal to the files
for run in 1 2; do
    "$MASTER" --standalone --once --config "$T/standalone.yaml" --workers 2 \
        --export-dir "$T/sa" --history "$T/sa.sqlite" >"$T/sa.out" 2>&1
    check "standalone run $run: exit status 0, the history named" grep -q "^history: 4 reports kept in $T/sa.sqlite" "$T/sa.out"
done
check "standalone: two runs, each report's newest export equal to its file" sh -c "
    [ \$(sqlite3 '$T/sa.sqlite' 'SELECT count(DISTINCT \"start\") FROM exports') = 2 ] &&
    python3 '$CHECK' standalone '$T/sa.sqlite' '$T/sa' web per_round status top"
finish
