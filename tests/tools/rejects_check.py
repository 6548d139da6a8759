#!/usr/bin/env python3
"""rejects_check.py - read a rejects file back, independently of abbey (tests/cluster/rejects.sh).

Usage: rejects_check.py REJECTS_FILE LOG

Every line of REJECTS_FILE must be one JSON object: a record
{"source", "offset", "reason", "why", "line"} (with "bytes" and "truncated" when the line
was cut) or a mark {"round", "not_kept", "max_per_round"}. A record's source must be LOG,
and its line, unescaped by the documented rule (a backslash pair is a backslash, \\xNN the
byte NN), must be LOG's bytes at its offset up to the '\\n' (their start, when truncated).
Prints one line per record, "<tag> <reason>" (the tag BAD<n>-<word> the line carries), and
one per mark, "MARK not_kept=<n> max=<m>". Exits 1 with the reason on the first problem.
"""
import json
import re
import sys


def unescape(text):
    out = bytearray()
    i = 0
    while i < len(text):
        if text[i] == "\\" and text[i + 1 : i + 2] == "\\":
            out += b"\\"
            i += 2
        elif text[i] == "\\" and text[i + 1 : i + 2] == "x":
            out.append(int(text[i + 2 : i + 4], 16))
            i += 4
        else:
            out += text[i].encode("utf-8")
            i += 1
    return bytes(out)


def main():
    path, log_path = sys.argv[1], sys.argv[2]
    with open(log_path, "rb") as f:
        log = f.read()
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    if lines[-1] != b"":
        sys.exit("%s: the last record is not ended by a newline" % path)
    for n, raw in enumerate(lines[:-1], 1):
        try:
            rec = json.loads(raw.decode("utf-8"))
        except ValueError as e:
            sys.exit("%s:%d: not JSON (%s): %r" % (path, n, e, raw[:100]))
        if "not_kept" in rec:
            print("MARK not_kept=%d max=%d" % (rec["not_kept"], rec["max_per_round"]))
            continue
        if rec["source"] != log_path:
            sys.exit("%s:%d: source %r is not %r" % (path, n, rec["source"], log_path))
        off = rec["offset"]
        end = log.find(b"\n", off)
        real = log[off : end if end >= 0 else len(log)]
        got = unescape(rec["line"])
        if rec.get("truncated"):
            ok = real.startswith(got) and rec["bytes"] >= len(real) > len(got)
        else:
            ok = got == real
        if not ok or (off > 0 and log[off - 1 : off] != b"\n"):
            sys.exit("%s:%d: the line at offset %d is not the log's: %r" % (path, n, off, got[:80]))
        tag = re.search(rb"BAD[0-9]+-[a-z_]+", real)
        if not tag:
            sys.exit("%s:%d: a good line was kept: %r" % (path, n, real[:80]))
        if not rec["why"]:
            sys.exit("%s:%d: no why" % (path, n))
        print("%s %s" % (tag.group(0).decode(), rec["reason"]))


main()
