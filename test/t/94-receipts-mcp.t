#!/usr/bin/env python3
# Receipts through MCP, as a user's AI client does it: billy-mcp-bridge on
# stdio (as a billy_mcp + billy_admin member) -> billy.mcp -> the write ->
# billy-sandbox.  A bill without a receipt is listed as such; a small PDF
# uploaded with upload_file (preview, then the confirmation) lands in the
# sandbox as a file attached to the bill (/_sandbox/dump), and in the
# mirror, also after a sync; the bill leaves the list; list_attachments
# shows the file and billy.file_content returns its bytes.  A second commit
# or a second upload of the same file is refused and sends nothing.  Bad
# input (not a PDF, over the cap, not base64, an unknown bill) is refused
# naming the argument, and no request reaches the sandbox (/_sandbox/stats).
# An upload whose answer is lost (the connection dropped after Billy stored
# it, as if billy crashed between the upload and the attachment) is found
# by the worker and attached once: one file, one attachment.
import base64
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mcp_tap import Stdio, bridge_env, done, is_, ok, plan, psql  # noqa: E402

plan(31)
ROLE = "mcp_receipts_t"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PDF64 = base64.b64encode(PDF).decode()


def cleanup():
    psql(f"DELETE FROM billy.organization_grants WHERE role = '{ROLE}'")
    psql(f"""DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}') THEN
                 EXECUTE 'DROP OWNED BY {ROLE}'; EXECUTE 'DROP ROLE {ROLE}'; END IF; END $$""")


def settings(**kv):
    for k, v in kv.items():
        psql(f"ALTER SYSTEM {'RESET billy.' + k if v is None else f'SET billy.{k} = {v!r}'}")
    psql("SELECT pg_reload_conf()")


def sent():
    """Requests that were no GET, as the sandbox counted them."""
    stats = json.loads(psql("SELECT billy_test.sandbox('GET', '/stats')"))
    return sum(r["count"] for r in stats["requests"] if r["method"] != "GET")


def dump(resource):
    return json.loads(psql(f"SELECT billy_test.sandbox('GET', '/dump?org={org}&resource={resource}')"))[resource]


def text_of(r):
    res = (r or {}).get("result", {})
    return res, " ".join(c.get("text", "") for c in res.get("content", []))


cleanup()
neworg = json.loads(psql("""SELECT billy_test.sandbox('POST', '/organizations', '{"name":"Kvittering ApS"}')"""))
org = psql(f"SELECT billy.connect('{neworg['token']}', billy_test.setting('api_url'))")
psql(f"SELECT count(*) FROM billy.sync_now('{org}')")
psql(f"CREATE ROLE {ROLE} LOGIN IN ROLE billy_mcp, billy_admin")
settings(enable_writes="on", reconcile_delay_ms="300")
bare = psql(f"SELECT bill_id FROM billy.bills_without_receipt('{org}') ORDER BY entry_date DESC, bill_id LIMIT 1").split("\n")
other = psql(f"SELECT bill_id FROM billy.bills_without_receipt('{org}') ORDER BY entry_date DESC, bill_id OFFSET 1 LIMIT 1")
bill, day = bare[0], psql(f"SELECT entry_date FROM billy.bills WHERE organization_id = '{org}' AND id = '{bare[0]}'")
ok(bill and other, "the organization has approved bills without a receipt", bare)

b = Stdio(bridge_env(ROLE))
b.call(0, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "tap", "version": "0"}})
b.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
tools = {t["name"]: t for t in (b.call(1, "tools/list", {}) or {}).get("result", {}).get("tools", [])}
ok({"upload_file", "attach_file", "list_attachments"} <= set(tools), "tools/list has upload_file, attach_file and list_attachments",
   sorted(tools))
sizes = {n: len(json.dumps(tools[n], separators=(",", ":"))) for n in ("upload_file", "attach_file", "list_attachments")}
ok(sum(sizes.values()) / 3 <= 500, "within 500 characters a tool (as bench/mcp/run --sizes counts: on average)", sizes)


def call(id, name, args, timeout=30):
    return text_of(b.call(id, "tools/call", {"name": name, "arguments": {"organization": org, **args}}, timeout=timeout))


period = f"{day}..{day}"
res, text = call(2, "list_attachments", {"period": period})
rows = res.get("structuredContent", {}).get("rows", [])
ok(any(r.get("bill_id") == bill for r in rows), "list_attachments: the bill is listed without a receipt", text)

