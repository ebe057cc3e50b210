#!/usr/bin/python3
"""bench/cache/replay.py: replay a day of reads against billy (issue 5, part b).

A Zipf (s) trace of READS reads over the organization's invoices, spread
evenly at random over a simulated day, while billy-sandbox mutates about
MUTATE_PCT % of the invoices per hour, and while the schedule a deployment
would have runs: a full sync every 15 minutes (pg_cron's default) and a hot
scan every 5 minutes.  Time is compressed RATE times with billy's test-only
clock (billy._set_clock_rate): the worker, its flushes, the TTLs and the API
budget all run on it.

Every answer is compared with the sandbox's truth at that moment: the truth
starts as /_sandbox/dump and follows every mutation (the changed invoices
are fetched from /v2, and those fetches are subtracted from the sandbox's
request count, which is billy's API calls).

Prints one JSON line: reads, hits (answered without waiting on Billy),
fresh hits, stale reads (answers that differed from the truth), API calls,
and how far the replay fell behind its schedule.
"""
import bisect
import json
import random
import sys
import time
import urllib.request

import psycopg2

policy, org, token, api, control, rate = sys.argv[1:7]
rate = float(rate)
READS = int(sys.argv[7])
S = float(sys.argv[8])
MUTATE_PCT = float(sys.argv[9])
SEED = int(sys.argv[10])
DAY = 86400.0
KINDS = ["pay", "partlyPay", "approveDraft", "deleteDraft", "void", "creditNote",
         "send", "voidPayment", "newInvoice"]
INCLUDE = "invoice.lines:embed,invoice.balanceModifiers:embed"


def http(method, url, body=None, headers=None):
    req = urllib.request.Request(url, method=method, data=body, headers=headers or {})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def ctl(method, path, body=None):
    return http(method, control + path, json.dumps(body).encode() if body is not None else None,
                {"Content-Type": "application/json"})


truth_gets = 0


def fetch_truth(iid):
    global truth_gets
    truth_gets += 1
    try:
        r = http("GET", "%s/invoices/%s?include=%s" % (api, iid, INCLUDE), headers={"X-Access-Token": token})
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        raise
    inv = r["invoice"]
    inv.pop("downloadUrl", None)
    return inv


db = psycopg2.connect("")
db.autocommit = True
cur = db.cursor()

truth = {}
for inv in ctl("GET", "/dump?org=%s&resource=invoices" % org)["invoices"]:
    inv.pop("downloadUrl", None)
    truth[inv["id"]] = inv
ids = sorted(truth)
rnd = random.Random(SEED)
rnd.shuffle(ids)                     # rank k (1-based) -> ids[k-1]
cum = []
acc = 0.0
for k in range(1, len(ids) + 1):
    acc += k ** -S
    cum.append(acc)

# events: (sim time, kind, payload), in order
events = []
for _ in range(READS):
    i = bisect.bisect_left(cum, rnd.random() * acc)
    events.append((rnd.random() * DAY, 0, ids[min(i, len(ids) - 1)]))
per_minute = len(ids) * MUTATE_PCT / 100.0 / 60.0
owed = 0.0
for m in range(1, 24 * 60):
    owed += per_minute
    n = int(owed)
    if n:
        owed -= n
        events.append((m * 60.0, 1, n))
for m in range(0, 24 * 60, 5):
    events.append((m * 60.0 + 1, 2, "full" if m % 15 == 0 else "hot"))
events.sort(key=lambda e: (e[0], e[1]))

query = ("SELECT billy.get_invoice(%s, %s, interval '5 minutes')" if policy == "fixed"
         else "SELECT billy.get_invoice(%s, %s)")
reads = hits = fresh = stale = errors = mutations = 0
lag_max = 0.0
cur.execute("SELECT billy._set_clock_rate(%s)", (rate,))
start = time.time()
for t, kind, payload in events:
    due = start + t / rate
    now = time.time()
    if now < due:
        time.sleep(due - now)
    else:
        lag_max = max(lag_max, (now - due) * rate)
    if kind == 0:
        reads += 1
        want = truth.get(payload)
        try:
            cur.execute(query, (org, payload))
            answer = cur.fetchone()[0]
        except psycopg2.Error as e:
            # a deleted invoice: right when the truth has none
            if e.pgcode != "P0002":
                errors += 1
            elif "billy found it gone" in (e.pgerror or ""):
                hits += 1
                fresh += 1
            stale += 0 if want is None else 1
            continue
        fr = answer["freshness"]
        if fr["source"] == "mirror":
            hits += 1
            if fr["fresh"]:
                fresh += 1
        got = answer["invoice"]
        got.pop("downloadUrl", None)
        if got != want:
            stale += 1
    elif kind == 1:
        r = ctl("POST", "/mutate", {"org": org, "n": payload, "kinds": KINDS})
        mutations += r["applied"]
        # the invoices read are those of the start; new ones are never read
        changed = {ch["id"]: ch["op"] for ch in r["changes"] if ch["resource"] == "invoices" and ch["id"] in truth}
        for iid, op in changed.items():
            truth[iid] = None if op == "deleted" else fetch_truth(iid)
    else:
        if payload == "full":
            cur.execute("SELECT billy.sync(%s, ARRAY['invoices'])", (org,))
        else:
            cur.execute("SELECT billy._queue_hot_scans('0 s')")
cur.execute("SELECT billy._set_clock_rate(1)")
elapsed = time.time() - start

# let the queued work finish, then count
for _ in range(600):
    cur.execute("SELECT count(*) FROM billy.jobs WHERE state IN ('queued', 'running') AND run_after <= now()")
    if cur.fetchone()[0] == 0:
        break
    time.sleep(0.1)
stats = ctl("GET", "/stats")
calls = stats["total"]["count"] - truth_gets
by_path = {}
for r in stats["requests"]:
    by_path[r["path"]] = by_path.get(r["path"], 0) + r["count"]
by_path["/v2/invoices/:id"] = by_path.get("/v2/invoices/:id", 0) - truth_gets
print(json.dumps({
    "policy": policy, "reads": reads, "hits": hits, "fresh_hits": fresh, "stale_reads": stale,
    "errors": errors, "api_calls": calls, "api_calls_by_path": by_path, "mutations": mutations,
    "truth_fetches": truth_gets, "seconds": round(elapsed, 1), "max_lag_sim_seconds": round(lag_max, 1),
}))
