#!/usr/bin/env bash
# bench_scale.sh - the control plane at scale (issue 12), "before" and "after" side by side.
#
#   scripts/bench_scale.sh [BENCH_DIR]          (default ./bench-scale)
#
# For each build ("after": this tree's, BUILD_DIR; "before": BEFORE, a git revision built
# once into BENCH_DIR/before-<rev>, or BEFORE_BUILD, an existing build dir of it) and each
# number of sources N in SIZES, a primary with one job of 1 s rounds over globs that
# tests/tools/abbey-load's simulated slaves list as GLOB_FILES files each (N / GLOB_FILES
# globs: a primary before listings in parts takes no listing over 1 MiB, about 9,000 of
# these files; nothing is read), measured over WINDOW seconds once every file has its task
# and WARM seconds passed:
#   idle   the protocol the build's slaves speak (sticky leases when its primary grants them,
#          else one lease per call), every source idle: primary CPU per 1 s round (CPU over
#          the window / its seconds), rounds closed in the window and how many incomplete,
#          primary RSS (and per source)
#   single one lease per call (every build serves it; measured apart only when the build
#          speaks sticky leases): primary CPU per granted lease
# then freshness: FRESH_FILES real files, FRESH_SLAVES real abbey-slaves of the build, a line
# appended to one file every ~1.5 s, FRESH_APPENDS times: from the append until the
# primary's abbey_lines_total counts it (median, max).
# Prints a Markdown table per part (BENCHMARKS.md "Scale") and keeps every run's figures in
# BENCH_DIR/results.jsonl. Every process it starts is stopped on exit, failure included.
#
# Environment:
#   BUILD_DIR      the "after" build (default: ./build); ABBEY_MASTER, ABBEY_SLAVE, ABBEY_LOAD
#                  its binaries (default: under BUILD_DIR; abbey-load is tests/tools/abbey-load)
#   BEFORE         a revision to build and measure as "before" (default main; none: skip it)
#   BEFORE_BUILD   an existing build dir of it (its master/ and slave/ binaries are used)
#   SIZES          numbers of sources (default "1000 10000 50000")
#   SLAVES         simulated slaves per size (default "50 200 500", one per size)
#   WINDOW, WARM   seconds measured and waited before (default 20 and 5)
#   GLOB_FILES     files each glob lists (default 5000)
#   FRESH_FILES, FRESH_SLAVES, FRESH_APPENDS   freshness (default 5000, 4, 20)
#   IDLE_ONLY=1    the idle runs alone (no single-lease runs, no freshness)
#   MASTER_ARGS    more options for every primary (e.g. --http-threads 8)
#   SHORT=1        a CI-sized run: SIZES "1000 2000", SLAVES "20 50", WINDOW 5, WARM 2,
#                  freshness over 200 files with 2 slaves, 5 appends
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=$(mkdir -p "${1:-./bench-scale}" && cd "${1:-./bench-scale}" && pwd)
BUILD_DIR=${BUILD_DIR:-$SRC/build}
ABBEY_MASTER=${ABBEY_MASTER:-$BUILD_DIR/master/abbey-master}
ABBEY_SLAVE=${ABBEY_SLAVE:-$BUILD_DIR/slave/abbey-slave}
ABBEY_LOAD=${ABBEY_LOAD:-$BUILD_DIR/tests/tools/abbey-load}
BEFORE=${BEFORE:-main}
BEFORE_BUILD=${BEFORE_BUILD:-}
if [ "${SHORT:-0}" = 1 ]; then
    : "${SIZES:=1000 2000}" "${SLAVES:=20 50}" "${WINDOW:=5}" "${WARM:=2}"
    : "${FRESH_FILES:=200}" "${FRESH_SLAVES:=2}" "${FRESH_APPENDS:=5}"
fi
SIZES=${SIZES:-1000 10000 50000}
SLAVES=${SLAVES:-50 200 500}
WINDOW=${WINDOW:-20}
WARM=${WARM:-5}
GLOB_FILES=${GLOB_FILES:-5000}
FRESH_FILES=${FRESH_FILES:-5000}
FRESH_SLAVES=${FRESH_SLAVES:-4}
FRESH_APPENDS=${FRESH_APPENDS:-20}
IDLE_ONLY=${IDLE_ONLY:-0}
MASTER_ARGS=${MASTER_ARGS:-}
RESULTS=$BENCH_DIR/results.jsonl
LINE='1.2.3.4 - - [18/May/2015:02:05:46 +0000] "GET /a HTTP/1.1" 200 512 "-" "curl"'

