#!/bin/sh
# d_replay_twice.sh - fault test: a master down while the slaves work; its frames spool; the
# spool files are delivered by hand with abbey-replay, twice.
#
# m1 (the primary) and two slaves run while m2 is down (never started); the logs grow over
# several rounds. Every lease completes (m2's frames "spooled"). The slaves are stopped
# (SIGTERM) so that nothing re-delivers in the background; m2 starts empty; abbey-replay
# delivers both spool directories (every frame merged), then a second run finds nothing
# left, and a copy of the files taken before the first run is all duplicates: m2's figures
# do not move. The slaves start again (their spools are empty, so the primary's view of
# their backlog drops to zero) and every report must equal the recount of the raw logs.
. "$(dirname "$0")/lib.sh"

make_logs
write_rules 1s
start_m1 --lease-bytes 512k
wait_for 20 up "$P1" || { fail "m1 did not start"; finish; }
start_slave s1
start_slave s2
for k in 1 2 3 4 5; do
    feed $k 5
    sleep 1.2
done
wait_for 60 settled "$P1" "$(bytes)" ||
    { fail "the slaves did not read every byte with m2 down"; finish; }
check "m2's frames are in the spools" spooled
check "the slaves completed leases with m2 spooled" grep -q 'spooled to ' "$T/s1.log" "$T/s2.log"
halt s1
halt s2
check "nothing spooled for m1 (it was up)" \
    [ -z "$(find "$T/spool" -name '*.spool' | grep -v '/m2/')" ]
cp -r "$T/spool" "$T/copy"

"$REPLAY" --dry-run "$T/spool" >"$T/dry.out" 2>"$T/dry.err"
check "--dry-run finds no damage" [ $? -eq 0 ]
frames=$(grep -c ' offset [0-9]*: job ' "$T/dry.out")
check "--dry-run lists the spooled frames ($frames)" [ "$frames" -gt 0 ]

start_m2
wait_for 20 up "$P2" || { fail "m2 did not start"; finish; }
"$REPLAY" --primary "$U1" --token-file "$T/token" "$T/spool" 2>"$T/replay1.err"
check "first replay exits 0" [ $? -eq 0 ]
check "first replay: all $frames frames merged" grep -q \
    "done: .* $frames frames delivered ($frames merged, 0 duplicate), 0 not delivered, 0 damaged" \
    "$T/replay1.err"
check "first replay: no *.spool left" spool_empty

m2_exported() { # m2 has exported every closed round and its running totals since its last merge
    api "$P2" /v1/status | python3 -c '
import json, sys
sys.exit(0 if all(not j["pending_rounds"] and not j["period_reports_stale"]
                  for j in json.load(sys.stdin)["merger"]["jobs"]) else 1)'
}
check "m2 exports what it got" wait_for 60 m2_exported
merged() { json "$P2" /v1/status 'j["merger"]["partials"]["merged"]'; }
merged1=$(merged)
cp -r "$T/m2/export/web" "$T/after1"

"$REPLAY" --primary "$U1" --token-file "$T/token" "$T/spool" 2>"$T/replay2.err"
check "second replay exits 0" [ $? -eq 0 ]
check "second replay finds nothing left" grep -q "no spool files found" "$T/replay2.err"
"$REPLAY" --primary "$U1" --token-file "$T/token" --keep "$T/copy" 2>"$T/replay3.err"
check "replaying the copy exits 0" [ $? -eq 0 ]
check "replaying the copy: all $frames frames duplicate" grep -q \
    "done: .* $frames frames delivered (0 merged, $frames duplicate), 0 not delivered" \
    "$T/replay3.err"
merged2=$(merged)
check "m2 merged nothing more ($merged1 -> $merged2)" [ "$merged1" = "$merged2" ]
sleep 2
wait_for 30 m2_exported
for f in by_method.csv totals.csv; do
    check "m2's $f unchanged by the second delivery" cmp -s "$T/after1/$f" "$T/m2/export/web/$f"
done

start_slave s1
start_slave s2
final_checks
finish
