# lib.sh - shared by the cluster integration tests: ports, processes, waiting, checks, cleanup,
# a primary with two slaves reading to the end, a by_status job with its recount, and
# logrotate's rotation of a series (rotate_series).
#
# Sourced by tests/cluster/*.sh. Every process a test starts is recorded and
# killed on exit (TERM, then KILL); everything runs on 127.0.0.1 with ports
# picked free by the kernel; a test's files live in one temp dir, removed on
# exit unless KEEP=1. Needs python3 (JSON, the Range server) and mawk.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
: "${ABBEY_BUILDDIR:=$top}"
: "${ABBEY_SRCDIR:=$top}"
MASTER=$ABBEY_BUILDDIR/master/abbey-master
SLAVE=$ABBEY_BUILDDIR/slave/abbey-slave
LOG=$ABBEY_SRCDIR/data/apache_combined_10k.log
RANGE_SERVER=$ABBEY_SRCDIR/tests/tools/range_server.py
PASSED=0
FAILED=0
PIDS=""
NAMES=""

for tool in python3 mawk curl; do
    command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool is not installed"; exit 77; }
done
[ -x "$MASTER" ] && [ -x "$SLAVE" ] || { echo "ERROR: build first ($MASTER, $SLAVE)"; exit 99; }

T=$(mktemp -d /tmp/abbey-cluster-XXXXXX)
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/token"
chmod 600 "$T/token" # as docs/CLUSTER.md asks: only its owner may read it
TOKEN=$(cat "$T/token")

cleanup() {
    for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
    for p in $PIDS; do
        i=0
        while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        kill -KILL "$p" 2>/dev/null
    done
    wait 2>/dev/null
    if [ "${KEEP:-0}" = 1 ] || [ "$FAILED" -gt 0 ]; then
        echo "test files kept in $T"
    else
        rm -rf "$T"
    fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

pass() { PASSED=$((PASSED + 1)); }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $*"; }
check() { # description, then a command that must succeed
    local d=$1; shift
    if "$@"; then pass; else fail "$d"; fi
}
finish() {
    local n p
    for n in $NAMES; do # what still runs must stop cleanly: SIGTERM, exit status 0
        eval "p=\${PID_$n}"
        if kill -0 "$p" 2>/dev/null; then stop "$n"; fi
    done
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
    exit $?
}

# free_ports N: N distinct free TCP ports on 127.0.0.1
free_ports() {
    python3 -c '
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
' "$1"
}

# start NAME COMMAND...: run in the background, output to $T/NAME.log, remember the pid
start() {
    local name=$1; shift
    "$@" >"$T/$name.log" 2>&1 &
    eval "PID_$name=$!"
    PIDS="$PIDS $!"
    case "$1" in # abbey's own processes must stop cleanly at the end (finish)
    "$MASTER" | "$SLAVE") case " $NAMES " in *" $name "*) ;; *) NAMES="$NAMES $name" ;; esac ;;
    esac
}

# stop NAME: SIGTERM and wait for it; its exit status must be 0 (a clean stop).
# finish stops every abbey process still running this way.
stop() {
    local p rc
    eval "p=\${PID_$1}"
    kill -TERM "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    rc=$?
    check "$1 stops cleanly on SIGTERM (exit status $rc)" [ "$rc" -eq 0 ]
}

# api PORT PATH [curl args]: an authorised call; prints the body
api() {
    local port=$1 path=$2; shift 2
    curl -sS --max-time 5 -H "Authorization: Bearer $TOKEN" "$@" "http://127.0.0.1:$port$path"
}

# wait_for SECONDS COMMAND...: run COMMAND every 0.2 s until it succeeds; 1 after SECONDS
wait_for() {
    local end=$(($(date +%s) + $1)); shift
    while :; do
        "$@" >/dev/null 2>&1 && return 0
        [ "$(date +%s)" -lt "$end" ] || return 1
        sleep 0.2
    done
}

# json PORT PATH EXPR: evaluate a python expression over the JSON answer (bound to j)
json() {
    api "$1" "$2" | python3 -c 'import json, sys; j = json.load(sys.stdin); print(eval(sys.argv[1]))' "$3"
}

