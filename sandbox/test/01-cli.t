#!/usr/bin/env python3
# billy-sandbox command line: ready protocol, --help, refusing non-loopback
# addresses, bad options, clean exit on SIGTERM and SIGINT.
import os
import re
import select
import signal
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sandboxlib import Sandbox, binary, main


def run(args, timeout=20):
    p = subprocess.run([binary()] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def body(t):
    rc, out, err = run(["--help"])
    t.is_(rc, 0, "--help exits 0")
    t.ok("--listen" in out and "--bank-payments" in out and "--today" in out, "--help lists the options")

    for addr in ["0.0.0.0:0", "10.1.2.3:8080", "192.168.0.1:0", "[::1]:0", "example.com:80", "::", "8080"]:
        rc, out, err = run(["--listen", addr, "--invoices", "5"])
        t.ok(rc == 2 and out == "" and "loopback" in err, "--listen %s is refused (exit 2, stderr says why)" % addr,
             "rc=%d out=%r err=%r" % (rc, out, err))

    rc, out, err = run(["--invoices", "lots"])
    t.ok(rc == 2 and "--invoices" in err, "a bad number is refused with exit 2")
    rc, out, err = run(["--today", "2025-02-30"])
    t.ok(rc == 2 and "--today" in err, "an impossible --today is refused")
    rc, out, err = run(["--no-such-option"])
    t.is_(rc, 2, "an unknown option exits 2")

    # the ready protocol, with two organizations on an explicit loopback address
    s = Sandbox("--orgs", "2", "--invoices", "30", "--contacts", "12", "--bills", "10")
    t.is_(len(s.orgs), 2, "one organization line per organization")
    line_re = re.compile(r"^[A-Za-z0-9_-]{22}$")
    t.ok(all(line_re.match(o["id"]) for o in s.orgs), "organization ids are 22-character base64url")
    t.ok(all(re.match(r"^[0-9a-f]{40}$", o["token"]) for o in s.orgs), "tokens are 40 hex digits")
    t.ok(len({o["token"] for o in s.orgs}) == 2 and len({o["id"] for o in s.orgs}) == 2,
         "organizations have distinct ids and tokens")
    t.is_(s.base_url, "http://127.0.0.1:%d/v2" % s.port, "ready line carries baseUrl and port")
    t.ok(all(o["baseUrl"] == s.base_url for o in s.orgs), "organization lines carry the baseUrl")
    t.ok(s.orgs[0]["name"] != s.orgs[1]["name"], "organizations have different names")
    ready, _, _ = select.select([s.proc.stdout], [], [], 0.3)
    t.ok(not ready, "nothing else is written to stdout")
    r = s.get("/v2/organization", token=s.orgs[1]["token"])
    t.is_(r.json()["organization"]["id"], s.orgs[1]["id"], "the second token reaches the second organization")
    s.proc.send_signal(signal.SIGTERM)
    t.is_(s.proc.wait(10), 0, "SIGTERM: clean exit 0")

    s = Sandbox("--invoices", "10", today=None)
    s.proc.send_signal(signal.SIGINT)
    t.is_(s.proc.wait(10), 0, "SIGINT: clean exit 0 (and --today is optional)")

    # an explicit port and another 127/8 address
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    p = subprocess.Popen([binary(), "--listen", "127.0.0.2:%d" % port, "--invoices", "5", "--today", "2025-01-15"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    lines = [p.stdout.readline().decode(), p.stdout.readline().decode()]
    t.is_(lines[1].rstrip("\n").split("\t"), ["ready", "http://127.0.0.2:%d/v2" % port, str(port)],
          "--listen 127.0.0.2:PORT listens there")
    p.terminate()
    t.is_(p.wait(10), 0, "terminated cleanly")

    rc, out, err = run(["--listen", "localhost:0", "--invoices", "1", "--help"])
    t.is_(rc, 0, "localhost is accepted as a loopback name")


main(body)
