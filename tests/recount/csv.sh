#!/bin/sh
# tests/recount/csv.sh - the csv format with a header line, against python3's csv module.
#
# Two generated CSV logs (tests/recount/formats.py, fixed seeds) in one job: 150,000 lines
# with a byte order mark and CRLF ends, then 20,000 lines with the columns in another order
# and LF ends; about 6% of the lines are bad (an unterminated quote, text after a closing
# quote, a column short or over, an empty line, "later" as a time, "abc" as a status, "12x"
# as bytes); fields hold quoted delimiters, doubled quotes, quoted empties, quotes inside
# unquoted text, spaces and UTF-8. The rules (formats.py rules-csv) type ts and status, use
# bytes as a number, and key one entry by `region`, a column neither header has (null).
# `abbey-master --standalone --once` runs with 1 and 2 workers; the first file is over
# 8 MiB, so it is cut in parts (with 1 worker too) and a part past the header reads it from
# byte 0 first (task.c). Checks, every figure from formats.py's recount with csv.reader(strict):
# - exit status 0 and the summary's lines and bad lines (the headers are neither);
# - every report (by_status, pages, per_hour, regions) row for row, value for value;
# - examples/csv.yaml over its sample: exit status 0, the lines and bad lines csv.reader finds.
#
# Environment: ABBEY_BUILDDIR, ABBEY_SRCDIR as in standalone.sh; KEEP=1 keeps the temp dir.
# Needs python3 (exit 77, skip, without it). Exit 0 when every check passes, 1 when one
# fails, 99 on a setup error. No timing assertions.
set -u

. "$(dirname "$0")/lib.sh"
setup csv python3
py() { python3 "$here/formats.py" "$@"; }

py gen-csv "$tmp/a.csv" 150000 && py gen-csv "$tmp/b.csv" 20000 7 || exit 99
size=$(($(wc -c <"$tmp/a.csv") + $(wc -c <"$tmp/b.csv")))
[ "$(wc -c <"$tmp/a.csv")" -gt 8388608 ] || { echo "csv.sh: a.csv is not over 8 MiB"; exit 99; }
{
    echo "jobs:"
    py rules-csv | sed "s|@SOURCES@|\"$tmp/a.csv\", \"$tmp/b.csv\"|"
} >"$tmp/rules.yaml" || exit 99
py oracle-csv "$tmp/a.csv" "$tmp/b.csv" >"$tmp/want.json" || exit 99
set -- $(python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); print(j["lines"], j["bad"])' \
    "$tmp/want.json")
lines=$1 bad=$2

for w in 1 2; do
    "$master" --standalone --once --config "$tmp/rules.yaml" --workers $w \
        --export-dir "$tmp/out$w" >"$tmp/out$w.txt" 2>"$tmp/err$w.txt"
    check "workers $w: exit status ($(head -c 300 "$tmp/err$w.txt"))" 0 $?
    check "workers $w: summary" "job web: $lines lines ($bad bad), $size bytes" \
        "$(sed -n 's/^\(job web: .* bytes\), .*/\1/p' "$tmp/out$w.txt")"
    out=$(py reports "$tmp/want.json" "$tmp/out$w/web")
    printf '%s\n' "$out" | grep -v '^TALLY ' | sed "s/^/FAIL workers $w: /"
    tally=$(printf '%s\n' "$out" | sed -n 's/^TALLY //p')
    [ -n "$tally" ] || { fail "workers $w: the comparison did not finish"; continue; }
    npass=$((npass + ${tally% *}))
    nfail=$((nfail + ${tally#* }))
done

# The example: examples/csv.yaml over data/cdn_access.csv, its lines and bad lines recounted.
ex=$srcdir/examples/csv.yaml
sample=$srcdir/data/cdn_access.csv
need "$ex" "$sample"
want=$(python3 - "$sample" <<'PY'
import csv, sys
lines = open(sys.argv[1], "rb").read().split(b"\n")[:-1]
header = next(csv.reader([lines[0].decode().rstrip("\r")]))
bad = 0
for raw in lines[1:]:
    try:
        rows = list(csv.reader([raw.decode().rstrip("\r")], strict=True))
        bad += len(rows) != 1 or len(rows[0]) != len(header)
    except csv.Error:
        bad += 1
print("job cdn: %d lines (%d bad), %d bytes" % (len(lines) - 1, bad, sum(map(len, lines)) + len(lines)))
PY
)
"$master" --standalone --once --config "$ex" --export-dir "$tmp/example" >"$tmp/example.txt" 2>&1
check "examples/csv.yaml: exit status" 0 $?
check "examples/csv.yaml: summary" "$want" \
    "$(sed -n 's/^\(job cdn: .* bytes\), .*/\1/p' "$tmp/example.txt")"
finish
