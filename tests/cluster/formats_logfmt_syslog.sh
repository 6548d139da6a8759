#!/bin/sh
# formats_logfmt_syslog.sh - cluster integration test: the logfmt and syslog formats on two masters and
# two slaves, against python3 recounts.
#
# The logs and jobs of tests/recount/logfmt.py and syslog.py (6000 logfmt lines and 5000
# syslog lines of every form, bad lines of every kind mixed in), each job with two rule
# groups, so that both masters own some; the primary cuts leases at 64 KiB
# (--lease-bytes), so every file is read in many ranges by both slaves. Once the cluster
# has read every byte and exported, each report (from whichever master owns it) must equal
# the recount row for row (tests/recount/compare_reports.py), and both masters must count
# the recount's lines and bad lines per job.
. "$(dirname "$0")/lib.sh"

R=$ABBEY_SRCDIR/tests/recount
mkdir -p "$T/logs"
python3 "$R/logfmt.py" gen "$T/logs/app.log" || exit 99
python3 "$R/syslog.py" gen "$T/logs/sys.log" || exit 99
python3 "$R/logfmt.py" recount "$T/logs/app.log" "$T/recount.app" || exit 99
python3 "$R/syslog.py" recount "$T/logs/sys.log" "$T/recount.sys" || exit 99
total=$(($(wc -c <"$T/logs/app.log") + $(wc -c <"$T/logs/sys.log")))

set -- $(free_ports 2)
P1=$1 P2=$2
{
    cat <<YAML
masters:
  - {name: m1, url: "http://127.0.0.1:$P1"}
  - {name: m2, url: "http://127.0.0.1:$P2"}
jobs:
YAML
    python3 "$R/logfmt.py" job app "$T/logs/app.log"
    python3 "$R/syslog.py" job sys "$T/logs/sys.log"
} >"$T/rules.yaml" || exit 99
"$MASTER" --check --config "$T/rules.yaml" >"$T/check.out" 2>&1
check "--check accepts the rules" [ $? -eq 0 ]
check "both masters own a group" sh -c "grep -q -- '-> m1' '$T/check.out' && grep -q -- '-> m2' '$T/check.out'"

start m1 "$MASTER" --config "$T/rules.yaml" --name m1 --listen "127.0.0.1:$P1" \
    --token-file "$T/token" --data-dir "$T/m1/data" --export-dir "$T/m1/export" --lease-bytes 64k
start m2 "$MASTER" --primary "http://127.0.0.1:$P1" --name m2 --listen "127.0.0.1:$P2" \
    --token-file "$T/token" --data-dir "$T/m2/data" --export-dir "$T/m2/export"
start s1 "$SLAVE" --primary "http://127.0.0.1:$P1" --name s1 --token-file "$T/token" \
    --spool-dir "$T/s1"
start s2 "$SLAVE" --primary "http://127.0.0.1:$P1" --name s2 --token-file "$T/token" \
    --spool-dir "$T/s2"
if ! wait_for 120 settled "$P1" "$total" "$P2"; then
    fail "the cluster did not read all $total bytes and export within 120 s"
    api "$P1" /v1/status
    finish
fi
pass

for job in app sys; do
    # the reports of the job, from whichever master exports them
    mkdir -p "$T/reports/$job"
    for m in m1 m2; do
        [ -d "$T/$m/export/$job" ] && cp "$T/$m/export/$job"/*.csv "$T/reports/$job/"
    done
    out=$(python3 "$R/compare_reports.py" "$T/recount.$job" "$T/reports/$job" cluster)
    printf '%s\n' "$out" | grep -v '^TALLY '
    tally=$(printf '%s\n' "$out" | sed -n 's/^TALLY //p')
    ok=no
    case $tally in [1-9]*" 0") ok=yes ;; esac # some passed, none failed
    check "$job: every report equals the recount ($tally)" [ $ok = yes ]
    set -- $(head -n 1 "$T/recount.$job")
    for p in "$P1" "$P2"; do
        check "$job: the master on $p counted $2 lines, $4 bad" [ "$(json "$p" /v1/status \
            "[(x['lines'], x['bad_lines']) for x in j['merger']['jobs'] if x['name'] == '$job']")" \
            = "[($2, $4)]" ]
    done
done
finish