die() { echo "bench_scale.sh: $*" >&2; exit 1; }
say() { echo "bench_scale.sh: $*" >&2; }
for tool in python3 curl; do command -v "$tool" >/dev/null || die "$tool not found"; done
for b in "$ABBEY_MASTER" "$ABBEY_SLAVE" "$ABBEY_LOAD"; do [ -x "$b" ] || die "no $b (build first)"; done

# ---- processes: every one started is recorded and stopped on exit ----
PIDS=""
stop_pid() {
    local p=$1 i=0
    kill -TERM "$p" 2>/dev/null || return 0
    while kill -0 "$p" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
}
stop_all() {
    local p
    for p in $PIDS; do stop_pid "$p"; done
    PIDS=""
}
trap stop_all EXIT
trap 'exit 1' INT TERM

# ---- the "before" build ----
BEFORE_MASTER="" BEFORE_SLAVE=""
if [ "$BEFORE" != none ]; then
    if [ -z "$BEFORE_BUILD" ]; then
        rev=$(git -C "$SRC" rev-parse --short "$BEFORE") || die "no revision $BEFORE"
        BEFORE_BUILD=$BENCH_DIR/before-$rev/build
        if [ ! -x "$BEFORE_BUILD/master/abbey-master" ]; then
            say "building $BEFORE ($rev) in $BENCH_DIR/before-$rev (once)"
            rm -rf "$BENCH_DIR/before-$rev"
            mkdir -p "$BENCH_DIR/before-$rev"
            git -C "$SRC" archive "$rev" | tar -x -C "$BENCH_DIR/before-$rev"
            (cd "$BENCH_DIR/before-$rev" && nice scripts/build.sh build >build.log 2>&1) ||
                die "building $BEFORE failed: $BENCH_DIR/before-$rev/build.log"
        fi
    fi
    BEFORE_MASTER=$BEFORE_BUILD/master/abbey-master
    BEFORE_SLAVE=$BEFORE_BUILD/slave/abbey-slave
    [ -x "$BEFORE_MASTER" ] && [ -x "$BEFORE_SLAVE" ] || die "no binaries in $BEFORE_BUILD"
fi

head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$BENCH_DIR/token"
chmod 600 "$BENCH_DIR/token"
TOKEN=$(cat "$BENCH_DIR/token")
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# api PATH [curl args]: an authorised call to the running primary; prints the body
api() {
    local path=$1
    shift
    curl -sS --max-time 30 -H "Authorization: Bearer $TOKEN" "$@" "http://127.0.0.1:$PORT$path"
}
# metric NAME{labels}: its value on /metrics, 0 when absent
metric() { api /metrics | python3 -c '
import sys
for line in sys.stdin:
    if line.startswith(sys.argv[1] + " "):
        print(int(float(line.split()[-1]))); break
else:
    print(0)' "$1"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
TICK=$(getconf CLK_TCK)

# start_primary BIN DIR SOURCES: a primary on a free port (PORT), one job of 1 s rounds over
# SOURCES (the items of a YAML flow sequence)
start_primary() {
    local bin=$1 dir=$2 sources=$3 i=0
    PORT=$(free_port)
    mkdir -p "$dir"
    cat >"$dir/rules.yaml" <<YAML
masters:
  - {name: m1, url: "http://127.0.0.1:$PORT"}
jobs:
  - name: web
    round: 1s
    sources: [$sources]
    format: combined
    groups:
      - name: traffic
        entries:
          - {name: by_status, key: [status], values: {hits: count}}
YAML
    nice "$bin" --config "$dir/rules.yaml" --name m1 --listen "127.0.0.1:$PORT" \
        --data-dir "$dir/data" --export-dir "$dir/out" --token-file "$BENCH_DIR/token" $MASTER_ARGS \
        >"$dir/primary.log" 2>&1 &
    PRIMARY=$!
    PIDS="$PIDS $PRIMARY"
    until api /metrics >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -lt 200 ] || die "the primary in $dir did not start"
        sleep 0.05
    done
}

# wait_tasks N SECONDS: until the job has N tasks (1 when it never does)
wait_tasks() {
    local end=$(($(date +%s) + $2))
    while [ "$(metric 'abbey_tasks{job="web"}')" -lt "$1" ]; do
        [ "$(date +%s)" -lt "$end" ] || return 1
        sleep 0.5
    done
}

# sticky_ok: the running primary grants sticky leases (it answers a batched renewal of none)
sticky_ok() { api /v1/lease/renew -f -X POST -d '{"slave":"probe","leases":[]}' 2>/dev/null | grep -q '"rounds"'; }

