#!/bin/sh
# tests/recount/logfmt.sh - the logfmt format end to end, against a recount by python3.
#
# Generates (python3, fixed seed) an application log in logfmt, 6000 lines: bare and quoted
# values, JSON escapes (\" \\ \/ \t \n \u00e9 and a surrogate pair) in paths, flags
# (`cache_hit`), a duplicate `level` now and then (the first wins), missing and "-" values,
# and about 6% bad lines of every kind: unterminated quote, bad escape, "=value", "a=b=c",
# a quote after a bare value, text after a closing quote, a blank line, a duration that is
# not a float (dur:float) and a byte count that is not a number (summed). A job with
# `format: {logfmt: {fields: [dur:float]}}` counts by level (count, sum(dur), sum(bytes),
# max(status)), by unescaped path, errors (status >= 500) by level, and flagged lines
# (count, distinct_exact(user)). Runs: 1 worker, 2 workers, and the log cut in three
# files read through a glob with 2 workers.
#
# The oracle (python3's re and json modules, written apart from abbey's parser) splits
# each line into pairs with one regular expression of the grammar, unescapes quoted
# values with json.loads, classes a line bad when the expression does not cover it, an
# escape does not decode, or a needed value does not convert; then recounts every figure.
# Checks: exit status, the summary's line and bad-line counts, and every row of every
# report (floats to 1e-9 relative), for each run; and the line and bad-line counts of the
# bundled example (examples/logfmt.yaml on data/app_logfmt.log) against the same oracle.
#
# Environment: ABBEY_BUILDDIR, ABBEY_SRCDIR as for standalone.sh; KEEP=1 keeps the temp
# dir. Needs python3 (exit 77, skip, without). Exit 0 when every check passes, 1 when one
# fails, 99 on a setup error.
set -u

. "$(dirname "$0")/lib.sh"
setup logfmt python3

python3 - "$tmp/app.log" <<'EOF' || exit 99
import random, sys
random.seed(20240614)
paths = ['/a', '/api/v1/users', '/b c', 'say \\"hi\\"', 'tab\\there', 'two\\nlines',
         'caf\\u00e9', 'smile \\ud83d\\ude00', 'back\\\\slash', '\\/slash', '/x?q=1']
levels = ['info', 'info', 'info', 'warn', 'error', 'debug']
bad = ['msg="unterminated', 'path="/a\\qb"', '=oops', 'a=b=c', 'k=v"w', 'k="v"w',
       '', '"quoted"=key', 'path="\\u12x4"']
with open(sys.argv[1], 'w', newline='\n') as out:
    for i in range(6000):
        r = random.random()
        if r < 0.04:
            pre = 'level=info status=200 ' if random.random() < 0.5 else ''
            out.write(pre + random.choice(bad) + '\n')
            continue
        pairs = []
        if random.random() < 0.97:
            pairs.append('level=' + random.choice(levels))
        p = random.choice(paths)
        needs_quote = any(c in p for c in ' \\"=')
        pairs.append('path=' + ('"%s"' % p if needs_quote or random.random() < 0.3 else p))
        st = random.choice([200, 200, 200, 304, 404, 500, 503])
        pairs.append('status=' + (str(st) if random.random() < 0.8 else '"%d"' % st))
        d = random.random() * 3
        if r < 0.05:
            pairs.append('dur=fast')
        elif random.random() < 0.95:
            pairs.append('dur=%.4f' % d)
        if r < 0.06 and r >= 0.05:
            pairs.append('bytes=12k')
        else:
            pairs.append('bytes=' + random.choice([str(random.randint(0, 99999)), '-', '""']))
        pairs.append('user=u%d' % random.randint(0, 40))
        if random.random() < 0.2:
            pairs.append('cache_hit')
        if random.random() < 0.05:
            pairs.append('level=LATER')
        if random.random() < 0.3:
            pairs.append('msg="request done, id=%d"' % i)
        mid = pairs[1:]
        random.shuffle(mid)
        pairs = pairs[:1] + mid
        sep = random.choice([' ', ' ', '  ', '\t'])
        out.write(sep.join(pairs) + ('\r' if random.random() < 0.05 else '') + '\n')
