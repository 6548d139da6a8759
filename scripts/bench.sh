#!/usr/bin/env bash
# bench.sh - abbey standalone --once against mawk and the machine's scan floor, side by side.
#
#   scripts/bench.sh [BENCH_DIR]
#
# Builds scripts/gen_log.c into the work dir, generates a synthetic combined
# log once (kept and reused while LINES and gen_log.c are unchanged), then
# times, best of RUNS, the whole process of each case:
#   wc -l and cat > /dev/null        the I/O and scan floor (page cache warm)
#   mawk, one entry / full rules     count by status; the example rules as far as awk goes
#   abbey, one entry / full rules    --workers 1 and --workers $(nproc)
#   abbey, one entry, nginx string   the same count with nginx's combined pasted as
#                                    {nginx: '...'} (the string path), --workers 1
# and prints a table with lines/s, MB/s and the ratio to mawk: by wall clock,
# by wall clock per core, and by CPU time (user + sys, all threads: the
# per-core figure that holds up when other processes share the machine).
# abbey's results must equal mawk's (count by status; the full rules' exact
# columns), or the script fails.
# JSON lines (JSON=1): the same log rewritten by scripts/gen_json.c as nginx
# escape=json lines, timed with its own wc -l and abbey's count by status
# (format: json) beside the rest; abbey's counts must equal mawk's on the
# combined log, and a line after the table gives abbey's bytes/s as a share
# of wc -l's on the JSON file (the target: at least 25%).
#
# Environment:
#   BENCH_DIR     work dir (default ./bench; the first argument wins)
#   LINES         log size in lines (default 5000000, about 1.2 GB)
#   RUNS          runs per case, best kept (default 3)
#   BUILD_DIR     abbey build dir (default: the source tree, an in-tree build)
#   ABBEY_MASTER  the binary (default $BUILD_DIR/master/abbey-master)
#   WORKERS       the multi-thread worker count (default $(nproc))
#   ABBEY_SLAVE   the slave binary (default $BUILD_DIR/slave/abbey-slave)
#   JSON          1: also the JSON lines cases (default); 0: skip them
#   CLUSTER       1: also run scripts/bench_cluster.sh, the example rules through a
#                 local cluster (primary, secondary, two slaves) against standalone
#                 --workers 2 on the log split in 4 files (default 1 when both
#                 binaries exist); 0: skip it
# This script never builds abbey; without the binary it runs the rest and says so.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=${1:-${BENCH_DIR:-./bench}}
LINES=${LINES:-5000000}
RUNS=${RUNS:-3}
BUILD_DIR=${BUILD_DIR:-$SRC}
ABBEY_MASTER=${ABBEY_MASTER:-$BUILD_DIR/master/abbey-master}
NCPU=$(nproc)
WORKERS=${WORKERS:-$NCPU}
ABBEY_SLAVE=${ABBEY_SLAVE:-$BUILD_DIR/slave/abbey-slave}
CLUSTER=${CLUSTER:-1}
JSON=${JSON:-1}
MAWK=${MAWK:-mawk}

die() { echo "bench.sh: $*" >&2; exit 1; }
say() { echo "bench.sh: $*" >&2; }

command -v "$MAWK" >/dev/null || die "$MAWK not found (apt-get install mawk)"
command -v gcc >/dev/null || die "gcc not found"
mkdir -p "$BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
OUT=$BENCH_DIR/out
mkdir -p "$OUT"

# ---- the generator and the log ----
GEN=$BENCH_DIR/gen_log
if [ ! -x "$GEN" ] || [ "$SRC/scripts/gen_log.c" -nt "$GEN" ]; then
    say "building $GEN"
    gcc -O2 -std=gnu11 -Wall -Wextra -o "$GEN" "$SRC/scripts/gen_log.c" -lm
fi
LOG=$BENCH_DIR/access-$LINES.log
STAMP=$LOG.stamp
gen_sum=$(md5sum < "$SRC/scripts/gen_log.c" | cut -d' ' -f1)
if [ -f "$LOG" ] && [ -f "$STAMP" ] &&
   [ "$(cat "$STAMP")" = "$LINES $gen_sum $(stat -c %s "$LOG")" ]; then
    say "reusing $LOG"
else
    say "generating $LINES lines into $LOG"
    rm -f "$STAMP"
    "$GEN" "$LINES" > "$LOG"
    echo "$LINES $gen_sum $(stat -c %s "$LOG")" > "$STAMP"
