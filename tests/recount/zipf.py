#!/usr/bin/env python3
"""zipf.py - Zipf-distributed log lines for the top-K tests, and their oracle.

  zipf.py gen FILE SEED LINES KEYS S [PERM_SEED]
      LINES lines "PATH BYTES\\n": PATH is /k/<id> for a key drawn with
      probability proportional to 1 / rank^S among KEYS ranks (rank r has the
      id perm[r], a permutation of 0..KEYS-1 seeded by PERM_SEED, default 7,
      so that ids do not sort by rank), BYTES an integer 0..9999 (one line in
      ten 0) drawn from SEED as well. Files made with the same PERM_SEED share
      their heavy keys.

  zipf.py rules SOURCES [PORT]
      The rules the top-K tests run: one job z over SOURCES (the items of a YAML
      flow sequence), format {split: " ", fields: [path, bytes:int]}, with the
      entries by_hits (top 100 paths by hits) and by_bytes (top 50 by bytes),
      both {hits: count, bytes: sum(bytes)}, each reported as CSV (by_hits,
      by_bytes) and JSON (by_hits_json, by_bytes_json); for one master m1 on
      127.0.0.1:PORT when PORT is given.

  zipf.py check REPORT.csv REPORT.json K BY COUNTS...
      COUNTS: files of "PATH<TAB>HITS<TAB>BYTES" lines, an exact recount of the
      raw log (mawk, tests/recount/top.sh), added up. Checks the reports of a
      top entry ranked by BY (hits or bytes) with columns path, hits, bytes,
      BY_error: at most K rows, ordered by BY descending; every key of the true
      top K (by the recount; keys tied with the K-th all count as top K) is
      there; every row's BY is within its bound (true <= shown, shown - error
      <= true, error >= 0); the other figure is a lower bound (at most the
      true one); the JSON report has the same rows. Prints "FAIL ..." lines,
      then "checked N figures, F failed" and, per run, the largest error and
      the K-th true figure.
"""
import csv
import json
import random
import sys
from itertools import accumulate


def gen(path, seed, lines, keys, s, perm_seed=7):
    ids = list(range(keys))
    random.Random(perm_seed).shuffle(ids)
    cum = list(accumulate(1.0 / (r ** s) for r in range(1, keys + 1)))
    rnd = random.Random(seed)
    ranks = rnd.choices(range(keys), cum_weights=cum, k=lines)
    with open(path, "w") as f:
        for r in ranks:
            b = 0 if rnd.random() < 0.1 else rnd.randrange(1, 10000)
            f.write("/k/%d %d\n" % (ids[r], b))


RULES = """jobs:
  - name: z
    round: 1s
    sources: [%s]
    format: {split: " ", fields: [path, bytes:int]}
    groups:
      - name: g
        entries:
          - name: by_hits
            key: [path]
            values: {hits: count, bytes: sum(bytes)}
            top: {k: 100, by: hits}
          - name: by_bytes
            key: [path]
            values: {hits: count, bytes: sum(bytes)}
            top: {k: 50, by: bytes}
    reports:
      - {name: by_hits, entry: by_hits}
      - {name: by_hits_json, entry: by_hits, format: json}
      - {name: by_bytes, entry: by_bytes}
      - {name: by_bytes_json, entry: by_bytes, format: json}
"""


def rules(sources, port=None):
    if port:
        sys.stdout.write('masters:\n  - {name: m1, url: "http://127.0.0.1:%s"}\n' % port)
    sys.stdout.write(RULES % sources)


def load_counts(files):
    true = {}
    for name in files:
        with open(name) as f:
            for line in f:
                path, hits, nbytes = line.rstrip("\n").split("\t")
                h, b = true.get(path, (0, 0))
                true[path] = (h + int(hits), b + int(nbytes))
    return true


def check(csv_path, json_path, k, by, count_files):
    true = load_counts(count_files)
    col = {"hits": 0, "bytes": 1}[by]
    other = 1 - col
    names = ("hits", "bytes")
    failed = 0
    checked = 0

    def fail(msg):
        nonlocal failed
        failed += 1
        print("FAIL " + msg)

    with open(csv_path, newline="") as f:
        rows = list(csv.reader(f))
    header, rows = rows[0], rows[1:]
    want = ["path", "hits", "bytes", by + "_error"]
    checked += 1
    if header != want:
        fail("%s: columns %s, expected %s" % (csv_path, header, want))
        return report(checked, failed)
    checked += 1
    if len(rows) > k:
        fail("%s: %d rows, more than k = %d" % (csv_path, len(rows), k))
    shown = {}
    last = None
    max_err = 0
    for r in rows:
        path, fig = r[0], (int(r[1]), int(r[2]))
        err = int(r[3])
        t = true.get(path, (0, 0))
        shown[path] = (fig, err)
        max_err = max(max_err, err)
        checked += 3
        if not (err >= 0 and t[col] <= fig[col] and fig[col] - err <= t[col]):
            fail("%s: %s %s %d, error %d, true %d: not within the bound"
                 % (csv_path, path, by, fig[col], err, t[col]))
        if fig[other] > t[other]:
            fail("%s: %s %s %d is above the true %d (must be a lower bound)"
                 % (csv_path, path, names[other], fig[other], t[other]))
        if last is not None and fig[col] > last:
            fail("%s: rows not ordered by %s descending at %s" % (csv_path, by, path))
        last = fig[col]
    ranked = sorted(true.values(), key=lambda v: -v[col])
    kth = ranked[k - 1][col] if len(ranked) >= k else 0
    top = [p for p, v in true.items() if v[col] > kth]
    tied = [p for p, v in true.items() if v[col] == kth]
    for p in top:
        checked += 1
        if p not in shown:
            fail("%s: %s (true %s %d) is in the true top %d but not in the report"
                 % (csv_path, p, by, true[p][col], k))
    # the K-th place may be shared: the report holds k - len(top) of the tied keys
    checked += 1
    if len(ranked) >= k and sum(1 for p in tied if p in shown) < min(len(tied), k - len(top)):
        fail("%s: fewer of the keys tied at the K-th place (%s %d) than there is room for"
             % (csv_path, by, kth))
    with open(json_path) as f:
        j = json.load(f)
    checked += 1
    got = [(x["path"], x["hits"], x["bytes"], x[by + "_error"]) for x in j["rows"]]
    exp = [(r[0], int(r[1]), int(r[2]), int(r[3])) for r in rows]
    if got != exp or j["columns"] != want:
        fail("%s: JSON rows or columns differ from the CSV report" % json_path)
    print("%s: %d rows, K-th true %s %d, largest error %d"
          % (csv_path, len(rows), by, kth, max_err))
    return report(checked, failed)


def report(checked, failed):
    print("checked %d figures, %d failed" % (checked, failed))
    return 1 if failed else 0


def main(argv):
    if len(argv) >= 7 and argv[1] == "gen":
        gen(argv[2], int(argv[3]), int(argv[4]), int(argv[5]), float(argv[6]),
            int(argv[7]) if len(argv) > 7 else 7)
        return 0
    if len(argv) in (3, 4) and argv[1] == "rules":
        rules(argv[2], argv[3] if len(argv) == 4 else None)
        return 0
    if len(argv) >= 7 and argv[1] == "check":
        return check(argv[2], argv[3], int(argv[4]), argv[5], argv[6:])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
