#!/bin/sh
# formats_logformat.sh - cluster integration test: nginx and Apache format strings, against
# python3's re.
#
# Generated logs (tests/cluster/formats_logformat.py, fixed seeds): two files in an nginx
# log_format of our own, pasted as the config has it ($time_iso8601 with several offsets,
# $request_time, $upstream_response_time lists and "-", quoted agents with escaped quotes),
# and two in an Apache LogFormat line (%{%d/%b/%Y:%H:%M:%S}t read exactly as strftime
# writes it, on Europe/Berlin's clock over the night the clocks go back; %{msec_frac}t, %D,
# %{Referer}i, %{User-Agent}i); about 5% bad lines of every reason (fields, quote, time,
# number), and odd good ones. One job per log (counts and sums by two keys, a filtered entry,
# hours), one primary and two slaves, leases of 64 KiB. Once the primary has committed
# every byte: each job's lines, bad lines and bad lines by reason at the primary, and every
# row of every report, must equal the recount of the raw files by formats_logformat.py.
. "$(dirname "$0")/lib.sh"

py() { python3 "$ABBEY_SRCDIR/tests/cluster/formats_logformat.py" "$@"; }
python3 -c 'import zoneinfo; zoneinfo.ZoneInfo("Europe/Berlin")' 2>/dev/null ||
    { echo "SKIP: python3 has no zoneinfo or no Europe/Berlin"; exit 77; }
mkdir -p "$T/logs"
py gen-nginx "$T/logs/ngx-a.log" 9000 11 && py gen-nginx "$T/logs/ngx-b.log" 5000 12 &&
    py gen-apache "$T/logs/apa-a.log" 8000 21 && py gen-apache "$T/logs/apa-b.log" 4000 22 ||
    { echo "ERROR: formats_logformat.py could not write the logs"; exit 99; }
bytes=$(cat "$T"/logs/*.log | wc -c)
set -- $(free_ports 1)
P1=$1
py rules "$P1" "\"$T/logs/ngx-a.log\", \"$T/logs/ngx-b.log\"" "\"$T/logs/apa-*.log\"" \
    >"$T/rules.yaml" || exit 99
py oracle-nginx "$T/logs/ngx-a.log" "$T/logs/ngx-b.log" >"$T/ngx.json" &&
    py oracle-apache "$T/logs/apa-a.log" "$T/logs/apa-b.log" >"$T/apa.json" ||
    { echo "ERROR: the recount failed"; exit 99; }

read_by_two_slaves "$P1" "$bytes"

# lines, bad lines and bad lines by reason per job: the primary's status against the recount
api "$P1" /v1/status >"$T/status.json"
for job in ngx apa; do
    python3 - "$T/status.json" "$T/$job.json" $job >"$T/$job.counts" <<'EOF'
import json, sys
status, want, job = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
got = [x for x in status["merger"]["jobs"] if x["name"] == job]
got = got[0] if got else {}
reasons = {k: v for k, v in got.get("bad_lines_by_reason", {}).items() if v}
print("got  %s %s %s" % (got.get("lines"), got.get("bad_lines"), sorted(reasons.items())))
print("want %s %s %s" % (want["lines"], want["bad"], sorted(want["reasons"].items())))
EOF
    got=$(sed -n 's/^got  //p' "$T/$job.counts")
    want=$(sed -n 's/^want //p' "$T/$job.counts")
    check "$job: lines, bad lines, by reason at the primary ($got) equal the recount ($want)" \
        [ "${want:-no recount}" = "$got" ]
done

# every row of every report
for job in ngx apa; do
    out=$(python3 "$ABBEY_SRCDIR/tests/recount/formats.py" reports "$T/$job.json" \
        "$T/m1/export/$job")
    printf '%s\n' "$out" | grep -v '^TALLY ' | sed 's/^/FAIL: /'
    tally=$(printf '%s\n' "$out" | sed -n 's/^TALLY //p')
    [ -n "$tally" ] || { fail "$job: the comparison did not finish"; continue; }
    check "$job: every report equals the recount ($tally: passed, failed)" [ "${tally#* }" = 0 ]
    PASSED=$((PASSED + ${tally% *}))
done
# the files were read in many leases, by both slaves
leases=$(api "$P1" /metrics | mawk '/^abbey_leases_total\{result="completed"\}/ { print $2 }')
check "the logs were read in many leases ($leases in all)" [ "${leases:-0}" -ge 20 ]
slaves=$(json "$P1" /v1/status '" ".join(sorted(v["name"] for v in j["scheduler"]["slaves"]))')
check "both slaves asked for leases ($slaves)" [ "$slaves" = "s1 s2" ]
finish