fi
BYTES=$(stat -c %s "$LOG")
cat "$LOG" > /dev/null   # warm the page cache

# ---- rules files ----
cat > "$BENCH_DIR/one.yaml" <<EOF
# One entry: count by status (written by scripts/bench.sh).
jobs:
  - name: bench
    sources:
      - $LOG
    format: combined
    groups:
      - name: g
        entries:
          - name: by_status
            key: [status]
            values: {hits: count}
    reports:
      - {name: by_status, entry: by_status}
EOF
# The same entry with nginx's own spelling of combined, pasted as a format string.
sed -e "s#^    format: combined\$#    format: {nginx: '\$remote_addr - \$remote_user [\$time_local] \"\$request\" \$status \$body_bytes_sent \"\$http_referer\" \"\$http_user_agent\"'}#" \
    "$BENCH_DIR/one.yaml" > "$BENCH_DIR/one-nginx.yaml"
grep -q "format: {nginx:" "$BENCH_DIR/one-nginx.yaml" || die "could not write one-nginx.yaml"
sed "s#^\\( *\\)- \\.\\./data/apache_combined_10k\\.log\$#\\1- $LOG#" \
    "$SRC/examples/apache.yaml" > "$BENCH_DIR/full.yaml"
grep -q -- "- $LOG\$" "$BENCH_DIR/full.yaml" ||
    die "could not point examples/apache.yaml's source at $LOG (did its sources: change?)"

# ---- the mawk programs ----
# shellcheck disable=SC2016 # awk's $9, not the shell's
MAWK_ONE='{c[$9]++} END {for (k in c) print k, c[k]}'
# The example rules (examples/apache.yaml) as far as awk goes: every count,
# sum, min, max, avg and filter; distinct() and distinct_exact() both exact;
# percentiles left out; per_hour keyed by the local hour as written (no zone
# normalisation).
cat > "$BENCH_DIR/full.awk" <<'EOF'
{
    ip = $1; m = substr($6, 2); p = $7; st = $9 + 0; b = $10
    hasb = (b != "-")
    if (hasb) b += 0
    # traffic/by_status
    s_n[st]++
    if (hasb) s_b[st] += b
    # traffic/by_method
    lm = tolower(m); m_n[lm]++
    if (hasb) {
        m_c[lm]++; m_s[lm] += b
        if (!(lm in m_min) || b < m_min[lm]) m_min[lm] = b
        if (!(lm in m_max) || b > m_max[lm]) m_max[lm] = b
    }
    # traffic/pages
    if (st >= 200 && st < 300 && (m == "GET" || m == "HEAD")) {
        pg_n[p]++
        k = p SUBSEP ip
        if (!(k in pg_seen)) { pg_seen[k] = 1; pg_v[p]++ }
    }
    # traffic/totals
    t_n++
    if (hasb) {
        t_c++; t_s += b
        if (t_c == 1 || b < t_min) t_min = b
        if (t_c == 1 || b > t_max) t_max = b
    }
    if (!(ip in t_ip)) { t_ip[ip] = 1; t_v++ }
    # clients/per_hour
    h = substr($4, 2, 14); h_n[h]++
    if (hasb) {
        h_c[h]++; h_s[h] += b
        if (!(h in h_max) || b > h_max[h]) h_max[h] = b
    }
    # clients/clients
    c_n[ip]++
    if (hasb) c_s[ip] += b
    k = ip SUBSEP p
    if (!(k in c_seen)) { c_seen[k] = 1; c_p[ip]++ }
    # clients/bots
    split($0, q, "\"")
    if (tolower(q[6]) ~ /bot|crawl|spider/) {
        bo_n[st]++
        k = st SUBSEP ip
        if (!(k in bo_seen)) { bo_seen[k] = 1; bo_i[st]++ }
    }
    # problems/errors
    if (st >= 400) e_n[st SUBSEP p]++
    # problems/images
    if (tolower(p) ~ /\.(png|jpe?g|gif|ico)$/) {
        im_n[st]++
        if (hasb) im_s[st] += b
    }
}
function n(x) { return sprintf("%.0f", x) }   # integers in full, not %.6g
END {
    for (k in s_n) print "by_status", k, s_n[k], n(s_b[k])
    for (k in m_n) print "by_method", k, m_n[k], (m_c[k] ? m_s[k] / m_c[k] : ""), m_min[k], m_max[k]
    for (k in pg_n) print "pages", k, pg_n[k], pg_v[k]
    print "totals", t_n, n(t_s), t_v, t_min, t_max, (t_c ? t_s / t_c : "")
    for (k in h_n) print "per_hour", k, h_n[k], n(h_s[k]), h_max[k], (h_c[k] ? h_s[k] / h_c[k] : "")
    for (k in c_n) print "clients", k, c_n[k], n(c_s[k]), c_p[k]
    for (k in bo_n) print "bots", k, bo_n[k], bo_i[k]
    for (k in e_n) { split(k, kk, SUBSEP); print "errors", kk[1], kk[2], e_n[k] }
    for (k in im_n) print "images", k, im_n[k], n(im_s[k])
}
EOF

