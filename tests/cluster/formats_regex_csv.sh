#!/bin/sh
# formats_regex_csv.sh - cluster integration test: the csv and regex formats, read lease by lease.
#
# The generated logs of tests/recount/csv.sh and regex.sh (tests/recount/formats.py, the
# same seeds, fewer lines): two CSV files with a header each (another column order in the
# second), an application log read with a PCRE2 pattern, and runs of a's for a pattern that
# gives up at its match limit; one job per format (formats.py rules-*), one primary and two
# slaves (two lease loops each). The primary cuts leases at 64 KiB (--lease-bytes), so
# almost every lease of a CSV file starts past its header: the slave reads the header
# through the file it holds open (/proc/self/fd, task.c) before the lease's lines. Every
# line must be counted once: each job's lines and bad lines at the primary, and every report
# of every job equal to formats.py's recount (python3's csv and re modules), row for row.
. "$(dirname "$0")/lib.sh"

py() { python3 "$ABBEY_SRCDIR/tests/recount/formats.py" "$@"; }
mkdir -p "$T/logs"
py gen-csv "$T/logs/a.csv" 20000 && py gen-csv "$T/logs/b.csv" 4000 7 &&
    py gen-regex "$T/logs/app.log" 20000 && py gen-limit "$T/logs/limit.log" 500 ||
    { echo "ERROR: formats.py could not write the logs"; exit 99; }
bytes=$(cat "$T"/logs/* | wc -c)
set -- $(free_ports 1)
P1=$1
{
    printf 'masters:\n  - {name: m1, url: "http://127.0.0.1:%s"}\njobs:\n' "$P1"
    py rules-csv | sed "s|@SOURCES@|\"$T/logs/a.csv\", \"$T/logs/b.csv\"|"
    py rules-regex | sed "s|@SOURCES@|\"$T/logs/app.log\"|"
    py rules-limit | sed "s|@SOURCES@|\"$T/logs/limit.log\"|"
} | sed 's/^  - name: \(.*\)$/  - name: \1\n    round: 1s/' >"$T/rules.yaml"
py oracle-csv "$T/logs/a.csv" "$T/logs/b.csv" >"$T/web.json" &&
    py oracle-regex "$T/logs/app.log" >"$T/app.json" &&
    py oracle-limit "$T/logs/limit.log" >"$T/limit.json" || { echo "ERROR: the recount failed"; exit 99; }

read_by_two_slaves "$P1" "$bytes"

counts=$(json "$P1" /v1/status '" ".join("%s:%d:%d" % (x["name"], x["lines"], x["bad_lines"])
    for x in sorted(j["merger"]["jobs"], key=lambda x: x["name"]))')
want=$(for job in app limit web; do
    python3 -c 'import json, sys; j = json.load(open(sys.argv[1]))
print("%s:%d:%d" % (sys.argv[2], j["lines"], j["bad"]))' "$T/$job.json" $job
done | tr '\n' ' ')
check "lines and bad lines per job at the primary ($counts) equal the recount ($want)" \
    [ "$counts " = "$want" ]
for job in web app limit; do
    out=$(py reports "$T/$job.json" "$T/m1/export/$job")
    printf '%s\n' "$out" | grep -v '^TALLY ' | sed 's/^/FAIL: /'
    tally=$(printf '%s\n' "$out" | sed -n 's/^TALLY //p')
    [ -n "$tally" ] || { fail "$job: the comparison did not finish"; continue; }
    PASSED=$((PASSED + ${tally% *}))
    FAILED=$((FAILED + ${tally#* }))
done
leases=$(api "$P1" /metrics | mawk '/^abbey_leases_total\{result="completed"\}/ { print $2 }')
check "the CSV files were read in many leases ($leases in all)" [ "${leases:-0}" -ge 20 ]
finish
