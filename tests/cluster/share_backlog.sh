#!/bin/sh
# share_backlog.sh - a backlog shared between slaves that start one after the other
# (docs/CLUSTER.md "Sticky leases", "Ownership moves"): the second slave reads part of it.
#
# Four sources with data to read, each served at about 150 KB/s by tests/tools/range_server.py
# (--rate), so reading one takes seconds on any machine. Slave s1 (one worker) starts alone
# and is granted all four (its share, the only slave); once it holds them, s2 (one worker)
# starts. The primary asks s1 for two back; s1 hears of it within a round although its worker
# is reading, and gives back unread the leases still queued for its worker, which s2 then
# takes. A poll of the primary's status records which slave's completions moved each
# source's committed offset past where its lease started; both slaves must have, and the
# report must equal a mawk recount of the raw files. No timing is asserted (generous
# timeouts only): s1 alone would take about 16 s.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/http"
i=1
while [ $i -le 4 ]; do # every 4th line of the first 10000: about 600 KB each
    mawk -v k=$i 'NR % 4 == k % 4' "$LOG" >"$T/http/f$i.log"
    i=$((i + 1))
done
set -- $(free_ports 2)
P1=$1 PH=$2
start http python3 "$RANGE_SERVER" "$T/http" --port "$PH" --rate 150000
wait_for 10 curl -sf -o /dev/null -r 0-0 "http://127.0.0.1:$PH/f1.log" ||
    { fail "range server did not start"; finish; }
srcs="http://127.0.0.1:$PH/f1.log, http://127.0.0.1:$PH/f2.log, http://127.0.0.1:$PH/f3.log, http://127.0.0.1:$PH/f4.log"
by_status_rules "$P1" "$srcs" >"$T/rules.yaml"

start m1 "$MASTER" --config "$T/rules.yaml" --name m1 --listen "127.0.0.1:$P1" \
    --token-file "$T/token" --data-dir "$T/m1/data" --export-dir "$T/m1/export"
start s1 "$SLAVE" --primary "http://127.0.0.1:$P1" --name s1 --token-file "$T/token" \
    --spool-dir "$T/s1" --workers 1 --poll-ms 100
# held_by SLAVE N: the primary's status shows N sticky leases held by SLAVE
held_by() {
    [ "$(json "$P1" /v1/status "sum(1 for l in j['scheduler']['jobs'][0]['leases']
        if l['sticky'] and l['slave'] == '$1')")" = "$2" ]
}
if ! wait_for 30 held_by s1 4; then
    fail "s1 was not granted the four sources within 30 s"
    api "$P1" /v1/status
    finish
fi
pass
start s2 "$SLAVE" --primary "http://127.0.0.1:$P1" --name s2 --token-file "$T/token" \
    --spool-dir "$T/s2" --workers 1 --poll-ms 100

# the poll: every 0.2 s, a slave holding a source's lease whose committed offset is past the
# lease's start read that range (only the holder's completions move it); the slaves that
# did, one a line, in $T/readers (runs until the test ends)
start poll python3 -c '
import json, sys, time, urllib.request
port, token, out = sys.argv[1], sys.argv[2], sys.argv[3]
seen = set()
while True:
    try:
        rq = urllib.request.Request("http://127.0.0.1:%s/v1/status" % port,
                                    headers={"Authorization": "Bearer " + token})
        j = json.load(urllib.request.urlopen(rq, timeout=5))
        for job in j["scheduler"]["jobs"]:
            off = {s["task"]: s["offset"] for s in job["sources"] if s.get("kind") == "read"}
            for l in job["leases"]:
                if l["task"] in off and off[l["task"]] > l["start"] and l["slave"] not in seen:
                    seen.add(l["slave"])
                    with open(out, "a") as f:
                        f.write(l["slave"] + "\n")
    except Exception:
        pass
    time.sleep(0.2)
' "$P1" "$TOKEN" "$T/readers"

bytes=$(cat "$T"/http/f*.log | wc -c)
if ! wait_for 180 settled "$P1" "$bytes"; then
    fail "the cluster did not read all $bytes bytes and export within 180 s"
    api "$P1" /v1/status
    finish
fi
pass
sleep 0.5 # (the poll's last look)
echo "slaves whose completions moved an offset: $(sort "$T/readers" | tr '\n' ' ')"
check "s1 read part of the backlog" grep -qx s1 "$T/readers"
check "s2 read part of the backlog" grep -qx s2 "$T/readers"
check "s1 gave back leases it had queued, unread" grep -q "asks for it back: given back unread" \
    "$T/s1.log"
by_status_recount "$T"/http/f*.log >"$T/recount"
check "by_status equals the recount" report_ok "$T/m1/export/web/by_status.csv"
lines=$(cat "$T"/http/f*.log | wc -l)
bad=$(cat "$T"/http/f*.log | mawk -F'"' 'NF != 7' | wc -l)
check "the master counted $lines lines, $bad bad, once" [ "$(json "$P1" /v1/status \
    '[(x["lines"], x["bad_lines"]) for x in j["merger"]["jobs"]]')" = "[($lines, $bad)]" ]
finish