# ---- the cases ----
HAVE_ABBEY=1
[ -x "$ABBEY_MASTER" ] || HAVE_ABBEY=0
CASES=()
declare -A C_NAME C_W C_OUT
add_case() { CASES+=("$1"); C_NAME[$1]=$2; C_W[$1]=$3; C_OUT[$1]=$OUT/$1.txt; }
add_case cat "cat > /dev/null" 1
add_case wc "wc -l" 1
add_case mawk-one "mawk one entry" 1
add_case mawk-full "mawk full rules" 1
if [ "$HAVE_ABBEY" = 1 ]; then
    WLIST=$(printf '%s\n' 1 "$WORKERS" | sort -nu)   # once only when WORKERS is 1
    for w in $WLIST; do add_case "abbey-one-w$w" "abbey one entry" "$w"; done
    add_case abbey-nginx-w1 "abbey one, nginx" 1
    for w in $WLIST; do add_case "abbey-full-w$w" "abbey full rules" "$w"; done
fi

# ==== JSON lines (format: json) ====================================================
# The same log as JSON lines (scripts/gen_json.c: nginx escape=json style, status and
# body_bytes_sent as numbers), kept beside it while the log and gen_json.c are unchanged;
# its own wc -l, and abbey's count by status on it.
declare -A C_BYTES   # a case's input size when it is not $LOG's
if [ "$JSON" = 1 ]; then
    GEN_JSON=$BENCH_DIR/gen_json
    if [ ! -x "$GEN_JSON" ] || [ "$SRC/scripts/gen_json.c" -nt "$GEN_JSON" ]; then
        say "building $GEN_JSON"
        gcc -O2 -std=gnu11 -Wall -Wextra -o "$GEN_JSON" "$SRC/scripts/gen_json.c"
    fi
    JLOG=$BENCH_DIR/access-$LINES.json
    jstamp="$(cat "$STAMP") $(md5sum < "$SRC/scripts/gen_json.c" | cut -d' ' -f1)"
    if [ -f "$JLOG" ] && [ -f "$JLOG.stamp" ] &&
       [ "$(cat "$JLOG.stamp")" = "$jstamp $(stat -c %s "$JLOG")" ]; then
        say "reusing $JLOG"
    else
        say "writing $JLOG"
        rm -f "$JLOG.stamp"
        "$GEN_JSON" < "$LOG" > "$JLOG" || die "gen_json: some lines were not combined"
        echo "$jstamp $(stat -c %s "$JLOG")" > "$JLOG.stamp"
    fi
    JBYTES=$(stat -c %s "$JLOG")
    cat "$JLOG" > /dev/null   # warm the page cache
    # one.yaml with the JSON lines as its source and format: json
    sed -e "s#^\\( *\\)- $LOG\$#\\1- $JLOG#" -e 's/^\( *\)format: combined$/\1format: json/' \
        "$BENCH_DIR/one.yaml" > "$BENCH_DIR/json.yaml"
    grep -q -- "- $JLOG\$" "$BENCH_DIR/json.yaml" && grep -q "format: json\$" "$BENCH_DIR/json.yaml" ||
        die "could not make json.yaml from one.yaml (did its source or format change?)"
    add_case json-wc "wc -l json" 1
    C_BYTES[json-wc]=$JBYTES
    if [ "$HAVE_ABBEY" = 1 ]; then
        for w in $WLIST; do
            add_case "abbey-json-w$w" "abbey json entry" "$w"
            C_BYTES[abbey-json-w$w]=$JBYTES
        done
    fi
