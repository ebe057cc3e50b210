#!/usr/bin/env python3
# billy-mcp-bridge on stdio: --help and exit codes, stdout carries protocol
# only (libpq notices go to stderr), malformed input gets -32700 and the
# bridge keeps running, notifications get nothing, notifications/cancelled
# cancels the running query, a lost connection gets -32603 and the bridge
# reconnects, a registry change sends notifications/tools/list_changed, EOF
# and SIGTERM exit 0.  Both eras in one process: after initialize, requests
# with 2026-07-28 _meta are served statelessly beside legacy ones; a process
# that only ever sees modern requests gets no list_changed (that needs
# initialize).  The bridge logs in as a billy_mcp member.
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mcp_tap import BRIDGE, Stdio, bridge_env, done, is_, ok, plan, psql  # noqa: E402

plan(42)

ROLE = "mcp_bridge_t"


def cleanup():
    psql("DELETE FROM billy.mcp_tools WHERE name IN ('t_noisy', 't_sleep', 't_added', 't_big')")
    psql(f"DELETE FROM billy.organization_grants WHERE role = '{ROLE}'")
    psql(f"""DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}') THEN
                 EXECUTE 'DROP OWNED BY {ROLE}'; EXECUTE 'DROP ROLE {ROLE}'; END IF; END $$""")


cleanup()
psql(f"CREATE ROLE {ROLE} LOGIN IN ROLE billy_mcp")
psql("SELECT billy.connect(billy_test.token(1))")
psql(f"SELECT billy.grant_organization('{ROLE}', billy_test.org(1))")

# test tools: one that talks on the notice channel, one that sleeps
psql("""CREATE OR REPLACE FUNCTION billy_test.mcp_noisy() RETURNS jsonb LANGUAGE plpgsql AS $$
        BEGIN RAISE NOTICE 'a notice from the tool'; RAISE WARNING 'a warning too'; RETURN '{"said": "hello"}'; END $$""")
psql("""CREATE OR REPLACE FUNCTION billy_test.mcp_sleep(seconds numeric) RETURNS jsonb LANGUAGE sql AS $$
        SELECT jsonb_build_object('slept', seconds) FROM pg_sleep(seconds) $$""")
psql("""CREATE OR REPLACE FUNCTION billy_test.mcp_big(n integer) RETURNS jsonb LANGUAGE sql AS $$
        SELECT jsonb_build_object('big', repeat('x', n)) $$""")
psql(f"GRANT EXECUTE ON FUNCTION billy_test.mcp_noisy(), billy_test.mcp_sleep(numeric), billy_test.mcp_big(integer) TO {ROLE}")
psql("""DELETE FROM billy.mcp_tools WHERE name IN ('t_noisy', 't_sleep', 't_added', 't_big')""")
psql("""INSERT INTO billy.mcp_tools (name, title, description, input_schema, function, annotations, sort_order) VALUES
        ('t_noisy', 'Noisy', 'Raises notices.', '{"type": "object"}', 'billy_test.mcp_noisy', '{"readOnlyHint": true}', 9000),
        ('t_sleep', 'Sleep', 'Sleeps.', '{"type": "object", "properties": {"seconds": {"type": "number"}}}',
         'billy_test.mcp_sleep', '{"readOnlyHint": true}', 9001),
        ('t_big', 'Big', 'Answers n characters.', '{"type": "object", "properties": {"n": {"type": "integer"}}}',
         'billy_test.mcp_big', '{"readOnlyHint": true}', 9003)""")

# --help, --version, exit codes
r = subprocess.run([BRIDGE, "--help"], capture_output=True, text=True)
ok(r.returncode == 0 and "Exit status" in r.stdout and "--http" in r.stdout, "--help explains the options and exit codes")
r = subprocess.run([BRIDGE, "--version"], capture_output=True, text=True)
ok(r.returncode == 0 and r.stdout.startswith("billy-mcp-bridge "), "--version")
r = subprocess.run([BRIDGE, "--no-such-option"], capture_output=True, text=True)
is_(r.returncode, 1, "an unknown option exits 1")
r = subprocess.run([BRIDGE, "--http", "localhost:80"], capture_output=True, text=True)
is_(r.returncode, 1, "--http wants a numeric address (no name lookups) and exits 1 otherwise")
r = subprocess.run([BRIDGE, "--http", "0.0.0.0:0"], capture_output=True, text=True, env=bridge_env(BILLY_MCP_TOKEN=""))
ok(r.returncode == 1 and "bearer token" in r.stderr, "listening beyond loopback without a token is refused (exit 1)")
r = subprocess.run([BRIDGE], input="", capture_output=True, text=True, env=bridge_env(PGHOST="/nonexistent"), timeout=30)
ok(r.returncode == 2 and r.stdout == "" and "cannot connect" in r.stderr, "PostgreSQL unreachable at start: exit 2, nothing on stdout",
   r.stderr)
