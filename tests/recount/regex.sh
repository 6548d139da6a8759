#!/bin/sh
# tests/recount/regex.sh - the regex format, against python3's re module.
#
# Two generated logs (tests/recount/formats.py, fixed seeds), one job each:
# - app: 130,000 lines of an application log ("TIME HOST APP[PID]: METHOD PATH STATUS MSms
#   [user=NAME]") read with one PCRE2 pattern of nine named groups (formats.py rules-regex:
#   ts, pid, status and ms typed); about 1.5% are bad: lines the pattern does not match
#   (-- MARK --, a NUL in the app name, a 4-digit status, an empty user) and times that
#   match the pattern but are no time (hour 25); some paths hold invalid UTF-8 or quotes,
#   some times are epoch seconds, some lines end in CRLF;
# - limit: 3,000 lines for ^(?<run>(a|aa)+)$, runs of a (they match) and, one line in ten
#   and first, runs of 3,000 to 5,000 a's ended by b: PCRE2 gives up on those at its
#   match limit (whole-line budget), and such a line is bad for that reason of its own.
# `abbey-master --standalone --once` runs with 1 and 2 workers (app.log is over 8 MiB: cut
# in parts). Checks, every figure from formats.py's recount with python's re (the same
# pattern, (?<name> spelt (?P<name>; for limit, re.fullmatch(a+), which matches the same
# lines without backtracking):
# - exit status 0, each job's lines and bad lines in the summary;
# - every report of both jobs, row for row, value for value (floats to 1e-9);
# - the limit job's first bad-line sample is at byte 0 with the reason "regex match limit";
# - examples/regex.yaml over its sample: exit status 0, the lines and bad lines its pattern
#   gives under python's re.
#
# Environment: ABBEY_BUILDDIR, ABBEY_SRCDIR as in standalone.sh; KEEP=1 keeps the temp dir.
# Needs python3 (exit 77, skip, without it). Exit 0 when every check passes, 1 when one
# fails, 99 on a setup error. No timing assertions.
set -u

. "$(dirname "$0")/lib.sh"
setup regex python3
py() { python3 "$here/formats.py" "$@"; }

py gen-regex "$tmp/app.log" 130000 && py gen-limit "$tmp/limit.log" 3000 || exit 99
[ "$(wc -c <"$tmp/app.log")" -gt 8388608 ] || { echo "regex.sh: app.log is not over 8 MiB"; exit 99; }
{
    echo "jobs:"
    py rules-regex | sed "s|@SOURCES@|\"$tmp/app.log\"|"
    py rules-limit | sed "s|@SOURCES@|\"$tmp/limit.log\"|"
} >"$tmp/rules.yaml" || exit 99
py oracle-regex "$tmp/app.log" >"$tmp/app.json" && py oracle-limit "$tmp/limit.log" >"$tmp/limit.json" ||
    exit 99

# summary JOB WANT.json FILE...: the summary line the recount expects
summary() {
    set -- "$1" "$(python3 -c 'import json, sys; j = json.load(open(sys.argv[1]))
print(j["lines"], j["bad"])' "$2")" "$3"
    echo "job $1: ${2% *} lines (${2#* } bad), $(wc -c <"$3") bytes"
}

for w in 1 2; do
    "$master" --standalone --once --config "$tmp/rules.yaml" --workers $w \
        --export-dir "$tmp/out$w" >"$tmp/out$w.txt" 2>"$tmp/err$w.txt"
    check "workers $w: exit status ($(head -c 300 "$tmp/err$w.txt"))" 0 $?
    for job in app limit; do
        check "workers $w: $job summary" "$(summary $job "$tmp/$job.json" "$tmp/$job.log")" \
            "$(sed -n "s/^\(job $job: .* bytes\), .*/\1/p" "$tmp/out$w.txt")"
        out=$(py reports "$tmp/$job.json" "$tmp/out$w/$job")
        printf '%s\n' "$out" | grep -v '^TALLY ' | sed "s/^/FAIL workers $w: /"
        tally=$(printf '%s\n' "$out" | sed -n 's/^TALLY //p')
        [ -n "$tally" ] || { fail "workers $w: $job: the comparison did not finish"; continue; }
        npass=$((npass + ${tally% *}))
        nfail=$((nfail + ${tally#* }))
    done
    check "workers $w: the first limit sample gave up" 1 \
        "$(grep -c '^    at byte 0 (regex match limit): aaaa' "$tmp/out$w.txt")"
done

# The example: examples/regex.yaml over data/shop_service.log, its lines and bad lines
# recounted with its own pattern.
ex=$srcdir/examples/regex.yaml
sample=$srcdir/data/shop_service.log
need "$ex" "$sample"
want=$(python3 - "$(sed -n "s/^ *regex: '\(.*\)'\$/\1/p" "$ex")" "$sample" <<'PY'
import re, sys
rx = re.compile(re.sub(r"\(\?<(?=[A-Za-z_])", "(?P<", sys.argv[1]).encode())
data = open(sys.argv[2], "rb").read()
lines = data.split(b"\n")[:-1]
bad = sum(1 for line in lines if not rx.match(line))
print("job shop: %d lines (%d bad), %d bytes" % (len(lines), bad, len(data)))
PY
)
"$master" --standalone --once --config "$ex" --export-dir "$tmp/example" >"$tmp/example.txt" 2>&1
check "examples/regex.yaml: exit status" 0 $?
check "examples/regex.yaml: summary" "$want" \
    "$(sed -n 's/^\(job shop: .* bytes\), .*/\1/p' "$tmp/example.txt")"
finish
