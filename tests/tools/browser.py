"""browser.py - a headless Chromium driven over the DevTools protocol on a pipe.

The tests of the dashboard (tests/cluster/dashboard.sh) open pages in Debian's
chromium, run with --remote-debugging-pipe: commands go to its fd 3 and answers
come back on its fd 4, each one JSON text ended by a NUL byte. So nothing but
Python's standard library is needed (no node, no websocket client). The
browser gets its own profile directory and is killed by close() (and by the
test's cleanup trap, which kills the pid written to PIDFILE).
"""
import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import time


class BrowserError(Exception):
    pass


class Browser:
    def __init__(self, profile, args=(), pidfile=None, timeout=30):
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        if not exe:
            raise BrowserError("chromium is not installed")
        os.makedirs(profile, exist_ok=True)
        cmd_r, cmd_w = os.pipe()
        out_r, out_w = os.pipe()
        # out of the way of 3 and 4, where the child wants them
        hi_cmd_r = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10)
        hi_out_w = fcntl.fcntl(out_w, fcntl.F_DUPFD, 10)
        for fd in (cmd_r, out_w):
            os.close(fd)

        def child():
            os.dup2(hi_cmd_r, 3)
            os.dup2(hi_out_w, 4)

        argv = [exe, "--headless=new", "--remote-debugging-pipe", "--no-sandbox",
                "--disable-gpu", "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--lang=en-US",
                "--user-data-dir=" + profile, *args, "about:blank"]
        self.proc = subprocess.Popen(argv, pass_fds=(3, 4), preexec_fn=child,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(profile, "chromium.log"), "w"))
        os.close(hi_cmd_r)
        os.close(hi_out_w)
        if pidfile:
            with open(pidfile, "w") as f:
                f.write(str(self.proc.pid))
        self.w, self.r = cmd_w, out_r
        self.buf = b""
        self.next_id = 0
        self.timeout = timeout
        self.session = None
        target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)
        self.session = self.call("Target.attachToTarget",
                                 {"targetId": target["targetId"], "flatten": True},
                                 session=False)["sessionId"]
        self.call("Page.enable")
        self.call("Runtime.enable")

    def _read(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.time()
            if left <= 0 or not select.select([self.r], [], [], left)[0]:
                raise BrowserError("chromium did not answer in time")
            chunk = os.read(self.r, 1 << 20)
            if not chunk:
                raise BrowserError("chromium closed its pipe (see chromium.log)")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=True):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + self.timeout
        while True:
            m = self._read(deadline)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise BrowserError(f"{method}: {m['error'].get('message')}")
                return m.get("result", {})

    def eval(self, expr):
        """The value of a JavaScript expression (awaited when a promise)."""
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                           "awaitPromise": True})
        if "exceptionDetails" in r:
            raise BrowserError(f"{expr[:80]}: {r['exceptionDetails'].get('text')} "
                               f"{r['exceptionDetails'].get('exception', {}).get('description', '')}")
        return r["result"].get("value")

    def wait(self, expr, seconds):
        """Poll expr until it is truthy; its value, or None after seconds."""
        end = time.time() + seconds
        while True:
            try:
                v = self.eval(expr)
            except BrowserError:
                v = None
            if v:
                return v
            if time.time() > end:
                return None
            time.sleep(0.2)

    def goto(self, url, seconds=20):
        self.call("Page.navigate", {"url": url})
        time.sleep(0.1)
        self.wait("document.readyState === 'complete' && location.href !== 'about:blank'", seconds)
        return self.eval("location.href")

    def screenshot(self, path, width, height, dark=True):
        self.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": height,
                                                         "deviceScaleFactor": 1, "mobile": False})
        self.call("Emulation.setEmulatedMedia", {"features": [
            {"name": "prefers-color-scheme", "value": "dark" if dark else "light"}]})
        time.sleep(0.5)
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.call("Browser.close", session=False)
        except (BrowserError, OSError):
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self.w, self.r):
            try:
                os.close(fd)
            except OSError:
                pass
