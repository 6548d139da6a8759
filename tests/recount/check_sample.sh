#!/bin/sh
# tests/recount/check_sample.sh - `abbey-master --check --sample`: what it shows of each line.
#
# A sample of good lines of the bundled log with bad lines between them (a status "2x0", an
# unterminated quote, plain text with a NUL, bytes that are not UTF-8 and an escape
# sequence) goes through --check --sample under a combined job that counts by status and
# bytes. The oracle is python3's re and datetime modules parsing the same bytes from the
# Apache format string: for every good line, each field's value as the table must show it
# (ip, the time in ISO 8601, method, path, status, bytes, referer and agent; "-" as null);
# for every bad line its reason and the field named. The output must hold no control byte;
# * must mark exactly status and bytes. Then: --lines cuts the sample; a file of bad lines
# only exits 1; an unknown --job exits 2; a split job shows a typed field the rules never
# read "not a number" and keeps the line good.
set -u

. "$(dirname "$0")/lib.sh"
setup check-sample python3
need "$log"

cat >"$tmp/rules.yaml" <<YAML
jobs:
  - name: web
    sources: [/dev/null]
    format: combined
    groups:
      - name: g
        entries:
          - {name: by_status, key: [status], values: {hits: count, bytes: sum(bytes)}}
YAML
s=$tmp/sample.log
{
    sed -n '1,3p' "$log"
    sed -n '4p' "$log" | sed 's/" 200 /" 2x0 /'
    printf '10.0.0.1 - - [18/May/2015:02:05:46 +0000] "GET /cut HTTP/1.1\n'
    printf 'plain text, a NUL \000, \377\376 and \033[31m\n'
    sed -n '5,8p' "$log"
} >"$s"

"$master" --check --config "$tmp/rules.yaml" --sample "$s" --lines 20 >"$tmp/out" 2>"$tmp/err"
check "exit status with good lines" 0 $?

python3 - "$s" "$tmp/out" >"$tmp/verdict" <<'PY'
import datetime, re, sys

sample = open(sys.argv[1], "rb").read()
out = open(sys.argv[2], "rb").read()
problems = []
if re.search(rb"[\x00-\x09\x0b-\x1f\x7f]", out):
    problems.append("a control byte reaches the output")
text = out.decode("utf-8")
combined = re.compile(rb'^(\S+) (\S+) (\S+) \[(\d\d)/(\w\w\w)/(\d{4}):(\d\d):(\d\d):(\d\d) ([+-]\d{4})\] '
                      rb'"([^"]*)" (\d{1,4}) (\d+|-) "([^"]*)" "([^"]*)"$')
months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()

def shown(b):  # the documented escaping: printable UTF-8 as is, \\, \xNN for the rest
    o = ""
    for ch in b.decode("utf-8", "surrogateescape"):
        c = ord(ch)
        if 0xDC80 <= c <= 0xDCFF:
            o += "\\x%02x" % (c - 0xDC00)
        elif ch == "\\":
            o += "\\\\"
        elif c < 0x20 or c == 0x7F or 0x80 <= c < 0xA0:
            o += "".join("\\x%02x" % x for x in ch.encode())
        else:
            o += ch
    return o

def text_or_null(b):
    return "null" if b == b"-" else '"%s"' % shown(b)

