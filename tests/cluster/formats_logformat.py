#!/usr/bin/env python3
"""formats_logformat.py - logs, rules and an independent recount for formats_logformat.sh.

It never runs abbey: it writes an nginx log and an Apache log (fixed seeds: the same bytes
every time, bad lines of every kind mixed in), the rules of one job per log, and computes
from the raw bytes, with python3's re, datetime and zoneinfo, what abbey must report: lines,
bad lines, bad lines by reason, and every row of every entry (as tests/recount/formats.py's
`reports` compares them).

usage:
  formats_logformat.py gen-nginx FILE LINES SEED   an nginx log in NGINX_FORMAT
  formats_logformat.py gen-apache FILE LINES SEED  an Apache log in APACHE_FORMAT (times on
                                                   Europe/Berlin's clock over the night the
                                                   clocks go back)
  formats_logformat.py rules PORT NGX_SOURCES APA_SOURCES   the rules (sources: YAML items)
  formats_logformat.py oracle-nginx|oracle-apache FILE...   the recount, as JSON, on stdout

How the recount reads a line (docs/RULES.md, "nginx and Apache format strings"): one
regular expression of the whole format, each unquoted field up to the first place its
terminator appears, each quoted field up to the first '"' not escaped by a backslash. A line
it does not match is bad: `time` when Apache's strftime time is not exactly a real time as
strftime writes it, `quote` when a quoted field opens and never closes, else `fields`. A
line it matches is bad when a field the rules read does not hold its type, the first one in
the line naming the reason (`time`, `number`).
"""
import calendar
import datetime
import json
import os
import random
import re
import sys
import zoneinfo

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "recount"))
from formats import FLOAT_RE, Tally, hour  # noqa: E402  (the shared recount helpers)

NGINX_FORMAT = """\
log_format timed '$remote_addr - $remote_user [$time_iso8601] "$request" '
                 '$status $body_bytes_sent rt=$request_time urt=$upstream_response_time '
                 '"$http_user_agent" $host';"""
APACHE_FORMAT = ('LogFormat "%h %l %u %{%d/%b/%Y:%H:%M:%S}t.%{msec_frac}t \\"%r\\" %>s %b %D '
                 '\\"%{Referer}i\\" \\"%{User-Agent}i\\"" timed')
ZONE = "Europe/Berlin"

RULES = """\
masters:
  - {name: m1, url: "http://127.0.0.1:@PORT@"}
jobs:
  - name: ngx
    round: 1s
    sources: [@NGX@]
    format:
      nginx: |
%s
    groups:
      - name: g
        entries:
          - name: by_host_status
            key: [host, status]
            values: {hits: count, bytes: sum(body_bytes_sent), rt: sum(request_time)}
          - name: slow_upstream
            key: [method]
            where: upstream_response_time > 0.5
            values: {hits: count, urt: sum(upstream_response_time)}
          - {name: bots, key: [host], where: 'http_user_agent ~ "bot"', values: {hits: count}}
          - {name: per_hour, key: [time_bucket(time_iso8601, 1h)], values: {hits: count}}
  - name: apa
    round: 1s
    sources: [@APA@]
    format:
      apache: '%s'
      timezone: %s
    groups:
      - name: g
        entries:
          - name: by_status_method
            key: [status, method]
            values: {hits: count, bytes: sum(bytes), us: sum(time_us)}
          - name: slow
            key: [referer]
            where: time_us >= 500000 and agent !~ "bot"
            values: {hits: count, us: sum(time_us)}
          - {name: per_hour, key: [time_bucket(time, 1h)], values: {hits: count}}
""" % ("\n".join("        " + x for x in NGINX_FORMAT.split("\n")), APACHE_FORMAT, ZONE)
NGX_ENTRIES = {"by_host_status": 2, "slow_upstream": 1, "bots": 1, "per_hour": 1}
APA_ENTRIES = {"by_status_method": 2, "slow": 1, "per_hour": 1}

AGENTS = ["Mozilla/5.0 (X11; Linux x86_64)", "curl/8.5.0",
          "Googlebot/2.1 (+http://www.google.com/bot.html)", 'say \\"hi\\" bot',
          'a \\"quoted\\" agent', "back\\\\slash", "-"]
METHODS = ["GET"] * 10 + ["POST", "HEAD", "PUT", "DELETE"]


def request(r):
    if r.random() < 0.02:
        return "-"
    return "%s /p/%d?q=%d HTTP/1.1" % (r.choice(METHODS), r.randint(1, 30), r.randint(0, 9))


def ip(r):
    return "10.%d.%d.%d" % (r.randint(0, 3), r.randint(0, 255), r.randint(1, 254))


