#!/usr/bin/env bash
# bench_cluster.sh - the example rules through a local abbey cluster against standalone, same input.
#
#   scripts/bench_cluster.sh BENCH_DIR LOG LINES
#
# Called by scripts/bench.sh (CLUSTER=1, the default when abbey-slave is
# built); runs alone too. Splits LOG into 4 files by lines (kept in
# BENCH_DIR/parts-LINES/ while LOG is unchanged), then times, best of RUNS,
# interleaved:
#   standalone   abbey-master --standalone --once --workers 2 over the 4 files
#   cluster      a primary (m1, weight 2), a secondary (m2, weight 1) and two
#                slaves (--workers 1 each: the same 2 cores) on 127.0.0.1,
#                free ports, a generated token, 1 s rounds, the same 4 files
# The cluster is timed from starting the primary until settled: every byte
# of the 4 files committed at the primary with no one-shot lease left (sticky
# ones are held for good), and every
# master has exported the rounds holding each file's last range (the idea of
# tests/cluster/lib.sh's settled, polled every 50 ms by one python process).
# Also measured: first lease to last completion (as seen by that poll), and
# the frame bytes the masters received (their status "frame_bytes") per byte
# read, and the CPU seconds of both cases in each round (standalone's from the
# shell, the cluster's four processes' from /proc at settled): on a machine
# shared with other work the ratio of CPU seconds is steadier than the wall
# clock's. Each report the cluster exports (from the master owning its group)
# must equal the standalone run's byte for byte, or the script fails. Every
# process started is stopped on exit, failure included.
#
# Environment: RUNS (default 3), ABBEY_MASTER, ABBEY_SLAVE (the binaries),
# CLUSTER_TIMEOUT (seconds a cluster run may take to settle, default 600),
# MASTER_FLAGS (extra flags for both masters, e.g. "--fsync always"),
# PRIMARY_FLAGS (extra flags for the primary only, e.g. "--lease-bytes 4M"),
# KEEP=1 keeps the last cluster run's dir.
set -euo pipefail