r = subprocess.run([BRIDGE], input="", capture_output=True, text=True, env=bridge_env(PGDATABASE="postgres"), timeout=30)
ok(r.returncode == 3 and "CREATE EXTENSION billy" in r.stderr, "a database without billy: exit 3 with what to do", r.stderr)

# a session
b = Stdio(bridge_env(ROLE))
r = b.call(0, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                             "clientInfo": {"name": "tap", "version": "0"}})
ok(r and r.get("id") == 0 and r["result"]["protocolVersion"] == "2025-06-18", "initialize with id 0 is answered with id 0", r)
ok(r and r["result"]["capabilities"]["tools"]["listChanged"] is True, "stdio declares tools.listChanged")
b.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
b.send("")
b.send("this is not json")
r = b.recv()
ok(r and r.get("id") is None and r["error"]["code"] == -32700, "malformed input gets -32700 with id null", r)
r = b.call("after-garbage", "ping")
is_(r, {"jsonrpc": "2.0", "id": "after-garbage", "result": {}}, "the bridge keeps running (and the notification got no answer)")
b.send('{"jsonrpc": "2.0", "id": 3, "method": "ping"')
r = b.recv()
ok(r and r["error"]["code"] == -32700, "a truncated message gets -32700", r)
b.send('[{"jsonrpc": "2.0", "id": 4, "method": "ping"}]')
r = b.recv()
ok(r and r["error"]["code"] == -32600, "a batch gets -32600", r)
b.send('{"jsonrpc": "2.0", "id": 5, "method": "ping"}\r')
r = b.recv()
is_(r, {"jsonrpc": "2.0", "id": 5, "result": {}}, "a CRLF line ending is accepted")

r = b.call(6, "tools/list")
names = [t["name"] for t in r["result"]["tools"]] if r and "result" in r else []
ok("get_sync_status" in names and "t_noisy" in names and "sync_billy_data" not in names,
   "tools/list shows the reading tools and hides the writing ones from a billy_mcp role", names)

r = b.call(7, "tools/call", {"name": "t_noisy", "arguments": {}})
ok(r and r["result"]["structuredContent"] == {"said": "hello"}, "a tool that raises notices answers", r)
r = b.call(8, "tools/call", {"name": "get_sync_status", "arguments": {"organization": "no such organization"}})
ok(r and r["result"]["isError"] is True and "42704" in r["result"]["content"][0]["text"], "a SQL error is an isError result", r)

# an answer many times a pipe's buffer, read slowly: it arrives whole, one
# line with its newline (the bridge writes a line and its newline at once),
# and the next answer is a line of its own
g = Stdio(bridge_env(ROLE, PGOPTIONS="-c billy.mcp_max_bytes=8000000"))
g.send({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "t_big", "arguments": {"n": 3000000}}})
g.send({"jsonrpc": "2.0", "id": 2, "method": "ping"})
time.sleep(1)
r1 = g.recv(30)
r2 = g.recv(10)
g.close()
ok(r1 and r1.get("id") == 1 and len(r1["result"]["structuredContent"]["big"]) == 3000000,
   "an answer of 6 MB arrives whole on one line", r1 if r1 is None or "not_json" in r1 else r1.get("id"))
is_(r2, {"jsonrpc": "2.0", "id": 2, "result": {}}, "and the next answer is the next line")

# the modern era in the same process: _meta makes a request stateless 2026-07-28
META = {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}
r = b.call("server-discover-probe-1", "server/discover", {"_meta": META})
ok(r and r["id"] == "server-discover-probe-1" and r["result"]["resultType"] == "complete"
   and r["result"]["supportedVersions"][0] == "2026-07-28", "after initialize, a modern server/discover is answered in the same process", r)
r = b.call(12, "tools/call", {"name": "t_noisy", "arguments": {}, "_meta": META})
ok(r and r["result"]["structuredContent"] == {"said": "hello"} and r["result"]["resultType"] == "complete",
   "a modern tools/call: the result with resultType complete", r)
r1 = b.call(13, "ping", {"_meta": META})
r2 = b.call(14, "ping")
ok(r1 and r1["error"]["code"] == -32601 and r2 == {"jsonrpc": "2.0", "id": 14, "result": {}},
   "ping: -32601 with _meta (2026-07-28 has none), {} without (legacy), one process", [r1, r2])

# a process that only speaks modern: it never initialized, so no list_changed
m = Stdio(bridge_env(ROLE))
r = m.call(0, "initialize", {"protocolVersion": "2025-11-25", "capabilities": {}, "_meta": META})
ok(r and r["error"]["code"] == -32601, "an initialize with 2026-07-28 _meta is -32601 (and is no handshake)", r)
r = m.call(1, "tools/list", {"_meta": META})
ok(r and "t_noisy" in [t["name"] for t in r["result"]["tools"]], "a modern-only process answers tools/list", r)

