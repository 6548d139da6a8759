#!/bin/sh
# tests/recount/logfmt.sh - the logfmt format end to end, against a recount by python3.
#
# tests/recount/logfmt.py generates an application log in logfmt (6000 lines, fixed seed:
# quoted values with JSON escapes, flags, duplicate keys, missing values, and about 6% bad
# lines of every kind) and gives the job that reads it: `format: {logfmt: {fields:
# [dur:float]}}`, counting by level (count, sum(dur), sum(bytes), max(status)), errors
# (status >= 500) by level, by unescaped path, and flagged lines (count,
# distinct_exact(user)). Runs: 1 worker, 2 workers, and the log cut in three files read
# through a glob with 2 workers.
#
# The oracle is logfmt.py's recount (python3's re and json modules, written apart from
# abbey's parser). Checks, for each run: exit status, the summary's line and bad-line
# counts, every row of every report (tests/recount/compare_reports.py: floats to 1e-9
# relative); that the comparison rejects a wrong count; and the line and bad-line counts of
# the bundled example (examples/logfmt.yaml on data/app_logfmt.log) against the recount.
#
# Environment: ABBEY_BUILDDIR, ABBEY_SRCDIR as for standalone.sh; KEEP=1 keeps the temp
# dir. Needs python3 (exit 77, skip, without). Exit 0 when every check passes, 1 when one
# fails, 99 on a setup error.
set -u

. "$(dirname "$0")/lib.sh"
setup logfmt python3

python3 "$here/logfmt.py" gen "$tmp/app.log" || exit 99
{
    echo "jobs:"
    python3 "$here/logfmt.py" job app "$tmp/app.log"
} >"$tmp/rules.yaml" || exit 99
python3 "$here/logfmt.py" recount "$tmp/app.log" "$tmp/recount" || exit 99
set -- $(head -n 1 "$tmp/recount")
lines=$2 nbad=$4
[ "$nbad" -gt 200 ] && [ "$nbad" -lt 600 ] || {
    echo "logfmt.sh: the recount found $nbad bad lines of $lines"
    exit 99
}

# run NAME CONFIG WORKERS: one standalone run, its summary and its reports.
run() {
    "$master" --standalone --once --config "$2" --workers "$3" --export-dir "$tmp/$1" \
        >"$tmp/$1.out" 2>"$tmp/$1.err"
    check "run $1: exit status" 0 $?
    check "run $1: summary" "job app: $lines lines ($nbad bad)" \
        "$(grep -o '^job app: [0-9]* lines ([0-9]* bad)' "$tmp/$1.out")"
    reports_match "$tmp/recount" "$tmp/$1/app" "$1"
}

mkdir "$tmp/parts" || exit 99
sed -n '1,2000p' "$tmp/app.log" >"$tmp/parts/app-1.log"
sed -n '2001,4500p' "$tmp/app.log" >"$tmp/parts/app-2.log"
sed -n '4501,$p' "$tmp/app.log" >"$tmp/parts/app-3.log"
sed "s|\"$tmp/app.log\"|\"$tmp/parts/app-*.log\"|" "$tmp/rules.yaml" >"$tmp/glob.yaml"
grep -q 'parts/app-\*' "$tmp/glob.yaml" || exit 99

run w1 "$tmp/rules.yaml" 1
run w2 "$tmp/rules.yaml" 2
run glob "$tmp/glob.yaml" 2

# the comparison itself rejects a wrong count
sed '/^by_level /s/"info", "\([0-9]*\)"/"info", "1\1"/' "$tmp/recount" >"$tmp/wrong"
cmp -s "$tmp/recount" "$tmp/wrong" && exit 99
if python3 "$here/compare_reports.py" "$tmp/wrong" "$tmp/w1/app" self | grep -q '^TALLY 3 1$'
then pass; else fail "self-check: a wrong count passed"; fi

# the bundled example (examples/logfmt.yaml, data/app_logfmt.log): its summary
python3 "$here/logfmt.py" recount "$srcdir/data/app_logfmt.log" "$tmp/example" || exit 99
set -- $(head -n 1 "$tmp/example")
"$master" --standalone --once --config "$srcdir/examples/logfmt.yaml" \
    --export-dir "$tmp/example.d" >"$tmp/example.out" 2>&1
check "examples/logfmt.yaml: exit status" 0 $?
check "examples/logfmt.yaml: summary" "job api: $2 lines ($4 bad)" \
    "$(grep -o '^job api: [0-9]* lines ([0-9]* bad)' "$tmp/example.out")"

finish
