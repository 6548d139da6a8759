#!/bin/sh
# rotate_compress.sh - rotation that compresses old files, while the cluster reads.
#
# A writer appends the bundled log to access.log in 25 chunks while a rotation every 6
# chunks does what logrotate does with `create`, `compress` and `delaycompress`:
# access.log.N.gz -> access.log.N+1.gz, access.log.1 -> access.log.2 compressed to
# access.log.2.gz, access.log -> access.log.1, a new empty access.log. The cluster (one
# master, one slave, 1 s rounds) follows the file source access.log: each rotated file is
# found by its inode as access.log.1 and read to its end before it is compressed, so
# every line is counted once (docs/CLUSTER.md "Tasks, instances, offsets"; a glob over
# the series: rotate_glob.sh). Then a standalone
# run over the series the rotations left (access.log*: plain files and .gz archives)
# must count every line once too.
# Oracle: mawk over the bundled log (by_status_recount).
. "$(dirname "$0")/lib.sh"
command -v gzip >/dev/null 2>&1 || { echo "SKIP: gzip is not installed"; exit 77; }

d=$T/logs
mkdir -p "$d"
: >"$d/access.log"
by_status_recount "$LOG" >"$T/recount"
set -- $(free_ports 1)
P1=$1
by_status_rules "$P1" "\"$d/access.log\"" >"$T/rules.yaml"
start m1 "$MASTER" --config "$T/rules.yaml" --name m1 --listen "127.0.0.1:$P1" \
    --token-file "$T/token" --data-dir "$T/m1/data" --export-dir "$T/m1/export"
start s1 "$SLAVE" --primary "http://127.0.0.1:$P1" --name s1 --token-file "$T/token" \
    --spool-dir "$T/s1"

i=0
while [ $i -lt 25 ]; do
    sed -n "$((i * 400 + 1)),$((i * 400 + 400))p" "$LOG" >>"$d/access.log"
    i=$((i + 1))
    [ $((i % 6)) -eq 0 ] && rotate_series "$d"
    sleep 0.4
done
check "the rotations left 3 archives (access.log.2.gz to .4.gz)" \
    [ "$(ls "$d" | grep -c '\.gz$')" -eq 3 ]

# counted: the master counted every line, no lease is out, nothing is left to export
counted() {
    [ "$(json "$P1" /v1/status '[(x["lines"], x["bad_lines"]) for x in j["merger"]["jobs"]]')" = \
        "[(10000, 1)]" ] || return 1
    settled "$P1" "$(wc -c <"$d/access.log")"
}
if ! wait_for 60 counted; then
    fail "the cluster did not count the 10000 lines once within 60 s: $(json "$P1" /v1/status \
        '[(x["lines"], x["bad_lines"]) for x in j["merger"]["jobs"]]')"
    finish
fi
pass
check "cluster: by_status equals the recount" report_ok "$T/m1/export/web/by_status.csv"
check "the slave followed 4 rotations to their ends" \
    [ "$(grep -c 'read to its end at' "$T/s1.log")" -eq 4 ]
check "no line was lost to a rotation" sh -c "! grep -q 'are lost' '$T/s1.log'"

# standalone over what the rotations left: plain files and gzip archives, once each
by_status_rules none "\"$d/access.log*\"" >"$T/standalone.yaml"
"$MASTER" --standalone --once --config "$T/standalone.yaml" --export-dir "$T/sa" >"$T/sa.out" 2>&1
bytes=$(wc -c <"$LOG")
check "standalone over the series: 10000 lines (1 bad), $bytes bytes" \
    grep -q "^job web: 10000 lines (1 bad), $bytes bytes" "$T/sa.out"
check "standalone over the series: by_status equals the recount" report_ok "$T/sa/web/by_status.csv"
finish
