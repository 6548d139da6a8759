#!/usr/bin/env python3
"""formats.py - data and an independent recount for the csv and regex format tests.

Shared by tests/recount/csv.sh, tests/recount/regex.sh and tests/cluster/formats_regex_csv.sh. It never
runs abbey: it writes logs (a fixed seed: the same bytes every time) and computes what every
report of the rules below must hold, with python3's csv and re modules, from the raw bytes.

usage:
  formats.py gen-csv FILE LINES [SEED]   a CSV log with a header, bad lines mixed in (SEED:
                                         another seed, column order, LF ends and no BOM)
  formats.py gen-regex FILE LINES        an application log, bad lines mixed in
  formats.py gen-limit FILE LINES        lines for the nested-quantifier pattern (LIMIT_RE)
  formats.py rules-csv | rules-regex | rules-limit   the YAML of one job (sources: @SOURCES@)
  formats.py oracle-csv|oracle-regex|oracle-limit FILE...  the recount, as JSON, on stdout
  formats.py compare WANT.json ENTRY REPORT.csv   exit 0 when the exported report holds
                                                  exactly the recount's rows of ENTRY
  formats.py reports WANT.json DIR               compare every entry's report DIR/ENTRY.csv;
                                                  prints a line per problem, then
                                                  "TALLY passed failed"

Reports are compared as multisets of rows: key columns as the text shown (python's
decode("utf-8", "replace") of the raw bytes, "" for null), value columns as numbers (ints
exactly, floats to 1e-9 relative).
"""
import calendar
import csv
import json
import math
import random
import re
import sys
import time

# ---- the csv job -----------------------------------------------------------------------

CSV_RULES = """\
  - name: web
    sources: [@SOURCES@]
    format: {csv: {header: true, fields: [ts:time, status:int]}}
    groups:
      - name: g
        entries:
          - {name: by_status, key: [status], values: {hits: count, bytes: sum(bytes)}}
          - {name: pages, key: [method, path], values: {hits: count}}
          - {name: per_hour, key: [time_bucket(ts, 1h)], values: {hits: count}}
          - {name: regions, key: [region], values: {hits: count}}
"""
CSV_ENTRIES = {"by_status": 1, "pages": 2, "per_hour": 1, "regions": 1}  # key columns

PATHS = ["/", "/a", "/search?q=a,b", '/say "hi"', "/caf\u00e9", "/x,y,\"z\"", "", " /sp ",
         '5" tall', "/\u4e2d\u6587", "/%22", "/a;b|c"]


def csv_field(text, force=False):
    """text as a CSV field: quoted when it must be (it holds the delimiter, or starts with a
    quote) or when forced; a quote inside unquoted text stays as it is (read literally)."""
    if force or "," in text or text.startswith('"'):
        return '"' + text.replace('"', '""') + '"'
    return text


CSV_COLUMNS = ["ts", "client", "method", "path", "status", "bytes", "note"]


def gen_csv(path, n, seed=None):
    rng = random.Random(20240607 if seed is None else seed)
    t0 = calendar.timegm((2015, 5, 17, 0, 0, 0))
    order = list(range(len(CSV_COLUMNS)))
    if seed is not None:
        rng.shuffle(order)
    head = "\ufeff" if seed is None else ""
    out = [head + ",".join(CSV_COLUMNS[k] for k in order)]
    for i in range(n):
        r = rng.random()
        if r < 0.015:  # broken structure: whatever the columns, these are bad
            out.append(rng.choice([
                '2015-05-17T01:00:00Z,1.2.3.4,GET,"/never closed,200,5,x',
                "2015-05-17T01:00:00Z,1.2.3.4,GET,/a,200,5",  # a column short
                "2015-05-17T01:00:00Z,1.2.3.4,GET,/a,200,5,n,extra",
                '2015-05-17T01:00:00Z,1.2.3.4,GET,"/a"b,200,5,n',  # text after a quote
                ""]))
            continue
        ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 + rng.randrange(0, 3 * 86400)))
        if rng.random() < 0.005:
            ts = "later"
        status = rng.choice(["200", "200", "200", "304", "404", "500"])
        s = rng.random()
        if s < 0.01:
            status = ""
        elif s < 0.015:
            status = "abc"
        elif s < 0.02:
            status = "-"
        nbytes = str(rng.randrange(0, 100000))
        b = rng.random()
        if b < 0.05:
            nbytes = ""
        elif b < 0.06:
            nbytes = "-"
        elif b < 0.065:
            nbytes = "12x"
        note = rng.choice(["", "ok", 'said "no"', "a, b", "x" * rng.randrange(0, 40)])
        row = [csv_field(ts, rng.random() < 0.1),
               "10.0.%d.%d" % (rng.randrange(4), rng.randrange(256)),
               csv_field(rng.choice(["GET", "POST", "HEAD"]), rng.random() < 0.1),
               csv_field(rng.choice(PATHS), rng.random() < 0.2),
               csv_field(status, rng.random() < 0.1),
               csv_field(nbytes, rng.random() < 0.05),
               csv_field(note, rng.random() < 0.3)]
        out.append(",".join(row[k] for k in order))
    end = "\r\n" if seed is None else "\n"
    with open(path, "wb") as f:
        f.write((end.join(out) + end).encode("utf-8"))


