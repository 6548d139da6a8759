#!/bin/sh
# archives.sh - a rotated, compressed series counted once: standalone, cluster, stdin.
#
# The bundled log cut into a rotated series as logrotate leaves it: x.log.3.zst (zstd),
# x.log.2.gz (two gzip members, as cat a.gz b.gz and pigz make), x.log.1 and x.log (plain).
# A glob x.log* must count every line once, as its decompressed stream:
#   - standalone with 1 and 4 workers: lines, bad lines, bytes (decompressed) and by_status;
#   - standalone with x.log.1.gz, a compressed copy of x.log.1 (gzip -k), in the series too:
#     the copy is recognised (docs/RULES.md, "Archives") and its lines counted once;
#   - the cluster (one master, one slave, 64 KiB leases, so each archive is read in many
#     leases, each from its committed decompressed offset): by_status, lines, and each
#     archive's committed offset and size equal to its decompressed size; then an archive
#     copied in while the cluster reads, seen half-written first, counted once whole;
#   - the same stream piped to abbey-master --stdin; --stdin's refusals (unknown job, no
#     --once, a terminal);
#   - a damaged archive (x.log.2.gz cut short): exit status 1, the file and the decompressed
#     offset named, the whole lines before the damage counted.
# Oracle: mawk over zstdcat/zcat of the files (by_status_recount, tests/cluster/lib.sh), and
# python3's zlib for the lines before the damage; never abbey.
. "$(dirname "$0")/../cluster/lib.sh"
for tool in zstd gzip; do
    command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool is not installed"; exit 77; }
done

d=$T/logs
mkdir -p "$d"
sed -n '1,2500p' "$LOG" | zstd -q -o "$d/x.log.3.zst"
sed -n '2501,3700p' "$LOG" | gzip >"$d/x.log.2.gz"
sed -n '3701,5000p' "$LOG" | gzip >>"$d/x.log.2.gz" # a second member
sed -n '5001,7500p' "$LOG" >"$d/x.log.1"
sed -n '7501,10000p' "$LOG" >"$d/x.log"
stream() { zstdcat "$d/x.log.3.zst" && zcat "$d/x.log.2.gz" && cat "$d/x.log.1" "$d/x.log"; }
stream | by_status_recount >"$T/recount"
bytes=$(stream | wc -c)
lines=$(stream | wc -l)
check "the series holds the bundled log ($lines lines)" [ "$lines" -eq 10000 ]
by_status_rules none "\"$d/x.log*\"" >"$T/standalone.yaml"

# standalone NAME WORKERS [ARGS...]: one run into $T/NAME; its output in $T/NAME.out
standalone() {
    local name=$1 w=$2
    shift 2
    "$MASTER" --standalone --once --config "$T/standalone.yaml" --workers "$w" \
        --export-dir "$T/$name" "$@" >"$T/$name.out" 2>&1
}
for w in 1 4; do
    standalone "sa$w" "$w"
    check "standalone, $w worker(s): exit status 0" [ $? -eq 0 ]
    check "standalone, $w worker(s): 10000 lines (1 bad), $bytes bytes (decompressed)" \
        grep -q "^job web: 10000 lines (1 bad), $bytes bytes" "$T/sa$w.out"
    check "standalone, $w worker(s): by_status equals the recount" report_ok "$T/sa$w/web/by_status.csv"
done

gzip -k "$d/x.log.1" # a compressed copy next to its original: counted once
standalone copy 2
check "with a compressed copy: 10000 lines (1 bad)" \
    grep -q "^job web: 10000 lines (1 bad), $bytes bytes" "$T/copy.out"
check "with a compressed copy: by_status equals the recount" report_ok "$T/copy/web/by_status.csv"
check "the copy is named as one" grep -q "x.log.1.gz is a compressed copy of $d/x.log.1" "$T/copy.out"
rm "$d/x.log.1.gz"

# stdin: the same stream through a pipe
stream | "$MASTER" --standalone --once --config "$T/standalone.yaml" --stdin web \
    --export-dir "$T/stdin" >"$T/stdin.out" 2>&1
check "stdin: exit status 0" [ $? -eq 0 ]
check "stdin: 10000 lines (1 bad), $bytes bytes" \
    grep -q "^job web: 10000 lines (1 bad), $bytes bytes" "$T/stdin.out"
check "stdin: by_status equals the recount" report_ok "$T/stdin/web/by_status.csv"
check "stdin: the bad line is shown in stdin" grep -q "bad lines: 1 in stdin" "$T/stdin.out"
"$MASTER" --standalone --once --config "$T/standalone.yaml" --stdin nope </dev/null \
    >"$T/nope.out" 2>&1
check "stdin: an unknown job is refused (exit 2, its name and the jobs)" \
    sh -c "[ $? -eq 2 ] && grep -q \"no job 'nope'.*(its jobs: web)\" '$T/nope.out'"
"$MASTER" --standalone --config "$T/standalone.yaml" --stdin web </dev/null >"$T/once.out" 2>&1
check "stdin: without --once, refused (exit 2)" \
    sh -c "[ $? -eq 2 ] && grep -q 'use it with --standalone --once' '$T/once.out'"
python3 - "$MASTER" "$T/standalone.yaml" >"$T/tty.out" 2>&1 <<'PY'
import os, pty, subprocess, sys
master, slave = pty.openpty()
r = subprocess.run([sys.argv[1], "--standalone", "--once", "--config", sys.argv[2], "--stdin",
                    "web"], stdin=slave, capture_output=True, text=True, timeout=20)
