#!/usr/bin/env python3
"""tests/recount/syslog.py - a syslog log, its job, and its recount, for the syslog tests
(tests/recount/syslog.sh, tests/cluster/formats_logfmt_syslog.sh).

  syslog.py gen OUT          write the generated log (5000 lines, fixed seed)
  syslog.py job NAME SOURCE  print the job (a YAML item of `jobs:`) that reads SOURCE
  syslog.py recount LOG OUT  recount that job's reports from the raw LOG into OUT

The log holds every form abbey reads: rsyslog file lines with BSD stamps (single-digit
days padded with a space, every month), RSYSLOG_FileFormat lines (RFC 3339 with a
fraction, offsets Z, +05:30, -07:00 or none), RFC 3164 lines with PRI (some from relays
that dropped the host), RFC 5424 lines (nil values, structured data with escaped quotes
and brackets, a BOM before MSG), tags with '/', '-', '.' and parentheses, lines without a
tag; and about 7% bad lines: PRI over 191 or with a leading zero, text that is not
syslog, lines cut after the stamp or the host, unterminated SD values, SD params without
quotes, impossible dates (Feb 30, 24:00), and Feb 29 (bad or not by the year it gets).

The recount is written apart from abbey's parser (python3's re and datetime): one regular
expression per form, PRI decoded, stamps dated (a year-less stamp takes the year of the
file's modification time at +02:00, or the year before when it would be more than a day
after it; a stamp without an offset is at +02:00), then every figure of the job's reports. OUT's first line
is "lines N bad B"; then one line per report: its name and its rows (JSON, every cell as
the report's CSV text)."""
import datetime as dt
import json
import os
import random
import re
import sys

JOB = """\
  - name: %s
    round: 1s
    sources: ["%s"]
    format: {syslog: {timezone: "+02:00"}}
    groups:
      - name: apps
        entries:
          - name: by_app
            key: [app]
            values: {n: count, pids: distinct_exact(pid), top: max(pid)}
          - name: urgent
            key: [app]
            where: severity <= 3
            values: {n: count}
          - name: by_msgid
            key: [msgid]
            values: {n: count, texts: distinct_exact(message)}
      - name: hosts
        entries:
          - name: by_day
            key: [host, {day: time_bucket(time, 1d)}]
            values: {n: count}
          - name: by_prio
            key: [facility, severity, facility_name, severity_name]
            values: {n: count}
          - name: by_sd
            key: [structured_data]
            values: {n: count}
"""

# ---- the log ----

MONTHS = 'Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec'.split()
hosts = ['web1', 'web2', 'db.example.com', '192.0.2.7']
tags = ['sshd', 'CRON', 'postfix/smtpd', 'systemd-logind', 'org.gnome.Shell.desktop',
        'sshd(pam_unix)', 'kernel', 'su']
msgs = ['Accepted publickey for alice', 'session opened for user root', 'connect from x',
        'New session 4 of user bob', '[ 12.5] usb 1-1: new device', 'pam: a=b c="d"',
        'Failed password for invalid user admin']


def bsd():
    m = random.randint(1, 12)
    d = random.randint(1, 28)
    return '%s %2d %02d:%02d:%02d' % (MONTHS[m - 1], d, random.randint(0, 23),
                                        random.randint(0, 59), random.randint(0, 59))


def iso(offsets):
    return '%04d-%02d-%02dT%02d:%02d:%02d%s%s' % (
        random.choice([2023, 2024]), random.randint(1, 12), random.randint(1, 28),
        random.randint(0, 23), random.randint(0, 59), random.randint(0, 59),
        random.choice(['', '.5', '.123456']), random.choice(offsets))


def tag():
    t = random.choice(tags)
    r = random.random()
    if r < 0.6:
        return '%s[%d]: ' % (t, random.randint(1, 60000))
    return t + (': ' if r < 0.9 else ':')


bad = ['<192>Jan  1 00:00:00 h a: m', '<034>Jan  1 00:00:00 h a: m', 'hello world',
       'Jun 14 15:16:01', 'Jun 14 15:16:01 host', '<13>1 - h a - - [id k="v] m',
       '<13>1 - h a - - [id k=v] m', 'Feb 30 10:00:00 h a: m', 'Mar  3 24:00:00 h a: m',
       '<14>1 2024-02-30T00:00:00Z h a - - -', '<13>Jux 14 15:16:01 h a: m', '']


