#!/bin/sh
# rejects.sh - integration test: bad lines counted by reason and kept in rejects files, in a
# standalone run and in a cluster (a primary and a slave).
#
# The log: 3000 good lines of the bundled log with a bad line after every 25th, cycling
# through reasons (a line of plain text, one with a NUL, bytes that are not UTF-8, a
# backslash, a quote and an escape sequence, an unterminated quote, a 31st of February, a
# status "2x0", a line over the job's max_line of 2 KiB; the good lines are all shorter). Each bad line carries a tag
# BAD<n>-<reason>; the oracle is mawk over the raw log: the tags in file order, and the count
# of each reason. tests/tools/rejects_check.py reads a rejects file back (every record is
# JSON; a line, unescaped, must be the log's bytes at its offset) and lists its records as
# "<tag> <reason>" and "MARK not_kept=N max=M".
#
# Standalone (2 workers, max_per_round 1000): the summary's bad lines by reason are the
# oracle's, and the file holds every bad line once. Cluster (max_per_round 50, one lease
# reads the whole log in one round): the file holds the first 50 bad lines in order; 10 more
# bad lines appended later (a later round) follow a MARK of the 70 not kept; the primary's
# /v1/status (merger bad_lines_by_reason) and /metrics (abbey_bad_lines_reason_total) show
# the oracle's counts; the slave logs the 70 not kept.
. "$(dirname "$0")/lib.sh"
CHECKER=$ABBEY_SRCDIR/tests/tools/rejects_check.py

mkdir -p "$T/logs"
f=$T/logs/access.log
long=$(head -c 3000 /dev/zero | tr '\0' x)

# bad_lines FIRST N: N bad lines with tags FIRST.., one reason after the other
bad_lines() {
    i=$1
    while [ "$i" -lt $(($1 + $2)) ]; do
        case $((i % 6)) in
        0) printf 'BAD%d-fields this is not a log line at all\n' "$i" ;;
        1) printf 'BAD%d-fields a NUL \000, bytes \377\376 not UTF-8, a \\ and a " and \033[31m\n' "$i" ;;
        2) printf '10.0.0.1 - - [18/May/2015:02:05:46 +0000] "GET /BAD%d-quote HTTP/1.1\n' "$i" ;;
        3) printf '10.0.0.1 - - [31/Feb/2015:02:05:46 +0000] "GET /BAD%d-time HTTP/1.1" 200 5 "-" "c"\n' "$i" ;;
        4) printf '10.0.0.1 - - [18/May/2015:02:05:46 +0000] "GET /BAD%d-number HTTP/1.1" 2x0 5 "-" "c"\n' "$i" ;;
        5) printf '10.0.0.1 - - [18/May/2015:02:05:46 +0000] "GET /BAD%d-too_long/%s HTTP/1.1" 200 5 "-" "c"\n' "$i" "$long" ;;
        esac
        i=$((i + 1))
    done
}

# mix GOOD_FIRST GOOD_LAST BAD_FILE: the good lines with a bad one after every 25th
mix() {
    sed -n "$1,$2p" "$LOG" | mawk -v bad="$3" '
        { print }
        NR % 25 == 0 && (getline b < bad) > 0 { print b }'
}

bad_lines 1 120 >"$T/bad1"
mix 1 3000 "$T/bad1" >"$f"

# the oracle: tags in file order, and the count of each reason
tags() { mawk 'match($0, /BAD[0-9]+-[a-z_]+/) { t = substr($0, RSTART, RLENGTH); r = t; sub(/^BAD[0-9]+-/, "", r); print t, r }' "$@"; }
counts() { tags "$@" | mawk '{ n[$2]++ } END { for (r in n) print r, n[r] }' | sort; }
tags "$f" >"$T/tags"
check "the log holds 120 tagged bad lines" [ "$(wc -l <"$T/tags")" -eq 120 ]
check "no untagged line is over max_line" [ "$(mawk '!/BAD[0-9]+-/ && length($0) > 2048' "$f" | wc -l)" -eq 0 ]

rules() { # $1: master port or none; $2: rejects dir; $3: max_per_round
    [ "$1" != none ] && printf 'masters:\n  - {name: m1, url: "http://127.0.0.1:%s"}\n' "$1"
    cat <<YAML
jobs:
  - name: web
    round: 1s
    max_line: 2KiB
    sources: [$f]
    format: combined
    rejects: {path: $2, max_per_round: $3}
    groups:
      - name: traffic
        entries:
          - {name: by_status, key: [status], values: {hits: count, bytes: sum(bytes)}}
          # reads time, so that a line whose time is not one is bad (unneeded fields are not
          # converted)
          - {name: by_hour, key: [time_bucket(time, 1h)], values: {hits: count}}
YAML
}

# listing FILE: the checker's listing of a rejects file (nothing when it fails)
listing() { python3 "$CHECKER" "$1" "$f" 2>"$T/checker.err" || cat "$T/checker.err" >&2; }

