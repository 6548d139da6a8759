#!/bin/sh
# tests/recount/regex_limits.sh - a regex that gives up at its limit, against a mawk recount.
#
# A generated combined log (mawk, fixed seed): 3000 lines, of which about one in
# seven has a pathological path, "/" then 1000 to 4000 'a's then "b", that the
# pattern (a+)+$ can only reject by trying every split of the a's (PCRE2 gives
# up at its match limit); the others are short paths that end in 'a' or not.
# Rules: `all` (key status: count, sum of bytes), `ends_a` (where path ~
# "(a+)+$", key status: count) and `not_a` (where path !~ "(a+)+$": count).
#
# Checks, every figure from an independent recount of the raw log by mawk
# (whose regex engine does not backtrack):
# - abbey-master --check exits 0 and warns about each use of the pattern,
#   naming the rules file, the line and column of the pattern (found by awk in
#   the rules text);
# - the standalone run (2 workers) exits 0, reads every line, none bad;
# - `all` counts every line per status with its bytes (the pathological lines
#   included: a regex that gives up never drops a line from other entries);
# - `ends_a` counts exactly the lines whose path ends in 'a' (a pathological
#   path ends in 'b': no match, and abbey's "false" is right);
# - `not_a` counts the paths that do not end in 'a' minus the pathological ones
#   (a match that gives up is false both ways);
# - the summary's regex_limit_hits equals the number of pathological lines.
#
# Environment: ABBEY_BUILDDIR, ABBEY_SRCDIR as in standalone.sh. Needs mawk
# (exit 77 without). Exit 0 when every check passes, 1 otherwise, 99 on a setup
# error. No timing assertions.
set -u

. "$(dirname "$0")/lib.sh"
setup regex mawk

$AWK 'BEGIN {
    srand(20240607)
    split("200 304 404 500", st, " ")
    for (i = 0; i < 3000; i++) {
        r = int(rand() * 7)
        if (r == 0) {
            n = 1000 + int(rand() * 3001)
            p = "/"
            for (k = 0; k < n; k++)
                p = p "a"
            p = p "b"
        } else if (r <= 2) {
            p = "/" substr("xyzab", 1 + int(rand() * 5), 2) "a"
        } else {
            p = "/p" int(rand() * 50) substr("abc", 1 + int(rand() * 3), 1)
        }
        printf "10.0.%d.%d - - [17/May/2015:10:%02d:03 +0000] \"GET %s HTTP/1.1\" %s %d \"-\" \"t\"\n",
            int(rand() * 4), int(rand() * 250), i % 60, p, st[1 + int(rand() * 4)],
            int(rand() * 5000)
    }
}' >"$tmp/access.log" || exit 99

cat >"$tmp/rules.yaml" <<EOF
jobs:
  - name: web
    sources: ["$tmp/access.log"]
    format: combined
    groups:
      - name: g
        entries:
          - name: all
            key: [status]
            values: {hits: count, bytes: sum(bytes)}
          - name: ends_a
            key: [status]
            where: path ~ "(a+)+\$"
            values: {hits: count}
          - name: not_a
            where: path !~ "(a+)+\$"
            values: {hits: count}
EOF

# --check: exit 0, a warning at each use of the pattern (line and column of its string)
"$master" --check --config "$tmp/rules.yaml" >"$tmp/check.out" 2>"$tmp/check.err"
check "--check exit status" 0 $?
want=$($AWK -v f="$tmp/rules.yaml" '/where: path !?~ "\(a\+\)/ {
    printf "%s:%d:%d: warning: regex \"(a+)+$\" nests quantifiers\n", f, NR, index($0, "\"(a+)")
}' "$tmp/rules.yaml")
check "--check warnings" "$want" "$(grep -o '^.* nests quantifiers' "$tmp/check.err")"
check "--check: nothing else on stderr" 2 "$(wc -l <"$tmp/check.err" | tr -d ' ')"

# the run
"$master" --standalone --once --config "$tmp/rules.yaml" --workers 2 --export-dir "$tmp/out" \
    >"$tmp/run.out" 2>"$tmp/run.err"
check "standalone exit status" 0 $?

# the oracle
$AWK -F '"' '{
    split($2, rq, " "); split($3, sb, " ")
    path = rq[2]; st = sb[1]; lines++
    all[st]++; bytes[st] += sb[2]
    patho = path ~ /^\/a+b$/ && length(path) > 1000
    if (path ~ /a$/) ends[st]++
    else if (!patho) nota++
    hits += patho
} END {
    printf "lines %d bad 0 hits %d not_a %d\n", lines, hits, nota
    for (s in all) printf "all %s,%d,%d\n", s, all[s], bytes[s]
    for (s in ends) printf "ends_a %s,%d\n", s, ends[s]
}' "$tmp/access.log" >"$tmp/oracle" || exit 99

set -- $(head -n 1 "$tmp/oracle")
lines=$2 hits=$6 nota=$8
[ "$hits" -gt 300 ] && [ "$hits" -lt 600 ] || {
    echo "regex_limits.sh: the generator made $hits pathological lines"
    exit 99
}
check "summary line" "job web: $lines lines (0 bad)" \
    "$(grep -o '^job web: [0-9]* lines ([0-9]* bad)' "$tmp/run.out")"
check "regex_limit_hits" "$hits" \
    "$(sed -n 's/^  regex_limit_hits: \([0-9]*\) .*/\1/p' "$tmp/run.out")"
for e in all ends_a; do
    check "$e" "$(sed -n "s/^$e //p" "$tmp/oracle" | sort)" \
        "$(tail -n +2 "$tmp/out/web/$e.csv" | tr -d '\r' | sort)"
done
check "not_a" "$nota" "$(tail -n +2 "$tmp/out/web/not_a.csv" | tr -d '\r')"

finish
