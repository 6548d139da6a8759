#!/bin/sh
# tests/recount/logformat.sh - a custom nginx log_format against an independent recount.
#
# A generated log (python3, fixed seed) in the nginx format
#   $remote_addr - $remote_user [$time_iso8601] "$request" $status $body_bytes_sent
#   $request_time $upstream_response_time "$http_referer" "$http_user_agent" $host
# with 6000 lines, one in ten of them bad or odd: cut short inside the agent, a status "2x0"
# or "-", an upstream list with a word in it, a month 13, a stray field that moves the
# others, garbage, an empty line; and odd but good: "-" bytes and upstream times, upstream lists
# "0.1, 0.2 : 0.3", escaped quotes in agents, user names with spaces, a request "-", and a
# request_time "0.x" (no rule reads request_time, so its text is never converted and the
# line is good: only what is needed is parsed). Rules: by_status (count, sum of bytes, max
# of upstream time), by_host_method, per_hour (time_bucket of the ISO time), bots (agents
# matching "bot").
#
# The oracle is python3's `re` and `datetime` over the raw log, written apart from the
# generator: a regular expression of the format, then the checks of each needed field.
# Checks, for --workers 1 and --workers 2: the summary's line and bad-line counts and every
# row of every report. Then examples/nginx.yaml on data/nginx_main_2k.log: its summary and
# by_status against the same kind of recount.
#
# Environment: ABBEY_BUILDDIR, ABBEY_SRCDIR as in standalone.sh. Needs python3 (exit 77
# without). Exit 0 when every check passes, 1 otherwise, 99 on a setup error.
set -u

. "$(dirname "$0")/lib.sh"
setup logformat python3

# ---- the log ----
python3 - "$tmp/access.log" <<'EOF' || exit 99
import random, sys
r = random.Random(20240611)
hosts = ["www.example.com", "api.example.com", "static.example.com"]
methods = ["GET"] * 12 + ["POST", "HEAD", "PUT"]
agents = ["Mozilla/5.0 (X11; Linux x86_64)", "curl/8.5.0", "Googlebot/2.1 (+http://www.google.com/bot.html)",
          "say \\\"hi\\\" bot", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36",
          "back\\\\slash", "-"]
