#!/usr/bin/python3
"""bench/cache/assistant.py: an AI assistant's session replayed against billy
over MCP (issue 13).

The assistant calls billy.mcp (what billy-mcp-bridge runs for every line)
with tools/call: get_invoice for a Zipf (s) choice of invoices, most of them
unpaid (what an assistant is asked about), and now and then list_invoices of
unpaid ones, with the default freshness window, a read every READ_EVERY
seconds (0: one after another) for SECONDS.  Meanwhile billy-sandbox answers every API request after LATENCY ms
and the organization changes upstream (/_sandbox/mutate: payments, part
payments, approved drafts, voids, credit notes, new invoices) every
MUTATE_EVERY seconds.  Nothing else runs: no schedule, no hot scans; what
billy asks Billy it asks because a read wanted it.

Every invoice an answer carries is compared with the sandbox's truth at that
moment (the truth starts as /_sandbox/dump and follows every mutation: the
changed invoices are fetched from /v2 between two reads, and those requests
are not counted as billy's).

Prints one JSON line: reads, answers (records) labelled fresh that differed
from the truth (and how many of those Billy changed after billy confirmed
them: within the window), answers older than their stated window (fresh:
false), API calls per 100 reads, latency p50/p99 of reads that made no
request (get_invoice and list_invoices apart too) and of reads that did, and
the latency of calling Billy directly (the baseline that calls Billy for
every read: 100 calls per 100 reads).
"""
import bisect
import json
import random
import sys
import time
import urllib.request

import psycopg2

org, token, api, control = sys.argv[1:5]
SECONDS = float(sys.argv[5])
LATENCY = int(sys.argv[6])
MUTATE_EVERY = float(sys.argv[7])
S = float(sys.argv[8])
SEED = int(sys.argv[9])
READ_EVERY = float(sys.argv[10])
KINDS = ["pay", "partlyPay", "approveDraft", "void", "creditNote", "newInvoice"]
# what an answer must agree with the truth on: Billy's field, and its name
# in the tools' compact answers (billy._mcp_rows)
FIELDS = {"isPaid": "paid", "balance": "balance", "state": "state", "amount": "net", "tax": "vat",
          "dueDate": "due"}


def http(method, url, body=None, headers=None):
    req = urllib.request.Request(url, method=method, data=body, headers=headers or {})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def ctl(method, path, body=None):
    return http(method, control + path, json.dumps(body).encode() if body is not None else None,
                {"Content-Type": "application/json"})


def requests_served():
    return ctl("GET", "/stats")["total"]["count"]


def pct(xs, p):
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(len(xs) * p / 100))], 2) if xs else None


def view(inv):
    return {k: inv.get(k) for k in FIELDS}


def answered(rec):
    """What a compact record (list row or get_invoice's record) says of those fields."""
    return {k: rec.get(c) for k, c in FIELDS.items()}


truth = {inv["id"]: view(inv) for inv in ctl("GET", "/dump?org=%s&resource=invoices" % org)["invoices"]}
rnd = random.Random(SEED)
unpaid = sorted(i for i, v in truth.items() if not v["isPaid"] and v["state"] == "approved")
everything = sorted(truth)
rnd.shuffle(unpaid)
rnd.shuffle(everything)


def zipf_table(n):
    cum, acc = [], 0.0
    for k in range(1, n + 1):
        acc += k ** -S
        cum.append(acc)
    return cum


cum_unpaid, cum_all = zipf_table(len(unpaid)), zipf_table(len(everything))


def pick(ids, cum):
    return ids[min(bisect.bisect_left(cum, rnd.random() * cum[-1]), len(ids) - 1)]


db = psycopg2.connect("")
db.autocommit = True
cur = db.cursor()


def mcp(name, args, n=[0]):
    n[0] += 1
    req = {"jsonrpc": "2.0", "id": n[0], "method": "tools/call", "params": {"name": name, "arguments": args}}
    cur.execute("SELECT billy.mcp(%s::jsonb)", (json.dumps(req),))
    res = cur.fetchone()[0]["result"]
    if res.get("isError"):
        return None
    return res.get("structuredContent") or json.loads(res["content"][0]["text"])