def gen(path):
    random.seed(20240615)
    with open(path, 'wb') as out:
        for i in range(5000):
            r = random.random()
            if r < 0.06:
                line = random.choice(bad)
            elif r < 0.07:
                line = 'Feb 29 %02d:00:00 %s %s%s' % (random.randint(0, 23), random.choice(hosts),
                                                      tag(), 'leap')
            elif r < 0.40:
                line = '%s %s %s%s' % (bsd(), random.choice(hosts), tag(), random.choice(msgs))
                if random.random() < 0.03:
                    line = '%s %s last message repeated %d times' % (
                        bsd(), random.choice(hosts), random.randint(2, 9))
            elif r < 0.60:
                line = '%s %s %s%s' % (iso(['Z', '+05:30', '-07:00', '']), random.choice(hosts),
                                       tag(), random.choice(msgs))
            elif r < 0.78:
                host = random.choice(hosts) + ' ' if random.random() < 0.9 else ''
                line = '<%d>%s %s%s%s' % (random.randint(0, 191), bsd(), host, tag(),
                                          random.choice(msgs))
            else:
                sd = random.choice(['-', '[exampleSDID@32473 iut="3" eventSource="App"]',
                                    '[a@1 k="q\\"x\\]y"][b@2]', '[meta seq="%d"]' % (i % 5)])
                msg = random.choice(['', ' ' + random.choice(msgs),
                                     ' \xef\xbb\xbf' + random.choice(msgs)])
                if sd == '-' and msg == '' and random.random() < 0.5:
                    msg = ' '
                line = '<%d>1 %s %s %s %s %s %s%s' % (
                    random.randint(0, 191), random.choice([iso(['Z', '+02:00', '']), '-']),
                    random.choice(hosts + ['-']), random.choice(tags[:4] + ['-']),
                    random.choice([str(random.randint(1, 9999)), '-', 'worker-3']),
                    random.choice(['ID47', 'LOGIN', '-']), sd, msg)
            if random.random() < 0.03:
                line += '\r'
            out.write(line.encode('latin-1') + b'\n')


# ---- the recount ----

ZONE = dt.timezone(dt.timedelta(hours=2))
MON = {m: i + 1 for i, m in enumerate(MONTHS)}
PRI = r'(?:<(0|[1-9][0-9]{0,2})>)'
BSD = r'(?P<mon>[A-Z][a-z][a-z]) (?P<day> ?[0-9]{1,2}) (?P<hms>[0-9]{2}:[0-9]{2}:[0-9]{2})'
ISO = r'(?P<iso>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[^ ]*)'
FILE = re.compile(r'%s?(?:%s|%s) (?P<rest>.*)' % (PRI, BSD, ISO), re.S)
SD = r'(?:\[[^ \]="]+(?: [^= \]"]+="(?:[^"\\]|\\.)*")*\])+'
R5424 = re.compile(r'%s[1-9][0-9]{0,2} (?P<ts>-|[^ ]+) (?P<host>[^ ]+) (?P<app>[^ ]+) '
                   r'(?P<pid>[^ ]+) (?P<msgid>[^ ]+) (?P<sd>-|%s)(?: (?P<msg>.*))?' % (PRI, SD), re.S)
TAG = re.compile(r'([^\[: ]+)(?:\[([^\] ]*)\])?: ?(.*)', re.S)
FACILITIES = ('kern user mail daemon auth syslog lpr news uucp cron authpriv ftp ntp audit '
              'alert clock local0 local1 local2 local3 local4 local5 local6 local7').split()
SEVERITIES = 'emerg alert crit err warning notice info debug'.split()


def iso_time(s):
    """An RFC 3339 stamp as epoch seconds (AttributeError or ValueError when it is not)."""
    m = re.fullmatch(r'([0-9-]+T[0-9:]+)(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})?', s)
    t = dt.datetime.strptime(m.group(1), '%Y-%m-%dT%H:%M:%S')
    off = m.group(3)
    if off is None:
        tz = ZONE
    elif off == 'Z':
        tz = dt.timezone.utc
    else:
        sign = -1 if off[0] == '-' else 1
        tz = dt.timezone(sign * dt.timedelta(hours=int(off[1:3]), minutes=int(off[4:6])))
    return int(t.replace(tzinfo=tz).timestamp())


def bsd_time(mtime, mon, day, hms):
    """A year-less stamp as epoch seconds: the year of mtime, or the one before when it would
    otherwise be more than a day after mtime."""
    y = mtime.year
    h, mi, s = map(int, hms.split(':'))
    then = dt.datetime(y, MON[mon], 1, tzinfo=ZONE) + dt.timedelta(
        days=int(day) - 1, hours=h, minutes=mi, seconds=s)
    if then.timestamp() > mtime.timestamp() + 86400:
        y -= 1
    return int(dt.datetime(y, MON[mon], int(day), h, mi, s, tzinfo=ZONE).timestamp())


