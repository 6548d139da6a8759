#!/usr/bin/env python3
"""json_oracle.py - JSON lines for the json format's recount tests, and their recount.

Used by tests/recount/json.sh (standalone) and tests/cluster/json.sh (a cluster):

  json_oracle.py gen FILE SEED N      write N lines: application-logger style JSON objects
                                      (nested members, arrays, escapes, strings holding
                                      numbers, key orders and spacing that vary), about 4% of
                                      them bad in many ways
  json_oracle.py rules SOURCES [PORT] print the rules file (one job, format: json), standalone
                                      or for one master on 127.0.0.1:PORT
  json_oracle.py check DIR FILE...    recount FILEs with Python's json module and compare
                                      every report abbey exported to DIR (the job's export
                                      directory); prints "lines N bad M" (the recount), one
                                      "FAIL ..." line per difference, "checked K figures"

The recount reads the raw bytes again and parses each line with json.loads, adding what
docs/RULES.md ("json") says that Python does not do by itself: a line is one object; NaN
and Infinity are not JSON; a lone surrogate escape is bad; at most 64 objects and arrays
open at once; a key given twice keeps its first value; a string used as a number is a number
when it is one ("" and "-" are missing), else the line is bad. No code of abbey's is used.
"""
import collections
import csv
import json
import math
import os
import random
import re
import sys

# ---- the lines ----------------------------------------------------------------------

METHODS = ["GET"] * 12 + ["POST"] * 3 + ["PUT", "DELETE", "HEAD"]
PATHS = ["/", "/api/v1/users", "/api/v1/orders", "/static/app.js", "/login", "/search",
         "/caf\u00e9", "/\u8def\u5f84", "/a\"quoted\"", "/back\\slash", "/emoji\U0001f600"]
LEVELS = ["info"] * 8 + ["warn", "error", "debug"]
TAGS = ["web", "api", "eu", "us", "canary", "caf\u00e9"]
AGENTS = ["Mozilla/5.0 (X11; Linux x86_64)", "curl/8.1.2", "Go-http-client/1.1",
          "bot \"crawler\"\t\u00e9", ""]


def good_line(r):
    status = r.choice([200] * 20 + [201, 204, 301, 304, 400, 404, 500, 502, 503])
    doc = {
        "@timestamp": "2024-03-01T%02d:%02d:%02d.%03dZ" % (
            r.randrange(24), r.randrange(60), r.randrange(60), r.randrange(1000)),
        "log.level": r.choice(LEVELS),
        "http": {
            "method": r.choice(METHODS),
            "path": r.choice(PATHS),
            # nginx writes "status":"200"; others a number
            "status": str(status) if r.random() < 0.5 else status,
        },
        "client": {"ip": "10.%d.%d.%d" % (r.randrange(4), r.randrange(16), r.randrange(256))},
        "timing": {"ms": round(r.lognormvariate(3, 1), 3)},
        "tags": r.sample(TAGS, r.randrange(4)),
        "user agent": r.choice(AGENTS),
        "extra": {"deep": [[{"x": [1, 2, {"y": None}]}]], "big": 12345678901234567890123,
                  "neg": -0.0, "t": True, "f": False},
    }
    b = r.random()
    if b < 0.6:
        doc["bytes"] = r.randrange(100000)
    elif b < 0.8:
        doc["bytes"] = str(r.randrange(100000))
    elif b < 0.85:
        doc["bytes"] = r.choice(["", "-", None])
    # else: absent
    if r.random() < 0.05:
        del doc["http"]["method"]
    if r.random() < 0.05:
        doc["client"] = None
    if r.random() < 0.03:  # a duplicate key: the first one counts
        return json.dumps(doc)[:-1] + ', "log.level": "dup", "http": {"method": "DUP"}}'
    keys = list(doc)
    r.shuffle(keys)
    doc = {k: doc[k] for k in keys}
    style = r.randrange(3)
    if style == 0:
        return json.dumps(doc, separators=(",", ":"))  # nginx: no spaces, \u escapes
    if style == 1:
        return json.dumps(doc, ensure_ascii=False)  # UTF-8 as is, ", " and ": "
    return " \t" + json.dumps(doc, indent=None, separators=(" , ", " : ")) + " "