out = []
for i in range(6000):
    t = 1431820800 + i * 47 + r.randint(0, 40)
    hh, rest = divmod(t % 86400, 3600)
    day = 17 + (t - 1431820800) // 86400
    ts = "2015-05-%02dT%02d:%02d:%02d%s" % (day, hh, rest // 60, rest % 60, r.choice(["Z", "+00:00"]))
    user = r.choice(["-", "-", "-", "alice", "john smith"])
    req = "%s /p/%d?q=%d HTTP/1.1" % (r.choice(methods), r.randint(1, 40), r.randint(0, 9))
    if r.random() < 0.02:
        req = "-"
    status = r.choice(["200"] * 8 + ["304", "404", "500", "301"])
    nbytes = "-" if r.random() < 0.07 else str(r.randint(0, 50000))
    rt = "%.3f" % r.random()
    up = r.choice(["-", "%.3f" % r.random(), "%.3f, %.3f" % (r.random(), r.random()),
                   "%.3f, %.3f : %.3f" % (r.random(), r.random(), r.random())])
    ref = r.choice(["-", "http://example.com/", "http://ex.org/a?b=c"])
    ua = r.choice(agents)
    host = r.choice(hosts)
    odd = r.random()
    if odd < 0.015:
        rt = "0.x"                                    # good: request_time is not needed
    elif odd < 0.03:
        status = r.choice(["2x0", "-"])               # bad: status is needed
    elif odd < 0.04:
        up = "0.1, x"                                 # bad: a word in the list
    elif odd < 0.05:
        ts = ts.replace("2015-05-", "2015-13-")       # bad: no such month
    elif odd < 0.055:
        nbytes += " extra"                            # bad: a stray field moves the others
    line = '%s - %s [%s] "%s" %s %s %s %s "%s" "%s" %s' % (
        "10.%d.%d.%d" % (r.randint(0, 3), r.randint(0, 255), r.randint(1, 254)),
        user, ts, req, status, nbytes, rt, up, ref, ua, host)
    if 0.055 <= odd < 0.065:
        line = line[:line.rfind('"') - 3]             # bad: cut inside the agent
    elif 0.065 <= odd < 0.07:
        line = r.choice(["hello world", "", "- - [x] \"\" 200"])   # bad
    out.append(line)
open(sys.argv[1], "w").write("\n".join(out) + "\n")
EOF

cat >"$tmp/rules.yaml" <<EOF
jobs:
  - name: web
    sources: ["$tmp/access.log"]
    format:
      nginx: >-
        \$remote_addr - \$remote_user [\$time_iso8601] "\$request" \$status \$body_bytes_sent
        \$request_time \$upstream_response_time "\$http_referer" "\$http_user_agent" \$host
    groups:
      - name: g
        entries:
          - name: by_status
            key: [status]
            values: {hits: count, bytes: sum(body_bytes_sent), up_max: max(upstream_response_time)}
          - name: by_host_method
            key: [host, method]
            values: {hits: count}
          - name: per_hour
            key: [time_bucket(time_iso8601, 1h)]
            values: {hits: count}
          - name: bots
            where: http_user_agent ~ "bot"
            values: {hits: count}
EOF

# ---- the oracle: python3 re over the raw log ----
python3 - "$tmp/access.log" "$tmp/oracle" <<'EOF' || exit 99
import re, sys, datetime, collections
text = open(sys.argv[1], "rb").read().decode("latin-1")
lines = text.split("\n")[:-1]
q = r'"((?:[^"\\]|\\.)*)"'
pat = re.compile(r'^(\S+) - (.+?) \[([^\]]*)\] ' + q + r' (\S+) (\S+) (\S+) (.+?) ' + q + ' ' + q +
                 r' (.+)$')  # the last field runs to the end of the line
num = r'-?\d+(?:\.\d*)?|\.\d+'
up_pat = re.compile(r'^(?:-|%s)(?:(?:, | : )(?:-|%s))*$' % (num, num))
good = bad = 0
st = collections.defaultdict(lambda: [0, 0, None])
hm = collections.Counter()
hours = collections.Counter()
bots = 0
for line in lines:
    m = pat.match(line)
    if not m:
        bad += 1
        continue
    addr, user, ts, req, status, nbytes, rt, up, ref, ua, host = m.groups()
    if not re.fullmatch(r'\d{1,4}', status) or not re.fullmatch(r'\d{1,18}|-', nbytes) \
            or not up_pat.match(up):
        bad += 1
        continue
    try:
        t = datetime.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        bad += 1
        continue
    good += 1
    row = st[int(status)]
    row[0] += 1
    if nbytes != "-":
        row[1] += int(nbytes)
    vals = [float(x) for x in re.split(r', | : ', up) if x != "-"]
    if vals:
        s = sum(vals)
        row[2] = s if row[2] is None else max(row[2], s)
    method = req.split(" ")[0] if req != "-" and " " in req else ""
    hm[(host, method)] += 1
    hours[t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:00:00Z")] += 1
    bots += "bot" in ua
def shortest(x):  # a float as abbey writes it: the fewest digits that read back the same
    for p in range(1, 18):
        s = "%.*g" % (p, x)
        if float(s) == x:
            return s
    return s
with open(sys.argv[2], "w") as o:
    print("lines %d bad %d" % (good + bad, bad), file=o)
    for k, (n, b, u) in st.items():
        print("by_status %d,%d,%d,%s" % (k, n, b, "" if u is None else shortest(u)), file=o)
    for (h, m), n in hm.items():
        print("by_host_method %s,%s,%d" % (h, m, n), file=o)
    for h, n in hours.items():
        print("per_hour %s,%d" % (h, n), file=o)
    print("bots %d" % bots, file=o)
EOF

set -- $(head -n 1 "$tmp/oracle")
lines=$2 bad=$4
[ "$bad" -gt 200 ] && [ "$bad" -lt 600 ] || {
    echo "logformat.sh: the generator made $bad bad lines"
    exit 99
}
for w in 1 2; do
    "$master" --standalone --once --config "$tmp/rules.yaml" --workers $w \
        --export-dir "$tmp/out$w" >"$tmp/run$w.out" 2>"$tmp/run$w.err"
    check "workers $w: exit status" 0 $?
    check "workers $w: summary" "job web: $lines lines ($bad bad)" \
        "$(grep -o '^job web: [0-9]* lines ([0-9]* bad)' "$tmp/run$w.out")"
    for e in by_status by_host_method per_hour; do
        check "workers $w: $e" "$(sed -n "s/^$e //p" "$tmp/oracle" | sort)" \
            "$(tail -n +2 "$tmp/out$w/web/$e.csv" | tr -d '\r' | sort)"
    done
    check "workers $w: bots" "$(sed -n 's/^bots //p' "$tmp/oracle")" \
        "$(tail -n +2 "$tmp/out$w/web/bots.csv" | tr -d '\r')"
done

# examples/nginx.yaml on its sample: lines, bad lines and by_status against python3 re
sample=$srcdir/data/nginx_main_2k.log
need "$sample" "$srcdir/examples/nginx.yaml"
"$master" --standalone --once --config "$srcdir/examples/nginx.yaml" --export-dir "$tmp/ex" \
    >"$tmp/ex.out" 2>"$tmp/ex.err"
check "examples/nginx.yaml: exit status" 0 $?
python3 - "$sample" >"$tmp/ex.oracle" <<'EOF2' || exit 99
import re, sys, collections
q = r'"((?:[^"\\]|\\.)*)"'
pat = re.compile(r'^\S+ - .+? \[[^\]]*\] ' + q + r' (\d{1,4}) (\d+|-) ' + q + ' ' + q + ' ' + q +
                 r' rt=(\S+) uct="([^"]*)" urt="([^"]*)"$')
n = bad = 0
st = collections.defaultdict(lambda: [0, 0])
for line in open(sys.argv[1], encoding="latin-1").read().split("\n")[:-1]:
    n += 1
    m = pat.match(line)
    if not m:
        bad += 1
        continue
    st[m.group(2)][0] += 1
    st[m.group(2)][1] += 0 if m.group(3) == "-" else int(m.group(3))
print("job shop: %d lines (%d bad)" % (n, bad))
for k, (h, b) in st.items():
    print("%s,%d,%d" % (k, h, b))
EOF2
check "examples/nginx.yaml: summary" "$(head -n 1 "$tmp/ex.oracle")" \
    "$(grep -o '^job shop: [0-9]* lines ([0-9]* bad)' "$tmp/ex.out")"
check "examples/nginx.yaml: by_status" "$(tail -n +2 "$tmp/ex.oracle" | sort)" \
    "$(tail -n +2 "$tmp/ex/shop/by_status.csv" | tr -d '\r' | sort)"

finish
