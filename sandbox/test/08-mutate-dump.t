#!/usr/bin/env python3
# /_sandbox/mutate and /_sandbox/dump: a dump after a mutation differs from
# the dump before exactly by the changes the mutation reported; the dump is
# what GET one returns, children embedded; mutations run safely while
# requests are served.
import os
import sys
import threading
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sandboxlib import Sandbox, main, money

TABLES = ["accounts", "taxRates", "salesTaxRulesets", "salesTaxRules", "contacts", "contactPersons", "products",
          "productPrices", "invoices", "invoiceLines", "bills", "billLines", "bankPayments", "balanceModifiers",
          "salesTaxReturns", "currencies",
          # the books
          "transactions", "postings", "daybooks", "daybookTransactions", "daybookTransactionLines", "bankLines",
          "bankLineMatches", "bankLineSubjectAssociations", "files", "attachments", "accountGroups"]
EMBED = {"transactions": "transaction.postings:embed", "daybookTransactions": "daybookTransaction.lines:embed",
         "bankLineMatches": "bankLineMatch.lines:embed,bankLineMatch.subjectAssociations:embed",
"invoices": "invoice.lines:embed,invoice.balanceModifiers:embed",
         "bills": "bill.lines:embed,bill.balanceModifiers:embed",
         "bankPayments": "bankPayment.associations:embed", "products": "product.prices:embed",
         "contacts": "contact.contactPersons:embed", "salesTaxRulesets": "salesTaxRuleset.rules:embed"}
SINGULAR = {"invoices": "invoice", "bills": "bill", "bankPayments": "bankPayment", "products": "product",
            "contacts": "contact", "salesTaxRulesets": "salesTaxRuleset", "invoiceLines": "invoiceLine",
            "balanceModifiers": "balanceModifier", "accounts": "account", "salesTaxReturns": "salesTaxReturn"}


def index(dump):
    return {res: {r["id"]: r for r in dump[res]} for res in TABLES}


def check_invariants(t, s, name):
    invs = s.list_all("invoices", "include=invoice.balanceModifiers:embed")
    bad = []
    for i in invs:
        live = sum((money(m["amount"]) for m in i["balanceModifiers"] if not m["isVoided"]), Decimal(0))
        if i["state"] == "approved":
            if money(i["balance"]) != money(i["grossAmount"]) + live or i["isPaid"] != (money(i["balance"]) == 0):
                bad.append(i["id"])
        elif money(i["balance"]) != 0 or i["isPaid"]:
            bad.append(i["id"])
    t.ok(not bad, "%s: balance = grossAmount + live modifiers, isPaid = approved and balance 0" % name, bad[:3])


