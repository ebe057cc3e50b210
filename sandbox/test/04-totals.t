#!/usr/bin/env python3
# Billy's totals algorithm on worked cases (computed by hand), tax rates
# derived from rulesets, and every generated invoice checked against an
# independent implementation in exact decimals.
import os
import sys
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sandboxlib import Sandbox, billy_totals, main, money


def body(t):
    s = Sandbox("--invoices", "400", "--contacts", "60", "--bills", "120")
    made = s.control("POST", "organizations", {"name": "Regneeksempler ApS", "empty": True})
    tok = made["token"]
    t.ok(len(tok) == 40 and made["organization"]["name"] == "Regneeksempler ApS", "an empty organization is created")
    rates = {r["abbreviation"]: r for r in s.api("GET", "/taxRates", token=tok)["taxRates"]}
    rulesets = {r["name"]: r["id"] for r in s.api("GET", "/salesTaxRulesets", token=tok)["salesTaxRulesets"]}
    accounts = {a["accountNo"]: a["id"] for a in s.api("GET", "/accounts", token=tok)["accounts"]}

    def contact(name, country, typ="company", reg=None):
        c = {"name": name, "countryId": country, "type": typ}
        if reg:
            c["registrationNo"] = reg
        return s.api("POST", "/contacts", {"contact": c}, token=tok)["contacts"][0]["id"]

    def product(name, ruleset):
        return s.api("POST", "/products", {"product": {"name": name, "salesTaxRulesetId": rulesets[ruleset],
                                                       "prices": [{"unitPrice": 100, "currencyId": "DKK"}]}},
                     token=tok)["products"][0]["id"]

    dk = contact("Hansen Tømrer ApS", "DK", reg="29403473")
    goods = product("Lampe", "Varer")
    services = product("Rådgivning", "Ydelser")
    exempt = product("Kursus", "Momsfri")

    def invoice(lines, tax_mode="excl", who=dk, **extra):
        inv = {"contactId": who, "entryDate": "2025-06-10", "currencyId": "DKK", "taxMode": tax_mode,
               "lines": [dict({"productId": goods}, **ln) for ln in lines]}
        inv.update(extra)
        d = s.api("POST", "/invoices", {"invoice": inv}, token=tok)
        return d["invoices"][0], d["invoiceLines"]

    def case(name, lines, tax_mode, amount, tax, gross, line_vals=None, who=dk):
        inv, lns = invoice(lines, tax_mode, who)
        got = (money(inv["amount"]), money(inv["tax"]), money(inv["grossAmount"]))
        want = (Decimal(amount), Decimal(tax), Decimal(gross))
        ok = got == want
        if line_vals is not None:
            got_l = [(money(ln["amount"]), money(ln["tax"])) for ln in lns]
            ok = ok and got_l == [(Decimal(a), Decimal(b)) for a, b in line_vals]
        t.ok(ok, name, "got %s lines %s" % (got, [(ln["amount"], ln["tax"]) for ln in lns]))
        return inv, lns

    case("3 x 33.33 at 25% excl: 99.99 + 25.00 (24.9975 rounds up) = 124.99",
         [{"quantity": 3, "unitPrice": 33.33}], "excl", "99.99", "25.00", "124.99", [("99.99", "25.00")])
    case("100.00 incl 25%: net 80.00, tax 20.00", [{"unitPrice": 100}], "incl", "80.00", "20.00", "100.00",
         [("80.00", "20.00")])
    case("99.99 incl 25%: tax 19.998 -> 20.00, net 79.99", [{"unitPrice": 99.99}], "incl", "79.99", "20.00", "99.99")
    case("2 x 49.95 with 12.5% discount: 99.90 -> 87.41 (87.4125), tax 21.85",
         [{"quantity": 2, "unitPrice": 49.95, "discountMode": "percent", "discountValue": 12.5}],
         "excl", "87.41", "21.85", "109.26")
    case("3 x 19.99 less 5.50 cash: 54.47, tax 13.62 (13.6175)",
         [{"quantity": 3, "unitPrice": 19.99, "discountMode": "cash", "discountValue": 5.5}],
         "excl", "54.47", "13.62", "68.09")
    case("25% percent discount written as 25: 4 x 10.00 -> 30.00",
         [{"quantity": 4, "unitPrice": 10, "discountMode": "percent", "discountValue": 25}],
         "excl", "30.00", "7.50", "37.50")
    case("7.5 hours x 850.00 = 6375.00, tax 1593.75", [{"quantity": 7.5, "unitPrice": 850}], "excl",
         "6375.00", "1593.75", "7968.75")
    case("invoice tax rounds the sum, not the lines: 2 x (0.02 at 25%) -> lines 0.01 + 0.01, invoice tax 0.01",
         [{"unitPrice": 0.02}, {"unitPrice": 0.02}], "excl", "0.04", "0.01", "0.05", [("0.02", "0.01"), ("0.02", "0.01")])
    case("incl: 3 x 0.03 -> tax round2(0.018) = 0.02, amount 0.07 while the lines say 0.02 net each",
         [{"unitPrice": 0.03}] * 3, "incl", "0.07", "0.02", "0.09", [("0.02", "0.01")] * 3)
    case("incl with an exempt line: 100.00 (S25) + 50.00 (FRI)",
         [{"unitPrice": 100}, {"productId": exempt, "unitPrice": 50}], "incl", "130.00", "20.00", "150.00",
         [("80.00", "20.00"), ("50.00", "0.00")])
    case("negative quantity (a return line) nets out", [{"quantity": 2, "unitPrice": 10}, {"quantity": -1, "unitPrice": 10}],
         "excl", "10.00", "2.50", "12.50")

    # tax rates derived from the product's ruleset and the contact
    de_co = contact("Schmidt Möbel GmbH", "DE", reg="DE123456789")
    de_novat = contact("Müller Handel GmbH", "DE")
    de_person = contact("Anna Weber", "DE", "person")
    no_co = contact("Berg Interiør AS", "NO", reg="NO912345678MVA")
    expect = [(dk, goods, "S25"), (de_co, goods, "EUV"), (de_co, services, "EUY"), (de_novat, goods, "S25"),
              (de_person, goods, "S25"), (no_co, goods, "EKS"), (no_co, services, "EKS"), (dk, exempt, "FRI"),
              (de_co, exempt, "FRI")]
    by_id = {r["id"]: a for a, r in rates.items()}
    for who, prod, abbr in expect:
        inv, lns = invoice([{"productId": prod, "unitPrice": 1000}], who=who)
        t.is_(by_id[lns[0]["taxRateId"]], abbr, "line taxRateId for %s/%s is %s" % (
            {dk: "DK company", de_co: "DE company with VAT no.", de_novat: "DE company without VAT no.",
             de_person: "DE person", no_co: "NO company"}[who],
            {goods: "goods", services: "services", exempt: "exempt"}[prod], abbr))
    inv, lns = invoice([{"productId": goods, "unitPrice": 1000}], who=de_co)
    t.ok(money(inv["tax"]) == 0 and money(inv["grossAmount"]) == 1000, "EU sale of goods: no VAT")

    # bills: incl means the amount given is gross; reverse charge carries no tax on the bill
    sup = contact("Kontorland ApS", "DK", reg="29403473")

    def bill(lines, tax_mode):
        d = s.api("POST", "/bills", {"bill": {"contactId": sup, "entryDate": "2025-05-02", "taxMode": tax_mode,
                                              "lines": lines}}, token=tok)
        return d["bills"][0], d["billLines"]

    b, bl = bill([{"accountId": accounts[3830], "taxRateId": rates["K25"]["id"], "description": "Kontorartikler",
                   "amount": 1234.56}], "incl")
    t.ok((money(b["amount"]), money(b["tax"]), money(b["grossAmount"])) == (Decimal("987.65"), Decimal("246.91"),
                                                                             Decimal("1234.56")) and
         (money(bl[0]["amount"]), money(bl[0]["tax"])) == (Decimal("987.65"), Decimal("246.91")),
         "bill 1234.56 incl K25: VAT 246.91 (246.912), net 987.65 (moms T2)", (b["amount"], b["tax"]))
    b, bl = bill([{"accountId": accounts[2810], "taxRateId": rates["UY25"]["id"], "description": "Ads", "amount": 8000}], "excl")
    t.ok(money(b["tax"]) == 0 and money(bl[0]["tax"]) == 0 and money(b["grossAmount"]) == 8000,
         "reverse charge (UY25) bill line: stored tax 0, bill tax 0")
    b, bl = bill([{"accountId": accounts[2810], "taxRateId": rates["UV25"]["id"], "description": "Goods", "amount": 500}], "incl")
    t.ok(money(b["tax"]) == 0 and money(b["amount"]) == 500, "reverse charge incl: the whole amount is net")
    b, bl = bill([{"accountId": accounts[2750], "taxRateId": rates["REP25"]["id"], "description": "Frokost", "amount": 500}], "incl")
    t.ok(money(b["tax"]) == 100 and money(b["amount"]) == 400, "restaurant (REP25) 500.00 incl: full VAT 100.00 stored")
    b, bl = bill([{"accountId": accounts[3610], "taxRateId": rates["K25"]["id"], "description": "Husleje", "amount": 1000},
                  {"accountId": accounts[3820], "taxRateId": rates["UYX25"]["id"], "description": "SaaS", "amount": 200}], "excl")
    t.ok((money(b["amount"]), money(b["tax"]), money(b["grossAmount"])) == (1200, 250, 1450),
         "mixed bill: K25 1000 + UYX25 200 -> amount 1200, tax 250, gross 1450")
    r = s.request("POST", "/v2/bills", body={"bill": {"contactId": sup, "entryDate": "2025-05-02", "lines": [
        {"accountId": accounts[3830], "taxRateId": rates["S25"]["id"], "description": "x", "amount": 1}]}}, token=tok)
    t.is_(r.status, 422, "a sales-only tax rate on a bill line is refused")

    # every generated invoice and bill against the independent implementation
    rates_main = {r["id"]: r for r in s.api("GET", "/taxRates")["taxRates"]}
    invs = s.list_all("invoices", "include=invoice.lines:embed")
    bad = []
    for inv in invs:
        lines = [{"quantity": ln["quantity"], "unitPrice": ln["unitPrice"], "rate": rates_main[ln["taxRateId"]]["rate"],
                  "discountMode": ln["discountMode"], "discountValue": ln["discountValue"]} for ln in inv["lines"]]
        amount, tax, gross, per = billy_totals(lines, inv["taxMode"])
        got = (money(inv["amount"]), money(inv["tax"]), money(inv["grossAmount"]))
        got_l = [(money(ln["amount"]), money(ln["tax"])) for ln in inv["lines"]]
        if got != (amount, tax, gross) or got_l != per:
            bad.append((inv["id"], got, (amount, tax, gross)))
    t.ok(not bad and len(invs) == 400, "all %d generated invoices follow the algorithm, lines included" % len(invs), bad[:3])
    t.ok(any(i["taxMode"] == "incl" for i in invs) and any(ln["discountMode"] == "percent" for i in invs for ln in i["lines"]),
         "the generated invoices exercise incl mode and discounts")
    bills = s.list_all("bills", "include=bill.lines:embed")
    bad = []
    for b in bills:
        lines = []
        for ln in b["lines"]:
            r = rates_main[ln["taxRateId"]]
            rc = r["abbreviation"] in ("UV25", "UY25", "UYX25")
            gross_in = Decimal(str(ln["amount"])) + Decimal(str(ln["tax"])) if b["taxMode"] == "incl" else Decimal(str(ln["amount"]))
            lines.append({"unitPrice": gross_in, "rate": 0 if rc else r["rate"]})
        amount, tax, gross, per = billy_totals(lines, b["taxMode"])
        if (money(b["amount"]), money(b["tax"]), money(b["grossAmount"])) != (amount, tax, gross):
            bad.append(b["id"])
    t.ok(not bad, "all %d generated bills follow the algorithm" % len(bills), bad[:3])


main(body)
