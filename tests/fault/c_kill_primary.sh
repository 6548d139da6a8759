#!/bin/sh
# c_kill_primary.sh - fault test: the primary killed (SIGKILL) mid-run and restarted with the
# same --data-dir and --config.
#
# m1, m2 and two slaves run (256 kB leases) over a third of the logs; m1 is killed while a
# lease is out and part of the bytes read (a poller watches its status). The rest of the
# logs grows in 8 chunks (one every 0.6 s), 3 while m1 is down: the slaves keep retrying
# the primary (no lease; completions not sent) and spool the frames meant for m1. m1
# restarts on its state: it must log its recovery, and its committed offsets must not go
# back (every completion it accepted was journaled first). The leases it handed out before
# the kill are not restored (completions refused, the tasks leased again from the committed
# offsets; the masters answer duplicate or conflict for what they have). Gap repair is off
# (--repair-after 0s) so no re-read can hide a lost or doubled range. At the end: spools
# empty, no backlog, every report equals the recount, each master counted every line once.
. "$(dirname "$0")/lib.sh"
needs_durable

make_logs
write_rules 1s
start_m1 --repair-after 0s --lease-bytes 256k
start_m2 --repair-after 0s
wait_for 20 up "$P1" && wait_for 20 up "$P2" || { fail "the masters did not start"; finish; }
# a third of the logs at once; m1 is killed while a lease is out and part of it is read
feed 1 3
CHUNK=4
echo "$PID_m1" >"$T/m1.pid"
kill_mid_lease "$T/m1.pid" "" "$(bytes)" >"$T/killer.out" &
killer=$!
sleep 0.5
start_slave s1
start_slave s2
wait "$killer" || { fail "no lease was seen out mid-read"; finish; }
kill9 m1
cat "$T/killer.out"
before=$(sed 's/killed at \([0-9]*\) .*/\1/' "$T/killer.out")
feed_next 3
spooled && echo "the slaves spooled frames for m1 while it was down"

start_m1 --repair-after 0s --lease-bytes 256k
wait_for 20 up "$P1" || { fail "m1 did not restart"; finish; }
after=$(committed)
check "committed offsets survived the kill ($before -> $after)" [ "$after" -ge "$before" ]
r=$(since_start m1 | grep ']: \(scheduler \)\{0,1\}recovered: ')
echo "m1 recovery:"
echo "$r" | sed 's/^[^]]*]: /    /'
check "m1 logged its merger's recovery" expr "$r" : '.*]: recovered: ' >/dev/null
check "m1 logged its scheduler's recovery" expr "$r" : '.*]: scheduler recovered: ' >/dev/null
check "the recoveries found no damage" not expr "$r" : '.* [1-9][0-9]* damaged' >/dev/null
feed_next 5
final_checks
finish
