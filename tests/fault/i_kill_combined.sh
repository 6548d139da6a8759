#!/bin/sh
# i_kill_combined.sh - fault test: the secondary killed (SIGKILL) while the slaves send it
# frames of several ranges (docs/CLUSTER.md "Frames of several ranges"), and again while it
# takes back the combined frames they spooled meanwhile.
#
# Eight files grow in 12 chunks (one every 0.6 s); m1, m2 and two slaves with one worker
# each run, so each worker reads the leases it holds in a row and sends each master one
# frame for them. m2 is killed as soon as it has merged combined frames; three chunks
# arrive while it is down (the slaves spool m2's combined frames whole: abbey-replay
# --dry-run lists frames of several ranges in the spools); it restarts with the same
# --data-dir, recovers the combined frames from its journal, and is killed again while the
# spools drain into it (a combined frame may be journaled and not yet answered: its
# re-delivery is then a duplicate); restarted again, the spools drain. Gap repair is off
# (--repair-after 0s): every line must come through the journal and the spools. At the
# end: nothing spooled is left, every byte is committed, both masters counted each line
# once, every report equals the mawk recount of the raw files, and no exported round is
# left incomplete (each range of a combined frame covers its round).
. "$(dirname "$0")/lib.sh"
needs_durable

make_logs 3 8
write_rules 1s
start_m1 --repair-after 0s
start_m2 --repair-after 0s --checkpoint-every 1h
wait_for 20 up "$P1" && wait_for 20 up "$P2" || { fail "the masters did not start"; finish; }
start_slave s1 --workers 1
start_slave s2 --workers 1
combined() { json "$P2" /v1/status 'j["merger"]["combined"]["frames"]'; }
some_combined() { [ "$(combined)" -gt 0 ]; }

feed_next 3
check "m2 merges combined frames" wait_for 20 some_combined
c0=$(combined)
kill9 m2
feed_next 3
check "m2's frames spool while it is down" wait_for 20 spooled
several() { "$REPLAY" --dry-run "$T/spool" 2>/dev/null | grep -q ': job web, [0-9]* ranges: '; }
check "the spools hold frames of several ranges (abbey-replay --dry-run)" wait_for 20 several

start_m2 --repair-after 0s --checkpoint-every 1h
wait_for 20 up "$P2" || { fail "m2 did not restart"; finish; }
r1=$(recovered m2)
echo "m2 (restart 1): ${r1#*]: }"
check "recovery 1 replayed journal frames" expr "$r1" : '.*journal .*[1-9][0-9]* frames' >/dev/null
check "recovery 1 found no damage" expr "$r1" : '.* 0 damaged' >/dev/null
c1=$(combined)
check "m2 recovered its combined frames from the journal ($c0 before the kill, $c1 now)" \
    [ "$c1" -ge "$c0" ]
# killed again while the spools drain into it: once it merged a re-delivered frame (more
# than the journal frames its recovery merged)
merged() { json "$P2" /v1/status 'j["merger"]["partials"]["merged"]'; }
n0=$(echo "$r1" | sed -n 's/.* frames: \([0-9]*\) merged.*/\1/p')
draining() { [ "$(merged)" -gt "${n0:-0}" ]; }
check "the spools drain into m2 (beyond the ${n0:-?} journal frames recovered)" wait_for 20 draining
kill9 m2
feed_next 2
start_m2 --repair-after 0s --checkpoint-every 1h
wait_for 20 up "$P2" || { fail "m2 did not restart"; finish; }
r2=$(recovered m2)
echo "m2 (restart 2): ${r2#*]: }"
check "recovery 2 found no damage" expr "$r2" : '.* 0 damaged' >/dev/null
feed_next 4
final_checks
# every range of every combined frame counts at both masters: each round they exported
# is covered in the end (an INCOMPLETE marker is removed when its round is amended)
complete() { [ -z "$(find "$T"/m1/export "$T"/m2/export -name INCOMPLETE)" ]; }
check "every exported round is complete at both masters" wait_for 20 complete
echo "combined frames merged: m1 $(json "$P1" /v1/status 'j["merger"]["combined"]'), m2 $(json "$P2" /v1/status 'j["merger"]["combined"]')"
finish