fi
# run_json_case ID: the command of a JSON case.
run_json_case() {
    case $1 in
        json-wc) wc -l "$JLOG" ;;
        abbey-json-w*) "$ABBEY_MASTER" --standalone --once --config "$BENCH_DIR/json.yaml" \
                           --workers "${C_W[$1]}" --export-dir "$OUT/$1" ;;
    esac
}
# check_json: every JSON case read every line, none bad, and counted as mawk did.
check_json() {
    [ "$JSON" = 1 ] || return 0
    [ "$(cut -d' ' -f1 < "$OUT/json-wc.txt")" = "$LINES" ] ||
        die "wc -l json: $(cat "$OUT/json-wc.txt"), expected $LINES"
    for id in "${CASES[@]}"; do
        case $id in abbey-json-*) ;; *) continue ;; esac
        grep -q "^job bench: $LINES lines (0 bad)" "$OUT/$id.txt" ||
            die "$id: abbey did not read $LINES good JSON lines: $(cat "$OUT/$id.txt")"
        tail -n +2 "$OUT/$id/bench/by_status.csv" | tr -d '\r' | tr ',' ' ' | sort > "$OUT/$id.sorted"
        diff -u "$OUT/mawk-one.sorted" "$OUT/$id.sorted" >&2 ||
            die "$id: abbey's count by status on JSON lines differs from mawk's on the log"
    done
    say "abbey's count by status on the JSON lines equals mawk's on the combined log"
}
# json_summary: abbey's bytes/s on the JSON lines (one worker) as a share of wc -l's on them,
# by wall clock and by CPU time.
json_summary() {
    [ "$JSON" = 1 ] && [ -n "${BEST[abbey-json-w1]:-}" ] || return 0
    awk -v b="$JBYTES" -v l="$LINES" -v tw="${BEST[json-wc]}" -v cw="${BEST_CPU[json-wc]}" \
        -v ta="${BEST[abbey-json-w1]}" -v ca="${BEST_CPU[abbey-json-w1]}" 'BEGIN {
        printf "JSON lines (%.0f B/line): abbey json entry, one worker, %.1f MB/s; wc -l %.1f MB/s;", b / l, b / ta / 1e6, b / tw / 1e6
        printf " abbey at %.1f%% of wc -l by wall clock", 100 * tw / ta
        if (cw > 0 && ca > 0) printf ", %.1f%% by CPU time", 100 * cw / ca
        printf " (target: at least 25%%)\n"
    }'
}
# ==== end of JSON lines ===============================================================
# run_case ID: the command of case ID (stdout to its file).
run_case() {
    local id=$1
    case $id in
        cat) cat "$LOG" > /dev/null ;;
        wc) wc -l "$LOG" ;;
        mawk-one) "$MAWK" "$MAWK_ONE" "$LOG" ;;
        mawk-full) "$MAWK" -f "$BENCH_DIR/full.awk" "$LOG" ;;
        abbey-one-w*) "$ABBEY_MASTER" --standalone --once --config "$BENCH_DIR/one.yaml" \
                          --workers "${C_W[$id]}" --export-dir "$OUT/$id" ;;
        abbey-nginx-w*) "$ABBEY_MASTER" --standalone --once --config "$BENCH_DIR/one-nginx.yaml" \
                            --workers "${C_W[$id]}" --export-dir "$OUT/$id" ;;
        abbey-full-w*) "$ABBEY_MASTER" --standalone --once --config "$BENCH_DIR/full.yaml" \
                           --workers "${C_W[$id]}" --export-dir "$OUT/$id" ;;
        json-*|abbey-json-*) run_json_case "$id" ;;   # JSON lines
    esac
}