[ $# -eq 3 ] || { sed -n '2,4p' "$0" >&2; exit 2; }
SRC=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=$1 LOG=$2 LINES=$3
RUNS=${RUNS:-3}
ABBEY_MASTER=${ABBEY_MASTER:?set ABBEY_MASTER}
ABBEY_SLAVE=${ABBEY_SLAVE:?set ABBEY_SLAVE}
CLUSTER_TIMEOUT=${CLUSTER_TIMEOUT:-600}
read -r -a MFLAGS <<<"${MASTER_FLAGS:-}"
read -r -a PFLAGS <<<"${PRIMARY_FLAGS:-}"
NPARTS=4

die() { echo "bench_cluster.sh: $*" >&2; exit 1; }
say() { echo "bench_cluster.sh: $*" >&2; }
for tool in python3 curl split; do
    command -v "$tool" >/dev/null || die "$tool not found"
done
[ -x "$ABBEY_MASTER" ] || die "no $ABBEY_MASTER"
[ -x "$ABBEY_SLAVE" ] || die "no $ABBEY_SLAVE"
[ -f "$LOG" ] || die "no $LOG"

# ---- processes: every one started is recorded and stopped on exit ----
PIDS=""
stop_all() {
    local p i
    for p in $PIDS; do kill -TERM "$p" 2>/dev/null || true; done
    for p in $PIDS; do
        i=0
        while kill -0 "$p" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    PIDS=""
}
trap stop_all EXIT
trap 'exit 130' INT TERM
# spawn LOGFILE COMMAND...: run in the background, remember the pid
spawn() {
    local log=$1; shift
    "$@" >"$log" 2>&1 &
    PIDS="$PIDS $!"
}
# cpu_of: "name=seconds ..." CPU time (user + sys) of each process running now
cpu_of() {
    local p
    for p in $PIDS; do
        awk -v tck="$(getconf CLK_TCK)" -v n="$(basename "$(readlink /proc/"$p"/fd/1)" .log)" \
            '{ sub(/^.*\) /, ""); printf "%s=%.2f ", n, ($12 + $13) / tck }' "/proc/$p/stat" 2>/dev/null || true
    done
}

# ---- the input: LOG in 4 files by lines ----
PARTS=$BENCH_DIR/parts-$LINES
stamp="$(stat -c '%s %Y' "$LOG") $NPARTS"
if [ -f "$PARTS/stamp" ] && [ "$(cat "$PARTS/stamp")" = "$stamp" ]; then
    say "reusing $PARTS"
else
    say "splitting $LOG into $NPARTS files in $PARTS"
    rm -rf "$PARTS"
    mkdir -p "$PARTS"
    split -d -a 1 -l $(((LINES + NPARTS - 1) / NPARTS)) --additional-suffix=.log "$LOG" "$PARTS/part-"
    echo "$stamp" >"$PARTS/stamp"
fi
mapfile -t FILES < <(ls "$PARTS"/part-*.log)
[ ${#FILES[@]} -eq $NPARTS ] || die "expected $NPARTS parts in $PARTS, found ${#FILES[@]}"
BYTES=$(cat "${FILES[@]}" | wc -c)
[ "$BYTES" = "$(stat -c %s "$LOG")" ] || die "the parts do not add up to $LOG"
cat "${FILES[@]}" >/dev/null   # warm the page cache

# ---- the rules: examples/apache.yaml's jobs, these sources, 1 s rounds ----
W=$BENCH_DIR/cluster
mkdir -p "$W"
jobs_yaml() {
    local src=""
    for f in "${FILES[@]}"; do src="$src      - $f"$'\n'; done
    mawk -v src="${src%$'\n'}" '
        /^masters:/ { skip = 1; next }
        skip && /^[^ #-]/ { skip = 0 }
        skip { next }
        /^ *- .*apache_combined_10k\.log/ { print src; n++; next }
        { if (sub(/round: 10s/, "round: 1s")) r++; print }
        END { if (n != 1 || r != 1) exit 1 }' "$SRC/examples/apache.yaml"
}
jobs_yaml >"$W/standalone.yaml" ||
    die "could not rewrite examples/apache.yaml (did its sources: or round: change?)"
# the masters as in examples/apache.yaml (m1 weight 2, m2 weight 1); ports per run
cluster_yaml() { # P1 P2
    echo "masters:"
    echo "  - {name: m1, url: \"http://127.0.0.1:$1\", weight: 2}"
    echo "  - {name: m2, url: \"http://127.0.0.1:$2\", weight: 1}"
    cat "$W/standalone.yaml"
}

free_ports() {
    python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))'
}

# The poll: waits for the primary, then (after the script starts the rest)
# for settled; prints "first_lease committed settled frame_received
# frame_accepted ranges" (times in seconds since T0 from the environment).
MONITOR='
import json, os, sys, time, urllib.request
mode, token = sys.argv[1], sys.argv[2]
ports = sys.argv[3].split(","); total = int(sys.argv[4]); limit = float(sys.argv[5])
t0 = float(os.environ["T0"])
def get(port, path):
    rq = urllib.request.Request("http://127.0.0.1:%s%s" % (port, path),
                                headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(rq, timeout=5) as r:
        return json.load(r)
def fail(msg):
    print(msg, file=sys.stderr); sys.exit(1)
if mode == "up":
    while time.time() - t0 < 30:
        try:
            get(ports[0], "/v1/status"); sys.exit(0)
        except Exception:
            time.sleep(0.01)
    fail("the primary did not answer within 30 s")
first = committed = None
while True:
    now = time.time()
    if now - t0 > limit:
        fail("not settled after %.0f s" % limit)
    try:
        st = get(ports[0], "/v1/status")
    except Exception:
        time.sleep(0.05); continue
    jobs = st["scheduler"]["jobs"]
    done = sum(s["offset"] for j in jobs for s in j["sources"] if s.get("kind") == "read")
    active = [l for j in jobs for l in j["leases"]]
    if first is None and (active or done > 0):
        first = now
    # (sticky leases are held for good: docs/CLUSTER.md "Sticky leases")
    if done == total and not [l for l in active if not l.get("sticky")]:
        committed = now; break
    time.sleep(0.05)
# the rounds holding each source'"'"'s last range, then every master exported them
sizes = {s["source"]: s["offset"] for j in jobs for s in j["sources"] if s.get("kind") == "read"}
need = None
while need is None:
    if time.time() - t0 > limit:
        fail("the last ranges never showed in a closed round")
    last = {}
    nranges = 0
    for r in get(ports[0], "/v1/rounds?job=web&after=0")["rounds"]:
        nranges += len(r["ranges"])
        for g in r["ranges"]:
            src = g["source"].split("#")[0]
            if src in sizes and g["end"] == sizes[src]:
                last[src] = r["round"]
    if len(last) == len(sizes):
        need = max(last.values())
    else:
        time.sleep(0.05)
while True:
    if time.time() - t0 > limit:
        fail("round %d not exported by every master" % need)
    ok = True
    for p in ports:
        m = get(p, "/v1/status")["merger"]
        if not all((j["last_exported_round"] or 0) >= need and not j["pending_rounds"]
                   for j in m["jobs"]):
            ok = False; break
    if ok: break
    time.sleep(0.05)
settled = time.time()
fr = fa = 0
for p in ports:
    fb = get(p, "/v1/status")["merger"]["frame_bytes"]
    fr += fb["received"]; fa += fb["accepted"]
print("%.3f %.3f %.3f %d %d %d" % (first - t0, committed - t0, settled - t0, fr, fa,
                                   nranges))
'

now() { date +%s.%N; }
declare -A BEST
RES=$W/results
: >"$RES"
: >"$RES.cpu"
: >"$RES.sa"
# standalone_once N: --workers 2 over the 4 files
standalone_once() {
    local t0 t1 dt TIMEFORMAT='%3U %3S'
    rm -rf "$W/sa"
    t0=$(now)
    { time "$ABBEY_MASTER" --standalone --once --config "$W/standalone.yaml" --workers 2 \
        --export-dir "$W/sa" >"$W/sa.out" 2>&1; } 2>"$W/sa.cpu" ||
        { cat "$W/sa.out" >&2; die "standalone failed"; }
    t1=$(now)
    dt=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    echo "$1 $dt $(awk '{ printf "%.2f", $1 + $2 }' "$W/sa.cpu")" >>"$RES.sa"
    grep -q "^job web: $LINES lines (0 bad)" "$W/sa.out" ||
        die "standalone did not read $LINES good lines: $(cat "$W/sa.out")"
    say "$(printf '  %-22s %8s s' "standalone --workers 2" "$dt")"
    if [ -z "${BEST[sa]:-}" ] || awk -v a="${BEST[sa]}" -v b="$dt" 'BEGIN { exit !(b < a) }'; then
        BEST[sa]=$dt
        rm -rf "$W/sa.best" && cp -r "$W/sa" "$W/sa.best"
    fi
}
# cluster_once N: one cluster run in $W/run-N, stopped at the end
cluster_once() {
    local d=$W/run-$1 p1 p2 t0 m s r
    rm -rf "$d"
    mkdir -p "$d"
    head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$d/token"
    chmod 600 "$d/token"
    read -r p1 p2 < <(free_ports)
    cluster_yaml "$p1" "$p2" >"$d/cluster.yaml"
    for m in m1 m2; do mkdir -p "$d/$m/data" "$d/$m/export"; done
    t0=$(now)
    export T0=$t0
    spawn "$d/m1.log" "$ABBEY_MASTER" --config "$d/cluster.yaml" --name m1 \
        --listen "127.0.0.1:$p1" --token-file "$d/token" \
        --data-dir "$d/m1/data" --export-dir "$d/m1/export" ${MFLAGS[@]+"${MFLAGS[@]}"} \
        ${PFLAGS[@]+"${PFLAGS[@]}"}
    python3 -c "$MONITOR" up "$(cat "$d/token")" "$p1" 0 30 || die "cluster: see $d/m1.log"
    spawn "$d/m2.log" "$ABBEY_MASTER" --primary "http://127.0.0.1:$p1" --name m2 \
        --listen "127.0.0.1:$p2" --token-file "$d/token" \
        --data-dir "$d/m2/data" --export-dir "$d/m2/export" ${MFLAGS[@]+"${MFLAGS[@]}"}
    for s in s1 s2; do
        mkdir -p "$d/$s"
        spawn "$d/$s.log" "$ABBEY_SLAVE" --primary "http://127.0.0.1:$p1" --name "$s" \
            --token-file "$d/token" --workers 1 --spool-dir "$d/$s"
    done
    r=$(python3 -c "$MONITOR" settle "$(cat "$d/token")" "$p1,$p2" "$BYTES" "$CLUSTER_TIMEOUT") || {
        tail -n 5 "$d"/*.log >&2
        die "cluster run $1 did not settle (files in $d)"
    }
    echo "$1 $(cpu_of)" >>"$RES.cpu"
    stop_all   # the masters export once more as they stop
    # r: first_lease committed settled frame_received frame_accepted ranges
    say "$(echo "$r" | awk '{ printf "  %-22s %8.3f s  (first lease %.3f s, all committed %.3f s, %d ranges, %d frame bytes)", "cluster 2 slaves x 1", $3, $1, $2, $6, $4 }')"
    echo "$1 $r" >>"$RES"
    if [ -z "${BEST[cl]:-}" ] ||
       awk -v a="${BEST[cl]}" -v b="$(echo "$r" | cut -d' ' -f3)" 'BEGIN { exit !(b < a) }'; then
        BEST[cl]=$(echo "$r" | cut -d' ' -f3)
        BEST_RUN=$1
    fi
}

# compare RUN: each standalone report equals the one of the master that exported it
compare() {
    local d=$W/run-$1 f r n m bad=0
    for f in "$W"/sa.best/web/*; do
        [ -f "$f" ] || continue
        r=$(basename "$f")
        n=0 m=""
        for x in m1 m2; do [ -f "$d/$x/export/web/$r" ] && n=$((n + 1)) && m=$x; done
        if [ "$n" -ne 1 ]; then
            say "FAIL: $r exported by $n masters, expected exactly one"; bad=1; continue
        fi
        cmp "$f" "$d/$m/export/web/$r" >&2 || { say "FAIL: $r from $m differs from standalone"; bad=1; }
    done
    [ "$bad" = 0 ] || die "cluster run $1: reports differ from the standalone run's (kept in $d)"
}

say "cluster vs standalone: $NPARTS files, $LINES lines, $BYTES bytes, best of $RUNS"
for ((i = 1; i <= RUNS; i++)); do
    say "round $i of $RUNS"
    standalone_once "$i"
    cluster_once "$i"
done
compare "$BEST_RUN"
nrep=$(find "$W/sa.best/web" -maxdepth 1 -type f | wc -l)
say "every report ($nrep) of cluster run $BEST_RUN equals the standalone run's"
for ((i = 1; i <= RUNS; i++)); do
    [ "$i" = "$BEST_RUN" ] && [ "${KEEP:-0}" = 1 ] || [ "$i" = "$BEST_RUN" ] || rm -rf "$W/run-$i"
done
[ "${KEEP:-0}" = 1 ] || rm -rf "$W/run-$BEST_RUN/m1/data" "$W/run-$BEST_RUN/m2/data" \
    "$W/run-$BEST_RUN/s1" "$W/run-$BEST_RUN/s2"

# ---- the table ----
echo
echo "cluster benchmark: example rules, $LINES lines in $NPARTS files, $BYTES bytes, best of $RUNS"
echo "cluster: primary m1 (weight 2) + secondary m2 (weight 1) + 2 slaves x 1 worker, 1 s rounds, 127.0.0.1"
echo "extra master flags: ${MASTER_FLAGS:-none}; primary only: ${PRIMARY_FLAGS:-none}"
awk -v l="$LINES" -v b="$BYTES" -v sa="${BEST[sa]}" -v run="$BEST_RUN" '
    $1 == run { fl = $2; cm = $3; se = $4; fr = $5; fa = $6; nl = $7 }
    END {
        printf "%-32s %8s %11s %8s\n", "case", "seconds", "lines/s", "ratio"
        printf "%-32s %8.3f %11.0f %8s\n", "standalone --workers 2", sa, l / sa, "1.00"
        printf "%-32s %8.3f %11.0f %8.2f\n", "cluster, start to settled", se, l / se, sa / se
        printf "%-32s %8.3f %11.0f %8.2f\n", "cluster, first lease to last done", cm - fl, l / (cm - fl), sa / (cm - fl)
        printf "cluster timeline (s from start): first lease %.3f, all committed %.3f, settled %.3f\n", fl, cm, se
        printf "ranges read (leases that read data): %d; frame bytes received by the masters: %d (accepted %d) = %.3f%% of the %d bytes read\n", nl, fr, fa, 100 * fr / b, b
    }' "$RES"
echo "all cluster runs (run first_lease committed settled frame_received frame_accepted ranges):"
sed 's/^/  /' "$RES"
echo "CPU seconds of each cluster process at settled (user + sys):"
sed 's/^/  run /' "$RES.cpu"
echo "each round (standalone, then the cluster; seconds wall and CPU; ratios standalone / cluster):"
awk 'FILENAME == ARGV[1] { sw[$1] = $2; sc[$1] = $3; next }
     FILENAME == ARGV[2] { cw[$1] = $4; next }
     { c = 0; for (i = 2; i <= NF; i++) { split($i, kv, "="); c += kv[2] } cc[$1] = c }
     END { printf "  %-5s %9s %9s %9s %9s %10s %9s\n", "round", "sa wall", "sa CPU", "cl wall",
               "cl CPU", "by wall", "by CPU"
           for (r in sw) printf "  %-5s %9.3f %9.2f %9.3f %9.2f %10.2f %9.2f\n", r, sw[r], sc[r],
               cw[r], cc[r], sw[r] / cw[r], sc[r] / cc[r] }' "$RES.sa" "$RES" "$RES.cpu" | sort -n
