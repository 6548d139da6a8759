#!/bin/sh
# h_kill_sticky.sh - fault test: a slave that owns many sticky tasks killed (SIGKILL).
#
# m1 (the primary) and m2 run; three slaves s1, s2, s3 hold the 200 files of one glob
# (and the glob itself) as sticky leases, shared among them (docs/CLUSTER.md "Sticky
# leases"). A third of the lines is written and read; then s2 is killed with SIGKILL while
# it holds its share, and another third is appended at once to every file, those s2 held
# included. s2's leases are not renewed: for the lease lifetime (30 s) nobody takes its
# tasks, then they expire and s1 and s3 take them from the committed offsets (masters answer
# duplicate for what s2 delivered and did not complete). The last third is appended after
# the move. Then: s1 and s3 hold every task, nothing spooled is left, every byte is
# committed once, and every report equals the mawk recount of the raw files.
. "$(dirname "$0")/lib.sh"

make_logs 1 200
feed 1 3
GLOB=1 write_rules 1s
total=$(bytes)

start_m1
start_m2
wait_for 20 up "$P1" && wait_for 20 up "$P2" || { fail "the masters did not start"; finish; }
for n in s1 s2 s3; do start_slave "$n" --workers 2; done

# held NAME: the sticky leases the primary shows NAME holding
held() {
    json "$P1" /v1/status 'sum(l.get("sticky", False) for x in j["scheduler"]["jobs"]
        for l in x["leases"] if l["slave"] == "'"$1"'")'
}
shared() { [ "$(held s1)" -gt 0 ] && [ "$(held s2)" -gt 0 ] && [ "$(held s3)" -gt 0 ]; }
tasks() { json "$P1" /v1/status 'len([s for x in j["scheduler"]["jobs"] for s in x["sources"]])'; }
all_held() { [ "$(($(held s1) + $(held s2) + $(held s3)))" -eq "$(tasks)" ]; }
check "the first third is read ($total bytes)" wait_for 90 settled "$P1" "$total" "$P2"
check "the 201 tasks are shared by the three slaves" wait_for 30 shared
check "every task is held (201: $(tasks))" wait_for 30 all_held
h2=$(held s2)
echo "held: s1 $(held s1), s2 $h2, s3 $(held s3)"
expired0=$(api "$P1" /metrics | mawk '/^abbey_leases_total\{result="expired"\}/ { print $2 }')

kill9 s2
feed 2 3
total=$(bytes)
sleep 5
check "s2's $h2 leases are not taken over before they expire ($(held s2) still its)" \
    [ "$(held s2)" -eq "$h2" ]
moved() { [ "$(held s2)" -eq 0 ] && all_held; }
check "s2's tasks move to s1 and s3 once its leases expired" wait_for 90 moved
echo "held after the move: s1 $(held s1), s3 $(held s3)"
expired=$(api "$P1" /metrics | mawk '/^abbey_leases_total\{result="expired"\}/ { print $2 }')
check "the primary counted s2's leases as expired ($expired0 -> $expired)" \
    [ "$((${expired:-0} - ${expired0:-0}))" -ge "$h2" ]
check "the second third is read ($total bytes)" wait_for 90 settled "$P1" "$total" "$P2"

feed 3 3
total=$(bytes)
check "the last third is read ($total bytes)" wait_for 90 settled "$P1" "$total" "$P2"
final_checks
finish