# settled PRIMARY_PORT BYTES MASTER_PORT...: (checked once; poll it with wait_for) the
# primary has committed BYTES over all read tasks and holds no one-shot lease (sticky ones
# are held for good: docs/CLUSTER.md "Sticky leases"), and every master (the
# primary included) has no closed round left to export and has written its running-total
# files since the last frame it merged (masters write them every --export-every)
settled() {
    local pport=$1 bytes=$2 mp; shift 2
    api "$pport" /v1/status | python3 -c '
import json, sys
j = json.load(sys.stdin)
jobs = j["scheduler"]["jobs"]
done = sum(s["offset"] for job in jobs for s in job["sources"] if s.get("kind") == "read")
leases = sum(1 for job in jobs for l in job["leases"] if not l.get("sticky"))
sys.exit(0 if done == int(sys.argv[1]) and not leases else 1)' "$bytes" || return 1
    for mp in "$pport" "$@"; do
        api "$mp" /v1/status | python3 -c '
import json, sys
j = json.load(sys.stdin)
ok = all(not job["pending_rounds"] and not job["period_reports_stale"]
         for job in j["merger"]["jobs"])
sys.exit(0 if ok else 1)' || return 1
    done
}

# read_by_two_slaves PORT BYTES: a primary m1 on 127.0.0.1:PORT with $T/rules.yaml (exports in
# $T/m1/export, leases cut at 64 KiB) and slaves s1 and s2 (polling every 100 ms); waits up to
# 120 s until the primary has committed BYTES and exported (settled): one check passed, else a
# failure with the primary's status, and the test ends (finish)
read_by_two_slaves() {
    local s
    start m1 "$MASTER" --config "$T/rules.yaml" --name m1 --listen "127.0.0.1:$1" \
        --token-file "$T/token" --data-dir "$T/m1/data" --export-dir "$T/m1/export" \
        --lease-bytes 64k
    for s in s1 s2; do
        start $s "$SLAVE" --primary "http://127.0.0.1:$1" --name $s --token-file "$T/token" \
            --spool-dir "$T/$s" --poll-ms 100
    done
    if ! wait_for 120 settled "$1" "$2"; then
        fail "the cluster did not read all $2 bytes and export within 120 s"
        api "$1" /v1/status
        finish
    fi
    pass
}

# The by_status job of names.sh and stuck_sources.sh, and its oracle.
# by_status_rules PORT SOURCES: the rules of one job web (1 s rounds) over SOURCES (the items
# of a YAML flow sequence), one group traffic with by_status (hits and bytes per status); for
# one master m1 on 127.0.0.1:PORT, or standalone when PORT is none
by_status_rules() {
    [ "$1" != none ] && printf 'masters:\n  - {name: m1, url: "http://127.0.0.1:%s"}\n' "$1"
    cat <<YAML
jobs:
  - name: web
    round: 1s
    sources: [$2]
    format: combined
    groups:
      - name: traffic
        entries:
          - {name: by_status, key: [status], values: {hits: count, bytes: sum(bytes)}}
YAML
}

# by_status_recount [FILE...]: by_status of the raw lines (the files, or stdin) whose quotes
# balance, as rows status,hits,bytes, sorted
by_status_recount() {
    mawk -F'"' 'NF == 7 { split($3, a, " "); n[a[1]]++; if (a[2] != "-") b[a[1]] += a[2] }
        END { for (s in n) printf "%s,%.0f,%.0f\n", s, n[s], b[s] }' "$@" | sort
}

# rotate_series DIR [nodelay]: rotate DIR/access.log as logrotate's create + compress +
# delaycompress do, keeping every file: access.log.N.gz -> .N+1.gz, access.log.1 ->
# access.log.2 compressed to access.log.2.gz, access.log -> access.log.1, a new empty
# access.log. With nodelay, create + compress without delaycompress: access.log ->
# access.log.1, a new empty access.log, access.log.1 compressed to access.log.1.gz at once.
rotate_series() {
    local first=2 k
    [ "${2:-}" = nodelay ] && first=1
    k=$(($(ls "$1" | grep -c '\.gz$') + first - 1)) # the archives are .first.gz to .k.gz
    while [ "$k" -ge "$first" ]; do
        mv "$1/access.log.$k.gz" "$1/access.log.$((k + 1)).gz"
        k=$((k - 1))
    done
    if [ "$first" -eq 2 ] && [ -f "$1/access.log.1" ]; then
        mv "$1/access.log.1" "$1/access.log.2"
        gzip "$1/access.log.2"
    fi
    mv "$1/access.log" "$1/access.log.1"
    : >"$1/access.log"
    if [ "$first" -eq 1 ]; then gzip "$1/access.log.1"; fi
}

# report_ok CSV: the report's rows (header and CRs dropped), sorted, equal $T/recount
report_ok() { tr -d '\r' <"$1" | tail -n +2 | sort | cmp -s "$T/recount" -; }
