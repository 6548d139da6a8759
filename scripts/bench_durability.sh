#!/usr/bin/env bash
# bench_durability.sh - what durability costs: cluster throughput by --fsync mode, and recovery time.
#
#   scripts/bench_durability.sh BENCH_DIR [LINES]
#
# Generates LINES (default 2000000) synthetic combined-log lines once with
# scripts/gen_log.c (kept in BENCH_DIR as scripts/bench.sh keeps them), then:
#
# 1. Throughput: scripts/bench_cluster.sh (primary + secondary + 2 slaves,
#    example rules, best of RUNS) once per --fsync mode (never, batch,
#    always) on both masters, with small leases (--lease-bytes LEASE,
#    default 4M) so that the masters journal and commit many frames.
# 2. Recovery: a primary alone (one master, example rules) with one slave
#    reads the log with --checkpoint-every 1h (so the state is all journal),
#    then the primary is killed with SIGKILL and started again: the time it
#    reports in its "recovered:" line, and the journal's size. Then a clean
#    stop (SIGTERM writes a checkpoint) and a start again: recovery from the
#    checkpoint alone. Then both: a checkpoint, LINES more lines appended
#    (journal), SIGKILL, start: checkpoint plus journal.
#
# Environment: ABBEY_BUILDDIR (default ./build), RUNS (default 1), LEASE.
# Every process started is stopped on exit.
set -euo pipefail

