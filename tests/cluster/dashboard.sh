#!/bin/bash
# dashboard.sh - the dashboard (GET /) and the one-file HTML report in headless Chromium.
#
# A primary m1, a secondary m2 and a slave s1 on 127.0.0.1 read 3,000 lines of the bundled
# Apache log plus two lines whose paths are hostile HTML ("<script>...", "\"><img onerror>"),
# job web in Europe/Berlin with by_status and totals (placed on m2), per_hour (time_bucket),
# top_pages and pages (on m1). HTTP first (curl): without the token or session the page is the
# login form and every JSON endpoint answers 401, assets are public and carry the CSP, a
# cookie is never accepted for a POST. Then tests/tools/dashboard_check.py drives Chromium
# over the DevTools pipe (no node): login by /?token=, every figure each master's page draws
# equals its exported CSV (and by_status and totals a Python re recount of the log), hostile
# keys stay text, sorting, the link to m2, the cluster page, live updates after 500 more
# lines are appended, logout. Last, abbey-master --standalone --once --html writes the
# one-file report, which is opened from file:// with the network off and checked the same
# way against the CSVs of the same run. SHOT=FILE saves a screenshot of m2's page.
. "$(dirname "$0")/lib.sh"

command -v chromium >/dev/null 2>&1 || { echo "SKIP: chromium is not installed"; exit 77; }
CHECK=$ABBEY_SRCDIR/tests/tools/dashboard_check.py
BROWSER_PID=$T/chromium.pid
kill_browser() { [ -s "$BROWSER_PID" ] && kill -KILL "$(cat "$BROWSER_PID")" 2>/dev/null; cleanup; }
trap kill_browser EXIT

mkdir -p "$T/logs"
head -n 3000 "$LOG" >"$T/logs/access.log"
cat >>"$T/logs/access.log" <<'LOG'
10.9.9.1 - - [17/May/2015:10:05:03 +0000] "GET /<script>window.pwned=1</script> HTTP/1.1" 200 7 "-" "x"
10.9.9.2 - - [17/May/2015:11:05:04 +0000] "GET /a\"><img/src=x/onerror=window.pwned=2> HTTP/1.1" 200 9 "-" "x"
LOG
sed -n '3001,3500p' "$LOG" >"$T/more.log"
set -- $(free_ports 2)
P1=$1 P2=$2
cat >"$T/rules.yaml" <<YAML
masters:
  - {name: m1, url: "http://127.0.0.1:$P1"}
  - {name: m2, url: "http://127.0.0.1:$P2"}
jobs:
  - name: web
    round: 1s
    timezone: Europe/Berlin
    sources: ["$T/logs/access.log"]
    format: combined
    groups:
      - name: traffic
        entries:
          - {name: by_status, key: [status], values: {hits: count, bytes: sum(bytes)}}
          - name: totals
            values: {hits: count, bytes: sum(bytes), avg_bytes: avg(bytes), visitors: distinct_exact(ip)}
      - name: clients
        entries:
          - name: per_hour
            key: [{hour: time_bucket(time, 1h)}]
            values: {hits: count, bytes: sum(bytes)}
          - {name: pages, key: [path], values: {hits: count, bytes: sum(bytes)}}
    reports:
      - {name: by_status, entry: by_status}
      - {name: totals, entry: totals}
      - {name: per_hour, entry: per_hour}
      - {name: top_pages, entry: pages, order: hits desc, limit: 10}
      - {name: pages, entry: pages}
YAML

start m1 "$MASTER" --config "$T/rules.yaml" --name m1 --listen "127.0.0.1:$P1" \
    --token-file "$T/token" --data-dir "$T/m1/data" --export-dir "$T/m1/export"
start m2 "$MASTER" --primary "http://127.0.0.1:$P1" --name m2 --listen "127.0.0.1:$P2" \
    --token-file "$T/token" --data-dir "$T/m2/data" --export-dir "$T/m2/export"
start s1 "$SLAVE" --primary "http://127.0.0.1:$P1" --name s1 --token-file "$T/token" \
    --spool-dir "$T/s1"
bytes=$(wc -c <"$T/logs/access.log")
if ! wait_for 90 settled "$P1" "$bytes" "$P2"; then
    fail "the cluster did not read all $bytes bytes within 90 s"
    finish
fi
pass

