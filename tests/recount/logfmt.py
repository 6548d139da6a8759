#!/usr/bin/env python3
"""tests/recount/logfmt.py - a logfmt log, its job, and its recount, for the logfmt tests
(tests/recount/logfmt.sh, tests/cluster/formats_logfmt_syslog.sh).

  logfmt.py gen OUT          write the generated log (6000 lines, fixed seed)
  logfmt.py job NAME SOURCE  print the job (a YAML item of `jobs:`) that reads SOURCE
  logfmt.py recount LOG OUT  recount that job's reports from the raw LOG into OUT

The log: bare and quoted values, JSON escapes (\\" \\\\ \\/ \\t \\n \\u00e9, a surrogate
pair) in paths, flags (`cache_hit`), a second `level` now and then (the first wins),
missing and "-" values, and about 6% bad lines of every kind (unterminated quote, bad
escape, "=value", "a=b=c", a quote in a bare value, text after a closing quote, a blank
line, a duration that is not a float, a byte count that is not a number).

The recount is written apart from abbey's parser: one regular expression of the grammar
splits a line into pairs, json.loads unescapes quoted values; a line is bad when the
expression does not cover it, an escape does not decode, or a value the job reads as a
number does not convert. OUT's first line is "lines N bad B"; then one line per report:
its name and its rows (JSON, every cell as the report's CSV text)."""
import json
import random
import re
import sys

JOB = """\
  - name: %s
    round: 1s
    sources: ["%s"]
    format: {logfmt: {fields: [dur:float]}}
    groups:
      - name: levels
        entries:
          - name: by_level
            key: [level]
            values: {n: count, dur: sum(dur), bytes: sum(bytes), worst: max(status)}
          - name: errors
            key: [level]
            where: status >= 500
            values: {n: count}
      - name: paths
        entries:
          - name: by_path
            key: [path]
            values: {n: count}
          - name: cached
            where: cache_hit
            values: {n: count, users: distinct_exact(user)}
"""


def gen(path):
    random.seed(20240614)
    paths = ['/a', '/api/v1/users', '/b c', 'say \\"hi\\"', 'tab\\there', 'two\\nlines',
             'caf\\u00e9', 'smile \\ud83d\\ude00', 'back\\\\slash', '\\/slash', '/x?q=1']
    levels = ['info', 'info', 'info', 'warn', 'error', 'debug']
    bad = ['msg="unterminated', 'path="/a\\qb"', '=oops', 'a=b=c', 'k=v"w', 'k="v"w',
           '', '"quoted"=key', 'path="\\u12x4"']
    with open(path, 'w', newline='\n') as out:
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
            if r < 0.05:
                pairs.append('dur=fast')
            elif random.random() < 0.95:
                pairs.append('dur=%.4f' % (random.random() * 3))
            if 0.05 <= r < 0.06:
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


BL = '\x00-\x20'  # blanks: any byte up to a space
PAIR = '[%s]*([^%s="]+)(?:=("(?:[^"\\\\]|\\\\.)*"|[^%s="]*))?(?=[%s]|$)' % (BL, BL, BL, BL)
LINE = re.compile('(?:%s)+[%s]*' % (PAIR, BL), re.S)
PAIRS = re.compile(PAIR, re.S)


def num(s):
    """Untyped text read as a number: None when missing, else int or float."""
    if s is True:
        return 1  # a flag
    if s is None or s in ('', '-'):
        return None
    if re.fullmatch(r'[+-]?[0-9]+', s):
        return int(s)
    if re.fullmatch(r'[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?', s):
        return float(s)
    raise ValueError(s)


def parse(line):
    """The line's keys -> values (True for a flag; the first occurrence wins), or None."""
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


def recount(log, out_path):
    lines = bad = 0
    by_level, by_path, errors, cached = {}, {}, {}, [0, set()]
    with open(log, encoding='utf-8', newline='\n') as f:
        for raw in f:
            lines += 1
            try:
                kv = parse(raw[:-1])
                if kv is None:
                    raise ValueError('syntax')
                dur = kv.get('dur')  # typed float: a flag is its empty value
                dur = None if dur is True else num(dur)
                nbytes, status = num(kv.get('bytes')), num(kv.get('status'))
            except ValueError:  # json.JSONDecodeError is one
                bad += 1
                continue
            level = kv.get('level')
            e = by_level.setdefault(level, [0, 0.0, 0, None])
            e[0] += 1
            e[1] += dur or 0.0
            e[2] += nbytes or 0
            if status is not None:
                e[3] = status if e[3] is None else max(e[3], status)
            p = kv.get('path')
            by_path[p] = by_path.get(p, 0) + 1
            if status is not None and status >= 500:
                errors[level] = errors.get(level, 0) + 1
            if kv.get('cache_hit') is True:
                cached[0] += 1
                cached[1].add(kv.get('user'))

    def show(v):
        return '' if v is None else 'true' if v is True else str(v)

    with open(out_path, 'w', encoding='utf-8') as out:
        out.write('lines %d bad %d\n' % (lines, bad))
        for name, rows in (
                ('by_level', [[k, v[0], v[1], v[2], v[3]] for k, v in by_level.items()]),
                ('by_path', [[k, v] for k, v in by_path.items()]),
                ('errors', [[k, v] for k, v in errors.items()]),
                ('cached', [[cached[0], len(cached[1])]])):
            out.write('%s %s\n' % (name, json.dumps(sorted([show(c) for c in r] for r in rows))))


if __name__ == '__main__':
    if sys.argv[1:2] == ['gen']:
        gen(sys.argv[2])
    elif sys.argv[1:2] == ['job']:
        sys.stdout.write(JOB % (sys.argv[2], sys.argv[3]))
    elif sys.argv[1:2] == ['recount']:
        recount(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