# ---- timing ----
# Each run is the whole process between two `date +%s.%N`; its CPU time (user
# + sys, all threads) is the change in the shell's children times (`times`)
# around it. The cases are interleaved round by round, so a neighbour's load
# hits them alike; each keeps its best wall clock and that run's CPU time.
now() { date +%s.%N; }
# children_cpu FILE: the children's user + sys seconds from `times` output.
children_cpu() {
    awk 'NR == 2 {
        for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] }
        printf "%.3f", t
    }' "$1"
}
declare -A BEST BEST_CPU
time_once() {
    local id=$1 out=${C_OUT[$1]} t0 t1 dt c
    rm -rf "${OUT:?}/$id"
    t0=$(now)
    times > "$out.times0"
    run_case "$id" > "$out" 2> "$out.err" || {
        cat "$out.err" >&2
        die "${C_NAME[$id]} (workers ${C_W[$id]}) failed"
    }
    times > "$out.times1"
    t1=$(now)
    dt=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    c=$(awk -v a="$(children_cpu "$out.times0")" -v b="$(children_cpu "$out.times1")" \
        'BEGIN { printf "%.2f", b - a }')
    if [ -z "${BEST[$id]:-}" ] || awk -v a="${BEST[$id]}" -v b="$dt" 'BEGIN { exit !(b < a) }'; then
        BEST[$id]=$dt
        BEST_CPU[$id]=$c
        cp "$out" "$out.best"
    fi
    say "$(printf '  %-18s workers %-3s %8s s  cpu %6s s' "${C_NAME[$id]}" "${C_W[$id]}" "$dt" "$c")"
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
say "log: $LINES lines, $BYTES bytes; best of $RUNS; $NCPU cores; load average $LOAD0"
for ((r = 1; r <= RUNS; r++)); do
    say "round $r of $RUNS"
    cat "$LOG" > /dev/null
    [ "$JSON" = 1 ] && cat "$JLOG" > /dev/null   # JSON lines
    for id in "${CASES[@]}"; do
        time_once "$id"
    done
done

# ---- checks ----
[ "$(cut -d' ' -f1 < "$OUT/wc.txt")" = "$LINES" ] || die "wc -l: $(cat "$OUT/wc.txt"), expected $LINES"
if [ "$HAVE_ABBEY" = 0 ]; then
    say "abbey-master not found at $ABBEY_MASTER: abbey cases skipped."
    say "Build it first, in the source tree as the README does:"
    say "  cd $SRC && ./configure && make -j$NCPU master/abbey-master"
    say "or out of tree:"
    say "  mkdir -p /tmp/b && cd /tmp/b && $SRC/configure && make -j$NCPU master/abbey-master"
    say "then: BUILD_DIR=/tmp/b $0 $BENCH_DIR   (or set ABBEY_MASTER=/path/to/abbey-master)"
else
    sort "$OUT/mawk-one.txt" > "$OUT/mawk-one.sorted"
    awk '$1 == "by_status" { print $2, $3, $4 }' "$OUT/mawk-full.txt" | sort > "$OUT/mawk-full-status.sorted"
    for id in "${CASES[@]}"; do
        case $id in
            abbey-one-* | abbey-nginx-*) job=bench ref=$OUT/mawk-one.sorted what="count by status" ;;
            abbey-full-*) job=web ref=$OUT/mawk-full-status.sorted what="full rules' by_status" ;;
            *) continue ;;
        esac
        # Every line read, none bad.
        grep -q "^job $job: $LINES lines (0 bad)" "$OUT/$id.txt" ||
            die "$id: abbey did not read $LINES good lines: $(cat "$OUT/$id.txt")"
        # Sanity: abbey's by_status (hits, and bytes in the full rules) equals mawk's.
        csv=$OUT/$id/$job/by_status.csv
        [ -f "$csv" ] || die "$id: no report $csv"
        tail -n +2 "$csv" | tr -d '\r' | tr ',' ' ' | sort > "$OUT/$id.sorted"
        diff -u "$ref" "$OUT/$id.sorted" >&2 ||
            die "$id: abbey's $what (workers ${C_W[$id]}) differs from mawk's"
    done
    # The full rules' other exact columns against mawk's (per_hour left out:
    # mawk keys it by local hour, abbey by UTC hour): report, abbey's CSV
    # columns, and the fields of mawk's lines.
    for id in "${CASES[@]}"; do
        case $id in abbey-full-*) ;; *) continue ;; esac
        while read -r rep cols fields; do
            awk -F, -v c="$cols" 'NR > 1 { sub(/\r$/, ""); n = split(c, k, ","); s = $k[1]
                for (i = 2; i <= n; i++) s = s " " $k[i]; print s }' \
                "$OUT/$id/web/$rep.csv" | sort > "$OUT/$id.$rep.sorted"
            awk -v r="$rep" -v f="$fields" '$1 == r { n = split(f, k, ","); s = $k[1]
                for (i = 2; i <= n; i++) s = s " " $k[i]; print s }' \
                "$OUT/mawk-full.txt" | sort > "$OUT/mawk-full.$rep.sorted"
            diff -u "$OUT/mawk-full.$rep.sorted" "$OUT/$id.$rep.sorted" >&2 ||
                die "$id: abbey's $rep report differs from mawk's"
        done <<'CHECKS'
