#!/bin/sh
# tests/recount/json.sh - the json format against Python's json module, standalone.
#
# json_oracle.py writes two files of generated JSON lines (20,000 and 3,000 lines: nested
# members, arrays, \u escapes and raw UTF-8, strings holding numbers, duplicate keys, varying
# key order and spacing; about 4% bad: truncated, trailing garbage, single quotes, NaN, a raw
# tab, a lone surrogate, a bad escape, 01, a trailing comma, nesting past 64, not an object,
# empty, a byte count "n/a"). `abbey-master --standalone --once` reads them, one through a
# glob, with one json job: count and bytes by http.method, count by tags[0], totals (count,
# bytes, distinct_exact client.ip, min and max timing.ms), and errors (http.status >= 500)
# by `log.level`; with --workers 1 and --workers 2. json_oracle.py recounts every figure
# from the raw bytes with json.loads (plus the rules docs/RULES.md states: first key wins,
# depth limit, no NaN, no lone surrogates, numbers in strings); the summary's line and
# bad-line counts must be the recount's too. Then examples/json.yaml over its sample:
# the summary and by_status against json.loads.
#
# Environment: ABBEY_BUILDDIR, ABBEY_SRCDIR as for standalone.sh; KEEP=1 keeps the temp
# dir. Needs python3 (exit 77, skip, without it). Exit 0 when every check passes, 1 when
# one fails, 99 on a setup error.
set -u

. "$(dirname "$0")/lib.sh"
setup json python3
oracle=$srcdir/tests/recount/json_oracle.py
need "$oracle"

mkdir -p "$tmp/logs" || exit 99
python3 "$oracle" gen "$tmp/logs/app-1.json" 10 20000 &&
    python3 "$oracle" gen "$tmp/logs/app-2.json" 11 3000 &&
    python3 "$oracle" rules "\"$tmp/logs/app-1.json\", \"$tmp/logs/app-2*.json\"" \
        >"$tmp/rules.yaml" || exit 99
bytes=$(cat "$tmp"/logs/*.json | wc -c)

for workers in 1 2; do
    out=$tmp/out-$workers
    "$master" --standalone --once --config "$tmp/rules.yaml" --workers "$workers" \
        --export-dir "$out" >"$out.summary" 2>"$out.err"
    rc=$?
    check "workers $workers: exit status ($(head -c 300 "$out.err"))" 0 "$rc"
    python3 "$oracle" check "$out/app" "$tmp/logs/app-1.json" "$tmp/logs/app-2.json" \
        >"$out.check" 2>&1
    sed -n 's/^FAIL /FAIL workers '"$workers"': /p' "$out.check"
    figures=$(sed -n 's/^checked \([0-9]*\) figures, \([0-9]*\) failed$/\1 \2/p' "$out.check")
    if [ -z "$figures" ]; then
        fail "workers $workers: the recount did not finish: $(tail -n 3 "$out.check")"
        continue
    fi
    npass=$((npass + ${figures% *} - ${figures#* }))
    nfail=$((nfail + ${figures#* }))
    [ "${figures% *}" -ge 20 ] || fail "workers $workers: only ${figures% *} figures checked"
    set -- $(sed -n 's/^lines \([0-9]*\) bad \([0-9]*\)$/\1 \2/p' "$out.check")
    [ $# -eq 2 ] && [ "$2" -gt 100 ] || fail "workers $workers: the recount found too few bad lines"
    check "workers $workers: the summary's counts" \
        "job app: $1 lines ($2 bad), $bytes bytes" \
        "$(grep '^job app: ' "$out.summary" | sed 's/ bytes, .*/ bytes/')"
done

# examples/json.yaml over its sample (data/nginx_json_1k.log): its summary and by_status
# (hits and bytes per status, strings holding numbers) against json.loads
sample=$srcdir/data/nginx_json_1k.log
need "$srcdir/examples/json.yaml" "$sample"
"$master" --standalone --once --config "$srcdir/examples/json.yaml" --export-dir "$tmp/ex" \
    >"$tmp/ex.summary" 2>&1
python3 - "$sample" >"$tmp/ex.want" <<'EOF' || exit 99
import collections, json, sys
lines = bad = 0
rows = collections.defaultdict(lambda: [0, 0])
for raw in open(sys.argv[1], "rb").read().split(b"\n")[:-1]:
    lines += 1
    try:
        d = json.loads(raw)
    except ValueError:
        bad += 1
        continue
    rows[d["status"]][0] += 1
    rows[d["status"]][1] += int(d["body_bytes_sent"])
print("job nginx: %d lines (%d bad)" % (lines, bad))
for k in sorted(rows):
    print("%s,%d,%d" % (k, rows[k][0], rows[k][1]))
EOF
check "examples/json.yaml: the summary's counts" "$(head -n 1 "$tmp/ex.want")" \
    "$(grep -o '^job nginx: [0-9]* lines ([0-9]* bad)' "$tmp/ex.summary")"
check "examples/json.yaml: by_status" "$(tail -n +2 "$tmp/ex.want")" \
    "$(tail -n +2 "$tmp/ex/nginx/by_status.csv" | tr -d '\r' | sort)"
finish
