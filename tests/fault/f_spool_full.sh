#!/bin/sh
# f_spool_full.sh - fault test: the spool cannot be written (no space for it) while a master
# is down.
#
# m1 (the primary, 256 kB leases) runs, m2 is down. The slave s1 starts under a file size
# limit (ulimit -f 4: 2 or 4 kB, 512- or 1024-byte blocks by shell), so after a few of m2's
# frames (about 220 bytes each) its spool file cannot grow: an append fails with EFBIG (the
# slave ignores SIGXFSZ). Its log goes through a pipe, so the log is not what hits the
# limit. The slave must say SPOOL FAILED, naming the frame and the spool file, and leave the
# lease unacknowledged: the primary's committed offset of that source must not pass the
# start of the range, and must stay there. Nothing is lost: s1 is stopped and started again
# without the limit, m2 starts, the unacknowledged leases expire (30 s) and are read again;
# the spool drains and every report equals the recount of the raw logs.
. "$(dirname "$0")/lib.sh"

make_logs
feed 1 1
write_rules 1s
start_m1 --lease-bytes 256k
wait_for 20 up "$P1" || { fail "m1 did not start"; finish; }

mkfifo "$T/s1.fifo"
cat "$T/s1.fifo" >>"$T/s1.log" &
PIDS="$PIDS $!"
(ulimit -f 4 && exec "$SLAVE" --primary "$U1" --name s1 --token-file "$T/token" \
    --spool-dir "$T/spool/s1" --poll-ms 200) >"$T/s1.fifo" 2>&1 &
PID_s1=$!
PIDS="$PIDS $!"

check "s1 says SPOOL FAILED" wait_for 60 grep -q "SPOOL FAILED" "$T/s1.log"
sleep 1
line=$(grep -m 1 "SPOOL FAILED" "$T/s1.log")
echo "s1: ${line#*]: }"
want='.*SPOOL FAILED: master m2: frame .*#.* \[[0-9]*, [0-9]*) could not be written to spool '
want="${want}file .*/spool/s1/m2/web-[0-9]*\\.spool: "
check "the message names master m2, the frame's range and the spool file" \
    expr "$line" : "$want" >/dev/null
check "the message says the lease stays unacknowledged" \
    expr "$line" : '.*lease [0-9]* stays unacknowledged' >/dev/null
# (a frame of several ranges, docs/CLUSTER.md, names them all: "frame 2 ranges: SRC#I [a, b),
# ..."; its first range's lease is as unacknowledged as the others')
first=$(echo "$line" | sed 's/ frame [0-9]* ranges: / frame /')
src=$(echo "$first" | sed 's/.* frame \([^ ]*\)#[^ ]* \[.*/\1/')
a=$(echo "$first" | sed 's/.* frame [^ ]* \[\([0-9]*\), .*/\1/')
check "s1 is still running" kill -0 "$PID_s1"
o1=$(offset_of "$src")
check "the primary's offset of $src ($o1) does not pass the failed range's start $a" \
    [ "${o1:-x}" -le "$a" ]
sleep 4
o2=$(offset_of "$src")
check "four seconds later neither ($o2)" [ "${o2:-x}" -le "$a" ]
check "the primary has not committed every byte" not settled "$P1" "$(bytes)"
big=$(find "$T/spool" -name '*.spool' -size +4096c)
check "no spool file passed the limit ($big)" [ -z "$big" ]
check "the spool holds the frames written before the limit" spooled

# no limit any more; m2 comes back: everything must arrive once
halt s1
start_slave s1
start_m2
wait_for 20 up "$P2" || { fail "m2 did not start"; finish; }
final_checks
check "the restarted slave (no limit) had no SPOOL FAILED" \
    [ "$(sed -n '/^=== .* starting: /,$p' "$T/s1.log" | grep -c 'SPOOL FAILED')" -eq 0 ]
finish
