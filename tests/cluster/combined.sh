#!/bin/sh
# combined.sh - frames of several ranges (docs/CLUSTER.md "Frames of several ranges"): two
# slaves with one worker each hold the sticky leases of eight files of one job, so each
# worker reads several of its leases in a row and sends each master one frame for them.
#
# A primary m1 and a secondary m2, each owning one of the groups (traffic: by_status;
# pages: by_path, with the distinct clients of each path), two slaves (--workers 1). The eight files get 4000
# lines of data/apache_combined_10k.log at the start, then the rest in three batches
# appended to every file while the cluster runs, so later rounds combine the ranges that
# grew too. Once every byte is committed and exported: both masters merged frames of
# several ranges (status merger.combined, metrics), every report equals a mawk recount of
# the raw files, both masters counted every line once, no exported round is incomplete
# (each range of a combined frame covers its round), and the primary's per-source lines
# (from each lease's own completion) equal each file's line count.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/logs"
NF=8
i=1
while [ $i -le $NF ]; do # 500 lines each, every 8th line of the first 4000
    mawk -v k=$i 'NR <= 4000 && NR % 8 == k % 8' "$LOG" >"$T/logs/f$i.log"
    i=$((i + 1))
done
set -- $(free_ports 2)
P1=$1 P2=$2
cat >"$T/rules.yaml" <<YAML
masters:
  - {name: m1, url: "http://127.0.0.1:$P1"}
  - {name: m2, url: "http://127.0.0.1:$P2"}
jobs:
  - name: web
    round: 1s
    sources: ["$T/logs/f*.log"]
    format: combined
    groups:
      - name: traffic
        entries:
          - {name: by_status, key: [status], values: {hits: count, bytes: sum(bytes)}}
      - name: pages
        entries:
          - {name: by_path, key: [path], values: {hits: count, clients: distinct_exact(ip)}}
YAML
"$MASTER" --check --config "$T/rules.yaml" >"$T/check.out" 2>&1
check "both masters own a group" sh -c "grep -q -- '-> m1' '$T/check.out' && grep -q -- '-> m2' '$T/check.out'"

start m1 "$MASTER" --config "$T/rules.yaml" --name m1 --listen "127.0.0.1:$P1" \
    --token-file "$T/token" --data-dir "$T/m1/data" --export-dir "$T/m1/export"
start m2 "$MASTER" --primary "http://127.0.0.1:$P1" --name m2 --listen "127.0.0.1:$P2" \
    --token-file "$T/token" --data-dir "$T/m2/data" --export-dir "$T/m2/export"
for s in s1 s2; do
    start $s "$SLAVE" --primary "http://127.0.0.1:$P1" --name $s --token-file "$T/token" \
        --spool-dir "$T/$s" --workers 1 --poll-ms 100
done

# settled_all BYTES: every byte of the files committed and exported by both masters
settled_all() { settled "$P1" "$1" "$P2"; }
bytes() { cat "$T"/logs/f*.log | wc -c; }

if ! wait_for 60 settled_all "$(bytes)"; then
    fail "the cluster did not read the first 4000 lines within 60 s"
    api "$P1" /v1/status
    finish
fi
pass
# three batches appended to every file, a round or two apart
for b in 1 2 3; do
    lo=$((4000 + (b - 1) * 2000)) hi=$((4000 + b * 2000))
    i=1
    while [ $i -le $NF ]; do
        mawk -v k=$i -v lo=$lo -v hi=$hi 'NR > lo && NR <= hi && NR % 8 == k % 8' "$LOG" \
            >>"$T/logs/f$i.log"
        i=$((i + 1))
    done
    sleep 1.5
done
if ! wait_for 60 settled_all "$(bytes)"; then
    fail "the cluster did not read the appended lines within 60 s"
    api "$P1" /v1/status
    finish
fi
pass

# frames of several ranges were merged, by both masters
for p in "$P1" "$P2"; do
    c=$(json "$p" /v1/status '(j["merger"]["combined"]["frames"], j["merger"]["combined"]["ranges"])')
    echo "the master on $p merged (frames, ranges) of several ranges: $c"
    check "the master on $p merged frames of several ranges: (frames, ranges) = $c" \
        python3 -c 'import sys; f, r = eval(sys.argv[1]); sys.exit(0 if f >= 2 and r >= 2 * f else 1)' "$c"
    check "its metrics say the same" sh -c "curl -sS -H 'Authorization: Bearer $TOKEN' \
        http://127.0.0.1:$p/metrics | grep -q '^abbey_combined_frames_total{master=\"m[12]\"} [1-9]'"
done

# every report against the recount of the raw files
cat "$T"/logs/f*.log | by_status_recount >"$T/recount"
# (from the master that owns each: group placement decides)
check "by_status equals the recount" report_ok "$(ls "$T"/m?/export/web/by_status.csv)"
# by_path_ok: by_path's rows (python's csv) equal a recount of the raw lines whose quotes
# balance (python's re): hits and distinct client addresses per path
by_path_ok() {
    cat "$T"/logs/f*.log | python3 -c '
import csv, re, sys
hits, ips = {}, {}
for line in sys.stdin.buffer.read().decode("utf-8", "replace").splitlines():
    if line.count("\"") != 6:
        continue
    ip, req = line.split(" ", 1)[0], line.split("\"")[1]
    path = req.split(" ")[1]
    hits[path] = hits.get(path, 0) + 1
    ips.setdefault(path, set()).add(ip)
want = sorted((p, str(n), str(len(ips[p]))) for p, n in hits.items())
rows = list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8")))
got = sorted(tuple(r) for r in rows[1:])
sys.exit(0 if rows[0] == ["path", "hits", "clients"] and got == want and len(want) > 100 else 1)
' "$(ls "$T"/m?/export/web/by_path.csv)"
}
check "by_path equals the recount" by_path_ok
lines=$(cat "$T"/logs/f*.log | wc -l)
bad=$(cat "$T"/logs/f*.log | mawk -F'"' 'NF != 7' | wc -l)
for p in "$P1" "$P2"; do
    check "the master on $p counted $lines lines, $bad bad, once" [ "$(json "$p" /v1/status \
        '[(x["lines"], x["bad_lines"]) for x in j["merger"]["jobs"]]')" = "[($lines, $bad)]" ]
done
complete() { [ -z "$(find "$T"/m1/export "$T"/m2/export -name INCOMPLETE)" ]; }
check "every exported round is complete at both masters" complete
# each lease's completion carried its own counters: the primary's per source
got=$(json "$P1" "/v1/status" '" ".join(sorted("%s:%d" % (s["source"].rsplit("/", 1)[1].split("#")[0],
    s["lines"]) for s in j["scheduler"]["jobs"][0]["sources"] if s["kind"] == "read"))')
want=$(cd "$T/logs" && for f in f*.log; do printf '%s:%s ' "$f" "$(wc -l <"$f")"; done)
check "the primary's lines per file are each file's ($got)" [ "$got" = "${want% }" ]
finish