# status_cost: the fastest of 3 GET /v1/status (the default query) of the running primary,
# while the slaves run: "ms bytes"
status_cost() {
    local k best=999999 t b=0
    for k in 1 2 3; do
        t=$(api /v1/status -o "$BENCH_DIR/status.json" -w '%{time_total}' 2>/dev/null || echo 999)
        b=$(wc -c <"$BENCH_DIR/status.json")
        best=$(python3 -c 'import sys; print(min(float(sys.argv[1]), float(sys.argv[2]) * 1000))' "$best" "$t")
    done
    echo "$best $b"
}

# measure LABEL BIN PROTO N SLAVES: one run (see the top); one JSON line into RESULTS
measure() {
    local label=$1 bin=$2 proto=$3 n=$4 ns=$5 dir="$BENCH_DIR/run-$1-$3-$4" r0 c0 c1 g0 g1 rss
    local per=$((n < GLOB_FILES ? n : GLOB_FILES)) globs="" g=0
    while [ $((g * per)) -lt "$n" ]; do
        globs="$globs${globs:+, }\"/sim/$label-$n/g$g/*.log\""
        g=$((g + 1))
    done
    rm -rf "$dir"
    start_primary "$bin" "$dir" "$globs"
    if [ "$proto" = idle ]; then proto=single; sticky_ok && proto=sticky; fi
    LAST_PROTO=$proto
    local total=$((WARM + WINDOW + 120))
    nice "$ABBEY_LOAD" --primary "http://127.0.0.1:$PORT" --token-file "$BENCH_DIR/token" \
        --protocol "$proto" --slaves "$ns" --files "$per" --seconds "$total" \
        --out "$dir/load.json" 2>"$dir/load.err" &
    local load=$!
    PIDS="$PIDS $load"
    local listed=1
    wait_tasks $((g * per + g)) 120 || listed=0
    sleep "$WARM"
    r0=$(api "/v1/rounds?job=web&after=0" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("current_round", 0))')
    c0=$(cpu_ticks "$PRIMARY")
    g0=$(metric 'abbey_leases_total{result="granted"}')
    sleep "$WINDOW"
    c1=$(cpu_ticks "$PRIMARY")
    g1=$(metric 'abbey_leases_total{result="granted"}')
    rss=$(rss_kb "$PRIMARY")
    api "/v1/rounds?job=web&after=$r0" >"$dir/rounds.json"
    local status_ms status_bytes
    read -r status_ms status_bytes < <(status_cost)
    stop_pid "$load"
    stop_pid "$PRIMARY"
    python3 - "$label" "$proto" "$n" "$ns" "$listed" "$(((c1 - c0) * 1000 / TICK))" \
        "$((g1 - g0))" "$rss" "$WINDOW" "$dir/rounds.json" "$status_ms" "$status_bytes" \
        >>"$RESULTS" <<'PY'
import json, sys
label, proto, n, ns, listed, cpu_ms, granted, rss, window, rounds, st_ms, st_bytes = sys.argv[1:]
r = json.load(open(rounds)).get("rounds", [])
out = {"part": "run", "label": label, "protocol": proto, "sources": int(n), "slaves": int(ns),
       "listed": listed == "1", "window_s": int(window), "cpu_ms": int(cpu_ms),
       "rounds": len(r), "incomplete": sum(1 for x in r if x["incomplete"]),
       "granted": int(granted), "rss_kb": int(rss), "status_ms": float(st_ms),
       "status_bytes": int(st_bytes)}
out["cpu_per_round_ms"] = round(out["cpu_ms"] / out["window_s"], 1)  # rounds are 1 s
out["cpu_per_lease_us"] = round(out["cpu_ms"] * 1000 / out["granted"], 1) if out["granted"] else None
out["cpu_share"] = round(out["cpu_ms"] / (out["window_s"] * 1000), 3)
print(json.dumps(out))
PY
    say "$(tail -1 "$RESULTS")"
}