# bad input: refused, naming the argument, nothing sent
before = sent()
cases = [
    ("not a PDF", {"file_name": "a.pdf", "content_base64": base64.b64encode(b"PK\x03\x04 a zip").decode(), "bill_id": bill},
     "content_base64 is not a PDF, JPEG, PNG or GIF file"),
    ("too big", {"file_name": "a.pdf", "content_base64": "A" * ((2 * 1024 * 1024 + 2) // 3 * 4 + 4), "bill_id": bill},
     "\"content_base64\" must be at most 2796204 characters long"),
    ("bad base64", {"file_name": "a.pdf", "content_base64": "%PDF-1.4 not encoded", "bill_id": bill}, "content_base64 is not base64"),
    ("unknown bill", {"file_name": "a.pdf", "content_base64": PDF64, "bill_id": "nosuchbill"}, 'bill_id no bill "nosuchbill"'),
]
for i, (what, args, want) in enumerate(cases):
    res, text = call(10 + i, "upload_file", args)
    ok(res.get("isError") is True and want in text, f"{what}: refused, naming the argument", text)
is_(sent(), before, "and no request reached the sandbox")

# the upload: preview, then the confirmation
args = {"file_name": "kvittering.pdf", "content_base64": PDF64, "bill_id": bill}
res, text = call(20, "upload_file", args)
conf = res.get("structuredContent", {}).get("confirmation")
summary = res.get("structuredContent", {}).get("preview", {}).get("summary", "")
ok(conf and "attach it to bill" in summary and PDF64 not in text, "upload_file previews (what, where; no bytes)", text)
is_(sent(), before, "a preview sends nothing")
res, text = call(21, "upload_file", {**args, "confirmation": conf})
result = res.get("structuredContent", {}).get("result", {})
ok(not res.get("isError") and result.get("state") == "done" and result.get("operation") == "attach_file",
   "the confirmation uploads the file and attaches it", text)
files = [f for f in dump("files") if f["fileName"] == "kvittering.pdf"]
ok(len(files) == 1 and files[0]["fileSize"] == len(PDF), "the sandbox has the file, once", files)
fid = files[0]["id"] if files else None
att = [a for a in dump("attachments") if a["ownerReference"] == f"bill:{bill}"]
ok(len(att) == 1 and att[0]["fileId"] == fid, "attached to the bill, once", att)
is_(psql(f"""SELECT count(*) FROM billy.attachments a JOIN billy.files f ON f.organization_id = a.organization_id AND f.id = a.file_id
             WHERE a.organization_id = '{org}' AND a.owner_reference = 'bill:{bill}' AND f.file_name = 'kvittering.pdf'"""),
    "1", "the mirror has them at once")
psql(f"SELECT count(*) FROM billy.sync_now('{org}', ARRAY['files', 'attachments'])")
is_(psql(f"""SELECT count(*) FROM billy.attachments WHERE organization_id = '{org}' AND owner_reference = 'bill:{bill}'
             AND file_id = '{fid}' AND deleted_at IS NULL"""), "1", "and after a sync")
res, text = call(22, "list_attachments", {"bill_id": bill})
ok([r.get("file_id") for r in res.get("structuredContent", {}).get("rows", [])] == [fid] and "kvittering.pdf" in text,
   "list_attachments shows the bill's file", text)
res, text = call(23, "list_attachments", {"period": period})
ok(not any(r.get("bill_id") == bill for r in res.get("structuredContent", {}).get("rows", [])),
   "the bill is no longer without a receipt", text)
is_(psql(f"SELECT encode(billy.file_content('{org}', '{fid}'), 'base64')").replace("\n", ""), PDF64,
    "billy.file_content returns the file's bytes from Billy")

# retries: nothing twice
after = sent()
res, text = call(24, "upload_file", {**args, "confirmation": conf})
ok(res.get("isError") is True and "used already" in text, "the same confirmation again is refused", text)
res, text = call(25, "upload_file", args)
ok(res.get("isError") is True and "already" in text, "uploading the same file to the bill again is refused", text)
is_(sent(), after, "and neither sent anything")

# attach_file: a file already in Billy, to an invoice
invoice = psql(f"""SELECT id FROM billy.invoices WHERE organization_id = '{org}' AND state = 'approved' AND deleted_at IS NULL
                  AND NOT EXISTS (SELECT 1 FROM billy.attachments a WHERE a.organization_id = '{org}'
                                  AND a.owner_reference = 'invoice:' || invoices.id) ORDER BY id LIMIT 1""")
res, text = call(26, "attach_file", {"file_id": fid, "invoice_id": invoice})
conf3 = res.get("structuredContent", {}).get("confirmation")
res, text = call(27, "attach_file", {"file_id": fid, "invoice_id": invoice, "confirmation": conf3})
ok(not res.get("isError") and [a["fileId"] for a in dump("attachments") if a["ownerReference"] == f"invoice:{invoice}"] == [fid],
   "attach_file attaches a file already in Billy to an invoice", text)

# SQL: the bytes as bytea, one call
third = psql(f"SELECT bill_id FROM billy.bills_without_receipt('{org}') WHERE bill_id <> '{other}' ORDER BY entry_date DESC, bill_id LIMIT 1")
png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24
out = json.loads(psql(f"""SET billy.enable_writes = on; SET client_min_messages = error;
                          SELECT billy.upload_file('{org}', 'scan.png', decode('{png.hex()}', 'hex'), bill_id => '{third}')"""))
ok(out.get("state") == "done" and any(f["fileName"] == "scan.png" and f["fileType"] == "image/png" for f in dump("files"))
   and any(a["ownerReference"] == f"bill:{third}" for a in dump("attachments")),
   "billy.upload_file takes the bytes as bytea: a PNG, attached to a bill", out)

# the answer to the upload is lost: the worker finds the file and attaches it, once
psql("""SELECT billy_test.fault('{"kind":"drop_after_write","path":"/v2/files","method":"POST","count":1}')""")
args2 = {"file_name": "kvittering-2-tap.pdf", "content_base64": base64.b64encode(PDF + b"% 2\n").decode(), "bill_id": other}
res, text = call(30, "upload_file", args2)
conf2 = res.get("structuredContent", {}).get("confirmation")
res, text = call(31, "upload_file", {**args2, "confirmation": conf2})
ok(res.get("isError") is True and "do not retry" in text, "a lost answer: isError, do not retry", text)
b.close()
psql("SELECT billy_test.clear_faults()")
deadline = time.time() + 60
while time.time() < deadline and not any(a["ownerReference"] == f"bill:{other}" for a in dump("attachments")):
    time.sleep(1)
files2 = [f for f in dump("files") if f["fileName"] == "kvittering-2-tap.pdf"]
att2 = [a for a in dump("attachments") if a["ownerReference"] == f"bill:{other}"]
ok(len(files2) == 1 and len(att2) == 1 and att2[0]["fileId"] == files2[0]["id"],
   "the worker found the upload and attached it: one file, one attachment", {"files": files2, "attachments": att2})
is_(psql(f"""SELECT string_agg(operation || ':' || state, ',' ORDER BY id) FROM billy.write_ops
             WHERE organization_id = '{org}' AND (args ->> 'billId' = '{other}')"""),
    "upload_file:done,attach_file:done", "the upload reconciled as done, its attachment sent once")

# the same, while the worker may not write: the upload is found, the attachment not sent, and why is noted
b = Stdio(bridge_env(ROLE))
b.call(0, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "tap", "version": "0"}})
b.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
fourth = psql(f"""SELECT bill_id FROM billy.bills_without_receipt('{org}') WHERE bill_id NOT IN ('{other}', '{third}')
                 ORDER BY entry_date DESC, bill_id LIMIT 1""")
