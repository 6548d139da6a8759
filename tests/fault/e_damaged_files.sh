#!/bin/sh
# e_damaged_files.sh - fault test: frames lost to damaged files come back through gap repair.
#
# Rounds of 2 s (the masters keep 64 rounds: gaps must be found within them), gap repair
# 2 s after a round's deadline (--repair-after 2s), m2 without periodic checkpoints (its
# state stays in its journal).
#   1. A torn spool file. m1 and the slave s1 run while m2 is down: m2's frames spool. s1 is
#      stopped; the spool file is cut in the middle of its middle frame (that frame and the
#      ones after it are lost). m2 starts, s1 starts again: its re-delivery must log the torn
#      range (file, [frame offset, cut)); m2 gets the whole frames before it; the ranges of
#      the lost ones are gaps of closed rounds: m2 asks the primary, which has a slave read
#      them again for m2 alone. Every report must equal the recount.
#   2. A corrupt journal frame. More lines arrive with m2 up; m2 is killed (SIGKILL); one
#      byte in the middle of its journal's newest frame is flipped; m2 restarts on the same
#      --data-dir: its recovery must report the damaged byte range of that journal file,
#      gap repair brings the range back, every report must equal the recount.
. "$(dirname "$0")/lib.sh"
needs_durable

make_logs
write_rules 2s
CHUNKS=6 PAUSE=2.2
start_m1 --repair-after 2s --lease-bytes 256k
wait_for 20 up "$P1" || { fail "m1 did not start"; finish; }
start_slave s1

# --- 1. a spool file cut mid-frame ---
feed_next 3
wait_for 60 settled "$P1" "$(bytes)" || { fail "s1 did not read every byte with m2 down"; finish; }
halt s1
"$REPLAY" --dry-run "$T/spool" >"$T/dry1.out" 2>"$T/dry1.err"
n=$(grep -c ' offset [0-9]*: job ' "$T/dry1.out")
[ "$n" -ge 4 ] || { fail "fewer than 4 of m2's frames in s1's spool ($n)"; finish; }
pass
pick=$(grep ' offset [0-9]*: job ' "$T/dry1.out" | sed -n "$(((n + 1) / 2))p")
file=${pick%% offset *}
off=$(echo "$pick" | sed 's/.* offset \([0-9]*\):.*/\1/')
size=$(echo "$pick" | sed 's/.*, \([0-9]*\) bytes$/\1/')
cut=$((off + size / 2))
lost=$(grep -c "^$file offset " "$T/dry1.out")
lost=$((lost - $(grep "^$file offset " "$T/dry1.out" | grep -n " offset $off:" | cut -d: -f1) + 1))
truncate -s "$cut" "$file"
echo "cut $file at $cut (frame [$off, $((off + size))), $lost frame(s) lost)"
start_m2 --repair-after 2s --checkpoint-every 1h
wait_for 20 up "$P2" || { fail "m2 did not start"; finish; }
start_slave s1
check "s1's re-delivery logs the torn range" wait_for 60 \
    grep -q "spool $file: bytes \[$off, $cut) damaged (torn tail" "$T/s1.log"
final_checks
check "m2 asked for the lost ranges (gap repair)" grep -q "gap repair: asking for" "$T/m2.log"
check "the primary had them read again for m2" grep -q "for master m2 done by slave s1" "$T/m1.log"

# --- 2. a journal frame flipped while m2 is down ---
feed_next 3
recount
wait_for 60 caught_up || fail "the second part's lines did not settle"
kill9 m2
jf=$(find "$T/m2/data" -name 'merger-*.journal' -size +0 | sort | tail -n 1)
"$REPLAY" --dry-run "$jf" >"$T/dry2.out" 2>"$T/dry2.err"
pick=$(grep ' offset [0-9]*: job .* range \[' "$T/dry2.out" | tail -n 1)
off=$(echo "$pick" | sed 's/.* offset \([0-9]*\):.*/\1/')
size=$(echo "$pick" | sed 's/.*, \([0-9]*\) bytes$/\1/')
[ -n "$pick" ] || { fail "no frame listed in m2's journal $jf"; cat "$T/dry2.err"; finish; }
pass
python3 -c '
import sys
path, at = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    f.seek(at)
    b = f.read(1)
    f.seek(at)
    f.write(bytes([b[0] ^ 0x5a]))' "$jf" "$((off + size / 2))"
echo "flipped the byte at $((off + size / 2)) of $jf (frame [$off, $((off + size))))"
start_m2 --repair-after 2s --checkpoint-every 1h
wait_for 20 up "$P2" || { fail "m2 did not restart"; finish; }
r=$(recovered m2)
echo "m2: ${r#*]: }"
check "m2's recovery says it found a damaged range" expr "$r" : '.* [1-9][0-9]* damaged' >/dev/null
check "m2 logged the damaged range of ${jf##*/}, from the frame's offset $off" \
    grep -q "${jf##*/}.*\[$off, [0-9]*)" "$T/m2.log"
final_checks
asked_again() { since_start m2 | grep -q 'gap repair: asking'; }
check "m2 asked for the range again after its restart" asked_again
finish