EOF

cat >"$tmp/rules.yaml" <<EOF
jobs:
  - name: app
    sources: ["$tmp/app.log"]
    format: {logfmt: {fields: [dur:float]}}
    groups:
      - name: g
        entries:
          - name: by_level
            key: [level]
            values: {n: count, dur: sum(dur), bytes: sum(bytes), worst: max(status)}
          - name: by_path
            key: [path]
            values: {n: count}
          - name: errors
            key: [level]
            where: status >= 500
            values: {n: count}
          - name: cached
            where: cache_hit
            values: {n: count, users: distinct_exact(user)}
EOF

# oracle LOG OUT: every report as rows of text, and the line and bad counts.
oracle() {
    python3 - "$1" "$2" <<'EOF'
import json, re, sys
BL = '\x00-\x20'
PAIR = '[%s]*([^%s="]+)(?:=("(?:[^"\\\\]|\\\\.)*"|[^%s="]*))?(?=[%s]|$)' % (BL, BL, BL, BL)
LINE = re.compile('(?:%s)+[%s]*' % (PAIR, BL), re.S)
PAIRS = re.compile(PAIR, re.S)

def num(s):  # untyped text read as a number: None when missing, else int or float
    if s in ('', '-'):
        return None
    if re.fullmatch(r'[+-]?[0-9]+', s):
        return int(s)
    if re.fullmatch(r'[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?', s):
        return float(s)
    raise ValueError(s)

def parse(line):
    if line.endswith('\r'):
        line = line[:-1]
    if not LINE.fullmatch(line):
        return None
    kv = {}
    for m in PAIRS.finditer(line):
        k, v = m.group(1), m.group(2)
        if v is not None and v.startswith('"'):
            v = json.loads(v, strict=False)  # raises on an escape JSON does not have
        if k not in kv:
            kv[k] = True if v is None else v
    return kv

lines = bad = 0
by_level, by_path, errors, cached = {}, {}, {}, [0, set()]
with open(sys.argv[1], encoding='utf-8', newline='\n') as f:
    for raw in f:
        lines += 1
        try:
            kv = parse(raw[:-1])
            if kv is None:
                raise ValueError('syntax')
            text = lambda k: kv.get(k) if kv.get(k) is not True else None
            dur = num(text('dur')) if 'dur' in kv and kv['dur'] is not True else None
            if isinstance(dur, int):
                dur = float(dur)
            nbytes = num(text('bytes')) if text('bytes') is not None else None
            status = num(text('status')) if text('status') is not None else None
        except (ValueError, json.JSONDecodeError):
            bad += 1
            continue
        level = text('level')
        e = by_level.setdefault(level, [0, 0.0, 0, None])
        e[0] += 1
        e[1] += dur or 0.0
        e[2] += nbytes or 0
        if status is not None:
            e[3] = status if e[3] is None else max(e[3], status)
        p = text('path')
        by_path[p] = by_path.get(p, 0) + 1
        if status is not None and status >= 500:
            errors[level] = errors.get(level, 0) + 1
        if kv.get('cache_hit') is True:
            cached[0] += 1
            cached[1].add(text('user'))
show = lambda v: '' if v is None else str(v)
with open(sys.argv[2], 'w', encoding='utf-8') as out:
    out.write('lines %d bad %d\n' % (lines, bad))
    rows = lambda d: json.dumps(sorted(d, key=lambda r: [str(c) for c in r]))
    out.write('by_level ' + rows([[show(k), v[0], v[1], v[2], show(v[3])] for k, v in by_level.items()]) + '\n')
    out.write('by_path ' + rows([[show(k), v] for k, v in by_path.items()]) + '\n')
    out.write('errors ' + rows([[show(k), v] for k, v in errors.items()]) + '\n')
    out.write('cached ' + rows([[cached[0], len(cached[1])]]) + '\n')
EOF
}
oracle "$tmp/app.log" "$tmp/oracle" || exit 99
set -- $(head -n 1 "$tmp/oracle")
lines=$2 nbad=$4
[ "$nbad" -gt 200 ] && [ "$nbad" -lt 600 ] || {
    echo "logfmt.sh: the oracle counted $nbad bad lines of $lines"
    exit 99
}