ctl("POST", "/faults", {"kind": "latency", "ms": LATENCY})
# the baseline: Billy called for the read itself
direct = []
for iid in everything[:20]:
    t0 = time.time()
    http("GET", "%s/invoices/%s" % (api, iid), headers={"X-Access-Token": token})
    direct.append((time.time() - t0) * 1000)

reads = records = wrong_fresh = older = errors = mutations = calls = 0
lat_free, lat_paid = {"get_invoice": [], "list_invoices": []}, []
changed_at = {}                     # invoice id -> when the sandbox changed it
race = 0                            # wrong and fresh: changed upstream after its confirmation
next_read = time.time()
next_mutation = time.time() + MUTATE_EVERY
start = time.time()
served0 = requests_served()
while time.time() - start < SECONDS:
    if time.time() >= next_mutation:
        next_mutation += MUTATE_EVERY
        r = ctl("POST", "/mutate", {"org": org, "n": 1, "kinds": KINDS})
        mutations += r["applied"]
        for ch in r["changes"]:
            if ch["resource"] != "invoices":
                continue
            changed_at[ch["id"]] = time.time()
            if ch["op"] == "deleted":
                truth[ch["id"]] = None
            else:
                got = http("GET", "%s/invoices/%s" % (api, ch["id"]), headers={"X-Access-Token": token})
                truth[ch["id"]] = view(got["invoice"])
        served0 = requests_served()     # the truth's requests are not billy's
    if READ_EVERY > 0:
        time.sleep(max(0.0, next_read - time.time()))
        next_read += READ_EVERY
    u = rnd.random()
    if u < 0.15:
        name, args = "list_invoices", {"paid": False, "limit": 20}
    else:
        name, args = "get_invoice", {"invoice_id": pick(unpaid, cum_unpaid) if u < 0.85 else pick(everything, cum_all)}
    t0 = time.time()
    answer = mcp(name, args)
    ms = (time.time() - t0) * 1000
    served = requests_served()
    made = served - served0
    served0 = served
    calls += made
    reads += 1
    (lat_paid if made else lat_free[name]).append(ms)
    if answer is None:
        errors += 1
        continue
    fr = answer["freshness"]
    recs = answer["invoices"] if name == "list_invoices" else [answer["invoice"]]
    if not fr["fresh"]:
        older += 1
    for rec in recs:
        records += 1
        want = truth.get(rec["id"])
        if fr["fresh"] and want is not None and answered(rec) != want:
            wrong_fresh += 1
            # changed after billy's confirmation (now - age), within the window
            if changed_at.get(rec["id"], 0) > t0 - fr["age_seconds"] - 0.05:
                race += 1
ctl("DELETE", "/faults")
print(json.dumps({
    "reads": reads, "records": records, "seconds": round(time.time() - start, 1), "mutations": mutations,
    "wrong_labelled_fresh": wrong_fresh, "of_which_changed_after_confirmation": race,
    "older_than_window": older, "errors": errors, "read_every_s": READ_EVERY,
    "api_calls": calls, "calls_per_100_reads": round(100.0 * calls / max(reads, 1), 2),
    "p50_ms_no_request": pct(lat_free["get_invoice"] + lat_free["list_invoices"], 50),
    "p50_ms_no_request_get": pct(lat_free["get_invoice"], 50),
    "p50_ms_no_request_list": pct(lat_free["list_invoices"], 50),
    "p99_ms_no_request": pct(lat_free["get_invoice"] + lat_free["list_invoices"], 99),
    "reads_no_request": len(lat_free["get_invoice"]) + len(lat_free["list_invoices"]),
    "p50_ms_with_requests": pct(lat_paid, 50),
    "reads_with_requests": len(lat_paid), "direct_p50_ms": pct(direct, 50),
}))
