#!/bin/sh
# tests/recount/memory_limit.sh - standalone under --memory-limit.
#
# A generated combined log (mawk): 400,000 lines over 300,000 paths (each worker's half
# alone holds 200,000 of them), one line in 997 garbage. The entry pages (path: hits,
# distinct addresses) and by_status. A run without a limit gives T, the accounted bytes of
# the totals (its summary); A is the allowance (32 MiB and a 4 MiB read block per worker).
#
# Checks, every figure against mawk's recount of the raw log:
# - --memory-limit A + 1.25 T, 2 workers: the workers' tables pass 7/8 of it, so they are
#   merged into the totals at least once (the summary says how often), the totals alone
#   never reach it: exit 0, the summary counts every line and bad line, both reports equal
#   the recount row for row, the peak RSS (summary) under twice the limit (not under ASan);
# - --memory-limit A + T/2: the totals reach it: exit status 1, the error on stderr and in
#   the summary names the job and the entry pages, no report is written;
# - a limit without room for tables (20MiB) and a size abbey does not read (512MB): exit
#   status 2 with the reason.
# Environment: ABBEY_BUILDDIR as in standalone.sh. Needs mawk (exit 77 without).
set -u

. "$(dirname "$0")/lib.sh"
setup memory_limit mawk

$AWK 'BEGIN {
    for (i = 0; i < 400000; i++)
        if (i % 997 == 5)
            printf "garbage %d\n", i
        else
            printf "10.1.%d.%d - - [17/May/2015:10:05:03 +0000] \"GET /u%d HTTP/1.1\" %d %d \"-\" \"a\"\n",
                i % 13, i % 251, (i * 7919) % 300000, (i % 7 ? 200 : 404), i % 1000
}' >"$tmp/access.log" || exit 99

cat >"$tmp/rules.yaml" <<EOF
jobs:
  - name: web
    sources: ["$tmp/access.log"]
    format: combined
    groups:
      - name: g
        entries:
          - {name: pages, key: [path], values: {hits: count, ips: distinct(ip)}}
          - {name: by_status, key: [status], values: {hits: count}}
    reports:
      - {name: pages, entry: pages}
      - {name: by_status, entry: by_status}
EOF

# the recount: lines, bad lines, pages (path,hits,ips) and by_status (status,hits), sorted
$AWK -v dir="$tmp" '
    { n++ }
    $1 == "garbage" { bad++; next }
    { h[$7]++; if (!(($7, $1) in seen)) { seen[$7, $1] = 1; u[$7]++ } s[$9]++ }
    END {
        for (p in h) printf "%s,%d,%d\n", p, h[p], u[p] > (dir "/pages.unsorted")
        for (c in s) printf "%s,%d\n", c, s[c] > (dir "/status.unsorted")
        printf "job web: %d lines (%d bad)\n", n, bad
    }' "$tmp/access.log" >"$tmp/summary.want" || exit 99
sort "$tmp/pages.unsorted" >"$tmp/pages.want"
sort "$tmp/status.unsorted" >"$tmp/status.want"

run() { # run NAME LIMIT: standalone on 2 workers into $tmp/NAME/, summary NAME.out
    "$master" --standalone --once --workers 2 --config "$tmp/rules.yaml" --export-dir \
        "$tmp/$1" ${2:+--memory-limit "$2"} >"$tmp/$1.out" 2>"$tmp/$1.err"
}
sorted() { tr -d '\r' <"$1" | tail -n +2 | sort; }
peak_kib() { sed -n 's/^peak RSS: \([0-9]*\) KiB.*/\1/p' "$1"; }
under_twice() { # under_twice OUT LIMIT_MIB: the summary's peak RSS, except under ASan (its
    # shadow memory and quarantine are not the process's own): 1, or what it was
    if grep -qa __asan_init "$master"; then
        echo 1
    else
        peak=$(peak_kib "$1")
        [ "${peak:-999999999}" -lt $(($2 * 2 * 1024)) ] && echo 1 || echo "${peak:-none} KiB"
    fi
}

run free ""
check "no limit: exit status" 0 "$?"
tables=$(sed -n 's/^  entry [a-z_]*: [0-9]* keys of max_keys [0-9]*, ~\([0-9]*\) bytes.*/\1/p' \
    "$tmp/free.out" | $AWK '{ t += $1 } END { printf "%d", t / 1048576 }')
allow=40 # MiB: 32 and 2 workers' 4 MiB blocks
echo "totals ~$tables MiB, allowance $allow MiB"
[ "${tables:-0}" -gt 16 ] || { echo "totals of $tables MiB: too small to test with"; exit 99; }

ok=$((allow + tables + tables / 4))
run ok "${ok}MiB"
check "limit ${ok}MiB: exit status" 0 "$?"
cat "$tmp/ok.out"
check "limit ${ok}MiB: lines and bad lines" "$(cat "$tmp/summary.want")" \
    "$(grep -o '^job web: [0-9]* lines ([0-9]* bad)' "$tmp/ok.out")"
flushes=$(sed -n 's/^memory limit .*: the threads.* totals \([0-9]*\) times near it$/\1/p' "$tmp/ok.out")
check "limit ${ok}MiB: the workers' tables were merged into the totals (${flushes:-?} times)" 1 \
    "$([ "${flushes:-0}" -ge 1 ] && echo 1)"
sorted "$tmp/ok/web/pages.csv" >"$tmp/pages.got"
check "limit ${ok}MiB: pages equals the recount" 1 "$(cmp -s "$tmp/pages.want" "$tmp/pages.got" && echo 1)"
sorted "$tmp/ok/web/by_status.csv" >"$tmp/status.got"
check "limit ${ok}MiB: by_status equals the recount" 1 \
    "$(cmp -s "$tmp/status.want" "$tmp/status.got" && echo 1)"
check "limit ${ok}MiB: peak RSS under twice the limit" 1 "$(under_twice "$tmp/ok.out" $ok)"

low=$((allow + tables / 2))
run low "${low}MiB"
check "limit ${low}MiB: exit status" 1 "$?"
cat "$tmp/low.err"
check "limit ${low}MiB: the error names the job and the entry" 1 \
    "$(grep -q "job web: memory limit: the totals alone take .* at --memory-limit $low.0 MiB; entry 'pages' holds" "$tmp/low.err" && echo 1)"
check "limit ${low}MiB: the summary says it stopped" 1 \
    "$(grep -q "^stopped: job web: memory limit: .* entry 'pages'" "$tmp/low.out" && echo 1)"
check "limit ${low}MiB: no report written" 0 "$(find "$tmp/low" -type f 2>/dev/null | wc -l)"
check "limit ${low}MiB: peak RSS under twice the limit" 1 "$(under_twice "$tmp/low.out" $low)"

run tiny 20MiB
check "20MiB: exit status" 2 "$?"
check "20MiB: no room for tables" 1 \
    "$(grep -q -- '--memory-limit 20.0 MiB leaves no room for tables: .* give at least [0-9]*MiB' "$tmp/tiny.err" && echo 1)"
run unit 512MB
check "512MB: exit status" 2 "$?"
check "512MB: not a size" 1 "$(grep -q -- "--memory-limit: '512MB' is not a size" "$tmp/unit.err" && echo 1)"

finish
