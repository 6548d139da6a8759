#!/bin/sh
# rotate_glob.sh - a glob over a rotating series (access.log*), counted once by the cluster.
#
# The writer and the rotations of rotate_compress.sh (the bundled log appended to access.log
# in 25 chunks; every 6 chunks logrotate's create + compress + delaycompress, rotate_series in
# lib.sh: access.log.N.gz -> access.log.N+1.gz, access.log.1 -> access.log.2 compressed to
# access.log.2.gz, access.log -> access.log.1, a new empty access.log), but the source is the glob
# "$d/access.log*": every name of the series is listed at every expansion, the renamed file
# and its compressed copy included. Each file must be read once, by its identity (device and
# inode; an archive is recognised as the copy of the file it compresses by its first 4 KiB:
# docs/CLUSTER.md "Globs over a rotating series"). Run three times: as is; with the primary
# killed (SIGKILL) and started again on the same data dir twice between rotations (its
# scheduler and merger recover from their journals and checkpoints); and without
# delaycompress, each rotated file compressed at once, before the slave read the lines
# written just before the rotation: those are read from the archive, which continues it.
# Oracle: mawk over the bundled log (by_status_recount): lines and by_status once each.
. "$(dirname "$0")/lib.sh"
command -v gzip >/dev/null 2>&1 || { echo "SKIP: gzip is not installed"; exit 77; }
by_status_recount "$LOG" >"$T/recount"

lines_of() { json "$1" /v1/status '[(x["lines"], x["bad_lines"]) for x in j["merger"]["jobs"]]'; }
# quiet PORT: all 10000 lines (or more) merged, no lease out, nothing left to export
quiet() {
    api "$1" /v1/status | python3 -c '
import json, sys
j = json.load(sys.stdin)
m = j["merger"]["jobs"][0]
ok = m["lines"] >= 10000 and not m["pending_rounds"] and not m["period_reports_stale"]
ok = ok and not any(job["leases"] for job in j["scheduler"]["jobs"])
sys.exit(0 if ok else 1)'
}

# series NAME RESTARTS [nodelay]: one master (the primary) and one slave over the glob while
# the writer appends and rotates (rotate_series DIR [nodelay]); with RESTARTS=yes the primary
# is killed and started again after chunks 13 and 20 (after the second and third rotations)
series() {
    name=$1 restarts=$2 delay=${3:-}
    d=$T/$name/logs
    mkdir -p "$d"
    : >"$d/access.log"
    set -- $(free_ports 1)
    port=$1
    by_status_rules "$port" "\"$d/access.log*\"" >"$T/$name/rules.yaml"
    mstart() { # the primary, as ${name}_m$1
        start "${name}_m$1" "$MASTER" --config "$T/$name/rules.yaml" --name m1 \
            --listen "127.0.0.1:$port" --token-file "$T/token" --data-dir "$T/$name/data" \
            --export-dir "$T/$name/export" --checkpoint-every 2s
    }
    mstart 0
    start "${name}_s1" "$SLAVE" --primary "http://127.0.0.1:$port" --name s1 \
        --token-file "$T/token" --spool-dir "$T/$name/spool"
    runs=0
    i=0
    while [ $i -lt 25 ]; do
        sed -n "$((i * 400 + 1)),$((i * 400 + 400))p" "$LOG" >>"$d/access.log"
        i=$((i + 1))
        [ $((i % 6)) -eq 0 ] && rotate_series "$d" $delay
        if [ "$restarts" = yes ] && { [ $i -eq 13 ] || [ $i -eq 20 ]; }; then
            eval "p=\${PID_${name}_m$runs}"
            kill -KILL "$p"
            wait "$p" 2>/dev/null
            runs=$((runs + 1))
            mstart $runs
            wait_for 10 api "$port" /v1/status >/dev/null ||
                fail "$name: the primary did not answer after restart $runs"
        fi
        sleep 0.4
    done
    want=3 # access.log.2.gz to .4.gz; without delaycompress .1.gz to .4.gz
    [ "$delay" = nodelay ] && want=4
    check "$name: the rotations left $want archives" [ "$(ls "$d" | grep -c '\.gz$')" -eq $want ]
    if ! wait_for 60 quiet "$port"; then
        fail "$name: the cluster did not settle with 10000 lines within 60 s: $(lines_of "$port")"
        return
    fi
    sleep 3 # rounds go on: whatever would be read a second time is read by now
    wait_for 20 quiet "$port"
    check "$name: 10000 lines (1 bad) counted once, not $(lines_of "$port")" \
        [ "$(lines_of "$port")" = "[(10000, 1)]" ]
    check "$name: by_status equals the recount" report_ok "$T/$name/export/web/by_status.csv"
}

series plain no
series restart yes
series nodelay no nodelay
check "nodelay: archives took over files compressed before their ends were read" \
    grep -q "access.log.1.gz holds the first 4096 bytes of .*/access.log (no longer listed)" \
    "$T/nodelay_m0.log"
finish