def parse(line, mtime):
    """The fields of a line (None: missing); ValueError or AttributeError when it is bad."""
    if line.endswith('\r'):
        line = line[:-1]
    if re.match(PRI + r'[1-9][0-9]{0,2}(?: |$)', line):
        m = R5424.fullmatch(line)
        if not m or int(m.group(1)) > 191:
            raise ValueError('5424')
        f = {k: None if m.group(k) == '-' else m.group(k)
             for k in ('ts', 'host', 'app', 'pid', 'msgid', 'sd', 'msg')}
        if f['msg'] is not None and f['msg'].startswith('\xef\xbb\xbf'):
            f['msg'] = f['msg'][3:]
        f['pri'] = int(m.group(1))
        f['time'] = None if f['ts'] is None else iso_time(f['ts'])
        return f
    m = FILE.fullmatch(line)
    if not m or (m.group('mon') and m.group('mon') not in MON):
        raise ValueError('form')
    pri = int(m.group(1)) if m.group(1) is not None else None
    if pri is not None and pri > 191:
        raise ValueError('pri')
    if m.group('mon'):
        t = bsd_time(mtime, m.group('mon'), m.group('day'), m.group('hms'))
    else:
        t = iso_time(m.group('iso'))
    rest = m.group('rest')
    host, space, after = rest.partition(' ')
    if host.endswith(':'):  # a relay dropped the host: this is the tag
        host, after = None, rest
    elif host == '' or not space:
        raise ValueError('host')
    tm = TAG.fullmatch(after)
    app, pid, msg = tm.groups() if tm else (None, None, after)
    return dict(pri=pri, time=t, host=host, app=app, pid=pid, msgid=None, sd=None, msg=msg)


def recount(log, out_path):
    mtime = dt.datetime.fromtimestamp(os.stat(log).st_mtime, ZONE)
    tables = {k: {} for k in ('by_app', 'urgent', 'by_msgid', 'by_day', 'by_prio', 'by_sd')}

    def add(name, key, *vals):  # a row: its count and the set of each value's arguments
        row = tables[name].setdefault(key, [0] + [set() for _ in vals])
        row[0] += 1
        for i, v in enumerate(vals):
            row[i + 1].add(v)

    lines = bad = 0
    for raw in open(log, 'rb').read().split(b'\n')[:-1]:
        lines += 1
        try:
            f = parse(raw.decode('latin-1'), mtime)
        except (ValueError, AttributeError):
            bad += 1
            continue
        pid = int(f['pid']) if f['pid'] and re.fullmatch('[0-9]+', f['pid']) else None
        fac = sev = None
        if f['pri'] is not None:
            fac, sev = FACILITIES[f['pri'] >> 3], SEVERITIES[f['pri'] & 7]
        day = None if f['time'] is None else dt.datetime.fromtimestamp(
            f['time'] // 86400 * 86400, dt.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
        add('by_app', f['app'], pid)
        if f['pri'] is not None and f['pri'] & 7 <= 3:
            add('urgent', f['app'])
        add('by_msgid', f['msgid'], f['msg'])
        add('by_day', (f['host'], day))
        add('by_prio', (None, None, None, None) if fac is None else
            (f['pri'] >> 3, f['pri'] & 7, fac, sev))
        add('by_sd', f['sd'])

    def text(v):  # a cell as the CSV shows it
        if isinstance(v, str):
            return v.encode('latin-1').decode('utf-8', 'replace')
        return '' if v is None else str(v)

    with open(out_path, 'w', encoding='utf-8') as out:
        out.write('lines %d bad %d\n' % (lines, bad))
        for name, t in tables.items():
            rows = []
            for key, row in t.items():
                vals = [row[0]]
                if name == 'by_app':
                    pids = row[1] - {None}
                    vals += [len(pids), max(pids) if pids else None]
                elif name == 'by_msgid':
                    vals += [len(row[1] - {None})]
                key = list(key) if isinstance(key, tuple) else [key]
                rows.append([text(c) for c in key + vals])
            out.write('%s %s\n' % (name, json.dumps(sorted(rows))))

if __name__ == '__main__':
    if sys.argv[1:2] == ['gen']:
        gen(sys.argv[2])
    elif sys.argv[1:2] == ['job']:
        sys.stdout.write(JOB % (sys.argv[2], sys.argv[3]))
    elif sys.argv[1:2] == ['recount']:
        recount(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