BAD = [
    lambda s: s[: len(s) // 2],  # truncated
    lambda s: s + "x",  # trailing garbage
    lambda s: s + " {}",
    lambda s: s.replace('"', "'", 2),  # single quotes
    lambda s: s.replace('"tags"', '"t\tags"', 1) if '"tags"' in s else s + ",",  # raw tab
    lambda s: s[:-1] + ',"n":NaN}',
    lambda s: s[:-1] + ',"n":Infinity}',
    lambda s: s[:-1] + ',"s":"\\ud800"}',  # a lone surrogate
    lambda s: s[:-1] + ',"s":"\\x41"}',  # a bad escape
    lambda s: s[:-1] + ',"n":01}',
    lambda s: s[:-1] + ',"n":1.}',
    lambda s: s[:-1] + ',}',
    lambda s: s[:-1] + ',"d":' + "[" * 70 + "]" * 70 + "}",  # too deep
    lambda s: "[" + s + "]",  # not an object
    lambda s: "",
    lambda s: s[:-1] + ',"bytes":"n/a"}' if '"bytes"' not in s else s.replace('"bytes"', '"bytes":"n/a","b0"', 1),
]


def gen(path, seed, n):
    r = random.Random(seed)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for _ in range(n):
            line = good_line(r)
            if r.random() < 0.04:
                line = r.choice(BAD)(line)
            assert "\n" not in line
            f.write(line + "\n")


# ---- the rules ------------------------------------------------------------------------

RULES = """jobs:
  - name: app
    round: 1s
    sources: [%s]
    format: json
    groups:
      - name: g
        entries:
          - name: by_method
            key: [http.method]
            values: {hits: count, bytes: sum(bytes)}
          - name: by_tag
            key: ["tags[0]"]
            values: {hits: count}
          - name: totals
            values: {hits: count, bytes: sum(bytes), ips: distinct_exact(client.ip), fastest: min(timing.ms), slowest: max(timing.ms)}
          - name: errors
            key: ["`log.level`"]
            where: http.status >= 500
            values: {hits: count, ms: sum(timing.ms)}
"""


def rules(sources, port=None):
    head = 'masters:\n  - {name: m1, url: "http://127.0.0.1:%s"}\n' % port if port else ""
    return head + RULES % sources


# ---- the recount ----------------------------------------------------------------------

class Bad(Exception):
    pass


def first_wins(pairs):
    d = {}
    for k, v in pairs:
        d.setdefault(k, v)
    return d


def reject_constant(name):
    raise Bad(name)


def depth(x):
    if isinstance(x, dict):
        return 1 + max((depth(v) for v in x.values()), default=0)
    if isinstance(x, list):
        return 1 + max((depth(v) for v in x), default=0)
    return 0


def strings(x):
    if isinstance(x, dict):
        for k, v in x.items():
            yield k
            yield from strings(v)
    elif isinstance(x, list):
        for v in x:
            yield from strings(v)
    elif isinstance(x, str):
        yield x


LONE = re.compile("[\ud800-\udfff]")
INT = re.compile(r"[+-]?[0-9]+")
FLOAT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


def member(doc, *path):
    """The value at path (keys and indexes), or None when absent."""
    for p in path:
        if isinstance(p, int):
            if not isinstance(doc, list) or p >= len(doc):
                return None
        elif not isinstance(doc, dict) or p not in doc:
            return None
        doc = doc[p]
    return doc


def number(v):
    """A member used as a number: int, float or None (missing); Bad when it is not one."""
    if v is None:
        return None
    if isinstance(v, bool) or isinstance(v, (dict, list)):
        raise Bad("not a number")
    if isinstance(v, (int, float)):
        return v
    if v in ("", "-"):
        return None
    if INT.fullmatch(v):
        return int(v)
    if FLOAT.fullmatch(v):
        return float(v)
    raise Bad("not a number")


def parse(raw):
    """One line's figures, or None when abbey must count it bad."""
    try:
        doc = json.loads(raw.decode("utf-8"), object_pairs_hook=first_wins,
                         parse_constant=reject_constant)
        if not isinstance(doc, dict) or depth(doc) > 64:
            return None
        if any(LONE.search(s) for s in strings(doc)):
            return None
        row = {
            "method": member(doc, "http", "method"),
            "tag": member(doc, "tags", 0),
            "level": member(doc, "log.level"),
            "ip": member(doc, "client", "ip"),
            "bytes": number(member(doc, "bytes")),
            "ms": number(member(doc, "timing", "ms")),
            "status": number(member(doc, "http", "status")),
        }
    except (ValueError, Bad):
        return None
    return row


def text(v):
    """A key as the CSV shows it: missing is empty, numbers in decimal."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def recount(files):
    lines = bad = 0
    rows = []
    for path in files:
        with open(path, "rb") as f:
            for raw in f.read().split(b"\n")[:-1]:
                lines += 1
                row = parse(raw[:-1] if raw.endswith(b"\r") else raw)
                if row is None:
                    bad += 1
                else:
                    rows.append(row)
    want = {}
    by_method = collections.defaultdict(lambda: [0, 0])
    by_tag = collections.Counter()
    errors = collections.defaultdict(lambda: [0, 0.0])
    for x in rows:
        m = by_method[text(x["method"])]
        m[0] += 1
        m[1] += x["bytes"] or 0
        by_tag[text(x["tag"])] += 1
        if x["status"] is not None and x["status"] >= 500:
            e = errors[text(x["level"])]
            e[0] += 1
            e[1] += x["ms"] or 0.0
    want["by_method"] = {(k,): v for k, v in by_method.items()}
    want["by_tag"] = {(k,): [v] for k, v in by_tag.items()}
    want["errors"] = {(k,): v for k, v in errors.items()}
    ms = [x["ms"] for x in rows if x["ms"] is not None]
    want["totals"] = {(): [len(rows), sum(x["bytes"] or 0 for x in rows),
                           len({x["ip"] for x in rows if x["ip"] is not None}),
                           min(ms), max(ms)]}
    return lines, bad, want


HEADERS = {
    "by_method": ["http.method", "hits", "bytes"],
    "by_tag": ["tags[0]", "hits"],
    "totals": ["hits", "bytes", "ips", "fastest", "slowest"],
    "errors": ["`log.level`", "hits", "ms"],
}
NKEYS = {"by_method": 1, "by_tag": 1, "totals": 0, "errors": 1}


def same(want, got):
    """An exported figure against the recount: integers exactly, floats to 1e-9."""
    if isinstance(want, int):
        return got == str(want)
    try:
        return math.isclose(float(got), want, rel_tol=1e-9, abs_tol=1e-9)
    except ValueError:
        return False


def check(outdir, files):
    lines, bad, want = recount(files)
    print("lines %d bad %d" % (lines, bad))
    figures = fails = 0
    for name, rows in want.items():
        path = os.path.join(outdir, name + ".csv")
        if not os.path.exists(path):
            print("FAIL %s: no report %s" % (name, path))
            fails += 1
            continue
        with open(path, newline="", encoding="utf-8") as f:
            got = list(csv.reader(f, strict=True))
        if got[0] != HEADERS[name]:
            print("FAIL %s: header %r, expected %r" % (name, got[0], HEADERS[name]))
            fails += 1
        k = NKEYS[name]
        have = {tuple(r[:k]): r[k:] for r in got[1:]}
        if len(have) != len(got) - 1 or set(have) != set(rows):
            print("FAIL %s: rows %r, expected %r" % (name, sorted(have), sorted(rows)))
            fails += 1
            continue
        for key, vals in rows.items():
            for col, (w, g) in enumerate(zip(vals, have[key])):
                figures += 1
                if not same(w, g):
                    fails += 1
                    print("FAIL %s %r %s: %s, recount %r" % (name, key, HEADERS[name][k + col],
                                                            g, w))
    print("checked %d figures, %d failed" % (figures, fails))
    return 1 if fails else 0


def main(argv):
    if len(argv) >= 5 and argv[1] == "gen":
        gen(argv[2], int(argv[3]), int(argv[4]))
        return 0
    if len(argv) in (3, 4) and argv[1] == "rules":
        sys.stdout.write(rules(argv[2], argv[3] if len(argv) == 4 else None))
        return 0
    if len(argv) >= 4 and argv[1] == "check":
        return check(argv[2], argv[3:])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