print(r.returncode, r.stderr)
PY
check "stdin: a terminal is refused with a hint" \
    grep -q "^2 .*standard input is a terminal; pipe the job's log in, e.g. zcat" "$T/tty.out"

# the cluster: one master, one slave, small leases
set -- $(free_ports 1)
P1=$1
by_status_rules "$P1" "\"$d/x.log*\"" >"$T/rules.yaml"
start m1 "$MASTER" --config "$T/rules.yaml" --name m1 --listen "127.0.0.1:$P1" \
    --token-file "$T/token" --data-dir "$T/m1/data" --export-dir "$T/m1/export" \
    --lease-bytes 64k
start s1 "$SLAVE" --primary "http://127.0.0.1:$P1" --name s1 --token-file "$T/token" \
    --spool-dir "$T/s1"
if ! wait_for 90 settled "$P1" "$bytes"; then
    fail "the cluster did not read all $bytes decompressed bytes within 90 s"
    api "$P1" /v1/status
    finish
fi
pass
check "cluster: by_status equals the recount" report_ok "$T/m1/export/web/by_status.csv"
check "cluster: 10000 lines, 1 bad" [ "$(json "$P1" /v1/status \
    '[(x["lines"], x["bad_lines"]) for x in j["merger"]["jobs"]]')" = "[(10000, 1)]" ]
sizes=$(json "$P1" /v1/status '" ".join("%s:%s:%s" % (s["source"].rsplit("/", 1)[1], s["offset"],
    s["size"]) for s in j["scheduler"]["jobs"][0]["sources"] if s["kind"] == "read"
    and s["source"].endswith(("gz", "zst")))')
want="x.log.2.gz:$(zcat "$d/x.log.2.gz" | wc -c):$(zcat "$d/x.log.2.gz" | wc -c)"
want="$want x.log.3.zst:$(zstdcat "$d/x.log.3.zst" | wc -c):$(zstdcat "$d/x.log.3.zst" | wc -c)"
check "cluster: archives committed to their decompressed size ($sizes; want $want)" \
    [ "$(printf '%s\n' $sizes | sort | xargs)" = "$want" ]
# an archive copied in while the cluster reads: its first part is read up to the last whole
# line (the slave completes the lease with the reason), the rest once it is whole
sed -n '1,3000p' "$LOG" | gzip >"$T/new.gz"
half=$(($(wc -c <"$T/new.gz") * 2 / 5))
head -c "$half" "$T/new.gz" >"$d/x.log.4.gz"
check "cluster: the slave reads a partial archive up to its end, and says so" wait_for 30 \
    grep -q "x.log.4.gz: slave s1 could not read it: .*x.log.4.gz: damaged gzip data at decompressed byte" "$T/m1.log"
tail -c +$((half + 1)) "$T/new.gz" >>"$d/x.log.4.gz"
{ stream && sed -n '1,3000p' "$LOG"; } | by_status_recount >"$T/recount" # lines 1-3000 again
bytes=$((bytes + $(zcat "$T/new.gz" | wc -c)))
if ! wait_for 60 settled "$P1" "$bytes"; then
    fail "the cluster did not read the archive once whole"
    finish
fi
check "cluster: with the archive copied in, by_status equals the recount" \
    report_ok "$T/m1/export/web/by_status.csv"
check "cluster: 13000 lines, 1 bad" [ "$(json "$P1" /v1/status \
    '[(x["lines"], x["bad_lines"]) for x in j["merger"]["jobs"]]')" = "[(13000, 1)]" ]
# ranges merged: a frame of several ranges (docs/CLUSTER.md) carries several leases' ranges
ranges=$(json "$P1" /v1/status '(j["merger"]["partials"]["merged"] +
    j["merger"]["combined"]["ranges"] - j["merger"]["combined"]["frames"])')
check "cluster: one range per 64 KiB lease at least, archives too ($ranges ranges)" \
    [ "$ranges" -ge $((bytes / 65536)) ]
stop s1
stop m1

# a damaged archive: x.log.2.gz cut in the middle of its second member
rm "$d/x.log.4.gz"
full=$(wc -c <"$d/x.log.2.gz")
head -c $((full - 3000)) "$d/x.log.2.gz" >"$T/cut.gz" && mv "$T/cut.gz" "$d/x.log.2.gz"
python3 - "$d/x.log.2.gz" >"$T/prefix" <<'PY'
import sys, zlib
data, out = open(sys.argv[1], "rb").read(), b""
while data:  # every member, as far as it decodes
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out += d.decompress(data)
    data = d.unused_data if d.eof else b""
sys.stdout.buffer.write(out[: out.rfind(b"\n") + 1])  # its whole lines
PY
dlines=$(($(zstdcat "$d/x.log.3.zst" | wc -l) + $(wc -l <"$T/prefix") + 5000))
standalone damaged 2
check "damaged: exit status 1" [ $? -eq 1 ]
check "damaged: the file and the decompressed offset are named" \
    grep -q "$d/x.log.2.gz: damaged gzip data at decompressed byte [0-9]* (near compressed byte [0-9]*): the file ends inside a member" "$T/damaged.out"
check "damaged: the lines before the damage count ($dlines lines)" \
    grep -q "^job web: $dlines lines" "$T/damaged.out"
finish
