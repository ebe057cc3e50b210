#!/usr/bin/env python3
# billy-mcp-bridge --http: stateless Streamable HTTP.  POST /mcp answers a
# request with 200 and JSON, a notification with 202; GET and DELETE get 405;
# a foreign Host or Origin 403; no or a wrong bearer token 401; an unknown
# MCP-Protocol-Version 400; not JSON 400 (-32700); a batch 400 (-32600); a
# body over the cap 413; Accept is not checked; no session ids; /healthz and
# /metrics; without a token on loopback no authorization is asked.  The
# modern era (2026-07-28) on the same endpoint: the MCP-Protocol-Version,
# Mcp-Method and Mcp-Name headers checked against the body (400, -32020), an
# unknown method 404 (-32601), an unsupported version 400 (-32022), a missing
# _meta envelope 400 (-32602), tool errors in band (200).
import base64
import http.client
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mcp_tap import BRIDGE, bridge_env, done, is_, ok, plan, psql  # noqa: E402

plan(49)

ROLE = "mcp_http_t"
TOKEN = "t0ken-for-the-http-tests-0123456789"
work = os.environ.get("BILLY_WORK", "/tmp")


def cleanup():
    psql(f"DELETE FROM billy.organization_grants WHERE role = '{ROLE}'")
    psql(f"""DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}') THEN
                 EXECUTE 'DROP OWNED BY {ROLE}'; EXECUTE 'DROP ROLE {ROLE}'; END IF; END $$""")


cleanup()
psql(f"CREATE ROLE {ROLE} LOGIN IN ROLE billy_mcp")
psql("SELECT billy.connect(billy_test.token(1))")
psql(f"SELECT billy.grant_organization('{ROLE}', billy_test.org(1))")
token_file = os.path.join(work, "mcp-http-token")
with open(token_file, "w") as f:
    f.write(TOKEN + "\n")