def cut_inside_last_quote(line):
    """The line cut in the middle of its last quoted field (no closing quote)."""
    return line[:line.rfind('"') - 2]


# ---- nginx --------------------------------------------------------------------------------

def gen_nginx(path, n, seed):
    r = random.Random(seed)
    out = []
    for i in range(n):
        t = 1761436800 + i * 3 + r.randint(0, 2)  # 2025-10-26T00:00Z on
        off = r.choice([0, 0, 7200, 3600, -18000])
        lt = datetime.datetime.fromtimestamp(t + off, datetime.timezone.utc)
        ts = lt.strftime("%Y-%m-%dT%H:%M:%S") + (
            r.choice(["Z", "+00:00"]) if off == 0 else
            "%s%02d:%02d" % ("+" if off > 0 else "-", abs(off) // 3600, abs(off) % 3600 // 60))
        user = r.choice(["-", "-", "-", "alice", "john smith"])
        req = request(r)
        status = r.choice(["200"] * 8 + ["304", "404", "500", "502"])
        nbytes = "-" if r.random() < 0.05 else str(r.randint(0, 90000))
        rt = "%.3f" % (r.random() * 2)
        up = r.choice(["-", "%.3f" % r.random(), "%.3f, %.3f" % (r.random(), r.random()),
                       "%.3f, %.3f : %.3f" % (r.random(), r.random(), r.random()),
                       "-, %.3f" % r.random()])
        ua = r.choice(AGENTS)
        host = r.choice(["www.example.com", "api.example.com", "static.example.com"])
        odd = r.random()
        if odd < 0.01:
            status = r.choice(["2x0", "-", "20000"])              # bad: number
        elif odd < 0.02:
            nbytes = r.choice(["12k", "1.5", "+4"])               # bad: number
        elif odd < 0.03:
            rt = r.choice(["0.x", "", "1e"])                      # bad: number (or fields)
        elif odd < 0.04:
            up = r.choice(["0.1, x", "0.1,0.2", "0.1 :0.2"])      # bad: number
        elif odd < 0.05:
            ts = ts.replace("-10-", r.choice(["-13-", "-00-"]))   # bad: time
        line = '%s - %s [%s] "%s" %s %s rt=%s urt=%s "%s" %s' % (
            ip(r), user, ts, req, status, nbytes, rt, up, ua, host)
        if 0.05 <= odd < 0.057:
            line = cut_inside_last_quote(line)                    # bad: quote
        elif 0.057 <= odd < 0.06:
            line = line[:line.index('"') + 6]                     # bad: quote (the request)
        elif 0.06 <= odd < 0.065:
            line = r.choice(["hello world", "", "- - [x] \"\" 200",
                             line[:line.rfind('"') + 1]])         # bad: fields
        out.append(line)
    open(path, "w").write("\n".join(out) + "\n")


def q(name):
    """A quoted field: up to the first '"' not escaped by a backslash."""
    return r'"(?P<%s>(?:[^"\\]|\\.)*)"' % name


def upto(name, term):
    """An unquoted field: at least one byte, up to the first place term appears."""
    return r"(?P<%s>(?:(?!%s).)+)" % (name, term)


NGX_PARTS = [r"^" + upto("addr", " - ") + " - " + upto("user", r" \[") + r" \[(?P<ts>[^\]]*)\] ",
             q("req") + " " + upto("status", " ") + " " + upto("bytes", " rt=") + " rt=" +
             upto("rt", " urt=") + " urt=" +
             # a list runs over its separators: ' "' after ',' or ':' is inside it
             r"(?P<up>(?:(?!(?<![,:]) \").)+) ",
             q("ua") + r" (?P<host>.+)\Z"]
NGX_RE = re.compile("".join(NGX_PARTS), re.S)
# a line that follows the format up to a quoted field that never closes
NGX_QUOTE = [re.compile(NGX_PARTS[0] + r'"(?:[^"\\]|\\.)*\\?\Z', re.S),
             re.compile("".join(NGX_PARTS[:2]) + r'"(?:[^"\\]|\\.)*\\?\Z', re.S)]
ISO = re.compile(r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:[.,]\d+)?"
                 r"(Z|z|[+-]\d\d(?::?\d\d)?)?\Z")
NUM = r"(?:[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
UP_LIST = re.compile(r"(?:-|%s)(?:(?:, | : )(?:-|%s))*\Z" % (NUM, NUM))


class Bad(Exception):
    def __init__(self, why):
        super().__init__(why)
        self.why = why


def iso_time(text):
    """$time_iso8601: ISO 8601 with its offset (UTC without one), seconds up to 60."""
    m = ISO.match(text)
    if not m:
        raise Bad("time")
    y, mo, d, hh, mm, ss = (int(x) for x in m.groups()[:6])
    if not (1 <= mo <= 12 and 1 <= d <= calendar.monthrange(y, mo)[1] and hh < 24 and mm < 60
            and ss <= 60):
        raise Bad("time")
    z = m.group(7) or "Z"
    off = 0
    if z not in "Zz":
        off = (int(z[1:3]) * 3600 + (int(z[-2:]) * 60 if len(z) > 3 else 0)) * (
            -1 if z[0] == "-" else 1)
    return calendar.timegm((y, mo, d, hh, mm, 0)) + ss - off


def count(text, most):
    """1 to most digits (a status: 4; %b, %D, $body_bytes_sent: 18); "-" null unless most is 4."""
    if text == "-" and most != 4:
        return None
    if not re.fullmatch(r"[0-9]{1,%d}" % most, text):
        raise Bad("number")
    return int(text)


def number(text):
    if text in ("", "-"):
        return None
    if not FLOAT_RE.match(text):
        raise Bad("number")
    return float(text)


def up_sum(text):
    """An upstream list: the sum of its numbers, "-" skipped; only "-": null."""
    if not UP_LIST.match(text):
        raise Bad("number")
    vals = [float(x) for x in re.split(r", | : ", text) if x != "-"]
    return sum(vals) if vals else None


def method(req):
    parts = req.split(" ")
    return parts[0] if req != "-" and len(parts) == 3 else None


def structural(line, quotes):
    return "quote" if any(p.match(line) for p in quotes) else "fields"


def lines_of(path):
    data = open(path, "rb").read().decode("latin-1")
    lines = data.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def oracle_nginx(paths):
    t = Tally(NGX_ENTRIES)
    t.reasons = {}
    for path in paths:
        for line in lines_of(path):
            t.lines += 1
            m = NGX_RE.match(line)
            try:
                if not m:
                    raise Bad(structural(line, NGX_QUOTE))
                ts = iso_time(m["ts"])  # in the line's order: the first bad field says why
                status = count(m["status"], 4)
                nbytes = count(m["bytes"], 18)
                rt = number(m["rt"])
                up = up_sum(m["up"])
            except Bad as e:
                t.bad += 1
                t.reasons[e.why] = t.reasons.get(e.why, 0) + 1
                continue
            ua, host = m["ua"], m["host"]
            ua = None if ua == "-" else ua
            t.add("by_host_status", [host, status],
                  [("count", None), ("sum", nbytes), ("sum", rt)])
            if up is not None and up > 0.5:
                t.add("slow_upstream", [method(m["req"])], [("count", None), ("sum", up)])
            if ua is not None and "bot" in ua:
                t.add("bots", [host], [("count", None)])
            t.add("per_hour", [hour(ts)], [("count", None)])
    return t


# ---- Apache -------------------------------------------------------------------------------

def gen_apache(path, n, seed):
    r = random.Random(seed)
    berlin = zoneinfo.ZoneInfo(ZONE)
    out = []
    for i in range(n):
        t = 1761422400 + i * 3 + r.randint(0, 2)  # 2025-10-25T20:00Z on, over the overlap
        lt = datetime.datetime.fromtimestamp(t, berlin)
        ts = "%02d/%s/%04d:%02d:%02d:%02d" % (lt.day, calendar.month_abbr[lt.month], lt.year,
                                              lt.hour, lt.minute, lt.second)
        frac = "%03d" % r.randint(0, 999)
        user = r.choice(["-", "-", "-", "alice", "bob"])
        req = request(r)
        status = r.choice(["200"] * 8 + ["301", "404", "500"])
        nbytes = "-" if r.random() < 0.05 else str(r.randint(0, 90000))
        us = "-" if r.random() < 0.01 else str(r.randint(100, 1500000))
        ref = r.choice(["-", "http://example.com/", "http://ex.org/a?b=c", "https://x.test/\\\"q\\\""])
        ua = r.choice(AGENTS)
        odd = r.random()
        if odd < 0.01:
            ts = r.choice([ts.replace("%02d/" % lt.day, "32/", 1),        # bad: time
                           ts.replace("%02d/" % lt.day, "%d/" % (lt.day % 10), 1),
                           ts.replace("Oct", "Okt"), ts[:12] + "24" + ts[14:]])
        elif odd < 0.02:
            status = r.choice(["-", "2x0", "12345"])                       # bad: number
        elif odd < 0.03:
            us = r.choice(["12x", "1.5", ""])                             # bad: number (fields)
        elif odd < 0.035:
            frac = r.choice(["12a", "x"])                                 # good: not read
        elif odd < 0.04:
            user = "john smith"                                           # bad: time (%u ends)
        line = '%s - %s %s.%s "%s" %s %s %s "%s" "%s"' % (
            ip(r), user, ts, frac, req, status, nbytes, us, ref, ua)
        if 0.04 <= odd < 0.047:
            line = cut_inside_last_quote(line)                             # bad: quote
        elif 0.047 <= odd < 0.05:
            line = line[:line.index('"') + 6]                              # bad: quote
        elif 0.05 <= odd < 0.055:
            line = r.choice(["hello world", "", line.replace(".%s " % frac, ". ", 1),
                             line + " extra"])                             # bad: fields
        out.append(line)
    open(path, "w").write("\n".join(out) + "\n")


APA_HEAD = r"^(?P<h>[^ ]+) (?P<l>[^ ]+) (?P<u>[^ ]+) "
APA_TIME = r"(?P<time>(\d\d)/([A-Za-z]{3})/(\d{4}):(\d\d):(\d\d):(\d\d))"
APA_PARTS = [APA_HEAD + APA_TIME + r"\." + upto("frac", ' "') + " ",
             q("req") + " " + upto("status", " ") + " " + upto("bytes", " ") + " " +
             upto("us", ' "') + " ", q("ref") + " ", q("ua") + r"\Z"]
APA_RE = re.compile("".join(APA_PARTS), re.S)
APA_QUOTE = [re.compile("".join(APA_PARTS[:k]) + r'"(?:[^"\\]|\\.)*\\?\Z', re.S)
             for k in (1, 2, 3)]
MONTHS = [m.lower() for m in calendar.month_abbr]


def strftime_time(m):
    """The local time the strftime form matched (None when it is not a real one), on
    Europe/Berlin's clock: a reading that happens twice is its first instant (fold=0)."""
    d, mon, y, hh, mm, ss = m.group(2), m.group(3).lower(), m.group(4), m.group(5), m.group(6), \
        m.group(7)
    if mon not in MONTHS[1:]:
        return None
    d, y, hh, mm, ss, mo = int(d), int(y), int(hh), int(mm), int(ss), MONTHS.index(mon)
    if not (1 <= d <= calendar.monthrange(y, mo)[1] and hh < 24 and mm < 60 and ss <= 60):
        return None
    local = datetime.datetime(y, mo, d, hh, mm, 0, tzinfo=zoneinfo.ZoneInfo(ZONE), fold=0)
    return int(local.timestamp()) + ss


def oracle_apache(paths):
    t = Tally(APA_ENTRIES)
    t.reasons = {}
    head, time_re = re.compile(APA_HEAD, re.S), re.compile(APA_TIME, re.S)
    for path in paths:
        for line in lines_of(path):
            t.lines += 1
            m = APA_RE.match(line)
            try:
                h = head.match(line)
                tm = h and time_re.match(line, h.end())
                if h and (not tm or strftime_time(tm) is None):
                    raise Bad("time")  # the form said where it ends, or it is no time
                if not m:
                    raise Bad(structural(line, APA_QUOTE))
                ts = strftime_time(tm)
                status = count(m["status"], 4)
                nbytes = count(m["bytes"], 18)
                us = count(m["us"], 18)
            except Bad as e:
                t.bad += 1
                t.reasons[e.why] = t.reasons.get(e.why, 0) + 1
                continue
            ref = None if m["ref"] == "-" else m["ref"]
            ua = None if m["ua"] == "-" else m["ua"]
            t.add("by_status_method", [status, method(m["req"])],
                  [("count", None), ("sum", nbytes), ("sum", us)])
            if us is not None and us >= 500000 and ua is not None and "bot" not in ua:
                t.add("slow", [ref], [("count", None), ("sum", us)])
            t.add("per_hour", [hour(ts)], [("count", None)])
    return t


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd in ("gen-nginx", "gen-apache") and len(argv) == 5:
        (gen_nginx if cmd == "gen-nginx" else gen_apache)(argv[2], int(argv[3]), int(argv[4]))
    elif cmd == "rules" and len(argv) == 5:
        sys.stdout.write(RULES.replace("@PORT@", argv[2]).replace("@NGX@", argv[3])
                         .replace("@APA@", argv[4]))
    elif cmd in ("oracle-nginx", "oracle-apache") and len(argv) >= 3:
        ngx = cmd == "oracle-nginx"
        t = (oracle_nginx if ngx else oracle_apache)(argv[2:])
        out = t.dump(NGX_ENTRIES if ngx else APA_ENTRIES)
        out["reasons"] = t.reasons
        json.dump(out, sys.stdout)
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
