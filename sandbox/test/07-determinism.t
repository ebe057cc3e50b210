#!/usr/bin/env python3
# Determinism: the same seed, sizes and --today give the same ids, tokens
# and bytes (downloadUrl aside), whatever --threads; the same writes and
# mutations then give the same answers too.  Another seed gives other data.
# Paging URLs carry the listen address, which differs between two runs on
# port 0: it is replaced by HOST before comparing.
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sandboxlib import Sandbox, main

DL = re.compile(rb'"downloadUrl":"[^"]*"')
SIZES = ["--orgs", "2", "--invoices", "500", "--contacts", "50", "--products", "25", "--bills", "100"]
PATHS = ["/v2/organization", "/v2/invoices?include=invoice.lines:embed,invoice.contact:sideload",
         "/v2/invoices?pageSize=33&page=4&sortProperty=grossAmount", "/v2/bills?include=bill.lines:embed",
         "/v2/contacts?include=contact.contactPersons:sideload", "/v2/bankPayments?include=bankPayment.associations:embed",
         "/v2/balanceModifiers", "/v2/products", "/v2/salesTaxReturns", "/v2/accounts", "/v2/taxRates"]


def snapshot(s):
    out = {"orgs": [(o["id"], o["token"], o["name"]) for o in s.orgs]}
    for o in s.orgs:
        for p in PATHS:
            r = s.get(p, token=o["token"])
            out[(o["id"], p)] = DL.sub(b'"downloadUrl":""', r.body).replace(
                ("127.0.0.1:%d" % s.port).encode(), b"HOST")
        out[(o["id"], "dump")] = s.get("/_sandbox/dump?org=" + o["id"], auth=False).body
    return out


def script(s):
    """the same writes and mutation in each run; returns the answers"""
    answers = []
    d = s.request("POST", "/v2/contacts", body={"contact": {"name": "Ens ApS", "countryId": "DK"}})
    answers.append(d.body)
    cid = d.json()["contacts"][0]["id"]
    prod = s.get("/v2/products?pageSize=1").json()["products"][0]["id"]
    d = s.request("POST", "/v2/invoices", body={"invoice": {"contactId": cid, "entryDate": "2025-06-30", "currencyId": "DKK",
                                                            "state": "approved",
                                                            "lines": [{"productId": prod, "unitPrice": 99.5}]}})
    answers.append(DL.sub(b"", d.body))
    answers.append(s.request("POST", "/_sandbox/mutate", body={"org": s.org_id, "n": 25}, auth=False).body)
    answers.append(s.request("POST", "/_sandbox/mutate", body={"org": s.org_id, "n": 5, "seed": 77}, auth=False).body)
    answers.append(s.get("/_sandbox/dump?org=" + s.org_id, auth=False).body)
    return answers


def body(t):
    a = Sandbox(*SIZES, "--threads", "1", seed=42)
    b = Sandbox(*SIZES, "--threads", "4", seed=42)
    c = Sandbox(*SIZES, seed=43)
    sa, sb_, sc = snapshot(a), snapshot(b), snapshot(c)
    t.is_(sa["orgs"], sb_["orgs"], "same seed: same organization ids, tokens and names")
    for key in sa:
        if key == "orgs":
            continue
        t.ok(sa[key] == sb_[key] and len(sa[key]) > 100, "same seed, 1 vs 4 threads: identical bytes for %s %s" % key)
    t.ok(sa["orgs"] != sc["orgs"], "another seed: other ids and tokens")
    t.ok(sa[(sa["orgs"][0][0], "dump")] != sc[(sc["orgs"][0][0], "dump")], "another seed: other data")
    # downloadUrl is the one thing that differs between reads
    p = "/v2/invoices?pageSize=3"
    t.ok(a.get(p).body != a.get(p).body and DL.sub(b"", a.get(p).body) == DL.sub(b"", a.get(p).body),
         "two reads differ only in downloadUrl")
    ra, rb = script(a), script(b)
    for i, (x, y) in enumerate(zip(ra, rb)):
        t.ok(x == y and len(x) > 50, "same writes and mutations, same answers (step %d)" % (i + 1),
             "%s\n%s" % (x[:200], y[:200]))


main(body)
