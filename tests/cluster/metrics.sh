#!/bin/sh
# metrics.sh - reports with `metrics: true` on GET /metrics, in a cluster of two masters and
# one slave:
#   a. each master's page passes `promtool check metrics` (the whole page: abbey's own
#      metrics too), and tests/tools/prom_parse.py reads it strictly (escapes, one series
#      per label set, HELP and TYPE before the samples);
#   b. a master shows only the reports of the groups it owns;
#   c. the figures of web/status (counters of a reset: never job, percentiles as a
#      summary's quantiles, a gauge) equal its CSV report, which equals a mawk recount
#      of the raw log; top_pages and top_ips show exactly their `limit` label sets, those
#      of the CSV;
#   d. keys from hostile JSON lines (quotes, backslashes, newlines, tabs, NUL, bytes that
#      are not UTF-8, two keys that show alike, 200 and "200") are label values that read
#      back as the JSON report's keys, one series each, with the counts of a recount of
#      what the generator wrote (python3).
. "$(dirname "$0")/lib.sh"

command -v promtool >/dev/null 2>&1 || { echo "SKIP: promtool is not installed (Debian: prometheus)"; exit 77; }
PARSE=$ABBEY_SRCDIR/tests/tools/prom_parse.py

mkdir -p "$T/logs"
sed -n '1,4000p' "$LOG" >"$T/logs/web.log"
# the hostile job's lines, and its oracle: the count of each key as a report shows it
python3 - "$T/logs/h.json" "$T/h_want.json" <<'PY'
import json, sys
keys = [b"/ok"] * 3 + [b'/q"x'] * 2 + [b"/b\\s", b"/n\nl", b"/n\nl", b"/t\tab\r", b"/z\0z"] \
    + [b"/a\xfe"] * 3 + [b"/a\xff", b"/e\xe2\x82\xac", 200, b"200", b"200", None]
def jstr(b):  # a JSON string of raw bytes: escapes for " \ and controls, other bytes kept
    out = b'"'
    for c in b:
        out += b"\\" + bytes([c]) if c in b'"\\' else (b"\\u%04x" % c if c < 0x20 else bytes([c]))
    return out + b'"'
with open(sys.argv[1], "wb") as f:
    for i, k in enumerate(keys):
        api = b"" if k is None else b'"api":' + (str(k).encode() if isinstance(k, int) else jstr(k)) + b","
        f.write(b"{" + api + b'"ms":%d}\n' % i)
# the report's order: null, numbers, then text by its bytes; each shown once, first wins
def rank(k):
    return (0, b"") if k is None else (1, k) if isinstance(k, int) else (2, k)
counts = {}
for k in keys:
    counts[k] = counts.get(k, 0) + 1
want = {}
for k in sorted(counts, key=rank):
    shown = "" if k is None else str(k) if isinstance(k, int) else k.decode("utf-8", "replace")
    want.setdefault(shown, counts[k])