INT_RE = re.compile(r"[+-]?[0-9]+\Z")
FLOAT_RE = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?\Z")
ISO_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2}):([0-9]{2})Z\Z")


class Bad(Exception):
    pass


def as_int(t):
    """A typed int field (rules/format_scan.c): "" and "-" are null."""
    if t in ("", "-"):
        return None
    if not INT_RE.match(t) or not -2**63 <= int(t) < 2**63:
        raise Bad()
    return int(t)


def as_number(t):
    """An untyped field read as a number."""
    if t in ("", "-"):
        return None
    if INT_RE.match(t) and -2**63 <= int(t) < 2**63:
        return int(t)
    if FLOAT_RE.match(t):
        return float(t)
    raise Bad()


def as_time(t):
    """A time field in the forms this data uses: ISO 8601 with Z, or epoch seconds."""
    if t in ("", "-"):
        return None
    m = ISO_RE.match(t)
    if m:
        y, mo, d, hh, mm, ss = (int(x) for x in m.groups())
        if not (1 <= mo <= 12 and 1 <= d <= calendar.monthrange(y, mo)[1] and hh < 24 and
                mm < 60 and ss < 60):
            raise Bad()
        return calendar.timegm((y, mo, d, hh, mm, ss))
    if INT_RE.match(t):
        return int(t)
    raise Bad()


def hour(t):
    return "" if t is None else time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime(t - t % 3600))


def shown(v):
    if v is None:
        return ""
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)


class Tally:
    def __init__(self, entries):
        self.lines = self.bad = 0
        self.rows = {e: {} for e in entries}

    def add(self, entry, key, values):
        """values: a tuple of (kind, x): ("count", None), ("sum", number or None)."""
        row = self.rows[entry].setdefault(tuple(shown(k) for k in key), [0] * len(values))
        for i, (kind, x) in enumerate(values):
            if kind == "count":
                row[i] += 1
            elif kind == "sum" and x is not None:
                row[i] += x
            elif kind == "distinct":
                if row[i] == 0:
                    row[i] = set()
                if x is not None:
                    row[i].add(x)

    def dump(self, nkeys):
        out = {"lines": self.lines, "bad": self.bad, "entries": {}}
        for e, rows in self.rows.items():
            out["entries"][e] = {
                "nkeys": nkeys[e],
                "rows": [list(k) + [len(v) if isinstance(v, set) else v for v in vals]
                         for k, vals in rows.items()]}
        return out


def lines_of(path):
    """The lines of a file as the engine cuts them (at '\\n'; a last unended line counts)."""
    data = open(path, "rb").read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def oracle_csv(paths):
    t = Tally(CSV_ENTRIES)
    for path in paths:
        lines = lines_of(path)
        header = next(csv.reader([lines[0].decode("utf-8-sig").rstrip("\r")], strict=True))
        col = {}
        for i, name in enumerate(header):
            col.setdefault(name, i)
        for raw in lines[1:]:
            t.lines += 1
            text = raw.decode("utf-8")
            if text.endswith("\r"):
                text = text[:-1]
            try:
                rows = list(csv.reader([text], strict=True))
                if len(rows) != 1 or len(rows[0]) != len(header):
                    raise Bad()
                row = rows[0]
                get = lambda name: row[col[name]] if name in col else None
                ts = as_time(get("ts"))
                status = as_int(get("status"))
                nbytes = as_number(get("bytes"))
            except (Bad, csv.Error):
                t.bad += 1
                continue
            t.add("by_status", [status], [("count", None), ("sum", nbytes)])
            t.add("pages", [get("method"), get("path")], [("count", None)])
            t.add("per_hour", [hour(ts)], [("count", None)])
            t.add("regions", [get("region")], [("count", None)])
    return t.dump(CSV_ENTRIES)


