#!/bin/sh
# many_slaves.sh - 60 real slaves (3 workers each) started together against one master,
# over a glob of 120 files of the sample log (docs/CLUSTER.md "Many slaves"):
#   a. every slave fetched its config and asked for leases (the primary knows all 60) within
#      30 s;
#   b. each keeps one connection to the primary, whatever its threads do (config, leases,
#      renewals, completions and frames for the primary as a master): the established TCP
#      connections to the primary's port (/proc/net/tcp) are at most one per slave, plus
#      this test's own call;
#   c. the lines are counted once: the report equals a mawk recount of the files.
. "$(dirname "$0")/lib.sh"

NS=60 NF=120
[ -r /proc/net/tcp ] || { echo "SKIP: no /proc/net/tcp"; exit 77; }
mkdir -p "$T/logs"
i=0
while [ $i -lt $NF ]; do # 120 files of 80 lines each from the sample log
    sed -n "$((i * 80 + 1)),$((i * 80 + 80))p" "$LOG" >"$T/logs/f$i.log"
    i=$((i + 1))
done
by_status_recount "$T"/logs/*.log >"$T/recount"
bytes=$(cat "$T"/logs/*.log | wc -c)

set -- $(free_ports 1)
P1=$1
by_status_rules "$P1" "\"$T/logs/*.log\"" >"$T/rules.yaml"
cat >>"$T/rules.yaml" <<YAML
    reports:
      - {name: status, entry: by_status}
YAML
start primary "$MASTER" --config "$T/rules.yaml" --name m1 --listen "127.0.0.1:$P1" \
    --data-dir "$T/data" --export-dir "$T/out" --token-file "$T/token" --export-every 0s
wait_for 20 api "$P1" /v1/status -f || fail "the primary did not start"
i=1
while [ $i -le $NS ]; do
    start "s$i" "$SLAVE" --primary "http://127.0.0.1:$P1" --name "s$i" --token-file "$T/token" \
        --spool-dir "$T/spool$i" --workers 3
    i=$((i + 1))
done

known() { [ "$(json "$P1" '/v1/status?limit=0' 'len(j["scheduler"]["slaves"])')" = "$NS" ]; }
check "the primary knows all $NS slaves within 30 s" wait_for 30 known

# the connections established to the primary's port, as the kernel lists them
conns() {
    python3 - "$P1" <<'PY'
import sys
port = "%04X" % int(sys.argv[1])
n = 0
for line in open("/proc/net/tcp").readlines()[1:]:
    f = line.split()
    if f[1].endswith(":" + port) and f[3] == "01":  # local address is the server's, ESTABLISHED
        n += 1
print(n)
PY
}
check "every byte read once, nothing leased, the reports written" \
    wait_for 120 settled "$P1" "$bytes"
c=$(conns)
check "at most one connection per slave to the primary ($c for $NS slaves of 3 workers)" \
    [ "$c" -le "$((NS + 1))" ]
check "by_status equals the recount" report_ok "$T/out/web/status.csv"
finish