[ $# -ge 1 ] || { sed -n '2,5p' "$0" >&2; exit 2; }
SRC=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=$(mkdir -p "$1" && cd "$1" && pwd)
LINES=${2:-2000000}
B=${ABBEY_BUILDDIR:-$SRC/build}
MASTER=$B/master/abbey-master
SLAVE=$B/slave/abbey-slave
LEASE=${LEASE:-4M}
export RUNS=${RUNS:-1}
say() { echo "bench_durability.sh: $*" >&2; }
die() { say "$*"; exit 1; }
[ -x "$MASTER" ] && [ -x "$SLAVE" ] || die "build first ($MASTER, $SLAVE)"

# ---- the log (as scripts/bench.sh makes it) ----
GEN=$BENCH_DIR/gen_log
if [ ! -x "$GEN" ] || [ "$SRC/scripts/gen_log.c" -nt "$GEN" ]; then
    gcc -O2 -std=gnu11 -Wall -Wextra -o "$GEN" "$SRC/scripts/gen_log.c" -lm
fi
LOG=$BENCH_DIR/access-$LINES.log
if [ ! -f "$LOG" ] || [ "$(wc -l <"$LOG")" != "$LINES" ]; then
    say "generating $LINES lines into $LOG"
    "$GEN" "$LINES" >"$LOG"
fi
BYTES=$(stat -c %s "$LOG")

# ---- 1. throughput by fsync mode ----
OUT=$BENCH_DIR/durability
mkdir -p "$OUT"
for mode in never batch always; do
    say "cluster with --fsync $mode, --lease-bytes $LEASE"
    MASTER_FLAGS="--fsync $mode" PRIMARY_FLAGS="--lease-bytes $LEASE" \
        ABBEY_MASTER=$MASTER ABBEY_SLAVE=$SLAVE \
        "$SRC/scripts/bench_cluster.sh" "$BENCH_DIR" "$LOG" "$LINES" >"$OUT/cluster-$mode.txt"
done

# ---- 2. recovery ----
PIDS=""
stop_all() {
    for p in $PIDS; do kill -KILL "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    PIDS=""
}
trap stop_all EXIT
W=$OUT/recovery
rm -rf "$W"
mkdir -p "$W"
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$W/token"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cp "$LOG" "$W/input.log"
{
    echo "masters:"
    echo "  - {name: m1, url: \"http://127.0.0.1:$PORT\"}"
    mawk -v src="$W/input.log" '
        /^masters:/ { skip = 1; next }
        skip && /^[^ #-]/ { skip = 0 }
        skip { next }
        /^ *- .*apache_combined_10k\.log/ { print "      - " src; next }
        { sub(/round: 10s/, "round: 1s"); print }' "$SRC/examples/apache.yaml"
} >"$W/rules.yaml"
"$MASTER" --check --config "$W/rules.yaml" >/dev/null || die "could not make $W/rules.yaml"
api() { curl -sf -H "Authorization: Bearer $(cat "$W/token")" "http://127.0.0.1:$PORT$1"; }
start_primary() {
    "$MASTER" --config "$W/rules.yaml" --name m1 --listen "127.0.0.1:$PORT" \
        --token-file "$W/token" --data-dir "$W/data" --export-dir "$W/export" \
        --lease-bytes "$LEASE" --checkpoint-every 1h >>"$W/m1.log" 2>&1 &
    MPID=$!
    PIDS="$PIDS $MPID"
    for _ in $(seq 600); do api /v1/status >/dev/null 2>&1 && return 0; sleep 0.05; done
    die "the primary did not start (see $W/m1.log)"
}
# committed: every byte of input.log committed at the primary, no lease left
wait_committed() {
    local size
    size=$(stat -c %s "$W/input.log")
    for _ in $(seq 6000); do
        api /v1/status 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)["scheduler"]["jobs"]
off = sum(s["offset"] for j in d for s in j["sources"] if s["kind"] == "read")
sys.exit(0 if off == int(sys.argv[1]) and not any(j["leases"] for j in d) else 1)' "$size" && return 0
        sleep 0.1
    done
    die "not committed in time (see $W/*.log)"
}
last_recovery() { grep 'abbey-master\[primary m1\]: recovered:' "$W/m1.log" | tail -n 1 | sed 's/^.*recovered: //'; }
sizes() { # journal and checkpoint bytes in the data dir
    echo "journal $(cat "$W"/data/merger-*.journal 2>/dev/null | wc -c) B," \
        "checkpoint $(cat "$W"/data/merger-*.ckpt 2>/dev/null | wc -c) B"
}

start_primary
"$SLAVE" --primary "http://127.0.0.1:$PORT" --name s1 --token-file "$W/token" --workers 2 \
    --spool-dir "$W/spool" >"$W/s1.log" 2>&1 &
PIDS="$PIDS $!"
wait_committed
sleep 2 # the last frames' commits
R0=$(sizes)
kill -KILL "$MPID"; wait "$MPID" 2>/dev/null || true
start_primary
R1="$(last_recovery) [state on disk before: $R0]"
kill -TERM "$MPID"; wait "$MPID" 2>/dev/null || true
R0=$(sizes)
start_primary
R2="$(last_recovery) [state on disk before: $R0]"
cat "$LOG" >>"$W/input.log" # as much again, after the checkpoint
wait_committed
sleep 2
R0=$(sizes)
kill -KILL "$MPID"; wait "$MPID" 2>/dev/null || true
start_primary
R3="$(last_recovery) [state on disk before: $R0]"
stop_all

# ---- the table ----
echo "durability benchmark: $LINES lines, $BYTES bytes, leases of $LEASE, best of $RUNS"
printf "%-10s %10s %12s %10s\n" "--fsync" "settled s" "lines/s" "vs never"
never=""
for mode in never batch always; do
    se=$(sed -n 's/^cluster, start to settled *\([0-9.]*\).*/\1/p' "$OUT/cluster-$mode.txt")
    [ -n "$never" ] || never=$se
    awk -v m="$mode" -v se="$se" -v l="$LINES" -v n="$never" \
        'BEGIN { printf "%-10s %10s %12.0f %10.2f\n", m, se, l / se, n / se }'
done
echo "recovery of the primary's merger (example rules, $LINES lines per pass):"
echo "  kill -9, journal only:        $R1"
echo "  clean stop, checkpoint only:  $R2"
echo "  kill -9, checkpoint + journal of $LINES more lines: $R3"