def start(*args, env_extra=None):
    p = subprocess.Popen([BRIDGE, "--http", "127.0.0.1:0", "--max-body", "65536", *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=bridge_env(ROLE, **(env_extra or {})))
    line = p.stdout.readline()
    port = int(line.rsplit(":", 1)[1].split("/")[0]) if line.startswith("listening") else None
    return p, port, line


p, port, line = start("--token-file", token_file, "--allow-origin", "https://app.example")
ok(port is not None, "the bridge says where it listens", line)

AUTH = {"Authorization": "Bearer " + TOKEN}
JSON = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


def req(method, path="/mcp", body=None, headers=None, host=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    h = dict(headers or {})
    if host is not None:
        c.putrequest(method, path, skip_host=True)
        c.putheader("Host", host)
        for k, v in h.items():
            c.putheader(k, v)
        data = body.encode() if isinstance(body, str) else body
        if data is not None:
            c.putheader("Content-Length", str(len(data)))
        c.endheaders(data)
    else:
        c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read().decode(errors="replace")
    c.close()
    return r.status, dict(r.getheaders()), data


def rpc(id, method, params=None, headers=None):
    msg = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        msg["params"] = params
    return req("POST", body=json.dumps(msg), headers={**JSON, **AUTH, **(headers or {})})


s, h, b = rpc(0, "initialize", {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}})
ok(s == 200 and h.get("Content-Type") == "application/json" and json.loads(b)["id"] == 0, "initialize: 200 with one JSON response", (s, h, b))
is_(json.loads(b)["result"]["capabilities"], {"tools": {"listChanged": False}, "prompts": {"listChanged": False},
    "resources": {"subscribe": False, "listChanged": False}}, "stateless HTTP declares listChanged false (tools, and resources and prompts, which never change)")
ok(not any(k.lower() == "mcp-session-id" for k in h), "no session id is minted")
s, h, b = req("POST", body='{"jsonrpc": "2.0", "method": "notifications/initialized"}', headers={**JSON, **AUTH})
ok(s == 202 and b == "", "a notification: 202 and no body", (s, b))
s, h, b = req("POST", body='{"jsonrpc": "2.0", "id": 5, "result": {}}', headers={**JSON, **AUTH})
is_(s, 202, "a response from the client: 202")
s, h, b = rpc(1, "tools/list", headers={"Mcp-Session-Id": "stray", "MCP-Protocol-Version": "2025-06-18"})
ok(s == 200 and "get_sync_status" in b, "tools/list with a supported MCP-Protocol-Version and a stray session id", (s, b[:200]))
s, h, b = rpc(2, "tools/call", {"name": "get_organization_settings", "arguments": {}})
ok(s == 200 and json.loads(b)["result"]["structuredContent"]["organizations"][0]["id"] == psql("SELECT billy_test.org(1)"),
   "tools/call runs the tool as the bridge's role", b[:300])
s, h, b = rpc(3, "ping", headers={"Accept": "text/event-stream"})
is_(s, 200, "Accept is not checked (clients send either type alone)")
s, h, b = rpc(4, "ping", headers={"Accept": "text/html"})
is_(s, 200, "not even a wrong one")

# refusals
s, h, b = rpc(5, "ping", headers={"MCP-Protocol-Version": "2099-01-01"})
ok(s == 400 and json.loads(b)["error"]["code"] == -32600, "an unknown MCP-Protocol-Version: 400", (s, b))
s, h, b = req("GET", headers=AUTH)
ok(s == 405 and h.get("Allow") == "POST", "GET /mcp: 405 (no server stream)", (s, h))
s, h, b = req("DELETE", headers=AUTH)
is_(s, 405, "DELETE /mcp: 405 (no sessions)")
s, h, b = req("POST", body="{not json", headers={**JSON, **AUTH})
ok(s == 400 and json.loads(b)["error"]["code"] == -32700, "not JSON: 400 with -32700", (s, b))
s, h, b = req("POST", body='[{"jsonrpc": "2.0", "id": 1, "method": "ping"}]', headers={**JSON, **AUTH})
ok(s == 400 and json.loads(b)["error"]["code"] == -32600, "a batch: 400 with -32600", (s, b))
s, h, b = req("POST", body='"ping"', headers={**JSON, **AUTH})
is_(s, 400, "a JSON value that is not an object: 400")
big = json.dumps({"jsonrpc": "2.0", "id": 9, "method": "ping", "params": {"pad": "x" * 70000}})
s, h, b = req("POST", body=big, headers={**JSON, **AUTH})
is_(s, 413, "a body over --max-body: 413")
s, h, b = req("POST", body='{"jsonrpc": "2.0", "id": 1, "method": "ping"}', headers=JSON)
ok(s == 401 and "Bearer" in h.get("WWW-Authenticate", ""), "no bearer token: 401 with WWW-Authenticate", (s, h))
s, h, b = req("POST", body='{"jsonrpc": "2.0", "id": 1, "method": "ping"}', headers={**JSON, "Authorization": "Bearer " + TOKEN[:-1] + "X"})
is_(s, 401, "a wrong token: 401")
s, h, b = req("POST", body='{"jsonrpc": "2.0", "id": 1, "method": "ping"}', headers={**JSON, **AUTH}, host="evil.example.com")
is_(s, 403, "a foreign Host (DNS rebinding): 403")
s, h, b = req("POST", body='{"jsonrpc": "2.0", "id": 1, "method": "ping"}', headers={**JSON, **AUTH}, host=f"localhost:{port + 1}")
is_(s, 403, "our name with another port: 403")
s, h, b = req("POST", body='{"jsonrpc": "2.0", "id": 1, "method": "ping"}', headers={**JSON, **AUTH, "Origin": "http://evil.example.com"})
is_(s, 403, "a foreign Origin: 403")
s, h, b = req("POST", body='{"jsonrpc": "2.0", "id": 1, "method": "ping"}', headers={**JSON, **AUTH, "Origin": "https://app.example"}, host=f"localhost:{port}")
is_(s, 200, "an allowed Origin and Host localhost:PORT: 200")
s, h, b = req("POST", "/other", body="{}", headers={**JSON, **AUTH})
is_(s, 404, "another path: 404")

# the modern era: _meta in the body, the headers mirroring it
MODERN = "2026-07-28"
META = {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "0"}}


