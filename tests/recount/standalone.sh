#!/bin/sh
# tests/recount/standalone.sh - abbey's standalone one-shot run against an independent recount.
#
# Runs `abbey-master --standalone --once` on the bundled Apache log with the rules
# of examples/apache.yaml (1 worker, 4 workers, and the log split into 3 files read
# through a file and a glob), then recounts every figure of every report without
# abbey: recount.awk (mawk) parses the raw log into TSV and oracle.sql (sqlite3)
# computes the reports; compare.awk checks each exported report row by row and
# column by column: exact figures exactly, averages to 1e-9 relative, distinct to
# 3% (exactly below 500), percentiles to 1%, the row set, the order and the top-N
# cut, the CSV format (RFC 4180, CRLF). The other runs must also give the same
# exact figures (and averages) as the first, and the JSON report `status` the
# figures of by_status.
#
# The closing "N passed, M failed" counts checks: one per compared figure, plus one
# per structural check (summary line, report file, CSV format, header, row set,
# order, JSON metadata) and the comparator's self-check.
#
# Environment: ABBEY_BUILDDIR (master/abbey-master) and ABBEY_SRCDIR (data/,
# examples/) are set by `make check`; run by hand they default to the script's
# ../..; needs sqlite3 and mawk (exit 77, skip,
# without them). Exit 0 when every check passes, 1 when one fails, 99 on a setup
# error.
set -u

. "$(dirname "$0")/lib.sh"
rules=$srcdir/examples/apache.yaml
setup recount sqlite3 mawk
need "$log" "$rules"

# The reports: name, column kinds (k key, e exact, a average, d distinct,
# p percentile), limit (0: none) and the limit's order column (1-based).
reports='by_status k,e,e 0 0
by_method k,e,a,e,e 0 0
pages k,e,d,e,p 0 0
top_pages k,e,d 10 2
totals e,e,d,e,e,e,a,p,p 0 0
per_hour k,e,e,e,a 0 0
clients k,e,e,e 0 0
top_clients k,e,e,e 10 3
bots k,e,e 0 0
errors k,k,e 0 0
images k,e,e,p 0 0'

# compare REPORT KINDS LIMIT ORDCOL MODE EXPECTED EFMT ACTUAL AFMT: run
# compare.awk, print its failures, add its tally.
compare() {
    [ -r "$6" ] && [ -r "$8" ] || return 0 # a missing report already failed in run()
    out=$($AWK -f "$here/compare.awk" -v report="$1" -v kinds="$2" -v limit="$3" \
        -v ordcol="$4" -v mode="$5" -v efile="$6" -v efmt="$7" -v afile="$8" \
        -v afmt="$9" -v asize="$(wc -c <"$8")")
    printf '%s\n' "$out" | grep -v '^TALLY ' || :
    tally=$(printf '%s\n' "$out" | sed -n 's/^TALLY //p')
    if [ -z "$tally" ]; then
        fail "$1: the comparison did not finish ($6 vs $8)"
        return
    fi
    npass=$((npass + ${tally% *}))
    nfail=$((nfail + ${tally#* }))
}

# run NAME CONFIG WORKERS: one standalone run into $tmp/NAME; checks its exit
# status, its summary line and that every report file is there.
run() {
    "$master" --standalone --once --config "$2" --workers "$3" \
        --export-dir "$tmp/$1" >"$tmp/$1.out" 2>"$tmp/$1.err"
    rc=$?
    if [ $rc -eq 0 ]; then
        pass
    else
        fail "run $1: abbey-master exited with status $rc ($(head -c 300 "$tmp/$1.err"))"
    fi
    if grep -Eq "^job web: 10000 lines \\(1 bad\\), $logsize bytes, " "$tmp/$1.out"; then
        pass
    else
        fail "run $1: the summary does not say 'job web: 10000 lines (1 bad), $logsize bytes':" \
            "$(grep '^job ' "$tmp/$1.out" || head -c 300 "$tmp/$1.out")"
    fi
    for name in $(printf '%s\n' "$reports" | cut -d' ' -f1) status.json; do
        case $name in *.json) f=$tmp/$1/web/$name ;; *) f=$tmp/$1/web/$name.csv ;; esac
        if [ -s "$f" ]; then pass; else fail "run $1: no report $f"; fi
    done
}

# The oracle: the raw log -> rows.tsv -> one <report>.tsv per report.
logsize=$(wc -c <"$log")
mkdir "$tmp/oracle" || exit 99
$AWK -f "$here/recount.awk" -v stats="$tmp/oracle/stats" "$log" >"$tmp/oracle/rows.tsv" || exit 99
if [ "$(tr '\n' ' ' <"$tmp/oracle/stats")" != "lines 10000 bad 1 " ]; then
    echo "standalone.sh: the oracle's parser counted $(cat "$tmp/oracle/stats"), not 10000 lines, 1 bad"
    exit 99
fi
(cd "$tmp/oracle" && sqlite3 -batch :memory: <"$here/oracle.sql") || exit 99

# Self-check: the comparison rejects a wrong figure (by_status's first hits + 1).
$AWK -F '\t' 'NR == 2 { $2 = $2 + 1 } { print }' OFS='\t' "$tmp/oracle/by_status.tsv" \
    >"$tmp/wrong.tsv"
if $AWK -f "$here/compare.awk" -v report=self -v kinds=k,e,e -v limit=0 -v ordcol=0 \
    -v mode=oracle -v efile="$tmp/oracle/by_status.tsv" -v efmt=tsv \
    -v afile="$tmp/wrong.tsv" -v afmt=tsv | grep -q '^TALLY [0-9]* 1$'; then
    pass
else
    fail "self-check: the comparison did not reject a wrong hits figure"
fi

# The runs.
mkdir "$tmp/split" || exit 99
sed -n '1,3333p' "$log" >"$tmp/split/part-1.log"
sed -n '3334,6666p' "$log" >"$tmp/split/more-2.log"
sed -n '6667,$p' "$log" >"$tmp/split/more-3.log"
$AWK -v one="$tmp/split/part-1.log" -v glob="$tmp/split/more-*.log" '
    /^ *- \.\.\/data\/apache_combined_10k\.log *$/ {
        ind = substr($0, 1, index($0, "-") - 1)
        print ind "- \"" one "\""
        print ind "- \"" glob "\""
        done++
        next
    }
    { print }
    END { exit done != 1 }' "$rules" >"$tmp/split.yaml" || {
    echo "standalone.sh: no source line to replace in $rules"
    exit 99
}
run w1 "$rules" 1
run w4 "$rules" 4
run split "$tmp/split.yaml" 2

