#!/bin/sh
# a_kill_slave.sh - fault test: a slave killed (SIGKILL) in the middle of a lease.
#
# m1 (the primary, 64 kB leases) and m2 run; one slave s1 reads 50k lines in four files.
# While the primary shows s1 holding a lease with part of the bytes committed, s1 is killed
# with SIGKILL: the lease it held stays unacknowledged (its frames may have reached some
# masters, or none). A second slave s2 then does the rest; the dead lease's task waits
# until the lease expires (30 s) and s2 reads its range again (the masters answer duplicate
# for what they already had). Then: nothing spooled, every byte committed once, and every
# report equal to the recount of the raw logs.
. "$(dirname "$0")/lib.sh"

make_logs
feed 1 1
write_rules 1s
total=$(bytes)

start_m1 --lease-bytes 64k
start_m2
wait_for 20 up "$P1" && wait_for 20 up "$P2" || { fail "the masters did not start"; finish; }

# s1's leases still listed by the primary: "id task start" lines
s1_leases() {
    json "$P1" /v1/status '"\n".join("%d %d %d" % (l["id"], l["task"], l["start"])
        for x in j["scheduler"]["jobs"] for l in x["leases"] if l["slave"] == "s1")'
}

# kill s1 mid-lease; if the kill fell between two leases (nothing left held), start it again
orphans=""
try=1
while [ $try -le 5 ] && [ -z "$orphans" ]; do
    rm -f "$T/s1.pid"
    kill_mid_lease "$T/s1.pid" s1 "$total" >"$T/killer.out" &
    killer=$!
    sleep 0.5
    start_slave s1
    echo "$PID_s1" >"$T/s1.pid.tmp" && mv "$T/s1.pid.tmp" "$T/s1.pid"
    if ! wait "$killer"; then
        fail "s1 was never seen holding a lease mid-read (try $try)"
        finish
    fi
    kill9 s1
    cat "$T/killer.out"
    orphans=$(s1_leases)
    try=$((try + 1))
done
check "s1 was killed holding a lease (after $((try - 1)) tries)" [ -n "$orphans" ]
echo "leases left by the killed slave (id task start): $(echo $orphans)"
expired0=$(api "$P1" /metrics | mawk '/^abbey_leases_total\{result="expired"\}/ { print $2 }')

# s2 does the rest; the orphaned lease's task waits for the expiry, then s2 reads it again
start_slave s2
sleep 5
still=$(s1_leases)
check "the dead lease is not taken over before it expires ($(echo $still))" [ -n "$still" ]
check "the cluster settles after the dead lease expires" wait_for 120 settled "$P1" "$total" "$P2"
expired=$(api "$P1" /metrics | mawk '/^abbey_leases_total\{result="expired"\}/ { print $2 }')
check "the primary counted the dead lease(s) as expired ($expired0 -> $expired)" \
    [ "${expired:-0}" -gt "${expired0:-0}" ]
check "nothing was spooled" [ -z "$(find "$T/spool" -name '*.spool' -size +0)" ]
final_checks
finish
