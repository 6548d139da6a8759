#!/usr/bin/env python3
"""range_server.py - a tiny HTTP/1.1 file server honouring Range, for abbey's tests.

usage: range_server.py DIR [--port N] [--host H] [--ignore-range] [--rate BYTES]

Serves the files of DIR (no listing, no subdirectory escape) to GET and HEAD:
  no Range header               200 with the whole file
  Range: bytes=a-b | a- | -n    206 with Content-Range: bytes a-b/size
  a range starting past the end 416 with Content-Range: bytes */size
200 and 206 answers carry the file's Last-Modified.
--ignore-range answers 200 with the whole file whatever the Range (a server
that does not support ranges). --rate sends each body at about BYTES a second
(a slow source: reading it takes seconds whatever the machine). Port 0 (the default) picks a free port; the
port is printed on the first line of stdout, then the server runs until
killed (SIGTERM) or its stdin closes when --stdin-watch is given.
"""
import argparse
import os
import re
import sys
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    root = "."
    ignore_range = False
    rate = 0

    def log_message(self, fmt, *args):  # quiet: tests print nothing noisy
        pass

    def _path(self):
        name = self.path.split("?", 1)[0].lstrip("/")
        full = os.path.realpath(os.path.join(self.root, name))
        root = os.path.realpath(self.root)
        if not full.startswith(root + os.sep) or not os.path.isfile(full):
            return None
        return full

    def _send(self, status, headers, body, head):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if head:
            return
        step = max(1, self.rate // 10) if self.rate else len(body) or 1
        try:
            for i in range(0, len(body), step):
                if i:
                    time.sleep(0.1)
                self.wfile.write(body[i:i + step])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up

    def _serve(self, head):
        path = self._path()
        if path is None:
            self._send(404, [("Content-Type", "text/plain")], b"not found\n", head)
            return
        with open(path, "rb") as f:
            data = f.read()
            mtime = formatdate(os.fstat(f.fileno()).st_mtime, usegmt=True)
        size = len(data)
        rng = self.headers.get("Range")
        plain = [("Content-Type", "text/plain"), ("Accept-Ranges", "bytes"),
                 ("Last-Modified", mtime)]
        if not rng or self.ignore_range:
            self._send(200, plain, data, head)
            return
        m = RANGE_RE.match(rng.strip())
        if not m or (m.group(1) == "" and m.group(2) == ""):
            self._send(200, plain, data, head)  # unsupported forms: the whole file
            return
        if m.group(1) == "":  # suffix: the last n bytes
            n = int(m.group(2))
            a, b = max(0, size - n), size - 1
        else:
            a = int(m.group(1))
            b = int(m.group(2)) if m.group(2) else size - 1
        if a >= size or (m.group(1) == "" and size == 0):
            self._send(416, [("Content-Range", "bytes */%d" % size)], b"", head)
            return
        b = min(b, size - 1)
        if b < a:
            self._send(416, [("Content-Range", "bytes */%d" % size)], b"", head)
            return
        self._send(206, plain + [("Content-Range", "bytes %d-%d/%d" % (a, b, size))],
                   data[a:b + 1], head)

    def do_GET(self):
        self._serve(False)

    def do_HEAD(self):
        self._serve(True)


def main():
    ap = argparse.ArgumentParser(description="HTTP file server honouring Range (abbey tests)")
    ap.add_argument("dir")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--ignore-range", action="store_true")
    ap.add_argument("--rate", type=int, default=0, help="bytes a second per answer (0: at once)")
    ap.add_argument("--stdin-watch", action="store_true",
                    help="exit when stdin reaches its end (the parent went away)")
    args = ap.parse_args()
    Handler.root = args.dir
    Handler.ignore_range = args.ignore_range
    Handler.rate = args.rate
    srv = ThreadingHTTPServer((args.host, args.port), Handler)
    srv.daemon_threads = True
    print(srv.server_address[1], flush=True)
    if args.stdin_watch:
        def watch():
            sys.stdin.read()
            srv.shutdown()
        threading.Thread(target=watch, daemon=True).start()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    srv.server_close()


if __name__ == "__main__":
    main()
