#!/usr/bin/env python3
# The control API: stats, reset, extra organizations.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sandboxlib import Sandbox, main


def body(t):
    s = Sandbox("--invoices", "150", "--contacts", "25", "--bills", "30")
    initial = s.get("/_sandbox/dump?org=" + s.org_id, auth=False).body

    # stats
    s.control("DELETE", "stats")
    t.is_(s.control("GET", "stats"), {"requests": [], "total": {"count": 0, "bytes": 0}}, "DELETE /_sandbox/stats zeroes the counters")
    sizes = []
    for page in (1, 2, 3):
        sizes.append(len(s.get("/v2/invoices?pageSize=40&page=%d" % page).body))
    inv = s.get("/v2/invoices?pageSize=1").json()["invoices"][0]["id"]
    sizes_one = [len(s.get("/v2/invoices/" + inv).body) for _ in range(2)]
    s.get("/v2/invoices/AAAAAAAAAAAAAAAAAAAAAA")
    s.get("/v2/nothing")
    s.get("/v2/contacts", auth=False)
    s.control("GET", "faults")
    st = s.control("GET", "stats")
    rows = {(r["method"], r["path"], r["status"]): r for r in st["requests"]}
    t.ok(rows.get(("GET", "/v2/invoices", 200), {}).get("count") == 4 and
         rows[("GET", "/v2/invoices", 200)]["bytes"] >= sum(sizes), "list requests counted under /v2/invoices", rows)
    t.ok(rows.get(("GET", "/v2/invoices/:id", 200), {}).get("count") == 2 and
         rows[("GET", "/v2/invoices/:id", 200)]["bytes"] == sum(sizes_one), "GET one counted under /v2/invoices/:id with its bytes")
    t.ok(rows.get(("GET", "/v2/invoices/:id", 404), {}).get("count") == 1, "a 404 counted with its status")
    t.ok(rows.get(("GET", "(unknown)", 404), {}).get("count") == 1, "unknown routes counted as (unknown)")
    t.ok(rows.get(("GET", "/v2/contacts", 401), {}).get("count") == 1, "a 401 counted")
    t.ok(not any(p.startswith("/_sandbox") for (_, p, _) in rows), "control requests are not counted")
    t.is_(st["total"], {"count": sum(r["count"] for r in st["requests"]), "bytes": sum(r["bytes"] for r in st["requests"])},
          "total sums the rows")
    s.control("POST", "faults", {"kind": "status", "status": 503, "count": 1})
    s.get("/v2/bills")
    rows = {(r["method"], r["path"], r["status"]): r for r in s.control("GET", "stats")["requests"]}
    t.ok(rows.get(("GET", "/v2/bills", 503), {}).get("count") == 1, "a faulted request counted under its route with the fault's status")

    # extra organizations
    made = s.control("POST", "organizations", {"name": "Halvår ApS", "vatPeriod": "halfYear", "fiscalYearEndMonth": 6})
    tok = made["token"]
    org = s.api("GET", "/organization", token=tok)["organization"]
    t.ok(org["name"] == "Halvår ApS" and org["vatPeriod"] == "halfYear" and org["fiscalYearEndMonth"] == 6 and
         org["id"] == made["organization"]["id"], "POST /_sandbox/organizations creates a working organization")
    t.ok(s.api("GET", "/invoices", token=tok)["meta"]["paging"]["total"] == 150 and
         all(r["periodType"] == "halfYear" for r in s.api("GET", "/salesTaxReturns", token=tok)["salesTaxReturns"]),
         "a non-empty one gets generated books (same sizes) with its VAT period")
    empty = s.control("POST", "organizations", {"name": "Tom ApS", "empty": True})
    et = empty["token"]
    t.ok(all(s.api("GET", "/%s" % r, token=et)["meta"]["paging"]["total"] == 0
             for r in ["contacts", "products", "invoices", "bills", "bankPayments", "salesTaxReturns"]) and
         len(s.api("GET", "/accounts", token=et)["accounts"]) > 20 and len(s.api("GET", "/taxRates", token=et)["taxRates"]) == 11 and
         len(s.api("GET", "/salesTaxRulesets", token=et)["salesTaxRulesets"]) == 3,
         "an empty one has accounts, tax rates and rulesets only")
    listed = s.control("GET", "organizations")["organizations"]
    t.is_([o["token"] for o in listed], [s.token, tok, et], "GET /_sandbox/organizations lists them with tokens")
    r = s.request("POST", "/_sandbox/organizations", body={"vatPeriod": "weekly"}, auth=False)
    t.is_(r.status, 422, "a bad vatPeriod is a 422")

    # reset
    s.control("POST", "mutate", {"org": s.org_id, "n": 30})
    s.api("POST", "/contacts", {"contact": {"name": "Midlertidig ApS", "countryId": "DK"}})
    s.control("POST", "faults", {"kind": "latency", "ms": 1})
    t.ok(s.get("/_sandbox/dump?org=" + s.org_id, auth=False).body != initial, "the books changed")
    d = s.control("POST", "reset")
    t.is_(d["organizations"], 1, "POST /_sandbox/reset")
    t.ok(s.control("GET", "faults")["faults"] == [] and s.control("GET", "stats")["total"]["count"] == 0,
         "faults and stats are cleared")
    t.is_(s.get("/_sandbox/dump?org=" + s.org_id, auth=False).body, initial, "after reset the dump is the startup dump again")
    t.is_(s.get("/v2/organization", token=tok).status, 401, "created organizations are gone")
    made2 = s.control("POST", "organizations", {"name": "Halvår ApS", "vatPeriod": "halfYear", "fiscalYearEndMonth": 6})
    t.is_(made2["token"], tok, "an organization created after reset gets the same id and token again")
    r = s.request("GET", "/_sandbox/nothing", auth=False)
    t.ok(r.status == 404 and r.json()["errorCode"] == "UNKNOWN_RESOURCE", "an unknown control route is a 404")
    r = s.request("GET", "/_sandbox/reset", auth=False)
    t.is_(r.status, 405, "GET /_sandbox/reset is a 405")


main(body)
