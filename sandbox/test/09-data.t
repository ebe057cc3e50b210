#!/usr/bin/env python3
# The generated books are realistic and valid: CVR numbers (modulus 11),
# postcodes, countries and VAT numbers, three seasonal years of invoices in
# every state, credit notes, payments, bills with reverse charge and
# restaurants, the Danish tax rates and rulesets, sales tax returns.
import datetime
import os
import re
import sys
from collections import Counter
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sandboxlib import TODAY, Sandbox, main, money

EU = {"AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU", "MT",
      "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"}


def cvr_ok(s):
    if not s or not re.match(r"^[1-9]\d{7}$", s):
        return False
    return sum(w * int(d) for w, d in zip([2, 7, 6, 5, 4, 3, 2, 1], s)) % 11 == 0


def d(s):
    return datetime.date.fromisoformat(s)


def body(t):
    s = Sandbox("--invoices", "3000", "--contacts", "300", "--products", "60", "--bills", "600")
    today = d(TODAY)
    org = s.api("GET", "/organization")["organization"]
    contacts = s.list_all("contacts", "include=contact.contactPersons:embed")
    invoices = s.list_all("invoices", "include=invoice.lines:embed")
    bills = s.list_all("bills", "include=bill.lines:embed")
    rates = {r["id"]: r for r in s.api("GET", "/taxRates")["taxRates"]}
    by_abbr = {r["abbreviation"]: r for r in rates.values()}
    products = {p["id"]: p for p in s.list_all("products")}
    rulesets = {r["id"]: r for r in s.api("GET", "/salesTaxRulesets?include=salesTaxRuleset.rules:embed")["salesTaxRulesets"]}
    cmap = {c["id"]: c for c in contacts}

    t.ok(cvr_ok(org["registrationNo"]), "the organization's CVR number is valid (modulus 11)")
    dk_co = [c for c in contacts if c["countryId"] == "DK" and c["type"] == "company"]
    bad = [c["registrationNo"] for c in dk_co if not cvr_ok(c["registrationNo"])]
    t.ok(len(dk_co) > 100 and not bad, "all %d Danish company contacts have valid CVR numbers" % len(dk_co), bad[:5])
    t.ok(all(c["registrationNo"] is None for c in contacts if c["countryId"] == "DK" and c["type"] == "person"),
         "Danish private persons have no CVR number")
    zips = {}
    bad = []
    for c in contacts:
        if c["countryId"] == "DK":
            if not re.match(r"^[1-9]\d{3}$", c["zipcodeText"] or "") or not c["cityText"]:
                bad.append(c["zipcodeText"])
            elif zips.setdefault(c["zipcodeText"], c["cityText"]) != c["cityText"]:
                bad.append((c["zipcodeText"], c["cityText"]))
    t.ok(not bad and len(zips) > 15, "Danish addresses have 4-digit postcodes, one city per postcode (%d postcodes)" % len(zips), bad[:5])
    t.ok(zips.get("8000", "Aarhus C") == "Aarhus C" and zips.get("5000", "Odense C") == "Odense C" and
         zips.get("2100", "København Ø") == "København Ø", "postcodes name their real cities")
    customers = [c for c in contacts if c["isCustomer"]]
    by_region = Counter("DK" if c["countryId"] == "DK" else "EU" if c["countryId"] in EU else "world" for c in customers)
    t.ok(by_region["DK"] > 0.5 * len(customers) and by_region["EU"] > 10 and by_region["world"] > 5,
         "customers mostly Danish, some EU, some outside the EU: %s" % dict(by_region))
    eu_co = [c for c in customers if c["countryId"] in EU - {"DK"} and c["type"] == "company" and c["registrationNo"]]
    t.ok(len(eu_co) > 10 and all(c["registrationNo"].startswith(c["countryId"] if c["countryId"] != "AT" else "ATU")
                                 for c in eu_co), "EU companies carry VAT numbers with their country prefix")
    t.ok({"NO", "US", "GB", "CH"} & {c["countryId"] for c in customers} >= {"NO", "US", "GB"},
         "customers outside the EU include NO, US and GB")
    persons = [p for c in contacts for p in c["contactPersons"]]
    t.ok(len(persons) >= len(contacts) and all("@" in (p["email"] or "") for p in persons) and
         all(sum(p["isPrimary"] for p in c["contactPersons"]) == 1 for c in contacts),
         "every contact has persons with e-mails, one primary")
    sup = [c for c in contacts if c["isSupplier"]]
    t.ok({"DK", "DE", "US", "IE"} <= {c["countryId"] for c in sup}, "suppliers in DK, the EU and outside it")

    # invoices: three seasonal years up to --today, every state
    dates = [d(i["entryDate"]) for i in invoices]
    t.ok(max(dates) <= today and min(dates) >= today.replace(year=today.year - 3) - datetime.timedelta(days=31) and
         (max(dates) - min(dates)).days > 1000, "about three years of invoices ending at --today (%s .. %s)" % (min(dates), max(dates)))
    months = Counter((x.year, x.month) for x in dates)
    t.ok(len(months) >= 36, "every month has invoices")
    years = [y for y in range(min(dates).year, today.year) if (y, 7) in months and (y, 11) in months]
    q4 = sum(months[(y, m)] for y in years for m in (10, 11, 12)) / (3.0 * len(years))
    july = sum(months[(y, 7)] for y in years) / float(len(years))
    t.ok(q4 > 1.5 * july, "seasonality: Q4 months (%.0f invoices) busier than July (%.0f)" % (q4, july))
    states = Counter(i["state"] for i in invoices)
    t.ok(states["draft"] > 0 and states["voided"] > 0 and states["approved"] > 0.9 * len(invoices),
         "draft, approved and voided invoices: %s" % dict(states))
    t.ok(all(i["invoiceNo"] is None and i["approvedTime"] is None for i in invoices if i["state"] == "draft"),
         "drafts have no invoiceNo and no approvedTime")
    numbered = sorted((i for i in invoices if i["state"] != "draft"), key=lambda i: (i["approvedTime"], int(i["invoiceNo"])))
    t.is_([int(i["invoiceNo"]) for i in numbered], list(range(1, len(numbered) + 1)),
          "approved invoices are numbered 1..N in approval order")
    t.is_(org["nextInvoiceNo"], len(numbered) + 1, "organization nextInvoiceNo follows the last number")
    t.ok(all(d(i["dueDate"]) == d(i["entryDate"]) + datetime.timedelta(days=i["paymentTermsDays"]) for i in invoices),
         "dueDate = entryDate + paymentTermsDays")
    t.ok({i["sentState"] for i in invoices if i["state"] == "approved"} >= {"unsent", "sent", "opened", "viewed"},
         "sentState takes unsent, sent, opened and viewed")
    inv_by_id = {i["id"]: i for i in invoices}
    cns = [i for i in invoices if i["type"] == "creditNote"]
    t.ok(len(cns) > 30 and all(inv_by_id[c["creditedInvoiceId"]]["type"] == "invoice" and
                               inv_by_id[c["creditedInvoiceId"]]["contactId"] == c["contactId"] and
                               c["entryDate"] > inv_by_id[c["creditedInvoiceId"]]["entryDate"] and
                               money(c["amount"]) > 0 for c in cns),
         "%d credit notes: positive amounts, same customer, after the invoice they credit" % len(cns))
    appr = [i for i in invoices if i["state"] == "approved" and i["type"] == "invoice"]
    paid = [i for i in appr if i["isPaid"]]
    partly = [i for i in appr if 0 < money(i["balance"]) < money(i["grossAmount"])]
    unpaid = [i for i in appr if money(i["balance"]) == money(i["grossAmount"]) and money(i["grossAmount"]) > 0]
    overdue = [i for i in unpaid + partly if d(i["dueDate"]) < today]
    t.ok(len(paid) > 0.7 * len(appr) and len(partly) > 5 and len(unpaid) > 10 and len(overdue) > 5,
         "paid %d, partly paid %d, unpaid %d, overdue %d" % (len(paid), len(partly), len(unpaid), len(overdue)))
    cur = Counter(i["currencyId"] for i in invoices)
    t.ok(cur["DKK"] > 0.6 * len(invoices) and cur["EUR"] > 0 and cur["SEK"] > 0, "mostly DKK, some EUR and SEK: %s" % dict(cur))
    rate_ok = all((i["currencyId"] == "DKK" and i["exchangeRate"] == 1) or
                  (i["currencyId"] == "EUR" and 7.4 < i["exchangeRate"] < 7.5) or
                  (i["currencyId"] == "SEK" and 0.6 < i["exchangeRate"] < 0.75) or
                  i["currencyId"] not in ("DKK", "EUR", "SEK") for i in invoices)
    t.ok(rate_ok, "exchangeRate: DKK 1, EUR about 7.46, SEK about 0.69 (DKK per unit)")
    t.ok(Counter(i["taxMode"] for i in invoices)["incl"] > 20, "some invoices use taxMode incl")

    # line tax rates follow the product's ruleset and the customer (independent implementation)
    def derive(prod, contact):
        rs = rulesets[products[prod]["salesTaxRulesetId"]]
        typ = "company" if contact["type"] == "company" and contact["registrationNo"] else "person"
        best = None
        for r in rs["rules"]:
            if r["countryId"] and r["countryId"] != contact["countryId"]:
                continue
            if r["countryGroupId"] == "EU" and contact["countryId"] not in EU:
                continue
            if r["contactType"] and r["contactType"] != typ:
                continue
            if best is None or r["priority"] < best["priority"]:
                best = r
        return best["taxRateId"] if best else rs["fallbackTaxRateId"]
    bad = [(i["id"], ln["id"]) for i in invoices for ln in i["lines"] if ln["taxRateId"] != derive(ln["productId"], cmap[i["contactId"]])]
    t.ok(not bad, "every invoice line's taxRateId follows its product's ruleset and the customer", bad[:3])
    used = Counter(rates[ln["taxRateId"]]["abbreviation"] for i in invoices for ln in i["lines"])
    t.ok(all(used[a] > 0 for a in ["S25", "EUV", "EUY", "EKS", "FRI"]), "sales use S25, EUV, EUY, EKS and FRI: %s" % dict(used))

    # bills
    bl_used = Counter()
    bad = []
    for b in bills:
        for ln in b["lines"]:
            a = rates[ln["taxRateId"]]["abbreviation"]
            bl_used[a] += 1
            if a in ("UV25", "UY25", "UYX25") and money(ln["tax"]) != 0:
                bad.append(ln["id"])
            if a == "REP25" and b["taxMode"] == "incl":
                gross = money(ln["amount"]) + money(ln["tax"])
                if abs(money(ln["tax"]) - gross / 5) > Decimal("0.01"):
                    bad.append(ln["id"])
    t.ok(not bad and all(bl_used[a] > 0 for a in ["K25", "UV25", "UY25", "UYX25", "REP25", "INGEN"]),
         "bills: reverse-charge lines carry tax 0, restaurant lines full 25%%: %s" % dict(bl_used), bad[:3])
    t.ok({b["currencyId"] for b in bills} >= {"DKK", "EUR", "SEK", "USD"}, "bills in DKK, EUR, SEK and USD")
    t.ok(Counter(b["isPaid"] for b in bills)[True] > 0.7 * len(bills), "most bills are paid")

    # payments
    pays = s.list_all("bankPayments", "include=bankPayment.associations:embed")
    t.ok(all(all(money(a["amount"]) < 0 for a in p["associations"]) for p in pays) and
         any(len(p["associations"]) > 1 for p in pays) and {p["cashSide"] for p in pays} == {"debit", "credit"},
         "bank payments: negative associations, deposits and withdrawals, some paying several invoices")

    # tax rates, rulesets, accounts, currencies, sales tax returns
    expected = {"S25": ("Salgsmoms 25%", 0.25, True, False), "EUV": ("EU-salg af varer (0%)", 0, True, False),
                "EUY": ("EU-salg af ydelser (0%)", 0, True, False), "EKS": ("Eksport uden for EU (0%)", 0, True, False),
                "FRI": ("Momsfritaget salg", 0, True, False), "K25": ("Købsmoms 25%", 0.25, False, True),
                "UV25": ("Udlandsmoms varer (EU) 25%", 0.25, False, True),
                "UY25": ("Udlandsmoms ydelser (EU) 25%", 0.25, False, True),
                "UYX25": ("Udlandsmoms ydelser (uden for EU) 25%", 0.25, False, True),
                "REP25": ("Restaurant 25% (25% fradrag)", 0.25, False, True), "INGEN": ("Ingen moms", 0, True, True)}
    got = {a: (r["name"], r["rate"], r["appliesToSales"], r["appliesToPurchases"]) for a, r in by_abbr.items()}
    t.is_(got, expected, "the eleven predefined tax rates, by abbreviation")
    t.ok(by_abbr["REP25"]["deductionComponents"][0]["share"] == 0.25 and by_abbr["K25"]["deductionComponents"][0]["share"] == 1
         and by_abbr["S25"]["deductionComponents"] == [], "deductionComponents: K25 share 1, REP25 share 0.25")
    t.is_(sorted(r["name"] for r in rulesets.values()), ["Momsfri", "Varer", "Ydelser"], "rulesets Varer, Ydelser, Momsfri")
    accounts = s.api("GET", "/accounts")["accounts"]
    roles = {a["systemRole"] for a in accounts}
    t.ok({"accountsReceivable", "accountsPayable"} <= roles and
         any(a["isBankAccount"] and a["isPaymentEnabled"] and a["currencyId"] == "DKK" for a in accounts),
         "accounts: AR, AP and a payment-enabled DKK bank account")
    t.is_(sorted(c["id"] for c in s.api("GET", "/currencies")["currencies"]), ["DKK", "EUR", "GBP", "NOK", "SEK", "USD"],
          "currencies")
    rets = s.api("GET", "/salesTaxReturns")["salesTaxReturns"]
    t.ok(len(rets) >= 11 and all(r["periodType"] == org["vatPeriod"] for r in rets) and
         all(d(rets[k + 1]["startDate"]) == d(rets[k]["endDate"]) + datetime.timedelta(days=1) for k in range(len(rets) - 1))
         and d(rets[-1]["endDate"]) < today, "sales tax returns: consecutive %s periods up to the last ended one" % org["vatPeriod"])
    dl = {r["period"]: r["reportDeadline"] for r in rets}
    t.is_((dl.get("quarter:2025-1"), dl.get("quarter:2024-2"), dl.get("quarter:2023-4")),
          ("2025-06-02", "2024-09-02", "2024-03-01"),
          "reportDeadline: 1st of the 3rd month after the quarter, moved past weekends (Q1-2025 -> 2 June)")
    t.ok(all(r["isSettled"] == (r["reportDeadline"] < TODAY) for r in rets), "returns past their deadline are settled")

    # --bank-payments caps the payments
    s2 = Sandbox("--invoices", "300", "--contacts", "30", "--bills", "30", "--bank-payments", "0")
    t.is_(s2.api("GET", "/bankPayments")["meta"]["paging"]["total"], 0, "--bank-payments 0: no bank payments")
    inv2 = s2.list_all("invoices")
    credited = {i["creditedInvoiceId"] for i in inv2 if i["type"] == "creditNote"}
    t.ok(all(i["balance"] == i["grossAmount"] for i in inv2
             if i["state"] == "approved" and i["type"] == "invoice" and i["id"] not in credited) and
         len(s2.api("GET", "/balanceModifiers")["balanceModifiers"]) == 2 * len(
             [i for i in inv2 if i["type"] == "creditNote" and i["isPaid"]]),
         "... nothing is paid; the only balance modifiers are credit notes settling against invoices")
    s3 = Sandbox("--invoices", "300", "--contacts", "30", "--bills", "30", "--bank-payments", "25")
    t.is_(s3.api("GET", "/bankPayments")["meta"]["paging"]["total"], 25, "--bank-payments 25: 25 bank payments")
    s4 = Sandbox("--invoices", "0", "--contacts", "0", "--products", "0", "--bills", "0")
    t.ok(s4.api("GET", "/invoices")["invoices"] == [] and len(s4.api("GET", "/accounts")["accounts"]) > 20,
         "empty sizes give an organization with its chart of accounts and nothing else")


main(body)
