#!/bin/sh
# control.sh - cluster integration test of the control plane:
#   d. a request without the token, or with a wrong one, gets 401 on every call of every
#      master; a config change on the primary (SIGHUP) reaches the secondary and the slave;
#      an invalid rules file is refused and the old config kept.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/logs"
sed -n '1,100p' "$LOG" >"$T/logs/a.log"
set -- $(free_ports 2)
P1=$1 P2=$2
rules() { # $1: a comment line that changes the file's hash; $2: more entries of group g
    cat <<YAML
# $1
masters:
  - {name: m1, url: "http://127.0.0.1:$P1", weight: 1}
  - {name: m2, url: "http://127.0.0.1:$P2", weight: 1}
jobs:
  - name: web
    round: 1s
    sources: [$T/logs/a.log]
    format: combined
    groups:
      - name: g
        entries:
          - {name: by_status, key: [status], values: {hits: count}}
${2:-}
YAML
}
rules "version one" >"$T/rules.yaml"
start m1 "$MASTER" --config "$T/rules.yaml" --name m1 --listen "127.0.0.1:$P1" \
    --token-file "$T/token" --export-dir "$T/e1" --data-dir "$T/d1"
start m2 "$MASTER" --primary "http://127.0.0.1:$P1" --name m2 --listen "127.0.0.1:$P2" \
    --token-file "$T/token" --export-dir "$T/e2" --data-dir "$T/d2"
start s1 "$SLAVE" --primary "http://127.0.0.1:$P1" --name s1 --token-file "$T/token" \
    --spool-dir "$T/sp1"
wait_for 20 api "$P2" /v1/status -f || { fail "masters did not start"; finish; }

# 401: no token, wrong token, on every call of both masters
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
for url in "http://127.0.0.1:$P1/v1/config" "http://127.0.0.1:$P1/v1/status" \
    "http://127.0.0.1:$P1/metrics" "http://127.0.0.1:$P2/v1/status" \
    "http://127.0.0.1:$P1/v1/reports/web/by_status"; do
    check "GET $url without a token: 401" [ "$(code "$url")" = 401 ]
    check "GET $url with a wrong token: 401" \
        [ "$(code -H "Authorization: Bearer x$TOKEN" "$url")" = 401 ]
    check "GET $url with the token: not 401" \
        [ "$(code -H "Authorization: Bearer $TOKEN" "$url")" != 401 ]
done
for p in "$P1/v1/lease" "$P1/v1/lease/renew" "$P1/v1/complete" "$P1/v1/partials" "$P2/v1/partials"; do
    check "POST $p without a token: 401" \
        [ "$(code -X POST --data-binary '{}' "http://127.0.0.1:$p")" = 401 ]
done
check "a malformed lease request: 400" [ "$(code -X POST -H "Authorization: Bearer $TOKEN" \
    --data-binary '{"slave": 7}' "http://127.0.0.1:$P1/v1/lease")" = 400 ]
check "a corrupt frame: 400" [ "$(code -X POST -H "Authorization: Bearer $TOKEN" \
    --data-binary 'ABBFgarbage' "http://127.0.0.1:$P2/v1/partials")" = 400 ]

# a config change reaches every process
h1=$(json "$P1" /v1/status 'j["config"]')
rules "version two" >"$T/rules.yaml"
eval "kill -HUP \$PID_m1"
h2=""
wait_for 10 sh -c "[ \"\$(curl -s -H 'Authorization: Bearer $TOKEN' http://127.0.0.1:$P1/v1/status \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"config\"])')\" != '$h1' ]"
h2=$(json "$P1" /v1/status 'j["config"]')
check "the primary reloaded ($h1 -> $h2)" [ "$h2" != "$h1" ]
secondary_has() { [ "$(json "$P2" /v1/status 'j["config"]')" = "$h2" ]; }
check "the secondary has the new config" wait_for 15 secondary_has
check "the slave has the new config" wait_for 15 grep -q "config $h2 loaded" "$T/s1.log"

# a new entry: computed from the change on, by the master owning its group (m1: equal
# weights, ties go to the name first), over lines appended after the change
rules "version three" "          - {name: by_method, key: [method], values: {hits: count}}" \
    >"$T/rules.yaml"
eval "kill -HUP \$PID_m1"
h3=""
has_by_method() { [ "$(json "$P1" /v1/status '[x["name"] for x in j["merger"]["jobs"]]')" = "['web']" ] &&
    grep -q "config .* in use" "$T/m1.log" && [ "$(json "$P1" /v1/status 'j["config"]')" != "$h2" ]; }
check "the primary took the new entry" wait_for 10 has_by_method
h3=$(json "$P1" /v1/status 'j["config"]')
secondary_has3() { [ "$(json "$P2" /v1/status 'j["config"]')" = "$h3" ]; }
check "the secondary took it" wait_for 15 secondary_has3
check "the slave took it" wait_for 15 grep -q "config $h3 loaded" "$T/s1.log"
sed -n '101,400p' "$LOG" >>"$T/logs/a.log"
want=$(sed -n '101,400p' "$LOG" | mawk -F'"' 'NF == 7 { split($2, r, " "); if (r[1] == "GET") n++ } END { print n + 0 }')
get_by_method() { tr -d '\r' <"$T/e1/web/by_method.csv" 2>/dev/null | mawk -F, '$1 == "GET" { print $2 }'; }
has_get() { [ "$(get_by_method)" = "$want" ]; }
check "by_method counts the $want GET lines appended after the change" wait_for 30 has_get
check "the old structure's period report was kept" sh -c "ls '$T'/e1/web/period/*/by_status.csv"

# an invalid file is refused and the old config kept
printf 'jobs: [\n' >"$T/rules.yaml"
eval "kill -HUP \$PID_m1"
check "the bad file is refused with its position" wait_for 10 grep -q "reload refused.*rules.yaml:" "$T/m1.log"
check "the primary keeps its config" [ "$(json "$P1" /v1/status 'j["config"]')" = "$h3" ]
check "the primary still serves" [ "$(code -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$P1/v1/config")" = 200 ]
finish
