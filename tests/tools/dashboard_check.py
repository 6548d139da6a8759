"""dashboard_check.py - the dashboard in a real browser, against the exported reports.

    dashboard_check.py cluster P1 P2 TOKEN EXPORT1 EXPORT2 LOG MORE PROFILE PIDFILE [SHOT]
    dashboard_check.py file HTML EXPORT PROFILE PIDFILE

cluster: m1 (primary, port P1) and m2 (secondary, P2) have read LOG and written their
reports under EXPORT1/EXPORT2 (<job>/<report>.csv). In headless Chromium (browser.py):
the page without the token shows no figure and the JSON endpoints answer 401; /?token=
logs in and drops the token from the address; every figure each master's page renders
(after its JavaScript ran: tables, big figures, bars) equals its CSV files, and by_status
and totals also equal a recount of LOG with Python's re module; hostile keys stay text;
the primary's page links to m2 and shows the cluster page; after the lines of MORE are
appended to LOG, the open page shows the new totals without a reload; logging out ends
the session. file: the one-file report HTML, opened as file:// with the network off
(a proxy that does not exist), renders the same figures as the CSV files under EXPORT.
Prints one line per check, "PASS what" or "FAIL what", for the shell test to count.
"""
import csv
import datetime
import json
import os
import re
import sys
import time
import urllib.request
import zoneinfo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from browser import Browser, BrowserError  # noqa: E402

FAILED = 0


def check(ok, what):
    global FAILED
    print(("PASS " if ok else "FAIL ") + what, flush=True)
    if not ok:
        FAILED += 1
    return ok


# What the page shows: per card (job/report), its figures, bars and table (all rows).
EXTRACT = r"""(() => {
  for (const b of document.querySelectorAll('section.card button.more'))
    if (b.textContent.startsWith('show all')) b.click();
  const out = {};
  for (const card of document.querySelectorAll('section.card[data-report]')) {
    const r = { figs: {}, bars: [], table: null, incomplete: !!card.querySelector('[data-incomplete]') };
    card.querySelectorAll('.fig').forEach(f => { r.figs[f.dataset.col] = f.querySelector('.fig-v').textContent; });
    card.querySelectorAll('ol.bars li').forEach(li =>
      r.bars.push([li.querySelector('.bl').textContent, li.querySelector('.bv').textContent]));
    const t = card.querySelector('table.rt');
    if (t) r.table = { cols: [...t.querySelectorAll('th button')].map(b => b.textContent.replace(/ \(.*\)$/, '')),
      rows: [...t.querySelectorAll('tbody tr')].map(tr => [...tr.children].map(td => td.textContent)),
      n: Number(t.dataset.rows) };
    const ch = card.querySelector('.charts');
    r.points = ch ? Number(ch.dataset.points) : null;
    r.canvases = card.querySelectorAll('canvas').length;
    out[card.dataset.job + '/' + card.dataset.report] = r;
  }
  return JSON.stringify(out);
})()"""


