#!/bin/sh
# tests/recount/long_line.sh - a line longer than max_line is one bad line, never a made-up hit.
#
# The log: the bundled Apache log, then one line of 5 MiB of 'x' followed by a well-formed
# Apache line (cut into blocks, its tail would parse as a hit), then the bundled log again.
# At about 10 MB the standalone run cuts the file in two parts, and the cut point falls
# inside the long line. `abbey-master --standalone --once` (1 and 2 workers, the default
# max_line of 4 MiB) must count 20001 lines, 3 bad (the long line and the log's own bad line
# twice), name "line too long" at the long line's offset in its bad-line summary, and export
# reports equal, figure by figure, to the oracle: recount.awk (mawk, told that lines over
# 4 MiB are bad) and oracle.sql (sqlite3), compared by compare.awk as standalone.sh does.
# --check must show the job's max_line.
#
# Environment and exit status as in standalone.sh (77: sqlite3 or mawk missing).
set -u

. "$(dirname "$0")/lib.sh"
rules=$srcdir/examples/apache.yaml
MAXLINE=4194304
setup long sqlite3 mawk
need "$log" "$rules"

# The log and the rules reading it.
cat "$log" >"$tmp/long.log"
long_at=$(wc -c <"$tmp/long.log")
head -c 5242880 /dev/zero | tr '\0' x >>"$tmp/long.log"
head -n 1 "$log" >>"$tmp/long.log" # the tail: a good line, glued to the x's
cat "$log" >>"$tmp/long.log"
size=$(wc -c <"$tmp/long.log")
$AWK -v src="$tmp/long.log" '
    /^ *- \.\.\/data\/apache_combined_10k\.log *$/ {
        print substr($0, 1, index($0, "-") - 1) "- \"" src "\""
        done++
        next
    }
    { print }
    END { exit done != 1 }' "$rules" >"$tmp/rules.yaml" || { echo "long_line.sh: no source line in $rules"; exit 99; }

# The oracle.
mkdir "$tmp/oracle" || exit 99
$AWK -f "$here/recount.awk" -v stats="$tmp/oracle/stats" -v maxline=$MAXLINE "$tmp/long.log" \
    >"$tmp/oracle/rows.tsv" || exit 99
stats=$(tr '\n' ' ' <"$tmp/oracle/stats")
[ "$stats" = "lines 20001 bad 3 " ] || { echo "long_line.sh: the oracle counted $stats"; exit 99; }
(cd "$tmp/oracle" && sqlite3 -batch :memory: <"$here/oracle.sql") || exit 99

# compare REPORT KINDS LIMIT ORDCOL RUN: a report of run RUN against the oracle (compare.awk)
compare() {
    f=$tmp/$5/web/$1.csv
    [ -r "$f" ] || { fail "$5: no report $1"; return; }
    out=$($AWK -f "$here/compare.awk" -v report="$1 ($5)" -v kinds="$2" -v limit="$3" \
        -v ordcol="$4" -v mode=oracle -v efile="$tmp/oracle/$1.tsv" -v efmt=tsv \
        -v afile="$f" -v afmt=csv -v asize="$(wc -c <"$f")")
    printf '%s\n' "$out" | grep -v '^TALLY ' || :
    tally=$(printf '%s\n' "$out" | sed -n 's/^TALLY //p')
    [ -n "$tally" ] || { fail "$1 ($5): the comparison did not finish"; return; }
    npass=$((npass + ${tally% *}))
    nfail=$((nfail + ${tally#* }))
}

for workers in 1 2; do
    run=w$workers
    "$master" --standalone --once --config "$tmp/rules.yaml" --workers $workers \
        --export-dir "$tmp/$run" >"$tmp/$run.out" 2>"$tmp/$run.err"
    rc=$?
    if [ $rc -eq 0 ]; then pass; else fail "$run: exit status $rc ($(head -c 300 "$tmp/$run.err"))"; fi
    if grep -q "^job web: 20001 lines (3 bad), $size bytes, " "$tmp/$run.out"; then
        pass
    else
        fail "$run: the summary is not 'job web: 20001 lines (3 bad), $size bytes': $(grep '^job ' "$tmp/$run.out")"
    fi
    if grep -q "^    at byte $long_at (line too long): xxxxxxxx" "$tmp/$run.out"; then
        pass
    else
        fail "$run: no 'at byte $long_at (line too long)' in the bad-line summary: $(grep 'at byte' "$tmp/$run.out")"
    fi
    while read -r name kinds limit ordcol; do
        compare "$name" "$kinds" "$limit" "$ordcol" $run
    done <<EOF
by_status k,e,e 0 0
by_method k,e,a,e,e 0 0
pages k,e,d,e,p 0 0
totals e,e,d,e,e,e,a,p,p 0 0
clients k,e,e,e 0 0
EOF
done

if "$master" --check --config "$tmp/rules.yaml" | grep -q "^job web: .*, max_line 4MiB$"; then
    pass
else
    fail "--check does not show 'max_line 4MiB' for job web"
fi

finish
