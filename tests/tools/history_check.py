#!/usr/bin/env python3
"""history_check.py - the history database against the exported report files, for the tests.

    history_check.py files DB DIR JOB REPORT...
        Every round export of each report in DB (read with the sqlite3 command-line tool,
        never abbey) equals the CSV file DIR/JOB/history/<stamp>/REPORT.csv of its round,
        and every such file has its rows in DB (table "JOB/REPORT", the exports table).
    history_check.py standalone DB DIR JOB REPORT...
        Each report's newest export in DB equals DIR/JOB/REPORT.csv.
    history_check.py endpoint ANSWER DIR JOB REPORT N
        ANSWER (the body of GET /v1/history/JOB/REPORT?last=N) has the documented shape
        {"job","report","columns","rounds":[{"start","end","incomplete","rows"}]}, at most
        N rounds, oldest first, each one that has its files equal to them.
Prints what differs; exit status 1 when anything does.
"""
import csv
import json
import os
import re
import subprocess
import sys

bad = []


def sql(db, query):
    out = subprocess.run(["sqlite3", "-json", db, query], check=True, capture_output=True).stdout
    return json.loads(out) if out.strip() else []


def ident(name):
    return '"' + name.replace('"', '""') + '"'


def cell(text):
    """A CSV field as the database keeps it: empty is null, numbers are numbers."""
    if text == "":
        return None
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], [[cell(x) for x in r] for r in rows[1:]]


def iso(stamp):
    """20251121T104500Z or 20251121T104500.250Z -> 2025-11-21T10:45:00.000Z"""
    m = re.fullmatch(r"(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)(?:\.(\d{3}))?Z", stamp)
    y, mo, d, h, mi, s, ms = m.groups()
    return f"{y}-{mo}-{d}T{h}:{mi}:{s}.{ms or '000'}Z"


def db_rows(db, job, report, header, start):
    q = "SELECT %s FROM %s WHERE \"start\" = '%s' AND final = 0 ORDER BY rowid" % (
        ", ".join(ident(c) for c in header), ident(job + "/" + report), start)
    return [[r[c] for c in header] for r in sql(db, q)]


def same(a, b, what):
    if a != b:
        bad.append("%s: database %r, files %r" % (what, a[:3], b[:3]))


def files(db, top, job, reports):
    hist = os.path.join(top, job, "history")
    for report in reports:
        stamps = {iso(s): s for s in os.listdir(hist)
                  if os.path.exists(os.path.join(hist, s, report + ".csv"))}
        listed = {r["start"] for r in sql(db, "SELECT \"start\" FROM exports WHERE job = '%s' AND "
                                              "report = '%s' AND final = 0" % (job, report))}
        same(sorted(listed), sorted(stamps), "%s/%s: the rounds" % (job, report))
        for start, stamp in sorted(stamps.items()):
            header, rows = read_csv(os.path.join(hist, stamp, report + ".csv"))
            same(db_rows(db, job, report, header, start), rows, "%s/%s %s" % (job, report, stamp))
        print("%s/%s: %d rounds compared" % (job, report, len(stamps)))


def standalone(db, top, job, reports):
    for report in reports:
        header, rows = read_csv(os.path.join(top, job, report + ".csv"))
        start = sql(db, "SELECT max(\"start\") AS s FROM exports WHERE job = '%s' AND report = '%s'"
                    % (job, report))[0]["s"]
        same(db_rows(db, job, report, header, start), rows, "%s/%s" % (job, report))


def endpoint(answer, top, job, report, n):
    with open(answer, encoding="utf-8") as f:
        a = json.load(f)
    if sorted(a) != ["columns", "job", "report", "rounds"] or a["job"] != job or \
            a["report"] != report:
        bad.append("keys %r" % sorted(a))
        return
    starts = [r["start"] for r in a["rounds"]]
    if starts != sorted(starts) or len(starts) > int(n) or not starts:
        bad.append("rounds not oldest first, or not 1 to %s: %r" % (n, starts))
    hist = os.path.join(top, job, "history")
    stamps = {iso(s): s for s in os.listdir(hist)}
    compared = 0
    for r in a["rounds"]:
        if sorted(r) != ["end", "incomplete", "rows", "start"] or \
                not isinstance(r["incomplete"], bool):
            bad.append("round keys %r" % sorted(r))
            continue
        path = os.path.join(hist, stamps.get(r["start"], "-"), report + ".csv")
        if not os.path.exists(path):
            bad.append("round %s has no files" % r["start"])
            continue
        header, rows = read_csv(path)
        same(a["columns"], header, "columns")
        same(r["rows"], rows, "round %s" % r["start"])
        compared += 1
    print("%d rounds compared" % compared)


cmd = sys.argv[1]
if cmd == "files":
    files(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
elif cmd == "standalone":
    standalone(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
else:
    endpoint(*sys.argv[2:7])
for b in bad[:10]:
    print("FAIL", b)
sys.exit(1 if bad else 0)