# cancellation: the running query stops; the cancelled request is not answered
t0 = time.time()
b.send({"jsonrpc": "2.0", "id": 50, "method": "tools/call", "params": {"name": "t_sleep", "arguments": {"seconds": 30}}})
time.sleep(0.5)
b.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 50, "reason": "user"}})
r = b.call(51, "ping", timeout=15)
is_(r, {"jsonrpc": "2.0", "id": 51, "result": {}}, "after notifications/cancelled the next request is answered")
ok(time.time() - t0 < 10, "within seconds: the 30 s query was cancelled", time.time() - t0)
is_(psql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%billy.mcp%' AND state = 'active' AND pid <> pg_backend_pid()"),
    "0", "nothing runs on in the server")
# a cancel for a queued request drops it; an unknown id is ignored
b.send({"jsonrpc": "2.0", "id": 52, "method": "tools/call", "params": {"name": "t_sleep", "arguments": {"seconds": 1}}})
b.send({"jsonrpc": "2.0", "id": 53, "method": "tools/call", "params": {"name": "t_sleep", "arguments": {"seconds": 20}}})
b.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 53}})
b.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "nobody"}})
r1 = b.recv(15)
r2 = b.call(54, "ping", timeout=15)
ok(r1 and r1.get("id") == 52 and r2 and r2.get("id") == 54, "a queued request that was cancelled is never run or answered", [r1, r2])

# the registry changes: list_changed
psql("""INSERT INTO billy.mcp_tools (name, title, description, input_schema, function, sort_order)
        VALUES ('t_added', 'Added', 'Added while the bridge runs.', '{"type": "object"}', 'billy_test.mcp_noisy', 9002)""")
r = b.recv(10)
is_(r, {"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}, "a registry change sends notifications/tools/list_changed")
r = b.call(9, "tools/list")
ok(r and "t_added" in [t["name"] for t in r["result"]["tools"]], "and tools/list has the new tool")
time.sleep(0.3)
r = m.call(2, "tools/list", {"_meta": META})
m.close()
ok(r and r.get("id") == 2 and "t_added" in [t["name"] for t in r["result"]["tools"]]
   and not any(b"list_changed" in line for line in m.lines),
   "the modern-only process sent no list_changed, and its tools/list has the new tool", [r, m.lines[:3]])
r = b.call(10, "tools/call", {"name": "t_added", "arguments": {}})
ok(r and r["result"]["structuredContent"] == {"said": "hello"}, "and it can be called", r)
# the bridge's backend caches the registry: a change made elsewhere reaches it at commit
psql("""UPDATE billy.mcp_tools SET function = 'billy_test.mcp_sleep', fixed_args = '{"seconds": 0}'
        WHERE name = 't_added'""")
r = b.recv(10)
is_(r, {"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}, "an updated tool sends list_changed too")
r = b.call(11, "tools/call", {"name": "t_added", "arguments": {}})
ok(r and r["result"]["structuredContent"] == {"slept": 0}, "and the next call runs the tool as changed", r)

# a lost connection: -32603 for the request in flight, then reconnected
b.send({"jsonrpc": "2.0", "id": 60, "method": "tools/call", "params": {"name": "t_sleep", "arguments": {"seconds": 20}}})
time.sleep(0.7)
killed = psql(f"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = '{ROLE}' AND application_name = 'billy-mcp-bridge'")
r = b.recv(15)
ok(killed == "1" and r and r.get("id") == 60 and r["error"]["code"] == -32603,
   "the request in flight when the connection is lost gets -32603", [killed, r])
r = b.call(61, "tools/call", {"name": "get_organization_settings", "arguments": {}}, timeout=15)
ok(r and r["result"]["structuredContent"]["organizations"][0]["id"] == psql("SELECT billy_test.org(1)"),
   "the bridge reconnected and serves the next request", r)

rc = b.close()
err = b.stderr()
is_(rc, 0, "EOF on stdin: exit 0")
bad = [line for line in b.lines if line.strip() and not (line.startswith(b"{") and json.loads(line).get("jsonrpc") == "2.0")]
is_(bad, [], "stdout carried JSON-RPC messages only")
ok("a notice from the tool" in err and "a warning too" in err, "notices and warnings went to stderr", err)
ok("reconnected" in err, "the reconnect was logged on stderr", err)

# SIGTERM: exit 0 promptly, even with a query running
b = Stdio(bridge_env(ROLE))
b.call(1, "ping")
b.send({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "t_sleep", "arguments": {"seconds": 20}}})
time.sleep(0.5)
t0 = time.time()
b.p.send_signal(signal.SIGTERM)
rc = b.p.wait(10)
ok(rc == 0 and time.time() - t0 < 5, "SIGTERM: exit 0 at once", (rc, time.time() - t0))

# the bridge's own statement: one, with the message as a parameter
b = Stdio(bridge_env(ROLE))
b.call(1, "ping")
q = psql(f"SELECT query FROM pg_stat_activity WHERE usename = '{ROLE}' AND application_name = 'billy-mcp-bridge'")
is_(q, "select billy.mcp($1::jsonb)", "the bridge runs only select billy.mcp($1::jsonb), the message bound as a parameter")
b.close()

time.sleep(0.3)
cleanup()
done()
