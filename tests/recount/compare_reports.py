#!/usr/bin/env python3
"""tests/recount/compare_reports.py - a job's CSV reports against a recount.

  compare_reports.py RECOUNT DIR RUN

RECOUNT is a recount file (tests/recount/logfmt.py, syslog.py): a first line "lines N bad
B", then one line per report: its name and its rows as JSON. Each report DIR/NAME.csv
(RFC 4180, read by python3's csv module, header skipped) must hold exactly those rows, in
any order; cells are equal as text, or as numbers to 1e-9 relative (sums of floats). Prints
"FAIL ..." with the first differing row for each report that differs, then "TALLY PASSED
FAILED" (one check per report)."""
import csv
import json
import sys


def same(a, b):
    if a == b:
        return True
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    return abs(x - y) <= 1e-9 * max(1.0, abs(x), abs(y))


def main(recount, outdir, run):
    passed = failed = 0
    for line in open(recount, encoding='utf-8').readlines()[1:]:
        name, rows = line.split(' ', 1)
        want = sorted(json.loads(rows))
        try:
            with open('%s/%s.csv' % (outdir, name), encoding='utf-8', newline='') as f:
                got = sorted(list(csv.reader(f))[1:])
        except OSError as e:
            got = [['(%s)' % e]]
        if len(got) == len(want) and all(
                len(g) == len(w) and all(map(same, g, w)) for g, w in zip(got, want)):
            passed += 1
            continue
        failed += 1
        print('FAIL %s (%s): %d rows, expected %d' % (name, run, len(got), len(want)))
        for g, w in zip(got, want):
            if g != w:
                print('  got %r, expected %r' % (g, w))
                break
    print('TALLY %d %d' % (passed, failed))


if __name__ == '__main__':
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