# compare RUN: every report of run RUN against the oracle (python3's csv module).
compare() {
    python3 - "$tmp/oracle" "$tmp/$1/app" "$1" <<'EOF'
import csv, json, sys
oracle, outdir, run = sys.argv[1:4]
fails = 0
def same(a, b):
    if a == b:
        return True
    try:
        x, y = float(a), float(b)
        return abs(x - y) <= 1e-9 * max(1.0, abs(x), abs(y))
    except ValueError:
        return False
for line in open(oracle, encoding='utf-8').readlines()[1:]:
    name, rows = line.split(' ', 1)
    want = json.loads(rows)
    with open('%s/%s.csv' % (outdir, name), encoding='utf-8', newline='') as f:
        got = list(csv.reader(f))[1:]
    got.sort(key=lambda r: r)
    want = [[str(c) for c in r] for r in want]
    want.sort(key=lambda r: r)
    ok = len(got) == len(want) and all(
        len(g) == len(w) and all(same(x, y) for x, y in zip(g, w)) for g, w in zip(got, want))
    if not ok:
        fails += 1
        print('FAIL %s (%s): %d rows, expected %d' % (name, run, len(got), len(want)))
        for g, w in zip(got, want):
            if g != w:
                print('  got %r, expected %r' % (g, w))
                break
print('TALLY %d %d' % (4 - fails, fails))
EOF
}

# run NAME CONFIG WORKERS: one standalone run, its summary and its reports.
run() {
    "$master" --standalone --once --config "$2" --workers "$3" --export-dir "$tmp/$1" \
        >"$tmp/$1.out" 2>"$tmp/$1.err"
    check "run $1: exit status" 0 $?
    check "run $1: summary" "job app: $lines lines ($nbad bad)" \
        "$(grep -o '^job app: [0-9]* lines ([0-9]* bad)' "$tmp/$1.out")"
    out=$(compare "$1")
    printf '%s\n' "$out" | grep -v '^TALLY ' || :
    tally=$(printf '%s\n' "$out" | sed -n 's/^TALLY //p')
    [ -n "$tally" ] || tally="0 1"
    npass=$((npass + ${tally% *}))
    nfail=$((nfail + ${tally#* }))
}

mkdir "$tmp/parts" || exit 99
sed -n '1,2000p' "$tmp/app.log" >"$tmp/parts/app-1.log"
sed -n '2001,4500p' "$tmp/app.log" >"$tmp/parts/app-2.log"
sed -n '4501,$p' "$tmp/app.log" >"$tmp/parts/app-3.log"
sed "s|\"$tmp/app.log\"|\"$tmp/parts/app-*.log\"|" "$tmp/rules.yaml" >"$tmp/glob.yaml"
grep -q 'parts/app-\*' "$tmp/glob.yaml" || exit 99

run w1 "$tmp/rules.yaml" 1
run w2 "$tmp/rules.yaml" 2
run glob "$tmp/glob.yaml" 2

# the comparison itself rejects a wrong figure
sed '/^by_level /s/"info", \([0-9]*\)/"info", 1\1/' "$tmp/oracle" >"$tmp/oracle.wrong"
mv "$tmp/oracle" "$tmp/oracle.right" && mv "$tmp/oracle.wrong" "$tmp/oracle"
if compare w1 | grep -q '^TALLY 3 1$'; then pass; else fail "self-check: a wrong count passed"; fi
mv "$tmp/oracle.right" "$tmp/oracle"

# the bundled example (examples/logfmt.yaml, data/app_logfmt.log): its summary
oracle "$srcdir/data/app_logfmt.log" "$tmp/oracle.example" || exit 99
set -- $(head -n 1 "$tmp/oracle.example")
"$master" --standalone --once --config "$srcdir/examples/logfmt.yaml" --export-dir "$tmp/example" \
    >"$tmp/example.out" 2>&1
check "examples/logfmt.yaml: exit status" 0 $?
check "examples/logfmt.yaml: summary" "job api: $2 lines ($4 bad)" \
    "$(grep -o '^job api: [0-9]* lines ([0-9]* bad)' "$tmp/example.out")"

finish
