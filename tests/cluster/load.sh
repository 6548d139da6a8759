#!/bin/sh
# load.sh - abbey-load (tests/tools/load/) against a real primary, CI-sized: one job of 1 s
# rounds over a glob that 50 simulated slaves list as files, for 10 s, with each protocol
# the primary speaks: one lease per call over 500 files (a lease per file per round: the
# scheduler of one lease per call is not what is measured here), sticky leases over 2,000
# when the primary grants them.
# Asserts correctness only, never timing:
#   a. the tool got no error answer (exit status 0: every call answered 2xx, no completion
#      refused) and every simulated slave got a lease (sticky: every task is held, as the
#      shares may leave the last slaves none);
#   b. the primary made a read task of each of the 2,000 files (its status: tasks, files);
#   c. every round that closed while the slaves ran closed complete (GET /v1/rounds), and
#      rounds did close (at least 4);
#   d. the primary's own count of leases granted (abbey_leases_total) covers what the tool
#      was granted, and exceeds it by no more than the calls it had in flight at its end;
#      its lease calls (abbey_lease_calls_total) likewise.
. "$(dirname "$0")/lib.sh"

LOAD=$ABBEY_BUILDDIR/tests/tools/abbey-load
[ -x "$LOAD" ] || { echo "ERROR: build first ($LOAD)"; exit 99; }
SLAVES=50 SECONDS_=10

# metric NAME{labels}: its value on the primary's /metrics (0 when absent)
metric() {
    api "$P1" /metrics | python3 -c '
import sys
key = sys.argv[1]
for line in sys.stdin:
    if line.startswith(key + " "):
        print(int(float(line.split()[-1]))); break
else:
    print(0)' "$1"
}

# run PROTOCOL: a fresh primary, the tool for SECONDS_ s, then the checks
run() {
    local proto=$1 d="$T/$1" first granted calls rc got max FILES=500
    [ "$proto" = sticky ] && FILES=2000
    set -- $(free_ports 1)
    P1=$1
    mkdir -p "$d"
    by_status_rules "$P1" "\"/sim/$proto/*.log\"" >"$d/rules.yaml"
    start "primary_$proto" "$MASTER" --config "$d/rules.yaml" --name m1 --listen "127.0.0.1:$P1" \
        --data-dir "$d/data" --export-dir "$d/out" --token-file "$T/token"
    wait_for 20 api "$P1" /v1/status -f || { fail "$proto: the primary did not start"; return; }
    # a primary with sticky leases answers a batched renewal (of none) with its rounds
    if [ "$proto" = sticky ] && ! api "$P1" /v1/lease/renew -f -X POST -d \
        '{"slave":"probe","leases":[]}' 2>/dev/null | grep -q '"rounds"'; then
        echo "SKIP: sticky: this primary grants no sticky leases"
        stop "primary_$proto"
        return
    fi
    first=$(json "$P1" /v1/status 'j["scheduler"]["jobs"][0]["round"] or 0')
    "$LOAD" --primary "http://127.0.0.1:$P1" --token-file "$T/token" --protocol "$proto" \
        --slaves $SLAVES --seconds $SECONDS_ --files $FILES --prefix "$proto" \
        --out "$d/load.json" 2>"$d/load.err"
    rc=$?
    check "$proto: the tool got no error answer (exit $rc): $(cat "$d/load.json" "$d/load.err")" \
        [ $rc -eq 0 ]
    if [ "$proto" = single ]; then
        check "$proto: every simulated slave got a lease" \
            [ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["first_lease_ms"]["never"])' \
                "$d/load.json")" = 0 ]
    else # (shares: ceil(n * w / W) each, so the last slaves may find none left)
        check "$proto: every task is held by a slave (sticky leases outlive the tool by 30 s)" \
            [ "$(json "$P1" /v1/status?limit=10000 'len(j["scheduler"]["jobs"][0]["leases"])')" \
                = "$((FILES + 1))" ]
    fi
    check "$proto: $FILES files, one read task each, and the glob's" \
        [ "$(json "$P1" /v1/status?limit=0 \
            '"%d %d" % (j["scheduler"]["jobs"][0]["tasks"], j["scheduler"]["jobs"][0]["files"])')" \
            = "$((FILES + 1)) $FILES" ]
    api "$P1" "/v1/rounds?job=web&after=$first" >"$d/rounds.json"
    check "$proto: every round closed complete, and at least 4 closed: $(head -c 600 "$d/rounds.json")" \
        python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["rounds"]
sys.exit(0 if len(r) >= 4 and not any(x["incomplete"] for x in r) else 1)' "$d/rounds.json"
    granted=$(python3 -c 'import json,sys; l=json.load(open(sys.argv[1]))["leases"]; print(l["read"]+l["expand"]+l["repair"])' "$d/load.json")
    calls=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["calls"]["lease"])' "$d/load.json")
    got=$(metric 'abbey_leases_total{result="granted"}')
    check "$proto: the primary granted $got leases: at least the tool's $granted" [ "$got" -ge "$granted" ]
    max=1
    [ "$proto" = sticky ] && max=1024
    check "$proto: ... and at most $((SLAVES * max)) more" [ "$got" -le "$((granted + SLAVES * max))" ]
    got=$(($(metric 'abbey_lease_calls_total{result="leases"}') + $(metric 'abbey_lease_calls_total{result="empty"}')))
    check "$proto: the primary answered $got lease calls of the tool's $calls" \
        [ "$got" -le "$calls" -a "$got" -ge "$((calls - SLAVES))" ]
    stop "primary_$proto"
}

run single
run sticky
finish
