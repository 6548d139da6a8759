#!/bin/sh
# b_kill_secondary.sh - fault test: the secondary killed (SIGKILL) twice while the slaves
# work, restarted each time with the same --data-dir: it must recover its state from its
# journal (and checkpoint), and the frames spooled meanwhile must drain into it.
#
# The logs grow in 12 chunks (one every 0.6 s) while m1, m2 and two slaves run.
#   A. m2 runs with --checkpoint-every 1h: no checkpoint exists (checked) when it is
#      killed; its state is all in the journal. Three chunks arrive while it is down (the
#      slaves spool m2's frames); it restarts and must log "recovered: ..." with journal
#      frames and no checkpoint.
#   B. m2 now runs with --checkpoint-every 1s; it is killed as soon as the status shows a
#      new checkpoint; two chunks arrive while it is down; it restarts and must log a
#      recovery from that checkpoint (plus the journal after it).
# Gap repair is off (--repair-after 0s), so no re-read can hide lost state: every frame m2
# merged live before a kill exists only in its journal / checkpoint. At the end the spools
# are empty, the primary shows no backlog, and every report equals the recount.
. "$(dirname "$0")/lib.sh"
needs_durable

make_logs
write_rules 1s
start_m1 --repair-after 0s --lease-bytes 256k
start_m2 --repair-after 0s --checkpoint-every 1h
wait_for 20 up "$P1" && wait_for 20 up "$P2" || { fail "the masters did not start"; finish; }
start_slave s1
start_slave s2
merged() { json "$P2" /v1/status 'j["merger"]["partials"]["merged"]'; }

# A: kill with everything in the journal
feed_next 4
wait_for 20 settled "$P1" "$(bytes)" "$P2" || fail "the first chunks did not settle"
check "m2 merged frames before the first kill ($(merged))" [ "$(merged)" -gt 0 ]
check "no checkpoint written before the first kill" \
    [ -z "$(find "$T/m2/data" -name 'merger-*.ckpt')" ]
check "m2 has a journal" [ -n "$(find "$T/m2/data" -name 'merger-*.journal' -size +0)" ]
kill9 m2
feed_next 3
check "m2's frames spool while it is down" wait_for 20 spooled
start_m2 --repair-after 0s --checkpoint-every 1s
wait_for 20 up "$P2" || { fail "m2 did not restart"; finish; }
r1=$(recovered m2)
echo "m2 (restart 1): ${r1#*]: }"
check "m2 logged one recovery line" [ "$(echo "$r1" | grep -c .)" -eq 1 ]
check "recovery 1 replayed journal frames" expr "$r1" : '.*journal .*[1-9][0-9]* frames' >/dev/null
check "recovery 1 found no damage" expr "$r1" : '.* 0 damaged' >/dev/null

# B: kill right after a checkpoint
feed_next 2
ckpts() { json "$P2" /v1/status 'j["durability"]["merger"]["checkpoints"]'; }
c0=$(ckpts)
new_ckpt() { [ "$(ckpts)" -gt "${c0:-0}" ]; }
check "m2 writes a checkpoint (every 1 s)" wait_for 10 new_ckpt
kill9 m2
check "a checkpoint file is there" [ -n "$(find "$T/m2/data" -name 'merger-*.ckpt')" ]
feed_next 2
start_m2 --repair-after 0s --checkpoint-every 1s
wait_for 20 up "$P2" || { fail "m2 did not restart"; finish; }
r2=$(recovered m2)
echo "m2 (restart 2): ${r2#*]: }"
check "recovery 2 loaded a checkpoint" expr "$r2" : '.*recovered: checkpoint [1-9]' >/dev/null
check "recovery 2 found no damage" expr "$r2" : '.* 0 damaged' >/dev/null
feed_next 1
final_checks
finish
