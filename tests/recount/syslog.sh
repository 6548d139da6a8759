#!/bin/sh
# tests/recount/syslog.sh - the syslog format end to end, against a recount by python3.
#
# tests/recount/syslog.py generates 5000 syslog lines of every form abbey reads (rsyslog
# file lines with BSD and RFC 3339 stamps, RFC 3164 and RFC 5424 with PRI, tags of every
# shape, nil values, structured data, BOMs, and about 7% bad lines) and gives the job that
# reads it with `format: {syslog: {timezone: "+02:00"}}`: by app (count, distinct and max
# pid), urgent lines (severity <= 3) by app, by msgid (count, distinct messages), by host
# and day (time_bucket(time, 1d)), by facility and severity (numbers and names), by
# structured data. Runs: 1 worker, 2 workers, and the log cut in three files (same mtime)
# read through a glob.
#
# The oracle is syslog.py's recount (python3's re and datetime modules, written apart from
# abbey's parser; a year-less stamp takes the year of the file's modification time).
# Checks, for each run: exit status, the summary's line and bad-line counts, every row of
# every report (tests/recount/compare_reports.py); that the comparison rejects a wrong
# count; the line and bad-line counts of the bundled example (examples/syslog.yaml on
# data/syslog_web1.log). Then the log's modification time is set to 2021-01-10 (touch):
# its December lines are from 2020 and its January ones from 2021, Feb 29 is a good date
# (2020), and every figure must follow; this checks that the source layer passes each
# file's mtime to the format (engine_source), since the first runs, on a file just
# written, cannot tell the mtime from the clock.
#
# Environment: ABBEY_BUILDDIR, ABBEY_SRCDIR as for standalone.sh; KEEP=1 keeps the temp
# dir. Needs python3 (exit 77, skip, without). Exit 0 when every check passes, 1 when one
# fails, 99 on a setup error.
set -u

. "$(dirname "$0")/lib.sh"
setup syslog python3

python3 "$here/syslog.py" gen "$tmp/sys.log" || exit 99
{
    echo "jobs:"
    python3 "$here/syslog.py" job sys "$tmp/sys.log"
} >"$tmp/rules.yaml" || exit 99

# run NAME CONFIG WORKERS RECOUNT: one standalone run, its summary and its reports.
run() {
    set -- "$@" $(head -n 1 "$4")
    "$master" --standalone --once --config "$2" --workers "$3" --export-dir "$tmp/$1" \
        >"$tmp/$1.out" 2>"$tmp/$1.err"
    check "run $1: exit status" 0 $?
    check "run $1: summary" "job sys: $6 lines ($8 bad)" \
        "$(grep -o '^job sys: [0-9]* lines ([0-9]* bad)' "$tmp/$1.out")"
    reports_match "$4" "$tmp/$1/sys" "$1"
}

python3 "$here/syslog.py" recount "$tmp/sys.log" "$tmp/recount" || exit 99
set -- $(head -n 1 "$tmp/recount")
[ "$4" -gt 250 ] && [ "$4" -lt 500 ] || {
    echo "syslog.sh: the recount found $4 bad lines of $2"
    exit 99
}

mkdir "$tmp/parts" || exit 99
sed -n '1,1500p' "$tmp/sys.log" >"$tmp/parts/sys-1.log"
sed -n '1501,3500p' "$tmp/sys.log" >"$tmp/parts/sys-2.log"
sed -n '3501,$p' "$tmp/sys.log" >"$tmp/parts/sys-3.log"
touch -r "$tmp/sys.log" "$tmp/parts"/sys-*.log
sed "s|\"$tmp/sys.log\"|\"$tmp/parts/sys-*.log\"|" "$tmp/rules.yaml" >"$tmp/glob.yaml"
grep -q 'parts/sys-\*' "$tmp/glob.yaml" || exit 99

run w1 "$tmp/rules.yaml" 1 "$tmp/recount"
run w2 "$tmp/rules.yaml" 2 "$tmp/recount"
run glob "$tmp/glob.yaml" 2 "$tmp/recount"

# the comparison itself rejects a wrong count
sed '/^by_prio /s/\("kern", "emerg", "\)\([0-9]*\)/\11\2/' "$tmp/recount" >"$tmp/wrong"
cmp -s "$tmp/recount" "$tmp/wrong" && exit 99
if python3 "$here/compare_reports.py" "$tmp/wrong" "$tmp/w1/sys" self | grep -q '^TALLY 5 1$'
then pass; else fail "self-check: a wrong count passed"; fi

# the bundled example (examples/syslog.yaml, data/syslog_web1.log): its summary
python3 "$here/syslog.py" recount "$srcdir/data/syslog_web1.log" "$tmp/example" || exit 99
set -- $(head -n 1 "$tmp/example")
"$master" --standalone --once --config "$srcdir/examples/syslog.yaml" \
    --export-dir "$tmp/example.d" >"$tmp/example.out" 2>&1
check "examples/syslog.yaml: exit status" 0 $?
check "examples/syslog.yaml: summary" "job web1: $2 lines ($4 bad)" \
    "$(grep -o '^job web1: [0-9]* lines ([0-9]* bad)' "$tmp/example.out")"

# the years follow the file's modification time, not the clock
touch -d '2021-01-10 12:00:00 UTC' "$tmp/sys.log" || exit 99
python3 "$here/syslog.py" recount "$tmp/sys.log" "$tmp/recount.2021" || exit 99
grep -q '"2020-12-' "$tmp/recount.2021" && grep -q '"2021-01-' "$tmp/recount.2021" || exit 99
run mtime "$tmp/rules.yaml" 1 "$tmp/recount.2021"

finish