def api(port, path, token):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                 headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.load(r)


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def local_time(iso, tz):
    t = datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    return t.astimezone(zoneinfo.ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")


def cell_ok(page, want, col, tz):
    """The page's text page for the CSV field want of column col (from /v1/dashboard)."""
    if want == "":
        return page == "–"
    if col["type"] == "time":
        return page == local_time(want, tz)
    if col["key"] and col["type"] != "number":
        return page == want
    if re.fullmatch(r"-?[0-9]+", want):  # an integer: every digit, grouped by thousands
        grouped = f"{int(want):,}"
        return page == grouped
    try:
        got, exp = float(page.replace(",", "")), float(want)
    except ValueError:
        return False
    # fractions are shown to 2 places, or to 3 significant digits below 1
    return abs(got - exp) <= (0.005 if abs(exp) >= 1 else abs(exp) * 0.005) + 1e-12


def compare(shown, job, rep, csv_path, what):
    """Every figure of report rep (a /v1/dashboard report) in shown against its CSV."""
    head, rows = read_csv(csv_path)
    cols = {c["name"]: c for c in rep["columns"]}
    tz = job["timezone"]
    bad = []
    if rep["view"] == "totals":
        for k, name in enumerate(head):
            got = shown["figs"].get(name)
            if got is None or not cell_ok(got, rows[0][k] if rows else "", cols[name], tz):
                bad.append(f"{name}: page {got!r}, csv {rows[0][k] if rows else None!r}")
        check(not bad and len(shown["figs"]) == len(head),
              f"{what}: {len(head)} big figures equal the CSV {'; '.join(bad[:3])}")
        return
    if rep["view"] == "top":
        ordc = head.index(rep["order"])
        keys = [k for k, n in enumerate(head) if cols[n]["key"]]
        for i, row in enumerate(rows):
            if i >= len(shown["bars"]):
                bad.append(f"row {i}: no bar")
                break
            label, value = shown["bars"][i]
            want_label = " · ".join(row[k] for k in keys)
            if label != want_label or not cell_ok(value, row[ordc], cols[rep["order"]], tz):
                bad.append(f"bar {i}: page {label!r} {value!r}, csv {want_label!r} {row[ordc]!r}")
        check(not bad and len(shown["bars"]) == len(rows),
              f"{what}: {len(rows)} bars equal the CSV {'; '.join(bad[:3])}")
    t = shown["table"]
    if not check(t is not None and t["cols"] == head, f"{what}: the table's columns {t and t['cols']} are the CSV's {head}"):
        return
    for i, row in enumerate(rows):
        if i >= len(t["rows"]):
            bad.append(f"row {i} missing")
            break
        for k, name in enumerate(head):
            if not cell_ok(t["rows"][i][k], row[k], cols[name], tz):
                bad.append(f"row {i} {name}: page {t['rows'][i][k]!r}, csv {row[k]!r}")
    check(not bad and len(t["rows"]) == len(rows) == t["n"],
          f"{what}: the table's {len(t['rows'])} rows x {len(head)} columns equal the CSV's {len(rows)} "
          f"{'; '.join(bad[:3])}")


LINE = re.compile(r'^(\S+) \S+ \S+ \[[^\]]*\] "((?:[^"\\]|\\.)*)" ([0-9]{3}) ([0-9]+|-) ')


def recount(log):
    """by_status {status: [hits, bytes]} and totals (hits, bytes, distinct ips) of LOG's lines."""
    by, ips, hits, total = {}, set(), 0, 0
    with open(log, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = LINE.match(line)
            if not m:
                continue
            b = 0 if m.group(4) == "-" else int(m.group(4))
            s = by.setdefault(m.group(3), [0, 0])
            s[0] += 1
            s[1] += b
            hits += 1
            total += b
            ips.add(m.group(1))
    return by, (hits, total, len(ips))


def page_reports(b, d, exports, what):
    """Compare every report this page's master owns with its CSV files."""
    shown = json.loads(b.eval(EXTRACT))
    n = 0
    for job in d["jobs"]:
        for rep in job["reports"]:
            key = job["name"] + "/" + rep["name"]
            if not rep["owned"]:
                check(key not in shown, f"{what}: {key} (owned by {rep['owner']}) is not drawn here")
                continue
            n += 1
            if check(key in shown, f"{what}: {key} is drawn"):
                compare(shown[key], job, rep, os.path.join(exports, job["name"], rep["name"] + ".csv"),
                        f"{what} {key}")
    return shown, n


def wait_page(b, seconds=20):
    return b.wait("Number(document.body.dataset.updates || 0) >= 1 && "
                  "document.querySelectorAll('section.card').length > 0", seconds)


def no_injection(b, what):
    v = b.eval("JSON.stringify([typeof window.pwned, document.querySelectorAll('main img, main script').length])")
    check(v == '["undefined",0]', f"{what}: hostile keys stayed text (pwned, injected elements: {v})")


def recount_ok(b, log, what):
    by, (hits, total, visitors) = recount(log)
    shown = json.loads(b.eval(EXTRACT))
    t = shown.get("web/by_status", {}).get("table") or {"rows": []}
    got = {r[0]: [int(r[1].replace(",", "")), int(r[2].replace(",", ""))] for r in t["rows"]}
    check(got == by, f"{what}: by_status on the page equals the recount of the log ({len(by)} statuses)")
    figs = shown.get("web/totals", {}).get("figs", {})
    want = {"hits": f"{hits:,}", "bytes": f"{total:,}", "visitors": f"{visitors:,}"}
    check(all(figs.get(k) == v for k, v in want.items()),
          f"{what}: totals on the page {figs} equal the recount {want}")
    return hits


def cluster(p1, p2, token, exp1, exp2, log, more, profile, pidfile, shot=None):
    u1, u2 = f"http://127.0.0.1:{p1}", f"http://127.0.0.1:{p2}"
    d1, d2 = api(p1, "/v1/dashboard", token), api(p2, "/v1/dashboard", token)
    b = Browser(profile, ["--window-size=1600,1000"], pidfile=pidfile)
    try:
        hits = recount(log)[1][0]
        # no token: the login page, no figure, 401 from the JSON
        b.goto(u1 + "/")
        body = b.eval("document.body.textContent")
        check(b.eval("!!document.querySelector('form input[type=password]')") and
              not b.eval("document.querySelectorAll('section.card').length") and
              f"{hits:,}" not in body and str(hits) not in body,
              "without the token: a login form, no report, not the total of hits")
        codes = b.eval("Promise.all(['/v1/dashboard', '/v1/reports/web/pages?format=json', '/v1/status', "
                       "'/metrics'].map(p => fetch(p).then(r => r.status))).then(JSON.stringify)")
        check(codes == "[401,401,401,401]", f"without the token the JSON endpoints answer 401 ({codes})")
        b.goto(u1 + "/?token=wrong")
        check(b.eval("!!document.querySelector('.error')") and not b.eval("document.cookie.length"),
              "a wrong token: the login page again, no cookie")
        # log in: the token leaves the address
        href = b.goto(u1 + "/?token=" + token)
        check(href == u1 + "/", f"/?token= logs in and redirects to / ({href})")
        check(wait_page(b), "m1's page draws its reports")
        check(b.eval("document.cookie") == "", "the session cookie is HttpOnly (not in document.cookie)")
        page_reports(b, d1, exp1, "m1")
        no_injection(b, "m1")
        # sorting: the pages table by hits
        order = b.eval(r"""(() => {
          const card = document.querySelector('section.card[data-report=pages]');
          const th = [...card.querySelectorAll('th')].find(h => h.textContent.startsWith('hits'));
          th.querySelector('button').click();
          const th2 = [...card.querySelectorAll('th')].find(h => h.textContent.startsWith('hits'));
          const k = [...th2.parentNode.children].indexOf(th2);
          return JSON.stringify([th2.getAttribute('aria-sort'),
            [...card.querySelectorAll('tbody tr')].map(tr => Number(tr.children[k].textContent.replace(/,/g, '')))]);
        })()""")
        aria, vals = json.loads(order)
        check(aria == "descending" and vals == sorted(vals, reverse=True) and len(vals) > 1,
              f"a click on 'hits' sorts the pages table, highest first ({aria}, {vals[:4]}...)")
        link = b.eval("(document.querySelector('.elsewhere a[data-master=m2]') || {}).href")
        check(link == u2 + "/", f"m1's page links to m2 for the reports it owns ({link})")
        ts = json.loads(b.eval(EXTRACT)).get("web/per_hour", {})
        check((ts.get("points") or 0) > 0 and ts.get("canvases") == 2,
              f"per_hour is drawn as time series charts ({ts.get('points')} points, {ts.get('canvases')} charts)")
        # the cluster page
        b.goto(u1 + "/#cluster")
        b.wait("document.querySelectorAll('.health').length >= 2", 15)
        txt = b.wait(r"""(() => { const t = document.querySelector('main').textContent;
          return /m2secondary/.test(t) && /s1/.test(t) && t; })()""", 15) or ""
        check("m2secondary" in txt and "up" in txt and "s1" in txt and "Sources of web" in txt
              and "Leases of web" in txt and "rejected lines" in txt,
              "the primary's cluster page lists masters (m2 up), the slave, sources, leases, rejected lines")
        check(b.eval(r"""[...document.querySelectorAll('main section.card')].filter(c => c.querySelector('h3').textContent === 'Sources of web')
          .map(c => [...c.querySelectorAll('tbody tr')].every(tr => tr.children[4].textContent === '0 B'))[0]""") is True,
              "every source's lag is 0 B once the cluster has read it")
        # m2: the same browser is logged in there too (same host), its own reports
        b.goto(u2 + "/")
        check(wait_page(b), "m2's page draws its reports with the session of m1's login")
        page_reports(b, d2, exp2, "m2")
        recount_ok(b, log, "m2")
        if shot:
            b.screenshot(shot, 1600, 1000)
        # live: more lines, the open page follows
        before = int(b.eval("document.body.dataset.updates"))
        with open(log, "a", encoding="utf-8") as f, open(more, encoding="utf-8") as g:
            f.write(g.read())
        new_hits = recount(log)[1][0]
        got = b.wait(f"(document.querySelector('[data-report=totals] .fig[data-col=hits] .fig-v') || {{}}).textContent === '{new_hits:,}'", 60)
        after = int(b.eval("document.body.dataset.updates"))
        check(bool(got) and after > before,
              f"live: after more lines the open page shows {new_hits:,} hits (updates {before} -> {after}, no reload)")
        time.sleep(2)
        recount_ok(b, log, "m2 after the new lines")
        # logout
        b.goto(u1 + "/logout")
        check(b.eval("!!document.querySelector('form input[type=password]')") and
              b.eval("fetch('/v1/status').then(r => r.status)") == 401,
              "/logout ends the session: the login page, 401 from the JSON")
    finally:
        b.close()


def one_file(html, exports, profile, pidfile):
    b = Browser(profile, ["--proxy-server=127.0.0.1:9", "--window-size=1600,1000"], pidfile=pidfile)
    try:
        b.goto("file://" + os.path.abspath(html))
        check(wait_page(b), "the one-file report draws its reports from file:// with the network off")
        data = json.loads(b.eval("document.getElementById('abbey-data').textContent"))
        shown, n = page_reports(b, data["describe"], exports, "one file")
        check(n == len(shown) and n > 0, f"the one-file report draws every report ({n})")
        no_injection(b, "one file")
        res = b.eval("JSON.stringify(performance.getEntriesByType('resource').map(e => e.name))")
        check(res == "[]", f"the one-file report fetched nothing ({res})")
        csp = b.eval("(document.querySelector('meta[http-equiv=Content-Security-Policy]') || {}).content || ''")
        check("default-src 'none'" in csp and "unsafe-inline" not in csp and "'sha256-" in csp,
              "the one-file report carries a CSP that allows its inline code by hash only")
    finally:
        b.close()


def main():
    try:
        if sys.argv[1] == "cluster":
            cluster(*sys.argv[2:])
        elif sys.argv[1] == "file":
            one_file(*sys.argv[2:])
    except (BrowserError, OSError, KeyError, ValueError, TypeError) as e:
        check(False, f"the browser test stopped: {type(e).__name__}: {e}")
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