def modern(id, method, params=None, headers=None, meta=META, name=None, omit=()):
    """A 2026-07-28 request: the envelope in params._meta, the standard headers
    (MCP-Protocol-Version, Mcp-Method, and Mcp-Name when name is given) unless
    omitted; headers override."""
    msg = {"jsonrpc": "2.0", "id": id, "method": method, "params": {**(params or {}), "_meta": meta}}
    h = {**JSON, **AUTH, "MCP-Protocol-Version": MODERN, "Mcp-Method": method}
    if name is not None:
        h["Mcp-Name"] = name
    for k in omit:
        del h[k]
    s, hd, b = req("POST", body=json.dumps(msg), headers={**h, **(headers or {})})
    try:
        return s, hd, json.loads(b)
    except ValueError:
        return s, hd, b


def code(b):
    return b.get("error", {}).get("code") if isinstance(b, dict) else None


s, h, b = modern("server-discover-probe-1", "server/discover")
ok(s == 200 and b["id"] == "server-discover-probe-1" and b["result"]["resultType"] == "complete"
   and b["result"]["supportedVersions"][0] == MODERN and not any(k.lower() == "mcp-session-id" for k in h),
   "modern server/discover: 200, resultType complete, 2026-07-28 first, no session", (s, b))
s, h, b = modern(40, "tools/list")
ok(s == 200 and b["result"]["cacheScope"] == "private" and b["result"]["ttlMs"] == 60000
   and "get_sync_status" in [t["name"] for t in b["result"]["tools"]], "modern tools/list: 200 with ttlMs and cacheScope", (s, b))
s, h, b = modern(41, "tools/call", {"name": "get_organization_settings", "arguments": {}}, name="get_organization_settings")
ok(s == 200 and b["result"]["resultType"] == "complete"
   and b["result"]["structuredContent"]["organizations"][0]["id"] == psql("SELECT billy_test.org(1)"),
   "modern tools/call with Mcp-Name: 200 and the structured result", (s, b))
s, h, b = modern(42, "tools/call", {"name": "get_organization_settings", "arguments": {}},
                 name="=?base64?" + base64.b64encode(b"get_organization_settings").decode() + "?=")
ok(s == 200 and "structuredContent" in b.get("result", {}), "Mcp-Name as =?base64?...?= is decoded before it is compared", (s, b))
s, h, b = modern(43, "tools/call", {"name": "get_sync_status", "arguments": {"organization": 5}}, name="get_sync_status")
ok(s == 200 and b["result"]["isError"] is True, "a bad argument: an isError result, 200", (s, b))
s, h, b = modern(44, "tools/call", {"name": "no_such_tool", "arguments": {}}, name="no_such_tool")
ok(s == 200 and code(b) == -32602, "an unknown tool: -32602 in band, 200", (s, b))

# header mismatches: 400, -32020, and nothing runs
s, h, b = modern(45, "tools/list", headers={"Mcp-Method": "tools/call"})
ok(s == 400 and code(b) == -32020 and b["id"] == 45, "Mcp-Method naming another method: 400, -32020", (s, b))
s, h, b = modern(46, "tools/list", omit=("Mcp-Method",))
ok(s == 400 and code(b) == -32020, "no Mcp-Method: 400, -32020", (s, b))
s, h, b = modern(47, "tools/call", {"name": "get_sync_status", "arguments": {}}, name="get_organization_settings")
ok(s == 400 and code(b) == -32020, "Mcp-Name naming another tool: 400, -32020", (s, b))
s, h, b = modern(48, "tools/call", {"name": "get_sync_status", "arguments": {}})
ok(s == 400 and code(b) == -32020, "no Mcp-Name on a tools/call: 400, -32020", (s, b))
s, h, b = modern(49, "tools/call", {"name": "get_sync_status", "arguments": {}}, name="=?base64?not*base64?=")
ok(s == 400 and code(b) == -32020, "an Mcp-Name that is not valid base64: 400, -32020", (s, b))
s, h, b = modern(50, "tools/list", omit=("MCP-Protocol-Version",))
ok(s == 400 and code(b) == -32020, "no MCP-Protocol-Version on a modern request: 400, -32020", (s, b))
s, h, b = modern(51, "tools/list", headers={"MCP-Protocol-Version": "2025-11-25"})
ok(s == 400 and code(b) == -32020, "MCP-Protocol-Version other than _meta's: 400, -32020", (s, b))

