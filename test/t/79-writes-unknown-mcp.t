#!/usr/bin/env python3
# A write whose outcome is unknown, over MCP (billy-mcp-bridge on stdio, as a
# billy_mcp + billy_admin member): the commit answers isError: true saying
# "do not retry; a person must decide"; a model that calls the tool again
# anyway gets a refusal, not a second invoice.  Billy stores the invoice and
# drops the connection (drop_after_write); the sandbox's dump then holds
# exactly one.
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mcp_tap import Stdio, bridge_env, done, is_, ok, plan, psql  # noqa: E402

plan(7)
ROLE = "mcp_writer_unknown_t"


def cleanup():
    psql(f"DELETE FROM billy.organization_grants WHERE role = '{ROLE}'")
    psql(f"""DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}') THEN
                 EXECUTE 'DROP OWNED BY {ROLE}'; EXECUTE 'DROP ROLE {ROLE}'; END IF; END $$""")


def settings(**kv):
    for k, v in kv.items():
        psql(f"ALTER SYSTEM {'RESET billy.' + k if v is None else f'SET billy.{k} = {v!r}'}")
    psql("SELECT pg_reload_conf()")


cleanup()
neworg = json.loads(psql("""SELECT billy_test.sandbox('POST', '/organizations', '{"name":"Ukendt Udfald ApS"}')"""))
org = psql(f"SELECT billy.connect('{neworg['token']}', billy_test.setting('api_url'))")
psql(f"SELECT count(*) FROM billy.sync_now('{org}', ARRAY['contacts','products'])")
psql(f"CREATE ROLE {ROLE} LOGIN IN ROLE billy_mcp, billy_admin")
settings(enable_writes="on", reconcile_delay_ms="60000")   # the worker leaves it unknown during the test
customer = psql(f"""SELECT id FROM billy.contacts WHERE organization_id = '{org}' AND is_customer AND currency_id = 'DKK'
                    AND NOT is_archived ORDER BY id LIMIT 1""")
product = psql(f"""SELECT p.id FROM billy.products p JOIN billy.product_prices pp ON pp.product_id = p.id
                   AND pp.organization_id = p.organization_id AND pp.currency_id = 'DKK'
                   WHERE p.organization_id = '{org}' AND NOT p.is_archived ORDER BY p.id LIMIT 1""")
invoice = {"contactId": customer, "entryDate": "2026-06-15", "lines": [{"productId": product, "unitPrice": 100, "quantity": 1}]}

b = Stdio(bridge_env(ROLE))
b.call(0, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "tap", "version": "0"}})
b.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
r = b.call(1, "tools/call", {"name": "create_invoice", "arguments": {"organization": org, "invoice": invoice}}, timeout=30)
conf = (r or {}).get("result", {}).get("structuredContent", {}).get("confirmation")
ok(conf and not r["result"].get("isError"), "create_invoice previews and gives a confirmation", r)

psql("""SELECT billy_test.fault('{"kind":"drop_after_write","path":"/v2/invoices","method":"POST","count":1}')""")
r = b.call(2, "tools/call", {"name": "create_invoice", "arguments": {"organization": org, "invoice": invoice,
                                                                    "confirmation": conf}}, timeout=30)
res = (r or {}).get("result", {})
text = " ".join(c.get("text", "") for c in res.get("content", []))
is_(res.get("isError"), True, "a commit whose outcome is unknown answers isError: true")
ok("do not retry; a person must decide" in text, "saying: do not retry; a person must decide", text)
ok("Do not call create_invoice again" in text and "needs a person to check in Billy" in text,
   "and what to tell the user, in words a model follows", text)

# the model retries anyway: a new preview of the same invoice is refused
r = b.call(3, "tools/call", {"name": "create_invoice", "arguments": {"organization": org, "invoice": invoice}}, timeout=30)
res = (r or {}).get("result", {})
text = " ".join(c.get("text", "") for c in res.get("content", []))
ok(res.get("isError") is True and "has an unknown outcome" in text and "Do not retry" in text,
   "calling the tool again is refused while the first is unknown", text)
b.close()

op = psql(f"SELECT id FROM billy.write_ops WHERE organization_id = '{org}' AND operation = 'create_invoice'")
is_(psql(f"SELECT state FROM billy.write_ops WHERE organization_id = '{org}'"), "unknown", "one write, recorded unknown")
ext = psql(f"SELECT request -> 'body' -> 'invoice' ->> 'externalId' FROM billy.write_ops WHERE id = {op}")
dump = json.loads(psql(f"SELECT billy_test.sandbox('GET', '/dump?org={org}&resource=invoices')"))
is_(sum(1 for i in dump["invoices"] if i.get("externalId") == ext), 1, "exactly one such invoice in Billy")

psql(f"SELECT billy.resolve_write({op}, 'done', NULL, 'test')")
psql("SELECT billy_test.clear_faults()")
settings(enable_writes=None, reconcile_delay_ms=None)
psql(f"SELECT billy.disconnect('{org}')")
cleanup()
done()
