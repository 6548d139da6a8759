#!/bin/sh
# spool.sh - cluster integration test of the slave's spool: the primary m1 and one slave
# run while the secondary m2 is down (never started) for several rounds, with lines
# appended every round; the slave spools m2's frames (completing its leases, so m1 carries
# on) and reports its backlog to the primary. Then m2 starts, fresh and empty, and more
# lines arrive. Every range must reach m2 exactly once, through the spool or live: m2's
# reports (and m1's) must equal a standalone run over the same files, the spool directory
# must end empty and the primary's status must show the backlog back at zero.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/logs"
sed -n '1,2000p' "$LOG" >"$T/logs/a.log"
sed -n '5001,6000p' "$LOG" >"$T/logs/b.log"
set -- $(free_ports 2)
P1=$1 P2=$2
rules() { # the masters' lines ($1: yes/no), then the job over the logs
    [ "$1" = yes ] && cat <<YAML
masters:
  - {name: m1, url: "http://127.0.0.1:$P1", weight: 2}
  - {name: m2, url: "http://127.0.0.1:$P2", weight: 1}
YAML
    cat <<YAML
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
      - name: clients
        weight: 1
        entries:
          - {name: by_ip, key: [ip], values: {hits: count, bytes: sum(bytes)}}
          - {name: totals, values: {hits: count, ips: distinct_exact(ip)}}
YAML
}
rules yes >"$T/rules.yaml"
rules no >"$T/standalone.yaml"
"$MASTER" --check --config "$T/rules.yaml" | grep -q "web/clients -> m2" || fail "clients is not m2's"

bytes() { cat "$T"/logs/*.log | wc -c; }
spooled() { find "$T/spool" -name '*.spool' -size +0 | grep -q .; }
no_spool_files() { ! find "$T/spool" -name '*.spool' | grep -q .; }
# the slave's backlog as the primary shows it: "frames bytes" (or "none")
backlog() {
    json "$P1" /v1/status '" ".join(str(v["spool"]["frames"]) + " " + str(v["spool"]["bytes"])
        if "spool" in v else "none" for v in j["scheduler"]["slaves"])'
}
backlog_zero() { [ "$(backlog)" = "0 0" ]; }
backlog_nonzero() { b=$(backlog); [ "$b" != "none" ] && [ "${b%% *}" -gt 0 ]; }

start m1 "$MASTER" --config "$T/rules.yaml" --name m1 --listen "127.0.0.1:$P1" \
    --token-file "$T/token" --export-dir "$T/m1" --data-dir "$T/d1"
start s1 "$SLAVE" --primary "http://127.0.0.1:$P1" --name s1 --token-file "$T/token" \
    --spool-dir "$T/spool"

# m2 down: several rounds of appends, every one read and completed while m2's frames spool
wait_for 60 settled "$P1" "$(bytes)" || { fail "first read (m2 down) did not settle"; finish; }
n=1
while [ $n -le 4 ]; do
    sed -n "$((2000 + n * 500 - 499)),$((2000 + n * 500))p" "$LOG" >>"$T/logs/a.log"
    sed -n "$((6000 + n * 250 - 249)),$((6000 + n * 250))p" "$LOG" >>"$T/logs/b.log"
    sleep 1.2
    n=$((n + 1))
done
wait_for 60 settled "$P1" "$(bytes)" || { fail "appends with m2 down did not settle"; finish; }
check "frames for m2 are in the spool" spooled
check "the slave completed leases with m2 spooled" grep -q '"m2":"spooled"\|spooled to ' "$T/s1.log"
check "the primary shows a backlog ($(backlog))" wait_for 10 backlog_nonzero

# m2 starts, fresh; more lines arrive
start m2 "$MASTER" --primary "http://127.0.0.1:$P1" --name m2 --listen "127.0.0.1:$P2" \
    --token-file "$T/token" --export-dir "$T/m2" --data-dir "$T/d2"
sed -n '4001,5000p' "$LOG" >>"$T/logs/a.log"
sed -n '7001,8000p' "$LOG" >>"$T/logs/b.log"
check "the spool empties (files deleted)" wait_for 90 no_spool_files
check "the primary shows the backlog at zero ($(backlog))" wait_for 20 backlog_zero
wait_for 60 settled "$P1" "$(bytes)" "$P2" || { fail "the cluster did not settle with m2"; finish; }

# every report equals the standalone run's over the same files, from the master owning it
"$MASTER" --standalone --once --config "$T/standalone.yaml" --export-dir "$T/sa" -q
check "standalone run" [ -f "$T/sa/web/totals.csv" ]
for r in by_ip.csv totals.csv; do
    check "m2's $r equals the standalone run" cmp -s "$T/sa/web/$r" "$T/m2/web/$r"
done
check "m1's by_status.csv equals the standalone run" cmp -s "$T/sa/web/by_status.csv" \
    "$T/m1/web/by_status.csv"
lines=$(cat "$T"/logs/*.log | wc -l)
for p in "$P1" "$P2"; do
    check "master on $p counted every line once ($lines)" [ "$(json "$p" /v1/status \
        '[x["lines"] for x in j["merger"]["jobs"]]')" = "[$lines]" ]
done
check "m2 merged no frame twice (no conflicts)" [ "$(json "$P2" /v1/status \
    'j["merger"]["partials"]["conflict"]')" = 0 ]
finish
