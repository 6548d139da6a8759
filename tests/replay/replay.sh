#!/bin/sh
# replay.sh - integration test of abbey-replay: spool files made by a real slave while one
# master (m2) was down, delivered by hand once it is up.
#
# m1 (the primary) and one slave run over the bundled log split in two files; m2 is named
# in the rules but not started, so the slave spools every frame for m2. Then the slave is
# stopped, m2 started, and abbey-replay must: list the frames (--dry-run: every one for m2,
# their ranges tiling each source file exactly); deliver them all (merged), renaming the
# files; find nothing on a second run; answer duplicate for every frame of a copy kept
# before the first run; on a copy cut mid-frame, exit 1 naming the torn tail's byte range
# and still deliver the whole frames before it (duplicate). m2's exported reports must
# then equal a standalone run's over the same files, and m2 must have counted every line.
. "$(dirname "$0")/../cluster/lib.sh"

REPLAY=$ABBEY_BUILDDIR/slave/abbey-replay
[ -x "$REPLAY" ] || { echo "ERROR: build first ($REPLAY)"; exit 99; }
if ! grep -l 'spool_append *(' "$ABBEY_SRCDIR"/slave/*.c | grep -qv '/spool\.c$'; then
    echo "SKIP: the slave does not spool frames yet (no spool_append call in slave/*.c)"
    exit 77
fi

mkdir -p "$T/logs"
sed -n '1,5000p' "$LOG" >"$T/logs/a.log"
sed -n '5001,10000p' "$LOG" >"$T/logs/b.log"
total=$(cat "$T"/logs/*.log | wc -c)

set -- $(free_ports 2)
P1=$1 P2=$2

# the jobs part of examples/apache.yaml over the two files, 1 s rounds
jobs() {
    mawk -v src="      - $T/logs/a.log
      - $T/logs/b.log" '
        /^masters:/ { skip = 1; next }
        skip && /^[^ #-]/ { skip = 0 }
        skip { next }
        /^ *- .*apache_combined_10k\.log/ { print src; next }
        { sub(/round: 10s/, "round: 1s"); print }' "$ABBEY_SRCDIR/examples/apache.yaml"
}
{
    echo "masters:"
    echo "  - {name: m1, url: \"http://127.0.0.1:$P1\", weight: 2}"
    echo "  - {name: m2, url: \"http://127.0.0.1:$P2\", weight: 1}"
    jobs
} >"$T/cluster.yaml"
jobs >"$T/standalone.yaml"

"$MASTER" --standalone --once --config "$T/standalone.yaml" --workers 2 --export-dir "$T/sa" -q
check "standalone run" [ -f "$T/sa/web/by_status.csv" ]

# m1 and the slave; m2's port stays closed. Leases of 200 kB: several frames per file.
start m1 "$MASTER" --config "$T/cluster.yaml" --name m1 --listen "127.0.0.1:$P1" \
    --token-file "$T/token" --data-dir "$T/m1/data" --export-dir "$T/m1/export" \
    --lease-bytes 200k
start s1 "$SLAVE" --primary "http://127.0.0.1:$P1" --name s1 --token-file "$T/token" \
    --spool-dir "$T/spool"

committed() { # the primary committed every byte and holds no one-shot lease (sticky: for good)
    api "$P1" /v1/status | python3 -c '
import json, sys
jobs = json.load(sys.stdin)["scheduler"]["jobs"]
done = sum(s["offset"] for job in jobs for s in job["sources"] if s.get("kind") == "read")
held = any(not l.get("sticky") for job in jobs for l in job["leases"])
sys.exit(0 if done == int(sys.argv[1]) and not held else 1)' "$total"
}
if ! wait_for 60 committed; then
    fail "the slave did not read all $total bytes within 60 s (m2 down: frames spooled?)"
    api "$P1" /v1/status
    finish
fi
pass
stop s1
find "$T/spool" -name '*.spool' | sort >"$T/spools"
check "the slave spooled m2's frames under spool/m2/" [ -s "$T/spools" ]
check "nothing spooled for m1 (it was up)" [ -z "$(grep -v "^$T/spool/m2/" "$T/spools")" ]
cp -r "$T/spool" "$T/copy"

# --dry-run lists every frame: all for m2, job web, and per source the ranges tile [0, size)
# (a frame of several ranges, docs/CLUSTER.md, lists each: "N ranges: SRC [a, b), ...")
"$REPLAY" --dry-run "$T/spool" >"$T/dry.out" 2>"$T/dry.err"
check "--dry-run exits 0 on clean files" [ $? -eq 0 ]
python3 -c '
import re, sys
for line in open(sys.argv[1]):
    m = re.search(r" offset \d+: job \S+, (.*), round \d+, master ", line)
    if not m:
        continue
    one = re.fullmatch(r"source (.*), range \[(\d+), (\d+)\)", m.group(1))
    for src, a, b in [one.groups()] if one else re.findall(r"(\S+) \[(\d+), (\d+)\)", m.group(1)):
        print(src, a, b)' "$T/dry.out" | sort -k1,1 -k2,2n >"$T/ranges"
frames=$(grep -c ' offset [0-9]*: job ' "$T/dry.out")
ranges=$(grep -c . "$T/ranges")
check "--dry-run lists the ranges (200 kB leases over 2.4 MB: at least 12; $ranges)" \
    [ "$ranges" -ge 12 ]
check "--dry-run: every frame is for m2" [ "$(grep ' offset [0-9]*: job ' "$T/dry.out" |
    grep -vc ', master m2, [0-9]* bytes$')" -eq 0 ]
check "--dry-run: every frame is of job web" [ "$(grep ' offset [0-9]*: job ' "$T/dry.out" |
    grep -vc ': job web, ')" -eq 0 ]
tiles() { # the ranges of each source are contiguous from 0 to the file's size, for both files
    for f in "$T/logs/a.log" "$T/logs/b.log"; do
        size=$(wc -c <"$f")
        grep -F "$f#" "$T/ranges" | mawk -v size="$size" '
            $2 != end { exit 1 } { end = $3 } END { exit !(NR > 0 && end == size) }' || return 1
    done
}
check "--dry-run: per source, the spooled ranges tile the whole file" tiles
check "--dry-run sends nothing (files stay)" [ "$(find "$T/spool" -name '*.spool' | sort)" = \
    "$(cat "$T/spools")" ]

# m2 comes up; replay delivers everything
start m2 "$MASTER" --primary "http://127.0.0.1:$P1" --name m2 --listen "127.0.0.1:$P2" \
    --token-file "$T/token" --data-dir "$T/m2/data" --export-dir "$T/m2/export"
wait_for 20 api "$P2" /v1/status -f || { fail "m2 did not start"; finish; }
"$REPLAY" --primary "http://127.0.0.1:$P1" --token-file "$T/token" "$T/spool" 2>"$T/run1.err"
check "first replay exits 0" [ $? -eq 0 ]
check "first replay: every frame merged" grep -q "done: .* $frames frames delivered ($frames merged, 0 duplicate), 0 not delivered, 0 damaged" "$T/run1.err"
check "first replay: no .spool file left" [ -z "$(find "$T/spool" -name '*.spool')" ]
check "first replay: each file renamed .delivered" [ "$(find "$T/spool" -name '*.spool.delivered' |
    sed 's/\.delivered$//' | sort)" = "$(cat "$T/spools")" ]

"$REPLAY" --primary "http://127.0.0.1:$P1" --token-file "$T/token" "$T/spool" 2>"$T/run2.err"
check "second replay exits 0" [ $? -eq 0 ]
check "second replay finds nothing" grep -q "no spool files found" "$T/run2.err"

# the copy kept before the first run: every frame is a duplicate
"$REPLAY" --primary "http://127.0.0.1:$P1" --token-file "$T/token" --keep "$T/copy" 2>"$T/dup.err"
check "replaying the copy exits 0" [ $? -eq 0 ]
check "replaying the copy: every frame duplicate" grep -q "done: .* $frames frames delivered (0 merged, $frames duplicate), 0 not delivered" "$T/dup.err"
check "--keep: the copy's files stay" [ -z "$(find "$T/copy" -name '*.delivered')" ]

# a copy cut in the middle of its last frame: the torn tail is named with its byte range
last=$(grep ' offset [0-9]*: job ' "$T/dry.out" | tail -n 1)
lfile=${last%% offset *}
loff=$(echo "$last" | mawk '{ sub(/.* offset /, ""); sub(/:.*/, ""); print }')
lsize=$(echo "$last" | mawk '{ sub(/.*, /, ""); sub(/ bytes$/, ""); print }')
before=$(grep -c "^$lfile offset [0-9]*: job " "$T/dry.out")
before=$((before - 1))
cut=$((loff + lsize / 2))
head -c "$cut" "$T/copy/${lfile#"$T/spool/"}" >"$T/torn.spool"
"$REPLAY" --primary "http://127.0.0.1:$P1" --token-file "$T/token" "$T/torn.spool" 2>"$T/torn.err"
check "a torn copy exits 1" [ $? -eq 1 ]
check "the torn tail is named with its byte range" grep -q "damaged: $T/torn.spool \[$loff, $cut): torn tail" "$T/torn.err"
check "the whole frames before the tear are delivered (duplicate)" grep -q "torn.spool: $before frames delivered ($before duplicate), 0 failed, 1 damaged ranges" "$T/torn.err"
check "the torn copy is left in place" [ -f "$T/torn.spool" ]

# m2 exports what it got from the spool: equal to the standalone run, every line counted
m2_written() { # m2 has exported every closed round and written its totals since its last merge
    api "$P2" /v1/status | python3 -c '
import json, sys
sys.exit(0 if all(not j["pending_rounds"] and not j["period_reports_stale"]
                  for j in json.load(sys.stdin)["merger"]["jobs"]) else 1)'
}
if ! wait_for 30 m2_written; then
    fail "m2 did not export within 30 s"
    api "$P2" /v1/status
    finish
fi
n2=0
for f in "$T"/sa/web/*; do
    rep=$(basename "$f")
    [ -f "$T/m2/export/web/$rep" ] || continue
    n2=$((n2 + 1))
    check "$rep from m2 equals the standalone run" cmp -s "$f" "$T/m2/export/web/$rep"
done
check "m2 exported its reports" [ "$n2" -gt 0 ]
check "m2 counted 10000 lines, 1 bad" [ "$(json "$P2" /v1/status \
    '[(x["lines"], x["bad_lines"]) for x in j["merger"]["jobs"]]')" = "[(10000, 1)]" ]
finish