by_method 1,2,4,5 2,3,5,6
pages 1,2,4 2,3,4
totals 1,2,4,5,6 2,3,4,5,6
clients 1,2,3,4 2,3,4,5
bots 1,2,3 2,3,4
errors 1,2,3 2,3,4
images 1,2,3 2,3,4
CHECKS
    done
    say "abbey's by_status equals mawk's in every abbey case; so do the full rules' other exact columns"
    check_json   # JSON lines
fi

# ---- the table ----
mawk_one=${BEST[mawk-one]}
mawk_full=${BEST[mawk-full]}
echo
echo "load average before/after: $LOAD0 / $(cut -d' ' -f1-3 /proc/loadavg)"
echo "abbey benchmark: $LINES lines, $BYTES bytes ($(awk -v b="$BYTES" -v l="$LINES" 'BEGIN { printf "%.0f", b / l }') B/line), best of $RUNS, $NCPU cores"
printf '%-18s %7s %8s %7s %11s %8s %7s %11s %10s\n' case workers seconds "cpu s" lines/s MB/s "x mawk" "x mawk/core" "x mawk cpu"
for id in "${CASES[@]}"; do
    name=${C_NAME[$id]}
    w=${C_W[$id]}
    t=${BEST[$id]}
    case $id in
        abbey-one-* | abbey-nginx-*) ref=$mawk_one refc=${BEST_CPU[mawk-one]} ;;
        abbey-full-*) ref=$mawk_full refc=${BEST_CPU[mawk-full]} ;;
        *) ref="" refc="" ;;
    esac
    awk -v n="$name" -v w="$w" -v t="$t" -v c="${BEST_CPU[$id]}" -v l="$LINES" -v b="${C_BYTES[$id]:-$BYTES}" -v r="$ref" -v rc="$refc" 'BEGIN {
        if (t <= 0) t = 0.001
        x = r == "" ? "-" : sprintf("%.2f", r / t)
        xc = r == "" ? "-" : sprintf("%.2f", r / t / w)
        xcpu = (rc == "" || rc == "-" || c == "-" || c <= 0) ? "-" : sprintf("%.2f", rc / c)
        printf "%-18s %7s %8.3f %7s %11.0f %8.1f %7s %11s %10s\n", n, w, t, c, l / t, b / 1e6 / t, x, xc, xcpu
    }'
done
json_summary   # JSON lines
if [ "$HAVE_ABBEY" = 1 ]; then
    # The targets of count by status on combined, one worker (docs/DESIGN.md, issue 10):
    # at least 40% of wc -l's bytes/s, and at least 8 times mawk's.
    awk -v t="${BEST[abbey-one-w1]}" -v wc="${BEST[wc]}" -v m="$mawk_one" 'BEGIN {
        printf "\ncount by status, 1 worker: %.0f%% of wc -l'"'"'s throughput (target 40%%), %.2f x mawk (target 8)\n",
            100 * wc / t, m / t
    }'
    echo
    echo "abbey's own summaries of those best runs (its clock excludes start-up, export and exit):"
    for id in "${CASES[@]}"; do
        case $id in abbey-*) printf '  %-14s %s\n' "$id" "$(grep '^job ' "$OUT/$id.txt.best" | head -1)" ;; esac
    done
else
    echo
    echo "abbey rows missing: $ABBEY_MASTER not found (see above)."
    exit 2
fi

# ---- the cluster ----
if [ "$CLUSTER" = 1 ]; then
    if [ -x "$ABBEY_SLAVE" ]; then
        echo
        RUNS=$RUNS ABBEY_MASTER=$ABBEY_MASTER ABBEY_SLAVE=$ABBEY_SLAVE \
            "$SRC/scripts/bench_cluster.sh" "$BENCH_DIR" "$LOG" "$LINES" ||
            die "the cluster benchmark failed"
    else
        say "abbey-slave not found at $ABBEY_SLAVE: the cluster case skipped (CLUSTER=0 to silence)"
    fi
fi
