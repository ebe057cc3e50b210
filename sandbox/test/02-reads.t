#!/usr/bin/env python3
# Every read endpoint: envelopes, paging, sorting, filters (checked against
# client-side filtering of the full list), includes (embed and sideload).
import math
import os
import re
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sandboxlib import Sandbox, main

LISTS = ["invoices", "invoiceLines", "contacts", "contactPersons", "products", "productPrices", "bills",
         "billLines", "bankPayments", "balanceModifiers", "accounts", "taxRates", "salesTaxRulesets",
         "salesTaxRules", "salesTaxReturns", "currencies"]
SINGULAR = {"invoices": "invoice", "invoiceLines": "invoiceLine", "contacts": "contact",
            "contactPersons": "contactPerson", "products": "product", "productPrices": "productPrice",
            "bills": "bill", "billLines": "billLine", "bankPayments": "bankPayment",
            "balanceModifiers": "balanceModifier", "accounts": "account", "taxRates": "taxRate",
            "salesTaxRulesets": "salesTaxRuleset", "salesTaxRules": "salesTaxRule",
            "salesTaxReturns": "salesTaxReturn", "currencies": "currency"}
DT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")
D = re.compile(r"^\d{4}-\d\d-\d\d$")


def strip(rec):
    return {k: v for k, v in rec.items() if k != "downloadUrl"}


def walk(obj, fn):
    if isinstance(obj, dict):
        for k, v in obj.items():
            fn(k, v)
            walk(v, fn)
    elif isinstance(obj, list):
        for v in obj:
            walk(v, fn)


