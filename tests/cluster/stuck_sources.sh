#!/bin/sh
# stuck_sources.sh - sources that used to hang abbey: a FIFO (open blocks without a writer),
# a directory, and an HTTP server that stops sending in the middle of an answer.
#   1. Standalone over a log, a FIFO and a directory: exit status 1 within seconds, each
#      refusal naming its path, and the log's report equal to a mawk recount.
#   2. A cluster (one master, one slave) over the same three sources: the slave logs each
#      refusal naming the path (never /proc/self/fd/N), the primary logs why once, every
#      round closes complete (not at its deadline), the log is counted, and SIGTERM stops
#      the slave (exit status 0) within 5 s.
#   3. A cluster whose only source is the stalling HTTP server: once the slave's request
#      hangs there, SIGTERM stops the slave (exit status 0) within 5 s (the transfer's own
#      timeout is 120 s).
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/logs" "$T/adir"
sed -n '1,3000p' "$LOG" >"$T/logs/a.log"
mkfifo "$T/fifo"
bytes=$(wc -c <"$T/logs/a.log")
set -- $(free_ports 3)
P1=$1 P2=$2 PS=$3
srcs="$T/logs/a.log, $T/fifo, $T/adir"
by_status_recount "$T/logs/a.log" >"$T/recount"
# stops NAME SECONDS: SIGTERM, then NAME must have exited with status 0 within SECONDS
stops() {
    local p i=0 n=$(($2 * 10)) rc
    eval "p=\${PID_$1}"
    kill -TERM "$p"
    while kill -0 "$p" 2>/dev/null && [ $i -lt $n ]; do sleep 0.1; i=$((i + 1)); done
    if kill -0 "$p" 2>/dev/null; then
        fail "$1 still runs $2 s after SIGTERM"
        return
    fi
    wait "$p"
    rc=$?
    check "$1 stops on SIGTERM within $2 s with exit status 0 (got $rc)" [ $rc -eq 0 ]
}

# --- 1. standalone ---
by_status_rules none "$srcs" >"$T/standalone.yaml"
t0=$(date +%s)
timeout -k 5 60 "$MASTER" --standalone --once --config "$T/standalone.yaml" --export-dir "$T/sa" \
    >"$T/sa.out" 2>"$T/sa.err"
rc=$?
check "standalone: exit status 1 (got $rc)" [ $rc -eq 1 ]
check "standalone: done within 10 s" [ $(($(date +%s) - t0)) -le 10 ]
check "standalone: the FIFO is refused, by name" \
    grep -q "$T/fifo: is a FIFO, not a regular file: only regular files are read" "$T/sa.err"
check "standalone: the directory is refused, by name" grep -q "$T/adir: is a directory" "$T/sa.err"
check "standalone: the log's report equals the recount" report_ok "$T/sa/web/by_status.csv"

# --- 2. cluster: FIFO and directory ---
by_status_rules "$P1" "$srcs" >"$T/rules.yaml"
start m1 "$MASTER" --config "$T/rules.yaml" --name m1 --listen "127.0.0.1:$P1" \
    --token-file "$T/token" --data-dir "$T/m1/data" --export-dir "$T/m1/export"
start s1 "$SLAVE" --primary "http://127.0.0.1:$P1" --name s1 --token-file "$T/token" \
    --spool-dir "$T/s1"
if ! wait_for 60 settled "$P1" "$bytes"; then
    fail "the cluster did not read the log and export within 60 s"
    api "$P1" /v1/status
    finish
fi
pass
check "the log's report equals the recount" report_ok "$T/m1/export/web/by_status.csv"
check "the slave logs the FIFO's refusal, by name" \
    grep -q "$T/fifo: is a FIFO, not a regular file.*completed with nothing read" "$T/s1.log"
check "the slave logs the directory's refusal, by name" grep -q "$T/adir: is a directory" "$T/s1.log"
check "no slave log line names a descriptor path" sh -c "! grep -n /proc/self/fd '$T/s1.log'"
check "the primary says why, once per source" \
    [ "$(grep -c "$T/fifo: slave s1 could not read it: .*is a FIFO" "$T/m1.log")" -eq 1 ]
# rounds close as their tasks complete: three in a row, none incomplete
closed_ok() {
    json "$P1" "/v1/rounds?job=web&after=0" \
        'len(j["rounds"]) >= 3 and not any(r["incomplete"] for r in j["rounds"][-3:])' | grep -qx True
}
check "rounds close complete, not at their deadline" wait_for 20 closed_ok
stops s1 5

# --- 3. cluster: an HTTP server that stalls mid-answer ---
start stall python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
open(sys.argv[3], "w").close()
conns = []
while True:
    c, _ = s.accept(); c.recv(65536); conns.append(c)
    c.sendall(b"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-1048575/4194304\r\n"
              b"Content-Length: 1048576\r\n\r\n" + b"x" * 100)
    open(sys.argv[2], "w").close()
' "$PS" "$T/stall.hit" "$T/stall.ready"
check "the stalling server listens" wait_for 20 test -f "$T/stall.ready"
by_status_rules "$P2" "http://127.0.0.1:$PS/stall.log" >"$T/rules2.yaml"
start m2 "$MASTER" --config "$T/rules2.yaml" --name m1 --listen "127.0.0.1:$P2" \
    --token-file "$T/token" --data-dir "$T/m2/data" --export-dir "$T/m2/export"
start s2 "$SLAVE" --primary "http://127.0.0.1:$P2" --name s2 --token-file "$T/token" \
    --spool-dir "$T/s2"
check "the slave's request reaches the stalling server" wait_for 30 test -f "$T/stall.hit"
sleep 1
stops s2 5
check "the slave says the read stopped" grep -q "stall.log: stopped" "$T/s2.log"
finish
