#!/bin/sh
# g_lost_slave_spool.sh - fault test: a slave dies for good with frames for a master in its
# spool, and that master comes back later with an empty data dir.
#
# m1 (the primary) and m2 start; m2 is killed (SIGKILL) before any slave runs, so every
# frame for m2 is spooled. Two slaves read a glob of three files that grow in 12 chunks;
# s1 is killed (SIGKILL) once it holds spooled frames and is never started again: its
# spool, and the ranges in it, are lost. 70 rounds later (more than the 64 rounds a master
# keeps round partials for) m2 starts again with an empty data dir (its journal lost too). The primary committed s1's ranges, so they must still reach m2: m2
# learns every range the primary committed for the job (whatever round it was in, however
# long before m2 started) and asks for the ones it lacks (gap repair, 2 s after a round's
# deadline here); s2 reads them again. At the end s2's spool is delivered, both masters
# counted each line once, and every report equals the recount of the raw logs.
. "$(dirname "$0")/lib.sh"
needs_durable

make_logs 5 3
GLOB=1 write_rules 1s
start_m1 --repair-after 2s --lease-bytes 64k
start_m2 --repair-after 2s
wait_for 20 up "$P1" && wait_for 20 up "$P2" || { fail "the masters did not start"; finish; }
kill9 m2
start_slave s1
start_slave s2
feed_next 12
s1_spooled() { find "$T/spool/s1" -name '*.spool' -size +0 | grep -q .; }
check "s1 spooled frames for m2 while m2 was down" wait_for 20 s1_spooled
kill9 s1
echo "s1's spool when it died: $(find "$T/spool/s1" -name '*.spool' -size +0 -exec du -b {} + |
    mawk '{ n += $1 } END { print n + 0 }') bytes"
# m2 stays down for more rounds than a master keeps round partials for (64)
closed_round() { json "$P1" /v1/status 'j["merger"]["jobs"][0]["last_closed_round"]'; }
r_kill=$(closed_round)
later() { [ "$(closed_round)" -gt $((r_kill + 70)) ]; }
check "70 more rounds closed while m2 was down" wait_for 120 later
rm -rf "$T/m2/data"
start_m2 --repair-after 2s
wait_for 20 up "$P2" || { fail "m2 did not restart"; finish; }

s2_spool_empty() { ! find "$T/spool/s2" -name '*.spool' | grep -q .; }
check "s2's spool delivered to m2" wait_for 120 s2_spool_empty
recount
if wait_for 150 caught_up; then
    pass
else
    fail "the masters did not count each line once (lines, bad: recount $WANT," \
        "m1 $(counted "$P1"), m2 $(counted "$P2"))"
fi
check "m2 asked for the ranges it never got" grep -q 'gap repair: asking' "$T/m2.log"
compare_reports
finish
