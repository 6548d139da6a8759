# lib.sh - shared by the fault-injection tests (tests/fault/*.sh): logs, rules, the oracle.
#
# Sourced by tests/fault/*.sh; sources tests/cluster/lib.sh (free ports, start/stop, api,
# json, wait_for, settled, check/finish, cleanup of every process and of $T). Adds:
#   - the logs: copies of the bundled log (copy k with every byte count + k, so copies
#     differ), cut into files, fed to the sources in chunks (feed) or at once;
#   - the rules: two masters m1 (primary) and m2, one job "web" over the files with three
#     period-scope reports: by_status (group traffic, m1's), by_method and totals (group
#     requests, m2's), checked with abbey-master --check;
#   - processes: m1/m2/slaves with the logs appended on restarts, kill -9, a stop bounded
#     in time;
#   - the end of every test (final_checks): every spool delivered (no *.spool file, the
#     primary shows no backlog), the cluster settled, and every exported report equal to
#     an independent recount of the raw logs: tests/recount/recount.awk parses them (mawk),
#     a mawk sum makes the CSV files; abbey's own output is never the oracle.
. "$(dirname "$0")/../cluster/lib.sh"

REPLAY=$ABBEY_BUILDDIR/slave/abbey-replay
RECOUNT_AWK=$ABBEY_SRCDIR/tests/recount/recount.awk
[ -x "$REPLAY" ] || { echo "ERROR: build first ($REPLAY)"; exit 99; }
[ -r "$RECOUNT_AWK" ] || { echo "ERROR: cannot read $RECOUNT_AWK"; exit 99; }
set -- $(free_ports 2)
P1=$1 P2=$2
U1=http://127.0.0.1:$P1
mkdir -p "$T/full" "$T/logs" "$T/spool"

not() { ! "$@"; } # for check: the command must fail

# needs_durable: skip (77) unless the master has the durable-state flags (journal, gap repair)
needs_durable() {
    "$MASTER" --help 2>&1 | grep -q -- '--checkpoint-every' &&
        "$MASTER" --help 2>&1 | grep -q -- '--repair-after' ||
        { echo "SKIP: $MASTER has no --checkpoint-every / --repair-after yet"; exit 77; }
}

# make_logs [COPIES [FILES]]: $T/full/part-N.log, N < FILES (default 4): COPIES (default 5)
# copies of the bundled log cut at line boundaries; the sources $T/logs/part-N.log start empty
make_logs() {
    local copies=${1:-5} files=${2:-4} k=0
    while [ $k -lt "$copies" ]; do
        mawk -F'"' -v OFS='"' -v k=$k 'NF == 7 && split($3, a, " ") == 2 && a[2] ~ /^[0-9]+$/ {
            $3 = " " a[1] " " (a[2] + k) " " } { print }' "$LOG"
        k=$((k + 1))
    done >"$T/all.log"
    mawk -v n="$files" -v total="$(wc -l <"$T/all.log")" -v dir="$T" '{
        f = int((NR - 1) * n / total); print >(dir "/full/part-" f ".log") }' "$T/all.log"
    rm -f "$T/all.log"
    for f in "$T"/full/part-*.log; do : >"$T/logs/${f##*/}"; done
}

# feed K N: append chunk K (1..N) of N of every full file to its source
feed() {
    local f
    for f in "$T"/full/part-*.log; do
        mawk -v k="$1" -v n="$2" -v total="$(wc -l <"$f")" '
            NR > int((k - 1) * total / n) && NR <= int(k * total / n)' "$f" >>"$T/logs/${f##*/}"
    done
}

# feed_next N: the next N of $CHUNKS (default 12) chunks, $PAUSE (default 0.6) s apart
CHUNK=0
feed_next() {
    local i=0
    while [ $i -lt "$1" ]; do
        CHUNK=$((CHUNK + 1)) i=$((i + 1))
        feed $CHUNK "${CHUNKS:-12}"
        sleep "${PAUSE:-0.6}"
    done
}

# committed: the sum of the primary's committed offsets over the read tasks
committed() {
    json "$P1" /v1/status 'sum(s["offset"] for x in j["scheduler"]["jobs"] for s in x["sources"]
        if s.get("kind") == "read")'
}
# kill_mid_lease PIDFILE SLAVE TOTAL (run in the background before the reading starts: a
# read takes about a second): poll the primary; as soon as SLAVE ("": any slave) holds a
# lease and between 5% and 95% of TOTAL bytes are committed, SIGKILL the pid that PIDFILE
# holds; prints "killed at N of TOTAL bytes" (N: committed when last seen). 1 after 30 s.
kill_mid_lease() {
    python3 -c '
import json, os, signal, sys, time, urllib.request
url, token, pidfile, slave = sys.argv[1:5]
total = int(sys.argv[5])
req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
end = time.time() + 30
while time.time() < end:
    jobs = json.load(urllib.request.urlopen(req, timeout=5))["scheduler"]["jobs"]
    done = sum(s["offset"] for x in jobs for s in x["sources"] if s.get("kind") == "read")
    if any(slave in ("", l["slave"]) for x in jobs for l in x["leases"]) and \
            total * 0.05 < done < total * 0.95:
        while not os.path.exists(pidfile) and time.time() < end:
            time.sleep(0.001)
        os.kill(int(open(pidfile).read()), signal.SIGKILL)
        print("killed at %d of %d bytes" % (done, total))
        sys.exit(0)
    time.sleep(0.002)
sys.exit(1)' "$U1/v1/status" "$TOKEN" "$@"
}

