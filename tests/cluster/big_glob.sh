#!/bin/sh
# big_glob.sh - a glob of 100,000 files (SCHED_MAX_TASKS), in a cluster of one master and
# one slave: the slave sends the listing in parts, each under the 1 MiB limit of JSON
# calls, and the primary applies it as one expansion (docs/CLUSTER.md "A listing in parts"):
#   a. the primary has a read task for each of the 100,000 files (status: tasks, files)
#      within 120 s, and nothing was refused on the way (neither log has a refusal);
#   b. the status stays small and pages: 1,000 sources by default, tasks 99,990 to 100,000
#      with offset and limit, 400 for a limit out of range;
#   c. a body over the limit is refused (413) and logged at the primary with its size; a
#      completion the primary refuses is logged there once per lease, however often sent;
#   d. nothing stalls: with 100,001 tasks the primary goes on closing rounds.
. "$(dirname "$0")/lib.sh"

N=100000
mkdir -p "$T/big"
python3 - "$T/big" "$N" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    open(os.path.join(d, "f%06d.log" % i), "w").close()
PY
check "$N files made" [ "$(ls "$T/big" | wc -l)" -eq "$N" ]

set -- $(free_ports 1)
P1=$1
by_status_rules "$P1" "\"$T/big/*.log\"" | sed 's/round: 1s/round: 5s/' >"$T/rules.yaml"
start primary "$MASTER" --config "$T/rules.yaml" --name m1 --listen "127.0.0.1:$P1" \
    --data-dir "$T/data" --export-dir "$T/out" --token-file "$T/token"
start slave "$SLAVE" --primary "http://127.0.0.1:$P1" --name s1 --token-file "$T/token" \
    --spool-dir "$T/spool" --workers 2
wait_for 20 api "$P1" /v1/status -f || fail "the primary did not start"

tasks_files() { json "$P1" '/v1/status?limit=0' \
    '"%d %d" % (j["scheduler"]["jobs"][0]["tasks"], j["scheduler"]["jobs"][0]["files"])'; }
all_there() { [ "$(tasks_files)" = "$((N + 1)) $N" ]; }
check "a read task per file, $N files, within 120 s (got: $(tasks_files))" wait_for 120 all_there
check "the slave sent the listing in parts, none refused" \
    sh -c "! grep -E 'refused|not sent|cannot' '$T/slave.log'"
check "the primary refused nothing" sh -c "! grep -E 'refused \(|ignored' '$T/primary.log'"

# b. the status pages
api "$P1" /v1/status >"$T/status.json"
check "the default status lists 1000 sources ($(wc -c <"$T/status.json") bytes)" \
    [ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["scheduler"]["jobs"][0]["sources"]))' \
        "$T/status.json")" = 1000 ]
check "offset 99990, limit 100: tasks 99990 to 100000" \
    [ "$(json "$P1" '/v1/status?offset=99990&limit=100' \
        '" ".join(str(s["task"]) for s in j["scheduler"]["jobs"][0]["sources"][::10])')" = "99990 100000" ]
check "limit 10001: 400" [ "$(api "$P1" '/v1/status?limit=10001' -o /dev/null -w '%{http_code}')" = 400 ]
check "offset -1: 400" [ "$(api "$P1" '/v1/status?offset=-1' -o /dev/null -w '%{http_code}')" = 400 ]

# c. refusals are logged at the primary
head -c 1100000 /dev/zero | tr '\0' ' ' >"$T/huge.json"
check "a body over 1 MiB: 413" [ "$(api "$P1" /v1/complete -X POST --data-binary @"$T/huge.json" \
    -H 'Content-Type: application/json' -o /dev/null -w '%{http_code}')" = 413 ]
check "... logged at the primary with its size" \
    wait_for 5 grep -q "POST /v1/complete from 127.0.0.1: refused (413): a body of 1100000 bytes" \
    "$T/primary.log"
for _ in 1 2 3; do
    api "$P1" /v1/complete -X POST -d '{"slave":"x9","lease":77,"paths":[]}' -o /dev/null
done
check "a refused completion, sent three times, is logged once" \
    [ "$(grep -c 'lease 77 (slave x9): completion refused (409)' "$T/primary.log")" = 1 ]

# d. nothing stalls: rounds go on closing (complete or at their deadline)
closed() { json "$P1" '/v1/rounds?job=web' 'len(j["rounds"])'; }
c1=$(closed)
more_closed() { [ "$(closed)" -gt "${c1:-0}" ]; }
check "rounds go on closing (one more within 40 s: 3 rounds' deadline and an expansion)" \
    wait_for 40 more_closed
stop slave
stop primary
finish
