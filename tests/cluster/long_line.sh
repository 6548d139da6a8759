#!/bin/sh
# long_line.sh - cluster integration test: lines longer than a job's max_line, across leases.
#
# The source: 5000 lines of the bundled log, a 600 KiB line (x's glued to a good Apache line:
# one long ip, a good line under the limit), 5000 more lines, a 5 MiB line (x's glued to a
# good Apache line: over the limit), the last 2 lines. The job says max_line: 1MiB and the
# primary cuts leases at 256 KiB (--lease-bytes), so both long lines cross lease ends and
# ranges end inside them. Every line must be counted once: the masters' lines and bad lines
# (10000 lines, 2 bad: the 5 MiB line and the log's own bad one) and by_status (hits and
# bytes per status) equal an independent recount (tests/recount/recount.awk, told that
# lines over 1 MiB are bad); every report equals the standalone run's byte for byte; no
# slave log line names a descriptor path (/proc/self/fd).
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/logs"
f=$T/logs/long.log
sed -n '1,5000p' "$LOG" >"$f"
head -c 614400 /dev/zero | tr '\0' x >>"$f"
sed -n '5001p' "$LOG" >>"$f"
sed -n '5002,9998p' "$LOG" >>"$f"
head -c 5242880 /dev/zero | tr '\0' x >>"$f"
sed -n '9999,10000p' "$LOG" >>"$f"
total=$(wc -c <"$f")

set -- $(free_ports 2)
P1=$1 P2=$2
rules() { # $1: yes for the masters' lines
    [ "$1" = yes ] && cat <<YAML
masters:
  - {name: m1, url: "http://127.0.0.1:$P1", weight: 2}
  - {name: m2, url: "http://127.0.0.1:$P2", weight: 1}
YAML
    cat <<YAML
jobs:
  - name: web
    round: 1s
    max_line: 1MiB
    sources: [$f]
    format: combined
    groups:
      - name: traffic
        weight: 2
        entries:
          - {name: by_status, key: [status], values: {hits: count, bytes: sum(bytes)}}
      - name: clients
        weight: 1
        entries:
          - {name: totals, values: {hits: count, ips: distinct_exact(ip), bytes: sum(bytes)}}
YAML
}
rules yes >"$T/rules.yaml"
rules no >"$T/standalone.yaml"
check "--check shows max_line 1MiB" sh -c "'$MASTER' --check --config '$T/rules.yaml' | grep -q 'max_line 1MiB'"

"$MASTER" --standalone --once --config "$T/standalone.yaml" --workers 2 --export-dir "$T/sa" \
    >"$T/sa.out" 2>&1
check "standalone run: exit 0, 10000 lines, 2 bad" grep -q "^job web: 10000 lines (2 bad), $total bytes" "$T/sa.out"

start m1 "$MASTER" --config "$T/rules.yaml" --name m1 --listen "127.0.0.1:$P1" \
    --token-file "$T/token" --data-dir "$T/m1/data" --export-dir "$T/m1/export" --lease-bytes 256k
start m2 "$MASTER" --primary "http://127.0.0.1:$P1" --name m2 --listen "127.0.0.1:$P2" \
    --token-file "$T/token" --data-dir "$T/m2/data" --export-dir "$T/m2/export"
start s1 "$SLAVE" --primary "http://127.0.0.1:$P1" --name s1 --token-file "$T/token" \
    --spool-dir "$T/s1"
if ! wait_for 90 settled "$P1" "$total" "$P2"; then
    fail "the cluster did not read all $total bytes and export within 90 s"
    api "$P1" /v1/status
    finish
fi
pass

# the oracle: recount.awk's rows (status in column 5, bytes in 6) of the lines up to 1 MiB
mawk -f "$ABBEY_SRCDIR/tests/recount/recount.awk" -v maxline=1048576 -v stats="$T/stats" "$f" |
    mawk -F'\t' '{ n[$5]++; b[$5] += $6 } END { for (s in n) printf "%s,%.0f,%.0f\n", s, n[s], b[s] }' |
    sort >"$T/recount"
check "the oracle counts 10000 lines, 2 bad" [ "$(tr '\n' ' ' <"$T/stats")" = "lines 10000 bad 2 " ]
tr -d '\r' <"$T/m1/export/web/by_status.csv" | tail -n +2 | sort >"$T/got"
check "by_status equals the recount" cmp -s "$T/recount" "$T/got"
for p in "$P1" "$P2"; do
    check "master on $p counted 10000 lines, 2 bad" [ "$(json "$p" /v1/status \
        '[(x["lines"], x["bad_lines"]) for x in j["merger"]["jobs"]]')" = "[(10000, 2)]" ]
done
for r in by_status totals; do
    m=m1
    [ $r = totals ] && m=m2
    check "$r from $m equals the standalone run" cmp -s "$T/sa/web/$r.csv" "$T/$m/export/web/$r.csv"
done
check "no slave log line names a descriptor path" sh -c "! grep -n /proc/self/fd '$T/s1.log'"
finish