blocks = re.split(r"\n(?=line \d+ )", text.split("\n", 1)[1])
off = 0
n = 0
for raw in sample.split(b"\n")[:-1]:
    n += 1
    block = blocks[n - 1] if n <= len(blocks) else ""
    m = combined.match(raw)
    head = "line %d (byte %d): " % (n, off)
    if m:
        ip, ident, user, d, mon, y, hh, mm, ss, tz, req, status, nbytes, ref, agent = m.groups()
        t = datetime.datetime(int(y), months.index(mon.decode()) + 1, int(d), int(hh), int(mm), int(ss))
        sign = 1 if tz[:1] == b"+" else -1
        t -= sign * datetime.timedelta(hours=int(tz[1:3]), minutes=int(tz[3:5]))
        parts = req.split(b" ")
        want = {"ip": text_or_null(ip), "ident": text_or_null(ident), "user": text_or_null(user),
                "time": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "request": text_or_null(req),
                "method": text_or_null(parts[0]), "path": text_or_null(b" ".join(parts[1:-1])),
                "protocol": text_or_null(parts[-1]), "status": str(int(status)),
                "bytes": "null" if nbytes == b"-" else str(int(nbytes)),
                "referer": text_or_null(ref), "agent": text_or_null(agent)}
        if not block.startswith(head + "ok"):
            problems.append("%s: no '%sok'" % (n, head))
        rows = {}
        for row in block.split("\n")[1:]:
            r = re.match(r"^  ([* ]) (\w+) +(\w+) +(.*)$", row)
            if r:
                rows[r.group(2)] = (r.group(1), r.group(4))
        for k, v in want.items():
            if rows.get(k, ("", None))[1] != v:
                problems.append("line %d: %s shown %r, want %r" % (n, k, rows.get(k), v))
        marked = sorted(k for k, (star, _) in rows.items() if star == "*")
        if marked != ["bytes", "status"]:
            problems.append("line %d: * marks %s" % (n, marked))
    else:
        if b"2x0" in raw:
            why = "bad, number: status is not a number"
        elif b'"GET /cut' in raw:
            why = "bad, quote: unterminated quote"
        else:
            why = "bad, fields: wrong number of fields or unrecognised structure"
        cut = shown(raw[:200]) + ("..." if len(raw) > 200 else "")  # the first 200 bytes
        if b"2x0" in raw:  # the structure holds: the fields follow, status shown as refused
            if not block.startswith(head + why + "\n  text: " + cut + "\n") or \
                    '* status   int   not a number: "2x0"' not in block:
                problems.append("line %d: want %r and its fields, got %r" % (n, head + why, block[:400]))
        elif block != head + why + "\n  text: " + cut:
            problems.append("line %d: want %r, got %r" % (n, head + why, block[:200]))
    off += len(raw) + 1
if len(blocks) != n or not blocks[-1].endswith("%d of %d lines parse\n" % (n - 3, n)):
    problems.append("%d blocks for %d lines, or no total: %r" % (len(blocks), n, blocks[-1][-80:]))
print("\n".join(problems) if problems else "ok")
PY
check "every line as the oracle reads it" ok "$(cat "$tmp/verdict")"

"$master" --check --config "$tmp/rules.yaml" --sample "$s" --lines 2 >"$tmp/two"
check "--lines 2 shows two lines" 2 "$(grep -c '^line ' "$tmp/two")"
check "--lines 2: the total" "2 of 2 lines parse" "$(tail -n 1 "$tmp/two")"

sed -n '4,6p' "$s" >"$tmp/bad.log"
"$master" --check --config "$tmp/rules.yaml" --sample "$tmp/bad.log" >"$tmp/bad.out" 2>&1
check "a sample of bad lines only exits 1" 1 $?
"$master" --check --config "$tmp/rules.yaml" --sample "$s" --job nope >"$tmp/nojob" 2>&1
check "an unknown job exits 2" 2 $?
check "an unknown job is named with the jobs there are" 1 \
    "$(grep -c 'no such job; the jobs are: web' "$tmp/nojob")"

cat >"$tmp/split.yaml" <<YAML
jobs:
  - {name: other, sources: [/dev/null], format: combined, groups: [{name: g, entries: [{name: e, values: {n: count}}]}]}
  - name: app
    sources: [/dev/null]
    format: {split: " ", fields: [user, ms:float, code:int]}
    groups:
      - name: g
        entries:
          - {name: slow, key: [user], values: {ms: sum(ms)}}
YAML
printf 'ann 1.5 x20\nbob fast 200\n' >"$tmp/split.log"
"$master" --check --config "$tmp/split.yaml" --sample "$tmp/split.log" --job app >"$tmp/split.out"
check "split: exit 0" 0 $?
check "split: a field the rules never read, not of its type, keeps the line good" \
    "line 1 (byte 0): ok|  * ms    float 1.5|    code  int   not a number: \"x20\"" \
    "$(sed -n '2p;4p;5p' "$tmp/split.out" | tr '\n' '|' | sed 's/|$//')"
check "split: a field the rules read, not of its type, is the reason" \
    "line 2 (byte 12): bad, number: ms is not a number" "$(sed -n '6p' "$tmp/split.out")"
"$master" --check --config "$tmp/split.yaml" --sample "$tmp/split.log" >/dev/null 2>"$tmp/nojob"
check "two jobs and no --job: exit 2" 2 $?
finish
