#!/bin/sh
# long_line.sh - cluster integration test: lines longer than a job's max_line, across leases.
#
# The source: the bundled log with 600 KiB of x's glued to the front of line 5001 (a good
# line with a long ip: under the limit) and 5 MiB of x's glued to the front of line 9999
# (over the limit: cut into blocks, its tail would be a made-up hit). The job says max_line: 1MiB and the
# primary cuts leases at 256 KiB (--lease-bytes), so both long lines cross lease ends and
# ranges end inside them. Every line must be counted once: the masters' lines and bad lines
# (10000 lines, 2 bad: the 5 MiB line and the log's own bad one) and by_status (hits and
# bytes per status) equal an independent recount (tests/recount/recount.awk, told that
# lines over 1 MiB are bad); every report equals the standalone run's byte for byte. Then
# 5 MiB of x's (more than a read block) without '\n' are appended: leases must not spin on
# the unended line (a few per round at most); once " end\n" and a good line follow, both are
# counted (10002 lines, 3 bad). No slave log line names a descriptor path (/proc/self/fd).
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

# verify LINES BAD: the oracle (recount.awk's rows, status in column 5 and bytes in 6, of the
# lines up to 1 MiB) counts LINES lines, BAD bad; by_status and both masters' counts agree
verify() {
    mawk -f "$ABBEY_SRCDIR/tests/recount/recount.awk" -v maxline=1048576 -v stats="$T/stats" "$f" |
        mawk -F'\t' '{ n[$5]++; b[$5] += $6 }
            END { for (s in n) printf "%s,%.0f,%.0f\n", s, n[s], b[s] }' | sort >"$T/recount"
    check "the oracle counts $1 lines, $2 bad" [ "$(tr '\n' ' ' <"$T/stats")" = "lines $1 bad $2 " ]
    tr -d '\r' <"$T/m1/export/web/by_status.csv" | tail -n +2 | sort >"$T/got"
    check "by_status equals the recount ($1 lines)" cmp -s "$T/recount" "$T/got"
    for p in "$P1" "$P2"; do
        check "master on $p counted $1 lines, $2 bad" [ "$(json "$p" /v1/status \
            '[(x["lines"], x["bad_lines"]) for x in j["merger"]["jobs"]]')" = "[($1, $2)]" ]
    done
}
verify 10000 2
for r in by_status totals; do
    m=m1
    [ $r = totals ] && m=m2
    check "$r from $m equals the standalone run" cmp -s "$T/sa/web/$r.csv" "$T/$m/export/web/$r.csv"
done

# an over-long line whose '\n' is not written yet waits, one lease per round (not lease after
# lease in a loop), and once it ends it is counted once, with the line after it
completed() { api "$P1" /metrics | mawk '/^abbey_leases_total\{result="completed"\}/ { print $2 }'; }
head -c 5242880 /dev/zero | tr '\0' x >>"$f" # longer than a read block (4 MiB)
c0=$(completed)
sleep 4
c1=$(completed)
check "an unended long line waits for later rounds ($((c1 - c0)) leases in 4 s of 1 s rounds)" \
    [ $((c1 - c0)) -le 12 ]
printf ' end\n' >>"$f"
sed -n '1p' "$LOG" >>"$f"
total=$(wc -c <"$f")
wait_for 60 settled "$P1" "$total" "$P2" || fail "the ended long line and the next did not settle"
verify 10002 3
check "no slave log line names a descriptor path" sh -c "! grep -n /proc/self/fd '$T/s1.log'"
finish