def body(t):
    s = Sandbox("--invoices", "700", "--contacts", "80", "--products", "30", "--bills", "150")
    everything = {}
    for res in LISTS:
        r = s.get("/v2/%s" % res)
        d = r.json()
        meta = d.get("meta", {})
        paging = meta.get("paging", {})
        ok = (r.status == 200 and meta.get("statusCode") == 200 and meta.get("success") is True and
              isinstance(meta.get("time"), (int, float)) and isinstance(d.get(res), list) and
              set(paging) == {"page", "pageCount", "pageSize", "total", "firstUrl", "previousUrl", "nextUrl", "lastUrl"}
              and paging["page"] == 1 and paging["pageSize"] == 1000 and
              len(d[res]) == min(1000, paging["total"]) and
              paging["pageCount"] == max(1, math.ceil(paging["total"] / 1000)))
        everything[res] = s.list_all(res)
        t.ok(ok and len(d[res]) > 0 and len(everything[res]) == paging["total"],
             "GET /v2/%s: list envelope with full meta.paging (%d records)" % (res, paging["total"]), r.body[:300])
        first = d[res][0]
        one = s.get("/v2/%s/%s" % (res, urllib.parse.quote(first["id"])))
        od = one.json()
        t.ok(one.status == 200 and od["meta"]["success"] is True and "paging" not in od["meta"] and
             strip(od.get(SINGULAR[res], {})) == strip(first),
             "GET /v2/%s/:id: singular root '%s', same record as in the list" % (res, SINGULAR[res]))

    r = s.get("/v2/organization")
    org = r.json().get("organization", {})
    t.ok(r.status == 200 and org.get("id") == s.org_id and org.get("baseCurrencyId") == "DKK" and
         org.get("vatPeriod") in ("month", "quarter", "halfYear"), "GET /v2/organization")
    r = s.get("/v2/organizations/%s" % s.org_id)
    t.is_(r.json().get("organization"), org, "GET /v2/organizations/:id is the same organization")

    # no updatedTime anywhere; dates and datetimes in Billy's formats
    bad = []

    def check(k, v):
        if k == "updatedTime":
            bad.append(k)
        if k.endswith("Time") and v is not None and not DT.match(v):
            bad.append((k, v))
        if k in ("entryDate", "dueDate", "startDate", "endDate", "reportDeadline") and v is not None and not D.match(v):
            bad.append((k, v))
    walk(everything, check)
    t.ok(not bad, "no updatedTime; dates YYYY-MM-DD, datetimes YYYY-MM-DDTHH:MM:SS", bad[:5])
    t.ok(all("lines" not in i and "balanceModifiers" not in i for i in everything["invoices"]),
         "has-many children are not returned by default")

    # paging
    total = len(everything["invoices"])
    pages, url, seen = [], "/v2/invoices?pageSize=7&state=approved", 0
    d = s.get(url).json()
    pc = d["meta"]["paging"]["pageCount"]
    t.is_(d["meta"]["paging"]["previousUrl"], None, "page 1 has no previousUrl")
    t.ok(d["meta"]["paging"]["lastUrl"].endswith("page=%d&pageSize=7" % pc) and
         "state=approved" in d["meta"]["paging"]["lastUrl"], "lastUrl keeps the filters and points at the last page")
    collected = list(d["invoices"])
    nxt = d["meta"]["paging"]["nextUrl"]
    while nxt:
        u = urllib.parse.urlparse(nxt)
        d = s.get(u.path + "?" + u.query).json()
        collected += d["invoices"]
        seen += 1
        nxt = d["meta"]["paging"]["nextUrl"]
        if seen > 500:
            break
    approved = [i for i in everything["invoices"] if i["state"] == "approved"]
    t.is_([i["id"] for i in collected], [i["id"] for i in approved], "following nextUrl visits every record once, in order")
    t.is_(d["meta"]["paging"]["page"], pc, "the last page is pageCount")
    t.ok(len(collected) == d["meta"]["paging"]["total"] and pc == math.ceil(len(approved) / 7), "total and pageCount agree")
    d = s.get("/v2/invoices?pageSize=7&page=%d" % (pc + 50)).json()
    t.ok(d["invoices"] == [] and d["meta"]["paging"]["nextUrl"] is None, "a page past the end is empty")
    d = s.get("/v2/invoices?pageSize=5000").json()
    t.is_(d["meta"]["paging"]["pageSize"], 1000, "pageSize above 1000 is clamped to 1000")
    d = s.get("/v2/invoices?pageSize=0&page=-3").json()
    t.ok(d["meta"]["paging"]["pageSize"] == 1000 and d["meta"]["paging"]["page"] == 1, "nonsense page/pageSize fall back to the defaults")

    # order
    created = [i["createdTime"] for i in everything["invoices"]]
    t.is_(created, sorted(created), "default order is creation order (createdTime ascending)")
    d = s.list_all("invoices", "sortProperty=entryDate&sortDirection=DESC")
    keys = [(i["entryDate"], i["id"]) for i in d]
    t.is_(keys, sorted(keys, reverse=True), "sortProperty=entryDate DESC, ties by id")
    d = s.list_all("invoices", "sortProperty=grossAmount")
    keys = [(float(i["grossAmount"]), i["id"]) for i in d]
    t.is_(keys, sorted(keys), "sortProperty=grossAmount ASC, ties by id")
    d = s.list_all("invoices", "sortProperty=invoiceNo&state=approved")
    nos = [int(i["invoiceNo"]) for i in d]
    t.is_(nos, sorted(nos), "sortProperty=invoiceNo sorts numbers naturally")
    d = s.list_all("bills", "sortProperty=contact.name")
    names = {c["id"]: c["name"] for c in everything["contacts"]}
    keys = [(names[b["contactId"]].encode(), b["id"]) for b in d]
    t.is_(keys, sorted(keys), "bills sortProperty=contact.name")
    d = s.list_all("invoices", "sortProperty=noSuchProperty")
    t.is_([i["id"] for i in d], [i["id"] for i in everything["invoices"]], "an unknown sortProperty is ignored")

    # filters, checked against client-side filtering
    inv = everything["invoices"]
    some = inv[len(inv) // 2]
    contact = some["contactId"]

    def check_filter(query, pred, resource="invoices"):
        got = [x["id"] for x in s.list_all(resource, query)]
        want = [x["id"] for x in everything[resource] if pred(x)]
        t.ok(got == want and (len(want) > 0 or "none" in query),
             "%s?%s (%d records)" % (resource, query, len(want)), "got %d want %d" % (len(got), len(want)))

    check_filter("contactId=" + contact, lambda i: i["contactId"] == contact)
    check_filter("state=draft", lambda i: i["state"] == "draft")
    check_filter("state=voided", lambda i: i["state"] == "voided")
    check_filter("isPaid=true", lambda i: i["isPaid"])
    check_filter("isPaid=false&state=approved", lambda i: not i["isPaid"] and i["state"] == "approved")
    check_filter("currencyId=EUR", lambda i: i["currencyId"] == "EUR")
    check_filter("minEntryDate=2024-03-01&maxEntryDate=2024-03-31", lambda i: "2024-03-01" <= i["entryDate"] <= "2024-03-31")
    check_filter("entryDatePeriod=month:2024-11", lambda i: i["entryDate"].startswith("2024-11"))
    check_filter("entryDatePeriod=quarter:2024-4", lambda i: "2024-10-01" <= i["entryDate"] <= "2024-12-31")
    check_filter("entryDatePeriod=halfYear:2023-1", lambda i: "2023-01-01" <= i["entryDate"] <= "2023-06-30")
    check_filter("entryDatePeriod=year:2024", lambda i: i["entryDate"].startswith("2024"))
    check_filter("entryDatePeriod=dates:2024-01-15...2024-02-14", lambda i: "2024-01-15" <= i["entryDate"] <= "2024-02-14")
    check_filter("entryDatePeriod=day:" + some["entryDate"], lambda i: i["entryDate"] == some["entryDate"])
    check_filter("entryDatePeriod=all", lambda i: True)
    check_filter("minDueDate=2025-06-01", lambda i: i["dueDate"] >= "2025-06-01")
    check_filter("invoiceNo=" + (some["invoiceNo"] or "1"), lambda i: i["invoiceNo"] == (some["invoiceNo"] or "1"))
    cn = [i for i in inv if i["type"] == "creditNote"]
    t.ok(len(cn) > 0, "there are credit notes")
    check_filter("creditedInvoiceId=" + cn[0]["creditedInvoiceId"], lambda i: i["creditedInvoiceId"] == cn[0]["creditedInvoiceId"])
    name = names[contact]
    word = name.split()[0]
    check_filter("q=" + urllib.parse.quote(word.lower()),
                 lambda i: word.lower() in names[i["contactId"]].lower() or word.lower() in (i["lineDescription"] or "").lower()
                 or word.lower() in (i["invoiceNo"] or "") or word.lower() in (i["orderNo"] or "").lower())
    check_filter("contactId=none", lambda i: False)
    check_filter("noSuchFilter=1&organizationId=" + s.org_id, lambda i: True)
    check_filter("state=approved&isPaid=false&currencyId=DKK",
                 lambda i: i["state"] == "approved" and not i["isPaid"] and i["currencyId"] == "DKK")
    bills = everything["bills"]
    check_filter("contactId=" + bills[3]["contactId"], lambda b: b["contactId"] == bills[3]["contactId"], "bills")
    check_filter("isPaid=false", lambda b: not b["isPaid"], "bills")
    check_filter("state=approved", lambda b: b["state"] == "approved", "bills")
    check_filter("entryDatePeriod=year:2024", lambda b: b["entryDate"].startswith("2024"), "bills")
    check_filter("suppliersInvoiceNo=" + bills[5]["suppliersInvoiceNo"],
                 lambda b: b["suppliersInvoiceNo"] == bills[5]["suppliersInvoiceNo"], "bills")
    check_filter("isCustomer=true", lambda c: c["isCustomer"], "contacts")
    check_filter("isSupplier=true", lambda c: c["isSupplier"], "contacts")
    check_filter("isArchived=false", lambda c: not c["isArchived"], "contacts")
    check_filter("q=aps", lambda c: "aps" in c["name"].lower() or "aps" in (c["street"] or "").lower()
                 or "aps" in (c["cityText"] or "").lower(), "contacts")
    check_filter("contactNo=" + everything["contacts"][4]["contactNo"],
                 lambda c: c["contactNo"] == everything["contacts"][4]["contactNo"], "contacts")
    check_filter("productNo=" + everything["products"][2]["productNo"],
                 lambda p: p["productNo"] == everything["products"][2]["productNo"], "products")
    check_filter("invoiceId=" + some["id"], lambda l: l["invoiceId"] == some["id"], "invoiceLines")
    check_filter("billId=" + bills[0]["id"], lambda l: l["billId"] == bills[0]["id"], "billLines")
    check_filter("contactId=" + contact, lambda p: p["contactId"] == contact, "contactPersons")
    prod = everything["products"][0]["id"]
    check_filter("productId=" + prod, lambda p: p["productId"] == prod, "productPrices")
    paid = next(i for i in inv if i["isPaid"] and i["type"] == "invoice")
    check_filter("subjectReference=invoice:" + paid["id"], lambda m: m["subjectReference"] == "invoice:" + paid["id"],
                 "balanceModifiers")
    pay = everything["bankPayments"][0]["id"]
    check_filter("modifierReference=bankPayment:" + pay, lambda m: m["modifierReference"] == "bankPayment:" + pay,
                 "balanceModifiers")
    check_filter("isBankAccount=true", lambda a: a["isBankAccount"], "accounts")
    r = s.get("/v2/invoices?entryDatePeriod=quarter:2024-5")
    t.is_(r.status, 422, "a malformed entryDatePeriod is a 422")
    r = s.get("/v2/invoices?organizationId=someoneElse")
    t.is_(r.status, 422, "organizationId of another organization is a 422")

    # includes
    d = s.get("/v2/invoices?pageSize=20&include=invoice.lines:embed,invoice.balanceModifiers:embed").json()
    lines_by_inv = {}
    for ln in everything["invoiceLines"]:
        lines_by_inv.setdefault(ln["invoiceId"], []).append(ln)
    mods = {}
    for m in everything["balanceModifiers"]:
        mods.setdefault(m["subjectReference"], []).append(m)
    t.ok(all(i["lines"] == lines_by_inv[i["id"]] for i in d["invoices"]), "invoice.lines:embed embeds exactly the lines")
    t.ok(all(i["balanceModifiers"] == mods.get("invoice:" + i["id"], []) for i in d["invoices"]),
         "invoice.balanceModifiers:embed embeds the modifiers")
    d = s.get("/v2/invoices?pageSize=20&include=invoice.lines:sideload,invoice.contact:sideload").json()
    side_ids = [ln["id"] for ln in d.get("invoiceLines", [])]
    want = [ln["id"] for i in d["invoices"] for ln in lines_by_inv[i["id"]]]
    t.ok(all(i["lineIds"] == [ln["id"] for ln in lines_by_inv[i["id"]]] for i in d["invoices"]) and
         sorted(side_ids) == sorted(want), "invoice.lines:sideload gives lineIds and a root invoiceLines array")
    cids = {i["contactId"] for i in d["invoices"]}
    t.ok(sorted(c["id"] for c in d.get("contacts", [])) == sorted(cids), "invoice.contact:sideload: root contacts, once each")
    d = s.get("/v2/invoices?pageSize=3&include=invoice.lines").json()
    t.ok("invoiceLines" in d and all("lineIds" in i for i in d["invoices"]), "the include mode defaults to sideload")
    d = s.get("/v2/invoices?pageSize=3&include=invoice.contact:embed").json()
    t.ok(all(i["contact"]["id"] == i["contactId"] for i in d["invoices"]), "invoice.contact:embed embeds the contact")
    d = s.get("/v2/invoices?pageSize=3&include=lines,bill.lines:embed").json()
    t.ok(all("lines" not in i and "lineIds" not in i for i in d["invoices"]) and "invoiceLines" not in d,
         "unqualified (or other resources') include names are ignored")
    d = s.get("/v2/bills?pageSize=5&include=bill.lines:embed,bill.balanceModifiers:embed").json()
    t.ok(all(len(b["lines"]) > 0 and all(ln["billId"] == b["id"] for ln in b["lines"]) for b in d["bills"]) and
         all("balanceModifiers" in b for b in d["bills"]), "bill.lines:embed and bill.balanceModifiers:embed")
    d = s.get("/v2/bankPayments?pageSize=5&include=bankPayment.associations:embed").json()
    t.ok(all(len(p["associations"]) > 0 and all(a["modifierReference"] == "bankPayment:" + p["id"] for a in p["associations"])
             for p in d["bankPayments"]), "bankPayment.associations:embed")
    d = s.get("/v2/bankPayments?pageSize=5&include=bankPayment.associations").json()
    t.ok(all("associationIds" in p for p in d["bankPayments"]) and len(d.get("balanceModifiers", [])) > 0,
         "bankPayment.associations:sideload -> associationIds + root balanceModifiers")
    d = s.get("/v2/products?pageSize=5&include=product.prices:embed").json()
    t.ok(all(len(p["prices"]) > 0 and all(x["productId"] == p["id"] for x in p["prices"]) for p in d["products"]),
         "product.prices:embed")
    d = s.get("/v2/contacts?pageSize=5&include=contact.contactPersons:embed").json()
    t.ok(all(len(c["contactPersons"]) > 0 for c in d["contacts"]), "contact.contactPersons:embed")
    d = s.get("/v2/salesTaxRulesets?include=salesTaxRuleset.rules:embed").json()
    t.ok(all(len(rs["rules"]) > 0 for rs in d["salesTaxRulesets"]), "salesTaxRuleset.rules:embed")
    d = s.get("/v2/invoices/%s?include=invoice.lines:embed" % some["id"]).json()
    t.is_(d["invoice"]["lines"], lines_by_inv[some["id"]], "includes work on GET one too")

    # downloadUrl rotates on every read
    a = s.get("/v2/invoices/%s" % some["id"]).json()["invoice"]["downloadUrl"]
    b = s.get("/v2/invoices/%s" % some["id"]).json()["invoice"]["downloadUrl"]
    t.ok(a != b and a.startswith(s.base_url + "/downloads/invoices/" + some["id"] + "/" + s.org_id + "/"),
         "downloadUrl carries a new token on every read")

    # HEAD behaves like GET without a body
    r = s.request("HEAD", "/v2/invoices?pageSize=1")
    t.ok(r.status == 200 and r.body == b"", "HEAD answers 200 without a body")


main(body)