def body(t):
    s = Sandbox("--invoices", "600", "--contacts", "60", "--products", "30", "--bills", "120")

    # the dump is GET one with children embedded, without downloadUrl, in list order
    full = s.dump()
    t.ok(set(full) == set(TABLES) | {"organization"}, "a dump without resource= has every resource plus organization")
    t.is_(full["organization"], s.api("GET", "/organization")["organization"], "dump organization = GET /v2/organization")
    for res in ["invoices", "bills", "bankPayments", "products", "contacts", "salesTaxRulesets", "invoiceLines",
                "balanceModifiers", "accounts", "salesTaxReturns"]:
        recs = full[res]
        same = True
        for r in [recs[0], recs[len(recs) // 2], recs[-1]]:
            q = "?include=" + EMBED[res] if res in EMBED else ""
            one = s.api("GET", "/%s/%s%s" % (res, r["id"], q))[SINGULAR[res]]
            one.pop("downloadUrl", None)
            same = same and one == r and "downloadUrl" not in r
        t.ok(same, "dump %s records = GET one with children embedded, no downloadUrl" % res)
        t.is_([r["id"] for r in recs], [r["id"] for r in s.list_all(res)], "dump %s is in default list order" % res)
    one = s.dump("invoices")
    t.ok(list(one) == ["invoices"] and one["invoices"] == full["invoices"], "dump?resource=invoices gives just that")
    r = s.request("GET", "/_sandbox/dump?resource=nothing", auth=False)
    t.is_(r.status, 422, "an unknown dump resource is a 422")

    # mutate: dump after == dump before + exactly the reported changes
    for round_, n in enumerate([40, 80]):
        before = index(s.dump())
        org_before = s.dump("organization")["organization"]
        m = s.control("POST", "mutate", {"org": s.org_id, "n": n})
        after = index(s.dump())
        org_after = s.dump("organization")["organization"]
        changes = m["changes"]
        t.ok(m["applied"] == n and len(changes) >= n, "round %d: %d changes applied, %d records reported" % (round_ + 1, n, len(changes)))
        kinds = {c["kind"] for c in changes}
        t.ok(len(kinds) >= 6, "round %d: a mix of kinds: %s" % (round_ + 1, ", ".join(sorted(kinds))))
        reported = {}
        for c in changes:
            reported.setdefault((c["resource"], c["id"]), set()).add(c["op"])
        problems = []
        for res in TABLES:
            b, a = before[res], after[res]
            for rid in set(a) - set(b):
                if "created" not in reported.get((res, rid), ()):
                    problems.append(("created, not reported", res, rid))
            for rid in set(b) - set(a):
                if "deleted" not in reported.get((res, rid), ()):
                    problems.append(("deleted, not reported", res, rid))
            for rid in set(a) & set(b):
                if a[rid] != b[rid] and not reported.get((res, rid)):
                    problems.append(("changed, not reported", res, rid))
        for (res, rid), ops in reported.items():
            if res == "organization":
                continue
            if "created" in ops and "deleted" in ops:
                if rid in before[res] or rid in after[res]:
                    problems.append(("reported created then deleted", res, rid))
            elif "created" in ops and (rid in before[res] or rid not in after[res]):
                problems.append(("reported created", res, rid))
            if "deleted" in ops and "created" not in ops and (rid not in before[res] or rid in after[res]):
                problems.append(("reported deleted", res, rid))
            if ops == {"updated"} and (rid not in before[res] or rid not in after[res]):
                problems.append(("reported updated", res, rid))
        if org_before != org_after and ("organization", s.org_id) not in reported:
            problems.append(("organization changed, not reported",))
        t.ok(not problems, "round %d: the dumps differ by exactly the reported changes" % (round_ + 1), problems[:5])
        check_invariants(t, s, "after round %d" % (round_ + 1))

    # kinds filter and seed
    m = s.control("POST", "mutate", {"org": s.org_id, "n": 5, "kinds": ["pay"]})
    res = {c["resource"] for c in m["changes"]}
    t.ok({c["kind"] for c in m["changes"]} == {"pay"} and {"invoices", "bankPayments", "balanceModifiers"} <= res,
         "kinds=[pay]: payments only (invoice, bank payment, modifier)")
    m = s.control("POST", "mutate", {"org": s.org_id, "n": 3, "kinds": ["deleteDraft", "approveDraft"]})
    t.ok(all(c["kind"] in ("deleteDraft", "approveDraft") for c in m["changes"]), "kinds=[deleteDraft, approveDraft]")
    r = s.request("POST", "/_sandbox/mutate", body={"org": s.org_id, "kinds": ["teleport"]}, auth=False)
    t.is_(r.status, 422, "an unknown mutate kind is a 422")
    r = s.request("POST", "/_sandbox/mutate", body={"org": "nobody", "n": 1}, auth=False)
    t.is_(r.status, 422, "an unknown org is a 422")

    # mutations while lists are being read
    errors = []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            try:
                for res in ["invoices", "bankPayments", "balanceModifiers"]:
                    d = s.api("GET", "/%s?pageSize=1000&include=%s" % (res, EMBED.get(res, "x.y")))
                    if not isinstance(d[res], list):
                        errors.append(res)
            except Exception as e:
                errors.append(repr(e))
    readers = [threading.Thread(target=reader) for _ in range(3)]
    for th in readers:
        th.start()
    m = s.control("POST", "mutate", {"org": s.org_id, "n": 300})
    stop.set()
    for th in readers:
        th.join()
    t.ok(m["applied"] == 300 and not errors, "300 mutations while three clients read lists: no errors", errors[:3])
    check_invariants(t, s, "after concurrent mutations")


main(body)