# what billy.mcp refuses, with the status the revision gives it
s, h, b = modern(52, "ping")
ok(s == 404 and code(b) == -32601, "a method 2026-07-28 does not have (ping): 404, -32601", (s, b))
s, h, b = modern(53, "tools/list", headers={"MCP-Protocol-Version": "2099-01-01"},
                 meta={**META, "io.modelcontextprotocol/protocolVersion": "2099-01-01"})
ok(s == 400 and code(b) == -32022 and MODERN in b["error"]["data"]["supported"]
   and b["error"]["data"]["requested"] == "2099-01-01", "an unsupported version: 400, -32022 with data.supported", (s, b))
s, h, b = modern(54, "tools/list", meta={"io.modelcontextprotocol/protocolVersion": MODERN})
ok(s == 400 and code(b) == -32602, "_meta without clientCapabilities: 400, -32602", (s, b))
s, h, b = rpc(55, "tools/list", headers={"MCP-Protocol-Version": MODERN})
ok(s == 400 and code(json.loads(b)) == -32602, "the modern header on a request without _meta: 400, -32602", (s, b))
s, h, b = rpc(0, "initialize", {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
              headers={"MCP-Protocol-Version": MODERN})
ok(s == 400 and code(json.loads(b)) == -32020, "initialize under the modern header: 400, -32020", (s, b))
s, h, b = req("POST", body=json.dumps({"jsonrpc": "2.0", "method": "notifications/cancelled",
                                       "params": {"requestId": 1, "_meta": META}}),
              headers={**JSON, **AUTH, "MCP-Protocol-Version": MODERN, "Mcp-Method": "notifications/cancelled"})
ok(s == 202 and b == "", "a modern notification: 202 and no body", (s, b))

# health and metrics
s, h, b = req("GET", "/healthz")
ok(s == 200 and json.loads(b) == {"status": "ok"}, "/healthz: 200 when PostgreSQL answers", (s, b))
s, h, b = req("GET", "/metrics")
is_(s, 401, "/metrics wants the token")
s, h, b = req("GET", "/metrics", headers=AUTH)
ok(s == 200 and h.get("Content-Type", "").startswith("text/plain; version=0.0.4") and "billy_worker_up 1" in b
   and "# TYPE billy_sync_lag_seconds gauge" in b, "/metrics: billy.metrics() in the Prometheus text format", (s, h, b[:300]))
p.terminate()
ok(p.wait(10) == 0, "SIGTERM: exit 0")

# on loopback without a token nothing is asked
p, port, line = start(env_extra={"BILLY_MCP_TOKEN": ""})
s, h, b = req("POST", body='{"jsonrpc": "2.0", "id": "x", "method": "ping"}', headers=JSON)
is_((s, json.loads(b) if s == 200 else b), (200, {"jsonrpc": "2.0", "id": "x", "result": {}}), "loopback without a token: served")
p.terminate()
p.wait(10)

# a short token is refused at start
with open(token_file, "w") as f:
    f.write("short\n")
r = subprocess.run([BRIDGE, "--http", "127.0.0.1:0", "--token-file", token_file], capture_output=True, text=True, env=bridge_env(ROLE))
ok(r.returncode == 1 and "16 characters" in r.stderr, "a token shorter than 16 characters is refused", r.stderr)
os.unlink(token_file)
cleanup()
done()
