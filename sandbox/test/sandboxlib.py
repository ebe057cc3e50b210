"""sandboxlib - shared helpers for billy-sandbox's TAP tests (Python 3 stdlib only).

Each test script starts its own sandbox on 127.0.0.1:0 and stops it on exit,
even on failure.  The binary comes from $BILLY_SANDBOX, else
sandbox/billy-sandbox relative to the repository root.
"""

import atexit
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from decimal import Decimal, ROUND_HALF_UP

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TODAY = "2025-06-30"


def binary():
    b = os.environ.get("BILLY_SANDBOX")
    if b:
        return b if os.path.isabs(b) else os.path.join(REPO, b)
    return os.path.join(REPO, "sandbox", "billy-sandbox")


_TAP = None


class Tap:
    """A minimal TAP producer: ok/is_, plan printed at the end."""

    def __init__(self):
        global _TAP
        self.n = 0
        self.failed = 0
        atexit.register(self._finish)
        _TAP = self

    def ok(self, cond, name, diag=None):
        self.n += 1
        cond = bool(cond)
        print(("ok %d - %s" if cond else "not ok %d - %s") % (self.n, name))
        if not cond:
            self.failed += 1
            if diag is not None:
                text = str(diag)
                if len(text) > 1500:
                    text = text[:1500] + " ..."
                for line in text.splitlines()[:40]:
                    print("#   " + line)
        sys.stdout.flush()
        return cond

    def is_(self, got, expected, name):
        return self.ok(got == expected, name, "got:      %r\nexpected: %r" % (got, expected))

    def note(self, msg):
        print("# " + msg)

    def _finish(self):
        print("1..%d" % self.n)
        sys.stdout.flush()


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


class Sandbox:
    """A running billy-sandbox; stopped at exit."""

    def __init__(self, *args, today=TODAY, seed=1, wait=60):
        self.args = ["--listen", "127.0.0.1:0", "--seed", str(seed)]
        if today:
            self.args += ["--today", today]
        self.args += [str(a) for a in args]
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([binary()] + self.args, stdout=subprocess.PIPE,
                                     stderr=self.stderr)
        atexit.register(self.stop)
        self.orgs = []
        deadline = time.time() + wait
        while True:
            line = self.proc.stdout.readline().decode("utf-8")
            if not line:
                raise RuntimeError("sandbox exited before ready: %s" % self.errors())
            fields = line.rstrip("\n").split("\t")
            if fields[0] == "organization":
                self.orgs.append({"id": fields[1], "token": fields[2], "baseUrl": fields[3],
                                  "name": fields[4]})
            elif fields[0] == "ready":
                self.base_url = fields[1]
                self.port = int(fields[2])
                break
            if time.time() > deadline:
                raise RuntimeError("sandbox not ready in time")
        self.token = self.orgs[0]["token"]
        self.org_id = self.orgs[0]["id"]

    def errors(self):
        self.stderr.seek(0)
        return self.stderr.read().decode("utf-8", "replace")

    def stop(self):
        """Stop the sandbox (SIGTERM); once, report whether it exited cleanly:
        status 0 and no sanitizer report on stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not getattr(self, "_reported", False) and _TAP is not None:
            self._reported = True
            err = self.errors()
            bad = re.findall(r"runtime error|AddressSanitizer|LeakSanitizer|ERROR SUMMARY: [1-9]", err)
            _TAP.ok(self.proc.returncode == 0 and not bad,
                    "sandbox (%s) exited cleanly" % " ".join(self.args[4:]) if len(self.args) > 4 else "sandbox exited cleanly",
                    "exit %s\n%s" % (self.proc.returncode, err[-1500:]))
        return self.proc.returncode

    def request(self, method, path, body=None, token=None, raw=None, headers=None, timeout=30,
                auth=True):
        """path is relative to the host (e.g. /v2/invoices?page=2)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = dict(headers or {})
        if auth:
            h["X-Access-Token"] = token or self.token
        data = None
        if raw is not None:
            data = raw if isinstance(raw, bytes) else raw.encode("utf-8")
        elif body is not None:
            data = json.dumps(body).encode("utf-8")
        if data is not None:
            h.setdefault("Content-Type", "application/json")
        try:
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            out = Response(r.status, r.getheaders(), r.read())
        finally:
            conn.close()
        return out

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def api(self, method, path, body=None, token=None):
        """A /v2 call that must succeed; returns the decoded JSON."""
        r = self.request(method, "/v2" + path, body=body, token=token)
        if r.status != 200:
            raise AssertionError("%s %s -> %d %s" % (method, path, r.status, r.body[:500]))
        return r.json()

    def list_all(self, resource, query="", token=None):
        out, page = [], 1
        while True:
            sep = "&" if query else ""
            d = self.api("GET", "/%s?%s%spage=%d&pageSize=1000" % (resource, query, sep, page),
                         token=token)
            out += d[resource]
            if page >= d["meta"]["paging"]["pageCount"]:
                return out
            page += 1

    def control(self, method, path, body=None):
        r = self.request(method, "/_sandbox/" + path, body=body, auth=False)
        if r.status != 200:
            raise AssertionError("%s /_sandbox/%s -> %d %s" % (method, path, r.status, r.body[:500]))
        return r.json()

    def dump(self, resource=None, org=None):
        q = "org=" + (org or self.org_id)
        if resource:
            q += "&resource=" + resource
        return self.control("GET", "dump?" + q)


def money(x):
    """A JSON money value as exact Decimal (2 decimals)."""
    return Decimal(str(x)).quantize(Decimal("0.01"))


def round2(d):
    """Round half away from zero to 2 decimals (Billy's round2)."""
    q = Decimal("0.01")
    if d >= 0:
        return d.quantize(q, rounding=ROUND_HALF_UP)
    return -((-d).quantize(q, rounding=ROUND_HALF_UP))


def billy_totals(lines, tax_mode):
    """Independent implementation of Billy's invoice-total algorithm.

    lines: dicts with quantity, unitPrice, rate, discountMode, discountValue.
    Returns (amount, tax, gross, per-line (amount, tax)).
    """
    total_la = Decimal(0)
    tax_sum = Decimal(0)
    per = []
    for ln in lines:
        q = Decimal(str(ln.get("quantity", 1)))
        p = Decimal(str(ln["unitPrice"]))
        r = Decimal(str(ln["rate"]))
        la = round2(q * p)
        mode = ln.get("discountMode")
        if mode == "percent":
            la = round2(la * (1 - Decimal(str(ln["discountValue"])) / 100))
        elif mode == "cash":
            la = round2(la - Decimal(str(ln["discountValue"])))
        lt = la * r if tax_mode == "excl" else la * r / (1 + r)
        total_la += la
        tax_sum += lt
        lt2 = round2(lt)
        per.append((la if tax_mode == "excl" else la - lt2, lt2))
    tax = round2(tax_sum)
    amount = total_la if tax_mode == "excl" else total_la - tax
    return amount, tax, amount + tax, per


def main(fn):
    """Run a test body; an exception becomes a failed test, not a crash."""
    tap = Tap()
    try:
        fn(tap)
    except Exception:
        tap.ok(False, "test script raised", traceback.format_exc())
    sys.exit(1 if tap.failed else 0)
