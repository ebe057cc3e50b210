#!/usr/bin/env python3
# Honest freshness, as an assistant sees it (an MCP client -> the bridge ->
# billy.mcp -> the read functions -> billy-sandbox -> the mirror), in an
# organization of its own (created after 78-import.t's: the sandbox's
# generated books depend on the order organizations are created in):
# - 20 invoices paid upstream (/_sandbox/mutate pay): 20 s later (no hot
#   scan in between) list_invoices and get_invoice with the default window
#   answer the new state for all 20, with one hot scan's requests, and the
#   get_invoice calls after it cost nothing;
# - concurrent reads that want the same confirmation share one request;
# - a stale product list is refreshed with at most one list request per
#   page, never a GET per row: by the worker (a SQL read, which never
#   waits) and by the read itself (over MCP);
# - an explicit max_age is the window the answer states;
# - no answer anywhere says fresh: true with an age beyond its max_age.
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mcp_tap import Stdio, bridge_env, done, is_, ok, plan, psql  # noqa: E402

plan(21)

ROLE = "fresh_t"
answers = []        # every freshness object an answer carried


def cleanup():
    psql(f"""DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}') THEN
                 EXECUTE 'DELETE FROM billy.organization_grants WHERE role = ''{ROLE}''';
                 EXECUTE 'DROP OWNED BY {ROLE}'; EXECUTE 'DROP ROLE {ROLE}'; END IF; END $$""")


def settings(**kv):
    for k, v in kv.items():
        psql(f"ALTER SYSTEM SET billy.{k} = {v}")
    psql("SELECT pg_reload_conf()")
    time.sleep(0.5)


def stats():
    """Requests billy-sandbox served, by route template."""
    s = json.loads(psql("SELECT billy_test.sandbox('GET', '/stats')"))
    out = {}
    for r in s["requests"]:
        out[r["path"]] = out.get(r["path"], 0) + r["count"]
    return out


def calls_since(before, path):
    return stats().get(path, 0) - before.get(path, 0)


def tool(b, name, args, id=[100]):
    id[0] += 1
    r = b.call(id[0], "tools/call", {"name": name, "arguments": dict(args, organization=org)}, timeout=60)
    res = (r or {}).get("result") or {}
    if res.get("isError"):
        raise RuntimeError(json.dumps(res)[:2000])
    sc = res.get("structuredContent")
    if sc is None:
        sc = json.loads(res["content"][0]["text"])
    if isinstance(sc, dict) and "freshness" in sc:
        answers.append((name, sc["freshness"]))
    return sc


def paid(rec):
    for k in ("isPaid", "is_paid", "paid"):
        if k in rec:
            return rec[k]
    return None


cleanup()
settings(hot_sync_interval=0, cache_flush_interval_ms=300, api_budget_per_minute=600)
created = json.loads(psql("""SELECT billy_test.sandbox('POST', '/organizations', '{"name": "Frisk Viden ApS"}')"""))
org = created["organization"]["id"]
# enough unpaid invoices to pay 20, whatever books this creation order generated
psql(f"""SELECT billy_test.sandbox('POST', '/mutate', '{{"org": "{org}", "n": 60, "kinds": ["newInvoice"]}}')""")
psql(f"SELECT billy.connect('{created['token']}')")
psql(f"""UPDATE billy.jobs SET state = 'cancelled', finished_at = now()
         WHERE state = 'queued' AND organization_id = '{org}'""")
for _ in range(300):
    if psql(f"SELECT count(*) FROM billy.jobs WHERE state = 'running' AND organization_id = '{org}'") == "0":
        break
    time.sleep(0.2)
subprocess.run(["psql", "-X", "-q", "-c", "SET client_min_messages = warning",
                "-c", f"SELECT count(*) FROM billy.sync_now('{org}', ARRAY['contacts', 'products', 'invoices'])"],
               check=True, capture_output=True)
psql(f"CREATE ROLE {ROLE} LOGIN IN ROLE billy_mcp")
psql(f"SELECT billy.grant_organization('{ROLE}', '{org}')")
b = Stdio(bridge_env(ROLE))
b.call(0, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "tap", "version": "0"}})

# --- 20 invoices paid upstream -------------------------------------------------
before_unpaid = tool(b, "list_invoices", {"paid": False, "limit": 500})
ok(before_unpaid["freshness"]["fresh"] is True, "just synced: the unpaid list is fresh", before_unpaid["freshness"])
paid_before = tool(b, "list_invoices", {"paid": True, "limit": 1})["total"]
paid_ids = set()
for _ in range(100):        # a payment may land on an invoice paid already in this loop
    if len(paid_ids) >= 20:
        break
    mutated = json.loads(psql(f"""SELECT billy_test.sandbox('POST', '/mutate', '{{"org": "{org}", "n": 1, "kinds": ["pay"]}}')"""))
    paid_ids |= {c["id"] for c in mutated["changes"] if c["resource"] == "invoices"}
paid_ids = sorted(paid_ids)
is_(len(paid_ids), 20, "the sandbox paid 20 invoices")
is_(psql(f"""SELECT count(*) FROM billy.invoices WHERE organization_id = '{org}' AND NOT is_paid
             AND id IN ({",".join(f"'{i}'" for i in paid_ids)})"""), "20", "all of them were unpaid in the mirror")
time.sleep(20)
is_(psql(f"""SELECT count(*) FROM billy.invoices WHERE organization_id = '{org}' AND is_paid
             AND id IN ({",".join(f"'{i}'" for i in paid_ids)})"""), "0",
    "20 s later the mirror still has them unpaid (no scan ran)")