# since_start NAME: the lines of $T/NAME.log since NAME last started
since_start() { mawk '/^=== .* starting: / { n = 0 } { l[++n] = $0 }
    END { for (i = 1; i <= n; i++) print l[i] }' "$T/$1.log"; }
# recovered NAME: its recovery lines ("...]: recovered...") since it last started
recovered() { since_start "$1" | grep ']: recovered'; }

bytes() { cat "$T"/logs/part-*.log | wc -c; }

# write_rules [ROUND]: $T/rules.yaml (round default 1s); m1 must own traffic, m2 requests;
# with GLOB=1 the sources are one glob over the files instead of one source per file
write_rules() {
    {
        echo "masters:"
        echo "  - {name: m1, url: \"$U1\", weight: 2}"
        echo "  - {name: m2, url: \"http://127.0.0.1:$P2\", weight: 1}"
        echo "jobs:"
        echo "  - name: web"
        echo "    round: ${1:-1s}"
        echo "    sources:"
        if [ "${GLOB:-0}" = 1 ]; then
            echo "      - \"$T/logs/part-*.log\""
        else
            for f in "$T"/logs/part-*.log; do echo "      - $f"; done
        fi
        cat <<YAML
    format: combined
    groups:
      - name: traffic
        weight: 2
        entries:
          - {name: by_status, key: [status], values: {hits: count, bytes: sum(bytes)}}
      - name: requests
        weight: 1
        entries:
          - {name: by_method, key: [method], values: {hits: count, bytes: sum(bytes)}}
          - {name: totals, values: {hits: count, bytes: sum(bytes)}}
YAML
    } >"$T/rules.yaml"
    "$MASTER" --check --config "$T/rules.yaml" >"$T/check.out" 2>&1
    grep -q "web/traffic -> m1" "$T/check.out" && grep -q "web/requests -> m2" "$T/check.out" ||
        { echo "ERROR: rule groups not placed on both masters:"; cat "$T/check.out"; exit 99; }
}
REPORTS="by_status:m1 by_method:m2 totals:m2" # report:owner

# launch NAME COMMAND...: like start, but appends to $T/NAME.log (restarts keep the log)
launch() {
    local name=$1; shift
    echo "=== $(date +%T) starting: $*" >>"$T/$name.log"
    "$@" >>"$T/$name.log" 2>&1 &
    eval "PID_$name=$!"
    echo "=== pid $!" >>"$T/$name.log"
    PIDS="$PIDS $!"
}
forget() { # forget PID: no longer ours (waited for)
    PIDS=$(echo " $PIDS " | sed "s/ $1 / /")
}
# kill9 NAME: SIGKILL, reaped
kill9() {
    local p
    eval "p=\${PID_$1}"
    kill -KILL "$p" 2>/dev/null
    { wait "$p"; } 2>/dev/null
    forget "$p"
}
# halt NAME: SIGTERM, at most 20 s for a clean stop, then SIGKILL
halt() {
    local p i=0
    eval "p=\${PID_$1}"
    kill -TERM "$p" 2>/dev/null
    while kill -0 "$p" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
    kill -0 "$p" 2>/dev/null && { echo "NOTE: $1 ignored SIGTERM for 20 s"; kill -KILL "$p"; }
    { wait "$p"; } 2>/dev/null
    forget "$p"
}

# start_m1 / start_m2 [FLAGS]: the primary / the secondary, state in $T/mN/data, reports in
# $T/mN/export; period reports written every second
start_m1() {
    launch m1 "$MASTER" --config "$T/rules.yaml" --name m1 --listen "127.0.0.1:$P1" \
        --token-file "$T/token" --data-dir "$T/m1/data" --export-dir "$T/m1/export" \
        --export-every 1s "$@"
}
start_m2() {
    launch m2 "$MASTER" --primary "$U1" --name m2 --listen "127.0.0.1:$P2" \
        --token-file "$T/token" --data-dir "$T/m2/data" --export-dir "$T/m2/export" \
        --export-every 1s "$@"
}
up() { api "$1" /v1/status -f >/dev/null; }
# start_slave NAME [FLAGS]: spool in $T/spool/NAME
start_slave() {
    local name=$1; shift
    launch "$name" "$SLAVE" --primary "$U1" --name "$name" --token-file "$T/token" \
        --spool-dir "$T/spool/$name" --poll-ms 200 "$@"
}

# offset_of SOURCE_PATH: the primary's committed offset of that source's read task
offset_of() {
    api "$P1" /v1/status | python3 -c '
import json, sys
j = json.load(sys.stdin)
print([s["offset"] for x in j["scheduler"]["jobs"] for s in x["sources"]
       if s.get("kind") == "read" and s["source"] == sys.argv[1]][0])' "$1"
}
spooled() { find "$T/spool" -name '*.spool' -size +0 | grep -q .; }
spool_empty() { ! find "$T/spool" -name '*.spool' | grep -q .; }
# backlog_clear: every slave the primary knows said its spool holds no frame
backlog_clear() {
    api "$P1" /v1/status | python3 -c '
import json, sys
sl = json.load(sys.stdin)["scheduler"]["slaves"]
sys.exit(0 if sl and all(s.get("spool", {}).get("frames", 0) == 0 for s in sl) else 1)'
}
backlog() {
    json "$P1" /v1/status '[(s["name"], s.get("spool")) for s in j["scheduler"]["slaves"]]'
}

# recount: the oracle, from the raw logs alone: $T/want/<report>.csv (LF, rows by key),
# $T/want/stats ("lines N" and "bad N") and WANT ("lines bad", as counted prints it)
recount() {
    mkdir -p "$T/want"
    cat "$T"/logs/part-*.log | mawk -f "$RECOUNT_AWK" -v stats="$T/want/stats" >"$T/want/rows.tsv"
    mawk -F'\t' -v dir="$T/want" '
        { hs[$5]++; bs[$5] += $6; hm[$3]++; bm[$3] += $6; h++; b += $6 }
        END {
            for (k in hs) printf "%s,%.0f,%.0f\n", k, hs[k], bs[k] >(dir "/by_status.rows")
            for (k in hm) printf "%s,%.0f,%.0f\n", k, hm[k], bm[k] >(dir "/by_method.rows")
            printf "%.0f,%.0f\n", h, b >(dir "/totals.rows")
        }' "$T/want/rows.tsv"
    { echo "status,hits,bytes"; sort -t, -k1,1n "$T/want/by_status.rows"; } >"$T/want/by_status.csv"
    { echo "method,hits,bytes"; LC_ALL=C sort -t, -k1,1 "$T/want/by_method.rows"; } \
        >"$T/want/by_method.csv"
    { echo "hits,bytes"; cat "$T/want/totals.rows"; } >"$T/want/totals.csv"
    WANT="$(sed -n 's/^lines //p' "$T/want/stats") $(sed -n 's/^bad //p' "$T/want/stats")"
}

# compare_reports: every report from its owner's export dir equals the recount (CRs removed)
compare_reports() {
    local r name m
    for r in $REPORTS; do
        name=${r%:*} m=${r#*:}
        tr -d '\r' <"$T/$m/export/web/$name.csv" >"$T/got-$name.csv" 2>/dev/null
        if cmp -s "$T/want/$name.csv" "$T/got-$name.csv"; then
            pass
        else
            fail "$name.csv from $m differs from the recount (< recount, > $m):"
            diff "$T/want/$name.csv" "$T/got-$name.csv" | head -n 20
        fi
    done
}

# counted PORT: "lines bad" the master on PORT counted
counted() {
    json "$1" /v1/status '" ".join("%d %d" % (x["lines"], x["bad_lines"])
        for x in j["merger"]["jobs"])'
}
# caught_up (after recount): the cluster settled and both masters counted the recount's lines
caught_up() {
    [ "$(counted "$P1")" = "$WANT" ] && [ "$(counted "$P2")" = "$WANT" ] &&
        settled "$P1" "$(bytes)" "$P2"
}

# final_checks: the spools drain, the primary shows no backlog, every byte is committed and
# both masters counted each line once (waiting for re-deliveries and repairs), every round
# is exported, and the reports equal the recount. Every slave that spooled must be running
# (it re-delivers and reports its backlog).
final_checks() {
    check "every spool file delivered (no *.spool left)" wait_for 120 spool_empty
    if wait_for 30 backlog_clear; then pass; else fail "the primary shows a backlog: $(backlog)"; fi
    recount
    if wait_for 120 caught_up; then
        pass
    else
        fail "the cluster did not settle with each line counted once (lines, bad: recount $WANT," \
            "m1 $(counted "$P1"), m2 $(counted "$P2"))"
        api "$P1" /v1/status | head -c 3000; echo
        return
    fi
    compare_reports
}
