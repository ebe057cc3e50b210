#!/usr/bin/env python3
# GET /_sandbox/bankTruth: each generated bank line that pays an open
# document is listed with that document; the document is approved, open,
# in the line's currency, its balance the line's amount, on the line's side;
# the line is unmatched and its text carries the invoice number or the
# counterparty's name; matching a line takes it off the list.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sandboxlib import Sandbox, main, money


def body(t):
    s = Sandbox("--invoices", "2000", "--contacts", "200", "--bills", "400", seed=7)
    truth = s.control("GET", "bankTruth?org=" + s.org_id)["bankLines"]
    t.ok(len(truth) >= 5, "the generated statement has lines that pay open documents (%d)" % len(truth))
    lines = {l["id"]: l for l in s.dump("bankLines")["bankLines"]}
    docs = {}
    for kind, res in (("invoice", "invoices"), ("bill", "bills")):
        for d in s.dump(res)[res]:
            docs[kind + ":" + d["id"]] = d
    contacts = {c["id"]: c["name"] for c in s.dump("contacts")["contacts"]}
    accounts = {a["id"]: a for a in s.dump("accounts")["accounts"]}
    bad = []
    for e in truth:
        l, d = lines.get(e["id"]), docs.get(e["pays"])
        if l is None or d is None:
            bad.append((e, "unknown line or document"))
            continue
        kind = e["pays"].split(":")[0]
        name = (contacts.get(d["contactId"]) or d.get("contactName") or "").upper()[:10]
        cur = accounts[l["accountId"]]["currencyId"]
        if not (l["matchId"] is None and d["state"] == "approved" and not d["isPaid"]
                and money(d["balance"]) == money(l["amount"]) and d["currencyId"] == cur
                and l["side"] == ("debit" if kind == "invoice" else "credit")
                and ((d.get("invoiceNo") or "~") in l["description"] or name in l["description"].upper())):
            bad.append((e, l, d.get("invoiceNo"), d["balance"], d["state"], d["isPaid"]))
    t.ok(not bad, "every listed line is unmatched and pays an open document of its amount, side and currency, named in its text", bad[:3])
    t.ok(len({e["pays"] for e in truth}) == len(truth), "no document is paid by two lines")

    # matching a line takes it off the list
    e = truth[0]
    s.api("POST", "/bankLineMatches", {"bankLineMatch": {"lineIds": [e["id"]],
                                                          "subjectAssociations": [{"subjectReference": e["pays"]}]}})
    after = s.control("GET", "bankTruth?org=" + s.org_id)["bankLines"]
    t.ok(e["id"] not in {x["id"] for x in after} and len(after) == len(truth) - 1, "a matched line is no longer listed")
    r = s.request("POST", "/_sandbox/bankTruth", auth=False)
    t.is_(r.status, 405, "bankTruth answers GET only")


main(body)