s0 = stats()
after = tool(b, "list_invoices", {"paid": False, "limit": 500})
still = sorted(set(paid_ids) & {i.get("id") for i in after["invoices"]})
is_(still, [], "list_invoices(paid: false) with the default window: none of the 20 is listed as unpaid")
ok(after["freshness"]["fresh"] is True and after["freshness"]["max_age_seconds"] == 15,
   "and says fresh within 15 s", after["freshness"])
pages = -(-int(psql(f"SELECT count(*) FROM billy.invoices WHERE organization_id = '{org}' AND NOT is_paid AND deleted_at IS NULL")) // 1000) or 1
is_((calls_since(s0, "/v2/invoices"), calls_since(s0, "/v2/invoices/:id")), (max(pages, 1), 20),
    "for one hot scan: the unpaid list (a request per page) and a GET of each of the 20 it no longer held")
s1 = stats()
got = [tool(b, "get_invoice", {"invoice_id": i}) for i in paid_ids]
is_(sum(1 for g in got if paid(g["invoice"]) is True), 20, "get_invoice with the default window: all 20 paid")
ok(all(g["freshness"]["fresh"] for g in got), "each fresh", [g["freshness"] for g in got if not g["freshness"]["fresh"]][:3])
is_(stats().get("/v2/invoices/:id", 0) - s1.get("/v2/invoices/:id", 0) + calls_since(s1, "/v2/invoices"), 0,
    "and the 20 reads made no request: the scan confirmed them")
is_(tool(b, "list_invoices", {"paid": True, "limit": 1})["total"] - paid_before, 20, "list_invoices(paid: true) counts 20 more")

# --- an explicit max_age is the window stated ------------------------------------
g = tool(b, "get_invoice", {"invoice_id": paid_ids[0], "max_age": 3600})
is_(g["freshness"]["max_age_seconds"], 3600, "get_invoice(max_age: 3600) states that window")
s2 = stats()
g = tool(b, "get_invoice", {"invoice_id": paid_ids[0], "max_age": 0})
ok(g["freshness"]["source"] == "api" and calls_since(s2, "/v2/invoices/:id") == 1,
   "max_age: 0 asks Billy: one GET", (g["freshness"], calls_since(s2, "/v2/invoices/:id")))

# --- concurrent reads share one confirmation --------------------------------------
psql(f"""UPDATE billy.sync_state SET last_complete_scan_at = now() - interval '1 hour',
                                     last_hot_scan_at = now() - interval '1 hour'
         WHERE organization_id = '{org}' AND resource = 'invoices'""")
s3 = stats()
sql = f"SET billy.read_confirm = on; SELECT billy.list_invoices('{org}', paid => false) -> 'freshness' ->> 'fresh'"
procs = [subprocess.Popen(["psql", "-X", "-q", "-A", "-t", "-c", sql], stdout=subprocess.PIPE, text=True) for _ in range(6)]
outs = [p.communicate(timeout=60)[0].strip() for p in procs]
is_(outs, ["true"] * 6, "six sessions at once want the unpaid list confirmed: all answer fresh")
is_(calls_since(s3, "/v2/invoices"), pages, "with one hot scan between them (one request per page)")

# --- a stale product list: a request per page, no GET per row ----------------------
settings(sync_page_size=10)
n_products = int(psql(f"SELECT count(*) FROM billy.products WHERE organization_id = '{org}' AND deleted_at IS NULL"))
product_pages = -(-n_products // 10)


def age_products():
    psql(f"UPDATE billy.products SET confirmed_at = now() - interval '2 days' WHERE organization_id = '{org}'")
    psql(f"""UPDATE billy.sync_state SET last_complete_scan_at = now() - interval '2 days'
             WHERE organization_id = '{org}' AND resource = 'products'""")


age_products()
s4 = stats()
first = int(psql("SELECT coalesce(max(id), 0) + 1 FROM billy.jobs"))
stale = json.loads(psql(f"""SELECT billy.list_products('{org}', "limit" => 500)"""))
ok(stale["freshness"]["fresh"] is False and stale["freshness"]["stale_rows"] == stale["total"] > 10
   and stale["freshness"].get("refresh") == "queued",
   f"a SQL read of the stale list ({stale['total']} products) answers at once, flagged, refresh queued", stale["freshness"])
for _ in range(150):
    if psql(f"""SELECT state FROM billy.jobs WHERE id >= {first} AND kind = 'sync'
                AND args ->> 'resource' = 'products' ORDER BY id DESC LIMIT 1""") == "done":
        break
    time.sleep(0.2)
is_((calls_since(s4, "/v2/products"), calls_since(s4, "/v2/products/:id")), (product_pages, 0),
    f"the worker refreshes it with one scan: {product_pages} list requests (one per page), no GET per row")
is_(psql(f"""SELECT billy.list_products('{org}', "limit" => 500) -> 'freshness' ->> 'fresh'"""), "true",
    "after which the list is fresh")
age_products()
s5 = stats()
lp = tool(b, "list_products", {"limit": 500})
ok(lp["freshness"]["fresh"] is True, "over MCP the stale list is confirmed before the answer", lp["freshness"])
is_((calls_since(s5, "/v2/products"), calls_since(s5, "/v2/products/:id")), (product_pages, 0),
    "with one request per page, no GET per row")

# --- no answer said fresh beyond its window ----------------------------------------
bad = [(n, f) for n, f in answers if f.get("fresh") and not (f["age_seconds"] <= f["max_age_seconds"])]
is_(bad, [], f"none of the {len(answers)} answers says fresh: true with an age beyond its max_age")

b.close()
settings(sync_page_size="DEFAULT", hot_sync_interval="DEFAULT", cache_flush_interval_ms="DEFAULT",
         api_budget_per_minute="DEFAULT")
psql(f"SELECT billy.disconnect('{org}')")
cleanup()
done()