# ---- standalone --------------------------------------------------------------------------
rules none "$T/sa-rejects" 1000 >"$T/standalone.yaml"
"$MASTER" --standalone --once --config "$T/standalone.yaml" --workers 2 --export-dir "$T/sa" \
    >"$T/sa.out" 2>"$T/sa.err"
check "standalone run exits 0" [ $? -eq 0 ]
check "standalone: 3120 lines, 120 bad" grep -q "^job web: 3120 lines (120 bad)" "$T/sa.out"
want=$(counts "$f" | tr '\n' ',' | sed 's/,$//; s/,/, /g')
got=$(sed -n 's/^  bad lines by reason: //p' "$T/sa.out" | tr ',' '\n' | sed 's/^ //' | sort |
    tr '\n' ',' | sed 's/,$//; s/,/, /g')
check "standalone: bad lines by reason '$got' are the oracle's '$want'" [ "$got" = "$want" ]
check "standalone: the summary says 120 kept" \
    grep -q "^  rejects: 120 kept in $T/sa-rejects/web.rejects" "$T/sa.out"
listing "$T/sa-rejects/web.rejects" | sort >"$T/sa.list"
sort "$T/tags" >"$T/tags.sorted"
check "standalone: the rejects file holds every bad line once, with its reason" \
    cmp -s "$T/tags.sorted" "$T/sa.list"
check "standalone: the file is not readable by others" \
    [ "$(stat -c %a "$T/sa-rejects/web.rejects" | cut -c3)" = 0 ]

# ---- cluster -------------------------------------------------------------------------------
set -- $(free_ports 1)
P1=$1
rules "$P1" "$T/s1-rejects" 50 >"$T/rules.yaml"
start m1 "$MASTER" --config "$T/rules.yaml" --name m1 --listen "127.0.0.1:$P1" \
    --token-file "$T/token" --data-dir "$T/m1/data" --export-dir "$T/m1/export"
start s1 "$SLAVE" --primary "http://127.0.0.1:$P1" --name s1 --token-file "$T/token" \
    --spool-dir "$T/s1" --workers 1
total=$(wc -c <"$f")
if ! wait_for 60 settled "$P1" "$total"; then
    fail "the cluster did not read all $total bytes within 60 s"
    finish
fi
pass

# more bad lines, in a later round: the first ones may have been read and settled within
# the first round, and a sticky lease's holder checks its files every --poll-ms, so wait
# until the primary's round is two past the one at settling before appending
round_now() { json "$P1" "/v1/rounds?job=web&after=0" 'j.get("current_round", 0)'; }
r0=$(round_now)
rounds_past() { [ "$(round_now)" -ge $((r0 + 2)) ]; }
wait_for 30 rounds_past || fail "the primary's round did not advance from $r0 within 30 s"
bad_lines 121 10 >"$T/bad2"
mix 3001 3250 "$T/bad2" >>"$f"
total=$(wc -c <"$f")
wait_for 60 settled "$P1" "$total" || fail "the appended lines were not read within 60 s"
tags "$f" >"$T/tags"
check "the log now holds 130 tagged bad lines" [ "$(wc -l <"$T/tags")" -eq 130 ]

# the reasons at the primary: status and metrics
want=$(counts "$f" | tr ' \n' '= ' | sed 's/ $//')
got=$(json "$P1" /v1/status '" ".join("%s=%d" % kv for kv in sorted(j["merger"]["jobs"][0]["bad_lines_by_reason"].items()))')
check "primary status: bad lines by reason '$got' are the oracle's '$want'" [ "$got" = "$want" ]
check "primary status: 130 bad lines" \
    [ "$(json "$P1" /v1/status 'j["merger"]["jobs"][0]["bad_lines"]')" = 130 ]
got=$(api "$P1" /metrics | sed -n 's/^abbey_bad_lines_reason_total{master="m1",job="web",reason="\([a-z_]*\)"} \([0-9]*\)$/\1=\2/p' |
    sort | tr '\n' ' ' | sed 's/ $//')
check "primary metrics: abbey_bad_lines_reason_total '$got' is the oracle's '$want'" [ "$got" = "$want" ]

# the slave's file: the first 50 bad lines of round one, its mark, then the 10 later ones
{
    head -n 50 "$T/tags"
    echo "MARK not_kept=70 max=50"
    tail -n 10 "$T/tags"
} >"$T/s1.want"
listing "$T/s1-rejects/web.rejects" >"$T/s1.list"
check "cluster: the slave's rejects file holds the first 50, a mark of 70 not kept, the 10 later" \
    cmp -s "$T/s1.want" "$T/s1.list"
check "cluster: the slave logs the 70 not kept" \
    grep -q "rejects: job web: round [0-9]*: 70 more bad lines not kept in $T/s1-rejects/web.rejects (max_per_round 50)" "$T/s1.log"
if [ "$FAILED" -gt 0 ]; then
    diff "$T/s1.want" "$T/s1.list" | head -20
fi
finish