json.dump(want, open(sys.argv[2], "w"))
PY
bytes=$(cat "$T"/logs/* | wc -c)

set -- $(free_ports 2)
P1=$1 P2=$2
cat >"$T/rules.yaml" <<YAML
masters:
  - {name: m1, url: "http://127.0.0.1:$P1"}
  - {name: m2, url: "http://127.0.0.1:$P2"}
jobs:
  - name: web
    round: 1s
    sources: [$T/logs/web.log]
    format: combined
    groups:
      - name: traffic
        weight: 3
        entries:
          - name: by_status
            key: [status]
            values: {hits: count, bytes: sum(bytes), p50: percentile(bytes, 50), p95: percentile(bytes, 95), avgBytes: avg(bytes)}
          - {name: pages, key: [path], values: {hits: count}}
      - name: clients
        weight: 1
        entries:
          - {name: per_ip, key: [ip], values: {hits: count, bytes: sum(bytes)}}
    reports:
      - {name: status, entry: by_status, metrics: true}
      - {name: top_pages, entry: pages, order: hits desc, limit: 5, metrics: true}
      - {name: top_ips, entry: per_ip, order: hits desc, limit: 3, metrics: true}
      - {name: all_ips, entry: per_ip}
  - name: hostile
    round: 1s
    sources: [$T/logs/h.json]
    format: json
    groups:
      - name: hostile
        weight: 1
        entries:
          - {name: keys, key: [api], values: {hits: count, top: max(ms)}}
    reports:
      - {name: keys, entry: keys, format: json, metrics: true}
YAML

start m1 "$MASTER" --config "$T/rules.yaml" --name m1 --listen "127.0.0.1:$P1" \
    --token-file "$T/token" --data-dir "$T/m1/data" --export-dir "$T/m1/export" --export-every 0s
start m2 "$MASTER" --primary "http://127.0.0.1:$P1" --name m2 --listen "127.0.0.1:$P2" \
    --token-file "$T/token" --data-dir "$T/m2/data" --export-dir "$T/m2/export" --export-every 0s
start s1 "$SLAVE" --primary "http://127.0.0.1:$P1" --name s1 --token-file "$T/token" \
    --spool-dir "$T/s1"
if ! wait_for 60 settled "$P1" "$bytes" "$P2"; then
    fail "the cluster did not read all $bytes bytes within 60 s"
    finish
fi
pass
sleep 1.5 # one more round: the metrics kept are those of the latest export, as the files
for p in "$P1" "$P2"; do
    api "$p" /metrics >"$T/metrics.$p"
    check "master on port $p: promtool check metrics passes ($(promtool check metrics <"$T/metrics.$p" 2>&1 | head -n 3))" \
        sh -c "promtool check metrics <'$T/metrics.$p'"
    check "master on port $p: the page reads strictly ($(python3 "$PARSE" "$T/metrics.$p" abbey_report_ 2>&1 >/dev/null))" \
        sh -c "python3 '$PARSE' '$T/metrics.$p' abbey_report_ >'$T/samples.$p'"
done

# b. the owners: web/traffic on m1; web/clients and hostile/hostile on m2 (hunger-weight)
families() { mawk '/^# TYPE abbey_report_/ { print $3 }' "$T/metrics.$1" | tr '\n' ' '; }
check "m1 shows web/status and web/top_pages only ($(families "$P1"))" \
    [ "$(families "$P1")" = "abbey_report_web_status_hits_total abbey_report_web_status_bytes_total abbey_report_web_status_bytes_quantiles abbey_report_web_status_avg_bytes abbey_report_web_top_pages_hits_total " ]
check "m2 shows web/top_ips and hostile/keys only ($(families "$P2"))" \
    [ "$(families "$P2")" = "abbey_report_web_top_ips_hits_total abbey_report_web_top_ips_bytes_total abbey_report_hostile_keys_hits_total abbey_report_hostile_keys_top " ]
check "counters, a summary and a gauge typed as such" sh -c "
    grep -qx '# TYPE abbey_report_web_status_hits_total counter' '$T/metrics.$P1' &&
    grep -qx '# TYPE abbey_report_web_status_bytes_quantiles summary' '$T/metrics.$P1' &&
    grep -qx '# TYPE abbey_report_web_status_avg_bytes gauge' '$T/metrics.$P1'"

# c. web/status: metrics = CSV = mawk recount
by_status_recount "$T/logs/web.log" >"$T/recount"
tr -d '\r' <"$T/m1/export/web/status.csv" | tail -n +2 | cut -d, -f1-3 | sort >"$T/status3"
check "status.csv equals the mawk recount (status, hits, bytes)" cmp -s "$T/recount" "$T/status3"
compare() { # samples.json, CSV report, python body comparing rows (list of dicts) and samples s
    python3 - "$1" "$2" "$3" <<'PY'
import csv, json, sys
samples = json.load(open(sys.argv[1]))
rows = list(csv.DictReader(open(sys.argv[2], newline="")))
s = {}
for name, lab, value, typ in samples:
    s[(name, tuple(sorted(lab.items())))] = float(value)
bad = []
exec(sys.argv[3])
for b in bad[:5]:
    print(b)
sys.exit(1 if bad else 0)
PY
}
check "web/status: every figure of the CSV is on m1's page, nothing else" compare "$T/samples.$P1" \
    "$T/m1/export/web/status.csv" '
P = "abbey_report_web_status_"
want = {}
for r in rows:
    k = (("status", r["status"]),)
    want[(P + "hits_total", k)] = float(r["hits"])
    want[(P + "bytes_total", k)] = float(r["bytes"])
    for q, col in (("0.5", "p50"), ("0.95", "p95")):
        if r[col]:
            want[(P + "bytes_quantiles", (("quantile", q), ("status", r["status"])))] = float(r[col])
    if r["avgBytes"]:
        want[(P + "avg_bytes", k)] = float(r["avgBytes"])
got = {k: v for k, v in s.items() if k[0].startswith(P)}
if got != want:
    bad.append(("status", sorted(set(got.items()) ^ set(want.items()))[:4]))'
check "web/top_pages: the 5 label sets and counts of the CSV (order + limit)" compare "$T/samples.$P1" \
    "$T/m1/export/web/top_pages.csv" '
got = {k[1][0][1]: v for k, v in s.items() if k[0] == "abbey_report_web_top_pages_hits_total"}
want = {r["path"]: float(r["hits"]) for r in rows}
if got != want or len(got) != 5:
    bad.append((got, want))'
check "web/top_ips: the 3 label sets of the CSV, on m2" compare "$T/samples.$P2" \
    "$T/m2/export/web/top_ips.csv" '
got = {k[1][0][1]: v for k, v in s.items() if k[0] == "abbey_report_web_top_ips_bytes_total"}
want = {r["ip"]: float(r["bytes"]) for r in rows}
if got != want or len(got) != 3:
    bad.append((got, want))'

# d. hostile keys: label values read back (strictly unescaped) as the report's keys, the
#    counts those of the generator's recount, one series per shown key
check "hostile/keys: labels and counts equal the recount of the generated lines" python3 - \
    "$T/samples.$P2" "$T/m2/export/hostile/keys.json" "$T/h_want.json" <<'PY'
import json, sys
samples = json.load(open(sys.argv[1]))
report = json.load(open(sys.argv[2]))
want = json.load(open(sys.argv[3]))
got = {lab["api"]: float(v) for name, lab, v, t in samples if name == "abbey_report_hostile_keys_hits_total"}
shown = {}
for row in report["rows"]:  # the report's keys as text, the first of those alike
    k = "" if row["api"] is None else str(row["api"])
    shown.setdefault(k, float(row["hits"]))
ok = got == {k: float(v) for k, v in want.items()} and got == shown
for k in sorted(set(got) | set(want)):
    if got.get(k) != want.get(k):
        print("key %r: metrics %s, recount %s, report %s" % (k, got.get(k), want.get(k), shown.get(k)))
sys.exit(0 if ok and len(got) == 10 else 1)
PY
check "hostile/keys: the page escapes \\, \" and newlines, and keeps NUL, tab and CR" python3 -c '
import sys
page = open(sys.argv[1], "rb").read()
sys.exit(0 if all(b"{api=\"%s\"}" % k in page for k in
                  (b"/q\\\"x", b"/b\\\\s", b"/n\\nl", b"/t\tab\r", b"/z\0z")) else 1)' "$T/metrics.$P2"
finish