# freshness LABEL MASTER SLAVE: FRESH_FILES real files, FRESH_SLAVES real slaves, appends
freshness() {
    local label=$1 dir="$BENCH_DIR/fresh-$1" k
    rm -rf "$dir"
    mkdir -p "$dir/logs"
    python3 -c '
import os, sys
for i in range(int(sys.argv[2])):
    open(os.path.join(sys.argv[1], "f%05d.log" % i), "w").close()' "$dir/logs" "$FRESH_FILES"
    start_primary "$2" "$dir" "\"$dir/logs/*.log\""
    for k in $(seq "$FRESH_SLAVES"); do
        nice "$3" --primary "http://127.0.0.1:$PORT" --name "s$k" --token-file "$BENCH_DIR/token" \
            --spool-dir "$dir/spool$k" --workers 2 >"$dir/s$k.log" 2>&1 &
        PIDS="$PIDS $!"
    done
    wait_tasks $((FRESH_FILES + 1)) 120 || say "freshness $label: the files did not all get a task"
    sleep "$WARM"
    local c0 c1
    c0=$(cpu_ticks "$PRIMARY")
    python3 - "$dir/logs" "$FRESH_FILES" "$FRESH_APPENDS" "$PORT" "$TOKEN" "$LINE" "$label" \
        "$FRESH_SLAVES" >>"$RESULTS" <<'PY'
import json, random, sys, time, urllib.request
logs, nfiles, appends, port, token, line, label, nslaves = sys.argv[1:]
def lines():
    req = urllib.request.Request("http://127.0.0.1:%s/metrics" % port,
                                 headers={"Authorization": "Bearer " + token})
    for l in urllib.request.urlopen(req, timeout=30).read().decode().splitlines():
        if l.startswith("abbey_lines_total{") and 'job="web"' in l:
            return int(float(l.split()[-1]))
    return 0
random.seed(12)
seen, ms = lines(), []
for k in range(int(appends)):
    f = "%s/f%05d.log" % (logs, random.randrange(int(nfiles)))
    t0 = time.monotonic()
    with open(f, "a") as out:
        out.write(line + "\n")
    while lines() < seen + 1:
        if time.monotonic() - t0 > 60:
            break
        time.sleep(0.02)
    ms.append(round((time.monotonic() - t0) * 1000))
    seen += 1
    time.sleep(0.5 + random.random())
ms.sort()
if not ms:
    sys.exit(0)
print(json.dumps({"part": "freshness", "label": label, "files": int(nfiles),
                  "slaves": int(nslaves), "appends": len(ms), "ms": ms,
                  "median_ms": ms[len(ms) // 2], "max_ms": ms[-1]}))
PY
    c1=$(cpu_ticks "$PRIMARY")
    say "$(tail -1 "$RESULTS") (primary CPU $(((c1 - c0) * 1000 / TICK)) ms)"
    stop_all
}

: >"$RESULTS"
set -- $SLAVES
for n in $SIZES; do
    ns=${1:-500}
    [ $# -gt 1 ] && shift
    for label in before after; do # idle rounds; and one lease per call, when that differs
        bin=$ABBEY_MASTER
        [ $label = before ] && bin=$BEFORE_MASTER
        [ -n "$bin" ] || continue
        measure $label "$bin" idle "$n" "$ns"
        [ "$LAST_PROTO" = single ] || [ "$IDLE_ONLY" = 1 ] || measure $label "$bin" single "$n" "$ns"
    done
done
if [ "$IDLE_ONLY" != 1 ]; then
    [ -n "$BEFORE_MASTER" ] && freshness before "$BEFORE_MASTER" "$BEFORE_SLAVE"
    freshness after "$ABBEY_MASTER" "$ABBEY_SLAVE"
fi

python3 - "$RESULTS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
runs = [r for r in rows if r["part"] == "run"]
def f(v, unit=""):
    return "–" if v is None else ("%s%s" % (v, unit))
print("| build | protocol | sources | slaves | primary CPU per round | CPU share | rounds closed (incomplete) | leases granted | CPU per granted lease | primary RSS | GET /v1/status |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for r in runs:
    print("| %s | %s | %d | %d | %s | %d%% | %d (%d)%s | %d | %s | %d MB | %.0f ms, %d KB |" % (
        r["label"], r["protocol"], r["sources"], r["slaves"], f(r["cpu_per_round_ms"], " ms"),
        round(r["cpu_share"] * 100), r["rounds"], r["incomplete"],
        "" if r["listed"] else ", never listed all", r["granted"], f(r["cpu_per_lease_us"], " µs"),
        r["rss_kb"] // 1024, r["status_ms"], r["status_bytes"] // 1024))
print()
for key in sorted({(r["label"], r["protocol"]) for r in runs}):
    rs = sorted((r for r in runs if (r["label"], r["protocol"]) == key and r["listed"]),
                key=lambda r: r["sources"])
    if len(rs) >= 2 and rs[-1]["sources"] > rs[0]["sources"]:
        a, b = rs[0], rs[-1]
        print("%s, %s: primary RSS per source %.2f KB (%d to %d sources)" % (
            key[0], key[1], (b["rss_kb"] - a["rss_kb"]) / (b["sources"] - a["sources"]),
            a["sources"], b["sources"]))
print()
print("| build | files | real slaves | appends | freshness median | max |")
print("|---|---|---|---|---|---|")
for r in rows:
    if r["part"] == "freshness":
        print("| %s | %d | %d | %d | %d ms | %d ms |" % (r["label"], r["files"], r["slaves"],
                                                     r["appends"], r["median_ms"], r["max_ms"]))
PY