# ---- the regex job ---------------------------------------------------------------------

APP_RE = (r"^(?<ts>\S+) (?<host>[\w-]+) (?<app>\w+)\[(?<pid>\d+)\]: (?<method>[A-Z]+) "
          r"(?<path>\S+) (?<status>\d{3}) (?<ms>\d+(?:\.\d+)?)ms(?: user=(?<user>\w+))?$")
REGEX_RULES = """\
  - name: app
    sources: [@SOURCES@]
    format:
      regex: '%s'
      fields: [ts:time, pid:int, status:int, ms:float]
    groups:
      - name: g
        entries:
          - {name: by_status, key: [status], values: {hits: count, ms: sum(ms)}}
          - {name: by_app, key: [app, host], values: {hits: count, pids: distinct_exact(pid)}}
          - {name: users, key: [user], values: {hits: count}}
          - {name: per_hour, key: [time_bucket(ts, 1h)], values: {hits: count}}
          - {name: paths, key: [method, path], values: {hits: count}}
""" % APP_RE
REGEX_ENTRIES = {"by_status": 1, "by_app": 2, "users": 1, "per_hour": 1, "paths": 2}


def gen_regex(path, n, seed=20240608):
    rng = random.Random(seed)
    t0 = calendar.timegm((2024, 6, 7, 0, 0, 0))
    out = []
    for i in range(n):
        r = rng.random()
        if r < 0.003:
            out.append(b"-- MARK --")
            continue
        if r < 0.005:
            out.append(b"2024-06-07T10:05:03Z web-1 ap\0i[12]: GET /a 200 1ms")  # NUL: no match
            continue
        if r < 0.007:
            out.append(b"2024-06-07T10:05:03Z web-1 api[12]: GET /a 2000 1ms")
            continue
        if r < 0.008:
            out.append(b"2024-06-07T10:05:03Z web-1 api[12]: GET /a 200 1ms user=")
            continue
        t = t0 + rng.randrange(0, 2 * 86400)
        ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
        x = rng.random()
        if x < 0.005:
            ts = "2024-06-07T25:05:03Z"  # matches \S+, not a time: bad
        elif x < 0.05:
            ts = str(t)  # epoch seconds
        p = rng.choice([b"/", b"/v1/users/%d" % rng.randrange(50), b"/v1/items?id=%d" % rng.randrange(9),
                        b"/caf\xc3\xa9", b"/bad\xff", b"/a\"b"])
        line = b"%s web-%d %s[%d]: %s %s %s %s.%dms" % (
            ts.encode(), rng.randrange(3), rng.choice([b"api", b"auth", b"cron"]),
            rng.randrange(100, 120), rng.choice([b"GET", b"POST"]), p,
            rng.choice([b"200", b"200", b"404", b"500"]), str(rng.randrange(0, 900)).encode(),
            rng.randrange(10))
        if rng.random() < 0.6:
            line += b" user=" + rng.choice([b"alice", b"bob", b"carol_2"])
        if rng.random() < 0.02:
            line += b"\r"  # CRLF: the '\r' is not part of the line
        out.append(line)
    with open(path, "wb") as f:
        f.write(b"\n".join(out) + b"\n")


def py_re(pattern):
    """A PCRE2 pattern with (?<name>...) groups in python's spelling, as bytes."""
    return re.compile(re.sub(r"\(\?<(?=[A-Za-z_])", "(?P<", pattern).encode())


def oracle_regex(paths):
    t = Tally(REGEX_ENTRIES)
    rx = py_re(APP_RE)
    for path in paths:
        for raw in lines_of(path):
            t.lines += 1
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            m = rx.match(raw)
            try:
                if not m:
                    raise Bad()
                g = m.groupdict()
                ts = as_time(g["ts"].decode("latin-1"))
                pid = as_int(g["pid"].decode())
                status = as_int(g["status"].decode())
                ms = as_number(g["ms"].decode())
            except Bad:
                t.bad += 1
                continue
            t.add("by_status", [status], [("count", None), ("sum", ms)])
            t.add("by_app", [g["app"], g["host"]], [("count", None), ("distinct", pid)])
            t.add("users", [g["user"]], [("count", None)])
            t.add("per_hour", [hour(ts)], [("count", None)])
            t.add("paths", [g["method"], g["path"]], [("count", None)])
    return t.dump(REGEX_ENTRIES)


