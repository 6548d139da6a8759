#!/bin/sh
# hostile.sh - cluster integration test of a master facing hostile clients:
#   a. 300 connections trickling a request head, a byte a second, opened again as they are
#      closed (tests/tools/slowloris.py): all the while a slave's leases and frames,
#      GET /v1/status and POST /v1/partials are answered, the job's counts equal a mawk
#      recount of the log, and the master closes every slow connection itself;
#   b. error answers are JSON {"error"} (python3 -m json.tool): a body over --max-body
#      (413), chunked too (413), a target too long (414), a head too large (431);
#   c. a token file others can read: the master warns, naming it and its mode; a token
#      with a NUL byte: the master refuses to start, naming the file and the offset.
. "$(dirname "$0")/lib.sh"
SLOWLORIS=$ABBEY_SRCDIR/tests/tools/slowloris.py

mkdir -p "$T/logs"
sed -n '1,4000p' "$LOG" >"$T/logs/a.log"
total=$(wc -c <"$T/logs/a.log")
set -- $(free_ports 2)
P1=$1 P2=$2
cat >"$T/rules.yaml" <<YAML
masters:
  - {name: m1, url: "http://127.0.0.1:$P1", weight: 1}
jobs:
  - name: web
    round: 1s
    sources: [$T/logs/a.log]
    format: combined
    groups:
      - name: g
        entries:
          - {name: by_status, key: [status], values: {hits: count}}
YAML
cp "$T/token" "$T/token644"
chmod 644 "$T/token644"

# --- a. slowloris ------------------------------------------------------------------
start m1 "$MASTER" --config "$T/rules.yaml" --name m1 --listen "127.0.0.1:$P1" \
    --token-file "$T/token644" --export-dir "$T/e1" --data-dir "$T/d1" --export-every 0s
wait_for 20 api "$P1" /v1/status -f || { fail "the master did not start"; finish; }
python3 "$SLOWLORIS" --port "$P1" --conns 300 --attack 120 --stop-file "$T/stop" \
    --wait 40 --ready-file "$T/ready" >"$T/slowloris.json" 2>"$T/slowloris.err" &
LORIS=$!
PIDS="$PIDS $LORIS"
wait_for 20 test -f "$T/ready" || fail "slowloris.py did not start"
sleep 2 # every slot opened at least once, most opened again
start s1 "$SLAVE" --primary "http://127.0.0.1:$P1" --name s1 --token-file "$T/token" \
    --spool-dir "$T/sp1"

code() { curl -s -o "$T/body" -w '%{http_code}' --max-time 20 "$@"; }
check "under attack: GET /v1/status is answered 200" \
    [ "$(code -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$P1/v1/status")" = 200 ]
check "under attack: POST /v1/partials is answered (400: not a frame)" \
    [ "$(code -H "Authorization: Bearer $TOKEN" --data-binary 'ABBFgarbage' \
        "http://127.0.0.1:$P1/v1/partials")" = 400 ]
check "the 400 is JSON" sh -c 'python3 -m json.tool "$1" >/dev/null' - "$T/body"
if ! wait_for 60 settled "$P1" "$total"; then
    fail "under attack, the slave did not get all $total bytes read and exported within 60 s"
    api "$P1" /v1/status
fi
check "the attack was still on" kill -0 "$LORIS"
touch "$T/stop"
wait "$LORIS"
rc=$?
cat "$T/slowloris.json"
check "the master closed every slow connection (slowloris.py exit $rc)" [ "$rc" -eq 0 ]
check "slowloris.py opened more than 300 connections" python3 -c '
import json, sys; j = json.load(open(sys.argv[1])); sys.exit(0 if j["opened"] > 300 and
j["closed_by_server"] == j["opened"] and j["open_at_end"] == 0 else 1)' "$T/slowloris.json"

# an independent recount of by_status (lines whose quotes balance)
mawk -F'"' 'NF == 7 { split($3, a, " "); n[a[1]]++ } END { for (s in n) print s "," n[s] }' \
    "$T/logs/a.log" | sort >"$T/recount"
tr -d '\r' <"$T/e1/web/by_status.csv" | tail -n +2 | sort >"$T/got"
check "by_status equals the mawk recount" cmp -s "$T/recount" "$T/got"
check "the token file's mode is warned about" \
    grep -q "warning: the token file $T/token644 can be read by its group and others (mode 0644)" \
    "$T/m1.log"
stop s1
stop m1

# --- b. JSON error answers of a real master ------------------------------------------
sed "s/$P1/$P2/; s/m1/m2/" "$T/rules.yaml" >"$T/rules2.yaml"
start m2 "$MASTER" --config "$T/rules2.yaml" --name m2 --listen "127.0.0.1:$P2" \
    --token-file "$T/token" --export-dir "$T/e2" --data-dir "$T/d2" --max-body 1k
wait_for 20 api "$P2" /v1/status -f || { fail "the second master did not start"; finish; }
head -c 2000 /dev/zero >"$T/2k"
AUTH="Authorization: Bearer $TOKEN"
json_answer() { # description, status, curl args: the status, and a JSON body
    local d=$1 want=$2 got
    shift 2
    got=$(code "$@")
    check "$d: $want (got $got)" [ "$got" = "$want" ]
    check "$d: the body is JSON" sh -c 'python3 -m json.tool "$1" >/dev/null' - "$T/body"
}
json_answer "a frame over --max-body 1k" 413 -H "$AUTH" --data-binary "@$T/2k" \
    "http://127.0.0.1:$P2/v1/partials"
json_answer "a chunked frame over --max-body 1k" 413 -H "$AUTH" -H "Transfer-Encoding: chunked" \
    --data-binary "@$T/2k" "http://127.0.0.1:$P2/v1/partials"
json_answer "the sample log (2.3M) chunked" 413 -H "$AUTH" -H "Transfer-Encoding: chunked" \
    --data-binary "@$ABBEY_SRCDIR/data/apache_combined_10k.log" "http://127.0.0.1:$P2/v1/partials"
json_answer "a target of 20k" 414 -H "$AUTH" "http://127.0.0.1:$P2/v1/status?x=$(head -c 20000 /dev/zero |
    tr '\0' a)"
json_answer "a header of 20k" 431 -H "$AUTH" -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' a)" \
    "http://127.0.0.1:$P2/v1/status"
json_answer "without the token" 401 -H "Authorization: Bearer nope" \
    "http://127.0.0.1:$P2/v1/status"
stop m2

# --- c. a token with a NUL byte is refused --------------------------------------------
printf 'abc\000def\n' >"$T/token-nul"
chmod 600 "$T/token-nul"
"$MASTER" --config "$T/rules2.yaml" --name m2 --listen "127.0.0.1:$P2" \
    --token-file "$T/token-nul" --data-dir "$T/d3" >"$T/nul.log" 2>&1
rc=$?
check "a token with a NUL byte: the master refuses to start (exit $rc)" [ "$rc" -eq 2 ]
check "the refusal names the file and the byte" \
    grep -q "$T/token-nul: byte 3 is a NUL byte" "$T/nul.log"
finish
