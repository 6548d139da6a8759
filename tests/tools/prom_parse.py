#!/usr/bin/env python3
"""prom_parse.py - read a Prometheus text page (format 0.0.4) strictly, for the cluster tests.

    prom_parse.py PAGE PREFIX   print, as JSON, the samples whose metric name starts with
                                PREFIX: [[name, {label: value}, value text, type], ...]

Independent of abbey: label values are unescaped by the format's rules (only \\\\, \\" and
\\n are escapes; anything else after a backslash is an error), every name must match the
format's grammar, each family must have one HELP and one TYPE line before its samples, and
a series (name and label set) may appear once. Any violation exits 1 naming the line.
"""
import json
import re
import sys

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def die(lineno, why):
    print(f"line {lineno}: {why}", file=sys.stderr)
    sys.exit(1)


def labels(text, at, lineno):
    """Parse {a="x",...} from text[at] == '{'; return (dict, index after '}')."""
    out = {}
    i = at + 1
    while True:
        if text[i] == "}":
            return out, i + 1
        m = LABEL.match(text, i)
        if not m:
            die(lineno, "bad label name")
        name = m.group(0)
        i = m.end()
        if text[i : i + 2] != '="':
            die(lineno, f"label {name}: no =\"")
        i += 2
        val = []
        while True:
            if i >= len(text):
                die(lineno, f"label {name}: unterminated value")
            ch = text[i]
            if ch == "\\":
                nxt = text[i + 1 : i + 2]
                if nxt not in ("\\", '"', "n"):
                    die(lineno, f"label {name}: bad escape \\{nxt}")
                val.append("\n" if nxt == "n" else nxt)
                i += 2
            elif ch == '"':
                i += 1
                break
            elif ch == "\n":
                die(lineno, f"label {name}: raw newline")
            else:
                val.append(ch)
                i += 1
        if name in out:
            die(lineno, f"label {name} twice")
        out[name] = "".join(val)
        if text[i] == ",":
            i += 1


def main():
    page, prefix = sys.argv[1], sys.argv[2]
    with open(page, "rb") as f:
        data = f.read().decode("utf-8")  # a page that is not UTF-8 fails here
    helps, types, seen, samples = {}, {}, set(), []
    for lineno, line in enumerate(data.split("\n"), 1):
        if not line:
            continue
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            kind, rest = line[2:6], line[7:]
            name = rest.split(" ", 1)[0]
            if not NAME.fullmatch(name):
                die(lineno, f"bad metric name {name!r}")
            table = helps if kind == "HELP" else types
            if name in table:
                die(lineno, f"second {kind} for {name}")
            table[name] = rest[len(name) + 1 :]
            continue
        if line.startswith("#"):
            continue
        m = NAME.match(line)
        if not m:
            die(lineno, "no metric name")
        name, i = m.group(0), m.end()
        lab = {}
        if line[i : i + 1] == "{":
            lab, i = labels(line, i, lineno)
        if line[i : i + 1] != " ":
            die(lineno, "no space before the value")
        value = line[i + 1 :]
        float(value)  # +Inf, -Inf, NaN and decimals all parse
        family = name
        if family not in types:
            die(lineno, f"{name}: no TYPE line before it")
        if family not in helps:
            die(lineno, f"{name}: no HELP line")
        key = (name, tuple(sorted(lab.items())))
        if key in seen:
            die(lineno, f"series {name}{lab} twice")
        seen.add(key)
        if name.startswith(prefix):
            samples.append([name, lab, value, types[family]])
    json.dump(samples, sys.stdout)


main()