# HTTP: what anyone may get, and what only the token or the session gets
code() { curl -s -o "$T/body" -w '%{http_code}' --max-time 5 "$@"; }
for path in /v1/dashboard /v1/reports/web/pages /v1/status /metrics /v1/history/web/per_hour; do
    check "without the token GET $path answers 401" [ "$(code "http://127.0.0.1:$P1$path")" = 401 ]
done
check "without the token GET / is the login page (401)" [ "$(code "http://127.0.0.1:$P1/")" = 401 ]
check "the login page has a form and no figure" \
    sh -c "grep -q 'type=\"password\"' '$T/body' && ! grep -q 'favicon' '$T/body'"
curl -s -D "$T/h" -o "$T/app.js" --max-time 5 "http://127.0.0.1:$P1/ui/app.js"
check "assets are public, served as JavaScript, with a strict CSP" sh -c "
    grep -qi '^content-type: text/javascript' '$T/h' &&
    grep -qi \"^content-security-policy: default-src 'none'; script-src 'self';\" '$T/h' &&
    cmp -s '$T/app.js' '$ABBEY_SRCDIR/master/web/app.js'"
check "an unknown asset is 404" [ "$(code "http://127.0.0.1:$P1/ui/nope.js")" = 404 ]
curl -s -D "$T/h" -o /dev/null --max-time 5 "http://127.0.0.1:$P1/?token=$TOKEN"
cookie=$(sed -n 's/^[Ss]et-[Cc]ookie: \(abbey_session=[^;]*\).*/\1/p' "$T/h" | tr -d '\r')
check "/?token= answers 303 to / with an HttpOnly SameSite=Strict cookie that is not the token" sh -c "
    grep -q '^HTTP/1.1 303' '$T/h' && grep -qi '^location: /.\?$' '$T/h' &&
    grep -i '^set-cookie' '$T/h' | grep -q 'HttpOnly; SameSite=Strict' &&
    [ -n '$cookie' ] && ! grep -q '$TOKEN' '$T/h'"
check "the session cookie opens GET /v1/dashboard" \
    [ "$(code -H "Cookie: $cookie" "http://127.0.0.1:$P1/v1/dashboard")" = 200 ]
check "the same cookie opens the secondary's GET /v1/status (same token)" \
    [ "$(code -H "Cookie: $cookie" "http://127.0.0.1:$P2/v1/status")" = 200 ]
case $cookie in *0) forged=${cookie%?}1 ;; *) forged=${cookie%?}0 ;; esac # the signature's last digit
check "a cookie with a forged signature is refused (401)" \
    [ "$(code -H "Cookie: $forged" "http://127.0.0.1:$P1/v1/dashboard")" = 401 ]
check "a cookie is not the token for a POST (401)" \
    [ "$(code -H "Cookie: $cookie" -X POST --data-binary x "http://127.0.0.1:$P1/v1/partials")" = 401 ]
check "POST /login with the wrong token: the login page again (401)" \
    [ "$(code --data 'token=nope' "http://127.0.0.1:$P1/login")" = 401 ]
check "POST /login with the token: 303 and a cookie" sh -c "
    [ \"\$(curl -s -o /dev/null -D '$T/h' -w '%{http_code}' --data-urlencode 'token=$TOKEN' \
        'http://127.0.0.1:$P1/login')\" = 303 ] && grep -qi '^set-cookie: abbey_session=v1\.' '$T/h'"

# the browser
python3 "$CHECK" cluster "$P1" "$P2" "$TOKEN" "$T/m1/export" "$T/m2/export" "$T/logs/access.log" \
    "$T/more.log" "$T/chromium" "$BROWSER_PID" "${SHOT:-}" >"$T/browser.out" 2>&1
while read -r verdict what; do
    case $verdict in PASS) pass ;; FAIL) fail "$what" ;; *) echo "$verdict $what" ;; esac
done <"$T/browser.out"
bytes=$(wc -c <"$T/logs/access.log")
wait_for 60 settled "$P1" "$bytes" "$P2" || fail "the cluster did not read the new lines within 60 s"

# the one-file report of a standalone run over the same log
"$MASTER" --standalone --once --config "$T/rules.yaml" --export-dir "$T/sa" \
    --html "$T/report.html" >"$T/sa.log" 2>&1
check "--standalone --once --html writes the report" [ -s "$T/report.html" ]
python3 "$CHECK" file "$T/report.html" "$T/sa" "$T/chromium-file" "$BROWSER_PID" >"$T/file.out" 2>&1
while read -r verdict what; do
    case $verdict in PASS) pass ;; FAIL) fail "$what" ;; *) echo "$verdict $what" ;; esac
done <"$T/file.out"
check "--html without --standalone --once is refused" sh -c \
    "! '$MASTER' --config '$T/rules.yaml' --name m1 --token-file '$T/token' --html x 2>/dev/null"
finish
