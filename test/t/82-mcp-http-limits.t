#!/usr/bin/env python3
# billy-mcp-bridge --http before authentication (issue 15): a request with a
# foreign Host, a foreign Origin or no token is refused on its headers, before
# any body byte is read, so many unauthenticated connections sending bodies
# do not grow the bridge's memory (VmRSS from /proc); bodies that are let in
# share one cap (--max-buffered, 503 beyond it); Host is parsed strictly; and
# a message PostgreSQL refuses as JSON (\u0000 in a string) is answered with
# its id, over HTTP and over stdio.
import json
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mcp_tap import BRIDGE, Stdio, bridge_env, done, is_, login_role, ok, plan  # noqa: E402

plan(24)

ROLE = "mcp_limits_t"
TOKEN = "t0ken-for-the-limit-tests-0123456789"
work = os.environ.get("BILLY_WORK", "/tmp")
MB = 1024 * 1024


cleanup = login_role(ROLE)
token_file = os.path.join(work, "mcp-limits-token")
with open(token_file, "w") as f:
    f.write(TOKEN + "\n")

p = subprocess.Popen([BRIDGE, "--http", "127.0.0.1:0", "--token-file", token_file, "--pool", "2",
                      "--max-body", str(4 * MB), "--max-buffered", str(8 * MB)],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=bridge_env(ROLE))
line = p.stdout.readline()
port = int(line.rsplit(":", 1)[1].split("/")[0]) if line.startswith("listening") else None
ok(port is not None, "the bridge listens", line)


def rss_kb():
    with open(f"/proc/{p.pid}/status") as f:
        for row in f:
            if row.startswith("VmRSS:"):
                return int(row.split()[1])
    return 0


def head(host=None, token=None, length=0, origin=None):
    h = [f"POST /mcp HTTP/1.1", f"Host: {host or f'127.0.0.1:{port}'}", "Content-Type: application/json",
         f"Content-Length: {length}"]
    if token:
        h.append(f"Authorization: Bearer {token}")
    if origin:
        h.append(f"Origin: {origin}")
    return ("\r\n".join(h) + "\r\n\r\n").encode()


