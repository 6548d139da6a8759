#!/bin/sh
# tests/recount/out_of_memory.sh - standalone when an entry's table runs out of memory.
#
# A generated combined log (mawk, fixed seed): 120,000 lines (about 10 MB, so two
# parts for two workers), about 95,000 client addresses, four statuses. Rules:
# `by_ip` (key ip: count) grows a row per address; `by_status` (key status:
# count, sum of bytes) and `totals` (count, sum and max of bytes) stay small.
# Out of memory is made deterministic by the allocation hook
# ABBEY_TEST_ALLOC_FAIL=n (rules/mem.h: the n-th allocation of a growing table
# or state fails).
#
# Checks, every figure against an independent recount of the raw log by mawk:
# - without the hook: exit 0 and all three reports equal the recount;
# - one worker, the 5000th allocation failing (by_ip's, the only entry still
#   growing then): exit 1; stderr names the entry and its key count ("entry
#   'by_ip': out of memory after N keys", N below the number of addresses);
#   the summary still counts every line, none bad, and says by_ip's report is
#   not written; by_ip.csv is not written; by_status and totals equal the
#   recount (the other entries read every line);
# - two workers, the same hook: the entry named in the message (whichever
#   worker's allocation it was) has no report, every other report equals the
#   recount, exit 1.
#
# Environment: ABBEY_BUILDDIR as in standalone.sh. Needs mawk (exit 77
# without). Exit 0 when every check passes, 1 otherwise, 99 on a setup error.
set -u

. "$(dirname "$0")/lib.sh"
setup oom mawk

$AWK 'BEGIN {
    srand(424242)
    split("200 304 404 500", st, " ")
    for (i = 0; i < 120000; i++)
        printf "10.%d.%d.%d - - [17/May/2015:10:%02d:03 +0000] \"GET /p%d HTTP/1.1\" %s %d \"-\" \"a\"\n",
            int(rand() * 4), int(rand() * 250), int(rand() * 250), i % 60, i % 10,
            st[1 + int(rand() * 4)], int(rand() * 100000)
}' >"$tmp/access.log" || exit 99

cat >"$tmp/rules.yaml" <<EOF
jobs:
  - name: web
    sources: ["$tmp/access.log"]
    format: combined
    groups:
      - name: g
        entries:
          - name: by_ip
            key: [ip]
            values: {hits: count}
          - name: by_status
            key: [status]
            values: {hits: count, bytes: sum(bytes)}
          - name: totals
            values: {hits: count, bytes: sum(bytes), max_bytes: max(bytes)}
EOF

# the oracle: one file per report, rows sorted, as the CSV reports would read
$AWK -v dir="$tmp" '{
    ip[$1]++; n[$9]++; b[$9] += $10; hits++; bytes += $10
    if (hits == 1 || $10 > max) max = $10
} END {
    for (k in ip) print k "," ip[k] > (dir "/by_ip.want")
    for (k in n) printf "%s,%d,%.0f\n", k, n[k], b[k] > (dir "/by_status.want")
    printf "%d,%.0f,%d\n", hits, bytes, max > (dir "/totals.want")
    print length(ip) > (dir "/addresses")
}' "$tmp/access.log" || exit 99
for r in by_ip by_status; do sort "$tmp/$r.want" -o "$tmp/$r.want"; done
addresses=$(cat "$tmp/addresses")

got() { # got RUN REPORT: the report's rows, sorted, without the header
    tail -n +2 "$tmp/$1/web/$2.csv" | tr -d '\r' | sort
}

run() { # run NAME WORKERS [HOOK]
    if [ $# -gt 2 ]; then
        ABBEY_TEST_ALLOC_FAIL=$3 "$master" --standalone --once --config "$tmp/rules.yaml" \
            --workers "$2" --export-dir "$tmp/$1" >"$tmp/$1.out" 2>"$tmp/$1.err"
    else
        "$master" --standalone --once --config "$tmp/rules.yaml" --workers "$2" \
            --export-dir "$tmp/$1" >"$tmp/$1.out" 2>"$tmp/$1.err"
    fi
    echo $?
}

# without the hook
check "plain: exit status" 0 "$(run plain 2)"
for r in by_ip by_status totals; do
    check "plain: $r" "$(cat "$tmp/$r.want")" "$(got plain $r)"
done

# one worker: by_ip runs out
check "one worker: exit status" 1 "$(run one 1 5000)"
msg=$(grep -o "entry 'by_ip': out of memory after [0-9,]* keys" "$tmp/one.err" | head -n 1)
keys=$(echo "$msg" | sed 's/.* after \([0-9,]*\) keys/\1/' | tr -d ,)
check "one worker: the message names by_ip" "entry 'by_ip': out of memory after" \
    "${msg% [0-9]* keys}"
check "one worker: key count below $addresses" 1 \
    "$([ -n "$keys" ] && [ "$keys" -gt 0 ] && [ "$keys" -lt "$addresses" ] && echo 1)"
check "one worker: summary" "job web: 120000 lines (0 bad)" \
    "$(grep -o '^job web: [0-9]* lines ([0-9]* bad)' "$tmp/one.out")"
check "one worker: summary says by_ip is not written" 1 \
    "$(grep -c "^  report by_ip .*not written: $msg" "$tmp/one.out")"
check "one worker: no by_ip.csv" no "$([ -e "$tmp/one/web/by_ip.csv" ] && echo yes || echo no)"
for r in by_status totals; do
    check "one worker: $r" "$(cat "$tmp/$r.want")" "$(got one $r)"
done

# two workers: whichever entry the failing allocation was for
check "two workers: exit status" 1 "$(run two 2 5000)"
failed=$(sed -n "s/.*entry '\([a-z_]*\)': out of memory after [0-9,]* keys.*/\1/p" "$tmp/two.err" |
    sort -u)
check "two workers: one entry named" 1 "$(echo "$failed" | grep -c .)"
check "two workers: summary" "job web: 120000 lines (0 bad)" \
    "$(grep -o '^job web: [0-9]* lines ([0-9]* bad)' "$tmp/two.out")"
for r in by_ip by_status totals; do
    if [ "$r" = "$failed" ]; then
        check "two workers: no $r.csv" no "$([ -e "$tmp/two/web/$r.csv" ] && echo yes || echo no)"
    else
        check "two workers: $r" "$(cat "$tmp/$r.want")" "$(got two $r)"
    fi
done

finish