psql("""SELECT billy_test.fault('{"kind":"drop_after_write","path":"/v2/files","method":"POST","count":1}')""")
args3 = {"file_name": "kvittering-3-tap.pdf", "content_base64": base64.b64encode(PDF + b"% 3\n").decode(), "bill_id": fourth}
res, text = call(40, "upload_file", args3)
res, text = call(41, "upload_file", {**args3, "confirmation": res.get("structuredContent", {}).get("confirmation")})
b.close()
settings(enable_writes=None)
psql("SELECT billy_test.clear_faults()")
up = psql(f"SELECT id FROM billy.write_ops WHERE organization_id = '{org}' AND operation = 'upload_file' AND args ->> 'billId' = '{fourth}'")
deadline = time.time() + 60
while time.time() < deadline and psql(f"SELECT count(*) FROM billy.write_follow_ups WHERE write_op_id = {up or 0}") != "1":
    time.sleep(1)
is_(psql(f"""SELECT w.state || ' / ' || coalesce(f.note, '-') FROM billy.write_ops w
             LEFT JOIN billy.write_follow_ups f ON f.write_op_id = w.id WHERE w.id = {up or 0}"""),
    "done / not sent: billy.enable_writes is off for the worker",
    "writes off for the worker: the upload is found, its attachment not sent, and why is noted")
ok(not any(a["ownerReference"] == f"bill:{fourth}" for a in dump("attachments")), "nothing attached in the sandbox")

# the bytes: out of the outbox once settled, never in the audit trail
is_(psql(f"SELECT count(*) FROM billy.write_ops WHERE organization_id = '{org}' AND args ? 'contentBase64'"), "0",
    "settled writes keep the file's SHA-256, not its bytes")
is_(psql(f"SELECT count(*) FROM billy.audit_log WHERE request::text LIKE '%{PDF64[:24]}%'"), "0", "no audit entry holds them")

settings(enable_writes=None, reconcile_delay_ms=None)
psql(f"SELECT billy.disconnect('{org}')")
cleanup()
done()