def status_of(sock, timeout=20):
    """The HTTP status of the response on sock (0 when none came)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    try:
        return int(data.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0


def exchange(host=None, token=TOKEN, body=b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}', origin=None):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(head(host, token, len(body), origin) + body)
    st = status_of(s)
    s.close()
    return st


def ping_body(size):
    pad = size - len('{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"pad": ""}}')
    return ('{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"pad": "%s"}}' % ("x" * pad)).encode()


is_(exchange(), 200, "a request with the token: 200")
time.sleep(0.3)
base = rss_kb()

# 100 connections without the token (or with a foreign Host or Origin), each
# announcing and sending a 3.5 MB body: each is refused on its headers
BODY = 3 * MB + MB // 2
chunk = b"x" * (256 * 1024)
socks = []
for i in range(100):
    s = socket.create_connection(("127.0.0.1", port))
    kind = i % 4
    s.sendall(head(token=None if kind == 0 else ("wrong-" + TOKEN if kind == 1 else TOKEN),
                   host="evil.example" if kind == 2 else None,
                   origin="https://evil.example" if kind == 3 else None, length=BODY))
    socks.append((kind, s))


def pour(s):
    s.settimeout(10)
    sent = 0
    try:
        while sent < BODY:
            s.sendall(chunk)
            sent += len(chunk)
    except OSError:
        pass


threads = [threading.Thread(target=pour, args=(s,)) for _, s in socks]
for t in threads:
    t.start()
for t in threads:
    t.join(60)
peak = rss_kb()
statuses = {}
for kind, s in socks:
    statuses.setdefault(kind, set()).add(status_of(s))
    s.close()
is_(statuses.get(0), {401}, "no token: 401, on the headers")
is_(statuses.get(1), {401}, "a wrong token: 401")
is_(statuses.get(2), {403}, "a foreign Host: 403")
is_(statuses.get(3), {403}, "a foreign Origin: 403")
ok(peak - base < 20 * 1024, f"100 refused connections sending 350 MB of bodies did not grow the bridge (VmRSS {base} kB -> {peak} kB)",
   f"grew by {peak - base} kB")

# a Content-Length over --max-body: 413 before the body
s = socket.create_connection(("127.0.0.1", port))
s.sendall(head(token=TOKEN, length=5 * MB))
is_(status_of(s), 413, "a declared body over --max-body: 413 on the headers")
s.close()

# bodies that are let in share --max-buffered (8 MB): 12 connections of
# 3.5 MB each, held open halfway through, cannot all be buffered
base = rss_kb()
held = []
for i in range(12):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(head(token=TOKEN, length=BODY))
    s.sendall(ping_body(BODY)[:3 * MB])
    held.append(s)
time.sleep(1.0)
peak = rss_kb()
ok(peak - base < 30 * 1024, f"12 authorized bodies of 3.5 MB held open: the bridge holds at most --max-buffered (VmRSS {base} kB -> {peak} kB)",
   f"grew by {peak - base} kB")
for s in held:
    s.sendall(ping_body(BODY)[3 * MB:])
codes = sorted(status_of(s) for s in held)
for s in held:
    s.close()
ok(codes.count(503) >= 8 and codes.count(200) >= 1 and set(codes) <= {200, 503},
   "those over the cap get 503 (send again), the others are served", codes)
is_(exchange(), 200, "and afterwards the bridge serves as before")

# Host, strictly
for bad in [f"127.0.0.1:{port}abc", f"[::1]evil:{port}", f"127.0.0.1:{port + 1}", "127.0.0.1:", f"127.0.0.1:+{port}",
            f"localhost:{port}:{port}", f"127.0.0.1.evil.example:{port}", f"127.0.0.1 :{port}"]:
    is_(exchange(host=bad), 403, f"Host {bad!r}: 403")
ok(all(exchange(host=good) == 200 for good in [f"127.0.0.1:{port}", "localhost", f"[::1]:{port}", f"LOCALHOST:{port}"]),
   "an allowed name, with or without the port: 200")

# \u0000: JSON the bridge reads but PostgreSQL refuses gets its id back
nul = b'{"jsonrpc": "2.0", "id": 77, "method": "tools/call", "params": {"name": "get_invoice", "arguments": {"id": "a\\u0000b"}}}'
s = socket.create_connection(("127.0.0.1", port))
s.sendall(head(token=TOKEN, length=len(nul)) + nul)
s.settimeout(20)
data = b""
while True:
    try:
        c = s.recv(65536)
    except OSError:
        break
    if not c:
        break
    data += c
    if b"\r\n\r\n" in data and data.rstrip().endswith(b"}"):
        break
s.close()
answer = json.loads(data.split(b"\r\n\r\n", 1)[1]) if b"\r\n\r\n" in data else {}
ok(answer.get("id") == 77 and answer.get("error", {}).get("code") == -32700 and "\\u0000" in answer["error"]["message"],
   "HTTP: a message with \\u0000 gets -32700 with its id and what to leave out", data[-300:])
p.terminate()
ok(p.wait(10) == 0, "SIGTERM: exit 0")

io = Stdio(bridge_env(ROLE))
io.send(nul)
answer = io.recv(20)
ok(answer is not None and answer.get("id") == 77 and answer.get("error", {}).get("code") == -32700,
   "stdio: the same, answered with its id (a client waits for that id)", answer)
io.send(b'{"jsonrpc": "2.0", "id": 78, "method": "ping"')
answer = io.recv(20)
ok(answer is not None and answer.get("id") is None and answer.get("error", {}).get("code") == -32700,
   "text that is not JSON at all: -32700 with id null, as JSON-RPC 2.0 says", answer)
io.p.stdin.close()
io.p.wait(10)

os.unlink(token_file)
cleanup()
done()