# ---- a pattern that gives up -----------------------------------------------------------

LIMIT_RE = r"^(?<run>(a|aa)+)$"  # the same lines as a+, after exponential backtracking
LIMIT_RULES = """\
  - name: limit
    sources: [@SOURCES@]
    format: {regex: '%s'}
    groups:
      - name: g
        entries:
          - {name: by_len, key: [len(run)], values: {hits: count}}
""" % LIMIT_RE
LIMIT_ENTRIES = {"by_len": 1}


def gen_limit(path, n, seed=20240609):
    """Short runs of a (they match), and long ones ended by 'b' (the match gives up): the
    first line is one of those, so the first bad-line sample is a match limit."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if i == 0 or rng.random() < 0.1:
            out.append("a" * rng.randrange(3000, 5000) + "b")
        else:
            out.append("a" * rng.randrange(1, 12))
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def oracle_limit(paths):
    t = Tally(LIMIT_ENTRIES)
    for path in paths:
        for raw in lines_of(path):
            t.lines += 1
            if re.fullmatch(rb"a+", raw):  # (a|aa)+ matches exactly the runs of a
                t.add("by_len", [len(raw)], [("count", None)])
            else:
                t.bad += 1
    return t.dump(LIMIT_ENTRIES)


# ---- comparing a report ----------------------------------------------------------------

def same_number(a, b):
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)


def compare(want_path, entry, report):
    want = json.load(open(want_path))["entries"][entry]
    nkeys = want["nkeys"]
    with open(report, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f, strict=True))
    got = {}
    for r in rows[1:]:
        vals = [int(v) if INT_RE.match(v) else float(v) for v in r[nkeys:]]
        got.setdefault(tuple(r[:nkeys]), []).append(vals)
    problems = []
    if sum(len(v) for v in got.values()) != len(got):
        problems.append("a key shown twice")
    for r in want["rows"]:
        key = tuple(r[:nkeys])
        g = got.pop(key, None)
        if g is None:
            problems.append("missing row %r" % (r,))
        elif len(g[0]) != len(r) - nkeys or not all(map(same_number, g[0], r[nkeys:])):
            problems.append("row %r: got %r" % (r, list(key) + g[0]))
    for key, g in got.items():
        problems.append("unexpected row %r" % (list(key) + g[0],))
    if problems:
        print("%s: %d problems, e.g. %s" % (report, len(problems), "; ".join(problems[:4])))
        return 1
    if len(want["rows"]) < 1:
        print("%s: the recount has no row" % report)
        return 1
    return 0


def reports(want_path, d):
    ok = bad = 0
    for entry in json.load(open(want_path))["entries"]:
        try:
            rc = compare(want_path, entry, "%s/%s.csv" % (d, entry))
        except (OSError, ValueError, csv.Error) as e:
            print("%s/%s.csv: %s" % (d, entry, e))
            rc = 1
        ok, bad = (ok + 1, bad) if rc == 0 else (ok, bad + 1)
    print("TALLY %d %d" % (ok, bad))
    return 0


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    gens = {"gen-csv": gen_csv, "gen-regex": gen_regex, "gen-limit": gen_limit}
    oracles = {"oracle-csv": oracle_csv, "oracle-regex": oracle_regex,
               "oracle-limit": oracle_limit}
    rules = {"rules-csv": CSV_RULES, "rules-regex": REGEX_RULES, "rules-limit": LIMIT_RULES}
    if cmd in gens and len(argv) in (4, 5):
        gens[cmd](argv[2], int(argv[3]), *(int(x) for x in argv[4:]))
    elif cmd in oracles and len(argv) >= 3:
        json.dump(oracles[cmd](argv[2:]), sys.stdout)
    elif cmd in rules:
        sys.stdout.write(rules[cmd])
    elif cmd == "compare" and len(argv) == 5:
        return compare(argv[2], argv[3], argv[4])
    elif cmd == "reports" and len(argv) == 4:
        return reports(argv[2], argv[3])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
