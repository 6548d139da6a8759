#!/usr/bin/env python3
"""gen_nginx_sample.py - writes data/nginx_main_2k.log, the sample of examples/nginx.yaml.

Two thousand lines of an nginx access log in the log_format "main" of examples/nginx.yaml
(combined plus X-Forwarded-For, request time and upstream times), made up by a fixed seed:
a small shop's site and API over one day in Europe/Berlin (+0200), with upstream retries
("0.004, 0.120"), cached responses ("-" upstream times), escaped quotes in a user agent,
a few 5xx and one line cut short. Usage: scripts/gen_nginx_sample.py > data/nginx_main_2k.log
"""
import random

r = random.Random(10)
paths = ["/", "/shop", "/shop/cart", "/shop/item/%d", "/api/v1/items", "/api/v1/items/%d",
         "/api/v1/cart", "/static/app.%s.js", "/static/style.css", "/favicon.ico"]
agents = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0 Safari/537.36",
          "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
          "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
          "curl/8.4.0", "python-requests/2.31.0", "shop-app/3.2 (Android 14; \\\"Pixel 8\\\")"]
lines = []
t = 0
for i in range(2000):
    t += r.randint(10, 70)
    hh, mm, ss = t // 3600 % 24, t // 60 % 60, t % 60
    path = r.choice(paths)
    if "%d" in path:
        path = path % r.randint(1, 300)
    elif "%s" in path:
        path = path % r.choice(["3f2a", "9b1c"])
    method = "POST" if path == "/api/v1/cart" and r.random() < 0.6 else r.choice(["GET"] * 9 + ["HEAD"])
    static = path.startswith("/static") or path == "/favicon.ico"
    status = r.choice([200] * 30 + [304] * 3 + [404, 499, 502, 503]) if not static else r.choice([200, 304])
    size = 0 if status in (304, 499) else r.randint(200, 90000)
    rt = r.expovariate(1 / (0.005 if static else 0.09))
    if static:
        uct = urt = "-"
    else:
        tries = 2 if status == 502 or r.random() < 0.02 else 1
        uct = ", ".join("%.3f" % r.uniform(0, 0.004) for _ in range(tries))
        urt = ", ".join("%.3f" % (rt * r.uniform(0.5, 0.95) / tries) for _ in range(tries))
    ref = r.choice(["-", "https://shop.example/", "https://www.google.com/"])
    line = ('%s - %s [25/Oct/2024:%02d:%02d:%02d +0200] "%s %s HTTP/%s" %d %d "%s" "%s" "%s" '
            'rt=%.3f uct="%s" urt="%s"') % (
        "198.51.100.%d" % r.randint(1, 254), r.choice(["-"] * 9 + ["anna"]), hh, mm, ss,
        method, path, r.choice(["1.1", "2.0"]), status, size, ref, r.choice(agents),
        r.choice(["-", "-", "203.0.113.%d" % r.randint(1, 254)]), rt, uct, urt)
    lines.append(line)
lines[1234] = lines[1234][:97]  # a line cut short, as a disk-full log has
print("\n".join(lines))