# Every report of every run against the oracle; the other runs against w1.
while read -r name kinds limit ordcol; do
    for r in w1 w4 split; do
        compare "$name ($r)" "$kinds" "$limit" "$ordcol" oracle "$tmp/oracle/$name.tsv" tsv \
            "$tmp/$r/web/$name.csv" csv
        [ $r = w1 ] || compare "$name ($r vs w1)" "$kinds" 0 0 same "$tmp/w1/web/$name.csv" csv \
            "$tmp/$r/web/$name.csv" csv
    done
done <<EOF
$reports
EOF

# The JSON report `status`: its metadata, integer figures, and by_status's rows.
for r in w1 w4 split; do
    j=$tmp/$r/web/status.json
    [ -s "$j" ] || continue
    jq=$(printf "%s" "$j" | sed "s/'/''/g")
    meta=$(sqlite3 -batch :memory: "
        SELECT json_valid(readfile('$jq'))
           AND json_extract(readfile('$jq'), '\$.job') = 'web'
           AND json_extract(readfile('$jq'), '\$.report') = 'status'
           AND json_extract(readfile('$jq'), '\$.entry') = 'by_status'
           AND json_extract(readfile('$jq'), '\$.columns') = '[\"status\",\"hits\",\"bytes\"]'
           AND (SELECT COUNT(*) FROM json_each(readfile('$jq'), '\$.rows') AS row
                WHERE json_type(row.value, '\$.status') != 'integer'
                   OR json_type(row.value, '\$.hits') != 'integer'
                   OR json_type(row.value, '\$.bytes') != 'integer'
                   OR (SELECT COUNT(*) FROM json_each(row.value)) != 3) = 0;" 2>&1)
    if [ "$meta" = 1 ]; then
        pass
    else
        fail "status ($r): status.json is not {job: web, report: status, entry: by_status," \
            "columns: [status, hits, bytes], rows of 3 integers} ($meta)"
    fi
    sqlite3 -batch -header -separator '	' :memory: "
        SELECT json_extract(value, '\$.status') AS status,
               json_extract(value, '\$.hits') AS hits,
               json_extract(value, '\$.bytes') AS bytes
        FROM json_each(readfile('$jq'), '\$.rows') ORDER BY key;" >"$tmp/$r-status.tsv" 2>&1
    compare "status ($r, json)" k,e,e 0 0 oracle "$tmp/oracle/by_status.tsv" tsv \
        "$tmp/$r-status.tsv" tsv
done

finish
